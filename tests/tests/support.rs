//! Messages to support through the gateway: the merchant's mail with the order's facts only when
//! the order's own token came with it, replies going to the customer, the customer's
//! acknowledgement with a reference, the merchant's inbox, refusals, and the hourly limits per
//! address and per source (each test writes from a loopback address of its own); the merchant's
//! replies (kept on the thread, mailed to the writer once each) and marking a message answered.

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

/// A message to support from a fresh address, stored: its reference and the writer's address.
async fn a_message(app: &TestApp, subject: &str) -> (String, String) {
    let customer = email();
    let sent = json!({"email": customer, "subject": subject, "body": "The handle came off my mug."});
    let received = expect_json(write(app, &sent).await, 201).await;
    (received["reference"].as_str().unwrap().to_owned(), customer)
}

/// The references on every page of `GET /admin/support/messages?state=unanswered`.
async fn unanswered(app: &TestApp) -> Vec<String> {
    let mut references = Vec::new();
    let mut path = "/admin/support/messages?state=unanswered&limit=100".to_owned();
    loop {
        let page = expect_json(app.admin(Method::GET, &path, &json!({})).await, 200).await;
        for item in page["items"].as_array().into_iter().flatten() {
            references.push(item["reference"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/support/messages?state=unanswered&limit=100&cursor={cursor}"),
            None => return references,
        }
    }
}

#[tokio::test]
async fn a_reply_is_kept_on_the_thread_and_mailed_to_the_writer_once_with_replies_coming_back_to_the_shop() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let (reference, customer) = a_message(&app, "Broken handle").await;
    let path = format!("/admin/support/messages/{reference}/replies");
    let text = "Sorry about that!\nA new mug left today.";
    let reply = expect_json(
        app.admin(Method::POST, &path, &json!({"body": text, "by": "ada@shop.example"}))
            .await,
        201,
    )
    .await;
    assert_eq!(reply["reply_id"], format!("{reference}-1"));
    assert_eq!(reply["by"], "ada@shop.example");
    assert!(reply["sent_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{reply}");

    let mail = only_mail(
        inbox.wait_for(&customer, "a reply to your message", 1).await,
        "reply mail",
    );
    assert!(mail["subject"].as_str().unwrap().contains(&reference), "{mail}");
    assert_eq!(mail["replyTo"], json!([MERCHANT]), "the customer answers the shop");
    let body = mail["body"]["text"].as_str().unwrap();
    assert!(body.contains(text), "{body}");
    assert!(
        !body.contains("handle came off"),
        "the reply repeats nothing of the message: {body}"
    );
    assert!(shop_tests::in_the_shops_layout(mail["body"]["html"].as_str().unwrap()));

    // The same request again (SQS delivers at least once) sends nothing more.
    let (vars, sdk) = shop_tests::hosted_env("email-sender").await;
    let sender = email_sender::EmailSender::from_env(&shop_platform::config::Env::from_map(vars), &sdk).unwrap();
    let mut again = aws_lambda_events::event::sqs::SqsMessage::default();
    again.message_id = Some("again".into());
    again.body = Some(json!({"kind": "support_reply", "reference": reply["reply_id"]}).to_string());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![again];
    assert!(sender.handle_batch(event).await.batch_item_failures.is_empty());
    assert_eq!(
        inbox.wait_for(&customer, "a reply to your message", 1).await.len(),
        1,
        "one mail per reply"
    );

    let second = expect_json(
        app.admin(Method::POST, &path, &json!({"body": "Did it arrive?"})).await,
        201,
    )
    .await;
    assert_eq!(second["reply_id"], format!("{reference}-2"));
    assert_eq!(
        second["by"], "admin API",
        "a script's reply is written down as the API's"
    );
    let thread = expect_json(
        app.admin(Method::GET, &format!("/admin/support/messages/{reference}"), &json!({}))
            .await,
        200,
    )
    .await;
    let replies: Vec<&str> = thread["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(replies, [text, "Did it arrive?"]);
    assert_eq!(inbox.wait_for(&customer, "a reply to your message", 2).await.len(), 2);
}

#[tokio::test]
async fn marking_a_message_answered_takes_it_out_of_the_unanswered_list_once() {
    let (app, _) = TestApp::from_own_address();
    let (reference, _) = a_message(&app, "Opening hours").await;
    assert!(
        unanswered(&app).await.contains(&reference),
        "a new message waits for an answer"
    );

    let path = format!("/admin/support/messages/{reference}/answered");
    let marked = expect_json(
        app.admin(Method::POST, &path, &json!({"by": "ada@shop.example"})).await,
        200,
    )
    .await;
    assert_eq!(marked["answered_by"], "ada@shop.example");
    let answered_at = marked["answered_at"].clone();
    assert!(answered_at.as_str().is_some_and(|at| at.ends_with('Z')), "{marked}");
    assert!(!unanswered(&app).await.contains(&reference));
    let listed = inbox_messages(&app).await;
    let listed = listed
        .iter()
        .find(|m| m["reference"] == reference.as_str())
        .expect("still in the inbox");
    assert_eq!(listed["answered_at"], answered_at);

    // Marking it again changes nothing: the first who marked it stays.
    let again = expect_json(
        app.admin(Method::POST, &path, &json!({"by": "bob@shop.example"})).await,
        200,
    )
    .await;
    assert_eq!(
        (&again["answered_by"], &again["answered_at"]),
        (&json!("ada@shop.example"), &answered_at)
    );
}

#[tokio::test]
async fn a_reply_without_words_or_to_no_message_is_refused_and_nothing_is_sent() {
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let (reference, customer) = a_message(&app, "Sizes").await;
    let path = format!("/admin/support/messages/{reference}/replies");
    let refused = problem(app.admin(Method::POST, &path, &json!({"body": "  \n "})).await, 422).await;
    assert_eq!(refused_fields(&refused), ["body"]);
    let refused = problem(
        app.admin(Method::POST, &path, &json!({"body": "Hi", "by": "a\r\nb"}))
            .await,
        422,
    )
    .await;
    assert_eq!(refused_fields(&refused), ["by"]);
    for (missing, body) in [
        ("/admin/support/messages/SUP-00000000/replies", json!({"body": "Hello"})),
        ("/admin/support/messages/SUP-00000000/answered", json!({})),
    ] {
        problem(app.admin(Method::POST, missing, &body).await, 404).await;
    }
    problem(
        app.admin(Method::GET, "/admin/support/messages/SUP-00000000", &json!({}))
            .await,
        404,
    )
    .await;
    problem(
        app.admin(Method::GET, "/admin/support/messages?state=maybe", &json!({}))
            .await,
        422,
    )
    .await;
    let thread = expect_json(
        app.admin(Method::GET, &format!("/admin/support/messages/{reference}"), &json!({}))
            .await,
        200,
    )
    .await;
    assert!(thread.get("replies").is_none(), "{thread}");
    // Only the acknowledgement went to the writer.
    let mails = inbox.wait_for(&customer, &reference, 1).await;
    assert!(
        mails
            .iter()
            .all(|m| m["subject"].as_str().is_some_and(|s| !s.contains("reply"))),
        "{mails:#?}"
    );
}
