//! Unguessable ids and bearer tokens. A token is shown to its holder once and kept only as
//! its SHA-256 hash; a presented token is compared with the hash in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// `N` random bytes from the operating system.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buffer = [0u8; N];
    // The OS random source failing is not something a request can recover from.
    getrandom::fill(&mut buffer).unwrap_or_else(|error| panic!("the OS random source failed: {error}"));
    buffer
}

/// A new id: 128 random bits, 22 URL-safe characters.
pub fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// A new reference people can read out on the phone: `prefix` and 8 characters of Crockford's
/// base32 (40 random bits, no I, L, O or U to misread).
pub fn new_reference(prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = random_bytes::<5>()
        .iter()
        .fold(0u64, |bits, byte| (bits << 8) | u64::from(*byte));
    let code: String = (0..8)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect();
    format!("{prefix}{code}")
}

/// A new bearer token: 256 random bits.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// The hash a token is stored as.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()))
}

/// Whether `token` is the one whose hash is `stored_hash`, in constant time.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    token_hash(token).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Whether `token` opens `order` at `now`: the checkout's token, or an unexpired one from a link.
pub fn opens(order: &shop_domain::order::Order, token: &str, now: i64) -> bool {
    order.token_hashes(now).any(|hash| token_matches(token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_its_prefix_and_eight_unambiguous_characters() {
        let reference = new_reference("SUP-");
        let code = reference.strip_prefix("SUP-").unwrap();
        assert_eq!(code.len(), 8);
        assert!(
            code.chars()
                .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
        );
        assert_ne!(new_reference("SUP-"), new_reference("SUP-"));
    }

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        assert_eq!(new_id().len(), 22, "128 bits in base64url");
    }

    #[test]
    fn only_the_token_itself_matches_its_hash() {
        let token = new_token();
        let stored = token_hash(&token);
        assert!(token_matches(&token, &stored));
        assert!(!token_matches(&new_token(), &stored));
        assert!(!token_matches("", &stored));
    }
}
