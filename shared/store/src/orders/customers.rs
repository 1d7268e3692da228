//! What customer service needs of the table: a customer's orders by email (`CUSTOMER#<hash of
//! the email> / ORDER#<created>#<id>`, written by checkout's transaction, newest first), and a
//! paid order cancelled before it shipped: `cancelled` with its stock back and its sale uncounted
//! (per SKU, and in the sales of the day its packing started),
//! in one transaction conditional on nothing having shipped, owing its refund until Stripe took it.

use crate::dynamo::{self, GSI1PK, StoreError, build, key, n, s};
use crate::orders::fulfillment::day_of;
use crate::orders::{OrderStore, customer_ref, order_key, status_partition};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use shop_domain::order::Order;
use shop_domain::order::{Email, OrderStatus};

/// The reason a paid order cancelled by its customer carries: its payment is refunded.
pub const CANCELLED_AND_REFUNDED: &str = "customer_refunded";
/// The reason a paid order cancelled by the merchant carries: its payment is refunded.
pub const MERCHANT_CANCELLED_AND_REFUNDED: &str = "merchant_refunded";

/// Who cancelled a paid order, as its reason (and so its mail) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    /// The shopper, from their order page.
    Customer,
    /// The merchant, from the console or the admin API.
    Merchant,
}

impl CancelledBy {
    /// The `cancel_reason` a paid order cancelled so carries.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Customer => CANCELLED_AND_REFUNDED,
            Self::Merchant => MERCHANT_CANCELLED_AND_REFUNDED,
        }
    }
}

/// Whether `reason` is a paid order's cancellation, whoever asked (its payment refunded).
pub fn paid_cancellation(reason: Option<&str>) -> bool {
    matches!(reason, Some(CANCELLED_AND_REFUNDED | MERCHANT_CANCELLED_AND_REFUNDED))
}
/// `cancel_refund` while the refund is owed.
pub const REFUND_OWED: &str = "refund_owed";
/// The partition of the refunds cancellations owe, one item per order (`ORDER#<id>`, with the
/// time it became owed) until Stripe took it, then `settled` and deleted a day later by TTL: what
/// the sweeper reads, without scanning every cancelled order.
const REFUNDS_OWED: &str = "OWED#refund";
/// How long a settled owed refund's item is kept before TTL deletes it.
const SETTLED_KEPT: i64 = 24 * 3600;

/// The `order_id`s of index items (a customer's, the owed refunds').
fn order_ids(items: Vec<crate::dynamo::Item>) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| dynamo::get_s(item, "order_id").map(str::to_owned))
        .collect()
}

fn owed_refund_key(order_id: &str) -> crate::dynamo::Item {
    key(REFUNDS_OWED, format!("ORDER#{order_id}"))
}

impl OrderStore {
    /// The ids of the customer's `limit` most recent orders, newest first: one Query.
    pub async fn order_ids_of(&self, email: &Email, limit: i32) -> Result<Vec<String>, StoreError> {
        self.order_ids_of_customer(&customer_ref(email), limit).await
    }

    /// The ids of the `limit` most recent orders of the customer `customer` (their
    /// [`customer_ref`]), newest first: one Query.
    pub async fn order_ids_of_customer(&self, customer: &str, limit: i32) -> Result<Vec<String>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :customer")
            .expression_attribute_names("#pk", dynamo::PK)
            .expression_attribute_values(":customer", s(format!("CUSTOMER#{customer}")))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await?;
        Ok(order_ids(output.items.unwrap_or_default()))
    }

    /// Orders by id, in the order of `ids` (missing ones left out): BatchGetItem.
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Order>, StoreError> {
        let keys = ids.iter().map(|id| order_key(id)).collect();
        let mut found: Vec<Order> = dynamo::get_batch(&self.client, &self.table, keys)
            .await?
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<_, _>>()?;
        found.sort_by_key(|order| ids.iter().position(|id| *id == order.order_id));
        Ok(found)
    }

    /// Cancels a paid order nothing of which has shipped: `paid`/`fulfilling` → `cancelled`
    /// owing its refund, its stock given back and (once packing started) its sale uncounted, per
    /// SKU and in the day's sales, all
    /// or nothing. False when it shipped or moved meanwhile: then nothing changes.
    pub async fn cancel_paid(&self, order: &Order, by: CancelledBy, now: i64) -> Result<bool, StoreError> {
        let cancel = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(
                "SET #status = :cancelled, #index = :index, cancelled_at = :now, cancel_reason = :reason, cancel_refund = :owed",
            )
            .condition_expression("#status = :from AND attribute_not_exists(shipments)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(":index", status_partition(OrderStatus::Cancelled))
            .expression_attribute_values(":from", s(order.status.as_str()))
            .expression_attribute_values(":reason", s(by.reason()))
            .expression_attribute_values(":owed", s(REFUND_OWED))
            .expression_attribute_values(":now", n(now));
        // An update that makes the item (the back office may update items, not put them).
        let owed = Update::builder()
            .table_name(&self.table)
            .set_key(Some(owed_refund_key(&order.order_id)))
            .update_expression("SET order_id = :id, since = :now REMOVE settled, #ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":id", s(&order.order_id))
            .expression_attribute_values(":now", n(now));
        let mut items = vec![
            TransactWriteItem::builder().update(build(cancel.build())?).build(),
            TransactWriteItem::builder().update(build(owed.build())?).build(),
        ];
        for line in &order.lines {
            items.push(self.stock_change(line, "ADD #available :q", "attribute_exists(#pk)")?);
            if order.status == OrderStatus::Fulfilling {
                let unsell = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(format!("SALES#{}", line.sku), "TOTAL")))
                    .update_expression("ADD units :minus, orders :minus_one")
                    .expression_attribute_values(":minus", n(-i64::from(line.quantity)))
                    .expression_attribute_values(":minus_one", n(-1));
                items.push(TransactWriteItem::builder().update(build(unsell.build())?).build());
            }
        }
        if order.status == OrderStatus::Fulfilling {
            // Counted in the day's sales when packing started, on that day.
            let day = day_of(order.fulfilling_at.unwrap_or(now));
            items.push(self.day_sales_change(&day, -1, -order.totals.total.amount)?);
        }
        let cancelled = dynamo::transact(&self.client, items).await?.is_none();
        if cancelled {
            shop_platform::metrics::cancelled(&order.order_id, by.reason());
        }
        Ok(cancelled)
    }

    /// Records the refund a cancellation owed as taken by Stripe, and that it is owed no more:
    /// false when a concurrent retry recorded it first.
    pub async fn cancel_refunded(&self, order_id: &str, refund_id: &str) -> Result<bool, StoreError> {
        let record = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET cancel_refund = :refund")
            .condition_expression("cancel_refund = :owed")
            .expression_attribute_values(":refund", s(refund_id))
            .expression_attribute_values(":owed", s(REFUND_OWED));
        // Marked settled, and gone a day later (TTL): an update, as the back office writes.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let settled = Update::builder()
            .table_name(&self.table)
            .set_key(Some(owed_refund_key(order_id)))
            .update_expression("SET settled = :yes, #ttl = :gone")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":gone", n(now + SETTLED_KEPT));
        let items = vec![
            TransactWriteItem::builder().update(build(record.build())?).build(),
            TransactWriteItem::builder().update(build(settled.build())?).build(),
        ];
        // Not owed any more: recorded by a concurrent retry already.
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }

    /// The orders whose cancellation has owed its refund since before `before`, at most
    /// `limit`: Queries of the owed refunds' partition.
    pub async fn refunds_owed(&self, before: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :owed")
            .filter_expression("since < :before AND attribute_not_exists(settled)")
            .expression_attribute_names("#pk", dynamo::PK)
            .expression_attribute_values(":owed", s(REFUNDS_OWED))
            .expression_attribute_values(":before", n(before));
        Ok(order_ids(dynamo::older_items(query, limit).await?))
    }
}
