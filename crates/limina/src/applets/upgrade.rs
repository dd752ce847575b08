//! `upgrade`: write a new firmware image to the NOR firmware slots, after
//! checking everything, so that a power cut never bricks the router
//! (docs/upgrading.md; the work is `limina-upgrade`'s).
//!
//! ```text
//! upgrade [-n] [-v] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
//! upgrade --trial [--grace SECS] [--watchdog DEV] [--initrd FILE] [--append STR] [-n] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
//! upgrade --commit [-v] [-f] [-k PUBKEY] [-d MTD] [--fallback MTD | --single]
//! upgrade --status [-d MTD] [--fallback MTD | --single]
//! upgrade --ubi UBI [-n] [-v] [-f] [-k PUBKEY] [-x SIG] ROOTFS|-
//! upgrade --status --ubi UBI
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
//!
//! `--trial` runs the same checks and writes nothing: it boots the image
//! from RAM (`kexec::trial`) with its squashfs as the phram root, the whole
//! signed image in a second phram region named `limina-upgrade`
//! (`upgrade::trial`), `limina.trial=1` on the new command line, and the
//! watchdog armed with `--grace` seconds and left open (no magic close),
//! so that a new system that never feeds it is reset into the old flash.
//! `--commit`, run by that new system once healthy, reads the region,
//! checks the image again with its own key and board, and writes the
//! slots as above. See docs/upgrading-trial.md.
//!
//! `--ubi UBI` (NAND boards, `upgrade::ubi`): the image is a squashfs
//! root file system, signed the same way; after the same checks (and that
//! it fits volume `rootfs_b`), one volume update writes it into
//! `rootfs_b`, it is read back, and one atomic rename swaps the names
//! `rootfs` and `rootfs_b`. The kernel boots the volume named `rootfs`.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use limina_sign::Signature;
use mtd::writer::{Progress, Stage};
use mtd::{MtdFlash, OpenMode};
use upgrade::{ubi, Policy, Slot, SlotStatus};

use super::mtd_args;
use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str = "\
usage: upgrade [-n] [-v] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
       upgrade --trial [--grace SECS] [--watchdog DEV] [--initrd FILE] [--append STR]
               [-n] [-f] [-k PUBKEY] [-x SIG] [-d MTD] [--fallback MTD | --single] IMAGE|-
       upgrade --commit [-v] [-f] [-k PUBKEY] [-d MTD] [--fallback MTD | --single]
       upgrade --status [-d MTD] [--fallback MTD | --single]
       upgrade --ubi UBI [-n] [-v] [-f] [-k PUBKEY] [-x SIG] ROOTFS|-
       upgrade --status --ubi UBI

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
  --status         print what the boot loader finds in each slot
  --trial          check as above, write nothing, and boot the image from
                   RAM with limina.trial=1; it commits itself (--commit)
  --grace SECS     --trial: arm the watchdog with SECS (default 180; 0: no
                   watchdog) and leave it running across the boot
  --watchdog DEV   --trial: the watchdog device (default /dev/watchdog)
  --initrd FILE    --trial: also load an initramfs for the new kernel
  --append STR     --trial: words added to the new command line
  --commit         in a trial-booted system: check the image it was booted
                   from (the phram device limina-upgrade) with this
                   system's key and board, and write it to the slots
  --ubi UBI        NAND boards: the UBI device (/dev/ubiN, ubiN or N) with
                   volumes rootfs (booted) and rootfs_b; ROOTFS (a squashfs)
                   goes into rootfs_b, is read back, and one atomic rename
                   swaps the two names";

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
const DEFAULT_WATCHDOG: &str = "/dev/watchdog";
/// Seconds the new system has, from the jump into it, until its own
/// watchdog service feeds the watchdog (docs/upgrading-trial.md).
const DEFAULT_GRACE: u64 = 180;

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
    trial: bool,
    commit: bool,
    grace: Option<u64>,
    watchdog: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: Vec<String>,
    ubi: Option<String>,
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
            "--trial" => a.trial = true,
            "--commit" => a.commit = true,
            "--grace" => {
                let v = value("--grace")?;
                a.grace = Some(
                    v.parse()
                        .map_err(|_| format!("--grace {v:?}: not a number of seconds"))?,
                );
            }
            "--watchdog" => a.watchdog = Some(PathBuf::from(value("--watchdog")?)),
            "--initrd" => a.initrd = Some(PathBuf::from(value("--initrd")?)),
            "--append" => a.append.push(value("--append")?),
            "--ubi" => a.ubi = Some(value("--ubi")?),
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
    if [a.status, a.trial, a.commit].iter().filter(|&&m| m).count() > 1 {
        return Err("--status, --trial and --commit exclude each other".into());
    }
    let trial_only =
        a.grace.is_some() || a.watchdog.is_some() || a.initrd.is_some() || !a.append.is_empty();
    if trial_only && !a.trial {
        return Err("--grace, --watchdog, --initrd and --append go with --trial".into());
    }
    if a.commit && (a.dry_run || a.signature.is_some()) {
        return Err("--commit takes no -n or -x: the signature comes with the image".into());
    }
    if a.ubi.is_some()
        && (a.trial || a.commit || a.single || a.primary.is_some() || a.fallback.is_some())
    {
        return Err(
            "--ubi takes no --trial, --commit, -d, --fallback or --single: those are NOR's".into(),
        );
    }
    let no_image = a.status || a.commit;
    if no_image != a.image.is_none() {
        return Err(if a.status {
            "--status takes no IMAGE".into()
        } else if a.commit {
            "--commit takes no IMAGE: it reads the one the system was trial-booted with".into()
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
    if let Some(device) = &a.ubi {
        return run_ubi(a, device);
    }
    let primary_dev = a.primary.as_deref().unwrap_or(DEFAULT_PRIMARY);
    let fallback_dev = fallback_device(a).map_err(|e| anyhow!("{e:#}{nothing}"))?;
    if a.status {
        return status(primary_dev, fallback_dev.as_deref());
    }
    let mode = if a.dry_run || a.trial {
        OpenMode::ReadOnly
    } else {
        OpenMode::ReadWrite
    };
    let mut slots = Slots {
        primary: open(primary_dev, mode).map_err(|e| anyhow!("{e}{nothing}"))?,
        fallback: match &fallback_dev {
            Some(dev) => Some(open(dev, mode).map_err(|e| anyhow!("{e}{nothing}"))?),
            None => None,
        },
        primary_dev,
        fallback_dev: fallback_dev.as_deref(),
    };
    let geometry = mtd::Flash::geometry(&slots.primary);
    let limit = slots.fallback.as_ref().map_or(geometry.size, |f| {
        geometry.size.min(mtd::Flash::geometry(f).size)
    });
    if a.commit {
        let region = read_trial_region()?;
        let decoded =
            upgrade::trial::decode(&region).map_err(|e| anyhow!("refused: {e}{nothing}"))?;
        eprintln!(
            "upgrade: committing the trial image ({} bytes, {}) from {}",
            decoded.image.len(),
            if decoded.signature.is_some() {
                "signed"
            } else {
                "unsigned"
            },
            upgrade::trial::DEVICE_NAME
        );
        return check_and_write(a, &mut slots, decoded.image, decoded.signature.as_ref());
    }
    let Some(path) = a.image.as_deref() else {
        return Err(anyhow!("IMAGE is missing"));
    };
    let (image, signature) = read_image(a, path, limit)?;
    if a.trial {
        return trial(a, &mut slots, image, signature);
    }
    check_and_write(a, &mut slots, &image, signature.as_ref())
}

/// The slots, open.
struct Slots<'a> {
    primary: MtdFlash,
    fallback: Option<MtdFlash>,
    primary_dev: &'a str,
    fallback_dev: Option<&'a str>,
}

/// Every check of an upgrade that needs no flash: layout, signature against
/// the key, board. Logs one line about the image.
fn check_image<'i>(
    a: &Args,
    image: &'i [u8],
    signature: Option<&Signature>,
    erase_size: u32,
) -> anyhow::Result<upgrade::Checked<'i>> {
    let nothing = "; nothing was written";
    let (key, running) = trust(a)?;
    let policy = Policy {
        key: key.as_ref(),
        signature,
        running_board: running.as_deref(),
        force_board: a.force,
        erase_size,
    };
    let checked = upgrade::check(image, &policy).map_err(|e| anyhow!("refused: {e}{nothing}"))?;
    eprintln!(
        "upgrade: image {:?}, {} bytes, sha256 {}, {}",
        checked.name(),
        image.len(),
        upgrade::hex(&checked.sha256()),
        trust_words(
            checked.signed_by(),
            checked.metadata(),
            checked.board_checked()
        )
    );
    Ok(checked)
}

/// What images are checked against: the key (`-k`, else the default one
/// if present) and the running board's compatible strings.
type Trust = (Option<limina_sign::PublicKey>, Option<Vec<String>>);

fn trust(a: &Args) -> anyhow::Result<Trust> {
    let nothing = "; nothing was written";
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
    Ok((key, running))
}

fn describe_volume(slots: &ubi::Slots, role: &str, v: Option<&ubi::VolumeStatus>) -> String {
    let name = if role == "active" {
        ubi::ACTIVE
    } else {
        ubi::INACTIVE
    };
    match v {
        None => format!("{role} {name}: missing"),
        Some(v) => {
            let node = slots.volume_path(v.info.id);
            match &v.invalid {
                None => format!(
                    "{role} {name} ({}): valid, {} bytes, sha256 {}",
                    node.display(),
                    v.length,
                    upgrade::hex(&v.sha256)
                ),
                Some(why) => format!("{role} {name} ({}): invalid: {why}", node.display()),
            }
        }
    }
}

/// `--ubi`: the A/B volumes of a UBI device.
fn run_ubi(a: &Args, device: &str) -> anyhow::Result<()> {
    let nothing = "; nothing was written";
    let slots = ubi::Slots::new(device).map_err(|e| anyhow!("{e}{nothing}"))?;
    if a.status {
        let st = ubi::status(&slots)?;
        println!("{}", describe_volume(&slots, "active", st.active.as_ref()));
        println!(
            "{}",
            describe_volume(&slots, "inactive", st.inactive.as_ref())
        );
        match &st.active {
            Some(v) if v.valid() => println!("boots: volume {}", v.info.id),
            _ => println!(
                "boots: nothing (no valid volume named {}; the boot loader's recovery is needed)",
                ubi::ACTIVE
            ),
        }
        return Ok(());
    }
    let layout = slots.layout().map_err(|e| anyhow!("{e}{nothing}"))?;
    let limit = ubi::reserved_bytes(&layout.inactive);
    let Some(path) = a.image.as_deref() else {
        return Err(anyhow!("IMAGE is missing"));
    };
    let (image, signature) = read_image(a, path, limit)?;
    let (key, running) = trust(a)?;
    let policy = Policy {
        key: key.as_ref(),
        signature: signature.as_ref(),
        running_board: running.as_deref(),
        force_board: a.force,
        erase_size: 0,
    };
    let checked = ubi::check(&image, &policy).map_err(|e| anyhow!("refused: {e}{nothing}"))?;
    eprintln!(
        "upgrade: root file system image, {} bytes, sha256 {}, {}",
        image.len(),
        upgrade::hex(&checked.sha256()),
        trust_words(
            checked.signed_by(),
            checked.metadata(),
            checked.board_checked()
        )
    );
    let name = slots.name();
    if a.dry_run {
        let plan = ubi::plan(&checked, &slots).map_err(|e| anyhow!("refused: {e}{nothing}"))?;
        if plan.already_active {
            println!(
                "nothing to do: {} (volume {}) holds this image",
                ubi::ACTIVE,
                plan.layout.active.id
            );
        } else {
            println!(
                "update {name} volume {} ({}): {} of {} bytes",
                plan.layout.inactive.id,
                ubi::INACTIVE,
                plan.len,
                ubi::reserved_bytes(&plan.layout.inactive)
            );
            println!(
                "rename: volume {} -> {}, volume {} -> {}",
                plan.layout.inactive.id,
                ubi::ACTIVE,
                plan.layout.active.id,
                ubi::INACTIVE
            );
        }
        return Ok(());
    }
    let verbose = a.verbose;
    let mut last_tenth = None;
    let mut progress = |p: &ubi::Progress| match *p {
        ubi::Progress::Update { id, written, total } => {
            if verbose {
                eprintln!("upgrade: {name} update volume {id}: {written}/{total} bytes");
            } else {
                let tenth = written * 10 / total.max(1);
                if last_tenth != Some(tenth) {
                    last_tenth = Some(tenth);
                    eprintln!(
                        "upgrade: {name} {} (volume {id}): {}%",
                        ubi::INACTIVE,
                        tenth * 10
                    );
                }
            }
        }
        ubi::Progress::Verify { id } => eprintln!("upgrade: {name} verify volume {id}"),
        ubi::Progress::Rename {
            new_active,
            old_active,
        } => eprintln!(
            "upgrade: {name} rename: volume {new_active} -> {}, volume {old_active} -> {}",
            ubi::ACTIVE,
            ubi::INACTIVE
        ),
        ubi::Progress::Renamed { active } => {
            eprintln!(
                "upgrade: {name} renamed: {} is volume {active}",
                ubi::ACTIVE
            )
        }
        _ => {}
    };
    let report = ubi::upgrade(&checked, &slots, &mut progress).map_err(|e| {
        let what = match e.stage {
            ubi::Stage::Check => nothing.to_owned(),
            ubi::Stage::Update => format!(
                "; {} was not touched and still boots; {} is incomplete (rerun the upgrade)",
                ubi::ACTIVE,
                ubi::INACTIVE
            ),
            ubi::Stage::Rename => format!(
                "; no name changed: {} still boots the previous image",
                ubi::ACTIVE
            ),
        };
        anyhow!("{e}{what}")
    })?;
    match report {
        ubi::Report::AlreadyActive { id } => eprintln!(
            "upgrade: done: nothing to do: {} (volume {id}) already holds this image",
            ubi::ACTIVE
        ),
        ubi::Report::Swapped {
            active,
            inactive,
            written,
        } => eprintln!(
            "upgrade: done: {name}: {} is volume {active} (the new image, {written} bytes written), {} is volume {inactive} (the previous image); the next boot boots the new one",
            ubi::ACTIVE,
            ubi::INACTIVE
        ),
        _ => eprintln!("upgrade: done"),
    }
    Ok(())
}

fn check_and_write(
    a: &Args,
    slots: &mut Slots<'_>,
    image: &[u8],
    signature: Option<&Signature>,
) -> anyhow::Result<()> {
    let nothing = "; nothing was written";
    let geometry = mtd::Flash::geometry(&slots.primary);
    let checked = check_image(a, image, signature, geometry.erase_size)?;
    let (primary_dev, fallback_dev) = (slots.primary_dev, slots.fallback_dev);
    let (primary, fallback) = (&mut slots.primary, &mut slots.fallback);
    if fallback.is_none() {
        eprintln!(
            "upgrade: one slot ({primary_dev}): a power cut while it is written leaves no bootable image"
        );
    }

    if a.dry_run {
        let plan = upgrade::plan(&checked, primary, fallback.as_mut())
            .map_err(|e| anyhow!("{e}{nothing}"))?;
        let counts = |(e, w, u): (u64, u64, u64)| format!("erase {e}, write {w}, unchanged {u}");
        println!("first: {}", plan.first);
        println!("primary {primary_dev}: {}", counts(plan.primary));
        if let (Some(c), Some(dev)) = (plan.fallback, fallback_dev) {
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
        Slot::Fallback => fallback_dev.unwrap_or_default().to_owned(),
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
    let report =
        upgrade::upgrade(&checked, primary, fallback.as_mut(), &mut progress).map_err(|e| {
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
    if a.commit {
        done.push_str("; the next boot boots this image from flash");
    }
    eprintln!("{done}");
    Ok(())
}

/// `--commit`'s input: the whole `limina-upgrade` phram device, after
/// checking that this system was trial-booted.
fn read_trial_region() -> anyhow::Result<Vec<u8>> {
    let nothing = "; nothing was written";
    let cmdline = std::fs::read_to_string("/proc/cmdline")
        .map_err(|e| anyhow!("cannot read /proc/cmdline: {e}{nothing}"))?;
    if !upgrade::trial::is_trial_cmdline(&cmdline) {
        return Err(anyhow!(
            "refused: this system was not trial-booted ({} is not on /proc/cmdline){nothing}",
            upgrade::trial::CMDLINE_MARKER
        ));
    }
    let name = upgrade::trial::DEVICE_NAME;
    let devices = mtd::proc::read_proc_mtd().map_err(|e| anyhow!("/proc/mtd: {e}{nothing}"))?;
    if !devices.iter().any(|d| d.name == name) {
        return Err(anyhow!(
            "refused: no MTD device {name:?} in /proc/mtd (the trial boot's image region; a kernel without phram or older than 6.0 does not create it){nothing}"
        ));
    }
    let mut flash =
        open(&format!("mtd:{name}"), OpenMode::ReadOnly).map_err(|e| anyhow!("{e}{nothing}"))?;
    let size = mtd::Flash::geometry(&flash).size;
    let mut region = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    for (i, chunk) in region.chunks_mut(1 << 16).enumerate() {
        mtd::Flash::read(&mut flash, (i as u64) << 16, chunk)
            .map_err(|e| anyhow!("reading mtd:{name}: {e}{nothing}"))?;
    }
    Ok(region)
}

/// `--trial`: every check, the slots' sizes, the kexec plan, the watchdog;
/// then load and jump. Nothing is loaded before everything is checked, and
/// a failure after the watchdog was armed stops it again.
fn trial(
    a: &Args,
    slots: &mut Slots<'_>,
    image: Vec<u8>,
    signature: Option<Signature>,
) -> anyhow::Result<()> {
    use kexec::trial::{Options, System, TrialBoot};
    let nothing = "; nothing was loaded";
    let erase_size = mtd::Flash::geometry(&slots.primary).erase_size;
    let region = {
        let checked = check_image(a, &image, signature.as_ref(), erase_size)?;
        // The slots must take it, as the commit will need.
        upgrade::plan(&checked, &mut slots.primary, slots.fallback.as_mut())
            .map_err(|e| anyhow!("refused: {e}; nothing was written or loaded"))?;
        upgrade::trial::encode(signature.as_ref(), checked.image())
            .map_err(|e| anyhow!("{e}{nothing}"))?
    };
    let region_len = region.len();
    let arch = kexec::Arch::running()
        .ok_or_else(|| anyhow!("kexec_load is not supported on this architecture{nothing}"))?;
    let boot = TrialBoot::from_firmware(image, erase_size as usize, arch)
        .map_err(|e| anyhow!("{e}{nothing}"))?
        .with_region(upgrade::trial::DEVICE_NAME, region);
    let boot = match &a.initrd {
        Some(path) => boot.with_initrd(
            std::fs::read(path)
                .map_err(|e| anyhow!("cannot read {}: {e}{nothing}", path.display()))?,
        ),
        None => boot,
    };
    let grace = a.grace.unwrap_or(DEFAULT_GRACE);
    let mut options = Options::default();
    options.append = vec![upgrade::trial::CMDLINE_MARKER.to_owned()];
    if grace > 0 {
        // A watchdog-core driver that finds the watchdog running keeps it
        // fed from the kernel until user space opens it; only for the
        // grace, not forever.
        options
            .append
            .push(format!("watchdog.open_timeout={grace}"));
    }
    options.append.extend(a.append.iter().cloned());
    let system = System::running(None, None).map_err(|e| anyhow!("{e}{nothing}"))?;
    let plan = boot
        .plan(system, &options)
        .map_err(|e| anyhow!("{e}{nothing}"))?;
    if a.dry_run {
        for line in plan.describe() {
            println!("{line}");
        }
        return Ok(());
    }
    eprintln!(
        "upgrade: trial: the image and its signature ({region_len} bytes) go to phram {}; bootargs: {}",
        upgrade::trial::DEVICE_NAME,
        plan.bootargs()
    );

    let dog = if grace > 0 {
        Some(arm_watchdog(a, grace)?)
    } else {
        eprintln!("upgrade: trial: --grace 0: no watchdog; a new system that hangs stays hung");
        None
    };
    let stop_dog = |dog: Option<limina_watchdog::Watchdog>| {
        if let Some(d) = dog {
            if let Err(e) = d.magic_close() {
                eprintln!("upgrade: trial: stopping the watchdog: {e}");
            }
        }
    };
    if let Err(e) = plan.load() {
        stop_dog(dog);
        return Err(anyhow!("{e}{nothing}; the watchdog was stopped again"));
    }
    if let Some(d) = &dog {
        // A last feed, so the grace counts from the jump.
        let _ = d.keepalive();
    }
    // Never closed: the open watchdog goes down with this kernel, still
    // running (no magic close).
    std::mem::forget(dog);
    match kexec::exec() {
        Ok(never) => match never {},
        Err(e) => Err(anyhow!(
            "{e}: the image stays loaded (limina kexec -u unloads it); the watchdog is still running"
        )),
    }
}

/// Opens the watchdog with `grace` seconds (the driver may choose fewer:
/// said on stderr) and warns when this kernel will stop it at kexec.
fn arm_watchdog(a: &Args, grace: u64) -> anyhow::Result<limina_watchdog::Watchdog> {
    let nothing = "; nothing was loaded";
    let path = a
        .watchdog
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WATCHDOG));
    let dog = limina_watchdog::Watchdog::open(&path).map_err(|e| {
        let busy = matches!(&e, limina_watchdog::DeviceError::Open { source, .. }
            if source.raw_os_error() == Some(16));
        if busy {
            anyhow!("{e}: the watchdog service holds it; stop it first (s6-rc -d change watchdog), or --grace 0 boots without the watchdog{nothing}")
        } else {
            anyhow!("{e}: a trial boot needs the watchdog to reset a new system that hangs (--grace 0 boots without it){nothing}")
        }
    })?;
    let want = std::time::Duration::from_secs(grace);
    let got = match dog.set_timeout(want) {
        Ok(t) => t,
        Err(e) => {
            let _ = dog.magic_close();
            return Err(anyhow!("{e}{nothing}; the watchdog was stopped again"));
        }
    };
    if got != want {
        eprintln!(
            "upgrade: trial: {} takes {} s, not {grace} s: the new system's watchdog service must start within that",
            path.display(),
            got.as_secs()
        );
    }
    let _ = dog.keepalive();
    // Watchdog-core drivers that stop at reboot also stop at kexec.
    if let Ok(v) = std::fs::read_to_string("/sys/module/watchdog/parameters/stop_on_reboot") {
        if v.trim() != "0" {
            eprintln!(
                "upgrade: trial: this kernel may stop {} at kexec (watchdog.stop_on_reboot={}, not 0): a new system that hangs before its watchdog service starts is then not reset",
                path.display(),
                v.trim()
            );
        }
    }
    eprintln!(
        "upgrade: trial: {} armed with {} s, left running across the jump",
        path.display(),
        got.as_secs()
    );
    Ok(dog)
}

/// "signed by key …, board …" for the line describing a checked image.
fn trust_words(
    signed_by: Option<limina_sign::KeyId>,
    metadata: &upgrade::Metadata,
    board_checked: bool,
) -> String {
    let signed = match signed_by {
        Some(id) => format!("signed by key {id}"),
        None => "signature not checked".to_owned(),
    };
    let board = match (&metadata.board, board_checked) {
        (Some(b), true) => format!("board {b}"),
        (_, false) => "board not checked (--force)".to_owned(),
        (None, true) => "no board".to_owned(),
    };
    format!("{signed}, {board}")
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
        let Ok(Parsed::Run(a)) = p(&[
            "--trial",
            "--grace",
            "60",
            "--watchdog",
            "/dev/watchdog1",
            "--initrd",
            "/i",
            "--append",
            "x=1",
            "--append",
            "y",
            "-",
        ]) else {
            panic!("parse --trial");
        };
        assert!(a.trial && !a.commit);
        assert_eq!(a.grace, Some(60));
        assert_eq!(a.watchdog.as_deref(), Some(Path::new("/dev/watchdog1")));
        assert_eq!(a.initrd.as_deref(), Some(Path::new("/i")));
        assert_eq!(a.append, ["x=1", "y"]);
        let Ok(Parsed::Run(a)) = p(&["--commit", "-v", "-k", "/k"]) else {
            panic!("parse --commit");
        };
        assert!(a.commit && a.verbose && a.image.is_none());
        let Ok(Parsed::Run(a)) = p(&["--ubi", "/dev/ubi0", "-n", "-f", "-k", "/k", "-"]) else {
            panic!("parse --ubi");
        };
        assert_eq!(a.ubi.as_deref(), Some("/dev/ubi0"));
        assert!(a.dry_run && a.force && a.image.as_deref() == Some("-"));
        assert!(matches!(
            p(&["--status", "--ubi", "ubi1"]),
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
            (&["--trial", "--commit"][..], "exclude each other"),
            (&["--status", "--trial"][..], "exclude each other"),
            (&["--grace", "5", "a"][..], "go with --trial"),
            (&["--trial", "--grace", "soon", "a"][..], "not a number"),
            (&["--trial"][..], "IMAGE is missing"),
            (&["--commit", "a"][..], "--commit takes no IMAGE"),
            (&["--commit", "-n"][..], "--commit takes no -n"),
            (&["--ubi", "0", "--single", "a"][..], "--ubi takes no"),
            (&["--ubi", "0", "--trial", "a"][..], "--ubi takes no"),
            (&["--ubi", "0"][..], "IMAGE is missing"),
            (&["--ubi"][..], "--ubi needs a value"),
        ] {
            let Err(e) = p(args) else {
                panic!("{args:?} parsed")
            };
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
