//! Payments through Stripe (async-stripe). Locally `STRIPE_API_BASE` points the same code at the
//! Stripe-compatible server of the local stack; without it, a `sk_test_` key talks to Stripe's
//! test mode. Every call that creates or cancels money movement carries an idempotency key
//! derived from the order, so a retry never creates a second PaymentIntent or refund.

use secrecy::{ExposeSecret, SecretString};
use shop_platform::config::{ConfigError, Env};
use std::collections::HashMap;
use std::time::Duration;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;

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

impl From<StripeError> for PaymentError {
    fn from(error: StripeError) -> Self {
        match &error {
            StripeError::Stripe(api, status) if *status < 500 && *status != 429 => {
                Self::Refused(api.message.clone().unwrap_or_default())
            }
            StripeError::Stripe(..) | StripeError::Timeout | StripeError::ClientError(_) => {
                Self::Unavailable(error.to_string())
            }
            _ => Self::Refused(error.to_string()),
        }
    }
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
    client: Client,
}

impl std::fmt::Debug for PaymentGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the secret key: never print it.
        f.write_str("PaymentGateway")
    }
}

impl PaymentGateway {
    /// A gateway with `secret_key`, at `api_base` when given (else Stripe itself), giving up on a
    /// call after `timeout`.
    pub fn new(secret_key: &SecretString, api_base: Option<&str>, timeout: Duration) -> Result<Self, ConfigError> {
        let mut builder = ClientBuilder::new(secret_key.expose_secret()).timeout(timeout);
        if let Some(base) = api_base {
            builder = builder.url(base);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::new(format!("Stripe client: {e}")))?;
        Ok(Self { client })
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
        let metadata = HashMap::from([("order_id".to_owned(), order_id.to_owned())]);
        let key = format!("order-{order_id}-intent");
        self.intent(amount, currency, email, metadata, &key, format!("Order {order_id}"))
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
        let metadata = HashMap::from([
            ("order_id".to_owned(), order_id.to_owned()),
            (EXCHANGE_METADATA.to_owned(), exchange_id.to_owned()),
        ]);
        let key = format!("exchange-{exchange_id}-intent");
        let description = format!("Exchange {exchange_id} of order {order_id}");
        self.intent(amount, currency, email, metadata, &key, description).await
    }

    async fn intent(
        &self,
        amount: i64,
        currency: &str,
        email: &str,
        metadata: HashMap<String, String>,
        key: &str,
        description: String,
    ) -> Result<Intent, PaymentError> {
        let currency = currency
            .parse::<stripe_types::Currency>()
            .map_err(|_| PaymentError::Refused(format!("unknown currency {currency}")))?;
        let key = idempotency_key(key)?;
        let intent = CreatePaymentIntent::new(amount, currency)
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .metadata(metadata)
            .receipt_email(email)
            .description(description)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await?;
        Ok(Intent {
            id: intent.id.to_string(),
            client_secret: intent.client_secret.unwrap_or_default(),
            status: intent.status.as_str().to_owned(),
        })
    }

    /// Cancels a PaymentIntent that was not paid, for `reason` (Stripe keeps it on the intent,
    /// so its `payment_intent.canceled` event says who cancelled); cancelling one already
    /// cancelled is fine.
    pub async fn cancel_intent(&self, intent_id: &str, reason: CancelReason) -> Result<(), PaymentError> {
        let key = idempotency_key(&format!("{intent_id}-cancel"))?;
        let reason = match reason {
            CancelReason::Customer => CancelPaymentIntentCancellationReason::RequestedByCustomer,
            CancelReason::Abandoned => CancelPaymentIntentCancellationReason::Abandoned,
        };
        let result = CancelPaymentIntent::new(intent_id)
            .cancellation_reason(reason)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

impl PaymentGateway {
    /// A PaymentIntent as Stripe has it now (what a browser needs to pay it again).
    pub async fn retrieve_intent(&self, intent_id: &str) -> Result<Intent, PaymentError> {
        let intent = RetrievePaymentIntent::new(intent_id).send(&self.client).await?;
        Ok(Intent {
            id: intent.id.to_string(),
            client_secret: intent.client_secret.unwrap_or_default(),
            status: intent.status.to_string(),
        })
    }

    /// Refunds `amount` (all that is left when `None`) of a PaymentIntent, once per `key`.
    pub async fn refund(&self, intent_id: &str, amount: Option<i64>, key: &str) -> Result<String, PaymentError> {
        let mut request = CreateRefund::new().payment_intent(intent_id);
        if let Some(amount) = amount {
            request = request.amount(amount);
        }
        let refund = request
            .customize()
            .request_strategy(RequestStrategy::Idempotent(idempotency_key(key)?))
            .send(&self.client)
            .await?;
        Ok(refund.id.to_string())
    }
}

fn idempotency_key(text: &str) -> Result<IdempotencyKey, PaymentError> {
    IdempotencyKey::new(text).map_err(|e| PaymentError::Refused(format!("idempotency key: {e}")))
}
