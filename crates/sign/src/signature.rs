//! Signature files (`FILE.minisig`) in minisign's format.
//!
//! Four lines:
//!
//! ```text
//! untrusted comment: <anything>
//! base64( "ED" | key id (8) | Ed25519 signature (64) )
//! trusted comment: <text>
//! base64( Ed25519 signature of (signature | text) )   <- the global signature
//! ```
//!
//! `ED` signs BLAKE2b-512 of the file (prehashed, minisign's default since
//! 0.10, so the file is read once, as a stream); `Ed` signs the file
//! itself (legacy, `minisign -l`). The trusted comment is covered by the
//! global signature, so its timestamp and file name cannot be changed
//! without the key; the untrusted comment is covered by nothing.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::key::KeyId;
use crate::{COMMENT_PREFIX, SIGALG, SIGALG_HASHED, TRUSTED_COMMENT_PREFIX};

/// Bytes of the decoded signature line: algorithm, key id, signature.
const SIG_LINE_BYTES: usize = 2 + KeyId::LEN + 64;

/// What a signature signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// `ED`: BLAKE2b-512 of the file (minisign's default).
    Prehashed,
    /// `Ed`: the file itself (`minisign -l`).
    Legacy,
}

impl Algorithm {
    fn tag(self) -> &'static [u8; 2] {
        match self {
            Algorithm::Prehashed => SIGALG_HASHED,
            Algorithm::Legacy => SIGALG,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Prehashed => "prehashed (ED)",
            Algorithm::Legacy => "legacy (Ed)",
        })
    }
}

/// Why a text is not a signature file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The file ends before the named part (cut short in transfer).
    #[error("truncated signature file: the {missing} is missing or cut short")]
    Truncated {
        /// The part that is missing: `untrusted comment`, `signature`,
        /// `trusted comment` or `global signature`.
        missing: &'static str,
    },
    /// The text does not have a signature file's shape.
    #[error("not a minisign signature: line {line}: {why}")]
    Garbled {
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A signature of an algorithm other than `ED` and `Ed`.
    #[error("unsupported signature algorithm {0:?} (minisign signatures are \"ED\" or \"Ed\")")]
    UnsupportedAlgorithm(String),
    /// A trusted comment minisign could not have written or would refuse.
    #[error("invalid trusted comment: {0}")]
    TrustedComment(&'static str),
}

/// A parsed signature file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub(crate) algorithm: Algorithm,
    pub(crate) key_id: KeyId,
    pub(crate) signature: [u8; 64],
    pub(crate) untrusted_comment: String,
    pub(crate) trusted_comment: String,
    pub(crate) global_signature: [u8; 64],
}

/// Checks a trusted comment as minisign does: one line, no control
/// characters but tab, at most 8 KiB.
pub(crate) fn check_trusted_comment(text: &str) -> Result<(), SignatureError> {
    if text.contains(['\n', '\r']) {
        return Err(SignatureError::TrustedComment("it holds a line break"));
    }
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SignatureError::TrustedComment(
            "it holds a control character",
        ));
    }
    if text.len() >= crate::TRUSTED_COMMENT_MAX - TRUSTED_COMMENT_PREFIX.len() {
        return Err(SignatureError::TrustedComment("longer than 8 KiB"));
    }
    Ok(())
}

impl Signature {
    /// Reads a signature file's text.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Truncated`] when the text stops before the
    /// global signature is complete, [`SignatureError::Garbled`] naming
    /// the line that is wrong, [`SignatureError::UnsupportedAlgorithm`],
    /// [`SignatureError::TrustedComment`].
    pub fn from_text(text: &str) -> Result<Self, SignatureError> {
        // A line cut short is the end of a truncated file; the same damage
        // followed by more lines is garbage.
        let lines: Vec<&str> = text.split('\n').collect();
        let last = lines.len() - 1;
        // (line, cut short: the file's last line, without its newline)
        let get = |i: usize, missing: &'static str| -> Result<(&str, bool), SignatureError> {
            match lines.get(i) {
                Some(l) if !(i == last && l.is_empty()) => {
                    Ok((l.strip_suffix('\r').unwrap_or(l), i == last))
                }
                _ => Err(SignatureError::Truncated { missing }),
            }
        };
        let decode = |i: usize, line: &str, cut: bool, missing: &'static str, want: usize| {
            let garbled = |why: String| {
                if cut {
                    SignatureError::Truncated { missing }
                } else {
                    SignatureError::Garbled { line: i + 1, why }
                }
            };
            let bytes = B64
                .decode(line.trim())
                .map_err(|e| garbled(format!("the {missing} is not base64 ({e})")))?;
            if bytes.len() != want {
                return Err(garbled(format!(
                    "the {missing} decodes to {} bytes, not {want}",
                    bytes.len()
                )));
            }
            Ok(bytes)
        };

        let (untrusted, cut) = get(0, "untrusted comment")?;
        let untrusted = match untrusted.strip_prefix(COMMENT_PREFIX) {
            Some(u) => u,
            None if cut && COMMENT_PREFIX.starts_with(untrusted) => {
                return Err(SignatureError::Truncated {
                    missing: "untrusted comment",
                })
            }
            None => {
                return Err(SignatureError::Garbled {
                    line: 1,
                    why: format!("does not start with {COMMENT_PREFIX:?}"),
                })
            }
        };

        let (sig_line, cut) = get(1, "signature")?;
        let sig = decode(1, sig_line, cut, "signature", SIG_LINE_BYTES)?;
        let algorithm = match &sig[..2] {
            a if a == SIGALG_HASHED => Algorithm::Prehashed,
            a if a == SIGALG => Algorithm::Legacy,
            a => {
                return Err(SignatureError::UnsupportedAlgorithm(
                    String::from_utf8_lossy(a).into_owned(),
                ))
            }
        };

        let (trusted, cut) = get(2, "trusted comment")?;
        let trusted = match trusted.strip_prefix(TRUSTED_COMMENT_PREFIX) {
            Some(t) => t,
            None if cut && TRUSTED_COMMENT_PREFIX.starts_with(trusted) => {
                return Err(SignatureError::Truncated {
                    missing: "trusted comment",
                })
            }
            None => {
                return Err(SignatureError::Garbled {
                    line: 3,
                    why: format!("does not start with {TRUSTED_COMMENT_PREFIX:?}"),
                })
            }
        };
        if cut {
            // The comment may be whole, but the global signature is gone.
            return Err(SignatureError::Truncated {
                missing: "global signature",
            });
        }
        check_trusted_comment(trusted)?;

        let (global_line, cut) = get(3, "global signature")?;
        let global = decode(3, global_line, cut, "global signature", 64)?;
        if let Some(extra) = lines.get(4..) {
            if let Some(n) = extra.iter().position(|l| !l.trim().is_empty()) {
                return Err(SignatureError::Garbled {
                    line: 5 + n,
                    why: "text after the global signature".into(),
                });
            }
        }

        let mut key_id = [0; KeyId::LEN];
        key_id.copy_from_slice(&sig[2..10]);
        let mut signature = [0; 64];
        signature.copy_from_slice(&sig[10..]);
        let mut global_signature = [0; 64];
        global_signature.copy_from_slice(&global);
        Ok(Signature {
            algorithm,
            key_id: KeyId(key_id),
            signature,
            untrusted_comment: untrusted.to_owned(),
            trusted_comment: trusted.to_owned(),
            global_signature,
        })
    }

    /// The signature file's text, as minisign writes it.
    pub fn to_text(&self) -> String {
        let mut sig = Vec::with_capacity(SIG_LINE_BYTES);
        sig.extend_from_slice(self.algorithm.tag());
        sig.extend_from_slice(&self.key_id.0);
        sig.extend_from_slice(&self.signature);
        format!(
            "{COMMENT_PREFIX}{}\n{}\n{TRUSTED_COMMENT_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            B64.encode(sig),
            self.trusted_comment,
            B64.encode(self.global_signature)
        )
    }

    /// What the signature signs.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The id of the key that made the signature.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The trusted comment (what follows `trusted comment: `). Only
    /// trustworthy after [`crate::PublicKey::verify`] succeeded.
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// The untrusted comment (what follows `untrusted comment: `): signed
    /// by nothing.
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// Replaces the untrusted comment (it is not signed). A line break or
    /// control character in it is replaced by a space.
    pub fn set_untrusted_comment(&mut self, text: &str) {
        self.untrusted_comment = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `minisign -S -t fixture` 0.11: tests/fixtures/README.md.
    const SIG: &str = include_str!("../tests/fixtures/hello.txt.minisig");

    #[test]
    fn reads_minisigns_signature_and_writes_it_back() {
        let s = Signature::from_text(SIG).expect("parse");
        assert_eq!(s.algorithm(), Algorithm::Prehashed);
        assert_eq!(s.key_id().to_string(), "A473EAF8FBF8EC61");
        assert_eq!(s.trusted_comment(), "fixture");
        assert_eq!(s.untrusted_comment(), "signature from minisign secret key");
        assert_eq!(s.to_text(), SIG);
        // CRLF line ends (a file edited on Windows) read the same.
        assert_eq!(
            Signature::from_text(&SIG.replace('\n', "\r\n")).expect("crlf"),
            s
        );
    }

    #[test]
    fn every_cut_is_a_truncated_file() {
        for n in 0..SIG.len() - 1 {
            let e = Signature::from_text(&SIG[..n]).expect_err("cut");
            assert!(
                matches!(e, SignatureError::Truncated { .. }),
                "cut at {n}: {e}"
            );
        }
        // Cut right after the last base64 character: still whole.
        assert!(Signature::from_text(&SIG[..SIG.len() - 1]).is_ok());
    }

    #[test]
    fn garbage_names_its_line() {
        let lines: Vec<&str> = SIG.lines().collect();
        let with = |i: usize, text: &str| {
            let mut l = lines.clone();
            l[i] = text;
            Signature::from_text(&(l.join("\n") + "\n"))
                .expect_err(text)
                .to_string()
        };
        assert_eq!(
            with(0, "comment: x"),
            "not a minisign signature: line 1: does not start with \"untrusted comment: \""
        );
        assert!(with(1, "!!!!")
            .starts_with("not a minisign signature: line 2: the signature is not base64"));
        assert_eq!(
            with(1, "RURh7Pj7+Opz"),
            "not a minisign signature: line 2: the signature decodes to 9 bytes, not 74"
        );
        assert_eq!(
            with(2, "trusted: x"),
            "not a minisign signature: line 3: does not start with \"trusted comment: \""
        );
        assert_eq!(
            with(2, "trusted comment: a\u{7}b"),
            "invalid trusted comment: it holds a control character"
        );
        assert!(with(3, "AAAA").starts_with(
            "not a minisign signature: line 4: the global signature decodes to 3 bytes"
        ));
        let other = B64.encode([b"Xx".as_slice(), &[0; 72]].concat());
        assert_eq!(
            with(1, &other),
            "unsupported signature algorithm \"Xx\" (minisign signatures are \"ED\" or \"Ed\")"
        );
        let more = format!("{SIG}junk\n");
        assert_eq!(
            Signature::from_text(&more).expect_err("junk").to_string(),
            "not a minisign signature: line 5: text after the global signature"
        );
    }
}
