//! S3 (REST, signing name `s3`), path-style as the local stack's clients send it
//! (`/<bucket>/<key>?<subresource>`): an object call is its action on the object's ARN
//! (`arn:aws:s3:::<bucket>/<key>`), a bucket call its action on the bucket's
//! (`arn:aws:s3:::<bucket>`). A subresource (`?acl`, `?tagging`, `?uploads`, ...) this check does
//! not know is not classified, so it is refused rather than passed as the plain object call.

use super::RequestError;
use crate::iam::Access;
use percent_encoding::percent_decode_str;

/// Query parameters that leave an object call the plain action: the SDK's operation marker
/// (`x-id=GetObject`), the overrides of a GET's response headers, a part of the object.
const OBJECT_PARAMETERS: &[&str] = &[
    "x-id",
    "partNumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// The parameters of a ListObjectsV2 (`GET /<bucket>?list-type=2`).
const LIST_PARAMETERS: &[&str] = &[
    "x-id",
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
];

/// The accesses of one S3 call: `method` on `path` (with its query string).
pub(super) fn accesses(method: &str, path: &str) -> Result<Vec<Access>, RequestError> {
    let method = method.to_ascii_uppercase();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let path = path.split('#').next().unwrap_or(path);
    let described = format!("{method} {path}{}{query}", if query.is_empty() { "" } else { "?" });
    let unsupported = || RequestError::Unsupported {
        service: "s3".into(),
        operation: described.clone(),
    };
    let parameters: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            percent_decode_str(name).decode_utf8_lossy().into_owned()
        })
        .collect();
    let only = |allowed: &[&str]| parameters.iter().all(|name| allowed.contains(&name.as_str()));
    let has = |name: &str| parameters.iter().any(|p| p == name);
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = percent_decode_str(bucket).decode_utf8_lossy().into_owned();
    let key = percent_decode_str(key).decode_utf8_lossy().into_owned();
    if bucket.is_empty() {
        return match method.as_str() {
            "GET" if only(&["x-id"]) => Ok(vec![Access::new("s3:ListAllMyBuckets", "*")]),
            _ => Err(unsupported()),
        };
    }
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    if key.is_empty() {
        let action = match method.as_str() {
            "PUT" if only(&["x-id"]) => "s3:CreateBucket",
            "DELETE" if only(&["x-id"]) => "s3:DeleteBucket",
            "HEAD" if only(&["x-id"]) => "s3:ListBucket",
            "GET" if only(LIST_PARAMETERS) => "s3:ListBucket",
            _ => return Err(unsupported()),
        };
        return Ok(vec![Access::new(action, bucket_arn)]);
    }
    let object = format!("{bucket_arn}/{key}");
    let versioned = has("versionId");
    let action = match method.as_str() {
        "GET" | "HEAD" if only(OBJECT_PARAMETERS) => "s3:GetObject",
        "GET" | "HEAD"
            if versioned
                && parameters
                    .iter()
                    .all(|p| p == "versionId" || OBJECT_PARAMETERS.contains(&p.as_str())) =>
        {
            "s3:GetObjectVersion"
        }
        // A copy (`x-amz-copy-source`) reads its source too; the headers are not seen here, and
        // no function of the shop copies.
        "PUT" if only(&["x-id"]) => "s3:PutObject",
        "DELETE" if only(&["x-id"]) => "s3:DeleteObject",
        "DELETE" if versioned && parameters.iter().all(|p| p == "versionId" || p == "x-id") => "s3:DeleteObjectVersion",
        _ => return Err(unsupported()),
    };
    Ok(vec![Access::new(action, object)])
}
