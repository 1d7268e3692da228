//! `orders`: a shopper's view of their order, guarded by the order token from checkout. A
//! missing or wrong token is answered like an order that does not exist. Links in mails carry
//! their own token as `?token=`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::order::{Address, Email, OrderStatus};
use shop_domain::pricing::Totals;
use shop_platform::clock::rfc3339;
use shop_platform::config::{ConfigError, Env, TableSettings};
use shop_platform::edge::{self, json, path_param};
use shop_platform::order_store::{OrderLine, OrderStore};
use shop_platform::{ApiError, HttpFunction};

/// The orders function with its clients, built once per instance.
pub struct Orders {
    orders: OrderStore,
}

#[derive(Serialize)]
struct OrderView<'a> {
    order_id: &'a str,
    status: OrderStatus,
    email: &'a Email,
    lines: &'a [OrderLine],
    totals: &'a Totals,
    shipping_address: &'a Address,
    shipping_method: &'a str,
    shipments: Vec<ShipmentView<'a>>,
    refunds: Vec<serde_json::Value>,
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

impl Orders {
    /// Reads settings from `env` and builds the DynamoDB client from `sdk`.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        Ok(Self {
            orders: OrderStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("GET /orders/{order_id}") => self.show(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let gone = || ApiError::NotFound { what: "order" };
        let order_id = path_param(request, "order_id")?;
        // The checkout's token as a bearer token, or a mailed link's `?token=`.
        let token = edge::bearer_token(request)
            .or_else(|| edge::query_param(request, "token"))
            .ok_or_else(gone)?;
        let order = self.orders.get(&order_id).await?.ok_or_else(gone)?;
        if !order.opens_with(token) {
            return Err(gone());
        }
        let view = OrderView {
            order_id: &order.order_id,
            status: order.status,
            email: &order.email,
            lines: &order.lines,
            totals: &order.totals,
            shipping_address: &order.shipping_address,
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
            refunds: Vec::new(),
            created_at: rfc3339(order.created_at),
            pay_by: (order.status == OrderStatus::PendingPayment).then(|| rfc3339(order.expires_at)),
            last_payment_error: order.last_payment_error.as_deref(),
            late_payment: order.late_payment.as_deref(),
        };
        json(StatusCode::OK, &view)
    }
}

impl HttpFunction for Orders {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Orders::handle(self, request))
    }
}
