//! `GET /images/{file}`: the product images, from the shop's own bucket (`IMAGES_BUCKET`, the
//! template's private `ProductImagesBucket`), on the storefront's origin so that no page asks an
//! outside host. A file's name never changes its bytes (a new picture is a new name), so an
//! answer is cached for a year (`immutable`); a browser that asks again with the ETag it holds
//! is answered `304`.
//!
//! Names: `<slug>-<n>-<width>.<ext>` (the demo catalog's are `<slug>-<n>-320.png` and
//! `<slug>-<n>-640.png`); the catalog keeps one URL per image, the largest, and pages derive the
//! other widths from the name. Only `[A-Za-z0-9._-]` is taken, no `..`, no leading `.`: a name
//! names one object of the bucket and nothing else.
//!
//! `GET /.well-known/{file}`: a file the merchant put in the same bucket under `well-known/`,
//! such as the domain-association file Apple Pay asks for
//! (`/.well-known/apple-developer-merchantid-domain-association`, which Stripe gives for the
//! Payment Element's wallets). Without one it is not found. It may change, so it is cached for an
//! hour and revalidated.

use crate::pages::PageError;
use http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use shop_platform::config::{ConfigError, Env};
use shop_platform::s3_object::{Bucket, Read};

/// How long a browser or CDN may keep an image: a year, never asking again.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// How long a `/.well-known/` file may be kept before asking again: an hour.
const WELL_KNOWN_CACHE_CONTROL: &str = "public, max-age=3600";

/// The longest file name taken.
const MAX_NAME: usize = 200;

/// The image store: the bucket.
pub struct Images {
    /// `None` where no bucket is configured: every image is then not found.
    bucket: Option<Bucket>,
}

impl Images {
    /// Reads `IMAGES_BUCKET` (empty or unset: no images). The bucket is read path-style where
    /// the SDK is given an endpoint (the local stack's IAM proxy, an emulator), as such an
    /// endpoint has no host per bucket; in AWS it is virtual-hosted, as S3 wants.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let bucket = env.bucket("IMAGES_BUCKET")?;
        Ok(Self {
            bucket: bucket.map(|name| Bucket::new(sdk, &name)).transpose()?,
        })
    }

    /// Answers `GET /images/{file}`: the object's bytes with its content type, or `304` when
    /// the request's `If-None-Match` holds its ETag; a name that is not an image's, or no such
    /// object, is not found.
    pub async fn answer(&self, request: &Request, file: &str) -> Result<Response<Body>, PageError> {
        let content_type = image_type(file).ok_or(PageError::NotFound)?;
        let served = Served {
            content_type,
            cache_control: CACHE_CONTROL,
            // The type the object was stored with when it is an image's, else the name's.
            stored_type: |stored| stored.starts_with("image/") && !stored.contains("svg"),
        };
        self.serve(request, file, &served).await
    }

    /// Answers `GET /.well-known/{file}` from the bucket's `well-known/` folder, as plain text
    /// (JSON for a `.json` name).
    pub async fn well_known(&self, request: &Request, file: &str) -> Result<Response<Body>, PageError> {
        if !plain_name(file) {
            return Err(PageError::NotFound);
        }
        let served = Served {
            content_type: if file.ends_with(".json") {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            },
            cache_control: WELL_KNOWN_CACHE_CONTROL,
            stored_type: |_| false,
        };
        self.serve(request, &format!("well-known/{file}"), &served).await
    }

    /// The object at `key`, answered as `served` says.
    async fn serve(&self, request: &Request, key: &str, served: &Served) -> Result<Response<Body>, PageError> {
        let Some(bucket) = &self.bucket else {
            return Err(PageError::NotFound);
        };
        let if_none_match = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let read = bucket
            .get(key, if_none_match.as_deref())
            .await
            .map_err(|error| PageError::Internal(format!("the shop's bucket could not be read: {error}")))?;
        let object = match read {
            Read::Found(object) => object,
            Read::NotFound => return Err(PageError::NotFound),
            Read::NotModified => {
                // S3 answers a 304 without a body; the ETag asked for is the one the browser holds.
                let etag = if_none_match
                    .as_deref()
                    .filter(|tags| !tags.contains(',') && tags.trim() != "*");
                return Ok(not_modified(etag.map(str::trim), served.cache_control));
            }
        };
        let etag = object.etag.clone();
        if let Some(etag) = &etag
            && shop_platform::edge::holds(request, etag)
        {
            return Ok(not_modified(Some(etag), served.cache_control));
        }
        let stored = object.content_type.filter(|stored| (served.stored_type)(stored));
        let bytes = object.bytes;
        let mut response = Response::builder()
            .header(header::CONTENT_TYPE, stored.as_deref().unwrap_or(served.content_type))
            .header(header::CACHE_CONTROL, served.cache_control)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            // Neither is ever a document: nothing in it runs, should one be opened on its own.
            .header(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            );
        if let Some(etag) = &etag {
            response = response.header(header::ETAG, etag);
        }
        response
            .body(Body::Binary(bytes.to_vec()))
            .map_err(|error| PageError::Internal(format!("{key}: {error}")))
    }
}

/// How a kind of file is answered.
struct Served {
    /// Its type, unless the stored one is taken.
    content_type: &'static str,
    cache_control: &'static str,
    /// Whether the type the object was stored with is taken.
    stored_type: fn(&str) -> bool,
}

/// Whether `file` is a plain name of one object: `[A-Za-z0-9._-]`, no `..`, no leading `.`.
fn plain_name(file: &str) -> bool {
    let allowed = file.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    allowed && !file.is_empty() && file.len() <= MAX_NAME && !file.starts_with('.') && !file.contains("..")
}

/// The content type of an image file name, or `None` for a name that is not one.
fn image_type(file: &str) -> Option<&'static str> {
    if !plain_name(file) {
        return None;
    }
    let (_, extension) = file.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "webp" => Some("image/webp"),
        "avif" => Some("image/avif"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

fn not_modified(etag: Option<&str>, cache_control: &str) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(header::CACHE_CONTROL, cache_control);
    if let Some(etag) = etag {
        response = response.header(header::ETAG, etag);
    }
    response.body(Body::Empty).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_image_names_are_taken() {
        assert_eq!(image_type("merino-crew-sweater-1-640.png"), Some("image/png"));
        assert_eq!(image_type("A_b.9-320.WEBP"), Some("image/webp"));
        for bad in [
            "",
            ".png",
            "..png",
            "a..png",
            "a/b.png",
            "a%2Fb.png",
            "a b.png",
            "a\\b.png",
            "noextension",
            "page.html",
            "script.js",
            "é.png",
        ] {
            assert_eq!(image_type(bad), None, "{bad:?}");
        }
        assert_eq!(image_type(&format!("{}.png", "a".repeat(MAX_NAME))), None);
    }
}
