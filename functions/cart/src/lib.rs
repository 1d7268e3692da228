//! `cart`: guest carts guarded by a bearer token, priced by the server from the catalog on every
//! call, with shipping options, tax and discount codes. A missing or wrong token is answered
//! exactly like a cart that does not exist, so cart ids cannot be probed.

mod view;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shop_domain::cart::StockShortfall;
use shop_domain::cart::{Cart, CartLine, CartStatus, Destination};
use shop_domain::cart::{MAX_LINES, QuantityError, check_quantity};
use shop_domain::order::CountryCode;
use shop_domain::pricing::DiscountCode;
use shop_domain::{ProductId, Sku};
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, PricingSettings, StoreSettings, TableSettings};
use shop_platform::edge::{self, json, json_body, path_param, query_param};
use shop_platform::{ApiError, HttpFunction, secrets};
use shop_store::carts::{self, CartChange, CartStore, PricingInputs};
use std::sync::Arc;
pub use view::CartView;

/// The cart function with its clients and settings, built once per instance.
pub struct CartApi {
    carts: CartStore,
    store: StoreSettings,
    pricing: PricingSettings,
    default_country: CountryCode,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct SetQuantity {
    quantity: u32,
}

#[derive(Deserialize)]
struct ApplyCode {
    code: String,
}

#[derive(Deserialize)]
struct SetShipping {
    country: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

fn gone() -> ApiError {
    ApiError::NotFound { what: "cart" }
}

impl CartApi {
    /// Reads settings from `env` and builds the DynamoDB client from `sdk`.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let store: StoreSettings = env.parse()?;
        let client = aws_sdk_dynamodb::Client::new(sdk);
        let default_country = store
            .ship_to_countries
            .first()
            .and_then(|c| CountryCode::parse(c).ok())
            .ok_or_else(|| ConfigError::new("SHIP_TO_COUNTRIES needs at least one country code"))?;
        Ok(Self {
            carts: CartStore::new(client, table.shop_table),
            pricing: PricingSettings::from_env(env)?,
            store,
            default_country,
            clock: Arc::new(SystemClock),
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("POST /carts") => self.create().await,
            Some("GET /carts/{cart_id}") => self.show(&request).await,
            Some("PUT /carts/{cart_id}/items/{sku}") => self.set_line(&request).await,
            Some("DELETE /carts/{cart_id}/items/{sku}") => self.remove_line(&request).await,
            Some("POST /carts/{cart_id}/discount") => self.apply_discount(&request).await,
            Some("DELETE /carts/{cart_id}/discount") => {
                let cart = self.authorized(&request).await?;
                self.change(&request, &cart, CartChange::Discount(None), None).await
            }
            Some("PUT /carts/{cart_id}/shipping") => self.set_shipping(&request).await,
            Some("GET /shipping-options") => self.shipping_options(&request),
            _ => Err(edge::unknown_route(&request)),
        }
    }

    async fn create(&self) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        let token = secrets::new_token();
        let cart = Cart {
            cart_id: secrets::new_id(),
            token_hash: secrets::token_hash(&token),
            currency: self.store.store_currency,
            status: CartStatus::Open,
            created_at: now,
            updated_at: now,
            expires_at: now + self.pricing.cart_idle_seconds,
            discount_code: None,
            destination: None,
            shipping_method: None,
            lines: Default::default(),
            version: Some(0),
        };
        self.carts.create(&cart).await?;
        tracing::info!(cart_id = %cart.cart_id, "cart created");
        let view = self.view(&cart, None).await?.with_token(token);
        json(StatusCode::CREATED, &view)
    }

    async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let cart = self.authorized(request).await?;
        json(StatusCode::OK, &self.view(&cart, None).await?)
    }

    /// The cart the path names, if the bearer token is its own and it has not expired.
    async fn authorized(&self, request: &Request) -> Result<Cart, ApiError> {
        let cart_id = path_param(request, "cart_id")?;
        let cart = self.carts.get(&cart_id).await?;
        self.callers(request, cart)
    }

    /// `cart`, when the request's token opens it and it has not expired; else not found.
    fn callers(&self, request: &Request, cart: Option<Cart>) -> Result<Cart, ApiError> {
        let token = edge::bearer_token(request).ok_or_else(gone)?;
        let cart = cart.ok_or_else(gone)?;
        if !secrets::token_matches(token, &cart.token_hash) || cart.expires_at <= self.clock.now() {
            return Err(gone());
        }
        Ok(cart)
    }

    fn open(cart: &Cart) -> Result<(), ApiError> {
        match cart.status {
            CartStatus::Open => Ok(()),
            CartStatus::CheckedOut => Err(carts::checked_out()),
        }
    }

    /// Writes a change (conditional on the token and the cart being open), slides the expiry,
    /// and answers the cart as it is after the change, priced with `read` where that covers it.
    async fn change(
        &self,
        request: &Request,
        cart: &Cart,
        change: CartChange,
        read: Option<PricingInputs>,
    ) -> Result<Response<Body>, ApiError> {
        Self::open(cart)?;
        let now = self.clock.now();
        let token = edge::bearer_token(request).ok_or_else(gone)?;
        let hash = secrets::token_hash(token);
        let expires_at = now + self.pricing.cart_idle_seconds;
        let updated = self.carts.change(&cart.cart_id, &hash, change, now, expires_at).await?;
        json(StatusCode::OK, &self.view(&updated, read).await?)
    }

    /// Prices the cart with catalog entries already read for it, reading again only when the
    /// cart now holds something they lack (a line another request added meanwhile).
    async fn view(&self, cart: &Cart, read: Option<PricingInputs>) -> Result<CartView, ApiError> {
        let covers = |inputs: &PricingInputs| {
            cart.lines.keys().all(|sku| inputs.variants.contains_key(sku))
                && cart.discount_code.as_ref() == inputs.discount.as_ref().map(|d| &d.code)
        };
        let inputs = match read {
            Some(inputs) if covers(&inputs) => inputs,
            _ => {
                self.carts
                    .pricing_inputs(&line_refs(cart), cart.discount_code.as_ref())
                    .await?
            }
        };
        let now = self.clock.now();
        Ok(view::price(cart, &inputs, &self.pricing, &self.default_country, now))
    }

    async fn set_line(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        // The token first: a cart that is not the caller's is not found, whatever the SKU or the
        // body says. The cart and the SKU's owner are read together (the SKU may be new to it).
        let (cart, owner) = match Sku::parse(&path_param(request, "sku")?) {
            Ok(sku) => {
                let (cart, owner) = self
                    .carts
                    .get_with_sku_owner(&path_param(request, "cart_id")?, &sku)
                    .await?;
                (self.callers(request, cart)?, Ok((sku, owner)))
            }
            Err(reason) => (self.authorized(request).await?, Err(unknown_sku(&reason))),
        };
        let (sku, owner) = owner?;
        let SetQuantity { quantity } = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        if quantity == 0 {
            return self
                .change(request, &cart, CartChange::Line { sku, line: None }, None)
                .await;
        }
        if quantity > self.pricing.max_line_quantity {
            let error = QuantityError::OverLineMaximum {
                max: self.pricing.max_line_quantity,
            };
            return Err(ApiError::invalid("quantity", error.to_string()));
        }
        Self::open(&cart)?;
        let existing = cart.lines.get(sku.as_str());
        let product_id = match existing {
            Some(line) => line.product_id.clone(),
            None => {
                if cart.lines.len() >= MAX_LINES {
                    return Err(ApiError::Conflict {
                        code: "cart_full",
                        detail: format!("a cart holds at most {MAX_LINES} different items"),
                    });
                }
                owner.ok_or_else(|| unknown_sku(&format!("no product has SKU {sku}")))?
            }
        };
        // One batch read serves both the stock check and the answer's prices.
        let mut refs = line_refs(&cart);
        refs.push((product_id.clone(), sku.clone()));
        let inputs = self.carts.pricing_inputs(&refs, cart.discount_code.as_ref()).await?;
        let variant = inputs
            .variants
            .get(sku.as_str())
            .cloned()
            .ok_or_else(|| unknown_sku(&format!("SKU {sku} is no longer sold")))?;
        check_quantity(quantity, self.pricing.max_line_quantity, variant.available).map_err(|error| {
            let code = if variant.available == 0 {
                "sold_out"
            } else {
                "insufficient_stock"
            };
            tracing::info!(sku = %sku, requested = quantity, available = variant.available, %error, "not enough stock");
            ApiError::OutOfStock {
                code,
                lines: vec![StockShortfall {
                    sku: sku.to_string(),
                    requested: quantity,
                    available: variant.available,
                }],
            }
        })?;
        let line = CartLine {
            product_id,
            quantity,
            unit_price_seen: variant.price.amount,
            added_at: existing.map_or_else(|| self.clock.now(), |line| line.added_at),
        };
        tracing::info!(cart_id = %cart.cart_id, sku = %sku, quantity, "line set");
        let change = CartChange::Line { sku, line: Some(line) };
        self.change(request, &cart, change, Some(inputs)).await
    }

    async fn remove_line(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let cart = self.authorized(request).await?;
        let sku = Sku::parse(&path_param(request, "sku")?).map_err(|reason| unknown_sku(&reason))?;
        self.change(request, &cart, CartChange::Line { sku, line: None }, None)
            .await
    }

    async fn apply_discount(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let cart = self.authorized(request).await?;
        let ApplyCode { code } = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let code = DiscountCode::parse(&code).map_err(|reason| ApiError::invalid("code", reason))?;
        Self::open(&cart)?;
        let inputs = self.carts.pricing_inputs(&line_refs(&cart), Some(&code)).await?;
        let record = inputs.discount.as_ref().ok_or_else(|| ApiError::Unprocessable {
            code: "unknown_discount_code",
            detail: format!("there is no discount code {code}"),
        })?;
        let priced = shop_domain::cart::price_lines(&cart, &inputs.variants);
        record
            .rule
            .applies(&priced, self.clock.now(), record.redemptions)
            .map_err(|refusal| ApiError::Unprocessable {
                code: refusal.code(),
                detail: refusal.to_string(),
            })?;
        tracing::info!(cart_id = %cart.cart_id, code = %code, "discount applied");
        self.change(request, &cart, CartChange::Discount(Some(code)), Some(inputs))
            .await
    }

    async fn set_shipping(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let cart = self.authorized(request).await?;
        let body: SetShipping = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let country = self.shipping_country(&body.country)?;
        let region = body
            .region
            .map(|r| r.trim().to_ascii_uppercase())
            .filter(|r| !r.is_empty());
        if region.as_ref().is_some_and(|r| r.len() > 10) {
            return Err(ApiError::invalid("region", "a region code has at most 10 characters"));
        }
        if let Some(method) = &body.method
            && !self
                .pricing
                .shipping_rates
                .iter()
                .any(|r| &r.id == method && r.countries.iter().any(|c| c == country.as_str()))
        {
            return Err(ApiError::invalid(
                "method",
                format!("{method} is not a shipping option for {country}"),
            ));
        }
        let destination = Destination { country, region };
        let change = CartChange::Shipping {
            destination,
            method: body.method,
        };
        self.change(request, &cart, change, None).await
    }

    /// A country the store ships to, or a 422 naming the field.
    fn shipping_country(&self, raw: &str) -> Result<CountryCode, ApiError> {
        let country = CountryCode::parse(raw).map_err(|reason| ApiError::invalid("country", reason))?;
        let shipped = self.store.ship_to_countries.iter().any(|c| c == country.as_str())
            && self
                .pricing
                .shipping_rates
                .iter()
                .any(|r| r.countries.iter().any(|c| c == country.as_str()));
        if !shipped {
            return Err(ApiError::invalid(
                "country",
                format!("the store does not ship to {country}"),
            ));
        }
        Ok(country)
    }

    fn shipping_options(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let raw = query_param(request, "country")
            .ok_or_else(|| ApiError::invalid("country", "name a country: ?country=US"))?;
        let country = self.shipping_country(raw)?;
        let options = shop_domain::pricing::shipping_options(
            &self.pricing.shipping_rates,
            country.as_str(),
            0,
            self.store.store_currency,
        );
        json(
            StatusCode::OK,
            &serde_json::json!({"country": country, "items": options, "next_cursor": null}),
        )
    }
}

fn unknown_sku(detail: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "unknown_sku",
        detail: detail.to_owned(),
    }
}

fn line_refs(cart: &Cart) -> Vec<(ProductId, Sku)> {
    cart.lines
        .iter()
        .filter_map(|(sku, line)| Some((line.product_id.clone(), Sku::parse(sku).ok()?)))
        .collect()
}

impl HttpFunction for CartApi {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(CartApi::handle(self, request))
    }
}
