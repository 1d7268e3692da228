//! A paid order's way to the customer, in the table: packing starts (`paid → fulfilling`, the
//! sale counted per SKU, the packing record written, in one transaction), shipments are added to
//! the order (each a conditional write on the shipments already there, so two desks cannot ship
//! the same units), and the order is delivered. The merchant's desk lists orders by status on
//! `gsi1`, newest first.

use crate::dynamo::{self, GSI1PK, Item, PK, StoreError, build, key, n, s};
use crate::dynamo::{ListError, Page};
use crate::orders::{OrderStore, OrderWriteError, order_key, status_partition};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use shop_domain::fulfillment::{PackingRecord, Shipment};
use shop_domain::order::Order;
use shop_domain::order::OrderStatus;
use shop_domain::{Cursor, PageLimit, Sku};
use std::collections::BTreeMap;

fn packing_key(order_id: &str) -> Item {
    key(format!("ORDER#{order_id}"), "PACKING")
}

fn sales_key(sku: &Sku) -> Item {
    key(format!("SALES#{sku}"), "TOTAL")
}

/// The day's sales: `SALES#DAY#<YYYY-MM-DD>` (UTC) / `TOTAL`.
fn day_key(day: &str) -> Item {
    key(format!("SALES#DAY#{day}"), "TOTAL")
}

/// The UTC day of `unix_seconds`, `YYYY-MM-DD`.
pub fn day_of(unix_seconds: i64) -> String {
    shop_domain::instant::rfc3339(unix_seconds).chars().take(10).collect()
}

/// What a day's paid orders came to, counted when packing starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DaySales {
    /// Orders whose packing started that day.
    pub orders: u64,
    /// Their totals added up, in the store currency's minor units.
    pub revenue: i64,
}

impl OrderStore {
    /// Starts packing a paid order: `paid → fulfilling`, each line's units added to its SKU's
    /// sales count, and `packing` written, together. False when the order was not `paid`
    /// (already started, or cancelled): then nothing is written.
    pub async fn start_fulfillment(
        &self,
        order: &Order,
        packing: &PackingRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut items =
            vec![self.status_update(&order.order_id, OrderStatus::Paid, OrderStatus::Fulfilling, None, now)?];
        let mut record: Item = serde_dynamo::to_item(packing)?;
        record.extend(packing_key(&order.order_id));
        let put = Put::builder().table_name(&self.table).set_item(Some(record));
        items.push(TransactWriteItem::builder().put(build(put.build())?).build());
        for line in &order.lines {
            let sale = Update::builder()
                .table_name(&self.table)
                .set_key(Some(sales_key(&line.sku)))
                .update_expression("ADD units :q, orders :one")
                .expression_attribute_values(":q", n(line.quantity))
                .expression_attribute_values(":one", n(1));
            items.push(TransactWriteItem::builder().update(build(sale.build())?).build());
        }
        items.push(self.day_sales_change(&day_of(now), 1, order.totals.total.amount)?);
        // Only the status condition can fail.
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }

    /// The write that adds `orders` and `revenue` (negative: takes them off) to the sales of
    /// the UTC day `day`, for a transaction.
    pub(crate) fn day_sales_change(
        &self,
        day: &str,
        orders: i64,
        revenue: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let change = Update::builder()
            .table_name(&self.table)
            .set_key(Some(day_key(day)))
            .update_expression("ADD orders :orders, revenue :revenue")
            .expression_attribute_values(":orders", n(orders))
            .expression_attribute_values(":revenue", n(revenue));
        Ok(TransactWriteItem::builder().update(build(change.build())?).build())
    }

    /// The packing record of an order, once packing started.
    pub async fn packing(&self, order_id: &str) -> Result<Option<PackingRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, packing_key(order_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// Units of `sku` sold (counted when packing starts).
    pub async fn units_sold(&self, sku: &Sku) -> Result<u64, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, sales_key(sku)).await?;
        Ok(item
            .as_ref()
            .and_then(|i| i.get("units"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// The sales of the UTC day `day` (`YYYY-MM-DD`): one GetItem.
    pub async fn day_sales(&self, day: &str) -> Result<DaySales, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, day_key(day)).await?;
        let number = |name: &str| {
            item.as_ref()
                .and_then(|i| i.get(name))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        Ok(DaySales {
            orders: u64::try_from(number("orders")).unwrap_or(0),
            revenue: number("revenue"),
        })
    }

    /// Adds `shipment` to `order` as it was read; when `complete`, the order becomes `shipped`.
    /// Refused (`Changed`) when the order's status changed or another shipment was added since
    /// it was read.
    pub async fn add_shipment(
        &self,
        order: &Order,
        shipment: &Shipment,
        complete: bool,
        now: i64,
    ) -> Result<(), OrderWriteError> {
        let entry = serde_dynamo::to_attribute_value::<_, AttributeValue>(shipment).map_err(StoreError::from)?;
        let shipped_before = order.shipments.len();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#shipments", "shipments")
            .expression_attribute_values(":new", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":current", s(order.status.as_str()));
        let unchanged = if shipped_before == 0 {
            "attribute_not_exists(#shipments)"
        } else {
            update = update.expression_attribute_values(":count", n(shipped_before));
            "size(#shipments) = :count"
        };
        update = update.condition_expression(format!("#status = :current AND {unchanged}"));
        let append = "#shipments = list_append(if_not_exists(#shipments, :empty), :new)";
        update = if complete {
            update
                .update_expression(format!(
                    "SET {append}, #status = :shipped, #index = :index, shipped_at = :now"
                ))
                .expression_attribute_names("#index", GSI1PK)
                .expression_attribute_values(":shipped", s(OrderStatus::Shipped.as_str()))
                .expression_attribute_values(":index", status_partition(OrderStatus::Shipped))
                .expression_attribute_values(":now", n(now))
        } else {
            update.update_expression(format!("SET {append}"))
        };
        match dynamo::conditional(update.send().await)? {
            true => Ok(()),
            false => Err(OrderWriteError::Changed),
        }
    }

    /// `shipped → delivered`. False when the order was not `shipped`.
    pub async fn mark_delivered(&self, order_id: &str, now: i64) -> Result<bool, StoreError> {
        let items = vec![self.status_update(order_id, OrderStatus::Shipped, OrderStatus::Delivered, None, now)?];
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }

    /// Orders in `status`, newest first, a page of `limit` from `cursor`: one Query on `gsi1`.
    pub async fn list_by_status(
        &self,
        status: OrderStatus,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Order>, ListError> {
        let partition = format!("ORDERS#{}", status.as_str());
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, &partition, limit, cursor, false).await?;
        let items = items
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<Vec<Order>, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Orders paid before `before` and still `paid` (not yet packing), oldest first, at most
    /// `limit`: Queries of `gsi1` of the orders created before then.
    pub async fn paid_before(&self, before: i64, limit: usize) -> Result<Vec<Order>, StoreError> {
        self.status_before(OrderStatus::Paid, "paid_at < :at", before, limit)
            .await
    }

    /// The orders still waiting for their payment whose hold ended before `before` (the message
    /// that ends it was lost), oldest first, at most `limit`: Queries of `gsi1`.
    pub async fn unpaid_before(&self, before: i64, limit: usize) -> Result<Vec<Order>, StoreError> {
        self.status_before(OrderStatus::PendingPayment, "expires_at < :at", before, limit)
            .await
    }

    /// Orders in `status` created before `before` that `filter` (of `:at`, which is `before`)
    /// keeps.
    async fn status_before(
        &self,
        status: OrderStatus,
        filter: &str,
        before: i64,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        let partition = format!("ORDERS#{}", status.as_str());
        let query = dynamo::index_before(&self.client, &self.table, &partition, before)
            .filter_expression(filter)
            .expression_attribute_values(":at", n(before));
        dynamo::older_records(query, limit).await
    }

    /// How many orders are in `status`, counting at most `cap`, and whether more are: one
    /// Query on `gsi1`.
    pub async fn count_by_status(&self, status: OrderStatus, cap: i32) -> Result<(u32, bool), StoreError> {
        dynamo::index_count(&self.client, &self.table, &format!("ORDERS#{}", status.as_str()), cap).await
    }

    /// A new token for a link to `order` (a mail's link, a replayed checkout's answer; the
    /// checkout's own token is only kept hashed): its hash joins the order's link tokens, which
    /// open the order as the checkout's token does until they expire ([`LINK_TOKEN_SECONDS`]).
    /// The same write forgets the expired ones and all but the newest [`LINK_TOKENS_KEPT`], so
    /// however often links are asked for, the order stays small.
    pub async fn issue_link_token(&self, order: &Order, now: i64) -> Result<String, StoreError> {
        let token = shop_platform::secrets::new_token();
        let hash = shop_platform::secrets::token_hash(&token);
        let expires_at = now + LINK_TOKEN_SECONDS;
        let Some(existing) = &order.link_tokens else {
            // The order's first link: the map is created, unless a concurrent first link did.
            let first = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(order_key(&order.order_id)))
                .update_expression("SET #links = :links")
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#links)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#links", LINK_TOKENS)
                .expression_attribute_values(":links", AttributeValue::M([(hash, n(expires_at))].into()))
                .send()
                .await;
            if dynamo::conditional(first)? {
                return Ok(token);
            }
            let order = self.get(&order.order_id).await?.ok_or(StoreError::Corrupt(format!(
                "order {} vanished while a link was issued",
                order.order_id
            )))?;
            return Box::pin(self.issue_link_token(&order, now)).await;
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#links", LINK_TOKENS)
            .expression_attribute_names("#new", &hash)
            .expression_attribute_values(":expires", n(expires_at));
        let mut expression = "SET #links.#new = :expires".to_owned();
        let forgotten = forgotten_links(existing, now);
        if !forgotten.is_empty() {
            let paths: Vec<String> = (0..forgotten.len()).map(|i| format!("#links.#old{i}")).collect();
            expression.push_str(&format!(" REMOVE {}", paths.join(", ")));
            for (i, old) in forgotten.into_iter().enumerate() {
                update = update.expression_attribute_names(format!("#old{i}"), old);
            }
        }
        update.update_expression(expression).send().await?;
        Ok(token)
    }
}

/// The attribute holding an order's link tokens.
const LINK_TOKENS: &str = "link_tokens";
/// How long a link opens its order: long enough for the way to the customer and the return
/// window after it.
pub const LINK_TOKEN_SECONDS: i64 = 120 * 86_400;
/// Link tokens an order keeps at most (the newest).
pub const LINK_TOKENS_KEPT: usize = 20;

/// Of an order's link tokens, those the next issue forgets: the expired ones, and the oldest
/// while more than [`LINK_TOKENS_KEPT`] − 1 would be left beside the new one.
fn forgotten_links(existing: &BTreeMap<String, i64>, now: i64) -> Vec<String> {
    let mut live: Vec<(&String, i64)> = Vec::new();
    let mut forgotten = Vec::new();
    for (hash, expires_at) in existing {
        if *expires_at > now {
            live.push((hash, *expires_at));
        } else {
            forgotten.push(hash.clone());
        }
    }
    live.sort_by_key(|(hash, expires_at)| (std::cmp::Reverse(*expires_at), (*hash).clone()));
    forgotten.extend(
        live.into_iter()
            .skip(LINK_TOKENS_KEPT - 1)
            .map(|(hash, _)| hash.clone()),
    );
    forgotten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_forgets_expired_links_and_keeps_the_newest_beside_the_new_one() {
        let now = 1_000_000;
        let mut links: BTreeMap<String, i64> = (0..25).map(|i| (format!("h{i:02}"), now + 10 + i)).collect();
        links.insert("expired".into(), now);
        let forgotten = forgotten_links(&links, now);
        assert!(forgotten.contains(&"expired".to_owned()));
        // 25 live: the 6 oldest go, so 19 stay beside the new one.
        let mut oldest: Vec<String> = (0..6).map(|i| format!("h{i:02}")).collect();
        oldest.insert(0, "expired".into());
        let mut sorted = forgotten.clone();
        sorted.sort();
        oldest.sort();
        assert_eq!(sorted, oldest);
        assert!(forgotten_links(&BTreeMap::from([("a".to_owned(), now + 1)]), now).is_empty());
    }
}
