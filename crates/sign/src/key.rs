//! Public keys and key ids, in minisign's text format.
//!
//! A minisign public key file is two lines: an untrusted comment (by
//! convention `untrusted comment: minisign public key <KEY ID>`) and the
//! base64 of `Ed` + an 8-byte key id + the 32-byte Ed25519 key. The
//! second line alone is what `minisign -P` takes on the command line; both
//! forms are read here.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

use crate::{COMMENT_PREFIX, SIGALG};

/// Bytes of a decoded public key: algorithm (2), key id (8), key (32).
const PUBLIC_KEY_BYTES: usize = 2 + KeyId::LEN + 32;
/// Bytes of a decoded secret key, to recognise one given as a public key.
const SECRET_KEY_BYTES: usize = 158;

/// A key's 8-byte id, random at key generation. A signature names the id
/// of the key that made it, so a signature by another key is told apart
/// from a damaged one.
///
/// Displayed as minisign prints it: the bytes read as a little-endian
/// 64-bit number, in 16 upper-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KeyId::LEN]);

impl KeyId {
    /// The length of a key id in bytes.
    pub const LEN: usize = 8;
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a text is not a usable public key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a minisign public key (file) at all.
    #[error("not a minisign public key: {0}")]
    NotAMinisignKey(String),
    /// A minisign key of another signature algorithm.
    #[error("not a minisign public key: unsupported signature algorithm {0:?} (minisign keys are \"Ed\")")]
    UnsupportedAlgorithm(String),
    /// The 32 bytes are not an Ed25519 public key that can verify
    /// anything (not a curve point, or of small order).
    #[error("public key {0}: not a valid Ed25519 public key")]
    InvalidKey(KeyId),
}

/// A minisign public key: the key id and the Ed25519 verifying key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key_id: KeyId,
    key: VerifyingKey,
}

impl PublicKey {
    /// Builds a public key from its parts.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] when `key` is not a point of the curve or
    /// is of small order (libsodium refuses those too).
    pub fn from_parts(key_id: KeyId, key: [u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::InvalidKey(key_id))?;
        if key.is_weak() {
            return Err(KeyError::InvalidKey(key_id));
        }
        Ok(PublicKey { key_id, key })
    }

    /// Reads a public key file's text (`untrusted comment: ...` line, then
    /// the base64 line), or the base64 line alone as `minisign -P` takes
    /// it.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotAMinisignKey`] saying what is wrong (no key line, not
    /// base64, the wrong length, a secret key),
    /// [`KeyError::UnsupportedAlgorithm`], [`KeyError::InvalidKey`].
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let mut lines = text.lines().map(str::trim);
        let first = lines.next().unwrap_or("");
        let b64 = if first.starts_with(COMMENT_PREFIX.trim_end()) {
            lines.next().filter(|l| !l.is_empty()).ok_or_else(|| {
                KeyError::NotAMinisignKey("no key line after the untrusted comment".into())
            })?
        } else if first.is_empty() {
            return Err(KeyError::NotAMinisignKey("empty".into()));
        } else {
            first
        };
        Self::from_base64(b64)
    }

    /// Reads the base64 line of a public key (`minisign -P KEY`).
    ///
    /// # Errors
    ///
    /// As [`PublicKey::from_text`].
    pub fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let bytes = B64
            .decode(b64.trim())
            .map_err(|e| KeyError::NotAMinisignKey(format!("the key line is not base64 ({e})")))?;
        if bytes.len() == SECRET_KEY_BYTES {
            return Err(KeyError::NotAMinisignKey(
                "this is a secret key: give the public key (.pub)".into(),
            ));
        }
        if bytes.len() != PUBLIC_KEY_BYTES {
            return Err(KeyError::NotAMinisignKey(format!(
                "the key line decodes to {} bytes, a public key has {PUBLIC_KEY_BYTES}",
                bytes.len()
            )));
        }
        if &bytes[..2] != SIGALG {
            return Err(KeyError::UnsupportedAlgorithm(
                String::from_utf8_lossy(&bytes[..2]).into_owned(),
            ));
        }
        let mut id = [0; KeyId::LEN];
        id.copy_from_slice(&bytes[2..10]);
        let mut key = [0; 32];
        key.copy_from_slice(&bytes[10..]);
        Self::from_parts(KeyId(id), key)
    }

    /// The base64 line (what `minisign -P` takes).
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(PUBLIC_KEY_BYTES);
        bytes.extend_from_slice(SIGALG);
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(self.key.as_bytes());
        B64.encode(bytes)
    }

    /// The public key file as minisign writes it.
    pub fn to_text(&self) -> String {
        format!(
            "{COMMENT_PREFIX}minisign public key {}\n{}\n",
            self.key_id,
            self.to_base64()
        )
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The Ed25519 key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `minisign -G -W` 0.11 (Debian 12): tests/fixtures/README.md.
    const PUB: &str = include_str!("../tests/fixtures/minisign.pub");

    #[test]
    fn reads_a_minisign_public_key_and_writes_it_back() {
        let k = PublicKey::from_text(PUB).expect("parse");
        assert_eq!(k.key_id().to_string(), "A473EAF8FBF8EC61");
        assert_eq!(k.to_text(), PUB);
        let line = PUB.lines().nth(1).expect("line 2").trim();
        assert_eq!(PublicKey::from_base64(line).expect("base64"), k);
    }

    #[test]
    fn what_is_not_a_key_is_named() {
        let e = |t: &str| PublicKey::from_text(t).expect_err(t).to_string();
        assert_eq!(e(""), "not a minisign public key: empty");
        assert_eq!(
            e("untrusted comment: x\n"),
            "not a minisign public key: no key line after the untrusted comment"
        );
        assert!(e("untrusted comment: x\nnot base64!\n").contains("is not base64"));
        assert_eq!(
            e("untrusted comment: x\nRWRh7Pj7\n"),
            "not a minisign public key: the key line decodes to 6 bytes, a public key has 42"
        );
        // "Ex" + 40 bytes.
        let other = B64.encode([b"Ex".as_slice(), &[7; 40]].concat());
        assert!(e(&other).contains("unsupported signature algorithm \"Ex\""));
    }
}
