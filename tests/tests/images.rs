//! The product images on the shop's own origin: the demo catalog's images live in the template's
//! `ProductImagesBucket` (infra/local/stack.py uploads infra/seed/images/ into it), the
//! storefront answers them at `/images/<file>` for a year of caching, and no page, answer or
//! feed of the seeded shop points at an outside host. A file the merchant puts under
//! `well-known/` in the same bucket (Apple Pay's domain association) is answered at
//! `/.well-known/<file>`.

use reqwest::{Client, Response, header};
use serde_json::Value;
use shop_tests::{TestApp, seed_catalog, storefront_url};

/// Where the shop's links point (seo.rs reads it the same way).
fn storefront() -> String {
    std::env::var("SHOP_PARAM_StorefrontUrl")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(storefront_url)
}

async fn get(path: &str, if_none_match: Option<&str>) -> Response {
    let mut request = Client::new().get(format!("{}{path}", storefront_url()));
    if let Some(etag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    request.send().await.expect("the storefront answers")
}

fn text_header(response: &Response, name: header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn seeded_products() -> Vec<Value> {
    seed_catalog()["products"].as_array().expect("products").clone()
}

#[tokio::test]
async fn a_seeded_products_image_comes_from_the_storefront_cached_for_a_year() {
    let app = TestApp::new();
    let first = &seeded_products()[0];
    let id = first["id"].as_str().unwrap();
    let product = app.get_json(&format!("/products/{id}")).await;
    let image = product["images"][0]
        .as_str()
        .expect("the product has an image")
        .to_owned();
    assert_eq!(image, format!("/images/{id}-1-640.png"));

    let answer = get(&image, None).await;
    assert_eq!(answer.status(), 200, "{image}");
    assert_eq!(text_header(&answer, header::CONTENT_TYPE), "image/png");
    assert_eq!(
        text_header(&answer, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(text_header(&answer, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(
        !answer.headers().contains_key(header::SET_COOKIE),
        "an image sets no cookie (a CDN may share it)"
    );
    let etag = text_header(&answer, header::ETAG);
    assert!(etag.starts_with('"') && etag.len() > 2, "an ETag: {etag:?}");
    let bytes = answer.bytes().await.expect("the image's bytes");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/seed/images/");
    let on_disk = std::fs::read(format!("{file}{id}-1-640.png")).expect("the seed image");
    assert_eq!(bytes.as_ref(), on_disk.as_slice(), "the bytes as uploaded");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let again = get(&image, Some(&etag)).await;
    assert_eq!(again.status(), 304, "the browser's copy is still good");
    assert_eq!(text_header(&again, header::ETAG), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    // The smaller width pages put in srcset, by the naming scheme.
    let small = get(&image.replace("-640.png", "-320.png"), None).await;
    assert_eq!(small.status(), 200);
    assert_eq!(text_header(&small, header::CONTENT_TYPE), "image/png");
}

#[tokio::test]
async fn a_name_that_is_not_an_image_of_the_bucket_is_not_found() {
    for path in [
        "/images/no-such-product-1-640.png",
        "/images/..%2Fcatalog.json",
        "/images/a..png",
        "/images/.png",
        "/images/page.html",
        "/images/a%20b.png",
        "/images/merino-crew-sweater-1-640.png.html",
    ] {
        let answer = get(path, None).await;
        assert_eq!(answer.status(), 404, "{path}");
        assert!(
            text_header(&answer, header::CONTENT_TYPE).starts_with("text/html"),
            "{path}: the storefront's own 404 page"
        );
    }
}

#[tokio::test]
async fn no_seeded_product_names_an_outside_host() {
    let app = TestApp::new();
    let storefront = storefront();
    for row in seeded_products() {
        let images = row["images"].as_array().expect("images");
        assert!(!images.is_empty(), "{}: the demo shows each product", row["id"]);
        for image in images {
            let image = image.as_str().unwrap();
            assert!(image.starts_with("/images/"), "{}: {image}", row["id"]);
        }
    }
    let first = &seeded_products()[0];
    let id = first["id"].as_str().unwrap();
    let product = app.get_json(&format!("/products/{id}")).await;
    assert_eq!(product["images"], first["images"], "stored as the merchant wrote them");
    let ld_images: Vec<&str> = product["json_ld"]["image"]
        .as_array()
        .expect("json_ld images")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        ld_images,
        [
            format!("{storefront}/images/{id}-1-640.png"),
            format!("{storefront}/images/{id}-2-640.png")
        ],
        "search engines are given the absolute address"
    );
    let feed = app.get("/feeds/google.xml").await.text().await.unwrap();
    assert!(
        feed.contains(&format!(
            "<g:image_link>{storefront}/images/{id}-1-640.png</g:image_link>"
        )),
        "the feed links the image on the storefront"
    );

    let slug = first["slug"].as_str().unwrap();
    // The product's page (a listing may show products other tests imported, with images of
    // their own elsewhere).
    for path in [format!("/products/{slug}")] {
        // The page's HTML escapes `/` in attribute values.
        let page = get(&path, None).await.text().await.unwrap().replace("&#x2f;", "/");
        assert!(!page.contains("picsum.photos"), "{path}");
        assert!(
            page.contains(&format!("/images/{id}-1-")),
            "{path} shows the shop's own image"
        );
        for attribute in ["src=\"", "srcset=\""] {
            for value in page.split(attribute).skip(1) {
                assert!(
                    value.starts_with('/'),
                    "{path}: {attribute}{} asks another host",
                    &value[..value.len().min(80)]
                );
            }
        }
    }
}

/// Puts `body` at `key` in the stack's images bucket, as the merchant's `aws s3 cp` would.
async fn put_object(key: &str, body: &str) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3").expect("the stack's S3 endpoint");
    let bucket = std::env::var("SHOP_IMAGES_BUCKET").expect("the stack's images bucket");
    let answer = Client::new()
        .put(format!("{endpoint}/{bucket}/{key}"))
        .body(body.to_owned())
        .send()
        .await
        .expect("S3 answers");
    assert!(answer.status().is_success(), "{}", answer.status());
}

#[tokio::test]
async fn the_merchants_domain_association_file_is_answered_from_the_well_known_folder() {
    const NAME: &str = "apple-developer-merchantid-domain-association";
    let missing = get(&format!("/.well-known/{NAME}-none"), None).await;
    assert_eq!(missing.status(), 404, "no file, not found");
    assert!(text_header(&missing, header::CONTENT_TYPE).starts_with("text/html"));

    let content = format!("7B22{}", shop_tests::unique("association"));
    put_object(&format!("well-known/{NAME}"), &content).await;
    let answer = get(&format!("/.well-known/{NAME}"), None).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(text_header(&answer, header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(text_header(&answer, header::CACHE_CONTROL), "public, max-age=3600");
    let etag = text_header(&answer, header::ETAG);
    assert_eq!(answer.text().await.unwrap(), content);
    assert_eq!(get(&format!("/.well-known/{NAME}"), Some(&etag)).await.status(), 304);

    // Only the folder's own files: nothing else of the bucket is reached through it.
    for other in ["..%2Fwell-known%2Fx", ".hidden", "a%2Fb"] {
        assert_eq!(
            get(&format!("/.well-known/{other}"), None).await.status(),
            404,
            "{other}"
        );
    }
    let image = &seeded_products()[0]["id"];
    let image = format!("/.well-known/..%2F{}-1-640.png", image.as_str().unwrap());
    assert_eq!(get(&image, None).await.status(), 404);
}
