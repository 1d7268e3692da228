//! The merchant console's sessions and roles over HTTP, at the console's own origin
//! (`SHOP_CONSOLE_URL`) as `make test` serves it: a session lasts while it is used, ends when
//! signed out or left idle (even if its cookies are kept and sent again), and a `staff` account
//! may not reach what only owners may.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, redirect};
use serde_json::json;
use shop_tests::{TestApp, TestStripe, expect_json, required, unique};
use std::collections::BTreeMap;

/// A browser of the console that follows no redirects and keeps its cookies by hand.
struct Browser {
    client: Client,
    console: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(),
            console: required("SHOP_CONSOLE_URL"),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let text = header.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        let response = self
            .client
            .get(format!("{}{path}", self.console))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// Posts `form` with the CSRF token of the page at `from`.
    async fn post(&mut self, from: &str, path: &str, form: &[(&str, &str)]) -> Response {
        let page = self.get(from).await.text().await.unwrap();
        let csrf = csrf_of(&page);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &csrf));
        let response = self
            .client
            .post(format!("{}{path}", self.console))
            .header(COOKIE, self.cookie_header())
            .form(&fields)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    async fn sign_in(&mut self, email: &str, password: &str) {
        let response = self
            .post("/sign-in", "/sign-in", &[("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        assert_eq!(location(&response), "/today");
    }

    fn session_id(&self) -> String {
        self.cookies["console_sid"].clone()
    }
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

fn location(response: &Response) -> &str {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn owner() -> (String, String) {
    (required("SHOP_STAFF_EMAIL"), required("SHOP_STAFF_PASSWORD"))
}

async fn table() -> (aws_sdk_dynamodb::Client, String) {
    let sdk = shop_platform::aws::sdk_config().await;
    (aws_sdk_dynamodb::Client::new(&sdk), required("SHOP_TABLE"))
}

#[tokio::test]
async fn a_session_left_idle_for_half_an_hour_is_over_and_a_used_one_is_not() {
    let (email, password) = owner();
    let mut browser = Browser::new();
    browser.sign_in(&email, &password).await;
    assert_eq!(browser.get("/today").await.status(), 200);

    // Its last use forty minutes ago, as if the owner walked away.
    let (client, table) = table().await;
    let forty_minutes_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 40 * 60)
        .to_string();
    client
        .update_item()
        .table_name(&table)
        .key(
            "pk",
            AttributeValue::S(format!("STAFF_SESSION#{}", browser.session_id())),
        )
        .key("sk", AttributeValue::S("SESSION".into()))
        .update_expression("SET last_seen = :then")
        .expression_attribute_values(":then", AttributeValue::N(forty_minutes_ago))
        .send()
        .await
        .unwrap();
    let idle = browser.get("/today").await;
    assert_eq!(idle.status(), 303);
    assert_eq!(location(&idle), "/sign-in");
}

#[tokio::test]
async fn cookies_kept_after_signing_out_open_nothing_and_change_nothing() {
    let (email, password) = owner();
    let mut browser = Browser::new();
    browser.sign_in(&email, &password).await;
    let kept = browser.cookies.clone();
    let out = browser.post("/today", "/sign-out", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/sign-in");

    // The same cookies sent again, as a copied cookie jar would.
    browser.cookies = kept;
    let again = browser.get("/today").await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), "/sign-in");
    let form = browser
        .client
        .post(format!("{}/settings/staff", browser.console))
        .header(COOKIE, browser.cookie_header())
        .form(&[
            ("email", "mallory@example.com"),
            ("password", "Aa1aaaaaaaaaaa"),
            ("role", "owner"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403, "a form from an ended session is refused");
}

#[tokio::test]
async fn an_owner_adds_a_staff_account_that_signs_in_but_may_not_reach_settings() {
    let (email, password) = owner();
    let mut owner = Browser::new();
    owner.sign_in(&email, &password).await;
    let staff_email = format!("{}@example.com", unique("staff"));
    let staff_password = format!("Staff-{}-Pass1", unique("pw"));

    let weak = owner
        .post(
            "/settings",
            "/settings/staff",
            &[("email", &staff_email), ("password", "short"), ("role", "staff")],
        )
        .await;
    assert_eq!(weak.status(), 400, "the pool's password policy refuses it");
    assert!(weak.text().await.unwrap().to_lowercase().contains("password"));

    let added = owner
        .post(
            "/settings",
            "/settings/staff",
            &[
                ("email", &staff_email),
                ("password", &staff_password),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let settings = owner.get("/settings").await.text().await.unwrap();
    assert!(
        settings.contains(&format!("data-account=\"{staff_email}\"")),
        "{settings}"
    );
    let audit = owner.get("/audit").await.text().await.unwrap();
    assert!(
        audit.contains(&format!("staff {staff_email}")) && audit.contains(&email),
        "the audit log names who added whom"
    );

    let mut staff = Browser::new();
    staff.sign_in(&staff_email, &staff_password).await;
    assert_eq!(staff.get("/today").await.status(), 200);

    // A paid order: staff may open it, but neither refund nor cancel it.
    let app = TestApp::new();
    let (order, _) = app
        .pending_order(&format!("{}@example.com", unique("refund")), 5, 1)
        .await;
    let order_id = order["order_id"].as_str().unwrap();
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(TestStripe::new().confirm(intent, "pm_card_visa").await.status(), 200);
    app.order_when(&order, |v| v["status"] == "fulfilling").await;
    let page = format!("/orders/{order_id}");
    let opened = staff.get(&page).await;
    assert_eq!(opened.status(), 200);
    assert!(
        !opened.text().await.unwrap().contains("Amount to refund"),
        "no refund form for staff"
    );
    for (action, form) in [
        (
            "refund",
            vec![("amount", "1.00"), ("reason", "goodwill"), ("key", "k1")],
        ),
        ("cancel", vec![]),
    ] {
        let refused = staff.post(&page, &format!("{page}/{action}"), &form).await;
        assert_eq!(refused.status(), 403, "{action}");
        assert!(refused.text().await.unwrap().contains("Owners only"));
    }
    let view = expect_json(
        app.admin(Method::GET, &format!("/admin/orders/{order_id}"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(view["status"], "fulfilling", "{view}");
    assert!(view["refunds"].as_array().is_none_or(Vec::is_empty), "{view}");

    let settings = staff.get("/settings").await;
    assert_eq!(settings.status(), 403);
    assert!(settings.text().await.unwrap().contains("Owners only"));
    let promote = staff
        .post(
            "/today",
            "/settings/staff/change",
            &[("email", &staff_email), ("role", "owner")],
        )
        .await;
    assert_eq!(promote.status(), 403, "staff cannot make themselves owners");
    let after = owner.get("/settings").await.text().await.unwrap();
    let row = after.split(&format!("data-account=\"{staff_email}\"")).nth(1).unwrap();
    assert!(row.split("</tr>").next().unwrap().contains("<td>staff</td>"));

    // Disabled, the account cannot sign in again.
    let disabled = owner
        .post(
            "/settings",
            "/settings/staff/change",
            &[("email", &staff_email), ("enabled", "false")],
        )
        .await;
    assert_eq!(disabled.status(), 303);
    let mut again = Browser::new();
    let refused = again
        .post(
            "/sign-in",
            "/sign-in",
            &[("email", &staff_email), ("password", &staff_password)],
        )
        .await;
    assert_eq!(refused.status(), 401);
}

/// A multipart form as a browser posts a presigned one: `fields` in order, then the file.
fn post_object_body(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "shop-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n\r\n").bytes(),
    );
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_bucket_takes_an_upload_only_as_the_console_signed_it_and_the_console_adds_only_what_arrived() {
    let app = TestApp::new();
    let id = unique("upload");
    let product = json!({
        "id": id, "slug": id, "title": "Upload test", "description": "For the upload test.", "category": "home",
        "tags": [], "images": [], "attributes": {},
        "variants": [{"sku": id.to_uppercase(), "options": {}, "price": {"amount": 900, "currency": "usd"}, "available": 1}],
    });
    expect_json(
        app.admin(Method::PUT, &format!("/admin/products/{id}"), &product).await,
        201,
    )
    .await;
    let (email, password) = owner();
    let mut browser = Browser::new();
    browser.sign_in(&email, &password).await;
    let page = format!("/catalog/{id}");

    let refused = browser
        .post(&page, &format!("{page}/images/forms"), &[("format", "gif")])
        .await;
    assert_eq!(refused.status(), 400);
    let answer = browser
        .post(&page, &format!("{page}/images/forms"), &[("format", "webp")])
        .await;
    let forms = expect_json(answer, 200).await;
    assert_eq!(forms["image"], format!("{id}-1"));
    let upload = &forms["uploads"][0];
    assert_eq!(upload["width"], 640);
    let url = upload["url"].as_str().unwrap().to_owned();
    let fields: Vec<(String, String)> = upload["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| (n.clone(), if n == name { value.to_owned() } else { v.clone() }))
            .collect()
    };
    let client = Client::new();
    let origin = browser.console.clone();
    let post = |fields: Vec<(String, String)>, file: Vec<u8>| {
        let (content_type, body) = post_object_body(&fields, &file);
        client
            .post(&url)
            .header("content-type", content_type)
            .header("origin", &origin)
            .body(body)
            .send()
    };
    let webp = b"RIFF\x1a\0\0\0WEBPVP8 the bytes of a picture".to_vec();

    for (fields, status, code) in [
        (with("key", &format!("{id}-9-640.webp")), 403, "AccessDenied"),
        (with("Content-Type", "text/html"), 403, "AccessDenied"),
        (
            with(
                "policy",
                "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=",
            ),
            403,
            "SignatureDoesNotMatch",
        ),
    ] {
        let response = post(fields, webp.clone()).await.unwrap();
        assert_eq!(response.status(), status);
        let text = response.text().await.unwrap();
        assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
    }
    let too_large = post(fields.clone(), vec![0; 5 * 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(too_large.status(), 400);
    assert!(too_large.text().await.unwrap().contains("<Code>EntityTooLarge</Code>"));

    let stored = post(fields.clone(), webp.clone()).await.unwrap();
    assert_eq!(stored.status(), 204, "{}", stored.text().await.unwrap());
    assert_eq!(stored.headers()["access-control-allow-origin"], origin.as_str());

    // Only the 640 arrived: the console does not add the image, and says why.
    let added = browser
        .post(
            &page,
            &format!("{page}/images"),
            &[("image", &format!("{id}-1")), ("format", "webp")],
        )
        .await;
    assert_eq!(added.status(), 422);
    assert!(added.text().await.unwrap().contains("did not arrive"));
    let saved = expect_json(
        app.admin(Method::GET, &format!("/admin/products/{id}"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(saved["images"], json!([]));

    // A preflight from the console's origin is allowed, from another refused.
    let preflight = |origin: &str| {
        client
            .request(Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    assert_eq!(preflight(&origin).await.unwrap().status(), 200);
    assert_eq!(preflight("http://elsewhere.example").await.unwrap().status(), 403);
}
