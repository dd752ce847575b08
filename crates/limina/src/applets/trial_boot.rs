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
//! Everything is read and checked — kernel format and architecture,
//! squashfs header, device tree, placement in RAM — before anything is
//! loaded. Exit codes: 0 loaded (or planned), 1 any error (one line on
//! stderr; nothing loaded), 2 bad usage. See `docs/trial-boot.md`.

use std::ffi::OsString;
use std::process::ExitCode;

use kexec::dtb::{Fdt, ReservedRegion, SYSFS_FDT};
use kexec::uimage::Firmware;
use kexec::{sys, Arch, Layout, MemoryMap};

use super::kexec::{about, edit_dtb, kernel_image, random};

fn read(path: &str) -> Result<Vec<u8>, String> {
    super::kexec::read(path).map_err(|e| e.to_string())
}

const USAGE: &str = "usage: trial-boot [--dtb FILE] [--command-line STR] [--append STR] \
[--initrd FILE] [--address ADDR] [--root DEV] [--name NAME] [--erase-size N] [-l|--load-only] \
[-n|--dry-run] KERNEL ROOTFS | FIRMWARE";

/// Alignment of the root file system region.
const REGION_ALIGN: u64 = 1 << 20;
/// The region's size is a multiple of this: phram wants a multiple of its
/// erase size (the page size, at most 64 KiB).
const SIZE_GRANULE: u64 = 64 << 10;
/// Default erase block size of a FIRMWARE image (the squashfs starts at a
/// multiple of it): the GL-AR750's NOR flash, and most routers'.
const DEFAULT_ERASE_SIZE: usize = 64 << 10;

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

enum Parsed {
    Run(Box<Args>),
    Help,
}

fn parse_number(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number"))
}

fn parse(args: Vec<String>) -> Result<Parsed, String> {
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

/// Words of a command line that describe the *old* root: trial-boot
/// replaces them.
fn is_root_word(w: &str) -> bool {
    const KEYS: &[&str] = &[
        "root",
        "rootfstype",
        "rootflags",
        "phram.phram",
        "phram",
        "ubi.mtd",
        "ubi.block",
        "initrd",
        "rd_start",
        "rd_size",
    ];
    let key = w.split_once('=').map_or(w, |(k, _)| k);
    KEYS.contains(&key)
}

/// The running command line without the words naming its root.
fn base_cmdline(running: &str) -> Vec<String> {
    running
        .split_whitespace()
        .filter(|w| !is_root_word(w))
        .map(str::to_string)
        .collect()
}

/// Checks a squashfs 4.0 superblock ("hsqs", little-endian on every arch)
/// and that the image holds the bytes it says it uses.
fn check_squashfs(path: &str, data: &[u8]) -> Result<(), String> {
    if data.len() < 96 || &data[..4] != b"hsqs" {
        return Err(format!(
            "{path}: not a squashfs image (no 'hsqs' superblock); trial-boot needs a squashfs root"
        ));
    }
    let major = u16::from_le_bytes([data[28], data[29]]);
    if major != 4 {
        return Err(format!(
            "{path}: squashfs version {major}, the kernel reads 4"
        ));
    }
    let mut used = [0u8; 8];
    used.copy_from_slice(&data[40..48]);
    let used = u64::from_le_bytes(used);
    if used > data.len() as u64 {
        return Err(format!(
            "{path}: truncated squashfs: the superblock says {used} bytes, the file has {}",
            data.len()
        ));
    }
    Ok(())
}

/// `root=` for the new kernel when `--root` is not given. A built-in
/// phram creates its device from the command line when its initcall runs:
/// `drivers/mtd/devices/` is linked before `mtdram`, `nand/`, `spi-nor/`
/// and the SPI controllers in `drivers/spi/`, so the phram device is
/// `mtd0` (measured on the malta bench: before mtdram and nandsim). Only
/// `drivers/mtd/maps/` flash (physmap) registers earlier; boards with it
/// pass `--root`.
const DEFAULT_ROOT: &str = "/dev/mtdblock0";

/// Reads `path` into a buffer with room for its padding to
/// [`SIZE_GRANULE`], so padding never copies the image.
fn read_padded(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let len = f.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    let cap = usize::try_from(len.next_multiple_of(SIZE_GRANULE))
        .map_err(|_| format!("{path}: {len} bytes do not fit in memory"))?;
    let mut data = Vec::with_capacity(cap);
    f.read_to_end(&mut data)
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(data)
}

fn run(a: &Args) -> Result<(), String> {
    let log = |m: &str| eprintln!("trial-boot: {m}");

    let running = Arch::running().ok_or("kexec_load is not supported on this architecture")?;
    let (kernel, rootfs, rootfs_name) = match &a.rootfs {
        Some(path) => {
            let kernel = kernel_image(&a.kernel, read(&a.kernel)?, running)?;
            (kernel, read_padded(path)?, path.clone())
        }
        None => {
            let mut data = read(&a.kernel)?;
            let erase = a.erase_size.unwrap_or(DEFAULT_ERASE_SIZE);
            let fw = Firmware::split(&data, erase).map_err(|e| about(&a.kernel, e))?;
            log(&format!(
                "firmware {}: uImage '{}' ({} bytes, {}), squashfs at {:#x}",
                a.kernel,
                fw.uimage.name,
                fw.uimage.len(),
                fw.uimage.compression.name(),
                fw.rootfs.start
            ));
            let (kernel, zeroed_dtb) = fw
                .uimage
                .kernel_and_zeroed_dtb(running)
                .map_err(|e| about(&a.kernel, e))?;
            if let Some(at) = zeroed_dtb {
                log(&format!(
                    "kernel: zeroed the DTB appended at offset {at:#x}, so the kernel takes the edited tree"
                ));
            }
            // The file's buffer becomes the root file system's: the
            // squashfs moves to its front and the rest is given back (the
            // peak was earlier: the file, the kernel and the LZMA window).
            let range = fw.rootfs.clone();
            data.truncate(range.end);
            data.drain(..range.start);
            let cap = (data.len() as u64).next_multiple_of(SIZE_GRANULE);
            data.shrink_to(cap as usize);
            (kernel, data, format!("{} (squashfs)", a.kernel))
        }
    };
    if kernel.arch != running {
        return Err(format!(
            "{}: a kernel for {}, this system is {}",
            a.kernel,
            kernel.arch.name(),
            running.name()
        ));
    }
    check_squashfs(&rootfs_name, &rootfs)?;
    let initrd = a.initrd.as_deref().map(read).transpose()?;

    let dtb_path = a.dtb.as_deref().unwrap_or(SYSFS_FDT);
    let mut fdt =
        Fdt::read(dtb_path).map_err(|e| format!("{dtb_path}: not a usable device tree: {e}"))?;
    let memory = match MemoryMap::read_iomem() {
        Ok(m) if !m.ram.is_empty() => m,
        _ => MemoryMap::from_fdt(&fdt).map_err(|e| e.to_string())?,
    };
    let running_cmdline = match &a.command_line {
        Some(c) => c.clone(),
        None => {
            std::fs::read_to_string("/proc/cmdline").map_err(|e| format!("/proc/cmdline: {e}"))?
        }
    };

    let mut layout = Layout::new(kernel.arch, memory).with_page_size(sys::page_size());
    let (format, arch) = (kernel.format, kernel.arch);
    let placed = layout.take_kernel(kernel).map_err(|e| e.to_string())?;
    log(&format!(
        "kernel {}: {} ({}), entry {:#x}, at {}",
        a.kernel,
        format.name(),
        arch.name(),
        placed.entry,
        placed.footprint
    ));

    let size = (rootfs.len() as u64).next_multiple_of(SIZE_GRANULE);
    let address = match a.address {
        Some(at) if !at.is_multiple_of(REGION_ALIGN) => {
            return Err(format!("--address {at:#x} is not 1 MiB aligned"));
        }
        Some(at) => at,
        None => layout
            .find_free_top(size, REGION_ALIGN)
            .map_err(|e| format!("root file system: {e}"))?,
    };
    let mut padded = rootfs;
    let image_len = padded.len();
    padded.resize(size as usize, 0);
    layout
        .add_fixed("rootfs", address, padded)
        .map_err(|e| e.to_string())?;
    log(&format!(
        "rootfs {rootfs_name}: squashfs, {image_len} bytes at {address:#x} (region {size:#x})"
    ));

    let name = a.name.as_deref().unwrap_or("rootfs");
    let root = match &a.root {
        Some(r) => r.clone(),
        None => DEFAULT_ROOT.to_string(),
    };
    let mut words = base_cmdline(&running_cmdline);
    words.push(format!("phram.phram={name},{address:#x},{size:#x}"));
    words.push(format!("root={root}"));
    words.push("rootfstype=squashfs".into());
    words.extend(a.append.iter().cloned());
    let bootargs = words.join(" ");

    fdt.add_reserved_memory(&ReservedRegion {
        name: "phram".into(),
        address,
        size,
        compatible: None,
        no_map: true,
    })
    .map_err(|e| format!("{dtb_path}: {e}"))?;
    let initrd_range = match initrd {
        Some(data) => {
            let r = layout.add_initrd(data).map_err(|e| e.to_string())?;
            log(&format!(
                "initrd {}: at {r}",
                a.initrd.as_deref().unwrap_or_default()
            ));
            Some(r)
        }
        None => None,
    };
    // Command line, initrd (or none: the running tree's linux,initrd-*
    // name the old one), fresh rng-seed/kaslr-seed, no crash properties.
    let seed = random::<72>().map_err(|e| e.to_string())?;
    edit_dtb(&mut fdt, initrd_range, Some(&bootargs), &seed)
        .map_err(|e| format!("{dtb_path}: {e}"))?;
    log(&format!("bootargs: {bootargs}"));
    layout.add_dtb(fdt.to_bytes()).map_err(|e| e.to_string())?;
    let plan = layout.finish().map_err(|e| e.to_string())?;
    for line in plan.describe() {
        log(&line);
    }
    if a.dry_run {
        log("dry run: nothing loaded");
        return Ok(());
    }
    plan.load().map_err(|e| e.to_string())?;
    if a.load_only {
        log("loaded; `limina kexec -e` boots it");
        return Ok(());
    }
    log("loaded; executing");
    match sys::exec() {
        Ok(never) => match never {},
        Err(e) => Err(format!("{e} (the image stays loaded)")),
    }
}

/// Entry point.
pub fn main(args: Vec<OsString>) -> ExitCode {
    match super::utf8(args).and_then(parse) {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Parsed::Run(a)) => match run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trial-boot: {e}; nothing loaded");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("trial-boot: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
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

    #[test]
    fn old_root_words_are_dropped() {
        let base = base_cmdline(
            "console=ttyS0,115200 root=/dev/mtdblock3 rootfstype=squashfs phram.phram=x,1,2 \
             ubi.mtd=ubi rootwait quiet",
        );
        assert_eq!(base, ["console=ttyS0,115200", "rootwait", "quiet"]);
    }

    fn squashfs_header(used: u64, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[..4].copy_from_slice(b"hsqs");
        d[28..30].copy_from_slice(&4u16.to_le_bytes());
        d[40..48].copy_from_slice(&used.to_le_bytes());
        d
    }

    #[test]
    fn squashfs_checks() {
        assert!(check_squashfs("r", &squashfs_header(4096, 4096)).is_ok());
        let err = |d: &[u8]| check_squashfs("r", d).err().unwrap_or_default();
        assert!(err(b"070701...").contains("not a squashfs"));
        assert!(err(&squashfs_header(8192, 4096)).contains("truncated"));
        let mut v3 = squashfs_header(4096, 4096);
        v3[28] = 3;
        assert!(err(&v3).contains("version 3"));
    }
}
