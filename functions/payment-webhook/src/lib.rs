//! `payment-webhook`: Stripe's signed events move orders. The signature is checked over the raw
//! body against every configured secret (two while the merchant rotates), any matching `v1`
//! accepted, 300 s tolerance. Each event's effect is recorded with the order's transition in one
//! transaction, so a duplicate changes nothing; a paid order's `order_paid` message goes to the
//! fulfillment queue, and when that send fails the answer is 500 so Stripe retries and the retry
//! sends it. The mails an event owes (payment failed, cancelled, refunded, the merchant's review
//! alert) are asked for the same way. The state machine is the domain's (`OrderStatus::on`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shop_domain::order::{OrderEvent, OrderStatus, Transition};
use shop_domain::{Currency, Money};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::edge::{self, json};
use shop_platform::mail::Mailer;
use shop_platform::messages::{MailKind, MailRequest, OrderPaid};
use shop_platform::order_store::{OrderRecord, OrderStore};
use shop_platform::payment_events::{Applied, EventRecord};
use shop_platform::payments::{EXCHANGE_METADATA, PaymentGateway};
use shop_platform::queue::Queue;
use shop_platform::{ApiError, HttpFunction};
use std::sync::Arc;
use stripe_webhook::{EventObject, Webhook, WebhookError};

/// Stripe's events are small; anything larger is not one.
const EVENT_BODY_LIMIT: usize = 512 * 1024;
/// Times a transition is retried when the order moved between reading and writing it.
const RACE_RETRIES: usize = 3;
/// How long a concurrent duplicate waits for the delivery that sends the event's messages, and
/// how often it looks.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const SETTLE_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The webhook with its clients and secrets, built once per instance.
pub struct PaymentWebhook {
    orders: OrderStore,
    payments: PaymentGateway,
    fulfillment: Queue,
    mailer: Mailer,
    secrets: Vec<SecretString>,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct QueueSettings {
    fulfillment_queue_url: String,
}

/// One verified delivery of an event.
struct Delivery {
    event_id: String,
    kind: String,
    request_id: String,
}

impl Delivery {
    fn trace(&self, order_id: &str) -> Trace {
        Trace::new(order_id, &self.request_id)
    }

    /// The record of this event about `order_id`, owing the fulfillment message when `fulfill`
    /// and `mails`.
    fn record(&self, order_id: &str, fulfill: bool, mails: Vec<MailRequest>) -> EventRecord {
        EventRecord {
            event_type: self.kind.clone(),
            order_id: order_id.to_owned(),
            enqueued: !fulfill && mails.is_empty(),
            fulfill,
            mails,
        }
    }
}

/// A PaymentIntent as an event carries it: what the shop reads of it.
struct IntentFacts {
    id: String,
    order_id: Option<String>,
    /// Set on the PaymentIntent of an exchange's difference.
    exchange_id: Option<String>,
    amount: i64,
    currency: String,
    failure: Option<String>,
}

impl IntentFacts {
    fn of(intent: &stripe_shared::PaymentIntent) -> Self {
        Self {
            id: intent.id.to_string(),
            order_id: intent.metadata.get("order_id").cloned(),
            exchange_id: intent.metadata.get(EXCHANGE_METADATA).cloned(),
            amount: intent.amount,
            currency: intent.currency.to_string(),
            failure: intent
                .last_payment_error
                .as_ref()
                .map(|e| e.message.clone().unwrap_or_else(|| "payment failed".into())),
        }
    }
}

fn bad_signature(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_signature", detail)
}

impl PaymentWebhook {
    /// Reads settings (secrets from SSM when deployed) and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let queues: QueueSettings = env.parse()?;
        let raw =
            shop_platform::aws::secret_setting(env, sdk, "STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_PARAMETER")
                .await?;
        let secrets: Vec<SecretString> = raw
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .collect();
        if secrets.is_empty() || secrets.len() > 2 {
            return Err(ConfigError::new(
                "the webhook secret holds one or two (while rotating) comma-separated secrets",
            ));
        }
        Ok(Self {
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            payments: PaymentGateway::from_env(env, sdk).await?,
            fulfillment: Queue::new(aws_sdk_sqs::Client::new(sdk), queues.fulfillment_queue_url),
            mailer: Mailer::from_env(env, sdk)?,
            secrets,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same webhook sending to another fulfillment queue (fault-injection tests).
    pub fn with_fulfillment_queue(mut self, queue: Queue) -> Self {
        self.fulfillment = queue;
        self
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("POST /webhooks/stripe") => self.receive(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    async fn receive(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: &[u8] = request.body().as_ref();
        if body.len() > EVENT_BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge {
                limit: EVENT_BODY_LIMIT,
            });
        }
        let payload = std::str::from_utf8(body).map_err(|_| bad_signature("the body is not UTF-8"))?;
        let signature = request
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad_signature("the Stripe-Signature header is missing"))?;
        let event = self.verify(payload, signature)?;
        let delivery = Delivery {
            event_id: event.id.to_string(),
            kind: event.type_.as_str().to_owned(),
            request_id: edge::request_id(request),
        };
        tracing::info!(event_id = %delivery.event_id, event_type = %delivery.kind, "event verified");
        match &event.data.object {
            EventObject::PaymentIntentSucceeded(intent) => {
                let intent = IntentFacts::of(intent);
                match intent.exchange_id.clone() {
                    Some(exchange_id) => self.exchange_paid(&intent, &exchange_id).await?,
                    None => self.succeeded(&delivery, intent).await?,
                }
            }
            EventObject::PaymentIntentPaymentFailed(intent) => self.failed(&delivery, IntentFacts::of(intent)).await?,
            EventObject::PaymentIntentCanceled(intent) => self.canceled(&delivery, IntentFacts::of(intent)).await?,
            EventObject::ChargeRefunded(charge) => self.refunded(&delivery, charge).await?,
            EventObject::ChargeDisputeCreated(dispute) | EventObject::ChargeDisputeClosed(dispute) => {
                self.disputed(&delivery, dispute).await?
            }
            _ => {
                tracing::info!(event_id = %delivery.event_id, event_type = %delivery.kind, "event type not handled; acknowledged")
            }
        }
        json(StatusCode::OK, &serde_json::json!({"received": true}))
    }

    /// The event, if one of the configured secrets signed it within the tolerance.
    fn verify(&self, payload: &str, signature: &str) -> Result<stripe_webhook::Event, ApiError> {
        let mut last = WebhookError::BadSignature;
        for secret in &self.secrets {
            match Webhook::construct_event_with_timestamp(payload, signature, secret.expose_secret(), self.clock.now())
            {
                Ok(event) => return Ok(event),
                Err(error @ WebhookError::BadParse(_)) => {
                    return Err(ApiError::bad_request("invalid_event", error.to_string()));
                }
                Err(error) => last = error,
            }
        }
        Err(match last {
            WebhookError::BadTimestamp(t) => ApiError::bad_request(
                "stale_signature",
                format!("the signature's timestamp {t} is outside 300 s"),
            ),
            other => bad_signature(format!("no configured secret signed this event ({other})")),
        })
    }

    /// The order an intent pays, if it is one of the shop's (an exchange's difference pays the
    /// exchange, not the order).
    async fn order_of(&self, intent: &IntentFacts) -> Result<Option<OrderRecord>, ApiError> {
        let Some(order_id) = &intent.order_id else {
            tracing::info!(payment_intent = %intent.id, "intent without an order id; not the shop's");
            return Ok(None);
        };
        if let Some(exchange_id) = &intent.exchange_id {
            tracing::info!(order_id, exchange_id, payment_intent = %intent.id, "an exchange's payment; the order is not touched");
            return Ok(None);
        }
        let Some(order) = self.orders.get(order_id).await? else {
            tracing::warn!(order_id, payment_intent = %intent.id, "event for an unknown order");
            return Ok(None);
        };
        // The metadata is the payer's word; the order's own record of its intent decides.
        if order.payment_intent_id.as_deref() != Some(intent.id.as_str()) {
            tracing::warn!(order_id, payment_intent = %intent.id, "event for an intent the order did not create; ignored");
            return Ok(None);
        }
        Ok(Some(order))
    }

    /// The difference of an exchange was paid: its replacement may ship. Marking it twice
    /// changes nothing, so a redelivered event needs no record of its own.
    async fn exchange_paid(&self, intent: &IntentFacts, exchange_id: &str) -> Result<(), ApiError> {
        let Some(order) = self.order_of_exchange(intent).await? else {
            return Ok(());
        };
        let order_id = order.order_id.as_str();
        let Some(exchange) = order.exchange(exchange_id) else {
            tracing::warn!(order_id, exchange_id, "payment for an exchange the order does not have");
            return Ok(());
        };
        if exchange.payment_intent_id.as_deref() != Some(intent.id.as_str()) {
            tracing::warn!(order_id, exchange_id, payment_intent = %intent.id, "payment by an intent the exchange did not create; ignored");
            return Ok(());
        }
        let owed = exchange.balance;
        if intent.amount != owed.amount || intent.currency != owed.currency.as_str() {
            tracing::error!(
                order_id,
                exchange_id,
                paid = intent.amount,
                owed = owed.amount,
                "exchange payment does not match the difference; not marked paid"
            );
            return Ok(());
        }
        if self.orders.exchange_paid(&order, exchange_id, &intent.id).await? {
            tracing::info!(order_id, exchange_id, "exchange paid; its replacement may ship");
        } else {
            tracing::info!(order_id, exchange_id, "exchange payment seen before");
        }
        Ok(())
    }

    async fn order_of_exchange(&self, intent: &IntentFacts) -> Result<Option<OrderRecord>, ApiError> {
        let Some(order_id) = &intent.order_id else {
            return Ok(None);
        };
        Ok(self.orders.get(order_id).await?)
    }

    async fn succeeded(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
        let event_id = delivery.event_id.as_str();
        // A delivery seen before: only the messages it may still owe remain.
        if let Some(seen) = self.orders.event(event_id).await? {
            return self.settle(delivery, &seen).await;
        }
        for _ in 0..RACE_RETRIES {
            let Some(order) = self.order_of(&intent).await? else {
                return Ok(());
            };
            let now = self.clock.now();
            let total = order.totals.total;
            if intent.amount != total.amount || intent.currency != total.currency.as_str() {
                let note = format!(
                    "amount_mismatch: paid {} {} for a total of {} {}",
                    intent.amount, intent.currency, total.amount, total.currency
                );
                tracing::error!(order_id = %order.order_id, note, "amount mismatch: order flagged for review, not paid");
                let alert = MailRequest::once(MailKind::OrderReview, &order.order_id);
                let record = delivery.record(&order.order_id, false, vec![alert]);
                let applied = self
                    .orders
                    .record_event(event_id, &record, Some(("review", &note)), now)
                    .await?;
                return self.settle_applied(delivery, &record, applied).await;
            }
            let record = delivery.record(&order.order_id, true, Vec::new());
            let applied = match order.status.on(OrderEvent::PaymentSucceeded) {
                Transition::To(to) => {
                    self.orders
                        .apply_event(event_id, &record, order.status, to, None, now)
                        .await?
                }
                Transition::LatePayment => {
                    match self.orders.apply_late_payment(event_id, &record, &order, now).await? {
                        Applied::StatusChanged if order.status == OrderStatus::Cancelled => {
                            return self.refund_late(delivery, &order, &intent).await;
                        }
                        applied => applied,
                    }
                }
                Transition::Ignore => {
                    tracing::info!(order_id = %order.order_id, status = order.status.as_str(), "payment for an order past payment; ignored");
                    let record = delivery.record(&order.order_id, false, Vec::new());
                    self.orders.record_event(event_id, &record, None, now).await?;
                    return Ok(());
                }
            };
            if applied != Applied::StatusChanged {
                return self.settle_applied(delivery, &record, applied).await;
            }
        }
        Err(ApiError::Conflict {
            code: "order_busy",
            detail: "the order kept changing; Stripe will deliver the event again".into(),
        })
    }

    /// After an event's record was written: sends what it owes, or for a duplicate what the
    /// first delivery could not.
    async fn settle_applied(
        &self,
        delivery: &Delivery,
        record: &EventRecord,
        applied: Applied,
    ) -> Result<(), ApiError> {
        match applied {
            Applied::Duplicate(seen) => self.settle(delivery, &seen).await,
            _ => self.settle(delivery, record).await,
        }
    }

    /// Sends the messages an applied event owes (the fulfillment message, mails) unless they
    /// went out before, then notes that they did. When a send fails the answer is 500: Stripe
    /// delivers the event again and the duplicate sends them.
    async fn settle(&self, delivery: &Delivery, record: &EventRecord) -> Result<(), ApiError> {
        let order_id = record.order_id.as_str();
        if record.enqueued {
            tracing::info!(event_id = %delivery.event_id, order_id, "nothing more owed for this event");
            return Ok(());
        }
        if !self.orders.claim_settling(&delivery.event_id, self.clock.now()).await? {
            return self.await_settled(delivery, order_id).await;
        }
        let sent = self.send_owed(delivery, record).await;
        if sent.is_err() {
            // The next delivery need not wait out the lease.
            if let Err(error) = self.orders.release_settling(&delivery.event_id).await {
                tracing::warn!(order_id, error = %error, "could not release the claim on the event's messages");
            }
        }
        sent
    }

    /// Another delivery of the event is sending its messages: waits a little for it to finish,
    /// so that a concurrent duplicate is answered 200 only once they went out, and 409 (Stripe
    /// delivers again) when they did not go out in time.
    async fn await_settled(&self, delivery: &Delivery, order_id: &str) -> Result<(), ApiError> {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let record = self.orders.event(&delivery.event_id).await?;
            if record.is_some_and(|r| r.enqueued) {
                tracing::info!(event_id = %delivery.event_id, order_id, "another delivery sent what this event owed");
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Conflict {
                    code: "event_in_progress",
                    detail: "another delivery of this event is being handled; deliver it again later".into(),
                });
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// Sends what `record` owes and notes that it did.
    async fn send_owed(&self, delivery: &Delivery, record: &EventRecord) -> Result<(), ApiError> {
        let order_id = record.order_id.as_str();
        let trace = delivery.trace(order_id);
        if record.fulfill {
            let message = OrderPaid::new(order_id);
            if let Err(error) = self.fulfillment.send(&message, 0, &trace).await {
                tracing::error!(order_id, error = %error, "order paid but not yet sent to fulfillment; Stripe's retry will send it");
                return Err(error.into());
            }
            tracing::info!(order_id, "order paid; sent to fulfillment");
        }
        if let Err(error) = self.mailer.request(&record.mails, &trace).await {
            tracing::error!(order_id, error = %error, "mails not yet asked for; Stripe's retry will ask");
            return Err(error.into());
        }
        self.orders.mark_enqueued(&delivery.event_id).await?;
        Ok(())
    }

    /// A payment for an order whose stock went to others: refund it in full, once.
    async fn refund_late(
        &self,
        delivery: &Delivery,
        order: &OrderRecord,
        intent: &IntentFacts,
    ) -> Result<(), ApiError> {
        let refund = self
            .payments
            .refund(&intent.id, None, &format!("order-{}-late-refund", order.order_id))
            .await?;
        tracing::warn!(order_id = %order.order_id, refund, "late payment refunded: the stock was gone");
        // The refund's own charge.refunded event names the same amount: one mail for both.
        let mail = MailRequest::about(MailKind::Refunded, &order.order_id, intent.amount.to_string());
        let record = delivery.record(&order.order_id, false, vec![mail]);
        let note = format!("refunded {refund}: the items sold out after the hold ended");
        let (from, to) = (OrderStatus::Cancelled, OrderStatus::Refunded);
        let now = self.clock.now();
        let note = Some(("late_payment", note.as_str()));
        let event_id = delivery.event_id.as_str();
        let applied = match self.orders.apply_event(event_id, &record, from, to, note, now).await? {
            // The refund's own event got there first and made the order `refunded`: keep the why.
            Applied::StatusChanged => self.orders.record_event(event_id, &record, note, now).await?,
            applied => applied,
        };
        self.settle_applied(delivery, &record, applied).await
    }

    async fn failed(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
        let Some(order) = self.order_of(&intent).await? else {
            return Ok(());
        };
        let reason = intent.failure.unwrap_or_else(|| "payment failed".into());
        let mails = if order.status == OrderStatus::PendingPayment {
            vec![MailRequest::about(
                MailKind::PaymentFailed,
                &order.order_id,
                &delivery.event_id,
            )]
        } else {
            Vec::new()
        };
        let record = delivery.record(&order.order_id, false, mails);
        let note = Some(("last_payment_error", reason.as_str()));
        let now = self.clock.now();
        tracing::info!(order_id = %order.order_id, reason, "payment attempt failed; the shopper may retry");
        let applied = self.orders.record_event(&delivery.event_id, &record, note, now).await?;
        self.settle_applied(delivery, &record, applied).await
    }

    async fn canceled(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
        let Some(order) = self.order_of(&intent).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut mails = Vec::new();
        if let Transition::To(OrderStatus::Cancelled) = order.status.on(OrderEvent::PaymentCanceled) {
            let released = self.orders.release(&order, now, "payment_canceled").await?;
            tracing::info!(order_id = %order.order_id, released, "payment canceled");
            if released {
                mails.push(MailRequest::once(MailKind::Cancelled, &order.order_id));
            }
        }
        let record = delivery.record(&order.order_id, false, mails);
        let applied = self.orders.record_event(&delivery.event_id, &record, None, now).await?;
        self.settle_applied(delivery, &record, applied).await
    }
}

impl PaymentWebhook {
    /// The order a charge's PaymentIntent paid for (through the `PAYMENT#<intent>` item checkout
    /// writes); `None`, logged, for a charge that is not the shop's.
    async fn order_id_of_payment(&self, event_id: &str, intent: Option<String>) -> Result<Option<String>, ApiError> {
        let Some(intent_id) = intent else {
            tracing::info!(event_id, "a charge without a PaymentIntent; not the shop's");
            return Ok(None);
        };
        let order_id = self.orders.order_id_by_intent(&intent_id).await?;
        if order_id.is_none() {
            tracing::warn!(event_id, payment_intent = %intent_id, "a charge of an intent the shop does not know");
        }
        Ok(order_id)
    }

    /// Money went back (by the merchant, customer service, or the shop itself): the order
    /// becomes `refunded` or `partially_refunded`, once, never from a status that cannot be.
    async fn refunded(&self, delivery: &Delivery, charge: &stripe_shared::Charge) -> Result<(), ApiError> {
        let event_id = delivery.event_id.as_str();
        let intent = charge.payment_intent.as_ref().map(|intent| intent.id().to_string());
        let Some(order_id) = self.order_id_of_payment(event_id, intent).await? else {
            return Ok(());
        };
        let Some(order) = self.orders.get(&order_id).await? else {
            return Ok(());
        };
        let event = if charge.amount_refunded >= charge.amount {
            OrderEvent::RefundedInFull
        } else {
            OrderEvent::RefundedInPart
        };
        let note = format!(
            "{} of {} {} refunded",
            charge.amount_refunded, charge.amount, charge.currency
        );
        // One mail per refunded total: a retried or doubled event, or the shop's own late refund
        // naming the same total, does not mail again.
        let mail = MailRequest::about(MailKind::Refunded, &order.order_id, charge.amount_refunded.to_string());
        let record = delivery.record(&order.order_id, false, vec![mail]);
        let now = self.clock.now();
        let note = Some(("refund_state", note.as_str()));
        let applied = match order.status.on(event) {
            Transition::To(to) => {
                let applied = self
                    .orders
                    .apply_event(event_id, &record, order.status, to, note, now)
                    .await?;
                tracing::info!(order_id = %order.order_id, status = to.as_str(), ?applied, "refund recorded");
                match applied {
                    Applied::StatusChanged => self.orders.record_event(event_id, &record, note, now).await?,
                    applied => applied,
                }
            }
            _ => self.orders.record_event(event_id, &record, note, now).await?,
        };
        self.settle_applied(delivery, &record, applied).await
    }
}

impl PaymentWebhook {
    /// A cardholder disputed a payment, or a dispute ended: the order is flagged for the
    /// merchant (`review` says what, for how much and by when to respond) and the merchant is
    /// mailed once per dispute and stage. The order's status does not change: the goods may
    /// already be on their way, and Stripe holds the money.
    async fn disputed(&self, delivery: &Delivery, dispute: &stripe_shared::Dispute) -> Result<(), ApiError> {
        let event_id = delivery.event_id.as_str();
        let intent = dispute.payment_intent.as_ref().map(|intent| intent.id().to_string());
        let Some(order_id) = self.order_id_of_payment(event_id, intent).await? else {
            return Ok(());
        };
        let amount = Money::new(
            dispute.amount,
            Currency::parse(&dispute.currency.to_string()).map_err(ApiError::Internal)?,
        );
        let due = dispute
            .evidence_details
            .due_by
            .map(|due| format!("; respond by {}", rfc3339(due)))
            .unwrap_or_default();
        let note = format!(
            "dispute {} {}: {} for {amount}{due}",
            dispute.id,
            dispute.status.as_str(),
            dispute.reason
        );
        tracing::warn!(order_id, dispute_id = %dispute.id, note, "payment disputed");
        let stage = format!("{}-{}", dispute.id, dispute.status.as_str());
        let mail = MailRequest::about(MailKind::OrderReview, &order_id, stage);
        let record = delivery.record(&order_id, false, vec![mail]);
        let applied = self
            .orders
            .record_event(event_id, &record, Some(("review", &note)), self.clock.now())
            .await?;
        self.settle_applied(delivery, &record, applied).await
    }
}

impl HttpFunction for PaymentWebhook {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(PaymentWebhook::handle(self, request))
    }
}
