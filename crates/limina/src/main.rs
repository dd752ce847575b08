//! `limina`: the one binary that ships every on-device tool.
//!
//! Like busybox, it is called either as `limina <applet> [args…]` or through
//! a symlink named after the applet (`/usr/bin/flashcp -> limina`), in which
//! case argv\[0\] names the applet. One binary keeps the Rust standard library
//! and shared code in flash once instead of once per tool.

mod applet;
mod applets;
mod dispatch;

use std::process::ExitCode;

fn main() -> ExitCode {
    dispatch::run(std::env::args_os().collect())
}
