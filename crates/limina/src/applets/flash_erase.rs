//! `flash_erase`: erase blocks of an MTD device.
//!
//! ```text
//! flash_erase [-q] [-N|--noskipbad] [-u|--unlock] DEVICE START COUNT
//! ```
//!
//! As mtd-utils' `flash_erase`: START is a byte offset (decimal, `0x` hex
//! or `0` octal) on an erase block boundary, COUNT a number of erase
//! blocks, 0 meaning to the end of the device. Bad blocks are skipped
//! (and counted in COUNT) unless `-N`. `-u` unlocks the range first. Quiet
//! on success; `-q`/`--quiet`/`--silent` are accepted.
//!
//! Exit codes as mtd-utils' flash_erase (docs/cli.md): 0 erased, 1 a
//! failure, 255 a usage error (one line on stderr).

use std::ffi::OsString;
use std::process::ExitCode;

use mtd::{Flash, OpenMode};

use super::mtd_args;
use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str =
    "usage: flash_erase [-q] [-N|--noskipbad] [-u|--unlock] DEVICE START COUNT";

const TOOL: Tool = Tool {
    name: "flash_erase",
    usage: USAGE,
    family: Family::FlashErase,
    strip: &[],
};

/// The applet's entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |a| run(&a).map_err(anyhow::Error::msg))
}

#[derive(Debug, Default)]
struct Args {
    no_skip_bad: bool,
    unlock: bool,
    device: String,
    start: String,
    count: String,
}

fn parse(args: Vec<String>) -> Result<Parsed<Args>, String> {
    let mut a = Args::default();
    let mut positional = Vec::new();
    for arg in args.into_iter().skip(1) {
        match arg.as_str() {
            "-q" | "--quiet" | "--silent" => {}
            "-N" | "--noskipbad" => a.no_skip_bad = true,
            "-u" | "--unlock" => a.unlock = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-j" | "--jffs2" => return Err("-j (JFFS2 clean markers) is not supported".into()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    let [device, start, count]: [String; 3] = positional
        .try_into()
        .map_err(|_| "expected DEVICE START COUNT".to_owned())?;
    (a.device, a.start, a.count) = (device, start, count);
    Ok(Parsed::Run(a))
}

fn run(a: &Args) -> Result<(), String> {
    let (device, start, count) = (a.device.as_str(), a.start.as_str(), a.count.as_str());
    let (no_skip_bad, unlock) = (a.no_skip_bad, a.unlock);
    let start = mtd_args::number(start).ok_or_else(|| format!("bad start offset {start:?}"))?;
    let count = mtd_args::number(count).ok_or_else(|| format!("bad block count {count:?}"))?;
    let mut flash = mtd_args::open(device, OpenMode::ReadWrite).map_err(|e| e.to_string())?;
    let g = flash.geometry();
    if !g.writable {
        return Err(format!("{device}: the device is read-only"));
    }
    let es = u64::from(g.erase_size);
    if !start.is_multiple_of(es) {
        return Err(format!(
            "{device}: start {start:#x} is not on an erase block boundary ({es:#x} bytes)"
        ));
    }
    let first = start / es;
    let end = if count == 0 {
        g.blocks()
    } else {
        first.saturating_add(count)
    };
    if first >= g.blocks() || end > g.blocks() {
        return Err(format!(
            "{device}: blocks {first}..{end} are outside the device ({} blocks)",
            g.blocks()
        ));
    }
    if unlock {
        let len = u32::try_from((end - first) * es).map_err(|_| "unlock range over 4 GiB")?;
        let at = u32::try_from(start).map_err(|_| "unlock offset over 4 GiB")?;
        if let Err(e) = flash.device().unlock(at, len) {
            log_unlock(&e);
        }
    }
    for block in first..end {
        if !no_skip_bad && flash.is_bad(block).map_err(|e| e.to_string())? {
            println!("Skipping bad block at {:08x}", g.block_offset(block));
            continue;
        }
        flash
            .erase_block(block)
            .map_err(|e| format!("{device}: {e}"))?;
    }
    Ok(())
}

fn log_unlock(e: &mtd::DeviceError) {
    // Devices without locking refuse MEMUNLOCK; mtd-utils goes on too.
    eprintln!("flash_erase: {e} (continuing)");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and runs; a usage error reads as the skeleton prints it.
    fn r(args: &[&str]) -> Result<(), String> {
        let argv = std::iter::once("flash_erase")
            .chain(args.iter().copied())
            .map(String::from)
            .collect::<Vec<_>>();
        match parse(argv).map_err(|e| format!("{e}\n{USAGE}"))? {
            Parsed::Run(a) => run(&a),
            Parsed::Help | Parsed::Version => Ok(()),
        }
    }

    #[test]
    fn bad_arguments() {
        assert!(r(&["mtd0"])
            .expect_err("usage")
            .starts_with("expected DEVICE START COUNT"));
        assert_eq!(
            r(&["mtd0", "x", "0"]).err().as_deref(),
            Some("bad start offset \"x\"")
        );
        assert_eq!(
            r(&["mtd0", "0", "-1"]).err().as_deref(),
            Some("unknown option -1\n".to_owned() + USAGE).as_deref()
        );
        assert!(r(&["-j", "mtd0", "0", "0"]).is_err());
        assert!(r(&["mtd:none-such", "0", "0"])
            .expect_err("absent")
            .starts_with("mtd: no device named"));
    }
}
