//! The published contract: openapi.yaml names every route of the shop API in template.yaml and
//! no other, openapi.json (what `GET /openapi.json` serves) is exactly openapi.yaml, and the API
//! serves it cacheably. Schemathesis (`make test`) checks the answers against it.

use serde_json::Value;
use shop_local::template::Template;
use shop_tests::TestApp;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The API the description is of; the storefront's and console's pages are not in it.
const SHOP_API: &str = "ShopApi";
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spec_from_yaml() -> Value {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

/// `METHOD /path` of every operation of a description.
fn operations(spec: &Value) -> BTreeSet<String> {
    let paths = spec["paths"].as_object().expect("the description has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect()
}

/// `METHOD /path` of every route of the shop API in template.yaml.
fn template_routes() -> BTreeSet<String> {
    let template = Template::load(&root().join("template.yaml")).expect("template.yaml");
    template
        .functions()
        .expect("the template's functions")
        .into_iter()
        .flat_map(|function| function.routes)
        .filter(|route| route.api == SHOP_API)
        .map(|route| format!("{} {}", route.method, route.path))
        .collect()
}

#[test]
fn every_route_of_the_shop_api_is_described_and_nothing_else() {
    let described = operations(&spec_from_yaml());
    let routed = template_routes();
    let undescribed: Vec<_> = routed.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        undescribed.is_empty() && unrouted.is_empty(),
        "template.yaml's routes missing from openapi.yaml: {undescribed:?}; \
         openapi.yaml's operations template.yaml does not route: {unrouted:?}"
    );
}

#[test]
fn openapi_json_is_generated_from_openapi_yaml() {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("openapi.json")).expect("openapi.json"))
            .expect("openapi.json is JSON");
    assert!(
        json == spec_from_yaml(),
        "openapi.json differs from openapi.yaml: run `.venv/bin/python infra/local/openapi_json.py`"
    );
}

#[test]
fn every_operation_has_an_id_and_every_admin_route_its_credentials() {
    let spec = spec_from_yaml();
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(*method) else { continue };
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            if path.starts_with("/admin/") {
                let schemes: Vec<_> = operation["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .flat_map(|requirement| requirement.keys())
                    .collect();
                assert!(
                    schemes.iter().any(|s| *s == "awsSigV4") && schemes.iter().any(|s| *s == "adminToken"),
                    "{method} {path} must name the admin credentials, has {schemes:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_api_serves_its_description_cacheably() {
    let app = TestApp::new();
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/json");
    assert!(
        header("cache-control").starts_with("public, max-age="),
        "{}",
        header("cache-control")
    );
    let etag = header("etag");
    assert!(!etag.is_empty());
    let served: Value = response.json().await.expect("a JSON body");
    assert_eq!(served, spec_from_yaml());
    let again = app
        .client
        .get(format!("{}/openapi.json", app.api))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("the API answers");
    assert_eq!(again.status(), 304);
}
