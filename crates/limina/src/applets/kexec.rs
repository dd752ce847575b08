//! `kexec`: load a kernel to boot from the running one, and boot it.
//!
//! ```text
//! kexec -l KERNEL [--initrd FILE] [--dtb FILE] [--command-line STR] [--append STR]
//!       [--reuse-cmdline] [-s] [-d]
//! kexec -e          boot the loaded kernel
//! kexec -u [-s]     unload it
//! kexec KERNEL ...  load and boot at once
//! ```
//!
//! The subset of kexec-tools' flags a router needs, with the same meaning,
//! except `--append` (see below):
//!
//! - `-l`/`--load KERNEL`: a MIPS `vmlinux`, ARM `zImage` or arm64 `Image`,
//!   or a U-Boot uImage holding one of them or a raw MIPS kernel (none or
//!   LZMA compressed), loaded with `kexec_load`. On DT architectures the next kernel gets the
//!   running device tree (`/sys/firmware/fdt`) or `--dtb FILE`, edited:
//!   `/chosen/bootargs`, `linux,initrd-start`/`-end` (removed when there is
//!   no `--initrd`), fresh `rng-seed` and (if present) `kaslr-seed`. On
//!   arm64 a 40-byte trampoline passes the DTB in `x0`.
//! - `-s`/`--kexec-file-syscall`: load with `kexec_file_load` instead (x86_64,
//!   aarch64: the kernel parses the image; no `--dtb`).
//! - `-c`/`--kexec-syscall`: `kexec_load` (the default; accepted).
//! - `--initrd FILE` (also `--ramdisk`).
//! - `--command-line STR`: the next kernel's whole command line.
//! - `--append STR`: appended to the command line the next kernel would
//!   otherwise get — the DTB's `/chosen/bootargs`, or `/proc/cmdline`
//!   without a DTB. (kexec-tools treats `--append` as `--command-line`.)
//! - `--reuse-cmdline`: start from the running `/proc/cmdline`.
//! - `-e`/`--exec`: sync and reboot into the loaded kernel.
//! - `-u`/`--unload`.
//! - `-d`/`--debug`: print the segments to stderr.
//!
//! Everything is checked (image format, RAM, overlaps, DTB) before the
//! first system call; on error nothing is loaded. Exit codes as
//! kexec-tools (docs/cli.md): 0 success, 1 any error, usage errors
//! included (one line on stderr).

use std::ffi::OsString;
use std::io::Read;
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use kexec::dtb::{Fdt, SYSFS_FDT};
use kexec::handoff::{edit_dtb, Seed};
use kexec::{Arch, Layout, MemoryMap, Unload};

use crate::applet::{Family, Parsed, Tool};

const TOOL: Tool = Tool {
    name: "kexec",
    usage: USAGE,
    family: Family::KexecTools,
    strip: &["kexec: "],
};

pub(crate) const USAGE: &str =
    "usage: kexec [-l|--load KERNEL] [-e|--exec] [-u|--unload] [-s|--kexec-file-syscall] \
[--initrd FILE] [--dtb FILE] [--command-line STR] [--append STR] [--reuse-cmdline] [-d] [KERNEL]";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    load: Option<String>,
    exec: bool,
    unload: bool,
    file_syscall: bool,
    initrd: Option<String>,
    dtb: Option<String>,
    command_line: Option<String>,
    append: Option<String>,
    reuse_cmdline: bool,
    debug: bool,
}

fn parse(args: Vec<String>) -> Result<Parsed<Args>, String> {
    let mut a = Args::default();
    let mut positional = Vec::new();
    let mut rest = args.into_iter().skip(1);
    while let Some(arg) = rest.next() {
        // --name=value or --name value.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => rest.next().ok_or_else(|| format!("{what} needs a value")),
            }
        };
        match name.as_str() {
            "-l" | "--load" => a.load = Some(value(&name)?),
            "-e" | "--exec" => a.exec = true,
            "-u" | "--unload" => a.unload = true,
            "-s" | "--kexec-file-syscall" => a.file_syscall = true,
            "-c" | "--kexec-syscall" => a.file_syscall = false,
            "-d" | "--debug" => a.debug = true,
            "--initrd" | "--ramdisk" => a.initrd = Some(value(&name)?),
            "--dtb" => a.dtb = Some(value(&name)?),
            "--command-line" => a.command_line = Some(value(&name)?),
            "--append" => a.append = Some(value(&name)?),
            "--reuse-cmdline" => a.reuse_cmdline = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "--version" => return Ok(Parsed::Version),
            "--" => positional.extend(rest.by_ref()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    match (positional.len(), &a.load) {
        (0, _) => {}
        (1, None) => {
            // kexec-tools: a bare KERNEL means load and execute.
            a.load = positional.pop();
            a.exec = true;
        }
        _ => return Err(format!("unexpected argument(s): {}", positional.join(" "))),
    }
    if a.load.is_none() && !a.exec && !a.unload {
        return Err("nothing to do: give -l KERNEL, -e or -u".into());
    }
    if a.unload && (a.load.is_some() || a.exec) {
        return Err("-u cannot be combined with -l or -e".into());
    }
    if a.load.is_none()
        && (a.initrd.is_some()
            || a.dtb.is_some()
            || a.command_line.is_some()
            || a.append.is_some()
            || a.reuse_cmdline)
    {
        return Err("--initrd, --dtb and the command-line options need -l KERNEL".into());
    }
    if a.file_syscall && a.dtb.is_some() {
        return Err(
            "--dtb cannot be used with -s (kexec_file_load passes the running tree)".into(),
        );
    }
    Ok(Parsed::Run(a))
}

/// The applet's entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |a| run(&a))
}

fn read(path: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

fn proc_cmdline() -> anyhow::Result<String> {
    let s = std::fs::read_to_string("/proc/cmdline").context("cannot read /proc/cmdline")?;
    Ok(s.trim_end_matches(['\n', '\0']).to_owned())
}

/// The next kernel's command line; `None` to leave the DTB's as it is.
fn command_line(args: &Args, dtb_bootargs: Option<&str>) -> anyhow::Result<Option<String>> {
    let base = if let Some(c) = &args.command_line {
        Some(c.clone())
    } else if args.reuse_cmdline {
        Some(proc_cmdline()?)
    } else if args.append.is_some() {
        Some(match dtb_bootargs {
            Some(b) => b.to_owned(),
            None => proc_cmdline()?,
        })
    } else {
        None
    };
    Ok(match (base, &args.append) {
        (Some(b), Some(a)) if !b.trim().is_empty() => Some(format!("{} {a}", b.trim_end())),
        (_, Some(a)) => Some(a.clone()),
        (b, None) => b,
    })
}

fn run(args: &Args) -> anyhow::Result<()> {
    if args.unload {
        kexec::unload(if args.file_syscall {
            Unload::KexecFileLoad
        } else {
            Unload::KexecLoad
        })?;
        return Ok(());
    }
    if let Some(kernel) = &args.load {
        if args.file_syscall {
            load_file(args, kernel)?;
        } else {
            load(args, kernel)?;
        }
    }
    if args.exec {
        if !kexec::loaded()? {
            return Err(anyhow!("nothing has been loaded (use -l KERNEL first)"));
        }
        kexec::exec()?;
    }
    Ok(())
}

/// `-s`: kexec_file_load.
fn load_file(args: &Args, kernel: &str) -> anyhow::Result<()> {
    let open = |p: &str| std::fs::File::open(p).with_context(|| format!("cannot open {p}"));
    let k = open(kernel)?;
    // Check the format first: the kernel's ENOEXEC says less.
    let mut head = Vec::with_capacity(4096);
    (&k).take(4096)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {kernel}"))?;
    let format = kexec::detect(&head).with_context(|| kernel.to_owned())?;
    let initrd = args.initrd.as_deref().map(open).transpose()?;
    let cmdline = command_line(args, None)?.unwrap_or_default();
    if args.debug {
        eprintln!(
            "kexec: kexec_file_load {} ({}), command line {cmdline:?}",
            kernel,
            format.name()
        );
    }
    kexec::kexec_file_load(&k, initrd.as_ref(), &cmdline, 0)?;
    Ok(())
}

/// `-l`: kexec_load with the library's loader and layout.
fn load(args: &Args, kernel: &str) -> anyhow::Result<()> {
    let arch = Arch::running().context("kexec_load is not supported on this architecture")?;
    let image =
        kexec::uimage::parse_kernel(read(kernel)?, arch).with_context(|| kernel.to_owned())?;
    if arch == Arch::X86_64 {
        return Err(anyhow!("on x86_64 use -s (kexec_file_load)"));
    }
    let memory = MemoryMap::read_iomem()?;
    let mut layout = Layout::new(arch, memory).with_page_size(kexec::page_size());
    let format = image.format;
    layout.take_kernel(image)?;

    let dtb_path = args.dtb.as_deref().unwrap_or(SYSFS_FDT);
    let mut fdt = Fdt::parse(&read(dtb_path)?).with_context(|| dtb_path.to_owned())?;
    let initrd = match &args.initrd {
        Some(path) => Some(layout.add_initrd(read(path)?)?),
        None => None,
    };
    let seed = Seed::from_urandom()?;
    let cmdline = command_line(args, fdt.bootargs()?.as_deref())?;
    edit_dtb(&mut fdt, initrd, cmdline.as_deref(), &seed)?;
    layout.add_dtb(fdt.to_bytes())?;
    let plan = layout.finish()?;
    if args.debug {
        eprintln!("kexec: {} entry {:#x}", format.name(), plan.entry);
        for line in plan.describe() {
            eprintln!("kexec:   {line}");
        }
    }
    plan.load()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed<Args>, String> {
        parse(
            std::iter::once("kexec")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        )
    }

    #[test]
    fn flags_like_kexec_tools() {
        let Ok(Parsed::Run(a)) = p(&[
            "-l",
            "/boot/Image",
            "--initrd=/boot/rd",
            "--dtb",
            "x.dtb",
            "--append=quiet",
            "-d",
        ]) else {
            panic!("parses");
        };
        assert_eq!(a.load.as_deref(), Some("/boot/Image"));
        assert_eq!(a.initrd.as_deref(), Some("/boot/rd"));
        assert_eq!(a.dtb.as_deref(), Some("x.dtb"));
        assert_eq!(a.append.as_deref(), Some("quiet"));
        assert!(a.debug && !a.exec && !a.file_syscall);

        let Ok(Parsed::Run(a)) = p(&["/boot/Image"]) else {
            panic!("parses");
        };
        assert!(a.exec && a.load.is_some());
        assert!(matches!(
            p(&["-e"]),
            Ok(Parsed::Run(Args { exec: true, .. }))
        ));
        assert!(matches!(
            p(&["-u", "-s"]),
            Ok(Parsed::Run(Args {
                unload: true,
                file_syscall: true,
                ..
            }))
        ));
        assert!(matches!(p(&["--help"]), Ok(Parsed::Help)));
        assert_eq!(
            p(&[]).err().as_deref(),
            Some("nothing to do: give -l KERNEL, -e or -u")
        );
        assert_eq!(p(&["-x"]).err().as_deref(), Some("unknown option -x"));
        assert_eq!(p(&["-l"]).err().as_deref(), Some("-l needs a value"));
        assert!(p(&["-u", "-e"]).is_err());
        assert!(p(&["-s", "-l", "k", "--dtb", "d"]).is_err());
        assert!(p(&["--initrd", "x", "-e"]).is_err());
    }

    #[test]
    fn command_line_rules() {
        let a = |cl: Option<&str>, ap: Option<&str>| Args {
            command_line: cl.map(String::from),
            append: ap.map(String::from),
            ..Args::default()
        };
        let c = |args: Args, dtb: Option<&str>| command_line(&args, dtb).ok().flatten();
        assert_eq!(c(a(None, None), Some("console=ttyS0")), None);
        assert_eq!(
            c(a(Some("root=/dev/x"), Some("m=1")), Some("console=ttyS0")).as_deref(),
            Some("root=/dev/x m=1")
        );
        assert_eq!(
            c(a(None, Some("m=1")), Some("console=ttyS0 ")).as_deref(),
            Some("console=ttyS0 m=1")
        );
        assert_eq!(c(a(Some("x"), None), None).as_deref(), Some("x"));
        assert_eq!(c(a(None, Some("m=1")), Some("")).as_deref(), Some("m=1"));
    }
}
