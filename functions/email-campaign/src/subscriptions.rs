//! The shopper's side of consent: `POST /subscribers` (a sign-up, queued: the campaign queue
//! mails the double opt-in link), `GET /subscribers/confirm?token=` (records the consent),
//! `GET /unsubscribe?token=` (a page with a button) and `POST /unsubscribe?token=` (RFC 8058
//! one-click).
//!
//! It needs the subscriber list, the campaign queue, a clock and the store's name, and no mail
//! service: the campaign function routes these four to it, and the storefront embeds it as it
//! embeds the catalog and the cart, so both decide each rule here.
//!
//! A sign-up counts against its mailbox's and its source's hourly limits before it is queued
//! (each mails a link: the form must not fill someone's inbox); over either, 429 with
//! `Retry-After` and nothing queued.
//!
//! The pages answer in the shop's mail layout, or as JSON when the request asks for
//! `application/json` (the storefront shows them in its own layout).

use http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use shop_domain::FieldError;
use shop_domain::marketing;
use shop_domain::order::Email;
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, SignUpLimits, StoreSettings, TableSettings};
use shop_platform::edge::{self, json, json_body};
use shop_platform::messages::CampaignMessage;
use shop_platform::{ApiError, HttpFunction};
use shop_services::queue::Queue;
use shop_store::marketing::{Confirmation, MarketingStore};
use shop_store::rate_limits::{Counted, RateLimiter};
use std::sync::Arc;

/// The routes this answers, as the template names them.
pub const ROUTES: [&str; 4] = [
    "POST /subscribers",
    "GET /subscribers/confirm",
    "GET /unsubscribe",
    "POST /unsubscribe",
];

/// Where sign-ups go.
#[derive(Debug, Clone, Deserialize)]
struct SubscriptionSettings {
    /// The campaign queue (its consumer mails the confirmation link).
    campaign_queue_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    email: String,
    #[serde(default)]
    source: Option<String>,
}

/// What a confirmation or unsubscribe link did, as JSON.
#[derive(Debug, Serialize)]
struct LinkAnswer<'a> {
    /// `confirmed`, `found` (an unsubscribe link the shop made, not yet pressed) or
    /// `unsubscribed`.
    status: &'static str,
    email: &'a str,
}

/// Sign-up, confirmation and unsubscribing, with the clients they use, built once.
pub struct Subscriptions {
    store: MarketingStore,
    /// The sign-up counters.
    limiter: RateLimiter,
    limits: SignUpLimits,
    queue: Queue,
    store_name: String,
    templates: Environment<'static>,
    clock: Arc<dyn Clock>,
}

impl Subscriptions {
    /// Reads settings from `env` and builds the clients. The shop's key must be installed
    /// (`shop_platform::keys::install`): unsubscribe links are tagged with it.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let store: StoreSettings = env.parse()?;
        let settings: SubscriptionSettings = env.parse()?;
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Self {
            store: MarketingStore::new(dynamodb.clone(), table.shop_table.clone()),
            limiter: RateLimiter::new(dynamodb, table.shop_table),
            limits: SignUpLimits::from_env(env)?,
            queue: Queue::new(aws_sdk_sqs::Client::new(sdk), settings.campaign_queue_url),
            store_name: store.store_name,
            templates: templates().map_err(|e| ConfigError::new(format!("subscription pages: {e}")))?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Answers one of [`ROUTES`].
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    pub(crate) async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("POST /subscribers") => self.sign_up(&request).await,
            Some("GET /subscribers/confirm") => self.confirm(&request).await,
            Some("GET /unsubscribe") => self.unsubscribe_page(&request).await,
            Some("POST /unsubscribe") => self.unsubscribe(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    /// `POST /subscribers {email, source?}`: 202 whether or not the address is known, so the
    /// answer tells nobody who is subscribed (the limits count requests, whoever they name);
    /// the campaign queue does the rest.
    async fn sign_up(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: SignUpRequest = json_body(request, 4 * 1024)?;
        let mut errors = Vec::new();
        let email = Email::parse(&body.email).map_err(|reason| errors.push(FieldError::new("email", reason)));
        let source = marketing::source(body.source.as_deref().unwrap_or("newsletter"))
            .map_err(|reason| errors.push(FieldError::new("source", reason)));
        let (Ok(email), Ok(source)) = (email, source) else {
            return Err(ApiError::Invalid { errors });
        };
        let counted = sign_up_limits(&email, edge::source_ip(request), &self.limits);
        if let Err(limited) = self.limiter.admit(&counted, self.clock.now()).await? {
            return Err(limited.refused("sign-ups"));
        }
        let trace = Trace::new(
            format!("signup-{}", edge::request_id(request)),
            edge::request_id(request),
        );
        self.queue
            .send(&CampaignMessage::SignUp { email, source }, 0, &trace)
            .await
            .map_err(|e| ApiError::Upstream {
                service: "the campaign queue",
                cause: e.to_string(),
            })?;
        json(
            StatusCode::ACCEPTED,
            &serde_json::json!({
                "status": "accepted",
                "detail": "If the address can be subscribed, a mail with a confirmation link is on its way.",
            }),
        )
    }

    async fn confirm(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let token = link_token(request, "confirmation link")?;
        match self.store.confirm(token, self.clock.now()).await? {
            Confirmation::Confirmed(email) => {
                tracing::info!(wording = marketing::CONSENT_WORDING, "subscription confirmed");
                if wants_json(request) {
                    return json(
                        StatusCode::OK,
                        &LinkAnswer {
                            status: "confirmed",
                            email: &email,
                        },
                    );
                }
                self.page(
                    "You are subscribed",
                    &format!(
                        "Thank you: {email} will get news and offers from {}. Every mail has a link to unsubscribe.",
                        self.store_name
                    ),
                    None,
                )
            }
            Confirmation::Expired => Err(ApiError::Gone {
                code: "confirmation_expired",
                detail: "this confirmation link has expired; sign up again for a new one".into(),
            }),
            Confirmation::Unknown => Err(ApiError::NotFound {
                what: "confirmation link",
            }),
        }
    }

    /// `GET /unsubscribe?token=`: a page with a button, so a mail scanner following the link
    /// unsubscribes nobody.
    async fn unsubscribe_page(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let token = link_token(request, "unsubscribe link")?;
        let email = self.store.unsubscriber(token).await?.ok_or(ApiError::NotFound {
            what: "unsubscribe link",
        })?;
        if wants_json(request) {
            return json(
                StatusCode::OK,
                &LinkAnswer {
                    status: "found",
                    email: &email,
                },
            );
        }
        self.page(
            "Unsubscribe",
            &format!("Stop news and offers from {} to {email}?", self.store_name),
            Some(format!("/unsubscribe?token={token}")),
        )
    }

    /// `POST /unsubscribe?token=` with `List-Unsubscribe=One-Click` (RFC 8058): unsubscribes at
    /// once; again is the same answer.
    async fn unsubscribe(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let token = link_token(request, "unsubscribe link")?;
        if !one_click(request.body().as_ref()) {
            return Err(ApiError::BadRequest {
                code: "one_click_required",
                detail: "the body must be the form field List-Unsubscribe=One-Click (RFC 8058)".into(),
            });
        }
        let email = self.store.unsubscriber(token).await?.ok_or(ApiError::NotFound {
            what: "unsubscribe link",
        })?;
        self.store
            .leave(&email, marketing::SubscriberStatus::Unsubscribed, self.clock.now())
            .await?;
        tracing::info!("unsubscribed");
        if wants_json(request) {
            return json(
                StatusCode::OK,
                &LinkAnswer {
                    status: "unsubscribed",
                    email: &email,
                },
            );
        }
        self.page(
            "You are unsubscribed",
            &format!("{email} gets no more news or offers from {}.", self.store_name),
            None,
        )
    }

    fn page(&self, title: &str, message: &str, form_action: Option<String>) -> Result<Response<Body>, ApiError> {
        let html = render_page(&self.templates, &self.store_name, title, message, form_action)
            .map_err(|e| ApiError::Internal(format!("page: {e}")))?;
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(html))
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// The limits a sign-up for `email` from `source_ip` counts against: its mailbox's (the `+tags`
/// of one address count together) and its source's.
fn sign_up_limits(email: &Email, source_ip: String, limits: &SignUpLimits) -> [Counted; 2] {
    [
        Counted::per_mailbox("signup-email", email, limits.sign_ups_per_email_hour),
        Counted::per_source("signup-source", source_ip, limits.sign_ups_per_source_hour),
    ]
}

impl HttpFunction for Subscriptions {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Subscriptions::handle(self, request))
    }
}

/// The token of a link (`?token=`): URL-safe base64 of 32 bytes, else the link is unknown.
fn link_token<'a>(request: &'a Request, what: &'static str) -> Result<&'a str, ApiError> {
    edge::query_param(request, "token")
        .filter(|token| {
            token.len() == 43
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or(ApiError::NotFound { what })
}

/// Whether a form body is RFC 8058's one-click unsubscribe (`List-Unsubscribe=One-Click`
/// among its fields).
fn one_click(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.trim() == "List-Unsubscribe=One-Click")
}

/// Whether the caller asks for JSON rather than a page (`Accept: application/json`).
fn wants_json(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/json"))
}

/// The pages' template, compiled in.
pub(crate) const PAGE_TEMPLATES: shop_templates::Sources = &[("page.html", include_str!("../templates/page.html"))];

/// The pages' template over the shop's one layout.
fn templates() -> Result<Environment<'static>, minijinja::Error> {
    shop_templates::environment(&[PAGE_TEMPLATES])
}

/// A page of the shop's (confirmation, unsubscribe) in its one layout: a title, a message and,
/// for unsubscribing, the one-click form.
fn render_page(
    templates: &Environment<'_>,
    store_name: &str,
    title: &str,
    message: &str,
    form_action: Option<String>,
) -> Result<String, minijinja::Error> {
    templates
        .get_template("page.html")?
        .render(context! { title, message, form_action, store_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_have_the_shops_layout_and_escape_what_they_show() {
        let templates = templates().unwrap();
        let page = render_page(
            &templates,
            "Mugs & Co",
            "Unsubscribe",
            "Stop news to <ada>@example.com?",
            Some("/unsubscribe?token=abc".into()),
        )
        .unwrap();
        assert!(
            page.contains("class=\"shop-header") && page.contains("Mugs &amp; Co"),
            "{page}"
        );
        assert!(page.contains("<title>Unsubscribe · Mugs &amp; Co</title>"), "{page}");
        assert!(page.contains("<meta name=\"robots\" content=\"noindex\">"));
        assert!(page.contains("Stop news to &lt;ada&gt;@example.com?"), "{page}");
        assert!(page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""));
    }

    #[test]
    fn only_the_rfc_8058_field_unsubscribes_in_one_click() {
        assert!(one_click(b"List-Unsubscribe=One-Click"));
        assert!(one_click(b"csrf=x&List-Unsubscribe=One-Click"));
        assert!(!one_click(b""));
        assert!(!one_click(b"List-Unsubscribe=one-click"));
        assert!(!one_click(b"{\"List-Unsubscribe\":\"One-Click\"}"));
        assert!(!one_click(&[0xff, 0xfe]));
    }

    fn link(query: &str) -> Request {
        use lambda_http::RequestExt;
        let params: std::collections::HashMap<String, String> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        http::Request::builder()
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(params)
    }

    #[test]
    fn a_link_token_is_43_characters_of_base64url_else_the_link_is_unknown() {
        let token = "A".repeat(42) + "_";
        assert_eq!(link_token(&link(&format!("token={token}")), "link").unwrap(), token);
        for bad in [
            "token=short".to_owned(),
            format!("token={}", "A".repeat(44)),
            format!("token={}<", "A".repeat(42)),
            "other=x".to_owned(),
        ] {
            assert!(
                matches!(link_token(&link(&bad), "link"), Err(ApiError::NotFound { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_sign_up_counts_against_its_mailbox_with_its_tags_and_its_source() {
        let limits = SignUpLimits {
            sign_ups_per_email_hour: 5,
            sign_ups_per_source_hour: 20,
        };
        let counted = |email: &str, source: &str| {
            sign_up_limits(&Email::parse(email).unwrap(), source.to_owned(), &limits)
                .map(|count| (count.scope, count.subject, count.limit.max))
        };
        let [tagged, source] = counted("ada+news@example.com", "192.0.2.1");
        let [plain, _] = counted("ada@example.com", "192.0.2.1");
        assert_eq!(tagged, plain);
        assert_eq!((tagged.0, tagged.2), ("signup-email", 5));
        assert_eq!(source, ("signup-source", "192.0.2.1".to_owned(), 20));
    }

    /// Subscriptions whose clients reach nothing: a test of what is refused before any call.
    fn offline() -> Subscriptions {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let env = Env::from_map(
            [
                ("SHOP_TABLE", "shop"),
                ("STORE_NAME", "Mugs"),
                ("STORE_CURRENCY", "usd"),
                ("SHIP_TO_COUNTRIES", "US"),
                ("CAMPAIGN_QUEUE_URL", "http://127.0.0.1:9/queue/campaigns"),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        );
        Subscriptions::from_env(&env, &sdk).unwrap()
    }

    fn call(route: &str, query: &str, body: &str) -> Request {
        let (method, path) = route.split_once(' ').unwrap();
        let parameters: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let event = serde_json::json!({
            "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": query,
            "queryStringParameters": parameters,
            "headers": {"content-type": "application/json"},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "api.test",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "t"},
                "requestId": "req-1", "routeKey": route, "stage": "$default", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    async fn answer(response: Response<Body>) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        (status, body)
    }

    #[tokio::test]
    async fn a_sign_up_with_a_bad_address_or_source_is_refused_naming_both_and_nothing_is_queued() {
        let subscriptions = offline();
        let request = call(
            "POST /subscribers",
            "",
            r#"{"email": "ada@localhost", "source": "a b"}"#,
        );
        let (status, problem) = answer(subscriptions.handle(request).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, ["email", "source"]);
    }

    #[tokio::test]
    async fn a_link_cut_short_or_a_post_without_the_one_click_body_is_refused_before_the_table_is_asked() {
        let subscriptions = offline();
        let (status, problem) = answer(
            subscriptions
                .handle(call("GET /subscribers/confirm", "token=short", ""))
                .await,
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let token = "A".repeat(43);
        let (status, problem) = answer(
            subscriptions
                .handle(call("POST /unsubscribe", &format!("token={token}"), "{}"))
                .await,
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("one_click_required"))
        );
    }

    #[test]
    fn json_is_answered_only_to_those_who_ask_for_it() {
        let mut request = link("");
        assert!(!wants_json(&request));
        request
            .headers_mut()
            .insert(header::ACCEPT, http::HeaderValue::from_static("text/html,*/*"));
        assert!(!wants_json(&request));
        request
            .headers_mut()
            .insert(header::ACCEPT, http::HeaderValue::from_static("application/json"));
        assert!(wants_json(&request));
    }
}
