//! `payment-webhook`: Stripe's signed events move orders. The signature is checked over the raw
//! body against every configured secret (two while the merchant rotates), any matching `v1`
//! accepted, 300 s tolerance. Each event's effect is recorded with the order's transition in one
//! transaction, so a duplicate changes nothing; a paid order's `order_paid` message goes to the
//! fulfillment queue, and when that send fails the answer is 500 so Stripe retries and the retry
//! sends it. The mails an event owes (payment failed, cancelled, refunded, the merchant's review
//! alert) are asked for the same way. The state machine is the domain's (`OrderStatus::on`).

use event::{EventObject, PaymentIntent};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shop_domain::order::Order;
use shop_domain::order::{OrderEvent, OrderStatus, Transition};
use shop_domain::{Currency, Money};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::edge::{self, json};
use shop_platform::messages::{MailKind, MailRequest, OrderPaid};
use shop_platform::metrics::Metric;
use shop_platform::{ApiError, HttpFunction};
use shop_services::mail::Mailer;
use shop_services::payments::{EXCHANGE_METADATA, PaymentGateway};
use shop_services::queue::Queue;
use shop_store::orders::OrderStore;
use shop_store::orders::events::{Applied, EventRecord, OrderNote};
use std::sync::Arc;

mod dispute;
mod event;
mod intent;
mod refund;
mod signature;

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
    /// The customer cancelled it (the orders function cancels for them with this reason).
    cancelled_by_customer: bool,
}

impl IntentFacts {
    fn of(intent: &PaymentIntent) -> Self {
        Self {
            id: intent.id.clone(),
            order_id: intent.metadata.get("order_id").cloned(),
            exchange_id: intent.metadata.get(EXCHANGE_METADATA).cloned(),
            amount: intent.amount,
            currency: intent.currency.clone(),
            failure: intent
                .last_payment_error
                .as_ref()
                .map(|e| e.message.clone().unwrap_or_else(|| "payment failed".into())),
            cancelled_by_customer: intent.cancellation_reason.as_deref() == Some("requested_by_customer"),
        }
    }
}

impl PaymentWebhook {
    /// Reads settings (secrets from SSM when deployed) and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
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
        Self::with_secrets(env, sdk, secrets).await
    }

    /// The webhook's code for events read from Stripe's API with the secret key (reconciliation
    /// applies a late event through it): no webhook secret, so it accepts no delivery.
    pub async fn for_events_read_from_stripe(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Self::with_secrets(env, sdk, Vec::new()).await
    }

    async fn with_secrets(
        env: &Env,
        sdk: &aws_config::SdkConfig,
        secrets: Vec<SecretString>,
    ) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let queues: QueueSettings = env.parse()?;
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

    /// The same webhook asking for its mails on another queue (fault-injection tests).
    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        self.mailer = mailer;
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
        let payload = std::str::from_utf8(body).map_err(|_| signature::bad_signature("the body is not UTF-8"))?;
        let header = request
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| signature::bad_signature("the Stripe-Signature header is missing"))?;
        let event = signature::verify(payload, header, &self.secrets, self.clock.now()).inspect_err(|refusal| {
            if matches!(refusal.code(), "invalid_signature" | "stale_signature") {
                Metric::WebhookSignatureFailures
                    .once()
                    .with("request_id", edge::request_id(request))
                    .emit();
            }
        })?;
        self.apply(&event, edge::request_id(request)).await?;
        json(StatusCode::OK, &serde_json::json!({"received": true}))
    }

    /// Applies one event Stripe's API gave (`GET /v1/events`, read with the secret key, so no
    /// signature to check) as its delivery would: once, whatever came before.
    pub async fn apply_event_read_from_stripe(&self, payload: &str, request_id: &str) -> Result<(), ApiError> {
        let event = event::Event::parse(payload).map_err(|reason| ApiError::bad_request("invalid_event", reason))?;
        self.apply(&event, request_id.to_owned()).await
    }

    /// Sends what the applied event `event_id` (recorded as `record`) still owes: its
    /// fulfillment message, its mails, as Stripe's next delivery of it would. For the sweeper,
    /// once Stripe's retries ran out; nothing when it went out meanwhile.
    pub async fn settle_owed(&self, event_id: &str, record: &EventRecord, request_id: &str) -> Result<(), ApiError> {
        let delivery = Delivery {
            event_id: event_id.to_owned(),
            kind: record.event_type.clone(),
            request_id: request_id.to_owned(),
        };
        self.settle(&delivery, record).await
    }

    /// Puts `order_id` on the merchant's list of orders to review with `note` and mails them the
    /// alert, once per `finding` (an id of what was found, recorded as an event's is): for what
    /// reconciliation with Stripe found about the order and cannot repair. True the first time.
    pub async fn flag_for_review(
        &self,
        finding: &str,
        order_id: &str,
        note: &str,
        request_id: &str,
    ) -> Result<bool, ApiError> {
        let delivery = Delivery {
            event_id: finding.to_owned(),
            kind: "reconciliation".to_owned(),
            request_id: request_id.to_owned(),
        };
        let alert = MailRequest::once(MailKind::OrderReview, order_id);
        let record = delivery.record(order_id, false, vec![alert]);
        let applied = self
            .orders
            .record_event(finding, &record, Some(OrderNote::Review(note)), self.clock.now())
            .await?;
        let first = applied == Applied::Moved;
        self.settle_applied(&delivery, &record, applied).await?;
        Ok(first)
    }

    async fn apply(&self, event: &event::Event, request_id: String) -> Result<(), ApiError> {
        let delivery = Delivery {
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            request_id,
        };
        tracing::info!(event_id = %delivery.event_id, event_type = %delivery.kind, "event verified");
        match &event.object {
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
            EventObject::ChargeDispute(dispute) => self.disputed(&delivery, dispute).await?,
            EventObject::Other => {
                tracing::info!(event_id = %delivery.event_id, event_type = %delivery.kind, "event type not handled; acknowledged")
            }
        }
        Ok(())
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
}

impl HttpFunction for PaymentWebhook {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(PaymentWebhook::handle(self, request))
    }
}
