//! The merchant's returns desk: returns by state, and receiving one: the return marked received
//! (units back in stock when `restock`), then its refund through Stripe with the return's own
//! idempotency key. Receiving again answers the same and retries a refund still owed.

use crate::order_desk::OrderDesk;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shop_domain::returns::ReturnState;
use shop_platform::ApiError;
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::metrics;
use shop_store::orders::OrderWriteError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiveRequest {
    restock: bool,
}

fn no_return() -> ApiError {
    ApiError::NotFound { what: "return" }
}

impl OrderDesk {
    /// `GET /admin/returns?status=requested|received|cancelled&limit=&cursor=`, oldest first.
    pub async fn list_returns(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let state = match edge::query_param(request, "status").unwrap_or("requested") {
            "requested" => ReturnState::Requested,
            "received" => ReturnState::Received,
            "cancelled" => ReturnState::Cancelled,
            other => {
                return Err(ApiError::invalid(
                    "status",
                    format!("'{other}' is not a return state: requested, received or cancelled"),
                ));
            }
        };
        let (limit, cursor) = edge::page_params(request)?;
        let page = self.orders.returns_in(state, limit, cursor.as_ref()).await?;
        json(StatusCode::OK, &page)
    }

    /// `POST /admin/returns/{return_id}/receive {restock}`.
    pub async fn receive_return(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let return_id = path_param(request, "return_id")?;
        let body: ReceiveRequest = json_body(request, 1024)?;
        let record = self.orders.return_record(&return_id).await?.ok_or_else(no_return)?;
        let mut order = self.orders.get(&record.order_id).await?.ok_or_else(no_return)?;
        let index = order
            .returns
            .iter()
            .position(|r| r.return_id == return_id)
            .ok_or_else(no_return)?;
        if order.returns[index].state == ReturnState::Cancelled {
            return Err(ApiError::Conflict {
                code: "return_cancelled",
                detail: "this exchange was cancelled (its difference was not paid in time); nothing is expected back"
                    .into(),
            });
        }
        if order.returns[index].state == ReturnState::Requested {
            match self
                .orders
                .receive_return(&order, index, body.restock, self.clock.now())
                .await
            {
                Ok(()) => tracing::info!(return_id, restock = body.restock, "return received"),
                // Received by a concurrent call: go on to its refund.
                Err(OrderWriteError::Changed) => {}
                Err(OrderWriteError::Store(error)) => return Err(error.into()),
            }
            order = self.orders.get(&record.order_id).await?.ok_or_else(no_return)?;
        }
        let received = order.returns[index].clone();
        if received.refund_id.is_none() && received.refund.amount > 0 {
            let intent = order
                .payment_intent_id
                .as_deref()
                .ok_or_else(|| ApiError::Internal(format!("order {} has no PaymentIntent", order.order_id)))?;
            let key = format!("return-{return_id}");
            let refund = self
                .payments
                .refund(intent, Some(received.refund.amount), &key)
                .await
                .inspect_err(|error| {
                    tracing::error!(return_id, error = %error, "return received but not refunded; receiving again retries");
                })?;
            if self.orders.return_refunded(&order, index, &return_id, &refund).await? {
                metrics::refunded(&order.order_id, received.refund.amount, &refund);
            }
            tracing::info!(return_id, refund, amount = received.refund.amount, "return refunded");
            let mut answer = received;
            answer.refund_id = Some(refund);
            return json(StatusCode::OK, &answer);
        }
        json(StatusCode::OK, &received)
    }
}
