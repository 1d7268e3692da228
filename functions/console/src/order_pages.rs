//! The order desk's pages: orders by status (newest first, paged), one order with its lines,
//! address, timeline and shipments, its packing slip, and the forms that ship it, mark it
//! delivered and mark a flagged order reviewed. Each asks the admin handler's route of the same
//! name.

use crate::Change;
use crate::listing::Tabs;
use crate::pages::{PageError, secure_headers};
use crate::{Console, Ctx, form};
use http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_domain::Money;
use shop_platform::in_process::{self, Call, encode, is_order_id};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("orders.html", include_str!("../templates/orders.html")),
    ("order.html", include_str!("../templates/order.html")),
];

/// The orders page: orders by status, newest first.
const ORDERS: Tabs = Tabs {
    page: "/orders",
    param: "status",
    tabs: TABS,
    route: "/admin/orders",
};

/// The statuses the orders page lists, each with its tab's label; the first is the default.
const TABS: &[(&str, &str)] = &[
    ("fulfilling", "To pack"),
    ("paid", "Paid"),
    ("shipped", "Shipped"),
    ("delivered", "Delivered"),
    ("return_requested", "Return requested"),
    ("returned", "Returned"),
    ("partially_refunded", "Partly refunded"),
    ("refunded", "Refunded"),
    ("cancelled", "Cancelled"),
    ("pending_payment", "Awaiting payment"),
];

/// Orders a page shows.
const PAGE_SIZE: &str = "25";

/// The moments of an order's life, each with the field that holds it.
const TIMELINE: &[(&str, &str)] = &[
    ("paid_at", "Paid"),
    ("fulfilling_at", "Packing started"),
    ("shipped_at", "Shipped in full"),
    ("delivered_at", "Delivered"),
    ("return_requested_at", "Return requested"),
    ("returned_at", "Returned"),
    ("partially_refunded_at", "Partly refunded"),
    ("refunded_at", "Refunded"),
    ("cancelled_at", "Cancelled"),
];

/// The Ship form: carrier, tracking number, and `units[<SKU>]` for each line still to ship.
type ShipForm = std::collections::HashMap<String, String>;

/// The Refund form.
#[derive(Deserialize)]
struct RefundForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    /// Made when the page was shown: the same form sent twice refunds once.
    #[serde(default)]
    key: String,
}

/// The field of the Ship form that holds the units of `sku` to ship.
fn units_field(sku: &str) -> String {
    format!("units[{sku}]")
}

impl Console {
    /// `/orders/…`.
    pub(crate) async fn order_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.orders_page(ctx).await,
            (&Method::GET, ["export"]) => self.export_orders(ctx.request).await,
            (&Method::GET, [order_id]) => self.order_page(ctx, order_id).await,
            (&Method::GET, [order_id, "packing-slip"]) => self.packing_slip(ctx.request, order_id).await,
            (&Method::POST, [order_id, "ship"]) => self.ship(ctx, order_id).await,
            (&Method::POST, [order_id, "delivered"]) => self.delivered(ctx, order_id).await,
            (&Method::POST, [order_id, "cancel"]) => self.cancel(ctx, order_id).await,
            (&Method::POST, [order_id, "refund"]) => self.refund(ctx, order_id).await,
            (&Method::POST, [order_id, "reviewed"]) => self.reviewed(ctx, order_id).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// What the admin handler answers `call`, asked in-process with `request`'s source and id.
    pub(crate) async fn ask(&self, request: &Request, call: Call) -> Result<Value, PageError> {
        Ok(in_process::call::<Value>(&self.admin, request, call).await?.body)
    }

    /// `GET /orders?status=&cursor=`, or `?q=` (an order id opens that order; an email lists
    /// the customer's orders, newest first).
    async fn orders_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if let Some(query) = shop_platform::edge::query_param(request, "q").map(str::trim) {
            return self.search(ctx, query).await;
        }
        let listed = self.listed(ctx, &ORDERS).await?;
        self.pages.show(
            ctx,
            "orders.html",
            json!({"tabs": listed.tabs, "label": listed.label, "orders": listed.items, "next": listed.next}),
        )
    }

    /// The orders page for a search: an order id opens the order, an email (anything with an
    /// `@`) lists that customer's most recent orders, newest first.
    async fn search(&self, ctx: &Ctx<'_>, query: &str) -> Result<Response<Body>, PageError> {
        let tabs: Vec<Value> = TABS
            .iter()
            .map(|(value, label)| json!({"value": value, "label": label, "current": false}))
            .collect();
        if !query.contains('@') {
            if is_order_id(query) {
                return Ok(self
                    .pages
                    .redirect(ctx.session, &format!("/orders/{}", encode(query)), Vec::new()));
            }
            let problem = "Search by an order id or a customer's email address.";
            return self.pages.show(
                ctx,
                "orders.html",
                json!({"tabs": tabs, "label": "Search", "query": query, "problem": problem, "orders": []}),
            );
        }
        let call = Call::get("/admin/orders")
            .query("email", Some(query))
            .query("limit", Some(PAGE_SIZE));
        let (orders, problem) = match self.ask(ctx.request, call).await {
            Ok(page) => (
                self.pages.displayed(page).get("items").cloned().unwrap_or(Value::Null),
                None,
            ),
            Err(PageError::Refused(refusal)) => (json!([]), Some(refusal_message(&refusal))),
            Err(other) => return Err(other),
        };
        self.pages.show(
            ctx,
            "orders.html",
            json!({"tabs": tabs, "label": format!("Orders of {query}"), "query": query, "problem": problem, "orders": orders}),
        )
    }

    /// `GET /orders/{order_id}`.
    async fn order_page(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::get("/admin/orders/{order_id}").param("order_id", order_id);
        let order = self.pages.displayed(self.ask(request, call).await?);
        let mails = self
            .ask(
                request,
                Call::get("/admin/orders/{order_id}/mails").param("order_id", order_id),
            )
            .await?;
        // Each moment in RFC 3339 (UTC), which sorts as it reads: the admin view writes
        // `created_at` so, the others as Unix seconds.
        let moment = |value: Option<&Value>| match value? {
            Value::String(text) => Some(text.clone()),
            Value::Number(seconds) => seconds.as_i64().map(shop_domain::instant::rfc3339),
            _ => None,
        };
        let mut timeline = vec![json!({"label": "Placed", "at": moment(order.get("created_at"))})];
        for (field, label) in TIMELINE {
            if let Some(at) = moment(order.get(*field)) {
                timeline.push(json!({"label": label, "at": at}));
            }
        }
        for shipment in order.get("shipments").and_then(Value::as_array).into_iter().flatten() {
            if let Some(at) = moment(shipment.get("shipped_at")) {
                let carrier = shipment.get("carrier").and_then(Value::as_str).unwrap_or("");
                let tracking = shipment.get("tracking_number").and_then(Value::as_str).unwrap_or("");
                timeline.push(json!({"label": format!("Shipment {carrier} {tracking}"), "at": at}));
            }
        }
        for note in order.get("reviews").and_then(Value::as_array).into_iter().flatten() {
            if let Some(at) = moment(note.get("flagged_at")) {
                let reason = note.get("reason").and_then(Value::as_str).unwrap_or("");
                timeline.push(json!({"label": format!("Flagged for review: {reason}"), "at": at}));
            }
        }
        for mark in order.get("reviewed").and_then(Value::as_array).into_iter().flatten() {
            if let Some(at) = moment(mark.get("reviewed_at")) {
                let by = mark.get("by").and_then(Value::as_str).unwrap_or("");
                timeline.push(json!({"label": format!("Marked reviewed by {by}"), "at": at}));
            }
        }
        timeline.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
        let to_ship = lines_to_ship(&order);
        let remaining = !to_ship.is_empty();
        let status = order.get("status").and_then(Value::as_str).unwrap_or("");
        let refundable = order
            .get("refundable")
            .and_then(|value| serde_json::from_value::<Money>(value.clone()).ok())
            .filter(|money| money.amount > 0);
        let shipped_any = order
            .get("shipments")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let owner = ctx.owner_only().is_ok();
        self.pages.show(
            ctx,
            "order.html",
            json!({
                "can_ship": remaining && status != "cancelled" && status != "pending_payment",
                "can_deliver": status == "shipped",
                "can_mark_reviewed": order.get("awaiting_review").and_then(Value::as_bool) == Some(true),
                // What the admin handler would refuse is not offered; it decides all the same.
                "can_cancel": owner && !shipped_any && matches!(status, "paid" | "fulfilling"),
                "can_refund": owner && refundable.is_some(),
                "refundable_amount": refundable.map(|money| money.decimal()),
                "refund_key": shop_platform::secrets::new_id(),
                "mails": mails.get("items").cloned().unwrap_or(Value::Null),
                "order": order,
                "order_id": order_id,
                "timeline": timeline,
                "to_ship": to_ship,
            }),
        )
    }

    /// `GET /orders/{order_id}/packing-slip`: the admin handler's printable page.
    async fn packing_slip(&self, request: &Request, order_id: &str) -> Result<Response<Body>, PageError> {
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::get("/admin/orders/{order_id}/packing-slip").param("order_id", order_id);
        let mut response = shop_platform::HttpFunction::handle(&self.admin, call.request(request)).await;
        match response.status() {
            status if status.is_success() => {
                secure_headers(&mut response);
                Ok(response)
            }
            http::StatusCode::NOT_FOUND => Err(PageError::NotFound),
            status => Err(PageError::Internal(format!("the packing slip answered {status}"))),
        }
    }

    /// `GET /orders/export?from=YYYY-MM-DD&to=YYYY-MM-DD`: the admin handler's CSV of the orders
    /// placed on those days, as a download; a span it refuses shows its reason.
    async fn export_orders(&self, request: &Request) -> Result<Response<Body>, PageError> {
        let param = |name| shop_platform::edge::query_param(request, name).map(str::to_owned);
        let call = Call::get("/admin/exports/orders")
            .query("from", param("from"))
            .query("to", param("to"));
        let mut response = shop_platform::HttpFunction::handle(&self.admin, call.request(request)).await;
        let status = response.status();
        if status.is_success() {
            secure_headers(&mut response);
            return Ok(response);
        }
        if status.is_client_error() {
            let problem: Value = match response.body() {
                Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
                _ => Value::Null,
            };
            let refusal = in_process::Refusal {
                status,
                code: None,
                detail: problem
                    .get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or("the export was refused")
                    .to_owned(),
                problem,
            };
            return Err(PageError::BadForm(format!("No export: {}", refusal_message(&refusal))));
        }
        Err(PageError::Internal(format!("the orders export answered {status}")))
    }

    /// `POST /orders/{order_id}/ship`: a shipment of the units chosen per line (all that is left
    /// of a line whose field was not sent), with its carrier and tracking number. The admin
    /// handler decides whether those units may ship.
    async fn ship(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let form: ShipForm = form(request)?;
        let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or_default().to_owned();
        let (carrier, tracking_number) = (field("carrier"), field("tracking_number"));
        let before = self
            .ask(
                request,
                Call::get("/admin/orders/{order_id}").param("order_id", order_id),
            )
            .await?;
        let lines = match chosen_units(&form, &before) {
            Ok(lines) => lines,
            Err(problem) => return Ok(self.back_to_order(ctx, order_id, &problem)),
        };
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/shipments")
            .param("order_id", order_id)
            .body(json!({"carrier": carrier, "tracking_number": tracking_number, "lines": lines}));
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |answer| Change {
                    action: "shipped",
                    subject: format!("order {order_id}"),
                    before: before.get("status").map(Value::to_string),
                    after: answer.get("shipment").map(Value::to_string),
                },
                |answer| {
                    let status = answer.get("order_status").and_then(Value::as_str).unwrap_or("");
                    format!(
                        "Shipped with {carrier} {tracking_number} (the order is {}).",
                        status.replace('_', " ")
                    )
                },
            )
            .await?;
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    /// `POST /orders/{order_id}/delivered`.
    async fn delivered(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/delivered").param("order_id", order_id);
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |_| Change {
                    action: "marked delivered",
                    subject: format!("order {order_id}"),
                    before: Some("shipped".into()),
                    after: Some("delivered".into()),
                },
                |_| "Marked delivered.".to_owned(),
            )
            .await?;
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    /// `POST /orders/{order_id}/reviewed` (staff and owners): the flagged order off the list of
    /// orders to review, marked by whoever is signed in; the admin handler decides whether
    /// there was anything to review.
    async fn reviewed(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/reviewed")
            .param("order_id", order_id)
            .body(json!({"by": ctx.staff.email}));
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |_| Change {
                    action: "marked reviewed",
                    subject: format!("order {order_id}"),
                    before: Some("to review".into()),
                    after: Some("reviewed".into()),
                },
                |_| "Marked reviewed.".to_owned(),
            )
            .await?;
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    /// `POST /orders/{order_id}/cancel` (owners): cancels an order before it ships, its stock
    /// back and its payment refunded in full, by the admin handler's cancellation.
    async fn cancel(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        ctx.owner_only()?;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let request = ctx.request;
        let before = self
            .ask(
                request,
                Call::get("/admin/orders/{order_id}").param("order_id", order_id),
            )
            .await?;
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/cancel").param("order_id", order_id);
        let status = |order: &Value| order.get("status").map(Value::to_string);
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |after| Change {
                    action: "cancelled",
                    subject: format!("order {order_id}"),
                    before: status(&before),
                    after: status(after),
                },
                |_| "Cancelled: the stock is back and the payment, if any, is refunded in full.".to_owned(),
            )
            .await?;
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    /// `POST /orders/{order_id}/refund` (owners): refunds the amount typed, for the reason given,
    /// through the admin handler (which decides how much may go back).
    async fn refund(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        ctx.owner_only()?;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let request = ctx.request;
        let form: RefundForm = form(request)?;
        let before = self
            .ask(
                request,
                Call::get("/admin/orders/{order_id}").param("order_id", order_id),
            )
            .await?;
        let currency = before
            .pointer("/totals/total")
            .and_then(|total| serde_json::from_value::<Money>(total.clone()).ok())
            .map(|total| total.currency)
            .ok_or_else(|| PageError::Internal(format!("order {order_id} has no total")))?;
        let amount = match Money::parse_decimal(&form.amount, currency) {
            Ok(amount) => amount,
            Err(reason) => return Ok(self.back_to_order(ctx, order_id, &format!("Nothing refunded: {reason}."))),
        };
        let mut body = json!({"amount": amount, "reason": form.reason.trim()});
        if is_order_id(form.key.trim()) {
            body["key"] = json!(form.key.trim());
        }
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/refunds")
            .param("order_id", order_id)
            .body(body);
        let message = match self.ask(request, call).await {
            Ok(answer) => {
                let refund = answer.get("refund").cloned().unwrap_or(Value::Null);
                self.audit(
                    ctx,
                    "refunded",
                    &format!("order {order_id}"),
                    before.get("refunded").map(Value::to_string),
                    Some(json!({"refund": &refund, "order_status": answer.get("order_status")}).to_string()),
                )
                .await;
                let status = answer.get("order_status").and_then(Value::as_str).unwrap_or("");
                let shown = self.pages.displayed(refund);
                let refunded = shown
                    .pointer("/amount/display")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("Refunded {refunded} (the order is {}).", status.replace('_', " "))
            }
            Err(PageError::Refused(refusal)) => format!("Nothing refunded: {}", refusal_message(&refusal)),
            Err(other) => return Err(other),
        };
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    fn back_to_order(&self, ctx: &Ctx<'_>, order_id: &str, message: &str) -> Response<Body> {
        self.pages.done(ctx, &format!("/orders/{}", encode(order_id)), message)
    }
}

/// The lines still to ship of the admin view `order`, each with its title and units left.
fn lines_to_ship(order: &Value) -> Vec<Value> {
    let title_of = |sku: &str| {
        order
            .get("lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|line| line.get("sku").and_then(Value::as_str) == Some(sku))
            .and_then(|line| line.get("title").cloned())
            .unwrap_or(Value::Null)
    };
    order
        .get("remaining")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let sku = line.get("sku").and_then(Value::as_str)?;
            let left = line.get("quantity").and_then(Value::as_u64)?;
            Some(json!({"sku": sku, "title": title_of(sku), "left": left, "field": units_field(sku)}))
        })
        .collect()
}

/// The `{sku, quantity}` lines the Ship form chose of what the admin view `order` has left:
/// a line's field as typed (all that is left when absent), lines of 0 units left out; or what
/// to tell the merchant when a field is not a count or nothing was chosen.
fn chosen_units(form: &ShipForm, order: &Value) -> Result<Vec<Value>, String> {
    let mut lines = Vec::new();
    for line in lines_to_ship(order) {
        let sku = line["sku"].as_str().unwrap_or_default();
        let units = match form.get(&units_field(sku)).map(|v| v.trim()) {
            None => line["left"].as_u64().unwrap_or(0),
            Some(typed) => typed
                .parse::<u64>()
                .map_err(|_| format!("Units of {sku}: enter a whole number of units, 0 to leave it."))?,
        };
        if units > 0 {
            lines.push(json!({"sku": sku, "quantity": units}));
        }
    }
    if lines.is_empty() {
        return Err("Nothing shipped: choose at least one unit to ship.".to_owned());
    }
    Ok(lines)
}

/// What the admin handler said, with the fields it named.
pub(crate) fn refusal_message(refusal: &in_process::Refusal) -> String {
    let fields: Vec<String> = refusal
        .problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| {
            let field = error.get("field").and_then(Value::as_str)?;
            let reason = error.get("reason").and_then(Value::as_str)?;
            Some(format!("{}: {reason}", field.replace('_', " ")))
        })
        .collect();
    if fields.is_empty() {
        refusal.detail.clone()
    } else {
        format!("{} ({})", refusal.detail, fields.join("; "))
    }
}
