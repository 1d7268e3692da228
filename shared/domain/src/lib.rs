//! The shop's words and rules. Nothing here knows about AWS, Stripe or HTTP: every rule
//! compiles and is tested on its own, and the adapters and handlers speak these types.

pub mod cart;
pub mod catalog;
pub mod money;
pub mod order;
pub mod paging;
pub mod pricing;
pub mod text;

pub use catalog::{Category, CategorySlug, Product, ProductId, ProductSummary, Sku, Slug, Variant};
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
