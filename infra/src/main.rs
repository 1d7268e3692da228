//! `shop-local serve`: creates the template's tables and queues in the emulators, then serves
//! each HTTP API of the template on its own port (`SHOP_PORT` for the shop's API,
//! `SHOP_STOREFRONT_PORT` for the storefront's: `gateway::LOCAL_APIS`) and polls the queues.
//! Settings come from the environment (see README).
//!
//! `shop-local env <binary>`: prints, as JSON, the variables the template gives the function
//! built from `<binary>`, resolved to the running stack's resources (what a benchmark needs to
//! start the release binary itself).

use std::path::PathBuf;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), shop_local::StartError> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let template = PathBuf::from(var("SHOP_TEMPLATE", "template.yaml"));
    let prefix = var("SHOP_RESOURCE_PREFIX", "shop");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, binary] = args.as_slice()
        && command == "env"
    {
        return print_env(&template, &prefix, binary).await;
    }
    shop_platform::logging::init();
    let admin_token = std::env::var("SHOP_ADMIN_TOKEN").map_err(|_| "SHOP_ADMIN_TOKEN must be set")?;
    let sdk = shop_platform::aws::sdk_config().await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();

    // The functions' AWS calls go through the enforcing proxy (SHOP_IAM_PORT, or any free port).
    let proxy = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", var("SHOP_IAM_PORT", "0"))).await?;
    let proxy_url = format!("http://{}", proxy.local_addr()?);
    let stack = shop_local::build_stack(&template, &prefix, admin_token, &sdk, &proxy_url).await?;
    tokio::spawn(Arc::new(stack.enforcer).serve(proxy));
    tracing::info!(address = %proxy_url, "IAM proxy serving");
    // Lambda's event source mapping polls with the service's own rights, not the function's.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for mapping in stack.mappings {
        tokio::spawn(shop_local::poller::run(sqs.clone(), mapping, region.clone()));
    }
    // EventBridge's schedules, each with its template's `Input`, faster than in AWS:
    // `rate(5 minutes)` runs every SHOP_SCHEDULE_SECONDS (60), `rate(1 hour)` 12 times as long.
    let five_minutes: u64 = var("SHOP_SCHEDULE_SECONDS", "60").parse().unwrap_or(60);
    for (function, handler, schedules) in stack.scheduled {
        for schedule in schedules {
            let every = std::time::Duration::from_secs((schedule.every_seconds * five_minutes / 300).max(1));
            let (function, handler) = (function.clone(), Arc::clone(&handler));
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    ticks.tick().await;
                    let answer = handler.run(&schedule.input).await;
                    tracing::info!(function, input = %schedule.input, %answer, "scheduled run");
                }
            });
        }
    }
    // Every API's port is taken before any answers, so one that answers means all do.
    let mut listeners = Vec::new();
    for (api, gateway) in stack.gateways {
        let address = format!("127.0.0.1:{}", api.port()?);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|error| format!("{} on {address}: {error}", api.name()))?;
        tracing::info!(api = api.name(), address = %address, "local gateway serving");
        listeners.push((gateway, listener));
    }
    let mut served = tokio::task::JoinSet::new();
    for (gateway, listener) in listeners {
        served.spawn(Arc::new(gateway).serve(listener));
    }
    tokio::select! {
        Some(ended) = served.join_next() => ended??,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}

/// Prints the template's variables of the function built from `binary`, resolved.
async fn print_env(template: &std::path::Path, prefix: &str, binary: &str) -> Result<(), shop_local::StartError> {
    let sdk = shop_platform::aws::sdk_config().await;
    let loaded = shop_local::template::Template::load(template)?;
    // Creating the stack's resources again is a no-op that answers their local names.
    let context = shop_local::bootstrap::create_resources(&loaded, prefix, &sdk).await?;
    let function = loaded
        .functions()?
        .into_iter()
        .find(|f| f.binary == binary)
        .ok_or_else(|| format!("no function of the template builds {binary}"))?;
    let vars = shop_local::template_vars(&function, &context)?;
    println!("{}", serde_json::to_string(&vars)?);
    Ok(())
}
