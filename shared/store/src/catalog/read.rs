//! Reading the catalog: listings and searches (one Query each), products, slugs and SKUs,
//! categories, and the dated entries the sitemap reads.

use super::*;

impl CatalogStore {
    /// One page of a listing: one Query on `gsi1`.
    pub async fn list(
        &self,
        listing: &Listing,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ProductSummary>, ListError> {
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
            .map(|key| shop_platform::keys::seal_cursor(&index_cursor(&key)));
        Ok(Page { items, next_cursor })
    }

    /// One page of the merchant's list of every product (drafts and archived ones too), by
    /// title: one Query on `gsi1`.
    pub async fn merchant_list(
        &self,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ProductOverview>, ListError> {
        let start_key = cursor
            .map(|cursor| index_start_key(cursor, MERCHANT_CATALOG))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :scope")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":scope", s(MERCHANT_CATALOG))
            .limit(i32::from(limit.get()))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(StoreError::from)?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .collect::<Result<Vec<ProductOverview>, _>>()?;
        let next_cursor = output
            .last_evaluated_key
            .map(|key| shop_platform::keys::seal_cursor(&index_cursor(&key)));
        Ok(Page { items, next_cursor })
    }

    /// A product with its variants, by id: one Query.
    pub async fn product(&self, id: &ProductId) -> Result<Option<Product>, ListError> {
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
    pub async fn product_id_by_slug(&self, slug: &str) -> Result<Option<ProductId>, ListError> {
        self.owner(key(format!("SLUG#{slug}"), "SLUG")).await
    }

    /// The id of the product a SKU belongs to: one GetItem.
    pub async fn product_id_by_sku(&self, sku: &Sku) -> Result<Option<ProductId>, ListError> {
        self.owner(sku_claim_key(sku)).await
    }

    async fn owner(&self, key: Item) -> Result<Option<ProductId>, ListError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok(output.item.as_ref().map(claim_owner).transpose()?.flatten())
    }

    /// Every category that has products, by slug.
    pub async fn categories(&self) -> Result<Vec<Category>, ListError> {
        let dated = self.dated_categories().await?;
        Ok(dated.into_iter().map(|dated| dated.category).collect())
    }

    /// Every category that has products, by slug, with when a product in it last changed.
    pub async fn dated_categories(&self) -> Result<Vec<DatedCategory>, ListError> {
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
    pub async fn dated_products(&self, skip: usize, take: usize) -> Result<Vec<DatedProduct>, ListError> {
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
}
