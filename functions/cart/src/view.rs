//! A stored cart priced against the catalog as it is now: the answer of every cart route.

use serde::Serialize;
use shop_domain::cart::{Cart, CartStatus, Destination};
use shop_domain::order::CountryCode;
use shop_domain::pricing::{self, QuoteInputs, ShippingOption, Totals};
use shop_domain::{Currency, Money};
use shop_platform::clock::rfc3339;
use shop_platform::config::PricingSettings;
use shop_store::carts::PricingInputs;
use std::collections::BTreeMap;

/// One line as the shopper sees it.
#[derive(Debug, Serialize)]
pub struct LineView {
    sku: String,
    product_id: String,
    title: String,
    options: BTreeMap<String, String>,
    quantity: u32,
    unit_price: Money,
    line_total: Money,
    available: u32,
    /// The price the shopper saw when setting the line, when the catalog's price differs now.
    #[serde(skip_serializing_if = "Option::is_none")]
    price_changed_from: Option<Money>,
    /// True when the variant is no longer sold; the line does not count in the totals.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unavailable: bool,
}

/// Why part of the cart does not count as the shopper set it.
#[derive(Debug, Serialize)]
pub struct Issue {
    code: &'static str,
    detail: String,
}

/// The cart as every cart route answers it.
#[derive(Debug, Serialize)]
pub struct CartView {
    cart_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cart_token: Option<String>,
    status: CartStatus,
    currency: Currency,
    lines: Vec<LineView>,
    discount_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_issue: Option<Issue>,
    destination: Destination,
    shipping_method: Option<String>,
    shipping_options: Vec<ShippingOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_issue: Option<Issue>,
    totals: Totals,
    expires_at: String,
}

impl CartView {
    /// Adds the token, on the answer that creates the cart (the only time it is shown).
    pub fn with_token(mut self, token: String) -> Self {
        self.cart_token = Some(token);
        self
    }
}

/// Prices `cart` at `now` with the catalog entries in `inputs`.
pub fn price(
    cart: &Cart,
    inputs: &PricingInputs,
    settings: &PricingSettings,
    default_country: &CountryCode,
    now: i64,
) -> CartView {
    let currency = cart.currency;
    let mut records: Vec<_> = cart.lines.iter().collect();
    records.sort_by_key(|(sku, line)| (line.added_at, sku.as_str()));
    let priced = shop_domain::cart::price_lines(cart, &inputs.variants);
    let mut lines = Vec::new();
    for (sku, line) in records {
        let seen = Money::new(line.unit_price_seen, currency);
        match inputs.variants.get(sku.as_str()) {
            Some(variant) => {
                lines.push(LineView {
                    sku: sku.clone(),
                    product_id: line.product_id.to_string(),
                    title: variant.title.clone(),
                    options: variant.options.clone(),
                    quantity: line.quantity,
                    unit_price: variant.price,
                    line_total: variant.price.times(line.quantity),
                    available: variant.available,
                    price_changed_from: (variant.price != seen).then_some(seen),
                    unavailable: false,
                });
            }
            None => lines.push(LineView {
                sku: sku.clone(),
                product_id: line.product_id.to_string(),
                title: String::new(),
                options: BTreeMap::new(),
                quantity: line.quantity,
                unit_price: seen,
                line_total: Money::new(0, currency),
                available: 0,
                price_changed_from: None,
                unavailable: true,
            }),
        }
    }

    let destination = cart.destination.clone().unwrap_or_else(|| Destination {
        country: default_country.clone(),
        region: None,
    });
    let mut discount_issue = None;
    let discount = match (&cart.discount_code, &inputs.discount) {
        (Some(code), None) => {
            discount_issue = Some(Issue {
                code: "unknown_discount_code",
                detail: format!("the code {code} no longer exists"),
            });
            None
        }
        (Some(_), Some(record)) => Some((&record.rule, record.redemptions)),
        (None, _) => None,
    };
    let quote = pricing::quote(
        &priced,
        QuoteInputs {
            rates: &settings.shipping_rates,
            tax: &settings.tax_rates,
            country: destination.country.as_str(),
            region: destination.region.as_deref(),
            method: cart.shipping_method.as_deref(),
            discount,
            now,
            currency,
        },
    );
    if let Some(refusal) = &quote.discount_refusal {
        discount_issue = Some(Issue {
            code: refusal.code(),
            detail: refusal.to_string(),
        });
    }
    let shipping_issue = quote.shipping.is_none().then(|| Issue {
        code: "unsupported_country",
        detail: format!("the store does not ship to {}", destination.country),
    });
    CartView {
        cart_id: cart.cart_id.clone(),
        cart_token: None,
        status: cart.status,
        currency,
        lines,
        discount_code: cart.discount_code.as_ref().map(ToString::to_string),
        discount_issue,
        shipping_method: quote.shipping.map(|o| o.id),
        shipping_options: quote.shipping_options,
        shipping_issue,
        destination,
        totals: quote.totals,
        expires_at: rfc3339(cart.expires_at),
    }
}
