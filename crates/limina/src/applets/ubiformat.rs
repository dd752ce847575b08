//! `ubiformat`: format an MTD device for UBI, or write a UBI image to it,
//! keeping the erase counters (mtd-utils' flags). Quiet on success unless
//! `-v`; exit status 255 on any error. Where mtd-utils would ask a question
//! (foreign data on the flash, fewer than 95% valid erase counters) we
//! stop with an error instead, and `-y` answers yes.

use std::ffi::OsString;
use std::io::Read;
use std::process::ExitCode;

use mtd::{DeviceSpec, MtdFlash, OpenMode};
use ubi::format::{format, Options};

use super::ubi_args::{bytes, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubiformat <MTD device> [-f IMAGE|- [-S SIZE]] [-s SUBPAGE] [-O OFFSET] [-e EC] [-Q SEQ] [-n] [-y] [-q] [-v]

Format an MTD device for UBI, or write a UBI image to it, keeping every
eraseblock's erase counter (+1) and skipping bad blocks.

  -f, --flash-image=FILE      UBI image to write (- for stdin, with -S)
  -S, --image-size=BYTES      size of the image on stdin
  -s, --sub-page-size=BYTES   sub-page size (default: the flash's, from sysfs)
  -O, --vid-hdr-offset=NUM    VID header offset (default: the sub-page after the EC header)
  -e, --erase-counter=NUM     use this erase counter for every eraseblock
  -Q, --image-seq=NUM         image sequence number (default: the image's, else random)
  -x, --ubi-ver=NUM           UBI format version (only 1 exists)
  -n, --no-volume-table       only write EC headers, no empty volume table
  -y, --yes                   go on where mtd-utils would ask
  -q, --quiet                 print nothing (the default)
  -v, --verbose               print what was done
  -h, --help                  this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'f',
        long: "flash-image",
        value: true,
    },
    Opt {
        short: 'S',
        long: "image-size",
        value: true,
    },
    Opt {
        short: 's',
        long: "sub-page-size",
        value: true,
    },
    Opt {
        short: 'O',
        long: "vid-hdr-offset",
        value: true,
    },
    Opt {
        short: 'e',
        long: "erase-counter",
        value: true,
    },
    Opt {
        short: 'Q',
        long: "image-seq",
        value: true,
    },
    Opt {
        short: 'x',
        long: "ubi-ver",
        value: true,
    },
    Opt {
        short: 'n',
        long: "no-volume-table",
        value: false,
    },
    Opt {
        short: 'y',
        long: "yes",
        value: false,
    },
    Opt {
        short: 'q',
        long: "quiet",
        value: false,
    },
    Opt {
        short: 'v',
        long: "verbose",
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
    run("ubiformat", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let [device] = p.free.as_slice() else {
            return Err("give exactly one MTD device, e.g. /dev/mtd3 (use -h for help)".into());
        };
        let opts = Options {
            subpage_size: p
                .value('s')
                .map(|s| bytes("-s", s).and_then(|v| narrow("-s", v)))
                .transpose()?,
            vid_hdr_offset: p
                .value('O')
                .map(|s| number("-O", s).and_then(|v| narrow("-O", v)))
                .transpose()?,
            ec: p.value('e').map(|s| number("-e", s)).transpose()?,
            image_seq: p
                .value('Q')
                .map(|s| number("-Q", s).and_then(|v| narrow("-Q", v)))
                .transpose()?,
            yes: p.flag('y'),
            no_volume_table: p.flag('n'),
        };
        if let Some(x) = p.value('x') {
            if number("-x", x)? != u64::from(ubi::media::UBI_VERSION) {
                return Err(format!("UBI version {x} is not supported (only 1)"));
            }
        }
        let spec = DeviceSpec::parse(device).map_err(|e| e.to_string())?;
        let mut flash = MtdFlash::open(&spec, OpenMode::ReadWrite).map_err(|e| e.to_string())?;
        let mut file;
        let mut stdin;
        let image: Option<(&mut dyn Read, u64)> = match (p.value('f'), p.value('S')) {
            (None, None) => None,
            (None, Some(_)) => return Err("-S needs -f".into()),
            (Some("-"), size) => {
                let len = bytes("-S", size.ok_or("an image on stdin needs its size (-S)")?)?;
                stdin = std::io::stdin().lock();
                Some((&mut stdin, len))
            }
            (Some(path), size) => {
                file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
                let len = match size {
                    Some(s) => bytes("-S", s)?,
                    None => file
                        .metadata()
                        .map_err(|e| format!("cannot stat {path}: {e}"))?
                        .len(),
                };
                Some((&mut file, len))
            }
        };
        let report = format(&mut flash, &opts, image).map_err(|e| e.to_string())?;
        if p.flag('v') && !p.flag('q') {
            println!(
                "{} eraseblocks: {} bad skipped, {} newly bad, {} image eraseblocks written, {} formatted; mean erase counter {}",
                report.scan.blocks.len(),
                report.scan.bad(),
                report.new_bad.len(),
                report.image_pebs,
                report.formatted,
                report.mean_ec
            );
        }
        Ok(None)
    })
}
