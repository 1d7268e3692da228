//! The local API Gateway: serves the template's HTTP routes on loopback by handing each request,
//! as an API Gateway v2 (payload 2.0) event, to the same handler Lambda runs.

use crate::screen;
use crate::template::IMPLICIT_HTTP_API;
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// API Gateway's own payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// What an API answers a request that none of its routes takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// The shop's own problem+json: 404 `route_not_found`, or 405 `method_not_allowed` with the
    /// methods the path has routes for.
    Problem,
    /// What API Gateway itself answers, whatever the method: 404 `{"message":"Not Found"}`.
    ApiGateway,
}

/// One `HttpApi` of the template as the local stack serves it: on a loopback port of its own, as
/// each API has a host of its own in AWS.
#[derive(Debug, Clone, Copy)]
pub struct LocalApi {
    /// The logical ids of the `HttpApi`s it serves, the first its name ([`IMPLICIT_HTTP_API`]
    /// is SAM's implicit API, of the events without `ApiId`).
    pub ids: &'static [&'static str],
    /// The variable that sets its port.
    pub port_variable: &'static str,
    /// Its port when that variable is unset.
    pub default_port: u16,
    /// The variable that names its public URL (`!GetAtt X.ApiEndpoint`), when not
    /// `http://127.0.0.1:<port>`.
    pub url_variable: &'static str,
    /// What it answers where no route matches.
    pub unrouted: Unrouted,
}

/// Every `HttpApi` the local stack serves, each on its own port: a new API of the template is
/// one line here.
pub const LOCAL_APIS: &[LocalApi] = &[
    LocalApi {
        ids: &["ShopApi", IMPLICIT_HTTP_API],
        port_variable: "SHOP_PORT",
        default_port: 3000,
        url_variable: "SHOP_API_URL",
        unrouted: Unrouted::Problem,
    },
    LocalApi {
        ids: &["StorefrontApi"],
        port_variable: "SHOP_STOREFRONT_PORT",
        default_port: 3001,
        url_variable: "SHOP_STOREFRONT_URL",
        unrouted: Unrouted::ApiGateway,
    },
    LocalApi {
        ids: &["ConsoleApi"],
        port_variable: "SHOP_CONSOLE_PORT",
        default_port: 3002,
        url_variable: "SHOP_CONSOLE_URL",
        unrouted: Unrouted::ApiGateway,
    },
];

impl LocalApi {
    /// The local API that serves the template's `HttpApi` named `id`.
    pub fn of(id: &str) -> Option<&'static LocalApi> {
        LOCAL_APIS.iter().find(|api| api.ids.contains(&id))
    }

    /// Its name: the logical id of its `HttpApi`.
    pub fn name(&self) -> &'static str {
        self.ids[0]
    }

    /// Its port: `port_variable`'s value, else `default_port`.
    pub fn port(&self) -> Result<u16, String> {
        match std::env::var(self.port_variable) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{}={text:?} is not a port", self.port_variable)),
            Err(_) => Ok(self.default_port),
        }
    }

    /// Its public base URL, without a trailing `/`: `url_variable`'s value, else
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> Result<String, String> {
        match std::env::var(self.url_variable) {
            Ok(url) if !url.trim().is_empty() => Ok(url.trim().trim_end_matches('/').to_owned()),
            _ => Ok(format!("http://127.0.0.1:{}", self.port()?)),
        }
    }
}

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

/// The routes of one API and its settings.
pub struct Gateway {
    routes: Vec<Route>,
    admin_token: String,
    unrouted: Unrouted,
}

/// Request ids, unique across every API of the process, as API Gateway's are.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

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

/// The non-empty segments of `path`, each with the offset in `path` where it starts.
fn path_segments(path: &str) -> Vec<(usize, &str)> {
    let mut segments = Vec::new();
    let mut start = 0;
    for piece in path.split('/') {
        if !piece.is_empty() {
            segments.push((start, piece));
        }
        start += piece.len() + 1;
    }
    segments
}

/// How specifically a route's path matched: API Gateway takes the most specific route, the
/// one with more literal segments, then the one with more single-segment parameters (a greedy
/// `{name+}` is the least specific).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    literals: usize,
    params: usize,
}

/// The path parameters when `path` matches `template`, and how specific the match is. A
/// single-segment parameter is percent-decoded; a greedy `{name+}` (the template's last
/// segment) takes one or more segments, its value the rest of the path as sent: undecoded,
/// its slashes kept.
fn match_path(template: &str, path: &str) -> Option<(Specificity, BTreeMap<String, String>)> {
    let parts = path_segments(path);
    let mut params = BTreeMap::new();
    let mut specificity = Specificity { literals: 0, params: 0 };
    let pattern = segments(template);
    for (i, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                let (start, _) = parts.get(i)?;
                params.insert((*name).to_owned(), path[*start..].to_owned());
                return Some((specificity, params));
            }
            Segment::Literal(literal) => {
                if parts.get(i).map(|(_, part)| part) != Some(literal) {
                    return None;
                }
                specificity.literals += 1;
            }
            Segment::Param(name) => {
                params.insert((*name).to_owned(), decode(parts.get(i)?.1));
                specificity.params += 1;
            }
        }
    }
    (pattern.len() == parts.len()).then_some((specificity, params))
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
    /// A gateway serving `routes`, asking `admin_token` where a route needs IAM, and answering
    /// as `unrouted` says where none matches.
    pub fn new(routes: Vec<Route>, admin_token: String, unrouted: Unrouted) -> Self {
        Self {
            routes,
            admin_token,
            unrouted,
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
        static STARTED: OnceLock<u64> = OnceLock::new();
        let started = STARTED.get_or_init(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        format!("{started:x}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
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
        let matches: Vec<(Specificity, BTreeMap<String, String>, &Route)> = self
            .routes
            .iter()
            .filter_map(|route| match_path(&route.path, &path).map(|(score, params)| (score, params, route)))
            .collect();
        // The most specific path first; on the same path, the route of the method before ANY.
        let chosen = matches
            .iter()
            .filter(|(_, _, route)| route.method == "ANY" || route.method == method.as_str())
            .max_by_key(|(score, _, route)| (*score, route.method != "ANY"))
            .cloned();
        let Some((_, params, route)) = chosen else {
            return match self.unrouted {
                Unrouted::ApiGateway => Ok(api_gateway_not_found()),
                Unrouted::Problem if matches.is_empty() => Err(ApiError::RouteNotFound { path }),
                Unrouted::Problem => {
                    let mut allow: Vec<String> = matches.iter().map(|(_, _, r)| r.method.clone()).collect();
                    allow.sort();
                    allow.dedup();
                    Err(ApiError::MethodNotAllowed {
                        method: method.to_string(),
                        allow,
                    })
                }
            };
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

/// API Gateway's own answer to a request no route of the API takes.
fn api_gateway_not_found() -> http::Response<Body> {
    http::Response::builder()
        .status(http::StatusCode::NOT_FOUND)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(r#"{"message":"Not Found"}"#.to_owned()))
        .unwrap_or_default()
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
    fn a_greedy_parameter_takes_the_rest_of_the_path_undecoded() {
        let (_, params) = match_path("/{proxy+}", "/products/tee%20shirt").unwrap();
        assert_eq!(params["proxy"], "products/tee%20shirt");
        let (_, params) = match_path("/{proxy+}", "/a/b/c/").unwrap();
        assert_eq!(params["proxy"], "a/b/c/", "slashes kept, the trailing one too");
        let (_, params) = match_path("/{proxy+}", "/orders/o%2F1").unwrap();
        assert_eq!(params["proxy"], "orders/o%2F1", "an encoded slash stays encoded");
        let (_, params) = match_path("/assets/{path+}", "/assets/css/shop.css").unwrap();
        assert_eq!(params["path"], "css/shop.css");
        assert_eq!(params.len(), 1);
    }

    #[test]
    fn a_greedy_parameter_needs_one_segment_at_least() {
        assert!(match_path("/{proxy+}", "/").is_none());
        assert!(match_path("/{proxy+}", "").is_none());
        assert!(match_path("/assets/{path+}", "/assets").is_none());
        assert!(match_path("/assets/{path+}", "/assets/").is_none());
        assert!(match_path("/assets/{path+}", "/other/x").is_none());
        assert!(match_path("/{proxy+}", "/one").is_some());
    }

    #[test]
    fn the_root_route_matches_the_root_only() {
        let (score, params) = match_path("/", "/").unwrap();
        assert_eq!(score, Specificity { literals: 0, params: 0 });
        assert!(params.is_empty());
        assert!(match_path("/", "/products").is_none());
    }

    #[test]
    fn literal_and_shorter_routes_win_over_a_greedy_one() {
        let (greedy, _) = match_path("/{proxy+}", "/products/x").unwrap();
        let (param, _) = match_path("/products/{id}", "/products/x").unwrap();
        let (literal, _) = match_path("/products", "/products").unwrap();
        let (greedy_short, _) = match_path("/{proxy+}", "/products").unwrap();
        assert!(param > greedy);
        assert!(literal > greedy_short);
        let (prefixed_greedy, _) = match_path("/products/{proxy+}", "/products/x").unwrap();
        assert!(
            param > prefixed_greedy,
            "a single-segment parameter is more specific than a greedy one"
        );
        assert!(prefixed_greedy > greedy, "a literal prefix is more specific than none");
    }

    /// A handler that answers its route key, to see which route a request reached.
    struct Echo;

    impl HttpFunction for Echo {
        fn handle(&self, request: lambda_http::Request) -> futures::future::BoxFuture<'_, http::Response<Body>> {
            use lambda_http::RequestExt;
            let route = match request.request_context_ref() {
                Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
                    context.route_key.clone().unwrap_or_default()
                }
                _ => String::new(),
            };
            let proxy = request
                .path_parameters_ref()
                .and_then(|p| p.first("proxy"))
                .unwrap_or("")
                .to_owned();
            Box::pin(async move {
                http::Response::builder()
                    .header("content-type", "text/html")
                    .body(Body::Text(format!("{route}|{proxy}")))
                    .unwrap()
            })
        }
    }

    fn gateway(routes: &[(&str, &str)], unrouted: Unrouted) -> Arc<Gateway> {
        let function: Arc<dyn HttpFunction> = Arc::new(Echo);
        let routes = routes
            .iter()
            .map(|(method, path)| Route {
                method: (*method).to_owned(),
                path: (*path).to_owned(),
                iam: false,
                function: Arc::clone(&function),
            })
            .collect();
        Arc::new(Gateway::new(routes, "token".into(), unrouted))
    }

    /// Serves `gateway` on a free port and sends it `method path`: the status, content type
    /// and body.
    async fn ask(gateway: Arc<Gateway>, method: &str, path: &str) -> (u16, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(gateway.serve(listener));
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("{method} {path} HTTP/1.1\r\nhost: shop\r\ncontent-length: 0\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        server.abort();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    const STOREFRONT: &[(&str, &str)] = &[("GET", "/"), ("ANY", "/{proxy+}")];

    #[tokio::test]
    async fn the_storefront_routes_take_the_root_and_every_deeper_path() {
        let storefront = gateway(STOREFRONT, Unrouted::ApiGateway);
        let (status, content_type, body) = ask(Arc::clone(&storefront), "GET", "/").await;
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (200, "text/html", "GET /|")
        );
        let (status, _, body) = ask(Arc::clone(&storefront), "GET", "/products/tee%20shirt").await;
        assert_eq!((status, body.as_str()), (200, "ANY /{proxy+}|products/tee%20shirt"));
        let (status, _, body) = ask(Arc::clone(&storefront), "POST", "/cart/add").await;
        assert_eq!((status, body.as_str()), (200, "ANY /{proxy+}|cart/add"));
    }

    #[tokio::test]
    async fn a_route_of_the_method_wins_over_any_on_the_same_path() {
        let api = gateway(&[("ANY", "/{proxy+}"), ("GET", "/{proxy+}")], Unrouted::ApiGateway);
        let (_, _, body) = ask(Arc::clone(&api), "GET", "/x").await;
        assert_eq!(body, "GET /{proxy+}|x");
        let (_, _, body) = ask(api, "DELETE", "/x").await;
        assert_eq!(body, "ANY /{proxy+}|x");
    }

    #[tokio::test]
    async fn an_api_without_a_route_for_the_request_answers_as_api_gateway() {
        // The root is GET only, and a greedy route needs a segment: POST / has no route.
        let storefront = gateway(STOREFRONT, Unrouted::ApiGateway);
        let (status, content_type, body) = ask(storefront, "POST", "/").await;
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (404, "application/json", r#"{"message":"Not Found"}"#)
        );
        let routeless = gateway(&[], Unrouted::ApiGateway);
        let (status, _, body) = ask(routeless, "GET", "/anything").await;
        assert_eq!((status, body.as_str()), (404, r#"{"message":"Not Found"}"#));
    }

    #[tokio::test]
    async fn the_shop_api_answers_unknown_routes_and_methods_in_problem_json() {
        let shop = gateway(&[("GET", "/products")], Unrouted::Problem);
        let (status, content_type, body) = ask(Arc::clone(&shop), "GET", "/nothing").await;
        assert_eq!((status, content_type.as_str()), (404, "application/problem+json"));
        assert!(body.contains("route_not_found"), "{body}");
        let (status, content_type, _) = ask(shop, "DELETE", "/products").await;
        assert_eq!((status, content_type.as_str()), (405, "application/problem+json"));
    }

    #[test]
    fn every_api_of_the_template_has_a_port_of_its_own() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = crate::template::Template::load(&path).unwrap();
        let mut ports = Vec::new();
        for (id, _) in template.resources_of_type("AWS::Serverless::HttpApi") {
            let api = LocalApi::of(id).unwrap_or_else(|| panic!("{id} is not in LOCAL_APIS"));
            ports.push(api.default_port);
        }
        for function in template.functions().unwrap() {
            for route in &function.routes {
                assert!(
                    LocalApi::of(&route.api).is_some(),
                    "{}: {}",
                    function.logical_id,
                    route.api
                );
            }
        }
        let count = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), count, "one port per API");
        assert_eq!(LocalApi::of("ShopApi").map(|a| a.default_port), Some(3000));
        assert_eq!(LocalApi::of(IMPLICIT_HTTP_API).map(|a| a.name()), Some("ShopApi"));
        assert_eq!(LocalApi::of("StorefrontApi").map(|a| a.default_port), Some(3001));
        assert_eq!(LocalApi::of("ConsoleApi").map(|a| a.default_port), Some(3002));
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
