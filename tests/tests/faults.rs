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
