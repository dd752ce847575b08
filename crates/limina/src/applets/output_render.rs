//! `output-render`: render a config file from a template of outputs.
//!
//! ```text
//! output-render [-d DIR] [-o FILE] TEMPLATE
//! ```
//!
//! Substitutes `{{ output("wan", "ifname") }}` and friends (see
//! docs/outputs.md) and writes the result to stdout, or replaces FILE
//! atomically (a temporary file beside it, renamed over it; the mode of an
//! existing FILE is kept, a new one is 0640). On any error nothing is
//! written and FILE keeps its old contents.
//!
//! Exit codes: 0 written, 1 a referenced output is missing (no default),
//! 2 usage or template syntax, 4 I/O.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use limina_outputs::template::{self, TemplateError};

use super::outputs_cli::{fail, store_and_args, EXIT_ERROR, EXIT_NO_KEY, EXIT_USAGE};

pub(crate) const USAGE: &str = "usage: output-render [-d DIR] [-o FILE] TEMPLATE";

fn write_atomic(path: &PathBuf, text: &str) -> std::io::Result<()> {
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o640);
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let (store, rest) = match store_and_args(args) {
        Ok(p) => p,
        Err(e) => return fail("output-render", format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    let (out, template) = match rest.as_slice() {
        [t] => (None, t),
        [o, f, t] if o == "-o" => (Some(PathBuf::from(f)), t),
        _ => return fail("output-render", USAGE, EXIT_USAGE),
    };
    let text = match std::fs::read_to_string(template) {
        Ok(t) => t,
        Err(e) => {
            return fail(
                "output-render",
                format!("cannot read {}: {e}", PathBuf::from(template).display()),
                EXIT_ERROR,
            )
        }
    };
    let rendered = match template::render(&text, &store) {
        Ok(r) => r,
        Err(e) => {
            let code = match e {
                TemplateError::Missing { .. } => EXIT_NO_KEY,
                TemplateError::Syntax { .. } => EXIT_USAGE,
                _ => EXIT_ERROR,
            };
            let name = PathBuf::from(template);
            return fail("output-render", format!("{}: {e}", name.display()), code);
        }
    };
    match out {
        None => {
            let _ = std::io::stdout().lock().write_all(rendered.as_bytes());
            ExitCode::SUCCESS
        }
        Some(path) => match write_atomic(&path, &rendered) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(
                "output-render",
                format!("cannot write {}: {e}", path.display()),
                EXIT_ERROR,
            ),
        },
    }
}
