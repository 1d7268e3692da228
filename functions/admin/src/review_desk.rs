//! Marking an order reviewed: the merchant looked at what the payment's events flagged (an
//! amount that did not match, a dispute) and takes it off the list of orders to review. The store
//! writes the mark on the order and takes it off the list together
//! (`shop_store::orders::reviews`); the reasons it was flagged for stay on the order, beside who
//! marked it and when.

use crate::order_desk::{OrderDesk, merchant_view, not_found};
use crate::support_desk::{BY_BODY_LIMIT, author};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shop_platform::ApiError;
use shop_platform::edge::{json, json_body, path_param};
use shop_store::orders::reviews::ReviewMarked;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReviewedRequest {
    /// Who looked (the console sends the signed-in staff member's address).
    #[serde(default)]
    by: Option<String>,
}

impl OrderDesk {
    /// `POST /admin/orders/{order_id}/reviewed {by?}`: off the list of orders to review, with
    /// the mark on the order's timeline; answers the order. Marking it again (before another
    /// flag) answers the same, the first mark kept; an order never flagged is `409`.
    pub async fn reviewed(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let asked: ReviewedRequest = match request.body().as_ref() {
            [] => ReviewedRequest::default(),
            _ => json_body(request, BY_BODY_LIMIT)?,
        };
        let by = author(asked.by.as_deref())?;
        match self.orders.mark_reviewed(&order_id, &by, self.clock.now()).await? {
            ReviewMarked::Now => tracing::info!(order_id, "order marked reviewed"),
            ReviewMarked::Before => tracing::info!(order_id, "order was marked reviewed before"),
            ReviewMarked::NotFlagged => {
                return Err(ApiError::Conflict {
                    code: "order_not_flagged",
                    detail: format!("order {order_id} was never flagged for review"),
                });
            }
            ReviewMarked::Missing => return Err(not_found()),
        }
        let order = self.orders.get(&order_id).await?.ok_or_else(not_found)?;
        json(StatusCode::OK, &merchant_view(&order)?)
    }
}
