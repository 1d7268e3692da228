//! Every storefront address the shop hands out answers: each `<loc>` of the sitemap, each
//! product `<link>` of the shopping feed and each product page's JSON-LD `url` open a page with
//! `200` and HTML, and the page's canonical link is that address.

use futures::StreamExt;
use reqwest::Client;
use roxmltree::Document;
use shop_tests::{TestApp, storefront_url};

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

async fn fetch_text(client: &Client, url: &str) -> (u16, String, String) {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.text().await.unwrap_or_default())
}

/// The `href` of the page's `<link rel="canonical">`, with the escapes undone.
fn canonical(html: &str) -> Option<String> {
    let at = html.find(r#"<link rel="canonical" href=""#)? + r#"<link rel="canonical" href=""#.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].replace("&#x2f;", "/").replace("&amp;", "&"))
}

#[tokio::test]
async fn every_sitemap_feed_and_structured_data_link_opens_its_page() {
    let app = TestApp::new();
    let client = Client::new();
    let base = storefront_url();

    let sitemap = app.get("/sitemap.xml").await.text().await.unwrap();
    let document = Document::parse(&sitemap).expect("the sitemap is XML");
    let mut links: Vec<String> = document
        .descendants()
        .filter(|node| node.has_tag_name((SITEMAP_NS, "loc")))
        .filter_map(|node| node.text().map(str::to_owned))
        .collect();
    assert!(links.len() > 10, "the demo catalog's pages are in the sitemap");

    let feed = app.get("/feeds/google.xml").await.text().await.unwrap();
    let document = Document::parse(&feed).expect("the feed is XML");
    links.extend(
        document
            .descendants()
            .filter(|node| node.has_tag_name("link") && node.parent().is_some_and(|p| p.has_tag_name("item")))
            .filter_map(|node| node.text().map(str::to_owned)),
    );
    let product: serde_json::Value = app.get("/products/merino-crew-sweater").await.json().await.unwrap();
    let structured = product["json_ld"]["url"]
        .as_str()
        .expect("the JSON-LD names the product's page");
    links.push(structured.to_owned());
    links.sort();
    links.dedup();

    for link in &links {
        assert!(link.starts_with(&base), "{link} is on the storefront ({base})");
    }
    let results: Vec<(String, (u16, String, String))> = futures::stream::iter(links.clone())
        .map(|link| {
            let client = client.clone();
            async move {
                let answer = fetch_text(&client, &link).await;
                (link, answer)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (link, (status, kind, html)) in results {
        assert_eq!(status, 200, "GET {link}");
        assert!(kind.starts_with("text/html"), "GET {link}: {kind}");
        assert_eq!(
            canonical(&html).as_deref(),
            Some(link.as_str()),
            "the canonical link of {link}"
        );
    }
}
