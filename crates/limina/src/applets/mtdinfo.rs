//! `mtdinfo`: show MTD devices and their geometry.
//!
//! ```text
//! mtdinfo [DEVICE]
//! mtdinfo -a|--all
//! ```
//!
//! Prints what mtd-utils' `mtdinfo` prints, in the same layout (scripts
//! parse it): without arguments a summary, with DEVICE (`/dev/mtdN`,
//! `mtdN`, `N`, `mtd:NAME`) that device, with `-a` the summary and every
//! device. Read from `/sys/class/mtd`; no device is opened.
//!
//! Exit codes as mtd-utils' mtdinfo (docs/cli.md): 0 printed, 255 any
//! error, usage errors included (one line on stderr).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use mtd::{DeviceSpec, MtdInfo};

use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str = "usage: mtdinfo [DEVICE] | mtdinfo -a|--all";

const TOOL: Tool = Tool {
    name: "mtdinfo",
    usage: USAGE,
    family: Family::UbiUtils,
    strip: &[],
};

/// The applet's entry point. Flags are parsed in `run` (mtd-utils'
/// mtdinfo exits 255 for usage errors and failures alike, so one path
/// serves both).
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(
        args,
        |a| Ok(Parsed::Run(a)),
        |a| {
            let text = run(&a).map_err(anyhow::Error::msg)?;
            // A closed pipe (`mtdinfo -a | head`) is not an error.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        },
    )
}

fn run(args: &[String]) -> Result<String, String> {
    let mut all = false;
    let mut device = None;
    for arg in args.iter().skip(1) {
        match arg.as_str() {
            "-a" | "--all" => all = true,
            "-h" | "--help" => return Ok(format!("{USAGE}\n")),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s}\n{USAGE}"))
            }
            s if device.is_none() => device = Some(s),
            _ => return Err(format!("more than one device\n{USAGE}")),
        }
    }
    let devices = mtd::sysfs::list().map_err(|e| e.to_string())?;
    let mut out = String::new();
    match (device, all) {
        (Some(d), false) => {
            let spec = DeviceSpec::parse(d).map_err(|e| e.to_string())?;
            let dev = spec.resolve(&devices).map_err(|e| e.to_string())?;
            device_info(&mut out, dev);
        }
        (None, all) => {
            summary(&mut out, &devices);
            if all {
                out.push('\n');
                for dev in &devices {
                    device_info(&mut out, dev);
                }
            }
        }
        (Some(_), true) => return Err(format!("-a takes no device\n{USAGE}")),
    }
    Ok(out)
}

fn summary(out: &mut String, devices: &[MtdInfo]) {
    let names: Vec<String> = devices.iter().map(|d| format!("mtd{}", d.index)).collect();
    let _ = writeln!(out, "Count of MTD devices:           {}", devices.len());
    if !devices.is_empty() {
        let _ = writeln!(out, "Present MTD devices:            {}", names.join(", "));
    }
    let _ = writeln!(out, "Sysfs interface supported:      yes");
}

/// `util_print_bytes()` of mtd-utils: `131072 bytes, 128.0 KiB`.
fn bytes(n: u64, bracket: bool) -> String {
    let (open, close) = if bracket { (" (", ")") } else { (", ", "") };
    let f = n as f64;
    let unit = if n > 1 << 30 {
        format!("{:.1} GiB", f / f64::from(1u32 << 30))
    } else if n > 1 << 20 {
        format!("{:.1} MiB", f / f64::from(1u32 << 20))
    } else if n > 1 << 10 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        return format!("{n} bytes");
    };
    format!("{n} bytes{open}{unit}{close}")
}

fn plural(n: u32) -> &'static str {
    if n > 1 {
        "bytes"
    } else {
        "byte"
    }
}

fn device_info(out: &mut String, d: &MtdInfo) {
    let blocks = if d.erase_size == 0 {
        0
    } else {
        d.size / u64::from(d.erase_size)
    };
    let _ = writeln!(out, "mtd{}", d.index);
    let _ = writeln!(out, "Name:                           {}", d.name);
    let _ = writeln!(out, "Type:                           {}", d.mtd_type);
    let _ = writeln!(
        out,
        "Eraseblock size:                {}",
        bytes(u64::from(d.erase_size), false)
    );
    let _ = writeln!(
        out,
        "Amount of eraseblocks:          {blocks} ({})",
        bytes(d.size, false)
    );
    let _ = writeln!(
        out,
        "Minimum input/output unit size: {} {}",
        d.write_size,
        plural(d.write_size)
    );
    let sub = d.sub_page_size.unwrap_or(d.write_size);
    let _ = writeln!(out, "Sub-page size:                  {sub} {}", plural(sub));
    if d.oob_size > 0 {
        let _ = writeln!(out, "OOB size:                       {} bytes", d.oob_size);
    }
    let _ = writeln!(out, "Character device major/minor:   90:{}", 2 * d.index);
    let _ = writeln!(
        out,
        "Bad blocks are allowed:         {}",
        d.mtd_type.is_nand()
    );
    let _ = writeln!(out, "Device is writable:             {}", d.writable());
    // mtd-utils ends every device with an empty line.
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_like_mtd_utils() {
        assert_eq!(bytes(512, false), "512 bytes");
        assert_eq!(bytes(1024, false), "1024 bytes");
        assert_eq!(bytes(131_072, false), "131072 bytes, 128.0 KiB");
        assert_eq!(bytes(1 << 20, false), "1048576 bytes, 1024.0 KiB");
        assert_eq!(bytes(8 << 20, false), "8388608 bytes, 8.0 MiB");
        assert_eq!(bytes(8 << 20, true), "8388608 bytes (8.0 MiB)");
    }

    #[test]
    fn options() {
        let r = |a: &[&str]| {
            run(&std::iter::once("mtdinfo")
                .chain(a.iter().copied())
                .map(String::from)
                .collect::<Vec<_>>())
        };
        assert!(r(&["-M"]).is_err());
        assert!(r(&["-a", "mtd0"]).is_err());
        assert!(r(&["mtd:none-such"])
            .expect_err("absent")
            .starts_with("mtd: no device named"));
        assert!(r(&[]).expect("summary").contains("Count of MTD devices:"));
    }
}
