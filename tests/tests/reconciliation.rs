//! Reconciliation with Stripe (the sweeper's hourly job), on the local stack with its clock moved
//! past the sweeper's wait: what Stripe did and the shop never heard of (the local Stripe server
//! leaves the event undelivered, as Stripe does once it gives up) is applied through the
//! webhook's code, once.

use serde_json::{Value, json};
use shop_tests::faults::{FaultGuard, Faults};
use shop_tests::{Inbox, TestApp, TestStripe, hosted_sweeper, unique_email};

/// The sweeper's wait (SWEEP_AFTER_SECONDS) and a minute.
const LATER: i64 = 16 * 60;

/// Stripe never delivers the `kind` event whose object names the intent as `field`.
async fn undelivered(field: &str, intent: &str, kind: &str) -> FaultGuard {
    let rule = json!({
        "method": "WEBHOOK", "fault": "undelivered", "times": 1,
        "body_contains": [format!("\"{field}\": \"{intent}\""), format!("\"type\": \"{kind}\"")],
    });
    Faults::stripe().inject_json(&rule).await
}

/// Polls until the rule fired `times` (the event was left undelivered), up to the queue deadline.
async fn fired(rule: &FaultGuard, times: u64) -> u64 {
    let deadline = std::time::Instant::now() + shop_tests::QUEUE_DEADLINE;
    loop {
        let fired = rule.fired().await;
        if fired >= times || std::time::Instant::now() > deadline {
            return fired;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn intent_of(order: &Value) -> String {
    order["payment"]["payment_intent_id"]
        .as_str()
        .expect("the intent")
        .to_owned()
}

#[tokio::test]
async fn a_payment_stripe_never_delivered_is_found_and_the_order_paid_and_packed_once() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = unique_email("reconciled-paid");
    let (order, _) = app.pending_order(&email, 3, 1).await;
    let (order_id, intent) = (order["order_id"].as_str().unwrap().to_owned(), intent_of(&order));
    let lost = undelivered("id", &intent, "payment_intent.succeeded").await;
    assert_eq!(stripe.confirm(&intent, "pm_card_visa").await.status(), 200);
    assert_eq!(fired(&lost, 1).await, 1, "the payment's event was left undelivered");
    let unpaid = app.order_when(&order, |v| v["status"] == "pending_payment").await;
    assert_eq!(
        unpaid["status"], "pending_payment",
        "the shop never heard of the payment"
    );

    let sweeper = hosted_sweeper(&[&order_id], LATER).await;
    let found = sweeper.reconcile().await;
    assert_eq!((found.paid, found.mismatches), (1, 0), "{found:?}");
    let packing = app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(packing["status"], "fulfilling");
    assert_eq!(inbox.wait_for(&email, "confirmed", 1).await.len(), 1);
    let again = sweeper.reconcile().await;
    assert_eq!(
        (again.paid, again.mismatches),
        (0, 0),
        "nothing left to repair: {again:?}"
    );
}

#[tokio::test]
async fn a_refund_made_at_stripe_and_never_delivered_is_recorded_on_its_order_once() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let email = unique_email("reconciled-refund");
    let (order, _) = app.pending_order(&email, 3, 1).await;
    let (order_id, intent) = (order["order_id"].as_str().unwrap().to_owned(), intent_of(&order));
    assert_eq!(stripe.confirm(&intent, "pm_card_visa").await.status(), 200);
    app.order_when(&order, |v| v["status"] == "fulfilling").await;

    // The merchant refunds in Stripe's dashboard; its event never arrives.
    let lost = undelivered("payment_intent", &intent, "charge.refunded").await;
    let refund = reqwest::Client::new()
        .post(format!("{}/v1/refunds", stripe.base))
        .bearer_auth("sk_test_dashboard")
        .form(&[("payment_intent", intent.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 200);
    assert_eq!(fired(&lost, 1).await, 1, "the refund's event was left undelivered");

    let sweeper = hosted_sweeper(&[&order_id], LATER).await;
    let found = sweeper.reconcile().await;
    assert_eq!((found.refunded, found.mismatches), (1, 0), "{found:?}");
    let refunded = app.order_when(&order, |v| v["status"] == "refunded").await;
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(inbox.wait_for(&email, "a refund for order", 1).await.len(), 1);
    let again = sweeper.reconcile().await;
    assert_eq!((again.refunded, again.mismatches), (0, 0), "recorded now: {again:?}");
}

/// A second charge for a paid order (a PaymentIntent naming the order that the order did not
/// create: the webhook ignores its event) is what no code may repair: reconciliation puts the
/// order on the merchant's list to review, mails them, and counts the mismatch, once.
#[tokio::test]
async fn a_second_charge_of_an_order_is_reported_to_the_merchant_once() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), Inbox::new());
    let (order, _) = app.pending_order(&unique_email("charged-twice"), 3, 1).await;
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.confirm(&intent_of(&order), "pm_card_visa").await.status(), 200);
    app.order_when(&order, |v| v["status"] == "fulfilling").await;
    let total = &order["totals"]["total"];
    let second = shop_tests::expect_json(
        reqwest::Client::new()
            .post(format!(
                "{}/v1/payment_intents",
                shop_tests::required("STRIPE_API_BASE")
            ))
            .bearer_auth("sk_test_tests")
            .form(&[
                ("amount", total["amount"].to_string()),
                ("currency", total["currency"].as_str().unwrap().to_owned()),
                ("metadata[order_id]", order_id.clone()),
            ])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(stripe.confirm(second_id, "pm_card_visa").await.status(), 200);

    let sweeper = hosted_sweeper(&[&order_id], LATER).await;
    let found = sweeper.reconcile().await;
    assert_eq!((found.paid, found.mismatches), (0, 1), "{found:?}");
    let desk = app
        .admin(reqwest::Method::GET, &format!("/admin/orders/{order_id}"), &json!({}))
        .await;
    let desk = shop_tests::expect_json(desk, 200).await;
    assert_eq!(desk["awaiting_review"], true, "{desk}");
    let reasons = desk["reviews"].to_string();
    assert!(
        reasons.contains("intent_not_the_orders") && reasons.contains(second_id),
        "{desk}"
    );
    let subject = format!("Order {order_id} needs a look");
    assert_eq!(inbox.wait_for("merchant@example.com", &subject, 1).await.len(), 1);
    let again = sweeper.reconcile().await;
    assert_eq!(again.mismatches, 0, "reported before: {again:?}");
    assert_eq!(
        app.order_when(&order, |_| true).await["status"],
        "fulfilling",
        "the order goes on"
    );
}
