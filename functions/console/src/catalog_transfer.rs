//! The catalog file: an import that checks every row first and writes nothing unless all pass
//! (the file's own mistakes found while reading it, then the admin handler's rules through
//! `POST /admin/products/import?mode=check`, each shown by line and column), and an export in
//! the same format ([`crate::catalog_csv`]).

use crate::catalog_csv::{self, CsvError};
use crate::multipart;
use crate::pages::{PageError, secure_headers};
use crate::{Console, Ctx};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shop_domain::Product;
use shop_platform::in_process::Call;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] =
    &[("catalog_import.html", include_str!("../templates/catalog_import.html"))];

/// Products the export reads at once.
const EXPORT_CONCURRENCY: usize = 8;

/// What each column of the file holds, as the import page explains it.
const COLUMN_HELP: &[(&str, &str)] = &[
    (
        "product_id",
        "the product's id (lower-case letters, digits, - and _); rows with the same id are one product's variants",
    ),
    ("slug", "its address on the storefront; the id when empty"),
    ("title", "its name"),
    (
        "description",
        "the copy on its page (line breaks allowed inside quotes)",
    ),
    ("category", "the category's slug, such as home-office"),
    ("status", "active (when empty), draft or archived"),
    ("tags", "words shoppers search by, separated by |"),
    ("images", "image URLs, the main one first, separated by |"),
    ("attributes", "facts such as material=cotton|brand=Acme"),
    ("sku", "the variant's SKU, unique in the catalog"),
    ("options", "what tells the variant apart, such as size=M|colour=Navy"),
    ("price", "the variant's price in the store's currency, such as 25.00"),
    ("stock", "units in stock, a whole number"),
];

impl Console {
    /// `GET /catalog/import` (and the page again with the mistakes of a refused file).
    pub(crate) fn import_page(
        &self,
        ctx: &Ctx<'_>,
        refused: Option<(&str, &[CsvError])>,
    ) -> Result<Response<Body>, PageError> {
        let help: Vec<Value> = COLUMN_HELP
            .iter()
            .map(|(column, text)| json!({"column": column, "text": text}))
            .collect();
        let (file_name, errors) = refused.unwrap_or(("", &[]));
        let facts = json!({
            "header": catalog_csv::COLUMNS.join(","),
            "help": help,
            "file_name": file_name,
            "errors": errors,
            "refused": refused.is_some(),
        });
        let html = self
            .pages
            .render("catalog_import.html", ctx.session, Some(ctx.staff), facts)?;
        let status = if refused.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        Ok(self.pages.page(ctx.session, status, html))
    }

    /// `POST /catalog/import` (multipart, field `file`).
    pub(crate) async fn import(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        if !multipart::is_multipart(ctx.request) {
            return Err(PageError::BadForm("send the file from the import page".into()));
        }
        let form = multipart::read(ctx.request).await?;
        let Some(file) = form.part("file").filter(|part| !part.bytes.is_empty()) else {
            let none = [CsvError {
                line: 0,
                column: String::new(),
                reason: "choose a CSV file to import".into(),
            }];
            return self.import_page(ctx, Some(("", &none)));
        };
        let file_name = file.file_name.clone().unwrap_or_default();
        let catalog = catalog_csv::read(&file.bytes, self.currency);
        let mut errors = catalog.errors.clone();
        let readable: Vec<&catalog_csv::ProductRows> = catalog.products.iter().filter(|p| p.readable).collect();
        let rows: Vec<Value> = readable.iter().map(|p| p.product.clone()).collect();
        if !rows.is_empty() {
            let report = self.import_call(ctx, "check", &rows).await?;
            errors.extend(located(&report, &readable));
        }
        if catalog.products.is_empty() && errors.is_empty() {
            errors.push(CsvError {
                line: 2,
                column: String::new(),
                reason: "the file has no rows below its header".into(),
            });
        }
        if !errors.is_empty() {
            errors.sort_by_key(|error| error.line);
            return self.import_page(ctx, Some((&file_name, &errors)));
        }
        let report = self.import_call(ctx, "all_or_nothing", &rows).await?;
        let late = located(&report, &readable);
        if !late.is_empty() {
            // Another change claimed a slug or SKU since the check: still nothing was written.
            return self.import_page(ctx, Some((&file_name, &late)));
        }
        let count = |name: &str| report.get(name).and_then(Value::as_u64).unwrap_or(0);
        let ids: Vec<&Value> = rows.iter().filter_map(|row| row.get("id")).collect();
        self.audit(
            ctx,
            "imported catalog file",
            &format!("catalog file {file_name}"),
            None,
            Some(json!({"products": ids, "report": report}).to_string()),
        )
        .await;
        let message = format!(
            "Imported {} products from {file_name}: {} new, {} changed, {} unchanged.",
            count("imported"),
            count("created"),
            count("updated"),
            count("unchanged")
        );
        Ok(self.pages.done(ctx, "/catalog", &message))
    }

    /// `POST /admin/products/import?mode=` with `rows`: its report.
    async fn import_call(&self, ctx: &Ctx<'_>, mode: &'static str, rows: &[Value]) -> Result<Value, PageError> {
        let call = Call::new(Method::POST, "/admin/products/import")
            .query("mode", Some(mode))
            .body(json!({"products": rows}));
        self.ask(ctx.request, call).await
    }

    /// `GET /catalog/export.csv`: every product, drafts and archived ones too, as a catalog
    /// file.
    pub(crate) async fn export_catalog(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let mut products: Vec<Product> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let call = Call::get("/admin/products")
                .query("limit", Some("100"))
                .query("cursor", cursor.take());
            let page = self.ask(ctx.request, call).await?;
            let ids: Vec<String> = page
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| item.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            for chunk in ids.chunks(EXPORT_CONCURRENCY) {
                let reads = chunk
                    .iter()
                    .map(|id| self.ask(ctx.request, Call::get("/admin/products/{id}").param("id", id.clone())));
                for answer in futures::future::join_all(reads).await {
                    match answer {
                        Ok(product) => products.push(
                            serde_json::from_value(product)
                                .map_err(|error| PageError::Internal(format!("a product did not read: {error}")))?,
                        ),
                        // Removed since the list was read: simply not in the file.
                        Err(PageError::NotFound) => {}
                        Err(other) => return Err(other),
                    }
                }
            }
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let text = catalog_csv::write(&products)
            .map_err(|error| PageError::Internal(format!("writing the catalog file: {error}")))?;
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"catalog.csv\""),
            )
            .body(Body::Text(text))
            .map_err(|error| PageError::Internal(error.to_string()))?;
        secure_headers(&mut response);
        Ok(response)
    }
}

/// The admin handler's refusals in `report` (by the index of the row sent), placed on the
/// file's lines and columns.
fn located(report: &Value, sent: &[&catalog_csv::ProductRows]) -> Vec<CsvError> {
    report
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| {
            let rows = sent.get(usize::try_from(error.get("index")?.as_u64()?).ok()?)?;
            let field = error.get("field").and_then(Value::as_str).unwrap_or("");
            let reason = error.get("reason").and_then(Value::as_str).unwrap_or("refused");
            let (line, column) = rows.locate(field);
            Some(CsvError {
                line,
                column,
                reason: reason.to_owned(),
            })
        })
        .collect()
}
