//! The AWS SDK configuration every function loads once at start.
//!
//! Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...), so the same
//! code talks to AWS in the cloud and to the emulators of the local stack.

/// Loads region, credentials and endpoints the standard way.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}
