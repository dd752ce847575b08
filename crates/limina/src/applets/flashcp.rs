//! `flashcp`: write an image file to an MTD device, power-cut safe.
//!
//! ```text
//! flashcp [-v] [-p|--partition] [-A|--erase-all] [-l|--wr-last] [-n|--dry-run] FILE DEVICE
//! ```
//!
//! The flags of mtd-utils' `flashcp`: `-v` reports the plan and the result,
//! `-p` compares first and erases and writes only the blocks that differ,
//! `-A` erases the whole device. `-l` (write the first block last) is
//! accepted for compatibility and always in effect. `-n` (ours) prints the
//! plan and changes nothing. DEVICE is `/dev/mtdN`, `mtdN`, `N` or
//! `mtd:NAME`.
//!
//! Everything that can be checked (the image is readable, not empty, fits
//! the device counting bad blocks; the device exists and is writable; the
//! current content is readable) is checked before the first erase. NAND bad
//! blocks are skipped; every written block is read back.
//!
//! Exit codes, as mtd-utils' flashcp (docs/cli.md): 0 written (or
//! nothing to do), 1 any error, usage errors included (one line on
//! stderr; "nothing was written" when the flash was not touched).

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::anyhow;
use mtd::writer::{self, Options};
use mtd::OpenMode;

use super::mtd_args;
use crate::applet::{Family, Parsed, Tool};

const TOOL: Tool = Tool {
    name: "flashcp",
    usage: USAGE,
    family: Family::Flashcp,
    strip: &[],
};

pub(crate) const USAGE: &str = "usage: flashcp [-v] [-p|--partition] [-A|--erase-all] [-l|--wr-last] [-n|--dry-run] FILE DEVICE";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    verbose: bool,
    partition: bool,
    erase_all: bool,
    dry_run: bool,
    file: String,
    device: String,
}

fn parse(args: Vec<String>) -> Result<Parsed<Args>, String> {
    let mut a = Args::default();
    let mut positional = Vec::new();
    let mut rest = args.into_iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-v" | "--verbose" => a.verbose = true,
            "-p" | "--partition" => a.partition = true,
            "-A" | "--erase-all" => a.erase_all = true,
            "-l" | "--wr-last" => {}
            "-n" | "--dry-run" => a.dry_run = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--" => positional.extend(rest.by_ref()),
            s if s.starts_with('-') && s.len() > 2 && !s.starts_with("--") => {
                // Bundled short flags: -vp.
                for c in s[1..].chars() {
                    match c {
                        'v' => a.verbose = true,
                        'p' => a.partition = true,
                        'A' => a.erase_all = true,
                        'l' => {}
                        'n' => a.dry_run = true,
                        _ => return Err(format!("unknown option -{c}")),
                    }
                }
            }
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    let [file, device]: [String; 2] = positional.try_into().map_err(|p: Vec<String>| {
        format!("expected FILE and DEVICE, got {} argument(s)", p.len())
    })?;
    a.file = file;
    a.device = device;
    Ok(Parsed::Run(a))
}

/// The applet's entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |a| run(&a))
}

fn run(args: &Args) -> anyhow::Result<()> {
    let nothing = "; nothing was written";
    let image = std::fs::read(&args.file)
        .map_err(|e| anyhow!("cannot read {}: {e}{nothing}", args.file))?;
    let mode = if args.dry_run {
        OpenMode::ReadOnly
    } else {
        OpenMode::ReadWrite
    };
    let mut flash = mtd_args::open(&args.device, mode).map_err(|e| anyhow!("{e}{nothing}"))?;
    let options = Options {
        only_changed: args.partition,
        erase_all: args.erase_all,
        ..Options::default()
    };
    let plan = writer::plan(&mut flash, &image, &options)
        .map_err(|e| anyhow!("{}: {e}{nothing}", args.device))?;
    if args.verbose || args.dry_run {
        println!("plan: {plan}");
    }
    if args.dry_run {
        return Ok(());
    }
    let report = writer::execute(plan, &mut |_| {}).map_err(|e| {
        let untouched = if e.flash_untouched() { nothing } else { "" };
        anyhow!("{}: {e}{untouched}", args.device)
    })?;
    if args.verbose {
        println!(
            "done: erased {}, written {}, verified {}, unchanged {}, bad blocks skipped {}",
            report.erased, report.written, report.verified, report.unchanged, report.bad_skipped
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed<Args>, String> {
        parse(
            std::iter::once("flashcp")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        )
    }

    #[test]
    fn flags_like_mtd_utils() {
        let Ok(Parsed::Run(a)) = p(&["-v", "--partition", "img", "-A", "mtd:firmware", "-l"])
        else {
            panic!("parses");
        };
        assert_eq!(
            a,
            Args {
                verbose: true,
                partition: true,
                erase_all: true,
                dry_run: false,
                file: "img".into(),
                device: "mtd:firmware".into()
            }
        );
        let Ok(Parsed::Run(a)) = p(&["-vpn", "img", "/dev/mtd3"]) else {
            panic!("parses");
        };
        assert!(a.verbose && a.partition && a.dry_run && !a.erase_all);
        assert!(matches!(p(&["-h"]), Ok(Parsed::Help)));
        assert!(matches!(p(&["--version"]), Ok(Parsed::Version)));
        assert_eq!(
            p(&["-x", "a", "b"]).err().as_deref(),
            Some("unknown option -x")
        );
        assert_eq!(
            p(&["img"]).err().as_deref(),
            Some("expected FILE and DEVICE, got 1 argument(s)")
        );
    }

    #[test]
    fn an_unreadable_image_is_refused_first() {
        let e = run(&Args {
            file: "/nonexistent/image.bin".into(),
            device: "mtd:firmware".into(),
            ..Args::default()
        })
        .expect_err("unreadable")
        .to_string();
        assert!(e.starts_with("cannot read /nonexistent/image.bin: "), "{e}");
        assert!(e.ends_with("; nothing was written"), "{e}");
    }
}
