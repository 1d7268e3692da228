//! Marketing mail with consent, end to end on the local stack: double opt-in through the link
//! in the mail, campaigns that reach each confirmed subscriber once with their own one-click
//! unsubscribe headers, suppression of addresses that left, bounced or complained, and a
//! large fan-out in batches of fifty.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use serde_json::{Value, json};
use shop_domain::marketing::{CONSENT_WORDING, SubscriberStatus};
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::Env;
use shop_platform::messages::CampaignMessage;
use shop_store::marketing::MarketingStore;
use shop_tests::{
    Inbox, Metrics, QUEUE_DEADLINE, TestApp, consent_pages_url, expect_json, hosted_env, in_the_shops_layout, problem,
    storefront_url, unique,
};
use std::time::{Duration, Instant};

const CONFIRM_SUBJECT: &str = "Please confirm your subscription";

async fn store() -> MarketingStore {
    let (env, sdk) = hosted_env("email-campaign").await;
    MarketingStore::new(aws_sdk_dynamodb::Client::new(&sdk), env["SHOP_TABLE"].clone())
}

/// The token of `email`'s unsubscribe links, made with the campaign function's key.
async fn unsubscribe_token(email: &str) -> String {
    let (env, _) = hosted_env("email-campaign").await;
    let key = shop_platform::keys::ShopKey::from_env(&shop_platform::config::Env::from_map(env)).unwrap();
    shop_store::marketing::unsubscribe_token_with(&key, email)
}

/// The value of `?token=` in the first link of `text` that contains `path`.
fn token_after(text: &str, path: &str) -> String {
    let start = text.find(path).unwrap_or_else(|| panic!("no {path} link in {text}")) + path.len();
    text[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A header of a mail in the local inbox (`headers: [{name, value}]`).
fn header<'a>(mail: &'a Value, name: &str) -> Option<&'a str> {
    mail["headers"]
        .as_array()?
        .iter()
        .find(|h| h["name"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))?["value"]
        .as_str()
}

async fn sign_up(app: &TestApp, email: &str, source: &str) {
    let response = app
        .request(
            Method::POST,
            "/subscribers",
            Some(&json!({"email": email, "source": source})),
        )
        .await;
    assert_eq!(response.status(), 202, "sign-up of {email}");
}

/// Signs `email` up and follows the link in the confirmation mail.
async fn subscribe(app: &TestApp, inbox: &Inbox, email: &str, source: &str) {
    sign_up(app, email, source).await;
    let mails = inbox.wait_for(email, CONFIRM_SUBJECT, 1).await;
    let text = mails
        .first()
        .and_then(|m| m["body"]["text"].as_str())
        .expect("a confirmation mail");
    let token = token_after(text, "/subscribers/confirm?token=");
    let page = app.get(&format!("/subscribers/confirm?token={token}")).await;
    assert_eq!(page.status(), 200, "confirming {email}");
}

/// Imports `emails` as confirmed subscribers of `source` through the merchant's route, 1,000 to
/// a call.
async fn import(app: &TestApp, source: &str, emails: &[String]) {
    let now = SystemClock.now();
    for chunk in emails.chunks(1000) {
        let rows: Vec<Value> = chunk
            .iter()
            .map(|e| json!({"email": e, "consented_at": now - 86_400}))
            .collect();
        let body = json!({"source": source, "subscribers": rows});
        let report = expect_json(app.admin(Method::POST, "/admin/subscribers/import", &body).await, 200).await;
        assert_eq!(report["imported"], json!(chunk.len()), "{report}");
    }
}

async fn create_campaign(app: &TestApp, subject: &str, audience: Value) -> String {
    let body = json!({
        "name": format!("test {subject}"),
        "subject": subject,
        "html": "<p>Hello {{email}}</p>",
        "text": "Hello {{email}}",
        "audience": audience,
    });
    let campaign = expect_json(app.admin(Method::POST, "/admin/campaigns", &body).await, 201).await;
    assert_eq!(campaign["status"], "draft");
    campaign["campaign_id"].as_str().expect("campaign_id").to_owned()
}

async fn campaign(app: &TestApp, id: &str) -> Value {
    expect_json(
        app.admin(Method::GET, &format!("/admin/campaigns/{id}"), &json!({}))
            .await,
        200,
    )
    .await
}

/// Presses send and waits until every recipient is accounted for, or `deadline`.
async fn send_and_wait(app: &TestApp, id: &str, deadline: Duration) -> Value {
    let path = format!("/admin/campaigns/{id}/send");
    let answer = expect_json(app.admin(Method::POST, &path, &json!({})).await, 202).await;
    assert_eq!(answer["campaign_id"], id);
    let until = Instant::now() + deadline;
    loop {
        let campaign = campaign(app, id).await;
        if campaign["status"] == "sent" || Instant::now() > until {
            return campaign;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn double_opt_in_records_consent_only_when_the_mailed_link_is_followed() {
    let (app, inbox, store) = (TestApp::new(), Inbox::new(), store().await);
    let email = format!("{}@example.com", unique("optin"));
    sign_up(&app, &email, "footer").await;
    let mails = inbox.wait_for(&email, CONFIRM_SUBJECT, 1).await;
    assert_eq!(mails.len(), 1, "one confirmation mail");
    let pending = store.subscriber(&email).await.unwrap().expect("stored at once");
    assert_eq!(pending.status, SubscriberStatus::Pending);
    assert_eq!(pending.consented_at, None);

    let text = mails[0]["body"]["text"].as_str().expect("a text body");
    let html = mails[0]["body"]["html"].as_str().expect("an HTML body");
    assert!(
        in_the_shops_layout(html),
        "the opt-in mail has the shop's layout: {html}"
    );
    assert!(text.starts_with(&format!("{}\n\n", shop_tests::store_name())), "{text}");
    // The link opens the bundled storefront's page (the API's with a storefront of one's own).
    let pages = consent_pages_url(&app.api);
    let token = token_after(text, "/subscribers/confirm?token=");
    let link = format!("{pages}/subscribers/confirm?token={token}");
    assert!(text.contains(&format!("\n{link}\n")), "{link} in {text}");
    // The API's own page, for a merchant's storefront: the consent is recorded there.
    let page = app.get(&format!("/subscribers/confirm?token={token}")).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(
        in_the_shops_layout(&page),
        "the confirm page has the shop's layout: {page}"
    );
    assert!(page.contains("You are subscribed") && page.contains(&email), "{page}");
    let confirmed = store.subscriber(&email).await.unwrap().unwrap();
    assert_eq!(confirmed.status, SubscriberStatus::Confirmed);
    assert!(confirmed.consented_at.is_some());
    assert_eq!(confirmed.consent_wording.as_deref(), Some(CONSENT_WORDING));
    assert_eq!(confirmed.source, "footer");
    // The link again, as mailed, is the same page; signing up again mails nothing more.
    let again = app.client.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 200, "{link}");
    let again = again.text().await.unwrap();
    assert!(
        again.contains("You are subscribed") && again.contains(&email),
        "{again}"
    );
    assert_eq!(
        app.get(&format!("/subscribers/confirm?token={token}")).await.status(),
        200
    );
    sign_up(&app, &email, "footer").await;

    // Tokens nobody was given, and bad input, are clear errors.
    let unknown = app.get(&format!("/subscribers/confirm?token={}", "A".repeat(43))).await;
    assert_eq!(problem(unknown, 404).await["code"], "not_found");
    assert_eq!(app.get("/subscribers/confirm").await.status(), 404);
    let refused = app
        .request(
            Method::POST,
            "/subscribers",
            Some(&json!({"email": "not-an-address", "source": "a b"})),
        )
        .await;
    let refused = problem(refused, 422).await;
    assert_eq!(shop_tests::refused_fields(&refused), ["email", "source"]);

    // The second sign-up was handled (the queue drained to it) and mailed nothing.
    let other = format!("{}@example.com", unique("optin-later"));
    sign_up(&app, &other, "footer").await;
    inbox.wait_for(&other, CONFIRM_SUBJECT, 1).await;
    assert_eq!(inbox.wait_for(&email, CONFIRM_SUBJECT, 1).await.len(), 1);
}

#[tokio::test]
async fn an_expired_confirmation_link_is_a_readable_page_on_the_storefront_that_offers_a_new_one() {
    let (app, inbox, store) = (TestApp::new(), Inbox::new(), store().await);
    let email = format!("{}@example.com", unique("late"));
    sign_up(&app, &email, "footer").await;
    let mails = inbox.wait_for(&email, CONFIRM_SUBJECT, 1).await;
    let text = mails[0]["body"]["text"].as_str().expect("a text body");
    let token = token_after(text, "/subscribers/confirm?token=");
    // The link's hold ran out (as after CONFIRM_HOURS): its record's expiry is in the past.
    let (env, sdk) = hosted_env("email-campaign").await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(&env["SHOP_TABLE"])
        .key(
            "pk",
            AttributeValue::S(format!(
                "SUBSCRIBE_TOKEN#{}",
                shop_platform::secrets::token_hash(&token)
            )),
        )
        .key("sk", AttributeValue::S("TOKEN".into()))
        .update_expression("SET expires_at = :past")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":past", AttributeValue::N((SystemClock.now() - 1).to_string()))
        .send()
        .await
        .expect("the link's record");

    let page = app
        .client
        .get(format!("{}/subscribers/confirm?token={token}", storefront_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);
    let page = page.text().await.unwrap();
    assert!(page.contains("<h1>This link has expired</h1>"), "{page}");
    assert!(
        page.contains(r#"<header class="top">"#),
        "the storefront's layout: {page}"
    );
    assert!(
        page.contains(r#"action="/newsletter""#) && page.contains(">Subscribe</button>"),
        "a new sign-up is one press away: {page}"
    );
    let api = app.get(&format!("/subscribers/confirm?token={token}")).await;
    assert_eq!(problem(api, 410).await["code"], "confirmation_expired");
    let pending = store.subscriber(&email).await.unwrap().expect("the sign-up");
    assert_eq!(
        pending.status,
        SubscriberStatus::Pending,
        "no consent from an expired link"
    );
}

#[tokio::test]
async fn a_campaign_reaches_each_confirmed_subscriber_once_with_their_own_one_click_unsubscribe() {
    let (app, inbox, store) = (TestApp::new(), Inbox::new(), store().await);
    let source = &unique("six");
    let confirmed: Vec<String> = (0..6)
        .map(|i| format!("{}-{i}@example.com", unique("reader")))
        .collect();
    let pending = format!("{}@example.com", unique("pending"));
    let leaver = format!("{}@example.com", unique("leaver"));
    futures::future::join_all(
        confirmed
            .iter()
            .chain([&leaver])
            .map(|email| subscribe(&app, &inbox, email, source)),
    )
    .await;
    sign_up(&app, &pending, source).await;
    inbox.wait_for(&pending, CONFIRM_SUBJECT, 1).await;
    let leaver_token = unsubscribe_token(&leaver).await;
    let left = app
        .client
        .post(format!("{}/unsubscribe?token={leaver_token}", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);

    let subject = unique("Spring news");
    let id = create_campaign(&app, &subject, json!({"source": source})).await;
    let sent = send_and_wait(&app, &id, QUEUE_DEADLINE).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(
        (&sent["recipients"], &sent["sent"], &sent["suppressed"], &sent["failed"]),
        (&json!(7), &json!(6), &json!(1), &json!(0)),
        "{sent}"
    );
    // The campaign's progress in the shop's metrics: the mails of each batch, emitted just after
    // the batch's count (which the status above reads).
    let (metrics, deadline) = (Metrics::new(), Instant::now() + QUEUE_DEADLINE);
    let progress = || {
        let batches = metrics.emitted("CampaignMailsSent", "campaign_id", &id);
        let sum = |metric: &str| batches.iter().filter_map(|batch| batch[metric].as_i64()).sum::<i64>();
        (sum("CampaignMailsSent"), sum("CampaignMailsFailed"))
    };
    while progress() != (6, 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress(), (6, 0));
    let mut unsubscribe_urls = Vec::new();
    for email in &confirmed {
        let mails = inbox.wait_for(email, &subject, 1).await;
        assert_eq!(mails.len(), 1, "{email} gets the campaign once");
        assert!(
            mails[0]["body"]["text"]
                .as_str()
                .unwrap()
                .contains(&format!("Hello {email}"))
        );
        let html = mails[0]["body"]["html"].as_str().unwrap();
        assert!(in_the_shops_layout(html), "the campaign has the shop's layout: {html}");
        let list_unsubscribe = header(&mails[0], "List-Unsubscribe").expect("List-Unsubscribe");
        assert_eq!(
            header(&mails[0], "List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let url = list_unsubscribe
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        let token = unsubscribe_token(email).await;
        // Mail clients post the one click to the API (no storefront CSRF token there).
        assert_eq!(
            url,
            format!("{}/unsubscribe?token={token}", app.api.trim_end_matches('/')),
            "{email}'s own, at the API"
        );
        let stored = format!("{:?}", store.subscriber(email).await.unwrap());
        assert!(!stored.contains(&token), "the token is not kept: {stored}");
        // The footer's link, with the same token, opens the unsubscribe page of the bundled
        // storefront (SES fills the template's field as it is).
        let page = format!("{}/unsubscribe?token={token}", consent_pages_url(&app.api));
        assert!(html.contains(&format!("href=\"{page}\"")), "{page} in {html}");
        unsubscribe_urls.push(url);
    }
    for email in [&pending, &leaver] {
        assert!(
            inbox
                .mails_to(email)
                .await
                .iter()
                .all(|m| m["subject"] != subject.as_str())
        );
    }

    // Send pressed again, and a batch delivered again, send nothing more.
    expect_json(
        app.admin(Method::POST, &format!("/admin/campaigns/{id}/send"), &json!({}))
            .await,
        202,
    )
    .await;
    let (env, sdk) = hosted_env("email-campaign").await;
    let consumer = email_campaign::EmailCampaign::from_env(&Env::from_map(env), &sdk).unwrap();
    let mut again = SqsMessage::default();
    again.message_id = Some(unique("redelivered"));
    again.body = Some(
        serde_json::to_string(&CampaignMessage::Deliver {
            campaign_id: id.clone(),
            attempt: 1,
            // The audience's batch as the fan-out queued it (the pending address is not in it).
            recipients: confirmed.iter().chain([&leaver]).cloned().collect(),
        })
        .unwrap(),
    );
    let mut event = SqsEvent::default();
    event.records = vec![again];
    assert!(consumer.handle_batch(event).await.batch_item_failures.is_empty());
    let after = campaign(&app, &id).await;
    assert_eq!(
        (&after["sent"], &after["suppressed"]),
        (&json!(6), &json!(1)),
        "{after}"
    );
    for email in &confirmed {
        let mails = inbox.mails_to(email).await;
        assert_eq!(mails.iter().filter(|m| m["subject"] == subject.as_str()).count(), 1);
    }

    // One click (RFC 8058) from the first mail's header: unsubscribed, and again is the same.
    let page = app.client.get(&unsubscribe_urls[0]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("List-Unsubscribe"), "the page has the one-click form");
    assert!(
        in_the_shops_layout(&page),
        "the unsubscribe page has the shop's layout: {page}"
    );
    for _ in 0..2 {
        let response = app
            .client
            .post(&unsubscribe_urls[0])
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let without_body = app.client.post(&unsubscribe_urls[0]).send().await.unwrap();
    assert_eq!(problem(without_body, 400).await["code"], "one_click_required");
    let status = store.subscriber(&confirmed[0]).await.unwrap().unwrap().status;
    assert_eq!(status, SubscriberStatus::Unsubscribed);

    // The next campaign to the same audience leaves both leavers out.
    let subject = unique("Summer news");
    let next = create_campaign(&app, &subject, json!({"source": source})).await;
    let sent = send_and_wait(&app, &next, QUEUE_DEADLINE).await;
    assert_eq!((&sent["sent"], &sent["suppressed"]), (&json!(5), &json!(2)), "{sent}");
    assert!(
        inbox
            .mails_to(&confirmed[0])
            .await
            .iter()
            .all(|m| m["subject"] != subject.as_str())
    );
}

#[tokio::test]
async fn a_bounce_puts_the_address_on_the_suppression_list() {
    let (app, inbox, store) = (TestApp::new(), Inbox::new(), store().await);
    let source = format!("bounce{}", std::process::id());
    let email = format!("{}@example.com", unique("bouncy"));
    subscribe(&app, &inbox, &email, &source).await;

    // What SES publishes to the configuration set's topic, delivered raw to the queue.
    let sample: Value = serde_json::from_str(include_str!("../../events/email-campaign/ses-bounce.json")).unwrap();
    let mut event: Value = serde_json::from_str(sample["Records"][0]["body"].as_str().unwrap()).unwrap();
    event["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!(email);
    let message_id = unique("bounced-mail");
    event["mail"]["messageId"] = json!(message_id);
    let (env, sdk) = hosted_env("email-campaign").await;
    let queue = shop_local::template::Template::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../template.yaml"
    )))
    .unwrap();
    let context = shop_local::bootstrap::create_resources(&queue, &env["SHOP_RESOURCE_PREFIX"], &sdk)
        .await
        .unwrap();
    let events_queue = context.refs["MailEventsQueue"].clone();
    aws_sdk_sqs::Client::new(&sdk)
        .send_message()
        .queue_url(events_queue)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + QUEUE_DEADLINE;
    let mut status = SubscriberStatus::Confirmed;
    while status != SubscriberStatus::Bounced && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = store.subscriber(&email).await.unwrap().unwrap().status;
    }
    assert_eq!(status, SubscriberStatus::Bounced);
    // Counted for the Today page (after the address is suppressed, so it may come a moment later).
    let mut bounces = 0;
    while bounces == 0 && Instant::now() < deadline {
        let summary = expect_json(app.admin(Method::GET, "/admin/summary", &json!({})).await, 200).await;
        bounces = summary["mail_events"]["bounces"].as_u64().unwrap_or(0);
    }
    assert!(bounces >= 1, "the summary counts the bounce");
    // ... and in the shop's metrics, once.
    let metric = Metrics::new()
        .wait_for("MailBounces", "message_id", &message_id, 1)
        .await;
    assert_eq!(metric.len(), 1, "{metric:?}");

    let subject = unique("Bounced news");
    let id = create_campaign(&app, &subject, json!({"source": source})).await;
    let listed = expect_json(
        app.admin(Method::GET, "/admin/campaigns?limit=100", &json!({})).await,
        200,
    )
    .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["campaign_id"] == id.as_str()),
        "the new campaign is listed: {listed}"
    );
    // An import leaves an address it knows as it is: the bounced one stays suppressed.
    let again = json!({"source": source, "subscribers": [
        {"email": email, "consented_at": 1_700_000_000},
        {"email": "no-at-sign", "consented_at": 1_700_000_000},
        {"email": "later@example.com", "consented_at": shop_platform::clock::rfc3339(SystemClock.now() + 3600)},
    ]});
    let report = expect_json(app.admin(Method::POST, "/admin/subscribers/import", &again).await, 200).await;
    assert_eq!(
        (&report["imported"], &report["known"]),
        (&json!(0), &json!(1)),
        "{report}"
    );
    let refused: Vec<(&Value, &Value)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["index"], &e["field"]))
        .collect();
    assert_eq!(
        refused,
        [(&json!(1), &json!("email")), (&json!(2), &json!("consented_at"))]
    );
    let sent = send_and_wait(&app, &id, QUEUE_DEADLINE).await;
    assert_eq!((&sent["sent"], &sent["suppressed"]), (&json!(0), &json!(1)), "{sent}");
    assert!(
        inbox
            .mails_to(&email)
            .await
            .iter()
            .all(|m| m["subject"] != subject.as_str())
    );
}

#[tokio::test]
async fn a_recipient_ses_refuses_is_tried_again_a_bounded_number_of_times_then_counted_failed() {
    let (app, inbox) = (TestApp::new(), Inbox::new());
    let source = format!("refused{}", std::process::id());
    // SES takes 7-bit local parts only; the shop's own check lets this one through.
    let good = format!("{}@example.com", unique("good"));
    let refused = format!("zoë-{}@example.com", unique("accent"));
    import(&app, &source, &[good.clone(), refused.clone()]).await;

    let subject = unique("Refused news");
    let id = create_campaign(&app, &subject, json!({"source": source})).await;
    // Three attempts, `CampaignRetrySeconds` (1 s in tests) times the attempts made apart.
    let sent = send_and_wait(&app, &id, QUEUE_DEADLINE).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(
        (&sent["recipients"], &sent["sent"], &sent["failed"]),
        (&json!(2), &json!(1), &json!(1)),
        "{sent}"
    );
    assert_eq!(sent["ses_calls"], json!(3), "one call, then one per retry: {sent}");
    assert_eq!(inbox.wait_for(&good, &subject, 1).await.len(), 1);
}

#[tokio::test]
async fn a_large_campaign_goes_out_in_one_bulk_call_per_fifty_recipients() {
    // 10,000 addresses: 10 audience pages, 200 batches (SHOP_TEST_CAMPAIGN_RECIPIENTS sets
    // another number).
    let recipients: usize = std::env::var("SHOP_TEST_CAMPAIGN_RECIPIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let app = TestApp::new();
    let source = format!("tenk{}", std::process::id());
    let run = unique("tenk");
    let started = SystemClock.now();
    let emails: Vec<String> = (0..recipients).map(|i| format!("{run}-{i:05}@example.com")).collect();
    import(&app, &source, &emails).await;

    let subject = unique("Ten thousand");
    let id = create_campaign(&app, &subject, json!({"source": source})).await;
    let sent = send_and_wait(&app, &id, Duration::from_secs(recipients as u64 / 10 + 60)).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["recipients"], json!(recipients), "{sent}");
    assert_eq!(sent["sent"], json!(recipients), "{sent}");
    let calls = sent["ses_calls"].as_u64().unwrap();
    assert!(
        calls as usize <= recipients.div_ceil(50),
        "{calls} SES calls for {recipients} recipients"
    );

    // The local SES holds every one of them.
    let inbox_url = std::env::var("SHOP_SES_INBOX_URL").unwrap();
    let store: Value = app
        .client
        .get(format!("{inbox_url}/store?since={started}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivered = store["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subject"] == subject.as_str())
        .count();
    assert_eq!(delivered, recipients);
}

#[tokio::test]
async fn the_subscriber_counts_name_every_address_of_a_source_by_where_it_stands() {
    let (app, inbox, store) = (TestApp::new(), Inbox::new(), store().await);
    let source = unique("counted");
    let address = |name: &str| format!("{}@example.com", unique(name));
    let (stays, leaves, pending, bounces) = (
        address("stays"),
        address("leaves"),
        address("pending"),
        address("bounces"),
    );
    import(&app, &source, &[stays.clone(), leaves.clone()]).await;
    let token = unsubscribe_token(&leaves).await;
    let left = app
        .client
        .post(format!("{}/unsubscribe?token={token}", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    for email in [&pending, &bounces] {
        sign_up(&app, email, &source).await;
        inbox.wait_for(email, CONFIRM_SUBJECT, 1).await;
    }
    store
        .leave(&bounces, SubscriberStatus::Bounced, SystemClock.now())
        .await
        .unwrap();

    let counts = expect_json(
        app.admin(Method::GET, "/admin/subscribers/counts", &json!({})).await,
        200,
    )
    .await;
    assert_eq!(counts["complete"], true, "{counts}");
    assert_eq!(
        counts["by_source"][&source],
        json!({"pending": 1, "confirmed": 1, "unsubscribed": 1, "bounced": 1}),
        "{counts}"
    );
    for status in ["pending", "confirmed", "unsubscribed", "bounced"] {
        assert!(counts["by_status"][status].as_u64() >= Some(1), "{status}: {counts}");
    }
    let by_status: u64 = counts["by_status"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(Some(by_status), counts["total"].as_u64(), "{counts}");
}

#[tokio::test]
async fn a_preview_is_the_mail_a_reader_gets_with_their_fields_filled_and_nothing_is_stored() {
    let app = TestApp::new();
    let name = unique("previewed");
    let draft = json!({
        "name": name,
        "subject": "Spring for {{email}}",
        "html": "<p>Hello <b>{{email}}</b>, spring is here</p>",
        "text": "Hello {{ email }}, spring is here",
        "audience": "subscribers",
    });
    let preview = expect_json(app.admin(Method::POST, "/admin/campaigns/preview", &draft).await, 200).await;
    let reader = preview["reader"].as_str().expect("the sample reader");
    assert_eq!(preview["subject"], format!("Spring for {reader}"));
    let html = preview["html"].as_str().unwrap();
    assert!(in_the_shops_layout(html), "{html}");
    assert!(
        html.contains(&format!("<p>Hello <b>{reader}</b>, spring is here</p>")),
        "{html}"
    );
    assert!(
        html.contains("unsubscribe?token=preview") && !html.contains("{{"),
        "the footer's link filled: {html}"
    );
    let text = preview["text"].as_str().unwrap();
    assert!(text.contains(&format!("Hello {reader}, spring is here")), "{text}");
    assert!(text.contains("Unsubscribe: ") && !text.contains("{{"), "{text}");

    let refused = app
        .admin(
            Method::POST,
            "/admin/campaigns/preview",
            &json!({"name": name, "subject": "", "html": "<p>x</p>", "text": "x", "audience": "subscribers"}),
        )
        .await;
    let problem = problem(refused, 422).await;
    assert!(problem.to_string().contains("subject"), "{problem}");

    let listed = expect_json(
        app.admin(Method::GET, "/admin/campaigns?limit=100", &json!({})).await,
        200,
    )
    .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != name.as_str()),
        "a preview creates no campaign: {listed}"
    );
}

/// A clock stopped at one instant.
struct StoppedAt(i64);

impl Clock for StoppedAt {
    fn now(&self) -> i64 {
        self.0
    }
}

#[tokio::test]
async fn a_bounce_and_a_complaint_delivered_again_and_again_count_once_each_on_their_day() {
    let (env, sdk) = hosted_env("email-campaign").await;
    let counts =
        shop_store::mail_events::MailEventStore::new(aws_sdk_dynamodb::Client::new(&sdk), env["SHOP_TABLE"].clone());
    // A day of its own (2001-09-09, UTC), which no other test counts on.
    let day = 1_000_000_000;
    let consumer = email_campaign::EmailCampaign::from_env(&Env::from_map(env), &sdk)
        .unwrap()
        .with_clock(std::sync::Arc::new(StoppedAt(day)));
    let before = counts.last_days(day, 1).await.unwrap();
    let sample = |file: &str| -> Value {
        let event: Value = serde_json::from_str(file).unwrap();
        serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap()
    };
    let mut bounce = sample(include_str!("../../events/email-campaign/ses-bounce.json"));
    bounce["mail"]["messageId"] = json!(unique("bounced-mail"));
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!(format!("{}@example.com", unique("gone")));
    let mut complaint = sample(include_str!("../../events/email-campaign/ses-complaint.json"));
    complaint["mail"]["messageId"] = json!(unique("complained-mail"));
    complaint["complaint"]["complainedRecipients"][0]["emailAddress"] =
        json!(format!("{}@example.com", unique("annoyed")));
    let delivery = |body: &Value| {
        let mut message = SqsMessage::default();
        message.message_id = Some(unique("ses-event"));
        message.body = Some(body.to_string());
        message
    };
    // Each delivered twice in one batch (handled at once), then once more on its own.
    let mut batch = SqsEvent::default();
    batch.records = vec![
        delivery(&bounce),
        delivery(&complaint),
        delivery(&bounce),
        delivery(&complaint),
    ];
    assert!(consumer.handle_batch(batch).await.batch_item_failures.is_empty());
    let mut again = SqsEvent::default();
    again.records = vec![delivery(&bounce), delivery(&complaint)];
    assert!(consumer.handle_batch(again).await.batch_item_failures.is_empty());

    let after = counts.last_days(day, 1).await.unwrap();
    assert_eq!(after.since, "2001-09-09");
    assert_eq!(
        (after.bounces - before.bounces, after.complaints - before.complaints),
        (1, 1),
        "{before:?} → {after:?}"
    );
}
