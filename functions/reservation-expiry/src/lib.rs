//! `reservation-expiry`: ends the stock hold of an order nobody paid. Checkout sends each order's
//! message delayed by the hold; when it arrives, an order still `pending_payment` has its
//! PaymentIntent cancelled and becomes `cancelled`, with its stock and discount given back in one
//! transaction conditional on the status. A paid or already released order is left alone, so a
//! duplicate message has the effect of one. The customer is mailed that the order was cancelled.
//!
//! An exchange whose difference is owed holds its replacement's stock the same way: when its
//! message arrives unpaid, the difference's PaymentIntent is cancelled and the exchange with it,
//! the replacement's units going back to stock (see `OrderStore::expire_exchange`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shop_domain::order::{OrderEvent, OrderStatus, Transition};
use shop_domain::returns::ExchangePayment;
use shop_platform::QueueFunction;
use shop_platform::batch::{Trace, process_batch};
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::messages::{ExpireReservation, MailKind, MailRequest};
use shop_services::mail::Mailer;
use shop_services::payments::{CancelReason, PaymentError, PaymentGateway};
use shop_services::queue::QueueError;
use shop_store::dynamo::StoreError;
use shop_store::orders::OrderStore;
use std::sync::Arc;

/// The reason recorded on an order whose hold ended unpaid.
const EXPIRED: &str = "reservation_expired";

/// The consumer with its clients, built once per instance.
pub struct ReservationExpiry {
    orders: OrderStore,
    payments: PaymentGateway,
    mailer: Mailer,
    clock: Arc<dyn Clock>,
}

/// Why one message could not be handled (it is retried, then dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    /// The hold has not ended yet.
    #[error("order {0} is held for another {1} s")]
    Early(String, i64),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stripe failed.
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// The email queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl ReservationExpiry {
    /// Reads settings from `env` and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        Ok(Self {
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            payments: PaymentGateway::from_env(env, sdk).await?,
            mailer: Mailer::from_env(env, sdk)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same consumer telling time by `clock` (tests end holds without waiting for them).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Handles a batch, reporting the messages that failed.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, |expiry: ExpireReservation, trace| self.expire(expiry, trace)).await
    }

    async fn expire(&self, expiry: ExpireReservation, trace: Trace) -> Result<(), ExpiryError> {
        let ExpireReservation { order_id, exchange_id } = expiry;
        if let Some(exchange_id) = exchange_id {
            return self.expire_exchange(&order_id, &exchange_id).await;
        }
        let Some(order) = self.orders.get(&order_id).await? else {
            tracing::warn!(order_id, "no such order; nothing to release");
            return Ok(());
        };
        if order.status == OrderStatus::Cancelled && order.cancel_reason.as_deref() == Some(EXPIRED) {
            // Released by an earlier delivery that may not have asked for the mail.
            return self.ask_for_mail(&order_id, &trace).await;
        }
        if order.status.on(OrderEvent::HoldExpired) == Transition::Ignore {
            tracing::info!(order_id, status = order.status.as_str(), "hold already ended");
            return Ok(());
        }
        let now = self.clock.now();
        if now < order.expires_at {
            return Err(ExpiryError::Early(order_id, order.expires_at - now));
        }
        if let Some(intent) = &order.payment_intent_id {
            match self.payments.cancel_intent(intent, CancelReason::Abandoned).await {
                Ok(()) => {}
                Err(PaymentError::Refused(reason)) => {
                    // Stripe will not cancel it (it succeeded meanwhile): the payment webhook
                    // moves the order on; releasing its stock now would oversell.
                    tracing::warn!(order_id, payment_intent = %intent, reason, "intent not cancellable; keeping the hold");
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            }
        }
        let released = self.orders.release(&order, now, EXPIRED).await?;
        tracing::info!(order_id, released, "stock hold ended");
        if released {
            // A failure here retries the message, which finds the order cancelled and asks again.
            return self.ask_for_mail(&order_id, &trace).await;
        }
        Ok(())
    }

    /// Ends the hold of an exchange's replacement whose difference was not paid in time.
    async fn expire_exchange(&self, order_id: &str, exchange_id: &str) -> Result<(), ExpiryError> {
        let Some(order) = self.orders.get(order_id).await? else {
            tracing::warn!(order_id, exchange_id, "no such order; nothing to release");
            return Ok(());
        };
        let Some(exchange) = order.exchange(exchange_id) else {
            tracing::info!(
                order_id,
                exchange_id,
                "no such exchange (never recorded); nothing to release"
            );
            return Ok(());
        };
        if exchange.payment != ExchangePayment::Awaiting {
            tracing::info!(
                order_id,
                exchange_id,
                payment = exchange.payment.as_str(),
                "exchange hold already ended"
            );
            return Ok(());
        }
        let now = self.clock.now();
        let pay_by = exchange.pay_by.unwrap_or(0);
        if now < pay_by {
            return Err(ExpiryError::Early(
                format!("{order_id} exchange {exchange_id}"),
                pay_by - now,
            ));
        }
        if let Some(intent) = &exchange.payment_intent_id {
            match self.payments.cancel_intent(intent, CancelReason::Abandoned).await {
                Ok(()) => {}
                Err(PaymentError::Refused(reason)) => {
                    // Paid meanwhile: the webhook marks the exchange paid; the hold stays.
                    tracing::warn!(order_id, exchange_id, payment_intent = %intent, reason, "intent not cancellable; keeping the hold");
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            }
        }
        let released = self.orders.expire_exchange(&order, exchange_id).await?;
        tracing::info!(order_id, exchange_id, released, "unpaid exchange cancelled");
        Ok(())
    }

    async fn ask_for_mail(&self, order_id: &str, trace: &Trace) -> Result<(), ExpiryError> {
        let mail = MailRequest::once(MailKind::Cancelled, order_id);
        self.mailer.request(&[mail], trace).await.map_err(ExpiryError::from)
    }
}

impl QueueFunction for ReservationExpiry {
    fn handle_batch(&self, event: SqsEvent) -> futures::future::BoxFuture<'_, SqsBatchResponse> {
        Box::pin(ReservationExpiry::handle_batch(self, event))
    }
}
