//! PaymentIntent events: a payment succeeded (the order paid, or an exchange's difference), failed
//! or was cancelled; a payment that came after its order's hold ended.

use super::*;

impl PaymentWebhook {
    /// The order an intent pays, if it is one of the shop's (an exchange's difference pays the
    /// exchange, not the order).
    async fn order_of(&self, intent: &IntentFacts) -> Result<Option<Order>, ApiError> {
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
    pub(crate) async fn exchange_paid(&self, intent: &IntentFacts, exchange_id: &str) -> Result<(), ApiError> {
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

    async fn order_of_exchange(&self, intent: &IntentFacts) -> Result<Option<Order>, ApiError> {
        let Some(order_id) = &intent.order_id else {
            return Ok(None);
        };
        Ok(self.orders.get(order_id).await?)
    }

    pub(crate) async fn succeeded(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
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
                    .record_event(event_id, &record, Some(OrderNote::Review(&note)), now)
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
            if applied == Applied::Moved {
                Metric::OrdersPaid
                    .once()
                    .add(Metric::PaidValue, intent.amount)
                    .with("order_id", &order.order_id)
                    .with("event_id", event_id)
                    .emit();
            }
            if applied != Applied::StatusChanged {
                return self.settle_applied(delivery, &record, applied).await;
            }
        }
        Err(ApiError::Conflict {
            code: "order_busy",
            detail: "the order kept changing; Stripe will deliver the event again".into(),
        })
    }

    /// A payment for an order whose stock went to others: refund it in full, once.
    async fn refund_late(&self, delivery: &Delivery, order: &Order, intent: &IntentFacts) -> Result<(), ApiError> {
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
        let note = Some(OrderNote::LatePayment(&note));
        let event_id = delivery.event_id.as_str();
        let applied = match self.orders.apply_event(event_id, &record, from, to, note, now).await? {
            // The refund's own event got there first and made the order `refunded`: keep the why.
            Applied::StatusChanged => self.orders.record_event(event_id, &record, note, now).await?,
            applied => applied,
        };
        if applied == Applied::Moved {
            shop_platform::metrics::refunded(&order.order_id, intent.amount, &refund);
        }
        self.settle_applied(delivery, &record, applied).await
    }

    pub(crate) async fn failed(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
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
        let note = Some(OrderNote::LastPaymentError(&reason));
        let now = self.clock.now();
        tracing::info!(order_id = %order.order_id, reason, "payment attempt failed; the shopper may retry");
        let applied = self.orders.record_event(&delivery.event_id, &record, note, now).await?;
        if applied == Applied::Moved {
            Metric::PaymentFailures
                .once()
                .with("order_id", &order.order_id)
                .with("event_id", &delivery.event_id)
                .emit();
        }
        self.settle_applied(delivery, &record, applied).await
    }

    pub(crate) async fn canceled(&self, delivery: &Delivery, intent: IntentFacts) -> Result<(), ApiError> {
        let Some(order) = self.order_of(&intent).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut mails = Vec::new();
        if let Transition::To(OrderStatus::Cancelled) = order.status.on(OrderEvent::PaymentCanceled) {
            // The customer's own cancel may reach the order after this event: it is theirs either way.
            let reason = if intent.cancelled_by_customer {
                "customer"
            } else {
                "payment_canceled"
            };
            let released = self.orders.release(&order, now, reason).await?;
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
