//! Stripe's signed events moving orders: through the gateway (posted by the local Stripe
//! server, as `stripe listen` would) and in-process with a queue of the test's own.

use aws_sdk_sqs::types::QueueAttributeName;
use futures::future::join_all;
use payment_webhook::PaymentWebhook;
use reqwest::Method;
use serde_json::{Value, json};
use shop_services::mail::Mailer;
use shop_services::queue::Queue;
use shop_store::orders::OrderStore;
use shop_tests::{
    Inbox, TestApp, TestStripe, checkout_body, dollars, expect_json, hosted_env, problem, product, stripe_signature,
    unique, unique_email,
};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MERCHANT: &str = "merchant@example.com";

fn secret() -> String {
    std::env::var("STRIPE_WEBHOOK_SECRET").expect("run with `make test`")
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An order awaiting payment: its checkout answer.
async fn pending_order(app: &TestApp, stock: u32) -> (Value, String, String) {
    let (id, sku) = (unique("payable"), unique("SKU"));
    let mut row = product(&id, &unique("cat"), "Payable Thing", &[&sku]);
    row["variants"][0]["available"] = json!(stock);
    app.import(vec![row]).await;
    let cart = app.cart_with(&sku, 1).await;
    let order = expect_json(
        app.checkout(&unique("key"), &checkout_body(&cart, &unique_email("pay")))
            .await,
        201,
    )
    .await;
    (order, id, sku)
}

/// A Stripe event of `kind` carrying the PaymentIntent as the Stripe server has it now.
async fn event_for(stripe: &TestStripe, intent_id: &str, kind: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut intent = stripe.intent(intent_id).await;
    edit(&mut intent);
    json!({
        "id": unique("evt"), "object": "event", "api_version": "2026-09-30.endive", "created": now(),
        "data": {"object": intent}, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": kind,
    })
    .to_string()
}

async fn post_event(app: &TestApp, payload: &str, signature: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/webhooks/stripe", app.api))
        .header("Stripe-Signature", signature)
        .header("content-type", "application/json")
        .body(payload.to_owned())
        .send()
        .await
        .unwrap()
}

fn signed(payload: &str) -> String {
    stripe_signature(payload, &secret(), None)
}

/// The order as its owner sees it, once its status differs from `from` (or at the deadline);
/// a `from` that is no status, such as "(now)", reads it at once.
async fn status_after(app: &TestApp, order: &Value, from: &str) -> Value {
    let path = format!("/orders/{}", order["order_id"].as_str().unwrap());
    let token = order["order_token"].as_str().unwrap();
    let deadline = Instant::now() + shop_tests::QUEUE_DEADLINE;
    loop {
        let view = expect_json(app.cart_call(Method::GET, &path, token, None).await, 200).await;
        if view["status"] != from || Instant::now() > deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The order once the stack's worker started packing it (or at the deadline): a payment
/// through the gateway goes on from `paid` by itself.
async fn packed(app: &TestApp, order: &Value) -> Value {
    app.order_when(order, |v| v["status"] == "fulfilling").await
}

#[tokio::test]
async fn paying_at_stripe_moves_the_order_to_paid_and_on_to_the_packers() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_visa").await.status(), 200);
    // The Stripe server posts its signed payment_intent.succeeded to the gateway; the webhook
    // pays the order and hands it to the fulfillment worker over the queue.
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
}

#[tokio::test]
async fn events_without_a_valid_signature_are_refused_and_change_nothing() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let payload = event_for(&stripe, intent, "payment_intent.succeeded", |i| {
        i["status"] = json!("succeeded")
    })
    .await;
    let good = signed(&payload);
    let (t, v1) = good.split_once(",v1=").unwrap();
    let mut flipped = v1.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let cases = [
        (stripe_signature(&payload, "whsec_wrong", None), "invalid_signature"),
        (
            stripe_signature(&payload, &secret(), Some(now() - 301)),
            "stale_signature",
        ),
        ("garbage".to_owned(), "invalid_signature"),
        (format!("{t},v1={flipped}"), "invalid_signature"),
    ];
    for (header, code) in cases {
        assert_eq!(
            problem(post_event(&app, &payload, &header).await, 400).await["code"],
            code,
            "{header}"
        );
    }
    let tampered = payload.replace("\"livemode\":false", "\"livemode\":true");
    problem(post_event(&app, &tampered, &good).await, 400).await;
    // Every refusal was answered before this read: nothing changed.
    assert_eq!(status_after(&app, &order, "(now)").await["status"], "pending_payment");

    // During rotation Stripe sends one v1 per secret: a wrong first one does not hide a right second.
    let rotation = format!("{t},v1={flipped},v1={v1}");
    assert_eq!(post_event(&app, &payload, &rotation).await.status(), 200);
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
}

/// The webhook as the gateway hosts it, with `secret` and a fulfillment queue of the test's own.
async fn isolated_webhook(secret: &str, queue_url: Option<&str>) -> (PaymentWebhook, String) {
    let (mut vars, sdk) = hosted_env("payment-webhook").await;
    vars.insert("STRIPE_WEBHOOK_SECRET".into(), secret.into());
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let own = sqs
        .create_queue()
        .queue_name(unique("fulfillment"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let webhook = PaymentWebhook::from_env(&shop_platform::config::Env::from_map(vars), &sdk)
        .await
        .unwrap();
    let target = queue_url.unwrap_or(&own).to_owned();
    let client = if queue_url.is_some() {
        unreachable_sqs(&target).await
    } else {
        sqs
    };
    (webhook.with_fulfillment_queue(Queue::new(client, target)), own)
}

/// An SQS client of `url`, where nothing listens, that does not retry: each send fails at once.
async fn unreachable_sqs(url: &str) -> aws_sdk_sqs::Client {
    let broken = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    aws_sdk_sqs::Client::new(&broken)
}

fn webhook_request(payload: &str, signature: &str) -> lambda_http::Request {
    let event = json!({
        "version": "2.0", "routeKey": "POST /webhooks/stripe", "rawPath": "/webhooks/stripe", "rawQueryString": "",
        "headers": {"stripe-signature": signature, "content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/stripe", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "Stripe/1.0"},
                           "requestId": unique("req"), "routeKey": "POST /webhooks/stripe", "stage": "$default", "timeEpoch": 0},
        "body": payload, "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

async fn messages_for(queue_url: &str, order_id: &str) -> usize {
    let sdk = shop_platform::aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let total: usize = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let ours = received
        .messages()
        .iter()
        .filter(|m| m.body().unwrap_or("").contains(order_id))
        .count();
    assert!(total <= 10, "the test's own queue holds only its own messages");
    ours
}

/// A paid order whose `order_paid` message never reached the fulfillment worker (here: sent to a
/// queue nobody reads) stays `paid`; the sweeper sends it again once it has waited, and the order
/// is packed once.
#[tokio::test]
async fn a_paid_order_whose_fulfilment_message_was_lost_is_packed_once_by_the_sweeper() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let (webhook, lost) = isolated_webhook(&secret(), None).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let payload = event_for(&stripe, intent, "payment_intent.succeeded", |i| {
        i["status"] = json!("succeeded")
    })
    .await;
    assert_eq!(
        webhook
            .handle(webhook_request(&payload, &signed(&payload)))
            .await
            .status(),
        200
    );
    let order_id = order["order_id"].as_str().unwrap();
    assert_eq!(messages_for(&lost, order_id).await, 1);
    assert_eq!(status_after(&app, &order, "pending_payment").await["status"], "paid");

    let early = shop_tests::hosted_sweeper(&[order_id], 60).await.sweep().await;
    assert_eq!(early.fulfilments, 0, "paid a minute ago: its message may be on its way");
    let report = shop_tests::hosted_sweeper(&[order_id], 16 * 60).await.sweep().await;
    assert_eq!((report.fulfilments, report.failures), (1, 0), "{report:?}");
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
    let after = shop_tests::hosted_sweeper(&[order_id], 16 * 60).await.sweep().await;
    assert_eq!(after.fulfilments, 0, "packing: nothing owed");
}

/// A payment failure whose mail could not be asked for while Stripe delivered the event (here:
/// the mail queue unreachable, and Stripe gave up) is still owed; the sweeper asks for it once it
/// has waited, and the shopper gets it once.
#[tokio::test]
async fn a_mail_an_event_owed_past_stripes_retries_is_sent_once_by_the_sweeper() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let nowhere = "http://127.0.0.1:9/123456789012/nowhere";
    let (webhook, _) = isolated_webhook(&secret(), None).await;
    let webhook = webhook.with_mailer(Mailer::new(Queue::new(unreachable_sqs(nowhere).await, nowhere)));
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let payload = event_for(&stripe, intent, "payment_intent.payment_failed", |i| {
        i["last_payment_error"] = json!({"message": "Your card was declined."})
    })
    .await;
    let answer = webhook.handle(webhook_request(&payload, &signed(&payload))).await;
    assert!(
        answer.status().is_server_error(),
        "the mail is owed: Stripe is asked to retry"
    );
    let order_id = order["order_id"].as_str().unwrap();

    let early = shop_tests::hosted_sweeper(&[order_id], 60).await.sweep().await;
    assert_eq!(early.mails, 0, "a minute old: Stripe is still retrying");
    let sweeper = shop_tests::hosted_sweeper(&[order_id], 16 * 60).await;
    let report = sweeper.sweep().await;
    assert_eq!((report.mails, report.failures), (1, 0), "{report:?}");
    let again = sweeper.sweep().await;
    assert_eq!(again.mails, 0, "sent: owed no more");
    let subject = format!("order {order_id} did not go through");
    let inbox = Inbox::new();
    let email = order["email"].as_str().unwrap();
    assert_eq!(inbox.wait_for(email, &subject, 1).await.len(), 1);
    // A late delivery by Stripe after all finds nothing owed, and is answered so.
    assert_eq!(
        webhook
            .handle(webhook_request(&payload, &signed(&payload)))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_event_pay_the_order_once_and_enqueue_once() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let (webhook, queue) = isolated_webhook(&secret(), None).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let payload = event_for(&stripe, intent, "payment_intent.succeeded", |i| {
        i["status"] = json!("succeeded")
    })
    .await;
    let signature = signed(&payload);
    let answers = join_all((0..20).map(|_| webhook.handle(webhook_request(&payload, &signature)))).await;
    assert!(
        answers.iter().all(|a| a.status() == 200),
        "{:?}",
        answers.iter().map(|a| a.status()).collect::<Vec<_>>()
    );
    assert_eq!(messages_for(&queue, order["order_id"].as_str().unwrap()).await, 1);
    assert_eq!(status_after(&app, &order, "pending_payment").await["status"], "paid");
}

#[tokio::test]
async fn when_the_queue_fails_the_event_is_answered_with_an_error_and_its_retry_sends_the_message() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let order_id = order["order_id"].as_str().unwrap();
    let payload = event_for(
        &stripe,
        order["payment"]["payment_intent_id"].as_str().unwrap(),
        "payment_intent.succeeded",
        |i| i["status"] = json!("succeeded"),
    )
    .await;
    let signature = signed(&payload);
    // Nothing listens on port 9: the send fails after the transition committed.
    let (broken, _) = isolated_webhook(&secret(), Some("http://127.0.0.1:9/123456789012/nowhere")).await;
    assert!(
        broken
            .handle(webhook_request(&payload, &signature))
            .await
            .status()
            .is_server_error()
    );
    assert_eq!(status_after(&app, &order, "pending_payment").await["status"], "paid");

    let (healed, queue) = isolated_webhook(&secret(), None).await;
    assert_eq!(healed.handle(webhook_request(&payload, &signature)).await.status(), 200);
    assert_eq!(messages_for(&queue, order_id).await, 1);
    assert_eq!(healed.handle(webhook_request(&payload, &signature)).await.status(), 200);
    assert_eq!(
        messages_for(&queue, order_id).await,
        1,
        "a later duplicate sends nothing more"
    );
}

#[tokio::test]
async fn either_of_two_configured_secrets_verifies_while_the_merchant_rotates() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let (webhook, _) = isolated_webhook("whsec_old_one,whsec_new_one", None).await;
    let payload = event_for(
        &stripe,
        order["payment"]["payment_intent_id"].as_str().unwrap(),
        "payment_intent.payment_failed",
        |_| {},
    )
    .await;
    for (secret, status) in [("whsec_old_one", 200), ("whsec_new_one", 200), ("whsec_other", 400)] {
        let header = stripe_signature(&payload, secret, None);
        assert_eq!(
            webhook.handle(webhook_request(&payload, &header)).await.status(),
            status,
            "{secret}"
        );
    }
}

#[tokio::test]
async fn a_payment_of_another_amount_flags_the_order_and_does_not_pay_it() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let payload = event_for(
        &stripe,
        order["payment"]["payment_intent_id"].as_str().unwrap(),
        "payment_intent.succeeded",
        |i| {
            i["status"] = json!("succeeded");
            i["amount"] = json!(1);
        },
    )
    .await;
    assert_eq!(post_event(&app, &payload, &signed(&payload)).await.status(), 200);
    let order_id = order["order_id"].as_str().unwrap();
    let stored = order_record(order_id).await;
    assert_eq!(stored.status.as_str(), "pending_payment");
    assert!(stored.review.unwrap().starts_with("amount_mismatch"));
    let alert = Inbox::new()
        .wait_for(MERCHANT, &format!("Order {order_id} needs a look"), 1)
        .await;
    assert_eq!(alert.len(), 1, "the merchant is told");
    assert!(alert[0]["body"]["text"].as_str().unwrap().contains("amount_mismatch"));
}

#[tokio::test]
async fn an_order_flagged_for_review_is_on_the_summary_until_it_is_marked_reviewed_once() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let order_id = order["order_id"].as_str().unwrap();
    let payload = event_for(
        &stripe,
        order["payment"]["payment_intent_id"].as_str().unwrap(),
        "payment_intent.succeeded",
        |i| {
            i["status"] = json!("succeeded");
            i["amount"] = json!(1);
        },
    )
    .await;
    // Stripe delivering the event twice flags the order once.
    for _ in 0..2 {
        assert_eq!(post_event(&app, &payload, &signed(&payload)).await.status(), 200);
    }
    let summary = || async { expect_json(app.admin(Method::GET, "/admin/summary", &json!({})).await, 200).await };
    let listed = |summary: &Value| -> Vec<Value> {
        summary["to_review"]["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["order_id"] == order_id)
            .cloned()
            .collect()
    };
    let before = summary().await;
    let entries = listed(&before);
    assert_eq!(entries.len(), 1, "{before}");
    assert!(
        entries[0]["reason"].as_str().unwrap().starts_with("amount_mismatch"),
        "{before}"
    );
    assert!(before["to_review"]["count"].as_u64().unwrap() >= 1, "{before}");
    let desk = expect_json(
        app.admin(Method::GET, &format!("/admin/orders/{order_id}"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(desk["awaiting_review"], true, "{desk}");
    assert_eq!(
        desk["reviews"].as_array().unwrap().len(),
        1,
        "one reason for one event: {desk}"
    );

    let path = format!("/admin/orders/{order_id}/reviewed");
    let first = expect_json(
        app.admin(Method::POST, &path, &json!({"by": "ada@example.com"})).await,
        200,
    )
    .await;
    assert_eq!(first["reviewed"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["reviewed"][0]["by"], "ada@example.com");
    assert!(first.get("awaiting_review").is_none(), "{first}");
    assert!(
        first["review"].as_str().unwrap().starts_with("amount_mismatch"),
        "the reason stays: {first}"
    );
    assert_eq!(first["reviews"], desk["reviews"], "the reasons stay");
    let again = expect_json(app.admin(Method::POST, &path, &json!({})).await, 200).await;
    assert_eq!(
        again["reviewed"], first["reviewed"],
        "marking it again marks nothing more"
    );
    assert!(listed(&summary().await).is_empty(), "off the list");

    assert_eq!(
        problem(
            app.admin(Method::POST, "/admin/orders/no-such-order/reviewed", &json!({}))
                .await,
            404
        )
        .await["code"],
        "not_found"
    );
    let (never_flagged, _, _) = pending_order(&app, 5).await;
    let never = format!("/admin/orders/{}/reviewed", never_flagged["order_id"].as_str().unwrap());
    assert_eq!(
        problem(app.admin(Method::POST, &never, &json!({})).await, 409).await["code"],
        "order_not_flagged"
    );
    let bad_by = app.admin(Method::POST, &path, &json!({"by": "ada\r\nBcc: x"})).await;
    assert_eq!(problem(bad_by, 422).await["code"], "validation_failed");
}

#[tokio::test]
async fn a_payment_naming_another_order_in_its_metadata_pays_neither() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (payer, _, _) = pending_order(&app, 5).await;
    let (target, _, _) = pending_order(&app, 5).await;
    // The intent of one order, its metadata edited to name another of the same total.
    let payload = event_for(
        &stripe,
        payer["payment"]["payment_intent_id"].as_str().unwrap(),
        "payment_intent.succeeded",
        |i| {
            i["status"] = json!("succeeded");
            i["metadata"]["order_id"] = target["order_id"].clone();
        },
    )
    .await;
    assert_eq!(target["totals"]["total"], payer["totals"]["total"]);
    assert_eq!(post_event(&app, &payload, &signed(&payload)).await.status(), 200);
    for order in [&target, &payer] {
        let stored = order_record(order["order_id"].as_str().unwrap()).await;
        assert_eq!(stored.status.as_str(), "pending_payment");
        assert_eq!(stored.review, None);
    }
}

#[tokio::test]
async fn a_disputed_payment_flags_the_order_and_tells_the_merchant_what_and_by_when() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let order_id = order["order_id"].as_str().unwrap();
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    // Stripe's test card for disputes: the payment succeeds, then the cardholder disputes it.
    assert_eq!(stripe.confirm(intent, "pm_card_createDispute").await.status(), 200);
    let alert = Inbox::new()
        .wait_for(MERCHANT, &format!("Order {order_id} needs a look"), 1)
        .await;
    assert_eq!(alert.len(), 1, "the merchant is told once");
    let text = alert[0]["body"]["text"].as_str().unwrap();
    assert!(text.contains("needs_response: fraudulent for "), "{text}");
    assert!(text.contains("respond by"), "{text}");
    let desk = expect_json(
        app.admin(Method::GET, &format!("/admin/orders/{order_id}"), &json!({}))
            .await,
        200,
    )
    .await;
    assert!(desk["review"].as_str().unwrap().starts_with("dispute dp_"), "{desk}");
    assert_eq!(
        packed(&app, &order).await["status"],
        "fulfilling",
        "the dispute does not move the order"
    );
}

async fn order_record(order_id: &str) -> shop_domain::order::Order {
    let sdk = shop_platform::aws::sdk_config().await;
    let store = OrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("SHOP_TABLE").unwrap(),
    );
    store.get(order_id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_cancellation_that_arrives_after_the_payment_leaves_the_order_paid() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let canceled = event_for(&stripe, intent, "payment_intent.canceled", |i| {
        i["status"] = json!("canceled")
    })
    .await;
    stripe.confirm(intent, "pm_card_visa").await;
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
    assert_eq!(post_event(&app, &canceled, &signed(&canceled)).await.status(), 200);
    assert_eq!(status_after(&app, &order, "(now)").await["status"], "fulfilling");
}

#[tokio::test]
async fn a_declined_payment_is_recorded_and_the_shopper_can_still_pay() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_chargeDeclined").await.status(), 402);
    let path = format!("/orders/{}", order["order_id"].as_str().unwrap());
    let deadline = Instant::now() + shop_tests::QUEUE_DEADLINE;
    loop {
        let view = expect_json(
            app.cart_call(Method::GET, &path, order["order_token"].as_str().unwrap(), None)
                .await,
            200,
        )
        .await;
        if view["last_payment_error"].is_string() {
            assert_eq!(view["status"], "pending_payment");
            break;
        }
        assert!(Instant::now() < deadline, "the failure was never recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = Inbox::new()
        .wait_for(
            order["email"].as_str().unwrap(),
            &format!("order {} did not go through", order["order_id"].as_str().unwrap()),
            1,
        )
        .await;
    assert_eq!(mail.len(), 1, "the shopper hears that the payment failed");
    assert!(
        mail[0]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("Your card was declined.")
    );
    stripe.confirm(intent, "pm_card_visa").await;
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
}

/// Ends the order's hold the way expiry does, but leaves its PaymentIntent payable.
async fn end_hold(order_id: &str) {
    let sdk = shop_platform::aws::sdk_config().await;
    let store = OrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("SHOP_TABLE").unwrap(),
    );
    let record = store.get(order_id).await.unwrap().unwrap();
    assert!(store.release(&record, now(), "reservation_expired").await.unwrap());
}

#[tokio::test]
async fn a_late_payment_takes_the_stock_again_when_it_is_there() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, product_id, sku) = pending_order(&app, 5).await;
    end_hold(order["order_id"].as_str().unwrap()).await;
    assert_eq!(app.available(&product_id, &sku).await, 5);
    stripe
        .confirm(order["payment"]["payment_intent_id"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
    assert_eq!(app.available(&product_id, &sku).await, 4);
}

#[tokio::test]
async fn a_late_payment_is_refunded_when_the_stock_is_gone() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, product_id, sku) = pending_order(&app, 5).await;
    end_hold(order["order_id"].as_str().unwrap()).await;
    app.admin(
        Method::PUT,
        &format!("/admin/inventory/{sku}"),
        &json!({"available": 0}),
    )
    .await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    stripe.confirm(intent, "pm_card_visa").await;
    let path = format!("/orders/{}", order["order_id"].as_str().unwrap());
    let deadline = Instant::now() + shop_tests::QUEUE_DEADLINE;
    let view = loop {
        let view = expect_json(
            app.cart_call(Method::GET, &path, order["order_token"].as_str().unwrap(), None)
                .await,
            200,
        )
        .await;
        if view["late_payment"].is_string() || Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(view["status"], "refunded");
    assert!(view["late_payment"].as_str().unwrap().contains("refunded"), "{view}");
    assert_eq!(app.available(&product_id, &sku).await, 0, "no stock was taken");
    let order_id = order["order_id"].as_str().unwrap();
    let mail = Inbox::new()
        .wait_for(
            order["email"].as_str().unwrap(),
            &format!("a refund for order {order_id}"),
            1,
        )
        .await;
    assert_eq!(
        mail.len(),
        1,
        "one refund mail, though the shop and Stripe both reported it"
    );
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    let refunded = format!("refunded {}", dollars(total));
    assert!(mail[0]["body"]["text"].as_str().unwrap().contains(&refunded));
}

#[tokio::test]
async fn refunds_reported_by_stripe_move_the_order_to_partially_refunded_then_refunded() {
    let (app, stripe) = (TestApp::new(), TestStripe::new());
    let (order, _, _) = pending_order(&app, 5).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    stripe.confirm(intent, "pm_card_visa").await;
    assert_eq!(packed(&app, &order).await["status"], "fulfilling");
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    let refund = |amount: i64| {
        app.client
            .post(format!("{}/v1/refunds", stripe.base))
            .bearer_auth("sk_test_tests")
            .form(&[("payment_intent", intent.to_owned()), ("amount", amount.to_string())])
            .send()
    };
    assert_eq!(refund(1000).await.unwrap().status(), 200);
    assert_eq!(
        status_after(&app, &order, "fulfilling").await["status"],
        "partially_refunded"
    );
    assert_eq!(refund(total - 1000).await.unwrap().status(), 200);
    assert_eq!(
        status_after(&app, &order, "partially_refunded").await["status"],
        "refunded"
    );
}
