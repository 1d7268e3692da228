//! Unguessable ids and bearer tokens. A token is shown to its holder once and kept only as
//! its SHA-256 hash; a presented token is compared with the hash in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the operating system, base64url without padding.
fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // The OS random source failing is not something a request can recover from.
    getrandom::fill(&mut buffer).unwrap_or_else(|error| panic!("the OS random source failed: {error}"));
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A new id: 128 random bits, 22 URL-safe characters.
pub fn new_id() -> String {
    random_text(16)
}

/// A new bearer token: 256 random bits.
pub fn new_token() -> String {
    random_text(32)
}

/// The hash a token is stored as.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` is the one whose hash is `stored_hash`, in constant time.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    token_hash(token).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

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
