//! Power cuts during a UBI A/B upgrade (`limina upgrade --ubi`), on real
//! kernels (issue 14).
//!
//! UBI cannot attach to a `phram` device: phram leaves the MTD's
//! `writebufsize` at 0 and UBI refuses it ("bad write buffer size 0 for 1
//! min. I/O unit"; phram.c is the same in Linux 6.1 and 6.18). So UBI
//! runs on `mtdram` (8 MiB, 128 KiB erase blocks, write size 1: a LEB is
//! 130944 bytes), whose contents die with the kernel, and a power cut is
//! made of two parts: at the cut point a real-time shell copies the whole
//! mtdram, raw, into a `phram` device of the same size
//! ([`PersistentFlash`]) -- the flash as it is at that instant, with
//! nothing else running -- and resets the guest at once (sysrq-b: the
//! kernel, its caches, every process and UBI's state in RAM are gone).
//! The fresh boot copies the snapshot into its fresh mtdram, our `ubinfo`
//! scans it raw, `ubiattach` attaches it, and `limina upgrade --status
//! --ubi` and the kernel's own sysfs and volume nodes say what the boot
//! would find.
//!
//! nandsim would be the closer model of a NAND router, but its contents
//! do not survive the reset either, and a raw copy of NAND needs its
//! page states kept; UBI's update marker and its atomic LEB change (on
//! which the rename rests) work the same on NOR-like MTD.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use limina_board_tests::{guest_limina, Machine, PersistentFlash, Vm, VmConfig};

use crate::common::{bytes, Check, CheckSome};

/// mtdram's erase block (the MIPS kernel's built-in `CONFIG_MTDRAM_*`;
/// the same parameters for the x86_64 module).
const ES: u32 = 128 * 1024;
/// mtdram's size, and the snapshot's.
const FLASH: u64 = 8 << 20;
/// Each volume's size in LEBs.
const VOL_LEBS: u64 = 20;
/// A LEB on this flash: the erase block less the EC and VID headers (64
/// bytes each at a write size of 1).
const LEB: u64 = ES as u64 - 128;

/// `mksquashfs`' image of one incompressible file of `len` bytes, with
/// fixed times, as the build makes a root file system image.
fn squashfs(dir: &Path, name: &str, len: usize, seed: u32) -> Vec<u8> {
    let work = dir.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("root")).check("image dir");
    std::fs::write(work.join("root/data"), bytes(len, seed)).check("data");
    let out = Command::new("mksquashfs")
        .arg(work.join("root"))
        .arg(work.join("rootfs.squashfs"))
        .args(["-noappend", "-no-fragments", "-all-root", "-quiet"])
        .args(["-no-progress", "-mkfs-time", "0", "-all-time", "0"])
        .output()
        .check("mksquashfs");
    assert!(
        out.status.success(),
        "mksquashfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(work.join("rootfs.squashfs")).check("squashfs")
}

/// SHA-256 of `data` by the host's `sha256sum`.
fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .check("sha256sum");
    child
        .stdin
        .take()
        .check_some("stdin")
        .write_all(data)
        .check("sha256sum input");
    let out = child.wait_with_output().check("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .check_some("sha256sum output")
        .to_string()
}

/// `/dev/mtdN` of the MTD device named `name`.
fn mtd_dev(vm: &mut Vm, name: &str) -> String {
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let line = proc_mtd
        .lines()
        .find(|l| l.ends_with(&format!("\"{name}\"")))
        .unwrap_or_else(|| panic!("no MTD device {name:?} in:\n{proc_mtd}"));
    format!("/dev/{}", line.split(':').next().check_some("mtd name"))
}

/// What the kernel and `--status` say after a reattach.
#[derive(Debug)]
struct Seen {
    /// sha256 of the volume named rootfs, read by `head -c LEN` of its
    /// node (None: unreadable).
    rootfs: Option<String>,
    /// The same for rootfs_b, or its state ("upd_marker", "unreadable").
    rootfs_b: String,
    /// LEBs of rootfs_b on the raw flash before the attach (our
    /// inspector).
    lebs_b: Option<u64>,
}

/// Reattaches `mtd` as ubi0 after a fresh boot and reads what the boot
/// would find; checks that exactly one volume is named rootfs and that
/// `--status` agrees with the kernel's volume nodes.
fn reattach_and_look(vm: &mut Vm, mtd: &str, snap: &str, len: usize) -> Seen {
    // The flash as it was at the cut, into the fresh kernel's mtdram.
    vm.run_ok(&format!("dd if={snap} of={mtd} bs=128k 2>/dev/null"))
        .check("restore the snapshot");
    // The raw flash first: the inspector's count of rootfs_b's LEBs.
    let info = vm.run_ok(&format!("ubinfo {mtd}")).check("ubinfo raw");
    let lebs_b = info
        .lines()
        .find(|l| l.contains("\"rootfs_b\":"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|f| f.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let num = mtd.trim_start_matches("/dev/mtd");
    vm.run_ok(&format!("ubiattach -m {num} -d 0"))
        .check("ubiattach after the cut");
    let names = vm
        .run_ok("cat /sys/class/ubi/ubi0/ubi0_*/name")
        .check("volume names");
    let count = |n: &str| names.lines().filter(|l| *l == n).count();
    assert_eq!(count("rootfs"), 1, "exactly one rootfs: {names}");
    assert_eq!(count("rootfs_b"), 1, "exactly one rootfs_b: {names}");
    let node = |vm: &mut Vm, name: &str| -> (String, bool) {
        let out = vm
            .run_ok(&format!(
                "for d in /sys/class/ubi/ubi0/ubi0_*; do if [ \"$(cat $d/name)\" = {name} ]; then \
                 echo ${{d##*/}} $(cat $d/upd_marker); fi; done"
            ))
            .check("volume by name");
        let (n, marker) = out.split_once(' ').check_some("node and marker");
        (format!("/dev/{n}"), marker == "1")
    };
    let read = |vm: &mut Vm, dev: &str| -> Option<String> {
        let (rc, out) = vm
            .run(&format!(
                "head -c {len} {dev} > /tmp/vol && [ $(wc -c < /tmp/vol) -eq {len} ] && sha256sum < /tmp/vol"
            ))
            .check("read a volume");
        (rc == 0).then(|| out.split_whitespace().next().unwrap_or("").to_string())
    };
    let (a, a_marker) = node(vm, "rootfs");
    assert!(!a_marker, "the active volume has its update marker set");
    let rootfs = read(vm, &a);
    let (b, b_marker) = node(vm, "rootfs_b");
    let rootfs_b = if b_marker {
        assert!(
            read(vm, &b).is_none(),
            "a volume with its update marker set was readable"
        );
        "upd_marker".to_string()
    } else {
        read(vm, &b).unwrap_or_else(|| "unreadable".to_string())
    };
    // --status says the same.
    let st = vm.run_ok("limina upgrade --status --ubi 0").check("status");
    match &rootfs {
        Some(sha) => {
            assert!(
                st.contains(&format!(
                    "active rootfs ({a}): valid, {len} bytes, sha256 {sha}"
                )),
                "{st}"
            );
            assert!(st.contains(&format!("boots: volume {}", &a[10..])), "{st}");
        }
        None => assert!(st.contains("boots: nothing"), "{st}"),
    }
    if b_marker {
        assert!(
            st.contains("inactive rootfs_b") && st.contains("upd_marker"),
            "{st}"
        );
    }
    Seen {
        rootfs,
        rootfs_b,
        lebs_b,
    }
}

/// One progress line of `limina upgrade -v --ubi 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `update volume I: W/T bytes`.
    Update(u64, u64),
    /// `verify volume I`.
    Verify,
    /// `rename: ...` (the ioctl comes next).
    Rename,
    /// `renamed: ...` (the ioctl returned).
    Renamed,
}

fn parse_line(l: &str) -> Option<Line> {
    let rest = l.trim().strip_prefix("upgrade: ubi0 ")?;
    if rest.starts_with("verify ") {
        Some(Line::Verify)
    } else if rest.starts_with("rename: ") {
        Some(Line::Rename)
    } else if rest.starts_with("renamed: ") {
        Some(Line::Renamed)
    } else {
        let (_, wt) = rest.strip_prefix("update volume ")?.split_once(": ")?;
        let (w, t) = wt.strip_suffix(" bytes")?.split_once('/')?;
        Some(Line::Update(w.parse().ok()?, t.parse().ok()?))
    }
}

/// The outcome of one cut.
struct Row {
    point: String,
    outcome: &'static str,
    inactive: String,
    precise: bool,
}

/// The test on one machine: format, make the volumes, cut the power after
/// every progress line of an upgrade (each a reboot), classify, rerun;
/// then bad inputs. Prints the table.
fn ubi_power_cuts(machine: Machine) {
    let started = std::time::Instant::now();
    let dir = limina_board_tests::build_dir()
        .join("board-tests")
        .join(format!("{machine}-upgrade-ubi-images"));
    std::fs::create_dir_all(&dir).check("image dir");
    let old = squashfs(&dir, "old", 1_200_000, 1);
    let new = squashfs(&dir, "new", 1_200_000, 2);
    let big = squashfs(&dir, "big", (VOL_LEBS * LEB) as usize + 20_000, 3);
    assert_eq!(old.len(), new.len(), "same-size images");
    let len = old.len();
    let (sha_old, sha_new) = (sha256_hex(&old), sha256_hex(&new));

    // Keys for the bad-input cases.
    use limina_sign::SecretKey;
    let key = SecretKey::generate().check("keygen");
    let other_key = SecretKey::generate().check("keygen");
    let sign = |k: &SecretKey, data: &[u8], board: &str| -> String {
        k.sign(
            data,
            &format!("timestamp:1\tfile:rootfs.squashfs\tboard:{board}"),
        )
        .check("sign")
        .to_text()
    };

    let mut cfg = VmConfig::new(machine, "upgrade-ubi").check("config");
    if machine == Machine::X86_64 {
        // Loaded before the phram devices are added: mtd0.
        cfg.initramfs.module(
            "mtdram",
            &format!("total_size={} erase_size={}", FLASH >> 10, ES >> 10),
        );
    }
    PersistentFlash::new(ES)
        .device("snap", FLASH)
        .apply(&mut cfg)
        .check("persistent flash");
    let limina = guest_limina(machine).check("guest limina");
    cfg.initramfs.limina(
        &limina,
        &[
            "ubiformat",
            "ubiattach",
            "ubimkvol",
            "ubiupdatevol",
            "ubinfo",
        ],
    );
    if machine == Machine::X86_64 {
        cfg.initramfs.module("ubi", "");
        cfg.initramfs
            .host_program("/usr/bin/chrt", "/usr/bin/chrt")
            .check("chrt");
    }
    cfg.initramfs
        .bytes("/img/old.sqfs", old.clone(), 0o644)
        .bytes("/img/new.sqfs", new.clone(), 0o644)
        .bytes("/img/test.pub", key.public_key().to_text(), 0o644)
        .bytes("/img/wrongkey.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/wrongkey.sqfs.minisig",
            sign(&other_key, &new, "mti,malta"),
            0o644,
        )
        .bytes("/img/otherboard.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/otherboard.sqfs.minisig",
            sign(&key, &new, "glinet,gl-ar750"),
            0o644,
        )
        .bytes(
            "/img/big.sqfs.minisig",
            sign(&key, &big, "mti,malta"),
            0o644,
        )
        .bytes("/img/good.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/good.sqfs.minisig",
            sign(&key, &new, "mti,malta"),
            0o644,
        )
        .bytes("/img/big.sqfs", big, 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    let mtd = mtd_dev(&mut vm, "mtdram test device");
    let snap = mtd_dev(&mut vm, "snap");
    let mtd_info = vm
        .run_ok(&format!(
            "cat /sys/class/mtd/{}/writesize /sys/class/mtd/{}/erasesize",
            &mtd[5..],
            &mtd[5..]
        ))
        .check("mtd geometry");
    eprintln!("{machine}: {mtd} (mtdram) writesize, erasesize: {mtd_info:?}");
    let num = mtd.trim_start_matches("/dev/mtd").to_string();
    vm.run_ok(&format!("ubiformat {mtd} -y")).check("ubiformat");
    let (rc, out) = vm
        .run(&format!("ubiattach -m {num} -d 0 2>&1 || {{ ubinfo {mtd} 2>&1 | head; dmesg | tail -15; false; }}"))
        .check("ubiattach");
    assert_eq!(rc, 0, "ubiattach after ubiformat:\n{out}");
    let geometry = vm
        .run_ok("cat /sys/class/ubi/ubi0/min_io_size /sys/class/ubi/ubi0/eraseblock_size")
        .check("ubi geometry");
    eprintln!("{machine}: ubi0 min_io_size, LEB size: {geometry:?}");
    assert_eq!(
        geometry.lines().nth(1),
        Some(LEB.to_string().as_str()),
        "LEB size"
    );
    vm.run_ok(&format!(
        "ubimkvol /dev/ubi0 -N rootfs -S {VOL_LEBS} -n 0 && ubimkvol /dev/ubi0 -N rootfs_b -S {VOL_LEBS} -n 1"
    ))
    .check("ubimkvol");
    let restore =
        "ubiupdatevol /dev/ubi0_0 /img/old.sqfs && ubiupdatevol /dev/ubi0_1 /img/old.sqfs";
    let upgrade = "limina upgrade -v -f --ubi 0 /img/new.sqfs";

    // The lines of an uncut run.
    vm.run_ok(restore).check("load the old image");
    let out = vm.run_ok(&format!("{upgrade} 2>&1")).check("uncut upgrade");
    assert!(
        out.contains("upgrade: done: ubi0: rootfs is volume 1"),
        "{out}"
    );
    let lines: Vec<Line> = out.lines().filter_map(parse_line).collect();
    assert!(
        lines
            .iter()
            .filter(|l| matches!(l, Line::Update(..)))
            .count()
            >= 5,
        "{out}"
    );
    let seen = {
        vm.run_until_reset(
            &format!("dd if={mtd} of={snap} bs=128k 2>/dev/null; echo b > /proc/sysrq-trigger"),
            Duration::from_secs(60),
        )
        .check("power cut after the uncut run");
        reattach_and_look(&mut vm, &mtd, &snap, len)
    };
    assert_eq!(seen.rootfs.as_deref(), Some(sha_new.as_str()), "uncut: new");
    assert_eq!(seen.rootfs_b, sha_old, "uncut: the old image in rootfs_b");

    let mut rows = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let k = k + 1;
        vm.run_ok(restore).check("load the old image");
        // As in upgrade.rs: a SCHED_FIFO reader of the progress lines
        // resets the machine at the k-th; on the guest's one CPU it
        // preempts the (SCHED_OTHER) upgrade as its write(2) of the line
        // returns, before the step the line announces; it copies the
        // flash out and resets with nothing else running.
        let cut = format!(
            "chrt -f 50 sh -c 'chrt -o 0 {upgrade} 2>&1 >/dev/null | {{ n=0; while IFS= read -r l; do \
             case \"$l\" in \"upgrade: ubi0 \"*) n=$((n + 1)); \
             if [ $n -eq {k} ]; then dd if={mtd} of={snap} bs=128k 2>/dev/null; \\
             echo b > /proc/sysrq-trigger; fi;; esac; done; }}'"
        );
        vm.run_until_reset(&cut, Duration::from_secs(120))
            .check(&format!("cut after line {k}"));
        let seen = reattach_and_look(&mut vm, &mtd, &snap, len);
        let outcome = match seen.rootfs.as_deref() {
            Some(s) if s == sha_old => "old",
            Some(s) if s == sha_new => "new",
            _ => "NEITHER",
        };
        let inactive = if seen.rootfs_b == sha_old {
            "old".to_string()
        } else if seen.rootfs_b == sha_new {
            "new".to_string()
        } else {
            seen.rootfs_b.clone()
        };
        // What the line promises.
        let (point, want, want_b, want_lebs) = match line {
            Line::Update(w, t) if w < t => (
                format!("update, {w} of {t} bytes handed over"),
                "old",
                "upd_marker",
                Some(w / LEB),
            ),
            Line::Update(_, t) => (format!("update complete ({t} bytes)"), "old", "new", None),
            Line::Verify => ("before the read-back".to_string(), "old", "new", None),
            Line::Rename => (
                "after the read-back, before the rename ioctl".to_string(),
                "old",
                "new",
                None,
            ),
            Line::Renamed => ("after the rename ioctl".to_string(), "new", "old", None),
        };
        let precise = outcome == want
            && inactive == want_b
            && want_lebs.is_none_or(|n| seen.lebs_b == Some(n));
        eprintln!(
            "{machine} cut after line {k} ({point}): rootfs {outcome}, rootfs_b {inactive}, \
             rootfs_b LEBs on flash {:?} (expected {want_lebs:?})",
            seen.lebs_b
        );
        rows.push(Row {
            point: match want_lebs {
                Some(n) => format!("{point} ({n} LEBs)"),
                None => point,
            },
            outcome,
            inactive,
            precise,
        });
        assert_ne!(outcome, "NEITHER", "{machine}: cut after line {k}");
        let out = vm
            .run_ok(&format!("{upgrade} 2>&1"))
            .check("rerun after the cut");
        assert!(out.contains("upgrade: done: "), "{out}");
        let st = vm
            .run_ok("limina upgrade --status --ubi 0")
            .check("status after the rerun");
        assert!(
            st.contains(&format!("valid, {len} bytes, sha256 {sha_new}"))
                && st.lines().next().is_some_and(|l| l.contains(&sha_new)),
            "after the rerun: {st}"
        );
    }

    // Bad inputs, with the key configured: the volumes and the raw flash
    // are unchanged.
    vm.run_ok(restore).check("load the old image");
    let flash_sha = |vm: &mut Vm| {
        vm.run_ok(&format!("sha256sum < {mtd}"))
            .check("flash sha256")
    };
    let before = (
        vm.run_ok("limina upgrade --status --ubi 0").check("status"),
        flash_sha(&mut vm),
    );
    let has_dt = vm
        .run("test -e /proc/device-tree/compatible")
        .check("device tree")
        .0
        == 0;
    let other_board = if has_dt {
        "the image is for board \"glinet,gl-ar750\""
    } else {
        "this system has no device tree naming its board"
    };
    let mut bad = String::new();
    for (args, expect) in [
        ("/img/new.sqfs", "refused: unsigned"),
        ("/img/wrongkey.sqfs", "refused: signature"),
        ("-f /img/wrongkey.sqfs", "refused: signature"),
        ("/img/otherboard.sqfs", other_board),
        ("-f /img/big.sqfs", "the image is larger than"),
    ] {
        let cmd = format!("limina upgrade -k /img/test.pub --ubi 0 {args}");
        let (rc, out) = vm.run(&format!("{cmd} 2>&1")).check(&cmd);
        bad.push_str(&format!("{cmd}: exit {rc}: {out}\n"));
        assert_eq!(rc, 1, "{cmd}: {out}");
        assert!(out.contains(expect), "{cmd}: expected {expect:?} in {out}");
        assert!(out.contains("nothing was written"), "{cmd}: {out}");
        let now = (
            vm.run_ok("limina upgrade --status --ubi 0").check("status"),
            flash_sha(&mut vm),
        );
        assert_eq!(now, before, "{cmd} changed the volumes or the flash");
    }
    // The good image, signed for this board (without a device tree only
    // with -f: the signature is checked all the same).
    let good = if has_dt {
        "limina upgrade -k /img/test.pub --ubi 0 /img/good.sqfs"
    } else {
        "limina upgrade -k /img/test.pub -f --ubi 0 /img/good.sqfs"
    };
    let out = vm.run_ok(&format!("{good} 2>&1")).check(good);
    assert!(
        out.contains("signed by key") && out.contains("upgrade: done: ubi0: rootfs is volume"),
        "{out}"
    );
    bad.push_str(&format!("{good}: exit 0: {out}\n"));
    let st = vm.run_ok("limina upgrade --status --ubi 0").check("status");
    assert!(
        st.lines().next().is_some_and(|l| l.contains(&sha_new)),
        "{st}"
    );
    let boots = vm.boots();
    vm.poweroff().check("poweroff");

    let mut table = format!(
        "\npower cuts during `limina upgrade -v -f --ubi 0` ({machine}; UBI on an 8 MiB mtdram, 128 KiB PEBs, \
         {LEB}-byte LEBs; rootfs and rootfs_b {VOL_LEBS} LEBs each; image {len} bytes; {boots} boots, {:.0} s):\n\n\
         | machine | cut after the line announcing | rootfs boots | rootfs_b | as the line says |\n\
         |---------|-------------------------------|--------------|----------|------------------|\n",
        started.elapsed().as_secs_f64()
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            machine.name(),
            r.point,
            r.outcome,
            r.inactive,
            if r.precise { "yes" } else { "NO" }
        ));
    }
    let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
    table.push_str(&format!(
        "\n{} cuts: old {}, new {}, neither {}; {} as the line says\n",
        rows.len(),
        count("old"),
        count("new"),
        count("NEITHER"),
        rows.iter().filter(|r| r.precise).count()
    ));
    println!("{table}");
    println!(
        "{machine}: bad inputs, each refused with the volumes and the flash unchanged; then the good one:\n{bad}"
    );
    std::fs::write(dir.join("table.md"), &table).check("table");
    assert_eq!(count("NEITHER"), 0);
    assert!(
        rows.iter().all(|r| r.precise),
        "{machine}: a cut did not land where its line says (that point went untested)"
    );
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_power_cuts_x86_64() {
    ubi_power_cuts(Machine::X86_64);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_power_cuts_big_endian_mips() {
    ubi_power_cuts(Machine::Mips);
}
