//! Orders in the shop's table, and the one transaction that turns a cart into an order; what
//! happens to an order later is in the submodules: the payment's events (`events`), packing and
//! shipping (`fulfillment`), returns and exchanges (`returns`), the customer's own index
//! (`customers`), the merchant's refunds (`refunds`), the orders waiting for the merchant's
//! review (`reviews`) and the accountant's export (`exports`).
//!
//! `ORDER#id / ORDER` holds the order; `IDEMPOTENCY#key / RECORD` the checkout's idempotency
//! record (24 h TTL); `DISCOUNT#CODE / REDEEMED#email-hash` marks a once-per-customer code as used.
//! Checkout writes, in one `TransactWriteItems`: the shopper's rate counters (holds per mailbox
//! and per source, see [`crate::rate_limits`]), the order, a conditional decrement of every
//! line's stock (`available >= :q`), the discount's redemption count within its limit, the
//! customer's redemption mark, the cart marked checked out, and the idempotency record. When the
//! transaction is cancelled, nothing is written and the reasons say which condition failed: a
//! checkout over a limit counts nowhere and holds nothing, and a limited checkout costs no
//! request more than an unlimited one.

use crate::carts::cart_key;
use crate::catalog::variant_key;
use crate::discounts::discount_key;
use crate::dynamo::{self, GSI1PK, GSI1SK, Item, PK, StoreError, build, key, n, s};
use crate::rate_limits::{self, Counted, Limited};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use shop_domain::Sku;
use shop_domain::cart::Cart;
use shop_domain::cart::StockShortfall;
use shop_domain::line::OrderLine;
use shop_domain::order::{Email, Order, OrderStatus};
use shop_domain::pricing::DiscountCode;
use shop_platform::metrics;

pub mod customers;
pub mod events;
pub mod exports;
pub mod fulfillment;
pub mod refunds;
pub mod returns;
pub mod reviews;

/// Seconds an idempotency record is kept.
pub const IDEMPOTENCY_TTL: i64 = 24 * 3600;

/// A checkout's idempotency record: which order a key made, and the answer once complete.
/// It keeps no token: a replay must prove the cart's token again, and is given an order token
/// of its own (a link token, see [`OrderStore::issue_link_token`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of the request body, to refuse the same key with another body.
    pub fingerprint: String,
    /// The order the key made.
    pub order_id: String,
    /// SHA-256 of the token of the cart checked out, which a replay must present.
    #[serde(default)]
    pub cart_token_hash: String,
    /// The answer once the checkout completed, without its `order_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// Why the checkout transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// Lines short of stock.
    #[error("not enough stock")]
    Short(Vec<StockShortfall>),
    /// The code's last redemption went to someone else.
    #[error("the discount code is used up")]
    DiscountExhausted,
    /// This customer already used the code.
    #[error("the discount code was already used by this customer")]
    DiscountAlreadyUsed,
    /// The cart is no longer open (checked out meanwhile, or the token changed).
    #[error("the cart is no longer open")]
    CartClosed,
    /// The cart changed after it was priced: price it again.
    #[error("the cart changed while it was checked out")]
    CartChanged,
    /// Another request with the same idempotency key got there first.
    #[error("the idempotency key is taken")]
    KeyTaken,
    /// The shopper started too many holds: one of the counted limits is full.
    #[error("too many checkouts")]
    Limited(Limited),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Slot {
    Counter,
    Order,
    Stock { sku: Sku, requested: u32 },
    Discount,
    CustomerMark,
    Cart,
    CustomerIndex,
    Idempotency,
}

/// Why a write conditional on the order as it was read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OrderWriteError {
    /// The order changed since it was read (another shipment or return, another status).
    #[error("the order changed; read it and try again")]
    Changed,
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The order adapter.
#[derive(Debug, Clone)]
pub struct OrderStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

pub(crate) fn order_key(order_id: &str) -> Item {
    key(format!("ORDER#{order_id}"), "ORDER")
}

/// The `gsi1` partition of the orders in `status`: the merchant's desk lists each status newest
/// first. Every write that sets an order's status sets this with it.
pub(crate) fn status_partition(status: OrderStatus) -> AttributeValue {
    s(format!("ORDERS#{}", status.as_str()))
}

/// The `gsi1` sort key of an order: its creation time (fixed width, so it sorts), then its id.
fn status_sort_key(created_at: i64, order_id: &str) -> AttributeValue {
    dynamo::time_key(created_at, order_id)
}

/// How the shop refers to a customer where their address should not appear (a queue message,
/// a key): a hash of the address.
pub fn customer_ref(email: &Email) -> String {
    shop_platform::secrets::token_hash(email.as_str())
}

fn customer_partition(email: &Email) -> String {
    format!("CUSTOMER#{}", customer_ref(email))
}

/// The customer index item of one order.
pub(crate) fn customer_order_key(email: &Email, created_at: i64, order_id: &str) -> Item {
    key(customer_partition(email), format!("ORDER#{created_at:012}#{order_id}"))
}

fn payment_key(intent_id: &str) -> Item {
    key(format!("PAYMENT#{intent_id}"), "PAYMENT")
}

fn idempotency_key(key_text: &str) -> Item {
    key(format!("IDEMPOTENCY#{key_text}"), "RECORD")
}

fn customer_mark_key(code: &DiscountCode, email: &Email) -> Item {
    key(
        format!("DISCOUNT#{code}"),
        format!("REDEEMED#{}", shop_platform::secrets::token_hash(email.as_str())),
    )
}

/// What a [`OrderStore::take_stock`] item that failed says: the units asked for and the units
/// there were.
pub(crate) fn shortfall(
    reason: &aws_sdk_dynamodb::types::CancellationReason,
    sku: &str,
    requested: u32,
) -> StockShortfall {
    let available = reason
        .item
        .as_ref()
        .and_then(|item| item.get("available"))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    StockShortfall {
        sku: sku.to_owned(),
        requested,
        available,
    }
}

impl OrderStore {
    /// Orders in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The idempotency record of a key, if any (strongly consistent).
    pub async fn idempotency(&self, key_text: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, idempotency_key(key_text)).await?;
        item.map(dynamo::record).transpose()
    }

    /// An order by id (strongly consistent).
    pub async fn get(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, order_key(order_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// A transaction item that takes a line's units from its variant's stock, failing (and
    /// reporting the stock there is) when fewer are available.
    pub(crate) fn take_stock(&self, line: &OrderLine) -> Result<TransactWriteItem, StoreError> {
        let condition = "attribute_exists(#pk) AND #available >= :q";
        self.stock_change(line, "SET #available = #available - :q", condition)
    }

    pub(crate) fn stock_change(
        &self,
        line: &OrderLine,
        change: &str,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(variant_key(&line.product_id, &line.sku)))
            .update_expression(change)
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#available", "available")
            .expression_attribute_values(":q", n(line.quantity))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        Ok(TransactWriteItem::builder().update(build(update.build())?).build())
    }

    /// A transaction item that creates `item`, failing if an item with its key exists.
    pub(crate) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        Ok(TransactWriteItem::builder().put(build(put.build())?).build())
    }

    /// Writes the order and reserves its stock, counted against every limit in `counted`, all
    /// or nothing (see the module notes).
    pub async fn reserve(
        &self,
        order: &Order,
        cart: &Cart,
        idempotency_key_text: &str,
        record: &IdempotencyRecord,
        counted: &[Counted],
        now: i64,
    ) -> Result<(), ReserveError> {
        let mut slots = Vec::new();
        // The counters first: [`rate_limits::refusal`] reads their reasons by position.
        let mut items = counted
            .iter()
            .map(|count| count.counter(&self.table, now))
            .collect::<Result<Vec<_>, _>>()?;
        slots.extend(counted.iter().map(|_| Slot::Counter));

        let mut order_item: Item = serde_dynamo::to_item(order).map_err(StoreError::from)?;
        order_item.extend(order_key(&order.order_id));
        order_item.insert(GSI1PK.to_owned(), status_partition(order.status));
        order_item.insert(GSI1SK.to_owned(), status_sort_key(order.created_at, &order.order_id));
        items.push(self.put_new(order_item)?);
        slots.push(Slot::Order);

        for line in &order.lines {
            items.push(self.take_stock(line)?);
            slots.push(Slot::Stock {
                sku: line.sku.clone(),
                requested: line.quantity,
            });
        }

        if let Some(discount) = &order.discount {
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(discount_key(&discount.code)))
                .update_expression("ADD #redemptions :one")
                .expression_attribute_names("#redemptions", "redemptions")
                .expression_attribute_values(":one", n(1));
            update = match discount.limited {
                Some(max) => update
                    .condition_expression("attribute_exists(#pk) AND #redemptions < :max")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":max", n(max)),
                None => update
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
            };
            items.push(TransactWriteItem::builder().update(build(update.build())?).build());
            slots.push(Slot::Discount);
            if discount.once_per_customer {
                let mut mark = customer_mark_key(&discount.code, &order.email);
                mark.insert("order_id".to_owned(), s(&order.order_id));
                items.push(self.put_new(mark)?);
                slots.push(Slot::CustomerMark);
            }
        }

        // The cart as it was priced: open, its token, and no change since (its version).
        let mut cart_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(cart_key(&cart.cart_id)))
            .update_expression("SET #status = :checked_out, order_id = :order, #updated = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#hash", "token_hash")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":checked_out", s("checked_out"))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":order", s(&order.order_id))
            .expression_attribute_values(":hash", s(&cart.token_hash))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let unchanged = match cart.version {
            Some(version) => {
                cart_update = cart_update.expression_attribute_values(":version", n(version));
                "#version = :version"
            }
            None => "attribute_not_exists(#version)",
        };
        cart_update = cart_update.condition_expression(format!("#hash = :hash AND #status = :open AND {unchanged}"));
        items.push(TransactWriteItem::builder().update(build(cart_update.build())?).build());
        slots.push(Slot::Cart);

        // The customer's index of orders (lookup by email): written with the order, not checked.
        let mut mine = customer_order_key(&order.email, order.created_at, &order.order_id);
        mine.insert("order_id".to_owned(), s(&order.order_id));
        let put = Put::builder().table_name(&self.table).set_item(Some(mine));
        items.push(TransactWriteItem::builder().put(build(put.build())?).build());
        slots.push(Slot::CustomerIndex);

        let mut record_item: Item = serde_dynamo::to_item(record).map_err(StoreError::from)?;
        record_item.extend(idempotency_key(idempotency_key_text));
        record_item.insert("ttl".to_owned(), n(now + IDEMPOTENCY_TTL));
        items.push(self.put_new(record_item)?);
        slots.push(Slot::Idempotency);

        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(());
        };
        // The key's own request answers a replay, whatever else failed; then a full limit, so a
        // limited shopper learns nothing of the stock.
        let key_taken = slots
            .iter()
            .zip(&reasons)
            .any(|(slot, reason)| matches!(slot, Slot::Idempotency) && dynamo::condition_failed(reason));
        if key_taken {
            return Err(ReserveError::KeyTaken);
        }
        if let Some(limited) = rate_limits::refusal(counted, &reasons, now) {
            return Err(ReserveError::Limited(limited));
        }
        let mut short = Vec::new();
        let mut other = None;
        for (slot, reason) in slots.iter().zip(&reasons) {
            if !dynamo::condition_failed(reason) {
                continue;
            }
            match slot {
                Slot::Stock { sku, requested } => short.push(shortfall(reason, sku.as_str(), *requested)),
                Slot::Discount => other = other.or(Some(ReserveError::DiscountExhausted)),
                Slot::CustomerMark => other = other.or(Some(ReserveError::DiscountAlreadyUsed)),
                Slot::Cart => {
                    // Still open: it changed after it was priced. Otherwise it is an order now.
                    let open = reason.item.as_ref().and_then(|item| dynamo::get_s(item, "status")) == Some("open");
                    let refusal = if open {
                        ReserveError::CartChanged
                    } else {
                        ReserveError::CartClosed
                    };
                    other = other.or(Some(refusal));
                }
                Slot::Idempotency => return Err(ReserveError::KeyTaken),
                Slot::Counter | Slot::CustomerIndex => {}
                Slot::Order => {
                    other = other.or(Some(ReserveError::Store(StoreError::Failed(
                        "order id collision".into(),
                    ))))
                }
            }
        }
        if !short.is_empty() {
            return Err(ReserveError::Short(short));
        }
        Err(other.unwrap_or_else(|| {
            ReserveError::Store(StoreError::Unavailable(format!(
                "the checkout transaction was cancelled: {}",
                reasons
                    .iter()
                    .filter_map(|r| r.code.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }))
    }

    /// The order a PaymentIntent pays for, if it is one of the shop's.
    pub async fn order_id_by_intent(&self, intent_id: &str) -> Result<Option<String>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, payment_key(intent_id)).await?;
        Ok(item
            .as_ref()
            .and_then(|i| dynamo::get_s(i, "order_id"))
            .map(str::to_owned))
    }

    /// Records the PaymentIntent on the order (and the intent's owner) and the answer on the
    /// idempotency record.
    pub async fn complete(
        &self,
        order_id: &str,
        intent_id: &str,
        idempotency_key_text: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET payment_intent_id = :intent")
            .expression_attribute_values(":intent", s(intent_id))
            .send()
            .await?;
        // Charges and refunds name the PaymentIntent, not the order: remember whose it is.
        let mut payment = payment_key(intent_id);
        payment.insert("order_id".to_owned(), s(order_id));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(payment))
            .send()
            .await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(idempotency_key_text)))
            .update_expression("SET #response = if_not_exists(#response, :response)")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":response", s(response))
            .send()
            .await?;
        Ok(())
    }

    /// Ends an unpaid order's hold (`reason`: `reservation_expired`, `payment_canceled`): `pending_payment` becomes `cancelled` and its stock,
    /// redemption and customer mark are given back, all or nothing. False when the order was no
    /// longer pending (paid or already released): then nothing changes.
    pub async fn release(&self, order: &Order, now: i64, reason: &str) -> Result<bool, StoreError> {
        let mut items = Vec::new();
        let cancel = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(
                "SET #status = :cancelled, #index = :index, cancelled_at = :now, cancel_reason = :reason",
            )
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":index", status_partition(OrderStatus::Cancelled))
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(":pending", s(OrderStatus::PendingPayment.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now));
        items.push(TransactWriteItem::builder().update(build(cancel.build())?).build());
        for line in &order.lines {
            items.push(self.stock_change(line, "ADD #available :q", "attribute_exists(#pk)")?);
        }
        if let Some(discount) = &order.discount {
            let uncount = Update::builder()
                .table_name(&self.table)
                .set_key(Some(discount_key(&discount.code)))
                .update_expression("ADD #redemptions :minus_one")
                .expression_attribute_names("#redemptions", "redemptions")
                .expression_attribute_values(":minus_one", n(-1));
            items.push(TransactWriteItem::builder().update(build(uncount.build())?).build());
            if discount.once_per_customer {
                let delete = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(customer_mark_key(&discount.code, &order.email)));
                items.push(TransactWriteItem::builder().delete(build(delete.build())?).build());
            }
        }
        // The only condition that can fail is the order's status: it is no longer pending.
        let released = dynamo::transact(&self.client, items).await?.is_none();
        if released {
            metrics::cancelled(&order.order_id, reason);
        }
        Ok(released)
    }
}
