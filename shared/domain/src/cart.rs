//! A cart and its own rules: bounds on lines and quantities, destination codes, discount codes.

use crate::line::{OrderLine, VariantView};
use crate::order::CountryCode;
use crate::pricing::{DiscountCode, PricedLine};
use crate::{Currency, ProductId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Most lines one cart holds: checkout reserves every line in one DynamoDB transaction
/// (at most 100 items with the order's own) and prices the cart with one batch read.
pub const MAX_LINES: usize = 50;

/// Why a quantity cannot be put in the cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Above the store's per-line maximum.
    #[error("at most {max} of one item per order")]
    OverLineMaximum {
        /// The store's maximum.
        max: u32,
    },
    /// Nothing left.
    #[error("sold out")]
    SoldOut,
    /// Fewer in stock than asked.
    #[error("only {available} in stock")]
    OverStock {
        /// Units in stock.
        available: u32,
    },
}

/// Checks a wanted quantity (1 or more) against the store maximum and the stock.
pub fn check_quantity(wanted: u32, line_max: u32, available: u32) -> Result<(), QuantityError> {
    if wanted > line_max {
        return Err(QuantityError::OverLineMaximum { max: line_max });
    }
    if available == 0 {
        return Err(QuantityError::SoldOut);
    }
    if wanted > available {
        return Err(QuantityError::OverStock { available });
    }
    Ok(())
}

/// Whether a cart can still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    /// Being filled.
    Open,
    /// Turned into an order.
    CheckedOut,
}

/// Where the cart ships, as far as the shopper has said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Country.
    pub country: CountryCode,
    /// Region (state, province), for regional tax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One line as stored: what the shopper chose and the price they saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The variant's product.
    pub product_id: ProductId,
    /// Units wanted.
    pub quantity: u32,
    /// Unit price when the shopper last set the line, to tell them when it changed.
    pub unit_price_seen: i64,
    /// When the line was first added (Unix seconds), for a stable order.
    pub added_at: i64,
}

/// A cart as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// Its id.
    pub cart_id: String,
    /// SHA-256 of its bearer token.
    pub token_hash: String,
    /// The store currency when it was made.
    pub currency: Currency,
    /// Open or checked out.
    pub status: CartStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds; after it the cart is gone.
    pub expires_at: i64,
    /// The applied code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<DiscountCode>,
    /// Where it ships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// The chosen shipping rate's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// Lines by SKU.
    #[serde(default)]
    pub lines: BTreeMap<String, CartLine>,
    /// Counts the cart's changes: checkout writes the order on condition that the cart is
    /// still the version it priced. `None` on a cart made before carts were counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// A line that cannot have what was asked: the SKU, how many were asked, how many there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockShortfall {
    /// The variant.
    pub sku: String,
    /// Units asked for.
    pub requested: u32,
    /// Units in stock.
    pub available: u32,
}

/// The lines of `cart` whose variants are still sold (`variants`, by SKU), at today's prices:
/// what pricing adds up.
pub fn price_lines(cart: &Cart, variants: &HashMap<String, VariantView>) -> Vec<PricedLine> {
    cart.lines
        .iter()
        .filter_map(|(sku, line)| Some(PricedLine::of(variants.get(sku.as_str())?, line.quantity)))
        .collect()
}

/// The lines an order of `cart` holds, at today's prices, or every line short of stock (a
/// variant no longer sold has none).
pub fn order_lines(
    cart: &Cart,
    variants: &HashMap<String, VariantView>,
) -> Result<Vec<OrderLine>, Vec<StockShortfall>> {
    let mut short = Vec::new();
    let mut out = Vec::new();
    for (sku, line) in &cart.lines {
        match variants.get(sku.as_str()) {
            Some(variant) if variant.available >= line.quantity => out.push(OrderLine::of(variant, line.quantity)),
            found => short.push(StockShortfall {
                sku: sku.clone(),
                requested: line.quantity,
                available: found.map_or(0, |v| v.available),
            }),
        }
    }
    if short.is_empty() { Ok(out) } else { Err(short) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_letters_in_upper_case() {
        assert_eq!(CountryCode::parse("us").unwrap().as_str(), "US");
        for bad in ["", "USA", "U1", "ü"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn discount_codes_ignore_case_and_spaces_around() {
        assert_eq!(DiscountCode::parse(" summer-10 ").unwrap().as_str(), "SUMMER-10");
        assert!(DiscountCode::parse("ab").is_err());
        assert!(DiscountCode::parse("no spaces").is_err());
    }

    #[test]
    fn a_quantity_stays_within_the_line_maximum_and_the_stock() {
        assert_eq!(check_quantity(3, 99, 5), Ok(()));
        assert_eq!(
            check_quantity(100, 99, 500),
            Err(QuantityError::OverLineMaximum { max: 99 })
        );
        assert_eq!(check_quantity(1, 99, 0), Err(QuantityError::SoldOut));
        assert_eq!(check_quantity(6, 99, 5), Err(QuantityError::OverStock { available: 5 }));
    }
}
