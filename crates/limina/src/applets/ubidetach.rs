//! `ubidetach`: detach a UBI device (mtd-utils' flags). Quiet on success;
//! exit status 255 on any error.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use ubi::device::{self, Control, SYSFS_UBI, UBI_CTRL};

use super::ubi_args::{mtd_number, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubidetach [<UBI control device>] -d UBI_NUM | -m MTD_NUM | -p /dev/mtdX

  -d, --devn=NUM       UBI device number to detach
  -m, --mtdn=NUM       detach the UBI device on this MTD device
  -p, --dev-path=PATH  detach the UBI device on this MTD device node
  -h, --help           this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'd',
        long: "devn",
        value: true,
    },
    Opt {
        short: 'm',
        long: "mtdn",
        value: true,
    },
    Opt {
        short: 'p',
        long: "dev-path",
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
    run("ubidetach", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let mtd = match (p.value('m'), p.value('p')) {
            (Some(m), None) => Some(narrow::<u32>("-m", number("-m", m)?)?),
            (None, Some(path)) => Some(mtd_number(path)?),
            (None, None) => None,
            _ => return Err("give only one of -m and -p".into()),
        };
        let ubi_num = match (p.value('d'), mtd) {
            (Some(d), None) => narrow("-d", number("-d", d)?)?,
            (None, Some(m)) => device::devices(Path::new(SYSFS_UBI))
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|d| d.mtd_num == m)
                .map(|d| d.ubi_num)
                .ok_or_else(|| format!("mtd{m} is not attached to UBI"))?,
            _ => return Err(
                "give the UBI device with -d, or its MTD device with -m or -p (use -h for help)"
                    .into(),
            ),
        };
        let ctrl = p.free.first().map_or(UBI_CTRL, String::as_str);
        Control::open(ctrl)
            .and_then(|c| c.detach(ubi_num))
            .map_err(|e| e.to_string())?;
        Ok(None)
    })
}
