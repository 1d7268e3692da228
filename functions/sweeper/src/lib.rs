//! `sweeper`: what the shop owes and has not done, found on a schedule and done through the same
//! idempotent code that should have done it, so nothing owed waits on a person.
//!
//! - A refund a paid order's cancellation owes (Stripe refused or failed it, and nobody cancelled
//!   again): retried as cancelling again retries it (`Cancellation::cancel`, the refund's
//!   idempotency key per order).
//! - An order paid and still not packing after `SWEEP_AFTER_SECONDS` (its `order_paid` message
//!   was lost, or dead-lettered and not redriven): its message sent to the fulfillment queue again;
//!   the worker starts packing once (`start_fulfillment` is conditional on `paid`).
//!
//! Each piece of work is counted (`Swept`, by `Work`), and each one that fails again
//! (`SweepFailures`) is left for the next run and alarmed when it keeps failing.

use serde::{Deserialize, Serialize};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::messages::OrderPaid;
use shop_platform::metrics::Metric;
use shop_services::cancellation::Cancellation;
use shop_services::mail::Mailer;
use shop_services::payments::PaymentGateway;
use shop_services::queue::Queue;
use shop_store::orders::OrderStore;
use shop_store::orders::customers::{CancelledBy, MERCHANT_CANCELLED_AND_REFUNDED};
use std::sync::Arc;

/// How long work may be owed before the sweeper does it, unless `SWEEP_AFTER_SECONDS` says
/// otherwise: longer than the code that owes it takes to finish or retry on its own.
const DEFAULT_AFTER_SECONDS: i64 = 15 * 60;
/// At most this many pieces of each kind of work per run; the next run takes the rest.
const PER_RUN: i32 = 100;

/// The kinds of work, as the `Work` dimension names them.
const REFUND: &str = "refund";
const FULFILMENT: &str = "fulfilment";

/// The sweeper with its clients, built once per instance.
pub struct Sweeper {
    orders: OrderStore,
    payments: PaymentGateway,
    mailer: Mailer,
    fulfillment: Queue,
    after: i64,
    clock: Arc<dyn Clock>,
    only: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Settings {
    fulfillment_queue_url: String,
    sweep_after_seconds: Option<i64>,
}

/// What one run did, per kind of work.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Refunds owed and now issued.
    pub refunds: u32,
    /// Paid orders sent to fulfillment again.
    pub fulfilments: u32,
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
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            payments: PaymentGateway::from_env(env, sdk).await?,
            mailer: Mailer::from_env(env, sdk)?,
            fulfillment: Queue::new(aws_sdk_sqs::Client::new(sdk), settings.fulfillment_queue_url),
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

fn done(report: &mut Report, work: &str, order_id: &str) {
    match work {
        REFUND => report.refunds += 1,
        _ => report.fulfilments += 1,
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

impl shop_platform::ScheduledFunction for Sweeper {
    fn run(&self) -> futures::future::BoxFuture<'_, serde_json::Value> {
        Box::pin(async move { serde_json::to_value(self.sweep().await).unwrap_or_default() })
    }
}
