//! The owner's desk of money back: cancelling an order before it ships (the shopper's own
//! cancellation, `shop_services::cancellation`) and refunding part or all of what was paid.
//!
//! A refund is checked by the domain (`Order::check_refund`: at most what was paid less what
//! went back), taken by Stripe once per request key, kept on the order, and moves the order's
//! status by the one state machine. Its mail is asked by Stripe's `charge.refunded` event in the
//! payment webhook, once per refunded total, as every refund's is: never twice.

use crate::order_desk::{OrderDesk, merchant_view, not_found};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shop_domain::Money;
use shop_domain::order::{OrderStatus, Transition};
use shop_domain::refunds::{MerchantRefund, RefundError};
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::clock::rfc3339;
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::metrics;
use shop_services::cancellation::Cancellation;
use shop_services::payments::PaymentError;
use shop_store::orders::customers::CancelledBy;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    amount: Money,
    reason: String,
    /// The same key again refunds once (a form sent twice); a new refund without one.
    #[serde(default)]
    key: Option<String>,
}

/// A request key: 1 to 64 letters, digits, `-` or `_`.
fn check_key(key: Option<String>) -> Result<String, ApiError> {
    match key {
        None => Ok(shop_platform::secrets::new_id()),
        Some(key) if shop_platform::in_process::is_order_id(&key) => Ok(key),
        Some(_) => Err(ApiError::invalid("key", "1 to 64 letters, digits, '-' or '_'")),
    }
}

fn refused(error: RefundError) -> ApiError {
    match error {
        RefundError::NotPaid | RefundError::NothingLeft => ApiError::Conflict {
            code: "nothing_to_refund",
            detail: error.to_string(),
        },
        RefundError::NotAnAmount(_) | RefundError::TooMuch { .. } => ApiError::invalid("amount", error.to_string()),
        RefundError::Reason => ApiError::invalid("reason", error.to_string()),
    }
}

impl OrderDesk {
    /// `POST /admin/orders/{order_id}/cancel`: cancels an order nothing of which shipped, its
    /// stock back and its payment refunded in full, as the shopper's own cancel does.
    /// An order still waiting for its payment is not the desk's to cancel: its hold ends by
    /// itself (or its shopper cancels it), and the desk holds no right to delete the discount
    /// mark that gives back.
    pub async fn cancel(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.order(request).await?;
        if order.status == OrderStatus::PendingPayment {
            return Err(ApiError::Conflict {
                code: "order_unpaid",
                detail: "the order waits for its payment: its hold ends by itself, or its shopper cancels it".into(),
            });
        }
        let trace = Trace::new(&order.order_id, edge::request_id(request));
        let cancellation = Cancellation {
            orders: &self.orders,
            payments: &self.payments,
            mailer: &self.mailer,
            by: CancelledBy::Merchant,
        };
        cancellation.cancel(&order, &trace, self.clock.now()).await?;
        tracing::info!(order_id = %order.order_id, "order cancelled by the merchant");
        let order = self.orders.get(&order.order_id).await?.ok_or_else(not_found)?;
        json(StatusCode::OK, &merchant_view(&order)?)
    }

    /// `POST /admin/orders/{order_id}/refunds {amount, reason, key?}`: refunds `amount` of the
    /// order's payment through Stripe (see the module notes).
    pub async fn refund(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let body: RefundRequest = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let key = check_key(body.key)?;
        let order = self.orders.get(&order_id).await?.ok_or_else(not_found)?;
        let event = order.check_refund(body.amount, &body.reason).map_err(refused)?;
        let intent = order
            .payment_intent_id
            .as_deref()
            .ok_or_else(|| ApiError::Internal(format!("paid order {order_id} has no PaymentIntent")))?;
        let refund_id = match self
            .payments
            .refund(
                intent,
                Some(body.amount.amount),
                &format!("order-{order_id}-refund-{key}"),
            )
            .await
        {
            Ok(refund_id) => refund_id,
            // Stripe keeps its own count: a refund beyond what is left there (a concurrent one).
            Err(PaymentError::Refused(cause)) => {
                return Err(ApiError::Conflict {
                    code: "refund_refused",
                    detail: format!("Stripe refused the refund: {cause}"),
                });
            }
            Err(error) => return Err(error.into()),
        };
        let now = self.clock.now();
        let refund = MerchantRefund {
            refund_id,
            amount: body.amount,
            reason: body.reason.trim().to_owned(),
            refunded_at: now,
        };
        let added = self.orders.add_merchant_refund(&order_id, &refund).await?;
        if added {
            metrics::refunded(&order_id, refund.amount.amount, &refund.refund_id);
        }
        if let Transition::To(to) = order.status.on(event) {
            // False when Stripe's own event moved it first: the same move.
            self.orders.move_status(&order_id, order.status, to, now).await?;
        }
        tracing::info!(order_id, refund_id = %refund.refund_id, amount = refund.amount.amount, added, "merchant refund");
        let order = self.orders.get(&order_id).await?.ok_or_else(not_found)?;
        json(
            if added { StatusCode::CREATED } else { StatusCode::OK },
            &serde_json::json!({
                "refund": refund,
                "refunded_at": rfc3339(refund.refunded_at),
                "order_status": order.status,
                "refundable": order.refundable(),
            }),
        )
    }

    /// `GET /admin/orders/{order_id}/mails`: the mails sent about the order (kind, reference,
    /// state, when), from the mail log: one Query.
    pub async fn mails(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let mails = self.mail_log.sent_about(&order_id).await?;
        let items: Vec<serde_json::Value> = mails
            .into_iter()
            .map(|mail| {
                serde_json::json!({"kind": mail.kind, "reference": mail.reference, "state": mail.state, "at": rfc3339(mail.at)})
            })
            .collect();
        json(StatusCode::OK, &serde_json::json!({"items": items}))
    }
}
