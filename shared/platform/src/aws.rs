//! The AWS SDK configuration every function loads once at start.
//!
//! Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...), so the same
//! code talks to AWS in the cloud and to the emulators of the local stack.

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Loads region, credentials and endpoints the standard way, with [`https_client`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .credentials_provider(EnvironmentFirst::default())
        .load()
        .await
}

/// Credentials as Lambda hands them over (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), else the SDK's default chain, built the first time the environment has
/// none (an operator's profile, a container's role). The default chain looks in the environment
/// first too, so the credentials found are the same; but building it makes an STS client and
/// two IMDS clients, an eighth of a cold start's instructions, which Lambda never needs.
#[derive(Debug, Default)]
struct EnvironmentFirst {
    environment: aws_config::environment::EnvironmentVariableCredentialsProvider,
    default_chain: tokio::sync::OnceCell<Option<SharedCredentialsProvider>>,
}

impl ProvideCredentials for EnvironmentFirst {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self.environment.provide_credentials().await {
                Err(CredentialsError::CredentialsNotLoaded(_)) => {}
                found => return found,
            }
            let chain = self
                .default_chain
                .get_or_init(|| async {
                    aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .http_client(https_client())
                        .load()
                        .await
                        .credentials_provider()
                })
                .await;
            match chain {
                Some(chain) => chain.provide_credentials().await,
                None => Err(CredentialsError::not_loaded("no credentials provider")),
            }
        })
    }
}

/// The SDK's HTTPS client: the shop's own ([`crate::https`]: hyper, rustls on aws-lc, pooled),
/// trusting the roots AWS's endpoints chain to as `webpki-roots` compiles them in, ready-made
/// trust anchors, so a cold start parses no certificate. (The SDK's own client takes its roots
/// as PEM and decodes them at every cold start: a tenth of a cold start's instructions,
/// bench/results.md.)
///
/// Where `SSL_CERT_FILE` or `SSL_CERT_DIR` is set (a private CA, a TLS-inspecting proxy's), it
/// trusts the certificates there instead, as the SDK's own client would.
pub fn https_client() -> SharedHttpClient {
    let roots = match system_roots() {
        Some(Ok(roots)) => roots,
        Some(Err(error)) => {
            tracing::warn!(%error, "SSL_CERT_FILE or SSL_CERT_DIR unreadable; trusting the AWS roots");
            aws_root_store()
        }
        None => aws_root_store(),
    };
    client_trusting(roots)
}

/// The SDK's client of the shop's stack trusting `roots`.
fn client_trusting(roots: rustls::RootCertStore) -> SharedHttpClient {
    // Only a crypto provider without TLS 1.2 and 1.3 refuses the settings, and aws-lc has both.
    let tls = crate::https::tls_config(roots).expect("aws-lc speaks TLS 1.2 and 1.3");
    SharedHttpClient::new(SdkClient {
        tls,
        connectors: Arc::default(),
    })
}

fn aws_root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(aws_roots().cloned());
    roots
}

/// The certificates of `SSL_CERT_FILE` and of the files in `SSL_CERT_DIR`, when either is set.
fn system_roots() -> Option<Result<rustls::RootCertStore, String>> {
    roots_in(std::env::var_os("SSL_CERT_FILE"), std::env::var_os("SSL_CERT_DIR"))
}

/// The certificates of the PEM `file` and of the files in `dir`, when either is given.
fn roots_in(
    file: Option<std::ffi::OsString>,
    dir: Option<std::ffi::OsString>,
) -> Option<Result<rustls::RootCertStore, String>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    if file.is_none() && dir.is_none() {
        return None;
    }
    let mut paths: Vec<std::path::PathBuf> = file.into_iter().map(Into::into).collect();
    if let Some(dir) = dir {
        match std::fs::read_dir(&dir) {
            Ok(entries) => paths.extend(entries.flatten().map(|entry| entry.path()).filter(|p| p.is_file())),
            Err(error) => return Some(Err(format!("{}: {error}", dir.to_string_lossy()))),
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    for path in paths {
        match CertificateDer::pem_file_iter(&path) {
            Ok(certs) => {
                roots.add_parsable_certificates(certs.flatten());
            }
            Err(error) => return Some(Err(format!("{}: {error}", path.display()))),
        }
    }
    if roots.is_empty() {
        return Some(Err("no certificate found".into()));
    }
    Some(Ok(roots))
}

/// A connect and a read timeout, as the SDK asks for them.
type Timeouts = (Option<Duration>, Option<Duration>);

/// The SDK's client of the shop's HTTPS stack: one connector (and pool) per pair of timeouts
/// the SDK asks for, kept for the instance's life.
#[derive(Debug, Clone)]
struct SdkClient {
    tls: rustls::ClientConfig,
    connectors: Arc<Mutex<HashMap<Timeouts, SharedHttpConnector>>>,
}

impl HttpClient for SdkClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(timeouts)
            .or_insert_with(|| {
                SharedHttpConnector::new(SdkConnector {
                    client: crate::https::pooled(crate::https::connector(self.tls.clone(), timeouts.0)),
                    read_timeout: timeouts.1,
                })
            })
            .clone()
    }
}

#[derive(Debug)]
struct SdkConnector {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        SdkBody,
    >,
    /// How long an answer may take to start once asked for.
    read_timeout: Option<Duration>,
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into()))),
        };
        let answer = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answered = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, answer)
                    .await
                    .map_err(|_| ConnectorError::timeout(format!("no answer within {limit:?}").into()))?,
                None => answer.await,
            };
            let response = answered.map_err(dispatch_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// How a failed exchange is told to the SDK.
type Classify = fn(aws_smithy_runtime_api::box_error::BoxError) -> ConnectorError;

/// A failed exchange as the SDK's retries read it: a connection that timed out is a timeout; one
/// that could not be made, was closed or reset, or ended mid-answer is transient (retried); a
/// request hyper refused is the caller's; anything else is not retried.
fn dispatch_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&error);
    let mut kind: Option<Classify> = error.is_connect().then_some(ConnectorError::io);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            kind = Some(if io.kind() == std::io::ErrorKind::TimedOut {
                ConnectorError::timeout
            } else {
                ConnectorError::io
            });
            break;
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            if hyper.is_timeout() {
                kind = Some(ConnectorError::timeout);
                break;
            }
            if hyper.is_closed() || hyper.is_canceled() || hyper.is_incomplete_message() {
                kind = Some(ConnectorError::io);
                break;
            }
            if hyper.is_user() {
                kind = Some(ConnectorError::user);
                break;
            }
        }
        cause = current.source();
    }
    match kind {
        Some(kind) => kind(error.into()),
        None => ConnectorError::other(error.into(), None),
    }
}

/// The roots AWS's endpoints chain to: Amazon Trust Services' four and the Starfield root that
/// cross-signs them (<https://www.amazontrust.com/repository/>). The SDK's client talks to AWS
/// alone (Stripe has its own), so it trusts these and no other CA: verification is as strict as
/// with the whole Mozilla list. Matched by the common name each root's subject ends with (its
/// last attribute, in DER).
const AWS_ROOTS: [&[u8]; 5] = [
    b"Amazon Root CA 1",
    b"Amazon Root CA 2",
    b"Amazon Root CA 3",
    b"Amazon Root CA 4",
    b"Starfield Services Root Certificate Authority - G2",
];

/// The compiled-in Mozilla roots that are [`AWS_ROOTS`].
fn aws_roots() -> impl Iterator<Item = &'static rustls::pki_types::TrustAnchor<'static>> {
    // A suffix test, not a search: searching every one of the ~150 subjects for five names was a
    // sixth of a cold start's instructions (bench/results.md).
    webpki_roots::TLS_SERVER_ROOTS.iter().filter(|anchor| {
        let subject = anchor.subject.as_ref();
        AWS_ROOTS.iter().any(|name| subject.ends_with(name))
    })
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
        let roots: Vec<&[u8]> = aws_roots().map(|anchor| anchor.subject.as_ref()).collect();
        assert_eq!(roots.len(), AWS_ROOTS.len(), "each AWS root once");
        for name in AWS_ROOTS {
            let holding = roots
                .iter()
                .filter(|subject| subject.windows(name.len()).any(|window| window == name))
                .count();
            assert_eq!(holding, 1, "{}", String::from_utf8_lossy(name));
        }
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100, "the others are left out");
    }

    #[test]
    fn a_certificate_file_or_directory_that_holds_none_is_refused_not_trusted_empty() {
        assert!(roots_in(None, None).is_none(), "neither set: the AWS roots");
        let missing = roots_in(Some("/nonexistent/ca.pem".into()), None);
        assert!(missing.is_some_and(|found| found.is_err()));
        let empty = std::env::temp_dir().join(format!("no-certs-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("a directory");
        std::fs::write(empty.join("readme.txt"), "not a certificate").expect("a file");
        let found = roots_in(None, Some(empty.clone().into_os_string()));
        assert_eq!(found.map(|f| f.err()), Some(Some("no certificate found".to_owned())));
        std::fs::remove_dir_all(empty).expect("removed");
    }

    /// A server on a free port that reads each request and answers `answer` (never, if `None`).
    async fn server(answer: Option<&'static str>) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("its address").port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = vec![0; 64 * 1024];
                    let _ = socket.read(&mut request).await;
                    match answer {
                        Some(answer) => {
                            let _ = socket.write_all(answer.as_bytes()).await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        port
    }

    async fn dynamodb(
        endpoint: String,
        timeouts: Option<aws_config::timeout::TimeoutConfig>,
    ) -> aws_sdk_dynamodb::Client {
        let mut sdk = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(timeouts) = timeouts {
            sdk = sdk.timeout_config(timeouts);
        }
        let sdk = sdk
            .http_client(client_trusting(aws_root_store()))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .endpoint_url(endpoint)
            .load()
            .await;
        aws_sdk_dynamodb::Client::new(&sdk)
    }

    #[tokio::test]
    async fn the_sdk_sends_and_reads_through_the_shops_client() {
        let body = r#"{"TableNames":["orders"]}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let port = server(Some(answer)).await;
        let client = dynamodb(format!("http://127.0.0.1:{port}"), None).await;
        let tables = client.list_tables().send().await.expect("an answer");
        assert_eq!(tables.table_names(), ["orders"]);
    }

    #[tokio::test]
    async fn an_answer_that_does_not_come_is_a_timeout_the_sdk_may_retry() {
        let port = server(None).await;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .read_timeout(Duration::from_millis(200))
            .build();
        let client = dynamodb(format!("http://127.0.0.1:{port}"), Some(timeouts)).await;
        let error = client.list_tables().send().await.expect_err("no answer");
        match error {
            SdkError::DispatchFailure(failure) => assert!(failure.is_timeout(), "{failure:?}"),
            other => panic!("{other:?}"),
        }
    }

    /// A TLS server that hangs up at once: the handshake fails as a connection the SDK may
    /// retry, and setting up TLS from the compiled-in roots works.
    #[tokio::test]
    async fn the_sdk_sets_up_tls_from_the_compiled_in_roots() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("its address").port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let client = dynamodb(format!("https://127.0.0.1:{port}"), None).await;
        let error = client.list_tables().send().await.expect_err("the server hangs up");
        match error {
            SdkError::DispatchFailure(failure) => assert!(failure.is_io(), "{failure:?}"),
            other => panic!("{other:?}"),
        }
    }
}
