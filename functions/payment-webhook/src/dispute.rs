//! Disputes: the order flagged for the merchant, who is mailed once per dispute and stage.

use super::*;

impl PaymentWebhook {
    /// A cardholder disputed a payment, or a dispute ended: the order is flagged for the
    /// merchant (`review` says what, for how much and by when to respond) and the merchant is
    /// mailed once per dispute and stage. The order's status does not change: the goods may
    /// already be on their way, and Stripe holds the money.
    pub(crate) async fn disputed(&self, delivery: &Delivery, dispute: &event::Dispute) -> Result<(), ApiError> {
        let event_id = delivery.event_id.as_str();
        let intent = dispute.payment_intent.as_ref().map(|intent| intent.id().to_owned());
        let Some(order_id) = self.order_id_of_payment(event_id, intent).await? else {
            return Ok(());
        };
        let amount = Money::new(
            dispute.amount,
            Currency::parse(&dispute.currency).map_err(ApiError::Internal)?,
        );
        let due = dispute
            .evidence_details
            .as_ref()
            .and_then(|details| details.due_by)
            .map(|due| format!("; respond by {}", rfc3339(due)))
            .unwrap_or_default();
        let note = format!(
            "dispute {} {}: {} for {amount}{due}",
            dispute.id, dispute.status, dispute.reason
        );
        tracing::warn!(order_id, dispute_id = %dispute.id, note, "payment disputed");
        let stage = format!("{}-{}", dispute.id, dispute.status);
        let mail = MailRequest::about(MailKind::OrderReview, &order_id, stage);
        let record = delivery.record(&order_id, false, vec![mail]);
        let applied = self
            .orders
            .record_event(event_id, &record, Some(OrderNote::Review(&note)), self.clock.now())
            .await?;
        self.settle_applied(delivery, &record, applied).await
    }
}
