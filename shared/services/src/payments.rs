//! Payments through Stripe's API: the four calls the shop makes (create, retrieve and cancel a
//! PaymentIntent; create a refund), form-encoded as Stripe takes them, on the shop's own pooled
//! HTTPS client (`shop_platform::https`). Locally `STRIPE_API_BASE` points the same code at the
//! Stripe-compatible server of the local stack; without it, a `sk_test_` key talks to Stripe's
//! test mode. Every call that creates or cancels money movement carries an idempotency key
//! derived from the order, so a retry never creates a second PaymentIntent or refund.
//!
//! A small client rather than async-stripe: its generated types for all of Stripe were a fifth
//! to a quarter of each paying function's binary, and its client kept no connection between
//! calls (bench/results.md, issue #22).

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shop_platform::config::{ConfigError, Env};
use shop_platform::https;
use std::time::Duration;

/// The Stripe API version the shop's requests and the objects it reads follow.
pub const STRIPE_VERSION: &str = "2026-09-30.endive";
/// Where Stripe's API is, unless `STRIPE_API_BASE` says otherwise.
const STRIPE_API: &str = "https://api.stripe.com";
/// Stripe's answers to the shop's calls are small; a longer one is not Stripe's.
const ANSWER_LIMIT: usize = 256 * 1024;
/// Stripe's longest idempotency key.
const IDEMPOTENCY_KEY_LIMIT: usize = 255;

/// Why the shop cancels a PaymentIntent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The customer cancelled the order (`requested_by_customer`).
    Customer,
    /// Nobody paid in time, or the order it was for was never recorded (`abandoned`).
    Abandoned,
}

/// How long one Stripe call may take before the shop gives up and tells the shopper to retry.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(8);

/// The PaymentIntent metadata key that marks the payment of an exchange's difference (its value:
/// the exchange id); such a payment settles the exchange, not the order.
pub const EXCHANGE_METADATA: &str = "exchange_id";

/// A PaymentIntent as the shop keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// `pi_...`.
    pub id: String,
    /// What the browser confirms the payment with.
    pub client_secret: String,
    /// Stripe's status word.
    pub status: String,
}

/// A failed payment call.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Stripe did not answer in time or failed on its side: nothing is known to have moved.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request.
    #[error("Stripe refused: {0}")]
    Refused(String),
}

impl From<PaymentError> for shop_platform::ApiError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Unavailable(cause) => Self::Upstream {
                service: "the payment provider",
                cause,
            },
            PaymentError::Refused(cause) => Self::Internal(format!("Stripe refused a request the shop made: {cause}")),
        }
    }
}

/// The Stripe adapter.
#[derive(Clone)]
pub struct PaymentGateway {
    http: https::Client,
    /// `Bearer sk_...`, marked sensitive.
    authorization: HeaderValue,
    /// The API's origin, without a trailing `/`.
    base: String,
    timeout: Duration,
}

impl std::fmt::Debug for PaymentGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the secret key: never print it.
        f.write_str("PaymentGateway")
    }
}

/// What the shop reads of a PaymentIntent Stripe answers with.
#[derive(Deserialize)]
struct IntentObject {
    id: String,
    #[serde(default)]
    client_secret: Option<String>,
    status: String,
}

impl From<IntentObject> for Intent {
    fn from(intent: IntentObject) -> Self {
        Self {
            id: intent.id,
            client_secret: intent.client_secret.unwrap_or_default(),
            status: intent.status,
        }
    }
}

/// How many pages of 100 a list is read to, at most.
const LIST_PAGES: usize = 100;

/// A page of one of Stripe's lists.
#[derive(Deserialize)]
struct ListPage<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

/// A PaymentIntent as Stripe lists it: what reconciliation compares with the orders.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedIntent {
    /// `pi_...`.
    pub id: String,
    /// Stripe's status word (`succeeded` once paid).
    pub status: String,
    /// In the currency's minor unit.
    pub amount: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// The shop's `order_id` (and `exchange_id`) when it is the shop's.
    #[serde(default)]
    pub metadata: std::collections::HashMap<String, String>,
}

/// A refund as Stripe lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedRefund {
    /// `re_...`.
    pub id: String,
    /// The PaymentIntent it returns money of.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// In minor units.
    pub amount: i64,
    /// `succeeded`, `pending`, `failed`, ...
    #[serde(default)]
    pub status: Option<String>,
}

/// What the shop reads of a refund Stripe answers with.
#[derive(Deserialize)]
struct RefundObject {
    id: String,
}

/// Stripe's error body: `{"error": {"type", "code", "message"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl PaymentGateway {
    /// A gateway with `secret_key`, at `api_base` when given (else Stripe itself), giving up on a
    /// call after `timeout`.
    pub fn new(secret_key: &SecretString, api_base: Option<&str>, timeout: Duration) -> Result<Self, ConfigError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", secret_key.expose_secret()))
            .map_err(|_| ConfigError::new("the Stripe secret key is not a header value"))?;
        authorization.set_sensitive(true);
        let base = api_base.unwrap_or(STRIPE_API).trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ConfigError::new(format!(
                "STRIPE_API_BASE {base} is not an http(s) URL"
            )));
        }
        let http = https::client().map_err(|e| ConfigError::new(format!("Stripe client: {e}")))?;
        Ok(Self {
            http,
            authorization,
            base,
            timeout,
        })
    }

    /// The gateway the environment describes: the key from `STRIPE_SECRET_KEY`, or from the SSM
    /// SecureString named by `STRIPE_SECRET_KEY_PARAMETER` (as deployed); `STRIPE_API_BASE` optional.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let key =
            shop_platform::aws::secret_setting(env, sdk, "STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_PARAMETER").await?;
        Self::new(
            &key,
            env.get("STRIPE_API_BASE").filter(|b| !b.is_empty()),
            STRIPE_TIMEOUT,
        )
    }

    /// Creates the PaymentIntent of an order, once: the idempotency key is the order's.
    pub async fn create_intent(
        &self,
        order_id: &str,
        amount: i64,
        currency: &str,
        email: &str,
    ) -> Result<Intent, PaymentError> {
        let metadata = [("order_id", order_id)];
        let key = format!("order-{order_id}-intent");
        self.intent(amount, currency, email, &metadata, &key, format!("Order {order_id}"))
            .await
    }

    /// Creates the PaymentIntent of the difference an exchange owes, once (the exchange's
    /// idempotency key); its metadata names the order and the exchange.
    pub async fn create_exchange_intent(
        &self,
        order_id: &str,
        exchange_id: &str,
        amount: i64,
        currency: &str,
        email: &str,
    ) -> Result<Intent, PaymentError> {
        let metadata = [("order_id", order_id), (EXCHANGE_METADATA, exchange_id)];
        let key = format!("exchange-{exchange_id}-intent");
        let description = format!("Exchange {exchange_id} of order {order_id}");
        self.intent(amount, currency, email, &metadata, &key, description).await
    }

    async fn intent(
        &self,
        amount: i64,
        currency: &str,
        email: &str,
        metadata: &[(&str, &str)],
        key: &str,
        description: String,
    ) -> Result<Intent, PaymentError> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("amount", &amount.to_string())
                .append_pair("currency", &currency.to_ascii_lowercase())
                .append_pair("automatic_payment_methods[enabled]", "true")
                .append_pair("receipt_email", email)
                .append_pair("description", &description);
            for (name, value) in metadata {
                form.append_pair(&format!("metadata[{name}]"), value);
            }
            form.finish()
        };
        let intent: IntentObject = self
            .call(Method::POST, "/v1/payment_intents", Some(form), Some(key))
            .await?;
        Ok(intent.into())
    }

    /// Cancels a PaymentIntent that was not paid, for `reason` (Stripe keeps it on the intent,
    /// so its `payment_intent.canceled` event says who cancelled); cancelling one already
    /// cancelled is fine.
    pub async fn cancel_intent(&self, intent_id: &str, reason: CancelReason) -> Result<(), PaymentError> {
        let reason = match reason {
            CancelReason::Customer => "requested_by_customer",
            CancelReason::Abandoned => "abandoned",
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("cancellation_reason", reason)
            .finish();
        let path = format!("/v1/payment_intents/{}/cancel", path_segment(intent_id)?);
        let _: IntentObject = self
            .call(Method::POST, &path, Some(form), Some(&format!("{intent_id}-cancel")))
            .await?;
        Ok(())
    }

    /// A PaymentIntent as Stripe has it now (what a browser needs to pay it again).
    pub async fn retrieve_intent(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let path = format!("/v1/payment_intents/{}", path_segment(intent_id)?);
        let intent: IntentObject = self.call(Method::GET, &path, None, None).await?;
        Ok(intent.into())
    }

    /// Refunds `amount` (all that is left when `None`) of a PaymentIntent, once per `key`.
    pub async fn refund(&self, intent_id: &str, amount: Option<i64>, key: &str) -> Result<String, PaymentError> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("payment_intent", intent_id);
            if let Some(amount) = amount {
                form.append_pair("amount", &amount.to_string());
            }
            form.finish()
        };
        let refund: RefundObject = self.call(Method::POST, "/v1/refunds", Some(form), Some(key)).await?;
        Ok(refund.id)
    }

    /// The PaymentIntents created from `from` to `to` (Unix seconds), as Stripe lists them.
    pub async fn intents_created(&self, from: i64, to: i64) -> Result<Vec<ListedIntent>, PaymentError> {
        self.list("/v1/payment_intents", &[], from, to, |i: &ListedIntent| i.id.clone())
            .await
    }

    /// The refunds created from `from` to `to`, as Stripe lists them.
    pub async fn refunds_created(&self, from: i64, to: i64) -> Result<Vec<ListedRefund>, PaymentError> {
        self.list("/v1/refunds", &[], from, to, |r: &ListedRefund| r.id.clone())
            .await
    }

    /// The events of type `kind` created from `from` to `to`, newest first, each as Stripe's
    /// JSON (what its webhook delivery would carry).
    pub async fn events_created(&self, kind: &str, from: i64, to: i64) -> Result<Vec<serde_json::Value>, PaymentError> {
        let id = |event: &serde_json::Value| event["id"].as_str().unwrap_or_default().to_owned();
        self.list("/v1/events", &[("type", kind)], from, to, id).await
    }

    /// Every object of one of Stripe's lists created from `from` to `to`, page after page
    /// (`starting_after` the last one's id), at most [`LIST_PAGES`] pages.
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
        from: i64,
        to: i64,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, PaymentError> {
        let mut all: Vec<T> = Vec::new();
        for _ in 0..LIST_PAGES {
            let query = {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query
                    .extend_pairs(filters)
                    .append_pair("created[gte]", &from.to_string())
                    .append_pair("created[lte]", &to.to_string())
                    .append_pair("limit", "100");
                if let Some(last) = all.last() {
                    query.append_pair("starting_after", &id(last));
                }
                query.finish()
            };
            let page: ListPage<T> = self.call(Method::GET, &format!("{path}?{query}"), None, None).await?;
            let more = page.has_more && !page.data.is_empty();
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
        Err(PaymentError::Refused(format!(
            "{path}: more than {} objects from {from} to {to}",
            LIST_PAGES * 100
        )))
    }

    /// One call: `form` as the body of a POST, with `idempotency` as its key; Stripe's object
    /// when it answers 2xx, else the error its status and body say.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
        idempotency: Option<&str>,
    ) -> Result<T, PaymentError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Stripe-Version", STRIPE_VERSION);
        if let Some(key) = idempotency {
            request = request.header("Idempotency-Key", idempotency_key(key)?);
        }
        if form.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request
            .body(https::Body::from(form.unwrap_or_default()))
            .map_err(|e| PaymentError::Refused(format!("request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| PaymentError::Unavailable(format!("{path}: {e}")))?;
            let status = response.status();
            let body = https::body(response, ANSWER_LIMIT)
                .await
                .map_err(|e| PaymentError::Unavailable(format!("{path}: the answer was cut: {e}")))?;
            Ok::<_, PaymentError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| PaymentError::Unavailable(format!("{path}: no answer within {:?}", self.timeout)))??;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                PaymentError::Refused(format!("{path}: Stripe's answer is not the object expected: {e}"))
            });
        }
        Err(refusal(status, &body))
    }
}

/// The error a non-2xx answer is: Stripe failing or busy (5xx, 429) is `Unavailable`, nothing is
/// known to have moved; any other is Stripe refusing the request.
fn refusal(status: StatusCode, body: &[u8]) -> PaymentError {
    let detail = serde_json::from_slice::<ErrorBody>(body).ok().map(|b| b.error);
    let message = detail
        .as_ref()
        .and_then(|d| d.message.clone())
        .unwrap_or_else(|| "no message".to_owned());
    let kind = detail.and_then(|d| d.kind).unwrap_or_else(|| "unknown".to_owned());
    let text = format!("{message} ({kind}, {status})");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        PaymentError::Unavailable(text)
    } else {
        PaymentError::Refused(text)
    }
}

/// An id as one segment of a path: Stripe's ids are letters, digits and `_`.
fn path_segment(id: &str) -> Result<&str, PaymentError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(PaymentError::Refused(format!("{id:?} is not a Stripe id")))
    }
}

/// An idempotency key as Stripe takes one: 1 to 255 visible ASCII characters.
fn idempotency_key(text: &str) -> Result<HeaderValue, PaymentError> {
    if text.is_empty() || text.len() > IDEMPOTENCY_KEY_LIMIT || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PaymentError::Refused(format!("idempotency key {text:?}")));
    }
    HeaderValue::try_from(text).map_err(|e| PaymentError::Refused(format!("idempotency key: {e}")))
}
