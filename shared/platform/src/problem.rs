//! Every error a shopper, a merchant or Stripe can see, and the one place where each becomes
//! an HTTP status and an RFC 9457 `application/problem+json` body with a stable `code`.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;
use shop_domain::FieldError;
use shop_domain::cart::StockShortfall;

/// An error that ends a request, named by what went wrong in the shop's words.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The thing asked for does not exist (or the caller may not know that it does).
    #[error("{what} was not found")]
    NotFound {
        /// What was looked for, e.g. "product".
        what: &'static str,
    },
    /// No route has this path.
    #[error("no route matches {path}")]
    RouteNotFound {
        /// The path asked for.
        path: String,
    },
    /// The path exists but not with this method.
    #[error("{method} is not allowed here")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The methods the path has.
        allow: Vec<String>,
    },
    /// The request cannot be read at all (malformed JSON, a bad cursor, a bad parameter).
    #[error("{detail}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What to fix.
        detail: String,
    },
    /// The request was read but its values break the rules; each field is named.
    #[error("the request has invalid fields")]
    Invalid {
        /// Each refused field with its reason.
        errors: Vec<FieldError>,
    },
    /// No credentials, or wrong ones, for a protected route.
    #[error("authentication is required")]
    Unauthorized,
    /// Credentials were given but do not allow this route.
    #[error("these credentials may not use this route")]
    Forbidden,
    /// The body is larger than the route accepts.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The largest body accepted, in bytes.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The request's address is longer than the shop reads.
    #[error("the request's path and query are longer than {limit} bytes")]
    UriTooLong {
        /// The longest accepted, in bytes.
        limit: usize,
    },
    /// The request's headers are larger than the shop reads.
    #[error("the request's headers are larger than {limit} bytes")]
    HeadersTooLarge {
        /// The largest accepted, in bytes.
        limit: usize,
    },
    /// The request conflicts with the current state of the shop.
    #[error("{detail}")]
    Conflict {
        /// Stable machine-readable code.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// Fewer units are in stock than asked for; each short line is named.
    #[error("not enough stock for {} line(s)", lines.len())]
    OutOfStock {
        /// `sold_out` or `insufficient_stock`.
        code: &'static str,
        /// The short lines.
        lines: Vec<StockShortfall>,
    },
    /// The request is well formed but the shop cannot do it (unknown SKU, refused discount code).
    #[error("{detail}")]
    Unprocessable {
        /// Stable machine-readable code.
        code: &'static str,
        /// Why.
        detail: String,
    },
    /// What the request names existed but is no more (an expired link).
    #[error("{detail}")]
    Gone {
        /// Stable machine-readable code.
        code: &'static str,
        /// What ended, and what to do instead.
        detail: String,
    },
    /// The caller wrote too often; it may again after `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited.
        detail: String,
        /// Seconds to wait (`Retry-After`).
        retry_after: u64,
    },
    /// A service the shop depends on failed; the request may be retried.
    #[error("{service} is unavailable: {cause}")]
    Upstream {
        /// Which service.
        service: &'static str,
        /// What it said, for the log only.
        cause: String,
    },
    /// A fault of the shop itself; the detail goes to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a detail.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 422 naming one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            errors: vec![FieldError::new(field, reason)],
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Conflict { .. } | Self::OutOfStock { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Gone { .. } => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::RouteNotFound { .. } => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::OutOfStock { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Gone { code, .. } => code,
            Self::Invalid { .. } => "validation_failed",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UriTooLong { .. } => "uri_too_long",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Upstream { .. } => "upstream_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        self.status().canonical_reason().unwrap_or("Error")
    }

    /// The problem+json answer, with `request_id` so support can find the log lines.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = self.status();
        let detail = match &self {
            // The cause of a fault stays in the log.
            Self::Internal(_) => "the shop could not complete the request; it has been logged".to_owned(),
            Self::Upstream { service, .. } => format!("{service} did not answer; try again shortly"),
            other => other.to_string(),
        };
        let mut body = json!({
            "type": format!("urn:serverless-shop:problem:{}", self.code()),
            "title": self.title(),
            "status": status.as_u16(),
            "detail": detail,
            "code": self.code(),
            "request_id": request_id,
        });
        match &self {
            Self::Invalid { errors } => body["errors"] = json!(errors),
            Self::OutOfStock { lines, .. } => body["lines"] = json!(lines),
            Self::TooManyRequests { retry_after, .. } => body["retry_after"] = json!(retry_after),
            _ => {}
        }
        let mut response = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(body.to_string()))
            .unwrap_or_default();
        let headers = response.headers_mut();
        match &self {
            Self::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::Upstream { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            Self::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn an_invalid_request_names_each_field_in_a_problem_document() {
        let response = ApiError::invalid("variants[0].sku", "is empty").into_response("req-1");
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = body_of(&response);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["field"], "variants[0].sku");
        assert_eq!(body["request_id"], "req-1");
    }

    #[test]
    fn a_stock_conflict_names_each_short_line() {
        let error = ApiError::OutOfStock {
            code: "insufficient_stock",
            lines: vec![StockShortfall {
                sku: "TEE-M".into(),
                requested: 5,
                available: 2,
            }],
        };
        let response = error.into_response("r");
        assert_eq!(response.status(), 409);
        let body = body_of(&response);
        assert_eq!(body["code"], "insufficient_stock");
        assert_eq!(
            body["lines"],
            serde_json::json!([{"sku": "TEE-M", "requested": 5, "available": 2}])
        );
    }

    #[test]
    fn a_limited_caller_is_told_when_to_come_back() {
        let error = ApiError::TooManyRequests {
            detail: "too many messages".into(),
            retry_after: 1800,
        };
        let response = error.into_response("r");
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1800");
        assert_eq!(body_of(&response)["code"], "rate_limited");
    }

    #[test]
    fn an_internal_fault_hides_its_cause_from_the_client() {
        let response = ApiError::Internal("table secret-name missing".into()).into_response("r");
        assert_eq!(response.status(), 500);
        assert!(!body_of(&response)["detail"].as_str().unwrap().contains("secret-name"));
    }

    #[test]
    fn a_wrong_method_lists_the_allowed_ones() {
        let error = ApiError::MethodNotAllowed {
            method: "DELETE".into(),
            allow: vec!["GET".into(), "PUT".into()],
        };
        let response = error.into_response("r");
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "GET, PUT");
    }
}
