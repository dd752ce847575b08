//! `trial-boot`: boot a new firmware's kernel and squashfs root from RAM.
//!
//! ```text
//! trial-boot [--dtb FILE] [--command-line STR] [--append STR] [--initrd FILE]
//!            [--address ADDR] [--root DEV] [--name NAME] [--erase-size N]
//!            [-l|--load-only] [-n|--dry-run] KERNEL ROOTFS | FIRMWARE
//! ```
//!
//! KERNEL is a MIPS `vmlinux`, ARM `zImage`, arm64 `Image` or a U-Boot
//! uImage; ROOTFS a squashfs. A single FIRMWARE is an OpenWrt-style
//! firmware image — a kernel uImage, then the squashfs at the next multiple
//! of the erase block size (`--erase-size`, default 64 KiB) — such as the
//! GL-AR750's `firmware.bin`; a DTB appended to its raw MIPS kernel is
//! zeroed so that the kernel takes the edited tree (see `kexec::uimage`).
//!
//! The root file system goes into a free, 1 MiB-aligned region of RAM (or
//! `--address`) that the running device tree gets as a `no-map`
//! `/reserved-memory/phram@ADDR` node; `/chosen/bootargs` becomes the
//! running command line without its `root=`, `rootfstype=` and `phram`
//! words, plus `phram.phram=NAME,ADDR,SIZE root=/dev/mtdblockN
//! rootfstype=squashfs` and `--append`. Kernel, tree, root file system and
//! the optional initramfs are loaded with `kexec_load` and executed, unless
//! `-l` (load only; `limina kexec -e` later) or `-n` (print the plan, load
//! nothing).
//!
//! The work is the library's ([`kexec::trial`]); this applet reads the
//! files and flags. Everything is read and checked — kernel format and
//! architecture, squashfs superblock, device tree, placement in RAM —
//! before anything is loaded. Quiet on success; `-n` prints the plan on
//! stdout. Exit codes as `kexec`, whose flags it shares (docs/cli.md): 0
//! loaded (or planned), 1 any error, usage errors included (one line on
//! stderr; nothing loaded). See `docs/trial-boot.md`.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use kexec::trial::{self, Options, System, TrialBoot, DEFAULT_ERASE_SIZE};
use kexec::Arch;

use crate::applet::{Family, Parsed, Tool};

const TOOL: Tool = Tool {
    name: "trial-boot",
    usage: USAGE,
    family: Family::KexecTools,
    strip: &["kexec: "],
};

pub(crate) const USAGE: &str =
    "usage: trial-boot [--dtb FILE] [--command-line STR] [--append STR] \
[--initrd FILE] [--address ADDR] [--root DEV] [--name NAME] [--erase-size N] [-l|--load-only] \
[-n|--dry-run] KERNEL ROOTFS | FIRMWARE";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    dtb: Option<String>,
    command_line: Option<String>,
    append: Vec<String>,
    initrd: Option<String>,
    address: Option<u64>,
    root: Option<String>,
    name: Option<String>,
    erase_size: Option<usize>,
    load_only: bool,
    dry_run: bool,
    /// KERNEL, or FIRMWARE when `rootfs` is `None`.
    kernel: String,
    rootfs: Option<String>,
}

fn parse_number(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number"))
}

fn parse(args: Vec<String>) -> Result<Parsed<Box<Args>>, String> {
    let mut a = Args::default();
    let mut positional = Vec::new();
    let mut rest = args.into_iter().skip(1);
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| rest.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--dtb" => a.dtb = Some(value("--dtb")?),
            "--command-line" => a.command_line = Some(value("--command-line")?),
            "--append" => a.append.push(value("--append")?),
            "--initrd" => a.initrd = Some(value("--initrd")?),
            "--address" => a.address = Some(parse_number(&value("--address")?)?),
            "--root" => a.root = Some(value("--root")?),
            "--name" => a.name = Some(value("--name")?),
            "--erase-size" => {
                let v = value("--erase-size")?;
                let n = parse_number(&v)?;
                a.erase_size = Some(
                    usize::try_from(n)
                        .ok()
                        .filter(|n| n.is_power_of_two())
                        .ok_or_else(|| format!("--erase-size '{v}': not a power of two"))?,
                );
            }
            "-l" | "--load-only" => a.load_only = true,
            "-n" | "--dry-run" => a.dry_run = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option '{f}'")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    match (positional.next(), positional.next(), positional.next()) {
        (Some(kernel), rootfs, None) => {
            a.kernel = kernel;
            a.rootfs = rootfs;
        }
        _ => return Err("expected KERNEL and ROOTFS, or one FIRMWARE image".to_string()),
    }
    if a.rootfs.is_some() && a.erase_size.is_some() {
        return Err("--erase-size is for a FIRMWARE image, not KERNEL ROOTFS".to_string());
    }
    if let Some(n) = &a.name {
        if n.is_empty() || n.contains([',', ' ']) {
            return Err(format!(
                "--name '{n}': must be non-empty, without ',' or spaces"
            ));
        }
    }
    Ok(Parsed::Run(Box::new(a)))
}

fn run(a: &Args) -> anyhow::Result<()> {
    let arch = Arch::running().context("kexec_load is not supported on this architecture")?;
    let boot = match &a.rootfs {
        Some(path) => {
            let data =
                std::fs::read(&a.kernel).with_context(|| format!("cannot read {}", a.kernel))?;
            let kernel =
                kexec::uimage::parse_kernel(data, arch).with_context(|| a.kernel.clone())?;
            let rootfs = trial::read_rootfs(path)?;
            TrialBoot::new(kernel, rootfs).with_context(|| path.clone())?
        }
        None => {
            let data =
                std::fs::read(&a.kernel).with_context(|| format!("cannot read {}", a.kernel))?;
            let erase = a.erase_size.unwrap_or(DEFAULT_ERASE_SIZE);
            TrialBoot::from_firmware(data, erase, arch).with_context(|| a.kernel.clone())?
        }
    };
    let boot = match &a.initrd {
        Some(path) => {
            boot.with_initrd(std::fs::read(path).with_context(|| format!("cannot read {path}"))?)
        }
        None => boot,
    };
    let system = System::running(a.dtb.as_deref().map(Path::new), a.command_line.clone())?;
    let mut options = Options::default();
    options.address = a.address;
    options.root = a.root.clone();
    options.name = a.name.clone();
    options.append = a.append.clone();
    let trial = boot.plan(system, &options)?;
    if a.dry_run {
        for line in trial.describe() {
            println!("{line}");
        }
        return Ok(());
    }
    trial.load()?;
    if a.load_only {
        return Ok(());
    }
    match kexec::exec() {
        Ok(never) => match never {},
        Err(e) => Err(e).context("the image stays loaded"),
    }
}

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |a| run(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        std::iter::once("trial-boot")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect()
    }

    #[test]
    fn flags_and_positionals() {
        let Ok(Parsed::Run(a)) = parse(args(
            "--dtb /t.dtb --append a=1 --append=b --address 0x4000000 -l --initrd i k r",
        )) else {
            panic!("parse failed")
        };
        assert_eq!(a.dtb.as_deref(), Some("/t.dtb"));
        assert_eq!(a.append, ["a=1", "b"]);
        assert_eq!(a.address, Some(0x400_0000));
        assert!(a.load_only && !a.dry_run);
        assert_eq!((a.kernel.as_str(), a.rootfs.as_deref()), ("k", Some("r")));
        let Ok(Parsed::Run(a)) = parse(args("--erase-size 0x20000 fw.bin")) else {
            panic!("parse failed")
        };
        assert_eq!((a.kernel.as_str(), a.rootfs), ("fw.bin", None));
        assert_eq!(a.erase_size, Some(128 << 10));
    }

    #[test]
    fn bad_usage() {
        assert!(parse(args("")).is_err());
        assert!(parse(args("--erase-size 1000 fw")).is_err());
        assert!(parse(args("--erase-size 0x10000 k r")).is_err());
        assert!(parse(args("k r x")).is_err());
        assert!(parse(args("--address zz k r")).is_err());
        assert!(parse(args("--bogus k r")).is_err());
        assert!(parse(args("--name a,b k r")).is_err());
        assert!(parse(args("--dtb")).is_err());
    }
}
