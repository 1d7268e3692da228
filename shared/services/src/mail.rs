//! Transactional mail as a queue of requests: any step asks for a mail about an order by
//! sending a [`MailRequest`] to the email queue; the email-sender renders and sends it, once
//! (see `shop_store::mail_log`).

use crate::queue::{Queue, QueueError};
use serde::Deserialize;
use shop_platform::batch::Trace;
use shop_platform::config::{ConfigError, Env};
use shop_platform::messages::MailRequest;

#[derive(Deserialize)]
struct MailerSettings {
    email_queue_url: String,
}

/// Asks for mails: the email queue, from any step.
#[derive(Debug, Clone)]
pub struct Mailer {
    queue: Queue,
}

impl Mailer {
    /// The mailer for `EMAIL_QUEUE_URL`.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let settings: MailerSettings = env.parse()?;
        Ok(Self::new(Queue::new(
            aws_sdk_sqs::Client::new(sdk),
            settings.email_queue_url,
        )))
    }

    /// The mailer sending to `queue`.
    pub fn new(queue: Queue) -> Self {
        Self { queue }
    }

    /// Asks for every mail in `requests` (one SQS request for up to ten), carrying `trace`.
    /// Asking for a mail twice is harmless.
    pub async fn request(&self, requests: &[MailRequest], trace: &Trace) -> Result<(), QueueError> {
        if requests.is_empty() {
            return Ok(());
        }
        self.queue.send_all(requests, trace).await
    }
}
