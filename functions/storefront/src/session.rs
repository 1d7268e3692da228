//! What the browser keeps for the shop: the cart (its id and token, in an HttpOnly cookie the
//! page's scripts cannot read) and a session id that every form's CSRF token is tied to.

use lambda_http::Request;
use shop_platform::browser::{BrowserSession, SessionCookies, is_token};

/// The cookie holding `<cart_id>.<cart_token>`.
const CART: &str = "cart";
/// The session id the CSRF tokens are made for, and a message for the next page (a refusal
/// after a form), sealed with the shop's key so nobody else can make the shop say something.
/// Lax: a shopper following a link from elsewhere keeps the cart.
const COOKIES: SessionCookies = SessionCookies {
    session: "sid",
    flash: "flash",
    csrf_purpose: "storefront-csrf",
    same_site: "Lax",
    session_max_age: 30 * 24 * 3600,
};
/// How long the browser keeps the cart's cookie: as long as an idle cart may live at most.
const CART_MAX_AGE: u64 = 30 * 24 * 3600;

/// The shopper's cookies as this request brought them.
#[derive(Debug, Clone)]
pub struct Session {
    browser: BrowserSession,
    cart: Option<(String, String)>,
}

impl Session {
    /// The session of `request`; a new session id when it brought none.
    pub fn read(request: &Request) -> Self {
        let mut cart = None;
        let browser = BrowserSession::read(request, COOKIES, |name, value| {
            if name == CART {
                cart = value
                    .split_once('.')
                    .filter(|(id, token)| is_token(id, 128) && is_token(token, 128))
                    .map(|(id, token)| (id.to_owned(), token.to_owned()));
            }
        });
        Self { browser, cart }
    }

    /// The message the last form left for this page, if any (see [`Session::flash`]).
    pub fn message(&self) -> Option<&str> {
        self.browser.message()
    }

    /// The `Set-Cookie` that leaves `message` for the next page.
    pub fn flash(&self, message: &str) -> String {
        self.browser.flash(message)
    }

    /// The cart's id and token, when the browser holds one.
    pub fn cart(&self) -> Option<(&str, &str)> {
        self.cart.as_ref().map(|(id, token)| (id.as_str(), token.as_str()))
    }

    /// The CSRF token of this session, for a form's hidden field.
    pub fn csrf(&self) -> String {
        self.browser.csrf()
    }

    /// Whether `given` is this session's CSRF token. A session the request did not bring has
    /// none: a form posted without the cookie is refused.
    pub fn csrf_matches(&self, given: &str) -> bool {
        self.browser.csrf_matches(given)
    }

    /// The `Set-Cookie` values this answer must carry: the session id when it is new,
    /// and the message's removal once it was shown.
    pub fn cookies(&self) -> Vec<String> {
        self.browser.cookies()
    }

    /// The `Set-Cookie` that keeps `cart_id` and `token` in the browser.
    pub fn keep_cart(&self, cart_id: &str, token: &str) -> String {
        self.browser.cookie(CART, &format!("{cart_id}.{token}"), CART_MAX_AGE)
    }

    /// The `Set-Cookie` that forgets the cart (it became an order, or is gone).
    pub fn forget_cart(&self) -> String {
        self.browser.cookie(CART, "", 0)
    }
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
    fn the_cart_and_session_are_read_from_the_cookies() {
        let session = Session::read(&request("sid=abc_-1; cart=cart1.tok-en_2; other=x"));
        assert_eq!(session.cart(), Some(("cart1", "tok-en_2")));
        assert!(session.cookies().is_empty());
        assert!(session.csrf_matches(&session.csrf()));
    }

    #[test]
    fn a_forged_or_missing_session_has_no_valid_csrf_token() {
        let fresh = Session::read(&request(""));
        assert!(
            !fresh.csrf_matches(&fresh.csrf()),
            "a session the browser does not hold yet"
        );
        assert_eq!(fresh.cookies().len(), 1);
        let session = Session::read(&request("sid=abc"));
        let other = Session::read(&request("sid=abd"));
        assert!(!session.csrf_matches(&other.csrf()));
        assert!(!session.csrf_matches(""));
    }

    #[test]
    fn cookie_values_that_are_not_tokens_are_ignored() {
        let session = Session::read(&request("cart=a.<b>; sid=<script>"));
        assert_eq!(session.cart(), None);
        assert_eq!(session.cookies().len(), 1, "a new session replaces the bad one");
        let session = Session::read(&request("cart=no-dot"));
        assert_eq!(session.cart(), None);
    }

    #[test]
    fn a_message_is_read_only_when_the_shop_sealed_it_and_is_cleared_once_shown() {
        let session = Session::read(&request("sid=s"));
        let cookie = session.flash("Only 2 left of <Mug>");
        let value = cookie.trim_start_matches("flash=").split(';').next().unwrap();
        let next = Session::read(&request(&format!("sid=s; flash={value}")));
        assert_eq!(next.message(), Some("Only 2 left of <Mug>"));
        assert!(next.cookies().iter().any(|c| c.starts_with("flash=;")));
        let forged = Session::read(&request("sid=s; flash=SGVsbG8"));
        assert_eq!(forged.message(), None);
    }

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_over_https() {
        let plain = Session::read(&request("sid=s"));
        let cookie = plain.keep_cart("c", "t");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"));
        let mut secure = request("sid=s");
        secure
            .headers_mut()
            .insert("x-forwarded-proto", http::HeaderValue::from_static("https"));
        assert!(Session::read(&secure).keep_cart("c", "t").ends_with("; Secure"));
    }
}
