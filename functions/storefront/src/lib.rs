//! `storefront`: the shop window shoppers browse and buy from, HTML rendered on the server from
//! templates. Every page asks the JSON API's own handlers, in-process (see `api`), so a page
//! prices, checks out, cancels and returns exactly as the API does; the storefront itself only
//! reads requests and forms, keeps the cart's cookie and renders.
//!
//! The newsletter's sign-up, and the confirmation and unsubscribe pages its mails link to, ask
//! the campaign function's consent handler the same way (`newsletter_pages`).
//!
//! Browsing, the cart and the checkout form are plain links and forms that post (each with the
//! session's CSRF token) and answer with a redirect; JavaScript runs only on the order page,
//! where Stripe's Payment Element takes the card.

pub mod api;
mod cart_pages;
mod catalog_pages;
mod checkout_pages;
mod images;
mod newsletter_pages;
mod order_pages;
pub mod pages;
mod service_pages;
pub mod session;

use api::{Answer, Call, Refusal};
use futures::future::BoxFuture;
use http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use pages::{PageError, Pages};
use serde::de::DeserializeOwned;
use serde_json::Value;
use session::Session;
use shop_platform::HttpFunction;
use shop_platform::config::{ConfigError, Env, LocaleSettings, StoreSettings};

/// Where Stripe.js comes from and the key it pays with.
#[derive(Debug, Clone, serde::Deserialize)]
struct PaymentSettings {
    /// Stripe's publishable key (`pk_...`).
    #[serde(default)]
    stripe_publishable_key: String,
    /// Where Stripe.js is loaded from (`https://js.stripe.com/v3/`; locally the stand-in).
    #[serde(default = "stripe_js")]
    stripe_js_url: String,
}

fn stripe_js() -> String {
    "https://js.stripe.com/v3/".to_owned()
}

/// The address the handlers are given for the storefront when `STOREFRONT_URL` is empty (the
/// bundled storefront in AWS, whose own address its function cannot be told: the template would
/// go round in a circle). Pages write the address the shopper reached instead.
const UNNAMED: &str = "https://storefront.invalid";

/// The storefront with the handlers it asks, built once per instance.
pub struct Storefront {
    browse: browse::Browse,
    cart: cart::CartApi,
    checkout: checkout::Checkout,
    orders: orders::Orders,
    subscriptions: email_campaign::subscriptions::Subscriptions,
    images: images::Images,
    pages: Pages,
    store: StoreSettings,
    payment: PaymentSettings,
    /// `STOREFRONT_URL` without a trailing `/`; empty: the address each request reached.
    base: String,
}

impl Storefront {
    /// Builds the handlers the pages ask, each from its own settings in `env`.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let store: StoreSettings = env.parse()?;
        let locale = LocaleSettings::from_env(env)?;
        let pages = Pages::new(store.store_name.clone(), locale.store_locale)
            .map_err(|e| ConfigError::new(format!("page templates: {e:#}")))?;
        // The CSRF tokens are tags of the shop's key (browse installs it too).
        shop_platform::keys::install(env)?;
        let base = env
            .get("STOREFRONT_URL")
            .unwrap_or("")
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let env = if base.is_empty() {
            env.with("STOREFRONT_URL", UNNAMED)
        } else {
            env.clone()
        };
        let env = &env;
        Ok(Self {
            browse: browse::Browse::from_env(env, sdk)?,
            cart: cart::CartApi::from_env(env, sdk)?,
            checkout: checkout::Checkout::from_env(env, sdk).await?,
            orders: orders::Orders::from_env(env, sdk).await?,
            subscriptions: email_campaign::subscriptions::Subscriptions::from_env(env, sdk)?,
            images: images::Images::from_env(env, sdk)?,
            pages,
            store,
            payment: env.parse()?,
            base,
        })
    }

    /// The storefront's address as the shopper reached it (no trailing `/`).
    fn base(&self, request: &Request) -> String {
        if !self.base.is_empty() {
            return self.base.clone();
        }
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .filter(|host| host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
            .unwrap_or("localhost");
        let scheme = if shop_platform::edge::over_https(request) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    }

    /// `text` (an answer of the handlers) with the stand-in address replaced by the real one.
    fn named(&self, request: &Request, text: &str) -> String {
        if self.base.is_empty() {
            text.replace(UNNAMED, &self.base(request))
        } else {
            text.to_owned()
        }
    }

    /// Answers one request with a page.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let session = Session::read(&request);
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = request.method().clone();
        if method == Method::GET
            && let ["assets", name] = segments.as_slice()
        {
            return asset(name);
        }
        if method == Method::POST
            && let Err(error) = self.check_form(&request, &session)
        {
            return self.pages.error(&session, error);
        }
        let answer = match (&method, segments.as_slice()) {
            (&Method::GET, []) => self.home(&request, &session).await,
            (&Method::GET, ["search"]) => self.search(&request, &session).await,
            (&Method::GET, ["categories", slug]) => self.category(&request, &session, slug).await,
            (&Method::GET, ["products", slug]) => self.product(&request, &session, slug).await,
            (&Method::GET, ["images", file]) => self.images.answer(&request, file).await,
            (&Method::GET, [".well-known", file]) => self.images.well_known(&request, file).await,
            (&Method::GET, ["cart"]) => self.cart_page(&request, &session).await,
            (&Method::POST, ["cart", "add"]) => self.add_to_cart(&request, &session).await,
            (&Method::POST, ["cart", "lines"]) => self.change_line(&request, &session).await,
            (&Method::POST, ["cart", "discount"]) => self.discount(&request, &session).await,
            (&Method::POST, ["cart", "shipping"]) => self.shipping(&request, &session).await,
            (&Method::GET, ["checkout"]) => self.checkout_page(&request, &session).await,
            (&Method::POST, ["checkout"]) => self.place_order(&request, &session).await,
            (&Method::GET, ["orders", "lookup"]) => self.lookup_page(&request, &session),
            (&Method::POST, ["orders", "lookup"]) => self.lookup(&request, &session).await,
            (&Method::GET, ["contact"]) => self.contact_page(&request, &session),
            (&Method::POST, ["contact"]) => self.contact(&request, &session).await,
            (&Method::GET, ["newsletter"]) => self.newsletter_page(&session),
            (&Method::POST, ["newsletter"]) => self.sign_up(&request, &session).await,
            (&Method::GET, ["subscribers", "confirm"]) => self.confirm_subscription(&request, &session).await,
            (&Method::GET, ["unsubscribe"]) => self.unsubscribe_page(&request, &session).await,
            (&Method::POST, ["unsubscribe"]) => self.unsubscribe(&request, &session).await,
            (&Method::GET, ["orders", order_id]) => self.order_page(&request, &session, order_id).await,
            (&Method::POST, ["orders", order_id, "cancel"]) => self.cancel(&request, &session, order_id).await,
            (&Method::POST, ["orders", order_id, "returns"]) => self.request_return(&request, &session, order_id).await,
            (&Method::POST, ["orders", order_id, "exchanges"]) => {
                self.request_exchange(&request, &session, order_id).await
            }
            _ => Err(PageError::NotFound),
        };
        answer.unwrap_or_else(|error| self.pages.error(&session, error))
    }

    /// A posted form must carry this session's CSRF token.
    fn check_form(&self, request: &Request, session: &Session) -> Result<(), PageError> {
        let form: Value = form(request)?;
        let token = form.get("csrf").and_then(Value::as_str).unwrap_or("");
        if session.csrf_matches(token) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Renders `template` as a `200` page the browser may revalidate (`ETag`, `304`).
    fn show(
        &self,
        request: &Request,
        session: &Session,
        template: &str,
        facts: impl serde::Serialize,
    ) -> Result<Response<Body>, PageError> {
        let html = self.pages.render(template, session, facts)?;
        Ok(self.pages.revalidated(request, session, html))
    }
}

/// Asks `function` for `call`, as the page's `request`.
async fn ask(function: &dyn HttpFunction, request: &Request, call: Call) -> Result<Value, Refusal> {
    api::call::<Value>(function, request, call)
        .await
        .map(|answer: Answer<Value>| answer.body)
}

/// The form of a `POST`, read as `T` (urlencoded, as browsers send forms).
fn form<T: DeserializeOwned>(request: &Request) -> Result<T, PageError> {
    shop_platform::browser::form(request, "the shop's page").map_err(PageError::BadForm)
}

/// The stylesheet or the icon, at its fingerprinted address.
fn asset(name: &str) -> Response<Body> {
    let path = format!("/assets/{name}");
    let (content_type, content) = if path == *pages::STYLESHEET {
        ("text/css; charset=utf-8", pages::STYLE)
    } else if path == *pages::ICON {
        ("image/svg+xml", pages::ICON_SVG)
    } else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::Text("not found".into()))
            .unwrap_or_default();
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .body(Body::Text(content.to_owned()))
        .unwrap_or_default()
}

impl HttpFunction for Storefront {
    fn handle(&self, request: Request) -> BoxFuture<'_, Response<Body>> {
        Box::pin(Storefront::handle(self, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(answer: &Response<Body>) -> &str {
        answer.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[test]
    fn the_stylesheet_and_the_icon_are_served_at_their_names_and_nothing_else_is() {
        let icon = asset(pages::ICON.trim_start_matches("/assets/"));
        assert_eq!((icon.status(), content_type(&icon)), (StatusCode::OK, "image/svg+xml"));
        let style = asset(pages::STYLESHEET.trim_start_matches("/assets/"));
        assert_eq!(
            (style.status(), content_type(&style)),
            (StatusCode::OK, "text/css; charset=utf-8")
        );
        assert_eq!(asset("icon.svg").status(), StatusCode::NOT_FOUND);
    }
}
