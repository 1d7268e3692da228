//! The shop's words and rules. Nothing here knows about AWS, Stripe or HTTP: every rule
//! compiles and is tested on its own, and the adapters and handlers speak these types.

/// A validated text value: the struct, `as_str`, `Display`, and serde through `String` by way of
/// the type's own `parse(&str) -> Result<Self, String>`, so a value that exists is valid.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod cart;
pub mod catalog;
pub mod fulfillment;
pub mod instant;
pub mod line;
pub mod locale;
pub mod marketing;
pub mod money;
pub mod order;
pub mod paging;
pub mod postal;
pub mod pricing;
pub mod refunds;
pub mod returns;
pub mod review;
pub mod seo;
pub mod support;
pub mod text;

pub use catalog::{
    Category, CategorySlug, Product, ProductId, ProductOverview, ProductStatus, ProductSummary, Sku, Slug, Variant,
};
pub use locale::Locale;
pub use money::{Currency, Money};
pub use paging::{Cursor, CursorError, PageLimit};

/// One reason a value sent to the shop was refused, named by the field it concerns
/// (`variants[2].price.amount`), so a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The path of the field, in the shape the client sent.
    pub field: String,
    /// What is wrong with it, in words a merchant understands.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The refusal a JSON reader's `message` (serde's words, naming Rust types) means, in plain
    /// words, for the value at `path` (`.` for the whole body, `variants[0].price` for a field).
    pub fn from_serde(path: &str, message: &str) -> Self {
        let message = message.rfind(" at line ").map_or(message, |at| &message[..at]);
        let join = |name: &str| match path {
            "." | "" => name.to_owned(),
            parent => format!("{parent}.{name}"),
        };
        let quoted = |text: &str| text.split('`').nth(1).unwrap_or_default().to_owned();
        let here = if path == "." || path.is_empty() { "body" } else { path };
        if let Some(rest) = message.strip_prefix("missing field ") {
            return Self::new(join(&quoted(rest)), "is required");
        }
        if let Some(rest) = message.strip_prefix("unknown field ") {
            // The reader's path already ends at the unknown field.
            let name = quoted(rest);
            let field = if path == name || path.ends_with(&format!(".{name}")) {
                path.to_owned()
            } else {
                join(&name)
            };
            return Self::new(field, "is not a field of this request");
        }
        if let Some(rest) = message.strip_prefix("unknown variant ") {
            let allowed: Vec<&str> = rest
                .split_once("expected ")
                .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
                .unwrap_or_default();
            return Self::new(here, format!("must be one of: {}", allowed.join(", ")));
        }
        for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
            if let Some(rest) = message.strip_prefix(prefix) {
                let expected = rest.rsplit_once("expected ").map_or("", |(_, expected)| expected);
                return Self::new(here, format!("must be {}", plain_kind(expected)));
            }
        }
        // The shop's own rules already speak plainly (`'x' is not an email address`).
        Self::new(here, message)
    }
}

/// What serde's `expected ...` names, as a merchant would say it.
fn plain_kind(expected: &str) -> String {
    let expected = expected.trim();
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" | "a character" => "text",
        "a sequence" | "a tuple" => "a list",
        "a map" => "an object",
        "" => "of another kind",
        other if other.starts_with("struct ") || other.starts_with("a map") => "an object",
        other if other.starts_with("enum ") || other.contains("variant") => "one of the allowed values",
        other if other.starts_with("a sequence") || other.starts_with("an array") => "a list",
        other => return other.to_owned(),
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only for its errors
    struct Line {
        sku: String,
        quantity: u32,
        kind: Kind,
        tags: Vec<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Percent,
        Fixed,
    }

    fn refusal(json: &str) -> FieldError {
        let error =
            serde_path_to_error::deserialize::<_, Line>(&mut serde_json::Deserializer::from_str(json)).unwrap_err();
        FieldError::from_serde(&error.path().to_string(), &error.inner().to_string())
    }

    #[test]
    fn serdes_words_become_plain_ones_naming_the_field() {
        let base = r#""sku": "A", "kind": "fixed", "tags": []"#;
        let cases = [
            (
                format!(r#"{{{base}, "quantity": "many"}}"#),
                "quantity",
                "must be a whole number, 0 or more",
            ),
            (
                format!(r#"{{{base}, "quantity": -1}}"#),
                "quantity",
                "must be a whole number, 0 or more",
            ),
            (format!(r#"{{{base}}}"#), "quantity", "is required"),
            (
                format!(r#"{{{base}, "quantity": 1, "qty": 1}}"#),
                "qty",
                "is not a field of this request",
            ),
            (
                r#"{"sku": "A", "quantity": 1, "kind": "half", "tags": []}"#.to_owned(),
                "kind",
                "must be one of: percent, fixed",
            ),
            (
                r#"{"sku": 5, "quantity": 1, "kind": "fixed", "tags": []}"#.to_owned(),
                "sku",
                "must be text",
            ),
            (
                r#"{"sku": "A", "quantity": 1, "kind": "fixed", "tags": "x"}"#.to_owned(),
                "tags",
                "must be a list",
            ),
            ("[]".to_owned(), "body", "must be an object"),
        ];
        for (json, field, reason) in cases {
            let refusal = refusal(&json);
            assert_eq!(
                (refusal.field.as_str(), refusal.reason.as_str()),
                (field, reason),
                "{json}"
            );
            assert!(!refusal.reason.contains("struct") && !refusal.reason.contains("u32"));
        }
    }
}
