//! The catalog desk's pages: every product (drafts and archived ones too) with its status,
//! variants, price range and stock, low stock marked; one product with its variants, prices,
//! stock and images in one form (title, description, prices, stock counts, status, archive
//! included); a new product. Every write is the admin handler's (`PUT /admin/products/{id}`,
//! `PUT /admin/inventory/{sku}`): its refusals are shown beside the fields, with what was typed.
//! The file import and export are in [`crate::catalog_transfer`], the codes in
//! [`crate::catalog_discounts`]. Images are uploaded from the product page into the shop's
//! bucket ([`crate::catalog_images`]) and added, removed or made the main one here, each saved
//! as the product form saves.

use crate::catalog_csv;
use crate::catalog_images;
use crate::order_pages::refusal_message;
use crate::pages::PageError;
use crate::{Console, Ctx, form};
use http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use shop_domain::catalog::options_label;
use shop_domain::{Money, Product, ProductId, ProductStatus};
use shop_platform::in_process::{Call, encode};
use std::collections::BTreeMap;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("catalog.html", include_str!("../templates/catalog.html")),
    (
        "catalog_product.html",
        include_str!("../templates/catalog_product.html"),
    ),
];

/// Products a page of the list shows.
const PAGE_SIZE: &str = "50";

/// A posted form, field by field.
type Form = BTreeMap<String, String>;

/// Refusals by form field (`title`, `variants[0].price`).
type FieldErrors = BTreeMap<String, String>;

/// A variant's row of the product form.
#[derive(Serialize)]
struct VariantFields {
    sku: String,
    options: Option<String>,
    price: String,
    stock: String,
    price_error: Option<String>,
    stock_error: Option<String>,
    sku_error: Option<String>,
}

impl Console {
    /// `/catalog/…`.
    pub(crate) async fn catalog_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.products_page(ctx).await,
            (&Method::GET, ["new"]) => self.new_product_page(ctx, &Form::new(), &FieldErrors::new(), None),
            (&Method::POST, ["new"]) => self.create_product(ctx).await,
            (&Method::GET, ["import"]) => self.import_page(ctx, None),
            (&Method::POST, ["import"]) => self.import(ctx).await,
            (&Method::GET, ["export.csv"]) => self.export_catalog(ctx).await,
            (_, ["discounts", rest @ ..]) => self.discount_routes(ctx, method, rest).await,
            (&Method::GET, [id]) => self.product_page(ctx, id).await,
            (&Method::POST, [id]) => self.save_product(ctx, id).await,
            (&Method::POST, [id, "images", "forms"]) => Ok(self.image_forms(ctx, id).await),
            (&Method::POST, [id, "images"]) => self.add_image(ctx, id).await,
            (&Method::POST, [id, "images", "remove"]) => self.remove_image(ctx, id).await,
            (&Method::POST, [id, "images", "main"]) => self.make_main_image(ctx, id).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// `GET /catalog?cursor=`: the merchant's list, by title.
    async fn products_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let cursor = shop_platform::edge::query_param(ctx.request, "cursor").map(str::to_owned);
        let call = Call::get("/admin/products")
            .query("limit", Some(PAGE_SIZE))
            .query("cursor", cursor);
        let page = self.pages.displayed(self.ask(ctx.request, call).await?);
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(|cursor| format!("/catalog?cursor={}", encode(cursor)));
        self.pages.show(
            ctx,
            "catalog.html",
            json!({
                "products": page.get("items").cloned().unwrap_or(Value::Null),
                "next": next,
                "low_stock_units": shop_domain::catalog::LOW_STOCK_UNITS,
            }),
        )
    }

    /// The product `id` as the admin handler has it.
    pub(crate) async fn product(&self, ctx: &Ctx<'_>, id: &str) -> Result<Product, PageError> {
        if ProductId::parse(id).is_err() {
            return Err(PageError::NotFound);
        }
        let answer = self
            .ask(ctx.request, Call::get("/admin/products/{id}").param("id", id))
            .await?;
        serde_json::from_value(answer)
            .map_err(|error| PageError::Internal(format!("the admin handler's product did not read: {error}")))
    }

    /// `GET /catalog/{id}`.
    async fn product_page(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        let product = self.product(ctx, id).await?;
        self.edit_page(ctx, &product, None, &FieldErrors::new(), None)
    }

    /// The product form: the product's values, or what was typed (`typed`) with the
    /// refusals beside their fields.
    pub(crate) fn edit_page(
        &self,
        ctx: &Ctx<'_>,
        product: &Product,
        typed: Option<&Form>,
        errors: &FieldErrors,
        problem: Option<String>,
    ) -> Result<Response<Body>, PageError> {
        let value = |name: &str, saved: String| typed.map_or(saved, |form| field(form, name).to_owned());
        let variants: Vec<VariantFields> = product
            .variants
            .iter()
            .enumerate()
            .map(|(i, variant)| VariantFields {
                sku: variant.sku.to_string(),
                options: options_label(&variant.options),
                price: value(&format!("price.{i}"), variant.price.decimal()),
                stock: value(&format!("stock.{i}"), variant.available.to_string()),
                price_error: errors.get(&format!("variants[{i}].price")).cloned(),
                stock_error: errors.get(&format!("variants[{i}].available")).cloned(),
                sku_error: errors.get(&format!("variants[{i}].sku")).cloned(),
            })
            .collect();
        let status = if errors.is_empty() && problem.is_none() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let fields = json!({
            "title": value("title", product.title.clone()),
            "slug": value("slug", product.slug.to_string()),
            "description": value("description", product.description.clone()),
            "category": value("category", product.category.to_string()),
            "status": value("status", product.status.as_str().to_owned()),
            "tags": value("tags", product.tags.join(", ")),
            "images": value("images", product.images.join("\n")),
        });
        self.product_form(
            ctx,
            json!({
                "id": product.id.as_str(),
                "fields": fields,
                "variants": variants,
                "images": product.images,
                "errors": errors,
                "problem": problem,
                "currency": self.currency.as_str().to_ascii_uppercase(),
                "uploads": self.images.is_some(),
                "max_picked": catalog_images::MAX_PICKED_BYTES,
                "storefront": self.storefront_url,
            }),
            status,
        )
    }

    fn product_form(&self, ctx: &Ctx<'_>, mut facts: Value, status: StatusCode) -> Result<Response<Body>, PageError> {
        facts["statuses"] = json!(ProductStatus::ALL.map(ProductStatus::as_str));
        let html = self
            .pages
            .render("catalog_product.html", ctx.session, Some(ctx.staff), facts)?;
        Ok(self.pages.page(ctx.session, status, html))
    }

    /// `POST /catalog/{id}`: the product's fields and prices through `PUT /admin/products/{id}`,
    /// then each changed stock count through `PUT /admin/inventory/{sku}`.
    async fn save_product(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let before = self.product(ctx, id).await?;
        let mut errors = FieldErrors::new();
        let mut edited = serde_json::to_value(&before)
            .map_err(|error| PageError::Internal(format!("a product did not write as JSON: {error}")))?;
        apply_product_fields(&mut edited, &typed);
        let mut counts: Vec<(usize, u32)> = Vec::new();
        for (i, variant) in before.variants.iter().enumerate() {
            match Money::parse_decimal(field(&typed, &format!("price.{i}")), self.currency) {
                Ok(price) => edited["variants"][i]["price"] = json!(price),
                Err(reason) => {
                    errors.insert(format!("variants[{i}].price"), reason);
                }
            }
            match field(&typed, &format!("stock.{i}")).parse::<u32>() {
                Ok(count) if count != variant.available => counts.push((i, count)),
                Ok(_) => {}
                Err(_) => {
                    errors.insert(
                        format!("variants[{i}].available"),
                        "must be a whole number of units (0 or more)".into(),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return self.edit_page(ctx, &before, Some(&typed), &errors, None);
        }
        if let Err(refusal) = self.put_product(ctx, id, &edited).await {
            let (errors, problem) = form_refusal(refusal)?;
            return self.edit_page(ctx, &before, Some(&typed), &errors, problem);
        }
        for (i, count) in &counts {
            let sku = before.variants[*i].sku.to_string();
            let call = Call::new(Method::PUT, "/admin/inventory/{sku}")
                .param("sku", sku.clone())
                .body(json!({"available": count}));
            match self.ask(ctx.request, call).await {
                Ok(_) => edited["variants"][*i]["available"] = json!(count),
                Err(PageError::Refused(refusal)) => {
                    errors.insert(format!("variants[{i}].available"), refusal_message(&refusal));
                }
                Err(other) => return Err(other),
            }
        }
        self.audit_product_saved(ctx, id, &before, &edited).await;
        if !errors.is_empty() {
            let problem = Some("The product was saved; the stock counts marked below were not.".to_owned());
            let saved = self.product(ctx, id).await?;
            return self.edit_page(ctx, &saved, Some(&typed), &errors, problem);
        }
        Ok(self.pages.done(ctx, &format!("/catalog/{}", encode(id)), "Saved."))
    }

    /// `PUT /admin/products/{id}` with `edited`: every save of a product (its form, its
    /// images) goes this way; the admin handler's refusal comes back as it is.
    pub(crate) async fn put_product(&self, ctx: &Ctx<'_>, id: &str, edited: &Value) -> Result<(), PageError> {
        let call = Call::new(Method::PUT, "/admin/products/{id}")
            .param("id", id)
            .body(edited.clone());
        self.ask(ctx.request, call).await.map(|_| ())
    }

    /// The audit entry of a saved product: `before` and what it was saved as.
    pub(crate) async fn audit_product_saved(&self, ctx: &Ctx<'_>, id: &str, before: &Product, edited: &Value) {
        self.audit(
            ctx,
            "saved product",
            &format!("product {id}"),
            serde_json::to_string(before).ok(),
            Some(edited.to_string()),
        )
        .await;
    }

    /// `POST /catalog/{id}/images` (`image=<slug>-<n>`, `format=webp|png`, after the page's
    /// script uploaded it): the image appended to the product's images once both its widths
    /// are in the bucket as the forms fixed them.
    async fn add_image(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let store = self.images.as_ref().ok_or(PageError::NotFound)?;
        let before = self.product(ctx, id).await?;
        let refuse = |problem: String| self.edit_page(ctx, &before, None, &FieldErrors::new(), Some(problem));
        let Some(format) = catalog_images::ImageFormat::parse(field(&typed, "format")) else {
            return refuse("The image must be stored as WebP or PNG.".into());
        };
        let name = field(&typed, "image");
        if !catalog_images::is_image_of(before.slug.as_str(), name) {
            return refuse(format!(
                "{name:?} is not an image name of this product; please add the image again."
            ));
        }
        let url = match store.uploaded(name, format).await {
            Ok(url) => url,
            Err(catalog_images::ImageError::Upstream(cause)) => return Err(PageError::Internal(cause)),
            Err(refusal) => return refuse(refusal.to_string()),
        };
        if before.images.contains(&url) {
            return Ok(self
                .pages
                .done(ctx, &product_path(id), "The image is on the product already."));
        }
        let mut images = before.images.clone();
        images.push(url);
        self.save_images(ctx, id, &before, images, "Image added.").await
    }

    /// `POST /catalog/{id}/images/remove` (`url=`): the image off the product (its files stay
    /// in the bucket, so its name is never reused).
    async fn remove_image(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let before = self.product(ctx, id).await?;
        let url = field(&typed, "url");
        if !before.images.iter().any(|image| image == url) {
            return Ok(self
                .pages
                .done(ctx, &product_path(id), "That image is not on the product."));
        }
        let images = before.images.iter().filter(|image| *image != url).cloned().collect();
        self.save_images(ctx, id, &before, images, "Image removed.").await
    }

    /// `POST /catalog/{id}/images/main` (`url=`): the image first, the one pages show.
    async fn make_main_image(&self, ctx: &Ctx<'_>, id: &str) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let before = self.product(ctx, id).await?;
        let url = field(&typed, "url");
        let Some(at) = before.images.iter().position(|image| image == url) else {
            return Ok(self
                .pages
                .done(ctx, &product_path(id), "That image is not on the product."));
        };
        let mut images = before.images.clone();
        let main = images.remove(at);
        images.insert(0, main);
        self.save_images(ctx, id, &before, images, "Main image set.").await
    }

    /// The product `before` saved with `images` as the product form saves it (the same call,
    /// the same audit entry), then back to its page with `done`; a refusal is shown there.
    async fn save_images(
        &self,
        ctx: &Ctx<'_>,
        id: &str,
        before: &Product,
        images: Vec<String>,
        done: &str,
    ) -> Result<Response<Body>, PageError> {
        let mut edited = serde_json::to_value(before)
            .map_err(|error| PageError::Internal(format!("a product did not write as JSON: {error}")))?;
        edited["images"] = json!(images);
        match self.put_product(ctx, id, &edited).await {
            Ok(()) => {}
            Err(PageError::Refused(refusal)) => {
                return self.edit_page(ctx, before, None, &FieldErrors::new(), Some(refusal_message(&refusal)));
            }
            Err(other) => return Err(other),
        }
        self.audit_product_saved(ctx, id, before, &edited).await;
        Ok(self.pages.done(ctx, &product_path(id), done))
    }

    /// `GET /catalog/new` (and the same form again with what was typed and the refusals).
    fn new_product_page(
        &self,
        ctx: &Ctx<'_>,
        typed: &Form,
        errors: &FieldErrors,
        problem: Option<String>,
    ) -> Result<Response<Body>, PageError> {
        let mut fields: Map<String, Value> = typed
            .iter()
            .filter(|(name, _)| name.as_str() != "csrf")
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        fields.entry("status").or_insert_with(|| json!("draft"));
        let status = if errors.is_empty() && problem.is_none() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        self.product_form(
            ctx,
            json!({
                "new": true,
                "fields": fields,
                "errors": errors,
                "problem": problem,
                "currency": self.currency.as_str().to_ascii_uppercase(),
            }),
            status,
        )
    }

    /// `POST /catalog/new`: a product with one variant, through `PUT /admin/products/{id}`,
    /// unless a product has the id already.
    async fn create_product(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let id = field(&typed, "id").to_owned();
        let mut errors = FieldErrors::new();
        let mut product = json!({"id": id, "variants": [{"sku": field(&typed, "sku")}]});
        apply_product_fields(&mut product, &typed);
        if field(&typed, "slug").is_empty() {
            product["slug"] = json!(id);
        }
        match catalog_csv::pairs(field(&typed, "options")) {
            Ok(options) => product["variants"][0]["options"] = Value::Object(options),
            Err(reason) => {
                errors.insert("variants[0].options".into(), reason);
            }
        }
        match Money::parse_decimal(field(&typed, "price"), self.currency) {
            Ok(price) => product["variants"][0]["price"] = json!(price),
            Err(reason) => {
                errors.insert("variants[0].price".into(), reason);
            }
        }
        match field(&typed, "stock").parse::<u32>() {
            Ok(count) => product["variants"][0]["available"] = json!(count),
            Err(_) => {
                errors.insert(
                    "variants[0].available".into(),
                    "must be a whole number of units (0 or more)".into(),
                );
            }
        }
        if ProductId::parse(&id).is_ok() && self.product(ctx, &id).await.is_ok() {
            errors.insert("id".into(), format!("a product with the id {id} exists already"));
        }
        if id.is_empty() {
            errors.insert(
                "id".into(),
                "give the product an id (lower-case letters, digits, - and _)".into(),
            );
        }
        if !errors.is_empty() {
            return self.new_product_page(ctx, &typed, &errors, None);
        }
        let call = Call::new(Method::PUT, "/admin/products/{id}")
            .param("id", id.clone())
            .body(product);
        match self.ask(ctx.request, call).await {
            Ok(saved) => {
                self.audit(
                    ctx,
                    "created product",
                    &format!("product {id}"),
                    None,
                    Some(saved.to_string()),
                )
                .await;
                Ok(self
                    .pages
                    .done(ctx, &format!("/catalog/{}", encode(&id)), "Product created."))
            }
            Err(refusal) => {
                let (errors, problem) = form_refusal(refusal)?;
                self.new_product_page(ctx, &typed, &errors, problem)
            }
        }
    }
}

/// The product page's address.
fn product_path(id: &str) -> String {
    format!("/catalog/{}", encode(id))
}

/// The form's value of `name`, trimmed; empty when not sent.
pub(crate) fn field<'a>(form: &'a Form, name: &str) -> &'a str {
    form.get(name).map(|value| value.trim()).unwrap_or("")
}

/// Writes the form's product fields into the product JSON, as typed (the admin handler checks
/// them): tags separated by commas, one image URL per line.
fn apply_product_fields(product: &mut Value, typed: &Form) {
    for name in ["title", "slug", "category", "status"] {
        product[name] = json!(field(typed, name));
    }
    product["description"] = json!(
        typed
            .get("description")
            .map(|d| d.trim().replace("\r\n", "\n"))
            .unwrap_or_default()
    );
    let tags: Vec<&str> = field(typed, "tags")
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .collect();
    product["tags"] = json!(tags);
    let images: Vec<&str> = field(typed, "images")
        .lines()
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect();
    product["images"] = json!(images);
}

/// A refusal of the admin handler as refusals beside the form's fields (`variants[0].price`
/// for `variants[0].price.amount`), and what is left to say above the form.
fn form_refusal(error: PageError) -> Result<(FieldErrors, Option<String>), PageError> {
    let PageError::Refused(refusal) = error else {
        return Err(error);
    };
    let mut errors = FieldErrors::new();
    for item in refusal
        .problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(field), Some(reason)) = (
            item.get("field").and_then(Value::as_str),
            item.get("reason").and_then(Value::as_str),
        ) else {
            continue;
        };
        errors.entry(form_field(field)).or_insert_with(|| reason.to_owned());
    }
    // A slug or SKU another product owns comes as a conflict naming the field first.
    if refusal.code.as_deref() == Some("claimed_by_another_product")
        && let Some((field, reason)) = refusal.detail.split_once(": ")
    {
        errors.insert(form_field(field), reason.to_owned());
        return Ok((errors, None));
    }
    let problem = errors.is_empty().then(|| refusal_message(&refusal));
    Ok((errors, problem))
}

/// The form field an API field is shown beside: `variants[0].price.amount` beside
/// `variants[0].price`, `tags[2]` beside `tags`.
fn form_field(api_field: &str) -> String {
    if let Some(rest) = api_field.strip_prefix("variants[")
        && let Some((index, tail)) = rest.split_once(']')
    {
        let name = tail.trim_start_matches('.').split(['.', '[']).next().unwrap_or("");
        return format!("variants[{index}].{name}");
    }
    api_field.split(['.', '[']).next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_field_is_shown_beside_the_form_field_it_came_from() {
        assert_eq!(form_field("variants[2].price.amount"), "variants[2].price");
        assert_eq!(form_field("variants[0].available"), "variants[0].available");
        assert_eq!(form_field("tags[1]"), "tags");
        assert_eq!(form_field("attributes.brand"), "attributes");
        assert_eq!(form_field("title"), "title");
    }

    #[test]
    fn tags_are_split_at_commas_and_images_at_line_ends() {
        let typed: Form = [
            ("title", " Mug "),
            ("tags", "kitchen, gift ,,"),
            ("images", "/images/a.jpg\r\n\r\nhttps://img.example/b.jpg"),
            ("description", "One.\r\nTwo."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut product = json!({});
        apply_product_fields(&mut product, &typed);
        assert_eq!(product["title"], "Mug");
        assert_eq!(product["tags"], json!(["kitchen", "gift"]));
        assert_eq!(product["images"], json!(["/images/a.jpg", "https://img.example/b.jpg"]));
        assert_eq!(product["description"], "One.\nTwo.");
    }
}
