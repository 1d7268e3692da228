//! Property tests of the staff token check (issue #21): no text but a token the pool signed
//! names a staff member, and any edit of one is refused. A fixed number of cases from a fixed
//! seed (`PROPTEST_RNG_SEED` explores others), no failure file.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::sync::OnceLock;

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

/// One token of the pool, signed once (RSA signing is slow in a debug build).
fn pool_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| signed(&claims(), POOL_KEY))
}

/// A JWT's three segments as a forger might write them: headers naming other algorithms and
/// keys, claims the console wants, any signature.
fn jwt_like() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just(r#"{"alg":"RS256","kid":"pool-key-1"}"#.to_owned()),
        Just(r#"{"alg":"none","kid":"pool-key-1"}"#.to_owned()),
        Just(r#"{"alg":"HS256","kid":"pool-key-1"}"#.to_owned()),
        "\\{\"alg\":\"[A-Za-z0-9]{0,6}\"(,\"kid\":\"[a-z0-9-]{0,12}\")?\\}",
        "\\PC{0,30}",
    ];
    let payload = prop_oneof![Just(claims().to_string()), "\\PC{0,40}",];
    let signature = prop_oneof![
        Just(String::new()),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        Just(pool_token().rsplit('.').next().unwrap_or_default().to_owned()),
    ];
    prop_oneof![
        3 => (header, payload, signature).prop_map(|(h, p, s)| {
            format!("{}.{}.{s}", URL_SAFE_NO_PAD.encode(h), URL_SAFE_NO_PAD.encode(p))
        }),
        1 => "[A-Za-z0-9_.-]{0,200}",
    ]
}

proptest! {
    #![proptest_config(bounded(300))]

    #[test]
    fn no_token_the_pool_did_not_sign_names_anyone(token in jwt_like()) {
        match verify(&token, &keys(), &rules()) {
            Ok(staff) => prop_assert!(false, "{} named {}", token, staff.email),
            Err(error) => prop_assert!(matches!(error, TokenError::Foreign(_) | TokenError::Refused(_)), "{}", error),
        }
    }

    #[test]
    fn a_pool_token_with_any_edit_is_refused(at in any::<prop::sample::Index>(), by in any::<prop::sample::Index>()) {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        let mut token = pool_token().as_bytes().to_vec();
        let at = at.index(token.len());
        let mut replacement = ALPHABET[by.index(ALPHABET.len())];
        if replacement == token[at] {
            replacement = if replacement == b'A' { b'B' } else { b'A' };
        }
        token[at] = replacement;
        let token = String::from_utf8(token).unwrap();
        prop_assert!(verify(&token, &keys(), &rules()).is_err(), "{} was accepted", token);
    }
}
