//! `ubirmvol`: remove a UBI volume (mtd-utils' flags). Quiet on success;
//! exit status 255 on any error.

use std::ffi::OsString;
use std::process::ExitCode;

use ubi::device::UbiDevice;

use super::ubi_args::{device_node, parse, run, utf8, volume_id, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubirmvol <UBI device> -n VOL_ID | -N NAME

  -n, --vol_id=ID  volume ID
  -N, --name=NAME  volume name
  -h, --help       this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'n',
        long: "vol_id",
        value: true,
    },
    Opt {
        short: 'N',
        long: "name",
        value: true,
    },
    Opt {
        short: 'h',
        long: "help",
        value: false,
    },
];

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    run("ubirmvol", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let node = device_node(&p)?;
        let dev = UbiDevice::open(node).map_err(|e| e.to_string())?;
        let id = volume_id(&p, &dev)?;
        dev.rmvol(id).map_err(|e| e.to_string())?;
        Ok(None)
    })
}
