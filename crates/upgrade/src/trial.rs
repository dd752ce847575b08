//! The image a trial boot carries to the new system, so that it can commit
//! itself to flash.
//!
//! `limina upgrade --trial` checks an image as a normal upgrade does, then
//! boots it from RAM instead of writing it (`kexec::trial`). The new system
//! has no other copy of what it is to write: the running system hands it
//! the whole signed image in a second region of RAM, which the new kernel
//! finds as the phram MTD device [`DEVICE_NAME`]. `limina upgrade
//! --commit`, run by the new system once it is healthy, reads that device,
//! checks the image again with the *new* system's key and board, and writes
//! the slots.
//!
//! # The region
//!
//! All integers big-endian (as the uImage header), offsets in bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `LMNTRIAL` |
//! | 8 | 4 | version, 1 |
//! | 12 | 4 | S: length of the signature text (0: unsigned) |
//! | 16 | 8 | N: length of the image |
//! | 24 | 4 | CRC-32 (IEEE, as zlib's) of the S + N bytes after the header |
//! | 28 | 4 | CRC-32 of bytes 0..28 |
//! | 32 | S | the `.minisig` file, as text |
//! | 32 + S | N | the image, byte for byte as it was checked |
//!
//! The rest of the region (phram devices are whole erase blocks) is zeros
//! and ignored. The lengths are needed because the signature covers the
//! exact image file, padding included; the CRCs tell a region the kernel
//! kept intact from stale RAM or a region another program overwrote. They
//! are not what makes the image trusted: the signature is, and it is
//! checked again on commit.

use limina_sign::{Signature, SignatureError};

/// The MTD name of the region in the new system (`/proc/mtd`).
pub const DEVICE_NAME: &str = "limina-upgrade";

/// The command-line word that marks a trial boot.
pub const CMDLINE_MARKER: &str = "limina.trial=1";

/// The region's first bytes.
pub const MAGIC: &[u8; 8] = b"LMNTRIAL";

/// The format's version.
pub const VERSION: u32 = 1;

/// The header's length.
pub const HEADER_LEN: usize = 32;

/// Why a region could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// It does not start with [`MAGIC`].
    #[error("{DEVICE_NAME}: no trial image here (no 'LMNTRIAL' header)")]
    Magic,
    /// The header's CRC does not hold.
    #[error("{DEVICE_NAME}: the header's CRC does not hold (found {found:#010x}, computed {computed:#010x})")]
    HeaderCrc {
        /// The stored CRC.
        found: u32,
        /// The CRC of the header bytes.
        computed: u32,
    },
    /// Another version of the format.
    #[error("{DEVICE_NAME}: format version {0}, this program reads version {VERSION}")]
    Version(u32),
    /// The lengths point past the region.
    #[error("{DEVICE_NAME}: the header names {needed} bytes, the region has {available}")]
    Truncated {
        /// Header, signature and image.
        needed: u64,
        /// The region's length.
        available: u64,
    },
    /// The signature and image do not have the CRC the header says.
    #[error("{DEVICE_NAME}: the image's CRC does not hold (found {found:#010x}, computed {computed:#010x}): RAM was changed after the trial boot")]
    PayloadCrc {
        /// The stored CRC.
        found: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// The signature text does not parse.
    #[error("{DEVICE_NAME}: the signature: {0}")]
    Signature(#[source] SignatureError),
    /// The signature text is not UTF-8.
    #[error("{DEVICE_NAME}: the signature is not text")]
    SignatureText,
    /// An image or signature too large for the format.
    #[error("the image or its signature is too large for a trial region ({0} bytes)")]
    TooLarge(u64),
}

/// The bytes of a region holding `image` and its signature (`None`:
/// unsigned; the new system then accepts it only when it has no key).
///
/// # Errors
///
/// [`RegionError::TooLarge`] for a signature text of 4 GiB or more.
pub fn encode(signature: Option<&Signature>, image: &[u8]) -> Result<Vec<u8>, RegionError> {
    let text = signature.map(Signature::to_text).unwrap_or_default();
    let sig_len =
        u32::try_from(text.len()).map_err(|_| RegionError::TooLarge(text.len() as u64))?;
    let mut out = Vec::with_capacity(HEADER_LEN + text.len() + image.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&sig_len.to_be_bytes());
    out.extend_from_slice(&(image.len() as u64).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(text.as_bytes());
    crc.update(image);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    let header_crc = crc32fast::hash(&out);
    out.extend_from_slice(&header_crc.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(image);
    Ok(out)
}

/// What a region holds.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The signature (`None`: the trial was of an unsigned image).
    pub signature: Option<Signature>,
    /// The image.
    pub image: &'a [u8],
}

fn be32(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[at..at + 4]);
    u32::from_be_bytes(b)
}

/// Reads a region (the whole phram device, padding included).
///
/// # Errors
///
/// [`RegionError`], naming the first problem.
pub fn decode(region: &[u8]) -> Result<Decoded<'_>, RegionError> {
    if region.len() < HEADER_LEN || &region[..8] != MAGIC {
        return Err(RegionError::Magic);
    }
    let computed = crc32fast::hash(&region[..28]);
    let found = be32(region, 28);
    if found != computed {
        return Err(RegionError::HeaderCrc { found, computed });
    }
    let version = be32(region, 8);
    if version != VERSION {
        return Err(RegionError::Version(version));
    }
    let sig_len = u64::from(be32(region, 12));
    let mut n = [0u8; 8];
    n.copy_from_slice(&region[16..24]);
    let image_len = u64::from_be_bytes(n);
    let needed = (HEADER_LEN as u64)
        .saturating_add(sig_len)
        .saturating_add(image_len);
    if needed > region.len() as u64 {
        return Err(RegionError::Truncated {
            needed,
            available: region.len() as u64,
        });
    }
    // Both fit in the region, so in usize.
    let sig_end = HEADER_LEN + sig_len as usize;
    let end = sig_end + image_len as usize;
    let computed = crc32fast::hash(&region[HEADER_LEN..end]);
    let found = be32(region, 24);
    if found != computed {
        return Err(RegionError::PayloadCrc { found, computed });
    }
    let signature = if sig_len == 0 {
        None
    } else {
        let text = std::str::from_utf8(&region[HEADER_LEN..sig_end])
            .map_err(|_| RegionError::SignatureText)?;
        Some(Signature::from_text(text).map_err(RegionError::Signature)?)
    };
    Ok(Decoded {
        signature,
        image: &region[sig_end..end],
    })
}

/// Whether a kernel command line marks a trial boot ([`CMDLINE_MARKER`] as
/// a word of its own).
pub fn is_trial_cmdline(cmdline: &str) -> bool {
    cmdline.split_whitespace().any(|w| w == CMDLINE_MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use limina_sign::SecretKey;

    fn signed() -> (Vec<u8>, Signature, SecretKey) {
        let image = crate::testimage::firmware(&[3u8; 3000], 2, 4096);
        let key = SecretKey::generate().expect("key");
        let sig = key
            .sign(
                &image[..],
                "timestamp:1\tfile:firmware.bin\tboard:mti,malta",
            )
            .expect("sign");
        (image, sig, key)
    }

    #[test]
    fn round_trip_with_padding_and_the_signature_still_verifies() {
        let (image, sig, key) = signed();
        let mut region = encode(Some(&sig), &image).expect("encode");
        let text_len = sig.to_text().len();
        // The header, field by field.
        assert_eq!(&region[..8], b"LMNTRIAL");
        assert_eq!(region[8..12], [0, 0, 0, 1]);
        assert_eq!(be32(&region, 12) as usize, text_len);
        assert_eq!(region[16..24], (image.len() as u64).to_be_bytes());
        assert_eq!(region.len(), HEADER_LEN + text_len + image.len());
        // As the phram device shows it: padded with zeros.
        region.resize(region.len().next_multiple_of(65536), 0);
        let d = decode(&region).expect("decode");
        assert_eq!(d.image, &image[..]);
        let got = d.signature.expect("signature");
        key.public_key().verify(&got, d.image).expect("verifies");

        let unsigned = encode(None, &image).expect("encode");
        let d = decode(&unsigned).expect("decode");
        assert!(d.signature.is_none());
        assert_eq!(d.image, &image[..]);
    }

    #[test]
    fn damage_is_named() {
        let (image, sig, _) = signed();
        let region = encode(Some(&sig), &image).expect("encode");
        let err = |r: &[u8]| decode(r).expect_err("refused").to_string();
        assert!(err(&[0u8; 4096]).contains("no 'LMNTRIAL' header"));
        assert!(err(&region[..20]).contains("no 'LMNTRIAL' header"));
        let mut h = region.clone();
        h[20] ^= 1;
        assert!(err(&h).contains("header's CRC"), "{}", err(&h));
        let mut p = region.clone();
        let last = p.len() - 1;
        p[last] ^= 0x40;
        assert!(err(&p).contains("image's CRC"), "{}", err(&p));
        assert!(err(&region[..region.len() - 1]).contains("the header names"));
    }

    #[test]
    fn the_marker_is_a_whole_word() {
        assert!(is_trial_cmdline(
            "console=ttyS0 limina.trial=1 root=/dev/mtdblock1\n"
        ));
        assert!(!is_trial_cmdline("console=ttyS0 limina.trial=10"));
        assert!(!is_trial_cmdline("xlimina.trial=1"));
    }
}
