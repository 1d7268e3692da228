//! Reading one object of the shop's bucket without the S3 SDK: GetObject and HeadObject, the
//! only S3 calls the functions make (the storefront serves the product images, the console
//! checks an upload). Each request is signed with SigV4 by the SDK's own signer (`aws-sigv4`)
//! with the SDK's credentials and sent through the shop's HTTPS client ([`crate::https`]).
//!
//! aws-sdk-s3 links its checksum code (`crc-fast`, 0.7 MiB) and its generated operations for
//! these two calls: a fifth of the storefront's binary (bench/results.md).

use crate::config::ConfigError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use std::time::{Duration, SystemTime};

/// How long a read may take before it fails.
const TIMEOUT: Duration = Duration::from_secs(8);

/// The most bytes of an object read: what a Lambda answer can carry.
const MAX_BYTES: usize = 6 * 1024 * 1024;

/// One bucket, read with the SDK's credentials.
pub struct Bucket {
    https: crate::https::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    /// The bucket's URL: virtual-hosted in AWS, path-style on the SDK's endpoint when it has one.
    url: String,
}

/// An object as S3 answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub etag: Option<String>,
    /// Empty for a HeadObject.
    pub bytes: Bytes,
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Found(Object),
    /// The `If-None-Match` asked with holds.
    NotModified,
    NotFound,
}

impl Bucket {
    /// The bucket `bucket` in the SDK's region, read with its credentials.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<Self, ConfigError> {
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| ConfigError::new("the AWS SDK has no credentials to read the bucket with"))?;
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| ConfigError::new("the AWS SDK has no region for the bucket"))?;
        let url = crate::s3_post::bucket_url(sdk.endpoint_url(), bucket, &region);
        Ok(Self {
            https: crate::https::client().map_err(ConfigError::new)?,
            credentials,
            region,
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    /// GetObject of `key`, conditional on `if_none_match` when given.
    pub async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Read, String> {
        self.read(Method::GET, key, if_none_match).await
    }

    /// HeadObject of `key`: its type, length and ETag.
    pub async fn head(&self, key: &str) -> Result<Read, String> {
        self.read(Method::HEAD, key, None).await
    }

    async fn read(&self, method: Method, key: &str, if_none_match: Option<&str>) -> Result<Read, String> {
        let failed = |what: &dyn std::fmt::Display| format!("{method} {key}: {what}");
        let url = format!("{}/{}", self.url, encoded(key));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(tags) = if_none_match {
            headers.push((header::IF_NONE_MATCH.as_str(), tags));
        }
        let credentials = self.credentials.provide_credentials().await.map_err(|e| failed(&e))?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        // As S3 signs: the path as it is, encoded once, and the payload's hash in a header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
        let mut request = http::Request::builder().method(method.clone()).uri(&url);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(crate::https::Body::default()).map_err(|e| failed(&e))?;
        instructions.apply_to_request_http1x(&mut request);
        let response = tokio::time::timeout(TIMEOUT, self.https.request(request))
            .await
            .map_err(|_| failed(&"no answer in time"))?
            .map_err(|e| failed(&e))?;
        let status = response.status();
        let text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let (content_type, etag) = (text(header::CONTENT_TYPE), text(header::ETAG));
        let content_length = text(header::CONTENT_LENGTH).and_then(|n| n.parse().ok());
        match status {
            StatusCode::NOT_MODIFIED => Ok(Read::NotModified),
            StatusCode::NOT_FOUND => Ok(Read::NotFound),
            status if status.is_success() => {
                let bytes = if method == Method::HEAD {
                    Bytes::new()
                } else {
                    crate::https::body(response, MAX_BYTES).await.map_err(|e| failed(&e))?
                };
                Ok(Read::Found(Object {
                    content_type,
                    content_length,
                    etag,
                    bytes,
                }))
            }
            status => {
                let body = crate::https::body(response, 4096).await.unwrap_or_default();
                let code = String::from_utf8_lossy(&body)
                    .split("<Code>")
                    .nth(1)
                    .and_then(|rest| rest.split("</Code>").next())
                    .map(str::to_owned)
                    .unwrap_or_default();
                Err(failed(&format!("S3 answered {status} {code}")))
            }
        }
    }
}

/// `key` as a URL path: every byte but the unreserved ones and `/` percent-encoded, as S3 signs it.
fn encoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_encoded_once_with_its_slashes_kept() {
        assert_eq!(encoded("well-known/apple-pay.txt"), "well-known/apple-pay.txt");
        assert_eq!(encoded("a b+c%.png"), "a%20b%2Bc%25.png");
        assert_eq!(encoded("é"), "%C3%A9");
    }
}
