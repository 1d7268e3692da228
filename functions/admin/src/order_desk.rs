//! The merchant's order desk: orders by status (newest first), one order with its packing
//! record, a printable packing slip, shipments (partial ones too: the order is `shipped` once
//! every unit has left) with the carrier's tracking link, and delivery. Each shipment and
//! delivery asks for the customer's mail.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use minijinja::Environment;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};
use shop_domain::catalog::options_label;
use shop_domain::fulfillment::Shipment;
use shop_domain::fulfillment::{self, Carrier, ShipmentError, ShipmentLine, TrackingNumber};
use shop_domain::order::Order;
use shop_domain::order::{Email, OrderEvent, OrderStatus, Transition};
use shop_domain::{FieldError, Sku};
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, rfc3339};
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::messages::{MailKind, MailRequest};
use shop_platform::secrets;
use shop_services::mail::Mailer;
use shop_store::orders::{OrderStore, OrderWriteError};
use std::sync::Arc;

/// Times a shipment is tried again when another desk changed the order meanwhile.
const SHIP_RETRIES: usize = 3;

/// The order desk with its clients.
pub struct OrderDesk {
    pub(crate) orders: OrderStore,
    pub(crate) mailer: Mailer,
    pub(crate) payments: shop_services::payments::PaymentGateway,
    pub(crate) mail_log: shop_store::mail_log::MailLog,
    pub(crate) store_name: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) slips: Environment<'static>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipmentRequest {
    carrier: String,
    tracking_number: String,
    #[serde(default)]
    tracking_url_template: Option<String>,
    #[serde(default)]
    lines: Option<Vec<ShipmentLine>>,
}

#[derive(Serialize)]
struct ShipmentAnswer<'a> {
    shipment: &'a Shipment,
    order_status: OrderStatus,
    /// Units of each SKU still to ship.
    remaining: Vec<ShipmentLine>,
}

#[derive(Serialize)]
struct SlipLine<'a> {
    sku: &'a str,
    title: &'a str,
    /// The variant's options: `Colour: Navy, Size: M`.
    variant: Option<String>,
    quantity: u32,
    to_pack: u32,
}

/// The packing slip template, compiled in.
pub(crate) const SLIP_TEMPLATES: shop_templates::Sources =
    &[("packing_slip.html", include_str!("../templates/packing_slip.html"))];

/// The packing slip template over the shop's one layout.
pub fn slip_templates() -> Result<Environment<'static>, minijinja::Error> {
    shop_templates::environment(&[SLIP_TEMPLATES])
}

pub(crate) fn not_found() -> ApiError {
    ApiError::NotFound { what: "order" }
}

/// The order as the merchant sees it: everything but its secrets.
pub(crate) fn merchant_view(order: &Order) -> Result<serde_json::Value, ApiError> {
    let mut view = serde_json::to_value(order).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(fields) = view.as_object_mut() {
        fields.remove("token_hash");
        fields.remove("link_tokens");
        fields.insert("created_at".into(), rfc3339(order.created_at).into());
        fields.remove("expires_at");
    }
    Ok(view)
}

/// The units still to ship: the order's lines and the replacements of exchanges that may ship,
/// less what shipped.
fn remaining_of(order: &Order) -> std::collections::BTreeMap<Sku, u32> {
    fulfillment::remaining(order.units_owed(), order.shipments.iter().flat_map(|s| &s.lines))
}

fn as_lines(left: &std::collections::BTreeMap<Sku, u32>) -> Vec<ShipmentLine> {
    left.iter()
        .filter(|(_, units)| **units > 0)
        .map(|(sku, units)| ShipmentLine {
            sku: sku.clone(),
            quantity: *units,
        })
        .collect()
}

/// The packing slip of `order`: every line with its options, the units still to pack, and the
/// address in its country's order, in the shop's layout.
fn packing_slip_html(slips: &Environment<'_>, store_name: &str, order: &Order) -> Result<String, minijinja::Error> {
    let left = remaining_of(order);
    let lines: Vec<SlipLine<'_>> = order
        .lines
        .iter()
        .map(|line| SlipLine {
            sku: line.sku.as_str(),
            title: &line.title,
            variant: options_label(&line.options),
            quantity: line.quantity,
            to_pack: left.get(&line.sku).copied().unwrap_or(0),
        })
        .collect();
    let context = Value::from(Serde(serde_json::json!({
        "store_name": store_name,
        "order_id": order.order_id,
        "placed": rfc3339(order.created_at),
        "shipping_method": order.shipping_method,
        "ship_to": order.shipping_address.postal_lines(),
        "lines": lines,
        "shipments": order.shipments,
        // A slip is printed: wider than a mail.
        "layout_width": 760,
    })));
    slips.get_template("packing_slip.html")?.render(context)
}

impl OrderDesk {
    /// `GET /admin/orders?status=&limit=&cursor=`: one Query on the status index; or
    /// `?email=`: the customer's most recent orders (up to `limit`), newest first.
    pub async fn list(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        if let Some(email) = edge::query_param(request, "email") {
            let email = Email::parse(email).map_err(|reason| ApiError::invalid("email", reason))?;
            let (limit, _) = edge::page_params(request)?;
            let ids = self.orders.order_ids_of(&email, i32::from(limit.get())).await?;
            let orders = self.orders.get_many(&ids).await?;
            let items = orders.iter().map(merchant_view).collect::<Result<Vec<_>, _>>()?;
            return json(
                StatusCode::OK,
                &serde_json::json!({"items": items, "next_cursor": null}),
            );
        }
        let status = edge::query_param(request, "status").ok_or_else(|| {
            ApiError::invalid(
                "status",
                "name the status to list (or an email): pending_payment, paid, fulfilling, shipped, delivered, cancelled, refunded, partially_refunded, return_requested or returned",
            )
        })?;
        let status: OrderStatus = serde_json::from_value(serde_json::Value::String(status.to_owned()))
            .map_err(|_| ApiError::invalid("status", format!("'{status}' is not an order status")))?;
        let (limit, cursor) = edge::page_params(request)?;
        let page = self.orders.list_by_status(status, limit, cursor.as_ref()).await?;
        let items = page.items.iter().map(merchant_view).collect::<Result<Vec<_>, _>>()?;
        json(
            StatusCode::OK,
            &serde_json::json!({"items": items, "next_cursor": page.next_cursor}),
        )
    }

    pub(crate) async fn order(&self, request: &Request) -> Result<Order, ApiError> {
        let order_id = path_param(request, "order_id")?;
        self.orders.get(&order_id).await?.ok_or_else(not_found)
    }

    /// `GET /admin/orders/{order_id}`: the order with its packing record.
    pub async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.order(request).await?;
        let packing = self.orders.packing(&order.order_id).await?;
        let mut view = merchant_view(&order)?;
        view["packing"] = serde_json::to_value(packing).map_err(|e| ApiError::Internal(e.to_string()))?;
        view["remaining"] =
            serde_json::to_value(as_lines(&remaining_of(&order))).map_err(|e| ApiError::Internal(e.to_string()))?;
        view["refunded"] = serde_json::json!(shop_domain::Money::new(order.refunded(), order.totals.total.currency));
        view["refundable"] = serde_json::json!(order.refundable());
        json(StatusCode::OK, &view)
    }

    /// `GET /admin/orders/{order_id}/packing-slip`: a printable HTML page.
    pub async fn packing_slip(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.order(request).await?;
        let html = packing_slip_html(&self.slips, &self.store_name, &order)
            .map_err(|e| ApiError::Internal(format!("packing slip: {e}")))?;
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Body::from(html))
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// `POST /admin/orders/{order_id}/shipments`: records a shipment of the lines given (or of
    /// everything left) and asks for the customer's mail. The same carrier and tracking number
    /// again answers the shipment already recorded.
    pub async fn ship(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let body: ShipmentRequest = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let mut errors = Vec::new();
        let carrier = Carrier::parse(&body.carrier, body.tracking_url_template.as_deref())
            .map_err(|reason| errors.push(FieldError::new("carrier", reason)))
            .ok();
        let tracking = TrackingNumber::parse(&body.tracking_number)
            .map_err(|reason| errors.push(FieldError::new("tracking_number", reason)))
            .ok();
        let (Some(carrier), Some(tracking)) = (carrier, tracking) else {
            return Err(ApiError::Invalid { errors });
        };
        let trace = Trace::new(&order_id, edge::request_id(request));
        for _ in 0..SHIP_RETRIES {
            let order = self.orders.get(&order_id).await?.ok_or_else(not_found)?;
            if let Some(existing) = order
                .shipments
                .iter()
                .find(|s| s.carrier == carrier.name() && s.tracking_number == tracking.as_str())
            {
                // A retried request: answer what was recorded, and ask for its mail again.
                self.ask_shipped_mail(&order_id, &existing.shipment_id, &trace).await?;
                return self.shipment_answer(StatusCode::OK, existing, &order);
            }
            // A paid order ships its lines; after that, only an exchange's replacement ships,
            // and the order's status stays where it is.
            let first_delivery = order.status.on(OrderEvent::Shipped) == Transition::To(OrderStatus::Shipped);
            let replacing = matches!(
                order.status,
                OrderStatus::Shipped
                    | OrderStatus::Delivered
                    | OrderStatus::ReturnRequested
                    | OrderStatus::Returned
                    | OrderStatus::PartiallyRefunded
            );
            if !first_delivery && !replacing {
                return Err(ApiError::Conflict {
                    code: "order_not_shippable",
                    detail: format!("an order that is {} does not ship", order.status.as_str()),
                });
            }
            let left = remaining_of(&order);
            let lines = fulfillment::plan_shipment(&left, body.lines.clone()).map_err(|error| match error {
                ShipmentError::NothingLeft => ApiError::Conflict {
                    code: "nothing_left_to_ship",
                    detail: error.to_string(),
                },
                other => ApiError::invalid("lines", other.to_string()),
            })?;
            let complete =
                first_delivery && lines.iter().map(|l| l.quantity).sum::<u32>() == left.values().sum::<u32>();
            let now = self.clock.now();
            let shipment = Shipment {
                shipment_id: secrets::new_id(),
                carrier: carrier.name().to_owned(),
                tracking_number: tracking.as_str().to_owned(),
                tracking_url: carrier.tracking_url(&tracking),
                lines,
                shipped_at: now,
            };
            match self.orders.add_shipment(&order, &shipment, complete, now).await {
                Ok(()) => {
                    tracing::info!(order_id, shipment_id = %shipment.shipment_id, complete, "shipment recorded");
                    self.ask_shipped_mail(&order_id, &shipment.shipment_id, &trace).await?;
                    let mut after = order;
                    after.shipments.push(shipment.clone());
                    if complete {
                        after.status = OrderStatus::Shipped;
                    }
                    return self.shipment_answer(StatusCode::CREATED, &shipment, &after);
                }
                Err(OrderWriteError::Changed) => continue,
                Err(OrderWriteError::Store(error)) => return Err(error.into()),
            }
        }
        Err(ApiError::Conflict {
            code: "order_busy",
            detail: "the order kept changing; read it and try again".into(),
        })
    }

    fn shipment_answer(
        &self,
        status: StatusCode,
        shipment: &Shipment,
        order: &Order,
    ) -> Result<Response<Body>, ApiError> {
        let answer = ShipmentAnswer {
            shipment,
            order_status: order.status,
            remaining: as_lines(&remaining_of(order)),
        };
        json(status, &answer)
    }

    async fn ask_shipped_mail(&self, order_id: &str, shipment_id: &str, trace: &Trace) -> Result<(), ApiError> {
        let mail = MailRequest::about(MailKind::Shipped, order_id, shipment_id);
        Ok(self.mailer.request(&[mail], trace).await?)
    }

    /// `POST /admin/orders/{order_id}/delivered`: `shipped → delivered`, with the customer's mail.
    /// An order already delivered answers the same.
    pub async fn delivered(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.order(request).await?;
        let trace = Trace::new(&order.order_id, edge::request_id(request));
        let delivered = match order.status.on(OrderEvent::Delivered) {
            Transition::To(OrderStatus::Delivered) => {
                self.orders.mark_delivered(&order.order_id, self.clock.now()).await?
                    || self.orders.get(&order.order_id).await?.map(|o| o.status) == Some(OrderStatus::Delivered)
            }
            _ => order.status == OrderStatus::Delivered,
        };
        if !delivered {
            return Err(ApiError::Conflict {
                code: "order_not_shipped",
                detail: format!("an order that is {} cannot be delivered", order.status.as_str()),
            });
        }
        let mail = MailRequest::once(MailKind::Delivered, &order.order_id);
        self.mailer.request(&[mail], &trace).await?;
        tracing::info!(order_id = %order.order_id, "order delivered");
        let mut view = merchant_view(&order)?;
        view["status"] = serde_json::json!(OrderStatus::Delivered);
        json(StatusCode::OK, &view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        shop_templates::parse_all(&[SLIP_TEMPLATES]).unwrap();
    }

    #[test]
    fn the_packing_slip_shows_options_and_the_address_in_its_countrys_order_escaped() {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        let order: Order = serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "fulfilling", "email": "ada@example.com",
            "lines": [{"sku": "MCS-NAVY-M", "product_id": "mcs", "title": "Merino <Crew>", "quantity": 2,
                       "options": {"colour": "Navy", "size": "M"}, "unit_price": usd(8900), "line_total": usd(17800)}],
            "totals": {"subtotal": usd(17800), "discount": usd(0), "shipping": usd(0), "tax": usd(0),
                       "total": usd(17800), "tax_included": false},
            "shipping_address": {"name": "Ada <script>", "line1": "1 Main St", "city": "San Francisco",
                                 "region": "CA", "postal_code": "94105", "country": "US"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 0, "expires_at": 900,
        }))
        .unwrap();
        let html = packing_slip_html(&slip_templates().unwrap(), "Demo & Co", &order).unwrap();
        assert!(
            html.contains("class=\"shop-header") && html.contains("Demo &amp; Co"),
            "{html}"
        );
        assert!(
            html.contains("Merino &lt;Crew&gt;") && html.contains("Colour: Navy, Size: M"),
            "{html}"
        );
        assert!(
            html.contains("Ada &lt;script&gt;<br>1 Main St<br>San Francisco, CA 94105<br>United States"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("max-width:760px"));
    }
}
