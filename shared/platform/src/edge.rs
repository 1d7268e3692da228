//! The HTTP edge of every function: it reads what API Gateway hands over (route, path and
//! query parameters, JSON bodies within a size limit), and writes JSON answers with caching
//! headers. Errors from here on are [`ApiError`]s; [`serve`] turns them into problem+json.

use crate::problem::ApiError;
use base64::Engine;
use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shop_domain::{Cursor, FieldError, PageLimit};
use std::future::Future;
use tracing::Instrument;

/// The largest JSON body a route reads unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Runs one request through `route`, inside a span that carries the request id and route,
/// and answers every [`ApiError`] as problem+json. Handlers never build error responses.
pub async fn serve<F, Fut>(request: Request, route: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let request_id = request_id(&request);
    let route_key = route_key(&request).unwrap_or_default().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, route = %route_key);
    async move {
        match route(request).await {
            Ok(response) => {
                tracing::info!(status = response.status().as_u16(), "answered");
                response
            }
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), code = error.code(), error = %error, "failed");
                } else {
                    tracing::info!(status = status.as_u16(), code = error.code(), "refused");
                }
                error.into_response(&request_id)
            }
        }
    }
    .instrument(span)
    .await
}

/// The id API Gateway gave the request (`requestContext.requestId`).
pub fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
    .unwrap_or_else(|| "-".to_owned())
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`), which per-source
/// limits count; `unknown` when there is none (a direct invocation).
pub fn source_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".to_owned())
}

/// The route API Gateway matched, as the template writes it: `GET /products/{id_or_slug}`.
pub fn route_key(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.as_deref(),
        _ => None,
    }
}

/// The answer for a request whose route this function does not serve.
pub fn unknown_route(request: &Request) -> ApiError {
    ApiError::RouteNotFound {
        path: request.uri().path().to_owned(),
    }
}

/// A path parameter the route declares, such as `{id_or_slug}`.
pub fn path_param(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("missing_path_parameter", format!("the path needs {{{name}}}")))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// A query parameter, if the request has it (an empty value counts as absent).
pub fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .filter(|value| !value.is_empty())
}

/// The paging of a list request: `?limit=` (bounded) and `?cursor=` (opaque), or a 400.
pub fn page_params(request: &Request) -> Result<(PageLimit, Option<Cursor>), ApiError> {
    let limit =
        PageLimit::parse(query_param(request, "limit")).map_err(|e| ApiError::bad_request("invalid_limit", e))?;
    let cursor = query_param(request, "cursor")
        .map(crate::keys::open_cursor)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))?;
    Ok((limit, cursor))
}

/// Reads the body as JSON into `T`, within `limit` bytes: malformed or truncated JSON is 400, a
/// value of the wrong type or shape is 422 naming the field in plain words, a larger body 413.
/// Every route treats a field it does not know the same way: 422 naming it (a typo such as
/// `qty` is never silently ignored, and a price a client sends is refused, not used).
pub fn json_body<T: DeserializeOwned>(request: &Request, limit: usize) -> Result<T, ApiError> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("missing_body", "the request needs a JSON body"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut unknown = Vec::new();
    let mut note_unknown = |path: serde_ignored::Path| unknown.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(&mut deserializer, &mut note_unknown);
    let value = serde_path_to_error::deserialize(ignoring).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            ApiError::Invalid {
                errors: vec![FieldError::from_serde(&field, &inner.to_string())],
            }
        } else {
            malformed(&inner)
        }
    })?;
    deserializer.end().map_err(|error| malformed(&error))?;
    if !unknown.is_empty() {
        return Err(ApiError::Invalid {
            errors: unknown
                .into_iter()
                .map(|field| FieldError::new(field, "is not a field of this request"))
                .collect(),
        });
    }
    Ok(value)
}

/// The 400 of a body that is not JSON, in plain words.
fn malformed(error: &serde_json::Error) -> ApiError {
    let detail = if error.is_eof() {
        "the body ends before its JSON is complete".to_owned()
    } else {
        format!(
            "the body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        )
    };
    ApiError::bad_request("malformed_json", detail)
}

/// `body` as the API writes JSON: every instant (a field named `…_at` holding Unix seconds, as
/// the table keeps them) as RFC 3339 text, so every answer writes time one way.
pub fn to_json_text<T: Serialize>(body: &T) -> Result<String, ApiError> {
    let mut value = serde_json::to_value(body).map_err(|error| ApiError::Internal(error.to_string()))?;
    instants_as_rfc3339(&mut value);
    serde_json::to_string(&value).map_err(|error| ApiError::Internal(error.to_string()))
}

fn instants_as_rfc3339(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field.as_i64() {
                    Some(seconds) if name.ends_with("_at") => *field = crate::clock::rfc3339(seconds).into(),
                    _ => instants_as_rfc3339(field),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(instants_as_rfc3339),
        _ => {}
    }
}

/// A JSON answer that is not to be cached.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = to_json_text(body)?;
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .map_err(|error| ApiError::Internal(error.to_string()))
}

/// A JSON answer a CDN and the browser may keep for `max_age` seconds, with a strong `ETag`
/// of its bytes; a request whose `If-None-Match` names that tag gets `304 Not Modified`.
pub fn cacheable_json<T: Serialize>(request: &Request, body: &T, max_age: u32) -> Result<Response<Body>, ApiError> {
    let text = to_json_text(body)?;
    cacheable(request, text, "application/json", max_age)
}

/// Whether the request's `If-None-Match` names `etag` (weakly or strongly) or `*`: the client
/// holds this answer already.
pub fn holds(request: &Request, etag: &str) -> bool {
    request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

/// A text answer of `content_type` (XML for search engines and feeds) cached and revalidated
/// as [`cacheable_json`] says.
pub fn cacheable(
    request: &Request,
    text: String,
    content_type: &'static str,
    max_age: u32,
) -> Result<Response<Body>, ApiError> {
    // aws-lc's SHA-256 (assembly), not sha2's portable one: a page is hashed at every answer.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    let etag = format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    );
    let cache_control = format!("public, max-age={max_age}, stale-while-revalidate={}", max_age * 5);
    let not_modified = holds(request, &etag);
    let builder = Response::builder()
        .header(
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?,
        )
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::VARY, "Accept-Encoding");
    let response = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::Empty)
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::Text(text))
    };
    response.map_err(|error| ApiError::Internal(error.to_string()))
}

/// Whether the browser reached the function over HTTPS: API Gateway says so in
/// `X-Forwarded-Proto`; the local gateway speaks plain HTTP.
pub fn over_https(request: &Request) -> bool {
    request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // read only through Debug in assertions
    struct Stock {
        available: u32,
    }

    fn request_with(body: &str) -> Request {
        http::Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let error = json_body::<Stock>(&request_with("{\"available\": "), 1024).unwrap_err();
        assert_eq!((error.status().as_u16(), error.code()), (400, "malformed_json"));
    }

    #[test]
    fn a_wrong_type_is_unprocessable_and_names_the_field() {
        match json_body::<Stock>(&request_with("{\"available\": \"many\"}"), 1024).unwrap_err() {
            ApiError::Invalid { errors } => assert_eq!(errors[0].field, "available"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn truncated_json_is_a_bad_request_and_wrong_values_are_named_in_plain_words() {
        let error = json_body::<Stock>(&request_with("{\"available\": 1"), 1024).unwrap_err();
        assert_eq!((error.status().as_u16(), error.code()), (400, "malformed_json"));
        assert!(error.to_string().contains("ends before"), "{error}");
        match json_body::<Stock>(&request_with("5"), 1024).unwrap_err() {
            ApiError::Invalid { errors } => {
                assert_eq!(
                    (errors[0].field.as_str(), errors[0].reason.as_str()),
                    ("body", "must be an object")
                )
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_field_no_route_knows_is_refused_by_name() {
        match json_body::<Stock>(
            &request_with("{\"available\": 1, \"price\": 0, \"x\": {\"y\": 1}}"),
            1024,
        )
        .unwrap_err()
        {
            ApiError::Invalid { errors } => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["price", "x"]);
                assert_eq!(errors[0].reason, "is not a field of this request");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_instant_in_an_answer_is_rfc_3339() {
        let body = serde_json::json!({
            "created_at": 1_795_791_600, "items": [{"received_at": 1_795_791_600, "count": 3}],
            "pay_by": "2026-11-27T15:00:00Z", "paid_at": null, "retry_after": 60,
        });
        let text: serde_json::Value = serde_json::from_str(&to_json_text(&body).unwrap()).unwrap();
        assert_eq!(text["created_at"], "2026-11-27T15:00:00Z");
        assert_eq!(text["items"][0]["received_at"], "2026-11-27T15:00:00Z");
        assert_eq!(
            (&text["items"][0]["count"], &text["retry_after"]),
            (&serde_json::json!(3), &serde_json::json!(60))
        );
        assert_eq!(text["paid_at"], serde_json::Value::Null);
    }

    #[test]
    fn a_body_over_the_limit_is_too_large() {
        let error = json_body::<Stock>(&request_with(&" ".repeat(2000)), 1024).unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn a_body_that_is_not_json_is_unsupported() {
        let request = http::Request::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::Text("available=1".into()))
            .unwrap();
        let error = json_body::<Stock>(&request, 1024).unwrap_err();
        assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn a_matching_etag_answers_not_modified() {
        let body = serde_json::json!({"id": "tee"});
        let first = cacheable_json(&request_with(""), &body, 60).unwrap();
        assert_eq!(first.status(), 200);
        let etag = first.headers()[header::ETAG].clone();
        let revalidate = http::Request::builder()
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::Empty)
            .unwrap();
        assert_eq!(cacheable_json(&revalidate, &body, 60).unwrap().status(), 304);
        let changed = serde_json::json!({"id": "tee", "title": "new"});
        assert_eq!(cacheable_json(&revalidate, &changed, 60).unwrap().status(), 200);
    }
}
