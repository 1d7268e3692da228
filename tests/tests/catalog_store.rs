//! The DynamoDB catalog adapter against the emulator, on a table of its own created from
//! template.yaml's definition.

use aws_sdk_dynamodb::Client;
use shop_domain::{Currency, PageLimit, Product, Sku};
use shop_local::template::Template;
use shop_store::catalog::{CatalogStore, DatedProduct, Listing, Saved};
use shop_tests::{product, unique};
use std::path::Path;

/// When the tests say the merchant saved: 2026-11-27T15:00:00Z.
const NOW: i64 = 1_795_791_600;

async fn fresh_store() -> CatalogStore {
    let sdk = shop_platform::aws::sdk_config().await;
    let template = Template::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap();
    let prefix = unique("adapter");
    let context = shop_local::bootstrap::create_resources(&template, &prefix, &sdk)
        .await
        .unwrap();
    CatalogStore::new(Client::new(&sdk), context.refs["ShopTable"].clone())
}

fn parse(value: serde_json::Value) -> Product {
    Product::from_json(value, Currency::parse("usd").unwrap()).unwrap()
}

#[tokio::test]
async fn a_saved_product_reads_back_whole_and_saving_it_again_writes_nothing() {
    let store = fresh_store().await;
    let tee = parse(product("tee", "apparel", "Organic Tee", &["TEE-S", "TEE-M"]));
    assert_eq!(
        store.save_products(std::slice::from_ref(&tee), NOW).await.unwrap(),
        [Ok(Saved::Created)]
    );
    assert_eq!(store.product(&tee.id).await.unwrap(), Some(tee.clone()));
    assert_eq!(store.product_id_by_slug("tee").await.unwrap(), Some(tee.id.clone()));
    assert_eq!(
        store.save_products(std::slice::from_ref(&tee), NOW).await.unwrap(),
        [Ok(Saved::Unchanged)]
    );
}

#[tokio::test]
async fn a_listing_pages_with_cursors_and_a_search_intersects_terms() {
    let store = fresh_store().await;
    let products: Vec<Product> = (0..5)
        .map(|i| {
            parse(product(
                &format!("p{i}"),
                "home",
                &format!("Cotton Towel {i}"),
                &[&format!("SKU-{i}")],
            ))
        })
        .chain([parse(product("rug", "home", "Cotton Rug", &["RUG"]))])
        .collect();
    store.save_products(&products, NOW).await.unwrap();
    let limit = PageLimit::parse(Some("2")).unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(&Listing::All, limit, cursor.as_ref()).await.unwrap();
        seen.extend(page.items.into_iter().map(|s| s.id.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(shop_platform::keys::open_cursor(&next).unwrap()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["rug", "p0", "p1", "p2", "p3", "p4"],
        "sorted by title, each once"
    );
    let search = Listing::Search {
        terms: ["cotton".to_owned(), "rug".to_owned()].into(),
        category: None,
    };
    let found = store
        .list(&search, PageLimit::parse(None).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(found.items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["rug"]);
}

#[tokio::test]
async fn a_sku_owned_by_another_product_refuses_the_row_and_writes_none_of_it() {
    let store = fresh_store().await;
    store
        .save_products(&[parse(product("first", "home", "First", &["SHARED"]))], NOW)
        .await
        .unwrap();
    let outcome = store
        .save_products(&[parse(product("second", "home", "Second", &["SHARED"]))], NOW)
        .await
        .unwrap();
    assert_eq!(outcome[0].as_ref().unwrap_err().field, "variants[0].sku");
    assert_eq!(
        store
            .product(&shop_domain::ProductId::parse("second").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn setting_stock_of_an_unknown_sku_finds_nothing() {
    let store = fresh_store().await;
    assert!(
        store
            .set_available(&Sku::parse("NOPE").unwrap(), 3)
            .await
            .unwrap()
            .is_none()
    );
    store
        .save_products(&[parse(product("lamp", "home", "Lamp", &["LAMP"]))], NOW)
        .await
        .unwrap();
    let lamp = store
        .set_available(&Sku::parse("LAMP").unwrap(), 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lamp.variants[0].available, 0);
    let listed = store
        .list(&Listing::All, PageLimit::parse(None).unwrap(), None)
        .await
        .unwrap();
    assert!(!listed.items[0].in_stock);
}

#[tokio::test]
async fn a_product_and_its_category_are_dated_by_the_last_change_not_by_the_last_save() {
    let store = fresh_store().await;
    let lamp = parse(product("lamp", "home", "Lamp", &["LAMP"]));
    let rug = parse(product("rug", "home", "Rug", &["RUG"]));
    store.save_products(&[lamp.clone(), rug.clone()], NOW).await.unwrap();
    let dates = |products: Vec<DatedProduct>| -> Vec<(String, Option<i64>)> {
        products
            .into_iter()
            .map(|dated| (dated.slug.to_string(), dated.updated_at))
            .collect()
    };
    assert_eq!(
        dates(store.dated_products(0, 10).await.unwrap()),
        [("lamp".to_owned(), Some(NOW)), ("rug".to_owned(), Some(NOW))]
    );

    // Saved again unchanged, and its stock counted: still the first date.
    assert_eq!(
        store
            .save_products(std::slice::from_ref(&lamp), NOW + 100)
            .await
            .unwrap(),
        [Ok(Saved::Unchanged)]
    );
    store.set_available(&Sku::parse("LAMP").unwrap(), 1).await.unwrap();
    assert_eq!(
        dates(store.dated_products(0, 1).await.unwrap()),
        [("lamp".to_owned(), Some(NOW))]
    );

    let mut renamed = rug.clone();
    renamed.title = "Wool Rug".into();
    store.save_products(&[renamed], NOW + 200).await.unwrap();
    assert_eq!(
        dates(store.dated_products(1, 5).await.unwrap()),
        [("rug".to_owned(), Some(NOW + 200))]
    );
    let categories = store.dated_categories().await.unwrap();
    assert_eq!(categories.len(), 1);
    assert_eq!(
        (categories[0].category.product_count, categories[0].updated_at),
        (2, Some(NOW + 200))
    );
    assert_eq!(
        store.product(&rug.id).await.unwrap().map(|p| p.title),
        Some("Wool Rug".to_owned())
    );
}
