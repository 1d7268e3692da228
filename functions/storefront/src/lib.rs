//! `storefront`: the shop window shoppers browse and buy from, HTML rendered on the server from
//! templates. Every page asks the JSON API's own handlers, in-process (see `api`), so a page
//! prices, checks out, cancels and returns exactly as the API does; the storefront itself only
//! reads requests, keeps the cart's cookie and renders.

pub mod api;

use futures::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use minijinja::{Environment, context};
use serde_json::Value;
use shop_platform::config::{ConfigError, Env, StoreSettings};
use shop_platform::HttpFunction;
use std::sync::Arc;

/// The storefront with the handlers it asks, built once per instance.
pub struct Storefront {
    browse: Arc<dyn HttpFunction>,
    templates: Environment<'static>,
    store: StoreSettings,
}

impl Storefront {
    /// Builds the handlers the pages ask, each from its own settings in `env`.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let mut templates =
            shop_templates::environment().map_err(|e| ConfigError::new(format!("page templates: {e}")))?;
        templates
            .add_template("home.html", include_str!("../templates/home.html"))
            .map_err(|e| ConfigError::new(format!("page templates: {e}")))?;
        Ok(Self {
            browse: Arc::new(browse::Browse::from_env(env, sdk)?),
            templates,
            store: env.parse()?,
        })
    }

    /// Answers one request with a page.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let products: Result<api::Answer<Value>, api::Refusal> =
            api::call(self.browse.as_ref(), &request, api::Call::get("/products")).await;
        let products = products.map(|a| a.body).unwrap_or(Value::Null);
        let html = self
            .templates
            .get_template("home.html")
            .and_then(|t| t.render(context! { store_name => &self.store.store_name, products => minijinja::value::Serde(&products) }))
            .unwrap_or_else(|e| format!("<p>{e}</p>"));
        Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::Text(html))
            .unwrap_or_default()
    }
}

impl HttpFunction for Storefront {
    fn handle(&self, request: Request) -> BoxFuture<'_, Response<Body>> {
        Box::pin(Storefront::handle(self, request))
    }
}
