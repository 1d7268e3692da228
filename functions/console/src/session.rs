//! What the browser keeps for the console: a session id that every form's CSRF token is tied
//! to, and, once signed in, the pool's ID token. Both are HttpOnly and SameSite=Strict (a link
//! from elsewhere arrives without them), and Secure over HTTPS. The token is checked by
//! [`crate::staff::StaffPool::verify`] on every request; this module only carries it.

use lambda_http::Request;
use shop_platform::{keys, secrets};

/// The session id the CSRF tokens are made for.
const SID: &str = "console_sid";
/// The pool's ID token.
const TOKEN: &str = "console_session";
/// A message for the next page, sealed with the shop's key.
const FLASH: &str = "console_flash";
/// How long a signed-out session id lives (the sign-in form's).
const SID_MAX_AGE: u64 = 12 * 3600;
/// The longest an ID token is kept, whatever it says (Cognito's are an hour to a day).
const TOKEN_MAX_AGE: u64 = 24 * 3600;

/// The console's cookies as this request brought them.
#[derive(Debug, Clone)]
pub struct Session {
    sid: String,
    new: bool,
    secure: bool,
    token: Option<String>,
    flash: Option<String>,
}

impl Session {
    /// The session of `request`; a new session id when it brought none.
    pub fn read(request: &Request) -> Self {
        let (mut sid, mut token, mut flash) = (None, None, None);
        for header in request.headers().get_all(http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                match name {
                    SID if is_token(value, 128) => sid = Some(value.to_owned()),
                    TOKEN if is_jwt(value) => token = Some(value.to_owned()),
                    FLASH => {
                        flash = keys::key()
                            .open(FLASH, value)
                            .and_then(|bytes| String::from_utf8(bytes).ok())
                    }
                    _ => {}
                }
            }
        }
        let new = sid.is_none();
        Self {
            sid: sid.unwrap_or_else(secrets::new_token),
            new,
            secure: shop_platform::edge::over_https(request),
            token,
            flash,
        }
    }

    /// The session id the browser brought; `None` when it brought none (a new one is given).
    pub fn id(&self) -> Option<&str> {
        (!self.new).then_some(self.sid.as_str())
    }

    /// The ID token the browser holds, unchecked.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The message the last form left for this page.
    pub fn message(&self) -> Option<&str> {
        self.flash.as_deref()
    }

    /// The `Set-Cookie` that leaves `message` for the next page.
    pub fn flash(&self, message: &str) -> String {
        self.cookie(FLASH, &keys::key().seal(FLASH, message.as_bytes()), 60)
    }

    /// The CSRF token of this session, for a form's hidden field.
    pub fn csrf(&self) -> String {
        keys::key().tag("console-csrf", &self.sid)
    }

    /// Whether `given` is this session's CSRF token; a session the request did not bring has
    /// none.
    pub fn csrf_matches(&self, given: &str) -> bool {
        !self.new && same(given.as_bytes(), self.csrf().as_bytes())
    }

    /// The `Set-Cookie` values every answer carries: the session id when new, the message's
    /// removal once shown.
    pub fn cookies(&self) -> Vec<String> {
        let mut cookies = Vec::new();
        if self.new {
            cookies.push(self.cookie(SID, &self.sid, SID_MAX_AGE));
        }
        if self.flash.is_some() {
            cookies.push(self.cookie(FLASH, "", 0));
        }
        cookies
    }

    /// The new session id of a sign-in and its cookies: the token until it expires (at
    /// `expires_at`, unix seconds, at most a day), and the new session id, so a session id
    /// planted before is worth nothing.
    pub fn sign_in(&self, token: &str, now: u64, expires_at: u64) -> (String, Vec<String>) {
        let max_age = expires_at.saturating_sub(now).min(TOKEN_MAX_AGE);
        let sid = secrets::new_token();
        let cookies = vec![
            self.cookie(TOKEN, token, max_age),
            self.cookie(SID, &sid, max_age.max(SID_MAX_AGE)),
        ];
        (sid, cookies)
    }

    /// The cookie that forgets a token the browser holds (one that was refused).
    pub fn forget_token(&self) -> Vec<String> {
        if self.token.is_some() {
            vec![self.cookie(TOKEN, "", 0)]
        } else {
            Vec::new()
        }
    }

    /// The cookies of a sign-out: the token and session id forgotten.
    pub fn sign_out(&self) -> Vec<String> {
        vec![self.cookie(TOKEN, "", 0), self.cookie(SID, "", 0)]
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
    }
}

/// Whether `value` could be a base64url token of at most `max` characters.
fn is_token(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `value` has a JWT's shape: three base64url parts.
fn is_jwt(value: &str) -> bool {
    value.len() <= 4096 && value.split('.').count() == 3 && value.split('.').all(|part| is_token(part, 4096))
}

/// Compares without stopping at the first difference.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cookie: &str) -> Request {
        http::Request::builder()
            .header(http::header::COOKIE, cookie)
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn the_token_and_session_id_are_read_and_other_values_ignored() {
        let session = Session::read(&request("console_sid=abc; console_session=a.b.c; x=1"));
        assert_eq!(session.token(), Some("a.b.c"));
        assert!(session.cookies().is_empty());
        let session = Session::read(&request("console_sid=<x>; console_session=a.<b>.c"));
        assert_eq!(session.token(), None);
        assert_eq!(session.cookies().len(), 1, "a new session id replaces the bad one");
    }

    #[test]
    fn a_form_needs_the_csrf_token_of_the_session_it_came_with() {
        let session = Session::read(&request("console_sid=abc"));
        assert!(session.csrf_matches(&session.csrf()));
        assert!(!session.csrf_matches(""));
        let other = Session::read(&request("console_sid=abd"));
        assert!(!session.csrf_matches(&other.csrf()));
        let fresh = Session::read(&request(""));
        assert!(!fresh.csrf_matches(&fresh.csrf()), "no session id: no valid token");
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_https() {
        let plain = Session::read(&request("console_sid=s"));
        let (sid, cookies) = plain.sign_in("a.b.c", 100, 3700);
        assert!(
            cookies[1].starts_with(&format!("console_sid={sid};")),
            "the new session id"
        );
        assert_ne!(plain.id(), Some(sid.as_str()));
        assert!(cookies[0].starts_with("console_session=a.b.c; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"));
        assert!(!cookies[0].contains("Secure"));
        let mut secure = request("console_sid=s");
        secure
            .headers_mut()
            .insert("x-forwarded-proto", http::HeaderValue::from_static("https"));
        assert!(Session::read(&secure).sign_in("a.b.c", 0, 10).1[0].ends_with("; Secure"));
        assert!(plain.sign_out().iter().all(|c| c.contains("Max-Age=0")));
    }
}
