//! Browsing: the home page, a category, search results and a product, each one request to
//! browse's handler (one DynamoDB request), as the JSON API answers it.

use crate::api::{Call, encode};
use crate::pages::{PageError, facts};
use crate::session::Session;
use crate::{Storefront, ask};
use lambda_http::{Body, Request, Response};
use minijinja::context;
use serde_json::Value;
use shop_platform::edge::query_param;

/// Products a listing page shows.
const PAGE_SIZE: &str = "24";

impl Storefront {
    /// `/`: the categories and the catalog's first page.
    pub(crate) async fn home(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let (categories, products) = futures::join!(
            ask(&self.browse, request, Call::get("/categories")),
            ask(
                &self.browse,
                request,
                Call::get("/products").query("limit", Some(PAGE_SIZE))
            ),
        );
        let products = self.pages.displayed(products?);
        self.show(request, session,
            "home.html",
            context! { categories => facts(categories?["items"].clone()), products, canonical => format!("{}/", self.base(request)) },
        )
    }

    /// `/categories/{slug}`: one page of a category, `?cursor=` for the next.
    pub(crate) async fn category(
        &self,
        request: &Request,
        session: &Session,
        slug: &str,
    ) -> Result<Response<Body>, PageError> {
        let categories = ask(&self.browse, request, Call::get("/categories")).await?;
        let category = categories["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["slug"] == slug))
            .cloned()
            .ok_or(PageError::NotFound)?;
        let cursor = query_param(request, "cursor");
        let products = ask(
            &self.browse,
            request,
            Call::get("/products")
                .query("category", Some(slug))
                .query("limit", Some(PAGE_SIZE))
                .query("cursor", cursor),
        )
        .await?;
        let next = next_page(&format!("/categories/{slug}?"), &products);
        self.show(
            request,
            session,
            "listing.html",
            context! {
                heading => category["name"].as_str().unwrap_or("").to_owned(),
                products => self.pages.displayed(products),
                next,
                canonical => format!("{}/categories/{slug}", self.base(request)),
            },
        )
    }

    /// `/search?q=`: the products whose title or tags hold every word.
    pub(crate) async fn search(&self, request: &Request, session: &Session) -> Result<Response<Body>, PageError> {
        let q = query_param(request, "q").unwrap_or("").trim().to_owned();
        if q.is_empty() {
            return self.show(request, session,
                "listing.html",
                context! { heading => "Search", q, products => facts(Value::Null), hint => "Type what you are looking for." },
            );
        }
        let cursor = query_param(request, "cursor");
        let answer = ask(
            &self.browse,
            request,
            Call::get("/products")
                .query("q", Some(q.as_str()))
                .query("limit", Some(PAGE_SIZE))
                .query("cursor", cursor),
        )
        .await;
        let (products, hint) = match answer {
            Ok(products) => (products, None),
            // A search the catalog cannot run (too long, no words) is a hint, not an error page.
            Err(refusal) if refusal.status.is_client_error() => (Value::Null, Some(refusal.detail)),
            Err(refusal) => return Err(refusal.into()),
        };
        let next = next_page(&format!("/search?q={}&", encode(&q)), &products);
        self.show(
            request,
            session,
            "listing.html",
            context! {
                heading => format!("Results for “{q}”"),
                q,
                products => self.pages.displayed(products),
                next,
                hint,
            },
        )
    }

    /// `/products/{slug}`: the product with its variants, stock and structured data.
    pub(crate) async fn product(
        &self,
        request: &Request,
        session: &Session,
        slug: &str,
    ) -> Result<Response<Body>, PageError> {
        let product = ask(
            &self.browse,
            request,
            Call::get("/products/{id_or_slug}").param("id_or_slug", slug),
        )
        .await?;
        let json_ld = serde_json::to_string(&product["json_ld"]).map_err(|e| PageError::Internal(e.to_string()))?;
        let json_ld = self
            .named(request, &json_ld)
            // Inside <script>, "</" would end the element: every "<" is written as JSON's \u003c.
            .replace('<', "\\u003c");
        // Link previews need the image's absolute address.
        let og_image = product["images"][0].as_str().map(|image| {
            if image.starts_with('/') {
                format!("{}{image}", self.base(request))
            } else {
                image.to_owned()
            }
        });
        let description: String = product["description"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        self.show(
            request,
            session,
            "product.html",
            context! {
                product => self.pages.displayed(product.clone()),
                json_ld,
                description,
                problem => session.message(),
                canonical => format!("{}/products/{slug}", self.base(request)),
                og_image => og_image,
            },
        )
    }
}

/// The address of a listing's next page, when the answer says there is one.
fn next_page(base: &str, products: &Value) -> Option<String> {
    products["next_cursor"]
        .as_str()
        .map(|cursor| format!("{base}cursor={}", encode(cursor)))
}
