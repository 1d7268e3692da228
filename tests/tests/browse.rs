//! Shoppers browsing the catalog through the gateway.

use reqwest::Method;
use serde_json::Value;
use shop_tests::{TestApp, problem, product, seed_catalog, unique};
use std::collections::{BTreeSet, HashMap};

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_through_the_whole_catalog_with_a_small_limit_returns_every_product_exactly_once() {
    let app = TestApp::new();
    let listed = ids(&app.list_all("", 7).await);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &listed {
        *counts.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "listed more than once: {repeated:?}");
    for seeded in seed_catalog()["products"].as_array().unwrap() {
        let id = seeded["id"].as_str().unwrap();
        assert!(counts.contains_key(id), "{id} is missing from the listing");
    }
}

#[tokio::test]
async fn a_list_item_shows_its_lowest_price_and_whether_it_is_in_stock() {
    let app = TestApp::new();
    let items = app.list_all("category=footwear", 100).await;
    let seed = seed_catalog();
    let sold_out = seed["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["variants"].as_array().unwrap().iter().all(|v| v["available"] == 0))
        .expect("the demo catalog has a sold-out product");
    let listed = items
        .iter()
        .find(|i| i["id"] == sold_out["id"])
        .expect("the sold-out product is listed");
    assert_eq!(listed["in_stock"], false);
    let lowest = sold_out["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["price"]["amount"].as_i64())
        .min();
    assert_eq!(listed["price_from"]["amount"].as_i64(), lowest);
}

#[tokio::test]
async fn the_category_filter_lists_exactly_that_category() {
    let app = TestApp::new();
    let category = unique("cat");
    let members: Vec<String> = (0..3).map(|_| unique("cat-member")).collect();
    let rows = members
        .iter()
        .map(|id| product(id, &category, "Plain Item", &[&unique("SKU")]))
        .collect();
    assert_eq!(app.import(rows).await["imported"], 3);
    let listed: BTreeSet<String> = ids(&app.list_all(&format!("category={category}"), 2).await)
        .into_iter()
        .collect();
    assert_eq!(listed, members.iter().cloned().collect());

    let categories = app.get_json("/categories").await;
    let ours = categories["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == category.as_str())
        .cloned();
    assert_eq!(ours.expect("the new category is listed")["product_count"], 3);
}

#[tokio::test]
async fn search_finds_products_by_title_words_and_tags_and_narrows_with_more_words() {
    let app = TestApp::new();
    let word = unique("zorblax").replace('-', "");
    let (both, only_one) = (unique("search"), unique("search"));
    let mut tagged = product(&both, "apparel", &format!("{word} Linen Shirts"), &[&unique("SKU")]);
    tagged["tags"] = serde_json::json!(["test", format!("{word}-tag")]);
    let plain = product(&only_one, "home", &format!("{word} Cushion"), &[&unique("SKU")]);
    app.import(vec![tagged, plain]).await;

    let by_word: BTreeSet<String> = ids(&app.list_all(&format!("q={word}"), 20).await).into_iter().collect();
    assert_eq!(by_word, [both.clone(), only_one.clone()].into_iter().collect());
    // A singular in the query finds the plural in the title, in any case.
    let narrowed = ids(&app.list_all(&format!("q={}+shirt", word.to_uppercase()), 20).await);
    assert_eq!(narrowed, std::slice::from_ref(&both));
    let by_tag = ids(&app.list_all(&format!("q={word}tag"), 20).await);
    assert!(by_tag.is_empty(), "a tag is searched by its words, not glued together");
    let in_category = ids(&app.list_all(&format!("q={word}&category=home"), 20).await);
    assert_eq!(in_category, [only_one]);
}

#[tokio::test]
async fn a_product_is_found_by_its_id_and_by_its_slug() {
    let app = TestApp::new();
    let id = unique("by-slug");
    let mut row = product(&id, "home", "Stoneware Mug", &[&unique("SKU")]);
    let slug = format!("{id}-mug");
    row["slug"] = Value::String(slug.clone());
    app.import(vec![row]).await;
    let by_id = app.get_json(&format!("/products/{id}")).await;
    let by_slug = app.get_json(&format!("/products/{slug}")).await;
    assert_eq!(by_id, by_slug);
    assert_eq!(by_id["variants"][0]["price"]["amount"], 2500);
    problem(app.get(&format!("/products/{}", unique("missing"))).await, 404).await;
}

#[tokio::test]
async fn a_product_answer_revalidates_with_its_etag() {
    let app = TestApp::new();
    let first = app.get("/products/merino-crew-sweater").await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].clone();
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("public"));
    let again = app
        .client
        .get(format!("{}/products/merino-crew-sweater", app.api))
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = app
        .client
        .get(format!("{}/products/linen-button-down-shirt", app.api))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another product's tag does not match");
}

#[tokio::test]
async fn a_tampered_or_foreign_cursor_is_a_bad_request() {
    let app = TestApp::new();
    let page = app.get_json("/products?limit=2").await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("the catalog has more than one page");
    // Opaque: nothing of the table's keys shows, however it is decoded.
    use base64::Engine;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .unwrap_or_default();
    let shown = String::from_utf8_lossy(&decoded);
    for layout in ["LIST#", "PRODUCT#", "gsi1", "pk"] {
        assert!(!shown.contains(layout), "the cursor shows {layout}: {shown}");
    }
    // A position written by hand, in the shape of the table's keys, is no cursor.
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"gsi1pk":"LIST#CATALOG","gsi1sk":"a","pk":"PRODUCT#a","sk":"PRODUCT"}"#);
    let mut tampered = cursor.to_owned();
    tampered.insert(3, '!');
    let mut flipped = cursor.to_owned().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        tampered.as_str(),
        flipped.as_str(),
        forged.as_str(),
        "bm90LWEtY3Vyc29y",
        "%7B%7D",
    ] {
        let body = problem(app.get(&format!("/products?cursor={bad}")).await, 400).await;
        assert_eq!(body["code"], "invalid_cursor");
    }
    let body = problem(
        app.get(&format!("/products?category=kitchen&cursor={cursor}")).await,
        400,
    )
    .await;
    assert_eq!(
        body["code"], "invalid_cursor",
        "a cursor only works for the listing it came from"
    );
}

#[tokio::test]
async fn bad_listing_parameters_are_bad_requests() {
    let app = TestApp::new();
    for (path, code) in [
        ("/products?limit=0", "invalid_limit"),
        ("/products?limit=abc", "invalid_limit"),
        ("/products?category=Not%20A%20Slug", "invalid_category"),
        ("/products?q=a", "invalid_query"),
    ] {
        assert_eq!(problem(app.get(path).await, 400).await["code"], code, "{path}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = TestApp::new();
    assert_eq!(
        problem(app.get("/no-such-thing").await, 404).await["code"],
        "route_not_found"
    );
    let response = app.request(Method::DELETE, "/products", None).await;
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(problem(response, 405).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_store_settings_name_the_currency_and_countries() {
    let app = TestApp::new();
    let store = app.get_json("/store").await;
    assert_eq!(store["currency"], "usd");
    assert!(store["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(store["ship_to_countries"].as_array().unwrap().iter().any(|c| c == "US"));
}
