//! What every function of the shop stands on: the HTTP edge (problem+json, request parsing,
//! caching headers), the SQS batch helper and the messages it carries, configuration read once
//! at start, the AWS SDK's setup, tracing, and the shop's keys and tokens. The adapters are
//! `shop-store` (DynamoDB) and `shop-services` (SQS, Stripe, SES).

pub mod aws;
pub mod batch;
pub mod browser;
pub mod clock;
pub mod config;
pub mod edge;
pub mod https;
pub mod in_process;
pub mod keys;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod problem;
pub mod s3_object;
pub mod s3_post;
pub mod secrets;

pub use problem::ApiError;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use lambda_http::{Body, Request, Response};

/// A function that answers HTTP API requests: what Lambda runs and the local gateway hosts.
pub trait HttpFunction: Send + Sync {
    /// Answers one request; errors are already problem+json responses.
    fn handle(&self, request: Request) -> BoxFuture<'_, Response<Body>>;
}

/// A function an EventBridge schedule invokes with the schedule's event (its `Input`, when the
/// template gives one); it answers what it did.
pub trait ScheduledFunction: Send + Sync {
    /// One run.
    fn run<'a>(&'a self, event: &'a serde_json::Value) -> BoxFuture<'a, serde_json::Value>;
}

/// A function that consumes an SQS queue with partial batch failures.
pub trait QueueFunction: Send + Sync {
    /// Processes one batch and names the messages that failed.
    fn handle_batch(&self, event: SqsEvent) -> BoxFuture<'_, SqsBatchResponse>;
}
