//! The merchant's refunds on the order item: each appended once (by Stripe's refund id, kept
//! in a string set beside the list), and the refund's move of the order's status, a
//! conditional write on the status it was read in.

use crate::dynamo::{self, StoreError, s};
use crate::orders::{OrderStore, order_key};
use aws_sdk_dynamodb::types::AttributeValue;
use shop_domain::order::OrderStatus;
use shop_domain::refunds::MerchantRefund;

impl OrderStore {
    /// Appends `refund` to the order's merchant refunds, unless a refund with its Stripe id is
    /// there already (a retried request): true when this call added it.
    pub async fn add_merchant_refund(&self, order_id: &str, refund: &MerchantRefund) -> Result<bool, StoreError> {
        let entry = serde_dynamo::to_attribute_value::<_, AttributeValue>(refund)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET #refunds = list_append(if_not_exists(#refunds, :empty), :new) ADD #ids :id")
            .condition_expression("attribute_exists(#pk) AND NOT contains(#ids, :refund_id)")
            .expression_attribute_names("#pk", dynamo::PK)
            .expression_attribute_names("#refunds", "merchant_refunds")
            .expression_attribute_names("#ids", "merchant_refund_ids")
            .expression_attribute_values(":new", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":id", AttributeValue::Ss(vec![refund.refund_id.clone()]))
            .expression_attribute_values(":refund_id", s(&refund.refund_id))
            .send()
            .await;
        dynamo::conditional(result)
    }

    /// `from → to` (with `<to>_at`), when the order is still `from`: false when it moved meanwhile.
    pub async fn move_status(
        &self,
        order_id: &str,
        from: OrderStatus,
        to: OrderStatus,
        now: i64,
    ) -> Result<bool, StoreError> {
        let items = vec![self.status_update(order_id, from, to, None, now)?];
        Ok(dynamo::transact(&self.client, items).await?.is_none())
    }
}
