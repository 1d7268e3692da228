//! Orders: the order itself (placed by `Order::place`, with its timeline and what it still
//! owes), who buys, where it goes, and the one state machine of its statuses.

use crate::FieldError;
use crate::Sku;
use crate::fulfillment::Shipment;
use crate::line::OrderLine;
use crate::pricing::{DiscountCode, Totals};
use crate::returns::{Exchange, ReturnRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

text_value!(
    /// An ISO 3166-1 alpha-2 country code, upper case.
    CountryCode
);

impl CountryCode {
    /// Accepts two ASCII letters in either case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(format!("'{raw}' is not an ISO 3166-1 alpha-2 country code"))
        }
    }
}

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
    /// One `@`, a local part, a domain with a dot, no spaces, at most 254 characters. The lower
    /// case form is the one checked, since it is the one kept (and read back): some letters grow
    /// in lower case (`Ⱥ` is two bytes, `ⱥ` three).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let email = raw.to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(email))
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
    /// Every status.
    pub const ALL: [OrderStatus; 10] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Fulfilling,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Refunded,
        Self::PartiallyRefunded,
        Self::ReturnRequested,
        Self::Returned,
    ];

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

    /// The status as the shopper reads it on their order's page.
    pub fn in_words(self) -> &'static str {
        match self {
            Self::PendingPayment => "Awaiting payment",
            Self::Paid => "Paid",
            Self::Fulfilling => "Being packed",
            Self::Shipped => "Shipped",
            Self::Delivered => "Delivered",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
            Self::PartiallyRefunded => "Partly refunded",
            Self::ReturnRequested => "Return requested",
            Self::Returned => "Returned",
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
    /// Whether packing started and the order is on its way or arrived (not returned, refunded
    /// or cancelled since).
    pub fn is_on_its_way(self) -> bool {
        matches!(self, Self::Fulfilling | Self::Shipped | Self::Delivered)
    }

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

/// The discount an order used, and what checkout counted for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDiscount {
    /// The code.
    pub code: DiscountCode,
    /// Whether the code has a redemption limit (so checkout counted against it).
    pub limited: Option<u32>,
    /// Whether the customer's single use was recorded.
    pub once_per_customer: bool,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub order_id: String,
    /// SHA-256 of its bearer token.
    pub token_hash: String,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// The customer.
    pub email: Email,
    /// What was bought.
    pub lines: Vec<OrderLine>,
    /// Money.
    pub totals: Totals,
    /// Where it goes.
    pub shipping_address: Address,
    /// Where it is billed, when not the shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// The shipping rate's id.
    pub shipping_method: String,
    /// The discount used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<OrderDiscount>,
    /// Whether the customer asked for marketing mail.
    #[serde(default)]
    pub marketing_opt_in: bool,
    /// The cart it came from.
    pub cart_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: the stock hold ends then unless paid.
    pub expires_at: i64,
    /// The Stripe PaymentIntent, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// Why the last payment attempt failed, for the shopper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_error: Option<String>,
    /// Why the merchant must look at the order (an amount that does not match, a dispute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// Every reason the order was flagged for review, oldest first (see [`crate::review`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<crate::review::ReviewNote>,
    /// Each time the merchant marked it reviewed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewed: Vec<crate::review::ReviewMark>,
    /// Flagged and not marked reviewed since: it is on the list of orders to review.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_review: bool,
    /// What happened to a payment that arrived after the hold ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_payment: Option<String>,
    /// How much of the payment went back, as Stripe last reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_state: Option<String>,
    /// Why it was cancelled (`reservation_expired`, `payment_canceled`, `customer`; a paid order:
    /// `customer_refunded` or `merchant_refunded`, by who asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    // When it was paid, packed, shipped, delivered, cancelled or refunded (unix seconds), as
    // each transition wrote it (`<status>_at`): the order's timeline.
    /// Paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    /// Packing started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilling_at: Option<i64>,
    /// Every unit shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<i64>,
    /// Delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// Cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<i64>,
    /// Partly refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partially_refunded_at: Option<i64>,
    /// Refunded in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<i64>,
    /// A return was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_requested_at: Option<i64>,
    /// Returned goods arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned_at: Option<i64>,
    /// Its returns, in the order they were asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<ReturnRecord>,
    /// The refund a cancellation owes, until Stripe took it (`refund_owed`), then its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_refund: Option<String>,
    /// The refunds the merchant gave, in the order they were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merchant_refunds: Vec<crate::refunds::MerchantRefund>,
    /// What has shipped, in the order it left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipments: Vec<Shipment>,
    /// The tokens of links to the order (mailed links, a replayed checkout's answer): SHA-256
    /// of each, with the Unix second it stops opening the order (see `issue_link_token`).
    /// `None` on an order no link was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_tokens: Option<BTreeMap<String, i64>>,
}

/// What a checkout decided an order is: everything else about a new order follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Its id.
    pub order_id: String,
    /// SHA-256 of the token its shopper is given.
    pub token_hash: String,
    /// The customer.
    pub email: Email,
    /// What is bought, priced.
    pub lines: Vec<OrderLine>,
    /// Money.
    pub totals: Totals,
    /// Where it goes.
    pub shipping_address: Address,
    /// Where it is billed, when not the shipping address.
    pub billing_address: Option<Address>,
    /// The shipping rate's id.
    pub shipping_method: String,
    /// The discount it uses.
    pub discount: Option<OrderDiscount>,
    /// Whether the customer asked for marketing mail.
    pub marketing_opt_in: bool,
    /// The cart it comes from.
    pub cart_id: String,
}

impl Order {
    /// A new order placed at `now`: pending payment, its stock held for `hold_seconds`, with
    /// no payment, shipment, return or link yet.
    pub fn place(new: NewOrder, now: i64, hold_seconds: u32) -> Self {
        Self {
            order_id: new.order_id,
            token_hash: new.token_hash,
            status: OrderStatus::PendingPayment,
            email: new.email,
            lines: new.lines,
            totals: new.totals,
            shipping_address: new.shipping_address,
            billing_address: new.billing_address,
            shipping_method: new.shipping_method,
            discount: new.discount,
            marketing_opt_in: new.marketing_opt_in,
            cart_id: new.cart_id,
            created_at: now,
            expires_at: now + i64::from(hold_seconds),
            payment_intent_id: None,
            last_payment_error: None,
            review: None,
            reviews: Vec::new(),
            reviewed: Vec::new(),
            awaiting_review: false,
            late_payment: None,
            refund_state: None,
            cancel_reason: None,
            paid_at: None,
            fulfilling_at: None,
            shipped_at: None,
            delivered_at: None,
            cancelled_at: None,
            partially_refunded_at: None,
            refunded_at: None,
            return_requested_at: None,
            returned_at: None,
            returns: Vec::new(),
            cancel_refund: None,
            merchant_refunds: Vec::new(),
            shipments: Vec::new(),
            link_tokens: None,
        }
    }

    /// Each status the order reached, with when: creation first, then in time order.
    pub fn timeline(&self) -> Vec<(OrderStatus, i64)> {
        let mut steps: Vec<(OrderStatus, i64)> = [
            (OrderStatus::PendingPayment, Some(self.created_at)),
            (OrderStatus::Paid, self.paid_at),
            (OrderStatus::Fulfilling, self.fulfilling_at),
            (OrderStatus::Shipped, self.shipped_at),
            (OrderStatus::Delivered, self.delivered_at),
            (OrderStatus::Cancelled, self.cancelled_at),
            (OrderStatus::ReturnRequested, self.return_requested_at),
            (OrderStatus::Returned, self.returned_at),
            (OrderStatus::PartiallyRefunded, self.partially_refunded_at),
            (OrderStatus::Refunded, self.refunded_at),
        ]
        .into_iter()
        .filter_map(|(status, at)| Some((status, at?)))
        .collect();
        steps.sort_by_key(|(_, at)| *at);
        steps
    }

    /// The hashes of the tokens that open this order at `now`: the checkout's, and each link's
    /// that has not expired.
    pub fn token_hashes(&self, now: i64) -> impl Iterator<Item = &str> {
        let links = self
            .link_tokens
            .iter()
            .flatten()
            .filter(move |(_, expires_at)| **expires_at > now)
            .map(|(hash, _)| hash.as_str());
        std::iter::once(self.token_hash.as_str()).chain(links)
    }
}

/// The `refund_state` of an order whose charge of `amount` Stripe reports `refunded` of, in all.
pub fn refund_state(refunded: i64, amount: i64, currency: &str) -> String {
    format!("{refunded} of {amount} {currency} refunded")
}

impl Order {
    /// What Stripe last reported refunded of the order's charge, in all ([`refund_state`]).
    pub fn refunded_as_noted(&self) -> Option<i64> {
        self.refund_state.as_deref()?.split(' ').next()?.parse().ok()
    }
}

impl Order {
    /// The units the order owes the customer: its lines, and the replacements of exchanges that
    /// may ship.
    pub fn units_owed(&self) -> impl Iterator<Item = (&Sku, u32)> {
        let replacements = self
            .returns
            .iter()
            .filter_map(|r| r.exchange.as_ref())
            .filter(|exchange| exchange.ships())
            .flat_map(|exchange| &exchange.new_lines);
        self.lines
            .iter()
            .chain(replacements)
            .map(|line| (&line.sku, line.quantity))
    }

    /// The exchange `return_id` of the order, if it has one by that id.
    pub fn exchange(&self, return_id: &str) -> Option<&Exchange> {
        self.returns
            .iter()
            .find(|r| r.return_id == return_id)
            .and_then(|r| r.exchange.as_ref())
    }

    /// The line of a SKU on the order or one of its exchanges (its title and options).
    pub fn line_of(&self, sku: &Sku) -> Option<&OrderLine> {
        let replacements = self
            .returns
            .iter()
            .filter_map(|r| r.exchange.as_ref())
            .flat_map(|e| &e.new_lines);
        self.lines.iter().chain(replacements).find(|line| line.sku == *sku)
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
