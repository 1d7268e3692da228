//! Carts in the shop's table: one item per cart, `CART#id / CART`, its lines a map keyed by
//! SKU. A line change is one `UpdateItem` on one map entry, so changes to different lines made
//! at the same time all land, and two changes to the same line leave one of them whole. Every
//! write is conditional on the token hash and the cart being open and unexpired, and slides the
//! expiry (`ttl`) forward.

use crate::catalog::{claim_owner, product_key, sku_claim_key, variant_key};
use crate::discounts::{DiscountRecord, discount_from_item, discount_key};
use crate::dynamo::{self, Item, PK, SK, StoreError, get_s, key, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use shop_domain::cart::{Cart, CartLine, Destination};
use shop_domain::line::VariantView;
use shop_domain::pricing::DiscountCode;
use shop_domain::{CategorySlug, ProductId, ProductStatus, Sku};
use std::collections::HashMap;

const CART_SK: &str = "CART";

/// What pricing a cart needs from the catalog, read in one batch.
#[derive(Debug, Clone, Default)]
pub struct PricingInputs {
    /// Variants by SKU; a SKU missing here is no longer sold.
    pub variants: HashMap<String, VariantView>,
    /// The applied discount code, if it still exists.
    pub discount: Option<DiscountRecord>,
}

/// A change to one cart field.
#[derive(Debug, Clone)]
pub enum CartChange {
    /// Set or remove one line.
    Line {
        /// The line's SKU.
        sku: Sku,
        /// The new line, or `None` to remove it.
        line: Option<CartLine>,
    },
    /// Apply or remove the discount code.
    Discount(Option<DiscountCode>),
    /// Set the destination and chosen shipping method.
    Shipping {
        /// Where it ships.
        destination: Destination,
        /// The method chosen, if any.
        method: Option<String>,
    },
}

/// A failed cart write.
#[derive(Debug, thiserror::Error)]
pub enum CartWriteError {
    /// The cart does not exist, the token does not match, or it expired.
    #[error("the cart is gone")]
    Gone,
    /// The cart became an order (a checkout finished after the change read it).
    #[error("the cart was checked out")]
    CheckedOut,
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CartWriteError> for shop_platform::ApiError {
    fn from(error: CartWriteError) -> Self {
        match error {
            // Indistinguishable on purpose from a cart that never existed.
            CartWriteError::Gone => Self::NotFound { what: "cart" },
            CartWriteError::CheckedOut => checked_out(),
            CartWriteError::Store(error) => error.into(),
        }
    }
}

/// The cart adapter.
#[derive(Debug, Clone)]
pub struct CartStore {
    client: Client,
    table: String,
}

impl CartStore {
    /// Carts in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Stores a new cart.
    pub async fn create(&self, cart: &Cart) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(cart)?;
        item.extend(key(cart_pk(&cart.cart_id), CART_SK));
        item.insert("ttl".to_owned(), AttributeValue::N(cart.expires_at.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await?;
        Ok(())
    }

    /// A cart by id (one strongly consistent GetItem).
    pub async fn get(&self, cart_id: &str) -> Result<Option<Cart>, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, key(cart_pk(cart_id), CART_SK)).await?;
        item.map(dynamo::record).transpose()
    }

    /// A cart by id and the product that owns `sku`, in one strongly consistent BatchGetItem:
    /// what setting a line needs before it is priced, where the SKU may be new to the cart.
    pub async fn get_with_sku_owner(
        &self,
        cart_id: &str,
        sku: &Sku,
    ) -> Result<(Option<Cart>, Option<ProductId>), StoreError> {
        let cart_key = key(cart_pk(cart_id), CART_SK);
        let keys = vec![cart_key.clone(), sku_claim_key(sku)];
        let (mut cart, mut owner) = (None, None);
        for item in dynamo::get_batch_consistent(&self.client, &self.table, keys).await? {
            if get_s(&item, PK) == get_s(&cart_key, PK) {
                cart = Some(dynamo::record(item)?);
            } else {
                owner = claim_owner(&item)?;
            }
        }
        Ok((cart, owner))
    }

    /// Applies one change to an open, unexpired cart whose token hash is `token_hash`, slides
    /// its expiry to `expires_at`, and answers the cart as it is after the change.
    pub async fn change(
        &self,
        cart_id: &str,
        token_hash: &str,
        change: CartChange,
        now: i64,
        expires_at: i64,
    ) -> Result<Cart, CartWriteError> {
        let mut sets = vec!["#updated = :now", "#expires = :expires", "#ttl = :expires"];
        let count = " ADD #version :one";
        let mut removes = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(cart_pk(cart_id), CART_SK)))
            .condition_expression("#hash = :hash AND #status = :open AND #expires > :now")
            .expression_attribute_names("#hash", "token_hash")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#expires", "expires_at")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match change {
            CartChange::Line { sku, line } => {
                update = update
                    .expression_attribute_names("#lines", "lines")
                    .expression_attribute_names("#sku", sku.as_str());
                match line {
                    Some(line) => {
                        sets.push("#lines.#sku = :line");
                        update = update.expression_attribute_values(
                            ":line",
                            serde_dynamo::to_attribute_value(&line).map_err(StoreError::from)?,
                        );
                    }
                    None => removes.push("#lines.#sku"),
                }
            }
            CartChange::Discount(Some(code)) => {
                sets.push("#discount = :code");
                update = update
                    .expression_attribute_names("#discount", "discount_code")
                    .expression_attribute_values(":code", s(code.as_str()));
            }
            CartChange::Discount(None) => {
                removes.push("#discount");
                update = update.expression_attribute_names("#discount", "discount_code");
            }
            CartChange::Shipping { destination, method } => {
                sets.push("#destination = :destination");
                update = update.expression_attribute_names("#destination", "destination");
                update = update.expression_attribute_names("#method", "shipping_method");
                update = update.expression_attribute_values(
                    ":destination",
                    serde_dynamo::to_attribute_value(&destination).map_err(StoreError::from)?,
                );
                match method {
                    Some(method) => {
                        sets.push("#method = :method");
                        update = update.expression_attribute_values(":method", s(method));
                    }
                    None => removes.push("#method"),
                }
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        expression.push_str(count);
        match update.update_expression(expression).send().await {
            Ok(output) => Ok(dynamo::record(output.attributes.unwrap_or_default())?),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    // A cart its token opens that is no longer open became an order meanwhile.
                    let was = refused.item();
                    let own = was.and_then(|item| get_s(item, "token_hash")) == Some(token_hash);
                    let closed = was.and_then(|item| get_s(item, "status")) == Some("checked_out");
                    Err(if own && closed {
                        CartWriteError::CheckedOut
                    } else {
                        CartWriteError::Gone
                    })
                }
                _ => Err(StoreError::from(error).into()),
            },
        }
    }

    /// The catalog entries of these lines and the discount code, in one batch read.
    pub async fn pricing_inputs(
        &self,
        lines: &[(ProductId, Sku)],
        discount: Option<&DiscountCode>,
    ) -> Result<PricingInputs, StoreError> {
        let mut keys: Vec<Item> = Vec::new();
        for (product_id, sku) in lines {
            keys.push(product_key(product_id));
            keys.push(variant_key(product_id, sku));
        }
        keys.extend(discount.map(discount_key));
        keys.sort_by(|a, b| (get_s(a, PK), get_s(a, SK)).cmp(&(get_s(b, PK), get_s(b, SK))));
        keys.dedup();
        if keys.is_empty() {
            return Ok(PricingInputs::default());
        }
        let items = dynamo::get_batch(&self.client, &self.table, keys).await?;
        let mut products: HashMap<String, (String, CategorySlug)> = HashMap::new();
        let mut variants = Vec::new();
        let mut inputs = PricingInputs::default();
        for item in items {
            let sk = get_s(&item, SK).unwrap_or_default();
            if sk == "PRODUCT" {
                let (Some(id), Some(title), Some(category)) =
                    (get_s(&item, "id"), get_s(&item, "title"), get_s(&item, "category"))
                else {
                    return Err(StoreError::Corrupt("a product item lacks id, title or category".into()));
                };
                let category = CategorySlug::parse(category).map_err(StoreError::Corrupt)?;
                // A draft or archived product sells nothing: its variants are left out.
                let on_sale = get_s(&item, "status").is_none_or(|status| status == ProductStatus::Active.as_str());
                if on_sale {
                    products.insert(id.to_owned(), (title.to_owned(), category));
                }
            } else if sk.starts_with("VARIANT#") {
                variants.push(item);
            } else if sk == "DISCOUNT" {
                inputs.discount = Some(discount_from_item(item)?);
            }
        }
        for item in variants {
            let Some((title, category)) = get_s(&item, "product_id").and_then(|id| products.get(id)).cloned() else {
                continue;
            };
            let variant: shop_domain::Variant = {
                let mut item = item;
                for name in [PK, SK, "product_id", "position"] {
                    item.remove(name);
                }
                serde_dynamo::from_item(item)?
            };
            let product_id = lines
                .iter()
                .find(|(_, sku)| *sku == variant.sku)
                .map(|(id, _)| id.clone())
                .ok_or_else(|| StoreError::Corrupt("a variant nobody asked for".into()))?;
            inputs.variants.insert(
                variant.sku.to_string(),
                VariantView {
                    sku: variant.sku,
                    product_id,
                    title,
                    category,
                    options: variant.options,
                    price: variant.price,
                    available: variant.available,
                },
            );
        }
        Ok(inputs)
    }
}

fn cart_pk(cart_id: &str) -> String {
    format!("CART#{cart_id}")
}

/// The key of a cart's item.
pub(crate) fn cart_key(cart_id: &str) -> Item {
    key(cart_pk(cart_id), CART_SK)
}

/// The answer to a change of a cart that became an order.
pub fn checked_out() -> shop_platform::ApiError {
    shop_platform::ApiError::Conflict {
        code: "cart_checked_out",
        detail: "this cart became an order and can no longer change".into(),
    }
}
