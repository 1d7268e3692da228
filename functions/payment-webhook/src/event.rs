//! A Stripe event as the shop reads it: its id, its type and, for the types the shop handles, the
//! few fields of the object it carries (Stripe API version `shop_services::payments::STRIPE_VERSION`).
//! Every other field, and every other type's object, is left unread.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// One event.
#[derive(Debug)]
pub(crate) struct Event {
    pub id: String,
    pub kind: String,
    pub object: EventObject,
}

/// The object of an event of a type the shop handles.
#[derive(Debug)]
pub(crate) enum EventObject {
    PaymentIntentSucceeded(PaymentIntent),
    PaymentIntentPaymentFailed(PaymentIntent),
    PaymentIntentCanceled(PaymentIntent),
    ChargeRefunded(Charge),
    ChargeDispute(Dispute),
    /// A type the shop acknowledges and does nothing with.
    Other,
}

/// What the shop reads of a PaymentIntent.
#[derive(Debug, Deserialize)]
pub(crate) struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentFailure>,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
}

/// Why the last attempt to pay failed.
#[derive(Debug, Deserialize)]
pub(crate) struct PaymentFailure {
    #[serde(default)]
    pub message: Option<String>,
}

/// What the shop reads of a charge.
#[derive(Debug, Deserialize)]
pub(crate) struct Charge {
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
}

/// What the shop reads of a dispute.
#[derive(Debug, Deserialize)]
pub(crate) struct Dispute {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    #[serde(default)]
    pub evidence_details: Option<EvidenceDetails>,
    pub status: String,
    pub reason: String,
}

/// By when the merchant must answer a dispute.
#[derive(Debug, Deserialize)]
pub(crate) struct EvidenceDetails {
    #[serde(default)]
    pub due_by: Option<i64>,
}

/// A reference Stripe gives as an id, or as the object when the request expanded it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

impl Event {
    /// The event `payload` is, or why it is not one the shop can read.
    pub fn parse(payload: &str) -> Result<Self, String> {
        let envelope: Envelope = serde_json::from_str(payload).map_err(|e| format!("not an event: {e}"))?;
        let object = envelope.data.object;
        fn read<T: DeserializeOwned>(kind: &str, object: serde_json::Value) -> Result<T, String> {
            serde_json::from_value(object).map_err(|e| format!("the object of a {kind} event: {e}"))
        }
        let kind = envelope.kind.as_str();
        let object = match kind {
            "payment_intent.succeeded" => EventObject::PaymentIntentSucceeded(read(kind, object)?),
            "payment_intent.payment_failed" => EventObject::PaymentIntentPaymentFailed(read(kind, object)?),
            "payment_intent.canceled" => EventObject::PaymentIntentCanceled(read(kind, object)?),
            "charge.refunded" => EventObject::ChargeRefunded(read(kind, object)?),
            "charge.dispute.created" | "charge.dispute.closed" => EventObject::ChargeDispute(read(kind, object)?),
            _ => EventObject::Other,
        };
        Ok(Self {
            id: envelope.id,
            kind: envelope.kind,
            object,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The body of a sample delivery (events/payment-webhook).
    pub(crate) fn sample(name: &str) -> String {
        let path = format!("{}/../../events/payment-webhook/{name}", env!("CARGO_MANIFEST_DIR"));
        let delivery: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        delivery["body"].as_str().unwrap().to_owned()
    }

    #[test]
    fn every_sample_event_reads_as_its_type() {
        let dir = format!("{}/../../events/payment-webhook", env!("CARGO_MANIFEST_DIR"));
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".json") {
                continue;
            }
            let event = Event::parse(&sample(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let handled = !matches!(event.object, EventObject::Other);
            assert!(handled, "{name} is a {} event the shop does not read", event.kind);
            read += 1;
        }
        assert!(read > 0, "no samples read");
    }

    #[test]
    fn a_succeeded_intent_gives_its_order_amount_and_currency() {
        let event = Event::parse(&sample("payment-intent-succeeded.json")).unwrap();
        assert_eq!(event.id, "evt_1QxSampleEvent0001");
        let EventObject::PaymentIntentSucceeded(intent) = event.object else {
            panic!("{:?}", event.object)
        };
        assert!(intent.id.starts_with("pi_"));
        assert!(intent.metadata.contains_key("order_id"));
        assert!(intent.amount > 0);
    }

    #[test]
    fn a_charge_names_its_intent_as_an_id_or_an_expanded_object() {
        for reference in [r#""pi_1""#, r#"{"id": "pi_1", "object": "payment_intent"}"#] {
            let payload = format!(
                r#"{{"id": "evt_1", "type": "charge.refunded", "data": {{"object":
                {{"amount": 500, "amount_refunded": 200, "currency": "eur", "payment_intent": {reference}}}}}}}"#
            );
            let EventObject::ChargeRefunded(charge) = Event::parse(&payload).unwrap().object else {
                panic!("not a refund")
            };
            assert_eq!(charge.payment_intent.as_ref().map(Expandable::id), Some("pi_1"));
        }
    }

    #[test]
    fn a_handled_type_with_an_unreadable_object_is_refused_and_another_type_is_not_read() {
        let broken = r#"{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": 7}}}"#;
        assert!(Event::parse(broken).unwrap_err().contains("payment_intent.succeeded"));
        let other = r#"{"id": "evt_2", "type": "customer.created", "data": {"object": {"id": 7}}}"#;
        assert!(matches!(Event::parse(other).unwrap().object, EventObject::Other));
        assert!(Event::parse(r#"{"id": "evt_3", "type": "x"}"#).is_err());
    }
}
