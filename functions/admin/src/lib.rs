//! `admin`: the merchant's desks. The catalog (products one at a time or in bulk, stock counts,
//! discount codes), the orders (see [`order_desk`]; cancels and refunds in [`refunds_desk`],
//! marking a flagged order reviewed in [`review_desk`]), the support inbox ([`support_desk`]) and
//! the day's summary ([`summary`]).
//! In AWS these routes sit behind IAM authorization; locally the gateway asks for the admin token.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shop_domain::pricing::DiscountCode;
use shop_domain::pricing::DiscountRule;
use shop_domain::{Currency, FieldError, Product, ProductId, Sku};
use shop_platform::clock::{Clock, SystemClock};
use shop_platform::config::{ConfigError, Env, StoreSettings, TableSettings};
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::{ApiError, HttpFunction};
use shop_services::mail::Mailer;
use shop_services::payments::PaymentGateway;
use shop_store::catalog::{CatalogStore, Saved};
use shop_store::discounts::{DiscountRecord, DiscountStore};
use shop_store::orders::OrderStore;
use shop_store::support::SupportStore;
use std::collections::HashSet;

pub mod order_desk;
pub mod order_export;
pub mod refunds_desk;
pub mod returns_desk;
pub mod review_desk;
pub mod summary;
pub mod support_desk;

use order_desk::OrderDesk;
use support_desk::SupportDesk;

/// The largest import body: well under Lambda's 6 MB payload limit.
const IMPORT_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The most products one import takes; larger catalogs import in several calls.
const IMPORT_MAX_ROWS: usize = 500;

/// The admin function with its clients, built once per instance.
pub struct Admin {
    catalog: CatalogStore,
    discounts: DiscountStore,
    currency: Currency,
    clock: std::sync::Arc<dyn Clock>,
    desk: OrderDesk,
    support: SupportDesk,
    dead_letters: Vec<(String, shop_services::queue::Queue)>,
    /// SES's bounces and complaints counted per day, for the summary.
    mail_events: shop_store::mail_events::MailEventStore,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    products: Vec<Value>,
}

#[derive(Serialize)]
struct RowError {
    index: usize,
    field: String,
    reason: String,
}

#[derive(Serialize, Default)]
struct ImportReport {
    imported: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    errors: Vec<RowError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockCount {
    available: u32,
}

impl Admin {
    /// Reads settings from `env` (the Stripe key from SSM when deployed) and builds the clients.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        let store: StoreSettings = env.parse()?;
        let client = aws_sdk_dynamodb::Client::new(sdk);
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SystemClock);
        // Listing cursors are sealed with the shop's key.
        shop_platform::keys::install(env)?;
        let mailer = Mailer::from_env(env, sdk)?;
        Ok(Self {
            catalog: CatalogStore::new(client.clone(), table.shop_table.clone()),
            discounts: DiscountStore::new(client.clone(), table.shop_table.clone()),
            support: SupportDesk {
                support: SupportStore::new(client.clone(), table.shop_table.clone()),
                mailer: mailer.clone(),
                clock: clock.clone(),
            },
            currency: store.store_currency,
            dead_letters: summary::dead_letter_queues(env, &aws_sdk_sqs::Client::new(sdk)),
            mail_events: shop_store::mail_events::MailEventStore::new(client.clone(), table.shop_table.clone()),
            clock: clock.clone(),
            desk: OrderDesk {
                mail_log: shop_store::mail_log::MailLog::new(client.clone(), table.shop_table.clone()),
                orders: OrderStore::new(client, table.shop_table),
                mailer,
                payments: PaymentGateway::from_env(env, sdk).await?,
                store_name: store.store_name,
                clock,
                slips: order_desk::slip_templates()
                    .map_err(|e| ConfigError::new(format!("packing slip template: {e}")))?,
            },
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("GET /admin/products") => self.list_products(&request).await,
            Some("GET /admin/products/{id}") => self.show_product(&request).await,
            Some("PUT /admin/products/{id}") => self.put_product(&request).await,
            Some("POST /admin/products/import") => self.import(&request).await,
            Some("PUT /admin/inventory/{sku}") => self.set_stock(&request).await,
            Some("PUT /admin/discounts/{code}") => self.put_discount(&request).await,
            Some("GET /admin/discounts") => self.list_discounts(&request).await,
            Some("GET /admin/discounts/{code}") => self.show_discount(&request).await,
            Some("GET /admin/orders") => self.desk.list(&request).await,
            Some("GET /admin/orders/{order_id}") => self.desk.show(&request).await,
            Some("GET /admin/orders/{order_id}/packing-slip") => self.desk.packing_slip(&request).await,
            Some("POST /admin/orders/{order_id}/shipments") => self.desk.ship(&request).await,
            Some("POST /admin/orders/{order_id}/delivered") => self.desk.delivered(&request).await,
            Some("POST /admin/orders/{order_id}/cancel") => self.desk.cancel(&request).await,
            Some("POST /admin/orders/{order_id}/refunds") => self.desk.refund(&request).await,
            Some("POST /admin/orders/{order_id}/reviewed") => self.desk.reviewed(&request).await,
            Some("GET /admin/orders/{order_id}/mails") => self.desk.mails(&request).await,
            Some("GET /admin/exports/orders") => self.desk.export(&request).await,
            Some("GET /admin/returns") => self.desk.list_returns(&request).await,
            Some("POST /admin/returns/{return_id}/receive") => self.desk.receive_return(&request).await,
            Some("GET /admin/support/messages") => self.support.list(&request).await,
            Some("GET /admin/support/messages/{reference}") => self.support.show(&request).await,
            Some("POST /admin/support/messages/{reference}/replies") => self.support.reply(&request).await,
            Some("POST /admin/support/messages/{reference}/answered") => self.support.answered(&request).await,
            Some("GET /admin/summary") => self.summary(&request).await,
            _ => Err(edge::unknown_route(&request)),
        }
    }

    /// `GET /admin/products?limit=&cursor=`: every product, drafts and archived ones too, by
    /// title, each with its status, price range and stock.
    async fn list_products(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = edge::page_params(request)?;
        let page = self.catalog.merchant_list(limit, cursor.as_ref()).await?;
        json(StatusCode::OK, &page)
    }

    /// `GET /admin/products/{id}`: a product as the merchant wrote it, whatever its status.
    async fn show_product(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = ProductId::parse(&path_param(request, "id")?).map_err(|_| ApiError::NotFound { what: "product" })?;
        let product = self
            .catalog
            .product(&id)
            .await?
            .ok_or(ApiError::NotFound { what: "product" })?;
        json(StatusCode::OK, &product)
    }

    async fn put_product(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = path_param(request, "id")?;
        let mut body: Value = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let Value::Object(fields) = &mut body else {
            return Err(ApiError::invalid("body", "a product is a JSON object"));
        };
        match fields.get("id") {
            None => {
                fields.insert("id".to_owned(), Value::String(id.clone()));
            }
            Some(Value::String(body_id)) if *body_id == id => {}
            Some(_) => return Err(ApiError::invalid("id", format!("must be the id in the path, {id}"))),
        }
        let product = Product::from_json(body, self.currency).map_err(|errors| ApiError::Invalid { errors })?;
        let outcome = self
            .catalog
            .save_products(std::slice::from_ref(&product), self.clock.now())
            .await?;
        let status = match outcome.into_iter().next() {
            Some(Ok(Saved::Created)) => StatusCode::CREATED,
            Some(Ok(_)) => StatusCode::OK,
            Some(Err(error)) => {
                return Err(ApiError::Conflict {
                    code: "claimed_by_another_product",
                    detail: format!("{}: {}", error.field, error.reason),
                });
            }
            None => return Err(ApiError::Internal("saving a product answered nothing".into())),
        };
        tracing::info!(product_id = %product.id, status = status.as_u16(), "product saved");
        json(status, &product)
    }

    async fn import(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let ImportRequest { products: rows } = json_body(request, IMPORT_BODY_LIMIT)?;
        if rows.len() > IMPORT_MAX_ROWS {
            return Err(ApiError::invalid(
                "products",
                format!("at most {IMPORT_MAX_ROWS} products per import; send the rest in another call"),
            ));
        }
        let mut report = ImportReport::default();
        let mut valid: Vec<(usize, Product)> = Vec::new();
        let mut seen = Seen::default();
        for (index, row) in rows.into_iter().enumerate() {
            match Product::from_json(row, self.currency).and_then(|p| seen.claim(&p).map(|()| p)) {
                Ok(product) => valid.push((index, product)),
                Err(errors) => report.errors.extend(errors.into_iter().map(|e| RowError {
                    index,
                    field: e.field,
                    reason: e.reason,
                })),
            }
        }
        let products: Vec<Product> = valid.iter().map(|(_, p)| p.clone()).collect();
        let mode = ImportMode::of(request)?;
        if mode != ImportMode::EachRow {
            // Every row is checked, the store's claims too, before anything is written.
            let claims = self.catalog.check_claims(&products).await?;
            for ((index, _), claim) in valid.iter().zip(claims) {
                if let Err(error) = claim {
                    report.errors.push(RowError {
                        index: *index,
                        field: error.field,
                        reason: error.reason,
                    });
                }
            }
            if !report.errors.is_empty() || mode == ImportMode::CheckOnly {
                report.errors.sort_by_key(|e| e.index);
                tracing::info!(
                    refused = report.errors.len(),
                    ?mode,
                    "catalog import checked, nothing written"
                );
                return json(StatusCode::OK, &report);
            }
        }
        let outcomes = self.catalog.save_products(&products, self.clock.now()).await?;
        for ((index, _), outcome) in valid.iter().zip(outcomes) {
            match outcome {
                Ok(saved) => {
                    report.imported += 1;
                    match saved {
                        Saved::Created => report.created += 1,
                        Saved::Updated => report.updated += 1,
                        Saved::Unchanged => report.unchanged += 1,
                    }
                }
                Err(error) => report.errors.push(RowError {
                    index: *index,
                    field: error.field,
                    reason: error.reason,
                }),
            }
        }
        report.errors.sort_by_key(|e| e.index);
        tracing::info!(
            imported = report.imported,
            created = report.created,
            updated = report.updated,
            refused = report.errors.len(),
            "catalog imported"
        );
        json(StatusCode::OK, &report)
    }

    async fn set_stock(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let sku = Sku::parse(&path_param(request, "sku")?).map_err(|_| ApiError::NotFound { what: "SKU" })?;
        let count: StockCount = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        if count.available > shop_domain::catalog::limits::AVAILABLE {
            return Err(ApiError::invalid(
                "available",
                format!("must be at most {}", shop_domain::catalog::limits::AVAILABLE),
            ));
        }
        let product = self
            .catalog
            .set_available(&sku, count.available)
            .await?
            .ok_or(ApiError::NotFound { what: "SKU" })?;
        tracing::info!(sku = %sku, available = count.available, "stock counted");
        json(
            StatusCode::OK,
            &serde_json::json!({"sku": sku, "product_id": product.id, "available": count.available}),
        )
    }
}

impl Admin {
    async fn put_discount(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let code =
            DiscountCode::parse(&path_param(request, "code")?).map_err(|reason| ApiError::invalid("code", reason))?;
        let rule: DiscountRule = json_body(request, edge::DEFAULT_BODY_LIMIT)?;
        let errors = rule.check();
        if !errors.is_empty() {
            return Err(ApiError::Invalid { errors });
        }
        let created = self.discounts.put(&code, &rule, self.clock.now()).await?;
        let record = self
            .discounts
            .get(&code)
            .await?
            .ok_or_else(|| ApiError::Internal("a saved code vanished".into()))?;
        tracing::info!(code = %code, created, "discount code saved");
        json(if created { StatusCode::CREATED } else { StatusCode::OK }, &record)
    }

    /// `GET /admin/discounts/{code}`: a code's rule and how many orders used it.
    async fn show_discount(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let code =
            DiscountCode::parse(&path_param(request, "code")?).map_err(|_| ApiError::NotFound { what: "code" })?;
        let record = self
            .discounts
            .get(&code)
            .await?
            .ok_or(ApiError::NotFound { what: "code" })?;
        json(StatusCode::OK, &record)
    }

    async fn list_discounts(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = edge::page_params(request)?;
        let page: shop_store::dynamo::Page<DiscountRecord> = self.discounts.list(limit, cursor.as_ref()).await?;
        json(StatusCode::OK, &page)
    }
}

/// How an import treats its rows (`?mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImportMode {
    /// `each_row` (the default): every good row is written, a refused one is not.
    EachRow,
    /// `all_or_nothing`: one refused row means no row is written.
    AllOrNothing,
    /// `check`: every row is checked as `all_or_nothing` would, and nothing is written.
    CheckOnly,
}

impl ImportMode {
    fn of(request: &Request) -> Result<Self, ApiError> {
        match edge::query_param(request, "mode") {
            None | Some("each_row") => Ok(Self::EachRow),
            Some("all_or_nothing") => Ok(Self::AllOrNothing),
            Some("check") => Ok(Self::CheckOnly),
            Some(_) => Err(ApiError::invalid("mode", "must be each_row, all_or_nothing or check")),
        }
    }
}

/// The ids, slugs and SKUs earlier rows of one import already use.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    slugs: HashSet<String>,
    skus: HashSet<String>,
}

impl Seen {
    /// Records a row's names, or refuses the row if an earlier row used one of them.
    fn claim(&mut self, product: &Product) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.ids.contains(product.id.as_str()) {
            errors.push(FieldError::new("id", "an earlier row has the same id"));
        }
        if self.slugs.contains(product.slug.as_str()) {
            errors.push(FieldError::new("slug", "an earlier row has the same slug"));
        }
        for (i, variant) in product.variants.iter().enumerate() {
            if self.skus.contains(variant.sku.as_str()) {
                errors.push(FieldError::new(
                    format!("variants[{i}].sku"),
                    "an earlier row has the same SKU",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.ids.insert(product.id.to_string());
        self.slugs.insert(product.slug.to_string());
        self.skus.extend(product.variants.iter().map(|v| v.sku.to_string()));
        Ok(())
    }
}

impl HttpFunction for Admin {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Admin::handle(self, request))
    }
}
