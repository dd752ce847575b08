//! `output-word`: print one word of an output value (`dns`, `routers`).
//!
//! ```text
//! output-word [-d DIR] SERVICE KEY N [DEFAULT]
//! ```
//!
//! Prints the Nth space-separated word of the value, counting from 1 as
//! awk does. DEFAULT is printed when the service, key or word is missing.
//! Exit codes as `output`; a missing word is 1.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::StoreError;

use super::outputs_cli::{
    exit_for, fail, print_line, store_and_args, utf8, EXIT_NO_KEY, EXIT_USAGE,
};

pub(crate) const USAGE: &str = "usage: output-word [-d DIR] SERVICE KEY N [DEFAULT]";

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let parsed = store_and_args(args).and_then(|(s, rest)| Ok((s, utf8(&rest)?)));
    let (store, rest) = match parsed {
        Ok(p) => p,
        Err(e) => return fail("output-word", format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    let (service, key, n, default) = match rest.as_slice() {
        [s, k, n] => (s, k, n, None),
        [s, k, n, d] => (s, k, n, Some(d)),
        _ => return fail("output-word", USAGE, EXIT_USAGE),
    };
    let n: usize = match n.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return fail(
                "output-word",
                format!("N must be a number from 1, not {n:?}"),
                EXIT_USAGE,
            )
        }
    };
    match (store.get(service, key), default) {
        (Ok(v), d) => match (v.split_whitespace().nth(n - 1), d) {
            (Some(w), _) => print_line(w),
            (None, Some(d)) => print_line(d),
            (None, None) => fail(
                "output-word",
                format!("output {key:?} of service {service:?} has no word {n}"),
                EXIT_NO_KEY,
            ),
        },
        (Err(StoreError::NoKey { .. } | StoreError::NoOutputs { .. }), Some(d)) => print_line(d),
        (Err(e), _) => fail("output-word", &e, exit_for(&e)),
    }
}
