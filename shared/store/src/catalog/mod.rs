//! The catalog in the shop's table: reading it (`read`), writing it (`write`), and a product as its
//! items (`items`).
//!
//! Layout (one partition per product, so a product page is one Query):
//! - `PRODUCT#id / PRODUCT`: the product's own fields.
//! - `PRODUCT#id / VARIANT#sku`: price and `available` stock of one variant.
//! - `PRODUCT#id / LIST#scope`: the product's summary, projected into `gsi1` under `scope`
//!   (`CATALOG`, `CATEGORY#slug`, `TERM#word`) and sorted by title, so every listing page,
//!   search included, is one Query on the index. Only a product on sale (`active`) has these.
//! - `PRODUCT#id / LIST#MERCHANT_CATALOG`: its overview (status, price range, stock) in the
//!   merchant's list of every product, the same way.
//! - `SLUG#slug / SLUG` and `SKU#sku / SKU`: who owns a slug or a SKU, so both stay unique
//!   and a slug or SKU finds its product with one GetItem.
//! - `CATEGORY#slug / CATEGORY`: name and product count, listed through `gsi1` `CATEGORIES`.
//!
//! The `PRODUCT` and `LIST#` items carry `updated_at`, the Unix second the merchant last changed
//! the product (stock counts aside), and a category's item the last such change of a product in
//! it: what the sitemap's `lastmod` says.

use crate::dynamo::{
    self, GSI1, GSI1PK, GSI1SK, Item, ListError, PK, Page, SK, StoreError, Write, get_s, index_cursor, index_start_key,
    key, s,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shop_domain::text::slugify;
use shop_domain::{
    Category, CategorySlug, Cursor, FieldError, PageLimit, Product, ProductId, ProductOverview, ProductSummary, Sku,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const PRODUCT_SK: &str = "PRODUCT";
const VARIANT_PREFIX: &str = "VARIANT#";
const LIST_PREFIX: &str = "LIST#";
const CATEGORIES: &str = "CATEGORIES";
const CATALOG: &str = "CATALOG";
/// The merchant's list: every product, whatever its status.
const MERCHANT_CATALOG: &str = "MERCHANT_CATALOG";
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

mod items;
mod read;
mod write;

use items::*;
pub use items::{claim_owner, product_key, sku_claim_key, variant_key};

impl CatalogStore {
    /// The catalog in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
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
        let expected: BTreeSet<&str> = [
            "CATALOG",
            "CATEGORY#apparel",
            "TERM#linen",
            "TERM#shirt",
            "TERM#summer",
            "MERCHANT_CATALOG",
        ]
        .into_iter()
        .collect();
        assert_eq!(scopes, expected);
    }

    #[test]
    fn a_draft_or_archived_product_is_only_in_the_merchants_list() {
        for status in [shop_domain::ProductStatus::Draft, shop_domain::ProductStatus::Archived] {
            let mut product = product();
            product.status = status;
            let items = product_items(&product).unwrap();
            let scopes: Vec<&str> = items.iter().filter_map(|item| get_s(item, GSI1PK)).collect();
            assert_eq!(scopes, ["MERCHANT_CATALOG"], "{status:?}");
        }
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
