use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shop_platform::config::Env;

// Lambda hands an instance one event at a time: one thread, no worker threads to start cold.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shop_platform::logging::init();
    let sdk = shop_platform::aws::sdk_config().await;
    let sweeper = sweeper::Sweeper::from_env(&Env::from_process(), &sdk).await?;
    let sweeper = &sweeper;
    // The schedule's event names the job (`{"job": "reconcile"}`, else a sweep); the rest it
    // reads from the table and Stripe.
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(sweeper.run_for(&event.payload).await)
    }))
    .await
}
