//! `browse`: the catalog as shoppers and search engines read it. Every answer is cacheable by a
//! CDN and carries an `ETag`; every list is one DynamoDB Query, paged by an opaque cursor; the
//! sitemap and the shopping feed page the catalog listing with Queries too.

pub mod feed;
pub mod json_ld;
pub mod sitemap;
mod xml;

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shop_domain::seo::SitemapLayout;
use shop_domain::text::search_terms;
use shop_domain::{CategorySlug, PageLimit, Product, ProductId, Slug};
use shop_platform::clock::rfc3339;
use shop_platform::config::{ConfigError, Env, StoreSettings, StorefrontSettings, TableSettings};
use shop_platform::edge::{self, cacheable, cacheable_json, path_param, query_param};
use shop_platform::{ApiError, HttpFunction};
use shop_store::catalog::{CatalogStore, Listing};
use sitemap::SitemapUrl;

/// Seconds a CDN may serve a catalog answer before asking again.
const CATALOG_MAX_AGE: u32 = 60;
/// Seconds for answers that change only when the merchant edits settings.
const SETTINGS_MAX_AGE: u32 = 300;
/// Longest search text and most terms a search uses.
const QUERY_MAX_CHARS: usize = 100;
const QUERY_MAX_TERMS: usize = 5;
/// Products the feed reads at once.
const FEED_CONCURRENCY: usize = 10;
/// The media type of the sitemap and the feed.
const XML: &str = "application/xml";
/// The API's OpenAPI description, as JSON: generated from openapi.yaml and checked against it by
/// `tests/tests/openapi.rs`, so no YAML is parsed here.
const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

/// The browse function with its clients, built once per instance.
pub struct Browse {
    catalog: CatalogStore,
    store: StoreSettings,
    storefront: StorefrontSettings,
}

#[derive(Serialize)]
struct ProductPage<'a> {
    #[serde(flatten)]
    product: &'a Product,
    price_from: Option<shop_domain::Money>,
    in_stock: bool,
    /// The schema.org `Product` for the storefront's page.
    json_ld: serde_json::Value,
}

#[derive(Serialize)]
struct StorePage<'a> {
    name: &'a str,
    currency: shop_domain::Currency,
    ship_to_countries: &'a [String],
}

impl Browse {
    /// Reads settings from `env` and builds the DynamoDB client from `sdk`.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table: TableSettings = env.parse()?;
        // Listing cursors are sealed with the shop's key.
        shop_platform::keys::install(env)?;
        Ok(Self {
            catalog: CatalogStore::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            store: env.parse()?,
            storefront: StorefrontSettings::from_env(env)?,
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        edge::serve(request, |request| self.route(request)).await
    }

    async fn route(&self, request: Request) -> Result<Response<Body>, ApiError> {
        match edge::route_key(&request) {
            Some("GET /products") => self.list_products(&request).await,
            Some("GET /products/{id_or_slug}") => self.product(&request).await,
            Some("GET /categories") => self.categories(&request).await,
            Some("GET /store") => self.store(&request),
            Some("GET /sitemap.xml") => self.sitemap(&request).await,
            Some("GET /feeds/google.xml") => self.google_feed(&request).await,
            Some("GET /openapi.json") => {
                cacheable(&request, OPENAPI_JSON.to_owned(), "application/json", SETTINGS_MAX_AGE)
            }
            _ => Err(edge::unknown_route(&request)),
        }
    }

    async fn list_products(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = edge::page_params(request)?;
        let category = query_param(request, "category")
            .map(CategorySlug::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_category", e))?;
        let listing = match (query_param(request, "q"), category) {
            (Some(text), category) => Listing::Search {
                terms: parse_search(text)?,
                category,
            },
            (None, Some(category)) => Listing::Category(category),
            (None, None) => Listing::All,
        };
        let page = self.catalog.list(&listing, limit, cursor.as_ref()).await?;
        cacheable_json(request, &page, CATALOG_MAX_AGE)
    }

    async fn product(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let id_or_slug = path_param(request, "id_or_slug")?;
        let mut product = match ProductId::parse(&id_or_slug) {
            Ok(id) => self.catalog.product(&id).await?,
            Err(_) => None,
        };
        if product.is_none()
            && Slug::parse(&id_or_slug).is_ok()
            && let Some(id) = self.catalog.product_id_by_slug(&id_or_slug).await?
        {
            product = self.catalog.product(&id).await?;
        }
        // A draft or archived product is the merchant's alone.
        let product = product
            .filter(|product| product.status.is_sold())
            .ok_or(ApiError::NotFound { what: "product" })?;
        let summary = product.summary();
        let brand = feed::brand(&product).unwrap_or(&self.store.store_name);
        let page = ProductPage {
            product: &product,
            price_from: summary.as_ref().map(|s| s.price_from),
            in_stock: summary.is_some_and(|s| s.in_stock),
            json_ld: json_ld::product_json_ld(&product, brand, &self.storefront),
        };
        cacheable_json(request, &page, CATALOG_MAX_AGE)
    }

    async fn categories(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let items = self.catalog.categories().await?;
        cacheable_json(
            request,
            &serde_json::json!({"items": items, "next_cursor": null}),
            CATALOG_MAX_AGE,
        )
    }

    /// `/sitemap.xml`: every category and product page; past one file an index of
    /// `/sitemap.xml?page=N`, each page a urlset of its share.
    async fn sitemap(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let page = query_param(request, "page")
            .map(|raw| raw.parse::<usize>())
            .transpose()
            .map_err(|_| ApiError::bad_request("invalid_page", "page is a whole number from 1"))?;
        let categories = self.catalog.dated_categories().await?;
        let products = categories.iter().map(|c| c.category.product_count as usize).sum();
        let layout = SitemapLayout::new(categories.len(), products);
        let xml = if page.is_none() && layout.is_index() {
            let locs: Vec<String> = (1..=layout.pages())
                .map(|n| self.storefront.url(&format!("/sitemap.xml?page={n}")))
                .collect();
            sitemap::index(&locs)
        } else {
            let share = layout
                .page(page.unwrap_or(1))
                .ok_or(ApiError::NotFound { what: "sitemap page" })?;
            let category_urls = categories[share.categories.clone()].iter().map(|dated| SitemapUrl {
                loc: self.storefront.category_url(&dated.category.slug),
                lastmod: dated.updated_at.map(rfc3339),
            });
            let dated_products = self
                .catalog
                .dated_products(share.products.start, share.products.len())
                .await?;
            let product_urls = dated_products.iter().map(|dated| SitemapUrl {
                loc: self.storefront.product_url(&dated.slug),
                lastmod: dated.updated_at.map(rfc3339),
            });
            sitemap::urlset(&category_urls.chain(product_urls).collect::<Vec<_>>())
        };
        let xml = xml.map_err(|error| ApiError::Internal(format!("writing the sitemap: {error}")))?;
        cacheable(request, xml, XML, CATALOG_MAX_AGE)
    }

    /// `/feeds/google.xml`: every variant of the catalog for Merchant Center.
    async fn google_feed(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let mut products = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .catalog
                .list(&Listing::All, PageLimit::largest(), cursor.as_ref())
                .await?;
            for chunk in page.items.chunks(FEED_CONCURRENCY) {
                let reads = chunk.iter().map(|summary| self.catalog.product(&summary.id));
                // A product removed since the listing was read is simply not in the feed.
                products.extend(
                    futures::future::try_join_all(reads)
                        .await?
                        .into_iter()
                        .flatten()
                        .filter(|product| product.status.is_sold()),
                );
            }
            match page.next_cursor {
                Some(next) => {
                    cursor = Some(
                        shop_platform::keys::open_cursor(&next)
                            .map_err(|error| ApiError::Internal(error.to_string()))?,
                    )
                }
                None => break,
            }
        }
        let store = feed::FeedStore {
            name: &self.store.store_name,
            storefront: &self.storefront,
        };
        let xml = feed::merchant_feed(&store, &products)
            .map_err(|error| ApiError::Internal(format!("writing the feed: {error}")))?;
        cacheable(request, xml, XML, CATALOG_MAX_AGE)
    }

    fn store(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let page = StorePage {
            name: &self.store.store_name,
            currency: self.store.store_currency,
            ship_to_countries: &self.store.ship_to_countries,
        };
        cacheable_json(request, &page, SETTINGS_MAX_AGE)
    }
}

/// The terms of a shopper's search text, or why it cannot be searched.
fn parse_search(text: &str) -> Result<std::collections::BTreeSet<String>, ApiError> {
    if text.chars().count() > QUERY_MAX_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("search text is at most {QUERY_MAX_CHARS} characters"),
        ));
    }
    let terms = search_terms(text);
    if terms.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "search text needs at least one word of two or more letters or digits",
        ));
    }
    Ok(terms.into_iter().take(QUERY_MAX_TERMS).collect())
}

impl HttpFunction for Browse {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Browse::handle(self, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_of_only_common_words_is_refused() {
        assert!(parse_search("the and of").is_err());
        assert!(parse_search(&"x".repeat(101)).is_err());
    }

    #[test]
    fn a_search_uses_at_most_five_terms() {
        let terms = parse_search("one two three four five six seven").map(|terms| terms.len());
        assert_eq!(terms.ok(), Some(5));
    }
}
