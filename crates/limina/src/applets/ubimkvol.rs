//! `ubimkvol`: create a UBI volume (mtd-utils' flags). Quiet on success;
//! exit status 255 on any error.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use ubi::device::{self, MkvolRequest, MkvolType, UbiDevice, SYSFS_UBI};

use super::ubi_args::{bytes, device_node, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubimkvol <UBI device> -N NAME [-n VOL_ID] (-s BYTES | -S LEBS | -m) [-t TYPE] [-a ALIGN] [-k]

  -N, --name=NAME        volume name (required)
  -n, --vol_id=ID        volume ID (default: first free)
  -s, --size=BYTES       volume size (KiB, MiB, GiB)
  -S, --lebs=LEBS        volume size in logical eraseblocks
  -m, --maxavsize        use all the space left
  -t, --type=TYPE        dynamic (default) or static
  -a, --alignment=ALIGN  volume alignment (default 1)
  -k, --skipcheck        static volume: skip the CRC check on open
  -h, --help             this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'N',
        long: "name",
        value: true,
    },
    Opt {
        short: 'n',
        long: "vol_id",
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
        short: 'm',
        long: "maxavsize",
        value: false,
    },
    Opt {
        short: 't',
        long: "type",
        value: true,
    },
    Opt {
        short: 'a',
        long: "alignment",
        value: true,
    },
    Opt {
        short: 'k',
        long: "skipcheck",
        value: false,
    },
    Opt {
        short: 'h',
        long: "help",
        value: false,
    },
];

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    run("ubimkvol", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let node = device_node(&p)?;
        let name = p
            .value('N')
            .ok_or("volume name was not specified (use -N)")?;
        let vol_type = match p.value('t') {
            None | Some("dynamic") => MkvolType::Dynamic,
            Some("static") => MkvolType::Static,
            Some(t) => return Err(format!("bad volume type {t:?}: expected dynamic or static")),
        };
        let alignment = match p.value('a') {
            Some(a) => narrow("-a", number("-a", a)?)?,
            None => 1,
        };
        let dev = UbiDevice::open(node).map_err(|e| e.to_string())?;
        let info = || -> Result<device::DeviceInfo, String> {
            let num: u32 = node
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_prefix("ubi"))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("cannot tell the UBI number of {node}"))?;
            device::devices(Path::new(SYSFS_UBI))
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|d| d.ubi_num == num)
                .ok_or_else(|| format!("{node} is not in {SYSFS_UBI}"))
        };
        let size = match (p.value('s'), p.value('S'), p.flag('m')) {
            (Some(s), None, false) => bytes("-s", s)?,
            (None, Some(l), false) => {
                let leb = info()?.eraseblock_size;
                let usable = leb - leb % u64::from(alignment.max(1));
                number("-S", l)?
                    .checked_mul(usable)
                    .ok_or("-S value is too large")?
            }
            (None, None, true) => {
                let d = info()?;
                let usable = d.eraseblock_size - d.eraseblock_size % u64::from(alignment.max(1));
                d.avail_eraseblocks * usable
            }
            _ => {
                return Err(
                    "give the size with exactly one of -s, -S and -m (use -h for help)".into(),
                )
            }
        };
        let req = MkvolRequest {
            vol_id: p
                .value('n')
                .map(|n| number("-n", n).and_then(|v| narrow("-n", v)))
                .transpose()?,
            name: name.to_owned(),
            bytes: size,
            vol_type,
            alignment,
            skip_check: p.flag('k'),
        };
        dev.mkvol(&req).map_err(|e| e.to_string())?;
        Ok(None)
    })
}
