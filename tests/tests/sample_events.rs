//! The sample events in events/ are what `cargo lambda invoke --data-file` and
//! `sam local invoke -e` send: each must be a request its function serves, on a route the
//! template gives that function, and answered without a fault.

use aws_lambda_events::event::sqs::SqsEvent;
use shop_local::functions::{Hosted, host};
use shop_local::template::Template;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn every_sample_event_is_a_route_of_its_function_and_is_answered() {
    let template = Template::load(&root().join("template.yaml")).unwrap();
    let sdk = shop_platform::aws::sdk_config().await;
    let prefix = std::env::var("SHOP_RESOURCE_PREFIX").expect("run with `make test`");
    // Creating the stack's resources again is a no-op that answers their local names.
    let context = shop_local::bootstrap::create_resources(&template, &prefix, &sdk)
        .await
        .unwrap();
    let mut checked = 0;
    for function in template.functions().unwrap() {
        let folder = root().join("events").join(&function.binary);
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|_| {
            panic!(
                "events/{} is missing: every function has sample events",
                function.binary
            )
        });
        let env = shop_local::function_env(&function, &context).unwrap();
        let (handler, consumer, scheduled) = match host(&function.binary, &env, &sdk).await.unwrap() {
            Hosted::Http(handler) => (Some(handler), None, None),
            Hosted::Queue(consumer) => (None, Some(consumer), None),
            Hosted::Both(handler, consumer) => (Some(handler), Some(consumer), None),
            Hosted::Scheduled(scheduled) => (None, None, Some(scheduled)),
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if event["detail-type"] == "Scheduled Event" || event.get("job").is_some() {
                // A schedule's event (or its Input): the run answers what it did.
                let scheduled = scheduled
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no schedule", path.display()));
                let answer = scheduled.run(&event).await;
                // Nothing in the test stack is owed, or older than the sweeper's wait.
                let failed = answer.get("failures").or(answer.get("mismatches"));
                assert_eq!(failed, Some(&serde_json::json!(0)), "{}: {answer}", path.display());
                checked += 1;
                continue;
            }
            if event.get("Records").is_some() {
                // A queue event: every message is handled (an unknown order is nothing to do).
                let consumer = consumer
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no queue trigger", path.display()));
                let event: SqsEvent = serde_json::from_value(event).unwrap();
                assert!(!event.records.is_empty(), "{}", path.display());
                let response = consumer.handle_batch(event).await;
                assert!(response.batch_item_failures.is_empty(), "{}: failed", path.display());
                checked += 1;
                continue;
            }
            let handler = handler
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no HTTP route", path.display()));
            if let Some(payload) = event["headers"].get("stripe-signature").and(event["body"].as_str()) {
                // Sample webhook events are signed at a fixed time; sign them now, as
                // infra/local/sign_event.py does, with the stack's secret.
                let secret = std::env::var("STRIPE_WEBHOOK_SECRET").unwrap();
                let header = shop_tests::stripe_signature(payload, &secret, None);
                event["headers"]["stripe-signature"] = serde_json::Value::String(header);
            }
            let text = event.to_string();
            let route_key = event["routeKey"].as_str().unwrap().to_owned();
            assert!(
                function
                    .routes
                    .iter()
                    .any(|r| format!("{} {}", r.method, r.path) == route_key),
                "{}: {route_key} is not a route of {}",
                path.display(),
                function.logical_id
            );
            let request = lambda_http::request::from_str(&text).unwrap();
            let response = handler.handle(request).await;
            let status = response.status();
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
            // Events naming a cart, an order, a return, a campaign or a mailed link that only exists after an earlier step: the route
            // runs and answers that there is no such thing.
            let names_a_cart = event["pathParameters"]["cart_id"].is_string()
                || event["pathParameters"]["order_id"].is_string()
                || event["pathParameters"]["return_id"].is_string()
                || event["pathParameters"]["campaign_id"].is_string()
                || event["queryStringParameters"]["token"].is_string()
                || event["body"].as_str().is_some_and(|body| body.contains("\"cart_id\""));
            let expected = if names_a_cart {
                status == 404 && body["code"] == "not_found"
            } else {
                status.is_success()
            };
            assert!(expected, "{}: answered {status} {body}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 22, "only {checked} sample events were checked");
}
