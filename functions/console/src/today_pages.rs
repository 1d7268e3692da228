//! The Today page: the day at a glance from the admin handler's summary (paid orders and
//! revenue, orders to pack, returns waiting) with links to each list, and the alerts that need
//! someone: orders flagged for review (each linked, where "Mark reviewed" takes it off), the
//! last week's mail bounces and complaints (linked to the subscribers), dead-letter queues
//! holding failed work.

use crate::pages::PageError;
use crate::{Console, Ctx};
use http::Method;
use lambda_http::{Body, Response};
use serde_json::json;
use shop_platform::in_process::Call;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[("today.html", include_str!("../templates/today.html"))];

impl Console {
    /// `/today`.
    pub(crate) async fn today_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => {
                let summary = self
                    .pages
                    .displayed(self.ask(ctx.request, Call::get("/admin/summary")).await?);
                self.pages.show(ctx, "today.html", json!({ "summary": summary }))
            }
            _ => Err(PageError::NotFound),
        }
    }
}
