//! Exchanges through the gateway: the replacement's stock taken at once, a difference in the
//! shop's favour paid through its own PaymentIntent before the replacement ships, one in the
//! shopper's favour refunded through Stripe to the cent when the return is received, the
//! replacement shipped as another shipment of the same order, an unpaid exchange cancelled when its
//! hold ends, and refusals that write nothing.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{Ahead, Inbox, TestApp, TestStripe, expect_json, hosted_env, problem, product, unique};
use std::sync::Arc;

/// California's rate in the template's `TaxRates` (the test orders ship to San Francisco).
const CALIFORNIA_BP: i64 = 725;

fn half_up(numerator: i64, denominator: i64) -> i64 {
    (numerator * 2 + denominator) / (denominator * 2)
}

fn token(order: &Value) -> &str {
    order["order_token"].as_str().unwrap()
}

/// A new product with one SKU at `price` cents and `stock` units: (product id, SKU).
async fn stocked(app: &TestApp, title: &str, price: i64, stock: u32) -> (String, String) {
    let (id, sku) = (unique("swap"), unique("SWAP"));
    let mut row = product(&id, &unique("cat"), title, &[&sku]);
    row["variants"][0]["price"]["amount"] = json!(price);
    row["variants"][0]["available"] = json!(stock);
    app.import(vec![row]).await;
    (id, sku)
}

/// An order of 2 × 25.00 for `email`, paid and shipped whole: the checkout's answer.
async fn shipped_order(app: &TestApp, stripe: &TestStripe, email: &str) -> Value {
    let (order, _) = app.pending_order(email, 5, 2).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_visa").await.status(), 200);
    app.order_when(&order, |v| v["status"] == "fulfilling").await;
    let order_id = order["order_id"].as_str().unwrap();
    let shipment = json!({"carrier": "UPS", "tracking_number": unique("1Z").replace('-', "")});
    let shipped = app
        .admin(Method::POST, &format!("/admin/orders/{order_id}/shipments"), &shipment)
        .await;
    assert_eq!(shipped.status(), 201);
    order
}

async fn exchange(app: &TestApp, order: &Value, token: &str, body: Value) -> reqwest::Response {
    let path = format!("/orders/{}/exchanges", order["order_id"].as_str().unwrap());
    app.cart_call(Method::POST, &path, token, Some(&body)).await
}

async fn ship(app: &TestApp, order: &Value, sku: &str) -> reqwest::Response {
    let path = format!("/admin/orders/{}/shipments", order["order_id"].as_str().unwrap());
    let body = json!({"carrier": "DHL", "tracking_number": unique("JD").replace('-', ""), "lines": [{"sku": sku, "quantity": 1}]});
    app.admin(Method::POST, &path, &body).await
}

async fn receive(app: &TestApp, asked: &Value, restock: bool) -> reqwest::Response {
    let return_id = asked["return_id"].as_str().unwrap();
    let path = format!("/admin/returns/{return_id}/receive");
    app.admin(Method::POST, &path, &json!({"restock": restock})).await
}

/// What returning one of the order's two 25.00 units is worth: the line plus its share of tax.
fn one_unit_back(order: &Value) -> i64 {
    let totals = &order["totals"];
    let (subtotal, tax) = (
        totals["subtotal"]["amount"].as_i64().unwrap(),
        totals["tax"]["amount"].as_i64().unwrap(),
    );
    assert_eq!(
        tax,
        half_up(subtotal * CALIFORNIA_BP, 10_000),
        "the order was taxed at California's rate"
    );
    2500 + half_up(tax * 2500, subtotal)
}

#[tokio::test]
async fn a_dearer_replacement_is_paid_for_first_then_ships_as_a_second_shipment() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = format!("{}@example.com", unique("swap"));
    let order = shipped_order(&app, &stripe, &email).await;
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    let product_id = order["lines"][0]["product_id"].as_str().unwrap().to_owned();
    let (dear_id, dear) = stocked(&app, "Deluxe Thing", 4000, 3).await;

    let asked = expect_json(
        exchange(
            &app,
            &order,
            token(&order),
            json!({"return_lines": [{"sku": sku, "quantity": 1}], "new_lines": [{"sku": dear, "quantity": 1}], "reason": "wrong colour"}),
        )
        .await,
        201,
    )
    .await;
    let replacement = 4000 + half_up(4000 * CALIFORNIA_BP, 10_000);
    let owed = replacement - one_unit_back(&order);
    assert_eq!(asked["exchange"]["balance"]["amount"], owed, "{asked}");
    assert_eq!(asked["exchange"]["payment"], "awaiting");
    assert_eq!(asked["refund"]["amount"], 0);
    assert_eq!(asked["payment"]["amount"]["amount"], owed);
    assert!(!asked["payment"]["client_secret"].as_str().unwrap().is_empty());
    assert_eq!(
        app.available(&dear_id, &dear).await,
        2,
        "the replacement is reserved at once"
    );
    let intent = asked["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.intent(intent).await["amount"], owed);
    // The order's page can pay it later: the order shows what the exchange waits for.
    let waiting = app.order_when(&order, |_| true).await;
    let due = &waiting["exchange_payments"][0];
    assert_eq!(due["return_id"], asked["return_id"], "{waiting}");
    assert_eq!(due["amount"]["amount"], owed);
    assert_eq!(due["payment_intent_id"], intent);
    assert_eq!(due["client_secret"], asked["payment"]["client_secret"]);

    // Unpaid, nothing more ships; paid at Stripe, the replacement does.
    assert_eq!(
        problem(ship(&app, &order, &dear).await, 409).await["code"],
        "nothing_left_to_ship"
    );
    assert_eq!(stripe.confirm(intent, "pm_card_visa").await.status(), 200);
    let paid = app
        .order_when(&order, |v| v["returns"][0]["exchange"]["payment"] == "paid")
        .await;
    assert_eq!(paid["returns"][0]["exchange"]["payment"], "paid", "{paid}");
    assert!(paid.get("exchange_payments").is_none(), "paid, nothing is due: {paid}");
    assert_eq!(
        paid["status"], "shipped",
        "the exchange's payment does not move the order"
    );
    let second = expect_json(ship(&app, &order, &dear).await, 201).await;
    assert_eq!(second["order_status"], "shipped");
    let view = app.order_when(&order, |_| true).await;
    assert_eq!(view["shipments"].as_array().unwrap().len(), 2);
    let order_id = order["order_id"].as_str().unwrap();
    let mails = inbox
        .wait_for(&email, &format!("order {order_id} shipped with DHL"), 1)
        .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["body"]["text"].as_str().unwrap().contains("Deluxe Thing"));

    // The returned unit arrives: back in stock, nothing to refund.
    let received = expect_json(receive(&app, &asked, true).await, 200).await;
    assert!(received.get("refund_id").is_none(), "{received}");
    assert_eq!(app.available(&product_id, &sku).await, 4);
}

#[tokio::test]
async fn a_cheaper_replacement_ships_at_once_and_the_difference_is_refunded_on_receipt() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let email = format!("{}@example.com", unique("swap"));
    let order = shipped_order(&app, &stripe, &email).await;
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    let (cheap_id, cheap) = stocked(&app, "Plain Thing", 1000, 2).await;

    let asked = expect_json(
        exchange(
            &app,
            &order,
            token(&order),
            json!({"return_lines": [{"sku": sku, "quantity": 1}], "new_lines": [{"sku": cheap, "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;
    let refund = one_unit_back(&order) - (1000 + half_up(1000 * CALIFORNIA_BP, 10_000));
    assert_eq!(asked["refund"]["amount"], refund, "{asked}");
    assert_eq!(asked["exchange"]["payment"], "not_needed");
    assert!(asked.get("payment").is_none());
    assert_eq!(app.available(&cheap_id, &cheap).await, 1);
    assert_eq!(
        expect_json(ship(&app, &order, &cheap).await, 201).await["order_status"],
        "shipped"
    );

    let received = expect_json(receive(&app, &asked, false).await, 200).await;
    assert!(received["refund_id"].as_str().unwrap().starts_with("re_"));
    let view = app.order_when(&order, |v| v["status"] == "partially_refunded").await;
    assert_eq!(view["refunds"][0]["amount"]["amount"], refund, "{view}");
}

#[tokio::test]
async fn an_exchange_that_cannot_be_had_writes_nothing() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let email = format!("{}@example.com", unique("swap"));
    let order = shipped_order(&app, &stripe, &email).await;
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    let (scarce_id, scarce) = stocked(&app, "Scarce Thing", 1000, 1).await;
    let ask = |new_lines: Value| json!({"return_lines": [{"sku": sku, "quantity": 1}], "new_lines": new_lines});

    let short = problem(
        exchange(
            &app,
            &order,
            token(&order),
            ask(json!([{"sku": scarce, "quantity": 2}])),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(short["code"], "insufficient_stock");
    assert_eq!(short["lines"][0]["available"], 1);
    assert_eq!(app.available(&scarce_id, &scarce).await, 1);
    let unknown = problem(
        exchange(
            &app,
            &order,
            token(&order),
            ask(json!([{"sku": "NO-SUCH-SKU", "quantity": 1}])),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unknown["code"], "unknown_sku");
    let (other, _) = app.pending_order(&email, 5, 1).await;
    problem(
        exchange(
            &app,
            &order,
            token(&other),
            ask(json!([{"sku": scarce, "quantity": 1}])),
        )
        .await,
        404,
    )
    .await;
    let too_many =
        json!({"return_lines": [{"sku": sku, "quantity": 3}], "new_lines": [{"sku": scarce, "quantity": 1}]});
    problem(exchange(&app, &order, token(&order), too_many).await, 422).await;

    let view = app.order_when(&order, |_| true).await;
    assert!(view["returns"].as_array().unwrap().is_empty(), "{view}");
    assert_eq!(app.available(&scarce_id, &scarce).await, 1);
}

/// A shipped order of which one unit is being exchanged for a dearer replacement (the last unit
/// of its SKU), the difference not yet paid.
struct Unpaid {
    email: String,
    order: Value,
    /// The exchange as asked, and as the shop answered it.
    ask: Value,
    asked: Value,
    /// The replacement's product and SKU.
    dear_id: String,
    dear: String,
}

async fn unpaid_exchange(app: &TestApp, stripe: &TestStripe) -> Unpaid {
    let email = format!("{}@example.com", unique("swap"));
    let order = shipped_order(app, stripe, &email).await;
    let sku = order["lines"][0]["sku"].as_str().unwrap().to_owned();
    let (dear_id, dear) = stocked(app, "Deluxe Thing", 4000, 1).await;
    let ask = json!({"return_lines": [{"sku": sku, "quantity": 1}], "new_lines": [{"sku": dear, "quantity": 1}]});
    let asked = expect_json(exchange(app, &order, token(&order), ask.clone()).await, 201).await;
    assert_eq!(
        app.available(&dear_id, &dear).await,
        0,
        "the replacement's unit is held"
    );
    Unpaid {
        email,
        order,
        ask,
        asked,
        dear_id,
        dear,
    }
}

#[tokio::test]
async fn an_exchange_left_unpaid_is_cancelled_when_its_hold_ends_and_its_stock_comes_back() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let Unpaid {
        order,
        ask,
        asked,
        dear_id,
        dear,
        ..
    } = unpaid_exchange(&app, &stripe).await;

    // The reservation-expiry consumer as the gateway hosts it, fed the exchange's message.
    let (vars, sdk) = hosted_env("reservation-expiry").await;
    let consumer = reservation_expiry::ReservationExpiry::from_env(&shop_platform::config::Env::from_map(vars), &sdk)
        .await
        .unwrap();
    let event = |id: &str| {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(json!({"order_id": order["order_id"], "exchange_id": asked["return_id"]}).to_string());
        let mut event = SqsEvent::default();
        event.records = vec![message];
        event
    };
    let consumer = consumer.with_clock(Arc::new(Ahead(0)));
    assert_eq!(
        consumer.handle_batch(event("m0")).await.batch_item_failures.len(),
        1,
        "too early: retried later"
    );
    assert_eq!(app.available(&dear_id, &dear).await, 0);
    let consumer = consumer.with_clock(Arc::new(Ahead(960)));
    for id in ["m1", "m2"] {
        assert!(consumer.handle_batch(event(id)).await.batch_item_failures.is_empty());
    }
    assert_eq!(app.available(&dear_id, &dear).await, 1, "given back once");
    let intent = asked["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.intent(intent).await["status"], "canceled");
    let view = app.order_when(&order, |_| true).await;
    assert_eq!(view["returns"][0]["state"], "cancelled", "{view}");
    assert_eq!(view["returns"][0]["exchange"]["payment"], "expired");
    let refused = receive(&app, &asked, true).await;
    assert_eq!(problem(refused, 409).await["code"], "return_cancelled");
    // The unit may be exchanged again.
    expect_json(exchange(&app, &order, token(&order), ask).await, 201).await;
}

/// The first `count` messages on `queue_url` (or what came by the deadline), as the SQS event
/// the consumer's trigger would hand it.
async fn received(sqs: &aws_sdk_sqs::Client, queue_url: &str, count: usize) -> SqsEvent {
    let deadline = std::time::Instant::now() + shop_tests::QUEUE_DEADLINE;
    let mut event = SqsEvent::default();
    while event.records.len() < count && std::time::Instant::now() < deadline {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in output.messages() {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id().map(str::to_owned);
            record.body = message.body().map(str::to_owned);
            event.records.push(record);
        }
    }
    event
}

/// An unpaid exchange and an unpaid order whose messages ending their holds were lost (here: the
/// real ones are still on their way, 15 minutes out) would hold their stock for ever; the
/// sweeper asks for their end once they are past it by its wait, and the consumer gives the stock
/// back once.
#[tokio::test]
async fn holds_whose_ending_was_lost_are_ended_by_the_sweeper_and_their_stock_comes_back() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let Unpaid {
        order,
        asked,
        dear_id,
        dear,
        email,
        ..
    } = unpaid_exchange(&app, &stripe).await;
    let (unpaid, unpaid_sku) = app.pending_order(&email, 3, 2).await;
    let unpaid_product = unpaid["lines"][0]["product_id"].as_str().unwrap().to_owned();
    assert_eq!(app.available(&unpaid_product, &unpaid_sku).await, 1);
    let ids = [
        order["order_id"].as_str().unwrap(),
        unpaid["order_id"].as_str().unwrap(),
    ];

    // The sweeper's messages go to a queue of the test's own, read by a consumer whose clock is
    // moved as far as the sweeper's.
    let (vars, sdk) = hosted_env("reservation-expiry").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let own = sqs.create_queue().queue_name(unique("expiry")).send().await.unwrap();
    let own = own.queue_url().unwrap().to_owned();
    let queue = || shop_services::queue::Queue::new(sqs.clone(), own.clone());
    const HOLD: i64 = 900;
    let early = shop_tests::hosted_sweeper(&ids, HOLD + 60)
        .await
        .with_expiry_queue(queue());
    assert_eq!(
        early.sweep().await.holds,
        0,
        "a minute past: the hold's own message may be on its way"
    );
    let late = HOLD + 16 * 60;
    let sweeper = shop_tests::hosted_sweeper(&ids, late).await.with_expiry_queue(queue());
    let report = sweeper.sweep().await;
    assert_eq!((report.holds, report.failures), (2, 0), "{report:?}");

    let consumer = reservation_expiry::ReservationExpiry::from_env(&shop_platform::config::Env::from_map(vars), &sdk)
        .await
        .unwrap()
        .with_clock(Arc::new(Ahead(late)));
    let messages = received(&sqs, &own, 2).await;
    assert_eq!(messages.records.len(), 2);
    assert!(consumer.handle_batch(messages).await.batch_item_failures.is_empty());
    assert_eq!(
        app.available(&dear_id, &dear).await,
        1,
        "the replacement's unit is back"
    );
    assert_eq!(
        app.available(&unpaid_product, &unpaid_sku).await,
        3,
        "the order's units are back"
    );
    let view = app.order_when(&order, |_| true).await;
    assert_eq!(view["returns"][0]["exchange"]["payment"], "expired", "{view}");
    let intent = asked["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.intent(intent).await["status"], "canceled");
    assert_eq!(app.order_when(&unpaid, |_| true).await["status"], "cancelled");
    assert_eq!(sweeper.sweep().await.holds, 0, "ended: nothing owed");
}
