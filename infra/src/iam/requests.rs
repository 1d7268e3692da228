//! What IAM authorizes for one AWS API call, as the Rust AWS SDK sends it: DynamoDB and SSM as
//! AWS JSON (`X-Amz-Target`), SQS as AWS JSON or the older query protocol, SES v2 and S3
//! (path-style) as REST.
//! Calls the local stack cannot classify are errors, so nothing passes unchecked.

mod cognito;
mod dynamodb;
mod s3;
mod ses;
mod sqs;
mod ssm;

pub use cognito::PUBLIC_OPERATIONS as COGNITO_PUBLIC_OPERATIONS;

use super::Access;
use percent_encoding::percent_decode_str;
use serde_json::Value as Json;
use std::collections::HashMap;

/// Why the accesses of a request cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A service (signing name) this check does not know.
    #[error("requests to {service} are not classified by the local IAM check")]
    UnknownService {
        /// The signing name, e.g. `kinesis`.
        service: String,
    },
    /// An operation of a known service that this check does not classify.
    #[error("{service} {operation} is not classified by the local IAM check")]
    Unsupported {
        /// The service.
        service: String,
        /// The operation, or the method and path of a REST call.
        operation: String,
    },
    /// A request that lacks what IAM's resource is made from.
    #[error("{service} {operation}: {reason}")]
    Malformed {
        /// The service.
        service: String,
        /// The operation.
        operation: String,
        /// What is missing or wrong.
        reason: String,
    },
}

/// The accesses IAM checks for one call to `service` (its SigV4 signing name: `dynamodb`,
/// `sqs`, `ses`, `ssm`, `s3`), each of which must be allowed, with resource ARNs in `region` and
/// `account`. `target` is the `X-Amz-Target` header, `path` the request path with its query
/// string (which only S3 reads: its subresources are operations of their own).
pub fn accesses(
    service: &str,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &[u8],
    region: &str,
    account: &str,
) -> Result<Vec<Access>, RequestError> {
    let arns = Arns { region, account };
    match service {
        "dynamodb" => dynamodb::accesses(&arns, target, body),
        "sqs" => sqs::accesses(&arns, target, body),
        "ssm" => ssm::accesses(&arns, target, body),
        "ses" => ses::accesses(&arns, method, path, body),
        "s3" => s3::accesses(method, path),
        "cognito-idp" => cognito::accesses(&arns, target, body),
        other => Err(RequestError::UnknownService {
            service: other.to_owned(),
        }),
    }
}

/// The ARNs of the local account's resources.
struct Arns<'a> {
    region: &'a str,
    account: &'a str,
}

impl Arns<'_> {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account)
    }

    /// A table's ARN from a `TableName`, which may itself be an ARN.
    fn table(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            name.to_owned()
        } else {
            self.arn("dynamodb", &format!("table/{name}"))
        }
    }
}

/// One operation's request body, and the words for its errors.
struct Call {
    service: &'static str,
    operation: String,
    fields: Fields,
}

/// The parameters of a request: a JSON body, or the form of the query protocol.
enum Fields {
    Json(Json),
    Form(HashMap<String, String>),
}

impl Call {
    fn json(service: &'static str, operation: &str, body: &[u8]) -> Result<Self, RequestError> {
        let fields = if body.iter().all(u8::is_ascii_whitespace) {
            Json::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(body).map_err(|e| RequestError::Malformed {
                service: service.to_owned(),
                operation: operation.to_owned(),
                reason: format!("the body is not JSON: {e}"),
            })?
        };
        Ok(Self {
            service,
            operation: operation.to_owned(),
            fields: Fields::Json(fields),
        })
    }

    fn malformed(&self, reason: impl Into<String>) -> RequestError {
        RequestError::Malformed {
            service: self.service.to_owned(),
            operation: self.operation.clone(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self) -> RequestError {
        RequestError::Unsupported {
            service: self.service.to_owned(),
            operation: self.operation.clone(),
        }
    }

    /// The JSON body (for protocols that have one).
    fn body(&self) -> &Json {
        static EMPTY: Json = Json::Null;
        match &self.fields {
            Fields::Json(json) => json,
            Fields::Form(_) => &EMPTY,
        }
    }

    fn text(&self, name: &str) -> Option<&str> {
        match &self.fields {
            Fields::Json(json) => json.get(name).and_then(Json::as_str),
            Fields::Form(form) => form.get(name).map(String::as_str),
        }
    }

    fn required(&self, name: &str) -> Result<&str, RequestError> {
        self.text(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| self.malformed(format!("no {name}")))
    }
}

/// The operation an AWS JSON `X-Amz-Target` (`<prefix>.<Operation>`) names.
fn operation<'a>(service: &'static str, target: Option<&'a str>, prefix: &str) -> Result<&'a str, RequestError> {
    let target = target.ok_or_else(|| RequestError::Malformed {
        service: service.to_owned(),
        operation: "?".to_owned(),
        reason: "no X-Amz-Target header".to_owned(),
    })?;
    match target.split_once('.') {
        Some((p, operation)) if p == prefix && !operation.is_empty() => Ok(operation),
        _ => Err(RequestError::Unsupported {
            service: service.to_owned(),
            operation: target.to_owned(),
        }),
    }
}

/// A call of the query protocol: a form body whose `Action` names the operation.
fn query_call(service: &'static str, body: &[u8]) -> Result<Call, RequestError> {
    let malformed = |reason: String| RequestError::Malformed {
        service: service.to_owned(),
        operation: "?".to_owned(),
        reason,
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed("the form body is not UTF-8".into()))?;
    let decode = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let form: HashMap<String, String> = text
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect();
    let action = form
        .get("Action")
        .cloned()
        .ok_or_else(|| malformed("neither an X-Amz-Target header nor an Action in the body".into()))?;
    Ok(Call {
        service,
        operation: action,
        fields: Fields::Form(form),
    })
}

#[cfg(test)]
mod tests;
