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
pub mod locale;
pub mod marketing;
pub mod money;
pub mod order;
pub mod paging;
pub mod postal;
pub mod pricing;
pub mod returns;
pub mod seo;
pub mod support;
pub mod text;

pub use catalog::{Category, CategorySlug, Product, ProductId, ProductSummary, Sku, Slug, Variant};
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
}
