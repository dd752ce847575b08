//! `ubirsvol`: resize a UBI volume (mtd-utils' flags). Quiet on success;
//! exit status 255 on any error.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use ubi::device::{self, UbiDevice, SYSFS_UBI};

use super::ubi_args::{bytes, device_node, number, parse, run, utf8, volume_id, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubirsvol <UBI device> (-n VOL_ID | -N NAME) (-s BYTES | -S LEBS)

  -n, --vol_id=ID   volume ID
  -N, --name=NAME   volume name
  -s, --size=BYTES  new size (KiB, MiB, GiB)
  -S, --lebs=LEBS   new size in logical eraseblocks
  -h, --help        this help
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
        short: 's',
        long: "size",
        value: true,
    },
    Opt {
        short: 'S',
        long: "lebs",
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
    run("ubirsvol", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let node = device_node(&p)?;
        let dev = UbiDevice::open(node).map_err(|e| e.to_string())?;
        let id = volume_id(&p, &dev)?;
        let size = match (p.value('s'), p.value('S')) {
            (Some(s), None) => bytes("-s", s)?,
            (None, Some(l)) => {
                let num: u32 = node
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.strip_prefix("ubi"))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("cannot tell the UBI number of {node}"))?;
                let vol = device::volumes(Path::new(SYSFS_UBI), num)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|v| v.id == id)
                    .ok_or_else(|| format!("volume {id} does not exist on {node}"))?;
                number("-S", l)?
                    .checked_mul(vol.usable_eb_size)
                    .ok_or("-S value is too large")?
            }
            _ => return Err("give the size with either -s or -S (use -h for help)".into()),
        };
        dev.rsvol(id, size).map_err(|e| e.to_string())?;
        Ok(None)
    })
}
