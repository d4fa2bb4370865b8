//! Secrets at rest: every secret part of a record is sealed with
//! XChaCha20-Poly1305 before it reaches the store.
//!
//! A sealed value is a JSON string
//! `podium-sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>` holding
//! the JSON text of the plaintext value. The record's store key is the
//! associated data, so a sealed value copied under another key does not open.
//! The key id (a digest of the key, not the key) says which key of a
//! [`Keyring`] opens it, which is what makes rotation crash-safe: during a
//! rotation the ring holds both keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "podium-sealed:v1:";

/// The first line of a key file; the key follows in base64.
const KEY_FILE_HEADER: &str = "podium-secret-key-v1";

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "a secret was sealed with key {key_id}, which is not in the key ring (loaded: {loaded}); \
         was PODIUM_SECRET_KEY_FILE replaced?"
    )]
    UnknownKey { key_id: String, loaded: String },
    #[error("a sealed secret does not open with key {key_id}: it was altered or moved")]
    Tampered { key_id: String },
    #[error("a sealed secret is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "the secret key file is not a podium key: expected `{KEY_FILE_HEADER}` and 32 bytes in base64"
    )]
    BadKeyFile,
}

/// One 256-bit key and its public id.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// A new random key, as the bytes a key file stores.
    pub fn generate() -> [u8; 32] {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(chacha20poly1305::Key::generate().as_slice());
        bytes
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"podium secret key id\0");
        h.update(bytes);
        let id = hex::encode(&h.finalize()[..8]);
        let key = chacha20poly1305::Key::from(*bytes);
        SecretKey {
            id,
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The text of a key file for `bytes`.
    pub fn to_file_text(bytes: &[u8; 32]) -> String {
        format!("{KEY_FILE_HEADER}\n{}\n", B64.encode(bytes))
    }

    /// The key bytes of a key file's text.
    pub fn parse_file_text(text: &str) -> Result<[u8; 32], SealError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(SealError::BadKeyFile);
        }
        let key = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .ok_or(SealError::BadKeyFile)?;
        key.try_into().map_err(|_| SealError::BadKeyFile)
    }
}

/// The key new seals use, and older keys that still open what they sealed.
#[derive(Debug)]
pub struct Keyring {
    current: SecretKey,
    older: Vec<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey) -> Self {
        Keyring {
            current,
            older: Vec::new(),
        }
    }

    /// A ring that seals with `current` and still opens with `older`.
    pub fn with_older(current: SecretKey, older: Vec<SecretKey>) -> Self {
        Keyring { current, older }
    }

    /// A ring with a fresh random key that lives only in memory (tests,
    /// benchmarks).
    pub fn ephemeral() -> Self {
        Keyring::new(SecretKey::from_bytes(&SecretKey::generate()))
    }

    /// A ring that seals with `next` and still opens everything this one
    /// opens (the state during a rotation).
    pub fn rotating_to(&self, next: SecretKey) -> Keyring {
        let mut older = vec![self.current.clone()];
        older.extend(self.older.iter().cloned());
        Keyring {
            current: next,
            older,
        }
    }

    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// Seals `plain` for the record stored under `aad`.
    pub fn seal(&self, plain: &Value, aad: &[u8]) -> String {
        let nonce = XNonce::generate();
        let msg = plain.to_string();
        // Encryption with a valid key and nonce cannot fail; an empty result
        // would not open, which reads as tampering rather than a panic.
        let ct = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: msg.as_bytes(),
                    aad,
                },
            )
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(nonce.as_slice());
        blob.extend_from_slice(&ct);
        format!("{SEALED_PREFIX}{}:{}", self.current.id, B64.encode(blob))
    }

    /// Whether `text` is a sealed value.
    pub fn is_sealed(text: &str) -> bool {
        text.starts_with(SEALED_PREFIX)
    }

    /// The id of the key that sealed `text`, if it is sealed.
    pub fn key_id_of(text: &str) -> Option<&str> {
        text.strip_prefix(SEALED_PREFIX)?.split(':').next()
    }

    /// Opens a value sealed for the record under `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Value, SealError> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Malformed("no podium-sealed prefix"))?;
        let (key_id, blob) = rest
            .split_once(':')
            .ok_or(SealError::Malformed("no key id"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey {
                key_id: key_id.to_owned(),
                loaded: std::iter::once(&self.current)
                    .chain(&self.older)
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let blob = B64
            .decode(blob)
            .map_err(|_| SealError::Malformed("not base64"))?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Malformed("too short"));
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Malformed("bad nonce"))?;
        let plain = key
            .cipher
            .decrypt(&nonce, Payload { msg: ct, aad })
            .map_err(|_| SealError::Tampered {
                key_id: key_id.to_owned(),
            })?;
        serde_json::from_slice(&plain).map_err(|_| SealError::Tampered {
            key_id: key_id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn seal_then_open_gives_the_value_back_and_hides_it() {
        let ring = Keyring::ephemeral();
        let v = json!({"password": "hunter2-very-secret"});
        let sealed = ring.seal(&v, b"active/a/b/c");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(ring.open(&sealed, b"active/a/b/c").unwrap(), v);
        // Fresh nonce every time.
        assert_ne!(sealed, ring.seal(&v, b"active/a/b/c"));
    }

    #[test]
    fn a_sealed_value_does_not_open_under_another_record_key() {
        let ring = Keyring::ephemeral();
        let sealed = ring.seal(&json!("x"), b"values/a");
        assert!(matches!(
            ring.open(&sealed, b"values/b"),
            Err(SealError::Tampered { .. })
        ));
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let ring = Keyring::ephemeral();
        let mut sealed = ring.seal(&json!("x"), b"k").into_bytes();
        let last = sealed.len() - 2;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        let sealed = String::from_utf8(sealed).unwrap();
        assert!(ring.open(&sealed, b"k").is_err());
    }

    #[test]
    fn older_keys_open_and_unknown_keys_are_named() {
        let old = SecretKey::generate();
        let new = SecretKey::generate();
        let old_ring = Keyring::new(SecretKey::from_bytes(&old));
        let sealed = old_ring.seal(&json!(42), b"k");
        let rotating = Keyring::with_older(
            SecretKey::from_bytes(&new),
            vec![SecretKey::from_bytes(&old)],
        );
        assert_eq!(rotating.open(&sealed, b"k").unwrap(), json!(42));
        let new_only = Keyring::new(SecretKey::from_bytes(&new));
        let err = new_only.open(&sealed, b"k").unwrap_err();
        assert!(err.to_string().contains(old_ring.current_id()), "{err}");
    }

    #[test]
    fn key_files_round_trip_and_garbage_is_refused() {
        let bytes = SecretKey::generate();
        let text = SecretKey::to_file_text(&bytes);
        assert_eq!(SecretKey::parse_file_text(&text).unwrap(), bytes);
        assert_eq!(
            SecretKey::parse_file_text("hello\n"),
            Err(SealError::BadKeyFile)
        );
        assert_eq!(
            SecretKey::parse_file_text("podium-secret-key-v1\nAAAA\n"),
            Err(SealError::BadKeyFile)
        );
    }
}
