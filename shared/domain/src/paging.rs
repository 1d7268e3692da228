//! Paging: a page size the shopper may choose within bounds, and an opaque cursor that
//! carries where the previous page stopped.

use std::collections::BTreeMap;

/// How many items one page holds: 1 to [`PageLimit::MAX`], [`PageLimit::DEFAULT`] when not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

impl PageLimit {
    /// The page size when the request names none.
    pub const DEFAULT: u16 = 20;
    /// The largest page a request may ask for.
    pub const MAX: u16 = 100;

    /// Reads `?limit=`; absent means the default.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else {
            return Ok(Self(Self::DEFAULT));
        };
        match raw.parse::<u16>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!("limit must be a whole number from 1 to {}", Self::MAX)),
        }
    }

    /// The largest page, for readers that walk a whole listing.
    pub const fn largest() -> Self {
        Self(Self::MAX)
    }

    /// The size as a number.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// Where a listing stopped: the key of its last item. Clients see it sealed (opaque text they
/// cannot read or edit, made by the adapters); the handler still checks that it belongs to the
/// listing it is used with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub BTreeMap<String, String>);

/// A cursor that was not made by this shop.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the cursor is not one this listing handed out")]
pub struct CursorError;

impl Cursor {
    /// The position as bytes (JSON), to be sealed for the client.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A map of strings always serialises.
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    /// A position from the bytes [`Cursor::to_bytes`] made.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CursorError> {
        if bytes.is_empty() || bytes.len() > 1024 {
            return Err(CursorError);
        }
        let key: BTreeMap<String, String> = serde_json::from_slice(bytes).map_err(|_| CursorError)?;
        if key.is_empty() {
            return Err(CursorError);
        }
        Ok(Self(key))
    }

    /// The value of one key attribute, if the cursor has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_stays_within_bounds() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), PageLimit::DEFAULT);
        assert_eq!(PageLimit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(PageLimit::parse(Some(bad)).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_cursor_round_trips_through_its_bytes() {
        let cursor = Cursor(BTreeMap::from([
            ("pk".to_owned(), "PRODUCT#tee".to_owned()),
            ("gsi1sk".to_owned(), "tee#tee".to_owned()),
        ]));
        assert_eq!(Cursor::from_bytes(&cursor.to_bytes()).unwrap(), cursor);
    }

    #[test]
    fn bytes_that_are_not_a_cursor_are_refused() {
        for bad in ["", "not json", "{}", r#"{"pk": 1}"#, "[]"] {
            assert_eq!(
                Cursor::from_bytes(bad.as_bytes()),
                Err(CursorError),
                "{bad:?} was accepted"
            );
        }
    }
}
