//! The cart: its page, and the forms that change it (add a variant, change or remove a line, a
//! discount code, where it ships and how). Each form asks the cart's handler and answers with a
//! redirect back, so a reload never posts twice; a refusal is shown on the cart page in the
//! API's words.

use crate::api::{Call, Refusal};
use crate::pages::PageError;
use crate::session::Session;
use crate::{Storefront, ask, form};
use http::Method;
use lambda_http::{Body, Request, Response};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct AddForm {
    sku: String,
    #[serde(default)]
    quantity: Option<String>,
    /// The product page to go back to.
    #[serde(default)]
    slug: Option<String>,
}

#[derive(Deserialize)]
struct LineForm {
    sku: String,
    #[serde(default)]
    quantity: Option<String>,
    /// Present when the shopper pressed "Remove".
    #[serde(default)]
    remove: Option<String>,
}

#[derive(Deserialize)]
struct DiscountForm {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    remove: Option<String>,
}

#[derive(Deserialize)]
struct ShippingForm {
    country: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

/// A quantity typed in a form: a whole number from 0, or the form's fault.
fn quantity(text: Option<&str>, default: u32) -> Result<u32, PageError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| PageError::BadForm(format!("“{text}” is not a quantity; type a whole number"))),
    }
}

/// How many units of `sku` the priced `cart` holds.
fn units_of(cart: &Value, sku: &str) -> u32 {
    cart["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|line| line["sku"] == sku))
        .and_then(|line| line["quantity"].as_u64())
        .and_then(|units| u32::try_from(units).ok())
        .unwrap_or(0)
}

impl Storefront {
    /// The shopper's cart as the cart handler prices it now; `None` when they have none (or it
    /// is gone: expired, or an order now).
    pub(crate) async fn current_cart(&self, request: &Request, session: &Session) -> Result<Option<Value>, PageError> {
        let Some((cart_id, token)) = session.cart() else {
            return Ok(None);
        };
        let call = Call::get("/carts/{cart_id}").param("cart_id", cart_id).bearer(token);
        match ask(&self.cart, request, call).await {
            Ok(cart) if cart["status"] == "open" => Ok(Some(cart)),
            Ok(_) => Ok(None),
            Err(refusal) if refusal.status == http::StatusCode::NOT_FOUND => Ok(None),
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// `/cart`.
    pub(crate) async fn cart_page(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let cart = self.current_cart(request, session).await?;
        self.show(
            request,
            session,
            "cart.html",
            context! {
                cart => cart.map(|c| self.pages.displayed(c)),
                problem => session.message(),
                countries => &self.store.ship_to_countries,
            },
        )
    }

    /// `POST /cart/add`: a variant into the cart (made first when the shopper has none).
    pub(crate) async fn add_to_cart(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let added: AddForm = form(request)?;
        let wanted = quantity(added.quantity.as_deref(), 1)?;
        let mut cookies = Vec::new();
        let existing = self.current_cart(request, session).await?;
        let (cart_id, token, current) = match (existing, session.cart()) {
            // One line per SKU: adding again adds to what is there.
            (Some(cart), Some((id, token))) => (id.to_owned(), token.to_owned(), units_of(&cart, &added.sku)),
            _ => {
                let made = ask(&self.cart, request, Call::new(Method::POST, "/carts").body(json!({}))).await?;
                let (Some(id), Some(token)) = (made["cart_id"].as_str(), made["cart_token"].as_str()) else {
                    return Err(PageError::Internal("a new cart came without its id or token".into()));
                };
                cookies.push(session.keep_cart(id, token));
                (id.to_owned(), token.to_owned(), 0)
            }
        };
        let total = current.saturating_add(wanted);
        let result = self.set_line(request, &cart_id, &token, &added.sku, total).await;
        let back = added
            .slug
            .filter(|slug| slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .map(|slug| format!("/products/{slug}"));
        match result {
            Ok(()) => Ok(self.pages.redirect(session, "/cart", cookies)),
            Err(refusal) if refusal.status.is_client_error() => {
                cookies.push(session.flash(&refusal.detail));
                let to = back.unwrap_or_else(|| "/cart".to_owned());
                Ok(self.pages.redirect(session, &to, cookies))
            }
            Err(refusal) => Err(refusal.into()),
        }
    }

    async fn set_line(
        &self,
        request: &Request,
        cart_id: &str,
        token: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<(), Refusal> {
        let call = Call::new(Method::PUT, "/carts/{cart_id}/items/{sku}")
            .param("cart_id", cart_id)
            .param("sku", sku)
            .bearer(token)
            .body(json!({ "quantity": quantity }));
        ask(&self.cart, request, call).await.map(|_| ())
    }

    /// `POST /cart/lines`: a line's new quantity, or its removal.
    pub(crate) async fn change_line(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let change: LineForm = form(request)?;
        let (cart_id, token) = session.cart().ok_or(PageError::NotFound)?;
        let wanted = quantity(change.quantity.as_deref(), 0)?;
        let result = if change.remove.is_some() || wanted == 0 {
            let call = Call::new(Method::DELETE, "/carts/{cart_id}/items/{sku}")
                .param("cart_id", cart_id)
                .param("sku", change.sku.as_str())
                .bearer(token);
            ask(&self.cart, request, call).await.map(|_| ())
        } else {
            self.set_line(request, cart_id, token, &change.sku, wanted).await
        };
        self.back_to_cart(session, result)
    }

    /// `POST /cart/discount`: apply a code, or remove it.
    pub(crate) async fn discount(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let change: DiscountForm = form(request)?;
        let (cart_id, token) = session.cart().ok_or(PageError::NotFound)?;
        let call = match (change.remove, change.code.as_deref().map(str::trim)) {
            (None, Some(code)) if !code.is_empty() => {
                Call::new(Method::POST, "/carts/{cart_id}/discount").body(json!({ "code": code }))
            }
            _ => Call::new(Method::DELETE, "/carts/{cart_id}/discount"),
        };
        let result = ask(&self.cart, request, call.param("cart_id", cart_id).bearer(token))
            .await
            .map(|_| ());
        self.back_to_cart(session, result)
    }

    /// `POST /cart/shipping`: where the cart ships, and how.
    pub(crate) async fn shipping(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let change: ShippingForm = form(request)?;
        let (cart_id, token) = session.cart().ok_or(PageError::NotFound)?;
        let blank = |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let call = Call::new(Method::PUT, "/carts/{cart_id}/shipping")
            .param("cart_id", cart_id)
            .bearer(token)
            .body(json!({
                "country": change.country.trim(),
                "region": blank(change.region),
                "method": blank(change.method),
            }));
        let result = ask(&self.cart, request, call).await.map(|_| ());
        self.back_to_cart(session, result)
    }

    /// Back to the cart after a change; a refusal the shopper can fix is shown there.
    fn back_to_cart(&self, session: &Session, result: Result<(), Refusal>) -> Result<Response<Body>, PageError> {
        match result {
            Ok(()) => Ok(self.pages.redirect(session, "/cart", Vec::new())),
            Err(refusal) if refusal.status.is_client_error() && refusal.status != http::StatusCode::NOT_FOUND => {
                Ok(self
                    .pages
                    .redirect(session, "/cart", vec![session.flash(&refusal.detail)]))
            }
            Err(refusal) => Err(refusal.into()),
        }
    }
}
