//! A `multipart/form-data` post, as a browser sends a form with a file input: its parts read
//! whole (the body is already in memory: API Gateway hands the function all of it), within a
//! size limit. `form()` reads urlencoded forms; this reads the others.

use crate::pages::PageError;
use http::header;
use lambda_http::{Body, Request};

/// The largest multipart post read: a catalog file of a few thousand rows, well under API
/// Gateway's and Lambda's payload limits.
pub(crate) const MULTIPART_LIMIT: u64 = 2 * 1024 * 1024;

/// One part of the form: a field's text or a file's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The field's name.
    pub name: String,
    /// The file's name, for a file input.
    pub file_name: Option<String>,
    /// What was sent.
    pub bytes: Vec<u8>,
}

/// Every part of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct MultipartForm {
    parts: Vec<Part>,
}

impl MultipartForm {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|part| part.name == name)
    }

    /// The text of the field `name` (empty when absent or not UTF-8).
    pub fn text(&self, name: &str) -> &str {
        self.part(name)
            .and_then(|part| std::str::from_utf8(&part.bytes).ok())
            .unwrap_or("")
    }
}

/// Whether `request` posts `multipart/form-data`.
pub(crate) fn is_multipart(request: &Request) -> bool {
    content_type(request).is_some_and(|value| value.starts_with("multipart/form-data"))
}

fn content_type(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// Reads `request`'s multipart form, refusing one over [`MULTIPART_LIMIT`].
pub(crate) async fn read(request: &Request) -> Result<MultipartForm, PageError> {
    let refused = |error: multer::Error| PageError::BadForm(format!("the form could not be read: {error}"));
    let boundary = multer::parse_boundary(content_type(request).unwrap_or("")).map_err(refused)?;
    let body = match request.body() {
        Body::Text(text) => bytes::Bytes::from(text.clone().into_bytes()),
        Body::Binary(bytes) => bytes::Bytes::from(bytes.clone()),
        _ => bytes::Bytes::new(),
    };
    if body.len() as u64 > MULTIPART_LIMIT {
        return Err(PageError::BadForm(format!(
            "the file is too large: send at most {} MB at once",
            MULTIPART_LIMIT / (1024 * 1024)
        )));
    }
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(MULTIPART_LIMIT));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = MultipartForm::default();
    while let Some(field) = multipart.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(refused)?.to_vec();
        form.parts.push(Part { name, file_name, bytes });
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn post(body: &str) -> Request {
        http::Request::builder()
            .method("POST")
            .uri("/catalog/import")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::Text(body.replace('\n', "\r\n")))
            .unwrap()
    }

    #[tokio::test]
    async fn a_file_and_a_field_are_read_from_a_browsers_post() {
        let body = "--XyZ\nContent-Disposition: form-data; name=\"csrf\"\n\ntok\n--XyZ\nContent-Disposition: form-data; name=\"file\"; filename=\"catalog.csv\"\nContent-Type: text/csv\n\na,b\n1,2\n--XyZ--\n";
        let request = post(body);
        assert!(is_multipart(&request));
        let form = read(&request).await.unwrap();
        assert_eq!(form.text("csrf"), "tok");
        let file = form.part("file").unwrap();
        assert_eq!(file.file_name.as_deref(), Some("catalog.csv"));
        assert_eq!(file.bytes, b"a,b\r\n1,2");
        assert_eq!(form.text("missing"), "");
    }

    /// `cases` cases from a fixed seed, without a failure file (`PROPTEST_RNG_SEED` explores others).
    fn bounded(cases: u32) -> proptest::test_runner::Config {
        let mut config = proptest::test_runner::Config {
            cases,
            failure_persistence: None,
            ..Default::default()
        };
        if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
            config.rng_seed = proptest::test_runner::RngSeed::Fixed(21);
        }
        config
    }

    fn posted(content_type: &str, body: Vec<u8>) -> Request {
        http::Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::Binary(body))
            .unwrap()
    }

    fn read_now(request: &Request) -> Result<MultipartForm, PageError> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(read(request))
    }

    proptest::proptest! {
        #![proptest_config(bounded(300))]

        #[test]
        fn any_body_is_read_or_refused_as_a_bad_form(
            body in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                "(--XyZ(--)?\r?\n(Content-Disposition: form-data; name=\"[a-z\"]{0,5}\"(; filename=\"[ -~]{0,6}\")?\r?\n)?\r?\n[ -~]{0,10}\r?\n){0,4}"
                    .prop_map(String::into_bytes),
            ],
            content_type in proptest::prop_oneof![
                proptest::strategy::Just("multipart/form-data; boundary=XyZ".to_owned()),
                "multipart/form-data(; boundary=[ -~]{0,10})?",
            ],
        ) {
            if let Err(error) = read_now(&posted(&content_type, body)) {
                proptest::prop_assert!(matches!(error, PageError::BadForm(_)), "{:?}", error);
            }
        }

        #[test]
        fn the_parts_a_browser_posts_are_read_back_in_order(
            parts in proptest::collection::vec(
                ("[a-z_]{1,10}", proptest::option::of("[A-Za-z0-9._ -]{1,20}"), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)),
                1..5,
            ),
        ) {
            let boundary = "----ShopFormBoundary7MA4YWxkTrZu0gW";
            let mut body = Vec::new();
            for (name, file_name, bytes) in &parts {
                proptest::prop_assume!(!bytes.windows(boundary.len()).any(|w| w == boundary.as_bytes()));
                body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes());
                if let Some(file_name) = file_name {
                    body.extend(format!("; filename=\"{file_name}\"\r\nContent-Type: text/csv").bytes());
                }
                body.extend(b"\r\n\r\n");
                body.extend(bytes);
                body.extend(b"\r\n");
            }
            body.extend(format!("--{boundary}--\r\n").bytes());
            let form = read_now(&posted(&format!("multipart/form-data; boundary={boundary}"), body)).unwrap();
            let read: Vec<(String, Option<String>, Vec<u8>)> =
                form.parts.into_iter().map(|part| (part.name, part.file_name, part.bytes)).collect();
            proptest::prop_assert_eq!(read, parts);
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_multipart_is_a_bad_form() {
        assert!(matches!(read(&post("nothing here")).await, Err(PageError::BadForm(_))));
    }
}
