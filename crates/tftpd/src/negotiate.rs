//! Option negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize
//! (RFC 2349) and windowsize (RFC 7440).
//!
//! The rules follow tftpd-hpa, which is what U-Boot, iPXE and busybox have
//! been tested against for years: a blksize above the server's maximum is
//! lowered to it, one below 8 is ignored (the transfer runs at 512); an
//! out-of-range timeout is ignored; tsize is answered only in octet mode
//! (the netascii size is unknown until the file is converted); unknown
//! options are left out of the OACK, which RFC 2347 says means "refused".

use std::time::Duration;

use crate::Options;

/// RFC 1350's block size, used when blksize is not negotiated.
pub(crate) const DEFAULT_BLKSIZE: u16 = 512;
/// RFC 2348's range.
pub(crate) const MIN_BLKSIZE: u16 = 8;
/// RFC 2348's maximum: 65535 minus the IP, UDP and TFTP headers.
pub const MAX_BLKSIZE: u16 = 65464;

/// The parameters of one transfer, and the OACK that announces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Bytes per DATA packet.
    pub blksize: u16,
    /// Time before a retransmission.
    pub timeout: Duration,
    /// Blocks sent before waiting for an ACK.
    pub windowsize: u16,
    /// The accepted options, in request order; empty means no OACK.
    pub reply: Vec<(String, String)>,
}

/// Negotiates `requested` against `options`; `size` is the file's size in
/// octet mode, `None` in netascii mode.
pub(crate) fn negotiate(
    requested: &[(String, String)],
    options: &Options,
    size: Option<u64>,
) -> Negotiated {
    let mut n = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        timeout: options.retransmit,
        windowsize: 1,
        reply: Vec::new(),
    };
    for (name, value) in requested {
        // Duplicates: the first one wins.
        if n.reply.iter().any(|(k, _)| k == name) {
            continue;
        }
        let Ok(v) = value.trim().parse::<u64>() else {
            continue;
        };
        let accepted = match name.as_str() {
            "blksize" if v >= u64::from(MIN_BLKSIZE) => {
                let max = options.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
                n.blksize = u16::try_from(v).map_or(max, |v| v.min(max));
                Some(n.blksize.to_string())
            }
            "timeout" if (1..=255).contains(&v) => {
                n.timeout = Duration::from_secs(v);
                Some(v.to_string())
            }
            "tsize" => size.map(|s| s.to_string()),
            "windowsize" if v >= 1 && options.max_windowsize > 1 => {
                let max = options.max_windowsize;
                n.windowsize = u16::try_from(v).map_or(max, |v| v.min(max));
                Some(n.windowsize.to_string())
            }
            _ => None,
        };
        if let Some(value) = accepted {
            n.reply.push((name.clone(), value));
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn no_options_no_oack() {
        let n = negotiate(&[], &Options::default(), Some(10));
        assert_eq!(n.blksize, 512);
        assert_eq!(n.windowsize, 1);
        assert!(n.reply.is_empty());
    }

    #[test]
    fn blksize_accepted_clamped_or_ignored() {
        let o = Options::default();
        let n = negotiate(&req(&[("blksize", "1468")]), &o, None);
        assert_eq!((n.blksize, n.reply), (1468, req(&[("blksize", "1468")])));
        let n = negotiate(&req(&[("blksize", "70000")]), &o, None);
        assert_eq!((n.blksize, n.reply), (65464, req(&[("blksize", "65464")])));
        let n = negotiate(&req(&[("blksize", "7")]), &o, None);
        assert_eq!((n.blksize, n.reply.len()), (512, 0));
        let n = negotiate(&req(&[("blksize", "abc")]), &o, None);
        assert_eq!((n.blksize, n.reply.len()), (512, 0));
        let small = Options {
            max_blksize: 1024,
            ..Options::default()
        };
        let n = negotiate(&req(&[("blksize", "1468")]), &small, None);
        assert_eq!((n.blksize, n.reply), (1024, req(&[("blksize", "1024")])));
    }

    #[test]
    fn timeout_tsize_windowsize() {
        let o = Options::default();
        let r = req(&[
            ("tsize", "0"),
            ("timeout", "3"),
            ("windowsize", "1000"),
            ("rollover", "0"),
        ]);
        let n = negotiate(&r, &o, Some(41_943_040));
        assert_eq!(n.timeout, Duration::from_secs(3));
        assert_eq!(n.windowsize, o.max_windowsize);
        let ws = o.max_windowsize.to_string();
        assert_eq!(
            n.reply,
            req(&[("tsize", "41943040"), ("timeout", "3"), ("windowsize", &ws)])
        );
        // netascii: no tsize; timeout 0 is out of range.
        let n = negotiate(&req(&[("tsize", "0"), ("timeout", "0")]), &o, None);
        assert!(n.reply.is_empty());
        assert_eq!(n.timeout, o.retransmit);
    }
}
