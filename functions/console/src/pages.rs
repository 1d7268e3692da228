//! Rendering: the templates, what every page shows (the store's name, the CSRF token, who is
//! signed in), amounts in the store's locale, and the answers a page ends in: a page, a
//! redirect after a form, or an error page, each with the cookies the session needs.

use crate::Ctx;
use crate::session::Session;
use crate::staff::{Role, Staff};
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use minijinja::value::Serde;
use minijinja::{Environment, Value as Facts, context};
use serde::Serialize;
use serde_json::Value;
use shop_domain::Locale;
use shop_platform::browser;
use shop_platform::in_process::{self, Refusal};

/// The templates every page uses: the frame, the sign-in page and the error page (each
/// section's own are beside its module).
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("console.html", include_str!("../templates/console.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("error.html", include_str!("../templates/error.html")),
];

/// What the console's answers may load and where their forms may go: nothing from elsewhere;
/// scripts only the console's own files (no inline script), fetches only the console.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a page could not be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// Nothing is at this address.
    NotFound,
    /// The admin handler refused; its words are shown.
    Refused(Refusal),
    /// A form without this session's CSRF token.
    Forbidden,
    /// Signed in, but in no group of the console.
    NoRole,
    /// Only an owner may do this.
    OwnerOnly,
    /// A form that cannot be read.
    BadForm(String),
    /// Something broke on our side.
    Internal(String),
}

impl From<Refusal> for PageError {
    fn from(refusal: Refusal) -> Self {
        if refusal.status == StatusCode::NOT_FOUND {
            Self::NotFound
        } else {
            Self::Refused(refusal)
        }
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        Self::Internal(format!("a page did not render: {error:#}"))
    }
}

/// The templates and what every page shows.
pub struct Pages {
    env: Environment<'static>,
    store_name: String,
    locale: Locale,
    /// The pages' CSP: [`CONTENT_SECURITY_POLICY`], with the image bucket's origin beside
    /// `connect-src 'self'` once [`Pages::allow_uploads_to`] names it.
    content_security_policy: HeaderValue,
}

impl Pages {
    /// The templates, each parsed when first shown (their tests parse them all).
    pub fn new(
        store_name: String,
        locale: Locale,
        templates: &[shop_templates::Sources],
    ) -> Result<Self, minijinja::Error> {
        Ok(Self {
            env: shop_templates::environment(templates)?,
            store_name,
            locale,
            content_security_policy: HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        })
    }

    /// The store's name, as every page shows it.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }

    /// Lets the pages' scripts post to `origin` (the image bucket's, where the product page
    /// uploads images); an origin that cannot stand in a header is refused.
    pub fn allow_uploads_to(&mut self, origin: &str) -> Result<(), String> {
        if origin.is_empty()
            || origin
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b == b';' || b == b',' || b == b'\'')
        {
            return Err(format!("{origin:?} is not an origin a CSP can name"));
        }
        let policy = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {origin}"));
        self.content_security_policy =
            HeaderValue::from_str(&policy).map_err(|error| format!("the CSP with {origin:?}: {error}"))?;
        Ok(())
    }

    /// [`secure_headers`], with the pages' own CSP.
    fn secure(&self, response: &mut Response<Body>) {
        secure_headers(response);
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, self.content_security_policy.clone());
    }

    /// `value` (an answer of the admin handler) with a `display` beside every amount in it, as
    /// the store writes it.
    pub fn displayed(&self, mut value: Value) -> Value {
        in_process::add_display(&mut value, self.locale);
        value
    }

    /// Renders `template` with `facts` and what every page shows.
    pub fn render(
        &self,
        template: &str,
        session: &Session,
        staff: Option<&Staff>,
        facts: impl Serialize,
    ) -> Result<String, PageError> {
        let common = context! {
            store_name => &self.store_name,
            lang => self.locale.tag(),
            csrf => session.csrf(),
            staff_email => staff.map(|s| s.email.as_str()),
            staff_role => staff.and_then(|s| s.role).map(Role::as_str),
            message => session.message(),
        };
        let facts = context! { ..Facts::from(Serde(facts)), ..common };
        Ok(self.env.get_template(template)?.render(facts)?)
    }

    /// `template` rendered for `ctx` with `facts`, as a `200 OK` page.
    pub(crate) fn show(
        &self,
        ctx: &Ctx<'_>,
        template: &str,
        facts: impl Serialize,
    ) -> Result<Response<Body>, PageError> {
        let html = self.render(template, ctx.session, Some(ctx.staff), facts)?;
        Ok(self.page(ctx.session, StatusCode::OK, html))
    }

    /// `303 See Other` to `location` with `message` for the page there.
    pub(crate) fn done(&self, ctx: &Ctx<'_>, location: &str, message: &str) -> Response<Body> {
        self.redirect(ctx.session, location, vec![ctx.session.flash(message)])
    }

    /// A page with the session's cookies; never kept by any cache.
    pub fn page(&self, session: &Session, status: StatusCode, html: String) -> Response<Body> {
        let mut response = browser::html(status, "no-store", html, session.cookies());
        self.secure(&mut response);
        response
    }

    /// The sign-in page, with `problem` when the last attempt failed.
    pub fn sign_in(&self, session: &Session, status: StatusCode, problem: Option<&str>) -> Response<Body> {
        match self.render("sign_in.html", session, None, context! { problem }) {
            Ok(html) => self.page(session, status, html),
            Err(error) => self.error(session, None, error),
        }
    }

    /// `303 See Other` to `location` after a form, with `cookies` and the session's.
    pub fn redirect(&self, session: &Session, location: &str, mut cookies: Vec<String>) -> Response<Body> {
        cookies.extend(session.cookies());
        let mut response = browser::see_other(location, cookies);
        self.secure(&mut response);
        response
    }

    /// The page for `error`, with the status it deserves.
    pub fn error(&self, session: &Session, staff: Option<&Staff>, error: PageError) -> Response<Body> {
        let (status, heading, detail) = match &error {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address.".to_owned(),
            ),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Please try again",
                "This form was not sent from the console's page, or your session ended. Reload the page and send it again.".to_owned(),
            ),
            PageError::NoRole => (
                StatusCode::FORBIDDEN,
                "No access",
                "Your account is in neither the owner nor the staff group. Ask an owner to add you.".to_owned(),
            ),
            PageError::OwnerOnly => (
                StatusCode::FORBIDDEN,
                "Owners only",
                "Only an owner of the shop may do this. Ask an owner if it needs doing.".to_owned(),
            ),
            PageError::BadForm(detail) => (StatusCode::BAD_REQUEST, "That did not work", detail.clone()),
            PageError::Refused(refusal) => (refusal.status, "That did not work", refusal.detail.clone()),
            PageError::Internal(cause) => {
                tracing::error!(cause, "console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The console could not do that just now. Please try again.".to_owned(),
                )
            }
        };
        let html = self
            .render("error.html", session, staff, context! { heading, detail })
            .unwrap_or_else(|_| {
                format!(
                    "<!doctype html><title>{}</title><h1>{}</h1>",
                    status.as_u16(),
                    status.as_u16()
                )
            });
        self.page(session, status, html)
    }
}

/// The headers every answer of the console carries: never cached, never framed, nothing
/// loaded from elsewhere.
pub fn secure_headers(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
}
