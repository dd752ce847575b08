//! `ubiupdatevol`: replace a UBI volume's contents (mtd-utils' flags), with
//! the kernel's volume-update protocol: an interrupted update leaves the
//! volume marked as such instead of silently half-written. Quiet on
//! success; exit status 255 on any error.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use super::ubi_args::{bytes, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubiupdatevol <UBI volume node> [-s BYTES] IMAGE|-
       ubiupdatevol <UBI volume node> -t

  -t, --truncate    wipe the volume
  -s, --size=BYTES  bytes to read (required when IMAGE is - for stdin)
  -h, --help        this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 't',
        long: "truncate",
        value: false,
    },
    Opt {
        short: 's',
        long: "size",
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
    run("ubiupdatevol", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let size = p.value('s').map(|s| bytes("-s", s)).transpose()?;
        let upd = |node: &str, input: &mut dyn Read, len: u64| {
            ubi::device::update_volume(Path::new(node), input, len).map_err(|e| e.to_string())
        };
        match (p.free.as_slice(), p.flag('t')) {
            ([node], true) => upd(node, &mut std::io::empty(), 0)?,
            ([node, image], false) if image == "-" => {
                let len = size.ok_or("reading from stdin needs the size (-s)")?;
                upd(node, &mut std::io::stdin().lock(), len)?;
            }
            ([node, image], false) => {
                let mut file =
                    std::fs::File::open(image).map_err(|e| format!("cannot open {image}: {e}"))?;
                let len = match size {
                    Some(s) => s,
                    None => file
                        .metadata()
                        .map_err(|e| format!("cannot stat {image}: {e}"))?
                        .len(),
                };
                upd(node, &mut file, len)?;
            }
            _ => return Err("give a volume node and an image, or -t (use -h for help)".into()),
        }
        Ok(None)
    })
}
