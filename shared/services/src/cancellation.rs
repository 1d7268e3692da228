//! Cancelling an order before anything of it shipped: the one way the shopper's cancel
//! (`POST /orders/{id}/cancel`) and the merchant's (`POST /admin/orders/{id}/cancel`) go.
//!
//! An unpaid order has its PaymentIntent cancelled, then its stock and discount given back; a
//! paid order nothing of which has shipped is cancelled with its stock back in one transaction,
//! then refunded in full through Stripe (idempotency key per order; cancelling again retries the
//! refund it still owes); a shipped order is 409. Each asks for the Cancelled mail, once.

use crate::mail::Mailer;
use crate::payments::{CancelReason, PaymentError, PaymentGateway};
use shop_domain::order::{Order, OrderEvent, OrderStatus, Transition};
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::messages::{MailKind, MailRequest};
use shop_platform::metrics;
use shop_store::orders::OrderStore;
use shop_store::orders::customers::{CancelledBy, REFUND_OWED, paid_cancellation};

/// What cancelling an order needs: the table, Stripe and the mail queue.
pub struct Cancellation<'a> {
    /// The orders.
    pub orders: &'a OrderStore,
    /// Stripe, for the PaymentIntent and the refund.
    pub payments: &'a PaymentGateway,
    /// The Cancelled mail.
    pub mailer: &'a Mailer,
    /// Who asks: the mail says so.
    pub by: CancelledBy,
}

impl Cancellation<'_> {
    /// Cancels `order` as it was read at `now` (see the module notes); cancelling an order
    /// cancelled before only retries a refund it still owes.
    pub async fn cancel(&self, order: &Order, trace: &Trace, now: i64) -> Result<(), ApiError> {
        match (order.status, order.status.on(OrderEvent::CustomerCancelled)) {
            (OrderStatus::Cancelled, _) | (OrderStatus::Refunded, _)
                if order.status == OrderStatus::Cancelled || paid_cancellation(order.cancel_reason.as_deref()) =>
            {
                // Cancelled before: only a refund it still owes remains.
                if order.cancel_refund.as_deref() == Some(REFUND_OWED) {
                    self.refund_cancelled(order).await?;
                }
            }
            (OrderStatus::PendingPayment, Transition::To(OrderStatus::Cancelled)) => {
                self.cancel_unpaid(order, now).await?;
            }
            (_, Transition::To(OrderStatus::Cancelled)) if order.shipments.is_empty() => {
                if !self.orders.cancel_paid(order, self.by, now).await? {
                    return Err(ApiError::Conflict {
                        code: "order_changed",
                        detail: "the order changed meanwhile (it may have shipped); read it and try again".into(),
                    });
                }
                tracing::info!(order_id = %order.order_id, "paid order cancelled; refunding");
                self.refund_cancelled(order).await?;
            }
            (OrderStatus::Paid | OrderStatus::Fulfilling | OrderStatus::Shipped | OrderStatus::Delivered, _) => {
                return Err(ApiError::Conflict {
                    code: "order_shipped",
                    detail: format!(
                        "part or all of the order has shipped: return it with POST /orders/{}/returns",
                        order.order_id
                    ),
                });
            }
            (status, _) => {
                return Err(ApiError::Conflict {
                    code: "order_not_cancellable",
                    detail: format!("an order that is {} cannot be cancelled", status.as_str()),
                });
            }
        }
        let mail = MailRequest::once(MailKind::Cancelled, &order.order_id);
        Ok(self.mailer.request(&[mail], trace).await?)
    }

    /// An order waiting for its payment: the PaymentIntent cancelled, then its hold released.
    async fn cancel_unpaid(&self, order: &Order, now: i64) -> Result<(), ApiError> {
        if let Some(intent) = &order.payment_intent_id {
            match self.payments.cancel_intent(intent, CancelReason::Customer).await {
                Ok(()) => {}
                Err(PaymentError::Refused(_)) => {
                    return Err(ApiError::Conflict {
                        code: "payment_received",
                        detail: "the payment arrived meanwhile; cancel again to have it refunded".into(),
                    });
                }
                Err(error) => return Err(error.into()),
            }
        }
        // Stripe's payment_intent.canceled may have released it first.
        if !self.orders.release(order, now, "customer").await?
            && !self
                .orders
                .get(&order.order_id)
                .await?
                .is_some_and(|o| o.status == OrderStatus::Cancelled)
        {
            return Err(ApiError::Conflict {
                code: "order_changed",
                detail: "the order changed meanwhile; read it and try again".into(),
            });
        }
        tracing::info!(order_id = %order.order_id, "unpaid order cancelled");
        Ok(())
    }

    /// Refunds a cancelled order's payment in full, once (Stripe's idempotency key per order).
    async fn refund_cancelled(&self, order: &Order) -> Result<(), ApiError> {
        let Some(intent) = &order.payment_intent_id else {
            return Err(ApiError::Internal(format!(
                "paid order {} has no PaymentIntent",
                order.order_id
            )));
        };
        let key = format!("order-{}-cancel-refund", order.order_id);
        let refund = self.payments.refund(intent, None, &key).await.inspect_err(|error| {
            tracing::error!(order_id = %order.order_id, error = %error, "refund owed for a cancelled order; cancelling again retries it");
        })?;
        if self.orders.cancel_refunded(&order.order_id, &refund).await? {
            metrics::refunded(&order.order_id, order.totals.total.amount, &refund);
        }
        tracing::info!(order_id = %order.order_id, refund, "cancelled order refunded");
        Ok(())
    }
}
