//! The AWS SDK configuration every function loads once at start.
//!
//! Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...), so the same
//! code talks to AWS in the cloud and to the emulators of the local stack.

/// Loads region, credentials and endpoints the standard way.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// The decrypted value of an SSM SecureString parameter, read once at start.
pub async fn secure_parameter(sdk: &aws_config::SdkConfig, name: &str) -> Result<String, crate::config::ConfigError> {
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            crate::config::ConfigError::new(format!(
                "SSM parameter {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(&e)
            ))
        })?;
    output
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| crate::config::ConfigError::new(format!("SSM parameter {name} has no value")))
}
