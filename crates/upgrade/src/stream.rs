//! Reading an image from a pipe, with its signature in front.
//!
//! `ssh router limina upgrade - < firmware.bin` has one stream and no
//! room for a second file, so a *signed stream* is the signature file
//! followed by the image:
//!
//! ```sh
//! cat firmware.bin.minisig firmware.bin | ssh root@router limina upgrade -
//! ```
//!
//! A minisign signature file is four lines of text starting with
//! `untrusted comment:`; an image starts with binary magic (a uImage's is
//! `27 05 19 56`), so the two cannot be confused: a stream that starts
//! with `untrusted comment:` is a signed stream, anything else is an image
//! without a signature.

use std::io::{self, BufRead, Read};

use limina_sign::{Signature, SignatureError};

/// How a signature file starts.
pub const SIGNED_STREAM_PREFIX: &[u8] = b"untrusted comment:";

/// A signature line is at most this long (minisign's lines are 1 KiB at
/// most; its trusted comments are shorter).
const MAX_LINE: u64 = 4096;

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading failed.
    #[error("reading the image: {0}")]
    Read(#[source] io::Error),
    /// The stream holds more bytes than `limit`.
    #[error("the image is larger than {limit} bytes, the most that fits")]
    TooLarge {
        /// The limit given.
        limit: u64,
    },
    /// The signature in front of the image is cut short or damaged.
    #[error("the signature in front of the image: {0}")]
    Signature(#[source] SignatureError),
    /// A signature line is longer than any minisign writes.
    #[error("the signature in front of the image: line {line} is longer than {MAX_LINE} bytes")]
    LongLine {
        /// The line, from 1.
        line: usize,
    },
}

/// An image read from a stream, and the signature that came in front of it.
#[derive(Debug)]
pub struct Streamed {
    /// The signature, when the stream was a signed stream.
    pub signature: Option<Signature>,
    /// The image.
    pub image: Vec<u8>,
}

/// Reads a signed stream or a bare image from `input`, holding at most
/// `limit` image bytes: one more is [`StreamError::TooLarge`] (so an
/// oversized image is refused without reading it all into memory).
///
/// # Errors
///
/// [`StreamError::Read`], [`StreamError::TooLarge`],
/// [`StreamError::Signature`], [`StreamError::LongLine`].
pub fn read(input: impl Read, limit: u64) -> Result<Streamed, StreamError> {
    let mut input = io::BufReader::new(input);
    let head = input.fill_buf().map_err(StreamError::Read)?;
    let signature = if head.starts_with(SIGNED_STREAM_PREFIX) {
        let mut text = String::new();
        for line in 1..=4 {
            let mut buf = Vec::new();
            (&mut input)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut buf)
                .map_err(StreamError::Read)?;
            if buf.len() as u64 > MAX_LINE {
                return Err(StreamError::LongLine { line });
            }
            text.push_str(&String::from_utf8_lossy(&buf));
        }
        Some(Signature::from_text(&text).map_err(StreamError::Signature)?)
    } else {
        None
    };
    let mut image = Vec::new();
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut image)
        .map_err(StreamError::Read)?;
    if image.len() as u64 > limit {
        return Err(StreamError::TooLarge { limit });
    }
    Ok(Streamed { signature, image })
}

#[cfg(test)]
mod tests {
    use super::*;
    use limina_sign::SecretKey;

    fn signed(image: &[u8]) -> (String, SecretKey) {
        let key = SecretKey::generate().expect("key");
        let sig = key
            .sign(image, "timestamp:1\tfile:firmware.bin\tboard:mti,malta")
            .expect("sign");
        (sig.to_text(), key)
    }

    #[test]
    fn bare_image() {
        let image = [0x27, 0x05, 0x19, 0x56, 1, 2, 3];
        let s = read(&image[..], 100).expect("read");
        assert!(s.signature.is_none());
        assert_eq!(s.image, image);
    }

    #[test]
    fn signed_stream_splits_and_verifies() {
        let image: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
        let (sig, key) = signed(&image);
        let stream = [sig.as_bytes(), &image].concat();
        let s = read(&stream[..], 1 << 20).expect("read");
        assert_eq!(s.image, image);
        let signature = s.signature.expect("signature");
        key.public_key()
            .verify(&signature, &s.image[..])
            .expect("verifies");
    }

    #[test]
    fn too_large_is_refused_without_reading_on() {
        let image = vec![0u8; 1001];
        assert!(matches!(
            read(&image[..], 1000),
            Err(StreamError::TooLarge { limit: 1000 })
        ));
        assert_eq!(read(&image[..], 1001).expect("fits").image.len(), 1001);
    }

    #[test]
    fn cut_signature_is_named() {
        let (sig, _) = signed(b"x");
        let cut: String = sig.lines().take(2).map(|l| format!("{l}\n")).collect();
        let err = read(cut.as_bytes(), 100).expect_err("cut");
        assert!(matches!(err, StreamError::Signature(_)), "{err}");
        let long = format!("untrusted comment: {}\n", "x".repeat(5000));
        assert!(matches!(
            read(long.as_bytes(), 100),
            Err(StreamError::LongLine { line: 1 })
        ));
    }
}
