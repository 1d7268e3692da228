//! A listing page with tabs (orders by status, returns by state, the support inbox): the tab the
//! query asks for (`?<param>=`, the first by default; one that is not a tab is not found), one
//! page of the admin handler's listing for it from `?cursor=`, with amounts displayed, and the
//! link to the next page.

use crate::pages::PageError;
use crate::{Console, Ctx};
use serde_json::{Value, json};
use shop_platform::edge::query_param;
use shop_platform::in_process::{Call, encode};

/// Items a listing page shows.
const PAGE_SIZE: &str = "25";

/// Where a tabbed listing lives and what it asks.
pub(crate) struct Tabs {
    /// The console page, `/orders`.
    pub page: &'static str,
    /// The query parameter naming the tab, here and at the admin route: `status`.
    pub param: &'static str,
    /// Each tab's value and label; the first is the default.
    pub tabs: &'static [(&'static str, &'static str)],
    /// The admin route listing one tab: `/admin/orders`.
    pub route: &'static str,
}

/// One page of a tabbed listing, ready for its template.
pub(crate) struct Listed {
    /// The tab shown.
    pub tab: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Every tab: `{value, label, current}`.
    pub tabs: Vec<Value>,
    /// The page's items.
    pub items: Value,
    /// The next page's address.
    pub next: Option<String>,
}

impl Console {
    /// The page of `listing` that `ctx`'s request asks for.
    pub(crate) async fn listed(&self, ctx: &Ctx<'_>, listing: &Tabs) -> Result<Listed, PageError> {
        let (tab, label) = match query_param(ctx.request, listing.param) {
            None => listing.tabs[0],
            Some(asked) => *listing
                .tabs
                .iter()
                .find(|(value, _)| *value == asked)
                .ok_or(PageError::NotFound)?,
        };
        let call = Call::get(listing.route)
            .query(listing.param, Some(tab))
            .query("limit", Some(PAGE_SIZE))
            .query("cursor", query_param(ctx.request, "cursor").map(str::to_owned));
        let mut page = self.pages.displayed(self.ask(ctx.request, call).await?);
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(|cursor| format!("{}?{}={tab}&cursor={}", listing.page, listing.param, encode(cursor)));
        let tabs = listing
            .tabs
            .iter()
            .map(|(value, label)| json!({"value": value, "label": label, "current": *value == tab}))
            .collect();
        Ok(Listed {
            tab,
            label,
            tabs,
            items: page.get_mut("items").map(Value::take).unwrap_or(Value::Null),
            next,
        })
    }
}
