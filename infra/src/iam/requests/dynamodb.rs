//! DynamoDB (AWS JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`): tables, their indexes,
//! and the per-item actions a batch or transaction is checked as.

use super::{Arns, Call, RequestError, operation};
use crate::iam::Access;
use serde_json::Value as Json;

/// The accesses of one DynamoDB call, the operation named by `target`.
pub(super) fn accesses(arns: &Arns, target: Option<&str>, body: &[u8]) -> Result<Vec<Access>, RequestError> {
    let operation = operation("dynamodb", target, "DynamoDB_20120810")?;
    let call = Call::json("dynamodb", operation, body)?;
    let on_table = |action: &str| -> Result<Vec<Access>, RequestError> {
        Ok(vec![Access::new(
            format!("dynamodb:{action}"),
            arns.table(call.required("TableName")?),
        )])
    };
    match operation {
        "GetItem"
        | "PutItem"
        | "UpdateItem"
        | "DeleteItem"
        | "DescribeTable"
        | "CreateTable"
        | "DeleteTable"
        | "UpdateTable"
        | "DescribeTimeToLive"
        | "UpdateTimeToLive"
        | "DescribeContinuousBackups"
        | "UpdateContinuousBackups" => on_table(operation),
        "Query" | "Scan" => {
            let table = arns.table(call.required("TableName")?);
            let resource = match call.text("IndexName") {
                Some(index) => format!("{table}/index/{index}"),
                None => table,
            };
            Ok(vec![Access::new(format!("dynamodb:{operation}"), resource)])
        }
        // IAM has actions for the batches themselves, checked on every table they touch.
        "BatchGetItem" | "BatchWriteItem" => {
            let tables = call
                .body()
                .get("RequestItems")
                .and_then(Json::as_object)
                .filter(|items| !items.is_empty())
                .ok_or_else(|| call.malformed("no RequestItems"))?;
            Ok(tables
                .keys()
                .map(|table| Access::new(format!("dynamodb:{operation}"), arns.table(table)))
                .collect())
        }
        // IAM has no transaction actions: each item is checked as the single-item operation.
        "TransactWriteItems" | "TransactGetItems" => {
            let items = call
                .body()
                .get("TransactItems")
                .and_then(Json::as_array)
                .filter(|items| !items.is_empty())
                .ok_or_else(|| call.malformed("no TransactItems"))?;
            let mut accesses = Vec::new();
            for item in items {
                let kinds: &[(&str, &str)] = if operation == "TransactGetItems" {
                    &[("Get", "GetItem")]
                } else {
                    &[
                        ("Put", "PutItem"),
                        ("Update", "UpdateItem"),
                        ("Delete", "DeleteItem"),
                        ("ConditionCheck", "ConditionCheckItem"),
                    ]
                };
                let (action, table) = kinds
                    .iter()
                    .find_map(|(kind, action)| {
                        let table = item.get(*kind)?.get("TableName")?.as_str()?;
                        Some((*action, table))
                    })
                    .ok_or_else(|| call.malformed(format!("a transaction item without a table: {item}")))?;
                let access = Access::new(format!("dynamodb:{action}"), arns.table(table));
                if !accesses.contains(&access) {
                    accesses.push(access);
                }
            }
            Ok(accesses)
        }
        "ListTables" | "DescribeLimits" | "DescribeEndpoints" => {
            Ok(vec![Access::new(format!("dynamodb:{operation}"), "*")])
        }
        "TagResource" | "UntagResource" | "ListTagsOfResource" => Ok(vec![Access::new(
            format!("dynamodb:{operation}"),
            call.required("ResourceArn")?,
        )]),
        // PartiQL is authorized per statement kind (dynamodb:PartiQLSelect, …); not classified.
        _ => Err(call.unsupported()),
    }
}
