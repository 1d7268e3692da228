//! Transactional mail as a queue of requests: any step asks for a mail about an order by
//! sending a [`MailRequest`] to the email queue; the email-sender renders and sends it.
//!
//! Each mail is sent once per (order, kind, reference): before it calls SES the sender claims
//! `MAIL#<order> / <kind>#<reference>` with a conditional write, and marks it sent after. A
//! duplicate request finds it sent (or being sent, and retries later); a failed send gives the
//! claim back so the retry sends it. Only a crash between SES accepting the mail and the mark can
//! send it twice, after the claim's lease ends.

use crate::batch::Trace;
use crate::config::ConfigError;
use crate::dynamo::{self, Item, PK, StoreError, key, n, s};
use crate::messages::MailRequest;
use crate::queue::{Queue, QueueError};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

/// Seconds a claim holds before another delivery may take it over (a sender that crashed).
pub const CLAIM_LEASE: i64 = 300;
/// Seconds the record of a sent mail is kept.
pub const SENT_TTL: i64 = 400 * 24 * 3600;

impl MailRequest {
    fn record_key(&self) -> Item {
        let about = if self.kind.is_support() {
            format!("SUPPORT#{}", self.about_id())
        } else if let Some(customer) = &self.customer {
            format!("CUSTOMER#{customer}")
        } else {
            self.order_id.clone()
        };
        key(
            format!("MAIL#{about}"),
            format!("{}#{}", self.kind.as_str(), self.reference.as_deref().unwrap_or("-")),
        )
    }
}

#[derive(Deserialize)]
struct MailerSettings {
    email_queue_url: String,
}

/// Asks for mails: the email queue, from any step.
#[derive(Debug, Clone)]
pub struct Mailer {
    queue: Queue,
}

impl Mailer {
    /// The mailer for `EMAIL_QUEUE_URL`.
    pub fn from_env(env: &crate::config::Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let settings: MailerSettings = env.parse()?;
        Ok(Self::new(Queue::new(
            aws_sdk_sqs::Client::new(sdk),
            settings.email_queue_url,
        )))
    }

    /// The mailer sending to `queue`.
    pub fn new(queue: Queue) -> Self {
        Self { queue }
    }

    /// Asks for every mail in `requests` (one SQS request for up to ten), carrying `trace`.
    /// Asking for a mail twice is harmless.
    pub async fn request(&self, requests: &[MailRequest], trace: &Trace) -> Result<(), QueueError> {
        if requests.is_empty() {
            return Ok(());
        }
        self.queue.send_all(requests, trace).await
    }
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
            .set_key(Some(request.record_key()))
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
        let item = dynamo::get_item(&self.client, &self.table, request.record_key()).await?;
        let sent = item.as_ref().and_then(|i| dynamo::get_s(i, "state")) == Some("sent");
        Ok(if sent { Claim::AlreadySent } else { Claim::Busy })
    }

    /// Records that SES accepted the mail as `message_id`.
    pub async fn sent(&self, request: &MailRequest, message_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(request.record_key()))
            .update_expression("SET #state = :sent, message_id = :id")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so the retry can send the mail.
    pub async fn release(&self, request: &MailRequest) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(request.record_key()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MailKind;

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
        let first = MailRequest::about(MailKind::Shipped, "o1", "s1").record_key();
        let second = MailRequest::about(MailKind::Shipped, "o1", "s2").record_key();
        assert_ne!(first, second);
        assert_eq!(
            dynamo::get_s(&MailRequest::once(MailKind::OrderConfirmation, "o1").record_key(), "sk"),
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
        assert_eq!(plain.record_key(), with_order.record_key());
        assert_eq!(dynamo::get_s(&plain.record_key(), "pk"), Some("MAIL#SUPPORT#SUP-1"));
    }
}
