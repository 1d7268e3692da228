//! Words in the catalog: slugs, the normalised search terms that index a product, and what text
//! a field may hold.

use std::collections::BTreeSet;

/// Words too common to narrow a search; they are neither indexed nor searched for.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "the", "of", "for", "with", "in", "on", "to", "by", "or",
];

/// Whether `c` ends a line: a control character (`\n`, `\r`, NEL) or Unicode's line and
/// paragraph separators.
fn breaks_lines(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `s` is text on one line (a title, a name, an option, a mail subject): no control
/// character and no line or paragraph separator, so it cannot split a header, a feed item or a
/// page's line.
pub fn is_one_line(s: &str) -> bool {
    !s.chars().any(breaks_lines)
}

/// Whether `s` is text that may run over lines (a description, a message body): line breaks
/// (`\n`) and tabs, no other control character and no other separator.
pub fn is_multiline(s: &str) -> bool {
    !s.chars().any(|c| c != '\n' && c != '\t' && breaks_lines(c))
}

/// True when `s` is a lower-case kebab slug: `merino-crew-sweater`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Makes a slug of free text: `Merino Crew Sweater!` becomes `merino-crew-sweater`.
pub fn slugify(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// The search terms of a piece of text, in the form the index keeps them: lower case,
/// ASCII letters and digits only, common words left out, and a plural `s` folded so that
/// `sweaters` finds `Sweater`.
pub fn search_terms(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter_map(search_term)
        .collect()
}

fn search_term(word: &str) -> Option<String> {
    let word: String = word
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if word.len() < 2 || STOP_WORDS.contains(&word.as_str()) {
        return None;
    }
    let folded = match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_owned(),
        _ => word,
    };
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words_joined_by_single_hyphens() {
        assert!(is_slug("merino-crew-sweater"));
        assert!(is_slug("tee2"));
        for bad in ["", "Merino", "two--hyphens", "-leading", "trailing-", "sp ace", "ünï"] {
            assert!(!is_slug(bad), "{bad:?} passed as a slug");
        }
    }

    #[test]
    fn one_line_text_has_no_break_of_any_kind() {
        assert!(is_one_line("Merino Crew – Navy, 100 % wool ✓"));
        for bad in [
            "two\nlines",
            "cr\r",
            "tab\there",
            "nel\u{85}",
            "ls\u{2028}",
            "ps\u{2029}",
            "nul\0",
            "esc\u{1b}[0m",
        ] {
            assert!(!is_one_line(bad), "{bad:?}");
        }
        assert!(is_multiline("Warm.\n\tSoft."));
        for bad in ["cr\r\n", "ls\u{2028}", "bell\u{7}", "del\u{7f}"] {
            assert!(!is_multiline(bad), "{bad:?}");
        }
    }

    #[test]
    fn slugify_makes_a_valid_slug_of_a_title() {
        assert_eq!(slugify("  Merino Crew-Neck Sweater! "), "merino-crew-neck-sweater");
        assert!(is_slug(&slugify("Cast Iron Skillet, 10\"")));
    }

    #[test]
    fn search_terms_fold_case_plurals_and_common_words() {
        let terms = search_terms("The Waterproof Boots for Hiking & Trails");
        let expected: BTreeSet<String> = ["waterproof", "boot", "hiking", "trail"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(terms, expected);
    }

    #[test]
    fn a_plural_and_its_singular_have_the_same_term() {
        assert_eq!(search_terms("sweaters"), search_terms("Sweater"));
        // Words that end in a double s are not plurals.
        assert_eq!(search_terms("glass"), ["glass".to_owned()].into());
    }
}
