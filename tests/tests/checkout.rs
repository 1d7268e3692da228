//! Checking out through the gateway, with the local Stripe server.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{
    Ahead, TestApp, TestCart, TestStripe, checkout_body, expect_json, hosted_env, problem, product, refused_fields,
    unique, unique_email,
};
use std::collections::HashSet;
use std::sync::Arc;

/// A product with one SKU and `stock` units.
async fn stocked(app: &TestApp, stock: u32) -> (String, String) {
    let (id, sku) = (unique("sellable"), unique("SKU"));
    let mut row = product(&id, &unique("cat"), "Sellable Thing", &[&sku]);
    row["variants"][0]["available"] = json!(stock);
    assert_eq!(app.import(vec![row]).await["imported"], 1);
    (id, sku)
}

#[tokio::test]
async fn a_checkout_reserves_stock_and_creates_a_payment_intent_the_shopper_can_pay() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (product_id, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 2).await;
    let cart_totals = app.cart(&cart).await["totals"].clone();
    let order = expect_json(
        app.checkout(&unique("key"), &checkout_body(&cart, "Ada@Example.com"))
            .await,
        201,
    )
    .await;

    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["email"], "ada@example.com");
    assert!(order["order_token"].as_str().unwrap().len() >= 22);
    assert!(order["expires_at"].as_str().unwrap().ends_with('Z'));
    // The cart was shipping to its default destination; the order ships to California: 7.25 % tax.
    assert_eq!(order["totals"]["subtotal"], cart_totals["subtotal"]);
    assert_eq!(
        order["totals"]["tax"]["amount"], 363,
        "7.25 % of 5,000, rounded half up"
    );
    assert_eq!(order["totals"]["total"]["amount"], 5000 + 500 + 363);
    assert_eq!(app.available(&product_id, &sku).await, 3);

    let payment = &order["payment"];
    assert_eq!(payment["provider"], "stripe");
    let intent_id = payment["payment_intent_id"].as_str().unwrap();
    let intent = stripe.intent(intent_id).await;
    assert_eq!(intent["amount"], order["totals"]["total"]["amount"]);
    assert_eq!(intent["metadata"]["order_id"], order["order_id"]);
    assert_eq!(intent["client_secret"], payment["client_secret"]);
    let paid: Value = stripe.confirm(intent_id, "pm_card_visa").await.json().await.unwrap();
    assert_eq!(paid["status"], "succeeded");

    let changed = app.set_line(&cart, &sku, 1).await;
    assert_eq!(problem(changed, 409).await["code"], "cart_checked_out");
}

#[tokio::test]
async fn a_checkout_without_an_idempotency_key_or_with_bad_details_is_refused() {
    let app = TestApp::new();
    let (_, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 1).await;
    let no_key = app
        .client
        .post(format!("{}/checkout", app.api))
        .json(&checkout_body(&cart, &unique_email("a")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(no_key, 400).await["code"], "missing_idempotency_key");

    let mut body = checkout_body(&cart, "not-an-email");
    body["shipping_address"]["city"] = json!("");
    body["shipping_method"] = json!("international");
    let refused = problem(app.checkout(&unique("key"), &body).await, 422).await;
    assert_eq!(
        refused_fields(&refused),
        ["email", "shipping_address.city", "shipping_method"]
    );

    let mut abroad = checkout_body(&cart, &unique_email("a"));
    abroad["shipping_address"]["country"] = json!("JP");
    let refused = problem(app.checkout(&unique("key"), &abroad).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "shipping_address.country");

    let wrong_token = json!({"cart_token": "nope"});
    let mut stolen = checkout_body(&cart, &unique_email("a"));
    stolen["cart_token"] = wrong_token["cart_token"].clone();
    problem(app.checkout(&unique("key"), &stolen).await, 404).await;
}

#[tokio::test]
async fn a_line_short_of_stock_is_named_and_nothing_is_reserved() {
    let app = TestApp::new();
    let (product_id, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 3).await;
    app.admin(
        Method::PUT,
        &format!("/admin/inventory/{sku}"),
        &json!({"available": 1}),
    )
    .await;
    let refused = problem(
        app.checkout(&unique("key"), &checkout_body(&cart, &unique_email("a")))
            .await,
        409,
    )
    .await;
    assert_eq!(refused["code"], "insufficient_stock");
    assert_eq!(refused["lines"], json!([{"sku": sku, "requested": 3, "available": 1}]));
    assert_eq!(app.available(&product_id, &sku).await, 1);
    assert_eq!(app.cart(&cart).await["status"], "open", "the cart can still be changed");
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_order_and_another_body_is_refused() {
    let (app, key) = (TestApp::new(), unique("key"));
    let (product_id, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 2).await;
    let body = checkout_body(&cart, &unique_email("a"));
    let first = expect_json(app.checkout(&key, &body).await, 201).await;
    let again = app.checkout(&key, &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let mut replayed = expect_json(again, 201).await;
    // The replay's order token is its own (the first is kept nowhere); the rest is the first answer.
    let token = replayed["order_token"].take();
    assert_ne!(token, first["order_token"]);
    let mut rest = first.clone();
    rest["order_token"] = Value::Null;
    assert_eq!(replayed, rest);
    for token in [&first["order_token"], &token] {
        let path = format!("/orders/{}", first["order_id"].as_str().unwrap());
        let opened = app.cart_call(Method::GET, &path, token.as_str().unwrap(), None).await;
        assert_eq!(opened.status(), 200, "each token opens the order");
    }
    assert_eq!(app.available(&product_id, &sku).await, 3, "reserved once");

    let mut other = body.clone();
    other["email"] = json!("someone@else.com");
    assert_eq!(
        problem(app.checkout(&key, &other).await, 422).await["code"],
        "idempotency_key_reused"
    );
}

#[tokio::test]
async fn ten_concurrent_requests_with_one_key_make_one_order_and_one_payment_intent() {
    let (app, key) = (TestApp::new(), unique("key"));
    let (product_id, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 1).await;
    let body = checkout_body(&cart, &unique_email("a"));
    let answers = join_all((0..10).map(|_| app.checkout(&key, &body))).await;
    let mut orders = HashSet::new();
    let mut intents = HashSet::new();
    for answer in answers {
        let order = expect_json(answer, 201).await;
        orders.insert(order["order_id"].as_str().unwrap().to_owned());
        intents.insert(order["payment"]["payment_intent_id"].as_str().unwrap().to_owned());
    }
    assert_eq!((orders.len(), intents.len()), (1, 1));
    assert_eq!(app.available(&product_id, &sku).await, 4);
}

/// Orders in the table holding `sku`, counted by reading the table, not the answers.
async fn orders_holding(sku: &str) -> usize {
    let sdk = shop_platform::aws::sdk_config().await;
    let table = std::env::var("SHOP_TABLE").unwrap();
    let items: Vec<_> = aws_sdk_dynamodb::Client::new(&sdk)
        .scan()
        .table_name(table)
        .filter_expression("sk = :order")
        .expression_attribute_values(":order", aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    items
        .into_iter()
        .map(|item| item.unwrap())
        .filter(|item| format!("{:?}", item.get("lines")).contains(sku))
        .count()
}

#[tokio::test]
async fn a_flash_sale_of_200_shoppers_for_20_units_sells_exactly_20() {
    let app = TestApp::new();
    let (product_id, sku) = stocked(&app, 20).await;
    // Each shopper on a network of their own, as in a real sale (one address would reach its
    // per-source limit on holds).
    let shoppers: Vec<TestApp> = (0..200).map(|_| TestApp::new()).collect();
    let carts: Vec<_> = stream::iter(&shoppers)
        .map(|shopper| shopper.cart_with(&sku, 1))
        .buffer_unordered(40)
        .collect()
        .await;
    let statuses: Vec<u16> = stream::iter(shoppers.iter().zip(&carts))
        .map(|(shopper, cart)| {
            let body = checkout_body(cart, &unique_email("shopper"));
            async move { shopper.checkout(&unique("flash"), &body).await.status().as_u16() }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    assert_eq!((count(201), count(409)), (20, 180), "answers: {statuses:?}");
    assert_eq!(orders_holding(&sku).await, 20);
    assert_eq!(app.available(&product_id, &sku).await, 0);
}

#[tokio::test]
async fn two_shoppers_racing_for_a_codes_last_redemption_one_wins() {
    let app = TestApp::new();
    let (_, sku) = stocked(&app, 10).await;
    let code = unique("LAST")
        .replace('-', "_")
        .to_uppercase()
        .chars()
        .take(32)
        .collect::<String>();
    let rule = json!({"value": {"type": "percent", "percent_bp": 2000}, "max_redemptions": 1});
    assert_eq!(
        app.admin(Method::PUT, &format!("/admin/discounts/{code}"), &rule)
            .await
            .status(),
        201
    );
    let mut carts = Vec::new();
    for _ in 0..2 {
        let cart = app.cart_with(&sku, 1).await;
        assert_eq!(apply_code(&app, &cart, &code).await.status(), 200);
        carts.push(cart);
    }
    let bodies: Vec<Value> = carts
        .iter()
        .enumerate()
        .map(|(i, cart)| checkout_body(cart, &format!("r{i}@example.com")))
        .collect();
    let keys: Vec<String> = bodies.iter().map(|_| unique("race")).collect();
    let answers = join_all(bodies.iter().zip(&keys).map(|(body, key)| app.checkout(key, body))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 422]);
    for answer in answers.into_iter().filter(|a| a.status() == 422) {
        assert_eq!(problem(answer, 422).await["code"], "discount_exhausted");
    }
}

/// Applies discount `code` to `cart`.
async fn apply_code(app: &TestApp, cart: &TestCart, code: &str) -> reqwest::Response {
    let path = format!("/carts/{}/discount", cart.id);
    app.cart_call(Method::POST, &path, &cart.token, Some(&json!({"code": code})))
        .await
}

#[tokio::test]
async fn a_once_per_customer_code_works_once_per_email() {
    let app = TestApp::new();
    let (_, sku) = stocked(&app, 10).await;
    let code = unique("ONCE")
        .replace('-', "_")
        .to_uppercase()
        .chars()
        .take(32)
        .collect::<String>();
    let rule = json!({"value": {"type": "fixed", "amount": 500}, "once_per_customer": true});
    app.admin(Method::PUT, &format!("/admin/discounts/{code}"), &rule).await;
    let email = format!("{}@example.com", unique("once"));
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let cart = app.cart_with(&sku, 1).await;
        assert_eq!(apply_code(&app, &cart, &code).await.status(), 200);
        statuses.push(app.checkout(&unique("once"), &checkout_body(&cart, &email)).await);
    }
    let second = statuses.pop().unwrap();
    assert_eq!(problem(second, 422).await["code"], "discount_already_used");
    let first = expect_json(statuses.pop().unwrap(), 201).await;

    // Cancelled before payment, the order gives the code back to its customer.
    let path = format!("/orders/{}/cancel", first["order_id"].as_str().unwrap());
    let token = first["order_token"].as_str().unwrap();
    expect_json(app.cart_call(Method::POST, &path, token, None).await, 200).await;
    let cart = app.cart_with(&sku, 1).await;
    assert_eq!(apply_code(&app, &cart, &code).await.status(), 200);
    let again = expect_json(app.checkout(&unique("once"), &checkout_body(&cart, &email)).await, 201).await;
    assert_eq!(again["totals"]["discount"]["amount"], 500, "{again}");
}

#[tokio::test]
async fn when_the_hold_ends_an_unpaid_order_is_cancelled_and_its_stock_comes_back_once() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (product_id, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 2).await;
    let order = expect_json(
        app.checkout(&unique("key"), &checkout_body(&cart, &unique_email("late")))
            .await,
        201,
    )
    .await;
    assert_eq!(app.available(&product_id, &sku).await, 3);

    // The consumer as the gateway hosts it, telling time one hold (900 s) and a minute ahead.
    let (vars, sdk) = hosted_env("reservation-expiry").await;
    let env = shop_platform::config::Env::from_map(vars);
    let consumer = reservation_expiry::ReservationExpiry::from_env(&env, &sdk)
        .await
        .unwrap();
    let message = |id: &str| {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(json!({"order_id": order["order_id"]}).to_string());
        message
    };
    let mut early = SqsEvent::default();
    early.records = vec![message("m0")];
    let consumer = consumer.with_clock(Arc::new(Ahead(0)));
    assert_eq!(
        consumer.handle_batch(early).await.batch_item_failures.len(),
        1,
        "too early: retried later"
    );
    assert_eq!(app.available(&product_id, &sku).await, 3);

    let consumer = consumer.with_clock(Arc::new(Ahead(960)));
    let mut twice = SqsEvent::default();
    twice.records = vec![message("m1")];
    assert!(
        consumer
            .handle_batch(twice.clone())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(consumer.handle_batch(twice).await.batch_item_failures.is_empty());
    assert_eq!(app.available(&product_id, &sku).await, 5, "given back once");
    let intent = stripe
        .intent(order["payment"]["payment_intent_id"].as_str().unwrap())
        .await;
    assert_eq!(intent["status"], "canceled");
}

/// The checkout's idempotency record in the table, as stored.
async fn idempotency_record(key: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let sdk = shop_platform::aws::sdk_config().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(std::env::var("SHOP_TABLE").unwrap())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("IDEMPOTENCY#{key}")),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("RECORD".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the key's record is stored")
}

#[tokio::test]
async fn a_replayed_key_opens_nothing_without_the_carts_token_and_no_token_is_kept_at_rest() {
    let (app, key) = (TestApp::new(), unique("key"));
    let (_, sku) = stocked(&app, 5).await;
    let cart = app.cart_with(&sku, 1).await;
    // The cart's token as a bearer token, not in the body.
    let mut body = checkout_body(&cart, &unique_email("bearer"));
    body.as_object_mut().unwrap().remove("cart_token");
    let send = |bearer: &str| {
        app.client
            .post(format!("{}/checkout", app.api))
            .header("Idempotency-Key", &key)
            .bearer_auth(bearer)
            .json(&body)
            .send()
    };
    let first = expect_json(send(&cart.token).await.unwrap(), 201).await;
    for stranger in ["not-the-token", "", "x"] {
        let refused = problem(send(stranger).await.unwrap(), 404).await;
        assert_eq!(refused["code"], "not_found", "{stranger:?} replayed the checkout");
    }
    let replay = expect_json(send(&cart.token).await.unwrap(), 201).await;
    assert_eq!(replay["order_id"], first["order_id"]);

    let record = idempotency_record(&key).await;
    let stored = format!("{record:?}");
    assert!(!record.contains_key("order_token"), "{stored}");
    for token in [&first["order_token"], &replay["order_token"]] {
        assert!(
            !stored.contains(token.as_str().unwrap()),
            "a token is stored in plain text: {stored}"
        );
    }
}

#[tokio::test]
async fn a_line_changed_while_the_cart_is_checked_out_is_in_the_order_or_refused_as_checked_out() {
    let app = TestApp::new();
    let (_, first_sku) = stocked(&app, 100).await;
    let (_, second_sku) = stocked(&app, 100).await;
    for round in 0..8 {
        let cart = app.cart_with(&first_sku, 1).await;
        let key = unique("race");
        let body = checkout_body(&cart, &unique_email("racer"));
        let (checkout, change) = futures::join!(app.checkout(&key, &body), app.set_line(&cart, &second_sku, 2));
        let order = expect_json(checkout, 201).await;
        let lines: Vec<(String, u64)> = order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["sku"].as_str().unwrap().to_owned(), l["quantity"].as_u64().unwrap()))
            .collect();
        match change.status().as_u16() {
            200 => assert!(
                lines.contains(&(second_sku.clone(), 2)),
                "round {round}: the change answered 200 but the order holds {lines:?}"
            ),
            409 => {
                assert_eq!(problem(change, 409).await["code"], "cart_checked_out", "round {round}");
                assert_eq!(lines, [(first_sku.clone(), 1)], "round {round}");
            }
            other => panic!("round {round}: a change during checkout answered {other}"),
        }
    }
}
