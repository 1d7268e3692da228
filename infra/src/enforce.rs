//! IAM, enforced: the proxy every hosted function's AWS calls go through. Each function signs
//! with an access key of its own ([`access_key`]); the proxy reads the key and the service from
//! the request's SigV4 `Authorization` header, asks the function's policies (from template.yaml,
//! [`crate::iam`]) for every access the call needs, and forwards the call to the emulator only
//! when all are allowed. Otherwise it answers as AWS does (`AccessDeniedException`, in the
//! service's own error shape) and logs `access denied` with the function, action and resource.
//!
//! S3's browser side goes through it too, as the page's uploads reach "the bucket" here: a
//! bucket's CORS (preflights, and the headers on answers to an allowed origin) and the POST
//! Object upload of a presigned form, whose policy and signature are checked as S3 checks them
//! ([`crate::post_object`]) and whose key must be one the signing function may `s3:PutObject`;
//! moto then stores it as a PutObject.
//!
//! It also records the calls it forwards when asked, with moto's recorder routes
//! (`POST /moto-api/recorder/{start,stop,reset}-recording`, `GET .../download-recording`), so that
//! a benchmark can count a shop operation's AWS requests by the function that made them.
//!
//! And it fails or slows down the calls a test asks it to (`/shop-faults/rules`,
//! [`crate::faults`]), after the policies allowed them, as AWS would.

use crate::faults::{self, Faults, When};
use crate::iam::{self, Access, Policy};
use crate::post_object::{self, BucketCors};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

/// What of an object key is sent as it is in a path (the rest percent-encoded).
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The largest AWS request the proxy takes (an SQS batch or a DynamoDB batch is far below).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The header a test sets on a call it expects to be denied, so that the denial is not
/// counted as a defect of the run.
pub const EXPECTED_DENIAL_HEADER: &str = "x-shop-expect-denial";

/// The access key id the function `logical_id` signs with locally.
pub fn access_key(logical_id: &str) -> String {
    format!("LOCAL{logical_id}")
}

/// The SDK configuration of one hosted function: `sdk`, with its calls sent to the proxy at
/// `proxy_url` and signed with the function's own credentials.
pub fn function_sdk(sdk: &aws_config::SdkConfig, proxy_url: &str, logical_id: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_credential_types::Credentials::new(access_key(logical_id), "local-secret", None, None, "shop-local");
    let mut builder =
        sdk.to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                credentials,
            ));
    builder.set_endpoint_url(Some(proxy_url.to_owned()));
    // Set in code, the endpoint wins over the AWS_ENDPOINT_URL_<SERVICE> variables, which name
    // the emulators themselves.
    builder.insert_origin("endpoint_url", aws_types::origin::Origin::shared_config());
    builder.build()
}

/// A function the proxy knows: its name and its policies.
pub struct Principal {
    /// The function's logical id.
    pub function: String,
    /// What its policies allow.
    pub policy: Policy,
}

/// One forwarded call, as the recorder keeps it.
#[derive(serde::Serialize)]
struct Recorded {
    function: String,
    service: String,
    method: String,
    url: String,
    headers: HashMap<String, String>,
    body: String,
}

/// The proxy: who signs with which key, and where each service's emulator listens.
pub struct Enforcer {
    principals: HashMap<String, Principal>,
    upstreams: HashMap<String, String>,
    region: String,
    account: String,
    recorder: Mutex<Recorder>,
    used: Mutex<HashSet<(String, Access)>>,
    /// Each bucket's CORS rules (template.yaml's `CorsConfiguration`), by local bucket name.
    cors: BucketCors,
    /// The faults tests asked for.
    faults: Faults,
}

/// The calls recorded since the last reset, and whether recording is on.
#[derive(Default)]
struct Recorder {
    on: bool,
    calls: Vec<Recorded>,
}

impl Enforcer {
    /// An enforcer for `principals` (by access key) in front of `upstreams` (emulator base URLs
    /// by SigV4 service name: `dynamodb`, `sqs`, `ses`, `ssm`, `s3`).
    pub fn new(
        principals: HashMap<String, Principal>,
        upstreams: HashMap<String, String>,
        region: &str,
        account: &str,
    ) -> Self {
        Self {
            principals,
            upstreams,
            region: region.to_owned(),
            account: account.to_owned(),
            recorder: Mutex::default(),
            used: Mutex::default(),
            cors: BucketCors::new(),
            faults: Faults::default(),
        }
    }

    /// The enforcer, answering browsers for the buckets of `cors` as their CORS rules say.
    pub fn with_bucket_cors(mut self, cors: BucketCors) -> Self {
        self.cors = cors;
        self
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let enforcer = Arc::clone(&self);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let enforcer = Arc::clone(&enforcer);
                    async move { Ok::<_, std::convert::Infallible>(enforcer.answer(request).await) }
                });
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %error, "proxy connection ended");
                }
            });
        }
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body: {error}")),
        };
        // A browser's request to a bucket with CORS rules: its origin and the bucket's rules.
        let cors = parts
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .and_then(|origin| {
                let bucket = parts.uri.path().trim_start_matches('/').split('/').next()?;
                Some((origin.to_owned(), self.cors.get(bucket)?))
            });
        if parts.method == Method::OPTIONS
            && let Some((_, rules)) = &cors
        {
            return post_object::preflight(rules, &parts.headers);
        }
        let method = parts.method.clone();
        let mut response = match post_object::is_post_object(&parts.method, parts.uri.path(), &parts.headers) {
            Some(bucket) if !parts.headers.contains_key(http::header::AUTHORIZATION) => {
                self.post_object(parts, body, &bucket).await
            }
            _ => self.call(parts, body).await,
        };
        if let Some((origin, rules)) = cors
            && let Some(rule) = post_object::cors_rule(rules, &origin, method.as_str(), &[])
        {
            post_object::allow(response.headers_mut(), &origin, rule);
        }
        response
    }

    /// A POST Object upload (a browser posting a presigned form to `/<bucket>`): stored, as a
    /// PutObject, only when the form passes S3's checks ([`post_object::verify`]) and the
    /// function that signed it may put that key; answered `204`, as S3 does by default.
    async fn post_object(&self, parts: http::request::Parts, body: Bytes, bucket: &str) -> Response<Full<Bytes>> {
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let form = match post_object::PostForm::read(content_type, body).await {
            Ok(form) => form,
            Err(refusal) => return post_object::refusal(&refusal),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let secret_of = |key: &str| {
            self.principals
                .contains_key(key)
                .then(|| post_object::LOCAL_SECRET.to_owned())
        };
        let verified = match post_object::verify(&form, bucket, now, secret_of) {
            Ok(verified) => verified,
            Err(refusal) => {
                tracing::warn!(bucket, code = refusal.code, message = %refusal.message, "POST Object refused");
                return post_object::refusal(&refusal);
            }
        };
        let Some(principal) = self.principals.get(&verified.access_key) else {
            return s3_denied(
                "UnrecognizedClientException",
                "The AWS Access Key Id you provided does not exist in our records.",
            );
        };
        let access = Access::new("s3:PutObject", format!("arn:aws:s3:::{bucket}/{}", verified.key));
        if let Err(denial) = principal.policy.authorize(std::slice::from_ref(&access)) {
            let expected = parts.headers.contains_key(EXPECTED_DENIAL_HEADER);
            log_denial(&principal.function, &access.action, &access.resource, expected);
            let message = format!(
                "User: arn:aws:sts::{}:assumed-role/{}Role/{} is {denial}",
                self.account, principal.function, principal.function
            );
            return s3_denied("AccessDeniedException", &message);
        }
        self.note_first_use(&principal.function, vec![access]);
        let path = format!("/{bucket}/{}", utf8_percent_encode(&verified.key, KEY_SEGMENT));
        let mut put = Request::builder().method(Method::PUT).uri(path.as_str());
        if let Some(content_type) = &verified.content_type {
            put = put.header(http::header::CONTENT_TYPE, content_type.as_str());
        }
        let Ok(put) = put.body(()) else {
            return plain(
                StatusCode::BAD_REQUEST,
                "the form's key or content type cannot be sent on",
            );
        };
        let (put, ()) = put.into_parts();
        self.record(&principal.function, "s3", &put, &verified.file);
        let stored = self.forward_to("s3", put, verified.file).await;
        if !stored.status().is_success() {
            return stored;
        }
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Some(etag) = stored.headers().get(http::header::ETAG) {
            response.headers_mut().insert(http::header::ETAG, etag.clone());
        }
        if let Ok(location) = HeaderValue::from_str(&path) {
            response.headers_mut().insert(http::header::LOCATION, location);
        }
        response
    }

    /// A signed SDK call: allowed by the signing function's policies, then forwarded.
    async fn call(&self, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        if parts.uri.path().starts_with("/moto-api/recorder/") {
            return self.recorder(&parts.method, parts.uri.path());
        }
        if parts.uri.path().starts_with(faults::ROUTES) {
            return self.faults.route(&parts.method, parts.uri.path(), &body);
        }
        if parts.headers.get(http::header::AUTHORIZATION).is_none() && cognito_public(&parts) {
            // What Cognito answers anyone: a user pool's keys, and sign-in sent unsigned.
            return self.forward_to("cognito-idp", parts, body).await;
        }
        let Some((key, service)) = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(signer)
        else {
            return plain(
                StatusCode::FORBIDDEN,
                "MissingAuthenticationToken: the request is not signed with SigV4",
            );
        };
        let expected = parts.headers.contains_key(EXPECTED_DENIAL_HEADER);
        let Some(principal) = self.principals.get(&key) else {
            log_denial(
                &format!("no function (access key {key})"),
                &format!("{service}:?"),
                "?",
                expected,
            );
            let message = "The security token included in the request is invalid.";
            return denied(&service, "UnrecognizedClientException", message);
        };
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let asked = if service == "s3" && parts.headers.contains_key("x-amz-copy-source") {
            // A copy reads its source as well, which the request's path does not name.
            Err(iam::RequestError::Unsupported {
                service: service.clone(),
                operation: format!("CopyObject ({} {path})", parts.method),
            })
        } else {
            iam::accesses(
                &service,
                parts.method.as_str(),
                path,
                target,
                &body,
                &self.region,
                &self.account,
            )
        };
        let verdict = match asked {
            Ok(accesses) => match principal.policy.authorize(&accesses) {
                Ok(()) => Ok(accesses),
                Err(denial) => {
                    let message = format!(
                        "User: arn:aws:sts::{}:assumed-role/{}Role/{} is {denial}",
                        self.account, principal.function, principal.function
                    );
                    Err((denial.access, message))
                }
            },
            Err(error) => Err((
                Access::new(format!("{service}:?"), "?"),
                format!("the local stack cannot tell what this call asks IAM for: {error}"),
            )),
        };
        let accesses = match verdict {
            Ok(accesses) => accesses,
            Err((access, message)) => {
                log_denial(&principal.function, &access.action, &access.resource, expected);
                return denied(&service, "AccessDeniedException", &message);
            }
        };
        self.note_first_use(&principal.function, accesses);
        self.record(&principal.function, &service, &parts, &body);
        let action = faults::action(&parts.method, path, target);
        let call = faults::Call {
            service: &service,
            action: &action,
            function: &principal.function,
            body: &body,
        };
        let Some((fault, when)) = self.faults.take(&call) else {
            return self.forward_to(&service, parts, body).await;
        };
        let injected = faults::error_response(fault, &body);
        match (injected, when) {
            (Some(error), When::Before) => error,
            (Some(error), When::After) => {
                let forwarded = self.forward_to(&service, parts, body).await;
                tracing::info!(
                    service,
                    action,
                    status = forwarded.status().as_u16(),
                    "answer replaced by an injected fault"
                );
                error
            }
            (None, _) => {
                if let faults::Fault::Delay { ms } = fault {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                self.forward_to(&service, parts, body).await
            }
        }
    }

    /// Sends the call on to `service`'s emulator.
    async fn forward_to(&self, service: &str, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        let Some(upstream) = self.upstreams.get(service) else {
            return plain(
                StatusCode::BAD_GATEWAY,
                &format!("the local stack runs no emulator for {service}"),
            );
        };
        match forward(upstream, parts, body).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(service, error = %error, "the emulator did not answer");
                plain(StatusCode::BAD_GATEWAY, &format!("{service} emulator: {error}"))
            }
        }
    }

    /// Logs each access a function is granted the first time it is used (`access first used`):
    /// the run's log then tells which grants of template.yaml the code exercised.
    fn note_first_use(&self, function: &str, accesses: Vec<Access>) {
        let mut used = self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for access in accesses {
            let (action, resource) = (access.action.clone(), access.resource.clone());
            if used.insert((function.to_owned(), access)) {
                tracing::info!(function, action, resource, "access first used");
            }
        }
    }

    fn record(&self, function: &str, service: &str, parts: &http::request::Parts, body: &Bytes) {
        let mut recorder = self.recorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if recorder.on {
            recorder.calls.push(Recorded {
                function: function.to_owned(),
                service: service.to_owned(),
                method: parts.method.to_string(),
                url: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
                    .collect(),
                body: String::from_utf8_lossy(body).into_owned(),
            });
        }
    }

    /// moto's recorder routes, over the calls this proxy forwarded: start, stop (the calls
    /// stay for the download), reset (forgets them), download (one JSON object a line).
    fn recorder(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        let mut recorder = self.recorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match (method, path.trim_start_matches("/moto-api/recorder/")) {
            (&Method::POST, "start-recording") => recorder.on = true,
            (&Method::POST, "stop-recording") => recorder.on = false,
            (&Method::POST, "reset-recording") => recorder.calls.clear(),
            (&Method::GET, "download-recording") => {
                let lines: Vec<String> = recorder
                    .calls
                    .iter()
                    .filter_map(|call| serde_json::to_string(call).ok())
                    .collect();
                return plain(StatusCode::OK, &lines.join("\n"));
            }
            _ => return plain(StatusCode::NOT_FOUND, "no such recorder route"),
        }
        plain(StatusCode::OK, "")
    }
}

/// Logs a refused call: an error, which fails the test run (infra/local/stack.py reads the log),
/// unless a test said it expects it.
fn log_denial(function: &str, action: &str, resource: &str, expected: bool) {
    if expected {
        tracing::info!(function, action, resource, expected, "access denied");
    } else {
        tracing::error!(function, action, resource, "access denied");
    }
}

/// Whether an unsigned request is one Cognito answers anyone, as AWS does: a user pool's keys
/// (`GET /<pool id>/.well-known/jwks.json`) or a public operation such as `InitiateAuth`.
fn cognito_public(parts: &http::request::Parts) -> bool {
    let path = parts.uri.path();
    if parts.method == Method::GET {
        return path
            .strip_suffix("/.well-known/jwks.json")
            .and_then(|pool| pool.strip_prefix('/'))
            .is_some_and(|pool| !pool.is_empty() && !pool.contains('/'));
    }
    parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.strip_prefix("AWSCognitoIdentityProviderService."))
        .is_some_and(|operation| iam::requests::COGNITO_PUBLIC_OPERATIONS.contains(&operation))
}

/// The access key and service of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ...`).
fn signer(authorization: &str) -> Option<(String, String)> {
    let credential = authorization
        .strip_prefix("AWS4-HMAC-SHA256")?
        .split(',')
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let key = scope.next()?.to_owned();
    let service = scope.nth(2)?.to_owned();
    Some((key, service))
}

/// AWS's answer to a refused call, in the shape the service's protocol gives errors: JSON with
/// `__type` for DynamoDB, SQS and SSM, REST-JSON with `x-amzn-ErrorType` for SES v2, REST-XML
/// for S3.
fn denied(service: &str, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match service {
        "dynamodb" => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            json!({"__type": format!("com.amazon.coral.service#{code}"), "Message": message}),
        ),
        "sqs" => (
            StatusCode::FORBIDDEN,
            "application/x-amz-json-1.0",
            json!({"__type": format!("com.amazon.coral.service#{code}"), "message": message}),
        ),
        "ses" => (StatusCode::FORBIDDEN, "application/json", json!({"message": message})),
        "s3" => return s3_denied(code, message),
        _ => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            json!({"__type": code, "message": message}),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

/// S3's refusal: `403` with an XML `<Error>`, AWS's codes for S3 (`AccessDenied`,
/// `InvalidAccessKeyId`).
fn s3_denied(code: &str, message: &str) -> Response<Full<Bytes>> {
    let code = match code {
        "UnrecognizedClientException" => "InvalidAccessKeyId",
        _ => "AccessDenied",
    };
    let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{escaped}</Message></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}

/// Sends the call on to the emulator at `upstream` (`http://host:port`) as it came, on a
/// connection of its own, and answers what the emulator answered.
async fn forward(
    upstream: &str,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let authority = upstream
        .strip_prefix("http://")
        .ok_or("the emulator's URL must be http://host:port")?
        .trim_end_matches('/')
        .to_owned();
    let stream = TcpStream::connect(&authority).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %error, "emulator connection ended");
        }
    });
    parts
        .headers
        .insert(http::header::HOST, HeaderValue::from_str(&authority)?);
    parts.headers.remove(EXPECTED_DENIAL_HEADER);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signer_is_read_from_the_credential_scope() {
        let header = "AWS4-HMAC-SHA256 Credential=LOCALBrowseFunction/20261201/us-east-1/dynamodb/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            signer(header),
            Some(("LOCALBrowseFunction".to_owned(), "dynamodb".to_owned()))
        );
        assert_eq!(signer("Bearer token"), None);
        assert_eq!(signer("AWS4-HMAC-SHA256 Credential=KEY/20261201"), None);
    }
}
