//! Writing the catalog: saving products with their claims on slugs and SKUs, stock counts,
//! and the categories' product counts.

use super::*;

impl CatalogStore {
    /// Saves products as given (variants' stock included), each with its listings, SKU and
    /// slug claims and category counts. Rows are answered in order: a row whose slug or SKU
    /// belongs to another product is refused and nothing of it is written; an unchanged
    /// product writes nothing. A created or changed product, and its categories, are dated
    /// `now` (Unix seconds).
    pub async fn save_products(
        &self,
        products: &[Product],
        now: i64,
    ) -> Result<Vec<Result<Saved, FieldError>>, ListError> {
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

    /// Whether each product could be saved as it is: `Err` names a slug or SKU that another
    /// product owns. Reads the claims only (BatchGetItem); writes nothing.
    pub async fn check_claims(&self, products: &[Product]) -> Result<Vec<Result<(), FieldError>>, ListError> {
        let claims = self.claims_of(products).await?;
        Ok(products.iter().map(|product| check_claims(product, &claims)).collect())
    }

    /// Sets the stock of one variant, as the merchant counted it, and refreshes the product's
    /// listings (`in_stock`). `None` when no product has the SKU.
    pub async fn set_available(&self, sku: &Sku, available: u32) -> Result<Option<Product>, ListError> {
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
    async fn partition(&self, id: &ProductId) -> Result<Vec<Item>, ListError> {
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
    async fn claims_of(&self, products: &[Product]) -> Result<HashMap<String, String>, ListError> {
        let mut keys: Vec<Item> = products
            .iter()
            .flat_map(|product| {
                std::iter::once(key(format!("SLUG#{}", product.slug), "SLUG"))
                    .chain(product.variants.iter().map(|v| sku_claim_key(&v.sku)))
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

    async fn count_in_category(&self, category: &CategorySlug, delta: i64, now: i64) -> Result<(), ListError> {
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
