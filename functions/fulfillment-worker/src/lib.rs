//! `fulfillment-worker`: takes each paid order to the packers. For an `order_paid` message it
//! asks the carrier step for a label (none by default: the merchant ships by hand and records the
//! shipment at the order desk), then moves the order `paid → fulfilling` with its sale counted
//! and its packing record written, in one transaction conditional on `paid`, and asks for the
//! customer's confirmation and the merchant's new-order mail. A message delivered twice finds the
//! order fulfilling and only asks for the mails again, which the email-sender sends once.

pub mod carrier;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use carrier::{CarrierError, LabelProvider, ManualShipping};
use shop_domain::fulfillment::PackingRecord;
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::order::{OrderEvent, OrderStatus, Transition};
use shop_platform::QueueFunction;
use shop_platform::batch::{Trace, process_batch};
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::messages::{MailKind, MailRequest, OrderPaid};
use shop_services::mail::Mailer;
use shop_services::queue::QueueError;
use shop_store::dynamo::StoreError;
use shop_store::orders::OrderStore;
use std::sync::Arc;

/// The worker with its clients, built once per instance.
pub struct FulfillmentWorker {
    orders: OrderStore,
    mailer: Mailer,
    labels: Arc<dyn LabelProvider>,
    clock: Arc<dyn Clock>,
}

/// Why one message could not be handled (it is retried, then dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum FulfillmentError {
    /// The carrier step failed.
    #[error(transparent)]
    Carrier(#[from] CarrierError),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The email queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl FulfillmentWorker {
    /// Reads settings from `env` and builds the clients; labels are bought by hand.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        Ok(Self {
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            mailer: Mailer::from_env(env, sdk)?,
            labels: Arc::new(ManualShipping),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same worker buying labels from `labels` (a carrier adapter).
    pub fn with_labels(mut self, labels: Arc<dyn LabelProvider>) -> Self {
        self.labels = labels;
        self
    }

    /// The same worker asking for mails through `mailer` (fault-injection tests).
    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        self.mailer = mailer;
        self
    }

    /// Handles a batch, reporting the messages that failed.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |paid: OrderPaid, trace| self.fulfil(paid, trace)).await
    }

    async fn fulfil(&self, paid: OrderPaid, trace: Trace) -> Result<(), FulfillmentError> {
        let order_id = paid.order_id;
        let Some(order) = self.orders.get(&order_id).await? else {
            // Retrying will not make it exist; the log line is the alert.
            tracing::error!(order_id, "order_paid for an order that does not exist; dropped");
            return Ok(());
        };
        let started = match order.status.on(OrderEvent::FulfillmentStarted) {
            Transition::To(OrderStatus::Fulfilling) => {
                let label = self.labels.buy_label(&order).await?;
                let packing = PackingRecord {
                    order_id: order_id.clone(),
                    started_at: self.clock.now(),
                    lines: order
                        .lines
                        .iter()
                        .map(|line| ShipmentLine {
                            sku: line.sku.clone(),
                            quantity: line.quantity,
                        })
                        .collect(),
                    label,
                };
                let moved = self
                    .orders
                    .start_fulfillment(&order, &packing, packing.started_at)
                    .await?;
                tracing::info!(order_id, moved, "packing started");
                moved
            }
            _ => false,
        };
        // A redelivery (or a race lost to another delivery) still asks for the mails: the first
        // delivery may have stopped between its transition and its send.
        let current = if started {
            OrderStatus::Fulfilling
        } else {
            self.orders
                .get(&order_id)
                .await?
                .map(|o| o.status)
                .unwrap_or(order.status)
        };
        if !current.is_on_its_way() {
            tracing::warn!(order_id, status = current.as_str(), "order not packable; nothing to do");
            return Ok(());
        }
        let mails = [
            MailRequest::once(MailKind::OrderConfirmation, &order_id),
            MailRequest::once(MailKind::NewOrder, &order_id),
        ];
        self.mailer.request(&mails, &trace).await?;
        tracing::info!(order_id, "confirmation and new-order mails asked for");
        Ok(())
    }
}

impl QueueFunction for FulfillmentWorker {
    fn handle_batch(&self, event: SqsEvent) -> futures::future::BoxFuture<'_, SqsBatchResponse> {
        Box::pin(FulfillmentWorker::handle_batch(self, event))
    }
}
