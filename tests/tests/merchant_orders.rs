//! The owner's order desk through the running stack: refunds (part, the rest, never more than
//! was paid, once per key), cancelling before shipping (stock back, refunded in full), and the
//! mails sent about an order, each as a merchant relies on it.

use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{Inbox, TestApp, TestStripe, expect_json, problem, unique};

/// A paid order for `quantity` of a new product with `stock` units, once packing started: the
/// checkout's answer and the SKU.
async fn paid_order(app: &TestApp, email: &str, stock: u32, quantity: i64) -> (Value, String) {
    let (order, sku) = app.pending_order(email, stock, quantity).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(TestStripe::new().confirm(intent, "pm_card_visa").await.status(), 200);
    let view = app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(view["status"], "fulfilling", "{view}");
    (order, sku)
}

async fn desk_view(app: &TestApp, order_id: &str) -> Value {
    expect_json(
        app.admin(Method::GET, &format!("/admin/orders/{order_id}"), &json!({}))
            .await,
        200,
    )
    .await
}

async fn refund(app: &TestApp, order_id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, &format!("/admin/orders/{order_id}/refunds"), &body)
        .await
}

fn usd(amount: i64) -> Value {
    json!({"amount": amount, "currency": "usd"})
}

/// A refund as the local Stripe server has it.
async fn stripe_refund(id: &str) -> Value {
    let stripe = TestStripe::new();
    let response = reqwest::Client::new()
        .get(format!("{}/v1/refunds/{id}", stripe.base))
        .bearer_auth("sk_test_tests")
        .send()
        .await
        .expect("the Stripe server answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a refund")
}

#[tokio::test]
async fn the_owner_refunds_part_then_the_rest_and_never_more_than_was_paid() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("refund"));
    let (order, _) = paid_order(&app, &email, 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();

    let first = json!({"amount": usd(1000), "reason": "a scratched tin", "key": unique("form")});
    let answer = expect_json(refund(&app, order_id, first.clone()).await, 201).await;
    assert_eq!(answer["order_status"], "partially_refunded", "{answer}");
    assert_eq!(answer["refundable"], usd(total - 1000));
    let refund_id = answer["refund"]["refund_id"].as_str().unwrap().to_owned();
    let at_stripe = stripe_refund(&refund_id).await;
    assert_eq!(at_stripe["amount"], 1000);
    assert_eq!(at_stripe["payment_intent"], order["payment"]["payment_intent_id"]);

    // The same form sent twice refunds once.
    let again = expect_json(refund(&app, order_id, first).await, 200).await;
    assert_eq!(again["refund"]["refund_id"], refund_id.as_str());
    assert_eq!(
        desk_view(&app, order_id).await["merchant_refunds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // More than is left, nothing, or no reason: refused, nothing moves.
    let too_much = json!({"amount": usd(total - 999), "reason": "all of it"});
    let refused = problem(refund(&app, order_id, too_much).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "amount", "{refused}");
    let nothing = json!({"amount": usd(0), "reason": "nothing"});
    problem(refund(&app, order_id, nothing).await, 422).await;
    let no_reason = json!({"amount": usd(100), "reason": " "});
    let refused = problem(refund(&app, order_id, no_reason).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "reason", "{refused}");

    let rest = json!({"amount": usd(total - 1000), "reason": "the customer keeps the rest"});
    let answer = expect_json(refund(&app, order_id, rest).await, 201).await;
    assert_eq!(answer["order_status"], "refunded", "{answer}");
    assert_eq!(answer["refundable"], usd(0));
    let view = desk_view(&app, order_id).await;
    assert_eq!(view["refunded"], usd(total));
    assert_eq!(view["merchant_refunds"][1]["reason"], "the customer keeps the rest");
    let more = json!({"amount": usd(1), "reason": "one more cent"});
    assert_eq!(
        problem(refund(&app, order_id, more).await, 409).await["code"],
        "nothing_to_refund"
    );

    // One refund mail per refund (Stripe's event asks for it), however often the form was sent.
    let mails = inbox.wait_for(&email, "a refund for order", 2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let shopper = app.order_when(&order, |v| v["status"] == "refunded").await;
    assert_eq!(shopper["status"], "refunded", "the shopper's page shows it: {shopper}");
}

#[tokio::test]
async fn an_order_that_was_never_paid_is_neither_refunded_nor_cancelled_by_the_desk() {
    let app = TestApp::new();
    let email = format!("{}@example.com", unique("unpaid"));
    let (order, _) = app.pending_order(&email, 5, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let body = json!({"amount": usd(100), "reason": "a mistake"});
    assert_eq!(
        problem(refund(&app, order_id, body).await, 409).await["code"],
        "nothing_to_refund"
    );
    let missing = json!({"amount": usd(100), "reason": "a mistake"});
    problem(refund(&app, "no-such-order", missing).await, 404).await;
    // Nor does the desk cancel it: its hold ends by itself.
    let cancel = format!("/admin/orders/{order_id}/cancel");
    assert_eq!(
        problem(app.admin(Method::POST, &cancel, &json!({})).await, 409).await["code"],
        "order_unpaid"
    );
}

#[tokio::test]
async fn the_merchant_cancels_a_paid_order_before_it_ships_with_its_stock_back_and_refunded_in_full() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("cancel"));
    let (order, sku) = paid_order(&app, &email, 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let product_id = sku_product(&app, order_id).await;
    assert_eq!(app.available(&product_id, &sku).await, 3);

    let cancel = format!("/admin/orders/{order_id}/cancel");
    let view = expect_json(app.admin(Method::POST, &cancel, &json!({})).await, 200).await;
    // Stripe's refund event may have moved it on to `refunded` already.
    assert!(view["status"] == "cancelled" || view["status"] == "refunded", "{view}");
    assert!(view["cancelled_at"].is_string(), "{view}");
    assert_eq!(app.available(&product_id, &sku).await, 5, "the stock is back");
    // Cancelling again changes nothing and refunds nothing twice.
    expect_json(app.admin(Method::POST, &cancel, &json!({})).await, 200).await;
    let shopper = app.order_when(&order, |v| v["status"] == "refunded").await;
    assert_eq!(
        shopper["status"], "refunded",
        "Stripe's refund reached the order: {shopper}"
    );
    assert_eq!(app.available(&product_id, &sku).await, 5);
    let cancelled = inbox.wait_for(&email, "cancelled", 1).await;
    assert_eq!(cancelled.len(), 1, "one Cancelled mail: {cancelled:?}");
    let text = cancelled[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains("was cancelled by us"),
        "the shop cancelled it, not the shopper: {text}"
    );
    assert!(!text.contains("as you asked"), "{text}");
    assert!(text.contains("is refunded to your card"), "{text}");
}

#[tokio::test]
async fn a_shipped_order_is_not_cancelled() {
    let app = TestApp::new();
    let email = format!("{}@example.com", unique("shipped"));
    let (order, _) = paid_order(&app, &email, 5, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let shipment = json!({"carrier": "UPS", "tracking_number": unique("1Z").replace('-', "")});
    let path = format!("/admin/orders/{order_id}/shipments");
    expect_json(app.admin(Method::POST, &path, &shipment).await, 201).await;
    let cancel = format!("/admin/orders/{order_id}/cancel");
    assert_eq!(
        problem(app.admin(Method::POST, &cancel, &json!({})).await, 409).await["code"],
        "order_shipped"
    );
    assert_eq!(desk_view(&app, order_id).await["status"], "shipped");
}

#[tokio::test]
async fn the_mails_sent_about_an_order_are_listed_with_what_each_was_about() {
    let app = TestApp::new();
    let email = format!("{}@example.com", unique("mails"));
    let (order, _) = paid_order(&app, &email, 5, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let shipment = json!({"carrier": "UPS", "tracking_number": unique("1Z").replace('-', "")});
    let path = format!("/admin/orders/{order_id}/shipments");
    let shipped = expect_json(app.admin(Method::POST, &path, &shipment).await, 201).await;
    let shipment_id = shipped["shipment"]["shipment_id"].as_str().unwrap().to_owned();

    let mails_path = format!("/admin/orders/{order_id}/mails");
    let deadline = std::time::Instant::now() + shop_tests::QUEUE_DEADLINE;
    let mails = loop {
        let mails = expect_json(app.admin(Method::GET, &mails_path, &json!({})).await, 200).await;
        let sent = |kind: &str| {
            mails["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["kind"] == kind && m["state"] == "sent")
        };
        if (sent("order_confirmation") && sent("shipped")) || std::time::Instant::now() > deadline {
            break mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let items = mails["items"].as_array().unwrap();
    let shipped_mail = items
        .iter()
        .find(|m| m["kind"] == "shipped")
        .unwrap_or_else(|| panic!("{mails}"));
    assert_eq!(shipped_mail["reference"], shipment_id.as_str());
    assert!(shipped_mail["at"].as_str().unwrap().ends_with('Z'), "{shipped_mail}");
    let confirmation = items.iter().find(|m| m["kind"] == "order_confirmation").unwrap();
    assert_eq!(confirmation["reference"], Value::Null);
    let empty = expect_json(
        app.admin(Method::GET, "/admin/orders/no-such-order/mails", &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(empty["items"], json!([]));
}

/// The product id of the order's first line.
async fn sku_product(app: &TestApp, order_id: &str) -> String {
    desk_view(app, order_id).await["lines"][0]["product_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_accountants_export_has_every_order_placed_on_the_days_asked_and_only_those() {
    let app = TestApp::new();
    let email = format!("{}@example.com", unique("export"));
    let (order, _) = paid_order(&app, &email, 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let view = desk_view(&app, order_id).await;
    let day = &view["created_at"].as_str().unwrap()[..10];

    let response = app
        .admin(
            Method::GET,
            &format!("/admin/exports/orders?from={day}&to={day}"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("order_id,placed_at,status,email,subtotal,discount,shipping,tax,total,refunded,currency")
    );
    let row = lines
        .find(|line| line.starts_with(&format!("{order_id},")))
        .unwrap_or_else(|| panic!("{order_id} in {csv}"));
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    let expected = format!(",fulfilling,{email},50.00,0.00,5.00,");
    assert!(row.contains(&expected), "{row}");
    assert!(
        row.ends_with(&format!(",{}.{:02},0.00,usd", total / 100, total % 100)),
        "{row}"
    );

    let before = app
        .admin(
            Method::GET,
            "/admin/exports/orders?from=2020-01-01&to=2020-01-31",
            &json!({}),
        )
        .await;
    assert!(
        !before.text().await.unwrap().contains(order_id),
        "an order of another day"
    );

    for (query, field) in [
        ("from=2026-12-02&to=2026-12-01", "to"),
        ("from=2025-01-01&to=2026-01-02", "to"),
        ("from=2026-1-1&to=2026-01-02", "from"),
        ("to=2026-01-02", "from"),
    ] {
        let path = format!("/admin/exports/orders?{query}");
        let refused = problem(app.admin(Method::GET, &path, &json!({})).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{query}: {refused}");
    }
}
