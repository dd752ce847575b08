//! The in-memory form of one service's outputs.
//!
//! A set is a tree: leaves are values (one line of text), inner nodes are
//! tables. It maps one-to-one onto the directory layout, so that what a
//! shell script sees with `cat` is what a Rust subscriber sees here.

use std::collections::BTreeMap;

use crate::name::{check_key, check_value, NameError};

/// One entry of a set: a value or a table of further entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A value: a file whose first line is the value.
    Value(String),
    /// A table: a subdirectory.
    Table(OutputSet),
}

/// The outputs of one service, as published or read back as a whole.
///
/// Keys are `/`-separated paths: `ip`, `address/3f1a…/len`. Intermediate
/// tables are created on [`set`](Self::set).
///
/// ```
/// use limina_outputs::OutputSet;
///
/// let mut set = OutputSet::new();
/// set.set("ifname", "eth0").unwrap();
/// set.set("address/a1/address", "192.0.2.10").unwrap();
/// assert_eq!(set.get("address/a1/address"), Some("192.0.2.10"));
/// assert_eq!(set.get("address"), None); // a table, not a value
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputSet {
    entries: BTreeMap<String, Entry>,
}

impl OutputSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries directly in this table, sorted by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Sets the value at `key`, creating intermediate tables and replacing
    /// whatever was there.
    ///
    /// Fails on a key that is not a valid path of names, or a value holding
    /// a newline or NUL (the first line of a file is the value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> Result<(), NameError> {
        let value = value.into();
        check_key(key)?;
        check_value(key, &value)?;
        let mut parts: Vec<&str> = key.split('/').collect();
        let leaf = parts.pop().expect("check_key rejects empty keys");
        let mut table = self;
        for part in parts {
            let entry = table
                .entries
                .entry(part.to_owned())
                .or_insert_with(|| Entry::Table(OutputSet::new()));
            if let Entry::Value(_) = entry {
                *entry = Entry::Table(OutputSet::new());
            }
            table = match entry {
                Entry::Table(t) => t,
                Entry::Value(_) => unreachable!("replaced by a table just above"),
            };
        }
        table.entries.insert(leaf.to_owned(), Entry::Value(value));
        Ok(())
    }

    /// Inserts a whole table at `name` (one level), replacing what was there.
    pub fn set_table(&mut self, name: &str, table: OutputSet) -> Result<(), NameError> {
        check_key(name)?;
        if name.contains('/') {
            return Err(NameError::Key {
                key: name.to_owned(),
                reason: "a table name is one component",
            });
        }
        self.entries.insert(name.to_owned(), Entry::Table(table));
        Ok(())
    }

    /// Inserts `row` as table `name` inside table `table` (created if
    /// needed; both one component): `set_table_at("address", id, row)`
    /// makes `address/<id>/…`.
    pub fn set_table_at(
        &mut self,
        table: &str,
        name: &str,
        row: OutputSet,
    ) -> Result<(), NameError> {
        let mut inner = match self.entries.remove(table) {
            Some(Entry::Table(t)) => t,
            _ => OutputSet::new(),
        };
        inner.set_table(name, row)?;
        self.set_table(table, inner)
    }

    /// Removes the entry at a `/`-separated key; returns it.
    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        match key.split_once('/') {
            None => self.entries.remove(key),
            Some((first, rest)) => match self.entries.get_mut(first)? {
                Entry::Table(t) => t.remove(rest),
                Entry::Value(_) => None,
            },
        }
    }

    /// The entry at a `/`-separated key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        let mut parts = key.split('/');
        let mut entry = self.entries.get(parts.next()?)?;
        for part in parts {
            entry = match entry {
                Entry::Table(t) => t.entries.get(part)?,
                Entry::Value(_) => return None,
            };
        }
        Some(entry)
    }

    /// The value at a `/`-separated key; `None` if absent or a table.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.entry(key)? {
            Entry::Value(v) => Some(v),
            Entry::Table(_) => None,
        }
    }

    /// The table at a `/`-separated key; `None` if absent or a value.
    pub fn table(&self, key: &str) -> Option<&OutputSet> {
        match self.entry(key)? {
            Entry::Table(t) => Some(t),
            Entry::Value(_) => None,
        }
    }

    /// Every value with its full key, depth first, sorted.
    pub fn flatten(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        self.flatten_into("", &mut out);
        out
    }

    fn flatten_into<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a str)>) {
        for (k, e) in &self.entries {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}/{k}")
            };
            match e {
                Entry::Value(v) => out.push((key, v)),
                Entry::Table(t) => t.flatten_into(&key, out),
            }
        }
    }

    pub(crate) fn insert_raw(&mut self, name: String, entry: Entry) {
        self.entries.insert(name, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_set_and_get() {
        let mut s = OutputSet::new();
        s.set("a", "1").expect("valid");
        s.set("t/x/y", "2").expect("valid");
        s.set("t/z", "3").expect("valid");
        assert_eq!(s.get("a"), Some("1"));
        assert_eq!(s.get("t/x/y"), Some("2"));
        assert!(s.table("t/x").is_some());
        assert_eq!(s.get("t/x"), None);
        assert_eq!(s.get("a/b"), None);
        assert_eq!(
            s.flatten(),
            vec![
                ("a".to_owned(), "1"),
                ("t/x/y".to_owned(), "2"),
                ("t/z".to_owned(), "3")
            ]
        );
    }

    #[test]
    fn value_replaced_by_table() {
        let mut s = OutputSet::new();
        s.set("a", "1").expect("valid");
        s.set("a/b", "2").expect("valid");
        assert_eq!(s.get("a/b"), Some("2"));
    }

    #[test]
    fn rejects_bad_keys_and_values() {
        let mut s = OutputSet::new();
        for key in ["", "/a", "a/", "a//b", ".a", "a/..", "a b", "a\nb"] {
            assert!(s.set(key, "v").is_err(), "{key:?} accepted");
        }
        assert!(s.set("k", "two\nlines").is_err());
        assert!(s.set("k", "nul\0").is_err());
        assert!(s.is_empty());
    }
}
