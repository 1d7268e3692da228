//! Which transactional mails went out: each mail is sent once per (order, kind, reference).
//! Before it calls SES the sender claims `MAIL#<order> / <kind>#<reference>` with a conditional
//! write, and marks it sent after. A duplicate request finds it sent (or being sent, and retries
//! later); a failed send gives the claim back so the retry sends it. Only a crash between SES
//! accepting the mail and the mark can send it twice, after the claim's lease ends.

use crate::dynamo::{self, Item, PK, StoreError, key, n, s};
use aws_sdk_dynamodb::Client;
use shop_platform::messages::MailRequest;

/// Seconds a claim holds before another delivery may take it over (a sender that crashed).
pub const CLAIM_LEASE: i64 = 300;
/// Seconds the record of a sent mail is kept.
pub const SENT_TTL: i64 = 400 * 24 * 3600;

fn record_key(request: &MailRequest) -> Item {
    let about = if request.kind.is_support() {
        format!("SUPPORT#{}", request.about_id())
    } else if let Some(customer) = &request.customer {
        format!("CUSTOMER#{customer}")
    } else {
        request.order_id.clone()
    };
    key(
        format!("MAIL#{about}"),
        format!(
            "{}#{}",
            request.kind.as_str(),
            request.reference.as_deref().unwrap_or("-")
        ),
    )
}

/// What a claim on a mail found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This delivery sends the mail.
    Granted,
    /// The mail went out before.
    AlreadySent,
    /// Another delivery is sending it now; ask again later.
    Busy,
}

/// A transactional mail about an order, as the log has it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentMail {
    /// Which mail (`shipped`, `refunded`, ...).
    pub kind: String,
    /// What made it one of several of its kind (the shipment, the refunded total), if anything.
    pub reference: Option<String>,
    /// `sent`, or `sending` while a delivery holds its claim.
    pub state: String,
    /// Unix seconds: when the sender took it up.
    pub at: i64,
}

/// The most mails [`MailLog::sent_about`] reads of one order.
pub const MAILS_PER_ORDER: i32 = 100;

/// The record of which mails went out.
#[derive(Debug, Clone)]
pub struct MailLog {
    client: Client,
    table: String,
}

impl MailLog {
    /// The log in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Claims the mail for this delivery (see the module notes).
    pub async fn claim(&self, request: &MailRequest, now: i64) -> Result<Claim, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record_key(request)))
            .update_expression("SET #state = :sending, claimed_at = :now, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#pk) OR (#state = :sending AND claimed_at < :stale)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - CLAIM_LEASE))
            .expression_attribute_values(":ttl", n(now + SENT_TTL))
            .send()
            .await;
        if dynamo::conditional(result)? {
            return Ok(Claim::Granted);
        }
        let item = dynamo::get_item(&self.client, &self.table, record_key(request)).await?;
        let sent = item.as_ref().and_then(|i| dynamo::get_s(i, "state")) == Some("sent");
        Ok(if sent { Claim::AlreadySent } else { Claim::Busy })
    }

    /// Records that SES accepted the mail as `message_id`.
    pub async fn sent(&self, request: &MailRequest, message_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record_key(request)))
            .update_expression("SET #state = :sent, message_id = :id")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await?;
        Ok(())
    }

    /// The mails about the order `order_id` (up to [`MAILS_PER_ORDER`]), in the order the
    /// sender took them up: one Query on the order's `MAIL#<order_id>` partition.
    pub async fn sent_about(&self, order_id: &str) -> Result<Vec<SentMail>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :mail")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":mail", s(format!("MAIL#{order_id}")))
            .limit(MAILS_PER_ORDER)
            .send()
            .await?;
        let mut mails: Vec<SentMail> = output.items.unwrap_or_default().iter().filter_map(sent_mail).collect();
        mails.sort_by_key(|mail| mail.at);
        Ok(mails)
    }

    /// Gives a claim back after a failed send, so the retry can send the mail.
    pub async fn release(&self, request: &MailRequest) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(record_key(request)))
            .condition_expression("#state = :sending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        // Not `sending`: already sent by another delivery, nothing to give back.
        dynamo::conditional(result)?;
        Ok(())
    }
}

/// A log item read as the mail it records; `None` for an item without a `kind#reference` key.
fn sent_mail(item: &Item) -> Option<SentMail> {
    let (kind, reference) = dynamo::get_s(item, crate::dynamo::SK)?.split_once('#')?;
    Some(SentMail {
        kind: kind.to_owned(),
        reference: (reference != "-").then(|| reference.to_owned()),
        state: dynamo::get_s(item, "state").unwrap_or("sending").to_owned(),
        at: item
            .get("claimed_at")
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_platform::messages::MailKind;

    #[test]
    fn a_log_item_reads_as_its_kind_reference_state_and_moment() {
        let mut item = record_key(&MailRequest::about(MailKind::Shipped, "o1", "s1"));
        item.insert("state".into(), s("sent"));
        item.insert("claimed_at".into(), n(1_700_000_000));
        let mail = sent_mail(&item).unwrap();
        assert_eq!(
            mail,
            SentMail {
                kind: "shipped".into(),
                reference: Some("s1".into()),
                state: "sent".into(),
                at: 1_700_000_000
            }
        );
        let once = sent_mail(&record_key(&MailRequest::once(MailKind::Delivered, "o1"))).unwrap();
        assert_eq!(
            (once.kind.as_str(), once.reference, once.state.as_str()),
            ("delivered", None, "sending")
        );
    }

    #[test]
    fn requests_read_as_the_queue_carries_them() {
        let request: MailRequest =
            serde_json::from_str(r#"{"kind":"shipped","order_id":"o1","reference":"s1"}"#).unwrap();
        assert_eq!(request, MailRequest::about(MailKind::Shipped, "o1", "s1"));
        let once = serde_json::to_value(MailRequest::once(MailKind::NewOrder, "o1")).unwrap();
        assert_eq!(once, serde_json::json!({"kind": "new_order", "order_id": "o1"}));
        assert!(serde_json::from_str::<MailRequest>(r#"{"kind":"spam","order_id":"o1"}"#).is_err());
    }

    #[test]
    fn each_shipment_has_its_own_mail_record_and_a_once_mail_one() {
        let first = record_key(&MailRequest::about(MailKind::Shipped, "o1", "s1"));
        let second = record_key(&MailRequest::about(MailKind::Shipped, "o1", "s2"));
        assert_ne!(first, second);
        assert_eq!(
            dynamo::get_s(&record_key(&MailRequest::once(MailKind::OrderConfirmation, "o1")), "sk"),
            Some("order_confirmation#-")
        );
    }

    #[test]
    fn a_support_mail_is_recorded_under_its_message_whether_or_not_it_names_an_order() {
        let plain = MailRequest::support(MailKind::SupportReceived, "SUP-1", None);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!({"kind": "support_received", "reference": "SUP-1"})
        );
        let with_order = MailRequest::support(MailKind::SupportReceived, "SUP-1", Some("o1"));
        assert_eq!(record_key(&plain), record_key(&with_order));
        assert_eq!(dynamo::get_s(&record_key(&plain), "pk"), Some("MAIL#SUPPORT#SUP-1"));
    }
}
