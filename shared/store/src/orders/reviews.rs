//! The orders waiting for the merchant's review, in the table (see `shop_domain::review`).
//!
//! The order itself keeps every reason it was flagged for (`reviews`), every time it was marked
//! reviewed (`reviewed`) and whether it waits now (`awaiting_review`). The order item cannot be
//! listed by that: its `gsi1` keys already place it in its status's list. So beside it sits
//! `ORDER#<id> / REVIEW`, in `gsi1` (`REVIEW#orders`, sorted by when it began to wait) while the
//! order waits: what the Today page lists and counts with one Query. It is written in the same transaction as
//! the flag's note on the order ([`OrderStore::record_event`], [`OrderStore::apply_event`]), and
//! taken out of the index in the same transaction as the mark on the order
//! ([`OrderStore::mark_reviewed`]), so the list and the orders never disagree. Taking it out
//! removes its index keys and keeps the item (as the support inbox does with its unanswered
//! summaries), which needs no right to delete.

use crate::dynamo::{self, GSI1, GSI1PK, GSI1SK, Item, PK, StoreError, build, key, n, s};
use crate::orders::{OrderStore, order_key};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use shop_domain::order::Order;
use shop_domain::review::{ReviewMark, ReviewNote, ReviewState};

/// The `gsi1` partition of the orders waiting for review.
const TO_REVIEW: &str = "REVIEW#orders";

fn review_key(order_id: &str) -> Item {
    key(format!("ORDER#{order_id}"), "REVIEW")
}

/// What the list of orders to review shows of one: which, why (the latest reason), since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEntry {
    /// The order.
    pub order_id: String,
    /// The latest reason it was flagged for.
    pub reason: String,
    /// Unix seconds: its first flag since it was last marked reviewed.
    pub flagged_at: i64,
}

/// The orders waiting for review: how many (at most the cap asked for), and the newest few.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ToReview {
    /// Orders waiting, counted up to the cap.
    pub count: u32,
    /// More than `count` wait.
    pub more: bool,
    /// Those that began to wait most recently, newest first (a later flag of an order that
    /// waits already changes its reason, not its place).
    pub orders: Vec<ReviewEntry>,
}

/// What marking an order reviewed came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewMarked {
    /// Marked now: off the list, the mark on the order.
    Now,
    /// It was marked reviewed before (another desk, or an earlier try) and not flagged since.
    Before,
    /// It was never flagged.
    NotFlagged,
    /// No such order.
    Missing,
}

impl OrderStore {
    /// The transaction items a flag for review at `now` adds to the note's own: the order's
    /// place on the list of orders to review, with `reason`. Flagged again while it waits, it
    /// keeps its place and shows the new reason.
    pub(crate) fn review_listing(
        &self,
        order_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(review_key(order_id)))
            .update_expression(
                "SET #index = :partition, #order = if_not_exists(#order, :sort), order_id = :id, reason = :reason, \
                 flagged_at = if_not_exists(flagged_at, :now) REMOVE reviewed_at",
            )
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_names("#order", GSI1SK)
            .expression_attribute_values(":partition", s(TO_REVIEW))
            .expression_attribute_values(":sort", s(format!("{now:012}#{order_id}")))
            .expression_attribute_values(":id", s(order_id))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now));
        Ok(TransactWriteItem::builder().update(build(update.build())?).build())
    }

    /// The orders waiting for review: one Query on `gsi1` reading at most `cap` entries, newest
    /// first, of which the first `shown` are kept.
    pub async fn to_review(&self, cap: i32, shown: usize) -> Result<ToReview, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#index = :partition")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":partition", s(TO_REVIEW))
            .scan_index_forward(false)
            .limit(cap)
            .send()
            .await?;
        let items = output.items.unwrap_or_default();
        let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let orders = items
            .into_iter()
            .take(shown)
            .map(dynamo::record)
            .collect::<Result<Vec<ReviewEntry>, _>>()?;
        Ok(ToReview {
            count,
            more: output.last_evaluated_key.is_some(),
            orders,
        })
    }

    /// Marks the order reviewed by `by` at `now`: the mark on the order and the order off the
    /// list of orders to review, in one transaction, only while it waits. When it does not wait,
    /// the order as it was (returned by the refused condition, no second read) says why.
    pub async fn mark_reviewed(&self, order_id: &str, by: &str, now: i64) -> Result<ReviewMarked, StoreError> {
        let mark = serde_dynamo::to_attribute_value::<_, AttributeValue>(ReviewMark {
            by: by.to_owned(),
            reviewed_at: now,
        })?;
        let order = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET #marks = list_append(if_not_exists(#marks, :empty), :mark) REMOVE #waits")
            .condition_expression("attribute_exists(#pk) AND #waits = :yes")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#marks", "reviewed")
            .expression_attribute_names("#waits", "awaiting_review")
            .expression_attribute_values(":mark", AttributeValue::L(vec![mark]))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let unlisted = Update::builder()
            .table_name(&self.table)
            .set_key(Some(review_key(order_id)))
            .update_expression("REMOVE #index, #order, flagged_at SET reviewed_at = :now")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_names("#order", GSI1SK)
            .expression_attribute_values(":now", n(now));
        let items = vec![
            TransactWriteItem::builder().update(build(order.build())?).build(),
            TransactWriteItem::builder().update(build(unlisted.build())?).build(),
        ];
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(ReviewMarked::Now);
        };
        let Some(refused) = reasons.first().filter(|reason| dynamo::condition_failed(reason)) else {
            return Err(StoreError::Unavailable(format!(
                "marking order {order_id} reviewed was cancelled: {reasons:?}"
            )));
        };
        let Some(item) = refused.item.clone().filter(|item| !item.is_empty()) else {
            return Ok(ReviewMarked::Missing);
        };
        let order: Order = dynamo::record(item)?;
        Ok(match order.review_state() {
            ReviewState::Reviewed => ReviewMarked::Before,
            // `Awaiting` cannot be: the refused condition saw it not waiting.
            ReviewState::NotFlagged | ReviewState::Awaiting => ReviewMarked::NotFlagged,
        })
    }
}

/// `update` of an order with what a flag for review with `reason` at `now` sets beside the
/// `review` note: the reason added to its reasons, and that it waits. Answers the `SET` clauses
/// to add to the update's expression.
pub(crate) fn with_flag(
    update: UpdateBuilder,
    reason: &str,
    now: i64,
) -> Result<(UpdateBuilder, &'static str), StoreError> {
    let note = serde_dynamo::to_attribute_value::<_, AttributeValue>(ReviewNote {
        reason: reason.to_owned(),
        flagged_at: now,
    })?;
    let update = update
        .expression_attribute_names("#reviews", "reviews")
        .expression_attribute_names("#waits", "awaiting_review")
        .expression_attribute_values(":review", AttributeValue::L(vec![note]))
        .expression_attribute_values(":no_reviews", AttributeValue::L(Vec::new()))
        .expression_attribute_values(":waits", AttributeValue::Bool(true));
    Ok((
        update,
        "#reviews = list_append(if_not_exists(#reviews, :no_reviews), :review), #waits = :waits",
    ))
}
