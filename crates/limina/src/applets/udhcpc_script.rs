//! `udhcpc-script`: busybox udhcpc's `-s` script, publishing the lease.
//!
//! ```text
//! udhcpc -i eth1 -s /usr/bin/udhcpc-script     (udhcpc runs: udhcpc-script EVENT)
//! ```
//!
//! `bound`/`renew` publish the lease as outputs of `$LIMINA_OUTPUTS_SERVICE`
//! (default `dhcp-<interface>`) under `$LIMINA_OUTPUTS_DIR` (default
//! `/run/services/outputs`) and then, if `$LIMINA_READY_FD` names an s6
//! notification fd, signal readiness; `deconfig` removes the outputs;
//! `leasefail` and `nak` change nothing. It does not configure the
//! interface: a subscriber applies the address (see docs/outputs.md).
//!
//! Exit codes: 0 done, 1 bad lease (the previous outputs stay), 2 usage,
//! 4 the store failed.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::adapter::udhcpc::{self, Event};
use limina_outputs::Store;

use super::outputs_cli::{fail, notify_ready, service_or, EXIT_ERROR, EXIT_USAGE};

const NAME: &str = "udhcpc-script";

pub(crate) const USAGE: &str = "usage: udhcpc-script EVENT (run by udhcpc -s)";

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let [_, event] = args.as_slice() else {
        return fail(NAME, USAGE, EXIT_USAGE);
    };
    let event = event.to_string_lossy();
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let parsed = match udhcpc::parse(&event, env) {
        Ok(p) => p,
        Err(e) => return fail(NAME, e, 1),
    };
    let interface = std::env::var("interface").unwrap_or_default();
    let service = service_or(udhcpc::default_service(&interface));
    let store = Store::from_env();
    let result = match parsed {
        Event::Lease(set) => store.publish(&service, &set),
        Event::Deconfig => store.remove(&service).map(drop),
        Event::Nothing => Ok(()),
    };
    match (result, event.as_ref()) {
        (Ok(()), "bound" | "renew") => {
            notify_ready(NAME);
            ExitCode::SUCCESS
        }
        (Ok(()), _) => ExitCode::SUCCESS,
        (Err(e), _) => fail(NAME, e, EXIT_ERROR),
    }
}
