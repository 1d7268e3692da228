//! What the shop's two sites (the storefront and the console) share with a browser: a session id
//! that every form's CSRF token is tied to, a sealed message for the next page (the "flash"),
//! their cookies (HttpOnly, Secure over HTTPS), forms read as browsers send them, and the answers
//! a page ends in (an HTML page, a `303 See Other` after a form). Each site names its own
//! cookies and keeps its own others (the cart, the staff token) beside this.

use crate::{edge, keys, secrets};
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestPayloadExt, Response};
use serde::de::DeserializeOwned;

/// How one site names and keeps its session's cookies.
#[derive(Debug, Clone, Copy)]
pub struct SessionCookies {
    /// The session id's cookie.
    pub session: &'static str,
    /// The message's cookie (also the purpose its seal is made for).
    pub flash: &'static str,
    /// What the CSRF tokens are tagged for (one site's token is worth nothing at the other).
    pub csrf_purpose: &'static str,
    /// `Lax` (a link from elsewhere keeps the cart) or `Strict` (it arrives signed out).
    pub same_site: &'static str,
    /// Seconds the browser keeps a new session id.
    pub session_max_age: u64,
}

/// A browser's session as one request brought it.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    names: SessionCookies,
    sid: String,
    new: bool,
    secure: bool,
    flash: Option<String>,
}

impl BrowserSession {
    /// The session `request` brought under `names`, a new session id when it brought none (or
    /// one that is not a token); `other` sees every other cookie, for the site's own.
    pub fn read(request: &Request, names: SessionCookies, mut other: impl FnMut(&str, &str)) -> Self {
        let (mut sid, mut flash) = (None, None);
        for header in request.headers().get_all(header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name == names.session {
                    if is_token(value, 128) {
                        sid = Some(value.to_owned());
                    }
                } else if name == names.flash {
                    flash = keys::key()
                        .open(names.flash, value)
                        .and_then(|bytes| String::from_utf8(bytes).ok());
                } else {
                    other(name, value);
                }
            }
        }
        let new = sid.is_none();
        Self {
            names,
            sid: sid.unwrap_or_else(secrets::new_token),
            new,
            secure: edge::over_https(request),
            flash,
        }
    }

    /// The session id the browser brought; `None` when it brought none (a new one is given).
    pub fn id(&self) -> Option<&str> {
        (!self.new).then_some(self.sid.as_str())
    }

    /// The message the last form left for this page.
    pub fn message(&self) -> Option<&str> {
        self.flash.as_deref()
    }

    /// The `Set-Cookie` that leaves `message` for the next page.
    pub fn flash(&self, message: &str) -> String {
        let sealed = keys::key().seal(self.names.flash, message.as_bytes());
        self.cookie(self.names.flash, &sealed, 60)
    }

    /// The CSRF token of this session, for a form's hidden field.
    pub fn csrf(&self) -> String {
        keys::key().tag(self.names.csrf_purpose, &self.sid)
    }

    /// Whether `given` is this session's CSRF token. A session the request did not bring has
    /// none: a form posted without the cookie is refused.
    pub fn csrf_matches(&self, given: &str) -> bool {
        !self.new && same(given.as_bytes(), self.csrf().as_bytes())
    }

    /// The `Set-Cookie` values every answer carries: the session id when it is new, the
    /// message's removal once it was shown.
    pub fn cookies(&self) -> Vec<String> {
        let mut cookies = Vec::new();
        if self.new {
            cookies.push(self.cookie(self.names.session, &self.sid, self.names.session_max_age));
        }
        if self.flash.is_some() {
            cookies.push(self.cookie(self.names.flash, "", 0));
        }
        cookies
    }

    /// The `Set-Cookie` of a new session id (kept `max_age` seconds), and the id.
    pub fn renewed(&self, max_age: u64) -> (String, String) {
        let sid = secrets::new_token();
        (sid.clone(), self.cookie(self.names.session, &sid, max_age))
    }

    /// The `Set-Cookie` of the site's cookie `name` holding `value` for `max_age` seconds (`0`:
    /// forgotten): HttpOnly, the site's SameSite, Secure over HTTPS.
    pub fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={}{secure}",
            self.names.same_site
        )
    }
}

/// Whether `value` could be a base64url id or token of at most `max` characters, so nothing else
/// from a cookie ever reaches a handler or a header.
pub fn is_token(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Compares without stopping at the first difference.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The form of a `POST`, read as `T` (urlencoded, as browsers send forms); the refusal in words
/// for a page, `site` naming where the form should have come from.
pub fn form<T: DeserializeOwned>(request: &Request, site: &str) -> Result<T, String> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(format!("send this form from {site}"));
    }
    request
        .payload::<T>()
        .map_err(|error| format!("the form could not be read: {error}"))?
        .ok_or_else(|| "the form was empty".to_owned())
}

/// An HTML page with `status`, `cache_control` and `cookies`.
pub fn html(status: StatusCode, cache_control: &'static str, html: String, cookies: Vec<String>) -> Response<Body> {
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, cache_control)
        .body(Body::Text(html))
        .unwrap_or_default();
    with_cookies(&mut response, cookies);
    response
}

/// `303 See Other` to `location` after a form, never cached, with `cookies`.
pub fn see_other(location: &str, cookies: Vec<String>) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .unwrap_or_default();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    with_cookies(&mut response, cookies);
    response
}

/// Adds each of `cookies` as a `Set-Cookie` (one that is not a header value is dropped).
pub fn with_cookies(response: &mut Response<Body>, cookies: Vec<String>) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}
