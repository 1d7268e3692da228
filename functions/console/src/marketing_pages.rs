//! The marketing section (owners only: it writes to every subscriber): the list counted by
//! status and source with the sitemap and feed addresses to give search engines, the import of
//! a consented list as a CSV file or pasted (every row checked before anything is written), and
//! campaigns: compose with a preview made by the code that sends them, send after a
//! confirmation, and the progress page that refreshes itself while it goes. Each asks the
//! campaign function's admin route of the same name, in-process.

mod consented_list;

use crate::Change;
use crate::order_pages::refusal_message;
use crate::pages::PageError;
use crate::{Console, Ctx, form, multipart};
use consented_list::RowProblem;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_platform::in_process::{self, Call, encode};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("marketing.html", include_str!("../templates/marketing.html")),
    (
        "marketing_import.html",
        include_str!("../templates/marketing_import.html"),
    ),
    (
        "marketing_campaigns.html",
        include_str!("../templates/marketing_campaigns.html"),
    ),
    (
        "marketing_compose.html",
        include_str!("../templates/marketing_compose.html"),
    ),
    (
        "marketing_campaign.html",
        include_str!("../templates/marketing_campaign.html"),
    ),
];

/// Campaigns a page lists.
const PAGE_SIZE: &str = "25";

/// The statuses of an address, in the order the counts show them, with their labels.
const STATUSES: &[(&str, &str)] = &[
    ("confirmed", "Subscribed"),
    ("pending", "Awaiting confirmation"),
    ("unsubscribed", "Unsubscribed"),
    ("bounced", "Bounced"),
    ("complained", "Complained"),
];

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// The compose form, as posted (and shown again with a preview or the refusal).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
struct ComposeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    text: String,
    /// `subscribers` (everyone confirmed) or `source`.
    #[serde(default)]
    audience: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    discount_code: String,
    /// The button pressed: `preview` or `save`.
    #[serde(default)]
    action: String,
}

impl ComposeForm {
    /// The campaign as the create and preview routes take it.
    fn campaign(&self) -> Value {
        let audience = if self.audience == "source" {
            json!({"source": self.source.trim()})
        } else {
            json!("subscribers")
        };
        let discount_code = Some(self.discount_code.trim()).filter(|code| !code.is_empty());
        json!({
            "name": self.name.trim(),
            "subject": self.subject.trim(),
            "html": self.html,
            "text": self.text,
            "audience": audience,
            "discount_code": discount_code,
        })
    }
}

impl Console {
    /// `/marketing/…`.
    pub(crate) async fn marketing_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        ctx.owner_only()?;
        match (method, rest) {
            (&Method::GET, []) => self.marketing_page(ctx).await,
            (&Method::GET, ["import"]) => self.subscriber_import_page(ctx, "", &[]),
            (&Method::POST, ["import"]) => self.import_subscribers(ctx).await,
            (&Method::GET, ["campaigns"]) => self.campaigns_page(ctx).await,
            (&Method::GET, ["campaigns", "new"]) => self.compose_page(ctx, &ComposeForm::default(), None, None),
            (&Method::POST, ["campaigns", "new"]) => self.compose(ctx).await,
            (&Method::GET, ["campaigns", id]) => self.campaign_page(ctx, id, false).await,
            (&Method::GET, ["campaigns", id, "send"]) => self.campaign_page(ctx, id, true).await,
            (&Method::POST, ["campaigns", id, "send"]) => self.send(ctx, id).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// What the campaign handler answers `call`, asked in-process with `request`'s source and id.
    async fn ask_campaigns(&self, request: &Request, call: Call) -> Result<Value, PageError> {
        Ok(in_process::call::<Value>(&self.campaigns, request, call).await?.body)
    }

    /// `GET /marketing`: the list counted, and the addresses to give search engines.
    async fn marketing_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let counts = self
            .ask_campaigns(ctx.request, Call::get("/admin/subscribers/counts"))
            .await?;
        let count = |counts: &Value, status: &str| counts.get(status).and_then(Value::as_u64).unwrap_or(0);
        let statuses: Vec<Value> = STATUSES
            .iter()
            .map(|(status, label)| json!({"label": label, "count": count(&counts["by_status"], status)}))
            .collect();
        let sources: Vec<Value> = counts["by_source"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(source, by_status)| {
                let cells: Vec<u64> = STATUSES.iter().map(|(status, _)| count(by_status, status)).collect();
                json!({"source": source, "counts": cells})
            })
            .collect();
        self.pages.show(
            ctx,
            "marketing.html",
            json!({
                "statuses": statuses,
                "labels": STATUSES.iter().map(|(_, label)| *label).collect::<Vec<_>>(),
                "sources": sources,
                "total": counts["total"],
                "complete": counts["complete"],
                "sitemap_url": format!("{}/sitemap.xml", self.public_api_url),
                "feed_url": format!("{}/feeds/google.xml", self.public_api_url),
            }),
        )
    }

    /// The import form with what was pasted and, after a refused check, each row's problem.
    fn subscriber_import_page(
        &self,
        ctx: &Ctx<'_>,
        csv: &str,
        problems: &[RowProblem],
    ) -> Result<Response<Body>, PageError> {
        let mut page = self.pages.show(
            ctx,
            "marketing_import.html",
            json!({"csv": csv, "problems": problems, "rows_max": consented_list::ROWS_MAX}),
        )?;
        if !problems.is_empty() {
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        Ok(page)
    }

    /// `POST /marketing/import` (a file, or the list pasted): every row checked; when one is bad nothing is written and the
    /// form comes back with each problem named by its line. Else one import call per source.
    async fn import_subscribers(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let csv = import_list(ctx.request).await?;
        let rows = match consented_list::check(&csv, crate::now()) {
            Ok(rows) => rows,
            Err(problems) => return self.subscriber_import_page(ctx, &csv, &problems),
        };
        let (mut imported, mut known) = (0, 0);
        let mut sources = Vec::new();
        for (source, rows) in consented_list::by_source(rows) {
            let subscribers: Vec<Value> = rows
                .iter()
                .map(|row| json!({"email": row.email.as_str(), "consented_at": row.consented_at}))
                .collect();
            let call = Call::new(Method::POST, "/admin/subscribers/import")
                .body(json!({"source": source, "subscribers": subscribers}));
            let report = match self.ask_campaigns(ctx.request, call).await {
                Ok(report) => report,
                Err(PageError::Refused(refusal)) => {
                    return Ok(self.pages.done(ctx, "/marketing/import", &refusal_message(&refusal)));
                }
                Err(other) => return Err(other),
            };
            imported += report["imported"].as_u64().unwrap_or(0);
            known += report["known"].as_u64().unwrap_or(0);
            sources.push(source);
        }
        let summary = format!("{imported} added, {known} known before, from {}", sources.join(", "));
        self.audit(
            ctx,
            "imported subscribers",
            "subscriber list",
            None,
            Some(summary.clone()),
        )
        .await;
        Ok(self.pages.done(ctx, "/marketing", &format!("Imported: {summary}.")))
    }

    /// `GET /marketing/campaigns?cursor=`: newest first.
    async fn campaigns_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let cursor = shop_platform::edge::query_param(ctx.request, "cursor").map(str::to_owned);
        let call = Call::get("/admin/campaigns")
            .query("limit", Some(PAGE_SIZE))
            .query("cursor", cursor);
        let page = self.ask_campaigns(ctx.request, call).await?;
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(|cursor| format!("/marketing/campaigns?cursor={}", encode(cursor)));
        self.pages.show(
            ctx,
            "marketing_campaigns.html",
            json!({"campaigns": page["items"], "next": next}),
        )
    }

    /// The compose form with `draft`, and the preview or the refusal of the last press.
    fn compose_page(
        &self,
        ctx: &Ctx<'_>,
        draft: &ComposeForm,
        preview: Option<Value>,
        problem: Option<String>,
    ) -> Result<Response<Body>, PageError> {
        let status = if problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let mut page = self.pages.show(
            ctx,
            "marketing_compose.html",
            json!({"draft": draft, "preview": preview, "problem": problem}),
        )?;
        *page.status_mut() = status;
        Ok(page)
    }

    /// `POST /marketing/campaigns/new`: Preview shows the mail as a reader gets it (the form
    /// kept as typed); Save creates the draft and opens its page.
    async fn compose(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let draft: ComposeForm = form(ctx.request)?;
        let route = if draft.action == "save" {
            "/admin/campaigns"
        } else {
            "/admin/campaigns/preview"
        };
        let call = Call::new(Method::POST, route).body(draft.campaign());
        let answer = match self.ask_campaigns(ctx.request, call).await {
            Ok(answer) => answer,
            Err(PageError::Refused(refusal)) => {
                return self.compose_page(ctx, &draft, None, Some(refusal_message(&refusal)));
            }
            Err(other) => return Err(other),
        };
        if draft.action != "save" {
            return self.compose_page(ctx, &draft, Some(answer), None);
        }
        let id = answer["campaign_id"].as_str().unwrap_or_default();
        self.audit(
            ctx,
            "created campaign",
            &format!("campaign {id}"),
            None,
            Some(draft.subject.trim().to_owned()),
        )
        .await;
        Ok(self.pages.done(
            ctx,
            &format!("/marketing/campaigns/{}", encode(id)),
            "Saved as a draft. Nothing is sent until you press Send.",
        ))
    }

    /// `GET /marketing/campaigns/{id}` (its progress, refreshing itself while it sends) and
    /// `…/send` (the same facts with the confirmation to send).
    async fn campaign_page(&self, ctx: &Ctx<'_>, id: &str, confirm: bool) -> Result<Response<Body>, PageError> {
        if !is_campaign_id(id) {
            return Err(PageError::NotFound);
        }
        let campaign = self
            .ask_campaigns(
                ctx.request,
                Call::get("/admin/campaigns/{campaign_id}").param("campaign_id", id),
            )
            .await?;
        let status = campaign["status"].as_str().unwrap_or_default();
        self.pages.show(
            ctx,
            "marketing_campaign.html",
            json!({
                "campaign": campaign,
                "confirm": confirm && status == "draft",
                "refresh": status == "sending",
            }),
        )
    }

    /// `POST /marketing/campaigns/{id}/send`: starts sending a draft (pressed again, nothing
    /// more goes, and nothing is audited).
    async fn send(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        if !is_campaign_id(id) {
            return Err(PageError::NotFound);
        }
        let campaign = Call::get("/admin/campaigns/{campaign_id}").param("campaign_id", id);
        let before = self.ask_campaigns(ctx.request, campaign).await?;
        let before = before["status"].as_str().unwrap_or_default().to_owned();
        let call = Call::new(Method::POST, "/admin/campaigns/{campaign_id}/send").param("campaign_id", id);
        if before != "draft" {
            let message = format!("It is {before} already: nothing more is sent.");
            return Ok(self
                .pages
                .done(ctx, &format!("/marketing/campaigns/{}", encode(id)), &message));
        }
        let message = self
            .changed(
                ctx,
                self.ask_campaigns(ctx.request, call).await,
                |after| Change {
                    action: "sent campaign",
                    subject: format!("campaign {id}"),
                    before: Some(before.clone()),
                    after: after["status"].as_str().map(str::to_owned),
                },
                |_| "Sending. This page follows its progress.".to_owned(),
            )
            .await?;
        Ok(self
            .pages
            .done(ctx, &format!("/marketing/campaigns/{}", encode(id)), &message))
    }
}

/// A campaign id as the campaign function makes them (letters, digits, `-`, `_`).
fn is_campaign_id(id: &str) -> bool {
    in_process::is_order_id(id)
}

/// The list a `POST /marketing/import` sends: the chosen file's text (UTF-8, as spreadsheets
/// save "CSV UTF-8", its byte-order mark dropped) when one was chosen, else what was pasted.
async fn import_list(request: &Request) -> Result<String, PageError> {
    if !multipart::is_multipart(request) {
        return Ok(form::<ImportForm>(request)?.csv);
    }
    let posted = multipart::read(request).await?;
    match posted.part("file").filter(|file| !file.bytes.is_empty()) {
        Some(file) => {
            let text = std::str::from_utf8(&file.bytes).map_err(|_| {
                PageError::BadForm("the file is not UTF-8 text: save it as \"CSV UTF-8\" and choose it again".into())
            })?;
            Ok(text.trim_start_matches('\u{feff}').to_owned())
        }
        None => Ok(posted.text("csv").to_owned()),
    }
}
