//! SQS (AWS JSON 1.0 `AmazonSQS.<Operation>`, or the older query protocol): the queue a URL or
//! name points at, batches checked as their single-message actions.

use super::{Arns, Call, RequestError, operation, query_call};
use crate::iam::Access;

/// The accesses of one SQS call: AWS JSON when `target` is given, else the query protocol.
pub(super) fn accesses(arns: &Arns, target: Option<&str>, body: &[u8]) -> Result<Vec<Access>, RequestError> {
    let call = match target {
        Some(_) => Call::json("sqs", operation("sqs", target, "AmazonSQS")?, body)?,
        None => query_call("sqs", body)?,
    };
    let operation = call.operation.as_str();
    // The batch operations are authorized as their single-message actions.
    let action = match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let access = |resource: String| Ok(vec![Access::new(format!("sqs:{action}"), resource)]);
    match operation {
        "SendMessage"
        | "SendMessageBatch"
        | "ReceiveMessage"
        | "DeleteMessage"
        | "DeleteMessageBatch"
        | "ChangeMessageVisibility"
        | "ChangeMessageVisibilityBatch"
        | "GetQueueAttributes"
        | "SetQueueAttributes"
        | "DeleteQueue"
        | "PurgeQueue"
        | "ListQueueTags"
        | "TagQueue"
        | "UntagQueue"
        | "ListDeadLetterSourceQueues"
        | "AddPermission"
        | "RemovePermission" => {
            let url = call.required("QueueUrl")?;
            // The queue is the last segment of the URL's path, whatever host serves it.
            let name = url
                .split(['?', '#'])
                .next()
                .and_then(|url| url.split_once("://"))
                .and_then(|(_, authority_and_path)| authority_and_path.split_once('/'))
                .and_then(|(_, path)| path.trim_end_matches('/').rsplit('/').next())
                .filter(|name| !name.is_empty())
                .ok_or_else(|| call.malformed(format!("QueueUrl {url:?} names no queue")))?;
            access(arns.arn("sqs", name))
        }
        "GetQueueUrl" | "CreateQueue" => {
            let name = call.required("QueueName")?;
            let account = call.text("QueueOwnerAWSAccountId").unwrap_or(arns.account);
            access(format!("arn:aws:sqs:{}:{account}:{name}", arns.region))
        }
        "ListQueues" => access("*".to_owned()),
        _ => Err(call.unsupported()),
    }
}
