//! From paid to delivered: the fulfillment worker and the email-sender as the gateway hosts them
//! (in-process, with queues of the test's own where a test counts messages), and the whole way
//! through the running stack: Stripe's event, the worker, the merchant's desk, the mails.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use email_sender::EmailSender;
use fulfillment_worker::FulfillmentWorker;
use reqwest::Method;
use serde_json::{Value, json};
use shop_domain::Sku;
use shop_domain::order::OrderStatus;
use shop_platform::config::Env;
use shop_services::mail::Mailer;
use shop_services::queue::Queue;
use shop_store::orders::OrderStore;
use shop_store::orders::events::EventRecord;
use shop_tests::{Inbox, TestApp, TestStripe, dollars, expect_json, hosted_env, in_the_shops_layout, problem, unique};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MERCHANT: &str = "merchant@example.com";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&shop_platform::aws::sdk_config().await)
}

async fn order_store() -> OrderStore {
    let sdk = shop_platform::aws::sdk_config().await;
    OrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("SHOP_TABLE").expect("run with `make test`"),
    )
}

/// An order the payment webhook's transaction has marked paid, without the webhook's message
/// to the stack's own worker: the test hands `order_paid` to its own.
async fn paid_order(app: &TestApp, email: &str, quantity: i64) -> (Value, String) {
    let (order, sku) = app.pending_order(email, 10, quantity).await;
    let order_id = order["order_id"].as_str().unwrap();
    let record = EventRecord {
        event_type: "payment_intent.succeeded".into(),
        order_id: order_id.into(),
        enqueued: true,
        fulfill: false,
        mails: Vec::new(),
    };
    let applied = order_store()
        .await
        .apply_event(
            &unique("evt"),
            &record,
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(applied, shop_store::orders::events::Applied::Moved);
    (order, sku)
}

async fn own_queue(name: &str, attributes: &[(QueueAttributeName, String)]) -> String {
    let mut create = sqs().await.create_queue().queue_name(unique(name));
    for (name, value) in attributes {
        create = create.attributes(name.clone(), value);
    }
    create.send().await.unwrap().queue_url.unwrap()
}

async fn queue_depth(url: &str) -> usize {
    let attributes = sqs()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Every message on the queue, taken off it.
async fn drain(url: &str) -> Vec<SqsMessage> {
    let client = sqs().await;
    let mut taken = Vec::new();
    loop {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return taken;
        }
        for message in messages {
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            let mut lambda = SqsMessage::default();
            lambda.message_id = message.message_id.clone();
            lambda.body = message.body.clone();
            taken.push(lambda);
        }
    }
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

fn message(id: &str, body: Value) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_string());
    message
}

fn order_paid(order_id: &str) -> Value {
    json!({"order_id": order_id, "event": "order_paid"})
}

/// The worker as the gateway hosts it, asking for mails on `mail_queue`.
async fn worker(mail_queue: &str) -> FulfillmentWorker {
    let (vars, sdk) = hosted_env("fulfillment-worker").await;
    let worker = FulfillmentWorker::from_env(&Env::from_map(vars), &sdk).unwrap();
    worker.with_mailer(Mailer::new(Queue::new(aws_sdk_sqs::Client::new(&sdk), mail_queue)))
}

async fn sender() -> EmailSender {
    let (vars, sdk) = hosted_env("email-sender").await;
    EmailSender::from_env(&Env::from_map(vars), &sdk).unwrap()
}

async fn status_of(order_id: &str) -> OrderStatus {
    order_store().await.get(order_id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn the_same_order_paid_twice_starts_packing_once_and_mails_once() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("twice"));
    let (order, sku) = paid_order(&app, &email, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let mail_queue = own_queue("mail", &[]).await;
    let worker = worker(&mail_queue).await;

    // Two deliveries at once, then a third after both.
    let deliveries = [
        batch(vec![message("a", order_paid(order_id))]),
        batch(vec![message("b", order_paid(order_id))]),
    ];
    let answers = futures::future::join_all(deliveries.map(|event| worker.handle_batch(event))).await;
    assert!(answers.iter().all(|a| a.batch_item_failures.is_empty()));
    let again = worker
        .handle_batch(batch(vec![message("c", order_paid(order_id))]))
        .await;
    assert!(again.batch_item_failures.is_empty());

    assert_eq!(status_of(order_id).await, OrderStatus::Fulfilling);
    let sku = Sku::parse(&sku).unwrap();
    assert_eq!(
        order_store().await.units_sold(&sku).await.unwrap(),
        2,
        "the sale counted once"
    );
    let packing = order_store()
        .await
        .packing(order_id)
        .await
        .unwrap()
        .expect("a packing record");
    assert_eq!(packing.lines.len(), 1);
    assert_eq!(packing.lines[0].quantity, 2);

    // Every delivery asked for both mails; the sender sends each once. Requests for a mail
    // another message of the batch is sending are retried, as SQS would redeliver them.
    let mut pending = drain(&mail_queue).await;
    assert_eq!(pending.len(), 6);
    let sender = sender().await;
    for _ in 0..3 {
        let answer = sender.handle_batch(batch(pending.clone())).await;
        let failed: Vec<String> = answer
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        pending.retain(|m| m.message_id.as_ref().is_some_and(|id| failed.contains(id)));
        if pending.is_empty() {
            break;
        }
    }
    assert!(pending.is_empty(), "every request was settled");
    let confirmations = inbox.mails_to(&email).await;
    assert_eq!(confirmations.len(), 1, "one confirmation");
    assert!(confirmations[0]["subject"].as_str().unwrap().contains("confirmed"));
    let merchant: Vec<Value> = inbox
        .mails_to(MERCHANT)
        .await
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap_or("").contains(order_id))
        .collect();
    assert_eq!(merchant.len(), 1, "one new-order mail to the merchant");
}

#[tokio::test]
async fn a_poison_message_is_retried_then_dead_lettered_while_the_rest_of_its_batch_is_processed_once() {
    let app = TestApp::new();
    let client = sqs().await;
    let dead = own_queue("fulfillment-dlq", &[]).await;
    let dead_arn = client
        .get_queue_attributes()
        .queue_url(&dead)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap();
    let redrive = json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2}).to_string();
    let work = own_queue(
        "fulfillment",
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (QueueAttributeName::VisibilityTimeout, "1".into()),
        ],
    )
    .await;
    let mut orders = Vec::new();
    for _ in 0..9 {
        let (order, sku) = paid_order(&app, "batch@example.com", 1).await;
        orders.push((order["order_id"].as_str().unwrap().to_owned(), sku));
    }
    // One batch: nine good messages and one that is not an order_paid.
    let entries: Vec<_> = orders
        .iter()
        .map(|(id, _)| order_paid(id).to_string())
        .chain(["{\"order_id\": 42".to_owned()])
        .enumerate()
        .map(|(i, body)| {
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .unwrap()
        })
        .collect();
    client
        .send_message_batch()
        .queue_url(&work)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();

    let mail_queue = own_queue("mail", &[]).await;
    let mapping = shop_local::poller::Mapping {
        queue_url: work.clone(),
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:work".into(),
        batch_size: 10,
        report_failures: true,
        function: Arc::new(worker(&mail_queue).await),
    };
    let poller = tokio::spawn(shop_local::poller::run(client.clone(), mapping, "us-east-1".into()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue_depth(&dead).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    poller.abort();

    let dead_letters = drain(&dead).await;
    assert_eq!(dead_letters.len(), 1, "the poison message is in the DLQ");
    assert_eq!(dead_letters[0].body.as_deref(), Some("{\"order_id\": 42"));
    let store = order_store().await;
    for (order_id, sku) in &orders {
        assert_eq!(status_of(order_id).await, OrderStatus::Fulfilling);
        let sku = Sku::parse(sku).unwrap();
        assert_eq!(store.units_sold(&sku).await.unwrap(), 1, "{order_id} counted once");
    }
    assert_eq!(
        drain(&mail_queue).await.len(),
        18,
        "each good message asked for its two mails once: none ran again"
    );
}

#[tokio::test]
async fn when_ses_fails_the_mail_is_retried_and_goes_out_once() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("sesdown"));
    let (order, _) = paid_order(&app, &email, 1).await;
    let request = json!({"kind": "order_confirmation", "order_id": order["order_id"]});

    let down = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let failing = sender().await.with_ses(aws_sdk_sesv2::Client::new(&down));
    let first = failing.handle_batch(batch(vec![message("m1", request.clone())])).await;
    assert_eq!(first.batch_item_failures.len(), 1, "the failed send is retried");
    assert!(inbox.mails_to(&email).await.is_empty());

    let healthy = sender().await;
    for id in ["m1", "m1-duplicate"] {
        let answer = healthy.handle_batch(batch(vec![message(id, request.clone())])).await;
        assert!(answer.batch_item_failures.is_empty());
    }
    let mails = inbox.mails_to(&email).await;
    assert_eq!(mails.len(), 1, "sent once");
    let text = mails[0]["body"]["text"].as_str().unwrap();
    assert!(text.contains(order["order_id"].as_str().unwrap()));
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    assert!(text.contains(&format!("Total: {}", dollars(total))), "{text}");

    // The mail's link, to the storefront's order page, opens the order without the checkout's
    // token.
    let link = app.order_link_at_the_api(
        text.lines()
            .find_map(|line| line.strip_prefix("Your order: "))
            .expect("a link to the order"),
    );
    let view = expect_json(app.client.get(&link).send().await.unwrap(), 200).await;
    assert_eq!(view["order_id"], order["order_id"]);
    let forged = link.rsplit_once("token=").unwrap().0.to_owned() + "token=forged";
    problem(app.client.get(forged).send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn the_confirmation_writes_money_the_address_and_the_options_as_the_customer_reads_them() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("reader"));
    let (id, sku) = (unique("crew"), unique("CREW-NAVY-M"));
    let mut row = shop_tests::product(&id, &unique("cat"), "Merino Crew", &[&sku]);
    row["variants"][0]["options"] = json!({"size": "M", "colour": "Navy"});
    // Over a thousand dollars, so the total has a thousands separator.
    row["variants"][0]["price"]["amount"] = json!(123_456);
    app.import(vec![row]).await;
    let cart = app.cart_with(&sku, 1).await;
    let order = expect_json(
        app.checkout(&unique("key"), &shop_tests::checkout_body(&cart, &email))
            .await,
        201,
    )
    .await;
    let options = json!({"colour": "Navy", "size": "M"});
    assert_eq!(order["lines"][0]["options"], options, "checkout's answer names them");
    let order_id = order["order_id"].as_str().unwrap();
    pay_and_wait_for_packing(&app, &order).await;
    let view = app.order_when(&order, |_| true).await;
    assert_eq!(view["lines"][0]["options"], options, "GET /orders/{{id}} names them");
    assert_eq!(view["lines"][0]["sku"], sku.as_str(), "the line keeps its shape");

    let mails = inbox.wait_for(&email, "confirmed", 1).await;
    assert_eq!(mails.len(), 1, "the confirmation");
    let (text, html) = (
        mails[0]["body"]["text"].as_str().unwrap(),
        mails[0]["body"]["html"].as_str().unwrap(),
    );
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    assert!(total > 100_000, "{total}");
    assert!(text.contains(&format!("Total: {}", dollars(total))), "{text}");
    assert!(
        text.contains(&format!(
            "Merino Crew, Colour: Navy, Size: M ({sku})  {}",
            dollars(123_456)
        )),
        "{text}"
    );
    assert!(
        !text.contains(" USD") && !html.contains(" USD"),
        "no amount in the feed's format"
    );
    assert!(
        text.contains("Ada Lovelace\n1 Analytical Way\nSan Francisco, CA 94105\nUnited States"),
        "the address in US order: {text}"
    );
    assert!(
        html.contains(&dollars(total)) && html.contains("Colour: Navy, Size: M"),
        "{html}"
    );
    assert!(html.contains("San Francisco, CA 94105<br>United States"), "{html}");
    assert!(in_the_shops_layout(html));

    let merchant = inbox.wait_for(MERCHANT, order_id, 1).await;
    assert_eq!(merchant.len(), 1, "the new-order mail");
    let text = merchant[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("Merino Crew, Colour: Navy, Size: M ({sku})")),
        "{text}"
    );
    assert!(merchant[0]["subject"].as_str().unwrap().contains(&dollars(total)));
}

#[tokio::test]
async fn a_request_for_a_mail_the_shop_does_not_have_is_left_for_the_dead_letter_queue() {
    let answer = sender()
        .await
        .handle_batch(batch(vec![
            message("bad-kind", json!({"kind": "spam", "order_id": "o"})),
            message("no-order", json!({"kind": "delivered", "order_id": unique("missing")})),
        ]))
        .await;
    let failed: Vec<&str> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-kind"], "an unknown order is dropped, not retried");
}

/// Pays the order at the local Stripe server; the stack's webhook, worker and sender take it
/// from there. Answers the order once packing started.
async fn pay_and_wait_for_packing(app: &TestApp, order: &Value) -> Value {
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(TestStripe::new().confirm(intent, "pm_card_visa").await.status(), 200);
    let view = app.order_when(order, |v| v["status"] == "fulfilling").await;
    assert_eq!(view["status"], "fulfilling", "{view}");
    view
}

async fn ship(app: &TestApp, order_id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, &format!("/admin/orders/{order_id}/shipments"), &body)
        .await
}

#[tokio::test]
async fn a_paid_order_is_packed_shipped_in_two_parts_and_delivered_with_a_mail_at_each_step() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let email = format!("{}@example.com", unique("journey"));
    let (order, sku) = app.pending_order(&email, 5, 3).await;
    let order_id = order["order_id"].as_str().unwrap();
    pay_and_wait_for_packing(&app, &order).await;

    let confirmation = inbox.wait_for(&email, "confirmed", 1).await;
    assert_eq!(confirmation.len(), 1, "the customer's confirmation");
    let new_order = inbox.wait_for(MERCHANT, order_id, 1).await;
    assert_eq!(new_order.len(), 1, "the merchant's new-order mail");
    assert!(new_order[0]["body"]["text"].as_str().unwrap().contains(&sku));
    let console = shop_tests::required("SHOP_CONSOLE_URL");
    assert!(
        new_order[0]["body"]["text"].as_str().unwrap().contains(&format!(
            "{}/orders/{order_id}/packing-slip",
            console.trim_end_matches('/')
        )),
        "the merchant's mail links to the order's packing slip in the console"
    );

    // The desk lists it among the orders being packed.
    let desk = expect_json(
        app.admin(Method::GET, "/admin/orders?status=fulfilling&limit=100", &json!({}))
            .await,
        200,
    )
    .await;
    assert!(
        desk["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == order_id)
    );

    // First parcel: one of the three units.
    let first = expect_json(
        ship(
            &app,
            order_id,
            json!({"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "lines": [{"sku": sku, "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(first["order_status"], "fulfilling");
    assert_eq!(first["remaining"], json!([{"sku": sku, "quantity": 2}]));
    assert_eq!(
        first["shipment"]["tracking_url"],
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    );
    let after_first = app.order_when(&order, |_| true).await;
    assert_eq!(after_first["status"], "fulfilling");
    assert_eq!(after_first["shipments"].as_array().unwrap().len(), 1);

    // Second parcel: everything left, with a carrier of the merchant's own.
    let second_body = json!({"carrier": "Royal Mail", "tracking_number": "RM-123456",
                             "tracking_url_template": "https://track.example/{tracking_number}"});
    let second = expect_json(ship(&app, order_id, second_body.clone()).await, 201).await;
    assert_eq!(second["order_status"], "shipped");
    assert_eq!(second["remaining"], json!([]));
    // The same request again answers the shipment already recorded.
    let replay = expect_json(ship(&app, order_id, second_body).await, 200).await;
    assert_eq!(replay["shipment"]["shipment_id"], second["shipment"]["shipment_id"]);
    // A shipped order ships again only an exchange's replacement; this one owes nothing.
    let more = ship(&app, order_id, json!({"carrier": "DHL", "tracking_number": "JD0001"})).await;
    assert_eq!(problem(more, 409).await["code"], "nothing_left_to_ship");

    let shipped = app.order_when(&order, |_| true).await;
    assert_eq!(shipped["status"], "shipped");
    let links: Vec<&str> = shipped["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tracking_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "https://track.example/RM-123456"
        ]
    );
    let shipped_mails = inbox.wait_for(&email, "shipped", 2).await;
    assert_eq!(shipped_mails.len(), 2, "one mail per parcel, the replay sends none");
    let parcel = |number: &str| {
        shipped_mails
            .iter()
            .find(|m| m["body"]["text"].as_str().unwrap().contains(number))
            .unwrap_or_else(|| panic!("a shipped mail carries {number}"))
    };
    // The first parcel left units behind: it is part of the order, and says what is to come.
    let first_parcel = parcel("1Z999AA10123456784");
    for part in ["text", "html"] {
        let body = first_parcel["body"][part].as_str().unwrap();
        assert!(body.contains("Part of your order is on its way"), "{body}");
    }
    let text = first_parcel["body"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("Still to come:\n2 x Payable Thing, Size: M ({sku})")),
        "{text}"
    );
    // The second completed it: no 'part of your order', and it says everything has shipped.
    let last_parcel = parcel("RM-123456");
    for part in ["text", "html"] {
        let body = last_parcel["body"][part].as_str().unwrap();
        assert!(!body.to_lowercase().contains("part of your order"), "{body}");
        assert!(body.contains("everything you ordered has shipped"), "{body}");
    }

    let delivered = expect_json(
        app.admin(Method::POST, &format!("/admin/orders/{order_id}/delivered"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(app.order_when(&order, |_| true).await["status"], "delivered");
    assert_eq!(inbox.wait_for(&email, "delivered", 1).await.len(), 1);
}

#[tokio::test]
async fn the_desk_refuses_shipments_it_cannot_record() {
    let app = TestApp::new();
    let (pending, sku) = app.pending_order("desk@example.com", 5, 2).await;
    let pending_id = pending["order_id"].as_str().unwrap();
    let ups = |lines: Value| json!({"carrier": "ups", "tracking_number": "1Z999AA10123456784", "lines": lines});
    let refused = ship(&app, pending_id, ups(Value::Null)).await;
    assert_eq!(problem(refused, 409).await["code"], "order_not_shippable");
    problem(ship(&app, &unique("no-order"), ups(Value::Null)).await, 404).await;

    let (paid, paid_sku) = paid_order(&app, "desk@example.com", 2).await;
    let paid_id = paid["order_id"].as_str().unwrap();
    let cases = [
        (json!({"carrier": "Pony Express", "tracking_number": "1234"}), "carrier"),
        (json!({"carrier": "ups", "tracking_number": "<b>"}), "tracking_number"),
        (ups(json!([{"sku": sku, "quantity": 1}])), "lines"),
        (ups(json!([{"sku": "NOT-ON-ORDER", "quantity": 1}])), "lines"),
        (ups(json!([])), "lines"),
    ];
    for (body, field) in cases {
        let answer = problem(ship(&app, paid_id, body.clone()).await, 422).await;
        assert_eq!(answer["errors"][0]["field"], field, "{body}");
    }
    // Three units of a two-unit line.
    let too_many = problem(
        ship(&app, paid_id, ups(json!([{"sku": paid_sku, "quantity": 3}]))).await,
        422,
    )
    .await;
    assert!(too_many["errors"][0]["reason"].as_str().unwrap().contains("2 left"));
    assert_eq!(status_of(paid_id).await, OrderStatus::Paid, "nothing was written");
}

#[tokio::test]
async fn the_packing_slip_is_a_printable_page_with_every_line_and_the_address_escaped() {
    let app = TestApp::new();
    let (id, sku) = (unique("slip"), unique("SLIP"));
    let row = shop_tests::product(&id, &unique("cat"), "Mug <Large> & Co", &[&sku]);
    app.import(vec![row]).await;
    let cart = app.cart_with(&sku, 2).await;
    let mut body = shop_tests::checkout_body(&cart, "slip@example.com");
    body["shipping_address"]["name"] = json!("Ada <script>alert(1)</script>");
    let order = expect_json(app.checkout(&unique("key"), &body).await, 201).await;
    let order_id = order["order_id"].as_str().unwrap();

    let response = app
        .admin(
            Method::GET,
            &format!("/admin/orders/{order_id}/packing-slip"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    assert!(html.contains(&sku));
    assert!(html.contains("Mug &lt;Large&gt; &amp; Co"));
    assert!(html.contains("Ada &lt;script&gt;"), "the address is escaped");
    assert!(!html.contains("<script>"));
    assert!(
        html.contains("San Francisco, CA 94105<br>United States"),
        "the address in US order: {html}"
    );
    assert!(html.contains("Size: M"), "the variant's options: {html}");
    assert!(in_the_shops_layout(&html));

    let without_token = app
        .client
        .get(format!("{}/admin/orders/{order_id}/packing-slip", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), 401);
}

#[tokio::test]
async fn the_desk_lists_orders_by_status_newest_first_a_page_at_a_time() {
    let app = TestApp::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (order, _) = paid_order(&app, "list@example.com", 1).await;
        ids.push(order["order_id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut path = "/admin/orders?status=paid&limit=2".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = expect_json(app.admin(Method::GET, &path, &json!({})).await, 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        assert!(
            items
                .iter()
                .all(|o| o["status"] == "paid" && o.get("token_hash").is_none())
        );
        seen.extend(
            items
                .iter()
                .map(|o| (o["order_id"].as_str().unwrap().to_owned(), o["created_at"].clone())),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| seen.iter().position(|(s, _)| s == id).expect("listed"))
        .collect();
    let times: Vec<String> = seen.iter().map(|(_, t)| t.as_str().unwrap().to_owned()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(positions.iter().all(|p| *p < seen.len()));

    let bad = app.admin(Method::GET, "/admin/orders?status=lost", &json!({})).await;
    assert_eq!(problem(bad, 422).await["errors"][0]["field"], "status");
    let missing = app.admin(Method::GET, "/admin/orders", &json!({})).await;
    problem(missing, 422).await;
}

#[tokio::test]
async fn the_days_summary_counts_a_paid_order_and_its_total_once_packing_starts() {
    let app = TestApp::new();
    let summary = || async { expect_json(app.admin(Method::GET, "/admin/summary", &json!({})).await, 200).await };
    let mut before = summary().await;
    let (order, _) = app
        .pending_order(&format!("{}@example.com", unique("summary")), 5, 2)
        .await;
    pay_and_wait_for_packing(&app, &order).await;
    let after = summary().await;
    assert_eq!(after["day"].as_str().map(str::len), Some(10), "{after}");
    if after["day"] != before["day"] {
        // Midnight (UTC) passed: the new day starts from nothing.
        before = json!({"paid_today": {"orders": 0, "revenue": {"amount": 0}}});
    }
    let orders = |s: &Value| s["paid_today"]["orders"].as_u64().unwrap();
    let revenue = |s: &Value| s["paid_today"]["revenue"]["amount"].as_i64().unwrap();
    // Other tests pay orders meanwhile: this one is among what was added.
    assert!(orders(&after) > orders(&before), "{before} → {after}");
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    assert!(revenue(&after) - revenue(&before) >= total, "{before} → {after}");
    assert!(after["to_pack"]["count"].as_u64().unwrap() >= 1 || after["to_pack"]["more"] == true);
    assert!(
        after["dead_letters"].is_array() && after["unreadable_queues"] == json!([]),
        "{after}"
    );
}

#[tokio::test]
async fn an_order_cancelled_while_packing_is_taken_off_the_sales_of_the_day_its_packing_started() {
    let app = TestApp::new();
    let (order, _) = paid_order(&app, &format!("{}@example.com", unique("uncounted")), 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let store = order_store().await;
    // Packing "started" on a day of its own, years back, which no other test counts on.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let packed_at = 946_684_800 + i64::from(nanos % 3650) * 86_400 + 3600;
    let day = shop_store::orders::fulfillment::day_of(packed_at);
    let before = store.day_sales(&day).await.unwrap();
    let paid = store.get(order_id).await.unwrap().unwrap();
    let packing = shop_domain::fulfillment::PackingRecord {
        order_id: order_id.to_owned(),
        started_at: packed_at,
        lines: Vec::new(),
        label: None,
    };
    assert!(store.start_fulfillment(&paid, &packing, packed_at).await.unwrap());
    let counted = store.day_sales(&day).await.unwrap();
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();
    assert_eq!(
        (counted.orders, counted.revenue),
        (before.orders + 1, before.revenue + total)
    );

    let packing_order = store.get(order_id).await.unwrap().unwrap();
    assert!(
        store
            .cancel_paid(
                &packing_order,
                shop_store::orders::customers::CancelledBy::Merchant,
                now()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.day_sales(&day).await.unwrap(),
        before,
        "the day's sales are as before the order"
    );
}
