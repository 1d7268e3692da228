//! Charge refunds Stripe reports: the order's refund state and its mail.

use super::*;

impl PaymentWebhook {
    /// The order a charge's PaymentIntent paid for (through the `PAYMENT#<intent>` item checkout
    /// writes); `None`, logged, for a charge that is not the shop's.
    pub(crate) async fn order_id_of_payment(
        &self,
        event_id: &str,
        intent: Option<String>,
    ) -> Result<Option<String>, ApiError> {
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
    pub(crate) async fn refunded(&self, delivery: &Delivery, charge: &event::Charge) -> Result<(), ApiError> {
        let event_id = delivery.event_id.as_str();
        let intent = charge.payment_intent.as_ref().map(|intent| intent.id().to_owned());
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
        let note = shop_domain::order::refund_state(charge.amount_refunded, charge.amount, &charge.currency);
        // One mail per refunded total: a retried or doubled event, or the shop's own late refund
        // naming the same total, does not mail again.
        let mail = MailRequest::about(MailKind::Refunded, &order.order_id, charge.amount_refunded.to_string());
        let record = delivery.record(&order.order_id, false, vec![mail]);
        let now = self.clock.now();
        let note = Some(OrderNote::RefundState(&note));
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
