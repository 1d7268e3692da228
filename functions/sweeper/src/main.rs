use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shop_platform::config::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_platform::logging::init();
    let sdk = shop_platform::aws::sdk_config().await;
    let sweeper = sweeper::Sweeper::from_env(&Env::from_process(), &sdk).await?;
    let sweeper = &sweeper;
    // The schedule's event says nothing the sweep needs: it looks at the table itself.
    run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(sweeper.sweep().await)
    }))
    .await
}
