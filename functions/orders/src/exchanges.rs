//! `POST /orders/{order_id}/exchanges {return_lines, new_lines, reason?}`: shipped units go back
//! (checked as a return is: shipped, not returned before, within the window) and replacements
//! come, priced at today's catalog prices and taxed for the order's address, shipping free.
//!
//! The replacement's units are taken from stock in the same transaction that records the
//! exchange, so it cannot be oversold. The difference settles itself: in the shop's favour the
//! answer carries the `client_secret` of a PaymentIntent for it (the replacement ships once the
//! webhook sees it paid; unpaid after the reservation hold, the exchange is cancelled and its
//! replacement's stock given back by `reservation-expiry`); in the shopper's favour it is the exchange's refund, paid through
//! Stripe when the merchant receives the return, like any return's.

use crate::{Orders, check_reason};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::line::OrderLine;
use shop_domain::line::VariantView;
use shop_domain::order::Order;
use shop_domain::pricing::{self, PricedLine};
use shop_domain::returns::{DifferenceDue, Exchange, ReturnRecord, ReturnState};
use shop_domain::{FieldError, Money};
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::edge::{self, json, json_body};
use shop_platform::messages::ExpireReservation;
use shop_services::payments::CancelReason;
use std::collections::BTreeSet;

/// Most replacement lines in one exchange.
const MAX_NEW_LINES: usize = 10;
/// Most units of one replacement line.
const MAX_UNITS: u32 = 99;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeRequest {
    return_lines: Vec<ShipmentLine>,
    new_lines: Vec<ShipmentLine>,
    #[serde(default)]
    reason: Option<String>,
}

/// The answer: the exchange as recorded, and what to pay when the shopper owes the difference.
#[derive(Serialize)]
struct ExchangeAnswer {
    #[serde(flatten)]
    record: ReturnRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<PaymentDue>,
}

#[derive(Serialize)]
struct PaymentDue {
    amount: Money,
    payment_intent_id: String,
    client_secret: String,
}

fn check_new_lines(lines: &[ShipmentLine]) -> Result<(), ApiError> {
    if lines.is_empty() || lines.len() > MAX_NEW_LINES {
        return Err(ApiError::invalid(
            "new_lines",
            format!("name 1 to {MAX_NEW_LINES} replacement lines"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !(1..=MAX_UNITS).contains(&line.quantity) {
            errors.push(FieldError::new(
                format!("new_lines[{i}].quantity"),
                format!("1 to {MAX_UNITS} units"),
            ));
        }
        if !seen.insert(&line.sku) {
            errors.push(FieldError::new(format!("new_lines[{i}].sku"), "named twice"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid { errors })
    }
}

impl Orders {
    /// `POST /orders/{order_id}/exchanges`.
    pub(crate) async fn request_exchange(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.own_order(request).await?;
        let body: ExchangeRequest = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let reason = check_reason(body.reason.as_deref().unwrap_or("exchange"))?;
        check_new_lines(&body.new_lines)?;
        let returned_value = self.returnable(&order, &body.return_lines, "return_lines")?;
        let (new_lines, priced) = self.price(&order, &body.new_lines).await?;
        let currency = order.totals.total.currency;
        let address = &order.shipping_address;
        let rate = self
            .tax_rates
            .rate_for(address.country.as_str(), address.region.as_deref());
        let replacement_total = pricing::totals(&priced, 0, 0, rate, currency).total;
        let returned_value = Money::new(returned_value, currency);
        let balance = Exchange::balance(replacement_total, returned_value)
            .map_err(|error| ApiError::Internal(error.to_string()))?
            .amount;
        let return_id = shop_platform::secrets::new_id();
        let now = self.clock.now();
        let due = if balance > 0 {
            let intent = self
                .payments
                .create_exchange_intent(
                    &order.order_id,
                    &return_id,
                    balance,
                    currency.as_str(),
                    order.email.as_str(),
                )
                .await?;
            // The hold's end is scheduled before anything is held: a message about an exchange
            // that was never recorded finds nothing to release.
            let expire = ExpireReservation {
                order_id: order.order_id.clone(),
                exchange_id: Some(return_id.clone()),
            };
            let trace = Trace::new(&order.order_id, edge::request_id(request));
            if let Err(error) = self.expiry.send(&expire, self.hold_seconds, &trace).await {
                self.cancel_unrecorded(&order, &intent.id).await;
                return Err(error.into());
            }
            Some(PaymentDue {
                amount: Money::new(balance, currency),
                payment_intent_id: intent.id,
                client_secret: intent.client_secret,
            })
        } else {
            None
        };
        let exchange = Exchange::new(
            new_lines,
            replacement_total,
            returned_value,
            due.as_ref().map(|d| DifferenceDue {
                payment_intent_id: d.payment_intent_id.clone(),
                pay_by: now + i64::from(self.hold_seconds),
            }),
        )
        .map_err(|error| ApiError::Internal(error.to_string()))?;
        let record = ReturnRecord {
            return_id,
            order_id: order.order_id.clone(),
            lines: body.return_lines,
            reason,
            state: ReturnState::Requested,
            refund: exchange.refund_on_receipt(),
            requested_at: now,
            received_at: None,
            restocked: false,
            refund_id: None,
            exchange: Some(exchange),
        };
        if let Err(error) = self.record_return(&order, &record, request).await {
            if let Some(due) = &due {
                self.cancel_unrecorded(&order, &due.payment_intent_id).await;
            }
            return Err(error);
        }
        json(StatusCode::CREATED, &ExchangeAnswer { record, payment: due })
    }

    /// Nothing was recorded: the difference's intent must not be payable.
    async fn cancel_unrecorded(&self, order: &Order, intent_id: &str) {
        if let Err(error) = self.payments.cancel_intent(intent_id, CancelReason::Abandoned).await {
            tracing::error!(order_id = %order.order_id, payment_intent = intent_id, error = %error, "exchange not recorded but its intent not cancelled");
        }
    }

    /// The replacement lines at today's catalog prices, as the order and as pricing see them;
    /// an unknown SKU is 422.
    async fn price(
        &self,
        order: &Order,
        lines: &[ShipmentLine],
    ) -> Result<(Vec<OrderLine>, Vec<PricedLine>), ApiError> {
        let currency = order.totals.total.currency;
        let mut ordered = Vec::with_capacity(lines.len());
        let mut priced = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let unknown = || ApiError::Unprocessable {
                code: "unknown_sku",
                detail: format!("new_lines[{i}]: {} is not in the catalog", line.sku),
            };
            let product_id = self.catalog.product_id_by_sku(&line.sku).await?.ok_or_else(unknown)?;
            let product = self.catalog.product(&product_id).await?.ok_or_else(unknown)?;
            let variant = product
                .variants
                .iter()
                .find(|v| v.sku == line.sku)
                .ok_or_else(unknown)?;
            if variant.price.currency != currency {
                return Err(ApiError::Internal(format!(
                    "{} is priced in {}, the order in {}",
                    line.sku,
                    variant.price.currency.as_str(),
                    currency.as_str()
                )));
            }
            let variant = VariantView::of(&product, variant);
            priced.push(PricedLine::of(&variant, line.quantity));
            ordered.push(OrderLine::of(&variant, line.quantity));
        }
        Ok((ordered, priced))
    }
}
