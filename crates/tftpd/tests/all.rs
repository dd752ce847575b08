//! The server against real clients (Debian's tftp-hpa `tftp` and busybox
//! `tftp`) and against a raw client written here, which loses ACKs, repeats
//! them and asks for odd options, over UDP on 127.0.0.1.
//!
//! Tests that need a client binary say `SKIPPED` on stderr and pass when it
//! is missing, unless `LIMINA_REQUIRE_TOOLS` is set (as `scripts/check`
//! does), in which case they fail.

#[path = "all/cli.rs"]
mod cli;
#[path = "all/clients.rs"]
mod clients;
#[path = "all/raw.rs"]
mod raw;
#[path = "all/util.rs"]
mod util;
