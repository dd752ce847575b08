//! `ppp-ip-up`, `ppp-ip-down`, `ppp-ipv6-up`, `ppp-ipv6-down`: pppd hooks.
//!
//! ```text
//! pppd ... ipparam wan ip-up-script /usr/bin/ppp-ip-up ip-down-script /usr/bin/ppp-ip-down
//! /etc/ppp/ipv6-up:  exec /usr/bin/ppp-ipv6-up "$@"   (pppd 2.4 has no ipv6-up-script)
//! (pppd runs: SCRIPT IFNAME TTY SPEED LOCAL REMOTE IPPARAM)
//! ```
//!
//! The `-up` scripts merge the session (`ip`, `peer`, `dns`, `dns1`, `dns2`;
//! `ip6-local`, `ip6-peer`; plus `ifname`) into the outputs of the service
//! named by `$LIMINA_OUTPUTS_SERVICE`, else pppd's `ipparam`, else
//! `ppp-<ifname>`, and signal `$LIMINA_READY_FD` if set; the `-down`
//! scripts remove their family's keys, and the whole service with the last.
//!
//! Exit codes: 0 done, 1 bad input (the previous outputs stay), 4 the
//! store failed.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::adapter::ppp::{self, Script};
use limina_outputs::Store;

use super::outputs_cli::{fail, notify_ready, utf8, EXIT_ERROR, EXIT_USAGE};

/// The usage of `ppp-ip-up`, with the arguments pppd passes.
pub(crate) const IP_UP_USAGE: &str =
    "usage: ppp-ip-up IFNAME TTY SPEED LOCAL REMOTE IPPARAM (run by pppd as ip-up-script)";
/// The usage of `ppp-ip-down`.
pub(crate) const IP_DOWN_USAGE: &str =
    "usage: ppp-ip-down IFNAME TTY SPEED LOCAL REMOTE IPPARAM (run by pppd as ip-down-script)";
/// The usage of `ppp-ipv6-up`.
pub(crate) const IPV6_UP_USAGE: &str =
    "usage: ppp-ipv6-up IFNAME TTY SPEED LOCAL REMOTE IPPARAM (run by pppd via /etc/ppp/ipv6-up)";
/// The usage of `ppp-ipv6-down`.
pub(crate) const IPV6_DOWN_USAGE: &str =
    "usage: ppp-ipv6-down IFNAME TTY SPEED LOCAL REMOTE IPPARAM \
(run by pppd via /etc/ppp/ipv6-down)";

fn run(name: &str, script: Script, args: Vec<OsString>) -> ExitCode {
    let args = match utf8(&args) {
        Ok(a) => a,
        Err(e) => return fail(name, e, EXIT_USAGE),
    };
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let session = match ppp::parse(script, args.get(1..).unwrap_or(&[]), env) {
        Ok(s) => s,
        Err(e) => return fail(name, e, 1),
    };
    let store = Store::from_env();
    match store.update(&session.service, |cur| ppp::merge(script, cur, &session)) {
        Ok(()) => {
            if matches!(script, Script::IpUp | Script::Ipv6Up) {
                notify_ready(name);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(name, e, EXIT_ERROR),
    }
}

/// `ppp-ip-up`.
pub fn ip_up(args: Vec<OsString>) -> ExitCode {
    run("ppp-ip-up", Script::IpUp, args)
}

/// `ppp-ip-down`.
pub fn ip_down(args: Vec<OsString>) -> ExitCode {
    run("ppp-ip-down", Script::IpDown, args)
}

/// `ppp-ipv6-up`.
pub fn ipv6_up(args: Vec<OsString>) -> ExitCode {
    run("ppp-ipv6-up", Script::Ipv6Up, args)
}

/// `ppp-ipv6-down`.
pub fn ipv6_down(args: Vec<OsString>) -> ExitCode {
    run("ppp-ipv6-down", Script::Ipv6Down, args)
}
