//! Errors of loading, checking and rendering a router file.
//!
//! A router file's mistakes are [`Diagnostic`]s, each one line
//! `FILE:LINE:COLUMN: message` like a compiler's, so that editors can jump
//! to them; loading collects all of them (a syntax or type error stops
//! serde, so that one comes alone).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One mistake in a router file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every mistake found in a router file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Turns byte offsets of one text into lines and columns.
#[derive(Debug)]
pub(crate) struct Positions<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> Positions<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Positions { file, text }
    }

    /// A diagnostic at the start of `span`.
    pub(crate) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let offset = span.start.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The line holding `offset`.
    fn line_of(&self, offset: usize) -> &'a str {
        let offset = offset.min(self.text.len());
        let start = self
            .text
            .get(..offset)
            .and_then(|b| b.rfind('\n'))
            .map_or(0, |i| i + 1);
        let rest = self.text.get(start..).unwrap_or("");
        rest.split('\n').next().unwrap_or("")
    }

    /// Whether `offset` is inside a `[header]` line.
    pub(crate) fn in_header(&self, offset: usize) -> bool {
        self.line_of(offset).trim_start().starts_with('[')
    }

    /// The `[table]` in force at `offset`: the header on its line, or the
    /// last one before it.
    pub(crate) fn table_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_end = self
            .text
            .get(offset..)
            .and_then(|r| r.find('\n'))
            .map_or(self.text.len(), |i| offset + i);
        let before = self.text.get(..line_end)?;
        before.lines().rev().find_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?;
            let end = inner.find(']')?;
            Some(format!("[{}]", inner.get(..end)?.trim_matches(['[', ']'])))
        })
    }
}

/// Why [`crate::load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has mistakes.
    #[error("{0}")]
    Invalid(#[from] Diagnostics),
}

impl LoadError {
    /// The file's mistakes, if that is why it failed.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            LoadError::Invalid(d) => Some(d),
            LoadError::Read { .. } => None,
        }
    }
}

/// Why [`crate::render::render_to`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The router file is wrong.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// OUTDIR exists and `force` was not given.
    #[error("render: {} exists (remove it or use --force)", path.display())]
    Exists {
        /// OUTDIR.
        path: PathBuf,
    },
    /// A path option is not absolute or holds characters the scripts
    /// would have to quote.
    #[error("render: {flag} {value:?}: not an absolute path of letters, digits and / . _ + -")]
    Options {
        /// The option's flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// A service-name option (`--after`, the SERVICE of `--mount`) is not
    /// a plain s6-rc service name.
    #[error("render: {flag} {value:?}: not a service name of letters, digits and - _ .")]
    ServiceOption {
        /// The option's flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// A template failed (a bug: the templates are checked at build time).
    #[error("render: template {name}")]
    Template {
        /// Which file was being rendered.
        name: String,
        /// askama's error.
        source: askama::Error,
    },
    /// Writing the tree failed; nothing was left behind.
    #[error("render: {}", path.display())]
    Write {
        /// The path written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
