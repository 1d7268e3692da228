//! Property tests of what the edge reads from outside (issue #21): sealed values and paging
//! cursors, cookies and CSRF tokens, bearer tokens, `If-None-Match`, query parameters, JSON and
//! form bodies. Each property runs a fixed number of cases from a fixed seed
//! (`PROPTEST_RNG_SEED` explores others) and keeps no failure file: a case found becomes a named
//! regression test.

use http::header;
use lambda_http::{Body, Request, RequestExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use secrecy::SecretString;
use shop_domain::Cursor;
use shop_platform::browser::{self, BrowserSession, SessionCookies, is_token};
use shop_platform::edge;
use shop_platform::keys::{self, ShopKey};
use std::collections::HashMap;

/// `cases` cases from a fixed seed, without a failure file.
fn bounded(cases: u32) -> Config {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(21);
    }
    config
}

const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const NAMES: SessionCookies = SessionCookies {
    session: "sid",
    flash: "flash",
    csrf_purpose: "csrf-test",
    same_site: "Lax",
    session_max_age: 3600,
};

fn key() -> ShopKey {
    ShopKey::from_secret(&SecretString::from("p".repeat(40))).unwrap()
}

/// Base64url text, as a sealed value or a token looks, of any length up to `max`.
fn base64url(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9_-]{{0,{max}}}")).unwrap()
}

/// `text` with one edit: a character replaced by another of the alphabet, one dropped, one added,
/// or the text cut short.
fn edited(text: &str, at: usize, by: usize, how: u8) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let other = |c: Option<&char>| {
        let alphabet: Vec<char> = BASE64URL.chars().collect();
        let mut replacement = alphabet[by % alphabet.len()];
        if c == Some(&replacement) {
            replacement = alphabet[(by + 1) % alphabet.len()];
        }
        replacement
    };
    match how % 4 {
        0 if at < chars.len() => chars[at] = other(chars.get(at)),
        1 if at < chars.len() => {
            chars.remove(at);
        }
        2 => chars.insert(at, other(None)),
        _ => chars.truncate(at.min(chars.len().saturating_sub(1))),
    }
    chars.into_iter().collect()
}

fn with_header(name: header::HeaderName, value: &str) -> Option<Request> {
    let value = http::HeaderValue::from_str(value).ok()?;
    http::Request::builder().header(name, value).body(Body::Empty).ok()
}

proptest! {
    #![proptest_config(bounded(500))]

    #[test]
    fn a_sealed_value_opens_to_what_was_sealed_and_only_for_its_purpose(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300), purpose in "[a-z-]{1,12}",
    ) {
        let key = key();
        let sealed = key.seal(&purpose, &plaintext);
        prop_assert_eq!(key.open(&purpose, &sealed), Some(plaintext.clone()));
        prop_assert_eq!(key.open(&format!("{purpose}x"), &sealed), None);
    }

    #[test]
    fn a_sealed_value_with_any_edit_is_refused(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64), at in any::<usize>(), by in any::<usize>(), how in any::<u8>(),
    ) {
        let key = key();
        let sealed = key.seal("flash", &plaintext);
        let changed = edited(&sealed, at, by, how);
        prop_assume!(changed != sealed);
        prop_assert_eq!(key.open("flash", &changed), None, "{} opened as {}", changed, sealed);
    }

    #[test]
    fn text_the_shop_did_not_seal_is_refused(text in prop_oneof![base64url(120), any::<String>()]) {
        prop_assert_eq!(key().open("cursor", &text), None);
        prop_assert!(keys::open_cursor(&text).is_err());
    }

    #[test]
    fn a_cursor_the_shop_sealed_opens_to_itself_and_an_edited_one_is_refused(
        position in proptest::collection::btree_map("[a-z0-9]{1,8}", "\\PC{0,40}", 1..5),
        at in any::<usize>(), by in any::<usize>(), how in any::<u8>(),
    ) {
        let cursor = Cursor(position);
        let text = keys::seal_cursor(&cursor);
        prop_assert!(is_token(&text, 2048), "a cursor travels in a query string as it is: {}", text);
        prop_assert_eq!(keys::open_cursor(&text), Ok(cursor.clone()));
        let changed = edited(&text, at, by, how);
        prop_assume!(changed != text);
        prop_assert!(keys::open_cursor(&changed).is_err(), "{} opened", changed);
    }

    #[test]
    fn a_tag_is_43_base64url_characters_and_tells_data_apart(a in "\\PC{0,40}", b in "\\PC{0,40}") {
        let key = key();
        let tag = key.tag("unsubscribe", &a);
        prop_assert!(is_token(&tag, 43) && tag.len() == 43);
        prop_assert_eq!(key.tag("unsubscribe", &b) == tag, a == b);
    }
}

proptest! {
    #![proptest_config(bounded(500))]

    #[test]
    fn any_cookie_header_reads_as_a_session_without_panicking(
        text in prop_oneof![
            "((sid|flash|cart|\\PC{0,4})=[A-Za-z0-9_=-]{0,30}; ?){0,5}",
            "[ -~]{0,200}",
        ],
    ) {
        let Some(request) = with_header(header::COOKIE, &text) else { return Ok(()) };
        let mut others = Vec::new();
        let session = BrowserSession::read(&request, NAMES, |name, value| others.push((name.to_owned(), value.to_owned())));
        if let Some(id) = session.id() {
            prop_assert!(is_token(id, 128));
        }
        prop_assert!(others.iter().all(|(name, _)| name != "sid" && name != "flash"));
        prop_assert_eq!(session.message(), None, "only the shop seals a message");
        prop_assert!(!session.csrf_matches(""));
    }

    #[test]
    fn a_message_left_for_the_next_page_arrives_as_it_was_written(message in "\\PC{0,200}", sid in base64url(43)) {
        prop_assume!(!sid.is_empty());
        let first = BrowserSession::read(&with_header(header::COOKIE, &format!("sid={sid}")).unwrap(), NAMES, |_, _| {});
        let set_cookie = first.flash(&message);
        let pair = set_cookie.split(';').next().unwrap();
        let next = with_header(header::COOKIE, &format!("sid={sid}; {pair}")).unwrap();
        let session = BrowserSession::read(&next, NAMES, |_, _| {});
        prop_assert_eq!(session.message(), Some(message.as_str()));
        prop_assert_eq!(session.id(), Some(sid.as_str()));
    }

    #[test]
    fn only_the_sessions_own_csrf_token_matches(sid in base64url(43), at in any::<usize>(), by in any::<usize>(), how in any::<u8>()) {
        prop_assume!(!sid.is_empty());
        let session = BrowserSession::read(&with_header(header::COOKIE, &format!("sid={sid}")).unwrap(), NAMES, |_, _| {});
        let token = session.csrf();
        prop_assert!(session.csrf_matches(&token));
        let changed = edited(&token, at, by, how);
        prop_assume!(changed != token);
        prop_assert!(!session.csrf_matches(&changed));
    }

    #[test]
    fn a_bearer_token_is_what_follows_bearer_trimmed_and_never_empty(text in "[ -~]{0,80}") {
        if let Some(request) = with_header(header::AUTHORIZATION, &text) {
            match edge::bearer_token(&request) {
                Some(token) => {
                    prop_assert!(!token.is_empty() && token == token.trim());
                    prop_assert!(text.starts_with("Bearer "));
                }
                None => prop_assert!(text.strip_prefix("Bearer ").is_none_or(|rest| rest.trim().is_empty())),
            }
        }
    }

    #[test]
    fn if_none_match_holds_for_its_tag_in_any_list(
        tags in proptest::collection::vec("(W/)?\"[A-Za-z0-9_-]{0,22}\"", 0..4), etag in "\"[A-Za-z0-9_-]{22}\"", weak in any::<bool>(),
    ) {
        let listed = tags.join(", ");
        let request = with_header(header::IF_NONE_MATCH, &listed).unwrap();
        prop_assert_eq!(edge::holds(&request, &etag), tags.iter().any(|t| t.trim_start_matches("W/") == etag));
        let with_own = format!("{listed}, {}{etag}", if weak { "W/" } else { "" });
        prop_assert!(edge::holds(&with_header(header::IF_NONE_MATCH, &with_own).unwrap(), &etag));
    }

    #[test]
    fn paging_parameters_are_read_or_refused_as_a_bad_request(
        limit in proptest::option::of(prop_oneof!["[0-9]{1,4}", "\\PC{0,6}"]),
        cursor in proptest::option::of(prop_oneof![base64url(200), "\\PC{0,40}"]),
    ) {
        let mut query = HashMap::new();
        query.extend(limit.clone().map(|l| ("limit".to_owned(), l)));
        query.extend(cursor.clone().map(|c| ("cursor".to_owned(), c)));
        let request = http::Request::builder().body(Body::Empty).unwrap().with_query_string_parameters(query);
        match edge::page_params(&request) {
            Ok((page, opened)) => {
                prop_assert!((1..=100).contains(&page.get()));
                prop_assert!(opened.is_none(), "only a sealed cursor opens");
            }
            Err(error) => {
                prop_assert_eq!(error.status().as_u16(), 400);
                prop_assert!(["invalid_limit", "invalid_cursor"].contains(&error.code()));
            }
        }
    }
}

/// What a form or JSON body of the tests holds.
#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    email: String,
    quantity: u32,
    #[serde(default)]
    note: Option<String>,
}

proptest! {
    #![proptest_config(bounded(500))]

    #[test]
    fn any_json_body_is_read_or_refused_with_a_client_error(
        body in prop_oneof![
            "\\{(\"(email|quantity|note|qty)\": ?(\"\\PC{0,10}\"|-?[0-9]{1,12}|null|true|\\[\\]|\\{\\}),? ?){0,4}\\}?",
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ],
    ) {
        let request = http::Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(body))
            .unwrap();
        if let Err(error) = edge::json_body::<SignUp>(&request, 256) {
            prop_assert!([400, 413, 422].contains(&error.status().as_u16()), "{:?}", error);
        }
    }

    #[test]
    fn a_form_the_browser_encodes_reads_back_and_any_other_is_refused_in_words(
        email in "\\PC{0,40}", quantity in any::<u32>(), note in proptest::option::of("\\PC{0,40}"),
        junk in "[a-z=&%0-9+]{0,60}",
    ) {
        let mut encoded = form_urlencoded::Serializer::new(String::new());
        encoded.append_pair("email", &email).append_pair("quantity", &quantity.to_string());
        if let Some(note) = &note {
            encoded.append_pair("note", note);
        }
        let read: Result<SignUp, String> = browser::form(&form_request(encoded.finish()), "the shop");
        prop_assert_eq!(read, Ok(SignUp { email, quantity, note }));
        let _ = browser::form::<SignUp>(&form_request(junk), "the shop");
    }
}

fn form_request(body: String) -> Request {
    http::Request::builder()
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::Text(body))
        .unwrap()
}
