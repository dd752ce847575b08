//! Netascii (RFC 764 as used by RFC 1350): LF is sent as CR LF and a bare
//! CR as CR NUL. Files are stored with Unix line ends, so the conversion
//! is one way (the server never receives). Boot loaders use octet mode;
//! netascii is accepted because it is the default mode of the classic
//! `tftp` clients, tftp-hpa's included.

use std::io::{self, Read};

/// A reader that converts its inner reader's bytes to netascii.
pub(crate) struct Netascii<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// The second byte of an expanded pair that did not fit.
    pending: Option<u8>,
}

impl<R: Read> Netascii<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Netascii {
            inner,
            buf: vec![0; 8192].into_boxed_slice(),
            pos: 0,
            len: 0,
            pending: None,
        }
    }
}

impl<R: Read> Read for Netascii<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if let Some(b) = self.pending.take() {
                out[n] = b;
                n += 1;
                continue;
            }
            if self.pos == self.len {
                if n > 0 {
                    break;
                }
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                if self.len == 0 {
                    break;
                }
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            out[n] = match b {
                b'\n' => {
                    self.pending = Some(b'\n');
                    b'\r'
                }
                b'\r' => {
                    self.pending = Some(0);
                    b'\r'
                }
                b => b,
            };
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_across_small_reads() {
        let input = b"a\nb\rc\r\n\n";
        let want = b"a\r\nb\r\0c\r\0\r\n\r\n";
        for chunk in 1..=4 {
            let mut r = Netascii::new(&input[..]);
            let mut got = Vec::new();
            let mut buf = vec![0; chunk];
            loop {
                let n = r.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, want, "chunk {chunk}");
        }
    }
}
