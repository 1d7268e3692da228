//! Sending work to the next step over SQS, with the correlation id that follows it into logs.

use crate::batch::{CORRELATION_ID, REQUEST_ID, Trace};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde::Serialize;

/// A failure to enqueue.
#[derive(Debug, thiserror::Error)]
#[error("the queue refused the message: {0}")]
pub struct QueueError(String);

impl From<QueueError> for crate::ApiError {
    fn from(error: QueueError) -> Self {
        Self::Upstream {
            service: "the shop's queue",
            cause: error.0,
        }
    }
}

/// One queue.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    /// The queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends `message` as JSON, visible after `delay_seconds` (at most 900), carrying `trace`.
    pub async fn send<T: Serialize>(&self, message: &T, delay_seconds: u32, trace: &Trace) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| QueueError(e.to_string()))
        };
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds.min(900) as i32)
            .message_attributes(CORRELATION_ID, attribute(&trace.correlation_id)?)
            .message_attributes(REQUEST_ID, attribute(&trace.request_id)?)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
