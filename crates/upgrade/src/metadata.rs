//! What a signed image says about itself: the fields of its trusted
//! comment.
//!
//! Limina's build signs every image with a trusted comment of
//! tab-separated `key:value` fields (docs/signing.md), such as
//! `timestamp:1764800000`, `file:firmware.bin` and
//! `board:glinet,gl-ar750`.
//!
//! The trusted comment is covered by the signature's global signature, so
//! once the signature is verified these fields are the signer's words:
//! `board` says which board the image is for (a device-tree compatible
//! string) and cannot be edited by whoever passes the image on.

/// The fields of a trusted comment that an upgrade looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// `board:` — the device-tree compatible string of the board the
    /// image was built for.
    pub board: Option<String>,
    /// `timestamp:` — when it was signed, seconds since 1970.
    pub timestamp: Option<u64>,
    /// `file:` — the file name it was signed as.
    pub file: Option<String>,
}

impl Metadata {
    /// Reads the fields of a trusted comment. Fields are separated by
    /// tabs; each is `key:value`. Unknown keys and words without a colon
    /// are ignored (minisign's own default comment is
    /// `timestamp:N\tfile:NAME\thashed`); a key given twice keeps its
    /// first value; an empty value counts as absent.
    pub fn parse(trusted_comment: &str) -> Metadata {
        let mut m = Metadata::default();
        for field in trusted_comment.split('\t') {
            let Some((key, value)) = field.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key.trim() {
                "board" if m.board.is_none() => m.board = Some(value.to_owned()),
                "timestamp" if m.timestamp.is_none() => m.timestamp = value.parse().ok(),
                "file" if m.file.is_none() => m.file = Some(value.to_owned()),
                _ => {}
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limina_build_comment() {
        let m = Metadata::parse("timestamp:1764800000\tfile:firmware.bin\tboard:glinet,gl-ar750");
        assert_eq!(m.board.as_deref(), Some("glinet,gl-ar750"));
        assert_eq!(m.timestamp, Some(1_764_800_000));
        assert_eq!(m.file.as_deref(), Some("firmware.bin"));
    }

    #[test]
    fn minisign_default_comment_has_no_board() {
        let m = Metadata::parse("timestamp:1700000000\tfile:firmware.bin\thashed");
        assert_eq!(m.board, None);
        assert_eq!(m.timestamp, Some(1_700_000_000));
    }

    #[test]
    fn odd_fields() {
        let m = Metadata::parse("board:\tboard:mti,malta\tboard:other\ttimestamp:soon\t\t:x");
        assert_eq!(m.board.as_deref(), Some("mti,malta"));
        assert_eq!(m.timestamp, None);
        assert_eq!(Metadata::parse(""), Metadata::default());
    }
}
