//! The order desk's pages: orders by status (newest first, paged), one order with its lines,
//! address, timeline and shipments, its packing slip, and the forms that ship it and mark it
//! delivered. Each asks the admin handler's route of the same name.

use crate::pages::{PageError, secure_headers};
use crate::{Console, Ctx, form};
use http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_platform::in_process::{self, Call, encode, is_order_id};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("orders.html", include_str!("../templates/orders.html")),
    ("order.html", include_str!("../templates/order.html")),
];

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

#[derive(Deserialize)]
struct ShipForm {
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
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
            (&Method::GET, [order_id]) => self.order_page(ctx, order_id).await,
            (&Method::GET, [order_id, "packing-slip"]) => self.packing_slip(ctx.request, order_id).await,
            (&Method::POST, [order_id, "ship"]) => self.ship(ctx, order_id).await,
            (&Method::POST, [order_id, "delivered"]) => self.delivered(ctx, order_id).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// What the admin handler answers `call`, asked in-process with `request`'s source and id.
    pub(crate) async fn ask(&self, request: &Request, call: Call) -> Result<Value, PageError> {
        Ok(in_process::call::<Value>(&self.admin, request, call).await?.body)
    }

    /// `GET /orders?status=&cursor=`.
    async fn orders_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        let asked = shop_platform::edge::query_param(request, "status");
        let (status, label) = match asked {
            None => TABS[0],
            Some(asked) => *TABS
                .iter()
                .find(|(status, _)| *status == asked)
                .ok_or(PageError::NotFound)?,
        };
        let cursor = shop_platform::edge::query_param(request, "cursor").map(str::to_owned);
        let call = Call::get("/admin/orders")
            .query("status", Some(status))
            .query("limit", Some(PAGE_SIZE))
            .query("cursor", cursor);
        let page = self.pages.displayed(self.ask(request, call).await?);
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(|cursor| format!("/orders?status={status}&cursor={}", encode(cursor)));
        let tabs: Vec<Value> = TABS
            .iter()
            .map(|(s, l)| json!({"status": s, "label": l, "current": *s == status}))
            .collect();
        self.pages.show(
            ctx,
            "orders.html",
            json!({"tabs": tabs, "label": label, "orders": page.get("items").cloned().unwrap_or(Value::Null), "next": next}),
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
        // The admin view writes each moment in RFC 3339 (UTC), which sorts as it reads.
        let moment = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
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
        timeline.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
        let remaining = order
            .get("remaining")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let status = order.get("status").and_then(Value::as_str).unwrap_or("");
        self.pages.show(
            ctx,
            "order.html",
            json!({
                "can_ship": remaining && status != "cancelled" && status != "pending_payment",
                "can_deliver": status == "shipped",
                "order": order,
                "order_id": order_id,
                "timeline": timeline,
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

    /// `POST /orders/{order_id}/ship`: a shipment of everything left, with its carrier and
    /// tracking number.
    async fn ship(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let form: ShipForm = form(request)?;
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/shipments")
            .param("order_id", order_id)
            .body(json!({"carrier": form.carrier.trim(), "tracking_number": form.tracking_number.trim()}));
        let before = self.ask(request, Call::get("/admin/orders/{order_id}").param("order_id", order_id)).await?;
        let message = match self.ask(request, call).await {
            Ok(answer) => {
                let status = answer.get("order_status").and_then(Value::as_str).unwrap_or("");
                self.audit(
                    ctx,
                    "shipped",
                    &format!("order {order_id}"),
                    before.get("status").map(Value::to_string),
                    Some(answer.get("shipment").map(Value::to_string).unwrap_or_default()),
                )
                .await;
                format!(
                    "Shipped with {} {} (the order is {}).",
                    form.carrier.trim(),
                    form.tracking_number.trim(),
                    status.replace('_', " ")
                )
            }
            Err(PageError::Refused(refusal)) => refusal_message(&refusal),
            Err(other) => return Err(other),
        };
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    /// `POST /orders/{order_id}/delivered`.
    async fn delivered(&self, ctx: &Ctx<'_>, order_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::new(Method::POST, "/admin/orders/{order_id}/delivered").param("order_id", order_id);
        let message = match self.ask(request, call).await {
            Ok(_) => {
                let subject = format!("order {order_id}");
                self.audit(ctx, "marked delivered", &subject, Some("shipped".into()), Some("delivered".into()))
                    .await;
                "Marked delivered.".to_owned()
            }
            Err(PageError::Refused(refusal)) => refusal_message(&refusal),
            Err(other) => return Err(other),
        };
        Ok(self.back_to_order(ctx, order_id, &message))
    }

    fn back_to_order(&self, ctx: &Ctx<'_>, order_id: &str, message: &str) -> Response<Body> {
        self.pages.done(ctx, &format!("/orders/{}", encode(order_id)), message)
    }
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
