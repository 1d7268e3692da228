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

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, StoreError, build, key, n, s};
use crate::dynamo::{ListError, Page};
use crate::orders::{OrderStore, OrderWriteError, order_key, shortfall, status_partition};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use shop_domain::cart::StockShortfall;
use shop_domain::order::Order;
use shop_domain::order::{OrderEvent, Transition};
use shop_domain::returns::{ExchangePayment, ReturnRecord, ReturnState};
use shop_domain::{Cursor, PageLimit};

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
    pub async fn request_return(&self, order: &Order, record: &ReturnRecord) -> Result<(), ReturnWriteError> {
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
        // A return moves the order on; an exchange leaves it where it is.
        let moves = match order.status.on(OrderEvent::ReturnRequested) {
            Transition::To(to) if record.exchange.is_none() => Some(to),
            _ => None,
        };
        update = if let Some(to) = moves {
            update
                .update_expression(format!(
                    "SET {append}, #status = :requested, #index = :index, {}_at = :now",
                    to.as_str()
                ))
                .expression_attribute_names("#index", GSI1PK)
                .expression_attribute_values(":requested", s(to.as_str()))
                .expression_attribute_values(":index", status_partition(to))
                .expression_attribute_values(":now", n(record.requested_at))
        } else {
            update.update_expression(format!("SET {append}"))
        };
        let mut item: Item = serde_dynamo::to_item(record).map_err(StoreError::from)?;
        item.extend(return_key(&record.return_id));
        item.insert(GSI1PK.to_owned(), s(state_partition(ReturnState::Requested)));
        item.insert(
            GSI1SK.to_owned(),
            dynamo::time_key(record.requested_at, &record.return_id),
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
    pub async fn exchange_paid(&self, order: &Order, return_id: &str, intent_id: &str) -> Result<bool, StoreError> {
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
    pub async fn expire_exchange(&self, order: &Order, return_id: &str) -> Result<bool, StoreError> {
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

    /// The exchanges still waiting for their difference whose hold ended before `before` (the
    /// message that ends it was lost), oldest first, at most `limit`: Queries of `gsi1` of the
    /// returns requested before then.
    pub async fn exchanges_unpaid_before(&self, before: i64, limit: usize) -> Result<Vec<ReturnRecord>, StoreError> {
        let partition = state_partition(ReturnState::Requested);
        let query = dynamo::index_before(&self.client, &self.table, &partition, before)
            .filter_expression("#exchange.payment = :awaiting AND #exchange.pay_by < :at")
            .expression_attribute_names("#exchange", "exchange")
            .expression_attribute_values(":awaiting", s(ExchangePayment::Awaiting.as_str()))
            .expression_attribute_values(":at", n(before));
        dynamo::older_records(query, limit).await
    }

    /// A return by id, with its order's id.
    pub async fn return_record(&self, return_id: &str) -> Result<Option<ReturnRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, return_key(return_id)).await?;
        item.map(dynamo::record).transpose()
    }

    /// How many returns are in `state`, counting at most `cap`, and whether more are: one Query.
    pub async fn count_returns(&self, state: ReturnState, cap: i32) -> Result<(u32, bool), StoreError> {
        dynamo::index_count(&self.client, &self.table, &state_partition(state), cap).await
    }

    /// Returns in `state`, oldest first: one Query on `gsi1`.
    pub async fn returns_in(
        &self,
        state: ReturnState,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ReturnRecord>, ListError> {
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
        order: &Order,
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
        update = if let Transition::To(to) = order.status.on(OrderEvent::ReturnReceived) {
            update
                .update_expression(format!(
                    "SET {set}, #status = :returned, #index = :index, {}_at = :now",
                    to.as_str()
                ))
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#index", GSI1PK)
                .expression_attribute_values(":returned", s(to.as_str()))
                .expression_attribute_values(":index", status_partition(to))
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

    /// Records Stripe's refund of a received return, on the return and on its order, once: false
    /// when a concurrent receipt recorded it first.
    pub async fn return_refunded(
        &self,
        order: &Order,
        index: usize,
        return_id: &str,
        refund_id: &str,
    ) -> Result<bool, StoreError> {
        let on_order = Update::builder()
            .table_name(&self.table)
            .set_key(Some(order_key(&order.order_id)))
            .update_expression(format!("SET #returns[{index}].refund_id = :refund"))
            .condition_expression(format!(
                "#returns[{index}].return_id = :id AND attribute_not_exists(#returns[{index}].refund_id)"
            ))
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
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }
}
