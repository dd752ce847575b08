//! Trial-boot a new firmware with limina-kexec alone: what another
//! firmware project needs to boot a kernel with its squashfs root from RAM
//! before writing it to flash. No code of the `limina` binary is used; the
//! board tests run this program in the big-endian MIPS guest and check
//! that the new kernel mounts the root it was given.
//!
//! ```text
//! trial_boot [-n] [--initrd FILE] KERNEL ROOTFS [WORD...]   kernel + squashfs
//! trial_boot [-n] [--initrd FILE] FIRMWARE [WORD...]        uImage + squashfs image
//! ```
//!
//! WORDs (`key=value`, containing `=`) are appended to the next kernel's
//! command line; `--initrd` gives it an initramfs. `-n` prints the plan and loads nothing. Without `-n` the
//! new kernel is loaded and booted at once. Exit code 0 (or no return), 1
//! on any error, printed with its whole `source()` chain.

use std::error::Error as _;
use std::process::ExitCode;

use kexec::trial::{read_rootfs, Options, System, TrialBoot, DEFAULT_ERASE_SIZE};
use kexec::Arch;

fn run(args: &[String]) -> Result<(), kexec::Error> {
    let (mut dry_run, mut initrd) = (false, None);
    let (mut files, mut append) = (Vec::new(), Vec::new());
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "-n" => dry_run = true,
            "--initrd" => initrd = rest.next(),
            w if w.contains('=') => append.push(w.to_owned()),
            f => files.push(f),
        }
    }
    let arch = Arch::running().ok_or(kexec::trial::Error::NoArch)?;
    let read = |path: &str| {
        std::fs::read(path).map_err(|source| kexec::Error::Io {
            path: path.into(),
            source,
        })
    };
    let boot = match files.as_slice() {
        [kernel, rootfs] => TrialBoot::new(
            kexec::uimage::parse_kernel(read(kernel)?, arch)?,
            read_rootfs(rootfs)?,
        )?,
        [firmware] => TrialBoot::from_firmware(read(firmware)?, DEFAULT_ERASE_SIZE, arch)?,
        _ => {
            eprintln!(
                "usage: trial_boot [-n] [--initrd FILE] KERNEL ROOTFS | FIRMWARE [WORD=VALUE...]"
            );
            std::process::exit(1);
        }
    };
    let boot = match initrd {
        Some(path) => boot.with_initrd(read(path)?),
        None => boot,
    };
    let mut options = Options::default();
    options.append = append;
    let trial = boot.plan(System::running(None, None)?, &options)?;
    for line in trial.describe() {
        println!("{line}");
    }
    if dry_run {
        return Ok(());
    }
    trial.load()?;
    match kexec::exec()? {}
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The top error's text, then each cause it does not already quote.
            let mut msg = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                let text = c.to_string();
                if !msg.contains(&text) {
                    msg = format!("{msg}: {text}");
                }
                cause = c.source();
            }
            eprintln!("trial_boot: {msg}");
            ExitCode::FAILURE
        }
    }
}
