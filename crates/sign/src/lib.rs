//! minisign-compatible Ed25519 signatures for firmware images.
//!
//! Limina signs `firmware.bin` and its UBI images at build time and checks
//! them on the router before an upgrade writes anything. The format is
//! [minisign](https://jedisct1.github.io/minisign/)'s, so that users can
//! sign and check images with a tool they know (`minisign -Vm
//! firmware.bin -p signing.pub`), and so that this crate is tested against
//! that tool.
//!
//! - [`PublicKey`]: the `.pub` file (key id and Ed25519 key);
//!   [`PublicKey::verify`] checks a [`Signature`] over a reader, streaming
//!   in constant memory (a 16 MiB image on a 64 MiB router).
//! - [`Signature`]: the `.minisig` file, prehashed (`ED`, BLAKE2b-512 of
//!   the file, minisign's default) or legacy (`Ed`, `minisign -l`); both
//!   verify.
//! - [`SecretKey`] (feature `sign`): key generation, prehashed signing,
//!   unencrypted key files (`minisign -W`) and, with feature
//!   `encrypted-keys`, password-protected ones (scrypt, as minisign).
//! - [`verify_file`], [`read_public_key`], [`read_signature`] and friends:
//!   the same with files, each error naming its file, a missing signature
//!   file reported as [`Error::Unsigned`].
//!
//! ```
//! # #[cfg(feature = "sign")] {
//! use limina_sign::{PublicKey, SecretKey, Signature};
//!
//! let secret = SecretKey::generate()?;
//! let image = b"firmware bytes";
//! let sig = secret.sign(&image[..], "timestamp:0\tfile:firmware.bin\thashed")?;
//!
//! // What the router has: the public key in /etc, the .minisig beside the image.
//! let public = PublicKey::from_text(&secret.public_key().to_text())?;
//! let sig = Signature::from_text(&sig.to_text())?;
//! let ok = public.verify(&sig, &image[..])?;
//! assert_eq!(ok.trusted_comment, "timestamp:0\tfile:firmware.bin\thashed");
//!
//! // One changed byte is refused.
//! assert!(public.verify(&sig, &b"firmware bytez"[..]).is_err());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

mod key;
#[cfg(feature = "sign")]
mod secret;
mod signature;
mod verify;

pub use key::{KeyError, KeyId, PublicKey};
#[cfg(feature = "sign")]
pub use secret::{SecretKey, SecretKeyError};
pub use signature::{Algorithm, Signature, SignatureError};
pub use verify::{Verified, VerifyError};

/// The first line's prefix in every minisign file.
const COMMENT_PREFIX: &str = "untrusted comment: ";
/// The third line's prefix in a signature file.
const TRUSTED_COMMENT_PREFIX: &str = "trusted comment: ";
/// minisign's limit on the trusted comment line.
const TRUSTED_COMMENT_MAX: usize = 8192;
/// The algorithm of keys and of legacy signatures.
const SIGALG: &[u8; 2] = b"Ed";
/// The algorithm of prehashed signatures.
const SIGALG_HASHED: &[u8; 2] = b"ED";
/// minisign's untrusted comment of a signature.
#[cfg(feature = "sign")]
const SIGNATURE_COMMENT: &str = "signature from minisign secret key";
/// minisign's untrusted comment of an encrypted secret key.
#[cfg(feature = "encrypted-keys")]
const SECRET_KEY_COMMENT: &str = "minisign encrypted secret key";
/// Key and signature files are small; anything bigger is not one.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The suffix of a signature file: `FILE.minisig`.
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// An error of the file functions: which file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no signature file: the image is unsigned.
    #[error("unsigned: no signature file {}", .0.display())]
    Unsigned(PathBuf),
    /// A file could not be opened, read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A key or signature file is larger than any such file.
    #[error("{}: {size} bytes, too big for a minisign key or signature file", path.display())]
    TooBig {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The public key file is not a usable public key.
    #[error("public key {}", path.display())]
    PublicKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: KeyError,
    },
    /// The secret key file is not a usable secret key.
    #[cfg(feature = "sign")]
    #[error("secret key {}", path.display())]
    SecretKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: SecretKeyError,
    },
    /// The signature file is not a signature.
    #[error("signature file {}", path.display())]
    Signature {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: SignatureError,
    },
    /// The trusted comment to sign cannot be written in a signature file.
    #[error(transparent)]
    TrustedComment(SignatureError),
    /// Signing failed otherwise.
    #[cfg(feature = "sign")]
    #[error("signing")]
    Sign(#[source] SecretKeyError),
    /// The signature does not hold for the file.
    #[error("{}", path.display())]
    Verify {
        /// The signed file.
        path: PathBuf,
        /// Why it does not verify.
        #[source]
        source: VerifyError,
    },
}

/// Where the signature of `file` is by default: `FILE.minisig`.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(SIGNATURE_SUFFIX);
    PathBuf::from(s)
}

/// Reads a small text file (a key or a signature), bounded in size.
fn read_small(path: &Path) -> Result<String, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_KEY_FILE {
        let size = std::fs::metadata(path).map_or(MAX_KEY_FILE + 1, |m| m.len());
        return Err(Error::TooBig {
            path: path.to_owned(),
            size,
        });
    }
    Ok(text)
}

/// Reads a public key file (or a file holding only the base64 line).
///
/// # Errors
///
/// [`Error::Io`], [`Error::TooBig`], [`Error::PublicKey`].
pub fn read_public_key(path: &Path) -> Result<PublicKey, Error> {
    PublicKey::from_text(&read_small(path)?).map_err(|source| Error::PublicKey {
        path: path.to_owned(),
        source,
    })
}

/// Reads a signature file.
///
/// # Errors
///
/// [`Error::Unsigned`] when it does not exist, [`Error::Io`],
/// [`Error::TooBig`], [`Error::Signature`].
pub fn read_signature(path: &Path) -> Result<Signature, Error> {
    let text = match read_small(path) {
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Unsigned(path.to_owned()))
        }
        r => r?,
    };
    Signature::from_text(&text).map_err(|source| Error::Signature {
        path: path.to_owned(),
        source,
    })
}

/// Checks `file` against its signature (`signature`, by default
/// `FILE.minisig`) and `key`: the whole check of an image, reading it once
/// in constant memory.
///
/// # Errors
///
/// [`Error::Unsigned`], [`Error::Signature`] (including a truncated
/// signature file), [`Error::Io`] (the file), [`Error::Verify`] (another
/// key's signature, a changed file, a forged trusted comment).
pub fn verify_file(
    key: &PublicKey,
    file: &Path,
    signature: Option<&Path>,
) -> Result<Verified, Error> {
    let sig_path = signature.map_or_else(|| signature_path(file), Path::to_owned);
    let sig = read_signature(&sig_path)?;
    let data = File::open(file).map_err(|source| Error::Io {
        path: file.to_owned(),
        source,
    })?;
    key.verify(&sig, data).map_err(|source| Error::Verify {
        path: file.to_owned(),
        source,
    })
}

/// Reads a secret key file; `password` for an encrypted one.
///
/// # Errors
///
/// [`Error::Io`], [`Error::TooBig`], [`Error::SecretKey`].
#[cfg(feature = "sign")]
pub fn read_secret_key(path: &Path, password: Option<&[u8]>) -> Result<SecretKey, Error> {
    SecretKey::from_text(&read_small(path)?, password).map_err(|source| Error::SecretKey {
        path: path.to_owned(),
        source,
    })
}

/// minisign's default trusted comment: `timestamp:SECONDS\tfile:NAME\thashed`
/// (NAME the file's base name).
pub fn default_trusted_comment(file: &Path, timestamp: u64) -> String {
    let name = file
        .file_name()
        .map_or_else(|| file.to_string_lossy(), |n| n.to_string_lossy());
    format!("timestamp:{timestamp}\tfile:{name}\thashed")
}

/// Signs `file` prehashed and writes the signature to `signature` (by
/// default `FILE.minisig`), replacing it atomically (a temporary file
/// renamed over it). Returns the signature written.
///
/// # Errors
///
/// [`Error::Io`] (reading the file, writing the signature),
/// [`Error::TrustedComment`].
#[cfg(feature = "sign")]
pub fn sign_file(
    key: &SecretKey,
    file: &Path,
    signature: Option<&Path>,
    trusted_comment: &str,
) -> Result<Signature, Error> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let data = File::open(file).map_err(io(file))?;
    let sig = key
        .sign(data, trusted_comment)
        .map_err(|source| match source {
            SecretKeyError::Read(source) => Error::Io {
                path: file.to_owned(),
                source,
            },
            SecretKeyError::TrustedComment(e) => Error::TrustedComment(e),
            source => Error::Sign(source),
        })?;
    let sig_path = signature.map_or_else(|| signature_path(file), Path::to_owned);
    let mut tmp = sig_path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, sig.to_text()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &sig_path).map_err(io(&sig_path))?;
    Ok(sig)
}
