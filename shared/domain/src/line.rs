//! A line as the shop sells it: a variant as the catalog prices it now, and a line of an order
//! priced from one. Cart, checkout and exchanges make their lines here.

use crate::{CategorySlug, Money, Product, ProductId, Sku, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A variant as lines are priced from it: the catalog now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantView {
    /// The SKU.
    pub sku: Sku,
    /// Its product.
    pub product_id: ProductId,
    /// The product's title.
    pub title: String,
    /// The product's category.
    pub category: CategorySlug,
    /// The variant's options.
    pub options: BTreeMap<String, String>,
    /// Its price now.
    pub price: Money,
    /// Units in stock now.
    pub available: u32,
}

impl VariantView {
    /// `variant` of `product` as the catalog has it now.
    pub fn of(product: &Product, variant: &Variant) -> Self {
        Self {
            sku: variant.sku.clone(),
            product_id: product.id.clone(),
            title: product.title.clone(),
            category: product.category.clone(),
            options: variant.options.clone(),
            price: variant.price,
            available: variant.available,
        }
    }
}

/// One line of an order, priced at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The variant.
    pub sku: Sku,
    /// Its product.
    pub product_id: ProductId,
    /// The product's title at checkout.
    pub title: String,
    /// The variant's options at checkout (`{"size": "M", "colour": "Navy"}`); empty for a
    /// variant without options, and on orders stored before lines kept them.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Units.
    pub quantity: u32,
    /// Price per unit at checkout.
    pub unit_price: Money,
    /// `quantity × unit_price`.
    pub line_total: Money,
}

impl OrderLine {
    /// `quantity` units of `variant` at its price now.
    pub fn of(variant: &VariantView, quantity: u32) -> Self {
        Self {
            sku: variant.sku.clone(),
            product_id: variant.product_id.clone(),
            title: variant.title.clone(),
            options: variant.options.clone(),
            quantity,
            unit_price: variant.price,
            line_total: variant.price.times(quantity),
        }
    }
}
