//! Customer service: finding one's orders by email (the orders handler mails links to them) and
//! writing to the shop (a support message), each a form on a page of its own.

use crate::api::Call;
use crate::pages::PageError;
use crate::session::Session;
use crate::{Storefront, ask, form};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, Serialize)]
struct LookupForm {
    #[serde(default)]
    email: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct ContactForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

impl Storefront {
    /// `/orders/lookup`: the form.
    pub(crate) fn lookup_page(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        self.show(request, session,
            "lookup.html",
            context! { form => minijinja::value::Serde(LookupForm::default()), errors => BTreeMap::<String, String>::new() },
        )
    }

    /// `POST /orders/lookup`: the same answer whether or not the address has orders.
    pub(crate) async fn lookup(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let asked: LookupForm = form(request)?;
        let call = Call::new(Method::POST, "/orders/lookup").body(json!({ "email": asked.email.trim() }));
        match ask(&self.orders, request, call).await {
            Ok(_) => self.show(
                request,
                session,
                "lookup.html",
                context! { sent => true, email => asked.email.trim() },
            ),
            Err(refusal) if refusal.status.is_client_error() => {
                let errors = crate::checkout_pages::field_errors(&refusal);
                let status = refusal.status;
                let html = self.pages.render(
                    "lookup.html",
                    session,
                    context! {
                        form => minijinja::value::Serde(&asked),
                        errors,
                        problem => refusal.detail,
                    },
                )?;
                Ok(self.pages.page(session, status, html))
            }
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// `/contact`: the form.
    pub(crate) fn contact_page(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        self.show(request, session,
            "contact.html",
            context! { form => minijinja::value::Serde(ContactForm::default()), errors => BTreeMap::<String, String>::new() },
        )
    }

    /// `POST /contact`: a message to the shop; its reference is shown and mailed.
    pub(crate) async fn contact(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let asked: ContactForm = form(request)?;
        let mut body = json!({
            "email": asked.email.trim(),
            "subject": asked.subject.trim(),
            "body": asked.body.trim(),
        });
        if !asked.order_id.trim().is_empty() {
            body["order_id"] = json!(asked.order_id.trim());
        }
        let call = Call::new(Method::POST, "/support/messages").body(body);
        match ask(&self.orders, request, call).await {
            Ok(received) => self.show(
                request,
                session,
                "contact.html",
                context! { sent => true, reference => received["reference"].as_str().unwrap_or("").to_owned() },
            ),
            Err(refusal) if refusal.status.is_client_error() => {
                let errors = crate::checkout_pages::field_errors(&refusal);
                let problem = crate::pages::limited_notice(&refusal, "written several times")
                    .unwrap_or_else(|| refusal.detail.clone());
                let status = if refusal.status == StatusCode::TOO_MANY_REQUESTS {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                let html = self.pages.render(
                    "contact.html",
                    session,
                    context! { form => minijinja::value::Serde(&asked), errors, problem },
                )?;
                Ok(crate::pages::retry_after(
                    self.pages.page(session, status, html),
                    &refusal,
                ))
            }
            Err(refusal) => Err(refusal.into()),
        }
    }
}
