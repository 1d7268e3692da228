//! The local event source mapping: polls a queue and feeds its function batches, as Lambda
//! does. Messages the function reports as failed (or all of them, when it does not report
//! partial failures and anything failed) stay on the queue, become visible again after the
//! visibility timeout, and reach the dead-letter queue after `maxReceiveCount`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Map, Value, json};
use shop_platform::QueueFunction;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// One queue and the function it triggers.
pub struct Mapping {
    /// The queue's URL.
    pub queue_url: String,
    /// The queue's ARN, as the event names it.
    pub queue_arn: String,
    /// Most messages in one batch (at most 10 per receive here).
    pub batch_size: i32,
    /// Whether the function reports partial batch failures.
    pub report_failures: bool,
    /// The function.
    pub function: Arc<dyn QueueFunction>,
}

/// The SQS event Lambda would hand the function for these messages.
pub fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: Map<String, Value> = message
                .attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
                .collect();
            let message_attributes: Map<String, Value> = message
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        json!({"stringValue": value.string_value(), "dataType": value.data_type()}),
                    )
                })
                .collect();
            json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "md5OfBody": message.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
}

/// The ids of messages to delete after a batch: all but the reported failures.
pub fn settled(messages: &[Message], response: &SqsBatchResponse, report_failures: bool) -> Vec<String> {
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    if !report_failures && !failed.is_empty() {
        return Vec::new();
    }
    messages
        .iter()
        .filter_map(Message::message_id)
        .filter(|id| !failed.contains(id))
        .map(str::to_owned)
        .collect()
}

/// The pause after a receive that found nothing. moto answers a long poll at once while any
/// message is in flight, so without it each poller would ask ~30 times a second.
const IDLE_PAUSE: Duration = Duration::from_millis(200);

/// Polls the queue forever, one batch at a time.
pub async fn run(client: aws_sdk_sqs::Client, mapping: Mapping, region: String) {
    loop {
        match poll_once(&client, &mapping, &region).await {
            Ok(0) => tokio::time::sleep(IDLE_PAUSE).await,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(queue = %mapping.queue_url, error = %error, "polling failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Receives one batch and hands it to the function: how many messages it received.
async fn poll_once(client: &aws_sdk_sqs::Client, mapping: &Mapping, region: &str) -> Result<usize, String> {
    let received = client
        .receive_message()
        .queue_url(&mapping.queue_url)
        .max_number_of_messages(mapping.batch_size.clamp(1, 10))
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(&messages, &mapping.queue_arn, region).map_err(|e| e.to_string())?;
    let response = mapping.function.handle_batch(event).await;
    let done = settled(&messages, &response, mapping.report_failures);
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| done.iter().any(|d| d == id)))
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle()?)
                .build()
                .ok()
        })
        .collect();
    if !entries.is_empty() {
        client
            .delete_message_batch()
            .queue_url(&mapping.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
    }
    Ok(messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body("{}")
            .build()
    }

    fn failing(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.set_failures(ids.iter().copied());
        response
    }

    #[test]
    fn reported_failures_stay_on_the_queue() {
        let messages = [message("a"), message("b"), message("c")];
        assert_eq!(settled(&messages, &failing(&["b"]), true), ["a", "c"]);
    }

    #[test]
    fn without_partial_reports_one_failure_returns_the_whole_batch() {
        let messages = [message("a"), message("b")];
        assert!(settled(&messages, &failing(&["b"]), false).is_empty());
        assert_eq!(settled(&messages, &failing(&[]), false), ["a", "b"]);
    }

    #[test]
    fn the_event_carries_ids_bodies_and_the_queue() {
        let event = sqs_event(&[message("a")], "arn:aws:sqs:us-east-1:1:q", "us-east-1").unwrap();
        let record = &event.records[0];
        assert_eq!(record.message_id.as_deref(), Some("a"));
        assert_eq!(record.receipt_handle.as_deref(), Some("rh-a"));
        assert_eq!(record.event_source_arn.as_deref(), Some("arn:aws:sqs:us-east-1:1:q"));
    }
}
