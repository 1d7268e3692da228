//! A product's images, uploaded from the product page straight into the shop's bucket
//! (`IMAGES_BUCKET`, the template's `ProductImagesBucket`), never through the console:
//!
//! 1. the page's script (`GET /assets/upload.js`, [`UPLOAD_SCRIPT`]) resizes the picked file in
//!    the browser to [`WIDTHS`] (640 and 320 pixels wide, WebP, PNG where the browser cannot
//!    write WebP);
//! 2. it asks `POST /catalog/{id}/images/forms` (with the session's CSRF token) for two
//!    presigned POST forms ([`shop_platform::s3_post`]): the console picks the names,
//!    `<slug>-<n>-640.<ext>` and `<slug>-<n>-320.<ext>` with the next free `n`, as the
//!    storefront's `/images/{file}` reads them; the browser only says WebP or PNG;
//! 3. it posts the resized files to the bucket with those forms, then submits the page's form
//!    naming the image (`POST /catalog/{id}/images`, `image=<slug>-<n>`, `format=`);
//! 4. the console looks at both objects (HeadObject: there, not empty, at most
//!    [`MAX_IMAGE_BYTES`], the type the form fixed) and only then appends
//!    `/images/<slug>-<n>-640.<ext>` to the product's images, saved as the product form saves
//!    (`PUT /admin/products/{id}`, the same audit entry).
//!
//! An image is removed from the product, or made its main one (the first), with the same save;
//! the objects stay in the bucket (the console may not delete them), so a number once used is
//! never given again and a name never changes its bytes, which the storefront's year-long
//! caching relies on.

use crate::Ctx;
use crate::pages::{PageError, secure_headers};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shop_domain::Product;
use shop_platform::config::{ConfigError, Env};
use shop_platform::s3_object::{Bucket, Read};
use shop_platform::s3_post::{self, PresignedPost, Signer, Upload};

/// The upload script the product page loads (`GET /assets/upload.js`): served by the console
/// itself, as its CSP (`script-src 'self'`) allows no other script.
pub(crate) const UPLOAD_SCRIPT: &str = include_str!("../assets/upload.js");

/// The widths each image is stored in: the one the catalog names first (product pages), then the
/// one pages derive from its name (lists, the cart).
pub(crate) const WIDTHS: [u32; 2] = [640, 320];

/// The most bytes one stored width may have: 5 MiB. A 640-pixel WebP of a photo is some
/// 30–150 KB and a PNG of one rarely above 1 MB, so this refuses only what is not a resized
/// picture, and bounds what a form that leaked from a page could store.
pub(crate) const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// The largest file the page's script takes to resize (a camera's original is well below):
/// 25 MiB, so a browser is not asked to decode anything bigger.
pub(crate) const MAX_PICKED_BYTES: u64 = 25 * 1024 * 1024;

/// The most numbers tried for a free one before giving up (each try is one HeadObject; a
/// number is only taken when an upload was abandoned).
const MAX_PROBES: u32 = 20;

/// What an image is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageFormat {
    Webp,
    Png,
}

impl ImageFormat {
    /// The format a form names (`webp`, `png`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "webp" => Some(Self::Webp),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Png => "image/png",
        }
    }
}

/// Why an image could not be taken; each says what the merchant can do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    #[error("The upload of {key} did not arrive in the bucket; please add the image again.")]
    NotUploaded { key: String },
    #[error("{key} was stored as {found:?}, not {expected}; please add the image again.")]
    WrongType {
        key: String,
        found: String,
        expected: &'static str,
    },
    #[error("{key} has {bytes} bytes, outside 1 to {MAX_IMAGE_BYTES}; please add a smaller image.")]
    WrongSize { key: String, bytes: u64 },
    #[error("No free image number is left for this product.")]
    NoFreeNumber,
    #[error("The image store could not be reached: {0}")]
    Upstream(String),
}

/// The bucket, a reader of it, and the credentials its forms are signed with.
pub(crate) struct ImageStore {
    objects: Bucket,
    bucket: String,
    region: String,
    /// The SDK's endpoint, when it is given one (the local stack's proxy).
    endpoint: Option<String>,
    credentials: SharedCredentialsProvider,
}

impl ImageStore {
    /// The store of `IMAGES_BUCKET`; `None` where it is unset or empty (no uploads: the page
    /// then shows no "Add image"). A bucket name S3 would refuse fails the start.
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = env.bucket("IMAGES_BUCKET")? else {
            return Ok(None);
        };
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| ConfigError::new("the AWS SDK has no credentials to sign upload forms with"))?;
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| ConfigError::new("the AWS SDK has no region to sign upload forms for"))?;
        Ok(Some(Self {
            objects: Bucket::new(sdk, &bucket)?,
            bucket,
            region,
            endpoint: sdk.endpoint_url().map(str::to_owned),
            credentials,
        }))
    }

    /// The origin the forms post to, for the pages' `connect-src`.
    pub fn origin(&self) -> String {
        s3_post::bucket_origin(self.endpoint.as_deref(), &self.bucket, &self.region)
    }

    /// The next image of `product` (`<slug>-<n>`, `n` above every number its images use and
    /// not in the bucket yet) and a form per width for it, in `format`.
    pub async fn forms(
        &self,
        product: &Product,
        format: ImageFormat,
    ) -> Result<(String, Vec<(u32, PresignedPost)>), ImageError> {
        let slug = product.slug.to_string();
        let mut n = next_number(&slug, &product.images);
        let mut probes = 0;
        let name = loop {
            let name = format!("{slug}-{n}");
            if !self.exists(&key(&name, WIDTHS[0], format)).await? {
                break name;
            }
            probes += 1;
            if probes >= MAX_PROBES {
                return Err(ImageError::NoFreeNumber);
            }
            n += 1;
        };
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|error| ImageError::Upstream(format!("no credentials: {error}")))?;
        let signer = Signer {
            access_key: credentials.access_key_id(),
            secret: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            region: &self.region,
        };
        let url = s3_post::bucket_url(self.endpoint.as_deref(), &self.bucket, &self.region);
        let now = crate::now();
        let forms = WIDTHS
            .iter()
            .map(|&width| {
                let key = key(&name, width, format);
                let upload = Upload {
                    bucket: &self.bucket,
                    key: &key,
                    content_type: format.content_type(),
                    max_bytes: MAX_IMAGE_BYTES,
                };
                (width, s3_post::presign(&signer, &upload, url.clone(), now))
            })
            .collect();
        Ok((name, forms))
    }

    /// Checks that every width of image `name` was uploaded as `format` asks, and answers the
    /// URL the catalog keeps for it (`/images/<name>-640.<ext>`).
    pub async fn uploaded(&self, name: &str, format: ImageFormat) -> Result<String, ImageError> {
        for width in WIDTHS {
            let key = key(name, width, format);
            let head = match self.objects.head(&key).await.map_err(ImageError::Upstream)? {
                Read::Found(head) => head,
                Read::NotFound | Read::NotModified => return Err(ImageError::NotUploaded { key }),
            };
            let found = head.content_type.unwrap_or_default();
            if found != format.content_type() {
                return Err(ImageError::WrongType {
                    key,
                    found,
                    expected: format.content_type(),
                });
            }
            let bytes = head.content_length.unwrap_or(0);
            if !(1..=MAX_IMAGE_BYTES).contains(&bytes) {
                return Err(ImageError::WrongSize { key, bytes });
            }
        }
        Ok(format!("/images/{}", key(name, WIDTHS[0], format)))
    }

    /// Whether `key` is in the bucket.
    async fn exists(&self, key: &str) -> Result<bool, ImageError> {
        match self.objects.head(key).await.map_err(ImageError::Upstream)? {
            Read::Found(_) => Ok(true),
            Read::NotFound | Read::NotModified => Ok(false),
        }
    }
}

/// The object key of `name`'s `width`.
fn key(name: &str, width: u32, format: ImageFormat) -> String {
    format!("{name}-{width}.{}", format.extension())
}

/// One more than the highest `n` of the catalog's `/images/<slug>-<n>-<width>.<ext>` URLs of
/// this product (1 when it has none; URLs of other shapes, such as outside hosts, count nothing).
pub(crate) fn next_number(slug: &str, images: &[String]) -> u32 {
    images
        .iter()
        .filter_map(|url| {
            let rest = url.strip_prefix("/images/")?.strip_prefix(slug)?.strip_prefix('-')?;
            let (n, _) = rest.split_once('-')?;
            n.parse::<u32>().ok()
        })
        .max()
        .map_or(1, |n| n.saturating_add(1))
}

/// Whether `name` is an image name of the product with `slug`: `<slug>-<n>`, `n` a number.
pub(crate) fn is_image_of(slug: &str, name: &str) -> bool {
    name.strip_prefix(slug)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The forms as the page's script reads them: the image's name and, per width, where to post
/// and the fields in order.
pub(crate) fn forms_json(name: &str, forms: &[(u32, PresignedPost)]) -> Value {
    let uploads: Vec<Value> = forms
        .iter()
        .map(|(width, post)| json!({"width": width, "url": post.url, "fields": post.fields}))
        .collect();
    json!({"image": name, "uploads": uploads})
}

/// A JSON answer for the page's script, with the console's headers.
pub(crate) fn json_answer(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(value.to_string()));
    *response.status_mut() = status;
    secure_headers(&mut response);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `GET /assets/upload.js`.
pub(crate) fn upload_script() -> Response<Body> {
    let mut response = Response::new(Body::Text(UPLOAD_SCRIPT.to_owned()));
    secure_headers(&mut response);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}

/// The refusal of the page's script's request in words, as JSON.
pub(crate) fn script_refusal(error: &PageError) -> Response<Body> {
    let (status, message) = match error {
        PageError::NotFound => (StatusCode::NOT_FOUND, "This product is not in the catalog.".to_owned()),
        PageError::BadForm(detail) => (StatusCode::BAD_REQUEST, detail.clone()),
        PageError::Refused(refusal) => (refusal.status, refusal.detail.clone()),
        PageError::Forbidden | PageError::NoRole | PageError::OwnerOnly => (
            StatusCode::FORBIDDEN,
            "The console refused: reload the page and try again.".to_owned(),
        ),
        PageError::Internal(cause) => {
            tracing::error!(cause, "upload forms failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console could not prepare the upload just now. Please try again.".to_owned(),
            )
        }
    };
    json_answer(status, &json!({"error": message}))
}

impl crate::Console {
    /// `POST /catalog/{id}/images/forms` (`format=webp|png`): the forms for the product's next
    /// image, as JSON for the page's script.
    pub(crate) async fn image_forms(&self, ctx: &Ctx<'_>, id: &str) -> Response<Body> {
        let answer: Result<(String, Vec<(u32, PresignedPost)>), PageError> = async {
            let store = self.images.as_ref().ok_or(PageError::NotFound)?;
            let typed: std::collections::BTreeMap<String, String> = crate::form(ctx.request)?;
            let format = ImageFormat::parse(typed.get("format").map_or("", String::as_str))
                .ok_or_else(|| PageError::BadForm("The image must be stored as WebP or PNG.".into()))?;
            let product = self.product(ctx, id).await?;
            store
                .forms(&product, format)
                .await
                .map_err(|error| PageError::Internal(error.to_string()))
        }
        .await;
        match answer {
            Ok((name, forms)) => json_answer(StatusCode::OK, &forms_json(&name, &forms)),
            Err(error) => script_refusal(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_number_is_above_every_number_the_products_images_use() {
        let images = |urls: &[&str]| urls.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>();
        assert_eq!(next_number("mug", &[]), 1);
        assert_eq!(
            next_number(
                "mug",
                &images(&[
                    "/images/mug-1-640.png",
                    "/images/mug-3-640.webp",
                    "https://cdn.example/mug-9-640.png"
                ])
            ),
            4
        );
        // Another product whose slug starts the same is not this one's.
        assert_eq!(next_number("mug", &images(&["/images/mug-large-7-640.png"])), 1);
    }

    #[test]
    fn an_image_name_is_the_products_slug_and_a_number() {
        assert!(is_image_of("merino-crew-sweater", "merino-crew-sweater-2"));
        for bad in [
            "merino-crew-sweater",
            "merino-crew-sweater-",
            "merino-crew-sweater-2-640",
            "other-2",
            "merino-crew-sweater-../x",
        ] {
            assert!(!is_image_of("merino-crew-sweater", bad), "{bad}");
        }
    }

    #[test]
    fn the_script_is_given_each_width_with_its_fields_in_order() {
        let post = PresignedPost {
            url: "http://127.0.0.1:4566/shop-images".into(),
            fields: vec![
                ("key".into(), "mug-1-640.webp".into()),
                ("policy".into(), "e30=".into()),
            ],
        };
        let value = forms_json("mug-1", &[(640, post)]);
        assert_eq!(value["image"], "mug-1");
        assert_eq!(value["uploads"][0]["width"], 640);
        assert_eq!(
            value["uploads"][0]["fields"],
            json!([["key", "mug-1-640.webp"], ["policy", "e30="]])
        );
    }
}
