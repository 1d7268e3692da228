//! Money the merchant gives back of an order's payment: how much may still go back, and what a
//! refund does to the order's status. What went back is the most of what Stripe last reported
//! and what the shop itself refunded (a cancellation, received returns, the merchant's own
//! refunds), so a refund Stripe has not reported yet is never given twice.

use crate::money::Money;
use crate::order::{Order, OrderEvent};
use crate::returns::ReturnState;
use serde::{Deserialize, Serialize};

/// The most characters of a refund's reason.
pub const REASON_LIMIT: usize = 500;

/// A refund the merchant gave, as the order keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantRefund {
    /// Stripe's refund id (`re_...`).
    pub refund_id: String,
    /// What went back.
    pub amount: Money,
    /// Why, in the merchant's words.
    pub reason: String,
    /// Unix seconds.
    pub refunded_at: i64,
}

/// Why a refund may not be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// Nothing was paid for the order.
    #[error("the order was never paid, so nothing can be refunded")]
    NotPaid,
    /// All that was paid went back already.
    #[error("everything paid for the order was refunded already")]
    NothingLeft,
    /// Zero or less, or in another currency than the order's.
    #[error("a refund is more than 0 in the order's currency ({0})")]
    NotAnAmount(String),
    /// More than is left to refund.
    #[error("at most {most} is left to refund")]
    TooMuch {
        /// What is left.
        most: Money,
    },
    /// A reason that is empty or too long.
    #[error("say why in 1 to {REASON_LIMIT} characters")]
    Reason,
}

impl Order {
    /// Minor units of the payment that went back, as far as the shop knows (see the module
    /// notes); never more than the order's total.
    pub fn refunded(&self) -> i64 {
        // Stripe's charge.refunded writes "<refunded> of <charged> <currency> refunded".
        let reported = self
            .refund_state
            .as_deref()
            .and_then(|state| state.split(' ').next())
            .and_then(|amount| amount.parse::<i64>().ok())
            .unwrap_or(0);
        let cancelled = if self.cancel_refund.is_some() {
            self.totals.total.amount
        } else {
            0
        };
        let returned: i64 = self
            .returns
            .iter()
            .filter(|r| r.state == ReturnState::Received && r.refund_id.is_some())
            .map(|r| r.refund.amount)
            .sum();
        let given: i64 = self.merchant_refunds.iter().map(|r| r.amount.amount).sum();
        reported.max(cancelled + returned + given).min(self.totals.total.amount)
    }

    /// What may still be refunded of the order's payment: nothing unless it was paid.
    pub fn refundable(&self) -> Money {
        let left = if self.paid_at.is_some() {
            self.totals.total.amount - self.refunded()
        } else {
            0
        };
        Money::new(left.max(0), self.totals.total.currency)
    }

    /// Checks a refund of `amount` for `reason` (trimmed), answering the event it is to the
    /// order: refunded in full when it takes all that is left, else in part.
    pub fn check_refund(&self, amount: Money, reason: &str) -> Result<OrderEvent, RefundError> {
        if self.paid_at.is_none() {
            return Err(RefundError::NotPaid);
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_LIMIT || !crate::text::is_multiline(reason) {
            return Err(RefundError::Reason);
        }
        let left = self.refundable();
        if left.amount == 0 {
            return Err(RefundError::NothingLeft);
        }
        if amount.currency != left.currency || amount.amount <= 0 {
            return Err(RefundError::NotAnAmount(left.currency.as_str().to_owned()));
        }
        if amount.amount > left.amount {
            return Err(RefundError::TooMuch { most: left });
        }
        Ok(if amount.amount == left.amount {
            OrderEvent::RefundedInFull
        } else {
            OrderEvent::RefundedInPart
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid_order(total: i64) -> Order {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "shipped", "email": "ada@example.com",
            "lines": [], "totals": {"subtotal": usd(total), "discount": usd(0), "shipping": usd(0),
                                    "tax": usd(0), "total": usd(total), "tax_included": false},
            "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "SF", "postal_code": "94105", "country": "US"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 0, "expires_at": 900, "paid_at": 10,
        }))
        .unwrap()
    }

    fn usd(amount: i64) -> Money {
        Money::new(amount, crate::Currency::parse("usd").unwrap())
    }

    #[test]
    fn a_refund_takes_at_most_what_was_paid_less_what_went_back() {
        let mut order = paid_order(4800);
        assert_eq!(
            order.check_refund(usd(1000), "scratched"),
            Ok(OrderEvent::RefundedInPart)
        );
        order.merchant_refunds.push(MerchantRefund {
            refund_id: "re_1".into(),
            amount: usd(1000),
            reason: "scratched".into(),
            refunded_at: 20,
        });
        assert_eq!(order.refundable(), usd(3800));
        assert_eq!(
            order.check_refund(usd(3801), "more"),
            Err(RefundError::TooMuch { most: usd(3800) })
        );
        assert_eq!(
            order.check_refund(usd(3800), "the rest"),
            Ok(OrderEvent::RefundedInFull)
        );
    }

    #[test]
    fn what_stripe_reported_counts_when_it_is_more_than_the_shop_knows() {
        let mut order = paid_order(4800);
        order.refund_state = Some("3000 of 4800 usd refunded".into());
        assert_eq!(order.refundable(), usd(1800));
        order.refund_state = Some("4800 of 4800 usd refunded".into());
        assert_eq!(order.check_refund(usd(1), "late"), Err(RefundError::NothingLeft));
    }

    #[test]
    fn an_unpaid_order_a_bad_amount_or_no_reason_refunds_nothing() {
        let mut unpaid = paid_order(4800);
        unpaid.paid_at = None;
        assert_eq!(unpaid.check_refund(usd(100), "why"), Err(RefundError::NotPaid));
        let order = paid_order(4800);
        assert!(matches!(
            order.check_refund(usd(0), "why"),
            Err(RefundError::NotAnAmount(_))
        ));
        let eur = Money::new(100, crate::Currency::parse("eur").unwrap());
        assert!(matches!(
            order.check_refund(eur, "why"),
            Err(RefundError::NotAnAmount(_))
        ));
        assert_eq!(order.check_refund(usd(100), "  "), Err(RefundError::Reason));
    }
}
