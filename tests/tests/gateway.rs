//! The local gateway's answers to requests a client library would never send: read from the raw
//! bytes on the wire, they are problem+json like every other refusal.

use serde_json::Value;
use shop_tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `request` as raw bytes and answers the status, the content type and the JSON body.
async fn raw(request: &[u8]) -> (u16, String, Value) {
    let app = TestApp::new();
    let address = app.api.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("the gateway listens");
    stream.write_all(request).await.expect("the request is sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("an answer");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_requests_are_answered_in_problem_json() {
    let long_path = format!("GET /products/{} HTTP/1.1\r\nhost: shop\r\n\r\n", "a".repeat(64 * 1024));
    let cases: [(&[u8], u16, &str); 4] = [
        (
            b"GET /products HTTP/1.1\r\nhost: shop\r\nx-note: a\x01b\r\n\r\n",
            400,
            "malformed_request",
        ),
        (
            b"POST /carts HTTP/1.1\r\nhost: shop\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
            400,
            "malformed_request",
        ),
        (long_path.as_bytes(), 414, "uri_too_long"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "malformed_request"),
    ];
    for (request, status, code) in cases {
        let (got, content_type, body) = raw(request).await;
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        assert_eq!(
            (got, content_type.as_str()),
            (status, "application/problem+json"),
            "{shown}"
        );
        assert_eq!(body["code"], code, "{shown}");
        assert_eq!(body["status"], status, "{shown}");
    }
    // A well-formed request on the same gateway is served as ever.
    let (status, content_type, _) = raw(b"GET /categories HTTP/1.1\r\nhost: shop\r\n\r\n").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
}
