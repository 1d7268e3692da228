//! The handlers the local gateway hosts, by the Cargo binary name the template gives each
//! function. A new function is one line here and its routes in template.yaml.

use shop_platform::config::{ConfigError, Env};
use shop_platform::{HttpFunction, QueueFunction, ScheduledFunction};
use std::sync::Arc;

/// A hosted function, by the kind of event it takes.
#[derive(Clone)]
pub enum Hosted {
    /// Takes API Gateway HTTP requests.
    Http(Arc<dyn HttpFunction>),
    /// Takes SQS batches.
    Queue(Arc<dyn QueueFunction>),
    /// Takes both (one Lambda function with HTTP routes and queue triggers).
    Both(Arc<dyn HttpFunction>, Arc<dyn QueueFunction>),
    /// Runs on a schedule.
    Scheduled(Arc<dyn ScheduledFunction>),
}

/// Why a function could not be hosted.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The template names a binary the gateway does not know.
    #[error("the gateway does not know the binary {0}; add it to infra/src/functions.rs")]
    Unknown(String),
    /// The function's configuration is incomplete.
    #[error("{binary}: {error}")]
    Config {
        /// The binary.
        binary: String,
        /// What is missing.
        error: ConfigError,
    },
}

/// Builds the handler of `binary` the way its `main.rs` does, from its own environment.
pub async fn host(binary: &str, env: &Env, sdk: &aws_config::SdkConfig) -> Result<Hosted, HostError> {
    let config = |error| HostError::Config {
        binary: binary.to_owned(),
        error,
    };
    Ok(match binary {
        "browse" => Hosted::Http(Arc::new(browse::Browse::from_env(env, sdk).map_err(config)?)),
        "admin" => Hosted::Http(Arc::new(admin::Admin::from_env(env, sdk).await.map_err(config)?)),
        "cart" => Hosted::Http(Arc::new(cart::CartApi::from_env(env, sdk).map_err(config)?)),
        "checkout" => Hosted::Http(Arc::new(checkout::Checkout::from_env(env, sdk).await.map_err(config)?)),
        "payment-webhook" => Hosted::Http(Arc::new(
            payment_webhook::PaymentWebhook::from_env(env, sdk)
                .await
                .map_err(config)?,
        )),
        "orders" => Hosted::Http(Arc::new(orders::Orders::from_env(env, sdk).await.map_err(config)?)),
        "reservation-expiry" => Hosted::Queue(Arc::new(
            reservation_expiry::ReservationExpiry::from_env(env, sdk)
                .await
                .map_err(config)?,
        )),
        "fulfillment-worker" => Hosted::Queue(Arc::new(
            fulfillment_worker::FulfillmentWorker::from_env(env, sdk).map_err(config)?,
        )),
        "email-sender" => Hosted::Queue(Arc::new(email_sender::EmailSender::from_env(env, sdk).map_err(config)?)),
        "email-campaign" => {
            let campaign = Arc::new(email_campaign::EmailCampaign::from_env(env, sdk).map_err(config)?);
            Hosted::Both(campaign.clone(), campaign)
        }
        "storefront" => Hosted::Http(Arc::new(
            storefront::Storefront::from_env(env, sdk).await.map_err(config)?,
        )),
        "console" => Hosted::Http(Arc::new(console::Console::from_env(env, sdk).await.map_err(config)?)),
        "sweeper" => Hosted::Scheduled(Arc::new(sweeper::Sweeper::from_env(env, sdk).await.map_err(config)?)),
        other => return Err(HostError::Unknown(other.to_owned())),
    })
}
