//! The AWS SDK configuration every function loads once at start.
//!
//! Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...), so the same
//! code talks to AWS in the cloud and to the emulators of the local stack.

use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use base64::Engine as _;

/// Loads region, credentials and endpoints the standard way, with [`https_client`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's default HTTPS client (hyper, rustls on aws-lc, proxies from the environment),
/// trusting the AWS roots among the Mozilla root certificates compiled into the binary
/// (`webpki-root-certs`) instead of the system's store.
///
/// The default client reads the system's store when it sets up its first connection: a bundle
/// and, where the system keeps one, every file of its certificate directory. `make bench`
/// measured what that costs a cold start (bench/results.md, the browse experiments). Where
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set (a private CA, a proxy), the system's store is used
/// as before.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    let system_store = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    https_client_trusting(system_store)
}

fn https_client_trusting(system_store: bool) -> aws_sdk_dynamodb::config::SharedHttpClient {
    let trust = if system_store {
        TrustStore::default()
    } else {
        compiled_in_roots()
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "compiled-in root certificates refused; using the system's");
            TlsContext::default()
        });
    // As the SDK's `default_https_client` builds its connector, but for the trust store.
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The roots AWS's endpoints chain to: Amazon Trust Services' four and the Starfield root that
/// cross-signs them (<https://www.amazontrust.com/repository/>). The SDK's client talks to AWS
/// alone (Stripe has its own), so it trusts these and no other CA: verification is as strict as
/// with the whole Mozilla list, and the trust store it parses at every cold start is five
/// certificates, not some 150 (parsing those was half of a cold start's instructions,
/// bench/results.md). Matched by the name each root's certificate carries as its subject.
const AWS_ROOTS: [&[u8]; 5] = [
    b"Amazon Root CA 1",
    b"Amazon Root CA 2",
    b"Amazon Root CA 3",
    b"Amazon Root CA 4",
    b"Starfield Services Root Certificate Authority - G2",
];

/// How far into a root's DER its name is looked for: a root is its own issuer, and the issuer
/// comes before the validity, the subject and the key (the AWS roots' names end by byte 190).
const NAME_WITHIN: usize = 256;

/// The compiled-in Mozilla roots that are [`AWS_ROOTS`], found at every cold start: the search
/// reads each root's first [`NAME_WITHIN`] bytes, not all of it.
fn aws_roots() -> impl Iterator<Item = &'static [u8]> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| cert.as_ref())
        .filter(|der| {
            let head = &der[..der.len().min(NAME_WITHIN)];
            AWS_ROOTS.iter().any(|name| memchr::memmem::find(head, name).is_some())
        })
}

/// The AWS roots as the PEM the SDK's trust store takes.
fn compiled_in_roots() -> TrustStore {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut pem = String::with_capacity(AWS_ROOTS.len() * 2048);
    for cert in aws_roots() {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64.encode(cert));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    TrustStore::empty().with_pem_certificate(pem.into_bytes())
}

/// A secret setting, read once at start: the variable `direct` when set (the local stack,
/// tests), else the SSM SecureString parameter the variable `parameter` names (as deployed).
pub async fn secret_setting(
    env: &crate::config::Env,
    sdk: &aws_config::SdkConfig,
    direct: &str,
    parameter: &str,
) -> Result<secrecy::SecretString, crate::config::ConfigError> {
    if let Some(secret) = env.secret(direct) {
        return Ok(secret);
    }
    match env.get(parameter).filter(|name| !name.is_empty()) {
        Some(name) => secure_parameter(sdk, name).await,
        None => Err(crate::config::ConfigError::new(format!("set {direct} or {parameter}"))),
    }
}

/// The decrypted value of an SSM SecureString parameter, read once at start.
pub async fn secure_parameter(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<secrecy::SecretString, crate::config::ConfigError> {
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
        .map(secrecy::SecretString::from)
        .ok_or_else(|| crate::config::ConfigError::new(format!("SSM parameter {name} has no value")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::{Credentials, Region, retry::RetryConfig};
    use aws_sdk_dynamodb::error::SdkError;

    #[test]
    fn the_sdk_trusts_the_five_roots_aws_endpoints_chain_to_and_no_other() {
        let roots: Vec<&[u8]> = aws_roots().collect();
        assert_eq!(roots.len(), AWS_ROOTS.len(), "each AWS root once");
        for name in AWS_ROOTS {
            let holding = roots
                .iter()
                .filter(|der| der.windows(name.len()).any(|window| window == name))
                .count();
            assert_eq!(holding, 1, "{}", String::from_utf8_lossy(name));
        }
        assert!(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100,
            "the others are left out"
        );
    }

    /// The SDK reads the trust store when it starts a TLS handshake, and panics on a certificate
    /// it cannot read: every compiled-in root must be one it reads. (The server here hangs up at
    /// once, so the call then fails.)
    #[tokio::test]
    async fn the_sdk_sets_up_tls_from_the_compiled_in_roots() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("its address").port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client_trusting(false))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .load()
            .await;
        let error = aws_sdk_dynamodb::Client::new(&sdk)
            .list_tables()
            .send()
            .await
            .expect_err("the server hangs up");
        assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    }
}
