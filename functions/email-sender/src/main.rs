use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shop_platform::config::Env;

// Lambda hands an instance one event at a time: one thread, no worker threads to start cold.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shop_platform::logging::init();
    let sdk = shop_platform::aws::sdk_config().await;
    let sender = email_sender::EmailSender::from_env(&Env::from_process(), &sdk)?;
    let sender = &sender;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(sender.handle_batch(event.payload).await)
    }))
    .await
}
