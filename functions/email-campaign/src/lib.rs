//! `email-campaign`: marketing mail with consent.
//!
//! Over HTTP, for shoppers: `POST /subscribers` (always 202; the sign-up goes to the campaign
//! queue, which mails a double opt-in link), `GET /subscribers/confirm?token=` (records the
//! consent), `GET /unsubscribe?token=` (a page with a button) and `POST /unsubscribe?token=`
//! (RFC 8058 one-click). For the merchant: `POST /admin/campaigns`, `GET /admin/campaigns/{id}`,
//! `POST /admin/campaigns/{id}/send` (202; pressing it again sends nothing more).
//!
//! Over SQS ([`sending`]): sign-ups, the fan-out of a campaign's audience page by page into
//! batches of 50, each batch sent with one SES `SendBulkEmail` carrying every recipient's own
//! `List-Unsubscribe` headers, and SES bounce and complaint events that suppress addresses.

pub mod sending;

use http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use shop_domain::FieldError;
use shop_domain::marketing::{self, Audience, CampaignDraft};
use shop_domain::order::Email;
use shop_domain::pricing::DiscountCode;
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{ConfigError, Env, StoreSettings, TableSettings};
use shop_platform::edge::{self, json, json_body};
use shop_platform::messages::CampaignMessage;
use shop_platform::{ApiError, HttpFunction, QueueFunction};
use shop_services::queue::Queue;
use shop_services::ses::SesMailer;
use shop_store::discounts::DiscountStore;
use shop_store::marketing::{CampaignRecord, Confirmation, MarketingStore};
use std::sync::Arc;

/// Where marketing mail comes from and where its links point, from the store's parameters.
#[derive(Debug, Clone, Deserialize)]
struct CampaignSettings {
    /// The From address (an SES verified identity).
    sender_address: String,
    /// The SES configuration set whose events report bounces and complaints; empty for none.
    #[serde(default)]
    ses_configuration_set: String,
    /// The API's public base URL (confirmation and unsubscribe links).
    public_api_url: String,
    /// The campaign queue (sign-ups, fan-out pages, delivery batches).
    campaign_queue_url: String,
    /// Seconds before a recipient SES refused is tried again, per attempt made.
    #[serde(default = "default_retry_seconds")]
    campaign_retry_seconds: u32,
}

fn default_retry_seconds() -> u32 {
    60
}

/// The campaign function with its clients and templates, built once per instance.
pub struct EmailCampaign {
    store: MarketingStore,
    discounts: DiscountStore,
    queue: Queue,
    ses: SesMailer,
    settings: CampaignSettings,
    store_name: String,
    templates: Environment<'static>,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    email: String,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignRequest {
    name: String,
    subject: String,
    html: String,
    text: String,
    audience: Audience,
    #[serde(default)]
    discount_code: Option<String>,
}

/// Most subscribers one import takes.
const IMPORT_MAX: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    source: String,
    subscribers: Vec<ImportRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRow {
    email: String,
    /// When the consent was given elsewhere (RFC 3339, or Unix seconds).
    #[serde(deserialize_with = "shop_domain::instant::deserialize")]
    consented_at: i64,
}

/// A refused import row.
#[derive(Serialize)]
struct RowError {
    index: usize,
    field: &'static str,
    reason: String,
}

/// A campaign as the merchant sees it.
#[derive(Serialize)]
struct CampaignView<'a> {
    campaign_id: &'a str,
    name: &'a str,
    subject: &'a str,
    audience: &'a Audience,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_code: Option<&'a str>,
    status: marketing::CampaignStatus,
    recipients: u64,
    sent: u64,
    failed: u64,
    suppressed: u64,
    /// SES `SendBulkEmail` calls made for it.
    ses_calls: u64,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
}

fn view(campaign: &CampaignRecord) -> CampaignView<'_> {
    CampaignView {
        campaign_id: &campaign.campaign_id,
        name: &campaign.name,
        subject: &campaign.subject,
        audience: &campaign.audience,
        discount_code: campaign.discount_code.as_deref(),
        status: campaign.status(),
        recipients: campaign.progress.recipients,
        sent: campaign.progress.sent,
        failed: campaign.progress.failed,
        suppressed: campaign.progress.suppressed,
        ses_calls: campaign.bulk_calls,
        created_at: rfc3339(campaign.created_at),
        started_at: campaign.started_at.map(rfc3339),
    }
}

fn campaign_not_found() -> ApiError {
    ApiError::NotFound { what: "campaign" }
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

/// Templates of the confirmation mail, the campaign's frame and the pages, over the shop's one
/// layout; parsed once.
fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = shop_templates::environment()?;
    for (name, source) in [
        ("confirm.txt", include_str!("../templates/confirm.txt")),
        ("confirm.html", include_str!("../templates/confirm.html")),
        ("campaign.txt", include_str!("../templates/campaign.txt")),
        ("campaign.html", include_str!("../templates/campaign.html")),
        ("page.html", include_str!("../templates/page.html")),
    ] {
        env.add_template(name, source)?;
    }
    Ok(env)
}

impl EmailCampaign {
    /// Reads settings from `env` and builds the clients.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let store: StoreSettings = env.parse()?;
        let settings: CampaignSettings = env.parse()?;
        let client = aws_sdk_dynamodb::Client::new(sdk);
        // Listing cursors are sealed, and unsubscribe links tagged, with the shop's key.
        shop_platform::keys::install(env)?;
        Ok(Self {
            store: MarketingStore::new(client.clone(), table.shop_table.clone()),
            discounts: DiscountStore::new(client, table.shop_table),
            queue: Queue::new(aws_sdk_sqs::Client::new(sdk), settings.campaign_queue_url.clone()),
            ses: SesMailer::new(sdk, &settings.sender_address, &settings.ses_configuration_set),
            settings,
            store_name: store.store_name,
            templates: templates().map_err(|e| ConfigError::new(format!("campaign templates: {e}")))?,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same function using `ses` (tests that count or fail SES calls).
    pub fn with_ses(mut self, ses: aws_sdk_sesv2::Client) -> Self {
        self.ses = self.ses.with_client(ses);
        self
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("POST /subscribers") => self.sign_up(&request).await,
            Some("GET /subscribers/confirm") => self.confirm(&request).await,
            Some("GET /unsubscribe") => self.unsubscribe_page(&request).await,
            Some("POST /unsubscribe") => self.unsubscribe(&request).await,
            Some("POST /admin/subscribers/import") => self.import(&request).await,
            Some("GET /admin/campaigns") => self.list(&request).await,
            Some("POST /admin/campaigns") => self.create(&request).await,
            Some("GET /admin/campaigns/{campaign_id}") => self.show(&request).await,
            Some("POST /admin/campaigns/{campaign_id}/send") => self.send(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    /// `POST /subscribers {email, source?}`: 202 whether or not the address is known, so the
    /// answer tells nobody who is subscribed; the campaign queue does the rest.
    async fn sign_up(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: SignUpRequest = json_body(request, 4 * 1024)?;
        let mut errors = Vec::new();
        let email = Email::parse(&body.email).map_err(|reason| errors.push(FieldError::new("email", reason)));
        let source = marketing::source(body.source.as_deref().unwrap_or("newsletter"))
            .map_err(|reason| errors.push(FieldError::new("source", reason)));
        let (Ok(email), Ok(source)) = (email, source) else {
            return Err(ApiError::Invalid { errors });
        };
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
                self.page(
                    StatusCode::OK,
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
        self.page(
            StatusCode::OK,
            "Unsubscribe",
            &format!("Stop news and offers from {} to {email}?", self.store_name),
            Some(format!("/unsubscribe?token={token}")),
        )
    }

    /// `POST /unsubscribe?token=` with `List-Unsubscribe=One-Click` (RFC 8058): unsubscribes at
    /// once; again is the same answer.
    async fn unsubscribe(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let token = link_token(request, "unsubscribe link")?;
        let one_click = std::str::from_utf8(request.body().as_ref())
            .unwrap_or_default()
            .split('&')
            .any(|pair| pair.trim() == "List-Unsubscribe=One-Click");
        if !one_click {
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
        self.page(
            StatusCode::OK,
            "You are unsubscribed",
            &format!("{email} gets no more news or offers from {}.", self.store_name),
            None,
        )
    }

    /// `POST /admin/subscribers/import {source, subscribers: [{email, consented_at}]}`: a list
    /// whose consent was recorded elsewhere. Bad rows are named and left out; addresses the
    /// shop knows are left as they are.
    async fn import(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: ImportRequest = json_body(request, IMPORT_MAX * 512)?;
        let source = marketing::source(&body.source).map_err(|reason| ApiError::invalid("source", reason))?;
        if body.subscribers.len() > IMPORT_MAX {
            return Err(ApiError::invalid(
                "subscribers",
                format!("at most {IMPORT_MAX} subscribers per import"),
            ));
        }
        let now = self.clock.now();
        let mut rows = Vec::with_capacity(body.subscribers.len());
        let mut errors = Vec::new();
        for (index, row) in body.subscribers.into_iter().enumerate() {
            match Email::parse(&row.email) {
                Err(reason) => errors.push(RowError {
                    index,
                    field: "email",
                    reason,
                }),
                Ok(_) if row.consented_at <= 0 || row.consented_at > now => errors.push(RowError {
                    index,
                    field: "consented_at",
                    reason: "the time of a consent given in the past".into(),
                }),
                Ok(email) => rows.push((email, row.consented_at)),
            }
        }
        let (imported, known) = self.store.import_confirmed(&rows, &source).await?;
        tracing::info!(imported, known, refused = errors.len(), "subscribers imported");
        json(
            StatusCode::OK,
            &serde_json::json!({"imported": imported, "known": known, "errors": errors}),
        )
    }

    async fn list(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = edge::page_params(request)?;
        let page = self.store.newest_campaigns(limit, cursor.as_ref()).await?;
        let items: Vec<CampaignView<'_>> = page.items.iter().map(view).collect();
        json(
            StatusCode::OK,
            &serde_json::json!({"items": items, "next_cursor": page.next_cursor}),
        )
    }

    async fn create(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: CampaignRequest = json_body(request, 2 * marketing::BODY_MAX + 16 * 1024)?;
        let draft = CampaignDraft::check(&body.name, &body.subject, &body.html, &body.text, body.audience);
        let discount = match body.discount_code.as_deref().map(DiscountCode::parse).transpose() {
            Ok(Some(code)) if self.discounts.get(&code).await?.is_none() => Err(FieldError::new(
                "discount_code",
                format!("no discount code {code} exists"),
            )),
            Ok(code) => Ok(code),
            Err(reason) => Err(FieldError::new("discount_code", reason)),
        };
        let (draft, discount) = match (draft, discount) {
            (Ok(draft), Ok(discount)) => (draft, discount),
            (draft, discount) => {
                let mut errors = draft.err().unwrap_or_default();
                errors.extend(discount.err());
                return Err(ApiError::Invalid { errors });
            }
        };
        let campaign = self
            .store
            .create_campaign(draft, discount.map(String::from), self.clock.now())
            .await?;
        tracing::info!(campaign_id = %campaign.campaign_id, "campaign created");
        json(StatusCode::CREATED, &view(&campaign))
    }

    async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = edge::path_param(request, "campaign_id")?;
        let campaign = self.store.campaign(&id).await?.ok_or_else(campaign_not_found)?;
        json(StatusCode::OK, &view(&campaign))
    }

    /// Starts sending: the first audience page goes to the queue. Pressed again, nothing more
    /// is sent (a campaign whose first page never reached the queue gets it now).
    async fn send(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = edge::path_param(request, "campaign_id")?;
        let campaign = self.store.campaign(&id).await?.ok_or_else(campaign_not_found)?;
        let started = self.store.start_sending(&id, self.clock.now()).await?;
        let first_page_pending = started || (campaign.next_page == 0 && !campaign.fanned_out);
        if first_page_pending {
            let trace = Trace::new(&id, edge::request_id(request));
            let first = CampaignMessage::FanOut {
                campaign_id: id.clone(),
                page: 0,
            };
            self.queue
                .send(&first, 0, &trace)
                .await
                .map_err(|e| ApiError::Upstream {
                    service: "the campaign queue",
                    cause: e.to_string(),
                })?;
            tracing::info!(campaign_id = %id, "campaign sending");
        }
        let campaign = self.store.campaign(&id).await?.ok_or_else(campaign_not_found)?;
        json(StatusCode::ACCEPTED, &view(&campaign))
    }

    fn page(
        &self,
        status: StatusCode,
        title: &str,
        message: &str,
        form_action: Option<String>,
    ) -> Result<Response<Body>, ApiError> {
        let html = render_page(&self.templates, &self.store_name, title, message, form_action)
            .map_err(|e| ApiError::Internal(format!("page: {e}")))?;
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(html))
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
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

impl HttpFunction for EmailCampaign {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(EmailCampaign::handle(self, request))
    }
}

impl QueueFunction for EmailCampaign {
    fn handle_batch(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> futures::future::BoxFuture<'_, aws_lambda_events::event::sqs::SqsBatchResponse> {
        Box::pin(EmailCampaign::handle_batch(self, event))
    }
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
    fn the_opt_in_mail_has_the_shops_layout_in_both_parts() {
        let templates = templates().unwrap();
        let facts = context! {
            store_name => "Mugs & Co", email => "ada@example.com", hours => 72,
            confirm_url => "https://api.example/subscribers/confirm?token=t",
        };
        let html = templates.get_template("confirm.html").unwrap().render(&facts).unwrap();
        let text = templates.get_template("confirm.txt").unwrap().render(&facts).unwrap();
        assert!(
            html.contains("class=\"shop-header") && html.contains("Yes, subscribe me"),
            "{html}"
        );
        assert!(html.contains("href=\"https:&#x2f;&#x2f;api.example&#x2f;subscribers&#x2f;confirm?token=t\""));
        assert!(
            text.starts_with("Mugs & Co\n\nPlease confirm your subscription\n\n"),
            "{text}"
        );
        assert!(
            text.contains("\nhttps://api.example/subscribers/confirm?token=t\n"),
            "{text}"
        );
        assert!(text.contains("\n-- \nMugs & Co\n"), "{text}");
    }
}
