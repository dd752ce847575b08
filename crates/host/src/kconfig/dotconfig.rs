//! `.config` files and config fragments: `CONFIG_X=value` and
//! `# CONFIG_X is not set` lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One option a fragment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The symbol, without `CONFIG_`.
    pub name: String,
    /// The value as written (`y`, `m`, `"text"`, `42`, `0x10`); `n` for
    /// `# CONFIG_X is not set` and `CONFIG_X=n`.
    pub value: String,
    /// 1-based line in the fragment.
    pub line: usize,
}

/// Why a fragment or `.config` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A fragment line is neither an option nor a comment.
    #[error("{path}:{line}: not a CONFIG_X=value line or a comment: {text:?}")]
    BadLine {
        /// The fragment.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line.
        text: String,
    },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// `CONFIG_X=value` → (X, value); `# CONFIG_X is not set` → (X, n).
fn option(line: &str) -> Option<(&str, &str)> {
    if let Some(rest) = line.strip_prefix("# CONFIG_") {
        let name = rest.strip_suffix(" is not set")?;
        return is_name(name).then_some((name, "n"));
    }
    let (name, value) = line.strip_prefix("CONFIG_")?.split_once('=')?;
    is_name(name).then_some((name, value))
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A value Kconfig can hold: a tristate letter, a quoted string, or a
/// decimal or hex number.
fn is_value(v: &str) -> bool {
    matches!(v, "y" | "m" | "n")
        || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"'))
        || v.strip_prefix('-').unwrap_or(v).parse::<u64>().is_ok()
        || v.strip_prefix("0x")
            .or_else(|| v.strip_prefix("0X"))
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Read a `.config`: every option's value, unset ones as `n`. Other lines
/// are ignored, as Kconfig does.
pub fn read_config(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = read(path)?;
    Ok(text
        .lines()
        .filter_map(|l| option(l.trim()))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

/// Read a fragment strictly: every line is an option, a comment or empty.
pub fn read_fragment(path: &Path) -> Result<Vec<Setting>, ConfigError> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = || ConfigError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            text: raw.to_string(),
        };
        match option(line) {
            Some((name, value)) => {
                if !is_value(value) {
                    return Err(bad());
                }
                out.push(Setting {
                    name: name.to_string(),
                    value: value.to_string(),
                    line: i + 1,
                });
            }
            None if line.is_empty() || line.starts_with('#') => {}
            None => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("limina-host-{}-{name}", std::process::id()));
        std::fs::write(&p, text).expect("write temp file");
        p
    }

    #[test]
    fn fragment_lines_are_options_or_comments() {
        let p = temp(
            "ok.fragment",
            "# board\n\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\nCONFIG_D=0x10\nCONFIG_E=-1\nCONFIG_F=n\n",
        );
        let got = read_fragment(&p).expect("reads");
        let _ = std::fs::remove_file(&p);
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("A", "y"),
                ("B", "n"),
                ("C", "\"x y\""),
                ("D", "0x10"),
                ("E", "-1"),
                ("F", "n")
            ]
        );
        assert_eq!(got[1].line, 4);
    }

    #[test]
    fn other_lines_are_refused_with_their_number() {
        for text in [
            "CONFIG_A=y\nMTD=y\n",
            "CONFIG_A=y\nCONFIG_B=yes\n",
            "CONFIG_A=y\nCONFIG_=y\n",
        ] {
            let p = temp("bad.fragment", text);
            let err = read_fragment(&p).expect_err("refused");
            let _ = std::fs::remove_file(&p);
            assert!(
                err.to_string().contains("bad.fragment:2: not a CONFIG_X"),
                "{err}"
            );
        }
    }

    #[test]
    fn config_reads_set_and_unset() {
        let p = temp(
            "config",
            "#\n# Automatically generated\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"a\"\n",
        );
        let got = read_config(&p).expect("reads");
        let _ = std::fs::remove_file(&p);
        assert_eq!(got["A"], "y");
        assert_eq!(got["B"], "n");
        assert_eq!(got["S"], "\"a\"");
    }
}
