//! Rendering: the templates, the facts every page shows (the store's name, the CSRF token, the
//! cart's size), money in the store's locale, and the answers a page ends in: a page, a
//! redirect after a form, or an error page, each with the cookies the session needs.

use crate::api::Refusal;
use crate::session::Session;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use minijinja::value::Serde;
use minijinja::{Environment, Value as Facts, context};
use serde::Serialize;
use serde_json::Value;
use shop_domain::{Locale, Money};
use shop_platform::browser;
use shop_platform::in_process;

/// The page templates, compiled in.
const TEMPLATES: shop_templates::Sources = &[
    ("page.html", include_str!("../templates/page.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("listing.html", include_str!("../templates/listing.html")),
    ("product.html", include_str!("../templates/product.html")),
    ("cart.html", include_str!("../templates/cart.html")),
    ("checkout.html", include_str!("../templates/checkout.html")),
    ("order.html", include_str!("../templates/order.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("forms.html", include_str!("../templates/forms.html")),
    ("lookup.html", include_str!("../templates/lookup.html")),
    ("contact.html", include_str!("../templates/contact.html")),
    ("newsletter.html", include_str!("../templates/newsletter.html")),
];

/// The one stylesheet, served at [`STYLESHEET`].
pub const STYLE: &str = include_str!("../assets/style.css");
/// Where the stylesheet is: its name changes with its content, so it is cached for a year.
pub static STYLESHEET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let digest = shop_platform::secrets::token_hash(STYLE);
    format!("/assets/style-{}.css", &digest[..16])
});
/// The shop's icon (the browser's tab and bookmarks), served at [`ICON`]. Without one the
/// browser asks for `/favicon.ico` on a shopper's first page and logs the `404`.
pub const ICON_SVG: &str = include_str!("../assets/icon.svg");
/// Where the icon is, named by its content as the stylesheet is.
pub static ICON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let digest = shop_platform::secrets::token_hash(ICON_SVG);
    format!("/assets/icon-{}.svg", &digest[..16])
});

/// Why a page could not be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// Nothing is at this address.
    NotFound,
    /// The API refused; its words are shown.
    Refused(Refusal),
    /// A form without this session's CSRF token.
    Forbidden,
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
}

impl Pages {
    /// The templates, each parsed when first shown (their tests parse them all).
    pub fn new(store_name: String, locale: Locale) -> Result<Self, minijinja::Error> {
        Ok(Self {
            env: shop_templates::environment(&[TEMPLATES])?,
            store_name,
            locale,
        })
    }

    /// The store's name.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }

    /// `money` as the store writes it (`$57.55`).
    pub fn money(&self, money: Money) -> String {
        money.display(self.locale)
    }

    /// `value` (an API answer) with a `display` beside every amount in it, as the store writes
    /// it: templates show `{{ line.unit_price.display }}`, never arithmetic of their own.
    pub fn displayed(&self, mut value: Value) -> Facts {
        in_process::add_display(&mut value, self.locale);
        facts(value)
    }

    /// Renders `template` with `facts` and what every page shows.
    pub fn render(&self, template: &str, session: &Session, facts: impl Serialize) -> Result<String, PageError> {
        let common = context! {
            store_name => &self.store_name,
            lang => self.locale.tag(),
            csrf => session.csrf(),
            stylesheet => STYLESHEET.as_str(),
            icon => ICON.as_str(),
            has_cart => session.cart().is_some(),
        };
        let facts = context! { ..Facts::from(Serde(facts)), ..common };
        Ok(self.env.get_template(template)?.render(facts)?)
    }

    /// A page: `200` unless said, never cached by a shared cache (it holds the session's
    /// CSRF token), with the session's cookies.
    pub fn page(&self, session: &Session, status: StatusCode, html: String) -> Response<Body> {
        let mut response = browser::html(status, "private, no-cache", html, session.cookies());
        secure_headers(&mut response);
        response
    }

    /// A `200` page the browser may keep and revalidate: with its `ETag`, and `304 Not
    /// Modified` when the request already holds it.
    pub fn revalidated(&self, request: &lambda_http::Request, session: &Session, html: String) -> Response<Body> {
        let etag = format!("\"{}\"", shop_platform::secrets::token_hash(&html));
        let mut response = if shop_platform::edge::holds(request, &etag) {
            let mut response = self.page(session, StatusCode::NOT_MODIFIED, String::new());
            *response.body_mut() = Body::Empty;
            response.headers_mut().remove(header::CONTENT_TYPE);
            response
        } else {
            self.page(session, StatusCode::OK, html)
        };
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }

    /// `303 See Other` to `location` after a form, with `cookies` and the session's.
    pub fn redirect(&self, session: &Session, location: &str, mut cookies: Vec<String>) -> Response<Body> {
        cookies.extend(session.cookies());
        browser::see_other(location, cookies)
    }

    /// The page for `error`, in the shop's layout and the status the error deserves.
    pub fn error(&self, session: &Session, error: PageError) -> Response<Body> {
        let (status, heading, detail) = match &error {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. It may have moved, or the link may be incomplete.".to_owned(),
            ),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Please try again",
                "This form was not sent from this shop's page, or your session ended. Go back, reload the page and send it again.".to_owned(),
            ),
            PageError::BadForm(detail) => (StatusCode::BAD_REQUEST, "That did not work", detail.clone()),
            PageError::Refused(refusal) if refusal.status.is_server_error() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "The shop could not do that just now. Nothing was changed; please try again in a moment.".to_owned(),
            ),
            PageError::Refused(refusal) => (refusal.status, "That did not work", refusal.detail.clone()),
            PageError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The shop could not show this page. Please try again in a moment.".to_owned(),
            ),
        };
        match &error {
            PageError::Internal(what) => tracing::error!(error = %what, "page failed"),
            PageError::Refused(refusal) if refusal.status.is_server_error() => {
                tracing::error!(status = %refusal.status, detail = %refusal.detail, "the API failed a page")
            }
            _ => tracing::info!(status = %status, "page refused"),
        }
        let html = self
            .render(
                "error.html",
                session,
                context! { heading, detail, status => status.as_u16() },
            )
            .unwrap_or_else(|_| format!("<!doctype html><title>{heading}</title><h1>{heading}</h1>"));
        self.page(session, status, html)
    }
}

/// A page for a call the API limited keeps its `Retry-After` (a 429's `retry_after`), so a
/// browser or a script learns when to come back.
pub fn retry_after(mut response: Response<Body>, refusal: &Refusal) -> Response<Body> {
    if refusal.status == StatusCode::TOO_MANY_REQUESTS
        && let Some(seconds) = refusal.problem["retry_after"].as_u64()
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// What a shopper the API limited (429) reads instead of its terse detail: that they `did`
/// something several times in a short while, and when to come back, in minutes.
pub fn limited_notice(refusal: &Refusal, did: &str) -> Option<String> {
    if refusal.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let minutes = refusal.problem["retry_after"]
        .as_u64()
        .unwrap_or(60)
        .div_ceil(60)
        .max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    Some(format!(
        "You have {did} in a short while. Nothing was changed: please try again in {minutes} {unit}."
    ))
}

/// An API answer as template facts.
pub fn facts(value: Value) -> Facts {
    Facts::from(Serde(value))
}

/// What every page says about itself: no framing by others, no sniffing, no referrer with a
/// token in it leaving the shop.
fn secure_headers(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        shop_templates::parse_all(&[TEMPLATES]).unwrap();
    }

    #[test]
    fn a_limited_shopper_is_told_in_minutes_when_to_come_back() {
        let refusal = |status: StatusCode, retry_after: u64| Refusal {
            status,
            code: Some("rate_limited".into()),
            detail: "too many checkouts for now".into(),
            problem: serde_json::json!({"retry_after": retry_after}),
        };
        let notice = limited_notice(&refusal(StatusCode::TOO_MANY_REQUESTS, 1_530), "placed several orders");
        assert_eq!(
            notice.as_deref(),
            Some(
                "You have placed several orders in a short while. Nothing was changed: please try again in 26 minutes."
            )
        );
        let soon = limited_notice(&refusal(StatusCode::TOO_MANY_REQUESTS, 5), "signed up");
        assert!(soon.unwrap().ends_with("in 1 minute."));
        assert_eq!(limited_notice(&refusal(StatusCode::CONFLICT, 5), "signed up"), None);
        let page = retry_after(
            Response::new(Body::Empty),
            &refusal(StatusCode::TOO_MANY_REQUESTS, 1_530),
        );
        assert_eq!(page.headers()[header::RETRY_AFTER], "1530");
    }
    use lambda_http::Request;
    use serde_json::json;

    fn pages() -> Pages {
        Pages::new("Mugs & <Co>".into(), Locale::parse("en-US").unwrap()).unwrap()
    }

    fn session() -> Session {
        let request: Request = http::Request::builder()
            .header(http::header::COOKIE, "sid=s1")
            .body(Body::Empty)
            .unwrap();
        Session::read(&request)
    }

    fn usd(amount: i64) -> Value {
        json!({ "amount": amount, "currency": "usd" })
    }

    #[test]
    fn amounts_are_written_as_the_store_writes_them_wherever_they_are() {
        let shown =
            pages().displayed(json!({ "totals": { "total": usd(5755) }, "lines": [{ "unit_price": usd(1200) }] }));
        let text = pages()
            .env
            .render_str(
                "{{ v.totals.total.display }} {{ v.lines[0].unit_price.display }}",
                context! { v => shown },
            )
            .unwrap();
        assert_eq!(text, "$57.55 $12.00");
    }

    #[test]
    fn a_product_page_escapes_the_merchants_text_and_keeps_its_structured_data_in_its_script() {
        let product = json!({
            "slug": "mug", "title": "<img src=x onerror=alert(1)>", "description": "Tea & coffee",
            "images": ["/images/mug-1-640.png", "https://cdn.example/mug.jpg"], "attributes": {"material": "<b>clay</b>"}, "in_stock": true, "price_from": usd(1200),
            "variants": [
                {"sku": "MUG-S", "options": {"size": "S"}, "price": usd(1200), "available": 3},
                {"sku": "MUG-L", "options": {"size": "L"}, "price": usd(1500), "available": 0},
            ],
        });
        let html = pages()
            .render(
                "product.html",
                &session(),
                context! {
                    product => pages().displayed(product),
                    json_ld => r#"{"name":"\u003c/script>"}"#,
                    description => "Tea & coffee",
                    canonical => "http://shop.test/products/mug",
                },
            )
            .unwrap();
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;b&gt;clay&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;clay&lt;/b&gt;"));
        assert!(html.contains(r#"<script type="application/ld+json">{"name":"\u003c/script>"}</script>"#));
        assert!(html.contains("Size: S — $12.00"));
        assert!(html.contains("disabled>Size: L — $15.00 (sold out)"), "{html}");
        assert!(html.contains(">Add to cart</button>"));
        assert!(html.contains(r#"<html lang="en-US">"#));
        // The shop's own image at the width it is shown; one hosted elsewhere as it is.
        let srcset = "srcset=\"&#x2f;images&#x2f;mug-1-320.png 320w, &#x2f;images&#x2f;mug-1-640.png 640w\"";
        assert!(html.contains(srcset), "{html}");
        assert!(html.contains("width=\"640\" height=\"640\""));
        assert!(html.contains("src=\"https:&#x2f;&#x2f;cdn.example&#x2f;mug.jpg\""));
    }

    #[test]
    fn a_page_the_browser_holds_is_answered_304_and_another_in_full() {
        let pages = pages();
        let plain = pages.revalidated(&request(None), &session(), "<p>a</p>".into());
        assert_eq!(plain.status(), StatusCode::OK);
        let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
        let held = pages.revalidated(&request(Some(&etag)), &session(), "<p>a</p>".into());
        assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
        assert!(matches!(held.body(), Body::Empty));
        let changed = pages.revalidated(&request(Some(&etag)), &session(), "<p>b</p>".into());
        assert_eq!(changed.status(), StatusCode::OK);
    }

    fn request(if_none_match: Option<&str>) -> Request {
        let mut builder = http::Request::builder().header(http::header::COOKIE, "sid=s1");
        if let Some(tag) = if_none_match {
            builder = builder.header(header::IF_NONE_MATCH, tag);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn a_sold_out_product_has_no_add_button() {
        let product = json!({
            "slug": "mug", "title": "Mug", "description": "", "images": [], "attributes": {},
            "in_stock": false, "price_from": usd(1200),
            "variants": [{"sku": "MUG-S", "options": {}, "price": usd(1200), "available": 0}],
        });
        let html = pages()
            .render(
                "product.html",
                &session(),
                context! { product => pages().displayed(product), json_ld => "{}", description => "", canonical => "/" },
            )
            .unwrap();
        assert!(html.contains("Sold out"));
        assert!(!html.contains("Add to cart"));
    }

    #[test]
    fn the_pages_render_when_there_is_nothing_to_show() {
        let empty = json!({ "items": [], "next_cursor": null });
        for name in ["home.html", "listing.html", "cart.html", "error.html"] {
            let facts = context! { heading => "H", detail => "D", products => facts(empty.clone()), categories => facts(json!([])) };
            let html = pages().render(name, &session(), facts).unwrap();
            assert!(html.starts_with("<!doctype html>"), "{name}");
        }
    }

    #[test]
    fn every_page_names_the_shops_icon_by_its_content() {
        let html = pages()
            .render("error.html", &session(), context! { heading => "H", detail => "D" })
            .unwrap();
        // The template engine writes `/` in an attribute as `&#x2f;`, which the browser reads as `/`.
        let html = html.replace("&#x2f;", "/");
        assert!(html.contains(&format!(r#"<link rel="icon" href="{}" type="image/svg+xml">"#, *ICON)));
        assert!(ICON.starts_with("/assets/icon-") && ICON.ends_with(".svg"));
        assert!(ICON_SVG.starts_with("<svg"));
    }
}
