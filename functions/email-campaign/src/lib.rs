//! `email-campaign`: marketing mail with consent.
//!
//! Over HTTP, for shoppers ([`subscriptions`], which the storefront embeds too):
//! `POST /subscribers` (always 202; the sign-up goes to the campaign queue, which mails a double
//! opt-in link), `GET /subscribers/confirm?token=` (records the consent), `GET /unsubscribe?token=`
//! (a page with a button) and `POST /unsubscribe?token=` (RFC 8058 one-click). For the merchant:
//! `POST /admin/subscribers/import`, `GET /admin/subscribers/counts` (by status and source),
//! `GET /admin/campaigns`, `POST /admin/campaigns`, `POST /admin/campaigns/preview` (the mail as a
//! recipient gets it, nothing stored), `GET /admin/campaigns/{id}`, `POST /admin/campaigns/{id}/send`
//! (202; pressing it again sends nothing more).
//!
//! Over SQS ([`sending`]): sign-ups, the fan-out of a campaign's audience page by page into
//! batches of 50, each batch sent with one SES `SendBulkEmail` carrying every recipient's own
//! `List-Unsubscribe` headers, and SES bounce and complaint events that suppress addresses.

pub mod sending;
pub mod subscriptions;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use minijinja::Environment;
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
use shop_store::mail_events::MailEventStore;
use shop_store::marketing::{CampaignRecord, MarketingStore};
use std::sync::Arc;
use subscriptions::Subscriptions;

/// Where marketing mail comes from and where its links point, from the store's parameters.
#[derive(Debug, Clone, Deserialize)]
struct CampaignSettings {
    /// The From address (an SES verified identity).
    sender_address: String,
    /// The SES configuration set whose events report bounces and complaints; empty for none.
    #[serde(default)]
    ses_configuration_set: String,
    /// The API's public base URL: its one-click unsubscribe (`List-Unsubscribe`), and its
    /// confirmation and unsubscribe pages when `consent_pages_url` is empty.
    public_api_url: String,
    /// Where the confirmation and unsubscribe pages that mails link to are: the bundled
    /// storefront's address; empty for the API's own pages (a merchant's own storefront).
    #[serde(default)]
    consent_pages_url: String,
    /// The campaign queue (sign-ups, fan-out pages, delivery batches).
    campaign_queue_url: String,
    /// Seconds before a recipient SES refused is tried again, per attempt made.
    #[serde(default = "default_retry_seconds")]
    campaign_retry_seconds: u32,
}

fn default_retry_seconds() -> u32 {
    60
}

impl CampaignSettings {
    /// The pages' base URL (no trailing `/`): the storefront's, else the API's.
    fn pages_base(&self) -> &str {
        let pages = self.consent_pages_url.trim().trim_end_matches('/');
        if pages.is_empty() {
            self.public_api_url.trim().trim_end_matches('/')
        } else {
            pages
        }
    }

    /// The link of a confirmation mail.
    fn confirm_url(&self, token: &str) -> String {
        format!("{}/subscribers/confirm?token={token}", self.pages_base())
    }

    /// The unsubscribe link a reader follows (a page with a button).
    fn unsubscribe_page_url(&self, token: &str) -> String {
        format!("{}/unsubscribe?token={token}", self.pages_base())
    }

    /// The `List-Unsubscribe` address mail clients post to in one click (RFC 8058): always the
    /// API's, which takes the post without the storefront's CSRF token.
    fn one_click_url(&self, token: &str) -> String {
        let api = self.public_api_url.trim().trim_end_matches('/');
        format!("{api}/unsubscribe?token={token}")
    }
}

/// The campaign function with its clients and templates, built once per instance.
pub struct EmailCampaign {
    subscriptions: Subscriptions,
    store: MarketingStore,
    /// SES's bounces and complaints counted per day.
    mail_events: MailEventStore,
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
struct CampaignRequest {
    name: String,
    subject: String,
    html: String,
    text: String,
    audience: Audience,
    #[serde(default)]
    discount_code: Option<String>,
}

/// The address a preview shows the mail to.
const PREVIEW_READER: &str = "reader@example.com";

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

/// Templates of the confirmation mail and the campaign's frame, compiled in.
const TEMPLATES: shop_templates::Sources = &[
    ("confirm.txt", include_str!("../templates/confirm.txt")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("campaign.txt", include_str!("../templates/campaign.txt")),
    ("campaign.html", include_str!("../templates/campaign.html")),
];

/// The mails' templates over the shop's one layout.
fn templates() -> Result<Environment<'static>, minijinja::Error> {
    shop_templates::environment(&[TEMPLATES])
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
            subscriptions: Subscriptions::from_env(env, sdk)?,
            store: MarketingStore::new(client.clone(), table.shop_table.clone()),
            mail_events: MailEventStore::new(client.clone(), table.shop_table.clone()),
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

    /// The same function reading the time from `clock` (tests of what is counted per day).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some(route) if subscriptions::ROUTES.contains(&route) => self.subscriptions.route(request).await,
            Some("POST /admin/subscribers/import") => self.import(&request).await,
            Some("GET /admin/subscribers/counts") => self.counts().await,
            Some("POST /admin/campaigns/preview") => self.preview(&request).await,
            Some("GET /admin/campaigns") => self.list(&request).await,
            Some("POST /admin/campaigns") => self.create(&request).await,
            Some("GET /admin/campaigns/{campaign_id}") => self.show(&request).await,
            Some("POST /admin/campaigns/{campaign_id}/send") => self.send(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
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

    /// `GET /admin/subscribers/counts`: the list by status and by source (see
    /// [`MarketingStore::subscriber_counts`] for its bound).
    async fn counts(&self) -> Result<Response<Body>, ApiError> {
        json(StatusCode::OK, &self.store.subscriber_counts().await?)
    }

    /// A campaign's fields checked as creating it checks them, each refused one named.
    async fn checked(&self, request: &Request) -> Result<(CampaignDraft, Option<DiscountCode>), ApiError> {
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
        match (draft, discount) {
            (Ok(draft), Ok(discount)) => Ok((draft, discount)),
            (draft, discount) => {
                let mut errors = draft.err().unwrap_or_default();
                errors.extend(discount.err());
                Err(ApiError::Invalid { errors })
            }
        }
    }

    /// `POST /admin/campaigns/preview` with what `POST /admin/campaigns` takes: `{subject, html,
    /// text}` as a recipient gets them, framed by the code that sends them and with the fields
    /// SES fills per recipient filled for a sample reader. Nothing is stored.
    async fn preview(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (draft, discount) = self.checked(request).await?;
        let parts = sending::Parts {
            subject: &draft.subject,
            html: &draft.html,
            text: &draft.text,
        };
        let (html, text) = sending::frame(&self.templates, &self.store_name, &parts)
            .map_err(|e| ApiError::Internal(format!("the campaign's mail did not render: {e}")))?;
        let unsubscribe_url = self.settings.unsubscribe_page_url("preview");
        let fields = sending::Fields {
            email: PREVIEW_READER,
            unsubscribe_url: &unsubscribe_url,
            store_name: &self.store_name,
            discount_code: discount.as_ref().map_or("", |code| code.as_str()),
        };
        json(
            StatusCode::OK,
            &serde_json::json!({
                "subject": sending::fill(&draft.subject, &fields, false),
                "html": sending::fill(&html, &fields, true),
                "text": sending::fill(&text, &fields, false),
                "reader": PREVIEW_READER,
            }),
        )
    }

    async fn create(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (draft, discount) = self.checked(request).await?;
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
    use minijinja::context;

    #[test]
    fn every_template_parses() {
        shop_templates::parse_all(&[TEMPLATES, subscriptions::PAGE_TEMPLATES]).unwrap();
    }

    fn settings(consent_pages_url: &str) -> CampaignSettings {
        CampaignSettings {
            sender_address: "shop@example.com".into(),
            ses_configuration_set: String::new(),
            public_api_url: "https://api.example/".into(),
            consent_pages_url: consent_pages_url.into(),
            campaign_queue_url: "https://sqs.example/q".into(),
            campaign_retry_seconds: 60,
        }
    }

    #[test]
    fn with_the_bundled_storefront_mails_link_to_its_pages_and_mail_clients_post_to_the_api() {
        let settings = settings("https://shop.example/");
        assert_eq!(
            settings.confirm_url("t"),
            "https://shop.example/subscribers/confirm?token=t"
        );
        assert_eq!(
            settings.unsubscribe_page_url("t"),
            "https://shop.example/unsubscribe?token=t"
        );
        assert_eq!(settings.one_click_url("t"), "https://api.example/unsubscribe?token=t");
    }

    #[test]
    fn with_a_merchants_own_storefront_every_link_is_the_apis() {
        let settings = settings("");
        assert_eq!(
            settings.confirm_url("t"),
            "https://api.example/subscribers/confirm?token=t"
        );
        assert_eq!(
            settings.unsubscribe_page_url("t"),
            "https://api.example/unsubscribe?token=t"
        );
        assert_eq!(settings.one_click_url("t"), "https://api.example/unsubscribe?token=t");
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
