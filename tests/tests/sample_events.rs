//! The sample events in events/ are what `cargo lambda invoke --data-file` and
//! `sam local invoke -e` send: each must be a request its function serves, on a route the
//! template gives that function, and answered without a fault.

use shop_local::template::Template;
use shop_platform::HttpFunction;
use shop_platform::config::Env;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn every_sample_event_is_a_route_of_its_function_and_is_answered() {
    let template = Template::load(&root().join("template.yaml")).unwrap();
    let functions = template.functions().unwrap();
    let sdk = shop_platform::aws::sdk_config().await;
    let env = Env::from_process();
    let mut checked = 0;
    for function in &functions {
        let folder = root().join("events").join(&function.binary);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            panic!(
                "events/{} is missing: every function has sample events",
                function.binary
            );
        };
        let handler: Box<dyn HttpFunction> = match function.binary.as_str() {
            "browse" => Box::new(browse::Browse::from_env(&env, &sdk).unwrap()),
            "admin" => Box::new(admin::Admin::from_env(&env, &sdk).unwrap()),
            other => panic!("no sample-event check for {other}"),
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            let route_key = event["routeKey"].as_str().unwrap().to_owned();
            assert!(
                function
                    .routes
                    .iter()
                    .any(|r| format!("{} {}", r.method, r.path) == route_key),
                "{}: {route_key} is not a route of {}",
                path.display(),
                function.logical_id
            );
            let request = lambda_http::request::from_str(&text).unwrap();
            let response = handler.handle(request).await;
            assert!(
                response.status().is_success(),
                "{}: answered {}",
                path.display(),
                response.status()
            );
            checked += 1;
        }
    }
    assert!(checked >= functions.len());
}
