//! The order's page, where every mail's link lands (`/orders/{id}?token=`): its status in
//! words, lines, totals, addresses, shipments, refunds and timeline; paying it (Stripe's
//! Payment Element) while it waits for payment; cancelling it, asking for a return or an
//! exchange (and paying an exchange's difference), through the orders handler, which decides
//! whether each is allowed and what it costs.

use crate::api::{Call, Refusal};
use crate::pages::PageError;
use crate::session::Session;
use crate::{Storefront, ask, form};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};
use shop_domain::order::OrderStatus;
use shop_platform::edge::query_param;
use shop_platform::in_process::is_order_id;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct ReturnForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    reason: String,
    /// `qty_<sku>`: how many units of each line come back.
    #[serde(flatten)]
    quantities: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ExchangeForm {
    #[serde(default)]
    token: String,
    /// The line going back.
    #[serde(default)]
    return_sku: String,
    /// The variant that replaces it.
    #[serde(default)]
    new_sku: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    reason: String,
}

/// The status of an API answer (`"shipped"`) in the shopper's words.
fn in_words(status: &Value) -> String {
    serde_json::from_value::<OrderStatus>(status.clone())
        .map(|status| status.in_words().to_owned())
        .unwrap_or_else(|_| status.as_str().unwrap_or("").replace('_', " "))
}

/// What the order's page takes a payment for: the order while it waits for its payment, else
/// the first exchange whose difference is owed.
fn payment_due(order: &Value) -> Option<Value> {
    if let Some(payment) = order.get("payment") {
        return Some(json!({
            "exchange": false,
            "client_secret": payment["client_secret"],
            "amount": order["totals"]["total"],
            "pay_by": order["pay_by"],
        }));
    }
    let owed = order["exchange_payments"].as_array()?.first()?;
    Some(json!({
        "exchange": true,
        "client_secret": owed["client_secret"],
        "amount": owed["amount"],
        "pay_by": owed["pay_by"],
    }))
}

impl Storefront {
    /// `/orders/{order_id}?token=`.
    pub(crate) async fn order_page(
        &self,
        request: &Request,
        session: &Session,
        order_id: &str,
    ) -> Result<Response<Body>, PageError> {
        let token = query_param(request, "token").ok_or(PageError::NotFound)?;
        if !is_order_id(order_id) {
            return Err(PageError::NotFound);
        }
        let call = Call::get("/orders/{order_id}")
            .param("order_id", order_id)
            .bearer(token);
        let mut order = ask(&self.orders, request, call).await?;
        order["status_words"] = Value::String(in_words(&order["status"]));
        if let Some(steps) = order["timeline"].as_array_mut() {
            for step in steps {
                step["words"] = Value::String(in_words(&step["status"]));
            }
        }
        let status = order["status"].as_str().unwrap_or("").to_owned();
        let due = payment_due(&order);
        let paying = query_param(request, "redirect_status") == Some("succeeded") && due.is_some();
        let can_return = matches!(status.as_str(), "shipped" | "delivered");
        let replacements = if can_return {
            self.replacements(request, &order).await
        } else {
            Vec::new()
        };
        self.show(
            request,
            session,
            "order.html",
            context! {
                order => self.pages.displayed(order),
                token,
                paying,
                problem => session.message(),
                can_cancel => matches!(status.as_str(), "pending_payment" | "paid" | "fulfilling"),
                can_return,
                replacements => self.pages.displayed(Value::Array(replacements)),
                due => due.map(|due| self.pages.displayed(due)),
                stripe_key => &self.payment.stripe_publishable_key,
                stripe_js => &self.payment.stripe_js_url,
            },
        )
    }

    /// `POST /orders/{order_id}/cancel`.
    pub(crate) async fn cancel(
        &self,
        request: &Request,
        session: &Session,
        order_id: &str,
    ) -> Result<Response<Body>, PageError> {
        let cancel: CancelForm = form(request)?;
        let call = Call::new(Method::POST, "/orders/{order_id}/cancel")
            .param("order_id", order_id)
            .bearer(cancel.token.as_str())
            .body(json!({}));
        let result = ask(&self.orders, request, call).await.map(|_| ());
        self.back_to_order(session, order_id, &cancel.token, result, "Your order is cancelled.")
    }

    /// `POST /orders/{order_id}/returns`: the units the shopper sends back, and why.
    pub(crate) async fn request_return(
        &self,
        request: &Request,
        session: &Session,
        order_id: &str,
    ) -> Result<Response<Body>, PageError> {
        let asked: ReturnForm = form(request)?;
        let mut lines = Vec::new();
        for (field, text) in &asked.quantities {
            let Some(sku) = field.strip_prefix("qty_") else {
                continue;
            };
            let text = text.trim();
            if text.is_empty() || text == "0" {
                continue;
            }
            let quantity: u32 = text
                .parse()
                .map_err(|_| PageError::BadForm(format!("“{text}” is not a number of units")))?;
            lines.push(json!({ "sku": sku, "quantity": quantity }));
        }
        if lines.is_empty() {
            let refusal = Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: None,
                detail: "Choose how many units of which items you are sending back.".to_owned(),
                problem: Value::Null,
            };
            return self.back_to_order(session, order_id, &asked.token, Err(refusal), "");
        }
        let call = Call::new(Method::POST, "/orders/{order_id}/returns")
            .param("order_id", order_id)
            .bearer(asked.token.as_str())
            .body(json!({ "lines": lines, "reason": asked.reason.trim() }));
        let result = ask(&self.orders, request, call).await.map(|_| ());
        self.back_to_order(
            session,
            order_id,
            &asked.token,
            result,
            "Your return is registered: we have mailed you what to do next.",
        )
    }

    /// What an exchange may bring instead of a line: every variant of the order's products, as
    /// the catalog has them now (a product the catalog no longer answers for is left out).
    async fn replacements(&self, request: &Request, order: &Value) -> Vec<Value> {
        let mut seen = BTreeSet::new();
        let products: Vec<&str> = order["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|line| line["product_id"].as_str())
            .filter(|product_id| seen.insert(*product_id))
            .collect();
        let mut found = Vec::new();
        for product_id in products {
            let call = Call::get("/products/{id_or_slug}").param("id_or_slug", product_id);
            match ask(&self.browse, request, call).await {
                Ok(product) => found.push(json!({ "title": product["title"], "variants": product["variants"] })),
                Err(refusal) => tracing::info!(product_id, detail = %refusal.detail, "no replacements offered"),
            }
        }
        found
    }

    /// `POST /orders/{order_id}/exchanges`: units of one line go back, as many of another
    /// variant come instead; when the replacement costs more, the order's page takes the
    /// difference's payment.
    pub(crate) async fn request_exchange(
        &self,
        request: &Request,
        session: &Session,
        order_id: &str,
    ) -> Result<Response<Body>, PageError> {
        let asked: ExchangeForm = form(request)?;
        let quantity = asked.quantity.trim();
        let quantity: u32 = quantity
            .parse()
            .map_err(|_| PageError::BadForm(format!("“{quantity}” is not a number of units")))?;
        let call = Call::new(Method::POST, "/orders/{order_id}/exchanges")
            .param("order_id", order_id)
            .bearer(asked.token.as_str())
            .body(json!({
                "return_lines": [{ "sku": asked.return_sku, "quantity": quantity }],
                "new_lines": [{ "sku": asked.new_sku, "quantity": quantity }],
                "reason": asked.reason.trim(),
            }));
        let result = ask(&self.orders, request, call).await;
        let done = match &result {
            Ok(answer) if answer.get("payment").is_some() => {
                "Your exchange is registered. Pay the difference below; until then the replacement is kept for you."
            }
            _ => "Your exchange is registered: we have mailed you what to do next.",
        };
        self.back_to_order(session, order_id, &asked.token, result.map(|_| ()), done)
    }

    /// Back to the order's page, with `done` or the API's reason it refused.
    fn back_to_order(
        &self,
        session: &Session,
        order_id: &str,
        token: &str,
        result: Result<(), Refusal>,
        done: &str,
    ) -> Result<Response<Body>, PageError> {
        if !is_order_id(order_id)
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PageError::NotFound);
        }
        let location = format!("/orders/{order_id}?token={token}");
        match result {
            Ok(()) => Ok(self.pages.redirect(session, &location, vec![session.flash(done)])),
            Err(refusal) if refusal.status.is_client_error() && refusal.status != StatusCode::NOT_FOUND => Ok(self
                .pages
                .redirect(session, &location, vec![session.flash(&refusal.detail)])),
            Err(refusal) => Err(refusal.into()),
        }
    }
}
