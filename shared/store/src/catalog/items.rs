//! A product as its items: keys, the mapping both ways, the claims, and what saving again
//! changes.

use super::*;

/// The `updated_at` of an item, when it has one.
pub(super) fn updated_at_of(item: &Item) -> Option<i64> {
    item.get(UPDATED_AT)?.as_n().ok()?.parse().ok()
}

/// The date of a product's partition: its `PRODUCT` item's `updated_at`.
pub(super) fn product_updated_at(items: &[Item]) -> Option<i64> {
    items
        .iter()
        .find(|item| get_s(item, SK) == Some(PRODUCT_SK))
        .and_then(updated_at_of)
}

/// Dates the `PRODUCT` and `LIST#` items among `items` (or leaves them undated with `None`).
pub(super) fn stamp(items: &mut [Item], updated_at: Option<i64>) {
    let Some(updated_at) = updated_at else {
        return;
    };
    for item in items {
        if get_s(item, SK).is_some_and(|sk| sk == PRODUCT_SK || sk.starts_with(LIST_PREFIX)) {
            item.insert(UPDATED_AT.to_owned(), AttributeValue::N(updated_at.to_string()));
        }
    }
}

pub(super) fn product_pk(id: &str) -> String {
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

/// The key of the item that says which product owns `sku`.
pub fn sku_claim_key(sku: &Sku) -> Item {
    key(format!("SKU#{sku}"), "SKU")
}

/// The product a claim item (a SKU's or a slug's) names.
pub fn claim_owner(item: &Item) -> Result<Option<ProductId>, StoreError> {
    get_s(item, "product_id")
        .map(|id| ProductId::parse(id).map_err(StoreError::Corrupt))
        .transpose()
}

pub(super) fn claim_item(kind: &str, value: &str, owner: &ProductId) -> Item {
    let mut item = key(format!("{kind}#{value}"), kind);
    item.insert("product_id".to_owned(), s(owner.as_str()));
    item
}

/// A row is refused when another product already owns its slug or one of its SKUs.
pub(super) fn check_claims(product: &Product, claims: &HashMap<String, String>) -> Result<(), FieldError> {
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
pub(super) fn product_items(product: &Product) -> Result<Vec<Item>, StoreError> {
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

    let sort_key = format!("{}#{}", slugify(&product.title), product.id);
    if let Some(overview) = product.overview() {
        let mut item: Item = serde_dynamo::to_item(&overview)?;
        item.extend(key(pk.clone(), format!("{LIST_PREFIX}{MERCHANT_CATALOG}")));
        item.insert(GSI1PK.to_owned(), s(MERCHANT_CATALOG));
        item.insert(GSI1SK.to_owned(), s(&sort_key));
        items.push(item);
    }
    // Shoppers' listings hold only what is sold; a draft or archived product leaves them.
    if let Some(summary) = product.summary().filter(|_| product.status.is_sold()) {
        let terms: Vec<String> = product.search_terms().into_iter().collect();
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
pub(super) fn diff_items(new: Vec<Item>, old: Vec<Item>) -> Vec<Write> {
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
pub(super) fn product_from_items(items: Vec<Item>) -> Result<Option<Product>, StoreError> {
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
