//! `output`: print one output value.
//!
//! ```text
//! output [-d DIR] SERVICE KEY [DEFAULT]
//! ```
//!
//! Prints the value of KEY (`ip`, `address/<id>/address`) of SERVICE.
//! With DEFAULT, prints it instead when the service or key is missing.
//! DIR defaults to `$LIMINA_OUTPUTS_DIR`, else `/run/services/outputs`.
//!
//! Exit codes: 0 printed, 1 no such key, 2 usage, 3 the service has no
//! outputs, 4 other errors (I/O, KEY is a table).

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::StoreError;

use super::outputs_cli::{exit_for, fail, print_line, store_and_args, utf8, EXIT_USAGE};

pub(crate) const USAGE: &str = "usage: output [-d DIR] SERVICE KEY [DEFAULT]";

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let parsed = store_and_args(args).and_then(|(s, rest)| Ok((s, utf8(&rest)?)));
    let (store, rest) = match parsed {
        Ok(p) => p,
        Err(e) => return fail("output", format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    let (service, key, default) = match rest.as_slice() {
        [s, k] => (s, k, None),
        [s, k, d] => (s, k, Some(d)),
        _ => return fail("output", USAGE, EXIT_USAGE),
    };
    match (store.get(service, key), default) {
        (Ok(v), _) => print_line(&v),
        (Err(StoreError::NoKey { .. } | StoreError::NoOutputs { .. }), Some(d)) => print_line(d),
        (Err(e), _) => fail("output", &e, exit_for(&e)),
    }
}
