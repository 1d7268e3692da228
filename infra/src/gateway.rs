//! The local API Gateway: serves the template's HTTP routes on loopback by handing each request,
//! as an API Gateway v2 (payload 2.0) event, to the same handler Lambda runs.

use crate::screen;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use serde_json::{Map, Value, json};
use shop_platform::{ApiError, HttpFunction};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// API Gateway's own payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// One route the gateway serves.
#[derive(Clone)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path template, such as `/products/{id_or_slug}`.
    pub path: String,
    /// Whether the route needs the admin token (IAM in AWS).
    pub iam: bool,
    /// The handler.
    pub function: Arc<dyn HttpFunction>,
}

/// The gateway's routes and settings.
pub struct Gateway {
    routes: Vec<Route>,
    admin_token: String,
    next_id: AtomicU64,
    started: u64,
}

enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
    Greedy(&'a str),
}

fn segments(template: &str) -> Vec<Segment<'_>> {
    template
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => match name.strip_suffix('+') {
                Some(greedy) => Segment::Greedy(greedy),
                None => Segment::Param(name),
            },
            None => Segment::Literal(s),
        })
        .collect()
}

/// The path parameters when `path` matches `template`, with how many literal segments matched
/// (API Gateway prefers the most specific route).
fn match_path(template: &str, path: &str) -> Option<(usize, BTreeMap<String, String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut params = BTreeMap::new();
    let mut literals = 0;
    let pattern = segments(template);
    for (i, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                if i >= parts.len() {
                    return None;
                }
                params.insert((*name).to_owned(), decode(&parts[i..].join("/")));
                return Some((literals, params));
            }
            Segment::Literal(literal) => {
                if parts.get(i) != Some(literal) {
                    return None;
                }
                literals += 1;
            }
            Segment::Param(name) => {
                params.insert((*name).to_owned(), decode(parts.get(i)?));
            }
        }
    }
    (pattern.len() == parts.len()).then_some((literals, params))
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

impl Gateway {
    /// A gateway serving `routes`, asking `admin_token` where a route needs IAM.
    pub fn new(routes: Vec<Route>, admin_token: String) -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            routes,
            admin_token,
            next_id: AtomicU64::new(0),
            started,
        }
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            let gateway = Arc::clone(&self);
            tokio::spawn(async move {
                // What hyper would refuse with an empty answer is refused in problem+json first.
                let stream = match screen::screen(stream, &gateway.request_id()).await {
                    screen::Outcome::Fine(stream) => stream,
                    screen::Outcome::Refused(status) => {
                        tracing::info!(status, "malformed request refused");
                        return;
                    }
                    screen::Outcome::Gone => return,
                };
                let service = hyper::service::service_fn(move |request| {
                    let gateway = Arc::clone(&gateway);
                    async move { Ok::<_, std::convert::Infallible>(gateway.answer(request, peer.ip()).await) }
                });
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    // One request per connection, so each passes the screen.
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %error, "connection ended");
                }
            });
        }
    }

    /// A new request id, as API Gateway gives each request one.
    fn request_id(&self) -> String {
        format!("{:x}-{}", self.started, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    async fn answer(&self, request: http::Request<Incoming>, source_ip: IpAddr) -> http::Response<Full<Bytes>> {
        let request_id = self.request_id();
        let response = match self.dispatch(request, &request_id, source_ip).await {
            Ok(response) => response,
            Err(error) => error.into_response(&request_id),
        };
        let (parts, body) = response.into_parts();
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => Bytes::from(bytes),
            _ => Bytes::new(),
        };
        let mut response = http::Response::from_parts(parts, Full::new(bytes));
        if let Ok(value) = http::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("apigw-requestid", value);
        }
        response
    }

    async fn dispatch(
        &self,
        request: http::Request<Incoming>,
        request_id: &str,
        source_ip: IpAddr,
    ) -> Result<http::Response<Body>, ApiError> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let matches: Vec<(usize, BTreeMap<String, String>, &Route)> = self
            .routes
            .iter()
            .filter_map(|route| match_path(&route.path, &path).map(|(score, params)| (score, params, route)))
            .collect();
        if matches.is_empty() {
            return Err(ApiError::RouteNotFound { path });
        }
        let Some((_, params, route)) = matches
            .iter()
            .filter(|(_, _, route)| route.method == "ANY" || route.method == method.as_str())
            .max_by_key(|(score, _, _)| *score)
            .cloned()
        else {
            let mut allow: Vec<String> = matches.iter().map(|(_, _, r)| r.method.clone()).collect();
            allow.sort();
            allow.dedup();
            return Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                allow,
            });
        };
        if route.iam {
            self.authorize(request.headers())?;
        }
        let (parts, body) = request.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit: MAX_BODY })?
            .to_bytes();
        let event = self.event(&parts, &body, route, params, request_id, source_ip);
        let lambda_request = lambda_http::request::from_str(&event.to_string())
            .map_err(|e| ApiError::Internal(format!("the gateway built an event Lambda would not read: {e}")))?;
        Ok(route.function.handle(lambda_request).await)
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        if same_token(given.trim().as_bytes(), self.admin_token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The API Gateway v2 event for a request, as API Gateway would send it.
    fn event(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        route: &Route,
        path_parameters: BTreeMap<String, String>,
        request_id: &str,
        source_ip: IpAddr,
    ) -> Value {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name == http::header::COOKIE {
                cookies.extend(value.split(';').map(|c| Value::String(c.trim().to_owned())));
                continue;
            }
            match headers.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        let mut query = Map::new();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (decode_query(name), decode_query(value));
            match query.get_mut(&name) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&value);
                }
                _ => {
                    query.insert(name, Value::String(value));
                }
            }
        }
        let (body, is_base64) = match std::str::from_utf8(body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
        };
        let route_key = format!("{} {}", route.method, route.path);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let host = headers
            .get("host")
            .and_then(Value::as_str)
            .unwrap_or("127.0.0.1")
            .to_owned();
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": parts.uri.path(),
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": crate::bootstrap::LOCAL_ACCOUNT,
                "apiId": "local",
                "domainName": host,
                "domainPrefix": host.split('.').next().unwrap_or(""),
                "http": {
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip.to_string(),
                    "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
                },
                "requestId": request_id,
                "routeKey": route_key,
                "stage": "$default",
                "timeEpoch": now,
            },
            "isBase64Encoded": is_base64,
        });
        if !cookies.is_empty() {
            event["cookies"] = Value::Array(cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !path_parameters.is_empty() {
            event["pathParameters"] = json!(path_parameters);
        }
        if !body.is_empty() || parts.method != Method::GET {
            event["body"] = Value::String(body);
        }
        event
    }
}

fn decode_query(text: &str) -> String {
    decode(&text.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_route_wins_over_a_parameter() {
        let (literal, _) = match_path("/admin/products/import", "/admin/products/import").unwrap();
        let (param, params) = match_path("/admin/products/{id}", "/admin/products/import").unwrap();
        assert!(literal > param);
        assert_eq!(params["id"], "import");
    }

    #[test]
    fn path_parameters_are_percent_decoded() {
        let (_, params) = match_path("/products/{id_or_slug}", "/products/tee%20shirt").unwrap();
        assert_eq!(params["id_or_slug"], "tee shirt");
    }

    #[test]
    fn a_path_must_match_every_segment() {
        assert!(match_path("/products/{id}", "/products").is_none());
        assert!(match_path("/products/{id}", "/products/a/b").is_none());
        assert!(match_path("/products", "/categories").is_none());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"secret", b"secret"));
        assert!(!same_token(b"secreT", b"secret"));
        assert!(!same_token(b"secret-longer", b"secret"));
    }
}
