//! Cart arithmetic: line totals, discounts, shipping and tax, all in integer minor units.
//!
//! Rounding rule: every division rounds half up (to the nearest minor unit, a half going up),
//! once per cart, never per line, so the total does not depend on the order of the lines.
//! - A percent discount is `round(eligible subtotal × percent)`; a fixed one is its amount; either
//!   is capped at the eligible subtotal.
//! - Tax is computed on the discounted subtotal; shipping is not taxed.
//!   Exclusive rates (the US default): `tax = round(taxable × rate)` and is added to the total.
//!   Inclusive rates (VAT): prices already hold the tax; `tax = round(taxable × rate / (1 + rate))`
//!   is shown but not added.
//! - So `total = subtotal − discount + shipping + tax` for exclusive rates and
//!   `total = subtotal − discount + shipping` for inclusive ones.

use crate::catalog::{CategorySlug, Sku};
use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Basis points: hundredths of a percent (725 is 7.25 %).
pub type BasisPoints = u32;

/// `numerator / denominator` rounded half up, for non-negative operands.
pub fn divide_half_up(numerator: i128, denominator: i128) -> i64 {
    if denominator <= 0 || numerator <= 0 {
        return 0;
    }
    ((numerator * 2 + denominator) / (denominator * 2)) as i64
}

/// One cart line as pricing sees it: what, how many, at what unit price now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// The variant.
    pub sku: Sku,
    /// Its product's category (discounts may be limited to categories).
    pub category: CategorySlug,
    /// Units.
    pub quantity: u32,
    /// Current catalog price per unit, in minor units.
    pub unit_price: i64,
}

impl PricedLine {
    /// `quantity × unit_price`.
    pub fn total(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price
    }
}

/// How a tax rate applies to prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Added on top of prices (US sales tax).
    #[default]
    Exclusive,
    /// Already inside prices (VAT).
    Inclusive,
}

/// The tax of one country, with optional regional rates (US states, Canadian provinces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryTax {
    /// The country-wide rate.
    #[serde(default)]
    pub rate_bp: BasisPoints,
    /// Whether prices include it.
    #[serde(default)]
    pub mode: TaxMode,
    /// Rates of regions that differ, by region code.
    #[serde(default)]
    pub regions: BTreeMap<String, BasisPoints>,
}

/// The store's tax rates by ISO country code; a country not listed is not taxed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaxTable(pub BTreeMap<String, CountryTax>);

/// The rate that applies to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaxRate {
    /// Rate in basis points.
    pub rate_bp: BasisPoints,
    /// Whether prices include it.
    pub mode: TaxMode,
}

impl TaxTable {
    /// The rate for a country and, where it has its own, a region.
    pub fn rate_for(&self, country: &str, region: Option<&str>) -> TaxRate {
        let Some(tax) = self.0.get(country) else {
            return TaxRate::default();
        };
        let regional = region.and_then(|r| tax.regions.get(&r.to_ascii_uppercase()));
        TaxRate {
            rate_bp: regional.copied().unwrap_or(tax.rate_bp),
            mode: tax.mode,
        }
    }
}

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

/// What a discount takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DiscountValue {
    /// A share of the eligible subtotal, in basis points (1500 = 15 %).
    Percent {
        /// Basis points, 1 to 10,000.
        percent_bp: BasisPoints,
    },
    /// A fixed amount in minor units of the store currency.
    Fixed {
        /// Minor units.
        amount: i64,
    },
}

/// A discount code as the merchant sets it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountRule {
    /// What it takes off.
    pub value: DiscountValue,
    /// The cart subtotal (before discount) it needs, in minor units.
    #[serde(default)]
    pub min_subtotal: Option<i64>,
    /// Valid from (Unix seconds; sent as RFC 3339 or Unix seconds).
    #[serde(default, deserialize_with = "crate::instant::deserialize_optional")]
    pub starts_at: Option<i64>,
    /// Valid until (Unix seconds, exclusive; sent as RFC 3339 or Unix seconds).
    #[serde(default, deserialize_with = "crate::instant::deserialize_optional")]
    pub ends_at: Option<i64>,
    /// How many orders may use it in all.
    #[serde(default)]
    pub max_redemptions: Option<u32>,
    /// Whether one customer (by email) may use it once only; checked at checkout.
    #[serde(default)]
    pub once_per_customer: bool,
    /// Only lines of these categories count, when given.
    #[serde(default)]
    pub categories: Vec<CategorySlug>,
    /// Only these SKUs count, when given.
    #[serde(default)]
    pub skus: Vec<Sku>,
}

/// Why a code does not apply to a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscountRefusal {
    /// Before its start.
    #[error("this code is not valid yet")]
    NotStarted,
    /// After its end.
    #[error("this code has expired")]
    Expired,
    /// The cart is too small.
    #[error("this code needs a subtotal of at least {minimum} minor units")]
    MinimumNotMet {
        /// The minimum, in minor units.
        minimum: i64,
    },
    /// Every redemption is used.
    #[error("this code has been used up")]
    Exhausted,
    /// No line of the cart is one it applies to.
    #[error("this code does not apply to anything in the cart")]
    NoEligibleLines,
    /// The customer already used it.
    #[error("this code was already used with this email")]
    AlreadyUsed,
}

impl DiscountRefusal {
    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotStarted => "discount_not_started",
            Self::Expired => "discount_expired",
            Self::MinimumNotMet { .. } => "discount_minimum_not_met",
            Self::Exhausted => "discount_exhausted",
            Self::NoEligibleLines => "discount_not_applicable",
            Self::AlreadyUsed => "discount_already_used",
        }
    }
}

impl DiscountRule {
    /// The merchant's mistakes in a rule, by field.
    pub fn check(&self) -> Vec<crate::FieldError> {
        let mut errors = Vec::new();
        match self.value {
            DiscountValue::Percent { percent_bp } if !(1..=10_000).contains(&percent_bp) => errors.push(
                crate::FieldError::new("value.percent_bp", "must be 1 to 10000 (0.01 % to 100 %)"),
            ),
            DiscountValue::Fixed { amount } if amount <= 0 => {
                errors.push(crate::FieldError::new("value.amount", "must be positive"))
            }
            _ => {}
        }
        if self.min_subtotal.is_some_and(|m| m < 0) {
            errors.push(crate::FieldError::new("min_subtotal", "must not be negative"));
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at)
            && end <= start
        {
            errors.push(crate::FieldError::new("ends_at", "must be after starts_at"));
        }
        errors
    }

    fn eligible(&self, line: &PricedLine) -> bool {
        (self.categories.is_empty() || self.categories.contains(&line.category))
            && (self.skus.is_empty() || self.skus.contains(&line.sku))
    }

    /// The subtotal of the lines the code applies to.
    pub fn eligible_subtotal(&self, lines: &[PricedLine]) -> i64 {
        lines.iter().filter(|l| self.eligible(l)).map(PricedLine::total).sum()
    }

    /// Whether the code applies to these lines at `now`, given how often it was redeemed.
    pub fn applies(&self, lines: &[PricedLine], now: i64, redemptions: u32) -> Result<(), DiscountRefusal> {
        if self.starts_at.is_some_and(|start| now < start) {
            return Err(DiscountRefusal::NotStarted);
        }
        if self.ends_at.is_some_and(|end| now >= end) {
            return Err(DiscountRefusal::Expired);
        }
        if self.max_redemptions.is_some_and(|max| redemptions >= max) {
            return Err(DiscountRefusal::Exhausted);
        }
        let subtotal: i64 = lines.iter().map(PricedLine::total).sum();
        if let Some(minimum) = self.min_subtotal.filter(|m| subtotal < *m) {
            return Err(DiscountRefusal::MinimumNotMet { minimum });
        }
        if self.eligible_subtotal(lines) == 0 {
            return Err(DiscountRefusal::NoEligibleLines);
        }
        Ok(())
    }

    /// What it takes off these lines: never more than their eligible subtotal.
    pub fn amount(&self, lines: &[PricedLine]) -> i64 {
        let eligible = self.eligible_subtotal(lines);
        let amount = match self.value {
            DiscountValue::Percent { percent_bp } => {
                divide_half_up(i128::from(eligible) * i128::from(percent_bp), 10_000)
            }
            DiscountValue::Fixed { amount } => amount,
        };
        amount.clamp(0, eligible)
    }
}

/// A cart's or order's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of the lines.
    pub subtotal: Money,
    /// What the discount code takes off.
    pub discount: Money,
    /// The shipping option's price.
    pub shipping: Money,
    /// The tax (added, or included: see `tax_included`).
    pub tax: Money,
    /// What the customer pays.
    pub total: Money,
    /// True when prices already held the tax and it was not added.
    pub tax_included: bool,
}

/// Totals of `lines` less `discount`, plus `shipping`, taxed at `tax`.
pub fn totals(lines: &[PricedLine], discount: i64, shipping: i64, tax: TaxRate, currency: Currency) -> Totals {
    let subtotal: i64 = lines.iter().map(PricedLine::total).sum();
    let discount = discount.clamp(0, subtotal);
    let taxable = i128::from(subtotal - discount);
    let rate = i128::from(tax.rate_bp);
    let (tax_amount, total) = match tax.mode {
        TaxMode::Exclusive => {
            let tax_amount = divide_half_up(taxable * rate, 10_000);
            (tax_amount, subtotal - discount + shipping + tax_amount)
        }
        TaxMode::Inclusive => (
            divide_half_up(taxable * rate, 10_000 + rate),
            subtotal - discount + shipping,
        ),
    };
    let money = |amount| Money::new(amount, currency);
    Totals {
        subtotal: money(subtotal),
        discount: money(discount),
        shipping: money(shipping),
        tax: money(tax_amount),
        total: money(total),
        tax_included: tax.mode == TaxMode::Inclusive,
    }
}

/// Everything a cart or checkout is priced by, besides its lines.
#[derive(Debug, Clone, Copy)]
pub struct QuoteInputs<'a> {
    /// The store's shipping rates.
    pub rates: &'a [ShippingRate],
    /// The store's tax rates.
    pub tax: &'a TaxTable,
    /// Destination country.
    pub country: &'a str,
    /// Destination region, for regional tax.
    pub region: Option<&'a str>,
    /// The shipping rate chosen, if any (else the cheapest).
    pub method: Option<&'a str>,
    /// The discount code's rule and redemption count, if a code is applied.
    pub discount: Option<(&'a DiscountRule, u32)>,
    /// Unix seconds.
    pub now: i64,
    /// The store currency.
    pub currency: Currency,
}

/// A priced cart: totals, the shipping options and the one chosen, and why a discount did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The totals.
    pub totals: Totals,
    /// Options for the destination, cheapest first.
    pub shipping_options: Vec<ShippingOption>,
    /// The option used: the chosen one if offered, else the cheapest; `None` where nothing ships.
    pub shipping: Option<ShippingOption>,
    /// Why the applied code takes nothing off, if it does not apply.
    pub discount_refusal: Option<DiscountRefusal>,
}

/// Prices `lines` for a destination, shipping choice and discount: the one computation the cart
/// and checkout share. An empty cart ships for free.
pub fn quote(lines: &[PricedLine], inputs: QuoteInputs<'_>) -> Quote {
    let (discount, discount_refusal) = match inputs.discount {
        None => (0, None),
        Some((rule, redemptions)) => match rule.applies(lines, inputs.now, redemptions) {
            Ok(()) => (rule.amount(lines), None),
            Err(refusal) => (0, Some(refusal)),
        },
    };
    let subtotal: i64 = lines.iter().map(PricedLine::total).sum();
    let goods = subtotal - discount.min(subtotal);
    let shipping_options = shipping_options(inputs.rates, inputs.country, goods, inputs.currency);
    let shipping = inputs
        .method
        .and_then(|method| shipping_options.iter().find(|o| o.id == method))
        .or_else(|| shipping_options.first())
        .cloned();
    let shipping_price = if lines.is_empty() {
        0
    } else {
        shipping.as_ref().map_or(0, |o| o.price.amount)
    };
    let tax = inputs.tax.rate_for(inputs.country, inputs.region);
    Quote {
        totals: totals(lines, discount, shipping_price, tax, inputs.currency),
        shipping_options,
        shipping,
        discount_refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    fn line(sku: &str, category: &str, quantity: u32, unit_price: i64) -> PricedLine {
        PricedLine {
            sku: Sku::parse(sku).unwrap(),
            category: CategorySlug::parse(category).unwrap(),
            quantity,
            unit_price,
        }
    }

    fn percent(bp: u32) -> DiscountRule {
        DiscountRule {
            value: DiscountValue::Percent { percent_bp: bp },
            min_subtotal: None,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            once_per_customer: false,
            categories: vec![],
            skus: vec![],
        }
    }

    #[test]
    fn halves_round_up_and_the_rest_to_the_nearest_unit() {
        assert_eq!(divide_half_up(5, 10), 1);
        assert_eq!(divide_half_up(4, 10), 0);
        assert_eq!(divide_half_up(15, 10), 2);
        assert_eq!(divide_half_up(14, 10), 1);
    }

    #[test]
    fn exclusive_tax_is_added_on_the_discounted_subtotal() {
        let lines = [line("A", "home", 2, 1_999)];
        let t = totals(
            &lines,
            398,
            500,
            TaxRate {
                rate_bp: 725,
                mode: TaxMode::Exclusive,
            },
            usd(),
        );
        assert_eq!(t.subtotal.amount, 3_998);
        // (3998 - 398) × 7.25 % = 261.0
        assert_eq!(t.tax.amount, 261);
        assert_eq!(t.total.amount, 3_998 - 398 + 500 + 261);
    }

    #[test]
    fn inclusive_tax_is_shown_but_not_added() {
        let lines = [line("A", "home", 1, 12_000)];
        let t = totals(
            &lines,
            0,
            0,
            TaxRate {
                rate_bp: 2_000,
                mode: TaxMode::Inclusive,
            },
            usd(),
        );
        assert_eq!(t.tax.amount, 2_000);
        assert_eq!(t.total.amount, 12_000);
        assert!(t.tax_included);
    }

    #[test]
    fn a_regional_rate_overrides_the_country_rate() {
        let table: TaxTable = serde_json::from_str(
            r#"{"US": {"rate_bp": 0, "regions": {"CA": 725}}, "GB": {"rate_bp": 2000, "mode": "inclusive"}}"#,
        )
        .unwrap();
        assert_eq!(table.rate_for("US", Some("ca")).rate_bp, 725);
        assert_eq!(table.rate_for("US", Some("OR")).rate_bp, 0);
        assert_eq!(table.rate_for("GB", None).mode, TaxMode::Inclusive);
        assert_eq!(table.rate_for("JP", None), TaxRate::default());
    }

    #[test]
    fn shipping_is_free_over_the_threshold_and_cheapest_first() {
        let rates: Vec<ShippingRate> = serde_json::from_str(
            r#"[{"id": "express", "name": "Express", "price": 1500, "estimated_days": {"min": 1, "max": 2}, "countries": ["US"]},
                {"id": "standard", "name": "Standard", "price": 500, "estimated_days": {"min": 3, "max": 5}, "countries": ["US", "CA"], "free_over": 5000}]"#,
        )
        .unwrap();
        let small = shipping_options(&rates, "US", 4_999, usd());
        assert_eq!((small[0].id.as_str(), small[0].price.amount), ("standard", 500));
        let large = shipping_options(&rates, "US", 5_000, usd());
        assert_eq!(large[0].price.amount, 0);
        assert_eq!(shipping_options(&rates, "CA", 0, usd()).len(), 1);
        assert!(shipping_options(&rates, "FR", 0, usd()).is_empty());
    }

    #[test]
    fn each_discount_rule_refuses_with_its_own_reason() {
        let lines = [line("A", "home", 1, 3_000)];
        let mut rule = percent(1_000);
        rule.starts_at = Some(100);
        rule.ends_at = Some(200);
        assert_eq!(rule.applies(&lines, 99, 0), Err(DiscountRefusal::NotStarted));
        assert_eq!(rule.applies(&lines, 200, 0), Err(DiscountRefusal::Expired));
        assert_eq!(rule.applies(&lines, 150, 0), Ok(()));
        rule.max_redemptions = Some(3);
        assert_eq!(rule.applies(&lines, 150, 3), Err(DiscountRefusal::Exhausted));
        rule.min_subtotal = Some(5_000);
        assert_eq!(
            rule.applies(&lines, 150, 0),
            Err(DiscountRefusal::MinimumNotMet { minimum: 5_000 })
        );
        let mut apparel_only = percent(1_000);
        apparel_only.categories = vec![CategorySlug::parse("apparel").unwrap()];
        assert_eq!(
            apparel_only.applies(&lines, 0, 0),
            Err(DiscountRefusal::NoEligibleLines)
        );
    }

    #[test]
    fn a_restricted_discount_counts_only_eligible_lines() {
        let lines = [line("A", "home", 1, 3_000), line("B", "apparel", 2, 1_000)];
        let mut rule = percent(5_000);
        rule.categories = vec![CategorySlug::parse("apparel").unwrap()];
        assert_eq!(rule.amount(&lines), 1_000);
        let fixed = DiscountRule {
            value: DiscountValue::Fixed { amount: 10_000 },
            ..rule
        };
        assert_eq!(fixed.amount(&lines), 2_000, "never more than the eligible subtotal");
    }

    fn lines_strategy() -> impl Strategy<Value = Vec<PricedLine>> {
        prop::collection::vec(
            (1u32..=99, 0i64..=1_000_000, prop::bool::ANY).prop_map(|(quantity, price, apparel)| {
                line("X", if apparel { "apparel" } else { "home" }, quantity, price)
            }),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn totals_add_up_and_are_never_negative(
            lines in lines_strategy(),
            percent_bp in 1u32..=10_000,
            fixed in 1i64..=10_000_000,
            use_percent in prop::bool::ANY,
            shipping in 0i64..=10_000,
            rate_bp in 0u32..=3_000,
            inclusive in prop::bool::ANY,
        ) {
            let mut rule = percent(percent_bp);
            if !use_percent { rule.value = DiscountValue::Fixed { amount: fixed }; }
            rule.categories = vec![CategorySlug::parse("apparel").unwrap()];
            let discount = rule.amount(&lines);
            prop_assert!(discount >= 0 && discount <= rule.eligible_subtotal(&lines));
            let mode = if inclusive { TaxMode::Inclusive } else { TaxMode::Exclusive };
            let t = totals(&lines, discount, shipping, TaxRate { rate_bp, mode }, usd());
            let tax_added = if inclusive { 0 } else { t.tax.amount };
            prop_assert_eq!(t.total.amount, t.subtotal.amount - t.discount.amount + t.shipping.amount + tax_added);
            prop_assert!(t.total.amount >= 0 && t.tax.amount >= 0);
            if inclusive { prop_assert!(t.tax.amount <= t.subtotal.amount - t.discount.amount); }
        }

        #[test]
        fn totals_do_not_depend_on_the_order_of_lines(lines in lines_strategy(), rate_bp in 0u32..=3_000) {
            let rate = TaxRate { rate_bp, mode: TaxMode::Exclusive };
            let forward = totals(&lines, 0, 0, rate, usd());
            let mut reversed = lines.clone();
            reversed.reverse();
            prop_assert_eq!(forward, totals(&reversed, 0, 0, rate, usd()));
        }
    }
}
