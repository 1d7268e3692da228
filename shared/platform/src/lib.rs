//! What every function of the shop stands on: the HTTP edge (problem+json, request parsing,
//! caching headers), configuration read once at start, tracing, the DynamoDB catalog adapter,
//! and the SQS batch helper.

pub mod aws;
pub mod batch;
pub mod cart_store;
pub mod catalog_store;
pub mod clock;
pub mod config;
pub mod customer_store;
pub mod discount_store;
pub mod dynamo;
pub mod edge;
pub mod fulfillment_store;
pub mod keys;
pub mod logging;
pub mod mail;
pub mod marketing_store;
pub mod messages;
pub mod order_store;
pub mod payment_events;
pub mod payments;
pub mod problem;
pub mod queue;
pub mod rate_limits;
pub mod returns_store;
pub mod secrets;
pub mod support_store;

pub use problem::ApiError;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use lambda_http::{Body, Request, Response};

/// A function that answers HTTP API requests: what Lambda runs and the local gateway hosts.
pub trait HttpFunction: Send + Sync {
    /// Answers one request; errors are already problem+json responses.
    fn handle(&self, request: Request) -> BoxFuture<'_, Response<Body>>;
}

/// A function that consumes an SQS queue with partial batch failures.
pub trait QueueFunction: Send + Sync {
    /// Processes one batch and names the messages that failed.
    fn handle_batch(&self, event: SqsEvent) -> BoxFuture<'_, SqsBatchResponse>;
}
