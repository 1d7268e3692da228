//! The JSON API, called in-process: a page asks the same handler a browser's `fetch` would
//! reach (the storefront: browse, cart, checkout, orders, subscriptions; the console: admin),
//! with the visitor's source address and request id, so every price, stock check, limit and
//! status change is decided where the API decides it.

use crate::HttpFunction;
use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use shop_domain::{Locale, Money};
use std::collections::HashMap;

/// What a call sends.
#[derive(Debug, Clone)]
enum CallBody {
    Json(Value),
    /// `application/x-www-form-urlencoded`, as a mail client posts RFC 8058's one click.
    Form(String),
}

/// One call of the API: its route (as the template names it), the path's values, the query,
/// the body, the bearer token.
#[derive(Debug, Clone)]
pub struct Call {
    method: Method,
    route: &'static str,
    params: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    body: Option<CallBody>,
    bearer: Option<String>,
    idempotency_key: Option<String>,
}

impl Call {
    /// `GET` of `route`.
    pub fn get(route: &'static str) -> Self {
        Self::new(Method::GET, route)
    }

    /// `method` on `route` (`"/carts/{cart_id}"`).
    pub fn new(method: Method, route: &'static str) -> Self {
        Self {
            method,
            route,
            params: Vec::new(),
            query: Vec::new(),
            body: None,
            bearer: None,
            idempotency_key: None,
        }
    }

    /// A path parameter of the route.
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, value.into()));
        self
    }

    /// A query parameter, left out when `None`.
    pub fn query(mut self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.into()));
        }
        self
    }

    /// The JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(CallBody::Json(body));
        self
    }

    /// A form body (`application/x-www-form-urlencoded`), already encoded.
    pub fn form(mut self, encoded: impl Into<String>) -> Self {
        self.body = Some(CallBody::Form(encoded.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// `Idempotency-Key`.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    fn path(&self) -> String {
        let mut path = self.route.to_owned();
        for (name, value) in &self.params {
            path = path.replace(&format!("{{{name}}}"), &encode(value));
        }
        path
    }

    /// The request as API Gateway would hand it to the function, from the page's `shopper`
    /// request (whose address and id it keeps).
    pub fn request(&self, shopper: &Request) -> Request {
        let mut builder = http::Request::builder().method(self.method.clone()).uri(self.path());
        let content_type = match &self.body {
            Some(CallBody::Form(_)) => "application/x-www-form-urlencoded",
            _ => "application/json",
        };
        builder = builder
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.bearer
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        if let Some(key) = &self.idempotency_key
            && let Ok(value) = HeaderValue::from_str(key)
        {
            builder = builder.header("idempotency-key", value);
        }
        let body = match &self.body {
            Some(CallBody::Json(body)) => Body::Text(body.to_string()),
            Some(CallBody::Form(text)) => Body::Text(text.clone()),
            None => Body::Empty,
        };
        let request = builder.body(body).unwrap_or_default();
        let mut context = match shopper.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.clone(),
            _ => ApiGatewayV2httpRequestContext::default(),
        };
        let route_key = format!("{} {}", self.method, self.route);
        context.route_key = Some(route_key);
        context.http.method = self.method.clone();
        context.http.path = Some(self.path());
        let params: HashMap<String, String> = self.params.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect();
        let query: HashMap<String, String> = self.query.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect();
        request
            .with_request_context(RequestContext::ApiGatewayV2(context))
            .with_path_parameters(params)
            .with_query_string_parameters(query)
    }
}

/// What the API answered that a page cannot show as asked: its status and problem.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// The problem's `code`, when it has one.
    pub code: Option<String>,
    /// The problem's `detail` (or `title`), in the API's words.
    pub detail: String,
    /// The whole problem, for pages that show more of it (fields, stock).
    pub problem: Value,
}

/// An answer of the API that succeeded, with its headers.
#[derive(Debug)]
pub struct Answer<T> {
    /// The body.
    pub body: T,
    /// The response's headers.
    pub headers: http::HeaderMap,
}

/// Calls `function` with `call` on behalf of `shopper`, reading a 2xx answer as `T`.
pub async fn call<T: DeserializeOwned>(
    function: &dyn HttpFunction,
    shopper: &Request,
    call: Call,
) -> Result<Answer<T>, Refusal> {
    let response = function.handle(call.request(shopper)).await;
    let (parts, body) = response.into_parts();
    let text = match body {
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !parts.status.is_success() {
        let text_of = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        return Err(Refusal {
            status: parts.status,
            code: text_of("code"),
            detail: text_of("detail")
                .or_else(|| text_of("title"))
                .unwrap_or_else(|| "the shop could not do that".to_owned()),
            problem: value,
        });
    }
    let body = serde_json::from_value(value).map_err(|error| Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: None,
        detail: format!("the API answered what the page cannot read: {error}"),
        problem: Value::Null,
    })?;
    Ok(Answer {
        body,
        headers: parts.headers,
    })
}

/// Writes a `display` beside every amount (`{amount, currency}`) in `answer`, as `locale` writes
/// it (`$57.55`), so that pages show the handlers' money and never do arithmetic of their own.
pub fn add_display(answer: &mut Value, locale: Locale) {
    match answer {
        Value::Object(map) => {
            let money = match (map.get("amount"), map.get("currency")) {
                (Some(amount), Some(_)) if amount.is_i64() => {
                    serde_json::from_value::<Money>(Value::Object(map.clone())).ok()
                }
                _ => None,
            };
            if let Some(money) = money {
                map.insert("display".to_owned(), Value::String(money.display(locale)));
            } else {
                map.values_mut().for_each(|v| add_display(v, locale));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| add_display(v, locale)),
        _ => {}
    }
}

/// Whether `id` (a page's path segment) could be an order's id, so nothing else reaches the
/// handlers or a link.
pub fn is_order_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A path segment or query value percent-encoded: every byte but the unreserved ones.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::from_str;

    /// A page request as API Gateway delivers it, from a shopper at 203.0.113.9.
    fn shopper() -> Request {
        from_str(
            r#"{"version":"2.0","routeKey":"ANY /{proxy+}","rawPath":"/cart","rawQueryString":"",
            "headers":{"host":"shop.test"},"requestContext":{"accountId":"1","apiId":"a","domainName":"shop.test",
            "http":{"method":"POST","path":"/cart","protocol":"HTTP/1.1","sourceIp":"203.0.113.9","userAgent":"t"},
            "requestId":"req-1","routeKey":"ANY /{proxy+}","stage":"$default","timeEpoch":0},"isBase64Encoded":false}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_call_reaches_the_handler_as_its_route_with_the_shoppers_address_and_request_id() {
        let call = Call::new(Method::PUT, "/carts/{cart_id}/items/{sku}")
            .param("cart_id", "c1")
            .param("sku", "MUG 1/2")
            .query("limit", Some("5"))
            .bearer("tok")
            .body(serde_json::json!({"quantity": 2}));
        let request = call.request(&shopper());
        assert_eq!(
            crate::edge::route_key(&request),
            Some("PUT /carts/{cart_id}/items/{sku}")
        );
        assert_eq!(request.uri().path(), "/carts/c1/items/MUG%201%2F2");
        assert_eq!(crate::edge::path_param(&request, "sku").unwrap(), "MUG 1/2");
        assert_eq!(crate::edge::query_param(&request, "limit"), Some("5"));
        assert_eq!(crate::edge::bearer_token(&request), Some("tok"));
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
            panic!("no API Gateway context");
        };
        assert_eq!(context.http.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(context.request_id.as_deref(), Some("req-1"));
        assert_eq!(context.http.method, Method::PUT);
        assert!(matches!(request.body(), Body::Text(text) if text == r#"{"quantity":2}"#));
        assert_eq!(request.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()[header::ACCEPT], "application/json");
    }

    #[test]
    fn a_form_call_is_sent_as_a_browser_or_mail_client_posts_a_form() {
        let call = Call::new(Method::POST, "/unsubscribe")
            .query("token", Some("t"))
            .form("List-Unsubscribe=One-Click");
        let request = call.request(&shopper());
        assert_eq!(
            request.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(crate::edge::query_param(&request, "token"), Some("t"));
        assert!(matches!(request.body(), Body::Text(text) if text == "List-Unsubscribe=One-Click"));
    }
}
