//! The HTTPS client of the shop's own calls beyond the AWS SDK (Stripe's API, the staff pool's
//! keys): hyper and rustls on aws-lc. The SDK's client is built of the same parts
//! ([`crate::aws::https_client`]), so there is no second stack.
//!
//! It trusts the Mozilla roots as `webpki-roots` compiles them in: ready-made trust anchors, so a
//! cold start parses no certificate (parsing them was half of a cold start's instructions,
//! bench/results.md). Connections are pooled: a warm instance's next call to the same host skips
//! the TCP and TLS handshakes. `http://` is allowed too, for the local stack's servers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::Arc;
use std::time::Duration;

/// A request body: the whole of it, in memory.
pub type Body = Full<Bytes>;

/// The pooled HTTPS client.
pub type Client = hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// How long an idle pooled connection is kept. Lambda freezes an instance between invocations,
/// and servers close idle connections after a minute or so: one kept longer would fail on reuse.
const POOL_IDLE: Duration = Duration::from_secs(50);

/// A client trusting the compiled-in Mozilla roots.
pub fn client() -> Result<Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(pooled(connector(tls_config(roots)?, None)))
}

/// TLS with aws-lc, trusting `roots` (TLS 1.2 and 1.3, rustls' safe defaults).
pub(crate) fn tls_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// HTTPS (or HTTP) over TCP with `tls`, giving up on a connection after `connect_timeout`.
pub(crate) fn connector(
    tls: rustls::ClientConfig,
    connect_timeout: Option<Duration>,
) -> hyper_rustls::HttpsConnector<HttpConnector> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

/// A client of `connector` keeping idle connections for [`POOL_IDLE`].
pub(crate) fn pooled<B>(
    connector: hyper_rustls::HttpsConnector<HttpConnector>,
) -> hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

/// A response's body, refused when it is longer than `limit` bytes.
pub async fn body(response: http::Response<hyper::body::Incoming>, limit: usize) -> Result<Bytes, String> {
    Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_trusts_the_compiled_in_roots() {
        // The roots Stripe's and Cognito's certificates chain to are among them.
        let names: Vec<String> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
            .collect();
        for root in ["DigiCert Global Root G2", "Amazon Root CA 1"] {
            assert!(names.iter().any(|n| n.contains(root)), "{root} is missing");
        }
        assert!(client().is_ok());
    }
}
