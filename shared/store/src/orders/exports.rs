//! Orders placed in a span of time, for the accountant's export: one Query per status on
//! `gsi1` (whose sort key is the order's creation time, kept when its status moves), each
//! paged to its end, so no read touches an order placed outside the span.

use crate::dynamo::{self, GSI1, GSI1PK, GSI1SK, StoreError, s};
use crate::orders::{OrderStore, status_partition};
use shop_domain::order::{Order, OrderStatus};

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// More orders than one export carries.
    #[error("more than {0} orders were placed in that span")]
    TooMany(usize),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderStore {
    /// Every order placed from `from` to `to` (unix seconds, both included), oldest first; at
    /// most `most` of them, else [`ExportError::TooMany`].
    pub async fn placed_between(&self, from: i64, to: i64, most: usize) -> Result<Vec<Order>, ExportError> {
        let mut orders = Vec::new();
        for status in OrderStatus::ALL {
            let mut start = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(GSI1)
                    .key_condition_expression("#index = :partition AND #sort BETWEEN :from AND :to")
                    .expression_attribute_names("#index", GSI1PK)
                    .expression_attribute_names("#sort", GSI1SK)
                    .expression_attribute_values(":partition", status_partition(status))
                    // `<created>#<id>`: from the first second's start to past the last second's ids.
                    .expression_attribute_values(":from", s(format!("{from:012}#")))
                    .expression_attribute_values(":to", s(format!("{to:012}#~")))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(StoreError::from)?;
                for item in output.items.unwrap_or_default() {
                    orders.push(dynamo::record::<Order>(item)?);
                }
                if orders.len() > most {
                    return Err(ExportError::TooMany(most));
                }
                start = output.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        orders.sort_by(|a, b| (a.created_at, &a.order_id).cmp(&(b.created_at, &b.order_id)));
        Ok(orders)
    }
}
