//! The accountant's export: `GET /admin/exports/orders?from=YYYY-MM-DD&to=YYYY-MM-DD`, every
//! order placed on those days (UTC, both included) as CSV, oldest first, with its money in the
//! currency's major units and what went back of it (`Order::refunded`).

use crate::order_desk::OrderDesk;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shop_domain::Money;
use shop_domain::instant::{parse_day, rfc3339};
use shop_domain::order::Order;
use shop_platform::ApiError;
use shop_platform::edge;
use shop_store::orders::exports::ExportError;

/// The longest span one export covers, in days.
pub const MOST_DAYS: i64 = 366;
/// The most orders one export carries (well under Lambda's 6 MB answer).
pub const MOST_ORDERS: usize = 10_000;

/// The export's columns, in order.
const COLUMNS: [&str; 11] = [
    "order_id",
    "placed_at",
    "status",
    "email",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "refunded",
    "currency",
];

/// The day query parameter `name`, as the unix second it starts.
fn day(request: &Request, name: &'static str) -> Result<i64, ApiError> {
    let text =
        edge::query_param(request, name).ok_or_else(|| ApiError::invalid(name, "name a day such as 2026-12-01"))?;
    parse_day(text).map_err(|reason| ApiError::invalid(name, reason))
}

/// The CSV of `orders`, a header line first.
pub fn orders_csv(orders: &[Order]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for order in orders {
        let totals = &order.totals;
        let refunded = Money::new(order.refunded(), totals.total.currency);
        out.write_record([
            order.order_id.clone(),
            rfc3339(order.created_at),
            order.status.as_str().to_owned(),
            spreadsheet_safe(order.email.as_str()),
            totals.subtotal.decimal(),
            totals.discount.decimal(),
            totals.shipping.decimal(),
            totals.tax.decimal(),
            totals.total.decimal(),
            refunded.decimal(),
            totals.total.currency.as_str().to_owned(),
        ])?;
    }
    out.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}

/// Text a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) kept as text.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

impl OrderDesk {
    /// `GET /admin/exports/orders?from=&to=`: see the module notes. A span over [`MOST_DAYS`] or
    /// with more than [`MOST_ORDERS`] orders is refused: export it in parts.
    pub async fn export(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (from, to) = (day(request, "from")?, day(request, "to")?);
        if to < from {
            return Err(ApiError::invalid("to", "the last day comes on or after the first"));
        }
        let days = (to - from) / 86_400 + 1;
        if days > MOST_DAYS {
            return Err(ApiError::invalid(
                "to",
                format!("at most {MOST_DAYS} days per export; export the rest in another"),
            ));
        }
        let orders = match self.orders.placed_between(from, to + 86_399, MOST_ORDERS).await {
            Ok(orders) => orders,
            Err(ExportError::TooMany(most)) => {
                return Err(ApiError::Unprocessable {
                    code: "export_too_large",
                    detail: format!("more than {most} orders were placed then; export a shorter span"),
                });
            }
            Err(ExportError::Store(error)) => return Err(error.into()),
        };
        let body = orders_csv(&orders).map_err(|error| ApiError::Internal(format!("orders CSV: {error}")))?;
        let name = format!(
            "orders-{}-to-{}.csv",
            edge::query_param(request, "from").unwrap_or_default().trim(),
            edge::query_param(request, "to").unwrap_or_default().trim()
        );
        tracing::info!(orders = orders.len(), days, "orders exported");
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            )
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Body::from(body))
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_one_row_of_major_units_with_what_went_back() {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        let order: Order = serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "partially_refunded", "email": "=ada,x@example.com",
            "lines": [], "totals": {"subtotal": usd(5000), "discount": usd(500), "shipping": usd(500),
                                    "tax": usd(363), "total": usd(5363), "tax_included": false},
            "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "SF", "postal_code": "94105", "country": "US"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 1_795_791_600, "expires_at": 0,
            "paid_at": 1_795_791_700, "refund_state": "1000 of 5363 usd refunded",
        }))
        .unwrap();
        let csv = String::from_utf8(orders_csv(&[order]).unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "order_id,placed_at,status,email,subtotal,discount,shipping,tax,total,refunded,currency"
        );
        assert_eq!(
            lines[1],
            "o-1,2026-11-27T15:00:00Z,partially_refunded,\"'=ada,x@example.com\",50.00,5.00,5.00,3.63,53.63,10.00,usd"
        );
    }
}
