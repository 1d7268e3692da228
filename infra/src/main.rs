//! `shop-local serve`: creates the template's tables and queues in the emulators, then serves
//! the HTTP API and polls the queues. Settings come from the environment (see README).

use std::path::PathBuf;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), shop_local::StartError> {
    lambda_http::tracing::init_default_subscriber();
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let template = PathBuf::from(var("SHOP_TEMPLATE", "template.yaml"));
    let prefix = var("SHOP_RESOURCE_PREFIX", "shop");
    let address = format!("127.0.0.1:{}", var("SHOP_PORT", "3000"));
    let admin_token = std::env::var("SHOP_ADMIN_TOKEN").map_err(|_| "SHOP_ADMIN_TOKEN must be set")?;
    let sdk = shop_platform::aws::sdk_config().await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();

    let stack = shop_local::build_stack(&template, &prefix, admin_token, &sdk).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for mapping in stack.mappings {
        tokio::spawn(shop_local::poller::run(sqs.clone(), mapping, region.clone()));
    }
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!(address = %address, "local gateway serving");
    tokio::select! {
        served = Arc::new(stack.gateway).serve(listener) => served?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
