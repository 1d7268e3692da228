//! Messages to support through the gateway: the merchant's mail with the order's facts only when
//! the order's own token came with it, replies going to the customer, the customer's
//! acknowledgement with a reference, the merchant's inbox, refusals, and the hourly limits per
//! address and per source (each test writes from a loopback address of its own).

use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{Inbox, TestApp, expect_json, problem, refused_fields, unique};

const MERCHANT: &str = "merchant@example.com";

/// A support limit as the stack configured it (`SHOP_PARAM_<name>`), or the template's default.
fn limit(name: &str, default: usize) -> usize {
    std::env::var(format!("SHOP_PARAM_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn email() -> String {
    format!("{}@example.com", unique("support"))
}

async fn write(app: &TestApp, message: &Value) -> reqwest::Response {
    app.request(Method::POST, "/support/messages", Some(message)).await
}

/// The merchant's inbox (`GET /admin/support/messages`), newest first, every page.
async fn inbox_messages(app: &TestApp) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut path = "/admin/support/messages?limit=100".to_owned();
    loop {
        let page = expect_json(app.admin(Method::GET, &path, &json!({})).await, 200).await;
        messages.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/support/messages?limit=100&cursor={cursor}"),
            None => return messages,
        }
    }
}

fn only_mail(mut mails: Vec<Value>, what: &str) -> Value {
    assert_eq!(mails.len(), 1, "{what}: {mails:#?}");
    mails.remove(0)
}

#[tokio::test]
async fn a_message_with_its_orders_token_reaches_the_merchant_with_the_order_and_replies_go_to_the_customer() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let customer = email();
    let (order, sku) = app.pending_order(&customer, 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let sent = json!({
        "email": customer, "order_id": order_id, "order_token": order["order_token"],
        "subject": "Change of address", "body": "Hello,\r\nplease send it to my office instead.\r\nAda",
    });
    let received = expect_json(write(&app, &sent).await, 201).await;
    let reference = received["reference"].as_str().unwrap();
    assert!(reference.starts_with("SUP-"), "{received}");
    assert_eq!(received["order_linked"], true);

    let merchant = only_mail(inbox.wait_for(MERCHANT, reference, 1).await, "merchant mail");
    assert_eq!(merchant["subject"], format!("Support {reference}: Change of address"));
    assert_eq!(
        merchant["replyTo"],
        json!([customer]),
        "the merchant answers by replying"
    );
    let text = merchant["body"]["text"].as_str().unwrap();
    assert!(text.contains("please send it to my office instead."), "{text}");
    assert!(text.contains(&format!("Order {order_id} (pending_payment)")), "{text}");
    assert!(text.contains(&sku) && text.contains("token was checked"), "{text}");

    let ack = only_mail(inbox.wait_for(&customer, reference, 1).await, "acknowledgement");
    let text = ack["body"]["text"].as_str().unwrap();
    assert!(text.contains(reference), "{text}");
    assert!(
        !text.contains("office"),
        "the acknowledgement repeats nothing of the message: {text}"
    );

    let stored = inbox_messages(&app).await;
    let stored = stored
        .iter()
        .find(|m| m["reference"] == reference)
        .expect("in the inbox");
    assert_eq!(stored["email"], customer);
    assert_eq!(stored["order_id"], order_id);
    assert_eq!(stored["body"], "Hello,\nplease send it to my office instead.\nAda");
    // Time is RFC 3339 in every answer, as the API writes it when the message was received.
    assert_eq!(stored["received_at"], received["received_at"]);
    assert!(
        stored["received_at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{stored}"
    );
}

#[tokio::test]
async fn the_acknowledgement_carries_the_reference_and_no_word_the_caller_wrote() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    // Whoever fills the form chooses the address the acknowledgement goes to, so it must not
    // carry their words there: a subject and body as a spammer would write them.
    let target = email();
    let subject = "Congratulations winner, claim the prize";
    let body = "Dear friend, visit https://prize.example/claim?id=7 today and enter the password.\nRegards, Lottery";
    let sent = json!({"email": target, "subject": subject, "body": body});
    let received = expect_json(write(&app, &sent).await, 201).await;
    let reference = received["reference"].as_str().unwrap();

    let ack = only_mail(inbox.wait_for(&target, reference, 1).await, "acknowledgement");
    let subject_line = ack["subject"].as_str().unwrap();
    let (text, html) = (
        ack["body"]["text"].as_str().unwrap(),
        ack["body"]["html"].as_str().unwrap(),
    );
    assert!(text.contains(reference) && html.contains(reference), "{text}");
    let words = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| word.len() >= 4)
            .map(str::to_lowercase)
            .collect()
    };
    let theirs = words(&format!("{subject} {body}"));
    for part in [subject_line, text, html] {
        let relayed: Vec<String> = words(part).intersection(&theirs).cloned().collect();
        assert!(relayed.is_empty(), "{relayed:?} relayed in {part}");
    }
    assert!(shop_tests::in_the_shops_layout(html));

    // The merchant's copy still has all of it.
    let merchant = only_mail(inbox.wait_for(MERCHANT, reference, 1).await, "merchant mail");
    let text = merchant["body"]["text"].as_str().unwrap();
    assert!(
        text.contains(subject) && text.contains("https://prize.example/claim?id=7"),
        "{text}"
    );
}

#[tokio::test]
async fn another_orders_id_without_its_token_brings_none_of_that_orders_facts() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let (victim, mallory) = (email(), email());
    let (theirs, sku) = app.pending_order(&victim, 5, 1).await;
    let (mine, _) = app.pending_order(&mallory, 5, 1).await;
    let their_id = theirs["order_id"].as_str().unwrap();
    for token in [Some(mine["order_token"].clone()), Some(json!("forged")), None] {
        let mut sent = json!({
            "email": mallory, "order_id": their_id,
            "subject": "My order", "body": "What did I buy?",
        });
        if let Some(token) = token {
            sent["order_token"] = token;
        }
        let received = expect_json(write(&app, &sent).await, 201).await;
        assert_eq!(received["order_linked"], false);
        let reference = received["reference"].as_str().unwrap();
        let merchant = only_mail(inbox.wait_for(MERCHANT, reference, 1).await, "merchant mail");
        let text = merchant["body"]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("named order {their_id}, not verified")),
            "{text}"
        );
        assert!(!text.contains(&victim) && !text.contains(&sku), "{text}");
    }
    assert!(
        inbox.mails_to(&victim).await.is_empty(),
        "the order's owner is not written to"
    );
}

#[tokio::test]
async fn a_bad_message_is_refused_field_by_field_and_nothing_is_stored_or_sent() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let customer = email();
    let sent = json!({
        "email": customer, "subject": "Hi\r\nBcc: everyone@example.com", "body": "",
    });
    let refused = problem(write(&app, &sent).await, 422).await;
    assert_eq!(refused_fields(&refused), ["subject", "body"]);
    let unknown_field = json!({"email": customer, "subject": "s", "body": "b", "cc": "x@example.com"});
    problem(write(&app, &unknown_field).await, 422).await;
    let bad_address = json!({"email": "ada@example.com\r\nBcc: x@example.com", "subject": "s", "body": "b"});
    problem(write(&app, &bad_address).await, 422).await;

    assert!(
        inbox_messages(&app).await.iter().all(|m| m["email"] != customer),
        "nothing stored"
    );
    assert!(inbox.mails_to(&customer).await.is_empty(), "nothing sent");
}

#[tokio::test]
async fn an_address_may_write_its_hourly_limit_and_is_told_when_to_come_back() {
    let (app, _) = TestApp::from_own_address();
    let per_email = limit("SupportMessagesPerEmailHour", 5);
    let customer = email();
    let message = json!({"email": customer, "subject": "Hello", "body": "Is anyone there?"});
    for _ in 0..per_email {
        expect_json(write(&app, &message).await, 201).await;
    }
    let limited = write(&app, &message).await;
    assert_eq!(limited.status(), 429);
    let retry_after: i64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let body = problem(limited, 429).await;
    assert_eq!(body["code"], "rate_limited");

    let stored = inbox_messages(&app).await;
    assert_eq!(
        stored.iter().filter(|m| m["email"] == customer).count(),
        per_email,
        "the refused message is not stored"
    );
    // The limit is the address's: another address from the same network still writes.
    let other = json!({"email": email(), "subject": "Hello", "body": "Me too."});
    expect_json(write(&app, &other).await, 201).await;
}

#[tokio::test]
async fn tags_of_one_address_share_its_hourly_limit() {
    let (app, _) = TestApp::from_own_address();
    let mailbox = unique("tagged");
    let message =
        |tag: usize| json!({"email": format!("{mailbox}+{tag}@example.com"), "subject": "Hello", "body": "Anyone?"});
    let per_email = limit("SupportMessagesPerEmailHour", 5);
    for tag in 0..per_email {
        expect_json(write(&app, &message(tag)).await, 201).await;
    }
    let limited = problem(write(&app, &message(per_email)).await, 429).await;
    assert!(
        limited["detail"].as_str().unwrap().contains("this address"),
        "{limited}"
    );
    let untagged = json!({"email": format!("{mailbox}@example.com"), "subject": "Hello", "body": "Anyone?"});
    assert_eq!(write(&app, &untagged).await.status(), 429);
}

#[tokio::test]
async fn a_source_may_write_its_hourly_limit_whatever_addresses_it_uses() {
    let (app, source) = TestApp::from_own_address();
    let message = |email: String| json!({"email": email, "subject": "Win a prize", "body": "Click here."});
    for _ in 0..limit("SupportMessagesPerSourceHour", 20) {
        expect_json(write(&app, &message(email())).await, 201).await;
    }
    let limited = problem(write(&app, &message(email())).await, 429).await;
    assert!(
        limited["detail"].as_str().unwrap().contains("this network"),
        "{limited} from {source}"
    );
    // Another source is not held back by this one.
    let (elsewhere, _) = TestApp::from_own_address();
    expect_json(write(&elsewhere, &message(email())).await, 201).await;
}
