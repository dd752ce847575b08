//! `output-path`: print where an output lives, for tools that take a file.
//!
//! ```text
//! output-path [-d DIR] SERVICE [KEY]
//! ```
//!
//! Prints `DIR/SERVICE/KEY` (or the service's directory without KEY). The
//! path goes through the service's symlink, so it stays valid across
//! updates; it is checked to exist. Exit codes as `output`.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::StoreError;

use super::outputs_cli::{exit_for, fail, print_line, store_and_args, utf8, EXIT_USAGE};

pub(crate) const USAGE: &str = "usage: output-path [-d DIR] SERVICE [KEY]";

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let parsed = store_and_args(args).and_then(|(s, rest)| Ok((s, utf8(&rest)?)));
    let (store, rest) = match parsed {
        Ok(p) => p,
        Err(e) => return fail("output-path", format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    let (service, key) = match rest.as_slice() {
        [s] => (s, None),
        [s, k] => (s, Some(k)),
        _ => return fail("output-path", USAGE, EXIT_USAGE),
    };
    let path = match key {
        Some(k) => store.path(service, k),
        None => store.service_dir(service),
    };
    let path = match path {
        Ok(p) => p,
        Err(e) => return fail("output-path", &e, EXIT_USAGE),
    };
    // Existence: the service first (exit 3), then the key (exit 1).
    if let Err(e) = store.read(service) {
        return fail("output-path", &e, exit_for(&e));
    }
    if !path.exists() {
        let e = StoreError::NoKey {
            service: service.clone(),
            key: key.cloned().unwrap_or_default(),
        };
        return fail("output-path", &e, exit_for(&e));
    }
    print_line(&path.to_string_lossy())
}
