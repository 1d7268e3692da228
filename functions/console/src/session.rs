//! What the browser keeps for the console: a session id that every form's CSRF token is tied
//! to, and, once signed in, the pool's ID token. Both are HttpOnly and SameSite=Strict (a link
//! from elsewhere arrives without them), and Secure over HTTPS. The token is checked by
//! [`crate::staff::StaffPool::verify`] on every request; this module only carries it.

use lambda_http::Request;
use shop_platform::browser::{BrowserSession, SessionCookies, is_token};

/// The session id the CSRF tokens are made for, and a message for the next page, sealed with the
/// shop's key. Strict: a link from elsewhere arrives signed out.
const COOKIES: SessionCookies = SessionCookies {
    session: "console_sid",
    flash: "console_flash",
    csrf_purpose: "console-csrf",
    same_site: "Strict",
    session_max_age: 12 * 3600,
};
/// The pool's ID token.
const TOKEN: &str = "console_session";
/// The longest an ID token is kept, whatever it says (Cognito's are an hour to a day).
const TOKEN_MAX_AGE: u64 = 24 * 3600;

/// The console's cookies as this request brought them.
#[derive(Debug, Clone)]
pub struct Session {
    browser: BrowserSession,
    token: Option<String>,
}

impl Session {
    /// The session of `request`; a new session id when it brought none.
    pub fn read(request: &Request) -> Self {
        let mut token = None;
        let browser = BrowserSession::read(request, COOKIES, |name, value| {
            if name == TOKEN && is_jwt(value) {
                token = Some(value.to_owned());
            }
        });
        Self { browser, token }
    }

    /// The session id the browser brought; `None` when it brought none (a new one is given).
    pub fn id(&self) -> Option<&str> {
        self.browser.id()
    }

    /// The ID token the browser holds, unchecked.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The message the last form left for this page.
    pub fn message(&self) -> Option<&str> {
        self.browser.message()
    }

    /// The `Set-Cookie` that leaves `message` for the next page.
    pub fn flash(&self, message: &str) -> String {
        self.browser.flash(message)
    }

    /// The CSRF token of this session, for a form's hidden field.
    pub fn csrf(&self) -> String {
        self.browser.csrf()
    }

    /// Whether `given` is this session's CSRF token; a session the request did not bring has
    /// none.
    pub fn csrf_matches(&self, given: &str) -> bool {
        self.browser.csrf_matches(given)
    }

    /// The `Set-Cookie` values every answer carries: the session id when new, the message's
    /// removal once shown.
    pub fn cookies(&self) -> Vec<String> {
        self.browser.cookies()
    }

    /// The new session id of a sign-in and its cookies: the token until it expires (at
    /// `expires_at`, unix seconds, at most a day), and the new session id, so a session id
    /// planted before is worth nothing.
    pub fn sign_in(&self, token: &str, now: u64, expires_at: u64) -> (String, Vec<String>) {
        let max_age = expires_at.saturating_sub(now).min(TOKEN_MAX_AGE);
        let (sid, sid_cookie) = self.browser.renewed(max_age.max(COOKIES.session_max_age));
        (sid, vec![self.browser.cookie(TOKEN, token, max_age), sid_cookie])
    }

    /// The cookie that forgets a token the browser holds (one that was refused).
    pub fn forget_token(&self) -> Vec<String> {
        if self.token.is_some() {
            vec![self.browser.cookie(TOKEN, "", 0)]
        } else {
            Vec::new()
        }
    }

    /// The cookies of a sign-out: the token and session id forgotten.
    pub fn sign_out(&self) -> Vec<String> {
        vec![
            self.browser.cookie(TOKEN, "", 0),
            self.browser.cookie(COOKIES.session, "", 0),
        ]
    }
}

/// Whether `value` has a JWT's shape: three base64url parts.
fn is_jwt(value: &str) -> bool {
    value.len() <= 4096 && value.split('.').count() == 3 && value.split('.').all(|part| is_token(part, 4096))
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
