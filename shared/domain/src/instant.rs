//! Instants as clients send them: RFC 3339 text (`2026-12-01T09:30:00Z`, any offset), the form
//! every answer of the shop uses, or Unix seconds, which earlier clients sent and the table keeps.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds of RFC 3339 `text`.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| format!("'{text}' is not an RFC 3339 time such as 2026-12-01T09:30:00Z"))
}

/// Unix seconds of the start (00:00 UTC) of the day `text` names as `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(format!("'{text}' is not a day such as 2026-12-01"));
    }
    parse_rfc3339(&format!("{text}T00:00:00Z")).map_err(|_| format!("'{text}' is not a day such as 2026-12-01"))
}

/// Unix seconds as RFC 3339 UTC text (`2026-11-25T15:00:00Z`).
pub fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Sent {
    Seconds(i64),
    Text(String),
}

impl Sent {
    fn seconds<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Self::Seconds(seconds) => Ok(seconds),
            Self::Text(text) => parse_rfc3339(&text).map_err(E::custom),
        }
    }
}

/// Reads an instant sent as RFC 3339 text or Unix seconds (`#[serde(deserialize_with)]`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Sent::deserialize(deserializer)?.seconds()
}

/// [`deserialize`] of an instant that may be absent or null.
pub fn deserialize_optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<Sent>::deserialize(deserializer)?
        .map(Sent::seconds)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_reads_as_its_first_second_in_utc() {
        assert_eq!(
            parse_day("2026-12-01").unwrap(),
            parse_rfc3339("2026-12-01T00:00:00Z").unwrap()
        );
        for bad in [
            "2026-12-1",
            "2026-13-01",
            "2026/12/01",
            "",
            "2026-12-01T00:00:00Z",
            "2026-02-30",
        ] {
            assert!(parse_day(bad).is_err(), "{bad:?}");
        }
    }

    #[derive(Deserialize)]
    struct When {
        #[serde(deserialize_with = "deserialize")]
        at: i64,
        #[serde(default, deserialize_with = "deserialize_optional")]
        until: Option<i64>,
    }

    fn read(json: &str) -> Result<When, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn an_instant_is_read_from_rfc_3339_or_unix_seconds() {
        let text = read(r#"{"at": "2026-11-27T15:00:00Z", "until": "2026-11-27T16:00:00+01:00"}"#).unwrap();
        assert_eq!((text.at, text.until), (1_795_791_600, Some(1_795_791_600)));
        let seconds = read(r#"{"at": 1795791600}"#).unwrap();
        assert_eq!((seconds.at, seconds.until), (1_795_791_600, None));
        assert_eq!(read(r#"{"at": 1, "until": null}"#).unwrap().until, None);
        for bad in [r#"{"at": "yesterday"}"#, r#"{"at": "2026-11-27"}"#, r#"{"at": true}"#] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert_eq!(rfc3339(1_795_791_600), "2026-11-27T15:00:00Z");
    }
}
