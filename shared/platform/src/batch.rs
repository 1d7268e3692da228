//! SQS consumers as Lambda runs them: a batch of messages in, the ids of the failed ones out
//! (`ReportBatchItemFailures`), so one bad message never makes its neighbours run again.

use crate::messages::Message;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::fmt::Display;
use std::future::Future;
use tracing::Instrument;

/// The message attribute that carries the order (or cart) id across queues into logs.
pub const CORRELATION_ID: &str = "correlation_id";
/// The message attribute that carries the id of the HTTP request that started the work.
pub const REQUEST_ID: &str = "request_id";

/// What follows a piece of work from the request that started it through every queue: the
/// order id and the originating request id, in message attributes and in every log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The order (or cart) the work is about.
    pub correlation_id: String,
    /// The HTTP request (API Gateway request id) that started it.
    pub request_id: String,
}

impl Trace {
    /// Work about `correlation_id` started by request `request_id`.
    pub fn new(correlation_id: impl Into<String>, request_id: impl Into<String>) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            request_id: request_id.into(),
        }
    }

    /// The trace a message carries; `-` for what it lacks.
    pub fn of(message: &SqsMessage) -> Self {
        let attribute = |name| {
            message
                .message_attributes
                .get(name)
                .and_then(|attribute| attribute.string_value.clone())
                .unwrap_or_else(|| "-".to_owned())
        };
        Self::new(attribute(CORRELATION_ID), attribute(REQUEST_ID))
    }
}

/// Reads every message of the batch as an `M` and runs `handle_one` on each at once, with the
/// trace it carries; reports the ids of those that failed. A body that is not an `M` is a failure
/// of that message alone, logged as such (retried, then dead-lettered). Each message runs in a
/// span with its id and correlation id.
pub async fn process_batch<M, F, Fut, E>(event: SqsEvent, handle_one: F) -> SqsBatchResponse
where
    M: Message,
    F: Fn(M, Trace) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let runs = event.records.into_iter().map(|message| {
        let message_id = message.message_id.clone().unwrap_or_default();
        let trace = Trace::of(&message);
        let span = tracing::info_span!(
            "message",
            message_id = %message_id,
            correlation_id = %trace.correlation_id,
            request_id = %trace.request_id,
        );
        let run = M::parse(message.body.as_deref().unwrap_or_default()).map(|body| handle_one(body, trace));
        async move {
            let outcome = match run {
                Ok(run) => run.await.map_err(|error| error.to_string()),
                Err(unreadable) => Err(format!("the body is not a {}: {unreadable}", M::NAME)),
            };
            match outcome {
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

    /// A message of the tests: a body that reads `ok` or `fail`.
    #[derive(Debug, PartialEq)]
    struct Word(String);

    impl Message for Word {
        const NAME: &'static str = "word";

        fn parse(body: &str) -> Result<Self, String> {
            match body {
                "ok" | "fail" => Ok(Self(body.to_owned())),
                other => Err(format!("{other:?} is no word")),
            }
        }
    }

    #[tokio::test]
    async fn only_the_messages_that_failed_or_did_not_read_are_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m1", "ok"),
            message("m2", "poison"),
            message("m3", "ok"),
            message("m4", "fail"),
        ];
        let response = process_batch(event, |word: Word, _trace| async move {
            match word.0.as_str() {
                "ok" => Ok(()),
                _ => Err("the handler failed"),
            }
        })
        .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m2", "m4"]);
    }

    #[test]
    fn a_message_names_its_order_and_originating_request() {
        let mut message = message("m1", "ok");
        for (name, value) in [(CORRELATION_ID, "order-1"), (REQUEST_ID, "req-1")] {
            let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
            attribute.string_value = Some(value.to_owned());
            attribute.data_type = Some("String".to_owned());
            message.message_attributes.insert(name.to_owned(), attribute);
        }
        assert_eq!(Trace::of(&message), Trace::new("order-1", "req-1"));
        assert_eq!(Trace::of(&SqsMessage::default()), Trace::new("-", "-"));
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_reports_nothing() {
        let mut event = SqsEvent::default();
        event.records = vec![message("m1", "ok")];
        let response = process_batch(event, |_: Word, _| async { Ok::<(), String>(()) }).await;
        assert!(response.batch_item_failures.is_empty());
    }
}
