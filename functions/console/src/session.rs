//! What the browser keeps for the console: a session id that every form's CSRF token is tied
//! to, and, once signed in, the pool's ID token. Both are HttpOnly and SameSite=Strict (a link
//! from elsewhere arrives without them), and Secure over HTTPS. The token is checked by
//! [`crate::staff::StaffPool::verify`] on every request; this module only carries it. A step of
//! two-step sign-in in progress is held sealed beside them for a few minutes ([`Step`]).

use lambda_http::Request;
use serde::Serialize;
use serde::de::DeserializeOwned;
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
/// The longest sealed step read (an access token, sealed, is under 3,000 characters).
const STEP_LIMIT: usize = 3800;

/// A step of two-step sign-in that waits for the staff member's next form, held sealed (so
/// unreadable and unchangeable in the browser) in a cookie of its own, for this session id only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A sign-in whose password was right, waiting for the authenticator app's code (Cognito
    /// keeps its session three minutes).
    Code,
    /// A new authenticator app, waiting for its first code.
    Enrolment,
}

impl Step {
    const ALL: [Self; 2] = [Self::Code, Self::Enrolment];

    fn cookie(self) -> &'static str {
        match self {
            Self::Code => "console_code",
            Self::Enrolment => "console_enrol",
        }
    }

    fn max_age(self) -> u64 {
        match self {
            Self::Code => 3 * 60,
            Self::Enrolment => 10 * 60,
        }
    }
}

/// The console's cookies as this request brought them.
#[derive(Debug, Clone)]
pub struct Session {
    browser: BrowserSession,
    token: Option<String>,
    /// The sealed steps it brought, by [`Step::ALL`]'s order.
    steps: [Option<String>; 2],
}

impl Session {
    /// The session of `request`; a new session id when it brought none.
    pub fn read(request: &Request) -> Self {
        let mut token = None;
        let mut steps = [None, None];
        let browser = BrowserSession::read(request, COOKIES, |name, value| {
            if name == TOKEN && is_jwt(value) {
                token = Some(value.to_owned());
            }
            for (held, step) in steps.iter_mut().zip(Step::ALL) {
                if name == step.cookie() && is_token(value, STEP_LIMIT) {
                    *held = Some(value.to_owned());
                }
            }
        });
        Self { browser, token, steps }
    }

    /// The `Set-Cookie` that holds `value` for `step`, sealed for this session id.
    pub fn hold<T: Serialize>(&self, step: Step, value: &T) -> String {
        let plain = serde_json::to_vec(value).unwrap_or_default();
        let sealed = shop_platform::keys::key().seal(&self.step_purpose(step), &plain);
        self.browser.cookie(step.cookie(), &sealed, step.max_age())
    }

    /// What [`Self::hold`] held for `step` in this session; `None` when nothing (or something
    /// else, or another session's) is held.
    pub fn held<T: DeserializeOwned>(&self, step: Step) -> Option<T> {
        let index = Step::ALL.iter().position(|s| *s == step)?;
        let sealed = self.steps[index].as_deref()?;
        let plain = shop_platform::keys::key().open(&self.step_purpose(step), sealed)?;
        serde_json::from_slice(&plain).ok()
    }

    /// The `Set-Cookie` that forgets `step`.
    pub fn release(&self, step: Step) -> String {
        self.browser.cookie(step.cookie(), "", 0)
    }

    fn step_purpose(&self, step: Step) -> String {
        format!("{}:{}", step.cookie(), self.browser.id().unwrap_or_default())
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
    fn a_held_step_is_read_back_by_its_session_alone() {
        let session = Session::read(&request("console_sid=abc"));
        let cookie = session.hold(Step::Code, &"pending");
        assert!(cookie.contains("Max-Age=180; HttpOnly; SameSite=Strict"), "{cookie}");
        let sealed = cookie.split_once(';').unwrap().0;
        assert!(!sealed.contains("pending"), "sealed, not readable");
        let back = Session::read(&request(&format!("console_sid=abc; {sealed}")));
        assert_eq!(back.held::<String>(Step::Code).as_deref(), Some("pending"));
        assert_eq!(back.held::<String>(Step::Enrolment), None, "held for one step only");
        let other = Session::read(&request(&format!("console_sid=abd; {sealed}")));
        assert_eq!(other.held::<String>(Step::Code), None, "another session's is nothing");
        let moved = sealed.replace("console_code", "console_enrol");
        let moved = Session::read(&request(&format!("console_sid=abc; {moved}")));
        assert_eq!(moved.held::<String>(Step::Enrolment), None, "sealed for its own step");
        assert!(back.release(Step::Code).contains("Max-Age=0"));
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
