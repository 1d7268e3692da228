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

/// Every product of the merchant's list, page by page.
async fn merchant_list(app: &TestApp) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = "/admin/products?limit=100".to_owned();
    for _ in 0..1_000 {
        let response = app.admin(Method::GET, &path, &Value::Null).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let page: Value = response.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/products?limit=100&cursor={}", urlencode(cursor)),
            None => return items,
        }
    }
    panic!("the merchant's list never ended");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_merchants_list_holds_drafts_and_archived_products_that_shoppers_never_see() {
    let app = TestApp::new();
    let (on_sale, archived, draft) = (unique("onsale"), unique("archived"), unique("draft"));
    let mut low = product(&on_sale, "home", "Listed Vase", &[&unique("SKU"), &unique("SKU")]);
    low["variants"][1]["available"] = json!(2);
    low["variants"][1]["price"]["amount"] = json!(4000);
    let mut gone = product(&archived, "home", "Archived Vase", &[&unique("SKU")]);
    gone["status"] = json!("archived");
    let mut prepared = product(&draft, "home", "Draft Vase", &[&unique("SKU")]);
    prepared["status"] = json!("draft");
    let report = app.import(vec![low, gone, prepared]).await;
    assert_eq!(report["imported"], 3, "{report}");

    let list = merchant_list(&app).await;
    let entry = |id: &str| {
        list.iter()
            .find(|item| item["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is not in the merchant's list"))
    };
    let listed = entry(&on_sale);
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["variants"], 2);
    assert_eq!(listed["price_from"]["amount"], 2500);
    assert_eq!(listed["price_to"]["amount"], 4000);
    assert_eq!(listed["available"], 7);
    assert_eq!(listed["low_stock"], true);
    assert_eq!(entry(&archived)["status"], "archived");
    assert_eq!(entry(&archived)["low_stock"], false);
    assert_eq!(entry(&draft)["status"], "draft");
    assert!(
        list.iter().any(|item| item["id"] == "merino-crew-sweater"),
        "the demo catalog is listed"
    );

    let shown = app
        .admin(Method::GET, &format!("/admin/products/{archived}"), &Value::Null)
        .await;
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.json::<Value>().await.unwrap()["status"], "archived");
    for hidden in [&archived, &draft] {
        problem(app.get(&format!("/products/{hidden}")).await, 404).await;
    }
    let search = app.list_all("q=vase", 100).await;
    assert!(search.iter().any(|item| item["id"] == on_sale.as_str()));
    assert!(
        search
            .iter()
            .all(|item| item["id"] != archived.as_str() && item["id"] != draft.as_str()),
        "shoppers' listings hold only what is sold"
    );
    let unknown = app
        .admin(
            Method::GET,
            &format!("/admin/products/{}", unique("nope")),
            &Value::Null,
        )
        .await;
    problem(unknown, 404).await;
}

#[tokio::test]
async fn an_archived_product_can_no_longer_be_put_in_a_cart() {
    let app = TestApp::new();
    let (id, sku) = (unique("retire"), unique("SKU"));
    app.import(vec![product(&id, "home", "Retired Jug", &[&sku])]).await;
    let (cart, _) = app.create_cart().await;
    assert_eq!(app.set_line(&cart, &sku, 1).await.status(), 200);
    let mut archived = product(&id, "home", "Retired Jug", &[&sku]);
    archived["status"] = json!("archived");
    let saved = app
        .admin(Method::PUT, &format!("/admin/products/{id}"), &archived)
        .await;
    assert_eq!(saved.status(), 200);
    let refused = app.set_line(&cart, &sku, 2).await;
    assert!(
        refused.status().is_client_error(),
        "an archived product's SKU was sold: {}",
        refused.status()
    );
}

#[tokio::test]
async fn a_checked_or_all_or_nothing_import_with_one_bad_row_writes_no_row_at_all() {
    let app = TestApp::new();
    let (good, bad, thief, owned) = (unique("good"), unique("bad"), unique("thief"), unique("SKU"));
    app.import(vec![product(&unique("owner"), "home", "Owner", &[&owned])])
        .await;
    let mut broken = product(&bad, "home", "Broken", &[&unique("SKU")]);
    broken["title"] = json!("");
    let rows = json!({"products": [
        product(&good, "home", "Good", &[&unique("SKU")]),
        broken,
        product(&thief, "home", "Thief", &[&owned]),
    ]});
    for mode in ["check", "all_or_nothing"] {
        let path = format!("/admin/products/import?mode={mode}");
        let response = app.admin(Method::POST, &path, &rows).await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["imported"], 0);
        let refused: Vec<(u64, &str)> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(refused, [(1, "title"), (2, "variants[0].sku")], "{mode}");
    }
    for id in [&good, &bad, &thief] {
        let response = app
            .admin(Method::GET, &format!("/admin/products/{id}"), &Value::Null)
            .await;
        problem(response, 404).await;
    }

    let fixed = json!({"products": [product(&good, "home", "Good", &[&unique("SKU")])]});
    let checked = app
        .admin(Method::POST, "/admin/products/import?mode=check", &fixed)
        .await;
    let checked: Value = checked.json().await.unwrap();
    assert_eq!(
        (checked["imported"].as_u64(), checked["errors"].clone()),
        (Some(0), json!([]))
    );
    let response = app
        .admin(Method::GET, &format!("/admin/products/{good}"), &Value::Null)
        .await;
    problem(response, 404).await;
    let response = app
        .admin(Method::POST, "/admin/products/import?mode=all_or_nothing", &fixed)
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["imported"], 1);
    let response = app
        .admin(Method::GET, &format!("/admin/products/{good}"), &Value::Null)
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_discount_code_is_read_back_with_its_rule_and_redemptions() {
    let app = TestApp::new();
    let code = unique("READ").to_uppercase();
    let rule = json!({"value": {"type": "percent", "percent_bp": 1500}, "ends_at": "2030-01-01T00:00:00Z"});
    let saved = app.admin(Method::PUT, &format!("/admin/discounts/{code}"), &rule).await;
    assert_eq!(saved.status(), 201);
    let shown = app
        .admin(Method::GET, &format!("/admin/discounts/{code}"), &Value::Null)
        .await;
    assert_eq!(shown.status(), 200);
    let shown: Value = shown.json().await.unwrap();
    assert_eq!(shown["code"], code.as_str());
    assert_eq!(shown["redemptions"], 0);
    assert_eq!(shown["rule"]["value"]["percent_bp"], 1500);
    assert_eq!(shown["rule"]["ends_at"], "2030-01-01T00:00:00Z");
    let unknown = app
        .admin(
            Method::GET,
            &format!("/admin/discounts/{}", unique("NONE")),
            &Value::Null,
        )
        .await;
    problem(unknown, 404).await;
}
