//! A shopper's own order through the gateway: the view with its timeline, cancelling before and
//! after payment (refund at the local Stripe server, stock back, mails), the order lookup by
//! email, and another order's token opening nothing.

use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{Inbox, TestApp, TestStripe, dollars, expect_json, problem, unique};

fn email() -> String {
    format!("{}@example.com", unique("service"))
}

async fn cancel(app: &TestApp, order: &Value, token: &str) -> reqwest::Response {
    let path = format!("/orders/{}/cancel", order["order_id"].as_str().unwrap());
    app.cart_call(Method::POST, &path, token, None).await
}

fn token(order: &Value) -> &str {
    order["order_token"].as_str().unwrap()
}

#[tokio::test]
async fn cancelling_before_payment_gives_the_stock_back_and_cancels_the_payment() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = email();
    let (order, _sku) = app.pending_order(&email, 5, 2).await;
    let product_id = order["lines"][0]["product_id"].as_str().unwrap().to_owned();
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    assert_eq!(app.available(&product_id, &sku).await, 3);

    let cancelled = expect_json(cancel(&app, &order, token(&order)).await, 200).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.available(&product_id, &sku).await, 5, "the stock is back");
    let intent = stripe
        .intent(order["payment"]["payment_intent_id"].as_str().unwrap())
        .await;
    assert_eq!(intent["status"], "canceled", "nothing can be charged any more");
    let steps: Vec<&str> = cancelled["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pending_payment", "cancelled"]);

    // Cancelling twice has the effect of once.
    let again = expect_json(cancel(&app, &order, token(&order)).await, 200).await;
    assert_eq!(again["status"], "cancelled");
    assert_eq!(app.available(&product_id, &sku).await, 5);
    let mails = inbox.wait_for(&email, "was cancelled", 1).await;
    assert_eq!(mails.len(), 1);
    let text = mails[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains("as you asked") && text.contains("Nothing was charged"),
        "{text}"
    );
}

#[tokio::test]
async fn cancelling_after_payment_refunds_in_full_through_stripe_and_gives_the_stock_back() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = email();
    let (order, _) = app.pending_order(&email, 5, 2).await;
    let product_id = order["lines"][0]["product_id"].as_str().unwrap().to_owned();
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_visa").await.status(), 200);
    let packing = app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(packing["status"], "fulfilling");

    let cancelled = expect_json(cancel(&app, &order, token(&order)).await, 200).await;
    // Stripe's charge.refunded may have arrived before the answer was read.
    assert!(
        ["cancelled", "refunded"].contains(&cancelled["status"].as_str().unwrap_or_default()),
        "{cancelled}"
    );
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    assert_eq!(cancelled["refunds"][0]["amount"]["amount"], total);
    assert_eq!(app.available(&product_id, &sku).await, 5, "the stock is back");

    // Stripe reports the refund; the order ends refunded, the money to the cent.
    let refunded = app.order_when(&order, |v| v["status"] == "refunded").await;
    assert_eq!(refunded["status"], "refunded", "{refunded}");
    assert_eq!(
        refunded["refunds"],
        json!([{"amount": {"amount": total, "currency": "usd"}, "status": "succeeded"}])
    );
    let steps: Vec<&str> = refunded["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["pending_payment", "paid", "fulfilling", "cancelled", "refunded"]
    );

    // Again: one refund, one effect.
    let again = expect_json(cancel(&app, &order, token(&order)).await, 200).await;
    assert_eq!(again["status"], "refunded");
    assert_eq!(app.available(&product_id, &sku).await, 5);

    let mail = inbox.wait_for(&email, "was cancelled", 1).await;
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0]["body"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Your payment of {} is refunded", dollars(total)))
    );
    let refund_mail = inbox.wait_for(&email, "a refund for order", 1).await;
    assert_eq!(refund_mail.len(), 1);
    assert!(
        refund_mail[0]["body"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("refunded {}", dollars(total)))
    );
}

#[tokio::test]
async fn a_shipped_order_is_not_cancelled_but_pointed_to_returns() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _) = app.pending_order(&email(), 5, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    stripe
        .confirm(order["payment"]["payment_intent_id"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(
        app.order_when(&order, |v| v["status"] == "fulfilling").await["status"],
        "fulfilling"
    );
    let shipment = json!({"carrier": "USPS", "tracking_number": "9400100000000000000000"});
    let shipped = app
        .admin(Method::POST, &format!("/admin/orders/{order_id}/shipments"), &shipment)
        .await;
    assert_eq!(shipped.status(), 201);
    let refused = problem(cancel(&app, &order, token(&order)).await, 409).await;
    assert_eq!(refused["code"], "order_shipped");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("/orders/{order_id}/returns"))
    );
    assert_eq!(app.order_when(&order, |_| true).await["status"], "shipped");
}

#[tokio::test]
async fn another_orders_token_opens_nothing() {
    let app = TestApp::new();
    let (mine, _) = app.pending_order(&email(), 5, 1).await;
    let (theirs, _) = app.pending_order(&email(), 5, 1).await;
    let path = format!("/orders/{}", mine["order_id"].as_str().unwrap());
    for answer in [
        app.cart_call(Method::GET, &path, token(&theirs), None).await,
        app.get(&path).await,
        app.get(&format!("{path}?token={}", token(&theirs))).await,
        cancel(&app, &mine, token(&theirs)).await,
        app.request(Method::POST, &format!("{path}/cancel"), None).await,
    ] {
        assert_eq!(problem(answer, 404).await["code"], "not_found");
    }
    assert_eq!(app.order_when(&mine, |_| true).await["status"], "pending_payment");
}

#[tokio::test]
async fn links_to_an_order_expire_and_the_order_keeps_only_the_newest() {
    use shop_platform::clock::Clock;
    use shop_store::orders::fulfillment::{LINK_TOKEN_SECONDS, LINK_TOKENS_KEPT};
    let app = TestApp::new();
    let (order, _) = app.pending_order(&email(), 5, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let sdk = shop_platform::aws::sdk_config().await;
    let store = shop_store::orders::OrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("SHOP_TABLE").unwrap(),
    );
    let opens = |token: String| {
        let path = format!("/orders/{order_id}?token={token}");
        let app = &app;
        async move { app.get(&path).await.status().as_u16() }
    };
    let now = shop_platform::clock::SystemClock.now();
    let read = || async { store.get(order_id).await.unwrap().unwrap() };
    let expired = store
        .issue_link_token(&read().await, now - LINK_TOKEN_SECONDS - 1)
        .await
        .unwrap();
    assert_eq!(opens(expired).await, 404, "an expired link opens nothing");
    let mut issued = Vec::new();
    for second in 0..(LINK_TOKENS_KEPT + 5) as i64 {
        issued.push(store.issue_link_token(&read().await, now + second).await.unwrap());
    }
    let kept = read().await.link_tokens.unwrap_or_default();
    assert!(kept.len() <= LINK_TOKENS_KEPT, "{} link tokens kept", kept.len());
    assert!(
        kept.values().all(|expires_at| *expires_at > now),
        "the expired one was forgotten"
    );
    assert_eq!(opens(issued.last().unwrap().clone()).await, 200);
    assert_eq!(opens(issued[0].clone()).await, 404, "the oldest link was forgotten");
    let path = format!("/orders/{order_id}");
    assert_eq!(
        app.cart_call(Method::GET, &path, token(&order), None).await.status(),
        200
    );
}

#[tokio::test]
async fn a_lookup_always_answers_202_and_mails_links_to_the_customers_orders() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = email();
    let (first, _) = app.pending_order(&email, 5, 1).await;
    let (second, _) = app.pending_order(&email, 5, 1).await;
    let app = &app;
    let lookup = |address: &str| {
        let body = json!({"email": address});
        async move { app.request(Method::POST, "/orders/lookup", Some(&body)).await }
    };

    assert_eq!(lookup(&email.to_uppercase()).await.status(), 202);
    let mails = inbox.wait_for(&email, "your orders", 1).await;
    assert_eq!(mails.len(), 1);
    let text = mails[0]["body"]["text"].as_str().unwrap();
    for order in [&first, &second] {
        let id = order["order_id"].as_str().unwrap();
        let link = text
            .lines()
            .find(|line| line.contains(&format!("/orders/{id}?token=")))
            .unwrap_or_else(|| panic!("a link to {id} in {text}"));
        let view = expect_json(
            app.client.get(app.order_link_at_the_api(link)).send().await.unwrap(),
            200,
        )
        .await;
        assert_eq!(view["order_id"], id);
    }

    // Asked again at once: still one mail. An address without orders: the same answer, no mail.
    assert_eq!(lookup(&email).await.status(), 202);
    let nobody = format!("{}@example.com", unique("nobody"));
    assert_eq!(lookup(&nobody).await.status(), 202);
    assert_eq!(
        problem(lookup("not an address").await, 422).await["errors"][0]["field"],
        "email"
    );
    // The desk sees the same orders, newest first.
    let desk = expect_json(
        app.admin(Method::GET, &format!("/admin/orders?email={email}"), &json!({}))
            .await,
        200,
    )
    .await;
    let ids: Vec<&str> = desk["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first["order_id"].as_str().unwrap()) && ids.contains(&second["order_id"].as_str().unwrap()));
    assert_eq!(
        inbox
            .mails_to(&email)
            .await
            .iter()
            .filter(|m| m["subject"].as_str().unwrap_or("").contains("your orders"))
            .count(),
        1
    );
    assert!(inbox.mails_to(&nobody).await.is_empty());
}

#[tokio::test]
async fn a_source_may_ask_for_its_hourly_lookups_whether_the_addresses_have_orders_or_not() {
    let (app, _) = TestApp::from_own_address();
    let customer = email();
    app.pending_order(&customer, 5, 1).await;
    let per_source: usize = std::env::var("SHOP_PARAM_OrderLookupsPerSourceHour")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for i in 0..per_source {
        let address = if i % 2 == 0 { customer.clone() } else { email() };
        let answer = app
            .request(Method::POST, "/orders/lookup", Some(&json!({"email": address})))
            .await;
        assert_eq!(answer.status(), 202, "lookup {i}");
    }
    let limited = app
        .request(Method::POST, "/orders/lookup", Some(&json!({"email": customer})))
        .await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(problem(limited, 429).await["code"], "rate_limited");
    // Another source still asks.
    let (elsewhere, _) = TestApp::from_own_address();
    let answer = elsewhere
        .request(Method::POST, "/orders/lookup", Some(&json!({"email": customer})))
        .await;
    assert_eq!(answer.status(), 202);
}

fn half_up(numerator: i64, denominator: i64) -> i64 {
    (numerator * 2 + denominator) / (denominator * 2)
}

async fn request_return(app: &TestApp, order: &Value, token: &str, body: Value) -> reqwest::Response {
    let path = format!("/orders/{}/returns", order["order_id"].as_str().unwrap());
    app.cart_call(Method::POST, &path, token, Some(&body)).await
}

async fn receive(app: &TestApp, return_id: &str, restock: bool) -> Value {
    let path = format!("/admin/returns/{return_id}/receive");
    expect_json(app.admin(Method::POST, &path, &json!({"restock": restock})).await, 200).await
}

#[tokio::test]
async fn a_shipped_order_returned_in_two_parts_is_refunded_to_the_cent_and_restocked_as_asked() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = email();
    let (order, _) = app.pending_order(&email, 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let product_id = order["lines"][0]["product_id"].as_str().unwrap().to_owned();
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    stripe
        .confirm(order["payment"]["payment_intent_id"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(
        app.order_when(&order, |v| v["status"] == "fulfilling").await["status"],
        "fulfilling"
    );
    let nothing_shipped = request_return(
        &app,
        &order,
        token(&order),
        json!({"lines": [{"sku": sku, "quantity": 1}], "reason": "too big"}),
    )
    .await;
    assert_eq!(problem(nothing_shipped, 422).await["errors"][0]["field"], "lines");
    let shipment = json!({"carrier": "UPS", "tracking_number": "1Z999AA10123456784"});
    let shipped = app
        .admin(Method::POST, &format!("/admin/orders/{order_id}/shipments"), &shipment)
        .await;
    assert_eq!(shipped.status(), 201);
    assert_eq!(app.available(&product_id, &sku).await, 3);

    // The totals, as checkout priced them: 2 × 25.00, California tax, standard shipping.
    let totals = &order["totals"];
    let amount = |name: &str| totals[name]["amount"].as_i64().unwrap();
    let (subtotal, tax, shipping, total) = (amount("subtotal"), amount("tax"), amount("shipping"), amount("total"));
    assert_eq!(subtotal, 5000);
    let first_refund = 2500 + half_up(tax * 2500, subtotal);

    let first = expect_json(
        request_return(
            &app,
            &order,
            token(&order),
            json!({"lines": [{"sku": sku, "quantity": 1}], "reason": "too big"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(first["refund"]["amount"], first_refund);
    assert_eq!(first["state"], "requested");
    let return_id = first["return_id"].as_str().unwrap().to_owned();
    assert_eq!(app.order_when(&order, |_| true).await["status"], "return_requested");
    let instructions = inbox.wait_for(&email, &format!("return {return_id}"), 1).await;
    assert_eq!(instructions.len(), 1, "the return's instructions are mailed");
    // They say where the parcel goes: the store's return address, line by line.
    let return_address = std::env::var("SHOP_PARAM_ReturnAddress").expect("the stack sets a return address");
    let lines: Vec<&str> = return_address.split('|').map(str::trim).collect();
    let text = instructions[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("Send it to:\n{}\n", lines.join("\n"))),
        "{return_address} in {text}"
    );
    assert!(text.contains(&format!("1 x Payable Thing, Size: M ({sku})")), "{text}");
    assert!(text.contains(&format!("we refund {}", dollars(first_refund))), "{text}");
    let html = instructions[0]["body"]["html"].as_str().unwrap();
    assert!(html.contains(&lines.join("<br>")), "{html}");

    // More than is left, a SKU not on the order, another order's token: refused, nothing written.
    let too_many = request_return(
        &app,
        &order,
        token(&order),
        json!({"lines": [{"sku": sku, "quantity": 2}], "reason": "x"}),
    )
    .await;
    assert!(
        problem(too_many, 422).await["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1 shipped and not yet returned")
    );
    let stranger = request_return(
        &app,
        &order,
        token(&order),
        json!({"lines": [{"sku": "NOPE", "quantity": 1}], "reason": "x"}),
    )
    .await;
    problem(stranger, 422).await;
    let (other, _) = app.pending_order(&email, 5, 1).await;
    problem(
        request_return(
            &app,
            &order,
            token(&other),
            json!({"lines": [{"sku": sku, "quantity": 1}], "reason": "x"}),
        )
        .await,
        404,
    )
    .await;

    let waiting = expect_json(
        app.admin(Method::GET, "/admin/returns?status=requested&limit=100", &json!({}))
            .await,
        200,
    )
    .await;
    assert!(
        waiting["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["return_id"] == return_id.as_str())
    );

    // Received with restock: the unit is back and Stripe refunds the line to the cent.
    let received = receive(&app, &return_id, true).await;
    assert_eq!(received["state"], "received");
    assert!(received["refund_id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(app.available(&product_id, &sku).await, 4);
    let view = app.order_when(&order, |v| v["status"] == "partially_refunded").await;
    assert_eq!(view["status"], "partially_refunded", "{view}");
    assert_eq!(view["refunds"][0]["amount"]["amount"], first_refund);
    // Receiving again changes nothing and refunds nothing more.
    assert_eq!(
        receive(&app, &return_id, true).await["refund_id"],
        received["refund_id"]
    );
    assert_eq!(app.available(&product_id, &sku).await, 4);

    // The second unit, not restocked: the two refunds add up to the total less shipping.
    let second = expect_json(
        request_return(
            &app,
            &order,
            token(&order),
            json!({"lines": [{"sku": sku, "quantity": 1}], "reason": "same"}),
        )
        .await,
        201,
    )
    .await;
    let second_refund = second["refund"]["amount"].as_i64().unwrap();
    assert_eq!(first_refund + second_refund, total - shipping);
    receive(&app, second["return_id"].as_str().unwrap(), false).await;
    assert_eq!(app.available(&product_id, &sku).await, 4, "not restocked");
    let both = app
        .order_when(&order, |v| v["refunds"][0]["amount"]["amount"] == total - shipping)
        .await;
    assert_eq!(both["refunds"][0]["amount"]["amount"], total - shipping, "{both}");
    assert_eq!(both["returns"].as_array().unwrap().len(), 2);
}
