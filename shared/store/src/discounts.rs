//! Discount codes in the shop's table: `DISCOUNT#CODE / DISCOUNT` with the merchant's rule and
//! a redemption counter (raised by checkout, atomically with the order), listed via `gsi1`.

use crate::dynamo::{self, GSI1PK, GSI1SK, Item, StoreError, key, s};
use crate::dynamo::{ListError, Page};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use shop_domain::pricing::DiscountCode;
use shop_domain::pricing::DiscountRule;
use shop_domain::{Cursor, PageLimit};

const DISCOUNTS: &str = "DISCOUNTS";

/// A discount code with its rule and how often orders used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountRecord {
    /// The code.
    pub code: DiscountCode,
    /// The merchant's rule.
    pub rule: DiscountRule,
    /// Orders that used it.
    #[serde(default)]
    pub redemptions: u32,
}

/// The key of a code's item.
pub fn discount_key(code: &DiscountCode) -> Item {
    key(format!("DISCOUNT#{code}"), "DISCOUNT")
}

/// Reads a discount item.
pub fn discount_from_item(item: Item) -> Result<DiscountRecord, StoreError> {
    dynamo::record(item)
}

/// The discount adapter.
#[derive(Debug, Clone)]
pub struct DiscountStore {
    client: Client,
    table: String,
}

impl DiscountStore {
    /// Discount codes in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates or replaces a code's rule, keeping its redemption count. True when it is new.
    pub async fn put(&self, code: &DiscountCode, rule: &DiscountRule, now: i64) -> Result<bool, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(discount_key(code)))
            .update_expression(
                "SET #code = :code, #rule = :rule, #redemptions = if_not_exists(#redemptions, :zero), \
                 #gpk = :discounts, #gsk = :code, #updated = :now",
            )
            .expression_attribute_names("#code", "code")
            .expression_attribute_names("#rule", "rule")
            .expression_attribute_names("#redemptions", "redemptions")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_names("#gsk", GSI1SK)
            .expression_attribute_values(":code", s(code.as_str()))
            .expression_attribute_values(":rule", serde_dynamo::to_attribute_value(rule)?)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":discounts", s(DISCOUNTS))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await?;
        Ok(output.attributes.is_none_or(|old| !old.contains_key("code")))
    }

    /// One code, if it exists.
    pub async fn get(&self, code: &DiscountCode) -> Result<Option<DiscountRecord>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, discount_key(code)).await?;
        item.map(discount_from_item).transpose()
    }

    /// A page of codes, in code order.
    pub async fn list(&self, limit: PageLimit, cursor: Option<&Cursor>) -> Result<Page<DiscountRecord>, ListError> {
        let (items, next_cursor) =
            dynamo::index_page(&self.client, &self.table, DISCOUNTS, limit, cursor, true).await?;
        let items = items
            .into_iter()
            .map(discount_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
