//! mtd-utils' `ubinize` configuration file.
//!
//! `ubinize` reads an ini file with one `[section]` per volume, through the
//! iniparser library bundled with mtd-utils. This module reproduces the
//! parts of iniparser's behaviour that change the result: section names
//! and keys are case-insensitive, values may be quoted with `"` or `'`,
//! an unquoted value ends at `;` or `#`, lines starting with `;` or `#` are
//! comments, and a section repeated later adds to the first one (sections
//! keep the order of their first appearance).

use std::path::PathBuf;

use crate::media::{VolType, VOL_NAME_MAX, VTBL_AUTORESIZE_FLG, VTBL_SKIP_CRC_CHECK_FLG};

/// One `[section]` of a ubinize ini file: a volume to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The section name (lower-cased, as iniparser does), for messages.
    pub section: String,
    /// `vol_id=`.
    pub id: u32,
    /// `vol_name=`.
    pub name: String,
    /// `vol_type=` (default dynamic).
    pub vol_type: VolType,
    /// `vol_size=` in bytes; `None` means the image's size.
    pub size: Option<u64>,
    /// `vol_alignment=` (default 1).
    pub alignment: u32,
    /// `vol_flags=`: [`VTBL_AUTORESIZE_FLG`] or [`VTBL_SKIP_CRC_CHECK_FLG`].
    pub flags: u8,
    /// `image=`: the file whose contents fill the volume.
    pub image: Option<PathBuf>,
}

/// A problem in the ini file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IniError {
    /// A line that is neither a section, a `key=value` nor a comment.
    #[error("ubi: ini line {line}: cannot parse {text:?}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// No `[section]` at all.
    #[error("ubi: ini: no sections found")]
    NoSections,
    /// A mandatory key is missing.
    #[error("ubi: ini section {section:?}: {key:?} key not found")]
    Missing {
        /// The section.
        section: String,
        /// The key.
        key: &'static str,
    },
    /// A key's value is not acceptable.
    #[error("ubi: ini section {section:?}: bad {key:?} value {value:?}: {why}")]
    Bad {
        /// The section.
        section: String,
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// What is expected.
        why: &'static str,
    },
}

/// Parses an integer the way C's `strtol(s, NULL, 0)` does for valid
/// input: decimal, `0x` hex or leading-`0` octal.
fn parse_c_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Parses a size the way mtd-utils' `util_get_bytes` does: a C integer
/// with an optional `KiB`, `MiB` or `GiB` suffix (spaces allowed before
/// it). Returns `None` for anything else.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_hexdigit()
                || (i == 1 && (c == 'x' || c == 'X'))
                || (i == 0 && (c == '-' || c == '+')))
        })
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(split);
    let v = parse_c_int(num)?;
    let v = u64::try_from(v).ok()?;
    let mult = match suffix.trim_start() {
        "" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    v.checked_mul(mult)
}

/// Raw sections: name and `(key, value)` pairs in file order.
type Sections = Vec<(String, Vec<(String, String)>)>;

fn parse_raw(text: &str) -> Result<Sections, IniError> {
    let mut sections: Sections = Vec::new();
    let mut current: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(IniError::Syntax {
                    line: n + 1,
                    text: line.to_owned(),
                });
            };
            let name = rest[..end].trim().to_lowercase();
            current = Some(match sections.iter().position(|(s, _)| *s == name) {
                Some(i) => i,
                None => {
                    sections.push((name, Vec::new()));
                    sections.len() - 1
                }
            });
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            return Err(IniError::Syntax {
                line: n + 1,
                text: line.to_owned(),
            });
        };
        let key = key.trim().to_lowercase();
        let value = value.trim();
        let value = if let Some(q) = value
            .strip_prefix('"')
            .and_then(|v| v.split_once('"').map(|(a, _)| a))
        {
            q.to_owned()
        } else if let Some(q) = value
            .strip_prefix('\'')
            .and_then(|v| v.split_once('\'').map(|(a, _)| a))
        {
            q.to_owned()
        } else {
            value
                .split([';', '#'])
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        // Keys before any section belong to no volume; iniparser keeps them
        // in a nameless dictionary entry that ubinize never reads.
        if let Some(i) = current {
            let entries = &mut sections[i].1;
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(e) => e.1 = value,
                None => entries.push((key, value)),
            }
        }
    }
    Ok(sections)
}

/// Parses a ubinize ini file into volume specifications, checking each
/// section as ubinize does (mandatory keys, value syntax). Checks that need
/// the geometry or the images (sizes, alignment, unique IDs) are done by
/// [`crate::image::Plan::new`].
///
/// ```
/// let specs = ubi::ini::parse("[rootfs]\nmode=ubi\nvol_id=0\nvol_size=4MiB\nvol_name=rootfs\n")?;
/// assert_eq!(specs[0].size, Some(4 << 20));
/// # Ok::<(), ubi::ini::IniError>(())
/// ```
pub fn parse(text: &str) -> Result<Vec<VolumeSpec>, IniError> {
    let sections = parse_raw(text)?;
    if sections.is_empty() {
        return Err(IniError::NoSections);
    }
    sections.into_iter().map(|(s, e)| section(s, &e)).collect()
}

fn section(section: String, entries: &[(String, String)]) -> Result<VolumeSpec, IniError> {
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let bad = |key: &'static str, value: &str, why: &'static str| IniError::Bad {
        section: section.clone(),
        key,
        value: value.to_owned(),
        why,
    };
    match get("mode") {
        None => {
            return Err(IniError::Missing {
                section,
                key: "mode",
            })
        }
        Some("ubi") => {}
        Some(v) => return Err(bad("mode", v, "only \"ubi\" is supported")),
    }
    let image = get("image").filter(|v| !v.is_empty()).map(PathBuf::from);
    let vol_type = match get("vol_type") {
        None | Some("dynamic") => VolType::Dynamic,
        Some("static") => VolType::Static,
        Some(v) => return Err(bad("vol_type", v, "expected \"static\" or \"dynamic\"")),
    };
    let size = match get("vol_size") {
        None => None,
        Some(v) => match parse_bytes(v) {
            Some(n) if n > 0 => Some(n),
            _ => {
                return Err(bad(
                    "vol_size",
                    v,
                    "expected a positive size (bytes, KiB, MiB, GiB)",
                ))
            }
        },
    };
    if image.is_none() && size.is_none() {
        return Err(IniError::Missing {
            section,
            key: "image\" or \"vol_size",
        });
    }
    if image.is_none() && vol_type == VolType::Static {
        return Err(IniError::Missing {
            section,
            key: "image",
        });
    }
    let id = match get("vol_id") {
        None => {
            return Err(IniError::Missing {
                section,
                key: "vol_id",
            })
        }
        Some(v) => match parse_c_int(v).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => return Err(bad("vol_id", v, "expected a volume ID from 0 to 127")),
        },
    };
    let name = match get("vol_name") {
        None => {
            return Err(IniError::Missing {
                section,
                key: "vol_name",
            })
        }
        Some(v) if v.len() > VOL_NAME_MAX => {
            return Err(bad("vol_name", v, "longer than 127 bytes"))
        }
        Some(v) => v.to_owned(),
    };
    let alignment = match get("vol_alignment") {
        None => 1,
        Some(v) => match parse_c_int(v).and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n > 0 => n,
            _ => return Err(bad("vol_alignment", v, "expected a positive number")),
        },
    };
    let flags = match get("vol_flags") {
        None | Some("") => 0,
        Some("autoresize") => VTBL_AUTORESIZE_FLG,
        Some("skip-check") if vol_type == VolType::Static => VTBL_SKIP_CRC_CHECK_FLG,
        Some("skip-check") => {
            return Err(bad(
                "vol_flags",
                "skip-check",
                "only valid for static volumes",
            ))
        }
        Some(v) => {
            return Err(bad(
                "vol_flags",
                v,
                "expected \"autoresize\" or \"skip-check\"",
            ))
        }
    };
    Ok(VolumeSpec {
        section,
        id,
        name,
        vol_type,
        size,
        alignment,
        flags,
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_util_get_bytes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("0x10"), Some(16));
        assert_eq!(parse_bytes("010"), Some(8));
        assert_eq!(parse_bytes("4KiB"), Some(4096));
        assert_eq!(parse_bytes("1 MiB"), Some(1 << 20));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("1KB"), None);
        assert_eq!(parse_bytes("KiB"), None);
        assert_eq!(parse_bytes("-1"), None);
    }

    #[test]
    fn sections_keys_quotes_and_comments() {
        let text = "; comment\n# comment\n[RootFS]\nMODE = ubi\nvol_id=0x1 ; trailing\n\
                    vol_name=\"my vol\"\nimage='a b.img'\nvol_type=static\n\
                    vol_flags=skip-check\nvol_alignment=4\n";
        let specs = parse(text).expect("valid");
        assert_eq!(
            specs,
            vec![VolumeSpec {
                section: "rootfs".into(),
                id: 1,
                name: "my vol".into(),
                vol_type: VolType::Static,
                size: None,
                alignment: 4,
                flags: VTBL_SKIP_CRC_CHECK_FLG,
                image: Some("a b.img".into()),
            }]
        );
    }

    #[test]
    fn bad_sections_name_the_problem() {
        let err = |t: &str| parse(t).expect_err("invalid").to_string();
        assert_eq!(err(""), "ubi: ini: no sections found");
        assert_eq!(
            err("[v]\nvol_id=0\nvol_size=1\nvol_name=x\n"),
            "ubi: ini section \"v\": \"mode\" key not found"
        );
        assert_eq!(
            err("[v]\nmode=ubi\nvol_size=1\nvol_name=x\n"),
            "ubi: ini section \"v\": \"vol_id\" key not found"
        );
        assert!(err("[v]\nmode=ubi\nvol_id=0\nvol_size=0\nvol_name=x\n").contains("vol_size"));
        assert!(
            err("[v]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=x\nvol_flags=skip-check\n")
                .contains("only valid for static volumes")
        );
        assert!(
            err("[v]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=x\nvol_type=foo\n")
                .contains("vol_type")
        );
        assert!(err("[v]\nmode=ubi\nvol_id=0\nvol_name=x\n").contains("image"));
        assert!(
            err("[v]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=x\nvol_alignment=0\n")
                .contains("vol_alignment")
        );
        assert!(err("[v\n").contains("line 1"));
    }
}
