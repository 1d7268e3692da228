//! The Stripe adapter (async-stripe) against the local Stripe-compatible server.

use shop_services::payments::{CancelReason, PaymentError, PaymentGateway};
use shop_tests::{TestStripe, unique};
use std::time::Duration;

fn gateway() -> PaymentGateway {
    let base = std::env::var("STRIPE_API_BASE").expect("run with `make test`");
    PaymentGateway::new(
        &"sk_test_adapter".to_owned().into(),
        Some(&base),
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn creating_the_intent_of_one_order_twice_gives_the_same_intent() {
    let gateway = gateway();
    let order = unique("order");
    let first = gateway.create_intent(&order, 4_200, "usd", "a@b.co").await.unwrap();
    let again = gateway.create_intent(&order, 4_200, "usd", "a@b.co").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.status, "requires_payment_method");
    assert!(first.client_secret.starts_with(&first.id));
    let other = gateway
        .create_intent(&unique("order"), 4_200, "usd", "a@b.co")
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn a_declined_card_leaves_the_intent_unpaid_with_the_reason() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    let intent = gateway
        .create_intent(&unique("order"), 1_000, "usd", "a@b.co")
        .await
        .unwrap();
    let declined = stripe.confirm(&intent.id, "pm_card_chargeDeclined").await;
    assert_eq!(declined.status(), 402);
    let body: serde_json::Value = declined.json().await.unwrap();
    assert_eq!(body["error"]["code"], "card_declined");
    let after = stripe.intent(&intent.id).await;
    assert_eq!(after["status"], "requires_payment_method");
    assert_eq!(after["last_payment_error"]["code"], "card_declined");
    let paid = stripe.confirm(&intent.id, "pm_card_visa").await;
    assert_eq!(paid.status(), 200, "the shopper may retry with another card");
}

#[tokio::test]
async fn cancelling_an_unpaid_intent_twice_is_fine_and_a_paid_one_is_refused() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    let unpaid = gateway
        .create_intent(&unique("order"), 1_000, "usd", "a@b.co")
        .await
        .unwrap();
    gateway
        .cancel_intent(&unpaid.id, CancelReason::Abandoned)
        .await
        .unwrap();
    gateway
        .cancel_intent(&unpaid.id, CancelReason::Abandoned)
        .await
        .unwrap();
    assert_eq!(stripe.intent(&unpaid.id).await["status"], "canceled");

    let paid = gateway
        .create_intent(&unique("order"), 1_000, "usd", "a@b.co")
        .await
        .unwrap();
    stripe.confirm(&paid.id, "pm_card_visa").await;
    assert!(matches!(
        gateway.cancel_intent(&paid.id, CancelReason::Abandoned).await,
        Err(PaymentError::Refused(_))
    ));
}

#[tokio::test]
async fn a_key_that_is_not_a_test_key_is_refused_by_the_local_server() {
    let base = std::env::var("STRIPE_API_BASE").unwrap();
    let live = PaymentGateway::new(
        &"sk_live_not_here".to_owned().into(),
        Some(&base),
        Duration::from_secs(5),
    )
    .unwrap();
    let error = live
        .create_intent(&unique("order"), 1_000, "usd", "a@b.co")
        .await
        .unwrap_err();
    assert!(matches!(error, PaymentError::Refused(_)), "{error}");
}

#[tokio::test]
async fn a_stripe_that_does_not_answer_in_time_is_unavailable() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let slow = PaymentGateway::new(
        &"sk_test_x".to_owned().into(),
        Some(&format!("http://{address}/")),
        Duration::from_millis(300),
    )
    .unwrap();
    let error = slow
        .create_intent(&unique("order"), 1_000, "usd", "a@b.co")
        .await
        .unwrap_err();
    assert!(matches!(error, PaymentError::Unavailable(_)), "{error}");
    silent.abort();
}

#[tokio::test]
async fn the_same_idempotency_key_with_other_parameters_is_an_idempotency_error() {
    let base = std::env::var("STRIPE_API_BASE").unwrap();
    let client = reqwest::Client::new();
    let key = unique("idem");
    let send = |amount: &'static str| {
        client
            .post(format!("{base}/v1/payment_intents"))
            .bearer_auth("sk_test_x")
            .header("Idempotency-Key", &key)
            .form(&[("amount", amount), ("currency", "usd")])
            .send()
    };
    let first: serde_json::Value = send("1000").await.unwrap().json().await.unwrap();
    let replay = send("1000").await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<serde_json::Value>().await.unwrap()["id"], first["id"]);
    let other = send("2000").await.unwrap();
    assert_eq!(other.status(), 400);
    assert_eq!(
        other.json::<serde_json::Value>().await.unwrap()["error"]["type"],
        "idempotency_error"
    );
}
