//! The catalog in the shop's table.
//!
//! Layout (one partition per product, so a product page is one Query):
//! - `PRODUCT#id / PRODUCT`: the product's own fields.
//! - `PRODUCT#id / VARIANT#sku`: price and `available` stock of one variant.
//! - `PRODUCT#id / LIST#scope`: the product's summary, projected into `gsi1` under `scope`
//!   (`CATALOG`, `CATEGORY#slug`, `TERM#word`) and sorted by title, so every listing page,
//!   search included, is one Query on the index.
//! - `SLUG#slug / SLUG` and `SKU#sku / SKU`: who owns a slug or a SKU, so both stay unique
//!   and a slug or SKU finds its product with one GetItem.
//! - `CATEGORY#slug / CATEGORY`: name and product count, listed through `gsi1` `CATEGORIES`.
//!
//! The `PRODUCT` and `LIST#` items carry `updated_at`, the Unix second the merchant last changed
//! the product (stock counts aside), and a category's item the last such change of a product in
//! it: what the sitemap's `lastmod` says.

use crate::dynamo::{
    self, GSI1, GSI1PK, GSI1SK, Item, PK, SK, StoreError, Write, get_s, index_cursor, index_start_key, key, s,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shop_domain::text::slugify;
use shop_domain::{Category, CategorySlug, Cursor, FieldError, PageLimit, Product, ProductId, ProductSummary, Sku};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const PRODUCT_SK: &str = "PRODUCT";
const VARIANT_PREFIX: &str = "VARIANT#";
const LIST_PREFIX: &str = "LIST#";
const CATEGORIES: &str = "CATEGORIES";
const CATALOG: &str = "CATALOG";
const UPDATED_AT: &str = "updated_at";
/// Products read at once while saving an import.
const SAVE_CONCURRENCY: usize = 8;

/// Which listing a shopper asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Every product.
    All,
    /// The products of one category.
    Category(CategorySlug),
    /// Products whose title or tags hold every term, optionally within one category.
    Search {
        /// Normalised search terms (at least one).
        terms: BTreeSet<String>,
        /// The category to stay within.
        category: Option<CategorySlug>,
    },
}

impl Listing {
    /// The index partition the listing reads: for a search, its longest term, which is
    /// likely the rarest; the other terms filter that partition.
    fn scope(&self) -> String {
        match self {
            Self::All => CATALOG.to_owned(),
            Self::Category(slug) => format!("CATEGORY#{slug}"),
            Self::Search { terms, .. } => {
                let key_term = terms
                    .iter()
                    .max_by_key(|term| term.len())
                    .map(String::as_str)
                    .unwrap_or("");
                format!("TERM#{key_term}")
            }
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    /// The items of the page; a filtered page may hold fewer than the limit.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A failure of a catalog read or write.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The cursor does not belong to this listing.
    #[error(transparent)]
    Cursor(#[from] shop_domain::CursorError),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CatalogError> for crate::ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::Cursor(error) => Self::bad_request("invalid_cursor", error.to_string()),
            CatalogError::Store(error) => error.into(),
        }
    }
}

/// A category as the sitemap lists it: with when a product in it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedCategory {
    /// The category as shoppers see it.
    pub category: Category,
    /// Unix seconds of the last change to a product in it; `None` before any change was dated.
    pub updated_at: Option<i64>,
}

/// A product page as the sitemap lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct DatedProduct {
    /// The product's slug.
    pub slug: shop_domain::Slug,
    /// Unix seconds of the merchant's last change to it; `None` before any change was dated.
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// What saving one product did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// It did not exist before.
    Created,
    /// It existed and something changed.
    Updated,
    /// It existed exactly like this: nothing was written.
    Unchanged,
}

/// The catalog adapter over the shop's DynamoDB table.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    client: Client,
    table: String,
}

impl CatalogStore {
    /// The catalog in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One page of a listing: one Query on `gsi1`.
    pub async fn list(
        &self,
        listing: &Listing,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ProductSummary>, CatalogError> {
        let scope = listing.scope();
        let start_key = cursor.map(|cursor| index_start_key(cursor, &scope)).transpose()?;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :scope")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":scope", s(&scope))
            .limit(i32::from(limit.get()))
            .set_exclusive_start_key(start_key);
        if let Listing::Search { terms, category } = listing {
            let mut filters = Vec::new();
            for (i, term) in terms.iter().enumerate() {
                if scope.strip_prefix("TERM#") == Some(term.as_str()) {
                    continue;
                }
                filters.push(format!("contains(terms, :t{i})"));
                query = query.expression_attribute_values(format!(":t{i}"), s(term));
            }
            if let Some(category) = category {
                filters.push("category = :category".to_owned());
                query = query.expression_attribute_values(":category", s(category.as_str()));
            }
            if !filters.is_empty() {
                query = query.filter_expression(filters.join(" AND "));
            }
        }
        let output = query.send().await.map_err(StoreError::from)?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .collect::<Result<Vec<ProductSummary>, _>>()?;
        let next_cursor = output
            .last_evaluated_key
            .map(|key| crate::keys::seal_cursor(&index_cursor(&key)));
        Ok(Page { items, next_cursor })
    }

    /// A product with its variants, by id: one Query.
    pub async fn product(&self, id: &ProductId) -> Result<Option<Product>, CatalogError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk >= :product")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(product_pk(id.as_str())))
            .expression_attribute_values(":product", s(PRODUCT_SK))
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok(product_from_items(output.items.unwrap_or_default())?)
    }

    /// The id of the product a slug names: one GetItem.
    pub async fn product_id_by_slug(&self, slug: &str) -> Result<Option<ProductId>, CatalogError> {
        self.owner(key(format!("SLUG#{slug}"), "SLUG")).await
    }

    /// The id of the product a SKU belongs to: one GetItem.
    pub async fn product_id_by_sku(&self, sku: &Sku) -> Result<Option<ProductId>, CatalogError> {
        self.owner(key(format!("SKU#{sku}"), "SKU")).await
    }

    async fn owner(&self, key: Item) -> Result<Option<ProductId>, CatalogError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(StoreError::from)?;
        let owner = output.item.as_ref().and_then(|item| get_s(item, "product_id"));
        owner
            .map(|id| ProductId::parse(id).map_err(|error| StoreError::Corrupt(error).into()))
            .transpose()
    }

    /// Every category that has products, by slug.
    pub async fn categories(&self) -> Result<Vec<Category>, CatalogError> {
        let dated = self.dated_categories().await?;
        Ok(dated.into_iter().map(|dated| dated.category).collect())
    }

    /// Every category that has products, by slug, with when a product in it last changed.
    pub async fn dated_categories(&self) -> Result<Vec<DatedCategory>, CatalogError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :categories")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":categories", s(CATEGORIES))
            .into_paginator()
            .items()
            .send();
        let items: Vec<Item> = pages.try_collect().await.map_err(StoreError::from)?;
        let categories = items
            .into_iter()
            .map(|item| {
                let updated_at = updated_at_of(&item);
                let category = serde_dynamo::from_item::<_, Category>(item).map_err(StoreError::from)?;
                Ok::<_, StoreError>(DatedCategory { category, updated_at })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(categories
            .into_iter()
            .filter(|dated| dated.category.product_count > 0)
            .collect())
    }

    /// The products of the catalog listing from position `skip` on, at most `take` of them, as
    /// the sitemap lists them: Queries on `gsi1` that read only slugs and times.
    pub async fn dated_products(&self, skip: usize, take: usize) -> Result<Vec<DatedProduct>, CatalogError> {
        let mut products = Vec::with_capacity(take.min(1_000));
        if take == 0 {
            return Ok(products);
        }
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :catalog")
            .projection_expression("slug, #updated_at")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_values(":catalog", s(CATALOG))
            .into_paginator()
            .items()
            .send();
        let mut position = 0;
        while let Some(item) = pages.next().await {
            let item = item.map_err(StoreError::from)?;
            if position >= skip {
                products.push(serde_dynamo::from_item(item).map_err(StoreError::from)?);
                if products.len() == take {
                    break;
                }
            }
            position += 1;
        }
        Ok(products)
    }

    /// Saves products as given (variants' stock included), each with its listings, SKU and
    /// slug claims and category counts. Rows are answered in order: a row whose slug or SKU
    /// belongs to another product is refused and nothing of it is written; an unchanged
    /// product writes nothing. A created or changed product, and its categories, are dated
    /// `now` (Unix seconds).
    pub async fn save_products(
        &self,
        products: &[Product],
        now: i64,
    ) -> Result<Vec<Result<Saved, FieldError>>, CatalogError> {
        let claims = self.claims_of(products).await?;
        let mut outcomes: Vec<Result<(), FieldError>> = products.iter().map(|p| check_claims(p, &claims)).collect();
        let accepted: Vec<&Product> = products
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(product, _)| product)
            .collect();
        let mut existing: Vec<Vec<Item>> = Vec::with_capacity(accepted.len());
        for chunk in accepted.chunks(SAVE_CONCURRENCY) {
            let reads: Vec<_> = chunk.iter().map(|product| self.partition(&product.id)).collect();
            existing.extend(futures::future::try_join_all(reads).await?);
        }
        let mut writes = Vec::new();
        let mut category_deltas: BTreeMap<CategorySlug, i64> = BTreeMap::new();
        let mut saved = Vec::new();
        for (product, old_items) in accepted.iter().zip(existing) {
            let old_category = old_items
                .iter()
                .find(|item| get_s(item, SK) == Some(PRODUCT_SK))
                .and_then(|item| get_s(item, "category"))
                .and_then(|slug| CategorySlug::parse(slug).ok());
            // Compared with the old date carried over, so that only a real change is dated anew.
            let mut items = product_items(product)?;
            stamp(&mut items, product_updated_at(&old_items));
            let mut diff = diff_items(items.clone(), old_items.clone());
            if !diff.is_empty() {
                stamp(&mut items, Some(now));
                diff = diff_items(items, old_items);
                category_deltas.entry(product.category.clone()).or_default();
            }
            let outcome = match (&old_category, diff.is_empty()) {
                (None, _) => Saved::Created,
                (Some(_), true) => Saved::Unchanged,
                (Some(_), false) => Saved::Updated,
            };
            if old_category.as_ref() != Some(&product.category) {
                *category_deltas.entry(product.category.clone()).or_default() += 1;
                if let Some(old) = old_category {
                    *category_deltas.entry(old).or_default() -= 1;
                }
            }
            writes.extend(diff);
            saved.push(outcome);
        }
        dynamo::write_batch(&self.client, &self.table, writes).await?;
        // Every category a changed product is in, or left, is counted again and dated.
        for (category, delta) in category_deltas {
            self.count_in_category(&category, delta, now).await?;
        }
        let mut saved = saved.into_iter();
        Ok(outcomes
            .iter_mut()
            .map(|outcome| match outcome {
                Ok(()) => Ok(saved.next().unwrap_or(Saved::Unchanged)),
                Err(error) => Err(error.clone()),
            })
            .collect())
    }

    /// Sets the stock of one variant, as the merchant counted it, and refreshes the product's
    /// listings (`in_stock`). `None` when no product has the SKU.
    pub async fn set_available(&self, sku: &Sku, available: u32) -> Result<Option<Product>, CatalogError> {
        let Some(product_id) = self.product_id_by_sku(sku).await? else {
            return Ok(None);
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                product_pk(product_id.as_str()),
                format!("{VARIANT_PREFIX}{sku}"),
            )))
            .update_expression("SET available = :available")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":available", AttributeValue::N(available.to_string()))
            .send()
            .await;
        if let Err(error) = update {
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception())
            {
                return Ok(None);
            }
            return Err(StoreError::from(error).into());
        }
        let old_items = self.partition(&product_id).await?;
        let updated_at = product_updated_at(&old_items);
        let Some(product) = product_from_items(old_items.clone())? else {
            return Ok(None);
        };
        // A stock count is not a change of the product's page: its date stays.
        let mut listings: Vec<Item> = product_items(&product)?
            .into_iter()
            .filter(|item| get_s(item, SK).is_some_and(|sk| sk.starts_with(LIST_PREFIX)))
            .collect();
        stamp(&mut listings, updated_at);
        let old_listings = old_items
            .into_iter()
            .filter(|item| get_s(item, SK).is_some_and(|sk| sk.starts_with(LIST_PREFIX)))
            .collect();
        dynamo::write_batch(&self.client, &self.table, diff_items(listings, old_listings)).await?;
        Ok(Some(product))
    }

    /// Every item of a product's partition, and the slug and SKU claims it holds.
    async fn partition(&self, id: &ProductId) -> Result<Vec<Item>, CatalogError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(product_pk(id.as_str())))
            .into_paginator()
            .items()
            .send();
        let mut items: Vec<Item> = pages.try_collect().await.map_err(StoreError::from)?;
        // The claims live outside the partition; the product's own items say which they are.
        let claims: Vec<Item> = items
            .iter()
            .filter_map(|item| match get_s(item, SK)? {
                PRODUCT_SK => get_s(item, "slug").map(|slug| claim_item("SLUG", slug, id)),
                sk if sk.starts_with(VARIANT_PREFIX) => get_s(item, "sku").map(|sku| claim_item("SKU", sku, id)),
                _ => None,
            })
            .collect();
        items.extend(claims);
        Ok(items)
    }

    /// Who owns each slug and SKU the products name, as `CLAIM#value -> product id`.
    async fn claims_of(&self, products: &[Product]) -> Result<HashMap<String, String>, CatalogError> {
        let mut keys: Vec<Item> = products
            .iter()
            .flat_map(|product| {
                std::iter::once(key(format!("SLUG#{}", product.slug), "SLUG"))
                    .chain(product.variants.iter().map(|v| key(format!("SKU#{}", v.sku), "SKU")))
            })
            .collect();
        keys.sort_by_key(|k| get_s(k, PK).unwrap_or_default().to_owned());
        keys.dedup_by_key(|k| get_s(k, PK).unwrap_or_default().to_owned());
        let found = dynamo::get_batch(&self.client, &self.table, keys).await?;
        Ok(found
            .iter()
            .filter_map(|item| Some((get_s(item, PK)?.to_owned(), get_s(item, "product_id")?.to_owned())))
            .collect())
    }

    async fn count_in_category(&self, category: &CategorySlug, delta: i64, now: i64) -> Result<(), CatalogError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("CATEGORY#{category}"), "CATEGORY")))
            .update_expression(
                "SET #name = :name, slug = :slug, #gpk = :categories, #gsk = :slug, #updated_at = :now \
                 ADD product_count :delta",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_names("#gsk", GSI1SK)
            .expression_attribute_values(":name", s(category.display_name()))
            .expression_attribute_values(":slug", s(category.as_str()))
            .expression_attribute_values(":categories", s(CATEGORIES))
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

/// The `updated_at` of an item, when it has one.
fn updated_at_of(item: &Item) -> Option<i64> {
    item.get(UPDATED_AT)?.as_n().ok()?.parse().ok()
}

/// The date of a product's partition: its `PRODUCT` item's `updated_at`.
fn product_updated_at(items: &[Item]) -> Option<i64> {
    items
        .iter()
        .find(|item| get_s(item, SK) == Some(PRODUCT_SK))
        .and_then(updated_at_of)
}

/// Dates the `PRODUCT` and `LIST#` items among `items` (or leaves them undated with `None`).
fn stamp(items: &mut [Item], updated_at: Option<i64>) {
    let Some(updated_at) = updated_at else {
        return;
    };
    for item in items {
        if get_s(item, SK).is_some_and(|sk| sk == PRODUCT_SK || sk.starts_with(LIST_PREFIX)) {
            item.insert(UPDATED_AT.to_owned(), AttributeValue::N(updated_at.to_string()));
        }
    }
}

fn product_pk(id: &str) -> String {
    format!("PRODUCT#{id}")
}

/// The key of a product's own item.
pub fn product_key(id: &ProductId) -> Item {
    key(product_pk(id.as_str()), PRODUCT_SK)
}

/// The key of a variant's item.
pub fn variant_key(id: &ProductId, sku: &Sku) -> Item {
    key(product_pk(id.as_str()), format!("{VARIANT_PREFIX}{sku}"))
}

fn claim_item(kind: &str, value: &str, owner: &ProductId) -> Item {
    let mut item = key(format!("{kind}#{value}"), kind);
    item.insert("product_id".to_owned(), s(owner.as_str()));
    item
}

/// A row is refused when another product already owns its slug or one of its SKUs.
fn check_claims(product: &Product, claims: &HashMap<String, String>) -> Result<(), FieldError> {
    let taken = |claim: String| claims.get(&claim).filter(|owner| *owner != product.id.as_str());
    if let Some(owner) = taken(format!("SLUG#{}", product.slug)) {
        return Err(FieldError::new(
            "slug",
            format!("slug {} belongs to product {owner}", product.slug),
        ));
    }
    for (i, variant) in product.variants.iter().enumerate() {
        if let Some(owner) = taken(format!("SKU#{}", variant.sku)) {
            return Err(FieldError::new(
                format!("variants[{i}].sku"),
                format!("SKU {} belongs to product {owner}", variant.sku),
            ));
        }
    }
    Ok(())
}

/// Every item a product is stored as, claims included.
fn product_items(product: &Product) -> Result<Vec<Item>, StoreError> {
    let pk = product_pk(product.id.as_str());
    let mut items = Vec::new();

    let mut fields = serde_json::to_value(product).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Value::Object(map) = &mut fields {
        map.remove("variants");
    }
    let mut item: Item = serde_dynamo::to_item(fields)?;
    item.extend(key(pk.clone(), PRODUCT_SK));
    items.push(item);

    for (position, variant) in product.variants.iter().enumerate() {
        let mut item: Item = serde_dynamo::to_item(variant)?;
        item.extend(key(pk.clone(), format!("{VARIANT_PREFIX}{}", variant.sku)));
        item.insert("product_id".to_owned(), s(product.id.as_str()));
        item.insert("position".to_owned(), AttributeValue::N(position.to_string()));
        items.push(item);
        items.push(claim_item("SKU", variant.sku.as_str(), &product.id));
    }
    items.push(claim_item("SLUG", product.slug.as_str(), &product.id));

    if let Some(summary) = product.summary() {
        let terms: Vec<String> = product.search_terms().into_iter().collect();
        let sort_key = format!("{}#{}", slugify(&product.title), product.id);
        let scopes = [CATALOG.to_owned(), format!("CATEGORY#{}", product.category)]
            .into_iter()
            .chain(terms.iter().map(|term| format!("TERM#{term}")));
        for scope in scopes {
            let mut item: Item = serde_dynamo::to_item(&summary)?;
            item.extend(key(pk.clone(), format!("{LIST_PREFIX}{scope}")));
            item.insert(GSI1PK.to_owned(), s(scope));
            item.insert(GSI1SK.to_owned(), s(&sort_key));
            item.insert("terms".to_owned(), serde_dynamo::to_attribute_value(&terms)?);
            items.push(item);
        }
    }
    Ok(items)
}

/// The writes that turn `old` into `new`: puts of what is new or changed, deletes of what is gone.
fn diff_items(new: Vec<Item>, old: Vec<Item>) -> Vec<Write> {
    let key_text = |item: &Item| {
        format!(
            "{}\u{0}{}",
            get_s(item, PK).unwrap_or(""),
            get_s(item, SK).unwrap_or("")
        )
    };
    let mut old: HashMap<String, Item> = old.into_iter().map(|item| (key_text(&item), item)).collect();
    let mut writes = Vec::new();
    for item in new {
        match old.remove(&key_text(&item)) {
            Some(existing) if existing == item => {}
            _ => writes.push(Write::Put(item)),
        }
    }
    writes.extend(old.into_values().map(|item| Write::Delete(dynamo::key_of(&item))));
    writes
}

/// Rebuilds a product from its partition's `PRODUCT` and `VARIANT#` items.
fn product_from_items(items: Vec<Item>) -> Result<Option<Product>, StoreError> {
    let mut product: Option<Value> = None;
    let mut variants: Vec<(u64, Value)> = Vec::new();
    for mut item in items {
        let sk = get_s(&item, SK).unwrap_or_default().to_owned();
        for name in [PK, SK, GSI1PK, GSI1SK, UPDATED_AT] {
            item.remove(name);
        }
        if sk == PRODUCT_SK {
            product = Some(serde_dynamo::from_item(item)?);
        } else if sk.starts_with(VARIANT_PREFIX) {
            let position = item
                .remove("position")
                .and_then(|value| value.as_n().ok().and_then(|n| n.parse().ok()))
                .unwrap_or(u64::MAX);
            item.remove("product_id");
            variants.push((position, serde_dynamo::from_item(item)?));
        }
    }
    let Some(mut product) = product else {
        return Ok(None);
    };
    variants.sort_by_key(|(position, _)| *position);
    product["variants"] = Value::Array(variants.into_iter().map(|(_, v)| v).collect());
    serde_json::from_value(product)
        .map(Some)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        let value = serde_json::json!({
            "id": "linen-shirt", "slug": "linen-shirt", "title": "Linen Shirt", "category": "apparel",
            "tags": ["summer"],
            "variants": [
                {"sku": "LS-M", "options": {"size": "M"}, "price": {"amount": 4500, "currency": "usd"}, "available": 2},
                {"sku": "LS-L", "options": {"size": "L"}, "price": {"amount": 4900, "currency": "usd"}, "available": 0}
            ]
        });
        Product::from_json(value, shop_domain::Currency::parse("usd").unwrap()).unwrap()
    }

    #[test]
    fn a_product_round_trips_through_its_items() {
        let product = product();
        let items = product_items(&product).unwrap();
        let partition: Vec<Item> = items
            .into_iter()
            .filter(|item| get_s(item, PK) == Some("PRODUCT#linen-shirt"))
            .collect();
        assert_eq!(product_from_items(partition).unwrap(), Some(product));
    }

    #[test]
    fn a_product_is_listed_in_the_catalog_its_category_and_under_each_term() {
        let items = product_items(&product()).unwrap();
        let scopes: BTreeSet<&str> = items.iter().filter_map(|item| get_s(item, GSI1PK)).collect();
        let expected: BTreeSet<&str> = ["CATALOG", "CATEGORY#apparel", "TERM#linen", "TERM#shirt", "TERM#summer"]
            .into_iter()
            .collect();
        assert_eq!(scopes, expected);
    }

    #[test]
    fn saving_the_same_product_again_writes_nothing() {
        let items = product_items(&product()).unwrap();
        assert!(diff_items(items.clone(), items).is_empty());
    }

    #[test]
    fn a_renamed_product_drops_its_old_terms() {
        let old = product_items(&product()).unwrap();
        let mut renamed = product();
        renamed.title = "Linen Blouse".into();
        let writes = diff_items(product_items(&renamed).unwrap(), old);
        let deleted: Vec<String> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Delete(key) => get_s(key, SK).map(str::to_owned),
                Write::Put(_) => None,
            })
            .collect();
        assert_eq!(deleted, ["LIST#TERM#shirt"]);
    }

    #[test]
    fn a_cursor_from_another_listing_is_refused() {
        let cursor = Cursor(BTreeMap::from([
            (PK.to_owned(), "PRODUCT#a".to_owned()),
            (SK.to_owned(), "LIST#CATALOG".to_owned()),
            (GSI1PK.to_owned(), "CATALOG".to_owned()),
            (GSI1SK.to_owned(), "a#a".to_owned()),
        ]));
        assert!(index_start_key(&cursor, "CATALOG").is_ok());
        assert!(index_start_key(&cursor, "CATEGORY#apparel").is_err());
        let mut extra = cursor.clone();
        extra.0.insert("other".to_owned(), "x".to_owned());
        assert!(index_start_key(&extra, "CATALOG").is_err());
    }
}
