//! SQS consumers as Lambda runs them: a batch of messages in, the ids of the failed ones out
//! (`ReportBatchItemFailures`), so one bad message never makes its neighbours run again.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::fmt::Display;
use std::future::Future;
use tracing::Instrument;

/// The message attribute that carries a request or order id across queues into logs.
pub const CORRELATION_ID: &str = "correlation_id";

/// The correlation id a message carries, if any.
pub fn correlation_id(message: &SqsMessage) -> Option<&str> {
    message
        .message_attributes
        .get(CORRELATION_ID)
        .and_then(|attribute| attribute.string_value.as_deref())
}

/// Runs `handle_one` on every message of the batch at once and reports the ids of those
/// that failed. Each message runs in a span with its id and correlation id.
pub async fn process_batch<F, Fut, E>(event: SqsEvent, handle_one: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let runs = event.records.into_iter().map(|message| {
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "message",
            message_id = %message_id,
            correlation_id = correlation_id(&message).unwrap_or("-"),
        );
        let run = handle_one(message);
        async move {
            match run.await {
                Ok(()) => None,
                Err(error) => {
                    tracing::error!(error = %error, "message failed; it will be retried");
                    Some(message_id)
                }
            }
        }
        .instrument(span)
    });
    let mut response = SqsBatchResponse::default();
    response.set_failures(futures::future::join_all(runs).await.into_iter().flatten());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(body.to_owned());
        message
    }

    #[tokio::test]
    async fn only_the_messages_that_failed_are_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![message("m1", "ok"), message("m2", "poison"), message("m3", "ok")];
        let response = process_batch(event, |message| async move {
            match message.body.as_deref() {
                Some("ok") => Ok(()),
                _ => Err("cannot read the body"),
            }
        })
        .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m2"]);
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_reports_nothing() {
        let mut event = SqsEvent::default();
        event.records = vec![message("m1", "ok")];
        let response = process_batch(event, |_| async { Ok::<(), String>(()) }).await;
        assert!(response.batch_item_failures.is_empty());
    }
}
