//! Output sets written as `KEY=VALUE` text, by people and shell scripts.
//!
//! Shell services cannot build a generation directory and flip a symlink
//! the way [`Store::publish`](crate::Store::publish) does, so they hand the
//! whole set to `output-publish` as arguments or as a file, and this module
//! turns that text into an [`OutputSet`]. Nothing is guessed: a line
//! without `=`, a key given twice, or a key that would be both a value and
//! a table (`a=1` with `a/b=2`) is an error naming where it came from, and
//! the caller publishes nothing. Keys may contain `/` for tables
//! (`address/1/address=192.0.2.1`).
//!
//! ```
//! use limina_outputs::assign;
//!
//! let set = assign::parse_text("# secrets\nwifi-psk=correct horse\n\nntp=pool\n", "secrets")?;
//! assert_eq!(set.get("wifi-psk"), Some("correct horse"));
//! let err = assign::parse_args(&["ip=192.0.2.1", "mtu"]).unwrap_err();
//! assert_eq!(err.to_string(), "outputs: argument \"mtu\": expected KEY=VALUE");
//! # Ok::<(), assign::AssignError>(())
//! ```

use std::collections::BTreeMap;

use crate::name::NameError;
use crate::set::OutputSet;

/// A `KEY=VALUE` that cannot be part of a set. `origin` says where it came
/// from: `argument "…"` or `FILE:LINE`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssignError {
    /// No `=` in the text.
    #[error("outputs: {origin}: expected KEY=VALUE")]
    NoEquals {
        /// Where the text came from.
        origin: String,
    },
    /// The key is not a valid path, or the value holds a newline or NUL.
    #[error("outputs: {origin}: {}", name_reason(.source))]
    Name {
        /// Where the text came from.
        origin: String,
        /// What is wrong with the key or value.
        source: NameError,
    },
    /// A file line ends in a carriage return (a file saved with CRLF line
    /// ends): the `\r` would silently become part of the value.
    #[error("outputs: {origin}: line ends in a carriage return (CRLF line ends?)")]
    CarriageReturn {
        /// Where the line came from.
        origin: String,
    },
    /// The key was already given.
    #[error("outputs: {origin}: key {key:?} already given ({first})")]
    Duplicate {
        /// Where the second one came from.
        origin: String,
        /// The key.
        key: String,
        /// Where the first one came from.
        first: String,
    },
    /// The key and another one would make one name both a value and a
    /// table.
    #[error("outputs: {origin}: key {key:?} and {other:?} ({first}) cannot both be set: {table:?} would be a value and a table")]
    Conflict {
        /// Where this key came from.
        origin: String,
        /// This key.
        key: String,
        /// The key it conflicts with.
        other: String,
        /// Where that key came from.
        first: String,
        /// The name that would be both.
        table: String,
    },
}

/// The reason of a [`NameError`] without its `outputs: ` prefix (the
/// assignment error has its own).
fn name_reason(e: &NameError) -> String {
    let text = e.to_string();
    text.strip_prefix("outputs: ").unwrap_or(&text).to_owned()
}

/// Collects assignments, remembering where each key came from.
#[derive(Debug, Default)]
struct Builder {
    set: OutputSet,
    origins: BTreeMap<String, String>,
}

impl Builder {
    fn assign(&mut self, text: &str, origin: String) -> Result<(), AssignError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(AssignError::NoEquals { origin });
        };
        crate::name::check_key(key)
            .and_then(|()| crate::name::check_value(key, value))
            .map_err(|source| AssignError::Name {
                origin: origin.clone(),
                source,
            })?;
        if let Some(first) = self.origins.get(key) {
            return Err(AssignError::Duplicate {
                origin,
                key: key.to_owned(),
                first: first.clone(),
            });
        }
        // A shorter key that is a prefix of this one (`a` for `a/b`).
        for (i, _) in key.match_indices('/') {
            let table = &key[..i];
            if let Some(first) = self.origins.get(table) {
                return Err(AssignError::Conflict {
                    origin,
                    key: key.to_owned(),
                    other: table.to_owned(),
                    first: first.clone(),
                    table: table.to_owned(),
                });
            }
        }
        // A longer key under this one (`a/b` for `a`): the first key in
        // order after `a/`.
        let below = format!("{key}/");
        if let Some((other, first)) = self.origins.range(below.clone()..).next() {
            if other.starts_with(&below) {
                return Err(AssignError::Conflict {
                    origin,
                    key: key.to_owned(),
                    other: other.clone(),
                    first: first.clone(),
                    table: key.to_owned(),
                });
            }
        }
        self.set
            .set(key, value)
            .map_err(|source| AssignError::Name {
                origin: origin.clone(),
                source,
            })?;
        self.origins.insert(key.to_owned(), origin);
        Ok(())
    }
}

/// The set given as command-line arguments, one `KEY=VALUE` each (the
/// value may be empty and may contain `=`).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<OutputSet, AssignError> {
    let mut b = Builder::default();
    for a in args {
        let a = a.as_ref();
        b.assign(a, format!("argument {a:?}"))?;
    }
    Ok(b.set)
}

/// The set in a file's text: one `KEY=VALUE` per line; blank lines and
/// lines whose first non-blank character is `#` are skipped. The value is
/// the rest of the line, kept as it is (spaces included). `name` (the
/// file's path) prefixes the line numbers in errors.
pub fn parse_text(text: &str, name: &str) -> Result<OutputSet, AssignError> {
    let mut b = Builder::default();
    for (i, line) in text.split('\n').enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let origin = format!("{name}:{}", i + 1);
        if line.ends_with('\r') {
            return Err(AssignError::CarriageReturn { origin });
        }
        b.assign(line, origin)?;
    }
    Ok(b.set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_make_nested_sets() {
        let set = parse_args(&[
            "ifname=eth0",
            "address/1/address=192.0.2.1",
            "address/1/len=24",
            "empty=",
            "eq=a=b",
        ])
        .expect("valid");
        assert_eq!(
            set.flatten(),
            vec![
                ("address/1/address".to_owned(), "192.0.2.1"),
                ("address/1/len".to_owned(), "24"),
                ("empty".to_owned(), ""),
                ("eq".to_owned(), "a=b"),
                ("ifname".to_owned(), "eth0"),
            ]
        );
        assert!(parse_args::<&str>(&[]).expect("empty is valid").is_empty());
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let cases: &[(&[&str], &str)] = &[
            (&["ip"], "outputs: argument \"ip\": expected KEY=VALUE"),
            (
                &["=1"],
                "outputs: argument \"=1\": invalid key \"\": empty component",
            ),
            (
                &["a/../b=1"],
                "outputs: argument \"a/../b=1\": invalid key \"a/../b\": component starts with '.'",
            ),
            (
                &["dns=1.1.1.1\n8.8.8.8"],
                "outputs: argument \"dns=1.1.1.1\\n8.8.8.8\": value for key \"dns\" holds a newline or NUL byte",
            ),
            (
                &["ip=1", "ip=2"],
                "outputs: argument \"ip=2\": key \"ip\" already given (argument \"ip=1\")",
            ),
            (
                &["a=1", "a/b=2"],
                "outputs: argument \"a/b=2\": key \"a/b\" and \"a\" (argument \"a=1\") cannot both be set: \"a\" would be a value and a table",
            ),
            (
                &["a/b/c=2", "a/b=1"],
                "outputs: argument \"a/b=1\": key \"a/b\" and \"a/b/c\" (argument \"a/b/c=2\") cannot both be set: \"a/b\" would be a value and a table",
            ),
        ];
        for (args, want) in cases {
            let e = parse_args(args).expect_err("invalid");
            assert_eq!(e.to_string(), *want, "{args:?}");
        }
        // Siblings that share a prefix are no conflict.
        parse_args(&["a=1", "ab/c=2", "a-b=3"]).expect("valid");
    }

    #[test]
    fn files_skip_comments_and_keep_values_verbatim() {
        let text =
            "# Wi-Fi\n\n   \nwifi-psk=  spaces kept  \n  # indented comment\nntp=pool.ntp.org\n";
        let set = parse_text(text, "/data/secrets").expect("valid");
        assert_eq!(set.get("wifi-psk"), Some("  spaces kept  "));
        assert_eq!(set.get("ntp"), Some("pool.ntp.org"));
        assert_eq!(set.flatten().len(), 2);
        assert!(parse_text("", "f").expect("empty").is_empty());
        assert!(parse_text("# only\n", "f").expect("comments").is_empty());
    }

    #[test]
    fn file_errors_name_the_line() {
        let e = parse_text("a=1\n\nb\n", "/data/secrets").expect_err("no =");
        assert_eq!(
            e.to_string(),
            "outputs: /data/secrets:3: expected KEY=VALUE"
        );
        let e = parse_text("a=1\r\n", "s").expect_err("crlf");
        assert_eq!(
            e.to_string(),
            "outputs: s:1: line ends in a carriage return (CRLF line ends?)"
        );
        let e = parse_text("a=1\n# x\na=2\n", "s").expect_err("twice");
        assert_eq!(e.to_string(), "outputs: s:3: key \"a\" already given (s:1)");
        let e = parse_text(" a=1\n", "s").expect_err("leading blank in key");
        assert!(
            e.to_string()
                .starts_with("outputs: s:1: invalid key \" a\""),
            "{e}"
        );
        let e = parse_text("k=nul\0\n", "s").expect_err("nul");
        assert!(e.to_string().contains("holds a newline or NUL"), "{e}");
    }
}
