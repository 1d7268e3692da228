//! The merchant's catalog desk through the gateway.

use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{TestApp, problem, product, seed_catalog, unique};

#[tokio::test]
async fn admin_routes_without_the_token_are_401_and_with_a_wrong_token_403() {
    let app = TestApp::new();
    let body = json!({"products": []});
    let anonymous = app.request(Method::POST, "/admin/products/import", Some(&body)).await;
    assert_eq!(problem(anonymous, 401).await["code"], "unauthorized");
    let wrong = app
        .client
        .post(format!("{}/admin/products/import", app.api))
        .bearer_auth("not-the-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(wrong, 403).await["code"], "forbidden");
}

#[tokio::test]
async fn an_import_with_a_bad_row_writes_nothing_of_that_product_and_the_rest_lands() {
    let app = TestApp::new();
    let (good, bad) = (unique("good"), unique("bad"));
    let mut broken = product(&bad, "home", "Broken Lamp", &[&unique("SKU"), &unique("SKU")]);
    broken["variants"][1]["price"]["amount"] = json!("cheap");
    let report = app
        .import(vec![product(&good, "home", "Good Lamp", &[&unique("SKU")]), broken])
        .await;
    assert_eq!(report["imported"], 1);
    assert_eq!(
        report["errors"],
        json!([{"index": 1, "field": "variants[1].price.amount", "reason": report["errors"][0]["reason"]}])
    );
    assert_eq!(app.get(&format!("/products/{good}")).await.status(), 200);
    problem(app.get(&format!("/products/{bad}")).await, 404).await;
    let search = app.list_all("q=broken+lamp", 50).await;
    assert!(
        search.iter().all(|item| item["id"] != bad.as_str()),
        "no listing of the bad row was written"
    );
}

#[tokio::test]
async fn re_importing_the_demo_catalog_changes_nothing() {
    let app = TestApp::new();
    let before = app.list_all("category=kitchen", 100).await;
    let products = seed_catalog()["products"].as_array().unwrap().clone();
    let count = products.len();
    let report = app.import(products).await;
    assert_eq!(report["imported"], count);
    assert_eq!(report["created"], 0);
    assert_eq!(report["errors"], json!([]));
    assert_eq!(app.list_all("category=kitchen", 100).await, before);
}

#[tokio::test]
async fn a_sku_or_slug_of_another_product_is_refused() {
    let app = TestApp::new();
    let sku = unique("SKU");
    let (owner, thief) = (unique("owner"), unique("thief"));
    app.import(vec![product(&owner, "home", "Owner", &[&sku])]).await;
    let report = app.import(vec![product(&thief, "home", "Thief", &[&sku])]).await;
    assert_eq!(report["imported"], 0);
    assert_eq!(report["errors"][0]["field"], "variants[0].sku");

    let mut same_slug = product(&thief, "home", "Thief", &[&unique("SKU")]);
    same_slug["slug"] = Value::String(owner.clone());
    let response = app
        .admin(Method::PUT, &format!("/admin/products/{thief}"), &same_slug)
        .await;
    assert_eq!(problem(response, 409).await["code"], "claimed_by_another_product");
    problem(app.get(&format!("/products/{thief}")).await, 404).await;
}

#[tokio::test]
async fn putting_a_product_creates_then_updates_it_and_moves_it_between_categories() {
    let app = TestApp::new();
    let id = unique("put");
    let (first, second) = (unique("cat"), unique("cat"));
    let created = app
        .admin(
            Method::PUT,
            &format!("/admin/products/{id}"),
            &product(&id, &first, "Kettle", &[&unique("SKU")]),
        )
        .await;
    assert_eq!(created.status(), 201);
    let mut moved = product(&id, &second, "Whistling Kettle", &[&unique("SKU")]);
    moved.as_object_mut().unwrap().remove("id");
    let updated = app.admin(Method::PUT, &format!("/admin/products/{id}"), &moved).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(
        app.get_json(&format!("/products/{id}")).await["title"],
        "Whistling Kettle"
    );
    assert!(app.list_all(&format!("category={first}"), 10).await.is_empty());
    assert_eq!(app.list_all(&format!("category={second}"), 10).await.len(), 1);
    assert!(
        app.list_all("q=whistling", 50)
            .await
            .iter()
            .any(|i| i["id"] == id.as_str())
    );

    let mismatch = product(&unique("other"), &second, "Kettle", &[&unique("SKU")]);
    let response = app
        .admin(Method::PUT, &format!("/admin/products/{id}"), &mismatch)
        .await;
    assert_eq!(problem(response, 422).await["errors"][0]["field"], "id");
}

#[tokio::test]
async fn counting_stock_to_zero_takes_the_product_out_of_stock_in_listings() {
    let app = TestApp::new();
    let (id, sku, category) = (unique("stock"), unique("SKU"), unique("cat"));
    app.import(vec![product(&id, &category, "Candle", &[&sku])]).await;
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/inventory/{sku}"),
            &json!({"available": 0}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["available"], 0);
    assert_eq!(
        app.list_all(&format!("category={category}"), 10).await[0]["in_stock"],
        false
    );
    assert_eq!(
        app.get_json(&format!("/products/{id}")).await["variants"][0]["available"],
        0
    );

    app.admin(
        Method::PUT,
        &format!("/admin/inventory/{sku}"),
        &json!({"available": 7}),
    )
    .await;
    assert_eq!(
        app.list_all(&format!("category={category}"), 10).await[0]["in_stock"],
        true
    );
    let unknown = app
        .admin(
            Method::PUT,
            &format!("/admin/inventory/{}", unique("NOPE")),
            &json!({"available": 1}),
        )
        .await;
    problem(unknown, 404).await;
}

#[tokio::test]
async fn malformed_wrong_typed_and_oversized_bodies_get_clear_errors() {
    let app = TestApp::new();
    let sku = "MCS-NAVY-S";
    let url = format!("{}/admin/inventory/{sku}", app.api);
    let send = |body: String| {
        app.client
            .put(&url)
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        problem(send("{\"available\":".into()).await.unwrap(), 400).await["code"],
        "malformed_json"
    );
    let wrong = problem(send("{\"available\": -3}".into()).await.unwrap(), 422).await;
    assert_eq!(wrong["errors"][0]["field"], "available");
    let huge = format!("{{\"available\": 1, \"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    assert_eq!(
        problem(send(huge).await.unwrap(), 413).await["code"],
        "payload_too_large"
    );
}
