//! The newsletter: signing up (on the home page and at `/newsletter`), and the pages the mails
//! link to: confirming a subscription and unsubscribing. Each asks the campaign function's own
//! consent handler (`email_campaign::subscriptions`), so double opt-in, the links' expiry and
//! RFC 8058's one click are decided there; the storefront only shows them in its layout.

use crate::api::{Call, Refusal};
use crate::pages::PageError;
use crate::session::Session;
use crate::{Storefront, ask, form};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shop_platform::edge::query_param;
use std::collections::BTreeMap;

/// Where the storefront's sign-ups come from, in the subscriber's record.
const SOURCE: &str = "storefront";

#[derive(Debug, Default, Deserialize, Serialize)]
struct SignUpForm {
    #[serde(default)]
    email: String,
}

impl Storefront {
    /// `/newsletter`: the sign-up form, with what the last sign-up left to say.
    pub(crate) fn newsletter_page(&self, session: &Session) -> Result<Response<Body>, PageError> {
        let empty = SignUpForm::default();
        self.sign_up_form(session, StatusCode::OK, &empty, BTreeMap::new(), session.message())
    }

    /// `/newsletter`'s form with what was typed, the fields' errors and the notice above; only
    /// the empty form (answered `200`) is for search engines.
    fn sign_up_form(
        &self,
        session: &Session,
        status: StatusCode,
        asked: &SignUpForm,
        errors: BTreeMap<String, String>,
        problem: Option<&str>,
    ) -> Result<Response<Body>, PageError> {
        let html = self.pages.render(
            "newsletter.html",
            session,
            context! {
                heading => "Newsletter",
                sign_up => true,
                indexable => status == StatusCode::OK,
                form => Serde(asked),
                errors,
                problem,
            },
        )?;
        Ok(self.pages.page(session, status, html))
    }

    /// `POST /newsletter`: queues the sign-up (the mail with the confirmation link follows) and
    /// goes back to `/newsletter`; an address the API refuses is shown again with its reason.
    pub(crate) async fn sign_up(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let asked: SignUpForm = form(request)?;
        let call =
            Call::new(Method::POST, "/subscribers").body(json!({ "email": asked.email.trim(), "source": SOURCE }));
        match ask(&self.subscriptions, request, call).await {
            Ok(_) => {
                let done = "Thank you! Check your inbox: we have mailed you a link to confirm your subscription.";
                Ok(self.pages.redirect(session, "/newsletter", vec![session.flash(done)]))
            }
            Err(refusal) if refusal.status.is_client_error() => {
                let errors = crate::checkout_pages::field_errors(&refusal);
                // A refused field says why beside it; the notice above says nothing was sent.
                let problem = if let Some(limited) = crate::pages::limited_notice(&refusal, "signed up several times") {
                    limited
                } else if errors.is_empty() {
                    refusal.detail.clone()
                } else {
                    "Please check the address below: nothing was sent yet.".to_owned()
                };
                let page = self.sign_up_form(session, refusal.status, &asked, errors, Some(&problem))?;
                Ok(crate::pages::retry_after(page, &refusal))
            }
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// `/subscribers/confirm?token=`: the link of the confirmation mail.
    pub(crate) async fn confirm_subscription(
        &self,
        request: &Request,
        session: &Session,
    ) -> Result<Response<Body>, PageError> {
        let call = Call::get("/subscribers/confirm").query("token", query_param(request, "token"));
        match ask(&self.subscriptions, request, call).await {
            Ok(confirmed) => {
                let email = text(&confirmed, "email");
                let message = format!(
                    "Thank you: {email} will get news and offers from {}. Every mail has a link to unsubscribe.",
                    self.pages.store_name()
                );
                self.link_page(session, StatusCode::OK, "You are subscribed", &message, None)
            }
            Err(refusal) => self.broken_link(session, refusal, "confirmation"),
        }
    }

    /// `/unsubscribe?token=`: the page the mails' unsubscribe link opens, with its button.
    pub(crate) async fn unsubscribe_page(
        &self,
        request: &Request,
        session: &Session,
    ) -> Result<Response<Body>, PageError> {
        let token = query_param(request, "token");
        let call = Call::get("/unsubscribe").query("token", token);
        match ask(&self.subscriptions, request, call).await {
            Ok(found) => {
                let message = format!(
                    "Stop news and offers from {} to {}?",
                    self.pages.store_name(),
                    text(&found, "email")
                );
                let action = format!("/unsubscribe?token={}", crate::api::encode(token.unwrap_or_default()));
                self.link_page(session, StatusCode::OK, "Unsubscribe", &message, Some(action))
            }
            Err(refusal) => self.broken_link(session, refusal, "unsubscribe"),
        }
    }

    /// `POST /unsubscribe?token=`: the button, sent as a mail client's one click (RFC 8058).
    pub(crate) async fn unsubscribe(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let call = Call::new(Method::POST, "/unsubscribe")
            .query("token", query_param(request, "token"))
            .form("List-Unsubscribe=One-Click");
        match ask(&self.subscriptions, request, call).await {
            Ok(left) => {
                let message = format!(
                    "{} gets no more news or offers from {}.",
                    text(&left, "email"),
                    self.pages.store_name()
                );
                self.link_page(session, StatusCode::OK, "You are unsubscribed", &message, None)
            }
            Err(refusal) => self.broken_link(session, refusal, "unsubscribe"),
        }
    }

    fn link_page(
        &self,
        session: &Session,
        status: StatusCode,
        heading: &str,
        message: &str,
        unsubscribe_action: Option<String>,
    ) -> Result<Response<Body>, PageError> {
        let html = self.pages.render(
            "newsletter.html",
            session,
            context! { heading, message, unsubscribe_action },
        )?;
        Ok(self.pages.page(session, status, html))
    }

    /// A link of a mail that no longer works (expired) or never did (unknown, cut short), in
    /// words, with the sign-up form to get a new one; anything else as any refusal.
    fn broken_link(&self, session: &Session, refusal: Refusal, kind: &str) -> Result<Response<Body>, PageError> {
        let (heading, message) = match (refusal.status, kind) {
            (StatusCode::GONE, _) => (
                "This link has expired",
                "Confirmation links work for a few days only. Sign up again and we mail you a new one.",
            ),
            (StatusCode::NOT_FOUND, "confirmation") => (
                "This link does not work",
                "It is not a confirmation link we sent, or part of it is missing: open it again from the mail, or sign up again for a new one.",
            ),
            (StatusCode::NOT_FOUND, _) => (
                "This link does not work",
                "It is not an unsubscribe link we sent, or part of it is missing: open it again from the mail. If you still get mail you do not want, write to us through the contact page.",
            ),
            _ => return Err(refusal.into()),
        };
        let html = self.pages.render(
            "newsletter.html",
            session,
            context! {
                heading,
                message,
                sign_up => kind == "confirmation",
                form => Serde(SignUpForm::default()),
                errors => BTreeMap::<String, String>::new(),
            },
        )?;
        Ok(self.pages.page(session, refusal.status, html))
    }
}

/// A text field of an API answer (empty when it has none).
fn text<'a>(answer: &'a Value, name: &str) -> &'a str {
    answer.get(name).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::pages::Pages;
    use crate::session::Session;
    use minijinja::context;
    use shop_domain::Locale;
    use std::collections::BTreeMap;

    fn pages() -> Pages {
        Pages::new("Mugs & <Co>".into(), Locale::parse("en-US").unwrap()).unwrap()
    }

    fn session() -> Session {
        let request: lambda_http::Request = http::Request::builder()
            .header(http::header::COOKIE, "sid=s1")
            .body(lambda_http::Body::Empty)
            .unwrap();
        Session::read(&request)
    }

    #[test]
    fn the_sign_up_form_keeps_what_was_typed_and_says_why_it_was_refused() {
        let session = session();
        let errors = BTreeMap::from([("email".to_owned(), "an address like <ada@example.com>".to_owned())]);
        let html = pages()
            .render(
                "newsletter.html",
                &session,
                context! { heading => "Newsletter", sign_up => true, form => context! { email => "ada\"<b>" }, errors },
            )
            .unwrap();
        assert!(html.contains(r#"<form method="post" action="/newsletter""#), "{html}");
        assert!(
            html.contains(&format!(r#"name="csrf" value="{}""#, session.csrf())),
            "{html}"
        );
        assert!(html.contains(r#"<label for="f-email">Email</label>"#), "{html}");
        assert!(html.contains(r#"value="ada&quot;&lt;b&gt;""#), "{html}");
        assert!(html.contains("an address like &lt;ada@example.com&gt;"), "{html}");
        assert!(html.contains(r#"aria-invalid="true""#));
        assert!(html.contains(">Subscribe</button>"));
        assert!(html.contains(r#"<header class="top">"#), "the storefront's layout");
    }

    #[test]
    fn the_unsubscribe_page_is_a_button_with_the_sessions_csrf_token_and_is_not_indexed() {
        let session = session();
        let html = pages()
            .render(
                "newsletter.html",
                &session,
                context! {
                    heading => "Unsubscribe",
                    message => "Stop news and offers from Mugs to <ada>@example.com?",
                    unsubscribe_action => "/unsubscribe?token=a\"b",
                },
            )
            .unwrap();
        assert!(html.contains(r#"<meta name="robots" content="noindex">"#), "{html}");
        assert!(
            html.contains("<title>Unsubscribe · Mugs &amp; &lt;Co&gt;</title>"),
            "{html}"
        );
        assert!(html.contains("to &lt;ada&gt;@example.com?"), "{html}");
        assert!(html.contains(r#"action="&#x2f;unsubscribe?token=a&quot;b""#), "{html}");
        assert!(html.contains(&format!(r#"name="csrf" value="{}""#, session.csrf())));
        assert!(html.contains(">Unsubscribe</button>"));
        assert!(!html.contains(r#"action="/newsletter""#), "no sign-up form on it");
    }

    #[test]
    fn the_home_page_offers_the_newsletter() {
        let empty = serde_json::json!({ "items": [], "next_cursor": null });
        let html = pages()
            .render(
                "home.html",
                &session(),
                context! { products => crate::pages::facts(empty), categories => crate::pages::facts(serde_json::json!([])), canonical => "/" },
            )
            .unwrap();
        assert!(html.contains(r#"action="/newsletter""#), "{html}");
        assert!(html.contains(">Subscribe</button>"));
        assert!(
            html.contains(r#"<a href="/newsletter">Newsletter</a>"#),
            "the footer links to it: {html}"
        );
    }
}
