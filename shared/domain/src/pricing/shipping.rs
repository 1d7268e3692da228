//! Shipping methods by country, and the options a cart sees.

use super::*;

/// A shipping method the store offers to some countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingRate {
    /// Stable id the cart and checkout name it by.
    pub id: String,
    /// What the shopper reads.
    pub name: String,
    /// Price in minor units.
    pub price: i64,
    /// Delivery time in days, fastest and slowest.
    pub estimated_days: EstimatedDays,
    /// ISO country codes it ships to.
    pub countries: Vec<String>,
    /// Free when the discounted subtotal reaches this many minor units.
    #[serde(default)]
    pub free_over: Option<i64>,
}

/// Delivery time in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimatedDays {
    /// Fastest.
    pub min: u8,
    /// Slowest.
    pub max: u8,
}

/// A shipping option as the shopper sees it for their cart and country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShippingOption {
    /// The rate's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it costs for this cart.
    pub price: Money,
    /// Delivery time.
    pub estimated_days: EstimatedDays,
    /// The discounted subtotal from which this option is free, if it ever is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_over: Option<Money>,
}

/// The options for a country, cheapest first, priced for a cart of `goods` minor units
/// (discounted subtotal). Empty when the store does not ship there.
pub fn shipping_options(rates: &[ShippingRate], country: &str, goods: i64, currency: Currency) -> Vec<ShippingOption> {
    let mut options: Vec<ShippingOption> = rates
        .iter()
        .filter(|rate| rate.countries.iter().any(|c| c == country))
        .map(|rate| {
            let free = rate.free_over.is_some_and(|threshold| goods >= threshold);
            ShippingOption {
                id: rate.id.clone(),
                name: rate.name.clone(),
                price: Money::new(if free { 0 } else { rate.price }, currency),
                estimated_days: rate.estimated_days,
                free_over: rate.free_over.map(|amount| Money::new(amount, currency)),
            }
        })
        .collect();
    options.sort_by_key(|o| (o.price.amount, o.estimated_days.max));
    options
}
