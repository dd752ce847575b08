//! Which board this is: the running device tree's `compatible` list.

use std::io;
use std::path::{Path, PathBuf};

/// Where the running device tree's root `compatible` property is, tried
/// in this order.
pub const COMPATIBLE_PATHS: [&str; 2] = [
    "/proc/device-tree/compatible",
    "/sys/firmware/devicetree/base/compatible",
];

/// Why the running board could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Splits a `compatible` property (NUL-terminated strings, most specific
/// first) into its strings; empty ones are dropped.
pub fn parse_compatible(property: &[u8]) -> Vec<String> {
    property
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The running board's compatible strings, from the first of
/// [`COMPATIBLE_PATHS`] that exists; `Ok(None)` when the system has no
/// device tree (x86 PCs, say).
///
/// # Errors
///
/// [`BoardError::Read`] when a file exists but cannot be read.
pub fn running_compatible() -> Result<Option<Vec<String>>, BoardError> {
    compatible_from(COMPATIBLE_PATHS.iter().map(Path::new))
}

/// [`running_compatible`] from other paths (tests, a mounted root).
///
/// # Errors
///
/// As [`running_compatible`].
pub fn compatible_from<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
) -> Result<Option<Vec<String>>, BoardError> {
    for path in paths {
        match std::fs::read(path) {
            Ok(bytes) => return Ok(Some(parse_compatible(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(BoardError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_strings() {
        assert_eq!(
            parse_compatible(b"glinet,gl-ar750\0qca,qca9531\0"),
            ["glinet,gl-ar750", "qca,qca9531"]
        );
        assert_eq!(parse_compatible(b"mti,malta"), ["mti,malta"]);
        assert!(parse_compatible(b"\0").is_empty());
    }

    #[test]
    fn first_existing_path_wins() {
        let dir = std::env::temp_dir().join(format!("limina-upgrade-board-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("compatible");
        std::fs::write(&file, b"linux,dummy-virt\0").expect("write");
        let missing = dir.join("missing");
        let got = compatible_from([missing.as_path(), file.as_path()]).expect("read");
        assert_eq!(got, Some(vec!["linux,dummy-virt".to_owned()]));
        assert_eq!(compatible_from([missing.as_path()]).expect("none"), None);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
