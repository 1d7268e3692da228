//! The storefront on an origin of its own: the template's `StorefrontApi`, served by the local
//! gateway on a port of its own (`SHOP_STOREFRONT_URL`) as API Gateway serves it on a host of its
//! own, every path handed to the storefront function, and the shop's links pointing at it.

use reqwest::{Client, Method, Response};
use serde_json::Value;
use shop_tests::{TestApp, hosted_env, order_page_url, required, storefront_url};

/// `method path` at the storefront's origin.
async fn storefront(method: Method, path: &str) -> Response {
    Client::new()
        .request(method, format!("{}{path}", storefront_url()))
        .send()
        .await
        .expect("the storefront's port answers")
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Whether an answer is the storefront function's (a page, or a problem it wrote) and not the
/// gateway's own `404 {"message":"Not Found"}` for a request no route takes.
fn from_the_function(content_type: &str) -> bool {
    content_type.starts_with("text/html") || content_type.starts_with("application/problem+json")
}

#[tokio::test]
async fn the_storefront_answers_its_home_page_on_its_own_origin() {
    let home = storefront(Method::GET, "/").await;
    assert_eq!(home.status(), 200);
    assert!(content_type(&home).starts_with("text/html"), "{}", content_type(&home));
    assert!(
        home.headers().contains_key("apigw-requestid"),
        "the gateway gave the request an id"
    );
    assert!(
        home.text().await.unwrap().to_ascii_lowercase().contains("<html"),
        "a page"
    );
    assert_ne!(storefront_url(), required("SHOP_API_URL"), "an origin of its own");
}

#[tokio::test]
async fn every_deeper_path_reaches_the_storefront_function() {
    for path in [
        "/anything/deeper",
        "/products/merino-crew-sweater",
        "/categories/apparel",
        "/a/b/c/d/",
    ] {
        let page = storefront(Method::GET, path).await;
        let status = page.status().as_u16();
        let kind = content_type(&page);
        assert!(matches!(status, 200 | 404), "GET {path}: {status}");
        assert!(from_the_function(&kind), "GET {path}: {status} {kind}");
    }
    // Any method: the storefront's forms post to it.
    let posted = storefront(Method::POST, "/anything/deeper").await;
    assert!(
        from_the_function(&content_type(&posted)),
        "POST: {} {}",
        posted.status(),
        content_type(&posted)
    );
}

#[tokio::test]
async fn a_request_no_storefront_route_takes_is_answered_as_api_gateway_answers_it() {
    // The root is `GET /` only, and `ANY /{proxy+}` needs a segment at least.
    let posted = storefront(Method::POST, "/").await;
    assert_eq!(posted.status(), 404);
    assert_eq!(content_type(&posted), "application/json");
    let body: Value = posted.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"message": "Not Found"}));
}

#[tokio::test]
async fn the_shop_api_keeps_its_own_origin_and_answers() {
    let app = TestApp::new();
    let missing = app.get("/").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        content_type(&missing),
        "application/problem+json",
        "the shop API's own refusal"
    );
    assert_eq!(app.get("/store").await.status(), 200);
}

#[tokio::test]
async fn the_shop_links_to_the_bundled_storefront_and_its_order_page() {
    let (browse, _) = hosted_env("browse").await;
    let expected = std::env::var("SHOP_PARAM_StorefrontUrl")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(storefront_url);
    assert_eq!(browse["STOREFRONT_URL"], expected);
    let (mailer, _) = hosted_env("email-sender").await;
    assert_eq!(mailer["ORDER_PAGE_URL"], order_page_url());
}

#[tokio::test]
async fn the_storefront_pays_with_the_local_stripe_js_and_a_test_key() {
    let (env, _) = hosted_env("storefront").await;
    // Unless the stack was pointed at Stripe itself (STRIPE_API_BASE=): then Stripe's own.
    let stripe = required("STRIPE_API_BASE");
    if !stripe.is_empty() {
        assert_eq!(env["STRIPE_JS_URL"], format!("{stripe}/v3/"));
    }
    let key = std::env::var("SHOP_PARAM_StripePublishableKey").unwrap_or_else(|_| "pk_test_local".to_owned());
    assert_eq!(env["STRIPE_PUBLISHABLE_KEY"], key);
    // The storefront names no address of its own: it answers for the host it is asked on.
    let own = std::env::var("SHOP_PARAM_StorefrontUrl").unwrap_or_default();
    assert_eq!(env["STOREFRONT_URL"], own);
}
