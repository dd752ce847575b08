//! `upgrade`: write a new firmware image to the NOR firmware slots, after
//! checking everything, so that a power cut never bricks the router
//! (docs/upgrading.md; the work is `limina-upgrade`'s).
//!
//! ```text
//! upgrade [-n] [-v] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
//! upgrade --status [-d MTD] [--fallback MTD | --single]
//! ```
//!
//! IMAGE `-` reads standard input: the image, or a signed stream (the
//! `.minisig` file, then the image), so that
//! `cat firmware.bin.minisig firmware.bin | ssh root@router limina upgrade -`
//! works over one connection. Before the first erase: both slots are
//! opened and read, the image's layout (uImage CRCs, squashfs), its
//! signature against PUBKEY (default /etc/limina/signing.pub; an unsigned
//! or mis-signed image is refused when the key file exists) and its
//! signed `board:` against the running device tree's compatible list
//! (`-f` skips only the board check) are checked, and the image must fit
//! both slots. Then the fallback slot (default `mtd:firmware-b`, when
//! there is one) and the primary (`-d`, default `mtd:firmware`) are
//! written in the order that always leaves one valid image, each header
//! last. Progress: a line at each tenth (`-v`: every operation). Exit
//! codes: 0 written (or nothing to do), 1 refused or failed (the line
//! says whether the flash was touched), 2 bad usage.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mtd::writer::{Progress, Stage};
use mtd::{MtdFlash, OpenMode};
use upgrade::{Policy, Slot, SlotStatus};

use super::mtd_args;
use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str = "\
usage: upgrade [-n] [-v] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
       upgrade --status [-d MTD] [--fallback MTD | --single]

  -n, --dry-run    check everything and print the plan; write nothing
  -v, --verbose    a progress line for every erase, write and read-back
  -f, --force      write an image signed for another board (the signature
                   is still checked)
  -k PUBKEY        the key images must be signed with
                   (default /etc/limina/signing.pub; none there: unchecked)
  -x SIG           the signature (default IMAGE.minisig; with -, a signed
                   stream: the .minisig file, then the image)
  -d MTD           the primary slot (default mtd:firmware)
  --fallback MTD   the second slot (default mtd:firmware-b, if present)
  --single         no second slot: a power cut mid-write then needs the
                   boot loader's recovery
  --status         print what the boot loader finds in each slot";

const TOOL: Tool = Tool {
    name: "upgrade",
    usage: USAGE,
    family: Family::Limina,
    strip: &[],
};

/// The key the build puts in every image (docs/signing.md).
const DEFAULT_KEY: &str = "/etc/limina/signing.pub";
const DEFAULT_PRIMARY: &str = "mtd:firmware";
const DEFAULT_FALLBACK: &str = "firmware-b";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    dry_run: bool,
    verbose: bool,
    force: bool,
    status: bool,
    single: bool,
    key: Option<PathBuf>,
    signature: Option<PathBuf>,
    primary: Option<String>,
    fallback: Option<String>,
    image: Option<String>,
}

fn parse(args: Vec<String>) -> Result<Parsed<Args>, String> {
    let mut a = Args::default();
    let mut it = args.into_iter().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-n" | "--dry-run" => a.dry_run = true,
            "-v" | "--verbose" => a.verbose = true,
            "-f" | "--force" => a.force = true,
            "--status" => a.status = true,
            "--single" => a.single = true,
            "-k" => a.key = Some(PathBuf::from(value("-k")?)),
            "-x" => a.signature = Some(PathBuf::from(value("-x")?)),
            "-d" => a.primary = Some(value("-d")?),
            "--fallback" => a.fallback = Some(value("--fallback")?),
            "-h" | "--help" => return Ok(Parsed::Help),
            "--version" => return Ok(Parsed::Version),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s:?}")),
            _ if a.image.is_some() => return Err(format!("one IMAGE only, not also {arg:?}")),
            _ => a.image = Some(arg),
        }
    }
    if a.single && a.fallback.is_some() {
        return Err("--single and --fallback exclude each other".into());
    }
    if a.status != a.image.is_none() {
        return Err(if a.status {
            "--status takes no IMAGE".into()
        } else {
            "IMAGE is missing (a file, or - for standard input)".into()
        });
    }
    Ok(Parsed::Run(a))
}

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |a| run(&a))
}

/// The fallback slot's device: `--fallback`, else `mtd:firmware-b` when
/// /proc/mtd has it, else none.
fn fallback_device(a: &Args) -> anyhow::Result<Option<String>> {
    if a.single {
        return Ok(None);
    }
    if let Some(f) = &a.fallback {
        return Ok(Some(f.clone()));
    }
    let devices = mtd::proc::read_proc_mtd().context("reading /proc/mtd")?;
    Ok(devices
        .iter()
        .any(|d| d.name == DEFAULT_FALLBACK)
        .then(|| format!("mtd:{DEFAULT_FALLBACK}")))
}

fn open(device: &str, mode: OpenMode) -> anyhow::Result<MtdFlash> {
    mtd_args::open(device, mode).map_err(|e| anyhow!("{device}: {e}"))
}

fn describe(s: &SlotStatus) -> String {
    match &s.invalid {
        None => format!(
            "valid, {} bytes, sha256 {}, uImage {:?}",
            s.length,
            upgrade::hex(&s.sha256),
            s.name.as_deref().unwrap_or("")
        ),
        Some(why) => format!("invalid: {why}"),
    }
}

fn status(primary_dev: &str, fallback_dev: Option<&str>) -> anyhow::Result<()> {
    let mut primary = open(primary_dev, OpenMode::ReadOnly)?;
    let p = upgrade::status(&mut primary).with_context(|| format!("reading {primary_dev}"))?;
    println!("primary {primary_dev}: {}", describe(&p));
    let f = match fallback_dev {
        Some(dev) => {
            let mut flash = open(dev, OpenMode::ReadOnly)?;
            let f = upgrade::status(&mut flash).with_context(|| format!("reading {dev}"))?;
            println!("fallback {dev}: {}", describe(&f));
            Some(f)
        }
        None => None,
    };
    match upgrade::boots(&p, f.as_ref()) {
        Some(slot) => println!("boots: {slot}"),
        None => println!("boots: nothing (the boot loader's recovery is needed)"),
    }
    Ok(())
}

/// Reads the image (and, from a signed stream, its signature), at most
/// `limit` bytes.
fn read_image(
    a: &Args,
    path: &str,
    limit: u64,
) -> anyhow::Result<(Vec<u8>, Option<limina_sign::Signature>)> {
    let nothing = "; nothing was written";
    if path == "-" {
        let streamed = upgrade::stream::read(std::io::stdin().lock(), limit)
            .map_err(|e| anyhow!("standard input: {e}{nothing}"))?;
        let signature = match &a.signature {
            Some(p) => Some(read_signature(p)?),
            None => streamed.signature,
        };
        return Ok((streamed.image, signature));
    }
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("cannot read {path}: {e}{nothing}"))?;
    let mut image = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut image)
        .map_err(|e| anyhow!("cannot read {path}: {e}{nothing}"))?;
    if image.len() as u64 > limit {
        return Err(anyhow!(
            "{path}: the image is larger than {limit} bytes, the most that fits{nothing}"
        ));
    }
    let sig_path = a
        .signature
        .clone()
        .unwrap_or_else(|| limina_sign::signature_path(Path::new(path)));
    let signature = match limina_sign::read_signature(&sig_path) {
        Ok(s) => Some(s),
        Err(limina_sign::Error::Unsigned(_)) if a.signature.is_none() => None,
        Err(e) => return Err(anyhow!("{e}{nothing}")),
    };
    Ok((image, signature))
}

fn read_signature(path: &Path) -> anyhow::Result<limina_sign::Signature> {
    limina_sign::read_signature(path).map_err(|e| anyhow!("{e}; nothing was written"))
}

fn run(a: &Args) -> anyhow::Result<()> {
    let nothing = "; nothing was written";
    let primary_dev = a.primary.as_deref().unwrap_or(DEFAULT_PRIMARY);
    let fallback_dev = fallback_device(a).map_err(|e| anyhow!("{e:#}{nothing}"))?;
    if a.status {
        return status(primary_dev, fallback_dev.as_deref());
    }
    let Some(path) = a.image.as_deref() else {
        return Err(anyhow!("IMAGE is missing"));
    };
    let mode = if a.dry_run {
        OpenMode::ReadOnly
    } else {
        OpenMode::ReadWrite
    };
    let mut primary = open(primary_dev, mode).map_err(|e| anyhow!("{e}{nothing}"))?;
    let mut fallback = match &fallback_dev {
        Some(dev) => Some(open(dev, mode).map_err(|e| anyhow!("{e}{nothing}"))?),
        None => None,
    };
    let geometry = mtd::Flash::geometry(&primary);
    let limit = fallback.as_ref().map_or(geometry.size, |f| {
        geometry.size.min(mtd::Flash::geometry(f).size)
    });
    let (image, signature) = read_image(a, path, limit)?;

    let key_path = a.key.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_KEY));
    let key = match limina_sign::read_public_key(&key_path) {
        Ok(k) => Some(k),
        Err(limina_sign::Error::Io { source, .. })
            if a.key.is_none() && source.kind() == std::io::ErrorKind::NotFound =>
        {
            eprintln!("upgrade: no key at {DEFAULT_KEY}: the signature is not checked");
            None
        }
        Err(e) => return Err(anyhow!("{e}{nothing}")),
    };
    let running = upgrade::board::running_compatible().map_err(|e| anyhow!("{e}{nothing}"))?;
    let policy = Policy {
        key: key.as_ref(),
        signature: signature.as_ref(),
        running_board: running.as_deref(),
        force_board: a.force,
        erase_size: geometry.erase_size,
    };
    let checked = upgrade::check(&image, &policy).map_err(|e| anyhow!("refused: {e}{nothing}"))?;
    eprintln!(
        "upgrade: image {:?}, {} bytes, sha256 {}, {}, {}",
        checked.name(),
        image.len(),
        upgrade::hex(&checked.sha256()),
        match checked.signed_by() {
            Some(id) => format!("signed by key {id}"),
            None => "signature not checked".to_owned(),
        },
        match (&checked.metadata().board, checked.board_checked()) {
            (Some(b), true) => format!("board {b}"),
            (_, false) => "board not checked (--force)".to_owned(),
            (None, true) => "no board".to_owned(),
        }
    );
    if fallback.is_none() {
        eprintln!(
            "upgrade: one slot ({primary_dev}): a power cut while it is written leaves no bootable image"
        );
    }

    if a.dry_run {
        let plan = upgrade::plan(&checked, &mut primary, fallback.as_mut())
            .map_err(|e| anyhow!("{e}{nothing}"))?;
        let counts = |(e, w, u): (u64, u64, u64)| format!("erase {e}, write {w}, unchanged {u}");
        println!("first: {}", plan.first);
        println!("primary {primary_dev}: {}", counts(plan.primary));
        if let (Some(c), Some(dev)) = (plan.fallback, &fallback_dev) {
            println!("fallback {dev}: {}", counts(c));
        }
        return Ok(());
    }

    // The flash being written may hold the file system this program was
    // loaded from: keep every page of it in RAM from here on.
    if let Err(e) = nix::sys::mman::mlockall(
        nix::sys::mman::MlockAllFlags::MCL_CURRENT | nix::sys::mman::MlockAllFlags::MCL_FUTURE,
    ) {
        eprintln!("upgrade: mlockall: {e} (continuing)");
    }
    let name = |slot: Slot| match slot {
        Slot::Primary => primary_dev.to_owned(),
        Slot::Fallback => fallback_dev.clone().unwrap_or_default(),
    };
    let mut last_tenth = (None, 0);
    let verbose = a.verbose;
    let mut progress = |slot: Slot, p: &Progress| {
        if verbose {
            let stage = match p.stage {
                Stage::Erase => "erase",
                Stage::Write => "write",
                Stage::Verify => "verify",
            };
            eprintln!(
                "upgrade: {slot} {stage} block {} ({}/{})",
                p.block,
                p.done + 1,
                p.total
            );
        } else {
            let tenth = (p.done * 10) / p.total.max(1);
            if last_tenth != (Some(slot), tenth) {
                last_tenth = (Some(slot), tenth);
                eprintln!("upgrade: {slot} {}: {}%", name(slot), tenth * 10);
            }
        }
    };
    let report = upgrade::upgrade(&checked, &mut primary, fallback.as_mut(), &mut progress)
        .map_err(|e| {
            let untouched = if e.flash_untouched() { nothing } else { "" };
            anyhow!("{e}{untouched}")
        })?;
    let counts = |r: mtd::writer::Report| {
        format!(
            "erased {}, written {}, unchanged {}",
            r.erased, r.written, r.unchanged
        )
    };
    let mut done = format!("upgrade: done: primary {}", counts(report.primary));
    if let Some(f) = report.fallback {
        done.push_str(&format!("; fallback {}", counts(f)));
    }
    eprintln!("{done}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed<Args>, String> {
        parse(
            std::iter::once("upgrade")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        )
    }

    #[test]
    fn flags() {
        let Ok(Parsed::Run(a)) = p(&[
            "-n",
            "-v",
            "-f",
            "-k",
            "/k",
            "-x",
            "/s",
            "-d",
            "mtd3",
            "--fallback",
            "mtd4",
            "-",
        ]) else {
            panic!("parse");
        };
        assert!(a.dry_run && a.verbose && a.force && !a.status);
        assert_eq!(a.key.as_deref(), Some(Path::new("/k")));
        assert_eq!(a.signature.as_deref(), Some(Path::new("/s")));
        assert_eq!(
            (a.primary.as_deref(), a.fallback.as_deref()),
            (Some("mtd3"), Some("mtd4"))
        );
        assert_eq!(a.image.as_deref(), Some("-"));
        assert!(matches!(
            p(&["--status"]),
            Ok(Parsed::Run(Args { status: true, .. }))
        ));
    }

    #[test]
    fn usage_errors() {
        for (args, want) in [
            (&[][..], "IMAGE is missing"),
            (&["--status", "x"][..], "--status takes no IMAGE"),
            (&["a", "b"][..], "one IMAGE only"),
            (
                &["--single", "--fallback", "x", "a"][..],
                "exclude each other",
            ),
            (&["-k"][..], "-k needs a value"),
            (&["-q", "a"][..], "unknown option"),
        ] {
            let Err(e) = p(args) else {
                panic!("{args:?} parsed")
            };
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
