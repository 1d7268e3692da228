//! What operations rely on. The business metrics, read as CloudWatch would read them: the
//! embedded metric format lines the hosted functions wrote to their log. An order's life counts
//! once per step however often a step is retried; refusals count by reason; a forged webhook
//! counts as a signature failure. Every metric is on the dashboard, and every alarm has its
//! section in the runbook. The repair tools (infra/ops) do what the runbook says they do.

use reqwest::Method;
use serde_json::{Value, json};
use shop_tests::{Metrics, TestApp, TestStripe, checkout_body, expect_json, problem, product, unique, unique_email};

/// The value of `metric` in `document`.
fn value(document: &Value, metric: &str) -> i64 {
    document[metric]
        .as_i64()
        .unwrap_or_else(|| panic!("{metric} has no value in {document}"))
}

/// The gateway's id of the request that got `response`.
fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("apigw-requestid")
        .and_then(|value| value.to_str().ok())
        .expect("the gateway names its request")
        .to_owned()
}

#[tokio::test]
async fn an_order_placed_paid_cancelled_and_refunded_counts_each_step_once_with_its_amount() {
    let (app, stripe, metrics) = (TestApp::new(), TestStripe::new(), Metrics::new());
    let (order, _) = app.pending_order(&unique_email("metrics"), 5, 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    let total = order["totals"]["total"]["amount"].as_i64().unwrap();

    let placed = metrics.emitted("OrdersPlaced", "order_id", order_id);
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(
        (value(&placed[0], "OrdersPlaced"), value(&placed[0], "PlacedValue")),
        (1, total)
    );
    assert_eq!(
        placed[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([[]]),
        "an order's metrics take no dimension"
    );

    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_visa").await.status(), 200);
    let paid = metrics.wait_for("OrdersPaid", "order_id", order_id, 1).await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(value(&paid[0], "PaidValue"), total);
    app.order_when(&order, |view| view["status"] == "fulfilling").await;

    let path = format!("/orders/{order_id}/cancel");
    let token = order["order_token"].as_str().unwrap();
    expect_json(app.cart_call(Method::POST, &path, token, None).await, 200).await;
    let cancelled = metrics.emitted("OrdersCancelled", "order_id", order_id);
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["reason"], "customer_refunded");
    let refunds = metrics.emitted("Refunds", "order_id", order_id);
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(value(&refunds[0], "RefundedValue"), total);

    // Stripe's charge.refunded moves the order on; cancelling again changes nothing and counts nothing.
    app.order_when(&order, |view| view["status"] == "refunded").await;
    expect_json(app.cart_call(Method::POST, &path, token, None).await, 200).await;
    assert_eq!(metrics.emitted("OrdersCancelled", "order_id", order_id).len(), 1);
    assert_eq!(metrics.emitted("Refunds", "order_id", order_id).len(), 1);
    assert_eq!(metrics.emitted("OrdersPaid", "order_id", order_id).len(), 1);

    // The order's mails, each counted as it went out (the queue sends them in any order).
    let owed = ["order_confirmation", "new_order", "cancelled", "refunded"];
    let kinds = || -> Vec<String> {
        let sent = metrics.emitted("MailsSent", "about", order_id);
        let mut kinds: Vec<String> = sent
            .iter()
            .filter_map(|mail| mail["kind"].as_str().map(str::to_owned))
            .collect();
        kinds.sort();
        kinds
    };
    let deadline = std::time::Instant::now() + shop_tests::QUEUE_DEADLINE;
    while kinds().len() < owed.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut expected = owed.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(kinds(), expected, "each of the order's mails counted once");
}

#[tokio::test]
async fn a_refused_checkout_counts_by_its_reason_and_short_stock_as_an_oversell_prevented() {
    let (app, metrics) = (TestApp::new(), Metrics::new());
    let (id, sku) = (unique("scarce"), unique("SKU"));
    let mut row = product(&id, &unique("cat"), "Scarce Thing", &[&sku]);
    row["variants"][0]["available"] = json!(1);
    app.import(vec![row]).await;

    let first = app.cart_with(&sku, 1).await;
    let second = app.cart_with(&sku, 1).await;
    expect_json(
        app.checkout(&unique("key"), &checkout_body(&first, &unique_email("first")))
            .await,
        201,
    )
    .await;
    let short = app
        .checkout(&unique("key"), &checkout_body(&second, &unique_email("second")))
        .await;
    let request = request_id(&short);
    assert_eq!(problem(short, 409).await["code"], "insufficient_stock");
    let refused = metrics.emitted("CheckoutRefusals", "request_id", &request);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["Reason"], "insufficient_stock");
    assert_eq!(
        refused[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Reason"]])
    );
    assert_eq!(metrics.emitted("OversellRefusals", "request_id", &request).len(), 1);

    let invalid = checkout_body(&second, "not an address");
    let refused = app.checkout(&unique("key"), &invalid).await;
    let request = request_id(&refused);
    let code = problem(refused, 422).await["code"].as_str().unwrap().to_owned();
    let counted = metrics.emitted("CheckoutRefusals", "request_id", &request);
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0]["Reason"], code.as_str());
    assert!(metrics.emitted("OversellRefusals", "request_id", &request).is_empty());
}

#[tokio::test]
async fn a_declined_card_counts_as_a_payment_failure_once() {
    let (app, stripe, metrics) = (TestApp::new(), TestStripe::new(), Metrics::new());
    let (order, _) = app.pending_order(&unique_email("declined"), 3, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.confirm(intent, "pm_card_chargeDeclined").await.status(), 402);
    let failures = metrics.wait_for("PaymentFailures", "order_id", order_id, 1).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(metrics.emitted("OrdersPaid", "order_id", order_id).is_empty());
}

#[tokio::test]
async fn a_webhook_delivery_nobody_signed_counts_as_a_signature_failure() {
    let (app, metrics) = (TestApp::new(), Metrics::new());
    let payload = json!({"id": unique("evt"), "object": "event", "type": "payment_intent.succeeded"}).to_string();
    let forged = app
        .client
        .post(format!("{}/webhooks/stripe", app.api))
        .header("Stripe-Signature", "garbage")
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    let request = request_id(&forged);
    assert_eq!(problem(forged, 400).await["code"], "invalid_signature");
    assert_eq!(
        metrics
            .emitted("WebhookSignatureFailures", "request_id", &request)
            .len(),
        1
    );
}

#[test]
fn every_metric_the_code_emits_is_on_the_dashboard() {
    let template = template();
    let dashboard = template
        .split("\n  ShopDashboard:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("the ShopDashboard resource in template.yaml");
    let missing: Vec<&str> = shop_platform::metrics::Metric::ALL
        .iter()
        .map(|metric| metric.name())
        // A metric by name (`"OrdersPaid"`), or in a search (`MetricName=\"CheckoutRefusals\"`).
        .filter(|name| !dashboard.contains(&format!("\"{name}\"")) && !dashboard.contains(&format!("\\\"{name}\\\"")))
        .collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    assert!(
        dashboard.contains("\"${AWS::StackName}\""),
        "the shop's metrics are in the stack's namespace, as METRICS_NAMESPACE sets it"
    );
}

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
}

#[test]
fn every_alarm_has_its_section_in_the_runbook() {
    let template = template();
    let lines: Vec<&str> = template.lines().collect();
    // A resource's line (`  Name:`) followed by its type's.
    let alarms: Vec<&str> = lines
        .windows(2)
        .filter(|pair| pair[1] == "    Type: AWS::CloudWatch::Alarm")
        .filter_map(|pair| pair[0].strip_prefix("  ")?.strip_suffix(':'))
        .collect();
    assert!(alarms.len() >= 16, "the template's alarms: {alarms:?}");
    let runbook = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/runbook.md")).unwrap();
    let headings: Vec<&str> = runbook.lines().filter(|line| line.starts_with("### ")).collect();
    let missing: Vec<&&str> = alarms
        .iter()
        .filter(|alarm| {
            !headings
                .iter()
                .any(|heading| heading.split([' ', ',']).any(|word| word == **alarm))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "alarms without a section in docs/runbook.md: {missing:?}"
    );
}

/// CloudWatch refuses an alarm of more than 10 metrics (a hard limit), and every function's
/// errors and throttles are watched by one alarm each.
#[test]
fn every_alarm_fits_cloudwatch_and_every_function_s_errors_and_throttles_are_alarmed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template = shop_local::template::Template::load(&path).unwrap();
    let functions: Vec<String> = template
        .functions()
        .unwrap()
        .into_iter()
        .map(|f| f.logical_id)
        .collect();
    let text = template_text_by_resource();
    let mut watched: std::collections::HashMap<&str, Vec<String>> = Default::default();
    for (name, body) in &text {
        if !body.contains("    Type: AWS::CloudWatch::Alarm") {
            continue;
        }
        let stats = body.matches("MetricStat:").count();
        assert!(stats <= 10, "{name} has {stats} metrics; CloudWatch takes at most 10");
        for metric in ["Errors", "Throttles"] {
            if body.contains(&format!("MetricName: {metric}\n")) && body.contains("Namespace: AWS/Lambda") {
                let refs = body
                    .lines()
                    .filter_map(|line| line.trim().strip_prefix("Value: !Ref "))
                    .map(str::to_owned);
                watched.entry(metric).or_default().extend(refs);
            }
        }
    }
    for metric in ["Errors", "Throttles"] {
        let seen = watched.get(metric).cloned().unwrap_or_default();
        let missing: Vec<&String> = functions.iter().filter(|f| !seen.contains(f)).collect();
        assert!(
            missing.is_empty(),
            "functions whose {metric} no alarm watches: {missing:?}"
        );
    }
}

/// Each top-level resource of template.yaml (`  Name:` to the next), by name.
fn template_text_by_resource() -> Vec<(String, String)> {
    let template = template();
    let mut resources: Vec<(String, String)> = Vec::new();
    for line in template.lines() {
        let top = line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':');
        if top {
            resources.push((line.trim().trim_end_matches(':').to_owned(), String::new()));
        } else if let Some((_, body)) = resources.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    resources
}

#[tokio::test]
async fn a_dead_lettered_mail_goes_out_once_its_queue_is_redriven() {
    use shop_platform::messages::{MailKind, MailRequest};
    let (app, inbox) = (TestApp::new(), shop_tests::Inbox::new());
    let email = unique_email("redriven");
    // An unpaid order: nothing has mailed its customer yet.
    let (order, _) = app.pending_order(&email, 3, 1).await;
    let order_id = order["order_id"].as_str().unwrap();

    // Its confirmation, where it lands after failing its retries: the mail queue's dead letters.
    let sdk = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let prefix = shop_tests::required("SHOP_RESOURCE_PREFIX");
    let dead = sqs
        .get_queue_url()
        .queue_name(format!("{prefix}-EmailDeadLetterQueue"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let trace = shop_platform::batch::Trace::new(order_id, "redrive-test");
    shop_services::queue::Queue::new(sqs.clone(), dead)
        .send(&MailRequest::once(MailKind::OrderConfirmation, order_id), 0, &trace)
        .await
        .unwrap();

    // The repair, as the runbook has an ops engineer run it.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let redrive = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .args(["infra/ops/redrive.py", "Email"])
        .current_dir(root)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&redrive.stdout);
    assert!(
        redrive.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&redrive.stderr)
    );
    assert!(said.starts_with("redrive: moved "), "{said}");

    let mails = inbox.wait_for(&email, "confirmed", 1).await;
    assert_eq!(mails.len(), 1, "the dead-lettered mail went out, once");
}

/// Runs a repair tool of infra/ops as the runbook has an ops engineer run it, on the test's stack:
/// its status and what it printed.
fn repair(script: &str, args: &[&str]) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("infra/ops/{script}"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (run.status.success(), said)
}

#[tokio::test]
async fn a_stripe_event_replayed_is_read_from_stripe_accepted_by_the_webhook_and_applied_once() {
    let (app, stripe, inbox) = (TestApp::new(), TestStripe::new(), shop_tests::Inbox::new());
    let email = unique_email("replayed");
    let (order, _) = app.pending_order(&email, 3, 1).await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.confirm(&intent, "pm_card_visa").await.status(), 200);
    let packing = app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(packing["status"], "fulfilling");
    assert_eq!(inbox.wait_for(&email, "confirmed", 1).await.len(), 1);

    // The payment's event, as Stripe lists it.
    let events: Value = reqwest::Client::new()
        .get(format!("{}/v1/events", stripe.base))
        .bearer_auth("sk_test_ops")
        .query(&[("type", "payment_intent.succeeded"), ("limit", "100")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["object"]["id"] == intent.as_str())
        .expect("Stripe lists the payment's event");
    let id = event["id"].as_str().unwrap();

    let (ok, said) = repair("replay_event.py", &[id]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("{id} delivered, the webhook answered 200")),
        "{said}"
    );
    let after = app.order_when(&order, |v| v["status"] == "fulfilling").await;
    assert_eq!(
        after["status"], "fulfilling",
        "applied once: the order did not move again"
    );
    assert_eq!(
        inbox.wait_for(&email, "confirmed", 1).await.len(),
        1,
        "one confirmation"
    );

    let (ok, said) = repair("replay_event.py", &["evt_NotAtStripe0001"]);
    assert!(!ok, "an event Stripe does not have is refused: {said}");
    assert!(said.contains("404"), "{said}");
}

#[tokio::test]
async fn a_mail_asked_for_again_goes_out_once_however_often_it_is_asked() {
    let (app, inbox) = (TestApp::new(), shop_tests::Inbox::new());
    let email = unique_email("resent");
    // An unpaid order: nothing has mailed its customer yet.
    let (order, _) = app.pending_order(&email, 3, 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let (ok, said) = repair("resend_mail.py", &[order_id, "order_confirmation"]);
    assert!(ok, "{said}");
    assert!(said.starts_with("resend: asked for "), "{said}");
    assert_eq!(inbox.wait_for(&email, "confirmed", 1).await.len(), 1);
    let (ok, said) = repair("resend_mail.py", &[order_id, "order_confirmation"]);
    assert!(ok, "{said}");
    let (ok, said) = repair("resend_mail.py", &[order_id, "no_such_mail"]);
    assert!(!ok, "{said}");
    assert!(said.contains("not a mail of an order"), "{said}");
    assert_eq!(inbox.wait_for(&email, "confirmed", 1).await.len(), 1, "sent once");
}

#[test]
fn every_mail_the_resend_tool_offers_is_one_the_shop_sends() {
    let tool = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/ops/resend_mail.py")).unwrap();
    let kinds = tool
        .split("KINDS = (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("resend_mail.py's KINDS");
    let offered: Vec<&str> = kinds
        .split(',')
        .map(|kind| kind.trim().trim_matches('"'))
        .filter(|kind| !kind.is_empty())
        .collect();
    let known: Vec<&str> = shop_platform::messages::MailKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert!(offered.len() >= 9, "{offered:?}");
    for kind in offered {
        assert!(known.contains(&kind), "{kind} is not a MailKind");
    }
}
