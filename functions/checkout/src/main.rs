use lambda_http::{Error, run, service_fn};
use shop_platform::config::Env;

// Lambda hands an instance one event at a time: one thread, no worker threads to start cold.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shop_platform::logging::init();
    let sdk = shop_platform::aws::sdk_config().await;
    let checkout = checkout::Checkout::from_env(&Env::from_process(), &sdk).await?;
    let checkout = &checkout;
    run(service_fn(move |request| async move {
        Ok::<_, Error>(checkout.handle(request).await)
    }))
    .await
}
