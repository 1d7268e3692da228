//! S3's browser side, as the IAM proxy ([`crate::enforce`]) answers it locally: a bucket's CORS
//! (the `CorsConfiguration` of template.yaml's bucket, preflights and the headers on answers)
//! and the POST Object upload a page makes with a presigned form
//! ([`shop_platform::s3_post`]). moto takes a POST Object without looking at its policy, so
//! the proxy checks the form as S3 does before anything is stored:
//!
//! - the fields S3 requires (`key`, `policy`, `x-amz-algorithm`, `x-amz-credential`,
//!   `x-amz-date`, `x-amz-signature`, one file, which ends the form);
//! - the credential's access key is a function's ([`crate::enforce::access_key`]) and the
//!   signature is the policy's under that function's local secret, for the credential's day and
//!   region ([`shop_platform::s3_post::signature`]);
//! - the policy has not expired, and every condition holds: exact and `starts-with` matches of
//!   the fields (`bucket` against the bucket posted to), `content-length-range` against the
//!   file's size; every field but `policy`, `x-amz-signature`, `file` and `x-ignore-*` must be
//!   named by a condition;
//! - the function's policies allow `s3:PutObject` on the key (checked by the caller).
//!
//! A refusal is S3's: an XML `<Error>` with S3's code and status (`403 AccessDenied` "Invalid
//! according to Policy: ...", `403 SignatureDoesNotMatch`, `400 EntityTooLarge`, ...).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value as Json;
use std::collections::HashMap;

/// The secret every function's local credentials have ([`crate::enforce::function_sdk`]).
pub const LOCAL_SECRET: &str = "local-secret";

/// The most bytes of a POST Object body the proxy reads: S3's 5 GB is far beyond what the
/// local stack stores; the shop's forms allow 5 MiB.
pub const MAX_POST_BYTES: usize = 16 * 1024 * 1024;

/// One rule of a bucket's `CorsConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRule {
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub max_age: Option<u64>,
}

impl CorsRule {
    /// The rules of a bucket's resolved `Properties` (none without a `CorsConfiguration`).
    pub fn of_bucket(properties: &Json) -> Vec<CorsRule> {
        let list = |rule: &Json, name: &str| -> Vec<String> {
            rule[name]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        };
        properties["CorsConfiguration"]["CorsRules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|rule| CorsRule {
                origins: list(rule, "AllowedOrigins"),
                methods: list(rule, "AllowedMethods"),
                headers: list(rule, "AllowedHeaders"),
                max_age: rule["MaxAge"].as_u64(),
            })
            .collect()
    }

    fn allows(&self, origin: &str, method: &str, headers: &[&str]) -> bool {
        let matches = |pattern: &str, value: &str| {
            pattern == "*"
                || pattern.eq_ignore_ascii_case(value)
                || pattern
                    .split_once('*')
                    .is_some_and(|(start, end)| value.starts_with(start) && value.ends_with(end))
        };
        self.origins.iter().any(|o| matches(o, origin))
            && self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && headers
                .iter()
                .all(|header| self.headers.iter().any(|allowed| matches(allowed, header)))
    }
}

/// The rule of `rules` that lets `origin` send `method` with `headers`, as S3 picks it (the first).
pub fn cors_rule<'a>(rules: &'a [CorsRule], origin: &str, method: &str, headers: &[&str]) -> Option<&'a CorsRule> {
    rules.iter().find(|rule| rule.allows(origin, method, headers))
}

/// S3's answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
/// for a bucket with `rules`.
pub fn preflight(rules: &[CorsRule], headers: &HeaderMap) -> Response<Full<Bytes>> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (origin, method) = (text("origin"), text("access-control-request-method"));
    let requested: Vec<&str> = text("access-control-request-headers")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if origin.is_empty() || method.is_empty() {
        return refusal(&Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    }
    let Some(rule) = cors_rule(rules, origin, method, &requested) else {
        return refusal(&Refusal::new(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    allow(response.headers_mut(), origin, rule);
    let headers = response.headers_mut();
    if !requested.is_empty()
        && let Ok(value) = HeaderValue::from_str(&requested.join(", "))
    {
        headers.insert("access-control-allow-headers", value);
    }
    if let Some(age) = rule.max_age {
        headers.insert("access-control-max-age", HeaderValue::from(age));
    }
    response
}

/// Adds the CORS headers S3 puts on an answer to `origin` under `rule`.
pub fn allow(headers: &mut HeaderMap, origin: &str, rule: &CorsRule) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert("access-control-allow-origin", value);
    }
    if let Ok(value) = HeaderValue::from_str(&rule.methods.join(", ")) {
        headers.insert("access-control-allow-methods", value);
    }
    headers.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    );
}

/// Whether a request is a POST Object: a multipart form posted to a bucket's own path.
pub fn is_post_object(method: &Method, path: &str, headers: &HeaderMap) -> Option<String> {
    let bucket = path.strip_prefix('/')?.trim_end_matches('/');
    let multipart = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    (method == Method::POST && multipart && !bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_owned())
}

/// A refusal in S3's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// `403 AccessDenied`, "Invalid according to Policy: `why`".
    fn policy(why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!("Invalid according to Policy: {why}"),
        )
    }
}

/// `refusal` as S3 answers it.
pub fn refusal(refusal: &Refusal) -> Response<Full<Bytes>> {
    let escaped = refusal
        .message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{escaped}</Message></Error>",
        refusal.code
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = refusal.status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// A posted form: its fields by lower-case name (S3 reads them so), in order, and the file.
#[derive(Debug, Clone, Default)]
pub struct PostForm {
    pub fields: Vec<(String, String)>,
    pub file: Option<Bytes>,
}

impl PostForm {
    /// Reads a multipart body (`content_type` names its boundary); the fields after the file
    /// are ignored, as S3 ignores them.
    pub async fn read(content_type: &str, body: Bytes) -> Result<Self, Refusal> {
        let malformed = |error: multer::Error| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "MalformedPOSTRequest",
                format!("The body of your POST request is not well-formed multipart/form-data: {error}"),
            )
        };
        let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
        let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut form = PostForm::default();
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or("").to_ascii_lowercase();
            if name == "file" {
                form.file = Some(field.bytes().await.map_err(malformed)?);
                break;
            }
            let text = field.text().await.map_err(malformed)?;
            form.fields.push((name, text));
        }
        Ok(form)
    }

    /// The field `name` (lower case).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What a form that passed [`verify`] uploads, and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key: String,
    pub key: String,
    pub content_type: Option<String>,
    pub file: Bytes,
}

/// Checks `form`, posted to `bucket` at `now` (unix seconds), as S3 checks a POST Object:
/// `secret_of` gives the secret of an access key (`None`: no such key).
pub fn verify(
    form: &PostForm,
    bucket: &str,
    now: i64,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, Refusal> {
    let required = |name: &str| {
        form.field(name)
            .ok_or_else(|| Refusal::invalid_argument(format!("Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.")))
    };
    let key = required("key")?;
    let policy = required("policy")?;
    let signature = required("x-amz-signature")?;
    let algorithm = required("x-amz-algorithm")?;
    let credential = required("x-amz-credential")?;
    required("x-amz-date")?;
    let Some(file) = &form.file else {
        return Err(Refusal::invalid_argument(
            "POST requires exactly one file upload per request.",
        ));
    };
    if algorithm != shop_platform::s3_post::ALGORITHM {
        return Err(Refusal::invalid_argument(format!(
            "X-Amz-Algorithm only supports \"{}\"",
            shop_platform::s3_post::ALGORITHM
        )));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, day, region, "s3", "aws4_request"] = scope.as_slice() else {
        return Err(Refusal::invalid_argument(format!(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\": {credential}"
        )));
    };
    let Some(secret) = secret_of(access_key) else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    };
    let expected = shop_platform::s3_post::signature(&secret, day, region, policy);
    if !constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ));
    }
    let document: Json = STANDARD
        .decode(policy)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                "Invalid Policy: Invalid JSON.",
            )
        })?;
    let expiration = document["expiration"]
        .as_str()
        .and_then(|text| shop_domain::instant::parse_rfc3339(text).ok())
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                "Invalid Policy: Invalid 'expiration' value.",
            )
        })?;
    if expiration <= now {
        return Err(Refusal::policy("Policy expired."));
    }
    let conditions = document["conditions"].as_array().ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyDocument",
            "Invalid Policy: Policy missing condition: conditions",
        )
    })?;
    let mut named: Vec<String> = Vec::new();
    for condition in conditions {
        named.extend(check_condition(condition, form, bucket, file.len())?);
    }
    let exempt = |name: &str| matches!(name, "policy" | "x-amz-signature" | "file") || name.starts_with("x-ignore-");
    if let Some((extra, _)) = form
        .fields
        .iter()
        .find(|(name, _)| !exempt(name) && !named.iter().any(|n| n == name))
    {
        return Err(Refusal::policy(format!("Extra input fields: {extra}")));
    }
    Ok(Verified {
        access_key: (*access_key).to_owned(),
        key: key.to_owned(),
        content_type: form.field("content-type").map(str::to_owned),
        file: file.clone(),
    })
}

/// Checks one condition; answers the field it names (lower case), if any.
fn check_condition(condition: &Json, form: &PostForm, bucket: &str, size: usize) -> Result<Option<String>, Refusal> {
    let invalid = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyDocument",
            format!("Invalid Policy: Invalid Condition: {condition}"),
        )
    };
    let value_of = |name: &str| -> String {
        if name == "bucket" {
            bucket.to_owned()
        } else {
            form.field(name).unwrap_or("").to_owned()
        }
    };
    let failed = || Refusal::policy(format!("Policy Condition failed: {condition}"));
    match condition {
        Json::Object(pairs) => {
            let [(name, expected)] = pairs.iter().collect::<Vec<_>>()[..] else {
                return Err(invalid());
            };
            let name = name.to_ascii_lowercase();
            let expected = expected.as_str().ok_or_else(invalid)?;
            if value_of(&name) != expected {
                return Err(failed());
            }
            Ok(Some(name))
        }
        Json::Array(items) => match items.as_slice() {
            [Json::String(op), Json::String(field), Json::String(expected)] if op == "eq" || op == "starts-with" => {
                let name = field.strip_prefix('$').ok_or_else(invalid)?.to_ascii_lowercase();
                let value = value_of(&name);
                let holds = if op == "eq" {
                    value == *expected
                } else {
                    value.starts_with(expected.as_str())
                };
                if !holds {
                    return Err(failed());
                }
                Ok(Some(name))
            }
            [Json::String(op), min, max] if op == "content-length-range" => {
                let (Some(min), Some(max)) = (min.as_u64(), max.as_u64()) else {
                    return Err(invalid());
                };
                let size = size as u64;
                if size < min {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                    ));
                }
                if size > max {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size",
                    ));
                }
                Ok(None)
            }
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Each bucket's CORS rules by its local name.
pub type BucketCors = HashMap<String, Vec<CorsRule>>;

#[cfg(test)]
mod tests {
    use super::*;
    use shop_platform::s3_post::{Signer, Upload, bucket_url, presign};

    const NOW: i64 = 1_796_000_000;

    fn signed(now: i64, max_bytes: u64) -> Vec<(String, String)> {
        let signer = Signer {
            access_key: "LOCALConsoleFunction",
            secret: LOCAL_SECRET,
            session_token: None,
            region: "us-east-1",
        };
        let upload = Upload {
            bucket: "shop-images",
            key: "mug-1-640.webp",
            content_type: "image/webp",
            max_bytes,
        };
        presign(
            &signer,
            &upload,
            bucket_url(Some("http://127.0.0.1:1"), "shop-images", "us-east-1"),
            now,
        )
        .fields
    }

    fn form(fields: Vec<(String, String)>, file: &[u8]) -> PostForm {
        PostForm {
            fields: fields.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect(),
            file: Some(Bytes::copy_from_slice(file)),
        }
    }

    fn secret(key: &str) -> Option<String> {
        (key == "LOCALConsoleFunction").then(|| LOCAL_SECRET.to_owned())
    }

    fn set(fields: &mut [(String, String)], name: &str, value: &str) {
        for (n, v) in fields.iter_mut() {
            if n.eq_ignore_ascii_case(name) {
                *v = value.to_owned();
            }
        }
    }

    #[test]
    fn a_form_the_console_signed_is_taken_with_its_key_and_type() {
        let verified = verify(
            &form(signed(NOW, 1024), b"RIFF....WEBP"),
            "shop-images",
            NOW + 60,
            secret,
        )
        .unwrap();
        assert_eq!(verified.access_key, "LOCALConsoleFunction");
        assert_eq!(verified.key, "mug-1-640.webp");
        assert_eq!(verified.content_type.as_deref(), Some("image/webp"));
        assert_eq!(&verified.file[..], b"RIFF....WEBP");
    }

    #[test]
    fn a_tampered_policy_is_not_the_signatures() {
        let mut fields = signed(NOW, 1024);
        let policy = fields.iter().find(|(n, _)| n == "policy").unwrap().1.clone();
        let mut document: Json = serde_json::from_slice(&STANDARD.decode(&policy).unwrap()).unwrap();
        document["conditions"][1] = serde_json::json!({"key": "other-1-640.webp"});
        set(&mut fields, "policy", &STANDARD.encode(document.to_string()));
        set(&mut fields, "key", "other-1-640.webp");
        let refused = verify(&form(fields, b"x"), "shop-images", NOW, secret).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
        );
    }

    #[test]
    fn an_expired_form_is_refused_by_the_policy() {
        let refused = verify(&form(signed(NOW, 1024), b"x"), "shop-images", NOW + 601, secret).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.code, "AccessDenied");
        assert_eq!(refused.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn another_key_type_or_bucket_fails_its_condition() {
        for (name, value) in [("key", "mug-1-640.png"), ("Content-Type", "text/html")] {
            let mut fields = signed(NOW, 1024);
            set(&mut fields, name, value);
            let refused = verify(&form(fields, b"x"), "shop-images", NOW, secret).unwrap_err();
            assert_eq!(
                (refused.status, refused.code),
                (StatusCode::FORBIDDEN, "AccessDenied"),
                "{name}"
            );
            assert!(
                refused
                    .message
                    .starts_with("Invalid according to Policy: Policy Condition failed:"),
                "{}",
                refused.message
            );
        }
        let refused = verify(&form(signed(NOW, 1024), b"x"), "another-bucket", NOW, secret).unwrap_err();
        assert!(refused.message.contains("bucket"), "{}", refused.message);
    }

    #[test]
    fn a_file_outside_the_length_range_is_too_large_or_too_small() {
        let refused = verify(&form(signed(NOW, 4), b"12345"), "shop-images", NOW, secret).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::BAD_REQUEST, "EntityTooLarge")
        );
        let refused = verify(&form(signed(NOW, 4), b""), "shop-images", NOW, secret).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::BAD_REQUEST, "EntityTooSmall")
        );
    }

    #[test]
    fn a_field_no_condition_names_or_an_unknown_key_is_refused() {
        let mut fields = signed(NOW, 1024);
        fields.insert(0, ("acl".into(), "public-read".into()));
        let refused = verify(&form(fields, b"x"), "shop-images", NOW, secret).unwrap_err();
        assert_eq!(refused.message, "Invalid according to Policy: Extra input fields: acl");
        let refused = verify(&form(signed(NOW, 1024), b"x"), "shop-images", NOW, |_| None).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::FORBIDDEN, "InvalidAccessKeyId")
        );
        let mut without_file = form(signed(NOW, 1024), b"x");
        without_file.file = None;
        assert_eq!(
            verify(&without_file, "shop-images", NOW, secret).unwrap_err().code,
            "InvalidArgument"
        );
    }

    #[tokio::test]
    async fn a_browsers_multipart_form_is_read_up_to_its_file() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nmug-1-640.webp\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: image/webp\r\n\r\nRIFF\r\n--B\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--B--\r\n";
        let form = PostForm::read("multipart/form-data; boundary=B", Bytes::from(body))
            .await
            .unwrap();
        assert_eq!(form.field("key"), Some("mug-1-640.webp"));
        assert_eq!(form.file.as_deref(), Some(&b"RIFF"[..]));
        assert_eq!(form.field("after"), None);
    }

    #[test]
    fn cors_allows_the_rules_origin_and_method_only() {
        let rules = CorsRule::of_bucket(&serde_json::json!({"CorsConfiguration": {"CorsRules": [
            {"AllowedOrigins": ["http://127.0.0.1:3002"], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"], "MaxAge": 600}
        ]}}));
        let ask = |origin: &str, method: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("origin", HeaderValue::from_str(origin).unwrap());
            headers.insert("access-control-request-method", HeaderValue::from_str(method).unwrap());
            headers.insert(
                "access-control-request-headers",
                HeaderValue::from_static("content-type"),
            );
            preflight(&rules, &headers)
        };
        let allowed = ask("http://127.0.0.1:3002", "POST");
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "http://127.0.0.1:3002"
        );
        assert_eq!(allowed.headers()["access-control-max-age"], "600");
        assert_eq!(ask("http://evil.example", "POST").status(), StatusCode::FORBIDDEN);
        assert_eq!(ask("http://127.0.0.1:3002", "PUT").status(), StatusCode::FORBIDDEN);
    }
}
