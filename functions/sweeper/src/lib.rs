//! `sweeper`: what the shop owes and has not done, found on a schedule and done through the same
//! idempotent code that should have done it, so nothing owed waits on a person.
//!
//! - A refund a paid order's cancellation owes (Stripe refused or failed it, and nobody cancelled
//!   again): retried as cancelling again retries it (`Cancellation::cancel`, the refund's
//!   idempotency key per order).
//! - An order paid and still not packing after `SWEEP_AFTER_SECONDS` (its `order_paid` message
//!   was lost, or dead-lettered and not redriven): its message sent to the fulfillment queue again;
//!   the worker starts packing once (`start_fulfillment` is conditional on `paid`).
//! - The messages an applied Stripe event owes (the Paid, Payment failed, Cancelled, Refunded
//!   mails, the merchant's review alert, the fulfillment message) and could not send while Stripe
//!   retried it: sent as Stripe's next delivery would send them (`PaymentWebhook::settle_owed`,
//!   each mail asked for once per order and kind).
//! - A stock hold whose end was lost (an unpaid order, or an exchange whose difference was not
//!   paid, still holding stock past its time): the message that ends it sent again; the
//!   reservation-expiry consumer ends a hold once (its writes are conditional on the hold).
//!
//! Each piece of work is counted (`Swept`, by `Work`), and each one that fails again
//! (`SweepFailures`) is left for the next run and alarmed when it keeps failing.
//!
//! Once an hour it also reconciles the shop with Stripe ([`Sweeper::reconcile`]): the
//! PaymentIntents and refunds of the last 48 hours against the orders. Where Stripe is ahead (paid
//! or refunded there, not recorded here) it applies Stripe's own event through the webhook's code,
//! as a late delivery would (`Reconciled`); what it cannot repair (a charge of no order, a second
//! charge of an order, an amount that differs, an event Stripe does not list) it counts and logs
//! for a person (`ReconciliationMismatches`, alarmed), and an order it concerns goes on the
//! merchant's list of orders to review, with a mail to them, once.

use serde::{Deserialize, Serialize};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::messages::{ExpireReservation, OrderPaid};
use shop_platform::metrics::Metric;
use shop_services::cancellation::Cancellation;
use shop_services::mail::Mailer;
use shop_services::payments::EXCHANGE_METADATA;
use shop_services::payments::PaymentGateway;
use shop_services::queue::Queue;
use shop_store::orders::OrderStore;
use shop_store::orders::customers::{CancelledBy, MERCHANT_CANCELLED_AND_REFUNDED};
use std::sync::Arc;

/// How long work may be owed before the sweeper does it, unless `SWEEP_AFTER_SECONDS` says
/// otherwise: longer than the code that owes it takes to finish or retry on its own.
const DEFAULT_AFTER_SECONDS: i64 = 15 * 60;
/// At most this many pieces of each kind of work per run; the next run takes the rest.
const PER_RUN: usize = 100;

/// The kinds of work, as the `Work` dimension names them.
const REFUND: &str = "refund";
const FULFILMENT: &str = "fulfilment";
const MAIL: &str = "mail";
const HOLD: &str = "hold";

/// How far back reconciliation looks: Stripe's events of two days.
const RECONCILE_WINDOW: i64 = 48 * 3600;

/// The sweeper with its clients, built once per instance.
pub struct Sweeper {
    webhook: payment_webhook::PaymentWebhook,
    orders: OrderStore,
    payments: PaymentGateway,
    mailer: Mailer,
    fulfillment: Queue,
    expiry: Queue,
    after: i64,
    clock: Arc<dyn Clock>,
    only: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Settings {
    fulfillment_queue_url: String,
    reservation_queue_url: String,
    sweep_after_seconds: Option<i64>,
}

/// What one run did, per kind of work.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Refunds owed and now issued.
    pub refunds: u32,
    /// Paid orders sent to fulfillment again.
    pub fulfilments: u32,
    /// Stripe events whose owed messages (mails, fulfillment) went out now.
    pub mails: u32,
    /// Stock holds past their end whose ending was asked for again.
    pub holds: u32,
    /// Pieces of work that failed again (left for the next run).
    pub failures: u32,
}

impl Sweeper {
    /// Reads settings from `env` and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let settings: Settings = env.parse()?;
        let after = settings.sweep_after_seconds.unwrap_or(DEFAULT_AFTER_SECONDS);
        if after < 60 {
            return Err(ConfigError::new("SWEEP_AFTER_SECONDS must be at least 60"));
        }
        Ok(Self {
            webhook: payment_webhook::PaymentWebhook::for_events_read_from_stripe(env, sdk).await?,
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            payments: PaymentGateway::from_env(env, sdk).await?,
            mailer: Mailer::from_env(env, sdk)?,
            fulfillment: Queue::new(aws_sdk_sqs::Client::new(sdk), settings.fulfillment_queue_url),
            expiry: Queue::new(aws_sdk_sqs::Client::new(sdk), settings.reservation_queue_url),
            after,
            clock: Arc::new(SystemClock),
            only: None,
        })
    }

    /// The same sweeper reading the time from `clock` (tests move it forward).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same sweeper sending the messages that end holds to another queue (tests read them
    /// there, and hand them to a consumer whose clock they moved too).
    pub fn with_expiry_queue(mut self, queue: Queue) -> Self {
        self.expiry = queue;
        self
    }

    /// The same sweeper doing only the work of these orders: tests share one table, and each
    /// sweeps its own orders alone.
    pub fn only(mut self, order_ids: Vec<String>) -> Self {
        self.only = Some(order_ids);
        self
    }

    fn mine(&self, order_id: &str) -> bool {
        self.only.as_ref().is_none_or(|ids| ids.iter().any(|id| id == order_id))
    }

    /// One run: every kind of work owed for longer than `after`.
    pub async fn sweep(&self) -> Report {
        let before = self.clock.now() - self.after;
        let mut report = Report::default();
        self.refunds(before, &mut report).await;
        self.fulfilments(before, &mut report).await;
        self.mails(before, &mut report).await;
        self.holds(before, &mut report).await;
        tracing::info!(?report, "swept");
        report
    }

    async fn refunds(&self, before: i64, report: &mut Report) {
        let owed = match self.orders.refunds_owed(before, PER_RUN).await {
            Ok(owed) => owed,
            Err(error) => return failed(report, REFUND, "-", &error),
        };
        for order_id in owed.into_iter().filter(|id| self.mine(id)) {
            match self.refund(&order_id).await {
                Ok(()) => done(report, REFUND, &order_id),
                Err(error) => failed(report, REFUND, &order_id, &error),
            }
        }
    }

    /// Cancels the order again, as its customer or merchant would: that retries the refund it
    /// owes, once, and asks for its Cancelled mail once.
    async fn refund(&self, order_id: &str) -> Result<(), shop_platform::ApiError> {
        let Some(order) = self.orders.get(order_id).await? else {
            return Err(shop_platform::ApiError::Internal(format!(
                "an owed refund of no order {order_id}"
            )));
        };
        let by = if order.cancel_reason.as_deref() == Some(MERCHANT_CANCELLED_AND_REFUNDED) {
            CancelledBy::Merchant
        } else {
            CancelledBy::Customer
        };
        let cancellation = Cancellation {
            orders: &self.orders,
            payments: &self.payments,
            mailer: &self.mailer,
            by,
        };
        let trace = Trace::new(order_id, format!("sweep-{}", self.clock.now()));
        cancellation.cancel(&order, &trace, self.clock.now()).await
    }

    async fn fulfilments(&self, before: i64, report: &mut Report) {
        let stuck = match self.orders.paid_before(before, PER_RUN).await {
            Ok(stuck) => stuck,
            Err(error) => return failed(report, FULFILMENT, "-", &error),
        };
        for order in stuck.into_iter().filter(|o| self.mine(&o.order_id)) {
            let trace = Trace::new(&order.order_id, format!("sweep-{}", self.clock.now()));
            match self.fulfillment.send(&OrderPaid::new(&order.order_id), 0, &trace).await {
                Ok(()) => done(report, FULFILMENT, &order.order_id),
                Err(error) => failed(report, FULFILMENT, &order.order_id, &error),
            }
        }
    }
}

impl Sweeper {
    /// Stripe events applied before `before` that still owe their messages: Stripe's retries
    /// of them failed, or ran out.
    async fn mails(&self, before: i64, report: &mut Report) {
        let owed = match self.orders.events_owed(before, PER_RUN).await {
            Ok(owed) => owed,
            Err(error) => return failed(report, MAIL, "-", &error),
        };
        for (event_id, record) in owed.into_iter().filter(|(_, record)| self.mine(&record.order_id)) {
            // A record read from the index may be a moment old: settling claims the event only
            // while its messages are still owed, so one sent meanwhile is not sent again.
            let request_id = format!("sweep-{}", self.clock.now());
            match self.webhook.settle_owed(&event_id, &record, &request_id).await {
                Ok(()) => done(report, MAIL, &record.order_id),
                Err(error) => failed(report, MAIL, &record.order_id, &error),
            }
        }
    }

    /// Holds past their end by more than `after`: unpaid orders, and exchanges waiting for their
    /// difference.
    async fn holds(&self, before: i64, report: &mut Report) {
        let mut ended: Vec<ExpireReservation> = Vec::new();
        match self.orders.unpaid_before(before, PER_RUN).await {
            Ok(orders) => ended.extend(orders.into_iter().map(|order| ExpireReservation {
                order_id: order.order_id,
                exchange_id: None,
            })),
            Err(error) => failed(report, HOLD, "-", &error),
        }
        match self.orders.exchanges_unpaid_before(before, PER_RUN).await {
            Ok(exchanges) => ended.extend(exchanges.into_iter().map(|exchange| ExpireReservation {
                order_id: exchange.order_id,
                exchange_id: Some(exchange.return_id),
            })),
            Err(error) => failed(report, HOLD, "-", &error),
        }
        for expiry in ended.into_iter().filter(|e| self.mine(&e.order_id)) {
            let trace = Trace::new(&expiry.order_id, format!("sweep-{}", self.clock.now()));
            match self.expiry.send(&expiry, 0, &trace).await {
                Ok(()) => done(report, HOLD, &expiry.order_id),
                Err(error) => failed(report, HOLD, &expiry.order_id, &error),
            }
        }
    }
}

fn done(report: &mut Report, work: &str, order_id: &str) {
    match work {
        REFUND => report.refunds += 1,
        FULFILMENT => report.fulfilments += 1,
        MAIL => report.mails += 1,
        _ => report.holds += 1,
    }
    tracing::warn!(order_id, work, "owed work found and done");
    Metric::Swept.once().dimension(work).with("order_id", order_id).emit();
}

fn failed(report: &mut Report, work: &str, order_id: &str, error: &dyn std::fmt::Display) {
    report.failures += 1;
    tracing::error!(order_id, work, error = %error, "owed work failed again; the next run retries it");
    Metric::SweepFailures
        .once()
        .dimension(work)
        .with("order_id", order_id)
        .emit();
}

/// What one reconciliation found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// PaymentIntents of the window Stripe listed, and refunds.
    pub intents: u32,
    pub refunds: u32,
    /// Orders paid at Stripe and not here, whose event was applied now.
    pub paid: u32,
    /// Refunds made at Stripe and not recorded here, whose event was applied now.
    pub refunded: u32,
    /// What it could not repair.
    pub mismatches: u32,
}

/// The kinds of findings, as the `Kind` dimension names them.
const PAID: &str = "paid";
const REFUNDED: &str = "refunded";

impl Sweeper {
    /// The shop against Stripe over the last 48 hours (but the last `after`, still in flight):
    /// see the module's notes. A failure to read Stripe's lists is itself a mismatch.
    pub async fn reconcile(&self) -> Reconciliation {
        let now = self.clock.now();
        let (from, to) = (now - RECONCILE_WINDOW, now - self.after);
        let mut found = Reconciliation::default();
        match self.payments.intents_created(from, to).await {
            Ok(intents) => {
                found.intents = intents.len() as u32;
                let mut events = Events::new(&self.payments, "payment_intent.succeeded", from, now);
                for intent in intents.iter().filter(|i| i.status == "succeeded") {
                    self.reconcile_payment(intent, &mut events, &mut found).await;
                }
            }
            Err(error) => mismatch(&mut found, "stripe_unreadable", "-", &error.to_string()),
        }
        match self.payments.refunds_created(from, to).await {
            Ok(refunds) => {
                found.refunds = refunds.len() as u32;
                let mut events = Events::new(&self.payments, "charge.refunded", from, now);
                let mut intents: Vec<&str> = refunds
                    .iter()
                    .filter(|r| r.status.as_deref() == Some("succeeded"))
                    .filter_map(|r| r.payment_intent.as_deref())
                    .collect();
                intents.sort_unstable();
                intents.dedup();
                for intent in intents {
                    self.reconcile_refunds(intent, &mut events, &mut found).await;
                }
            }
            Err(error) => mismatch(&mut found, "stripe_unreadable", "-", &error.to_string()),
        }
        tracing::info!(?found, "reconciled with Stripe");
        found
    }

    async fn reconcile_payment(
        &self,
        intent: &shop_services::payments::ListedIntent,
        events: &mut Events<'_>,
        found: &mut Reconciliation,
    ) {
        if intent.metadata.contains_key(EXCHANGE_METADATA) {
            return; // an exchange's difference settles the exchange, not the order
        }
        let Some(order_id) = intent.metadata.get("order_id").filter(|id| self.mine(id)) else {
            return;
        };
        let order = match self.orders.get(order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => return mismatch(found, "charged_without_order", order_id, &intent.id),
            Err(error) => return mismatch(found, "table_unreadable", order_id, &error.to_string()),
        };
        if order.payment_intent_id.as_deref() != Some(intent.id.as_str()) {
            let detail = format!(
                "Stripe charged {} {} by {}, which this order did not create",
                intent.amount, intent.currency, intent.id
            );
            return self
                .disagree(found, "intent_not_the_orders", order_id, &intent.id, &detail)
                .await;
        }
        if order.paid_at.is_some() {
            let total = &order.totals.total;
            if intent.amount != total.amount || intent.currency != total.currency.as_str() {
                let detail = format!(
                    "{} {} charged by {}, {total} ordered",
                    intent.amount, intent.currency, intent.id
                );
                self.disagree(found, "amount_differs", order_id, &intent.id, &detail)
                    .await;
            }
            return;
        }
        // Paid at Stripe, not here: its event, applied as its late delivery would be (which pays
        // the order, or refunds a payment that came after the order ended).
        match events.of(&intent.id, |event| &event["data"]["object"]["id"]).await {
            Some(event) => match self.apply(&event, order_id).await {
                Ok(()) => reconciled(found, PAID, order_id),
                Err(error) => mismatch(found, "event_not_applied", order_id, &error),
            },
            None => {
                let detail = format!("paid at Stripe by {}, and Stripe lists no event of it", intent.id);
                self.disagree(found, "paid_without_event", order_id, &intent.id, &detail)
                    .await;
            }
        }
    }

    async fn reconcile_refunds(&self, intent_id: &str, events: &mut Events<'_>, found: &mut Reconciliation) {
        let order_id = match self.orders.order_id_by_intent(intent_id).await {
            Ok(Some(order_id)) if self.mine(&order_id) => order_id,
            Ok(_) => return,
            Err(error) => return mismatch(found, "table_unreadable", intent_id, &error.to_string()),
        };
        let order = match self.orders.get(&order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => return,
            Err(error) => return mismatch(found, "table_unreadable", &order_id, &error.to_string()),
        };
        // The latest charge.refunded event says what Stripe refunded of the charge in all.
        let Some(event) = events
            .of(intent_id, |event| &event["data"]["object"]["payment_intent"])
            .await
        else {
            let detail = format!("refunded at Stripe on {intent_id}, and Stripe lists no event of it");
            return self
                .disagree(found, "refund_without_event", &order_id, intent_id, &detail)
                .await;
        };
        let at_stripe = event["data"]["object"]["amount_refunded"].as_i64();
        if at_stripe.is_some() && at_stripe == order.refunded_as_noted() {
            return;
        }
        match self.apply(&event, &order_id).await {
            Ok(()) => reconciled(found, REFUNDED, &order_id),
            Err(error) => mismatch(found, "event_not_applied", &order_id, &error),
        }
    }

    /// What the shop and Stripe disagree on about `order_id` (its payment `intent_id`), which
    /// only a person can settle: the order goes on the merchant's list to review with `detail`
    /// and the merchant is mailed, and it counts as a mismatch, once; later runs that find it
    /// again only log it.
    async fn disagree(&self, found: &mut Reconciliation, kind: &str, order_id: &str, intent_id: &str, detail: &str) {
        let finding = format!("reconciliation-{kind}-{intent_id}");
        let note = format!("reconciliation: {kind}: {detail}");
        let request_id = format!("reconcile-{}", self.clock.now());
        match self
            .webhook
            .flag_for_review(&finding, order_id, &note, &request_id)
            .await
        {
            Ok(true) => mismatch(found, kind, order_id, detail),
            Ok(false) => tracing::info!(order_id, kind, detail, "a disagreement with Stripe reported before"),
            Err(error) => mismatch(
                found,
                kind,
                order_id,
                &format!("{detail} (not flagged for review: {error})"),
            ),
        }
    }

    async fn apply(&self, event: &serde_json::Value, order_id: &str) -> Result<(), String> {
        let request_id = format!("reconcile-{}", self.clock.now());
        tracing::warn!(order_id, event_id = %event["id"], "Stripe is ahead of the shop; applying its event");
        self.webhook
            .apply_event_read_from_stripe(&event.to_string(), &request_id)
            .await
            .map_err(|e| e.to_string())
    }
}

/// One type of Stripe's events of the window, read once when first needed.
struct Events<'a> {
    payments: &'a PaymentGateway,
    kind: &'static str,
    from: i64,
    to: i64,
    read: Option<Vec<serde_json::Value>>,
}

impl<'a> Events<'a> {
    fn new(payments: &'a PaymentGateway, kind: &'static str, from: i64, to: i64) -> Self {
        Self {
            payments,
            kind,
            from,
            to,
            read: None,
        }
    }

    /// The newest event whose `field` names `id`.
    async fn of(
        &mut self,
        id: &str,
        field: impl Fn(&serde_json::Value) -> &serde_json::Value,
    ) -> Option<serde_json::Value> {
        if self.read.is_none() {
            match self.payments.events_created(self.kind, self.from, self.to).await {
                Ok(events) => self.read = Some(events),
                Err(error) => {
                    tracing::error!(kind = self.kind, error = %error, "Stripe's events could not be read");
                    return None;
                }
            }
        }
        self.read.as_ref()?.iter().find(|event| field(event) == id).cloned()
    }
}

fn reconciled(found: &mut Reconciliation, kind: &str, order_id: &str) {
    match kind {
        PAID => found.paid += 1,
        _ => found.refunded += 1,
    }
    Metric::Reconciled
        .once()
        .dimension(kind)
        .with("order_id", order_id)
        .emit();
}

fn mismatch(found: &mut Reconciliation, kind: &str, order_id: &str, detail: &str) {
    found.mismatches += 1;
    tracing::error!(
        order_id,
        kind,
        detail,
        "the shop and Stripe disagree; a person must look"
    );
    Metric::ReconciliationMismatches
        .once()
        .dimension(kind)
        .with("order_id", order_id)
        .emit();
}

/// What a run does, as its schedule's event says: `{"job": "reconcile"}` reconciles, any other
/// sweeps.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Ran {
    Swept(Report),
    Reconciled(Reconciliation),
}

impl Sweeper {
    /// One run for a schedule's `event`.
    pub async fn run_for(&self, event: &serde_json::Value) -> Ran {
        if event["job"] == "reconcile" {
            Ran::Reconciled(self.reconcile().await)
        } else {
            Ran::Swept(self.sweep().await)
        }
    }
}

impl shop_platform::ScheduledFunction for Sweeper {
    fn run<'a>(&'a self, event: &'a serde_json::Value) -> futures::future::BoxFuture<'a, serde_json::Value> {
        Box::pin(async move { serde_json::to_value(self.run_for(event).await).unwrap_or_default() })
    }
}
