//! A request's head read before hyper reads it: what hyper would refuse with an empty 400, 414 or
//! 431 (a control byte in a header, two `Content-Length`s, a path of 64 KB) is refused here as
//! every other refusal of the shop is, in problem+json. One request per connection, so every
//! request passes through here.

use shop_platform::ApiError;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The longest request line and headers read.
pub const MAX_HEAD: usize = 32 * 1024;
/// The longest path and query.
pub const MAX_URI: usize = 8 * 1024;
/// The most headers one request has.
const MAX_HEADERS: usize = 100;
/// How long a client may take to send its head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose head was read: those bytes first, then the rest of the stream.
pub struct Screened {
    head: Vec<u8>,
    read: usize,
    stream: TcpStream,
}

/// What reading a connection's head came to.
pub enum Outcome {
    /// A readable head: hand the connection on.
    Fine(Screened),
    /// Answered with a refusal of this status (already written) and closed.
    Refused(u16),
    /// The client went away, or sent nothing in time.
    Gone,
}

/// Reads the head of the request on `stream` and checks what hyper would refuse.
pub async fn screen(mut stream: TcpStream, request_id: &str) -> Outcome {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let complete = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(true);
            }
            if head.len() > MAX_HEAD {
                return Ok(false);
            }
            match stream.read(&mut chunk).await? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => head.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let refusal = match complete {
        Ok(Ok(true)) => check(&head),
        Ok(Ok(false)) => Some(too_large(&head)),
        Ok(Err(_)) | Err(_) => return Outcome::Gone,
    };
    match refusal {
        None => Outcome::Fine(Screened { head, read: 0, stream }),
        Some(error) => {
            let status = error.status().as_u16();
            let answer = wire(error, request_id);
            // The client may be gone already; nothing is owed to it then.
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
            Outcome::Refused(status)
        }
    }
}

/// What is wrong with a complete head, if anything.
fn check(head: &[u8]) -> Option<ApiError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let malformed =
        |what: &str| ApiError::bad_request("malformed_request", format!("the request cannot be read: {what}"));
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Some(malformed("its head is incomplete")),
        Err(httparse::Error::TooManyHeaders) => return Some(ApiError::HeadersTooLarge { limit: MAX_HEAD }),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return Some(malformed("a header holds a character headers may not hold"));
        }
        Err(httparse::Error::Token | httparse::Error::Version | httparse::Error::NewLine) => {
            return Some(malformed("its request line is not HTTP/1.1"));
        }
        Err(other) => return Some(malformed(&other.to_string())),
    }
    if request.path.is_some_and(|path| path.len() > MAX_URI) {
        return Some(ApiError::UriTooLong { limit: MAX_URI });
    }
    let named = |name: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count()
    };
    if named("content-length") > 1 {
        return Some(malformed("it has more than one Content-Length"));
    }
    if named("content-length") == 1 && named("transfer-encoding") > 0 {
        return Some(malformed("it has both Content-Length and Transfer-Encoding"));
    }
    None
}

/// The refusal of a head larger than [`MAX_HEAD`]: its request line, or its headers.
fn too_large(head: &[u8]) -> ApiError {
    let first_line = head.windows(2).position(|w| w == b"\r\n").unwrap_or(head.len());
    if first_line > MAX_URI {
        ApiError::UriTooLong { limit: MAX_URI }
    } else {
        ApiError::HeadersTooLarge { limit: MAX_HEAD }
    }
}

/// `error`'s problem+json answer as HTTP/1.1 bytes.
fn wire(error: ApiError, request_id: &str) -> Vec<u8> {
    let response = error.into_response(request_id);
    let status = response.status();
    let body: &[u8] = response.body().as_ref();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncache-control: no-store\r\ncontent-length: {}\r\napigw-requestid: {request_id}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

impl AsyncRead for Screened {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.head.len() {
            let n = (this.head.len() - this.read).min(buf.remaining());
            buf.put_slice(&this.head[this.read..this.read + n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Screened {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(head: &str) -> Option<(u16, &'static str)> {
        check(head.as_bytes()).map(|error| (error.status().as_u16(), error.code()))
    }

    #[test]
    fn what_hyper_would_refuse_is_named() {
        assert_eq!(refused("GET /products HTTP/1.1\r\nhost: x\r\n\r\n"), None);
        assert_eq!(
            refused("GET /products HTTP/1.1\r\nx-a: b\u{1}c\r\n\r\n"),
            Some((400, "malformed_request"))
        );
        assert_eq!(
            refused("POST /carts HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            Some((400, "malformed_request"))
        );
        assert_eq!(
            refused("POST /carts HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n"),
            Some((400, "malformed_request"))
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI));
        assert_eq!(refused(&long), Some((414, "uri_too_long")));
        assert_eq!(too_large(long.as_bytes()).code(), "uri_too_long");
        let headers = format!("GET / HTTP/1.1\r\nx: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(too_large(headers.as_bytes()).code(), "headers_too_large");
    }
}
