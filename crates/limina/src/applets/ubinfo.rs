//! `ubinfo`: show UBI devices and volumes (from sysfs, like mtd-utils'
//! `ubinfo`), or inspect a UBI image file, flash dump or (unattached) MTD
//! device: volumes, LEBs, erase counters, bad blocks and CRC errors.
//!
//! Exit status: 0 on success (also when an image has damaged PEBs: they are
//! reported), 255 on any error.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use ubi::device::{self, DeviceInfo, VolumeInfo};
use ubi::inspect::{self, PebState};

use super::ubi_args::{bytes, narrow, number, parse, run, utf8, Opt};

pub(crate) const USAGE: &str = "\
Usage: ubinfo [-d UBI_NUM [-n VOL_ID | -N NAME]] [-a] [/dev/ubiX | /dev/ubiX_Y]
       ubinfo [-p PEB_SIZE] [-a] IMAGE_FILE
       ubinfo [-a] /dev/mtdX | mtd:NAME

Show UBI devices and volumes from sysfs, or inspect a UBI image.

  -d, --devn=NUM        UBI device number
  -n, --vol_id=ID       volume ID
  -N, --name=NAME       volume name
  -a, --all             all devices and volumes (for an image: every PEB)
  -p, --peb-size=BYTES  eraseblock size of an image (default: guessed)
  -h, --help            this help
";

const SPEC: &[Opt] = &[
    Opt {
        short: 'd',
        long: "devn",
        value: true,
    },
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
        short: 'a',
        long: "all",
        value: false,
    },
    Opt {
        short: 'p',
        long: "peb-size",
        value: true,
    },
    Opt {
        short: 'h',
        long: "help",
        value: false,
    },
];

fn sysfs() -> &'static Path {
    Path::new(device::SYSFS_UBI)
}

fn show_device(out: &mut String, d: &DeviceInfo) {
    let _ = writeln!(out, "ubi{}", d.ubi_num);
    let _ = writeln!(
        out,
        "Volumes count:                           {}",
        d.volumes_count
    );
    let _ = writeln!(
        out,
        "Logical eraseblock size:                 {} bytes",
        d.eraseblock_size
    );
    let _ = writeln!(
        out,
        "Total amount of logical eraseblocks:     {}",
        d.total_eraseblocks
    );
    let _ = writeln!(
        out,
        "Amount of available logical eraseblocks: {}",
        d.avail_eraseblocks
    );
    let _ = writeln!(
        out,
        "Count of bad physical eraseblocks:       {}",
        d.bad_peb_count
    );
    let _ = writeln!(out, "Current maximum erase counter value:     {}", d.max_ec);
    if let Some(mean) = d.mean_ec {
        let _ = writeln!(out, "Current mean erase counter value:        {mean}");
    }
    let _ = writeln!(
        out,
        "Minimum input/output unit size:          {} bytes",
        d.min_io_size
    );
    let _ = writeln!(
        out,
        "Attached to MTD device:                  mtd{}",
        d.mtd_num
    );
}

fn show_volume(out: &mut String, ubi_num: u32, v: &VolumeInfo) {
    let _ = writeln!(out, "Volume ID:   {} (on ubi{ubi_num})", v.id);
    let _ = writeln!(out, "Type:        {}", v.vol_type);
    let _ = writeln!(out, "Alignment:   {}", v.alignment);
    let _ = writeln!(
        out,
        "Size:        {} LEBs ({} bytes)",
        v.reserved_ebs,
        v.reserved_ebs * v.usable_eb_size
    );
    let _ = writeln!(out, "Data bytes:  {}", v.data_bytes);
    let _ = writeln!(
        out,
        "State:       {}",
        if v.corrupted {
            "corrupted"
        } else if v.upd_marker {
            "update interrupted"
        } else {
            "OK"
        }
    );
    let _ = writeln!(out, "Name:        {}", v.name);
}

fn image(path: &str, peb: Option<u32>, all: bool) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let peb_size = match peb {
        Some(p) => p,
        None => {
            let mut head = Vec::new();
            (&mut file)
                .take(4 << 20)
                .read_to_end(&mut head)
                .map_err(|e| format!("cannot read {path}: {e}"))?;
            let guess = inspect::guess_peb_size(&head)
                .ok_or("cannot guess the eraseblock size (no second EC header in the first 4 MiB); give -p")?;
            file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
            guess
        }
    };
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let r = inspect::scan(&mut input, peb_size).map_err(|e| e.to_string())?;
    Ok(show_report(path, &r, all))
}

/// Inspects the UBI headers on an MTD device, skipping bad blocks.
fn mtd_device(device: &str, all: bool) -> Result<String, String> {
    let spec = mtd::DeviceSpec::parse(device).map_err(|e| e.to_string())?;
    let mut flash =
        mtd::MtdFlash::open(&spec, mtd::OpenMode::ReadOnly).map_err(|e| e.to_string())?;
    let r = ubi::format::inspect(&mut flash).map_err(|e| e.to_string())?;
    Ok(show_report(device, &r, all))
}

fn show_report(path: &str, r: &inspect::Report, all: bool) -> String {
    let peb_size = r.peb_size;
    let mut out = String::new();
    let _ = writeln!(out, "Image:                 {path}");
    let _ = writeln!(out, "Eraseblock size:       {peb_size} bytes");
    let bad = r.pebs.iter().filter(|p| p.state == PebState::Bad).count();
    if bad > 0 {
        let _ = writeln!(out, "Bad eraseblocks:       {bad}");
    }
    let _ = writeln!(out, "Eraseblocks:           {}", r.pebs.len());
    if let Some(ec) = r.pebs.iter().find_map(|p| p.ec) {
        let _ = writeln!(out, "VID header offset:     {}", ec.vid_hdr_offset);
        let _ = writeln!(out, "Data offset:           {}", ec.data_offset);
        let _ = writeln!(out, "Image sequence number: {}", ec.image_seq);
    }
    if let Some((min, mean, max)) = r.ec_stats() {
        let _ = writeln!(
            out,
            "Erase counters:        min {min}, mean {mean}, max {max}"
        );
    }
    let _ = writeln!(out, "Damaged eraseblocks:   {}", r.damaged());
    let mixed = r.inconsistent_offsets();
    if mixed > 0 {
        let _ = writeln!(
            out,
            "Offsets differ:        {mixed} eraseblocks (VID header/data offsets unlike the first; UBI will not attach)"
        );
    }
    for e in &r.vtbl_errors {
        let _ = writeln!(out, "Volume table error:    {e}");
    }
    let _ = writeln!(out, "Volumes:               {}", r.volumes.len());
    for v in r.volumes.values() {
        let rec = &v.record;
        let vol_type = ubi::media::VolType::from_raw(rec.vol_type);
        let mut flags = Vec::new();
        if rec.flags & ubi::media::VTBL_AUTORESIZE_FLG != 0 {
            flags.push("autoresize");
        }
        if rec.flags & ubi::media::VTBL_SKIP_CRC_CHECK_FLG != 0 {
            flags.push("skip-check");
        }
        let _ = write!(
            out,
            "  volume {} \"{}\": {vol_type}, {} of {} LEBs in the image, alignment {}",
            v.id,
            rec.name_lossy(),
            v.lebs.len(),
            rec.reserved_pebs,
            rec.alignment
        );
        if vol_type == ubi::media::VolType::Static {
            let _ = write!(out, ", {} data bytes", v.data_bytes);
        }
        if !flags.is_empty() {
            let _ = write!(out, ", {}", flags.join(","));
        }
        let _ = writeln!(out, ", {} CRC errors", v.crc_errors);
    }
    if all {
        for p in &r.pebs {
            let ec = p.ec.map_or_else(|| "-".to_owned(), |e| e.ec.to_string());
            let what = match &p.state {
                PebState::Bad => "bad".to_owned(),
                PebState::Erased => "erased".to_owned(),
                PebState::Free => "free".to_owned(),
                PebState::BadEcHeader(e) | PebState::BadVidHeader(e) => e.to_string(),
                PebState::Used { vid, data_crc_ok } => format!(
                    "volume {:#x} LEB {}{}",
                    vid.vol_id,
                    vid.lnum,
                    if *data_crc_ok == Some(false) {
                        ", data CRC error"
                    } else {
                        ""
                    }
                ),
                other => format!("{other:?}"),
            };
            let _ = writeln!(out, "  PEB {:5}: ec {ec:>6}, {what}", p.index);
        }
    }
    out
}

fn devices(p: &super::ubi_args::Parsed) -> Result<String, String> {
    let mut out = String::new();
    let devs = device::devices(sysfs()).map_err(|e| e.to_string())?;
    let mut dev_num = p
        .value('d')
        .map(|s| number("-d", s).and_then(|v| narrow::<u32>("-d", v)))
        .transpose()?;
    let mut vol_id = p
        .value('n')
        .map(|s| number("-n", s).and_then(|v| narrow::<u32>("-n", v)))
        .transpose()?;
    if let Some(node) = p.free.first() {
        let name = node.rsplit('/').next().unwrap_or(node);
        let rest = name
            .strip_prefix("ubi")
            .ok_or_else(|| format!("{node} is not a UBI device or volume node"))?;
        let (d, v) = match rest.split_once('_') {
            Some((d, v)) => (d, Some(v)),
            None => (rest, None),
        };
        dev_num = Some(
            d.parse()
                .map_err(|_| format!("{node} is not a UBI device or volume node"))?,
        );
        vol_id = v
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{node} is not a UBI volume node"))
            })
            .transpose()?;
    }
    let Some(num) = dev_num else {
        let _ = writeln!(out, "UBI version:                    1");
        let _ = writeln!(out, "Count of UBI devices:           {}", devs.len());
        let names: Vec<String> = devs.iter().map(|d| format!("ubi{}", d.ubi_num)).collect();
        let _ = writeln!(out, "Present UBI devices:            {}", names.join(", "));
        if p.flag('a') {
            for d in &devs {
                out.push('\n');
                show_device(&mut out, d);
                for v in device::volumes(sysfs(), d.ubi_num).map_err(|e| e.to_string())? {
                    out.push('\n');
                    show_volume(&mut out, d.ubi_num, &v);
                }
            }
        }
        return Ok(out);
    };
    let d = devs
        .iter()
        .find(|d| d.ubi_num == num)
        .ok_or_else(|| format!("UBI device {num} does not exist"))?;
    let vols = device::volumes(sysfs(), num).map_err(|e| e.to_string())?;
    let pick = match (vol_id, p.value('N')) {
        (Some(id), _) => Some(
            vols.iter()
                .find(|v| v.id == id)
                .ok_or_else(|| format!("volume {id} does not exist on ubi{num}"))?,
        ),
        (None, Some(name)) => Some(
            vols.iter()
                .find(|v| v.name == name)
                .ok_or_else(|| format!("no volume named {name:?} on ubi{num}"))?,
        ),
        (None, None) => None,
    };
    match pick {
        Some(v) => show_volume(&mut out, num, v),
        None => {
            show_device(&mut out, d);
            let ids: Vec<String> = vols.iter().map(|v| v.id.to_string()).collect();
            let _ = writeln!(
                out,
                "Present volumes:                         {}",
                ids.join(", ")
            );
            if p.flag('a') {
                for v in &vols {
                    out.push('\n');
                    show_volume(&mut out, num, v);
                }
            }
        }
    }
    Ok(out)
}

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    run("ubinfo", || {
        let p = parse(&utf8(args)?, SPEC)?;
        if p.flag('h') {
            return Ok(Some(USAGE));
        }
        let first = p.free.first().map(String::as_str);
        let is_image = first.is_some_and(|f| Path::new(f).is_file());
        // An MTD device: `/dev/mtdN`, `mtdN` or `mtd:NAME`.
        let is_mtd = first.is_some_and(|f| {
            f.starts_with("mtd") || f.rsplit('/').next().is_some_and(|n| n.starts_with("mtd"))
        });
        let text = if is_image {
            let peb = p
                .value('p')
                .map(|s| bytes("-p", s).and_then(|v| narrow("-p", v)))
                .transpose()?;
            image(&p.free[0], peb, p.flag('a'))?
        } else if is_mtd {
            mtd_device(&p.free[0], p.flag('a'))?
        } else {
            devices(&p)?
        };
        print!("{text}");
        Ok(None)
    })
}
