//! SSM Parameter Store (AWS JSON 1.1, `AmazonSSM.<Operation>`): the parameters named.

use super::{Arns, Call, RequestError, operation};
use crate::iam::Access;
use serde_json::Value as Json;

/// The accesses of one SSM call, the operation named by `target`.
pub(super) fn accesses(arns: &Arns, target: Option<&str>, body: &[u8]) -> Result<Vec<Access>, RequestError> {
    let operation = operation("ssm", target, "AmazonSSM")?;
    let call = Call::json("ssm", operation, body)?;
    let action = format!("ssm:{operation}");
    match operation {
        "GetParameter"
        | "PutParameter"
        | "DeleteParameter"
        | "GetParameterHistory"
        | "LabelParameterVersion"
        | "UnlabelParameterVersion" => Ok(vec![Access::new(action, parameter(arns, call.required("Name")?))]),
        "GetParametersByPath" => Ok(vec![Access::new(action, parameter(arns, call.required("Path")?))]),
        "GetParameters" | "DeleteParameters" => {
            let names = call
                .body()
                .get("Names")
                .and_then(Json::as_array)
                .filter(|names| !names.is_empty())
                .ok_or_else(|| call.malformed("no Names"))?;
            names
                .iter()
                .map(|name| {
                    let name = name
                        .as_str()
                        .ok_or_else(|| call.malformed(format!("a name {name} that is no string")))?;
                    Ok(Access::new(action.clone(), parameter(arns, name)))
                })
                .collect()
        }
        "DescribeParameters" => Ok(vec![Access::new(action, "*")]),
        _ => Err(call.unsupported()),
    }
}

/// A parameter's ARN from its name (`/a/b`, `a`, an ARN; a `:version` or `:label` selector
/// dropped, as IAM sees the parameter itself).
fn parameter(arns: &Arns, name: &str) -> String {
    if name.starts_with("arn:") {
        // arn:aws:ssm:region:account:parameter/name[:selector]
        let parts: Vec<&str> = name.splitn(7, ':').collect();
        return parts[..parts.len().min(6)].join(":");
    }
    let name = name.split(':').next().unwrap_or(name);
    if name.starts_with('/') {
        arns.arn("ssm", &format!("parameter{name}"))
    } else {
        arns.arn("ssm", &format!("parameter/{name}"))
    }
}
