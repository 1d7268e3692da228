//! The shop's own secret, for what it hands out and must recognise again without storing it:
//! paging cursors are sealed with it (opaque, and refused when edited), and unsubscribe links
//! carry a MAC of the address (so no token is kept in the table).
//!
//! The secret is `SIGNING_KEY` in the function's environment: in AWS a Secrets Manager secret the
//! template generates, resolved by CloudFormation into the variable (no call at start); in the
//! local stack a random value per stack. Two keys are derived from it, one to authenticate and
//! one to seal, each used for a named purpose only.

use crate::config::{ConfigError, Env};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;

/// The fewest characters the secret may have.
pub const SECRET_MIN: usize = 32;

/// Keys derived from the shop's secret.
pub struct ShopKey {
    mac: hmac::Key,
    seal: LessSafeKey,
}

impl std::fmt::Debug for ShopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShopKey(..)")
    }
}

impl ShopKey {
    /// The keys of `secret` (at least [`SECRET_MIN`] characters).
    pub fn from_secret(secret: &SecretString) -> Result<Self, ConfigError> {
        let secret = secret.expose_secret();
        if secret.len() < SECRET_MIN {
            return Err(ConfigError::new(format!(
                "SIGNING_KEY must have at least {SECRET_MIN} characters"
            )));
        }
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let derive = |label: &str| hmac::sign(&root, label.as_bytes());
        let mac = hmac::Key::new(hmac::HMAC_SHA256, derive("serverless-shop mac v1").as_ref());
        let seal = UnboundKey::new(&AES_256_GCM, derive("serverless-shop seal v1").as_ref())
            .map_err(|_| ConfigError::new("SIGNING_KEY: no sealing key derived"))?;
        Ok(Self {
            mac,
            seal: LessSafeKey::new(seal),
        })
    }

    /// The keys of `SIGNING_KEY`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secret = env
            .secret("SIGNING_KEY")
            .ok_or_else(|| ConfigError::new("SIGNING_KEY is not set"))?;
        Self::from_secret(&secret)
    }

    /// A random key, for a process that was given none (a test hosting a store itself).
    fn random() -> Self {
        let secret = format!("{}{}", crate::secrets::new_token(), crate::secrets::new_token());
        // A 86-character secret always derives its keys.
        Self::from_secret(&SecretString::from(secret)).unwrap_or_else(|error| panic!("{error}"))
    }

    /// A tag that proves the shop made `data` for `purpose`: HMAC-SHA256, base64url.
    pub fn tag(&self, purpose: &str, data: &str) -> String {
        let mut context = hmac::Context::with_key(&self.mac);
        context.update(purpose.as_bytes());
        context.update(&[0]);
        context.update(data.as_bytes());
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }

    /// `plaintext` sealed for `purpose` (AES-256-GCM, random nonce), as base64url text.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The OS random source failing is not something a request can recover from.
        getrandom::fill(&mut nonce).unwrap_or_else(|error| panic!("the OS random source failed: {error}"));
        let mut sealed = plaintext.to_vec();
        // Sealing fails only for inputs of gigabytes.
        if self
            .seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut sealed,
            )
            .is_err()
        {
            return String::new();
        }
        let mut text = nonce.to_vec();
        text.extend(sealed);
        URL_SAFE_NO_PAD.encode(text)
    }

    /// What [`ShopKey::seal`] sealed for `purpose`; `None` for anything else (edited, truncated,
    /// sealed for another purpose or with another key).
    pub fn open(&self, purpose: &str, text: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

static INSTALLED: OnceLock<ShopKey> = OnceLock::new();

/// Installs the process's key from `SIGNING_KEY` (once, when a function that seals or tags
/// starts; a second call keeps the first key): refused loudly when missing or short.
pub fn install(env: &Env) -> Result<(), ConfigError> {
    let key = ShopKey::from_env(env)?;
    let _ = INSTALLED.set(key);
    Ok(())
}

/// The process's key: the installed one, or, in a process that installed none (a test hosting a
/// store itself), a random key of its own.
pub fn key() -> &'static ShopKey {
    INSTALLED.get_or_init(ShopKey::random)
}

/// A listing's position as the client sees it: sealed, so it shows nothing of the table's keys
/// and cannot be edited.
pub fn seal_cursor(cursor: &shop_domain::Cursor) -> String {
    key().seal(CURSOR, &cursor.to_bytes())
}

/// The position a client sent back, if the shop sealed it.
pub fn open_cursor(text: &str) -> Result<shop_domain::Cursor, shop_domain::CursorError> {
    if text.is_empty() || text.len() > 2048 {
        return Err(shop_domain::CursorError);
    }
    let bytes = key().open(CURSOR, text).ok_or(shop_domain::CursorError)?;
    shop_domain::Cursor::from_bytes(&bytes)
}

const CURSOR: &str = "cursor";

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(secret: &str) -> ShopKey {
        ShopKey::from_secret(&SecretString::from(secret.to_owned())).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_purpose_and_key() {
        let key = key_of(&"k".repeat(40));
        let sealed = key.seal("cursor", b"LIST#CATALOG");
        assert!(!sealed.contains("LIST"), "opaque: {sealed}");
        assert_eq!(key.open("cursor", &sealed).unwrap(), b"LIST#CATALOG");
        assert_ne!(key.seal("cursor", b"LIST#CATALOG"), sealed, "a fresh nonce each time");
        assert!(key.open("other", &sealed).is_none());
        assert!(key_of(&"j".repeat(40)).open("cursor", &sealed).is_none());
        let mut edited = sealed.clone().into_bytes();
        let last = edited.len() - 1;
        edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open("cursor", &String::from_utf8(edited).unwrap()).is_none());
        for junk in ["", "%%", "AAAA", &sealed[..sealed.len() / 2]] {
            assert!(key.open("cursor", junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn a_tag_depends_on_purpose_data_and_key() {
        let key = key_of(&"k".repeat(40));
        let tag = key.tag("unsubscribe", "ada@example.com");
        assert_eq!(tag, key.tag("unsubscribe", "ada@example.com"));
        assert_ne!(tag, key.tag("unsubscribe", "bob@example.com"));
        assert_ne!(tag, key.tag("other", "ada@example.com"));
        assert_ne!(tag, key_of(&"j".repeat(40)).tag("unsubscribe", "ada@example.com"));
        assert_eq!(tag.len(), 43);
    }

    #[test]
    fn a_cursor_is_opaque_and_refused_when_edited() {
        let cursor = shop_domain::Cursor(
            [
                ("pk".to_owned(), "PRODUCT#tee".to_owned()),
                ("gsi1pk".to_owned(), "LIST#CATALOG".to_owned()),
            ]
            .into(),
        );
        let text = seal_cursor(&cursor);
        assert!(!text.contains("PRODUCT") && !text.contains("LIST"), "{text}");
        assert_eq!(open_cursor(&text).unwrap(), cursor);
        let plain = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor.to_bytes());
        assert!(open_cursor(&plain).is_err(), "an unsealed key is not a cursor");
        assert!(open_cursor("").is_err());
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(ShopKey::from_secret(&SecretString::from("short".to_owned())).is_err());
    }
}
