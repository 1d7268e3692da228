//! `checkout`: turns a cart into an order. Re-prices the cart from the catalog, reserves every
//! line's stock and the discount in one DynamoDB transaction together with the order, creates
//! the Stripe PaymentIntent (idempotent per order), and schedules the end of the stock hold.
//! The same `Idempotency-Key` with the same body answers the same order; with another body, 422.
//! Each new hold counts, in that same transaction, against its mailbox's and its source's hourly
//! limits: over either, 429 with `Retry-After` and nothing held (a replay is answered before it
//! and counts nothing).

use base64::Engine;
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shop_domain::FieldError;
use shop_domain::cart;
use shop_domain::cart::{Cart, CartStatus};
use shop_domain::line::OrderLine;
use shop_domain::order::{Address, Email, OrderStatus};
use shop_domain::order::{NewOrder, Order, OrderDiscount};
use shop_domain::pricing::DiscountCode;
use shop_domain::pricing::{self, QuoteInputs};
use shop_platform::batch::Trace;
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_platform::config::{
    CheckoutLimits, ConfigError, Env, HoldSettings, PricingSettings, StoreSettings, TableSettings,
};
use shop_platform::edge::{self, json_body};
use shop_platform::messages::{CampaignMessage, ExpireReservation};
use shop_platform::metrics::Metric;
use shop_platform::{ApiError, HttpFunction, secrets};
use shop_services::payments::PaymentGateway;
use shop_services::queue::Queue;
use shop_store::carts::CartStore;
use shop_store::orders::{IdempotencyRecord, OrderStore, ReserveError};
use shop_store::rate_limits::Counted;
use std::sync::Arc;
use std::time::Duration;

/// How long a request that finds its key's checkout still running waits for its answer.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);
/// Times a checkout prices the cart again when it changed before the order was written.
const CART_CHANGE_ATTEMPTS: u32 = 3;

/// The checkout function with its clients and settings, built once per instance.
pub struct Checkout {
    carts: CartStore,
    orders: OrderStore,
    payments: PaymentGateway,
    expiry: Queue,
    /// Sign-ups of shoppers who opted in to marketing (the double opt-in starts there).
    sign_ups: Queue,
    store: StoreSettings,
    pricing: PricingSettings,
    hold_seconds: u32,
    limits: CheckoutLimits,
    clock: Arc<dyn Clock>,
}

/// The checkout request; serialised again (canonically) to fingerprint it for idempotency.
#[derive(Debug, Serialize, Deserialize)]
struct CheckoutRequest {
    cart_id: String,
    #[serde(default, skip_serializing)]
    cart_token: Option<String>,
    email: String,
    shipping_address: Address,
    #[serde(default)]
    billing_address: Option<Address>,
    shipping_method: String,
    #[serde(default)]
    marketing_opt_in: bool,
}

#[derive(Serialize)]
struct PaymentBlock<'a> {
    provider: &'static str,
    payment_intent_id: &'a str,
    client_secret: &'a str,
}

/// The answer to a checkout, as the idempotency record keeps it: without the order's token,
/// which is added to each answer as it is sent.
#[derive(Serialize)]
struct CheckoutAnswer<'a> {
    order_id: &'a str,
    status: OrderStatus,
    email: &'a Email,
    lines: &'a [OrderLine],
    totals: &'a pricing::Totals,
    shipping_address: &'a Address,
    shipping_method: &'a str,
    expires_at: String,
    payment: PaymentBlock<'a>,
}

fn cart_gone() -> ApiError {
    ApiError::NotFound { what: "cart" }
}

/// A checkout request, read and checked.
struct Asked {
    key: String,
    body: CheckoutRequest,
    token: String,
    email: Email,
    fingerprint: String,
    /// The caller's address, which its per-source limit counts.
    source_ip: String,
}

/// What reserving found.
enum Reserved {
    /// The new order and its token.
    New(Box<Order>, String),
    /// Another request with the same key made the order first.
    Theirs(IdempotencyRecord),
}

impl Checkout {
    /// Reads settings from `env` (the Stripe key from SSM when deployed) and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let hold = HoldSettings::from_env(env)?;
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Self {
            carts: CartStore::new(dynamodb.clone(), table.shop_table.clone()),
            orders: OrderStore::new(dynamodb, table.shop_table),
            payments: PaymentGateway::from_env(env, sdk).await?,
            expiry: Queue::new(aws_sdk_sqs::Client::new(sdk), hold.reservation_queue_url),
            sign_ups: Queue::new(
                aws_sdk_sqs::Client::new(sdk),
                env.get("CAMPAIGN_QUEUE_URL")
                    .ok_or_else(|| ConfigError::new("CAMPAIGN_QUEUE_URL is not set"))?,
            ),
            store: env.parse()?,
            pricing: PricingSettings::from_env(env)?,
            hold_seconds: hold.reservation_hold_seconds,
            limits: CheckoutLimits::from_env(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("POST /checkout") => self.checkout(&request).await.inspect_err(|refusal| {
                counted_refusal(refusal, &request);
            }),
            _ => Err(edge::unknown_route(&request)),
        }
    }

    /// `POST /checkout`, step by step: read the request; replay a key seen before; reserve the
    /// cart's order; schedule the end of its hold; sign the customer up if they asked; then
    /// create its payment and answer.
    async fn checkout(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let asked = self.read(request)?;
        if let Some(record) = self.orders.idempotency(&asked.key).await? {
            return self.resume(record, &asked.key, &asked.fingerprint, &asked.token).await;
        }
        let (order, order_token) = match self.reserve(&asked).await? {
            Reserved::New(order, order_token) => (*order, order_token),
            // A concurrent request with this key won: finish or replay its checkout.
            Reserved::Theirs(record) => {
                return self.resume(record, &asked.key, &asked.fingerprint, &asked.token).await;
            }
        };
        let trace = Trace::new(&order.order_id, edge::request_id(request));
        Metric::OrdersPlaced
            .once()
            .add(Metric::PlacedValue, order.totals.total.amount)
            .with("order_id", &order.order_id)
            .with("request_id", &trace.request_id)
            .emit();
        self.schedule_hold_end(&order, &trace).await?;
        self.sign_up(&order, &trace).await;
        self.complete(order, &asked.key, &order_token, false).await
    }

    /// The request as checkout needs it: its key, body, cart token and checked email.
    fn read(&self, request: &Request) -> Result<Asked, ApiError> {
        let key = idempotency_key(request)?;
        let body: CheckoutRequest = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let token = body
            .cart_token
            .clone()
            .or_else(|| edge::bearer_token(request).map(str::to_owned))
            .ok_or_else(cart_gone)?;
        let email = self.validate(&body)?;
        let fingerprint = fingerprint(&body)?;
        Ok(Asked {
            key,
            body,
            token,
            email,
            fingerprint,
            source_ip: edge::source_ip(request),
        })
    }

    /// Prices the cart and writes its order with the stock held, all or nothing; priced again
    /// when the cart changed meanwhile. The order and its token, or the record of the request
    /// with the same key that got there first.
    async fn reserve(&self, asked: &Asked) -> Result<Reserved, ApiError> {
        let Asked {
            key,
            body,
            token,
            email,
            fingerprint,
            source_ip,
        } = asked;
        let counted = hold_limits(email, source_ip, &self.limits);
        let mut attempts = 0;
        let (order, order_token) = loop {
            attempts += 1;
            let now = self.clock.now();
            let cart = match self.open_cart(&body.cart_id, token, now).await {
                Ok(cart) => cart,
                // Closed by a concurrent request with this key after this one looked for it.
                Err(
                    closed @ ApiError::Conflict {
                        code: "cart_checked_out",
                        ..
                    },
                ) => {
                    return self.theirs_or(key, closed).await;
                }
                Err(error) => return Err(error),
            };
            let (order, order_token, discount) = self.place(&cart, body, email.clone(), now).await?;
            let record = IdempotencyRecord {
                fingerprint: fingerprint.clone(),
                order_id: order.order_id.clone(),
                cart_token_hash: cart.token_hash.clone(),
                response: None,
            };
            match self.orders.reserve(&order, &cart, key, &record, &counted, now).await {
                Ok(()) => break (order, order_token),
                // The cart changed after it was read: the order must hold what it holds now.
                Err(ReserveError::CartChanged) if attempts < CART_CHANGE_ATTEMPTS => {
                    tracing::info!(cart_id = %cart.cart_id, attempts, "the cart changed during checkout; pricing it again");
                }
                Err(ReserveError::CartChanged) => {
                    return Err(ApiError::Conflict {
                        code: "cart_changed",
                        detail: "the cart kept changing while it was checked out; check it and try again".into(),
                    });
                }
                Err(ReserveError::KeyTaken) => {
                    let theirs = self.orders.idempotency(key).await?.ok_or_else(|| {
                        ApiError::Internal("the idempotency key was taken but its record is missing".into())
                    })?;
                    return Ok(Reserved::Theirs(theirs));
                }
                Err(ReserveError::CartClosed) => {
                    return self.theirs_or(key, refusal(ReserveError::CartClosed, None)).await;
                }
                Err(error) => return Err(refusal(error, discount.as_ref())),
            }
        };
        tracing::info!(order_id = %order.order_id, total = order.totals.total.amount, lines = order.lines.len(), "stock reserved");
        Ok(Reserved::New(Box::new(order), order_token))
    }

    /// The record of the request with `key` that checked the cart out first, when there is
    /// one (this request is then its repetition, and is answered as it was); else `closed`: the
    /// cart became an order through another key.
    async fn theirs_or(&self, key: &str, closed: ApiError) -> Result<Reserved, ApiError> {
        match self.orders.idempotency(key).await? {
            Some(theirs) => Ok(Reserved::Theirs(theirs)),
            None => Err(closed),
        }
    }

    /// Asks the expiry queue to end the order's hold when it lapses; without that the stock
    /// would stay held, so the order is released and the checkout fails when it cannot be asked.
    async fn schedule_hold_end(&self, order: &Order, trace: &Trace) -> Result<(), ApiError> {
        let now = self.clock.now();
        let expire = ExpireReservation {
            order_id: order.order_id.clone(),
            exchange_id: None,
        };
        if let Err(error) = self.expiry.send(&expire, self.hold_seconds, trace).await {
            tracing::error!(order_id = %order.order_id, error = %error, "could not schedule the hold's end; releasing");
            self.orders.release(order, now, "checkout_failed").await?;
            return Err(error.into());
        }
        Ok(())
    }

    /// Signs the customer up for marketing mail (the same double opt-in as the sign-up form)
    /// when they asked; the order does not wait on it.
    async fn sign_up(&self, order: &Order, trace: &Trace) {
        if order.marketing_opt_in {
            let sign_up = CampaignMessage::SignUp {
                email: order.email.clone(),
                source: "checkout".to_owned(),
            };
            if let Err(error) = self.sign_ups.send(&sign_up, 0, trace).await {
                tracing::error!(order_id = %order.order_id, error = %error, "marketing sign-up not queued");
            }
        }
    }

    /// The cart the checkout names, if `token` is its own, it has not expired, it is still open
    /// and it has lines.
    async fn open_cart(&self, cart_id: &str, token: &str, now: i64) -> Result<Cart, ApiError> {
        let cart = self.carts.get(cart_id).await?.ok_or_else(cart_gone)?;
        if !secrets::token_matches(token, &cart.token_hash) || cart.expires_at <= now {
            return Err(cart_gone());
        }
        if cart.status == CartStatus::CheckedOut {
            return Err(ApiError::Conflict {
                code: "cart_checked_out",
                detail: "this cart is already an order".into(),
            });
        }
        if cart.lines.is_empty() {
            return Err(ApiError::Unprocessable {
                code: "empty_cart",
                detail: "the cart has no lines".into(),
            });
        }
        Ok(cart)
    }

    /// The order `cart` becomes, priced from the catalog now for the request's address and
    /// shipping method, with its new token and the discount code it uses.
    async fn place(
        &self,
        cart: &Cart,
        body: &CheckoutRequest,
        email: Email,
        now: i64,
    ) -> Result<(Order, String, Option<DiscountCode>), ApiError> {
        let refs: Vec<_> = cart
            .lines
            .iter()
            .filter_map(|(sku, line)| Some((line.product_id.clone(), shop_domain::Sku::parse(sku).ok()?)))
            .collect();
        let inputs = self.carts.pricing_inputs(&refs, cart.discount_code.as_ref()).await?;
        let lines = cart::order_lines(cart, &inputs.variants).map_err(|lines| ApiError::OutOfStock {
            code: "insufficient_stock",
            lines,
        })?;
        let priced = cart::price_lines(cart, &inputs.variants);
        let discount_record = match (&cart.discount_code, &inputs.discount) {
            (Some(code), None) => {
                return Err(ApiError::Unprocessable {
                    code: "unknown_discount_code",
                    detail: format!("the code {code} no longer exists; remove it from the cart"),
                });
            }
            (_, record) => record.as_ref(),
        };
        let quote = pricing::quote(
            &priced,
            QuoteInputs {
                rates: &self.pricing.shipping_rates,
                tax: &self.pricing.tax_rates,
                country: body.shipping_address.country.as_str(),
                region: body.shipping_address.region.as_deref(),
                method: Some(&body.shipping_method),
                discount: discount_record.map(|d| (&d.rule, d.redemptions)),
                now,
                currency: cart.currency,
            },
        );
        if let Some(refusal) = quote.discount_refusal {
            return Err(ApiError::Unprocessable {
                code: refusal.code(),
                detail: refusal.to_string(),
            });
        }
        let order_token = secrets::new_token();
        let order = Order::place(
            NewOrder {
                order_id: secrets::new_id(),
                token_hash: secrets::token_hash(&order_token),
                email,
                lines,
                totals: quote.totals,
                shipping_address: body.shipping_address.clone(),
                billing_address: body.billing_address.clone(),
                shipping_method: body.shipping_method.clone(),
                discount: discount_record.map(|d| OrderDiscount {
                    code: d.code.clone(),
                    limited: d.rule.max_redemptions,
                    once_per_customer: d.rule.once_per_customer,
                }),
                marketing_opt_in: body.marketing_opt_in,
                cart_id: cart.cart_id.clone(),
            },
            now,
            self.hold_seconds,
        );
        Ok((order, order_token, discount_record.map(|d| d.code.clone())))
    }

    /// Finishes (or replays) the checkout a key started, for a request that proves the cart's
    /// token (the key alone opens nothing). The first answer's order token is not kept: a
    /// replay is given a token of its own, a link token of the order.
    async fn resume(
        &self,
        mut record: IdempotencyRecord,
        key: &str,
        fingerprint: &str,
        cart_token: &str,
    ) -> Result<Response<Body>, ApiError> {
        if record.fingerprint != fingerprint {
            return Err(ApiError::Unprocessable {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used with a different request body".into(),
            });
        }
        if !secrets::token_matches(cart_token, &record.cart_token_hash) {
            return Err(cart_gone());
        }
        let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
        loop {
            let order = self
                .orders
                .get(&record.order_id)
                .await?
                .ok_or_else(|| ApiError::Internal("an idempotency record names a missing order".into()))?;
            if let Some(response) = &record.response {
                let token = self.orders.issue_link_token(&order, self.clock.now()).await?;
                return answer(response, &token, true);
            }
            if order.status == OrderStatus::PendingPayment {
                let token = self.orders.issue_link_token(&order, self.clock.now()).await?;
                return self.complete(order, key, &token, true).await;
            }
            // Not pending and no answer: another request is finishing it, or the hold ended.
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Conflict {
                    code: "checkout_not_completed",
                    detail: format!(
                        "order {} is {} and its checkout did not complete",
                        order.order_id,
                        order.status.as_str()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            record = self.orders.idempotency(key).await?.unwrap_or(record);
        }
    }

    /// Creates the PaymentIntent (idempotent per order), records it, and answers 201 with
    /// `order_token`.
    async fn complete(
        &self,
        order: Order,
        key: &str,
        order_token: &str,
        replayed: bool,
    ) -> Result<Response<Body>, ApiError> {
        let intent = self
            .payments
            .create_intent(
                &order.order_id,
                order.totals.total.amount,
                order.totals.total.currency.as_str(),
                order.email.as_str(),
            )
            .await?;
        let recorded = CheckoutAnswer {
            order_id: &order.order_id,
            status: order.status,
            email: &order.email,
            lines: &order.lines,
            totals: &order.totals,
            shipping_address: &order.shipping_address,
            shipping_method: &order.shipping_method,
            expires_at: rfc3339(order.expires_at),
            payment: PaymentBlock {
                provider: "stripe",
                payment_intent_id: &intent.id,
                client_secret: &intent.client_secret,
            },
        };
        let text = serde_json::to_string(&recorded).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.orders.complete(&order.order_id, &intent.id, key, &text).await?;
        tracing::info!(order_id = %order.order_id, payment_intent = %intent.id, "order awaiting payment");
        answer(&text, order_token, replayed)
    }

    /// Checks what the cart does not: email, addresses, destination and shipping method.
    fn validate(&self, body: &CheckoutRequest) -> Result<Email, ApiError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let email = Email::parse(&body.email)
            .map_err(|reason| errors.push(FieldError::new("email", reason)))
            .ok();
        errors.extend(body.shipping_address.check("shipping_address"));
        if let Some(billing) = &body.billing_address {
            errors.extend(billing.check("billing_address"));
        }
        let country = body.shipping_address.country.as_str();
        if !self.store.ship_to_countries.iter().any(|c| c == country) {
            errors.push(FieldError::new(
                "shipping_address.country",
                format!("the store does not ship to {country}"),
            ));
        } else if !self
            .pricing
            .shipping_rates
            .iter()
            .any(|r| r.id == body.shipping_method && r.countries.iter().any(|c| c == country))
        {
            errors.push(FieldError::new(
                "shipping_method",
                format!("{} is not a shipping option for {country}", body.shipping_method),
            ));
        }
        match email {
            Some(email) if errors.is_empty() => Ok(email),
            _ => Err(ApiError::Invalid { errors }),
        }
    }
}

/// The `Idempotency-Key` header: required, 1 to 255 visible characters.
fn idempotency_key(request: &Request) -> Result<String, ApiError> {
    let raw = request
        .headers()
        .get("idempotency-key")
        .ok_or_else(|| ApiError::bad_request("missing_idempotency_key", "send an Idempotency-Key header (a UUID)"))?;
    let key = raw.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "the Idempotency-Key is 1 to 255 visible characters",
        ));
    }
    Ok(key.to_owned())
}

fn fingerprint(body: &CheckoutRequest) -> Result<String, ApiError> {
    let canonical = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)))
}

/// The limits a new hold counts against: its mailbox's (the `+tags` of one address count
/// together) and its source's.
fn hold_limits(email: &Email, source_ip: &str, limits: &CheckoutLimits) -> [Counted; 2] {
    [
        Counted::per_mailbox("hold-email", email, limits.checkout_holds_per_email_hour),
        Counted::per_source(
            "hold-source",
            source_ip.to_owned(),
            limits.checkout_holds_per_source_hour,
        ),
    ]
}

/// A checkout the shop refused (a 4xx: the shopper's input or one of the shop's rules), counted
/// by its code; one refused for short stock is an oversell prevented.
fn counted_refusal(refusal: &ApiError, request: &Request) {
    if !refusal.status().is_client_error() {
        return;
    }
    let request_id = edge::request_id(request);
    if refusal.code() == "insufficient_stock" {
        Metric::OversellRefusals.once().with("request_id", &request_id).emit();
    }
    Metric::CheckoutRefusals
        .once()
        .dimension(refusal.code())
        .with("request_id", request_id)
        .emit();
}

/// Every cart line at today's price, or a 409 naming lines no longer sold or short of stock.
fn refusal(error: ReserveError, code: Option<&DiscountCode>) -> ApiError {
    let code_text = code.map(ToString::to_string).unwrap_or_default();
    match error {
        ReserveError::Short(lines) => ApiError::OutOfStock {
            code: "insufficient_stock",
            lines,
        },
        ReserveError::DiscountExhausted => ApiError::Unprocessable {
            code: "discount_exhausted",
            detail: format!("the code {code_text} has been used up"),
        },
        ReserveError::DiscountAlreadyUsed => ApiError::Unprocessable {
            code: "discount_already_used",
            detail: format!("the code {code_text} was already used with this email"),
        },
        ReserveError::CartClosed => ApiError::Conflict {
            code: "cart_checked_out",
            detail: "this cart is already an order".into(),
        },
        ReserveError::Limited(limited) => limited.refused("checkouts"),
        ReserveError::KeyTaken => ApiError::Internal("an idempotency race was not resumed".into()),
        ReserveError::CartChanged => ApiError::Internal("a changed cart was not priced again".into()),
        ReserveError::Store(error) => error.into(),
    }
}

/// The 201: the recorded answer `text` with `order_token` added.
fn answer(text: &str, order_token: &str, replayed: bool) -> Result<Response<Body>, ApiError> {
    let internal = |e: serde_json::Error| ApiError::Internal(format!("the recorded answer: {e}"));
    let mut body: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(internal)?;
    body.insert("order_token".to_owned(), order_token.into());
    let text = serde_json::to_string(&body).map_err(internal)?;
    let mut response = Response::builder()
        .status(StatusCode::CREATED)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

impl HttpFunction for Checkout {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Checkout::handle(self, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_counts_its_tags_together_and_each_source_on_its_own() {
        let limits = CheckoutLimits {
            checkout_holds_per_email_hour: 10,
            checkout_holds_per_source_hour: 30,
        };
        let counted = |email: &str, source: &str| {
            hold_limits(&Email::parse(email).unwrap(), source, &limits)
                .map(|count| (count.scope, count.subject, count.limit.max))
        };
        let [tagged, from_one] = counted("ada+sale@example.com", "192.0.2.1");
        let [plain, from_other] = counted("ada@example.com", "198.51.100.7");
        assert_eq!(tagged, plain);
        assert_eq!((tagged.0, tagged.2), ("hold-email", 10));
        assert!(!tagged.1.contains("ada"), "the counter's key holds no address");
        assert_eq!(from_one, ("hold-source", "192.0.2.1".to_owned(), 30));
        assert_ne!(from_one, from_other);
        let [someone_else, _] = counted("bob@example.com", "192.0.2.1");
        assert_ne!(someone_else, plain);
    }
}
