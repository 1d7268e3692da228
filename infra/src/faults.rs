//! Faults, injected: the IAM proxy ([`crate::enforce`]) can fail or slow down the AWS calls of
//! the hosted functions, as AWS itself sometimes does, so that end-to-end tests can hold the shop
//! to what it must do then (tests/tests/faults.rs).
//!
//! A test adds a [`Rule`] (`POST /shop-faults/rules`, answered `{"id": ...}`), which matches a
//! call pattern: the service, optionally the action, the calling function and a text the
//! request's body must contain (how a test keeps a fault to its own order, SKU or address while
//! other tests run on the same stack). The rule fires on the first `times` calls it matches:
//! before the call is forwarded (nothing happened), after it (the call took effect but its answer
//! is lost), or as a delay before forwarding (a slow answer). `GET /shop-faults/rules/{id}` tells
//! how often it fired, `DELETE` removes it.
//!
//! The errors are answered in the service's own wire shape, so that the AWS SDK classifies each
//! as it classifies AWS's: throttling and `InternalServerError` are retried by the SDK,
//! `TransactionCanceledException` is not ([`error_response`]).

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Mutex;

/// The path prefix of the proxy's fault routes.
pub const ROUTES: &str = "/shop-faults/rules";

/// What a rule does to a call it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// DynamoDB's `ProvisionedThroughputExceededException` (throttling: the SDK retries it).
    ProvisionedThroughputExceeded,
    /// DynamoDB's `ThrottlingException` (throttling: the SDK retries it).
    Throttling,
    /// DynamoDB's `InternalServerError`, a `500` (transient: the SDK retries it).
    InternalServerError,
    /// A `TransactionCanceledException` whose first item's reason is `TransactionConflict`
    /// (another transaction was writing the item; the SDK does not retry it).
    TransactionConflict,
    /// SQS's `RequestThrottled` (throttling: the SDK retries it).
    RequestThrottled,
    /// SES v2's `TooManyRequestsException`, a `429` (throttling: the SDK retries it).
    TooManyRequests,
    /// The call is forwarded after this many milliseconds: a slow answer.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
}

impl Fault {
    /// The service whose error this is (`None`: any service's call can be slow).
    fn service(self) -> Option<&'static str> {
        match self {
            Self::ProvisionedThroughputExceeded
            | Self::Throttling
            | Self::InternalServerError
            | Self::TransactionConflict => Some("dynamodb"),
            Self::RequestThrottled => Some("sqs"),
            Self::TooManyRequests => Some("ses"),
            Self::Delay { .. } => None,
        }
    }
}

/// When an error fault fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Instead of forwarding the call: nothing happened.
    #[default]
    Before,
    /// After forwarding it: the call took effect, and its answer is the error.
    After,
}

/// A call pattern and the fault for calls that match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The SigV4 service name: `dynamodb`, `sqs`, `ses`.
    pub service: String,
    /// The operation (`TransactWriteItems`, `UpdateItem`, `SendMessage`, `SendEmail`, ...); any
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The calling function's logical id (`CheckoutFunction`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// A text the request's body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// How many matching calls it fires on.
    #[serde(default = "once")]
    pub times: u32,
    /// What it does.
    pub fault: Fault,
    /// Before or after forwarding (errors only).
    #[serde(default)]
    pub when: When,
}

fn once() -> u32 {
    1
}

/// One call, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The SigV4 service name.
    pub service: &'a str,
    /// The operation ([`action`]).
    pub action: &'a str,
    /// The calling function's logical id.
    pub function: &'a str,
    /// The request's body.
    pub body: &'a [u8],
}

impl Rule {
    /// Whether the rule makes sense: its fault is an error of its service, and a transaction's
    /// conflict is asked of `TransactWriteItems` only.
    fn check(&self) -> Result<(), String> {
        if let Some(service) = self.fault.service()
            && service != self.service
        {
            return Err(format!(
                "{:?} is an error of {service}, not of {}",
                self.fault, self.service
            ));
        }
        if self.fault == Fault::TransactionConflict && self.action.as_deref() != Some("TransactWriteItems") {
            return Err("a transaction conflict is a fault of the action TransactWriteItems".into());
        }
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        Ok(())
    }

    /// Whether `call` matches the rule's pattern.
    fn matches(&self, call: &Call<'_>) -> bool {
        self.service == call.service
            && self.action.as_deref().is_none_or(|action| action == call.action)
            && self
                .function
                .as_deref()
                .is_none_or(|function| function == call.function)
            && self
                .body_contains
                .as_deref()
                .is_none_or(|text| contains(call.body, text.as_bytes()))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

/// The operation a call asks for: the `X-Amz-Target`'s (`DynamoDB_20120810.UpdateItem`,
/// `AmazonSQS.SendMessage`) for JSON protocols; for SES v2's REST routes, the operation of the
/// route the shop uses (`SendEmail`), else `<METHOD> <path>`.
pub fn action(method: &Method, path: &str, target: Option<&str>) -> String {
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        (&Method::POST, "/v2/email/outbound-emails") => "SendEmail".to_owned(),
        _ => format!("{method} {path}"),
    }
}

/// A rule with what it did so far.
struct Armed {
    id: u64,
    rule: Rule,
    fired: u32,
}

/// The rules in force.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Armed>>,
    next: Mutex<u64>,
}

/// What a rule did so far.
#[derive(Debug, Serialize)]
pub struct Fired {
    /// The rule's id.
    pub id: u64,
    /// How many calls it fired on.
    pub fired: u32,
    /// How many more it will fire on.
    pub remaining: u32,
}

impl Faults {
    /// Adds a rule, answering its id.
    pub fn add(&self, rule: Rule) -> Result<u64, String> {
        rule.check()?;
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *next += 1;
            *next
        };
        tracing::info!(id, rule = ?rule, "fault rule added");
        self.lock().push(Armed { id, rule, fired: 0 });
        Ok(id)
    }

    /// Removes a rule; whether it was there.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|armed| armed.id != id);
        rules.len() != before
    }

    /// What the rule `id` did so far.
    pub fn fired(&self, id: u64) -> Option<Fired> {
        self.lock().iter().find(|armed| armed.id == id).map(|armed| Fired {
            id,
            fired: armed.fired,
            remaining: armed.rule.times - armed.fired,
        })
    }

    /// The fault for `call`: the first rule that matches it and has not fired its `times`
    /// (counted as fired).
    pub fn take(&self, call: &Call<'_>) -> Option<(Fault, When)> {
        let mut rules = self.lock();
        let armed = rules
            .iter_mut()
            .find(|armed| armed.fired < armed.rule.times && armed.rule.matches(call))?;
        armed.fired += 1;
        tracing::info!(
            id = armed.id,
            service = call.service,
            action = call.action,
            function = call.function,
            fired = armed.fired,
            "fault injected"
        );
        Some((armed.rule.fault, armed.rule.when))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Armed>> {
        self.rules.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The fault routes: `POST /shop-faults/rules`, `GET` and `DELETE /shop-faults/rules/{id}`.
    pub fn route(&self, method: &Method, path: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let rest = path.strip_prefix(ROUTES).unwrap_or(path);
        match (method, rest.trim_start_matches('/')) {
            (&Method::POST, "") => match serde_json::from_slice::<Rule>(body)
                .map_err(|e| e.to_string())
                .and_then(|rule| self.add(rule))
            {
                Ok(id) => json_response(StatusCode::CREATED, &json!({ "id": id })),
                Err(error) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": error })),
            },
            (&Method::GET, id) => match id.parse().ok().and_then(|id| self.fired(id)) {
                Some(fired) => json_response(StatusCode::OK, &json!(fired)),
                None => json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such rule" })),
            },
            (&Method::DELETE, id) => match id.parse().is_ok_and(|id| self.remove(id)) {
                true => json_response(StatusCode::NO_CONTENT, &serde_json::Value::Null),
                false => json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such rule" })),
            },
            _ => json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such fault route" })),
        }
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The error AWS answers for `fault`, in its service's wire shape: DynamoDB's JSON 1.0 with a
/// namespaced `__type`; SQS's JSON 1.0 with the `x-amzn-query-error` header its query-compatible
/// protocol reads the code from; SES v2's REST-JSON with `x-amzn-ErrorType`. `request` is the
/// call's body (a transaction's cancellation reasons are one per item). `None` for a delay.
pub fn error_response(fault: Fault, request: &[u8]) -> Option<Response<Full<Bytes>>> {
    const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
    let (status, content_type, body, headers): (StatusCode, &str, serde_json::Value, Vec<(&str, &str)>) = match fault {
        Fault::ProvisionedThroughputExceeded => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            json!({
                "__type": format!("{DYNAMODB}#ProvisionedThroughputExceededException"),
                "message": "The level of configured provisioned throughput for the table was exceeded. \
                            Consider increasing your provisioning level with the UpdateTable API.",
            }),
            vec![],
        ),
        Fault::Throttling => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            json!({"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate of requests exceeds the allowed throughput."}),
            vec![],
        ),
        Fault::InternalServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/x-amz-json-1.0",
            json!({"__type": format!("{DYNAMODB}#InternalServerError"), "message": "Internal server error"}),
            vec![],
        ),
        Fault::TransactionConflict => {
            let items = serde_json::from_slice::<serde_json::Value>(request)
                .ok()
                .and_then(|body| body["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1)
                .max(1);
            let mut reasons =
                vec![json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})];
            reasons.extend((1..items).map(|_| json!({"Code": "None"})));
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r["Code"].as_str()).collect();
            (
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.0",
                json!({
                    "__type": format!("{DYNAMODB}#TransactionCanceledException"),
                    "Message": format!(
                        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                        codes.join(", ")
                    ),
                    "CancellationReasons": reasons,
                }),
                vec![],
            )
        }
        Fault::RequestThrottled => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            json!({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "Request is throttled."}),
            vec![("x-amzn-query-error", "RequestThrottled;Sender")],
        ),
        Fault::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            json!({"message": "Maximum sending rate exceeded."}),
            vec![("x-amzn-errortype", "TooManyRequestsException")],
        ),
        Fault::Delay { .. } => return None,
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    map.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("shop-local-injected-fault"),
    );
    for (name, value) in headers {
        map.insert(name, HeaderValue::from_static(value));
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn rule(json: serde_json::Value) -> Rule {
        serde_json::from_value(json).unwrap()
    }

    fn call<'a>(service: &'a str, action: &'a str, function: &'a str, body: &'a str) -> Call<'a> {
        Call {
            service,
            action,
            function,
            body: body.as_bytes(),
        }
    }

    #[test]
    fn a_rule_matches_its_service_action_function_and_body_text_only() {
        let faults = Faults::default();
        let id = faults
            .add(rule(json!({
                "service": "dynamodb", "action": "UpdateItem", "function": "CheckoutFunction",
                "body_contains": "SKU-1", "times": 2, "fault": "throttling"
            })))
            .unwrap();
        let ours = call("dynamodb", "UpdateItem", "CheckoutFunction", r#"{"Key":"SKU-1"}"#);
        for other in [
            call("sqs", "UpdateItem", "CheckoutFunction", r#"{"Key":"SKU-1"}"#),
            call("dynamodb", "PutItem", "CheckoutFunction", r#"{"Key":"SKU-1"}"#),
            call("dynamodb", "UpdateItem", "CartFunction", r#"{"Key":"SKU-1"}"#),
            call("dynamodb", "UpdateItem", "CheckoutFunction", r#"{"Key":"SKU-2"}"#),
        ] {
            assert_eq!(faults.take(&other), None, "{other:?}");
        }
        assert_eq!(faults.take(&ours), Some((Fault::Throttling, When::Before)));
        assert_eq!(faults.take(&ours), Some((Fault::Throttling, When::Before)));
        assert_eq!(faults.take(&ours), None, "it fires its times only");
        assert_eq!(faults.fired(id).unwrap().fired, 2);
        assert!(faults.remove(id));
        assert!(faults.fired(id).is_none());
    }

    #[test]
    fn rules_that_make_no_sense_are_refused() {
        let faults = Faults::default();
        let wrong_service = rule(json!({"service": "sqs", "fault": "provisioned_throughput_exceeded"}));
        assert!(faults.add(wrong_service).is_err());
        let not_a_transaction =
            rule(json!({"service": "dynamodb", "action": "PutItem", "fault": "transaction_conflict"}));
        assert!(faults.add(not_a_transaction).is_err());
        let slow = rule(json!({"service": "sqs", "fault": {"delay": {"ms": 10}}}));
        assert!(faults.add(slow).is_ok(), "any call may be slow");
        assert!(serde_json::from_value::<Rule>(json!({"service": "sqs", "fault": "teapot"})).is_err());
    }

    #[test]
    fn the_action_is_the_targets_operation_or_the_ses_route() {
        assert_eq!(
            action(&Method::POST, "/", Some("DynamoDB_20120810.TransactWriteItems")),
            "TransactWriteItems"
        );
        assert_eq!(action(&Method::POST, "/", Some("AmazonSQS.SendMessage")), "SendMessage");
        assert_eq!(action(&Method::POST, "/v2/email/outbound-emails", None), "SendEmail");
    }

    /// Parses an injected error as the SDK's generated deserializers do, and classifies it with
    /// the SDK's own retry classifier.
    async fn parsed(fault: Fault, request: &str) -> (u16, http::HeaderMap, serde_json::Value) {
        let response = error_response(fault, request.as_bytes()).unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status.as_u16(),
            parts.headers,
            serde_json::from_slice(&body).unwrap(),
        )
    }

    #[tokio::test]
    async fn dynamodb_errors_read_as_the_sdk_reads_awss() {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let (status, _, body) = parsed(Fault::TransactionConflict, r#"{"TransactItems":[{},{},{}]}"#).await;
        assert_eq!(status, 400);
        let reasons = body["CancellationReasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 3, "one reason per item");
        assert_eq!(reasons[0]["Code"], "TransactionConflict");

        // Through the real client against a one-shot server answering the injected error.
        for (fault, code, retried) in [
            (Fault::TransactionConflict, "TransactionCanceledException", false),
            (
                Fault::ProvisionedThroughputExceeded,
                "ProvisionedThroughputExceededException",
                true,
            ),
            (Fault::Throttling, "ThrottlingException", true),
            (Fault::InternalServerError, "InternalServerError", true),
        ] {
            let (url, attempts) = answering(fault).await;
            let client = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
                    .endpoint_url(url)
                    .retry_config(
                        aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                            .with_max_attempts(2)
                            .with_initial_backoff(std::time::Duration::from_millis(1)),
                    )
                    .build(),
            );
            let error = client
                .transact_write_items()
                .transact_items(
                    aws_sdk_dynamodb::types::TransactWriteItem::builder()
                        .condition_check(
                            aws_sdk_dynamodb::types::ConditionCheck::builder()
                                .table_name("t")
                                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into()))
                                .condition_expression("attribute_exists(pk)")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap_err();
            assert_eq!(error.code(), Some(code), "{fault:?}");
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() {
                assert_eq!(cancelled.cancellation_reasons()[0].code(), Some("TransactionConflict"));
            }
            let expected = if retried { 2 } else { 1 };
            assert_eq!(
                attempts.load(std::sync::atomic::Ordering::SeqCst),
                expected,
                "{fault:?} retried: {retried}"
            );
        }
    }

    #[tokio::test]
    async fn sqs_throttling_reads_as_request_throttled_and_is_retried() {
        use aws_sdk_sqs::error::ProvideErrorMetadata;
        let (url, attempts) = answering(Fault::RequestThrottled).await;
        let client = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_sqs::config::Credentials::for_tests())
                .endpoint_url(url)
                .retry_config(
                    aws_sdk_sqs::config::retry::RetryConfig::standard()
                        .with_max_attempts(2)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
                .build(),
        );
        let error = client
            .send_message()
            .queue_url("http://q/1/q")
            .message_body("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("RequestThrottled"));
        assert!(matches!(
            error.as_service_error(),
            Some(aws_sdk_sqs::operation::send_message::SendMessageError::RequestThrottled(_))
        ));
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2, "retried");
    }

    #[tokio::test]
    async fn ses_throttling_is_too_many_requests() {
        let (status, headers, _) = parsed(Fault::TooManyRequests, "").await;
        assert_eq!(status, 429);
        assert_eq!(headers["x-amzn-errortype"], "TooManyRequestsException");
        assert!(error_response(Fault::Delay { ms: 1 }, b"").is_none());
    }

    /// A server on a free port that answers every request with `fault`'s error, counting them.
    async fn answering(fault: Fault) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = attempts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let counted = counted.clone();
                        async move {
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            Ok::<_, std::convert::Infallible>(error_response(fault, &body).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (url, attempts)
    }
}
