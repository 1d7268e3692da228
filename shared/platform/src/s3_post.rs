//! Browser uploads straight to S3: a presigned POST (AWS Signature Version 4, "POST policy").
//! The SDK has presigned GET and PUT URLs but no POST form, so the shop signs it here, as S3's
//! documentation describes it (`sigv4-HTTPPOSTConstructPolicy`, `sigv4-authentication-HTTPPOST`):
//! a JSON policy naming what the form may upload, its Base64 text as the string to sign, and an
//! HMAC-SHA256 of it with the SigV4 signing key of the credential's day, region and `s3`.
//!
//! A policy made here allows exactly one object: the bucket, the key and the `Content-Type` are
//! exact matches, the size is `1..=max_bytes`, and it expires ten minutes after it was made
//! ([`VALID_SECONDS`]). The browser never chooses a key: it posts the fields it was given
//! ([`PresignedPost::fields`]) in that order, then the file last, as S3 asks.
//!
//! The HMAC is aws-lc-rs's, which the shop's own keys ([`crate::keys`]) and the SDK's TLS
//! already link; [`signature`] is public so that the local stack's S3 proxy checks a posted form
//! with the same derivation S3 uses (it is tested against AWS's published example).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};

/// The only algorithm S3 takes for a SigV4 POST.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How long a presigned form may be posted: ten minutes, ample for a resize and two uploads on
/// a slow line, short enough that a form copied out of a page is soon worth nothing.
pub const VALID_SECONDS: i64 = 10 * 60;

/// Who signs: an access key, its secret and, for temporary credentials (Lambda's role), the
/// session token, which the form must then carry as `x-amz-security-token`.
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret: &'a str,
    pub session_token: Option<&'a str>,
    /// The bucket's region, the credential scope's.
    pub region: &'a str,
}

/// The one object a form may upload.
pub struct Upload<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    /// The most bytes the object may have (the least is 1).
    pub max_bytes: u64,
}

/// A signed form: where to post it and the fields to post before the file, in order.
#[derive(Debug, Clone, Serialize)]
pub struct PresignedPost {
    pub url: String,
    pub fields: Vec<(String, String)>,
}

/// The form that uploads `upload`, signed by `signer` at `now` (unix seconds) and posted to
/// `url` (see [`bucket_url`]).
pub fn presign(signer: &Signer<'_>, upload: &Upload<'_>, url: String, now: i64) -> PresignedPost {
    let stamp = AmzDate::of(now);
    let credential = format!("{}/{}/{}/s3/aws4_request", signer.access_key, stamp.day, signer.region);
    let mut conditions = vec![
        json!({"bucket": upload.bucket}),
        json!({"key": upload.key}),
        json!({"Content-Type": upload.content_type}),
        json!(["content-length-range", 1, upload.max_bytes]),
        json!({"x-amz-algorithm": ALGORITHM}),
        json!({"x-amz-credential": credential}),
        json!({"x-amz-date": stamp.instant}),
    ];
    if let Some(token) = signer.session_token {
        conditions.push(json!({"x-amz-security-token": token}));
    }
    let policy = json!({
        "expiration": shop_domain::instant::rfc3339(now + VALID_SECONDS),
        "conditions": Value::Array(conditions),
    });
    let policy = STANDARD.encode(policy.to_string());
    let signature = signature(signer.secret, &stamp.day, signer.region, &policy);
    let mut fields = vec![
        ("key".to_owned(), upload.key.to_owned()),
        ("Content-Type".to_owned(), upload.content_type.to_owned()),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), stamp.instant),
    ];
    if let Some(token) = signer.session_token {
        fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    fields.push(("policy".to_owned(), policy));
    fields.push(("x-amz-signature".to_owned(), signature));
    PresignedPost { url, fields }
}

/// The signature of the Base64 policy `policy` (the string to sign, as posted): hex of
/// HMAC-SHA256 with the signing key of `secret` for `day` (`YYYYMMDD`), `region` and `s3`.
pub fn signature(secret: &str, day: &str, region: &str, policy: &str) -> String {
    let step = |key: &[u8], data: &str| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        hmac::sign(&key, data.as_bytes())
    };
    let date_key = step(format!("AWS4{secret}").as_bytes(), day);
    let region_key = step(date_key.as_ref(), region);
    let service_key = step(region_key.as_ref(), "s3");
    let signing_key = step(service_key.as_ref(), "aws4_request");
    let signed = step(signing_key.as_ref(), policy);
    signed.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Where a form for `bucket` is posted: path-style `{endpoint}/{bucket}` when the SDK is given
/// an endpoint (the local stack's proxy, an emulator: one host for every bucket), else the
/// bucket's own virtual host in `region`, as S3 wants browser uploads addressed.
pub fn bucket_url(endpoint: Option<&str>, bucket: &str, region: &str) -> String {
    match endpoint {
        Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com/"),
    }
}

/// The origin (scheme, host and port) of [`bucket_url`]: what a page's CSP must let it
/// `connect-src` to.
pub fn bucket_origin(endpoint: Option<&str>, bucket: &str, region: &str) -> String {
    let url = bucket_url(endpoint, bucket, region);
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |at| after_scheme + at);
    url[..end].to_owned()
}

/// An instant in SigV4's two shapes: `20151229T000000Z` and its day `20151229`.
struct AmzDate {
    instant: String,
    day: String,
}

impl AmzDate {
    fn of(unix_seconds: i64) -> Self {
        // `2015-12-29T00:00:00Z` without its separators.
        let instant: String = shop_domain::instant::rfc3339(unix_seconds)
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let day = instant.get(..8).unwrap_or_default().to_owned();
        Self { instant, day }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's example, from "Example: Browser-Based Upload using HTTP POST (Using AWS Signature
    /// Version 4)" (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html): the
    /// policy's Base64 text (CRLF line ends) and the signature the page publishes for it.
    const AWS_EXAMPLE_POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    const AWS_EXAMPLE_SIGNATURE: &str = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn the_signature_of_aws_published_example_is_the_one_aws_publishes() {
        assert_eq!(
            signature(AWS_EXAMPLE_SECRET, "20151229", "us-east-1", AWS_EXAMPLE_POLICY),
            AWS_EXAMPLE_SIGNATURE
        );
        // Another day, region or policy is another signature.
        assert_ne!(
            signature(AWS_EXAMPLE_SECRET, "20151230", "us-east-1", AWS_EXAMPLE_POLICY),
            AWS_EXAMPLE_SIGNATURE
        );
        assert_ne!(
            signature(AWS_EXAMPLE_SECRET, "20151229", "eu-west-1", AWS_EXAMPLE_POLICY),
            AWS_EXAMPLE_SIGNATURE
        );
    }

    fn field<'a>(post: &'a PresignedPost, name: &str) -> &'a str {
        post.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    #[test]
    fn a_form_allows_one_object_of_one_type_and_size_for_ten_minutes() {
        let signer = Signer {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret: AWS_EXAMPLE_SECRET,
            session_token: Some("token/with+chars"),
            region: "us-east-1",
        };
        let upload = Upload {
            bucket: "shop-images",
            key: "mug-2-640.webp",
            content_type: "image/webp",
            max_bytes: 5 * 1024 * 1024,
        };
        // 2015-12-29T00:00:00Z
        let now = 1_451_347_200;
        let post = presign(&signer, &upload, bucket_url(None, "shop-images", "us-east-1"), now);
        assert_eq!(post.url, "https://shop-images.s3.us-east-1.amazonaws.com/");
        assert_eq!(field(&post, "x-amz-date"), "20151229T000000Z");
        assert_eq!(
            field(&post, "x-amz-credential"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
        assert_eq!(field(&post, "x-amz-security-token"), "token/with+chars");
        let policy = field(&post, "policy");
        assert_eq!(
            field(&post, "x-amz-signature"),
            signature(AWS_EXAMPLE_SECRET, "20151229", "us-east-1", policy)
        );
        let decoded: Value = serde_json::from_slice(&STANDARD.decode(policy).unwrap()).unwrap();
        assert_eq!(decoded["expiration"], "2015-12-29T00:10:00Z");
        let conditions = decoded["conditions"].as_array().unwrap();
        for expected in [
            json!({"bucket": "shop-images"}),
            json!({"key": "mug-2-640.webp"}),
            json!({"Content-Type": "image/webp"}),
            json!(["content-length-range", 1, 5 * 1024 * 1024]),
            json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}),
            json!({"x-amz-security-token": "token/with+chars"}),
        ] {
            assert!(conditions.contains(&expected), "{expected} missing from {conditions:?}");
        }
        // The policy and signature come last, the file after them.
        let names: Vec<&str> = post.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[names.len() - 2..], ["policy", "x-amz-signature"]);
    }

    #[test]
    fn a_local_endpoint_is_posted_path_style_and_its_origin_is_the_endpoints() {
        assert_eq!(
            bucket_url(Some("http://127.0.0.1:4566/"), "shop-images", "us-east-1"),
            "http://127.0.0.1:4566/shop-images"
        );
        assert_eq!(
            bucket_origin(Some("http://127.0.0.1:4566"), "shop-images", "us-east-1"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            bucket_origin(None, "shop-images", "eu-west-1"),
            "https://shop-images.s3.eu-west-1.amazonaws.com"
        );
    }
}
