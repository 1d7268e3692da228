//! Sending work to the next step over SQS, with the correlation id that follows it into logs.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use serde::Serialize;
use shop_platform::batch::{CORRELATION_ID, REQUEST_ID, Trace};

/// A failure to enqueue.
#[derive(Debug, thiserror::Error)]
#[error("the queue refused the message: {0}")]
pub struct QueueError(String);

impl From<QueueError> for shop_platform::ApiError {
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

    /// Its address.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// About how many messages wait in it (SQS's `ApproximateNumberOfMessages`): one
    /// GetQueueAttributes.
    pub async fn waiting(&self) -> Result<u64, QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(output
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    .cloned()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Sends every message as JSON at once (up to ten to a request), carrying `trace`. Fails if
    /// any message was not taken; sending them all again is the caller's retry.
    pub async fn send_all<T: Serialize>(&self, messages: &[T], trace: &Trace) -> Result<(), QueueError> {
        for chunk in messages.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, message) in chunk.iter().enumerate() {
                let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_attributes(CORRELATION_ID, attribute(&trace.correlation_id)?)
                    .message_attributes(REQUEST_ID, attribute(&trace.request_id)?)
                    .build()
                    .map_err(|e| QueueError(e.to_string()))?;
                entries.push(entry);
            }
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
            if let Some(failed) = output.failed.first() {
                return Err(QueueError(format!(
                    "{} of {} messages refused: {}",
                    output.failed.len(),
                    chunk.len(),
                    failed.message.as_deref().unwrap_or(&failed.code)
                )));
            }
        }
        Ok(())
    }

    /// Sends `message` as JSON, visible after `delay_seconds` (at most 900), carrying `trace`.
    pub async fn send<T: Serialize>(&self, message: &T, delay_seconds: u32, trace: &Trace) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
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

fn attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError(e.to_string()))
}
