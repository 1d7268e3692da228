//! What every end-to-end test needs: the running stack's addresses (exported by
//! `infra/local/stack.py run`), an HTTP client, unique names, and the demo catalog.

pub mod faults;

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a test waits for work that travels over the queues (a step of an order, a mail)
/// before it looks at what is there: generous, because the whole suite shares two cores and one
/// emulator; a passing test stops waiting as soon as the work is done.
pub const QUEUE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// An amount of US cents as the shop's mails write it in the template's default locale (en-US):
/// `$57.55`, `-$3.50`, `$1,234.56`. Written out here, apart from the shop's formatter, so the tests
/// hold the mails to the format itself.
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (whole, fraction) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}${grouped}.{fraction:02}")
}

/// The store's name as the stack runs it (`SHOP_PARAM_StoreName`, else the template's default).
pub fn store_name() -> String {
    std::env::var("SHOP_PARAM_StoreName").unwrap_or_else(|_| "Serverless Shop".to_owned())
}

/// Whether a mail's or page's HTML is in the shop's one layout: the store's name in its header.
pub fn in_the_shops_layout(html: &str) -> bool {
    html.split("class=\"shop-header")
        .nth(1)
        .and_then(|header| header.split("</td>").next())
        .is_some_and(|header| header.contains(&store_name()))
}

/// The fields a 422 problem document names, in its order.
pub fn refused_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("a validation problem lists its errors")
        .iter()
        .map(|e| e["field"].as_str().expect("each error names its field"))
        .collect()
}

/// The shop as a test sees it: through its public HTTP API.
pub struct TestApp {
    /// The gateway's base URL.
    pub api: String,
    /// The merchant's token for /admin routes.
    pub admin_token: String,
    /// The HTTP client.
    pub client: Client,
}

/// The stack variable `name` (`make test` exports them all).
pub fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `make test`"))
}

/// A `Stripe-Signature` header for `payload`, made with `secret` at `t` (now when `None`), as
/// Stripe signs a delivery: `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`.
pub fn stripe_signature(payload: &str, secret: &str, t: Option<i64>) -> String {
    use hmac::{KeyInit, Mac};
    let t = t.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.{payload}").as_bytes());
    let v1: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={v1}")
}

/// A name no other test (or earlier run) uses: `prefix-<time>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{nanos:x}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An address in 127.0.0.0/8 that no other app of this run is likely to have: 24 bits of a hash
/// of the process, the time and a counter (never 127.0.0.1, which every other client uses).
fn own_loopback_address() -> std::net::IpAddr {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u32(NEXT.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let [.., a, b, c] = hasher.finish().to_be_bytes();
    std::net::IpAddr::from([127, a, b, c.max(2)])
}

/// A limit of the stack: the template parameter `name` as the test stack sets it
/// (`SHOP_PARAM_<name>`), else the template's `default`.
pub fn stack_limit(name: &str, default: usize) -> usize {
    std::env::var(format!("SHOP_PARAM_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An address of a mailbox no other test uses: `<prefix>-<unique>@example.com`.
pub fn unique_email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

/// The demo catalog the stack was seeded with.
pub fn seed_catalog() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/seed/catalog.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the seed catalog is readable"))
        .expect("the seed catalog is JSON")
}

/// A valid product in `category` with the given id and title; one variant per SKU,
/// each with 5 in stock at 2,500 cents.
pub fn product(id: &str, category: &str, title: &str, skus: &[&str]) -> Value {
    let variants: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku, "options": {"size": "M"}, "price": {"amount": 2500, "currency": "usd"}, "available": 5}))
        .collect();
    json!({
        "id": id, "slug": id, "title": title, "description": "Made for tests.",
        "category": category, "tags": ["test"], "images": [], "attributes": {},
        "variants": variants,
    })
}

impl TestApp {
    /// The stack the test process was started in, reached from an address of its own in
    /// 127.0.0.0/8 (the gateway passes the peer address on as API Gateway's `sourceIp`): each
    /// app is one shopper's network, so the per-source limits (checkout holds, sign-ups,
    /// lookups, support) count each test on its own, as they count real shoppers.
    pub fn new() -> Self {
        Self::from_own_address().0
    }

    /// The same as [`TestApp::new`], with the address it calls from: for per-source limits.
    pub fn from_own_address() -> (Self, std::net::IpAddr) {
        let address = own_loopback_address();
        let client = Client::builder()
            .local_address(address)
            .build()
            .expect("a client bound to a loopback address");
        let app = Self {
            api: required("SHOP_API_URL"),
            admin_token: required("SHOP_ADMIN_TOKEN"),
            client,
        };
        (app, address)
    }

    /// A request as a shopper sends it.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.api));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the gateway answers")
    }

    /// `GET path`, as a shopper.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    /// `GET path` expecting 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// A request with the merchant's token.
    pub async fn admin(&self, method: Method, path: &str, body: &Value) -> Response {
        self.client
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// Imports products, expecting 200, and answers the report.
    pub async fn import(&self, products: Vec<Value>) -> Value {
        let response = self
            .admin(Method::POST, "/admin/products/import", &json!({"products": products}))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("an import report")
    }

    /// Every item of a listing, following `next_cursor` with pages of `limit`.
    pub async fn list_all(&self, query: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let mut path = format!("/products?limit={limit}&{query}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = self.get_json(&path).await;
            let page_items = page["items"].as_array().expect("items").clone();
            assert!(
                page_items.len() <= limit as usize,
                "a page is never larger than its limit"
            );
            items.extend(page_items);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
        panic!("the listing did not end within 1,000 pages");
    }
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

/// The problem document of an error response, after checking its status and media type.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap_or("").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a problem document");
    assert_eq!(body["status"], status);
    assert!(body["code"].is_string() && body["title"].is_string() && body["type"].is_string());
    body
}

/// A shopper's cart: its id and token.
pub struct TestCart {
    /// The cart's id.
    pub id: String,
    /// The cart's bearer token.
    pub token: String,
}

impl TestApp {
    /// Creates a cart, expecting 201, and answers it with the creation body.
    pub async fn create_cart(&self) -> (TestCart, Value) {
        let response = self.request(Method::POST, "/carts", None).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("a cart");
        let cart = TestCart {
            id: body["cart_id"].as_str().expect("cart_id").to_owned(),
            token: body["cart_token"].as_str().expect("cart_token").to_owned(),
        };
        (cart, body)
    }

    /// A call on a cart route with the cart's token (or `token` when given).
    pub async fn cart_call(&self, method: Method, path: &str, token: &str, body: Option<&Value>) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the gateway answers")
    }

    /// Sets a line's quantity, answering the response.
    pub async fn set_line(&self, cart: &TestCart, sku: &str, quantity: i64) -> Response {
        let path = format!("/carts/{}/items/{sku}", cart.id);
        self.cart_call(Method::PUT, &path, &cart.token, Some(&json!({ "quantity": quantity })))
            .await
    }

    /// The cart, expecting 200.
    pub async fn cart(&self, cart: &TestCart) -> Value {
        let response = self
            .cart_call(Method::GET, &format!("/carts/{}", cart.id), &cart.token, None)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("a cart")
    }
}

/// A checkout body for `cart`, shipping to California by standard shipping.
pub fn checkout_body(cart: &TestCart, email: &str) -> Value {
    json!({
        "cart_id": cart.id,
        "cart_token": cart.token,
        "email": email,
        "shipping_address": {
            "name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "San Francisco",
            "region": "CA", "postal_code": "94105", "country": "US"
        },
        "shipping_method": "standard"
    })
}

impl TestApp {
    /// `POST /checkout` with an idempotency key.
    pub async fn checkout(&self, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}/checkout", self.api))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// A cart holding `quantity` of `sku`.
    pub async fn cart_with(&self, sku: &str, quantity: i64) -> TestCart {
        let (cart, _) = self.create_cart().await;
        let response = self.set_line(&cart, sku, quantity).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        cart
    }

    /// Units of `sku` in stock, as the product page shows them.
    pub async fn available(&self, product_id: &str, sku: &str) -> u64 {
        let product = self.get_json(&format!("/products/{product_id}")).await;
        product["variants"]
            .as_array()
            .and_then(|variants| variants.iter().find(|v| v["sku"] == sku))
            .and_then(|v| v["available"].as_u64())
            .expect("the SKU is on its product")
    }
}

/// The local Stripe-compatible server, as a browser (Stripe.js) or a test reaches it.
pub struct TestStripe {
    /// `STRIPE_API_BASE`.
    pub base: String,
    client: Client,
}

impl TestStripe {
    /// The stack's Stripe server.
    pub fn new() -> Self {
        Self {
            base: required("STRIPE_API_BASE"),
            client: Client::new(),
        }
    }

    /// A PaymentIntent as Stripe has it.
    pub async fn intent(&self, id: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/v1/payment_intents/{id}", self.base))
            .bearer_auth("sk_test_tests")
            .send()
            .await
            .expect("the Stripe server answers");
        assert_eq!(response.status(), 200);
        response.json().await.expect("a PaymentIntent")
    }

    /// Every PaymentIntent Stripe has for an order (Stripe's search by `metadata['order_id']`).
    pub async fn intents_for_order(&self, order_id: &str) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/v1/payment_intents/search", self.base))
            .bearer_auth("sk_test_tests")
            .query(&[("query", format!("metadata['order_id']:'{order_id}'"))])
            .send()
            .await
            .expect("the Stripe server answers");
        let found = expect_json(response, 200).await;
        found["data"].as_array().cloned().unwrap_or_default()
    }

    /// Every refund of a PaymentIntent (Stripe's list of refunds, by `payment_intent`).
    pub async fn refunds_of(&self, intent_id: &str) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/v1/refunds", self.base))
            .bearer_auth("sk_test_tests")
            .query(&[("payment_intent", intent_id)])
            .send()
            .await
            .expect("the Stripe server answers");
        let found = expect_json(response, 200).await;
        found["data"].as_array().cloned().unwrap_or_default()
    }

    /// Confirms a PaymentIntent with a test payment method, as Stripe.js does.
    pub async fn confirm(&self, id: &str, payment_method: &str) -> Response {
        self.client
            .post(format!("{}/v1/payment_intents/{id}/confirm", self.base))
            .bearer_auth("sk_test_tests")
            .form(&[("payment_method", payment_method)])
            .send()
            .await
            .expect("the Stripe server answers")
    }
}

impl Default for TestStripe {
    fn default() -> Self {
        Self::new()
    }
}

/// The JSON body of a response, after checking its status (the body shows in the failure).
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

/// The sweeper as the gateway hosts it, its calls signed as its own through the IAM proxy (so
/// held to its policy in template.yaml), doing only the work of `orders` (tests share the
/// table), with its clock `ahead` seconds ahead of now.
pub async fn hosted_sweeper(orders: &[&str], ahead: i64) -> sweeper::Sweeper {
    let (vars, sdk) = hosted_env("sweeper").await;
    let own = shop_local::enforce::function_sdk(&sdk, &required("SHOP_IAM_URL"), "SweeperFunction");
    sweeper::Sweeper::from_env(&shop_platform::config::Env::from_map(vars), &own)
        .await
        .expect("the sweeper starts")
        .with_clock(std::sync::Arc::new(Ahead(ahead)))
        .only(orders.iter().map(|id| (*id).to_owned()).collect())
}

/// The environment the local gateway gives the function built from Cargo binary `binary`
/// (template.yaml's variables resolved to the stack's resources), and the SDK configuration:
/// what a test needs to host that function itself.
pub async fn hosted_env(binary: &str) -> (std::collections::HashMap<String, String>, aws_config::SdkConfig) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template = shop_local::template::Template::load(&path).expect("template.yaml reads");
    let sdk = shop_platform::aws::sdk_config().await;
    let prefix = required("SHOP_RESOURCE_PREFIX");
    // Creating the stack's resources again is a no-op that answers their local names.
    let context = shop_local::bootstrap::create_resources(&template, &prefix, &sdk)
        .await
        .expect("the stack's resources exist");
    let function = template
        .functions()
        .expect("the template's functions read")
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("no function builds {binary}"));
    let vars = shop_local::function_vars(&function, &context).expect("its variables resolve");
    (vars, sdk)
}

/// The bundled storefront's base URL in the stack (`SHOP_STOREFRONT_URL`: the local gateway's
/// port for the template's `StorefrontApi`).
pub fn storefront_url() -> String {
    required("SHOP_STOREFRONT_URL")
}

/// Where the mails' order links point (`OrderPageUrl`): `SHOP_PARAM_OrderPageUrl` when the stack
/// sets it, else the bundled storefront's order page, `<SHOP_STOREFRONT_URL>/orders`.
pub fn order_page_url() -> String {
    std::env::var("SHOP_PARAM_OrderPageUrl")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| format!("{}/orders", storefront_url()))
}

/// Where the subscription mails' confirmation and unsubscribe links point: the bundled
/// storefront's pages (`SHOP_STOREFRONT_URL`), or the API's (`api`) when the stack names a
/// storefront of the merchant's (`SHOP_PARAM_StorefrontUrl`).
pub fn consent_pages_url(api: &str) -> String {
    let own_storefront = std::env::var("SHOP_PARAM_StorefrontUrl").is_ok_and(|url| !url.is_empty());
    let base = if own_storefront {
        api.to_owned()
    } else {
        storefront_url()
    };
    base.trim_end_matches('/').to_owned()
}

impl TestApp {
    /// A mail's link to an order (`<OrderPageUrl>/<order_id>?token=…`, which it must be) as the
    /// API's own `GET /orders/{order_id}?token=…`: what the link's token opens, as JSON.
    pub fn order_link_at_the_api(&self, link: &str) -> String {
        let page = order_page_url();
        let rest = link
            .trim()
            .strip_prefix(&format!("{page}/"))
            .unwrap_or_else(|| panic!("{link} is not a link to the order page {page}"));
        format!("{}/orders/{rest}", self.api)
    }
}

impl TestApp {
    /// An order awaiting payment for `quantity` of a new product with `stock` units: the
    /// checkout's answer and the SKU.
    pub async fn pending_order(&self, email: &str, stock: u32, quantity: i64) -> (Value, String) {
        let (id, sku) = (unique("payable"), unique("SKU"));
        let mut row = product(&id, &unique("cat"), "Payable Thing", &[&sku]);
        row["variants"][0]["available"] = json!(stock);
        self.import(vec![row]).await;
        let cart = self.cart_with(&sku, quantity).await;
        let order = expect_json(self.checkout(&unique("key"), &checkout_body(&cart, email)).await, 201).await;
        (order, sku)
    }

    /// The order as its owner sees it (`GET /orders/{id}` with the checkout's token) once
    /// `done` holds for it, or at the deadline ([`QUEUE_DEADLINE`]).
    pub async fn order_when(&self, order: &Value, done: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/orders/{}", order["order_id"].as_str().expect("order_id"));
        let token = order["order_token"].as_str().expect("order_token");
        let deadline = std::time::Instant::now() + QUEUE_DEADLINE;
        loop {
            let view = expect_json(self.cart_call(Method::GET, &path, token, None).await, 200).await;
            if done(&view) || std::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// The local SES's inbox (aws-ses-v2-local's `GET /store`): every mail the shop sent.
pub struct Inbox {
    url: String,
    client: Client,
    /// Mails from before this (Unix seconds) are not read: a campaign test's ten thousand
    /// mails stay out of every later test's polls.
    since: i64,
}

impl Inbox {
    /// The stack's inbox.
    pub fn new() -> Self {
        use shop_platform::clock::Clock;
        Self {
            url: required("SHOP_SES_INBOX_URL"),
            client: Client::new(),
            // A margin for tests that make their inbox after the step that mails.
            since: shop_platform::clock::SystemClock.now() - 30,
        }
    }

    /// Every mail sent to `address` (JSON: `subject`, `body.text`, `body.html`, `destination`).
    pub async fn mails_to(&self, address: &str) -> Vec<Value> {
        let store: Value = self
            .client
            .get(format!("{}/store?since={}", self.url, self.since))
            .send()
            .await
            .expect("the local SES answers")
            .json()
            .await
            .expect("the store is JSON");
        store["emails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|mail| {
                mail["destination"]["to"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|a| a.as_str() == Some(address)))
            })
            .cloned()
            .collect()
    }

    /// The mails to `address` whose subject contains `subject`, once there are at least `count`
    /// of them, or at the deadline ([`QUEUE_DEADLINE`]).
    pub async fn wait_for(&self, address: &str, subject: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + QUEUE_DEADLINE;
        loop {
            let found: Vec<Value> = self
                .mails_to(address)
                .await
                .into_iter()
                .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains(subject)))
                .collect();
            if found.len() >= count || std::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

/// A clock that reads `offset` seconds ahead (consumers end holds without waiting for them).
pub struct Ahead(pub i64);

impl shop_platform::clock::Clock for Ahead {
    fn now(&self) -> i64 {
        shop_platform::clock::SystemClock.now() + self.0
    }
}

/// The metrics the hosted functions emitted: the embedded metric format (EMF) lines of the
/// gateway's log (`SHOP_GATEWAY_LOG`), as CloudWatch Logs would turn them into metrics.
pub struct Metrics {
    log: std::path::PathBuf,
}

impl Metrics {
    /// The stack's.
    pub fn new() -> Self {
        Self {
            log: required("SHOP_GATEWAY_LOG").into(),
        }
    }

    /// Every EMF document emitted so far with `metric` among its metrics and `property` set to
    /// `value` (an order id, a request id).
    pub fn emitted(&self, metric: &str, property: &str, value: &str) -> Vec<Value> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            // Cheap checks before parsing: the log holds every request's lines.
            .filter(|line| line.starts_with("{\"_aws\"") || line.contains("\"_aws\":"))
            .filter(|line| line.contains(value))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|document| document[property] == value && document.get(metric).is_some())
            .filter(|document| {
                document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .is_some_and(|metrics| metrics.iter().any(|m| m["Name"] == metric))
            })
            .collect()
    }

    /// [`Metrics::emitted`] once there are at least `count` of them, or at the deadline
    /// ([`QUEUE_DEADLINE`]): work that travels over a queue emits after the test's request.
    pub async fn wait_for(&self, metric: &str, property: &str, value: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + QUEUE_DEADLINE;
        loop {
            let found = self.emitted(metric, property, value);
            if found.len() >= count || std::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
