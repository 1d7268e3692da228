//! Search engines and shopping feeds reading the catalog through the gateway: the sitemap, the
//! Merchant Center feed and the product's schema.org data, read as XML and JSON, not as text.

use roxmltree::{Document, Node};
use serde_json::{Value, json};
use shop_platform::clock::{Clock, SystemClock, rfc3339};
use shop_tests::{TestApp, problem, product, seed_catalog, unique};
use std::collections::HashMap;

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const GOOGLE_NS: &str = "http://base.google.com/ns/1.0";

/// The storefront base the shop links to: `StorefrontUrl` when the stack sets it
/// (`SHOP_PARAM_StorefrontUrl`), else the bundled storefront's (`SHOP_STOREFRONT_URL`).
fn storefront() -> String {
    std::env::var("SHOP_PARAM_StorefrontUrl")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(shop_tests::storefront_url)
}

/// `GET path`, expecting 200 with an XML body that may be cached.
async fn get_xml(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/xml", "GET {path}");
    assert!(header("cache-control").starts_with("public, max-age="), "GET {path}");
    assert!(!header("etag").is_empty(), "GET {path}");
    response.text().await.expect("an XML body")
}

/// The text of the child `name` (in namespace `ns`) of `node`.
fn child_text<'a>(node: Node<'a, '_>, ns: &str, name: &str) -> Option<&'a str> {
    node.children()
        .find(|child| child.has_tag_name((ns, name)))
        .and_then(|child| child.text())
}

/// Every `<url>` of a urlset: `loc -> lastmod`.
fn sitemap_urls(xml: &str) -> HashMap<String, Option<String>> {
    let document = Document::parse(xml).expect("the sitemap is well-formed XML");
    let root = document.root_element();
    assert!(
        root.has_tag_name((SITEMAP_NS, "urlset")),
        "a catalog this small is one urlset"
    );
    root.children()
        .filter(|node| node.has_tag_name((SITEMAP_NS, "url")))
        .map(|url| {
            let loc = child_text(url, SITEMAP_NS, "loc").expect("every url has a loc");
            (
                loc.to_owned(),
                child_text(url, SITEMAP_NS, "lastmod").map(str::to_owned),
            )
        })
        .collect()
}

/// A W3C datetime as the shop writes it: `2026-11-27T15:00:00Z`.
fn is_w3c_datetime(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 20
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// A feed item's `g:` fields, by local name.
fn feed_items(xml: &str) -> Vec<HashMap<String, String>> {
    let document = Document::parse(xml).expect("the feed is well-formed XML");
    let rss = document.root_element();
    assert!(rss.has_tag_name("rss") && rss.attribute("version") == Some("2.0"));
    let channel = rss
        .children()
        .find(|node| node.has_tag_name("channel"))
        .expect("the feed has a channel");
    channel
        .children()
        .filter(|node| node.has_tag_name("item"))
        .map(|item| {
            item.children()
                .filter(|field| field.tag_name().namespace() == Some(GOOGLE_NS))
                .map(|field| {
                    (
                        field.tag_name().name().to_owned(),
                        field.text().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

/// A product of two variants, one sold out, with a brand, an image and texts XML must escape.
fn lantern(id: &str) -> Value {
    let mut row = product(id, &unique("seo"), "Brass & Glass <Lantern>", &[]);
    row["description"] = json!("Warm light for \"long\" evenings & quiet <nights>.");
    row["images"] = json!([
        format!("https://img.example/{id}.jpg?w=800&h=800"),
        "https://img.example/second.jpg"
    ]);
    row["attributes"] = json!({"brand": "Lumen & Co"});
    row["variants"] = json!([
        {"sku": unique("LAN-S"), "options": {"size": "S"}, "price": {"amount": 1500, "currency": "usd"}, "available": 4},
        {"sku": unique("LAN-L"), "options": {"size": "L"}, "price": {"amount": 2999, "currency": "usd"}, "available": 0}
    ]);
    row
}

#[tokio::test]
async fn the_sitemap_lists_every_category_and_product_page_with_when_it_last_changed() {
    let app = TestApp::new();
    let id = unique("mapped");
    let before = rfc3339(SystemClock.now());
    app.import(vec![lantern(&id)]).await;

    let urls = sitemap_urls(&get_xml(&app, "/sitemap.xml").await);
    let base = storefront();
    let seeded = seed_catalog();
    let slugs = seeded["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .chain([id.clone()]);
    for slug in slugs {
        let loc = format!("{base}/products/{slug}");
        let lastmod = urls
            .get(&loc)
            .unwrap_or_else(|| panic!("{loc} is missing from the sitemap"));
        let lastmod = lastmod.as_deref().unwrap_or_else(|| panic!("{loc} has no lastmod"));
        assert!(is_w3c_datetime(lastmod), "{loc}: lastmod {lastmod}");
    }
    let ours = urls[&format!("{base}/products/{id}")].clone().unwrap_or_default();
    assert!(
        ours >= before,
        "a product imported now was last changed now: {ours} < {before}"
    );

    let categories = app.get_json("/categories").await;
    for category in categories["items"].as_array().unwrap() {
        let loc = format!("{base}/categories/{}", category["slug"].as_str().unwrap());
        let lastmod = urls
            .get(&loc)
            .unwrap_or_else(|| panic!("{loc} is missing from the sitemap"));
        assert!(
            lastmod.as_deref().is_some_and(is_w3c_datetime),
            "{loc}: lastmod {lastmod:?}"
        );
    }
}

#[tokio::test]
async fn a_sitemap_page_past_the_last_is_not_found_and_a_page_that_is_no_number_is_refused() {
    let app = TestApp::new();
    problem(app.get("/sitemap.xml?page=2").await, 404).await;
    problem(app.get("/sitemap.xml?page=two").await, 400).await;
    // A catalog within one file is its own page 1.
    let page_one = sitemap_urls(&get_xml(&app, "/sitemap.xml?page=1").await);
    assert!(page_one.contains_key(&format!("{}/products/merino-crew-sweater", storefront())));
}

#[tokio::test]
async fn the_google_feed_has_one_item_per_variant_with_price_stock_and_links() {
    let app = TestApp::new();
    let id = unique("fed");
    let row = lantern(&id);
    app.import(vec![row.clone()]).await;

    let items = feed_items(&get_xml(&app, "/feeds/google.xml").await);
    for item in &items {
        for field in [
            "id",
            "item_group_id",
            "title",
            "description",
            "link",
            "availability",
            "price",
            "brand",
            "condition",
        ] {
            assert!(
                item.get(field).is_some_and(|value| !value.is_empty()),
                "an item lacks g:{field}: {item:?}"
            );
        }
    }
    let by_sku: HashMap<&str, &HashMap<String, String>> =
        items.iter().map(|item| (item["id"].as_str(), item)).collect();
    assert_eq!(by_sku.len(), items.len(), "one item per SKU");

    let seeded = seed_catalog();
    for seeded_product in seeded["products"].as_array().unwrap() {
        for variant in seeded_product["variants"].as_array().unwrap() {
            let sku = variant["sku"].as_str().unwrap();
            let item = by_sku
                .get(sku)
                .unwrap_or_else(|| panic!("{sku} is missing from the feed"));
            assert_eq!(item["item_group_id"], seeded_product["id"].as_str().unwrap());
        }
    }

    let base = storefront();
    let ours: Vec<_> = items.iter().filter(|item| item["item_group_id"] == id).collect();
    assert_eq!(ours.len(), 2, "one item per variant");
    let (small, large) = (&row["variants"][0], &row["variants"][1]);
    let small = by_sku[small["sku"].as_str().unwrap()];
    let large = by_sku[large["sku"].as_str().unwrap()];
    assert_eq!(small["title"], "Brass & Glass <Lantern> (S)");
    assert_eq!(
        small["description"],
        "Warm light for \"long\" evenings & quiet <nights>."
    );
    assert_eq!(small["link"], format!("{base}/products/{id}"));
    assert_eq!(small["image_link"], format!("https://img.example/{id}.jpg?w=800&h=800"));
    assert_eq!(small["brand"], "Lumen & Co");
    assert_eq!(small["condition"], "new");
    assert_eq!(
        (small["availability"].as_str(), small["price"].as_str()),
        ("in_stock", "15.00 USD")
    );
    assert_eq!(
        (large["availability"].as_str(), large["price"].as_str()),
        ("out_of_stock", "29.99 USD")
    );
}

#[tokio::test]
async fn a_product_without_a_brand_of_its_own_carries_the_store_s_name() {
    let app = TestApp::new();
    let id = unique("unbranded");
    let sku = unique("PLAIN");
    app.import(vec![product(&id, &unique("seo"), "Plain Item", &[&sku])])
        .await;
    let store = app.get_json("/store").await;
    let items = feed_items(&get_xml(&app, "/feeds/google.xml").await);
    let item = items
        .iter()
        .find(|item| item["id"] == sku)
        .expect("the new SKU is in the feed");
    assert_eq!(item["brand"], store["name"].as_str().unwrap());
    assert!(
        !item.contains_key("image_link"),
        "a product without images has no image link"
    );
}

#[tokio::test]
async fn product_text_with_control_characters_is_refused_and_the_feed_stays_xml() {
    let app = TestApp::new();
    let id = unique("controlled");
    let mut row = lantern(&id);
    row["title"] = json!("Lantern\u{1}");
    row["description"] = json!("Bright\u{0b}light");
    row["attributes"] = json!({"brand": "Lumen\u{2028}Co"});
    row["variants"][0]["options"] = json!({"size": "S\u{7f}"});
    let report = app.import(vec![row]).await;
    let fields: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["title", "description", "attributes.brand", "variants[0].options.size"],
        "{report}"
    );
    assert_eq!(report["imported"], 0);
    let put = app
        .admin(reqwest::Method::PUT, &format!("/admin/products/{id}"), &{
            let mut row = lantern(&id);
            row["title"] = json!("Two\nlines");
            row
        })
        .await;
    assert_eq!(problem(put, 422).await["errors"][0]["field"], "title");
    assert_eq!(
        app.get(&format!("/products/{id}")).await.status(),
        404,
        "nothing was written"
    );
    // What is allowed, however odd, is read back as written by an XML parser.
    let odd = unique("odd");
    let mut row = lantern(&odd);
    row["title"] = json!("Œuvre \"No. 5\" — <b>&amp;</b> ' 🕯");
    app.import(vec![row.clone()]).await;
    let items = feed_items(&get_xml(&app, "/feeds/google.xml").await);
    let sku = row["variants"][0]["sku"].as_str().unwrap();
    let item = items
        .iter()
        .find(|item| item["id"] == sku)
        .expect("the odd product is in the feed");
    assert_eq!(item["title"], "Œuvre \"No. 5\" — <b>&amp;</b> ' 🕯 (S)");
    assert!(sitemap_urls(&get_xml(&app, "/sitemap.xml").await).len() > 1);
}

#[tokio::test]
async fn a_product_answer_carries_its_schema_org_product_and_keeps_its_fields() {
    let app = TestApp::new();
    let id = unique("structured");
    let row = lantern(&id);
    app.import(vec![row.clone()]).await;
    let answer = app.get_json(&format!("/products/{id}")).await;
    for field in [
        "id",
        "slug",
        "title",
        "description",
        "category",
        "tags",
        "images",
        "attributes",
        "variants",
    ] {
        assert_eq!(answer[field], row[field], "{field} is as the merchant wrote it");
    }
    assert_eq!(answer["price_from"]["amount"], 1500);
    assert_eq!(answer["in_stock"], true);

    let ld = &answer["json_ld"];
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["@type"], "Product");
    assert_eq!(ld["name"], row["title"]);
    assert_eq!(ld["description"], row["description"]);
    assert_eq!(ld["image"], row["images"]);
    assert!(ld["sku"].is_string());
    let offers = ld["offers"].as_array().expect("offers");
    assert_eq!(offers.len(), 2, "one offer per variant");
    let url = format!("{}/products/{id}", storefront());
    let expected = [
        (&row["variants"][0]["sku"], "15.00", "https://schema.org/InStock"),
        (&row["variants"][1]["sku"], "29.99", "https://schema.org/OutOfStock"),
    ];
    for (offer, (sku, price, availability)) in offers.iter().zip(expected) {
        assert_eq!(offer["@type"], "Offer");
        assert_eq!(&offer["sku"], sku);
        assert_eq!(offer["price"], price);
        assert_eq!(offer["priceCurrency"], "USD");
        assert_eq!(offer["availability"], availability);
        assert_eq!(offer["url"], url.as_str());
    }
}
