//! `ubirename`: rename UBI volumes atomically (mtd-utils' syntax): either
//! every rename happens or none, so `ubirename /dev/ubi0 A B B A` swaps two
//! volumes safely (the A/B update). Quiet on success; exit status 255 on
//! any error.

use std::ffi::OsString;
use std::process::ExitCode;

use ubi::device::UbiDevice;

use super::ubi_args::{run, utf8};

pub(crate) const USAGE: &str = "\
Usage: ubirename <UBI device> OLD_NAME NEW_NAME [OLD_NAME NEW_NAME ...]

Rename up to 32 volumes in one atomic step (names may be swapped).
";

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    run("ubirename", || {
        let args = utf8(args)?;
        if args.first().is_some_and(|a| a == "-h" || a == "--help") {
            return Ok(Some(USAGE));
        }
        let Some((node, pairs)) = args.split_first() else {
            return Err("give a UBI device and OLD NEW name pairs (use -h for help)".into());
        };
        if pairs.is_empty() || pairs.len() % 2 != 0 {
            return Err("names must come in OLD NEW pairs (use -h for help)".into());
        }
        let dev = UbiDevice::open(node).map_err(|e| e.to_string())?;
        let mut renames = Vec::new();
        for pair in pairs.chunks_exact(2) {
            let id = dev.volume_id(&pair[0]).map_err(|e| e.to_string())?;
            renames.push((id, pair[1].as_str()));
        }
        dev.rename(&renames).map_err(|e| e.to_string())?;
        Ok(None)
    })
}
