//! Secret keys and signing (feature `sign`).
//!
//! minisign's secret key file is an untrusted comment and the base64 of
//!
//! ```text
//! "Ed" | kdf "Sc" or 0 0 | "B2" | salt (32) | opslimit (u64 LE) | memlimit (u64 LE)
//!      | key id (8) | Ed25519 secret key: seed (32) + public key (32) | checksum (32)
//! ```
//!
//! The checksum is BLAKE2b-256 of `Ed | key id | secret key`. With kdf
//! `Sc` the last 104 bytes are XORed with scrypt(password, salt), scrypt's
//! N, r, p chosen from opslimit and memlimit as libsodium's
//! `crypto_pwhash_scryptsalsa208sha256` does (minisign writes opslimit
//! 2^25 and memlimit 1 GiB: N = 2^20, r = 8, p = 1). Kdf `0 0` is an
//! unencrypted key (`minisign -W`), which is what an unattended build
//! machine uses; minisign writes no checksum into those (zeros) and checks
//! none, so a zero checksum is accepted there and a non-zero one checked.

use std::io::Read;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::{Blake2b256, Digest as _};
use ed25519_dalek::{Signer as _, SigningKey};

use crate::key::{KeyId, PublicKey};
use crate::signature::{check_trusted_comment, Algorithm, Signature, SignatureError};
use crate::verify::{global_message, prehash};
use crate::{COMMENT_PREFIX, SIGALG};

/// Bytes of a decoded secret key.
const SECRET_KEY_BYTES: usize = 158;
/// Offset of the key id: the encrypted part (key id, key, checksum) runs
/// from here to the end.
const KEYNUM_AT: usize = 54;
const KDF_SCRYPT: &[u8; 2] = b"Sc";
const KDF_NONE: &[u8; 2] = b"\0\0";
const CHK_BLAKE2B: &[u8; 2] = b"B2";
/// libsodium's `crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE`
/// and `_MEMLIMIT_SENSITIVE`, what minisign encrypts with.
#[cfg(feature = "encrypted-keys")]
const OPSLIMIT: u64 = 33_554_432;
#[cfg(feature = "encrypted-keys")]
const MEMLIMIT: u64 = 1_073_741_824;

/// Why a secret key cannot be read, made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The text is not a minisign secret key.
    #[error("not a minisign secret key: {0}")]
    NotAMinisignKey(String),
    /// A key of another algorithm, key derivation or checksum.
    #[error("unsupported secret key: {0}")]
    Unsupported(String),
    /// The key is encrypted and no password was given.
    #[error("the secret key is encrypted: a password is needed")]
    PasswordNeeded,
    /// The key is encrypted and this build cannot decrypt it.
    #[error("the secret key is encrypted, and this build has no scrypt (cargo feature encrypted-keys); decrypt it with `minisign -C -W`")]
    EncryptedUnsupported,
    /// The checksum does not match: a wrong password, or a damaged file.
    #[error("wrong password for that key, or a damaged key file (checksum mismatch)")]
    Checksum,
    /// The scrypt parameters in the file are out of any sane range.
    #[error("scrypt parameters out of range (opslimit {opslimit}, memlimit {memlimit})")]
    KdfParams {
        /// The file's opslimit.
        opslimit: u64,
        /// The file's memlimit.
        memlimit: u64,
    },
    /// The OS random source failed.
    #[error("no randomness from the OS: {0}")]
    Random(getrandom::Error),
    /// The trusted comment cannot be signed.
    #[error(transparent)]
    TrustedComment(SignatureError),
    /// The data to sign could not be read.
    #[error("reading the data to sign")]
    Read(#[source] std::io::Error),
}

/// A minisign secret key: key id and Ed25519 signing key. Zeroed when
/// dropped.
pub struct SecretKey {
    key_id: KeyId,
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.key_id)
    }
}

/// Zeroes a buffer that held key material.
fn wipe(buf: &mut [u8]) {
    use zeroize::Zeroize as _;
    buf.zeroize();
}

fn checksum(key_id: &KeyId, sk: &[u8]) -> [u8; 32] {
    let mut h = Blake2b256::new();
    h.update(SIGALG);
    h.update(key_id.0);
    h.update(sk);
    h.finalize().into()
}

/// scrypt's log2 N, r and p for libsodium's opslimit and memlimit
/// (`pickparams` in libsodium's `pwhash_scryptsalsa208sha256.c`).
#[cfg(feature = "encrypted-keys")]
fn pick_params(opslimit: u64, memlimit: u64) -> (u8, u32, u32) {
    let opslimit = opslimit.max(32_768);
    let r: u64 = 8;
    let log_n_for = |max_n: u64| {
        let mut log_n = 1u8;
        while log_n < 63 && (1u64 << log_n) <= max_n / 2 {
            log_n += 1;
        }
        log_n
    };
    if opslimit < memlimit / 32 {
        (log_n_for(opslimit / (r * 4)), 8, 1)
    } else {
        let log_n = log_n_for(memlimit / (r * 128));
        let maxrp = ((opslimit / 4) >> log_n).min(0x3fff_ffff);
        (log_n, 8, (maxrp / r) as u32)
    }
}

/// The 104-byte scrypt stream that encrypts key id, key and checksum.
#[cfg(feature = "encrypted-keys")]
fn kdf_stream(
    password: &[u8],
    salt: &[u8],
    opslimit: u64,
    memlimit: u64,
) -> Result<[u8; 104], SecretKeyError> {
    let (log_n, r, p) = pick_params(opslimit, memlimit);
    let bad = SecretKeyError::KdfParams { opslimit, memlimit };
    // 2^30 blocks of 1 KiB, or p above 64: not a file minisign wrote, and
    // a way to make the build machine allocate or spin without end.
    if log_n > 30 || p == 0 || p > 64 {
        return Err(bad);
    }
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| bad)?;
    let mut out = [0u8; 104];
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|_| SecretKeyError::KdfParams { opslimit, memlimit })?;
    Ok(out)
}

impl SecretKey {
    /// Makes a new key pair from the OS random source (a random key id
    /// and seed, as minisign does).
    ///
    /// # Errors
    ///
    /// [`SecretKeyError::Random`] when the OS has no randomness to give.
    pub fn generate() -> Result<SecretKey, SecretKeyError> {
        let mut bytes = [0u8; KeyId::LEN + 32];
        getrandom::fill(&mut bytes).map_err(SecretKeyError::Random)?;
        let mut key_id = [0u8; KeyId::LEN];
        key_id.copy_from_slice(&bytes[..KeyId::LEN]);
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[KeyId::LEN..]);
        let key = SigningKey::from_bytes(&seed);
        wipe(&mut seed);
        wipe(&mut bytes);
        Ok(SecretKey {
            key_id: KeyId(key_id),
            key,
        })
    }

    /// Builds a key from its id and Ed25519 seed.
    pub fn from_parts(key_id: KeyId, seed: &[u8; 32]) -> SecretKey {
        SecretKey {
            key_id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Reads a secret key file's text. `password` is needed for an
    /// encrypted key and ignored for an unencrypted one.
    ///
    /// Decrypting a key minisign made takes scrypt with 1 GiB of memory
    /// (a few seconds).
    ///
    /// # Errors
    ///
    /// [`SecretKeyError::NotAMinisignKey`], [`SecretKeyError::Unsupported`],
    /// [`SecretKeyError::PasswordNeeded`],
    /// [`SecretKeyError::EncryptedUnsupported`] (built without
    /// `encrypted-keys`), [`SecretKeyError::Checksum`] (wrong password),
    /// [`SecretKeyError::KdfParams`].
    pub fn from_text(text: &str, password: Option<&[u8]>) -> Result<SecretKey, SecretKeyError> {
        let mut lines = text.lines().map(str::trim);
        let first = lines.next().unwrap_or("");
        if !first.starts_with(COMMENT_PREFIX.trim_end()) {
            return Err(SecretKeyError::NotAMinisignKey(format!(
                "line 1 does not start with {COMMENT_PREFIX:?}"
            )));
        }
        let line = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| {
            SecretKeyError::NotAMinisignKey("no key line after the untrusted comment".into())
        })?;
        let mut bytes = B64.decode(line).map_err(|e| {
            SecretKeyError::NotAMinisignKey(format!("the key line is not base64 ({e})"))
        })?;
        let result = Self::from_bytes(&mut bytes, password);
        wipe(&mut bytes);
        result
    }

    fn from_bytes(bytes: &mut [u8], password: Option<&[u8]>) -> Result<SecretKey, SecretKeyError> {
        if bytes.len() == 42 {
            return Err(SecretKeyError::NotAMinisignKey(
                "this is a public key: give the secret key".into(),
            ));
        }
        if bytes.len() != SECRET_KEY_BYTES {
            return Err(SecretKeyError::NotAMinisignKey(format!(
                "the key line decodes to {} bytes, a secret key has {SECRET_KEY_BYTES}",
                bytes.len()
            )));
        }
        if &bytes[..2] != SIGALG {
            return Err(SecretKeyError::Unsupported(format!(
                "signature algorithm {:?}",
                String::from_utf8_lossy(&bytes[..2])
            )));
        }
        if &bytes[4..6] != CHK_BLAKE2B {
            return Err(SecretKeyError::Unsupported(format!(
                "checksum function {:?}",
                String::from_utf8_lossy(&bytes[4..6])
            )));
        }
        let encrypted = match &bytes[2..4] {
            k if k == KDF_SCRYPT => true,
            k if k == KDF_NONE => false,
            k => {
                return Err(SecretKeyError::Unsupported(format!(
                    "key derivation function {:?}",
                    String::from_utf8_lossy(k)
                )))
            }
        };
        if encrypted {
            #[cfg(feature = "encrypted-keys")]
            {
                let password = password.ok_or(SecretKeyError::PasswordNeeded)?;
                let le = |at: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&bytes[at..at + 8]);
                    u64::from_le_bytes(b)
                };
                let (opslimit, memlimit) = (le(38), le(46));
                let mut stream = kdf_stream(password, &bytes[6..38], opslimit, memlimit)?;
                for (b, s) in bytes[KEYNUM_AT..].iter_mut().zip(stream.iter()) {
                    *b ^= s;
                }
                wipe(&mut stream);
            }
            #[cfg(not(feature = "encrypted-keys"))]
            {
                let _ = password;
                return Err(SecretKeyError::EncryptedUnsupported);
            }
        }
        let mut key_id = [0u8; KeyId::LEN];
        key_id.copy_from_slice(&bytes[KEYNUM_AT..KEYNUM_AT + 8]);
        let key_id = KeyId(key_id);
        let sk = &bytes[KEYNUM_AT + 8..KEYNUM_AT + 72];
        let chk = &bytes[KEYNUM_AT + 72..];
        // minisign -W writes no checksum (zeros) into unencrypted keys.
        let unchecked = !encrypted && chk.iter().all(|&b| b == 0);
        if !unchecked && checksum(&key_id, sk) != chk {
            return Err(SecretKeyError::Checksum);
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&sk[..32]);
        let key = SigningKey::from_bytes(&seed);
        wipe(&mut seed);
        if key.verifying_key().as_bytes() != &sk[32..] {
            return Err(SecretKeyError::NotAMinisignKey(
                "its public half does not match its seed (a damaged file)".into(),
            ));
        }
        Ok(SecretKey { key_id, key })
    }

    /// The 158 key bytes, unencrypted, with their checksum.
    fn to_bytes(&self, kdf: &[u8; 2]) -> Vec<u8> {
        let mut sk = [0u8; 64];
        sk[..32].copy_from_slice(self.key.as_bytes());
        sk[32..].copy_from_slice(self.key.verifying_key().as_bytes());
        let mut bytes = Vec::with_capacity(SECRET_KEY_BYTES);
        bytes.extend_from_slice(SIGALG);
        bytes.extend_from_slice(kdf);
        bytes.extend_from_slice(CHK_BLAKE2B);
        bytes.extend_from_slice(&[0; 48]); // salt, opslimit, memlimit
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&sk);
        bytes.extend_from_slice(&checksum(&self.key_id, &sk));
        wipe(&mut sk);
        bytes
    }

    /// The key file, unencrypted (as `minisign -G -W` writes it, but with
    /// the checksum filled in, which minisign ignores for such keys).
    pub fn to_text(&self) -> String {
        let mut bytes = self.to_bytes(KDF_NONE);
        let text = format!(
            "{COMMENT_PREFIX}minisign secret key (unencrypted)\n{}\n",
            B64.encode(&bytes)
        );
        wipe(&mut bytes);
        text
    }

    /// The key file, encrypted with `password` as minisign encrypts
    /// (scrypt with opslimit 2^25 and memlimit 1 GiB, a random salt).
    ///
    /// # Errors
    ///
    /// [`SecretKeyError::Random`] (the salt), [`SecretKeyError::KdfParams`]
    /// (not expected).
    #[cfg(feature = "encrypted-keys")]
    pub fn to_text_encrypted(&self, password: &[u8]) -> Result<String, SecretKeyError> {
        let mut bytes = self.to_bytes(KDF_SCRYPT);
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(SecretKeyError::Random)?;
        bytes[6..38].copy_from_slice(&salt);
        bytes[38..46].copy_from_slice(&OPSLIMIT.to_le_bytes());
        bytes[46..54].copy_from_slice(&MEMLIMIT.to_le_bytes());
        let mut stream = kdf_stream(password, &salt, OPSLIMIT, MEMLIMIT)?;
        for (b, s) in bytes[KEYNUM_AT..].iter_mut().zip(stream.iter()) {
            *b ^= s;
        }
        wipe(&mut stream);
        let text = format!(
            "{COMMENT_PREFIX}{}\n{}\n",
            crate::SECRET_KEY_COMMENT,
            B64.encode(&bytes)
        );
        wipe(&mut bytes);
        Ok(text)
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_parts(self.key_id, self.key.verifying_key().to_bytes())
            .expect("the public key of a signing key is a valid point")
    }

    /// Signs everything `data` yields, prehashed (`ED`, minisign's
    /// default): `data` is read once, as a stream.
    ///
    /// # Errors
    ///
    /// [`SecretKeyError::TrustedComment`] (a line break or control
    /// character, or longer than 8 KiB), [`SecretKeyError::Read`].
    pub fn sign(
        &self,
        data: impl Read,
        trusted_comment: &str,
    ) -> Result<Signature, SecretKeyError> {
        check_trusted_comment(trusted_comment).map_err(SecretKeyError::TrustedComment)?;
        let (digest, _) = prehash(data).map_err(SecretKeyError::Read)?;
        Ok(self.finish(Algorithm::Prehashed, &digest, trusted_comment))
    }

    /// Signs `data` itself (legacy `Ed`, `minisign -l`), for tools that
    /// only know that form. Needs the whole message in memory.
    ///
    /// # Errors
    ///
    /// [`SecretKeyError::TrustedComment`].
    pub fn sign_legacy(
        &self,
        data: &[u8],
        trusted_comment: &str,
    ) -> Result<Signature, SecretKeyError> {
        check_trusted_comment(trusted_comment).map_err(SecretKeyError::TrustedComment)?;
        Ok(self.finish(Algorithm::Legacy, data, trusted_comment))
    }

    fn finish(&self, algorithm: Algorithm, message: &[u8], trusted_comment: &str) -> Signature {
        let signature = self.key.sign(message).to_bytes();
        let global_signature = self
            .key
            .sign(&global_message(&signature, trusted_comment))
            .to_bytes();
        Signature {
            algorithm,
            key_id: self.key_id,
            signature,
            untrusted_comment: crate::SIGNATURE_COMMENT.into(),
            trusted_comment: trusted_comment.into(),
            global_signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUB: &str = include_str!("../tests/fixtures/minisign.pub");
    const KEY: &str = include_str!("../tests/fixtures/minisign-unencrypted.key");

    #[test]
    fn reads_minisigns_unencrypted_key() {
        let k = SecretKey::from_text(KEY, None).expect("key");
        assert_eq!(k.public_key(), PublicKey::from_text(PUB).expect("pub"));
        // Our file of the same key has the checksum filled in.
        let again = SecretKey::from_text(&k.to_text(), None).expect("ours");
        assert_eq!(again.public_key(), k.public_key());
        assert_eq!(
            SecretKey::from_text(PUB, None)
                .expect_err("public")
                .to_string(),
            "not a minisign secret key: this is a public key: give the secret key"
        );
    }

    #[test]
    fn a_damaged_key_fails_its_checksum() {
        let k = SecretKey::generate().expect("generate");
        let mut bytes = k.to_bytes(KDF_NONE);
        bytes[KEYNUM_AT + 3] ^= 4;
        let text = format!("untrusted comment: x\n{}\n", B64.encode(&bytes));
        assert!(matches!(
            SecretKey::from_text(&text, None),
            Err(SecretKeyError::Checksum)
        ));
    }

    #[cfg(feature = "encrypted-keys")]
    #[test]
    fn libsodiums_parameter_choice() {
        // minisign's sensitive limits: N = 2^20, r = 8, p = 1 (1 GiB).
        assert_eq!(pick_params(OPSLIMIT, MEMLIMIT), (20, 8, 1));
        // Halved once, as minisign does when memory is short.
        assert_eq!(pick_params(OPSLIMIT / 2, MEMLIMIT / 2), (19, 8, 1));
        // The interactive limits (2^19, 16 MiB): N = 2^14, r = 8, p = 1.
        assert_eq!(pick_params(524_288, 16_777_216), (14, 8, 1));
    }
}
