//! Returns: which units a customer may send back, and what a return refunds.
//!
//! A return names shipped units not returned before, within the store's return window. Its
//! refund is the returned goods' price less their share of the discount, plus their share of an
//! added tax; shipping comes back only when the store's policy says so and the return completes
//! the order. Refunds are computed cumulatively (the value of everything returned so far, less
//! what earlier returns refunded), so however an order is returned in parts, the parts add up to
//! exactly what the whole would refund: no cent lost or given twice to rounding.

use crate::fulfillment::ShipmentLine;
use crate::line::OrderLine;
use crate::money::CurrencyMismatch;
use crate::pricing::{Totals, divide_half_up};
use crate::{Money, Sku};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a complete return also refunds shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingRefund {
    /// Shipping is never refunded.
    #[default]
    Never,
    /// Shipping is refunded with the return that brings back the last unit.
    FullReturn,
}

/// An ordered line as returns see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedLine {
    /// The variant.
    pub sku: Sku,
    /// Units bought.
    pub quantity: u32,
    /// Price per unit at checkout, minor units.
    pub unit_price: i64,
}

/// Why a return cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    /// A SKU the order does not have.
    #[error("{0} is not on this order")]
    NotOnOrder(Sku),
    /// More units than have shipped and not come back.
    #[error("{sku}: {requested} to return but {returnable} shipped and not yet returned")]
    TooMany {
        /// The variant.
        sku: Sku,
        /// Units asked for.
        requested: u32,
        /// Units that may still come back.
        returnable: u32,
    },
    /// The window closed.
    #[error("the return window of {days} days has closed")]
    WindowClosed {
        /// The store's window.
        days: u32,
    },
    /// No units, a line without units, or a SKU named twice.
    #[error("{0}")]
    Malformed(String),
}

fn units(lines: &[ShipmentLine]) -> BTreeMap<&Sku, u32> {
    let mut units = BTreeMap::new();
    for line in lines {
        *units.entry(&line.sku).or_default() += line.quantity;
    }
    units
}

/// Checks a return of `requested` against what `shipped` and what earlier returns brought back,
/// `days_since_shipped` after the last shipment (or delivery) within a `window_days` window.
pub fn check_return(
    ordered: &[OrderedLine],
    shipped: &[ShipmentLine],
    returned: &[ShipmentLine],
    requested: &[ShipmentLine],
    days_since_shipped: i64,
    window_days: u32,
) -> Result<(), ReturnError> {
    if requested.is_empty() {
        return Err(ReturnError::Malformed("name at least one line to return".into()));
    }
    if days_since_shipped > i64::from(window_days) {
        return Err(ReturnError::WindowClosed { days: window_days });
    }
    let (shipped, returned) = (units(shipped), units(returned));
    let mut seen = std::collections::BTreeSet::new();
    for line in requested {
        if line.quantity == 0 {
            return Err(ReturnError::Malformed(format!(
                "{}: a line returns at least 1 unit",
                line.sku
            )));
        }
        if !seen.insert(&line.sku) {
            return Err(ReturnError::Malformed(format!("{} is named twice", line.sku)));
        }
        if !ordered.iter().any(|o| o.sku == line.sku) {
            return Err(ReturnError::NotOnOrder(line.sku.clone()));
        }
        let returnable = shipped
            .get(&line.sku)
            .copied()
            .unwrap_or(0)
            .saturating_sub(returned.get(&line.sku).copied().unwrap_or(0));
        if line.quantity > returnable {
            return Err(ReturnError::TooMany {
                sku: line.sku.clone(),
                requested: line.quantity,
                returnable,
            });
        }
    }
    Ok(())
}

/// What the units in `lines` are worth back: their price less their share of the discount, plus
/// their share of an added tax; everything (less shipping, unless `shipping` says so) when
/// `lines` are all the order's units.
fn value(ordered: &[OrderedLine], totals: &Totals, lines: &BTreeMap<&Sku, u32>, shipping: ShippingRefund) -> i64 {
    let all = ordered
        .iter()
        .all(|o| lines.get(&o.sku).copied().unwrap_or(0) >= o.quantity);
    if all {
        let goods = totals.total.amount - totals.shipping.amount;
        return match shipping {
            ShippingRefund::Never => goods,
            ShippingRefund::FullReturn => totals.total.amount,
        };
    }
    let part: i64 = ordered
        .iter()
        .map(|o| o.unit_price * i64::from(lines.get(&o.sku).copied().unwrap_or(0).min(o.quantity)))
        .sum();
    let subtotal = totals.subtotal.amount;
    let discount_share = divide_half_up(
        i128::from(totals.discount.amount) * i128::from(part),
        i128::from(subtotal),
    );
    let net = part - discount_share;
    let taxed = subtotal - totals.discount.amount;
    let tax_share = if totals.tax_included {
        0
    } else {
        divide_half_up(i128::from(totals.tax.amount) * i128::from(net), i128::from(taxed))
    };
    net + tax_share
}

/// The refund of returning `this_return` after `earlier` returns: the value of all returned so
/// far less the value of what was returned before (see the module notes).
pub fn refund_for(
    ordered: &[OrderedLine],
    totals: &Totals,
    earlier: &[ShipmentLine],
    this_return: &[ShipmentLine],
    shipping: ShippingRefund,
) -> i64 {
    let before = units(earlier);
    let mut after = before.clone();
    for line in this_return {
        *after.entry(&line.sku).or_default() += line.quantity;
    }
    (value(ordered, totals, &after, shipping) - value(ordered, totals, &before, shipping)).max(0)
}

/// Whether `returned` brings back every unit of the order.
pub fn all_returned(ordered: &[OrderedLine], returned: &[ShipmentLine]) -> bool {
    let returned = units(returned);
    ordered
        .iter()
        .all(|o| returned.get(&o.sku).copied().unwrap_or(0) >= o.quantity)
}

/// Where a return is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// The customer asked; the goods are on their way back.
    Requested,
    /// The merchant received the goods; the refund was asked of Stripe.
    Received,
    /// An exchange whose difference was not paid in time: void, its replacement back in stock.
    Cancelled,
}

impl ReturnState {
    /// The word the API and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One return of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// Its id (the customer writes it on the parcel).
    pub return_id: String,
    /// The order.
    pub order_id: String,
    /// What comes back.
    pub lines: Vec<ShipmentLine>,
    /// Why, in the customer's words.
    pub reason: String,
    /// Where it is.
    pub state: ReturnState,
    /// What it refunds (computed when asked, see `shop_domain::returns`).
    pub refund: Money,
    /// Unix seconds.
    pub requested_at: i64,
    /// Unix seconds, once received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
    /// Whether the units went back into stock.
    #[serde(default)]
    pub restocked: bool,
    /// Stripe's refund, once asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// What replaces the returned units, when the return is an exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}

/// How an exchange's difference is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangePayment {
    /// The replacement costs no more than what comes back; any rest is refunded on receipt.
    NotNeeded,
    /// The shopper pays the difference (a PaymentIntent of its own); the replacement waits.
    Awaiting,
    /// The difference is paid.
    Paid,
    /// Not paid within the hold: the exchange was cancelled.
    Expired,
}

impl ExchangePayment {
    /// The word the API and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotNeeded => "not_needed",
            Self::Awaiting => "awaiting",
            Self::Paid => "paid",
            Self::Expired => "expired",
        }
    }
}

/// The replacement side of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The replacement lines, priced when asked.
    pub new_lines: Vec<OrderLine>,
    /// What the replacement costs, tax included (it ships free).
    pub replacement_total: Money,
    /// What the returned units are worth (as a return would refund them).
    pub returned_value: Money,
    /// `replacement_total - returned_value`: above 0 the shopper pays it, below 0 it is refunded
    /// when the return is received.
    pub balance: Money,
    /// Where the difference stands.
    pub payment: ExchangePayment,
    /// The PaymentIntent of the difference, when one is owed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// Unix seconds until which the replacement's stock is held for that payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_by: Option<i64>,
}

/// The payment an exchange waits for: the difference's PaymentIntent, and until when the
/// replacement's stock is held for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifferenceDue {
    /// The PaymentIntent of the difference.
    pub payment_intent_id: String,
    /// Unix seconds.
    pub pay_by: i64,
}

impl Exchange {
    /// What `returned_value` and the replacement's `replacement_total` make of an exchange:
    /// the difference (`replacement_total - returned_value`) and who settles it.
    pub fn balance(replacement_total: Money, returned_value: Money) -> Result<Money, CurrencyMismatch> {
        replacement_total.checked_sub(returned_value)
    }

    /// The exchange of units worth `returned_value` for `new_lines` costing
    /// `replacement_total`, waiting for `due` when the shopper owes the difference.
    pub fn new(
        new_lines: Vec<OrderLine>,
        replacement_total: Money,
        returned_value: Money,
        due: Option<DifferenceDue>,
    ) -> Result<Self, CurrencyMismatch> {
        let balance = Self::balance(replacement_total, returned_value)?;
        Ok(Self {
            new_lines,
            replacement_total,
            returned_value,
            balance,
            payment: if due.is_some() {
                ExchangePayment::Awaiting
            } else {
                ExchangePayment::NotNeeded
            },
            payment_intent_id: due.as_ref().map(|d| d.payment_intent_id.clone()),
            pay_by: due.map(|d| d.pay_by),
        })
    }

    /// What receiving the returned units refunds: what they are worth beyond the replacement.
    pub fn refund_on_receipt(&self) -> Money {
        Money::new((-self.balance.amount).max(0), self.balance.currency)
    }

    /// Whether the replacement may ship: nothing is owed, or it was paid.
    pub fn ships(&self) -> bool {
        matches!(self.payment, ExchangePayment::NotNeeded | ExchangePayment::Paid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, Money};
    use proptest::prelude::*;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("usd").unwrap())
    }

    fn line(sku: &str, quantity: u32) -> ShipmentLine {
        ShipmentLine {
            sku: Sku::parse(sku).unwrap(),
            quantity,
        }
    }

    fn ordered() -> Vec<OrderedLine> {
        vec![
            OrderedLine {
                sku: Sku::parse("TEE").unwrap(),
                quantity: 2,
                unit_price: 2500,
            },
            OrderedLine {
                sku: Sku::parse("MUG").unwrap(),
                quantity: 1,
                unit_price: 1000,
            },
        ]
    }

    /// 60.00 of goods, 10 % off (6.00), 5.00 shipping, 7.25 % tax on 54.00 (3.92).
    fn totals() -> Totals {
        Totals {
            subtotal: usd(6000),
            discount: usd(600),
            shipping: usd(500),
            tax: usd(392),
            total: usd(6000 - 600 + 500 + 392),
            tax_included: false,
        }
    }

    #[test]
    fn a_returned_line_refunds_its_price_less_its_discount_share_plus_its_tax() {
        // One tee: 25.00 - 2.50 discount = 22.50, + 7.25 % of it = 1.63 (392 × 2250 / 5400).
        let refund = refund_for(&ordered(), &totals(), &[], &[line("TEE", 1)], ShippingRefund::Never);
        assert_eq!(refund, 2250 + 163);
    }

    #[test]
    fn returning_everything_refunds_the_total_less_shipping_or_all_of_it_by_policy() {
        let all = [line("TEE", 2), line("MUG", 1)];
        assert_eq!(
            refund_for(&ordered(), &totals(), &[], &all, ShippingRefund::Never),
            5792
        );
        assert_eq!(
            refund_for(&ordered(), &totals(), &[], &all, ShippingRefund::FullReturn),
            6292
        );
    }

    #[test]
    fn a_return_names_only_shipped_units_not_yet_returned_within_the_window() {
        let shipped = [line("TEE", 2)];
        let ok = check_return(&ordered(), &shipped, &[line("TEE", 1)], &[line("TEE", 1)], 3, 30);
        assert_eq!(ok, Ok(()));
        assert!(matches!(
            check_return(&ordered(), &shipped, &[line("TEE", 1)], &[line("TEE", 2)], 3, 30),
            Err(ReturnError::TooMany { returnable: 1, .. })
        ));
        assert!(matches!(
            check_return(&ordered(), &shipped, &[], &[line("MUG", 1)], 3, 30),
            Err(ReturnError::TooMany { returnable: 0, .. })
        ));
        assert!(matches!(
            check_return(&ordered(), &shipped, &[], &[line("HAT", 1)], 3, 30),
            Err(ReturnError::NotOnOrder(_))
        ));
        assert_eq!(
            check_return(&ordered(), &shipped, &[], &[line("TEE", 1)], 31, 30),
            Err(ReturnError::WindowClosed { days: 30 })
        );
        for malformed in [vec![], vec![line("TEE", 0)], vec![line("TEE", 1), line("TEE", 1)]] {
            assert!(matches!(
                check_return(&ordered(), &shipped, &[], &malformed, 0, 30),
                Err(ReturnError::Malformed(_))
            ));
        }
    }

    proptest! {
        #[test]
        fn returns_in_any_parts_add_up_to_the_whole(
            first_tees in 0u32..=2, first_mug in 0u32..=1, discount in 0i64..=6000, tax in 0i64..=2000,
            included in any::<bool>(),
        ) {
            let totals = Totals {
                subtotal: usd(6000), discount: usd(discount), shipping: usd(500), tax: usd(tax),
                total: usd(6000 - discount + 500 + if included { 0 } else { tax }), tax_included: included,
            };
            let first: Vec<ShipmentLine> = [line("TEE", first_tees), line("MUG", first_mug)]
                .into_iter().filter(|l| l.quantity > 0).collect();
            let rest: Vec<ShipmentLine> = [line("TEE", 2 - first_tees), line("MUG", 1 - first_mug)]
                .into_iter().filter(|l| l.quantity > 0).collect();
            let a = refund_for(&ordered(), &totals, &[], &first, ShippingRefund::Never);
            let b = refund_for(&ordered(), &totals, &first, &rest, ShippingRefund::Never);
            prop_assert!(a >= 0 && b >= 0);
            prop_assert_eq!(a + b, totals.total.amount - totals.shipping.amount);
            prop_assert!(all_returned(&ordered(), &[first, rest].concat()));
        }
    }
}
