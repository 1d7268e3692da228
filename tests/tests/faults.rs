//! The shop under faults of its dependencies (issue #21): Stripe failing, throttling, timing out
//! and resetting connections; DynamoDB throttling, conflicting, failing and answering slowly;
//! SQS and SES throttling. Each scenario injects its faults scoped to its own cart, order or
//! address ([`shop_tests::faults`]), lets the shop (and the shopper, as a browser would) retry,
//! and then holds the shop to the same invariants ([`Shop::holds`]): no order lost, none charged
//! twice, stock equal to what was sold, every paid order fulfilled, every owed mail sent once,
//! every owed refund issued once, and nothing of the scenario's in a dead-letter queue.

use serde_json::{Value, json};
use shop_tests::faults::{Fault, FaultGuard, Faults, Rule, When};
use shop_tests::{Inbox, QUEUE_DEADLINE, TestApp, TestCart, TestStripe, checkout_body, expect_json, problem, unique};

/// The units each scenario's SKU starts with.
const STOCK: u64 = 6;

/// One scenario's part of the shop: a product and SKU of its own with [`STOCK`] units, and a
/// shopper's address of its own.
struct Shop {
    app: TestApp,
    stripe: TestStripe,
    inbox: Inbox,
    product: String,
    sku: String,
    email: String,
}

/// What a scenario's order must have come to once the faults are over.
struct Owed {
    /// The order's status.
    status: &'static str,
    /// Units of the SKU the order holds or sold (what the stock must be short of).
    sold: u64,
    /// Whether the order's one PaymentIntent was charged.
    charged: bool,
    /// The subjects of the mails the shopper is owed, each exactly once.
    mails: &'static [&'static str],
    /// The cents refunded on the order's PaymentIntent, in one refund (0: none).
    refunded: i64,
}

impl Shop {
    /// A product of the scenario's own, in stock.
    async fn new(tag: &str) -> Self {
        let app = TestApp::new();
        let (product, sku) = (unique(&format!("faults-{tag}")), unique("FAULT-SKU"));
        let mut row = shop_tests::product(&product, &unique("cat"), "Fault Tolerant Thing", &[&sku]);
        row["variants"][0]["available"] = json!(STOCK);
        app.import(vec![row]).await;
        Self {
            app,
            stripe: TestStripe::new(),
            inbox: Inbox::new(),
            product,
            sku,
            email: format!("{}@example.com", unique(tag)),
        }
    }

    /// A cart holding `quantity` of the scenario's SKU.
    async fn cart(&self, quantity: i64) -> TestCart {
        self.app.cart_with(&self.sku, quantity).await
    }

    /// `POST /checkout` of `cart` with `key`, as the shopper's browser sends it.
    async fn checkout(&self, cart: &TestCart, key: &str) -> reqwest::Response {
        self.app.checkout(key, &checkout_body(cart, &self.email)).await
    }

    /// An order awaiting payment for `quantity` units, checked out without faults.
    async fn pending_order(&self, quantity: i64) -> Value {
        let cart = self.cart(quantity).await;
        expect_json(self.checkout(&cart, &unique("key")).await, 201).await
    }

    /// The shopper pays the order's intent with a card that succeeds, as Stripe.js does.
    async fn pay(&self, order: &Value) -> reqwest::Response {
        self.stripe.confirm(intent_of(order), "pm_card_visa").await
    }

    /// An order of `quantity` paid, and packing.
    async fn packing_order(&self, quantity: i64) -> Value {
        let order = self.pending_order(quantity).await;
        assert_eq!(self.pay(&order).await.status(), 200);
        let packing = self.app.order_when(&order, |v| v["status"] == "fulfilling").await;
        assert_eq!(packing["status"], "fulfilling");
        order
    }

    /// Holds the shop to the invariants for `order`, waiting (up to [`QUEUE_DEADLINE`]) for the
    /// work the queues carry.
    async fn holds(&self, order: &Value, owed: Owed) {
        let order_id = order["order_id"].as_str().expect("order_id");
        // No order lost: it is there, in the status its story ends in.
        let view = self.app.order_when(order, |v| v["status"] == owed.status).await;
        assert_eq!(view["status"], owed.status, "order {order_id}: {view}");

        // None charged twice: one PaymentIntent for the order, paid at most once.
        let intents = self.stripe.intents_for_order(order_id).await;
        assert_eq!(intents.len(), 1, "one PaymentIntent for {order_id}: {intents:?}");
        let intent = &intents[0];
        assert_eq!(intent["id"].as_str(), Some(intent_of(order)), "the order's own intent");
        assert_eq!(intent["status"] == "succeeded", owed.charged, "charged: {intent}");
        if owed.charged {
            assert_eq!(intent["amount_received"], order["totals"]["total"]["amount"]);
        }

        // Stock never negative and equal to what was sold.
        let product = self.app.get_json(&format!("/products/{}", self.product)).await;
        let available = product["variants"][0]["available"].as_i64().expect("available");
        assert_eq!(available, (STOCK - owed.sold) as i64, "the stock of {}", self.sku);

        // Every owed refund issued, once.
        let refunds = self.refunds_when(intent_of(order), owed.refunded).await;
        let refunded: i64 = refunds.iter().filter_map(|r| r["amount"].as_i64()).sum();
        assert_eq!(refunded, owed.refunded, "refunded on {order_id}: {refunds:?}");
        assert!(refunds.len() <= 1, "one refund at most: {refunds:?}");

        // Every owed mail sent, once.
        for subject in owed.mails {
            let mails = self.inbox.wait_for(&self.email, subject, 1).await;
            assert_eq!(mails.len(), 1, "one mail \"{subject}\" to {}", self.email);
        }

        // The dead-letter queues hold nothing of the scenario's.
        let poisoned = dead_letters_naming(order_id).await;
        assert!(poisoned.is_empty(), "dead letters of {order_id}: {poisoned:?}");
    }

    /// The refunds of `intent` once they add up to `amount` (at once when it is 0), or at the
    /// deadline.
    async fn refunds_when(&self, intent: &str, amount: i64) -> Vec<Value> {
        let deadline = std::time::Instant::now() + QUEUE_DEADLINE;
        loop {
            let refunds = self.stripe.refunds_of(intent).await;
            let sum: i64 = refunds.iter().filter_map(|r| r["amount"].as_i64()).sum();
            if sum >= amount || std::time::Instant::now() > deadline {
                return refunds;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

fn intent_of(order: &Value) -> &str {
    order["payment"]["payment_intent_id"]
        .as_str()
        .expect("the order's PaymentIntent")
}

/// The messages in the stack's dead-letter queues whose body names `text`, read without taking
/// them (visibility timeout 0).
async fn dead_letters_naming(text: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&shop_platform::aws::sdk_config().await);
    let prefix = shop_tests::required("SHOP_RESOURCE_PREFIX");
    let queues = sqs
        .list_queues()
        .queue_name_prefix(format!("{prefix}-"))
        .send()
        .await
        .expect("the queues list");
    let mut found = Vec::new();
    for url in queues.queue_urls().iter().filter(|url| url.contains("DeadLetter")) {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("a dead-letter queue reads");
        found.extend(
            received
                .messages()
                .iter()
                .filter_map(|m| m.body())
                .filter(|body| body.contains(text))
                .map(|body| format!("{url}: {body}")),
        );
    }
    found
}

/// A rule failing `function`'s DynamoDB `action` calls whose body names `text`, `times` times.
fn dynamodb(function: &str, action: &str, text: &str, times: u32, fault: Fault) -> Rule {
    Rule {
        service: "dynamodb".into(),
        action: Some(action.into()),
        function: Some(function.into()),
        body_contains: Some(text.into()),
        times,
        fault,
        when: When::Before,
    }
}

/// Injects `rule` into the functions' AWS calls.
async fn inject(rule: Rule) -> FaultGuard {
    Faults::aws().inject(&rule).await
}

// --- DynamoDB ------------------------------------------------------------------------------

#[tokio::test]
async fn a_checkout_whose_transaction_conflicts_is_refused_retryable_and_its_retry_makes_one_order() {
    let shop = Shop::new("ddb-conflict").await;
    let cart = shop.cart(2).await;
    let conflict = inject(dynamodb(
        "CheckoutFunction",
        "TransactWriteItems",
        &cart.id,
        1,
        Fault::TransactionConflict,
    ))
    .await;
    let key = unique("key");
    let refused = problem(shop.checkout(&cart, &key).await, 503).await;
    assert_eq!(refused["code"], "upstream_unavailable");
    assert_eq!(conflict.fired().await, 1);

    let order = expect_json(shop.checkout(&cart, &key).await, 201).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 2,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn throttled_checkout_writes_are_retried_by_the_sdk_and_the_shopper_sees_nothing() {
    let shop = Shop::new("ddb-throttle").await;
    let cart = shop.cart(1).await;
    let throttled = inject(dynamodb(
        "CheckoutFunction",
        "TransactWriteItems",
        &cart.id,
        2,
        Fault::ProvisionedThroughputExceeded,
    ))
    .await;
    let order = expect_json(shop.checkout(&cart, &unique("key")).await, 201).await;
    assert_eq!(
        throttled.fired().await,
        2,
        "two throttled attempts, the third went through"
    );
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_database_failing_on_every_attempt_fails_the_checkout_and_holds_no_stock() {
    let shop = Shop::new("ddb-500").await;
    let cart = shop.cart(3).await;
    let failing = inject(dynamodb(
        "CheckoutFunction",
        "TransactWriteItems",
        &cart.id,
        3,
        Fault::InternalServerError,
    ))
    .await;
    let key = unique("key");
    problem(shop.checkout(&cart, &key).await, 503).await;
    assert_eq!(failing.fired().await, 3, "the SDK's three attempts all failed");
    let product = shop.app.get_json(&format!("/products/{}", shop.product)).await;
    assert_eq!(product["variants"][0]["available"], STOCK, "nothing held");

    let order = expect_json(shop.checkout(&cart, &key).await, 201).await;
    let owed = Owed {
        status: "pending_payment",
        sold: 3,
        charged: false,
        mails: &[],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_slow_checkout_transaction_retried_by_an_impatient_shopper_makes_one_order() {
    let shop = Shop::new("ddb-slow").await;
    let cart = shop.cart(2).await;
    let slow = inject(dynamodb(
        "CheckoutFunction",
        "TransactWriteItems",
        &cart.id,
        1,
        Fault::Delay { ms: 1_500 },
    ))
    .await;
    let key = unique("key");
    let (first, second) = tokio::join!(shop.checkout(&cart, &key), async {
        // The shopper presses "Pay" again while the first request is still waiting.
        let deadline = std::time::Instant::now() + QUEUE_DEADLINE;
        while slow.fired().await == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        shop.checkout(&cart, &key).await
    });
    let first = expect_json(first, 201).await;
    let second = expect_json(second, 201).await;
    assert_eq!(first["order_id"], second["order_id"], "one order for one key");
    assert_eq!(shop.pay(&first).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 2,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&first, owed).await;
}

// --- Stripe --------------------------------------------------------------------------------

/// Injects a fault into the shop's (or the shopper's) Stripe calls `method path` (`*`: one
/// segment) whose path, Idempotency-Key or form body names `text`.
async fn stripe(method: &str, path: &str, text: &str, fault: &str, when: &str) -> FaultGuard {
    let rule = json!({
        "method": method, "path": path, "body_contains": text, "times": 1, "fault": fault, "when": when,
    });
    Faults::stripe().inject_json(&rule).await
}

/// The order's own view and the shopper's cancel of it.
async fn cancel(shop: &Shop, order: &Value) -> reqwest::Response {
    let path = format!("/orders/{}/cancel", order["order_id"].as_str().expect("order_id"));
    let token = order["order_token"].as_str().expect("order_token");
    shop.app.cart_call(reqwest::Method::POST, &path, token, None).await
}

/// Stripe fails the checkout's intent creation once (`fault`, `when`): the checkout is refused
/// as retryable, its retry with the same key makes the one order with one intent, and it is paid
/// and fulfilled.
async fn intent_creation_fails_once(tag: &str, fault: &str, when: &str) {
    let shop = Shop::new(tag).await;
    let cart = shop.cart(1).await;
    let failing = stripe("POST", "/v1/payment_intents", &shop.email, fault, when).await;
    let key = unique("key");
    let refused = problem(shop.checkout(&cart, &key).await, 503).await;
    assert_eq!(refused["code"], "upstream_unavailable");
    assert_eq!(failing.fired().await, 1);

    let order = expect_json(shop.checkout(&cart, &key).await, 201).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn stripe_failing_the_intent_creation_fails_the_checkout_retryably() {
    intent_creation_fails_once("stripe-create-500", "api_error", "before").await;
}

#[tokio::test]
async fn stripe_rate_limiting_the_intent_creation_fails_the_checkout_retryably() {
    intent_creation_fails_once("stripe-create-429", "rate_limit", "before").await;
}

#[tokio::test]
async fn an_intent_created_but_its_answer_reset_is_not_created_twice_by_the_retry() {
    intent_creation_fails_once("stripe-create-reset", "reset", "after").await;
}

#[tokio::test]
async fn an_intent_creation_that_times_out_after_stripe_made_it_is_not_made_twice() {
    intent_creation_fails_once("stripe-create-timeout", "timeout", "after").await;
}

/// The shopper's confirm as Stripe.js sends it, which may get no answer at all.
async fn confirm_raw(shop: &Shop, order: &Value) -> Result<reqwest::Response, reqwest::Error> {
    reqwest::Client::new()
        .post(format!(
            "{}/v1/payment_intents/{}/confirm",
            shop.stripe.base,
            intent_of(order)
        ))
        .bearer_auth("sk_test_tests")
        .form(&[("payment_method", "pm_card_visa")])
        .send()
        .await
}

#[tokio::test]
async fn a_payment_whose_answer_stripe_loses_is_taken_once_and_fulfilled() {
    let shop = Shop::new("stripe-confirm-500").await;
    let order = shop.pending_order(2).await;
    let lost = stripe(
        "POST",
        "/v1/payment_intents/*/confirm",
        intent_of(&order),
        "api_error",
        "after",
    )
    .await;
    let answer = confirm_raw(&shop, &order).await.expect("an answer");
    assert_eq!(answer.status(), 500);
    assert_eq!(lost.fired().await, 1);
    // The shopper tries again: Stripe has the payment already.
    let again = shop.pay(&order).await;
    assert_eq!(again.status(), 400, "an intent that succeeded is not confirmed again");
    let owed = Owed {
        status: "fulfilling",
        sold: 2,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_payment_whose_connection_is_reset_before_stripe_took_it_is_paid_by_the_retry() {
    let shop = Shop::new("stripe-confirm-reset").await;
    let order = shop.pending_order(1).await;
    let reset = stripe(
        "POST",
        "/v1/payment_intents/*/confirm",
        intent_of(&order),
        "reset",
        "before",
    )
    .await;
    assert!(confirm_raw(&shop, &order).await.is_err(), "no answer");
    assert_eq!(reset.fired().await, 1);
    assert_eq!(
        shop.stripe.intent(intent_of(&order)).await["status"],
        "requires_payment_method"
    );
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_cancel_stripe_rate_limits_is_refused_retryably_and_its_retry_cancels_once() {
    let shop = Shop::new("stripe-cancel-429").await;
    let order = shop.pending_order(2).await;
    let limited = stripe(
        "POST",
        "/v1/payment_intents/*/cancel",
        intent_of(&order),
        "rate_limit",
        "before",
    )
    .await;
    problem(cancel(&shop, &order).await, 503).await;
    assert_eq!(limited.fired().await, 1);
    assert_eq!(
        shop.app.order_when(&order, |_| true).await["status"],
        "pending_payment",
        "nothing changed"
    );
    let cancelled = expect_json(cancel(&shop, &order).await, 200).await;
    assert_eq!(cancelled["status"], "cancelled");
    let owed = Owed {
        status: "cancelled",
        sold: 0,
        charged: false,
        mails: &["was cancelled"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
    assert_eq!(shop.stripe.intent(intent_of(&order)).await["status"], "canceled");
}

#[tokio::test]
async fn a_cancel_stripe_did_but_whose_answer_was_reset_ends_cancelled_once() {
    let shop = Shop::new("stripe-cancel-reset").await;
    let order = shop.pending_order(1).await;
    let reset = stripe(
        "POST",
        "/v1/payment_intents/*/cancel",
        intent_of(&order),
        "reset",
        "after",
    )
    .await;
    problem(cancel(&shop, &order).await, 503).await;
    assert_eq!(reset.fired().await, 1);
    assert_eq!(shop.stripe.intent(intent_of(&order)).await["status"], "canceled");
    let cancelled = expect_json(cancel(&shop, &order).await, 200).await;
    assert_eq!(cancelled["status"], "cancelled");
    let owed = Owed {
        status: "cancelled",
        sold: 0,
        charged: false,
        mails: &["was cancelled"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

/// What a paid order cancelled before it shipped comes to once its refund went through: refunded
/// in full, its stock back, mailed once that it was cancelled and once that it was refunded.
fn cancelled_and_refunded(order: &Value) -> Owed {
    Owed {
        status: "refunded",
        sold: 0,
        charged: true,
        mails: &["was cancelled", "a refund for order"],
        refunded: order["totals"]["total"]["amount"].as_i64().expect("the total"),
    }
}

/// A paid order the shopper cancels while Stripe fails its refund once (`fault`, `when`): the
/// cancel is refused as retryable with the stock back, and cancelling again refunds it once.
async fn refund_fails_once(tag: &str, fault: &str, when: &str) {
    let shop = Shop::new(tag).await;
    let order = shop.packing_order(2).await;
    let failing = stripe("POST", "/v1/refunds", intent_of(&order), fault, when).await;
    problem(cancel(&shop, &order).await, 503).await;
    assert_eq!(failing.fired().await, 1);

    let cancelled = expect_json(cancel(&shop, &order).await, 200).await;
    assert!(["cancelled", "refunded"].contains(&cancelled["status"].as_str().unwrap_or_default()));
    shop.holds(&order, cancelled_and_refunded(&order)).await;
}

/// A paid order the shopper cancels while Stripe fails its refund, and nobody cancels again: the
/// sweeper issues the refund once it has been owed for its wait, once, and then has nothing to do.
#[tokio::test]
async fn a_refund_stripe_failed_and_nobody_retried_is_issued_once_by_the_sweeper() {
    let shop = Shop::new("sweep-refund").await;
    let order = shop.packing_order(2).await;
    let failing = stripe("POST", "/v1/refunds", intent_of(&order), "api_error", "before").await;
    problem(cancel(&shop, &order).await, 503).await;
    assert_eq!(failing.fired().await, 1);
    let order_id = order["order_id"].as_str().expect("order_id");

    let early = shop_tests::hosted_sweeper(&[order_id], 60).await.sweep().await;
    assert_eq!(
        early.refunds, 0,
        "owed for a minute: the shopper may still cancel again"
    );
    let later = shop_tests::hosted_sweeper(&[order_id], 16 * 60).await;
    let report = later.sweep().await;
    assert_eq!((report.refunds, report.failures), (1, 0), "{report:?}");
    let again = later.sweep().await;
    assert_eq!((again.refunds, again.failures), (0, 0), "owed no more: {again:?}");
    shop.holds(&order, cancelled_and_refunded(&order)).await;
}

/// The sweeper's refund failing too (Stripe still down) is counted, left owed, and issued by a
/// later sweep.
#[tokio::test]
async fn a_refund_stripe_keeps_failing_stays_owed_until_a_later_sweep_issues_it() {
    let shop = Shop::new("sweep-refund-again").await;
    let order = shop.packing_order(1).await;
    let rule = json!({
        "method": "POST", "path": "/v1/refunds", "body_contains": intent_of(&order), "times": 2,
        "fault": "rate_limit", "when": "before",
    });
    let failing = Faults::stripe().inject_json(&rule).await;
    problem(cancel(&shop, &order).await, 503).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    let sweeper = shop_tests::hosted_sweeper(&[order_id], 16 * 60).await;
    let failed = sweeper.sweep().await;
    assert_eq!((failed.refunds, failed.failures), (0, 1), "{failed:?}");
    assert_eq!(failing.fired().await, 2);
    let done = sweeper.sweep().await;
    assert_eq!((done.refunds, done.failures), (1, 0), "{done:?}");
    shop.holds(&order, cancelled_and_refunded(&order)).await;
}

#[tokio::test]
async fn a_refund_stripe_fails_is_issued_once_when_the_cancel_is_retried() {
    refund_fails_once("stripe-refund-500", "api_error", "before").await;
}

#[tokio::test]
async fn a_refund_stripe_made_but_whose_answer_was_reset_is_not_issued_twice() {
    refund_fails_once("stripe-refund-reset", "reset", "after").await;
}

#[tokio::test]
async fn a_merchant_refund_stripe_rate_limits_is_issued_once_when_the_form_is_sent_again() {
    let shop = Shop::new("stripe-refund-429").await;
    let order = shop.pending_order(1).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let order_id = order["order_id"].as_str().expect("order_id");
    let packing = shop.app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(packing["status"], "fulfilling");
    let limited = stripe("POST", "/v1/refunds", intent_of(&order), "rate_limit", "before").await;
    let form = json!({"amount": {"amount": 700, "currency": "usd"}, "reason": "a dent", "key": unique("form")});
    let path = format!("/admin/orders/{order_id}/refunds");
    problem(shop.app.admin(reqwest::Method::POST, &path, &form).await, 503).await;
    assert_eq!(limited.fired().await, 1);
    expect_json(shop.app.admin(reqwest::Method::POST, &path, &form).await, 201).await;
    let owed = Owed {
        status: "partially_refunded",
        sold: 1,
        charged: true,
        mails: &["confirmed", "a refund for order"],
        refunded: 700,
    };
    shop.holds(&order, owed).await;
}

// --- The webhook's and fulfilment's writes ---------------------------------------------------

#[tokio::test]
async fn a_refund_event_whose_transaction_conflicts_still_makes_the_order_refunded() {
    let shop = Shop::new("ddb-webhook-conflict").await;
    let order = shop.pending_order(1).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let packing = shop.app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(packing["status"], "fulfilling");
    let order_id = order["order_id"].as_str().expect("order_id");
    // The webhook's next transaction about the order (charge.refunded's move to refunded).
    let conflict = inject(dynamodb(
        "PaymentWebhookFunction",
        "TransactWriteItems",
        order_id,
        1,
        Fault::TransactionConflict,
    ))
    .await;
    expect_json(cancel(&shop, &order).await, 200).await;
    shop.holds(&order, cancelled_and_refunded(&order)).await;
    assert_eq!(conflict.fired().await, 1);
}

#[tokio::test]
async fn a_payment_event_whose_writes_are_throttled_and_slow_is_applied_once_by_stripes_redelivery() {
    let shop = Shop::new("ddb-webhook-throttle").await;
    let order = shop.pending_order(2).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    // Every attempt of the SDK throttled: the webhook fails, Stripe delivers the event again.
    let throttled = inject(dynamodb(
        "PaymentWebhookFunction",
        "TransactWriteItems",
        order_id,
        3,
        Fault::ProvisionedThroughputExceeded,
    ))
    .await;
    let slow = inject(dynamodb(
        "FulfillmentWorkerFunction",
        "TransactWriteItems",
        order_id,
        1,
        Fault::Delay { ms: 1_000 },
    ))
    .await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 2,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
    assert_eq!(throttled.fired().await, 3);
    assert_eq!(slow.fired().await, 1);
}

// --- SQS and SES ---------------------------------------------------------------------------

/// A rule throttling `function`'s `action` calls to `service` whose body names `text`.
fn throttle(service: &str, function: &str, action: &str, text: &str, times: u32) -> Rule {
    let fault = match service {
        "sqs" => Fault::RequestThrottled,
        _ => Fault::TooManyRequests,
    };
    Rule {
        service: service.into(),
        action: Some(action.into()),
        function: Some(function.into()),
        body_contains: Some(text.into()),
        times,
        fault,
        when: When::Before,
    }
}

#[tokio::test]
async fn a_fulfilment_message_sqs_throttles_is_sent_by_stripes_redelivery_and_packed_once() {
    let shop = Shop::new("sqs-fulfil").await;
    let order = shop.pending_order(1).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    let throttled = inject(throttle("sqs", "PaymentWebhookFunction", "SendMessage", order_id, 3)).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
    assert_eq!(
        throttled.fired().await,
        3,
        "the SDK's three attempts, then Stripe's redelivery"
    );
}

#[tokio::test]
async fn mail_requests_sqs_throttles_are_sent_again_and_each_mail_goes_out_once() {
    let shop = Shop::new("sqs-mail").await;
    let order = shop.pending_order(1).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    // The worker's ask for the confirmation, throttled twice: the SDK's retry sends it.
    let throttled = inject(throttle(
        "sqs",
        "FulfillmentWorkerFunction",
        "SendMessageBatch",
        order_id,
        2,
    ))
    .await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
    assert_eq!(throttled.fired().await, 2);
}

#[tokio::test]
async fn a_confirmation_ses_throttles_goes_out_once() {
    let shop = Shop::new("ses-throttle").await;
    let order = shop.pending_order(1).await;
    let throttled = inject(throttle("ses", "EmailSenderFunction", "SendEmail", &shop.email, 2)).await;
    assert_eq!(shop.pay(&order).await.status(), 200);
    let owed = Owed {
        status: "fulfilling",
        sold: 1,
        charged: true,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
    assert_eq!(
        throttled.fired().await,
        2,
        "two throttled sends, the SDK's third went out"
    );
}

// --- Queue consumers, hosted here to retry without the queue's visibility timeout -----------

/// A batch of one message with `body`, as Lambda hands it over.
fn batch(id: &str, body: Value) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_string());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![message];
    event
}

/// Marks the order paid in the table, as the webhook's transaction does, without the webhook's
/// message to the stack's worker: the test hands the message to a consumer of its own.
async fn paid_in_the_table(order_id: &str) {
    use shop_domain::order::OrderStatus;
    use shop_store::orders::events::{Applied, EventRecord};
    let sdk = shop_platform::aws::sdk_config().await;
    let orders =
        shop_store::orders::OrderStore::new(aws_sdk_dynamodb::Client::new(&sdk), shop_tests::required("SHOP_TABLE"));
    let record = EventRecord {
        event_type: "payment_intent.succeeded".into(),
        order_id: order_id.into(),
        enqueued: true,
        fulfill: false,
        mails: Vec::new(),
    };
    let now = shop_platform::clock::Clock::now(&shop_platform::clock::SystemClock);
    let applied = orders
        .apply_event(
            &unique("evt"),
            &record,
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            None,
            now,
        )
        .await
        .expect("the order is marked paid");
    assert_eq!(applied, Applied::Moved);
}

/// The SDK configuration of the hosted function `logical_id`: its calls signed as its own,
/// through the IAM proxy (where the faults are).
fn through_the_proxy(sdk: &aws_config::SdkConfig, logical_id: &str) -> aws_config::SdkConfig {
    shop_local::enforce::function_sdk(sdk, &shop_tests::required("SHOP_IAM_URL"), logical_id)
}

#[tokio::test]
async fn a_packing_start_whose_transaction_conflicts_is_retried_and_the_order_is_fulfilled_once() {
    let shop = Shop::new("ddb-worker-conflict").await;
    let order = shop.pending_order(2).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    paid_in_the_table(order_id).await;
    let (vars, sdk) = shop_tests::hosted_env("fulfillment-worker").await;
    let worker = fulfillment_worker::FulfillmentWorker::from_env(
        &shop_platform::config::Env::from_map(vars),
        &through_the_proxy(&sdk, "FulfillmentWorkerFunction"),
    )
    .expect("the worker builds");
    let conflict = inject(dynamodb(
        "FulfillmentWorkerFunction",
        "TransactWriteItems",
        order_id,
        1,
        Fault::TransactionConflict,
    ))
    .await;
    let paid = json!({"order_id": order_id, "event": "order_paid"});
    let first = worker.handle_batch(batch("m1", paid.clone())).await;
    assert_eq!(first.batch_item_failures.len(), 1, "retried, not dropped");
    assert_eq!(conflict.fired().await, 1);
    for id in ["m1", "m1-duplicate"] {
        assert!(
            worker
                .handle_batch(batch(id, paid.clone()))
                .await
                .batch_item_failures
                .is_empty()
        );
    }
    let owed = Owed {
        status: "fulfilling",
        sold: 2,
        charged: false,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_hold_whose_intent_stripe_fails_to_cancel_ends_on_the_retry_once() {
    let shop = Shop::new("stripe-expiry-500").await;
    let order = shop.pending_order(2).await;
    // The consumer as the gateway hosts it, telling time one hold (900 s) and a minute ahead.
    let (vars, sdk) = shop_tests::hosted_env("reservation-expiry").await;
    let consumer = reservation_expiry::ReservationExpiry::from_env(&shop_platform::config::Env::from_map(vars), &sdk)
        .await
        .expect("the consumer builds")
        .with_clock(std::sync::Arc::new(shop_tests::Ahead(960)));
    let failing = stripe(
        "POST",
        "/v1/payment_intents/*/cancel",
        intent_of(&order),
        "api_error",
        "before",
    )
    .await;
    let expire = json!({"order_id": order["order_id"]});
    let first = consumer.handle_batch(batch("m1", expire.clone())).await;
    assert_eq!(first.batch_item_failures.len(), 1, "retried later");
    assert_eq!(failing.fired().await, 1);
    assert_eq!(shop.app.order_when(&order, |_| true).await["status"], "pending_payment");

    let retried = consumer.handle_batch(batch("m1", expire)).await;
    assert!(retried.batch_item_failures.is_empty());
    let owed = Owed {
        status: "cancelled",
        sold: 0,
        charged: false,
        mails: &["was cancelled"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}

#[tokio::test]
async fn a_mail_ses_throttles_past_the_sdks_retries_is_sent_once_by_the_messages_retry() {
    let shop = Shop::new("ses-exhausted").await;
    let order = shop.pending_order(1).await;
    let order_id = order["order_id"].as_str().expect("order_id");
    // Paid in the table only: nothing of the stack's own mails the order meanwhile.
    paid_in_the_table(order_id).await;
    let (vars, sdk) = shop_tests::hosted_env("email-sender").await;
    // The sender as the gateway hosts it: its calls signed as EmailSenderFunction, through the
    // proxy (where the fault is).
    let proxied = through_the_proxy(&sdk, "EmailSenderFunction");
    let sender = email_sender::EmailSender::from_env(&shop_platform::config::Env::from_map(vars), &proxied)
        .expect("the sender builds");
    let throttled = inject(throttle("ses", "EmailSenderFunction", "SendEmail", &shop.email, 3)).await;
    let request = json!({"kind": "order_confirmation", "order_id": order_id});
    let first = sender.handle_batch(batch("m1", request.clone())).await;
    assert_eq!(first.batch_item_failures.len(), 1, "the message is retried");
    assert_eq!(throttled.fired().await, 3, "the SDK's three attempts");
    assert!(shop.inbox.mails_to(&shop.email).await.is_empty());

    for id in ["m1", "m1-duplicate"] {
        assert!(
            sender
                .handle_batch(batch(id, request.clone()))
                .await
                .batch_item_failures
                .is_empty()
        );
    }
    let owed = Owed {
        status: "paid",
        sold: 1,
        charged: false,
        mails: &["confirmed"],
        refunded: 0,
    };
    shop.holds(&order, owed).await;
}
