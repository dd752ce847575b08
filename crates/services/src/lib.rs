//! `limina-services`: a router described in one typed file, `router.toml`,
//! becomes a supervised s6-rc source tree.
//!
//! - [`config`]: the schema (serde, unknown keys refused, positions kept).
//! - [`parse`] / [`load`]: read and check a file; every mistake is one
//!   `FILE:LINE:COLUMN: message` line ([`Diagnostic`]), all of them at once.
//! - [`graph`]: the services the file becomes, what they depend on, which
//!   outputs (see `limina-outputs`) they publish and read.
//! - [`render`]: the s6-rc source definitions, the scripts and config files
//!   they call, `graph.dot` and `outputs.txt`, written atomically.
//!
//! ```
//! let router = limina_services::parse(
//!     "[system]\nhostname = \"r\"\n[link.wan]\ndevice = \"eth0\"\n[wan.wan]\ninterface = \"wan\"\nprotocol = \"dhcp\"\n",
//!     "router.toml",
//! )?;
//! let graph = limina_services::graph::Graph::build(&router);
//! assert_eq!(graph.services["wan"].dependencies, ["link-wan"]);
//! assert!(limina_services::parse("[system]\nhostnam = \"r\"\n", "r.toml")
//!     .unwrap_err()
//!     .to_string()
//!     .starts_with("r.toml:2:1: unknown key \"hostnam\" in [system]"));
//! # Ok::<(), limina_services::LoadError>(())
//! ```

pub mod config;
pub mod error;
pub mod graph;
pub mod render;
pub mod s6rc;
mod templates;
pub mod validate;

use std::path::Path;

pub use config::Router;
pub use error::{Diagnostic, Diagnostics, LoadError, RenderError};
pub use render::{render_to, RenderOptions};

use error::Positions;

/// Reads and checks the router file at `path` (named in messages as given).
pub fn load(path: &Path) -> Result<Router, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and checks a router file's text; `file_name` is what messages
/// call it.
pub fn parse(text: &str, file_name: &str) -> Result<Router, LoadError> {
    let pos = Positions::new(file_name, text);
    let router: Router =
        toml::from_str(text).map_err(|e| Diagnostics(vec![toml_diagnostic(&pos, text, &e)]))?;
    let mut diags = validate::check(&router, &pos);
    if diags.is_empty() {
        // The graph is only meaningful once every reference holds.
        let g = graph::Graph::build(&router);
        diags.extend(g.check_names(&router, &pos));
        for (cycle, span) in g.cycles(&router) {
            diags.push(pos.at(span, format!("dependency cycle: {}", cycle.join(" -> "))));
        }
    }
    if diags.is_empty() {
        return Ok(router);
    }
    diags.sort_by_key(|d| (d.line, d.column));
    diags.dedup();
    Err(LoadError::Invalid(Diagnostics(diags)))
}

/// toml's error as one line at its position, in the words of this file
/// format (`key`, not serde's `field`).
fn toml_diagnostic(pos: &Positions<'_>, text: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let raw = e.message().trim().replace('\n', " ");
    let table = pos.table_at(span.start);
    let msg = if let Some(rest) = raw.strip_prefix("unknown field `") {
        // "unknown field `mtuu`, expected one of `device`, `mtu`, `mac`"
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected one of ")
            .trim_start_matches("expected ")
            .replace('`', "");
        let what = if pos.in_header(span.start) {
            // The key is a table name of its own header: `[routerr]`.
            match table.as_deref() {
                Some(t) => format!("unknown table {t}"),
                None => format!("unknown table \"{key}\""),
            }
        } else {
            let within = match (table, inline_key(text, span.start)) {
                (Some(t), Some(k)) => format!(" in {t} {k}"),
                (Some(t), None) => format!(" in {t}"),
                (None, _) => String::new(),
            };
            format!("unknown key \"{key}\"{within}")
        };
        if expected.is_empty() || expected.starts_with("there are no fields") {
            what
        } else {
            format!("{what}, expected one of {expected}")
        }
    } else if let Some(rest) = raw.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        let within = table
            .map(|t| format!(" in {t}"))
            .unwrap_or_else(|| " at the top level".into());
        format!("missing key \"{key}\"{within}")
    } else {
        let m = raw
            .replace("expected u32", "expected a non-negative integer")
            .replace("expected u16", "expected a non-negative integer")
            .replace("expected a boolean", "expected true or false")
            .replace("expected a sequence", "expected an array")
            .replace("expected struct ", "expected a table ")
            .replace("unknown variant", "unknown value")
            .replace('`', "\"");
        match key_before(text, span.start) {
            Some(k) if !m.contains("TOML parse") => {
                let t = table.map(|t| format!("{t} ")).unwrap_or_default();
                format!("{t}{k}: {m}")
            }
            _ => m,
        }
    };
    pos.at(span, msg)
}

/// The key of the inline table (`psk = { ... }`) that `offset` is in.
fn inline_key(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line = before.rsplit('\n').next()?;
    let (outer, _) = line.rsplit_once('{')?;
    let outer = outer.trim_end_matches([' ', '\t', '[', '=', ',']);
    let key = outer.rsplit([' ', '\t', ',', '{', '[']).next()?.trim();
    (!key.is_empty() && !key.contains(['"', ']'])).then(|| key.to_string())
}

/// The key whose value starts at `offset` (`key = value` on that line).
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line = before.rsplit('\n').next()?;
    let (k, _) = line.rsplit_once('=')?;
    let k = k.trim().rsplit([',', '{']).next()?.trim();
    (!k.is_empty() && !k.contains(['[', '"', ' '])).then(|| k.to_string())
}
