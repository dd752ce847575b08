//! `odhcp6c-script`: odhcp6c's `-s` script, publishing DHCPv6/RA state.
//!
//! ```text
//! odhcp6c -s /usr/bin/odhcp6c-script eth1     (odhcp6c runs: odhcp6c-script IFACE STATE)
//! ```
//!
//! `bound`, `informed`, `updated`, `rebound`, `ra-updated` publish the
//! addresses, prefixes, DNS servers and RA routes as outputs of
//! `$LIMINA_OUTPUTS_SERVICE` (default `dhcpv6-<iface>`), tables keyed by
//! content-derived ids, then signal `$LIMINA_READY_FD` if set; `unbound`
//! and `stopped` remove them; `started` changes nothing.
//!
//! Exit codes: 0 done, 1 bad input (the previous outputs stay), 2 usage,
//! 4 the store failed.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::adapter::odhcp6c::{self, Event};
use limina_outputs::Store;

use super::outputs_cli::{fail, notify_ready, service_or, utf8, EXIT_ERROR, EXIT_USAGE};

const NAME: &str = "odhcp6c-script";

pub(crate) const USAGE: &str = "usage: odhcp6c-script IFACE STATE (run by odhcp6c -s)";

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = match utf8(&args) {
        Ok(a) => a,
        Err(e) => return fail(NAME, e, EXIT_USAGE),
    };
    let [_, iface, state] = args.as_slice() else {
        return fail(NAME, USAGE, EXIT_USAGE);
    };
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let parsed = match odhcp6c::parse(iface, state, env) {
        Ok(p) => p,
        Err(e) => return fail(NAME, e, 1),
    };
    let service = service_or(odhcp6c::default_service(iface));
    let store = Store::from_env();
    let result = match parsed {
        Event::State(set) => store.publish(&service, &set).map(|()| true),
        Event::Remove => store.remove(&service).map(|_| false),
        Event::Nothing => Ok(false),
    };
    match result {
        Ok(true) => {
            notify_ready(NAME);
            ExitCode::SUCCESS
        }
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => fail(NAME, e, EXIT_ERROR),
    }
}
