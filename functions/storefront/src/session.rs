//! What the browser keeps for the shop: the cart (its id and token, in an HttpOnly cookie the
//! page's scripts cannot read) and a session id that every form's CSRF token is tied to.

use lambda_http::Request;
use shop_platform::keys;
use shop_platform::secrets;

/// The cookie holding `<cart_id>.<cart_token>`.
const CART: &str = "cart";
/// The cookie holding the session id the CSRF tokens are made for.
const SESSION: &str = "sid";
/// The cookie holding a message for the next page (a refusal after a form), sealed with the
/// shop's key so nobody else can make the shop say something.
const FLASH: &str = "flash";
/// How long the browser keeps the cart's cookie: as long as an idle cart may live at most.
const CART_MAX_AGE: u32 = 30 * 24 * 3600;
/// How long the session id lives.
const SESSION_MAX_AGE: u32 = 30 * 24 * 3600;

/// The shopper's cookies as this request brought them.
#[derive(Debug, Clone)]
pub struct Session {
    sid: String,
    new: bool,
    secure: bool,
    cart: Option<(String, String)>,
    flash: Option<String>,
}

impl Session {
    /// The session of `request`; a new session id when it brought none.
    pub fn read(request: &Request) -> Self {
        let mut sid = None;
        let mut cart = None;
        let mut flash = None;
        for header in request.headers().get_all(http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                match name {
                    SESSION if is_token(value) => sid = Some(value.to_owned()),
                    FLASH => {
                        flash = keys::key()
                            .open(FLASH, value)
                            .and_then(|bytes| String::from_utf8(bytes).ok())
                    }
                    CART => {
                        cart = value
                            .split_once('.')
                            .filter(|(id, token)| is_token(id) && is_token(token))
                            .map(|(id, token)| (id.to_owned(), token.to_owned()))
                    }
                    _ => {}
                }
            }
        }
        let secure = over_https(request);
        let new = sid.is_none();
        Self {
            sid: sid.unwrap_or_else(secrets::new_token),
            new,
            secure,
            cart,
            flash,
        }
    }

    /// The message the last form left for this page, if any (see [`Session::flash`]).
    pub fn message(&self) -> Option<&str> {
        self.flash.as_deref()
    }

    /// The `Set-Cookie` that leaves `message` for the next page.
    pub fn flash(&self, message: &str) -> String {
        let sealed = keys::key().seal(FLASH, message.as_bytes());
        self.cookie(FLASH, &sealed, 60)
    }

    /// The cart's id and token, when the browser holds one.
    pub fn cart(&self) -> Option<(&str, &str)> {
        self.cart.as_ref().map(|(id, token)| (id.as_str(), token.as_str()))
    }

    /// The CSRF token of this session, for a form's hidden field.
    pub fn csrf(&self) -> String {
        keys::key().tag("storefront-csrf", &self.sid)
    }

    /// Whether `given` is this session's CSRF token. A session the request did not bring has
    /// none: a form posted without the cookie is refused.
    pub fn csrf_matches(&self, given: &str) -> bool {
        !self.new && same(given.as_bytes(), self.csrf().as_bytes())
    }

    /// The `Set-Cookie` values this answer must carry: the session id when it is new,
    /// and the message's removal once it was shown.
    pub fn cookies(&self) -> Vec<String> {
        let mut cookies = Vec::new();
        if self.new {
            cookies.push(self.cookie(SESSION, &self.sid, SESSION_MAX_AGE));
        }
        if self.flash.is_some() {
            cookies.push(self.cookie(FLASH, "", 0));
        }
        cookies
    }

    /// The `Set-Cookie` that keeps `cart_id` and `token` in the browser.
    pub fn keep_cart(&self, cart_id: &str, token: &str) -> String {
        self.cookie(CART, &format!("{cart_id}.{token}"), CART_MAX_AGE)
    }

    /// The `Set-Cookie` that forgets the cart (it became an order, or is gone).
    pub fn forget_cart(&self) -> String {
        self.cookie(CART, "", 0)
    }

    fn cookie(&self, name: &str, value: &str, max_age: u32) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }
}

/// Whether the browser reached the shop over HTTPS: API Gateway says so in
/// `X-Forwarded-Proto`; the local gateway speaks plain HTTP.
pub fn over_https(request: &Request) -> bool {
    shop_platform::edge::over_https(request)
}

/// Whether `value` could be one of the shop's ids or tokens (base64url), so nothing else ever
/// reaches a handler or a header.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
