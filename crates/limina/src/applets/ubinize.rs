//! `ubinize`: build a UBI image from an ini file, byte-identical to
//! mtd-utils' `ubinize` (same flags; `-Q` defaults to a random number, as
//! there).
//!
//! Unlike mtd-utils, every volume and image file is checked before the
//! output is created, and the output appears only when complete (written
//! to `OUTPUT.tmp`, then renamed). Exit status: 0 on success, 255 on any
//! error, like mtd-utils.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use ubi::image::{Geometry, Params, Plan};

use super::ubi_args::{bytes, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubinize [options] <ini-file>

Generate a UBI image from the volumes described in <ini-file>.

  -o, --output=FILE          output file (required)
  -p, --peb-size=BYTES       physical eraseblock size (required; KiB, MiB)
  -m, --min-io-size=BYTES    minimum I/O unit size (required)
  -s, --sub-page-size=BYTES  sub-page size (default: min. I/O unit)
  -O, --vid-hdr-offset=NUM   VID header offset (default: after the EC header)
  -e, --erase-counter=NUM    erase counter for every eraseblock (default 0)
  -x, --ubi-ver=NUM          UBI format version (default 1)
  -Q, --image-seq=NUM        image sequence number (default: random)
  -v, --verbose              print the geometry
  -h, --help                 this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'o',
        long: "output",
        value: true,
    },
    Opt {
        short: 'p',
        long: "peb-size",
        value: true,
    },
    Opt {
        short: 'm',
        long: "min-io-size",
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
        short: 'x',
        long: "ubi-ver",
        value: true,
    },
    Opt {
        short: 'Q',
        long: "image-seq",
        value: true,
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

/// A random image sequence number, as ubinize picks one when `-Q` is
/// absent (it only has to differ between images).
fn random_seq() -> u32 {
    let mut b = [0u8; 4];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u32::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
        .unwrap_or(0);
    t ^ std::process::id()
}

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    run("ubinize", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let output = p
            .value('o')
            .ok_or("output file was not specified (use -h for help)")?;
        let peb = p
            .value('p')
            .ok_or("physical eraseblock size was not specified (use -h for help)")?;
        let min_io = p
            .value('m')
            .ok_or("min. I/O unit size was not specified (use -h for help)")?;
        let [ini] = p.free.as_slice() else {
            return Err("expected exactly one input ini file (use -h for help)".into());
        };
        let params = Params {
            peb_size: narrow("-p", bytes("-p", peb)?)?,
            min_io_size: narrow("-m", bytes("-m", min_io)?)?,
            subpage_size: p
                .value('s')
                .map(|s| bytes("-s", s).and_then(|v| narrow("-s", v)))
                .transpose()?,
            vid_hdr_offset: p
                .value('O')
                .map(|s| number("-O", s).and_then(|v| narrow("-O", v)))
                .transpose()?,
            ubi_version: match p.value('x') {
                Some(s) => narrow("-x", number("-x", s)?)?,
                None => ubi::media::UBI_VERSION,
            },
            image_seq: match p.value('Q') {
                Some(s) => narrow("-Q", number("-Q", s)?)?,
                None => random_seq(),
            },
        };
        let ec = match p.value('e') {
            Some(s) => number("-e", s)?,
            None => 0,
        };
        let geometry = Geometry::new(&params).map_err(|e| e.to_string())?;
        if p.flag('v') {
            println!(
                "peb_size {}, min_io_size {}, vid_hdr_offset {}, data_offset {}, leb_size {}, max_volumes {}, image_seq {:#x}",
                geometry.peb_size,
                geometry.min_io_size,
                geometry.vid_hdr_offset,
                geometry.data_offset,
                geometry.leb_size,
                geometry.max_volumes,
                geometry.image_seq
            );
        }
        let text = std::fs::read_to_string(ini).map_err(|e| format!("cannot read {ini}: {e}"))?;
        let specs = ubi::ini::parse(&text).map_err(|e| format!("{ini}: {e}"))?;
        let plan = Plan::new(geometry, ec, &specs, None).map_err(|e| e.to_string())?;
        plan.write_file(Path::new(output))
            .map_err(|e| e.to_string())?;
        Ok(None)
    })
}
