//! Returns and exchanges in the table. Each return lives on its order (`returns`, appended with a condition on
//! how many there were, so two requests cannot return the same units) and as
//! `RETURN#<id> / RETURN`, which the merchant's desk lists by state on `gsi1` (`RETURNS#<state>`).
//! Receiving a return marks both, and puts the units back in stock when asked, in one
//! transaction conditional on the return still being `requested`; its refund follows through
//! Stripe and is recorded on the return.
//!
//! An exchange is a return with replacement lines: asking for it also takes the replacement's
//! units from stock in the same transaction, and it leaves the order's status alone (the order
//! goes on, with one more shipment once any difference owed is paid).

use crate::catalog_store::{CatalogError, Page};
use crate::dynamo::{self, GSI1PK, GSI1SK, Item, StoreError, build, key, n, s};
use crate::order_store::{OrderLine, OrderRecord, OrderStore, OrderWriteError, order_key, shortfall, status_partition};
use crate::problem::StockShortfall;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::order::OrderStatus;
use shop_domain::{Cursor, Money, PageLimit, Sku};

/// Where a return is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// The customer asked; the goods are on their way back.
    Requested,
    /// The merchant received the goods; the refund was asked of Stripe.
    Received,
    /// An exchange whose difference was not paid in time: void, its replacement back in stock.
    Cancelled,
}

impl ReturnState {
    /// The word the API and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One return of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// Its id (the customer writes it on the parcel).
    pub return_id: String,
    /// The order.
    pub order_id: String,
    /// What comes back.
    pub lines: Vec<ShipmentLine>,
    /// Why, in the customer's words.
    pub reason: String,
    /// Where it is.
    pub state: ReturnState,
    /// What it refunds (computed when asked, see `shop_domain::returns`).
    pub refund: Money,
    /// Unix seconds.
    pub requested_at: i64,
    /// Unix seconds, once received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
    /// Whether the units went back into stock.
    #[serde(default)]
    pub restocked: bool,
    /// Stripe's refund, once asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// What replaces the returned units, when the return is an exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}

/// How an exchange's difference is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangePayment {
    /// The replacement costs no more than what comes back; any rest is refunded on receipt.
    NotNeeded,
    /// The shopper pays the difference (a PaymentIntent of its own); the replacement waits.
    Awaiting,
    /// The difference is paid.
    Paid,
    /// Not paid within the hold: the exchange was cancelled.
    Expired,
}

impl ExchangePayment {
    /// The word the API and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotNeeded => "not_needed",
            Self::Awaiting => "awaiting",
            Self::Paid => "paid",
            Self::Expired => "expired",
        }
    }
}

/// The replacement side of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The replacement lines, priced when asked.
    pub new_lines: Vec<OrderLine>,
    /// What the replacement costs, tax included (it ships free).
    pub replacement_total: Money,
    /// What the returned units are worth (as a return would refund them).
    pub returned_value: Money,
    /// `replacement_total - returned_value`: above 0 the shopper pays it, below 0 it is refunded
    /// when the return is received.
    pub balance: Money,
    /// Where the difference stands.
    pub payment: ExchangePayment,
    /// The PaymentIntent of the difference, when one is owed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// Unix seconds until which the replacement's stock is held for that payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_by: Option<i64>,
}

impl Exchange {
    /// Whether the replacement may ship: nothing is owed, or it was paid.
    pub fn ships(&self) -> bool {
        matches!(self.payment, ExchangePayment::NotNeeded | ExchangePayment::Paid)
    }
}

impl OrderRecord {
    /// The units the order owes the customer: its lines, and the replacements of exchanges that
    /// may ship.
    pub fn units_owed(&self) -> impl Iterator<Item = (&Sku, u32)> {
        let replacements = self
            .returns
            .iter()
            .filter_map(|r| r.exchange.as_ref())
            .filter(|exchange| exchange.ships())
            .flat_map(|exchange| &exchange.new_lines);
        self.lines
            .iter()
            .chain(replacements)
            .map(|line| (&line.sku, line.quantity))
    }

    /// The exchange `return_id` of the order, if it has one by that id.
    pub fn exchange(&self, return_id: &str) -> Option<&Exchange> {
        self.returns
            .iter()
            .find(|r| r.return_id == return_id)
            .and_then(|r| r.exchange.as_ref())
    }

    /// The line of a SKU on the order or one of its exchanges (its title and options).
    pub fn line_of(&self, sku: &Sku) -> Option<&OrderLine> {
        let replacements = self
            .returns
            .iter()
            .filter_map(|r| r.exchange.as_ref())
            .flat_map(|e| &e.new_lines);
        self.lines.iter().chain(replacements).find(|line| line.sku == *sku)
    }
}

/// Why a return or exchange was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReturnWriteError {
    /// The order changed since it was read (another return, a status change).
    #[error("the order changed meanwhile")]
    Changed,
    /// The replacement lines are short of stock.
    #[error("not enough stock for the replacement")]
    Short(Vec<StockShortfall>),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn return_key(return_id: &str) -> Item {
    key(format!("RETURN#{return_id}"), "RETURN")
}

fn state_partition(state: ReturnState) -> String {
    format!("RETURNS#{}", state.as_str())
}

impl OrderStore {
    /// Records `record` on `order` as it was read; an order that is `shipped` or `delivered`
    /// becomes `return_requested` (an exchange leaves the status alone and takes its
    /// replacement's units from stock). `Changed` when another return was added or the order
    /// moved; `Short` when the replacement is out of stock.
    pub async fn request_return(&self, order: &OrderRecord, record: &ReturnRecord) -> Result<(), ReturnWriteError> {
        let entry = serde_dynamo::to_attribute_value::<_, AttributeValue>(record).map_err(StoreError::from)?;
        let before = order.returns.len();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#returns", "returns")
            .expression_attribute_values(":new", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":current", s(order.status.as_str()));
        let unchanged = if before == 0 {
            "attribute_not_exists(#returns)"
        } else {
            update = update.expression_attribute_values(":count", n(before));
            "size(#returns) = :count"
        };
        update = update.condition_expression(format!("#status = :current AND {unchanged}"));
        let append = "#returns = list_append(if_not_exists(#returns, :empty), :new)";
        let moves = record.exchange.is_none() && matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
        update = if moves {
            update
                .update_expression(format!(
                    "SET {append}, #status = :requested, #index = :index, return_requested_at = :now"
                ))
                .expression_attribute_names("#index", GSI1PK)
                .expression_attribute_values(":requested", s(OrderStatus::ReturnRequested.as_str()))
                .expression_attribute_values(":index", status_partition(OrderStatus::ReturnRequested))
                .expression_attribute_values(":now", n(record.requested_at))
        } else {
            update.update_expression(format!("SET {append}"))
        };
        let mut item: Item = serde_dynamo::to_item(record).map_err(StoreError::from)?;
        item.extend(return_key(&record.return_id));
        item.insert(GSI1PK.to_owned(), s(state_partition(ReturnState::Requested)));
        item.insert(
            GSI1SK.to_owned(),
            s(format!("{:012}#{}", record.requested_at, record.return_id)),
        );
        let mut items = vec![
            TransactWriteItem::builder().update(build(update.build())?).build(),
            self.put_new(item)?,
        ];
        let replacements = record.exchange.as_ref().map_or(&[][..], |e| &e.new_lines[..]);
        for line in replacements {
            items.push(self.take_stock(line)?);
        }
        let Some(reasons) = dynamo::transact(&self.client, items).await? else {
            return Ok(());
        };
        let short: Vec<StockShortfall> = replacements
            .iter()
            .zip(reasons.iter().skip(2))
            .filter(|(_, reason)| dynamo::condition_failed(reason))
            .map(|(line, reason)| shortfall(reason, line.sku.as_str(), line.quantity))
            .collect();
        if short.is_empty() {
            Err(ReturnWriteError::Changed)
        } else {
            Err(ReturnWriteError::Short(short))
        }
    }

    /// Marks the exchange `return_id` of `order` paid by `intent_id` (on the order and on the
    /// return). False when it was not awaiting that payment (paid before, or another intent).
    pub async fn exchange_paid(
        &self,
        order: &OrderRecord,
        return_id: &str,
        intent_id: &str,
    ) -> Result<bool, StoreError> {
        let Some(index) = order.returns.iter().position(|r| r.return_id == return_id) else {
            return Ok(false);
        };
        let path = format!("#returns[{index}].exchange");
        let on_order = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(format!("SET {path}.payment = :paid"))
            .condition_expression(format!(
                "#returns[{index}].return_id = :id AND {path}.payment = :awaiting AND {path}.payment_intent_id = :intent"
            ))
            .expression_attribute_names("#returns", "returns")
            .expression_attribute_values(":id", s(return_id))
            .expression_attribute_values(":intent", s(intent_id))
            .expression_attribute_values(":awaiting", s(ExchangePayment::Awaiting.as_str()))
            .expression_attribute_values(":paid", s(ExchangePayment::Paid.as_str()));
        let on_return = Update::builder()
            .table_name(&self.table)
            .set_key(Some(return_key(return_id)))
            .update_expression("SET exchange.payment = :paid")
            .expression_attribute_values(":paid", s(ExchangePayment::Paid.as_str()));
        let items = vec![
            TransactWriteItem::builder().update(build(on_order.build())?).build(),
            TransactWriteItem::builder().update(build(on_return.build())?).build(),
        ];
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }

    /// Cancels the unpaid exchange `return_id` of `order`: the exchange `expired` and its return
    /// `cancelled` (on the order and on the return), the replacement's units back in stock, all
    /// or nothing. False when it was not awaiting its payment any more (paid, or expired before).
    pub async fn expire_exchange(&self, order: &OrderRecord, return_id: &str) -> Result<bool, StoreError> {
        let Some((index, record)) = order.returns.iter().enumerate().find(|(_, r)| r.return_id == return_id) else {
            return Ok(false);
        };
        let Some(exchange) = &record.exchange else {
            return Ok(false);
        };
        let path = format!("#returns[{index}]");
        let on_order = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(format!(
                "SET {path}.exchange.payment = :expired, {path}.#state = :cancelled"
            ))
            .condition_expression(format!(
                "{path}.return_id = :id AND {path}.exchange.payment = :awaiting"
            ))
            .expression_attribute_names("#returns", "returns")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":id", s(return_id))
            .expression_attribute_values(":awaiting", s(ExchangePayment::Awaiting.as_str()))
            .expression_attribute_values(":expired", s(ExchangePayment::Expired.as_str()))
            .expression_attribute_values(":cancelled", s(ReturnState::Cancelled.as_str()));
        let on_return = Update::builder()
            .table_name(&self.table)
            .set_key(Some(return_key(return_id)))
            .update_expression("SET exchange.payment = :expired, #state = :cancelled, #index = :index")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":expired", s(ExchangePayment::Expired.as_str()))
            .expression_attribute_values(":cancelled", s(ReturnState::Cancelled.as_str()))
            .expression_attribute_values(":index", s(state_partition(ReturnState::Cancelled)));
        let mut items = vec![
            TransactWriteItem::builder().update(build(on_order.build())?).build(),
            TransactWriteItem::builder().update(build(on_return.build())?).build(),
        ];
        for line in &exchange.new_lines {
            items.push(self.stock_change(line, "ADD #available :q", "attribute_exists(#pk)")?);
        }
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }

    /// A return by id, with its order's id.
    pub async fn return_record(&self, return_id: &str) -> Result<Option<ReturnRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, return_key(return_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// Returns in `state`, oldest first: one Query on `gsi1`.
    pub async fn returns_in(
        &self,
        state: ReturnState,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ReturnRecord>, CatalogError> {
        let partition = state_partition(state);
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, &partition, limit, cursor, true).await?;
        let items = items
            .into_iter()
            .map(dynamo::record)
            .collect::<Result<Vec<ReturnRecord>, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Marks the return at `index` of `order` received (and the order `returned` when it was
    /// `return_requested`), putting its units back in stock when `restock`, all or nothing.
    /// `Changed` when it was received meanwhile.
    pub async fn receive_return(
        &self,
        order: &OrderRecord,
        index: usize,
        restock: bool,
        now: i64,
    ) -> Result<(), OrderWriteError> {
        let record = order.returns.get(index).ok_or(OrderWriteError::Changed)?;
        let path = format!("#returns[{index}]");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .condition_expression(format!("{path}.return_id = :id AND {path}.#state = :requested"))
            .expression_attribute_names("#returns", "returns")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":id", s(&record.return_id))
            .expression_attribute_values(":requested", s(ReturnState::Requested.as_str()))
            .expression_attribute_values(":received", s(ReturnState::Received.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":restocked", AttributeValue::Bool(restock));
        let set = format!("{path}.#state = :received, {path}.received_at = :now, {path}.restocked = :restocked");
        update = if order.status == OrderStatus::ReturnRequested {
            update
                .update_expression(format!(
                    "SET {set}, #status = :returned, #index = :index, returned_at = :now"
                ))
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#index", GSI1PK)
                .expression_attribute_values(":returned", s(OrderStatus::Returned.as_str()))
                .expression_attribute_values(":index", status_partition(OrderStatus::Returned))
        } else {
            update.update_expression(format!("SET {set}"))
        };
        let mut items = vec![TransactWriteItem::builder().update(build(update.build())?).build()];
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(return_key(&record.return_id)))
            .update_expression("SET #state = :received, received_at = :now, restocked = :restocked, #index = :index")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#index", GSI1PK)
            .expression_attribute_values(":received", s(ReturnState::Received.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":restocked", AttributeValue::Bool(restock))
            .expression_attribute_values(":index", s(state_partition(ReturnState::Received)));
        items.push(TransactWriteItem::builder().update(build(mark.build())?).build());
        if restock {
            for line in &record.lines {
                let Some(ordered) = order.lines.iter().find(|l| l.sku == line.sku) else {
                    continue;
                };
                let mut back = ordered.clone();
                back.quantity = line.quantity;
                items.push(self.stock_change(&back, "ADD #available :q", "attribute_exists(#pk)")?);
            }
        }
        match dynamo::transact(&self.client, items).await? {
            None => Ok(()),
            Some(_) => Err(OrderWriteError::Changed),
        }
    }

    /// Records Stripe's refund of a received return, on the return and on its order.
    pub async fn return_refunded(
        &self,
        order: &OrderRecord,
        index: usize,
        return_id: &str,
        refund_id: &str,
    ) -> Result<(), StoreError> {
        let on_order = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(format!("SET #returns[{index}].refund_id = :refund"))
            .condition_expression(format!("#returns[{index}].return_id = :id"))
            .expression_attribute_names("#returns", "returns")
            .expression_attribute_values(":refund", s(refund_id))
            .expression_attribute_values(":id", s(return_id));
        let on_return = Update::builder()
            .table_name(&self.table)
            .set_key(Some(return_key(return_id)))
            .update_expression("SET refund_id = :refund")
            .expression_attribute_values(":refund", s(refund_id));
        let items = vec![
            TransactWriteItem::builder().update(build(on_order.build())?).build(),
            TransactWriteItem::builder().update(build(on_return.build())?).build(),
        ];
        dynamo::transact(&self.client, items).await?;
        Ok(())
    }
}
