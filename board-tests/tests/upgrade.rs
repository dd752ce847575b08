//! Power cuts during a firmware upgrade, on real kernels (issue 14).
//!
//! The flash is two `phram` devices, `firmware` and `firmware-b` (8 MiB
//! each, 64 KiB erase blocks, as NOR), over RAM the guest kernel leaves
//! alone ([`PersistentFlash`]). A power cut is QEMU's reset: the kernel,
//! its caches and every process are gone, RAM is not. The first tests
//! prove that assumption on each machine; the others cut the power at
//! every erase/write boundary of `limina upgrade` and ask the bootloader
//! model (`limina upgrade --status`, checked against the images byte for
//! byte) what it would boot.

use std::time::Duration;

use limina_board_tests::{guest_limina, Machine, PersistentFlash, Vm, VmConfig};

use crate::common::{bytes, host_run, Check, CheckSome};

/// NOR's erase block.
const ES: u32 = 64 * 1024;
/// Each slot's size.
const SLOT: u64 = 8 << 20;

/// A VM with the two slots, our `limina`, and (x86_64, whose Debian
/// busybox has no `chrt`) util-linux's `chrt`.
fn flash_config(machine: Machine, name: &str) -> VmConfig {
    let mut cfg = VmConfig::new(machine, name).check("config");
    PersistentFlash::new(ES)
        .device("firmware", SLOT)
        .device("firmware-b", SLOT)
        .apply(&mut cfg)
        .check("persistent flash");
    cfg.monitor = true;
    let limina = guest_limina(machine).check("guest limina");
    cfg.initramfs
        .limina(&limina, &["flashcp", "flash_erase", "mtdinfo"]);
    if machine == Machine::X86_64 {
        cfg.initramfs
            .host_program("/usr/bin/chrt", "/usr/bin/chrt")
            .check("chrt");
    }
    cfg
}

/// `/dev/mtdN` of the MTD device named `name` (from `/proc/mtd`).
fn mtd_dev(vm: &mut Vm, name: &str) -> String {
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let line = proc_mtd
        .lines()
        .find(|l| l.ends_with(&format!("\"{name}\"")))
        .unwrap_or_else(|| panic!("no MTD device {name:?} in:\n{proc_mtd}"));
    let size = format!(": {SLOT:08x} {ES:08x} ");
    assert!(line.contains(&size), "{name}: expected {size:?} in {line}");
    format!("/dev/{}", line.split(':').next().check_some("mtd name"))
}

fn sha256(vm: &mut Vm, path: &str) -> String {
    let out = vm.run_ok(&format!("sha256sum < {path}")).check("sha256sum");
    out.split_whitespace()
        .next()
        .check_some("sha256sum output")
        .to_string()
}

/// Writes random data to both slots, cuts the power twice (from inside
/// with sysrq-b, from outside with the monitor's system_reset, the second
/// after erasing and rewriting part of a slot) and checks after each fresh
/// boot that the slots hold what was written, byte for byte.
fn persistent_flash_survives_a_power_cut(machine: Machine) {
    let mut vm = Vm::boot(flash_config(machine, "upgrade-phram")).check("boot");
    let a = mtd_dev(&mut vm, "firmware");
    let b = mtd_dev(&mut vm, "firmware-b");
    vm.run_ok(&format!(
        "dd if=/dev/urandom of=/tmp/a bs=64k count=128 2>/dev/null && \
         dd if=/dev/urandom of=/tmp/b bs=64k count=100 2>/dev/null && \
         flashcp /tmp/a {a} && flashcp /tmp/b {b}"
    ))
    .check("write random data");
    let before = (sha256(&mut vm, &a), sha256(&mut vm, &b));
    assert_eq!(before.0, sha256(&mut vm, "/tmp/a"), "{a} holds /tmp/a");
    let boot_id = vm
        .run_ok("cat /proc/sys/kernel/random/boot_id")
        .check("boot id");

    vm.reboot_hard().check("power cut (sysrq-b)");
    assert_eq!(vm.boots(), 2);
    let boot_id2 = vm
        .run_ok("cat /proc/sys/kernel/random/boot_id")
        .check("boot id");
    assert_ne!(boot_id, boot_id2, "a fresh kernel after the reset");
    assert_eq!(
        vm.run_ok("ls /tmp | wc -l").check("tmp"),
        "0",
        "the old tmpfs is gone"
    );
    let a2 = mtd_dev(&mut vm, "firmware");
    let b2 = mtd_dev(&mut vm, "firmware-b");
    let after = (sha256(&mut vm, &a2), sha256(&mut vm, &b2));
    assert_eq!(before, after, "{machine}: the slots changed across sysrq-b");

    // Erase block 5 of the first slot and write 1000 bytes into block 9;
    // then the reset from outside.
    vm.run_ok(&format!(
        "flash_erase {a2} $((5 * 65536)) 1 && \
         dd if=/dev/urandom of=/tmp/x bs=1000 count=1 2>/dev/null && \
         flash_erase {a2} $((9 * 65536)) 1 && \
         dd if=/tmp/x of={a2} bs=65536 seek=9 conv=notrunc 2>/dev/null"
    ))
    .check("erase and write");
    let before = sha256(&mut vm, &a2);
    assert_ne!(before, after.0);
    vm.system_reset().check("power cut (monitor system_reset)");
    assert_eq!(vm.boots(), 3);
    let a3 = mtd_dev(&mut vm, "firmware");
    assert_eq!(
        sha256(&mut vm, &a3),
        before,
        "{machine}: the slot changed across system_reset"
    );
    let erased = vm
        .run_ok(&format!(
            "dd if={a3} bs=65536 skip=5 count=1 2>/dev/null | tr -d '\\377' | wc -c"
        ))
        .check("erased block");
    assert_eq!(erased, "0", "block 5 is still erased");
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn persistent_flash_survives_a_power_cut_x86_64() {
    persistent_flash_survives_a_power_cut(Machine::X86_64);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn persistent_flash_survives_a_power_cut_big_endian_mips() {
    persistent_flash_survives_a_power_cut(Machine::Mips);
}

/// The kernel's erase blocks and the root file system's in each image.
const KERNEL_BLOCKS: usize = 4;

/// A firmware.bin as the build makes it (OpenWrt's layout): `mkimage`'s
/// uImage of a kernel (`kernel` bytes, filling [`KERNEL_BLOCKS`] blocks
/// less a little), padded with 0xff to the next erase block, then
/// `mksquashfs`' image of one incompressible file (`rootfs` bytes, so the
/// squashfs keeps it uncompressed and a changed byte changes one block).
/// Inputs are fixed (SOURCE_DATE_EPOCH, -mkfs-time, -all-root), so the
/// same bytes give the same image.
fn firmware(
    dir: &std::path::Path,
    name: &str,
    version: &str,
    kernel: &[u8],
    rootfs: &[u8],
) -> Vec<u8> {
    use std::process::Command;
    let work = dir.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("root")).check("image dir");
    std::fs::write(work.join("kernel"), kernel).check("kernel");
    std::fs::write(work.join("root/data"), rootfs).check("rootfs data");
    host_run(
        Command::new("mkimage")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["-A", "mips", "-O", "linux", "-T", "kernel", "-C", "none"])
            .args(["-a", "0x80060000", "-e", "0x80060000", "-n", version, "-d"])
            .arg(work.join("kernel"))
            .arg(work.join("uImage")),
    );
    host_run(
        Command::new("mksquashfs")
            .arg(work.join("root"))
            .arg(work.join("root.squashfs"))
            .args(["-noappend", "-no-fragments", "-all-root", "-quiet"])
            .args(["-no-progress", "-mkfs-time", "0", "-all-time", "0"]),
    );
    let mut image = std::fs::read(work.join("uImage")).check("uImage");
    assert!(image.len() <= KERNEL_BLOCKS * ES as usize);
    image.resize(KERNEL_BLOCKS * ES as usize, 0xff);
    image.extend(std::fs::read(work.join("root.squashfs")).check("squashfs"));
    std::fs::write(dir.join(format!("{name}.bin")), &image).check("firmware.bin");
    image
}

/// `old`, `new` (every block different) and `one` (`old` with one byte of
/// the root file system changed: one block different), all of the same
/// length.
struct Images {
    old: Vec<u8>,
    new: Vec<u8>,
    one: Vec<u8>,
}

fn images(dir: &std::path::Path) -> Images {
    let klen = KERNEL_BLOCKS * ES as usize - 30_000;
    let rlen = 3 * ES as usize + 5000;
    let old_root = bytes(rlen, 2);
    let mut one_root = old_root.clone();
    one_root[ES as usize + 1234] ^= 0x01;
    let imgs = Images {
        old: firmware(dir, "old", "limina 1", &bytes(klen, 1), &old_root),
        new: firmware(dir, "new", "limina 2", &bytes(klen, 3), &bytes(rlen, 4)),
        one: firmware(dir, "one", "limina 1", &bytes(klen, 1), &one_root),
    };
    assert_eq!(imgs.old.len(), imgs.new.len());
    assert_eq!(imgs.old.len(), imgs.one.len());
    let differ = |a: &[u8], b: &[u8]| {
        a.chunks(ES as usize)
            .zip(b.chunks(ES as usize))
            .filter(|(x, y)| x != y)
            .count()
    };
    let blocks = imgs.old.len().div_ceil(ES as usize);
    assert_eq!(
        differ(&imgs.old, &imgs.new),
        blocks,
        "old and new differ everywhere"
    );
    assert_eq!(
        differ(&imgs.old, &imgs.one),
        1,
        "old and one differ in one block"
    );
    imgs
}

/// One progress line of `limina upgrade -v`:
/// `upgrade: <slot> <erase|write|verify> block <N> (<done>/<total>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Op {
    slot: String,
    stage: String,
    block: usize,
}

fn parse_op(line: &str) -> Option<Op> {
    let rest = line.trim().strip_prefix("upgrade: ")?;
    let w: Vec<&str> = rest.split_whitespace().collect();
    match w[..] {
        [slot, stage, "block", n, _]
            if ["primary", "fallback"].contains(&slot)
                && ["erase", "write", "verify"].contains(&stage) =>
        {
            Some(Op {
                slot: slot.to_string(),
                stage: stage.to_string(),
                block: n.parse().ok()?,
            })
        }
        _ => None,
    }
}

/// What `limina upgrade --status` says: per slot, the image's sha256 when
/// valid; and which slot the boot loader boots.
#[derive(Debug)]
struct Status {
    primary: Option<String>,
    fallback: Option<String>,
    boots: String,
}

fn status(vm: &mut Vm, single: bool) -> Status {
    let cmd = if single {
        "limina upgrade --status --single"
    } else {
        "limina upgrade --status"
    };
    let out = vm.run_ok(cmd).check(cmd);
    let slot = |name: &str| -> Option<String> {
        let line = out.lines().find(|l| l.starts_with(&format!("{name} ")))?;
        let valid = line.contains(": valid, ");
        assert!(
            valid || line.contains(": invalid"),
            "{cmd}: neither valid nor invalid: {line}"
        );
        valid.then(|| {
            line.split(", ")
                .find_map(|f| f.strip_prefix("sha256 "))
                .check_some("sha256 of a valid slot")
                .to_string()
        })
    };
    let primary = slot("primary");
    let fallback = slot("fallback");
    assert!(out.starts_with("primary "), "{cmd}: {out}");
    assert_eq!(
        out.contains("\nfallback "),
        !single,
        "{cmd}: a fallback line exactly with two slots: {out}"
    );
    let boots = out
        .lines()
        .find_map(|l| l.strip_prefix("boots: "))
        .check_some("boots: line")
        .to_string();
    Status {
        primary,
        fallback,
        boots,
    }
}

/// The sha256 of each erase block of the first `len` bytes (a multiple
/// of 4 KiB) of each of `srcs` (files or devices), in one guest command:
/// `dd` copies the blocks out (from a file or device: a pipe's short reads
/// would count as blocks), one `sha256sum` hashes them all.
fn block_hashes(vm: &mut Vm, srcs: &[&str], len: usize) -> Vec<Vec<String>> {
    assert_eq!(len % 4096, 0, "image length {len}");
    let blocks = len.div_ceil(ES as usize);
    let mut cmd = String::from("rm -rf /tmp/bm && mkdir /tmp/bm");
    for (j, src) in srcs.iter().enumerate() {
        for i in 0..blocks {
            let pages = (len - i * ES as usize).min(ES as usize) / 4096;
            cmd.push_str(&format!(
                " && dd if={src} of=/tmp/bm/{j:02}-{i:03} bs=4096 skip={} count={pages} 2>/dev/null",
                i * 16
            ));
        }
    }
    cmd.push_str(" && sha256sum /tmp/bm/*");
    let out = vm.run_ok(&cmd).check("block hashes");
    let mut hashes = vec![vec![String::new(); blocks]; srcs.len()];
    for line in out.lines() {
        let (hash, name) = line.split_once("  /tmp/bm/").check_some("sha256sum line");
        let (j, i) = name.split_once('-').check_some("block file name");
        let (j, i): (usize, usize) = (j.parse().check("slot"), i.parse().check("block"));
        hashes[j][i] = hash.to_string();
    }
    hashes
}

/// Per block of the image in each slot: 'O' old, 'N' new, '=' the same
/// in both, 'E' erased, 'X' anything else (torn).
fn block_map(vm: &mut Vm, devs: &[String], reference: &BlockRef) -> Vec<String> {
    let srcs: Vec<&str> = devs.iter().map(String::as_str).collect();
    block_hashes(vm, &srcs, reference.len)
        .into_iter()
        .map(|slot| {
            slot.iter()
                .enumerate()
                .map(|(i, h)| reference.letter(i, h))
                .collect::<String>()
        })
        .collect()
}

/// The per-block hashes of the old and new images and of erased blocks,
/// computed in the guest by the same commands as [`block_map`].
struct BlockRef {
    len: usize,
    old: Vec<String>,
    new: Vec<String>,
    erased: Vec<String>,
}

impl BlockRef {
    fn new(vm: &mut Vm, old: &str, new: &str, len: usize) -> BlockRef {
        vm.run_ok(&format!(
            "head -c {len} /dev/zero | tr '\\0' '\\377' > /tmp/erased.bin"
        ))
        .check("an erased image");
        let mut h = block_hashes(vm, &[old, new, "/tmp/erased.bin"], len).into_iter();
        BlockRef {
            len,
            old: h.next().check_some("old hashes"),
            new: h.next().check_some("new hashes"),
            erased: h.next().check_some("erased hashes"),
        }
    }

    fn letter(&self, i: usize, h: &str) -> char {
        let (o, n) = (self.old.get(i), self.new.get(i));
        if o.is_some_and(|o| o == h) && n.is_some_and(|n| n == h) {
            '='
        } else if o.is_some_and(|o| o == h) {
            'O'
        } else if n.is_some_and(|n| n == h) {
            'N'
        } else if self.erased.get(i).is_some_and(|e| e == h) {
            'E'
        } else {
            'X'
        }
    }

    /// The map of a slot holding the old image.
    fn start(&self) -> String {
        self.old
            .iter()
            .zip(&self.new)
            .map(|(o, n)| if o == n { '=' } else { 'O' })
            .collect()
    }

    fn after_write(&self, i: usize) -> char {
        if self.old[i] == self.new[i] {
            '='
        } else {
            'N'
        }
    }
}

/// The slots' maps after the first `m` operations of `ops`, from the old
/// image in every slot.
fn simulate(ops: &[Op], m: usize, slots: &[&str], reference: &BlockRef) -> Vec<String> {
    let mut maps: Vec<Vec<char>> = slots
        .iter()
        .map(|_| reference.start().chars().collect())
        .collect();
    for op in &ops[..m] {
        if let Some(s) = slots.iter().position(|s| *s == op.slot) {
            match op.stage.as_str() {
                "erase" => maps[s][op.block] = 'E',
                "write" => maps[s][op.block] = reference.after_write(op.block),
                _ => {}
            }
        }
    }
    maps.into_iter().map(|m| m.into_iter().collect()).collect()
}

/// The outcome of one kind of run.
#[derive(Default)]
struct Tally {
    cuts: usize,
    old: usize,
    new: usize,
    neither: usize,
    /// Cuts whose flash matched the state right after the line (the
    /// writer had not gone on); others went `n` operations further.
    exact: usize,
    later: Vec<(usize, usize)>,
    torn: usize,
}

/// Cuts the power after each erase and write line (and after the last
/// line) of `limina upgrade -v -f IMAGE` from `old` in both slots,
/// classifies what the boot loader model boots after the fresh boot, and
/// checks that a rerun completes.
fn cut_everywhere(
    vm: &mut Vm,
    devs: &[String; 2],
    image: &str,
    single: bool,
    reference: &BlockRef,
    sha_old: &str,
    sha_new: &str,
) -> Tally {
    let mode = if single { " --single" } else { "" };
    let slots: &[&str] = if single {
        &["primary"]
    } else {
        &["primary", "fallback"]
    };
    let used_devs: Vec<String> = devs[..slots.len()].to_vec();
    let restore = format!(
        "flashcp -p /img/old.bin {} && flashcp -p /img/old.bin {}",
        devs[0], devs[1]
    );
    let upgrade = format!("limina upgrade -v -f{mode} {image}");

    // The operations, from an uncut run.
    vm.run_ok(&restore).check("load the old image");
    let out = vm.run_ok(&format!("{upgrade} 2>&1")).check("uncut upgrade");
    let ops: Vec<Op> = out.lines().filter_map(parse_op).collect();
    assert!(out.contains("upgrade: done: "), "{out}");
    assert!(!ops.is_empty(), "no progress lines:\n{out}");
    let mut cuts: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.stage != "verify")
        .map(|(i, _)| i + 1)
        .collect();
    cuts.push(ops.len());
    cuts.dedup();

    let mut t = Tally::default();
    for &k in &cuts {
        vm.run_ok(&restore).check("load the old image");
        // The cut: a SCHED_FIFO shell reads the progress lines and, at
        // the k-th, resets the machine. On the guest's one CPU a line
        // written by the (SCHED_OTHER) upgrade wakes the reader, which
        // preempts the writer as its write(2) returns: the writer cannot
        // start the operation the line announces. The reader runs first
        // (the whole pipeline starts real-time, the writer drops to
        // SCHED_OTHER with `chrt -o` before `limina` starts), and prints
        // nothing before the reset (a console write could block it and
        // let the writer run on). Whether the flash was cut exactly there
        // is checked below against the operations of the uncut run.
        let cut = format!(
            "chrt -f 50 sh -c 'chrt -o 0 {upgrade} 2>&1 >/dev/null | {{ n=0; while IFS= read -r l; do \
             case \"$l\" in *\" block \"*) n=$((n + 1)); \
             if [ $n -eq {k} ]; then echo b > /proc/sysrq-trigger; fi;; esac; done; }}'"
        );
        vm.run_until_reset(&cut, Duration::from_secs(120))
            .check(&format!("cut after line {k}"));
        let st = status(vm, single);
        let map = block_map(vm, &used_devs, reference);
        let booted = match (&st.primary, &st.fallback) {
            (Some(p), _) => Some(("primary", p.clone())),
            (None, Some(f)) if !single => Some(("fallback", f.clone())),
            _ => None,
        };
        assert_eq!(
            st.boots.split_whitespace().next(),
            Some(booted.as_ref().map_or("nothing", |b| b.0)),
            "the status's boots: line"
        );
        t.cuts += 1;
        let what = match &booted {
            Some((slot, sha)) if sha == sha_old => {
                let i = slots.iter().position(|s| s == slot).check_some("slot");
                assert!(
                    map[i].chars().all(|c| c == 'O' || c == '='),
                    "{slot} valid old but {}",
                    map[i]
                );
                t.old += 1;
                "old"
            }
            Some((slot, sha)) if sha == sha_new => {
                let i = slots.iter().position(|s| s == slot).check_some("slot");
                assert!(
                    map[i].chars().all(|c| c == 'N' || c == '='),
                    "{slot} valid new but {}",
                    map[i]
                );
                t.new += 1;
                "new"
            }
            _ => {
                t.neither += 1;
                "NEITHER"
            }
        };
        let precise = (k - 1..=ops.len())
            .find(|&m| simulate(&ops, m, slots, reference) == map)
            .map(|m| m - (k - 1));
        match precise {
            Some(0) => t.exact += 1,
            Some(j) => t.later.push((k, j)),
            None => t.torn += 1,
        }
        eprintln!(
            "{} cut after line {k:2} ({:?}): slots {:?} -> boots {what}{}",
            vm.machine(),
            ops[k - 1],
            map,
            match precise {
                Some(0) => String::new(),
                Some(j) => format!(" (the writer was {j} operations past the line)"),
                None => " (the flash matches no state between operations)".to_string(),
            }
        );
        let out = vm
            .run_ok(&format!("{upgrade} 2>&1"))
            .check("rerun after the cut");
        assert!(out.contains("upgrade: done: "), "{out}");
        let st = status(vm, single);
        assert_eq!(st.primary.as_deref(), Some(sha_new), "after the rerun");
        if !single {
            assert_eq!(st.fallback.as_deref(), Some(sha_new), "after the rerun");
        }
    }
    t
}

/// One row of the table per kind.
fn table_row(machine: Machine, kind: &str, t: &Tally) -> String {
    let later = if t.later.is_empty() {
        String::new()
    } else {
        format!(
            ", later: {}",
            t.later
                .iter()
                .map(|(k, j)| format!("line {k} +{j}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "| {:<7} | {:<36} | {:>4} | {:>3} | {:>3} | {:>7} | {:>2} exact{}{} |",
        machine.name(),
        kind,
        t.cuts,
        t.old,
        t.new,
        t.neither,
        t.exact,
        later,
        if t.torn > 0 {
            format!(", {} torn", t.torn)
        } else {
            String::new()
        }
    )
}

/// The power-cut test on one machine: three kinds of upgrade, every cut
/// point of each; prints the table (and keeps it in the work directory).
fn power_cut_at_every_boundary(machine: Machine) {
    let started = std::time::Instant::now();
    let dir = limina_board_tests::build_dir()
        .join("board-tests")
        .join(format!("{machine}-upgrade-images"));
    std::fs::create_dir_all(&dir).check("image dir");
    let imgs = images(&dir);
    let mut cfg = flash_config(machine, "upgrade-power-cut");
    cfg.initramfs
        .bytes("/img/old.bin", imgs.old.clone(), 0o644)
        .bytes("/img/new.bin", imgs.new.clone(), 0o644)
        .bytes("/img/one.bin", imgs.one.clone(), 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    let devs = [mtd_dev(&mut vm, "firmware"), mtd_dev(&mut vm, "firmware-b")];
    let sha = |vm: &mut Vm, f: &str| sha256(vm, f);
    let (sha_old, sha_new, sha_one) = (
        sha(&mut vm, "/img/old.bin"),
        sha(&mut vm, "/img/new.bin"),
        sha(&mut vm, "/img/one.bin"),
    );
    let len = imgs.old.len();
    let many = BlockRef::new(&mut vm, "/img/old.bin", "/img/new.bin", len);
    let one = BlockRef::new(&mut vm, "/img/old.bin", "/img/one.bin", len);
    let blocks = len.div_ceil(ES as usize);
    let kinds = [
        (
            format!("one slot (--single), {blocks} of {blocks} differ"),
            "/img/new.bin",
            true,
            &many,
            &sha_new,
        ),
        (
            format!("two slots, {blocks} of {blocks} blocks differ"),
            "/img/new.bin",
            false,
            &many,
            &sha_new,
        ),
        (
            format!("two slots, 1 of {blocks} blocks differs"),
            "/img/one.bin",
            false,
            &one,
            &sha_one,
        ),
    ];
    let mut rows = Vec::new();
    let mut tallies = Vec::new();
    for (kind, image, single, reference, sha_target) in kinds {
        let t = cut_everywhere(
            &mut vm, &devs, image, single, reference, &sha_old, sha_target,
        );
        rows.push(table_row(machine, &kind, &t));
        tallies.push((single, t));
    }
    let boots = vm.boots();
    vm.poweroff().check("poweroff");
    let mut table = format!(
        "\npower cuts during `limina upgrade -v -f` ({machine}, phram NOR slots of 8 MiB, 64 KiB blocks, \
         image {len} bytes = {blocks} blocks; {boots} boots, {:.0} s):\n\n\
         | machine | kind                                 | cuts | old | new | neither | cut precision |\n\
         |---------|--------------------------------------|------|-----|-----|---------|---------------|\n",
        started.elapsed().as_secs_f64()
    );
    for r in rows {
        table.push_str(&r);
        table.push('\n');
    }
    println!("{table}");
    std::fs::write(dir.join("table.md"), &table).check("table");
    for (single, t) in &tallies {
        assert_eq!(t.old + t.new + t.neither, t.cuts);
        assert_eq!(
            t.exact, t.cuts,
            "{machine}: every cut must land right after its line (else that cut point went untested)"
        );
        if !single {
            assert_eq!(
                t.neither, 0,
                "{machine}: a power cut left no bootable image with two slots"
            );
        }
    }
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn power_cut_at_every_boundary_x86_64() {
    power_cut_at_every_boundary(Machine::X86_64);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn power_cut_at_every_boundary_big_endian_mips() {
    power_cut_at_every_boundary(Machine::Mips);
}

/// Bad images for `limina upgrade` with a key configured (the default
/// /etc/limina/signing.pub): each is refused with its message before the
/// first erase, and both slots are byte-identical afterwards. Keys and
/// signatures are made as `limina-host sign keygen`/`sign` makes them
/// (the same library), with `board:` in the signed trusted comment.
fn bad_images_are_refused(machine: Machine) {
    use limina_sign::SecretKey;
    let dir = limina_board_tests::build_dir()
        .join("board-tests")
        .join(format!("{machine}-upgrade-bad-images"));
    std::fs::create_dir_all(&dir).check("image dir");
    let imgs = images(&dir);
    let key = SecretKey::generate().check("keygen");
    let other_key = SecretKey::generate().check("keygen");
    let sign = |k: &SecretKey, data: &[u8], board: &str| -> String {
        k.sign(
            data,
            &format!("timestamp:1\tfile:firmware.bin\tboard:{board}"),
        )
        .check("sign")
        .to_text()
    };
    // The board a malta kernel's device tree names.
    let board = "mti,malta";
    let good = imgs.old.clone();
    let mut flipped = good.clone();
    flipped[KERNEL_BLOCKS * ES as usize + ES as usize + 77] ^= 0x10;
    let truncated = good[..good.len() - 70_000].to_vec();
    let mut oversized = good.clone();
    oversized.resize(SLOT as usize + ES as usize, 0xff);
    let good_sig = sign(&key, &good, board);

    let mut cfg = flash_config(machine, "upgrade-bad-images");
    cfg.initramfs
        .bytes("/etc/limina/signing.pub", key.public_key().to_text(), 0o644)
        .bytes("/img/new.bin", imgs.new.clone(), 0o644)
        .bytes("/img/good.bin", good.clone(), 0o644)
        .bytes("/img/good.bin.minisig", good_sig.clone(), 0o644)
        .bytes("/img/unsigned.bin", good.clone(), 0o644)
        .bytes("/img/wrongkey.bin", good.clone(), 0o644)
        .bytes(
            "/img/wrongkey.bin.minisig",
            sign(&other_key, &good, board),
            0o644,
        )
        .bytes("/img/flipped.bin", flipped, 0o644)
        .bytes("/img/flipped.bin.minisig", good_sig.clone(), 0o644)
        .bytes("/img/truncated.bin", truncated, 0o644)
        .bytes("/img/truncated.bin.minisig", good_sig.clone(), 0o644)
        .bytes(
            "/img/oversized.bin.minisig",
            sign(&key, &oversized, board),
            0o644,
        )
        .bytes("/img/oversized.bin", oversized, 0o644)
        .bytes("/img/otherboard.bin", good.clone(), 0o644)
        .bytes(
            "/img/otherboard.bin.minisig",
            sign(&key, &good, "glinet,gl-ar750"),
            0o644,
        );
    let mut vm = Vm::boot(cfg).check("boot");
    let devs = [mtd_dev(&mut vm, "firmware"), mtd_dev(&mut vm, "firmware-b")];
    vm.run_ok(&format!(
        "flashcp /img/new.bin {} && flashcp /img/new.bin {}",
        devs[0], devs[1]
    ))
    .check("load the new image into both slots");
    let has_dt = vm
        .run("test -e /proc/device-tree/compatible")
        .check("device tree")
        .0
        == 0;
    let compatible = if has_dt {
        vm.run_ok("tr '\\0' ' ' < /proc/device-tree/compatible")
            .check("compatible")
    } else {
        "(no device tree)".to_string()
    };
    eprintln!("{machine}: /proc/device-tree/compatible: {compatible}");
    let slots = |vm: &mut Vm| (sha256(vm, &devs[0]), sha256(vm, &devs[1]));
    let before = slots(&mut vm);
    let other_board = if has_dt {
        "the image is for board \"glinet,gl-ar750\", this board is"
    } else {
        "this system has no device tree naming its board"
    };
    let cases = [
        (
            "/img/unsigned.bin",
            "refused: unsigned: the image has no signature",
        ),
        ("/img/wrongkey.bin", "refused: signature"),
        ("-f /img/wrongkey.bin", "refused: signature"),
        ("/img/flipped.bin", "refused: signature"),
        ("/img/truncated.bin", "refused: "),
        (
            "/img/oversized.bin",
            "the image is larger than 8388608 bytes",
        ),
        ("/img/otherboard.bin", other_board),
    ];
    let mut report = String::new();
    for (args, expect) in cases {
        let cmd = format!("limina upgrade {args}");
        let (rc, out) = vm.run(&format!("{cmd} 2>&1")).check(&cmd);
        report.push_str(&format!("{cmd}: exit {rc}: {out}\n"));
        assert_eq!(rc, 1, "{cmd}: {out}");
        assert!(out.contains(expect), "{cmd}: expected {expect:?} in {out}");
        assert!(out.contains("nothing was written"), "{cmd}: {out}");
        assert_eq!(slots(&mut vm), before, "{cmd} changed the flash");
    }
    // The good image: written on a board its signature names; without a
    // device tree only with -f (the signature is checked all the same).
    let sha_good = sha256(&mut vm, "/img/good.bin");
    let (rc, out) = vm
        .run("limina upgrade /img/good.bin 2>&1")
        .check("good image");
    report.push_str(&format!("limina upgrade /img/good.bin: exit {rc}: {out}\n"));
    if has_dt {
        assert_eq!(rc, 0, "{out}");
    } else {
        assert_eq!(rc, 1, "{out}");
        assert!(out.contains(other_board), "{out}");
        assert_eq!(slots(&mut vm), before);
        let out = vm
            .run_ok("limina upgrade -f /img/good.bin 2>&1")
            .check("good image, -f");
        assert!(out.contains("signed by key"), "{out}");
        report.push_str(&format!("limina upgrade -f /img/good.bin: exit 0: {out}\n"));
    }
    let st = status(&mut vm, false);
    assert_eq!(st.primary.as_deref(), Some(sha_good.as_str()));
    assert_eq!(st.fallback.as_deref(), Some(sha_good.as_str()));
    println!("\n{machine}: bad images, each refused with the flash unchanged:\n{report}");
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn bad_images_are_refused_x86_64() {
    bad_images_are_refused(Machine::X86_64);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn bad_images_are_refused_big_endian_mips() {
    bad_images_are_refused(Machine::Mips);
}

/// The reboot facility's misuse and failure modes end with errors that say
/// what to set, and leave the guest usable where they can.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn reboot_misuse_is_named() {
    use limina_board_tests::Error;
    // Without allow_reboot, QEMU runs with -no-reboot: refused up front.
    let cfg = VmConfig::new(Machine::Mips, "reboot-misuse").check("config");
    let mut vm = Vm::boot(cfg).check("boot");
    let err = vm
        .reboot_hard()
        .err()
        .check_some("reboot_hard without allow_reboot");
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("allow_reboot"), "{err}");
    vm.poweroff().check("poweroff");

    let mut cfg = VmConfig::new(Machine::Mips, "reboot-misuse").check("config");
    cfg.allow_reboot = true;
    let mut vm = Vm::boot(cfg).check("boot");
    let err = vm
        .system_reset()
        .err()
        .check_some("system_reset without a monitor");
    assert!(err.to_string().contains("VmConfig::monitor"), "{err}");
    // A command that finishes instead of resetting: its status and output.
    let err = vm
        .run_until_reset("echo still here; false", Duration::from_secs(30))
        .err()
        .check_some("a command that does not reset");
    match &err {
        Error::NoReset { status, output, .. } => {
            assert_eq!(*status, 1, "{err}");
            assert_eq!(output, "still here", "{err}");
        }
        e => panic!("expected NoReset, got {e}"),
    }
    assert_eq!(vm.run_ok("echo ok").check("still usable"), "ok");
    assert_eq!(vm.boots(), 1);
    vm.poweroff().check("poweroff");
}
