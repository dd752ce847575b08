//! Our flash applets (`flashcp`, `mtdinfo`, `flash_erase`) on real kernel
//! MTD devices: `mtdram` (NOR-like) and `nandsim` with bad blocks, on
//! x86_64 (Debian's modules, mtd-utils from the host as the reference) and
//! on big-endian MIPS (built-in drivers, busybox's `nanddump`), where the
//! ioctl numbers are encoded differently.

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};

use crate::common::{bytes, Check};

/// The erase block size of every device below: mtdram with
/// `erase_size=128` and nandsim's large-page chips.
const ES: usize = 128 * 1024;

/// The images every machine gets, in /img.
fn add_images(cfg: &mut VmConfig) {
    let a = bytes(1000 * 1024 + 123, 1);
    let mut b = a.clone();
    b[4 * ES + 17] ^= 0x5a;
    cfg.initramfs
        .bytes("/img/a.bin", a, 0o644)
        .bytes("/img/b.bin", b, 0o644)
        .bytes("/img/big.bin", bytes(8 * 1024 * 1024 + 1, 3), 0o644)
        .bytes("/img/empty.bin", Vec::new(), 0o644)
        .bytes("/img/n.bin", bytes(10 * ES + 100, 4), 0o644);
}

/// `flashcp -v` must succeed and report exactly this.
fn flashcp(vm: &mut Vm, args: &str, done: &str) {
    let out = vm.run_ok(&format!("flashcp -v {args}")).check(args);
    assert!(
        out.lines().any(|l| l == format!("done: {done}")),
        "flashcp -v {args}: expected `done: {done}`, got:\n{out}"
    );
}

/// The first `len` bytes of `dev` equal `file` (`dd` through a pipe).
fn same_prefix(vm: &mut Vm, dev: &str, file: &str) {
    let cmd = format!(
        "len=$(wc -c < {file}); dd if={dev} bs=4096 2>/dev/null | head -c $len | cmp - {file} && echo same"
    );
    assert_eq!(vm.run_ok(&cmd).check(&cmd), "same", "{dev} vs {file}");
}

/// The bad-input list: each fails with exit status 1 and one line on
/// stderr, and the device is byte-identical afterwards.
fn bad_input_leaves_flash_alone(vm: &mut Vm, nor: &str) {
    let before = vm.run_ok(&format!("md5sum < {nor}")).check("checksum");
    let ro = format!("{nor}ro");
    let cases = [
        (format!("/img/big.bin {nor}"), "larger than the device"),
        (format!("/img/a.bin {ro}"), "Permission denied"),
        (
            "/img/a.bin mtd:no-such-partition".to_owned(),
            "no device named \"no-such-partition\"",
        ),
        (
            format!("/nonexistent.bin {nor}"),
            "cannot read /nonexistent.bin",
        ),
        (format!("/img {nor}"), "cannot read /img"),
        (format!("/img/empty.bin {nor}"), "the image is empty"),
    ];
    for (args, needle) in cases {
        let (status, out) = vm
            .run(&format!("flashcp -p {args} 2>/tmp/err >/tmp/out; echo rc=$?; cat /tmp/err; wc -l < /tmp/err; cat /tmp/out"))
            .check(&args);
        assert_eq!(status, 0, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some("rc=1"),
            "flashcp {args}:\n{out}"
        );
        assert!(
            lines
                .get(1)
                .is_some_and(|l| l.starts_with("flashcp: ") && l.contains(needle)),
            "flashcp {args}: expected one line with {needle:?}:\n{out}"
        );
        assert_eq!(
            lines.get(2).copied(),
            Some("1"),
            "one line on stderr: {out}"
        );
        assert_eq!(lines.len(), 3, "nothing on stdout: {out}");
    }
    let after = vm.run_ok(&format!("md5sum < {nor}")).check("checksum");
    assert_eq!(before, after, "the flash changed");
}

/// What both machines run: NOR-like mtdram at /dev/mtd0, nandsim with bad
/// blocks 3 and 7 at /dev/mtd1.
fn common_checks(vm: &mut Vm) {
    // mtdinfo sees both devices.
    let info = vm.run_ok("mtdinfo -a").check("mtdinfo -a");
    assert!(info.contains("Count of MTD devices:           2"), "{info}");
    assert!(
        info.contains("Name:                           mtdram test device"),
        "{info}"
    );
    assert!(
        info.contains("Bad blocks are allowed:         true"),
        "{info}"
    );

    // Fresh write, by path: mtdram starts erased, so no erase is needed
    // with -p; without it every block is erased, as flashcp does.
    flashcp(
        vm,
        "-p /img/a.bin /dev/mtd0",
        "erased 0, written 8, verified 8, unchanged 0, bad blocks skipped 0",
    );
    same_prefix(vm, "/dev/mtd0", "/img/a.bin");
    flashcp(
        vm,
        "/img/a.bin /dev/mtd0",
        "erased 8, written 8, verified 8, unchanged 0, bad blocks skipped 0",
    );
    // The same image again costs nothing; one block different costs one
    // erase. By name, with spaces in it.
    flashcp(
        vm,
        "-p /img/a.bin /dev/mtd0",
        "erased 0, written 0, verified 0, unchanged 8, bad blocks skipped 0",
    );
    flashcp(
        vm,
        "-p /img/b.bin 'mtd:mtdram test device'",
        "erased 1, written 1, verified 1, unchanged 7, bad blocks skipped 0",
    );
    same_prefix(vm, "/dev/mtd0", "/img/b.bin");
    let plan = vm.run_ok("flashcp -n -p /img/a.bin mtd0").check("dry run");
    assert_eq!(
        plan,
        "plan: erase 1, write 1, unchanged 7, bad blocks skipped 0"
    );

    bad_input_leaves_flash_alone(vm, "/dev/mtd0");

    // NAND with bad blocks 3 and 7: the image skips them.
    let bad = vm
        .run_ok("cat /sys/class/mtd/mtd1/bad_blocks")
        .check("bad blocks");
    assert_eq!(bad, "2");
    flashcp(
        vm,
        "-p /img/n.bin /dev/mtd1",
        "erased 11, written 11, verified 11, unchanged 0, bad blocks skipped 2",
    );
    flashcp(
        vm,
        "-p /img/n.bin /dev/mtd1",
        "erased 0, written 0, verified 0, unchanged 11, bad blocks skipped 2",
    );
    // nanddump skips bad blocks too, so its dump is the image.
    vm.run_ok("nanddump --bb=skipbad -l $((11 * 131072)) -f /tmp/n.dump /dev/mtd1")
        .check("nanddump");
    same_prefix(vm, "/tmp/n.dump", "/img/n.bin");

    // flash_erase: whole device, then the content is gone.
    vm.run_ok("flash_erase /dev/mtd0 0 0").check("flash_erase");
    let erased = vm
        .run_ok("head -c 1048576 /dev/mtd0 | tr -d '\\377' | wc -c")
        .check("erased");
    assert_eq!(erased, "0");
    let (status, out) = vm.run("flash_erase /dev/mtd0 100 1").check("unaligned");
    assert_eq!(status, 1, "{out}");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn flashcp_on_mtdram_and_nandsim_x86_64() {
    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "mtd-flashcp").check("config");
    cfg.initramfs
        .module("mtdram", "total_size=8192 erase_size=128")
        // 256 MiB NAND, 2 KiB pages, 128 KiB blocks; blocks 3 and 7 bad.
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xaa third_id_byte=0x00 fourth_id_byte=0x15 badblocks=3,7",
        )
        .limina(&limina, &["flashcp", "mtdinfo", "flash_erase"]);
    for tool in ["flashcp", "mtdinfo"] {
        cfg.initramfs
            .host_program(
                &format!("/usr/sbin/mtd-utils-{tool}"),
                format!("/usr/sbin/{tool}"),
            )
            .check("host program");
    }
    // mtd-utils' nanddump, first in PATH.
    cfg.initramfs
        .host_program("/usr/local/bin/nanddump", "/usr/sbin/nanddump")
        .check("host program");
    add_images(&mut cfg);
    let mut vm = Vm::boot(cfg).check("boot");

    // Our mtdinfo prints what mtd-utils' prints.
    for args in ["/dev/mtd0", "/dev/mtd1", "-a", ""] {
        let ours = vm.run_ok(&format!("mtdinfo {args}")).check("mtdinfo");
        let theirs = vm
            .run_ok(&format!("mtd-utils-mtdinfo {args}"))
            .check("mtd-utils mtdinfo");
        assert_eq!(ours, theirs, "mtdinfo {args}");
    }

    common_checks(&mut vm);

    // mtd-utils' flashcp -v writes what ours wrote, byte for byte over the
    // whole device.
    vm.run_ok("flash_erase -q /dev/mtd0 0 0").check("erase");
    flashcp(
        &mut vm,
        "/img/b.bin /dev/mtd0",
        "erased 8, written 8, verified 8, unchanged 0, bad blocks skipped 0",
    );
    let ours = vm.run_ok("md5sum < /dev/mtd0").check("checksum");
    vm.run_ok("flash_erase -q /dev/mtd0 0 0").check("erase");
    vm.run_ok("mtd-utils-flashcp -v /img/b.bin /dev/mtd0")
        .check("mtd-utils flashcp");
    let theirs = vm.run_ok("md5sum < /dev/mtd0").check("checksum");
    assert_eq!(ours, theirs);
    // ... and over an image it wrote, ours with -p finds nothing to do.
    flashcp(
        &mut vm,
        "-p /img/b.bin /dev/mtd0",
        "erased 0, written 0, verified 0, unchanged 8, bad blocks skipped 0",
    );
    // The kernel agrees on the cost: a kprobe on mtd_erase sees one erase
    // for an image differing in one block, none for an identical one.
    count_erases(&mut vm);
    let (_, erases) = timed(&mut vm, "flashcp -p /img/a.bin /dev/mtd0").check("one block");
    assert_eq!(erases, 1, "one block different");
    let (_, erases) = timed(&mut vm, "flashcp -p /img/a.bin /dev/mtd0").check("identical");
    assert_eq!(erases, 0, "identical");
    vm.poweroff().check("poweroff");
}

const MIPS: &str = "mips-unknown-linux-gnu";

/// mtd-rs's integration test executable for MIPS, if `scripts/cross-test`
/// built it (named `<package>--<executable>`).
fn mtd_rs_real_system_tests() -> Option<std::path::PathBuf> {
    let dir = limina_board_tests::guest_bins_dir(MIPS).join("tests");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("mtd-rs--all-"))
        })
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn flashcp_on_mtdram_and_nandsim_big_endian_mips() {
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = VmConfig::new(Machine::Mips, "mtd-flashcp").check("config");
    // 128 MiB NAND, 2 KiB pages, 128 KiB blocks; blocks 3 and 7 bad.
    cfg.append.extend(
        [
            "nandsim.first_id_byte=0x20",
            "nandsim.second_id_byte=0xf1",
            "nandsim.third_id_byte=0x00",
            "nandsim.fourth_id_byte=0x15",
            "nandsim.badblocks=3,7",
        ]
        .map(String::from),
    );
    cfg.initramfs
        .limina(&limina, &["flashcp", "mtdinfo", "flash_erase"]);
    add_images(&mut cfg);
    // mtd-rs's real-system tests (from scripts/cross-test), to run against
    // a NAND with bad blocks on a big-endian kernel.
    let real_system = mtd_rs_real_system_tests();
    if let Some(t) = &real_system {
        cfg.initramfs.file("/opt/mtd-rs-tests", t, 0o755);
    }
    let mut vm = Vm::boot(cfg).check("boot");
    assert_eq!(vm.run_ok("uname -m").check("uname"), "mips");
    if real_system.is_some() {
        // MEMGETBADBLOCK on every block, ECCGETSTATS and sysfs agree on the
        // two bad blocks; read-only, so before anything is written.
        let out = vm
            .run_ok("/opt/mtd-rs-tests real_system --nocapture --test-threads=1 2>&1")
            .check("mtd-rs real-system tests");
        assert!(out.contains("2 bad, EccStats"), "{out}");
    } else {
        eprintln!("no mtd-rs test executable for mips: run scripts/cross-test {MIPS}");
    }
    common_checks(&mut vm);
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn phram_region_added_at_run_time_big_endian_mips() {
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = VmConfig::new(Machine::Mips, "mtd-phram").check("config");
    // Keep 192..224 MiB out of the kernel's memory (malta has 256 MiB; QEMU
    // puts the initramfs at the top, which stays RAM).
    cfg.append
        .extend(["mem=192M@0".to_owned(), "mem=32M@224M".to_owned()]);
    cfg.initramfs
        .limina(&limina, &["flashcp", "mtdinfo"])
        .bytes("/img/p.bin", bytes(3 * ES + 5, 7), 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    // What mtd::phram::Phram renders for this region.
    let param = "limina-phram,0xc000000,0x800000,0x20000";
    vm.run_ok(&format!(
        "echo {param} > /sys/module/phram/parameters/phram"
    ))
    .check("add phram");
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let line = proc_mtd
        .lines()
        .find(|l| l.ends_with("\"limina-phram\""))
        .unwrap_or_else(|| panic!("no phram device in:\n{proc_mtd}"));
    assert!(line.contains(": 00800000 00020000 "), "{line}");
    flashcp(
        &mut vm,
        "-p /img/p.bin mtd:limina-phram",
        "erased 4, written 4, verified 4, unchanged 0, bad blocks skipped 0",
    );
    let dev = format!("/dev/{}", line.split(':').next().unwrap_or("mtd?"));
    same_prefix(&mut vm, &dev, "/img/p.bin");
    vm.poweroff().check("poweroff");
}

/// Runs `cmd` in the guest; returns its wall time in milliseconds (from
/// `/proc/uptime`, 10 ms resolution) and the
/// erases the kernel did meanwhile (a kprobe on `mtd_erase`, which every
/// `MEMERASE`/`MEMERASE64` goes through), and its output.
fn timed(vm: &mut Vm, cmd: &str) -> Result<(u64, u64), String> {
    let script = format!(
        "h0=$(awk '/mtderase/ {{print $2}}' /sys/kernel/tracing/kprobe_profile); \
         t0=$(cut -d' ' -f1 /proc/uptime | tr -d .); {cmd} >/tmp/bench.out 2>&1; rc=$?; \
         t1=$(cut -d' ' -f1 /proc/uptime | tr -d .); \
         h1=$(awk '/mtderase/ {{print $2}}' /sys/kernel/tracing/kprobe_profile); \
         echo \"$rc $(( (t1 - t0) * 10 )) $((h1 - h0))\""
    );
    let out = vm.run_ok(&script).check(cmd);
    let fields: Vec<u64> = out
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(u64::MAX))
        .collect();
    match fields[..] {
        [0, ms, erases] => Ok((ms, erases)),
        // mtd-utils 2.1.5's flashcp -p: "Short read count", then SIGSEGV.
        [rc, ..] => Err(format!("exit {rc}")),
        [] => Err(format!("no output: {out}")),
    }
}

/// Sets up the erase counter (kprobe on `mtd_erase`).
fn count_erases(vm: &mut Vm) {
    vm.run_ok(
        "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; \
         echo 'p:mtderase mtd_erase' > /sys/kernel/tracing/kprobe_events && \
         echo 1 > /sys/kernel/tracing/events/kprobes/mtderase/enable && \
         grep mtderase /sys/kernel/tracing/kprobe_profile",
    )
    .check("kprobe on mtd_erase");
}

/// Our flashcp against mtd-utils' on mtdram, 8 MiB image: fresh, over an
/// identical image, over an image differing in one block. Prints a table;
/// `scripts/bench-mtd` runs it.
#[test]
#[ignore = "a benchmark, not a test: run scripts/bench-mtd"]
fn bench_flashcp_vs_mtd_utils() {
    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "mtd-bench").check("config");
    cfg.memory_mib = cfg.memory_mib.max(512);
    let a = bytes(8 << 20, 11);
    let mut c = a.clone();
    c[37 * ES + 1000] ^= 0x01;
    cfg.initramfs
        .module("mtdram", "total_size=8192 erase_size=128")
        .limina(&limina, &["flashcp", "flash_erase"])
        .host_program("/usr/sbin/mtd-utils-flashcp", "/usr/sbin/flashcp")
        .check("mtd-utils flashcp")
        .bytes("/img/a.bin", a, 0o644)
        .bytes("/img/c.bin", c, 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    count_erases(&mut vm);
    let tools = [
        ("limina flashcp -v", "flashcp -v"),
        ("limina flashcp -v -p", "flashcp -v -p"),
        ("mtd-utils flashcp -v", "mtd-utils-flashcp -v"),
        ("mtd-utils flashcp -v -p", "mtd-utils-flashcp -v -p"),
    ];
    let mut rows = Vec::new();
    for (name, cmd) in tools {
        // Three rounds of fresh, identical, one block different; the
        // median time of each.
        let mut cells: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 3];
        let mut failed = None;
        'rounds: for _ in 0..3 {
            vm.run_ok("flash_erase /dev/mtd0 0 0").check("erase");
            for (i, image) in ["a", "a", "c"].into_iter().enumerate() {
                match timed(&mut vm, &format!("{cmd} /img/{image}.bin /dev/mtd0")) {
                    Ok(m) => cells[i].push(m),
                    Err(e) => {
                        failed = Some(format!("{name} /img/{image}.bin: {e}"));
                        break 'rounds;
                    }
                }
            }
        }
        let mut row = vec![name.to_owned()];
        if let Some(e) = failed {
            eprintln!("{e}");
            row.extend(["fails"; 3].map(String::from));
        } else {
            for mut cell in cells {
                cell.sort();
                let (ms, erases) = cell[cell.len() / 2];
                row.push(format!("{ms} ms, {erases} erases"));
            }
            let same = vm
                .run_ok("cmp /dev/mtd0 /img/c.bin && echo same")
                .check("result");
            assert_eq!(same, "same", "{name} wrote the image");
        }
        rows.push(row);
    }
    println!(
        "\nflashcp on mtdram (8 MiB, 128 KiB blocks), x86_64 guest under QEMU TCG, \
         median of 3; erases counted by a kprobe on mtd_erase:\n"
    );
    println!(
        "| {:<24} | {:<22} | {:<22} | {:<22} |",
        "tool", "(a) fresh", "(b) identical", "(c) one block differs"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(26),
        "-".repeat(24),
        "-".repeat(24),
        "-".repeat(24)
    );
    for r in rows {
        println!(
            "| {:<24} | {:<22} | {:<22} | {:<22} |",
            r[0], r[1], r[2], r[3]
        );
    }
    vm.poweroff().check("poweroff");
}

/// `limina upgrade --single` (one slot: the same writes a two-slot upgrade
/// makes per slot) against mtd-utils' `flashcp -v` on mtdram, with an
/// 8 MiB firmware image (uImage + squashfs): fresh, over an identical
/// image, over an image differing in one block of its root file system.
/// Prints a table; `scripts/bench-upgrade` runs it.
#[test]
#[ignore = "a benchmark, not a test: run scripts/bench-upgrade"]
fn bench_upgrade_vs_mtd_utils() {
    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "upgrade-bench").check("config");
    cfg.memory_mib = cfg.memory_mib.max(512);
    let kernel = bytes(2 << 20, 5);
    // 2 MiB of kernel, then 47 blocks of root file system: 49 blocks.
    let a = upgrade::testimage::firmware_seeded(&kernel, 47, ES, 3);
    let mut c = a.clone();
    let at = c.len() - 5 * ES + 1000;
    c[at] ^= 0x01;
    cfg.initramfs
        .module("mtdram", "total_size=8192 erase_size=128")
        .limina(&limina, &["flashcp", "flash_erase", "upgrade"])
        .host_program("/usr/sbin/mtd-utils-flashcp", "/usr/sbin/flashcp")
        .check("mtd-utils flashcp")
        .bytes("/img/a.bin", a.clone(), 0o644)
        .bytes("/img/c.bin", c, 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    count_erases(&mut vm);
    // x86 has no device tree and the initramfs no key: -f, and the
    // signature is not checked (the check costs one BLAKE2b pass).
    // IMG stands for the image file.
    let tools = [
        (
            "limina upgrade --single",
            "upgrade --single -f -d /dev/mtd0 IMG",
        ),
        ("mtd-utils flashcp -v", "mtd-utils-flashcp -v IMG /dev/mtd0"),
        (
            "mtd-utils flashcp -v -p",
            "mtd-utils-flashcp -v -p IMG /dev/mtd0",
        ),
    ];
    let mut rows = Vec::new();
    for (name, cmd) in tools {
        let mut cells: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 3];
        let mut failed = None;
        'rounds: for _ in 0..3 {
            vm.run_ok("flash_erase /dev/mtd0 0 0").check("erase");
            for (i, image) in ["a", "a", "c"].into_iter().enumerate() {
                let run = cmd.replace("IMG", &format!("/img/{image}.bin"));
                match timed(&mut vm, &run) {
                    Ok(m) => cells[i].push(m),
                    Err(e) => {
                        failed = Some(format!("{name} /img/{image}.bin: {e}"));
                        break 'rounds;
                    }
                }
            }
        }
        let mut row = vec![name.to_owned()];
        if let Some(e) = failed {
            eprintln!("{e}");
            row.extend(["fails"; 3].map(String::from));
        } else {
            for mut cell in cells {
                cell.sort();
                let (ms, erases) = cell[cell.len() / 2];
                row.push(format!("{ms} ms, {erases} erases"));
            }
            let len = a.len();
            let same = vm
                .run_ok(&format!(
                    "head -c {len} /dev/mtd0 | cmp - /img/c.bin && echo same"
                ))
                .check("result");
            assert_eq!(same, "same", "{name} wrote the image");
        }
        rows.push(row);
    }
    println!(
        "\nupgrade on mtdram (8 MiB, 128 KiB blocks, a {} KiB firmware image), x86_64 \
         guest under QEMU TCG, median of 3; erases counted by a kprobe on mtd_erase:\n",
        a.len() / 1024
    );
    println!(
        "| {:<26} | {:<22} | {:<22} | {:<22} |",
        "tool", "(a) fresh", "(b) identical", "(c) one block differs"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(28),
        "-".repeat(24),
        "-".repeat(24),
        "-".repeat(24)
    );
    for r in rows {
        println!(
            "| {:<26} | {:<22} | {:<22} | {:<22} |",
            r[0], r[1], r[2], r[3]
        );
    }
    vm.poweroff().check("poweroff");
}
