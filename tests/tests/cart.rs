//! Shoppers filling carts through the gateway.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{TestApp, TestCart, expect_json, problem, product, refused_fields, unique};

/// A product in its own category with `skus`, each 5 in stock at 2,500 cents.
async fn stocked(app: &TestApp, skus: &[&str]) -> (String, String) {
    let (id, category) = (unique("cartable"), unique("cat"));
    app.import(vec![product(&id, &category, "Cartable Thing", skus)]).await;
    (id, category)
}

#[tokio::test]
async fn a_new_cart_comes_with_a_long_token_an_expiry_and_zero_totals() {
    let app = TestApp::new();
    let (cart, body) = app.create_cart().await;
    assert!(cart.token.len() >= 22, "at least 128 bits");
    assert_eq!(body["lines"], json!([]));
    assert_eq!(body["totals"]["total"], json!({"amount": 0, "currency": "usd"}));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let again = app.cart(&cart).await;
    assert!(again.get("cart_token").is_none(), "the token is shown once");
}

#[tokio::test]
async fn without_its_own_token_a_cart_answers_like_one_that_does_not_exist() {
    let app = TestApp::new();
    let (mine, _) = app.create_cart().await;
    let (theirs, _) = app.create_cart().await;
    let path = format!("/carts/{}", mine.id);
    let no_token = problem(app.request(Method::GET, &path, None).await, 404).await;
    let wrong = problem(app.cart_call(Method::GET, &path, "not-a-token", None).await, 404).await;
    let other = problem(app.cart_call(Method::GET, &path, &theirs.token, None).await, 404).await;
    let missing = problem(
        app.cart_call(Method::GET, &format!("/carts/{}", unique("none")), &mine.token, None)
            .await,
        404,
    )
    .await;
    for body in [&no_token, &wrong, &other] {
        assert_eq!(body["code"], missing["code"]);
        assert_eq!(body["detail"], missing["detail"]);
    }
    let (sku, _) = (unique("SKU"), ());
    stocked(&app, &[&sku]).await;
    let foreign = TestCart {
        id: mine.id.clone(),
        token: theirs.token.clone(),
    };
    problem(app.set_line(&foreign, &sku, 1).await, 404).await;
    assert_eq!(app.cart(&mine).await["lines"], json!([]), "nothing was written");
    // Whatever the body or path says, a cart that is not the caller's is not found: the token is
    // checked before anything else.
    let cart_path = format!("/carts/{}", mine.id);
    let calls = [
        (
            Method::PUT,
            format!("{cart_path}/items/{sku}"),
            json!({"quantity": "many"}),
        ),
        (
            Method::PUT,
            format!("{cart_path}/items/{sku}"),
            json!({"quantity": 1000}),
        ),
        (
            Method::PUT,
            format!("{cart_path}/items/not%20a%20sku"),
            json!({"quantity": 1}),
        ),
        (Method::DELETE, format!("{cart_path}/items/not%20a%20sku"), json!({})),
        (Method::POST, format!("{cart_path}/discount"), json!({"code": ""})),
        (Method::POST, format!("{cart_path}/discount"), json!({"cod": "X"})),
        (Method::PUT, format!("{cart_path}/shipping"), json!({"country": "ZZ"})),
        (Method::PUT, format!("{cart_path}/shipping"), json!([])),
    ];
    for (method, path, body) in calls {
        let answer = app.cart_call(method.clone(), &path, &theirs.token, Some(&body)).await;
        assert_eq!(
            problem(answer, 404).await["code"],
            missing["code"],
            "{method} {path} {body}"
        );
    }
}

#[tokio::test]
async fn prices_come_from_the_catalog_and_a_price_sent_by_the_client_is_refused() {
    let app = TestApp::new();
    let sku = unique("SKU");
    let (product_id, category) = stocked(&app, &[&sku]).await;
    let (cart, _) = app.create_cart().await;
    let body = json!({"quantity": 2, "unit_price": {"amount": 1, "currency": "usd"}, "line_total": 2});
    let path = format!("/carts/{}/items/{sku}", cart.id);
    let refused = problem(app.cart_call(Method::PUT, &path, &cart.token, Some(&body)).await, 422).await;
    assert_eq!(refused_fields(&refused), ["line_total", "unit_price"]);
    assert_eq!(app.cart(&cart).await["lines"], json!([]), "nothing was written");
    let body = json!({"quantity": 2});
    let answered = expect_json(app.cart_call(Method::PUT, &path, &cart.token, Some(&body)).await, 200).await;
    assert_eq!(answered["lines"][0]["unit_price"]["amount"], 2500);
    assert_eq!(answered["lines"][0]["line_total"]["amount"], 5000);
    assert_eq!(answered["totals"]["subtotal"]["amount"], 5000);

    let mut repriced = product(&product_id, &category, "Cartable Thing", &[&sku]);
    repriced["variants"][0]["price"]["amount"] = json!(3000);
    app.import(vec![repriced]).await;
    let cart_now = app.cart(&cart).await;
    assert_eq!(cart_now["lines"][0]["unit_price"]["amount"], 3000);
    assert_eq!(cart_now["lines"][0]["price_changed_from"]["amount"], 2500);
    assert_eq!(cart_now["totals"]["subtotal"]["amount"], 6000);
}

#[tokio::test]
async fn twenty_concurrent_updates_of_twenty_different_lines_are_all_kept() {
    let app = TestApp::new();
    let skus: Vec<String> = (0..20).map(|_| unique("SKU")).collect();
    let refs: Vec<&str> = skus.iter().map(String::as_str).collect();
    stocked(&app, &refs).await;
    let (cart, _) = app.create_cart().await;
    let answers = join_all(
        skus.iter()
            .enumerate()
            .map(|(i, sku)| app.set_line(&cart, sku, (i % 5 + 1) as i64)),
    )
    .await;
    assert!(answers.iter().all(|r| r.status() == 200));
    let lines = app.cart(&cart).await["lines"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 20);
    for (i, sku) in skus.iter().enumerate() {
        let line = lines
            .iter()
            .find(|l| l["sku"] == sku.as_str())
            .expect("every line is kept");
        assert_eq!(line["quantity"], (i % 5 + 1) as u64);
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_line_leave_one_of_the_values_whole() {
    let app = TestApp::new();
    let sku = unique("SKU");
    stocked(&app, &[&sku]).await;
    let (cart, _) = app.create_cart().await;
    join_all((1..=5).map(|quantity| app.set_line(&cart, &sku, quantity))).await;
    let line = app.cart(&cart).await["lines"][0].clone();
    let quantity = line["quantity"].as_i64().unwrap();
    assert!((1..=5).contains(&quantity));
    assert_eq!(line["line_total"]["amount"].as_i64(), Some(quantity * 2500));
}

#[tokio::test]
async fn quantity_zero_and_delete_remove_a_line() {
    let app = TestApp::new();
    let (a, b) = (unique("SKU"), unique("SKU"));
    stocked(&app, &[&a, &b]).await;
    let (cart, _) = app.create_cart().await;
    app.set_line(&cart, &a, 1).await;
    app.set_line(&cart, &b, 1).await;
    let after_zero = expect_json(app.set_line(&cart, &a, 0).await, 200).await;
    assert_eq!(after_zero["lines"].as_array().unwrap().len(), 1);
    let path = format!("/carts/{}/items/{b}", cart.id);
    let after_delete = expect_json(app.cart_call(Method::DELETE, &path, &cart.token, None).await, 200).await;
    assert_eq!(after_delete["lines"], json!([]));
    assert_eq!(after_delete["totals"]["total"]["amount"], 0);
}

#[tokio::test]
async fn quantities_beyond_stock_or_bounds_and_unknown_skus_are_refused_and_nothing_is_written() {
    let app = TestApp::new();
    let (sku, sold_out) = (unique("SKU"), unique("SKU"));
    stocked(&app, &[&sku, &sold_out]).await;
    app.admin(
        Method::PUT,
        &format!("/admin/inventory/{sold_out}"),
        &json!({"available": 0}),
    )
    .await;
    let (cart, _) = app.create_cart().await;

    let over = problem(app.set_line(&cart, &sku, 6).await, 409).await;
    assert_eq!(over["code"], "insufficient_stock");
    assert_eq!(over["lines"], json!([{"sku": sku, "requested": 6, "available": 5}]));
    assert_eq!(
        problem(app.set_line(&cart, &sold_out, 1).await, 409).await["code"],
        "sold_out"
    );
    assert_eq!(
        problem(app.set_line(&cart, &unique("NOPE"), 1).await, 422).await["code"],
        "unknown_sku"
    );
    for bad in [-1, 100, 5_000_000_000] {
        let body = problem(app.set_line(&cart, &sku, bad).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "quantity", "{bad}");
    }
    let path = format!("/carts/{}/items/{sku}", cart.id);
    let text = app
        .cart_call(Method::PUT, &path, &cart.token, Some(&json!({"quantity": "two"})))
        .await;
    assert_eq!(problem(text, 422).await["errors"][0]["field"], "quantity");
    let malformed = app
        .client
        .put(format!("{}{path}", app.api))
        .bearer_auth(&cart.token)
        .header("content-type", "application/json")
        .body("{\"quantity\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(malformed, 400).await["code"], "malformed_json");
    assert_eq!(app.cart(&cart).await["lines"], json!([]));
}

async fn discount(app: &TestApp, rule: Value) -> String {
    let code = unique("code").replace('-', "_").to_uppercase();
    let code: String = code.chars().take(32).collect();
    let response = app.admin(Method::PUT, &format!("/admin/discounts/{code}"), &rule).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    code
}

async fn apply(app: &TestApp, cart: &TestCart, code: &str) -> reqwest::Response {
    let path = format!("/carts/{}/discount", cart.id);
    app.cart_call(Method::POST, &path, &cart.token, Some(&json!({ "code": code })))
        .await
}

#[tokio::test]
async fn each_discount_rule_is_checked_and_a_valid_code_takes_its_share_off() {
    let app = TestApp::new();
    let sku = unique("SKU");
    let (_, category) = stocked(&app, &[&sku]).await;
    let (cart, _) = app.create_cart().await;
    app.set_line(&cart, &sku, 2).await; // subtotal 5,000

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let percent = json!({"type": "percent", "percent_bp": 1000});
    let cases = [
        (
            json!({"value": percent, "starts_at": now + 3600}),
            "discount_not_started",
        ),
        // Times in RFC 3339 or Unix seconds alike.
        (
            json!({"value": percent, "ends_at": shop_platform::clock::rfc3339(now - 1)}),
            "discount_expired",
        ),
        (
            json!({"value": percent, "min_subtotal": 5001}),
            "discount_minimum_not_met",
        ),
        (json!({"value": percent, "max_redemptions": 0}), "discount_exhausted"),
        (
            json!({"value": percent, "categories": ["some-other-category"]}),
            "discount_not_applicable",
        ),
    ];
    for (rule, expected) in cases {
        let code = discount(&app, rule).await;
        assert_eq!(problem(apply(&app, &cart, &code).await, 422).await["code"], expected);
    }
    assert_eq!(
        problem(apply(&app, &cart, "NO_SUCH_CODE").await, 422).await["code"],
        "unknown_discount_code"
    );
    assert_eq!(
        app.cart(&cart).await["discount_code"],
        Value::Null,
        "a refused code is not kept"
    );

    let good = discount(
        &app,
        json!({"value": percent, "min_subtotal": 5000, "categories": [category]}),
    )
    .await;
    let applied = expect_json(apply(&app, &cart, &good.to_lowercase()).await, 200).await;
    assert_eq!(applied["discount_code"], good.as_str());
    assert_eq!(applied["totals"]["discount"]["amount"], 500);
    let fixed = discount(&app, json!({"value": {"type": "fixed", "amount": 999_999}})).await;
    let capped = expect_json(apply(&app, &cart, &fixed).await, 200).await;
    assert_eq!(
        capped["totals"]["discount"]["amount"], 5000,
        "never more than the subtotal"
    );

    // Dropping below the minimum keeps the code but stops it counting, and says why.
    let minimum = discount(&app, json!({"value": percent, "min_subtotal": 5000})).await;
    expect_json(apply(&app, &cart, &minimum).await, 200).await;
    let smaller = expect_json(app.set_line(&cart, &sku, 1).await, 200).await;
    assert_eq!(smaller["totals"]["discount"]["amount"], 0);
    assert_eq!(smaller["discount_issue"]["code"], "discount_minimum_not_met");
    let path = format!("/carts/{}/discount", cart.id);
    let removed = expect_json(app.cart_call(Method::DELETE, &path, &cart.token, None).await, 200).await;
    assert_eq!(removed["discount_code"], Value::Null);
}

#[tokio::test]
async fn shipping_options_and_tax_follow_the_destination() {
    let app = TestApp::new();
    let options = app.get_json("/shipping-options?country=us").await;
    let ids: Vec<&str> = options["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["standard", "express"]);
    assert_eq!(
        app.get_json("/shipping-options?country=FR").await["items"][0]["id"],
        "international"
    );
    let refused = problem(app.get("/shipping-options?country=JP").await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "country");

    let sku = unique("SKU");
    stocked(&app, &[&sku]).await;
    let (cart, _) = app.create_cart().await;
    let one = expect_json(app.set_line(&cart, &sku, 1).await, 200).await; // 2,500: standard costs 500
    assert_eq!(
        (
            one["shipping_method"].as_str(),
            one["totals"]["shipping"]["amount"].as_i64()
        ),
        (Some("standard"), Some(500))
    );
    let four = expect_json(app.set_line(&cart, &sku, 4).await, 200).await; // 10,000: standard is free over 7,500
    assert_eq!(four["totals"]["shipping"]["amount"], 0);

    let path = format!("/carts/{}/shipping", cart.id);
    let california = json!({"country": "US", "region": "ca", "method": "express"});
    let us = expect_json(
        app.cart_call(Method::PUT, &path, &cart.token, Some(&california)).await,
        200,
    )
    .await;
    assert_eq!(us["totals"]["shipping"]["amount"], 1500);
    assert_eq!(us["totals"]["tax"]["amount"], 725, "7.25 % of 10,000, added");
    assert_eq!(us["totals"]["total"]["amount"], 10_000 + 1500 + 725);

    let britain = json!({"country": "GB"});
    let gb = expect_json(
        app.cart_call(Method::PUT, &path, &cart.token, Some(&britain)).await,
        200,
    )
    .await;
    assert_eq!(gb["totals"]["tax_included"], true);
    assert_eq!(
        gb["totals"]["tax"]["amount"], 1667,
        "20 % VAT inside 10,000, rounded half up"
    );
    assert_eq!(gb["totals"]["total"]["amount"], 10_000 + 2500);

    let wrong_method = json!({"country": "GB", "method": "express"});
    let refused = problem(
        app.cart_call(Method::PUT, &path, &cart.token, Some(&wrong_method))
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "method");
}

#[tokio::test]
async fn every_change_slides_the_expiry_forward() {
    let app = TestApp::new();
    let sku = unique("SKU");
    stocked(&app, &[&sku]).await;
    let (cart, created) = app.create_cart().await;
    let first = created["expires_at"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let later = expect_json(app.set_line(&cart, &sku, 1).await, 200).await;
        if later["expires_at"].as_str().unwrap() > first.as_str() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the expiry never moved past {first}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
