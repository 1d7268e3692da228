//! An order that needs the merchant's eyes: the payment's events flag it (an amount that does
//! not match the order's total, a dispute and each of its stages), and it waits on the Today page
//! until someone marks it reviewed. Marking it reviewed is a note of its own: the reasons it was
//! flagged for stay on the order, each with its time, and so does who looked and when, so the
//! order's timeline tells the whole story. A later flag (a dispute's next stage) makes it wait
//! again.

use crate::order::Order;
use serde::{Deserialize, Serialize};

/// One reason an order was flagged for review, as the payment's event wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewNote {
    /// What happened, in the event's words (`amount_mismatch: paid …`, `dispute dp_… needs_response: …`).
    pub reason: String,
    /// Unix seconds.
    pub flagged_at: i64,
}

/// The merchant marking the order reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewMark {
    /// Who marked it (a staff member's address, or the API caller).
    pub by: String,
    /// Unix seconds.
    pub reviewed_at: i64,
}

/// Where an order stands with its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// Flagged, and nobody marked it reviewed since.
    Awaiting,
    /// Flagged before, and marked reviewed after its last flag.
    Reviewed,
    /// Never flagged: there is nothing to review.
    NotFlagged,
}

impl Order {
    /// Where the order stands with its review: [`Order::awaiting_review`] is set by every flag
    /// and cleared by every mark, in the same writes as the list of orders to review.
    pub fn review_state(&self) -> ReviewState {
        if self.awaiting_review {
            ReviewState::Awaiting
        } else if self.reviewed.is_empty() {
            ReviewState::NotFlagged
        } else {
            ReviewState::Reviewed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "paid", "email": "ada@example.com",
            "lines": [], "totals": {"subtotal": usd(0), "discount": usd(0), "shipping": usd(0), "tax": usd(0),
                                    "total": usd(0), "tax_included": false},
            "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Springfield",
                                 "postal_code": "62701", "country": "US"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 0, "expires_at": 900,
        }))
        .unwrap()
    }

    #[test]
    fn an_order_waits_for_review_from_its_flag_until_it_is_marked_and_again_after_a_later_flag() {
        let mut order = order();
        assert_eq!(order.review_state(), ReviewState::NotFlagged);
        order.awaiting_review = true;
        order.reviews.push(ReviewNote {
            reason: "amount_mismatch".into(),
            flagged_at: 10,
        });
        assert_eq!(order.review_state(), ReviewState::Awaiting);
        order.awaiting_review = false;
        order.reviewed.push(ReviewMark {
            by: "ada@example.com".into(),
            reviewed_at: 20,
        });
        assert_eq!(order.review_state(), ReviewState::Reviewed);
        order.awaiting_review = true;
        assert_eq!(order.review_state(), ReviewState::Awaiting);
    }

    #[test]
    fn an_order_stored_before_reviews_were_kept_reads_as_never_flagged() {
        let order = order();
        assert!(order.reviews.is_empty() && order.reviewed.is_empty() && !order.awaiting_review);
    }
}
