//! One Lambda function, two kinds of event: API Gateway requests (subscribers, unsubscribe, the
//! merchant's campaign routes) and SQS batches (the campaign queue, SES events), told apart by
//! their shape.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Error, LambdaEvent, Service};
use shop_platform::config::Env;

// Lambda hands an instance one event at a time: one thread, no worker threads to start cold.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shop_platform::logging::init();
    let sdk = shop_platform::aws::sdk_config().await;
    let campaign = email_campaign::EmailCampaign::from_env(&Env::from_process(), &sdk)?;
    let campaign = &campaign;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let LambdaEvent { payload, context } = event;
            if payload.get("Records").is_some() {
                let batch: SqsEvent = serde_json::from_value(payload)?;
                return Ok::<_, Error>(serde_json::to_value(campaign.handle_batch(batch).await)?);
            }
            let request: LambdaRequest = serde_json::from_value(payload)?;
            let mut http = Adapter::from(lambda_http::service_fn(move |request| async move {
                Ok::<_, Error>(campaign.handle(request).await)
            }));
            let response = http.call(LambdaEvent::new(request, context)).await?;
            Ok(serde_json::to_value(response)?)
        },
    ))
    .await
}
