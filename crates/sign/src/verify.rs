//! Verification, streaming.
//!
//! The image being checked can be 16 MiB on a router with 64 MiB of RAM,
//! so the file is read once through a fixed buffer: BLAKE2b-512 for a
//! prehashed (`ED`) signature, the Ed25519 hash state itself for a legacy
//! (`Ed`) one. Memory use does not depend on the file's size.
//!
//! The checks run in minisign's order, each failure with its own error:
//! the key id (a signature by another key), the file's signature (the
//! file changed), the global signature (the trusted comment changed).

use std::io::{self, Read};

use blake2::{Blake2b512, Digest as _};
use ed25519_dalek::Signature as Ed25519Signature;

use crate::key::{KeyId, PublicKey};
use crate::signature::{Algorithm, Signature};

/// The read buffer: big enough for flash reads to be efficient, small
/// enough for a router.
pub(crate) const CHUNK: usize = 32 * 1024;

/// Why a signature does not hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature was made by another key (a key the device does not
    /// trust, or the wrong public key given).
    #[error("key id mismatch: signed by key {signature}, but the public key is {public}")]
    KeyIdMismatch {
        /// The key id the signature names.
        signature: KeyId,
        /// The key id of the public key checked against.
        public: KeyId,
    },
    /// The file is not the one that was signed: changed, truncated or
    /// extended.
    #[error("bad signature: the file is not what was signed (changed, truncated or extended)")]
    BadSignature,
    /// The file's signature holds, but the trusted comment is not the one
    /// that was signed.
    #[error("trusted comment forged: its signature does not verify")]
    ForgedTrustedComment,
    /// The file could not be read to the end.
    #[error("reading the signed data")]
    Read(#[source] io::Error),
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// What the signature signed.
    pub algorithm: Algorithm,
    /// The trusted comment, now known to be the signer's.
    pub trusted_comment: String,
    /// Bytes read from the file.
    pub length: u64,
}

/// Reads `data` to its end in [`CHUNK`]s, giving each to `f`; returns the
/// length.
pub(crate) fn stream(mut data: impl Read, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buf = vec![0; CHUNK];
    let mut length = 0u64;
    loop {
        match data.read(&mut buf) {
            Ok(0) => return Ok(length),
            Ok(n) => {
                f(&buf[..n]);
                length += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// BLAKE2b-512 of everything `data` yields: the message of a prehashed
/// signature.
pub(crate) fn prehash(data: impl Read) -> io::Result<([u8; 64], u64)> {
    let mut h = Blake2b512::new();
    let length = stream(data, |chunk| h.update(chunk))?;
    Ok((h.finalize().into(), length))
}

/// The message the global signature signs: the file's signature, then the
/// trusted comment.
pub(crate) fn global_message(signature: &[u8; 64], trusted_comment: &str) -> Vec<u8> {
    [signature.as_slice(), trusted_comment.as_bytes()].concat()
}

impl PublicKey {
    /// Checks that `signature` is this key's signature of everything
    /// `data` yields, and of its trusted comment.
    ///
    /// `data` is read once, to its end, through a 32 KiB buffer, for both
    /// algorithms.
    ///
    /// # Errors
    ///
    /// [`VerifyError::KeyIdMismatch`] (before reading anything),
    /// [`VerifyError::BadSignature`], [`VerifyError::ForgedTrustedComment`],
    /// [`VerifyError::Read`].
    pub fn verify(&self, signature: &Signature, data: impl Read) -> Result<Verified, VerifyError> {
        if signature.key_id != self.key_id() {
            return Err(VerifyError::KeyIdMismatch {
                signature: signature.key_id,
                public: self.key_id(),
            });
        }
        let key = self.verifying_key();
        let sig = Ed25519Signature::from_bytes(&signature.signature);
        let length = match signature.algorithm {
            Algorithm::Prehashed => {
                let (digest, length) = prehash(data).map_err(VerifyError::Read)?;
                key.verify_strict(&digest, &sig)
                    .map_err(|_| VerifyError::BadSignature)?;
                length
            }
            Algorithm::Legacy => {
                // Ed25519 hashes R, A and the message with SHA-512: that
                // state takes the file in chunks too.
                let mut v = key
                    .verify_stream(&sig)
                    .map_err(|_| VerifyError::BadSignature)?;
                let length = stream(data, |chunk| v.update(chunk)).map_err(VerifyError::Read)?;
                v.finalize_and_verify()
                    .map_err(|_| VerifyError::BadSignature)?;
                length
            }
        };
        let global = Ed25519Signature::from_bytes(&signature.global_signature);
        key.verify_strict(
            &global_message(&signature.signature, &signature.trusted_comment),
            &global,
        )
        .map_err(|_| VerifyError::ForgedTrustedComment)?;
        Ok(Verified {
            algorithm: signature.algorithm,
            trusted_comment: signature.trusted_comment.clone(),
            length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUB: &str = include_str!("../tests/fixtures/minisign.pub");
    const DATA: &[u8] = include_bytes!("../tests/fixtures/hello.txt");
    const SIG: &str = include_str!("../tests/fixtures/hello.txt.minisig");
    const LEGACY: &str = include_str!("../tests/fixtures/hello.txt.legacy.minisig");

    fn key() -> PublicKey {
        PublicKey::from_text(PUB).expect("key")
    }

    #[test]
    fn minisigns_signatures_verify() {
        let s = Signature::from_text(SIG).expect("sig");
        let v = key().verify(&s, DATA).expect("prehashed");
        assert_eq!(v.trusted_comment, "fixture");
        assert_eq!(v.length, DATA.len() as u64);
        let s = Signature::from_text(LEGACY).expect("legacy sig");
        let v = key().verify(&s, DATA).expect("legacy");
        assert_eq!(v.algorithm, Algorithm::Legacy);
        assert_eq!(v.trusted_comment, "fixture legacy");
    }

    #[test]
    fn each_failure_has_its_error() {
        for text in [SIG, LEGACY] {
            let s = Signature::from_text(text).expect("sig");
            let mut data = DATA.to_vec();
            data[3] ^= 0x10;
            assert!(matches!(
                key().verify(&s, data.as_slice()),
                Err(VerifyError::BadSignature)
            ));
            assert!(matches!(
                key().verify(&s, &DATA[..DATA.len() - 1]),
                Err(VerifyError::BadSignature)
            ));
            let mut forged = s.clone();
            forged.trusted_comment.push('!');
            assert!(matches!(
                key().verify(&forged, DATA),
                Err(VerifyError::ForgedTrustedComment)
            ));
            let mut other = s.clone();
            other.key_id.0[0] ^= 1;
            let e = key().verify(&other, DATA).expect_err("other key");
            assert_eq!(
                e.to_string(),
                "key id mismatch: signed by key A473EAF8FBF8EC60, but the public key is A473EAF8FBF8EC61"
            );
        }
    }
}
