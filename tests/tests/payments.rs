//! The Stripe adapter (shop_services::payments, the shop's own client of Stripe's API) against
//! the local Stripe-compatible server.

use shop_services::payments::{CancelReason, PaymentError, PaymentGateway};
use shop_tests::faults::Faults;
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

#[tokio::test]
async fn an_intent_carries_its_order_and_exchange_and_is_read_back_as_stripe_has_it() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    let (order, exchange) = (unique("order"), unique("exchange"));
    let intent = gateway
        .create_exchange_intent(&order, &exchange, 1_250, "EUR", "a@b.co")
        .await
        .unwrap();
    let at_stripe = stripe.intent(&intent.id).await;
    assert_eq!(at_stripe["amount"], 1_250);
    assert_eq!(at_stripe["currency"], "eur");
    assert_eq!(at_stripe["metadata"]["order_id"], order.as_str());
    assert_eq!(at_stripe["metadata"]["exchange_id"], exchange.as_str());
    assert_eq!(at_stripe["receipt_email"], "a@b.co");
    assert_eq!(at_stripe["automatic_payment_methods"]["enabled"], true);
    assert_eq!(gateway.retrieve_intent(&intent.id).await.unwrap(), intent);
    stripe.confirm(&intent.id, "pm_card_visa").await;
    assert_eq!(gateway.retrieve_intent(&intent.id).await.unwrap().status, "succeeded");
}

#[tokio::test]
async fn a_refund_is_made_once_per_key_and_never_beyond_what_was_paid() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    let intent = gateway
        .create_intent(&unique("order"), 3_000, "usd", "a@b.co")
        .await
        .unwrap();
    stripe.confirm(&intent.id, "pm_card_visa").await;
    let key = unique("refund");
    let first = gateway.refund(&intent.id, Some(1_000), &key).await.unwrap();
    let again = gateway.refund(&intent.id, Some(1_000), &key).await.unwrap();
    assert_eq!(first, again, "the same key is the same refund");
    assert_eq!(stripe.refunds_of(&intent.id).await.len(), 1);
    let rest = gateway.refund(&intent.id, None, &unique("refund")).await.unwrap();
    assert_ne!(rest, first);
    let refunded: i64 = stripe
        .refunds_of(&intent.id)
        .await
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(refunded, 3_000);
    let beyond = gateway.refund(&intent.id, Some(1), &unique("refund")).await;
    assert!(matches!(beyond, Err(PaymentError::Refused(_))), "{beyond:?}");
}

#[tokio::test]
async fn stripe_failing_or_busy_is_unavailable_and_the_retry_with_the_same_key_makes_one_intent() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    for fault in ["api_error", "rate_limit", "reset"] {
        let order = unique("order");
        let rule = Faults::stripe()
            .inject_json(&serde_json::json!({
                "method": "POST", "path": "/v1/payment_intents", "body_contains": order,
                "times": 1, "fault": fault, "when": "after",
            }))
            .await;
        let error = gateway.create_intent(&order, 900, "usd", "a@b.co").await.unwrap_err();
        assert!(matches!(error, PaymentError::Unavailable(_)), "{fault}: {error}");
        assert_eq!(rule.fired().await, 1);
        let retried = gateway.create_intent(&order, 900, "usd", "a@b.co").await.unwrap();
        let made = stripe.intents_for_order(&order).await;
        assert_eq!(made.len(), 1, "{fault}: {made:?}");
        assert_eq!(made[0]["id"], retried.id.as_str());
    }
}

#[tokio::test]
async fn an_id_or_key_that_is_not_stripe_s_is_refused_before_any_call() {
    let gateway = gateway();
    for id in ["", "pi_1/../refunds", "pi 1", "pi_1?expand=x"] {
        let error = gateway.retrieve_intent(id).await.unwrap_err();
        assert!(matches!(error, PaymentError::Refused(_)), "{id:?}: {error}");
    }
    let long = "k".repeat(256);
    let error = gateway.refund("pi_1", None, &long).await.unwrap_err();
    assert!(error.to_string().contains("idempotency key"), "{error}");
}

#[tokio::test]
async fn the_local_stripe_lists_intents_newest_first_by_creation_time_a_page_at_a_time() {
    let (gateway, stripe) = (gateway(), TestStripe::new());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(
            gateway
                .create_intent(&unique("order"), 500, "usd", "a@b.co")
                .await
                .unwrap()
                .id,
        );
    }
    let client = reqwest::Client::new();
    let page = |after: Option<String>| {
        let mut query = vec![("created[gte]", since.to_string()), ("limit", "1".to_owned())];
        query.extend(after.map(|id| ("starting_after", id)));
        client
            .get(format!("{}/v1/payment_intents", stripe.base))
            .bearer_auth("sk_test_lists")
            .query(&query)
            .send()
    };
    // Parallel tests make intents too: walk the pages until the three are seen, in the order
    // Stripe lists (newest first), each page one intent.
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let body: serde_json::Value = page(after.clone()).await.unwrap().json().await.unwrap();
        let data = body["data"].as_array().unwrap();
        assert!(data.len() <= 1, "{body}");
        if let Some(intent) = data.first() {
            let id = intent["id"].as_str().unwrap().to_owned();
            if made.contains(&id) {
                seen.push(id.clone());
            }
            after = Some(id);
        }
        pages += 1;
        if body["has_more"] != true || pages > 5_000 {
            break;
        }
    }
    made.reverse();
    assert_eq!(seen, made, "each of the three once, newest first");
    let bad = client
        .get(format!("{}/v1/payment_intents", stripe.base))
        .bearer_auth("sk_test_lists")
        .query(&[("limit", "101")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
