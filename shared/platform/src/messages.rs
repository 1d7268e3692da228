//! The messages the functions send each other over SQS, each defined once for its producers and
//! its consumer: what goes on the fulfillment queue ([`OrderPaid`]), the reservation queue
//! ([`ExpireReservation`]), the email queue ([`MailRequest`]) and the campaign queue
//! ([`CampaignMessage`]). A consumer names the type it reads (`process_batch::<OrderPaid>`); a
//! body that is not one is a logged failure of that message alone.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shop_domain::order::Email;

/// A message a queue carries, read from its body.
pub trait Message: Sized {
    /// What the message is called in logs.
    const NAME: &'static str;

    /// The message in `body`, or why it is not one.
    fn parse(body: &str) -> Result<Self, String>;
}

/// The message of a JSON body.
pub fn from_json<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|error| error.to_string())
}

/// The message that tells fulfillment an order is paid (`{"order_id": .., "event": "order_paid"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPaid {
    /// The paid order.
    pub order_id: String,
    /// Always [`PaidEvent::OrderPaid`]: a body of another kind is not this message.
    pub event: PaidEvent,
}

/// The kind an [`OrderPaid`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidEvent {
    /// The order's payment succeeded.
    OrderPaid,
}

impl OrderPaid {
    /// The message for `order_id`.
    pub fn new(order_id: impl Into<String>) -> Self {
        Self {
            order_id: order_id.into(),
            event: PaidEvent::OrderPaid,
        }
    }
}

impl Message for OrderPaid {
    const NAME: &'static str = "order_paid";

    fn parse(body: &str) -> Result<Self, String> {
        from_json(body)
    }
}

/// The message that ends an unpaid order's (or exchange's) stock hold, sent delayed by the hold's
/// length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireReservation {
    /// The order.
    pub order_id: String,
    /// Set when the hold is an exchange's replacement waiting for its difference to be paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_id: Option<String>,
}

impl Message for ExpireReservation {
    const NAME: &'static str = "reservation expiry";

    fn parse(body: &str) -> Result<Self, String> {
        from_json(body)
    }
}

/// What a mail is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// To the customer: the order is paid and will be packed.
    OrderConfirmation,
    /// To the merchant: a paid order to pack.
    NewOrder,
    /// To the customer: a shipment left, with its tracking link.
    Shipped,
    /// To the customer: the order arrived.
    Delivered,
    /// To the customer: a payment attempt failed; how to try again.
    PaymentFailed,
    /// To the customer: the order was cancelled.
    Cancelled,
    /// To the customer: money went back.
    Refunded,
    /// To the merchant: an order needs a look (a payment that does not match its total).
    OrderReview,
    /// To the customer who asked: links to their recent orders (the request names the customer,
    /// the sender finds the orders).
    OrderLookup,
    /// To the customer: how to send a return back (the reference is the return).
    ReturnInstructions,
    /// To the merchant: a customer wrote to support (the reference is the message), replies go
    /// to the customer.
    SupportMessage,
    /// To the customer: their message reached support, with its reference.
    SupportReceived,
    /// To the customer: the merchant's reply to their message (the reference is the reply's id,
    /// `shop_store::support::reply_id`).
    SupportReply,
}

impl MailKind {
    /// Every kind, for tests and the template check.
    pub const ALL: [MailKind; 13] = [
        Self::OrderConfirmation,
        Self::NewOrder,
        Self::Shipped,
        Self::Delivered,
        Self::PaymentFailed,
        Self::Cancelled,
        Self::Refunded,
        Self::OrderReview,
        Self::OrderLookup,
        Self::ReturnInstructions,
        Self::SupportMessage,
        Self::SupportReceived,
        Self::SupportReply,
    ];

    /// The word used in messages, records and template names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "order_confirmation",
            Self::NewOrder => "new_order",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::PaymentFailed => "payment_failed",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::OrderReview => "order_review",
            Self::OrderLookup => "order_lookup",
            Self::ReturnInstructions => "return_instructions",
            Self::SupportMessage => "support_message",
            Self::SupportReceived => "support_received",
            Self::SupportReply => "support_reply",
        }
    }

    /// Whether the mail goes to the merchant rather than the customer.
    pub fn to_merchant(self) -> bool {
        matches!(self, Self::NewOrder | Self::OrderReview | Self::SupportMessage)
    }

    /// Whether the mail is about a support message (its reference) rather than an order.
    pub fn is_support(self) -> bool {
        matches!(self, Self::SupportMessage | Self::SupportReceived | Self::SupportReply)
    }
}

/// A request for one mail about one order, or about one support message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailRequest {
    /// Which mail.
    pub kind: MailKind,
    /// The order it is about; for a support mail, the order the message verifiably names, or
    /// empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub order_id: String,
    /// What makes it one of several of its kind: the shipment of a `shipped` mail, the Stripe
    /// event of a payment or refund mail, the support message. Absent for mails an order gets
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// For an order lookup: the customer who asked (`shop_store::orders::customer_ref`,
    /// a hash of the address, so the queue carries no address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl MailRequest {
    /// The mail of `kind` an order gets once.
    pub fn once(kind: MailKind, order_id: impl Into<String>) -> Self {
        Self {
            kind,
            order_id: order_id.into(),
            reference: None,
            customer: None,
        }
    }

    /// The mail of `kind` about `reference` (a shipment, a payment event).
    pub fn about(kind: MailKind, order_id: impl Into<String>, reference: impl Into<String>) -> Self {
        Self {
            kind,
            order_id: order_id.into(),
            reference: Some(reference.into()),
            customer: None,
        }
    }

    /// The mail of `kind` about the support message `reference`, naming its verified order.
    pub fn support(kind: MailKind, reference: impl Into<String>, order_id: Option<&str>) -> Self {
        Self {
            kind,
            order_id: order_id.unwrap_or_default().to_owned(),
            reference: Some(reference.into()),
            customer: None,
        }
    }

    /// The order lookup mail of the customer `customer` (their reference), once per `window`.
    pub fn lookup(customer: impl Into<String>, window: i64) -> Self {
        Self {
            kind: MailKind::OrderLookup,
            order_id: String::new(),
            reference: Some(format!("lookup-{window}")),
            customer: Some(customer.into()),
        }
    }

    /// What the mail is about: the support message's reference, the customer who asked for
    /// their orders, or the order's id.
    pub fn about_id(&self) -> &str {
        match (self.kind.is_support(), &self.reference, &self.customer) {
            (true, Some(reference), _) => reference,
            (_, _, Some(customer)) => customer,
            _ => &self.order_id,
        }
    }
}

impl Message for MailRequest {
    const NAME: &'static str = "mail request";

    fn parse(body: &str) -> Result<Self, String> {
        from_json(body)
    }
}

/// A message on the campaign queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CampaignMessage {
    /// Someone signed up (the form, or checkout's opt-in): mail a confirmation link.
    SignUp {
        /// The address.
        email: Email,
        /// Where they signed up.
        source: String,
    },
    /// Page `page` of a campaign's audience: enqueue its batches and the next page.
    FanOut {
        /// The campaign.
        campaign_id: String,
        /// The page, from 0.
        page: u32,
    },
    /// Send a campaign to these recipients (at most [`shop_domain::marketing::BATCH_SIZE`]) in one call.
    Deliver {
        /// The campaign.
        campaign_id: String,
        /// Which attempt this is for each of them, from 1.
        attempt: u32,
        /// The addresses.
        recipients: Vec<String>,
    },
}

impl Message for CampaignMessage {
    const NAME: &'static str = "campaign message";

    fn parse(body: &str) -> Result<Self, String> {
        from_json(body)
    }
}
