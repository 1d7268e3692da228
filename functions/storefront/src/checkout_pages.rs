//! Checkout: the form (email, where it ships, how, billing when it differs, marketing consent)
//! and placing the order through checkout's handler, which prices the cart again and holds its
//! stock. A refused form comes back with everything typed in it and each field's problem; a
//! placed order goes to its page, where it is paid.

use crate::api::{Call, Refusal};
use crate::pages::PageError;
use crate::session::Session;
use crate::{Storefront, form};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The checkout form as the browser sends it (and as it is shown again when refused).
#[derive(Debug, Default, Deserialize, Serialize)]
struct CheckoutForm {
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    shipping_method: String,
    #[serde(default)]
    marketing_opt_in: Option<String>,
    /// Present when the billing address differs from the shipping one.
    #[serde(default)]
    billing_differs: Option<String>,
    #[serde(default)]
    billing_name: String,
    #[serde(default)]
    billing_line1: String,
    #[serde(default)]
    billing_line2: String,
    #[serde(default)]
    billing_city: String,
    #[serde(default)]
    billing_region: String,
    #[serde(default)]
    billing_postal_code: String,
    #[serde(default)]
    billing_country: String,
}

/// An address as the API reads it, from the form's fields (empty optional fields left out).
fn address(name: &str, line1: &str, line2: &str, city: &str, region: &str, postal_code: &str, country: &str) -> Value {
    let mut address = Map::new();
    for (field, value) in [
        ("name", name),
        ("line1", line1),
        ("city", city),
        ("postal_code", postal_code),
        ("country", country),
    ] {
        address.insert(field.to_owned(), Value::String(value.trim().to_owned()));
    }
    for (field, value) in [("line2", line2), ("region", region)] {
        if !value.trim().is_empty() {
            address.insert(field.to_owned(), Value::String(value.trim().to_owned()));
        }
    }
    Value::Object(address)
}

impl CheckoutForm {
    /// The request checkout's handler reads.
    fn body(&self, cart_id: &str) -> Value {
        let shipping = address(
            &self.name,
            &self.line1,
            &self.line2,
            &self.city,
            &self.region,
            &self.postal_code,
            &self.country,
        );
        let billing = self.billing_differs.is_some().then(|| {
            address(
                &self.billing_name,
                &self.billing_line1,
                &self.billing_line2,
                &self.billing_city,
                &self.billing_region,
                &self.billing_postal_code,
                &self.billing_country,
            )
        });
        let mut body = json!({
            "cart_id": cart_id,
            "email": self.email.trim(),
            "shipping_address": shipping,
            "shipping_method": self.shipping_method,
            "marketing_opt_in": self.marketing_opt_in.is_some(),
        });
        if let Some(billing) = billing {
            body["billing_address"] = billing;
        }
        body
    }
}

/// The form's field a problem of the API names: `shipping_address.city` is `city`,
/// `billing_address.city` is `billing_city`.
fn form_field(api_field: &str) -> String {
    if let Some(rest) = api_field.strip_prefix("shipping_address.") {
        rest.to_owned()
    } else if let Some(rest) = api_field.strip_prefix("billing_address.") {
        format!("billing_{rest}")
    } else {
        api_field.to_owned()
    }
}

/// Each refused field's reason, by the form's name of the field.
pub(crate) fn field_errors(refusal: &Refusal) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    for error in refusal.problem["errors"].as_array().into_iter().flatten() {
        if let (Some(field), Some(reason)) = (error["field"].as_str(), error["reason"].as_str()) {
            errors.insert(form_field(field), reason.to_owned());
        }
    }
    errors
}

impl Storefront {
    /// `/checkout`: the form, with the cart's summary; an empty or missing cart goes back to
    /// the cart page.
    pub(crate) async fn checkout_page(
        &self,
        request: &Request,
        session: &Session,
    ) -> Result<Response<Body>, PageError> {
        let Some(cart) = self.cart_with_lines(request, session).await? else {
            return Ok(self.pages.redirect(session, "/cart", Vec::new()));
        };
        let mut filled = CheckoutForm {
            idempotency_key: shop_platform::secrets::new_id(),
            ..CheckoutForm::default()
        };
        // What the cart already says of where it ships and how.
        filled.country = cart["destination"]["country"].as_str().unwrap_or("").to_owned();
        filled.region = cart["destination"]["region"].as_str().unwrap_or("").to_owned();
        filled.shipping_method = cart["shipping_method"].as_str().unwrap_or("").to_owned();
        self.checkout_form(session, StatusCode::OK, cart, &filled, BTreeMap::new(), None)
    }

    /// `POST /checkout`: places the order; on success the cart is forgotten and the shopper
    /// goes to the order's page to pay.
    pub(crate) async fn place_order(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let filled: CheckoutForm = form(request)?;
        let (cart_id, token) = session.cart().ok_or(PageError::NotFound)?;
        if filled.idempotency_key.is_empty() {
            return Err(PageError::BadForm("reload the checkout page and send it again".into()));
        }
        let call = Call::new(Method::POST, "/checkout")
            .bearer(token)
            .idempotency_key(filled.idempotency_key.clone())
            .body(filled.body(cart_id));
        match crate::ask(&self.checkout, request, call).await {
            Ok(order) => {
                let (Some(order_id), Some(order_token)) = (order["order_id"].as_str(), order["order_token"].as_str())
                else {
                    return Err(PageError::Internal(
                        "checkout answered without the order's id or token".into(),
                    ));
                };
                tracing::info!(order_id, "order placed from the storefront");
                let location = format!("/orders/{order_id}?token={order_token}");
                Ok(self.pages.redirect(session, &location, vec![session.forget_cart()]))
            }
            Err(refusal) if refusal.status.is_client_error() && refusal.status != StatusCode::NOT_FOUND => {
                self.refused_checkout(request, session, &filled, refusal).await
            }
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// The form again, as the shopper filled it, with the API's reasons beside the fields.
    async fn refused_checkout(
        &self,
        request: &Request,
        session: &Session,
        filled: &CheckoutForm,
        refusal: Refusal,
    ) -> Result<Response<Body>, PageError> {
        let Some(cart) = self.cart_with_lines(request, session).await? else {
            return Err(PageError::Refused(refusal));
        };
        let errors = field_errors(&refusal);
        let problem = if let Some(limited) = crate::pages::limited_notice(&refusal, "placed several orders") {
            Some(limited)
        } else if errors.is_empty() {
            Some(refusal.detail.clone())
        } else {
            Some("Some fields need a second look.".to_owned())
        };
        let status = match refusal.status {
            StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS => refusal.status,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let page = self.checkout_form(session, status, cart, filled, errors, problem)?;
        Ok(crate::pages::retry_after(page, &refusal))
    }

    fn checkout_form(
        &self,
        session: &Session,
        status: StatusCode,
        cart: Value,
        filled: &CheckoutForm,
        errors: BTreeMap<String, String>,
        problem: Option<String>,
    ) -> Result<Response<Body>, PageError> {
        let html = self.pages.render(
            "checkout.html",
            session,
            context! {
                cart => self.pages.displayed(cart),
                form => minijinja::value::Serde(filled),
                errors,
                problem,
                countries => &self.store.ship_to_countries,
            },
        )?;
        Ok(self.pages.page(session, status, html))
    }

    /// The shopper's cart when it has lines to check out.
    async fn cart_with_lines(&self, request: &Request, session: &Session) -> Result<Option<Value>, PageError> {
        Ok(self
            .current_cart(request, session)
            .await?
            .filter(|cart| cart["lines"].as_array().is_some_and(|lines| !lines.is_empty())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_names_fields_as_the_form_does() {
        assert_eq!(form_field("email"), "email");
        assert_eq!(form_field("shipping_address.postal_code"), "postal_code");
        assert_eq!(form_field("billing_address.city"), "billing_city");
    }

    #[test]
    fn the_form_becomes_the_checkout_request_with_billing_only_when_it_differs() {
        let filled = CheckoutForm {
            email: " ada@example.com ".into(),
            name: "Ada".into(),
            line1: "1 Main St".into(),
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: "US".into(),
            shipping_method: "standard".into(),
            ..CheckoutForm::default()
        };
        let body = filled.body("c1");
        assert_eq!(body["email"], "ada@example.com");
        assert_eq!(body["shipping_address"]["city"], "Springfield");
        assert!(body["shipping_address"].get("line2").is_none());
        assert!(body.get("billing_address").is_none());
        assert_eq!(body["marketing_opt_in"], false);
        let differs = CheckoutForm {
            billing_differs: Some("on".into()),
            billing_name: "Bob".into(),
            marketing_opt_in: Some("on".into()),
            ..filled
        };
        let body = differs.body("c1");
        assert_eq!(body["billing_address"]["name"], "Bob");
        assert_eq!(body["marketing_opt_in"], true);
    }
}
