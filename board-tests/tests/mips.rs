//! Big-endian MIPS malta: the machine that catches ioctl-encoding and
//! byte-order bugs. MTD, UBI, watchdog and kexec are built into its kernel
//! (scripts/build-mips-kernel); module parameters go on the command line.

use std::path::PathBuf;

use limina_board_tests::{guest_bins_dir, guest_limina, Machine, Vm, VmConfig};

use crate::common::{Check, CheckSome};

const TARGET: &str = "mips-unknown-linux-gnu";

/// Our big-endian test executables, built by `scripts/cross-test`.
fn mips_test_bins() -> Vec<PathBuf> {
    let dir = guest_bins_dir(TARGET).join("tests");
    let mut bins: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run `scripts/cross-test {TARGET}` first (make check does)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    bins.sort();
    assert!(!bins.is_empty(), "no test executables in {}", dir.display());
    bins
}

/// A MIPS guest with the built-in MTD simulators: mtdram (8 MiB) and a
/// 128 MiB NAND with 2 KiB pages and 128 KiB blocks (pages are only
/// allocated when written, so it fits the 256 MiB guest).
fn mips_config(name: &str) -> VmConfig {
    let mut cfg = VmConfig::new(Machine::Mips, name).check("config");
    cfg.append.extend(
        [
            "nandsim.first_id_byte=0x20",
            "nandsim.second_id_byte=0xf1",
            "nandsim.third_id_byte=0x00",
            "nandsim.fourth_id_byte=0x15",
        ]
        .map(String::from),
    );
    cfg
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn builtin_mtd_and_ubi_and_our_big_endian_limina() {
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = mips_config("mtd-ubi");
    cfg.initramfs.limina(&limina, &[]);
    let mut vm = Vm::boot(cfg).check("boot");

    let proc_mtd = vm.run_ok("cat /proc/mtd").check("cat /proc/mtd");
    assert!(proc_mtd.contains("\"mtdram test device\""), "{proc_mtd}");
    assert!(
        proc_mtd.contains("mtd1: 08000000 00020000 \"NAND simulator partition 0\""),
        "{proc_mtd}"
    );
    assert_eq!(vm.run_ok("uname -m").check("uname"), "mips");

    // busybox's ubiattach (big-endian MIPS ioctls) attaches the NAND.
    vm.run_ok("ubiattach -m 1 /dev/ubi_ctrl").check("ubiattach");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/total_eraseblocks")
            .check("ubi0"),
        "1024"
    );
    let v = vm.run_ok("limina --version").check("limina --version");
    assert!(v.starts_with("limina "), "{v}");
    vm.poweroff().check("poweroff");
}

/// The guest keeps the initramfs and its unpacked copy in its 256 MiB, so
/// the executables go in batches of at most this many bytes, one boot each.
const BATCH_BYTES: u64 = 56 << 20;

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn our_big_endian_test_executables_pass_on_the_mips_kernel() {
    // The same test executables that passed under qemu-user, now on a real
    // big-endian kernel with real MTD devices in /sys/class/mtd.
    let bins = mips_test_bins();
    let mut batches: Vec<Vec<PathBuf>> = vec![Vec::new()];
    let mut size = 0;
    for b in bins {
        let len = std::fs::metadata(&b).check("test executable").len();
        let last = batches.last_mut().check_some("a batch");
        if !last.is_empty() && size + len > BATCH_BYTES {
            batches.push(Vec::new());
            size = 0;
        }
        size += len;
        batches.last_mut().check_some("a batch").push(b);
    }
    for (i, batch) in batches.iter().enumerate() {
        let mut cfg = mips_config(&format!("tests-{i}"));
        for b in batch {
            let name = b
                .file_name()
                .and_then(|n| n.to_str())
                .check_some("test name");
            cfg.initramfs.file(&format!("/opt/tests/{name}"), b, 0o755);
        }
        let mut vm = Vm::boot(cfg).check("boot");
        for b in batch {
            let name = b
                .file_name()
                .and_then(|n| n.to_str())
                .check_some("test name");
            let (status, out) = vm
                .run_timeout(
                    &format!("LIMINA_EXPECT_ENDIAN=big /opt/tests/{name} --test-threads=1 2>&1"),
                    std::time::Duration::from_secs(600),
                )
                .check(name);
            assert!(
                status == 0 && out.contains("test result: ok."),
                "{name} in the MIPS VM:\n{out}"
            );
            eprintln!(
                "mips vm: {name}: {}",
                out.lines()
                    .filter(|l| l.starts_with("test result"))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        vm.poweroff().check("poweroff");
    }
}
