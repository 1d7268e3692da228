//! Orders: who buys, where it goes, and the statuses an order passes through.

use crate::FieldError;
use crate::cart::CountryCode;
use serde::{Deserialize, Serialize};

/// Where an order goes (or is billed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or county code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: CountryCode,
}

impl Address {
    /// Field errors of an address, each prefixed with `prefix` (`shipping_address.city`).
    pub fn check(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut need = |field: &str, value: &str, max: usize| {
            let length = value.trim().chars().count();
            if length == 0 || length > max {
                errors.push(FieldError::new(
                    format!("{prefix}.{field}"),
                    format!("must have 1 to {max} characters"),
                ));
            } else if !crate::text::is_one_line(value) {
                errors.push(FieldError::new(
                    format!("{prefix}.{field}"),
                    "must be one line of text, without control characters",
                ));
            }
        };
        need("name", &self.name, 100);
        need("line1", &self.line1, 200);
        need("city", &self.city, 100);
        need("postal_code", &self.postal_code, 20);
        if self
            .line2
            .as_ref()
            .is_some_and(|l| l.chars().count() > 200 || !crate::text::is_one_line(l))
        {
            errors.push(FieldError::new(
                format!("{prefix}.line2"),
                "must be one line of at most 200 characters",
            ));
        }
        if self
            .region
            .as_ref()
            .is_some_and(|r| r.trim().is_empty() || r.chars().count() > 10 || !crate::text::is_one_line(r))
        {
            errors.push(FieldError::new(
                format!("{prefix}.region"),
                "a region code has 1 to 10 characters",
            ));
        }
        errors
    }
}

text_value!(
    /// An email address, checked for the shape mail can be delivered to and kept in lower case.
    Email
);

impl Email {
    /// One `@`, a local part, a domain with a dot, no spaces, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let valid = raw.len() <= 254
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(raw.to_lowercase()))
        } else {
            Err(format!("'{raw}' is not an email address"))
        }
    }

    /// The mailbox the address reaches: without a `+tag` in its local part, so that
    /// `ada+one@example.com` and `ada@example.com` count as one writer in a rate limit.
    pub fn mailbox(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let base = local.split_once('+').map_or(local, |(base, _)| base);
                let base = if base.is_empty() { local } else { base };
                format!("{base}@{domain}")
            }
            None => self.0.clone(),
        }
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Stock reserved, waiting for the payment until the hold expires.
    PendingPayment,
    /// Paid.
    Paid,
    /// Being packed.
    Fulfilling,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Ended before shipping (expired hold, customer, failed payment).
    Cancelled,
    /// All money returned.
    Refunded,
    /// Some money returned.
    PartiallyRefunded,
    /// The customer asked to return goods.
    ReturnRequested,
    /// Goods came back.
    Returned,
}

impl OrderStatus {
    /// The word the API and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Fulfilling => "fulfilling",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
            Self::ReturnRequested => "return_requested",
            Self::Returned => "returned",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(Email::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for tagged in ["ada+shop@example.com", "Ada+a+b@Example.com", "ada@example.com"] {
            assert_eq!(Email::parse(tagged).unwrap().mailbox(), "ada@example.com", "{tagged}");
        }
        assert_eq!(Email::parse("+tag@example.com").unwrap().mailbox(), "+tag@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_address_names_every_missing_field() {
        let address: Address = serde_json::from_value(serde_json::json!({
            "name": " ", "line1": "1 Main St", "city": "", "postal_code": "94105", "country": "us"
        }))
        .unwrap();
        let fields: Vec<String> = address.check("shipping_address").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["shipping_address.name", "shipping_address.city"]);
        assert_eq!(address.country.as_str(), "US");
    }

    #[test]
    fn an_address_line_is_one_line() {
        let address: Address = serde_json::from_value(serde_json::json!({
            "name": "Ada\u{2028}Bcc: x", "line1": "1 Main St\r\nX", "line2": "Apt\u{0}", "city": "SF",
            "region": "C\nA", "postal_code": "94105", "country": "US"
        }))
        .unwrap();
        let fields: Vec<String> = address.check("a").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["a.name", "a.line1", "a.line2", "a.region"]);
    }

    #[test]
    fn statuses_read_as_the_api_writes_them() {
        assert_eq!(
            serde_json::to_value(OrderStatus::PendingPayment).unwrap(),
            "pending_payment"
        );
        assert_eq!(OrderStatus::PartiallyRefunded.as_str(), "partially_refunded");
    }
}

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderEvent {
    /// The payment succeeded.
    PaymentSucceeded,
    /// A payment attempt failed (the shopper may retry while the hold lasts).
    PaymentFailed,
    /// The PaymentIntent was cancelled.
    PaymentCanceled,
    /// The stock hold ended unpaid.
    HoldExpired,
    /// The customer cancelled.
    CustomerCancelled,
    /// Packing started.
    FulfillmentStarted,
    /// Every line shipped.
    Shipped,
    /// The carrier delivered it.
    Delivered,
    /// The customer asked to return goods.
    ReturnRequested,
    /// Returned goods arrived.
    ReturnReceived,
    /// All money went back.
    RefundedInFull,
    /// Some money went back.
    RefundedInPart,
}

/// What an event does to an order in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The order moves to this status (a conditional write on the current one).
    To(OrderStatus),
    /// Nothing changes: a duplicate, or an event that arrived after a later one.
    Ignore,
    /// A payment for an order that already ended unpaid: re-reserve its stock, else refund it.
    LatePayment,
}

impl OrderStatus {
    /// The one state machine of the shop: what `event` does to an order in this status.
    /// Statuses only move forward, so a duplicate or out-of-order event is ignored.
    pub fn on(self, event: OrderEvent) -> Transition {
        use OrderEvent as E;
        use OrderStatus as S;
        match (self, event) {
            (S::PendingPayment, E::PaymentSucceeded) => Transition::To(S::Paid),
            (S::Cancelled, E::PaymentSucceeded) => Transition::LatePayment,
            (S::PendingPayment, E::PaymentCanceled | E::HoldExpired | E::CustomerCancelled) => {
                Transition::To(S::Cancelled)
            }
            // Before anything shipped (the store's condition on the write): refunded in full.
            (S::Paid | S::Fulfilling, E::CustomerCancelled) => Transition::To(S::Cancelled),
            (S::Paid, E::FulfillmentStarted) => Transition::To(S::Fulfilling),
            (S::Paid | S::Fulfilling, E::Shipped) => Transition::To(S::Shipped),
            (S::Shipped, E::Delivered) => Transition::To(S::Delivered),
            (S::Shipped | S::Delivered, E::ReturnRequested) => Transition::To(S::ReturnRequested),
            (S::ReturnRequested, E::ReturnReceived) => Transition::To(S::Returned),
            (
                S::Paid
                | S::Fulfilling
                | S::Shipped
                | S::Delivered
                | S::ReturnRequested
                | S::Returned
                | S::PartiallyRefunded
                | S::Cancelled,
                E::RefundedInFull,
            ) => Transition::To(S::Refunded),
            (
                S::Paid | S::Fulfilling | S::Shipped | S::Delivered | S::ReturnRequested | S::Returned | S::Cancelled,
                E::RefundedInPart,
            ) => Transition::To(S::PartiallyRefunded),
            _ => Transition::Ignore,
        }
    }
}

#[cfg(test)]
mod state_machine_tests {
    use super::*;
    use OrderEvent as E;
    use OrderStatus as S;

    const STATUSES: [S; 10] = [
        S::PendingPayment,
        S::Paid,
        S::Fulfilling,
        S::Shipped,
        S::Delivered,
        S::Cancelled,
        S::Refunded,
        S::PartiallyRefunded,
        S::ReturnRequested,
        S::Returned,
    ];
    const EVENTS: [E; 12] = [
        E::PaymentSucceeded,
        E::PaymentFailed,
        E::PaymentCanceled,
        E::HoldExpired,
        E::CustomerCancelled,
        E::FulfillmentStarted,
        E::Shipped,
        E::Delivered,
        E::ReturnRequested,
        E::ReturnReceived,
        E::RefundedInFull,
        E::RefundedInPart,
    ];

    /// Every status × event, written out: what is not listed is ignored.
    fn expected(status: S, event: E) -> Transition {
        let moves: &[(S, E, Transition)] = &[
            (S::PendingPayment, E::PaymentSucceeded, Transition::To(S::Paid)),
            (S::Cancelled, E::PaymentSucceeded, Transition::LatePayment),
            (S::PendingPayment, E::PaymentCanceled, Transition::To(S::Cancelled)),
            (S::PendingPayment, E::HoldExpired, Transition::To(S::Cancelled)),
            (S::PendingPayment, E::CustomerCancelled, Transition::To(S::Cancelled)),
            (S::Paid, E::CustomerCancelled, Transition::To(S::Cancelled)),
            (S::Fulfilling, E::CustomerCancelled, Transition::To(S::Cancelled)),
            (S::Paid, E::FulfillmentStarted, Transition::To(S::Fulfilling)),
            (S::Paid, E::Shipped, Transition::To(S::Shipped)),
            (S::Fulfilling, E::Shipped, Transition::To(S::Shipped)),
            (S::Shipped, E::Delivered, Transition::To(S::Delivered)),
            (S::Shipped, E::ReturnRequested, Transition::To(S::ReturnRequested)),
            (S::Delivered, E::ReturnRequested, Transition::To(S::ReturnRequested)),
            (S::ReturnRequested, E::ReturnReceived, Transition::To(S::Returned)),
        ];
        let refundable_in_full = [
            S::Paid,
            S::Fulfilling,
            S::Shipped,
            S::Delivered,
            S::ReturnRequested,
            S::Returned,
            S::PartiallyRefunded,
            S::Cancelled,
        ];
        let refundable_in_part = [
            S::Paid,
            S::Fulfilling,
            S::Shipped,
            S::Delivered,
            S::ReturnRequested,
            S::Returned,
            S::Cancelled,
        ];
        if event == E::RefundedInFull && refundable_in_full.contains(&status) {
            return Transition::To(S::Refunded);
        }
        if event == E::RefundedInPart && refundable_in_part.contains(&status) {
            return Transition::To(S::PartiallyRefunded);
        }
        moves
            .iter()
            .find(|(s, e, _)| *s == status && *e == event)
            .map(|(_, _, t)| *t)
            .unwrap_or(Transition::Ignore)
    }

    #[test]
    fn every_status_and_event_does_what_the_table_says() {
        for status in STATUSES {
            for event in EVENTS {
                assert_eq!(status.on(event), expected(status, event), "{status:?} × {event:?}");
            }
        }
    }

    #[test]
    fn no_event_moves_an_order_back_to_waiting_for_payment() {
        for status in STATUSES {
            for event in EVENTS {
                assert_ne!(status.on(event), Transition::To(S::PendingPayment));
            }
        }
    }

    #[test]
    fn a_payment_after_the_order_was_paid_or_shipped_changes_nothing() {
        for status in [S::Paid, S::Fulfilling, S::Shipped, S::Delivered, S::Refunded] {
            assert_eq!(status.on(E::PaymentSucceeded), Transition::Ignore);
            assert_eq!(
                status.on(E::PaymentCanceled),
                Transition::Ignore,
                "canceled after succeeded"
            );
        }
    }
}
