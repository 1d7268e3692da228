//! The audit log: every change staff made through the console, newest first, paged (who, what,
//! on what, when, before → after).

use crate::pages::PageError;
use crate::{Console, Ctx};
use http::Method;
use lambda_http::{Body, Response};
use serde_json::json;
use shop_domain::PageLimit;
use shop_platform::in_process::encode;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[("audit.html", include_str!("../templates/audit.html"))];

/// Entries a page shows.
const PAGE_SIZE: &str = "50";

impl Console {
    /// `/audit?cursor=`.
    pub(crate) async fn audit_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        if (method, rest) != (&Method::GET, &[][..]) {
            return Err(PageError::NotFound);
        }
        let cursor = shop_platform::edge::query_param(ctx.request, "cursor")
            .map(shop_platform::keys::open_cursor)
            .transpose()
            .map_err(|_| PageError::BadForm("that page of the audit log does not exist".into()))?;
        let limit = PageLimit::parse(Some(PAGE_SIZE)).map_err(PageError::Internal)?;
        let page = self
            .audit
            .newest(limit, cursor.as_ref())
            .await
            .map_err(|error| PageError::Internal(format!("the audit log could not be read: {error}")))?;
        let entries: Vec<_> = page
            .items
            .iter()
            .map(|entry| json!({"entry": entry, "at": shop_domain::instant::rfc3339(entry.at)}))
            .collect();
        let next = page
            .next_cursor
            .map(|cursor| format!("/audit?cursor={}", encode(&cursor)));
        self.pages
            .show(ctx, "audit.html", json!({"entries": entries, "next": next}))
    }
}
