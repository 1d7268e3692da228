//! A consented subscriber list as the merchant pastes it: CSV with the columns `email`,
//! `consented_at` and `source`, read and checked row by row before anything is written, so one
//! bad row names itself and stops the whole import.

use shop_domain::instant::parse_rfc3339;
use shop_domain::marketing;
use shop_domain::order::Email;
use std::collections::BTreeMap;

/// Most rows one import takes (the campaign function's own bound per call).
pub(super) const ROWS_MAX: usize = 1000;

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConsentedRow {
    pub email: Email,
    /// Unix seconds of the consent.
    pub consented_at: i64,
    pub source: String,
}

/// Why a row, or the list, was refused: `line` is the line the merchant sees (1 is the first;
/// 0 names the list as a whole).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(super) struct RowProblem {
    pub line: u64,
    pub field: &'static str,
    pub reason: String,
}

/// The rows of `csv` when every one is good (a header line `email,consented_at,source` is
/// skipped), else every problem found; `now` in Unix seconds bounds the consent times.
pub(super) fn check(csv: &str, now: i64) -> Result<Vec<ConsentedRow>, Vec<RowProblem>> {
    // Browsers post a textarea's lines ending in CRLF, for which the reader's line numbers
    // (they name the rows) come out one short.
    let csv = csv.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv.as_bytes());
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(problem(line, "row", format!("this line is not CSV ({error})")));
                continue;
            }
        };
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(str::is_empty) || (index == 0 && is_header(&record)) {
            continue;
        }
        match check_row(&record, now) {
            Ok(row) => rows.push(row),
            Err(found) => problems.extend(found.into_iter().map(|(field, reason)| problem(line, field, reason))),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(problem(0, "csv", "the list has no rows".into()));
    }
    if rows.len() > ROWS_MAX {
        problems.push(problem(
            0,
            "csv",
            format!("at most {ROWS_MAX} rows per import; split the list"),
        ));
    }
    if problems.is_empty() { Ok(rows) } else { Err(problems) }
}

/// `rows` by source, as the import route takes them (one source a call).
pub(super) fn by_source(rows: Vec<ConsentedRow>) -> BTreeMap<String, Vec<ConsentedRow>> {
    let mut groups: BTreeMap<String, Vec<ConsentedRow>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.source.clone()).or_default().push(row);
    }
    groups
}

fn problem(line: u64, field: &'static str, reason: String) -> RowProblem {
    RowProblem { line, field, reason }
}

fn is_header(record: &csv::StringRecord) -> bool {
    record.get(0).is_some_and(|first| first.eq_ignore_ascii_case("email"))
}

/// One row's fields checked, each refused one named.
fn check_row(record: &csv::StringRecord, now: i64) -> Result<ConsentedRow, Vec<(&'static str, String)>> {
    if record.len() != 3 {
        return Err(vec![(
            "row",
            format!(
                "a row has 3 columns (email, consented_at, source), this one has {}",
                record.len()
            ),
        )]);
    }
    let email = Email::parse(&record[0]);
    let consented_at = consent_time(&record[1], now);
    let source = marketing::source(&record[2]);
    match (email, consented_at, source) {
        (Ok(email), Ok(consented_at), Ok(source)) => Ok(ConsentedRow {
            email,
            consented_at,
            source,
        }),
        (email, consented_at, source) => Err([
            ("email", email.err()),
            ("consented_at", consented_at.err()),
            ("source", source.err()),
        ]
        .into_iter()
        .filter_map(|(field, reason)| Some((field, reason?)))
        .collect()),
    }
}

/// When the consent was given: RFC 3339, or `YYYY-MM-DD HH:MM` in UTC; in the past.
fn consent_time(text: &str, now: i64) -> Result<i64, String> {
    let refused = || format!("'{text}' is not a time: write 2026-05-01T09:30:00Z or 2026-05-01 09:30 (UTC)");
    let bytes = text.as_bytes();
    let minutes_form = bytes.len() == 16 && bytes[10] == b' ' && bytes[13] == b':';
    let at = if minutes_form {
        parse_rfc3339(&format!("{}T{}:00Z", &text[..10], &text[11..]))
    } else {
        parse_rfc3339(text)
    }
    .map_err(|_| refused())?;
    if at <= 0 || at > now {
        return Err("a consent given in the past, not later than now".into());
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    /// `cases` cases from a fixed seed, without a failure file (`PROPTEST_RNG_SEED` explores others).
    fn bounded(cases: u32) -> proptest::test_runner::Config {
        let mut config = proptest::test_runner::Config {
            cases,
            failure_persistence: None,
            ..Default::default()
        };
        if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
            config.rng_seed = proptest::test_runner::RngSeed::Fixed(21);
        }
        config
    }

    /// A good row: an address, a past consent in either form, a source; and what it reads as.
    fn good_row() -> impl Strategy<Value = (String, ConsentedRow)> {
        (
            "[a-zA-Z0-9._+-]{1,20}@[a-z0-9-]{1,12}\\.[a-z]{2,6}",
            1_000_000_000i64..NOW,
            any::<bool>(),
            "[a-zA-Z0-9_-]{1,40}",
        )
            .prop_map(|(email, at, minutes, source)| {
                let at = if minutes { at - at % 60 } else { at };
                let time = shop_domain::instant::rfc3339(at);
                let written = if minutes {
                    format!("{} {}", &time[..10], &time[11..16])
                } else {
                    time
                };
                let row = ConsentedRow {
                    email: Email::parse(&email).unwrap(),
                    consented_at: at,
                    source: source.to_ascii_lowercase(),
                };
                (format!("{email}, {written} ,{source}"), row)
            })
    }

    proptest! {
        #![proptest_config(bounded(300))]

        #[test]
        fn any_pasted_text_is_read_or_refused_by_line(text in prop_oneof![
            "((\\PC{0,12},){0,3}\\PC{0,12}\r?\n){0,6}",
            "(\"[ -~\n]{0,12}\"?,?){0,6}",
        ]) {
            let lines = u64::try_from(text.lines().count()).unwrap().max(1);
            match check(&text, NOW) {
                Ok(rows) => prop_assert!(!rows.is_empty() && rows.len() <= ROWS_MAX),
                Err(problems) => {
                    prop_assert!(!problems.is_empty());
                    prop_assert!(problems.iter().all(|p| p.line <= lines), "{:?} beyond line {}", problems, lines);
                }
            }
        }

        #[test]
        fn good_rows_read_back_in_order_and_a_bad_one_is_named_on_its_line(
            rows in proptest::collection::vec(good_row(), 1..12),
            header in any::<bool>(), crlf in any::<bool>(), bad_at in any::<prop::sample::Index>(),
        ) {
            let newline = if crlf { "\r\n" } else { "\n" };
            let mut lines: Vec<String> = rows.iter().map(|(line, _)| line.clone()).collect();
            if header {
                lines.insert(0, "email,consented_at,source".to_owned());
            }
            let expected: Vec<ConsentedRow> = rows.into_iter().map(|(_, row)| row).collect();
            prop_assert_eq!(check(&lines.join(newline), NOW), Ok(expected));
            let at = bad_at.index(lines.len() - usize::from(header)) + usize::from(header);
            lines[at] = "not-an-address,2026-05-01 09:30,fair".to_owned();
            let problems = check(&lines.join(newline), NOW).unwrap_err();
            let named: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.field)).collect();
            prop_assert_eq!(named, vec![(at as u64 + 1, "email")]);
        }
    }

    #[test]
    fn a_list_of_more_rows_than_one_import_takes_is_refused_whole() {
        let row = "ada@example.com,2026-05-01 09:30,fair\n";
        assert_eq!(check(&row.repeat(ROWS_MAX), NOW).map(|rows| rows.len()), Ok(ROWS_MAX));
        let problems = check(&row.repeat(ROWS_MAX + 1), NOW).unwrap_err();
        assert_eq!((problems[0].line, problems[0].field), (0, "csv"));
    }

    #[test]
    fn a_good_list_with_a_header_is_read_in_both_time_forms() {
        let rows = check(
            "email,consented_at,source\nada@example.com,2026-05-01T09:30:00Z,fair\n\n\"bo@example.com\", 2026-05-01 09:30 ,Shop-Fair\n",
            NOW,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].consented_at, rows[1].consented_at);
        assert_eq!(rows[1].source, "shop-fair");
        assert_eq!(by_source(rows).len(), 2);
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_field_and_no_row_is_given() {
        let problems = check(
            "email,consented_at,source\nada@example.com,2026-05-01 09:30,fair\nnot-an-address,2026-05-01 09:30,fair\nbo@example.com,tomorrow,fair\ncy@example.com,2099-01-01T00:00:00Z,fair,extra\n",
            NOW,
        )
        .unwrap_err();
        let named: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.field)).collect();
        assert_eq!(named, [(3, "email"), (4, "consented_at"), (5, "row")]);
    }

    #[test]
    fn lines_are_counted_as_a_browser_posts_them_with_crlf() {
        let problems = check(
            "email,consented_at,source\r\nada@example.com,2026-05-01 09:30,fair\r\nnot-an-address,2026-05-01 09:30,fair\r\n",
            NOW,
        )
        .unwrap_err();
        assert_eq!((problems[0].line, problems[0].field), (3, "email"));
    }

    #[test]
    fn a_consent_in_the_future_an_empty_list_and_a_bad_source_are_refused() {
        let future = check("ada@example.com,2099-01-01T00:00:00Z,fair", NOW).unwrap_err();
        assert_eq!((future[0].line, future[0].field), (1, "consented_at"));
        assert_eq!(check("\n\n", NOW).unwrap_err()[0].field, "csv");
        let source = check("ada@example.com,2026-05-01 09:30,a source", NOW).unwrap_err();
        assert_eq!(source[0].field, "source");
    }
}
