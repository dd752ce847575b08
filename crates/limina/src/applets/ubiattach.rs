//! `ubiattach`: attach an MTD device to UBI (mtd-utils' flags). Quiet on
//! success; exit status 255 on any error.

use std::ffi::OsString;
use std::process::ExitCode;

use ubi::device::{AttachRequest, Control, UBI_CTRL};

use super::ubi_args::{mtd_number, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubiattach [<UBI control device>] -m MTD_NUM | -p /dev/mtdX [-d UBI_NUM] [-O OFFSET] [-b N]

  -m, --mtdn=NUM            MTD device number to attach
  -p, --dev-path=PATH       MTD device node to attach
  -d, --devn=NUM            UBI device number to create (default: first free)
  -O, --vid-hdr-offset=NUM  VID header offset (default: as formatted)
  -b, --max-beb-per1024=N   eraseblocks per 1024 reserved for bad blocks
  -h, --help                this help
";

const SPEC: &[Opt] = &[
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
        short: 'd',
        long: "devn",
        value: true,
    },
    Opt {
        short: 'O',
        long: "vid-hdr-offset",
        value: true,
    },
    Opt {
        short: 'b',
        long: "max-beb-per1024",
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
    run("ubiattach", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let mtd_num = match (p.value('m'), p.value('p')) {
            (Some(m), None) => narrow("-m", number("-m", m)?)?,
            (None, Some(path)) => mtd_number(path)?,
            _ => return Err("give the MTD device with either -m or -p (use -h for help)".into()),
        };
        let num = |f: char| -> Result<Option<u64>, String> {
            p.value(f).map(|s| number(&format!("-{f}"), s)).transpose()
        };
        let req = AttachRequest {
            mtd_num,
            ubi_num: num('d')?.map(|v| narrow("-d", v)).transpose()?,
            vid_hdr_offset: num('O')?.map(|v| narrow("-O", v)).transpose()?,
            max_beb_per1024: num('b')?.map(|v| narrow("-b", v)).transpose()?,
        };
        let ctrl = p.free.first().map_or(UBI_CTRL, String::as_str);
        Control::open(ctrl)
            .and_then(|c| c.attach(&req))
            .map_err(|e| e.to_string())?;
        Ok(None)
    })
}
