//! The per-shopper limits on what a script would repeat: checkout holds per mailbox and per
//! source, newsletter sign-ups per mailbox and per source. Each refusal is a 429 `rate_limited`
//! problem with `Retry-After`, and changes nothing (no stock held, no mail queued). Each test
//! calls from addresses of its own, so it counts alone; the limits are the template's defaults
//! or the test stack's `SHOP_PARAM_*`.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use shop_tests::{
    Inbox, TestApp, TestCart, checkout_body, expect_json, problem, product, stack_limit, unique, unique_email,
};

const CONFIRM_SUBJECT: &str = "Please confirm your subscription";

/// A new product with `stock` units of one SKU: its id and SKU.
async fn stocked(app: &TestApp, stock: u32) -> (String, String) {
    let (id, sku) = (unique("limited"), unique("SKU"));
    let mut row = product(&id, &unique("cat"), "Limited Thing", &[&sku]);
    row["variants"][0]["available"] = json!(stock);
    assert_eq!(app.import(vec![row]).await["imported"], 1);
    (id, sku)
}

/// A limited answer: 429, a `Retry-After` of 1 second to an hour, the `rate_limited` problem
/// saying the same.
async fn refused(response: Response) -> Value {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a 429 says when to come back")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=3600).contains(&retry_after), "Retry-After: {retry_after}");
    let body = problem(response, 429).await;
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["retry_after"], retry_after);
    body
}

/// Checks `cart` out as `email`, answering the response.
async fn check_out(app: &TestApp, cart: &TestCart, email: &str) -> Response {
    app.checkout(&unique("key"), &checkout_body(cart, email)).await
}

#[tokio::test]
async fn a_mailbox_over_its_hourly_checkout_holds_is_refused_with_429_and_holds_nothing() {
    let per_email = stack_limit("CheckoutHoldsPerEmailHour", 10);
    let (app, _) = TestApp::from_own_address();
    let (product_id, sku) = stocked(&app, 100).await;
    let mailbox = unique("holder");
    // Each hold under a tag of its own: the tags of one mailbox count together.
    let mut first = None;
    for i in 0..per_email {
        let cart = app.cart_with(&sku, 1).await;
        let key = unique("key");
        let body = checkout_body(&cart, &format!("{mailbox}+{i}@example.com"));
        expect_json(app.checkout(&key, &body).await, 201).await;
        first.get_or_insert((key, body));
    }
    assert_eq!(app.available(&product_id, &sku).await, 100 - per_email as u64);
    let cart = app.cart_with(&sku, 1).await;
    refused(check_out(&app, &cart, &format!("{mailbox}@example.com")).await).await;
    assert_eq!(
        app.available(&product_id, &sku).await,
        100 - per_email as u64,
        "a refused checkout holds nothing"
    );
    // A replay of an earlier checkout is answered as it was: it is no new hold.
    let (key, body) = first.expect("one checkout at least");
    let replay = app.checkout(&key, &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    expect_json(replay, 201).await;
    // The same cart, from the same network, goes through for another shopper.
    expect_json(check_out(&app, &cart, &unique_email("someone-else")).await, 201).await;
    assert_eq!(app.available(&product_id, &sku).await, 100 - per_email as u64 - 1);
}

#[tokio::test]
async fn a_source_over_its_hourly_checkout_holds_is_refused_with_429_and_holds_nothing() {
    let per_source = stack_limit("CheckoutHoldsPerSourceHour", 30);
    let (app, _) = TestApp::from_own_address();
    let (product_id, sku) = stocked(&app, 200).await;
    for _ in 0..per_source {
        let cart = app.cart_with(&sku, 1).await;
        expect_json(check_out(&app, &cart, &unique_email("neighbour")).await, 201).await;
    }
    let held = 200 - per_source as u64;
    assert_eq!(app.available(&product_id, &sku).await, held);
    let cart = app.cart_with(&sku, 2).await;
    let body = refused(check_out(&app, &cart, &unique_email("one-more")).await).await;
    assert!(body["detail"].as_str().unwrap().contains("checkouts"), "{body}");
    assert_eq!(
        app.available(&product_id, &sku).await,
        held,
        "a refused checkout holds nothing"
    );
    // The refused cart is still open: from another network it becomes an order.
    let (elsewhere, _) = TestApp::from_own_address();
    expect_json(check_out(&elsewhere, &cart, &unique_email("elsewhere")).await, 201).await;
    assert_eq!(app.available(&product_id, &sku).await, held - 2);
}

/// `POST /subscribers` for `email`.
async fn sign_up(app: &TestApp, email: &str) -> Response {
    app.request(
        Method::POST,
        "/subscribers",
        Some(&json!({"email": email, "source": "footer"})),
    )
    .await
}

#[tokio::test]
async fn a_mailbox_signed_up_too_often_is_refused_with_429_and_mailed_nothing_more() {
    let per_email = stack_limit("SignUpsPerEmailHour", 5);
    let ((app, _), inbox) = (TestApp::from_own_address(), Inbox::new());
    let mailbox = unique("bombed");
    // Each tag is an address of its own to the mailer, one mailbox to the limit.
    for i in 0..per_email {
        assert_eq!(sign_up(&app, &format!("{mailbox}+{i}@example.com")).await.status(), 202);
    }
    let refused_address = format!("{mailbox}+over@example.com");
    refused(sign_up(&app, &refused_address).await).await;
    // Another mailbox from the same network is still signed up.
    let other = unique_email("reader");
    assert_eq!(sign_up(&app, &other).await.status(), 202);
    for address in (0..per_email)
        .map(|i| format!("{mailbox}+{i}@example.com"))
        .chain([other])
    {
        let mails = inbox.wait_for(&address, CONFIRM_SUBJECT, 1).await;
        assert_eq!(mails.len(), 1, "an admitted sign-up of {address} is mailed its link");
    }
    assert!(
        inbox.mails_to(&refused_address).await.is_empty(),
        "a refused sign-up mails nothing"
    );
}

#[tokio::test]
async fn a_source_over_its_hourly_sign_ups_is_refused_with_429_and_another_source_is_not() {
    let per_source = stack_limit("SignUpsPerSourceHour", 20);
    let (app, _) = TestApp::from_own_address();
    for _ in 0..per_source {
        assert_eq!(sign_up(&app, &unique_email("neighbour")).await.status(), 202);
    }
    let address = unique_email("late-reader");
    refused(sign_up(&app, &address).await).await;
    let (elsewhere, _) = TestApp::from_own_address();
    assert_eq!(sign_up(&elsewhere, &address).await.status(), 202);
}

/// A shopper's browser on the storefront: keeps its cookies by hand, follows no redirect.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: shop_tests::storefront_url(),
            cookies: Default::default(),
        }
    }

    fn keep(&mut self, response: &Response) {
        for header in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ")
    }

    /// The page at `path`, as text.
    async fn page(&mut self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Posts `fields` with the CSRF token of `page`.
    async fn post(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = input_value(page, "csrf");
        let mut fields = fields.to_vec();
        fields.push(("csrf", &csrf));
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(&fields)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }
}

/// The value of the form's input `name` on `page`.
fn input_value(page: &str, name: &str) -> String {
    let input = page
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("an input {name}"));
    let at = input + page[input..].find("value=\"").expect("its value") + "value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_storefronts_checkout_over_a_mailboxs_limit_shows_the_form_again_with_429_and_holds_nothing() {
    let per_email = stack_limit("CheckoutHoldsPerEmailHour", 10);
    let app = TestApp::new();
    let (product_id, sku) = stocked(&app, 50).await;
    let email = unique_email("storefront-holder");
    for _ in 0..per_email {
        let cart = app.cart_with(&sku, 1).await;
        expect_json(check_out(&app, &cart, &email).await, 201).await;
    }
    let held = 50 - per_email as u64;
    let mut browser = Browser::new();
    let product = browser.page(&format!("/products/{product_id}")).await;
    let added = browser
        .post(
            &product,
            "/cart/add",
            &[("sku", &sku), ("quantity", "1"), ("slug", &product_id)],
        )
        .await;
    assert_eq!(added.status(), 303, "the product goes into the cart");
    let form = browser.page("/checkout").await;
    let key = input_value(&form, "idempotency_key");
    let fields = [
        ("idempotency_key", key.as_str()),
        ("email", email.as_str()),
        ("name", "Ada Lovelace"),
        ("line1", "1 Analytical Way"),
        ("city", "San Francisco"),
        ("region", "CA"),
        ("postal_code", "94105"),
        ("country", "US"),
        ("shipping_method", "standard"),
    ];
    let limited = browser.post(&form, "/checkout", &fields).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after));
    let page = limited.text().await.unwrap();
    assert!(
        page.contains("You have placed several orders in a short while") && page.contains("try again in"),
        "{page}"
    );
    assert_eq!(input_value(&page, "email"), email, "the form keeps what was typed");
    assert_eq!(
        app.available(&product_id, &sku).await,
        held,
        "a refused checkout holds nothing"
    );
}
