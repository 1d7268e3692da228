//! What Stripe's events do to orders, in the table. An event id is recorded
//! (`STRIPE_EVENT#id / EVENT`, kept 30 days) in the same transaction as the order's transition,
//! so a crash between them cannot lose the event or apply it twice. The record also says whether
//! the next step's message went out, so a retried delivery sends it when the first could not.
//! A note flagging the order for review puts it on the list of orders to review in the same
//! transaction ([`super::reviews`]), so a duplicate event never lists or counts it twice.
//!
//! A record whose messages are still owed is also on `gsi1` (`OWED#event`, by when it was
//! recorded) until they went out: what the sweeper reads when Stripe's retries ran out.

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, PK, StoreError, build, key, n, s};
use crate::orders::{OrderStore, order_key, reviews, status_partition};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use shop_domain::order::Order;
use shop_domain::order::OrderStatus;

/// Seconds an event id is remembered: longer than Stripe retries a delivery (3 days).
pub const EVENT_TTL: i64 = 30 * 24 * 3600;

/// Seconds one delivery holds the sending of an event's messages: longer than the sends take,
/// short enough that a delivery which died holding it does not delay Stripe's next retry.
pub const SETTLE_LEASE_SECONDS: i64 = 30;

/// The `gsi1` partition of the events whose messages are owed (a sparse index: the entry goes
/// when they went out).
const EVENTS_OWED: &str = "OWED#event";

/// An event the shop has applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Stripe's event type.
    pub event_type: String,
    /// The order it concerns.
    pub order_id: String,
    /// False until the messages this event owes have been sent.
    pub enqueued: bool,
    /// Whether it owes fulfillment the `order_paid` message.
    #[serde(default)]
    pub fulfill: bool,
    /// The mails it owes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mails: Vec<shop_platform::messages::MailRequest>,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The event and the order's transition committed together.
    Moved,
    /// This event id was applied before.
    Duplicate(EventRecord),
    /// The order is no longer in the status the transition starts from.
    StatusChanged,
}

/// What an event notes on its order, each kept in an attribute of its own (a review also
/// with the order's other reasons, and the order on the list of orders to review).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderNote<'a> {
    /// Why the order needs the merchant's eyes (an amount mismatch, a dispute).
    Review(&'a str),
    /// Why the last payment attempt failed.
    LastPaymentError(&'a str),
    /// A payment that arrived after the order's hold ended.
    LatePayment(&'a str),
    /// What Stripe reports refunded of the charge.
    RefundState(&'a str),
}

impl<'a> OrderNote<'a> {
    /// The order's attribute that keeps it, and its text.
    fn attribute(self) -> (&'static str, &'a str) {
        match self {
            Self::Review(text) => ("review", text),
            Self::LastPaymentError(text) => ("last_payment_error", text),
            Self::LatePayment(text) => ("late_payment", text),
            Self::RefundState(text) => ("refund_state", text),
        }
    }

    /// `update` of the order with this note written at `now`: its attribute, and for a review
    /// also the reason kept with the others and the order waiting (see [`super::reviews`]).
    /// Answers the `SET` clauses to add to the update's expression.
    fn written(self, update: UpdateBuilder, now: i64) -> Result<(UpdateBuilder, String), StoreError> {
        let (name, value) = self.attribute();
        let update = update
            .expression_attribute_names("#note", name)
            .expression_attribute_values(":note", s(value));
        match self {
            Self::Review(reason) => {
                let (update, flag) = reviews::with_flag(update, reason, now)?;
                Ok((update, format!("#note = :note, {flag}")))
            }
            _ => Ok((update, "#note = :note".to_owned())),
        }
    }
}

fn event_key(event_id: &str) -> Item {
    key(format!("STRIPE_EVENT#{event_id}"), "EVENT")
}

impl OrderStore {
    fn event_put(&self, event_id: &str, record: &EventRecord, now: i64) -> Result<TransactWriteItem, StoreError> {
        let mut item: Item = serde_dynamo::to_item(record)?;
        item.extend(event_key(event_id));
        item.insert("ttl".to_owned(), n(now + EVENT_TTL));
        if !record.enqueued {
            item.insert(GSI1PK.to_owned(), s(EVENTS_OWED));
            item.insert(GSI1SK.to_owned(), dynamo::time_key(now, event_id));
        }
        self.put_new(item)
    }

    pub(crate) fn status_update(
        &self,
        order_id: &str,
        from: OrderStatus,
        to: OrderStatus,
        note: Option<OrderNote<'_>>,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#at", format!("{}_at", to.as_str()))
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":index", status_partition(to))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":now", n(now));
        let set = "SET #status = :to, #index = :index, #at = :now";
        update = match note {
            Some(note) => {
                let (update, clauses) = note.written(update, now)?;
                update.update_expression(format!("{set}, {clauses}"))
            }
            None => update.update_expression(set),
        };
        Ok(TransactWriteItem::builder().update(build(update.build())?).build())
    }

    fn note_update(&self, order_id: &str, note: OrderNote<'_>, now: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        let (update, clauses) = note.written(update, now)?;
        let update = update.update_expression(format!("SET {clauses}"));
        Ok(TransactWriteItem::builder().update(build(update.build())?).build())
    }

    /// The items beyond the order's own update that `note` takes: an order flagged for review
    /// goes on the list of orders to review, in the same transaction.
    fn note_listing(
        &self,
        order_id: &str,
        note: Option<OrderNote<'_>>,
        now: i64,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        match note {
            Some(OrderNote::Review(reason)) => self.review_listing(order_id, reason, now).map(Some),
            _ => Ok(None),
        }
    }

    /// A recorded event, if any (strongly consistent).
    pub async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, event_key(event_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// Records `event_id` and moves the order from `from` to `to` (setting `note` on it),
    /// together or not at all.
    pub async fn apply_event(
        &self,
        event_id: &str,
        record: &EventRecord,
        from: OrderStatus,
        to: OrderStatus,
        note: Option<OrderNote<'_>>,
        now: i64,
    ) -> Result<Applied, StoreError> {
        let mut items = vec![
            self.event_put(event_id, record, now)?,
            self.status_update(&record.order_id, from, to, note, now)?,
        ];
        items.extend(self.note_listing(&record.order_id, note, now)?);
        self.commit(event_id, items).await
    }

    /// Records `event_id` without moving the order, setting `note` on it if given, together.
    pub async fn record_event(
        &self,
        event_id: &str,
        record: &EventRecord,
        note: Option<OrderNote<'_>>,
        now: i64,
    ) -> Result<Applied, StoreError> {
        let mut items = vec![self.event_put(event_id, record, now)?];
        if let Some(note) = note {
            items.push(self.note_update(&record.order_id, note, now)?);
        }
        items.extend(self.note_listing(&record.order_id, note, now)?);
        self.commit(event_id, items).await
    }

    /// A payment for an order whose hold already ended: takes its stock again and marks it
    /// paid, with the event, all or nothing. `StatusChanged` when stock is short (or the order
    /// moved meanwhile): then nothing is written.
    pub async fn apply_late_payment(
        &self,
        event_id: &str,
        record: &EventRecord,
        order: &Order,
        now: i64,
    ) -> Result<Applied, StoreError> {
        let mut items = vec![
            self.event_put(event_id, record, now)?,
            self.status_update(&order.order_id, OrderStatus::Cancelled, OrderStatus::Paid, None, now)?,
        ];
        for line in &order.lines {
            items.push(self.take_stock(line)?);
        }
        self.commit(event_id, items).await
    }

    async fn commit(&self, event_id: &str, items: Vec<TransactWriteItem>) -> Result<Applied, StoreError> {
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(Applied::Moved);
        };
        // The event's record is always the first item: its condition failing means a duplicate.
        if reasons.first().is_some_and(dynamo::condition_failed) {
            let record = self
                .event(event_id)
                .await?
                .ok_or_else(|| StoreError::Failed("a seen event has no record".into()))?;
            return Ok(Applied::Duplicate(record));
        }
        Ok(Applied::StatusChanged)
    }

    /// Takes the sending of the messages `event_id` owes for [`SETTLE_LEASE_SECONDS`]: `false`
    /// when they went out already or another delivery of the event is sending them now, so that
    /// concurrent deliveries of one event send them once.
    pub async fn claim_settling(&self, event_id: &str, now: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(event_id)))
            .update_expression("SET settling_until = :until")
            .condition_expression(format!(
                "attribute_exists({PK}) AND enqueued = :no AND (attribute_not_exists(settling_until) OR settling_until < :now)"
            ))
            .expression_attribute_values(":until", n(now + SETTLE_LEASE_SECONDS))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        dynamo::conditional(result)
    }

    /// Gives up the claim of [`OrderStore::claim_settling`] after a failed send, so that the
    /// next delivery sends at once.
    pub async fn release_settling(&self, event_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(event_id)))
            .update_expression("REMOVE settling_until")
            .condition_expression(format!("attribute_exists({PK})"))
            .send()
            .await;
        dynamo::conditional(result).map(drop)
    }

    /// Notes that the messages an event owed went out (and takes it off the owed ones).
    pub async fn mark_enqueued(&self, event_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(event_id)))
            .update_expression("SET enqueued = :yes REMOVE settling_until, #index, #sort")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_names("#sort", GSI1SK)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await?;
        Ok(())
    }

    /// The events recorded before `before` whose messages are still owed, with their records
    /// (the index holds the whole item), oldest first, at most `limit`: a Query of `gsi1`.
    pub async fn events_owed(&self, before: i64, limit: usize) -> Result<Vec<(String, EventRecord)>, StoreError> {
        let query = dynamo::index_before(&self.client, &self.table, EVENTS_OWED, before);
        let mut owed = Vec::new();
        for item in dynamo::older_items(query, limit).await? {
            let Some((_, event_id)) = dynamo::get_s(&item, GSI1SK).and_then(|sort| sort.split_once('#')) else {
                continue;
            };
            let event_id = event_id.to_owned();
            owed.push((event_id, dynamo::record(item)?));
        }
        Ok(owed)
    }
}
