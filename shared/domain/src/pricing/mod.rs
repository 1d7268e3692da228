//! Cart arithmetic: line totals, discounts (`discount`), shipping (`shipping`) and tax (`tax`), all
//! in integer minor units.
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

text_value!(
    /// A discount code as shoppers type it; kept in upper case so `summer10` is `SUMMER10`.
    DiscountCode
);

impl DiscountCode {
    /// 3 to 32 letters, digits, `-` or `_`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if (3..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err("a discount code is 3 to 32 letters, digits, '-' or '_'".to_owned())
        }
    }
}

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
    /// `quantity` units of `variant` at its price now.
    pub fn of(variant: &crate::line::VariantView, quantity: u32) -> Self {
        Self {
            sku: variant.sku.clone(),
            category: variant.category.clone(),
            quantity,
            unit_price: variant.price.amount,
        }
    }

    /// `quantity × unit_price`.
    pub fn total(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price
    }
}

mod discount;
mod shipping;
mod tax;

pub use discount::{DiscountRefusal, DiscountRule, DiscountValue};
pub use shipping::{EstimatedDays, ShippingOption, ShippingRate, shipping_options};
pub use tax::{CountryTax, TaxMode, TaxRate, TaxTable};

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
