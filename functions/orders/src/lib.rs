//! `orders`: customer service. A shopper's own order, guarded by the order token from checkout (a missing or wrong
//! token is answered like an order that does not exist; links in mails carry their own token as
//! `?token=`): the order with its shipments, refunds and timeline, cancelling it, returning
//! parts of it. The lookup that mails a customer links to their recent orders, and messages to
//! support (see [`support`]).
//!
//! Cancelling goes the way the merchant's does (`shop_services::cancellation`): an unpaid order's
//! PaymentIntent cancelled and its stock given back; a paid order nothing of which has shipped
//! cancelled with its stock back, then refunded in full; a shipped order is 409, pointing to
//! returns.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shop_domain::Money;
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::line::OrderLine;
use shop_domain::order::Order;
use shop_domain::order::{Address, Email, OrderStatus};
use shop_domain::pricing::TaxTable;
use shop_domain::pricing::Totals;
use shop_domain::returns::{self, OrderedLine, ReturnError};
use shop_domain::returns::{ExchangePayment, ReturnRecord, ReturnState};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{ConfigError, Env, HoldSettings, ReturnSettings, SupportSettings, TableSettings};
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::messages::{MailKind, MailRequest};
use shop_platform::{ApiError, HttpFunction};
use shop_services::cancellation::Cancellation;
use shop_services::mail::Mailer;
use shop_services::payments::PaymentGateway;
use shop_services::queue::Queue;
use shop_store::catalog::CatalogStore;
use shop_store::orders::OrderStore;
use shop_store::orders::customer_ref;
use shop_store::orders::customers::CancelledBy;
use shop_store::orders::customers::REFUND_OWED;
use shop_store::orders::returns::ReturnWriteError;
use shop_store::rate_limits::{Counted, RateLimiter};
use shop_store::support::SupportStore;
use std::sync::Arc;

mod exchanges;
mod support;

/// Seconds within which a second lookup for one address mails nothing new.
pub const LOOKUP_WINDOW: i64 = 600;

/// The orders function with its clients, built once per instance.
pub struct Orders {
    orders: OrderStore,
    payments: PaymentGateway,
    mailer: Mailer,
    returns: ReturnSettings,
    support: SupportStore,
    /// Counts order lookups per source.
    limits: RateLimiter,
    support_limits: SupportSettings,
    catalog: CatalogStore,
    tax_rates: TaxTable,
    /// Ends the hold of an exchange's replacement nobody paid for.
    expiry: Queue,
    hold_seconds: u32,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnRequest {
    lines: Vec<ShipmentLine>,
    reason: String,
}

#[derive(Serialize)]
struct OrderView<'a> {
    order_id: &'a str,
    status: OrderStatus,
    email: &'a Email,
    lines: &'a [OrderLine],
    totals: &'a Totals,
    shipping_address: &'a Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_address: Option<&'a Address>,
    shipping_method: &'a str,
    shipments: Vec<ShipmentView<'a>>,
    refunds: Vec<RefundView>,
    returns: &'a [ReturnRecord],
    timeline: Vec<Step>,
    created_at: String,
    /// Until when the stock is held, while the order waits for its payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pay_by: Option<String>,
    /// Why the last payment attempt failed, while the shopper may still pay.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_payment_error: Option<&'a str>,
    /// What happened to a payment that arrived after the hold ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    late_payment: Option<&'a str>,
    /// What a browser pays the order with, while it waits for its payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<PaymentView>,
    /// What a browser pays an exchange's difference with, while the exchange waits for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exchange_payments: Vec<ExchangePaymentView>,
}

/// The PaymentIntent of an order awaiting payment: Stripe.js confirms it with the secret.
#[derive(Serialize)]
struct PaymentView {
    provider: &'static str,
    payment_intent_id: String,
    client_secret: String,
}

/// The difference an exchange waits for, and the PaymentIntent that pays it.
#[derive(Serialize)]
struct ExchangePaymentView {
    return_id: String,
    amount: Money,
    /// Until when the replacement's stock is held for the payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pay_by: Option<String>,
    #[serde(flatten)]
    payment: PaymentView,
}

/// A shipment as the shopper follows it.
#[derive(Serialize)]
struct ShipmentView<'a> {
    shipment_id: &'a str,
    carrier: &'a str,
    tracking_number: &'a str,
    tracking_url: &'a str,
    lines: &'a [ShipmentLine],
    shipped_at: String,
}

/// Money back: what Stripe reported refunded, or the refund a cancellation still owes.
#[derive(Serialize)]
struct RefundView {
    amount: Money,
    status: &'static str,
}

#[derive(Serialize)]
struct Step {
    status: OrderStatus,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupRequest {
    email: String,
}

/// A return's reason: 1 to 500 characters of text.
fn check_reason(raw: &str) -> Result<String, ApiError> {
    let reason = raw.trim();
    if reason.is_empty() || reason.chars().count() > 500 || !shop_domain::text::is_multiline(reason) {
        return Err(ApiError::invalid("reason", "say why in 1 to 500 characters"));
    }
    Ok(reason.to_owned())
}

fn not_found() -> ApiError {
    ApiError::NotFound { what: "order" }
}

fn view(order: &Order) -> OrderView<'_> {
    let currency = order.totals.total.currency;
    let mut refunds = Vec::new();
    // Stripe's charge.refunded reports the charge's refunded total ("<amount> of <total> ...").
    if let Some(amount) = order
        .refund_state
        .as_deref()
        .and_then(|state| state.split(' ').next())
        .and_then(|amount| amount.parse().ok())
    {
        refunds.push(RefundView {
            amount: Money::new(amount, currency),
            status: "succeeded",
        });
    } else if let Some(state) = &order.cancel_refund {
        refunds.push(RefundView {
            amount: order.totals.total,
            status: if state == REFUND_OWED { "pending" } else { "requested" },
        });
    }
    OrderView {
        order_id: &order.order_id,
        status: order.status,
        email: &order.email,
        lines: &order.lines,
        totals: &order.totals,
        shipping_address: &order.shipping_address,
        billing_address: order.billing_address.as_ref(),
        shipping_method: &order.shipping_method,
        shipments: order
            .shipments
            .iter()
            .map(|s| ShipmentView {
                shipment_id: &s.shipment_id,
                carrier: &s.carrier,
                tracking_number: &s.tracking_number,
                tracking_url: &s.tracking_url,
                lines: &s.lines,
                shipped_at: rfc3339(s.shipped_at),
            })
            .collect(),
        refunds,
        returns: &order.returns,
        timeline: order
            .timeline()
            .into_iter()
            .map(|(status, at)| Step {
                status,
                at: rfc3339(at),
            })
            .collect(),
        created_at: rfc3339(order.created_at),
        pay_by: (order.status == OrderStatus::PendingPayment).then(|| rfc3339(order.expires_at)),
        last_payment_error: order.last_payment_error.as_deref(),
        late_payment: order.late_payment.as_deref(),
        payment: None,
        exchange_payments: Vec::new(),
    }
}

impl Orders {
    /// Reads settings from `env` (the Stripe key from SSM when deployed) and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let client = aws_sdk_dynamodb::Client::new(sdk);
        let hold = HoldSettings::from_env(env)?;
        Ok(Self {
            expiry: Queue::new(aws_sdk_sqs::Client::new(sdk), hold.reservation_queue_url),
            hold_seconds: hold.reservation_hold_seconds,
            orders: OrderStore::new(client.clone(), table.shop_table.clone()),
            support: SupportStore::new(client.clone(), table.shop_table.clone()),
            limits: RateLimiter::new(client.clone(), table.shop_table.clone()),
            catalog: CatalogStore::new(client, table.shop_table),
            tax_rates: shop_platform::config::tax_rates(env)?,
            support_limits: env.parse()?,
            payments: PaymentGateway::from_env(env, sdk).await?,
            mailer: Mailer::from_env(env, sdk)?,
            returns: env.parse()?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("GET /orders/{order_id}") => self.show(&request).await,
            Some("POST /orders/{order_id}/cancel") => self.cancel(&request).await,
            Some("POST /orders/lookup") => self.lookup(&request).await,
            Some("POST /orders/{order_id}/returns") => self.request_return(&request).await,
            Some("POST /orders/{order_id}/exchanges") => self.request_exchange(&request).await,
            Some("POST /support/messages") => self.support_message(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    /// The order the request names, if its token opens it; otherwise 404.
    async fn own_order(&self, request: &Request) -> Result<Order, ApiError> {
        let order_id = path_param(request, "order_id")?;
        // The checkout's token as a bearer token, or a mailed link's `?token=`.
        let token = edge::bearer_token(request)
            .or_else(|| edge::query_param(request, "token"))
            .ok_or_else(not_found)?;
        let order = self.orders.get(&order_id).await?.ok_or_else(not_found)?;
        if !shop_platform::secrets::opens(&order, token, self.clock.now()) {
            return Err(not_found());
        }
        Ok(order)
    }

    async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.own_order(request).await?;
        let mut answer = view(&order);
        if let (OrderStatus::PendingPayment, Some(intent_id)) = (order.status, &order.payment_intent_id) {
            // The order shows without it when Stripe does not answer; paying waits for Stripe.
            match self.payments.retrieve_intent(intent_id).await {
                Ok(intent) => {
                    answer.payment = Some(PaymentView {
                        provider: "stripe",
                        payment_intent_id: intent.id,
                        client_secret: intent.client_secret,
                    })
                }
                Err(error) => {
                    tracing::warn!(order_id = %order.order_id, error = %error, "the payment could not be read")
                }
            }
        }
        for record in &order.returns {
            let Some(exchange) = &record.exchange else { continue };
            let (ExchangePayment::Awaiting, Some(intent_id)) = (exchange.payment, &exchange.payment_intent_id) else {
                continue;
            };
            match self.payments.retrieve_intent(intent_id).await {
                Ok(intent) => answer.exchange_payments.push(ExchangePaymentView {
                    return_id: record.return_id.clone(),
                    amount: exchange.balance,
                    pay_by: exchange.pay_by.map(rfc3339),
                    payment: PaymentView {
                        provider: "stripe",
                        payment_intent_id: intent.id,
                        client_secret: intent.client_secret,
                    },
                }),
                Err(error) => {
                    tracing::warn!(order_id = %order.order_id, return_id = %record.return_id, error = %error, "the exchange's payment could not be read")
                }
            }
        }
        json(StatusCode::OK, &answer)
    }

    /// `POST /orders/{order_id}/cancel`: the shared cancellation (`shop_services::cancellation`).
    async fn cancel(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.own_order(request).await?;
        let trace = Trace::new(&order.order_id, edge::request_id(request));
        let cancellation = Cancellation {
            orders: &self.orders,
            payments: &self.payments,
            mailer: &self.mailer,
            by: CancelledBy::Customer,
        };
        cancellation.cancel(&order, &trace, self.clock.now()).await?;
        let order = self.orders.get(&order.order_id).await?.ok_or_else(not_found)?;
        json(StatusCode::OK, &view(&order))
    }

    /// `POST /orders/{order_id}/returns {lines, reason}`: shipped units not returned before,
    /// within the return window, with what their return will refund; mails the instructions.
    async fn request_return(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let order = self.own_order(request).await?;
        let body: ReturnRequest = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let reason = check_reason(&body.reason)?;
        let refund = self.returnable(&order, &body.lines, "lines")?;
        let record = ReturnRecord {
            return_id: shop_platform::secrets::new_id(),
            order_id: order.order_id.clone(),
            lines: body.lines,
            reason,
            state: ReturnState::Requested,
            refund: Money::new(refund, order.totals.total.currency),
            requested_at: self.clock.now(),
            received_at: None,
            restocked: false,
            refund_id: None,
            exchange: None,
        };
        self.record_return(&order, &record, request).await?;
        json(StatusCode::CREATED, &record)
    }

    /// What returning `lines` of `order` now would refund, or why they may not be returned
    /// (`field` names them in the answer).
    fn returnable(&self, order: &Order, lines: &[ShipmentLine], field: &str) -> Result<i64, ApiError> {
        if order.status == OrderStatus::Refunded {
            return Err(ApiError::Conflict {
                code: "order_refunded",
                detail: "the order was refunded in full".into(),
            });
        }
        let now = self.clock.now();
        let ordered: Vec<OrderedLine> = order
            .lines
            .iter()
            .map(|line| OrderedLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price.amount,
            })
            .collect();
        let shipped: Vec<ShipmentLine> = order.shipments.iter().flat_map(|s| s.lines.clone()).collect();
        let returned: Vec<ShipmentLine> = order
            .returns
            .iter()
            .filter(|r| r.state != ReturnState::Cancelled)
            .flat_map(|r| r.lines.clone())
            .collect();
        let since = order
            .delivered_at
            .or_else(|| order.shipments.iter().map(|s| s.shipped_at).max())
            .unwrap_or(now);
        let days = (now - since) / 86_400;
        returns::check_return(
            &ordered,
            &shipped,
            &returned,
            lines,
            days,
            self.returns.return_window_days,
        )
        .map_err(|error| match error {
            ReturnError::WindowClosed { .. } => ApiError::Unprocessable {
                code: "return_window_closed",
                detail: error.to_string(),
            },
            other => ApiError::invalid(field, other.to_string()),
        })?;
        Ok(returns::refund_for(
            &ordered,
            &order.totals,
            &returned,
            lines,
            self.returns.refund_shipping,
        ))
    }

    /// Writes a return or exchange on the order it was checked against and mails its
    /// instructions.
    async fn record_return(&self, order: &Order, record: &ReturnRecord, request: &Request) -> Result<(), ApiError> {
        match self.orders.request_return(order, record).await {
            Ok(()) => {}
            Err(ReturnWriteError::Changed) => {
                return Err(ApiError::Conflict {
                    code: "order_changed",
                    detail: "the order changed meanwhile; read it and try again".into(),
                });
            }
            Err(ReturnWriteError::Short(lines)) => {
                return Err(ApiError::OutOfStock {
                    code: "insufficient_stock",
                    lines,
                });
            }
            Err(ReturnWriteError::Store(error)) => return Err(error.into()),
        }
        let exchange = record.exchange.is_some();
        tracing::info!(order_id = %order.order_id, return_id = %record.return_id, refund = record.refund.amount, exchange, "return requested");
        let trace = Trace::new(&order.order_id, edge::request_id(request));
        let mail = MailRequest::about(MailKind::ReturnInstructions, &order.order_id, &record.return_id);
        self.mailer.request(&[mail], &trace).await?;
        Ok(())
    }

    /// `POST /orders/lookup {email}`: always 202, so no one learns whether an address has
    /// orders, and the same work either way: the request is counted against its source's hourly
    /// limit (429 beyond it) and handed to the email sender, which mails an address with orders
    /// links to its recent ones, at most once per [`LOOKUP_WINDOW`], and an address without
    /// orders nothing.
    async fn lookup(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: LookupRequest = json_body(request, 4 * 1024)?;
        let email = Email::parse(&body.email).map_err(|reason| ApiError::invalid("email", reason))?;
        let now = self.clock.now();
        let source = Counted::per_source(
            "lookup-source",
            edge::source_ip(request),
            self.support_limits.order_lookups_per_source_hour,
        );
        if let Err(limited) = self.limits.admit(&[source], now).await? {
            return Err(limited.refused("order lookups from this network"));
        }
        let customer = customer_ref(&email);
        let mail = MailRequest::lookup(&customer, now / LOOKUP_WINDOW);
        let trace = Trace::new(&customer, edge::request_id(request));
        self.mailer.request(&[mail], &trace).await?;
        json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"detail": "if that address has orders, a mail with links to them is on its way"}),
        )
    }
}

impl HttpFunction for Orders {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Orders::handle(self, request))
    }
}
