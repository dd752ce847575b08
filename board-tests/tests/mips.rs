//! Big-endian MIPS malta: the machine that catches ioctl-encoding and
//! byte-order bugs. MTD, UBI, watchdog and kexec are built into its kernel
//! (scripts/build-mips-kernel); module parameters go on the command line.

use std::path::PathBuf;

use limina_board_tests::{guest_bins_dir, Machine, Vm, VmConfig};

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

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn builtin_mtd_and_ubi_and_our_big_endian_binaries() {
    let bins = mips_test_bins();
    let limina = guest_bins_dir(TARGET).join("limina");
    let mut cfg = VmConfig::new(Machine::Mips, "mtd-ubi-bins").check("config");
    // 128 MiB NAND with 2 KiB pages and 128 KiB blocks; pages are only
    // allocated when written, so it fits the 256 MiB guest.
    cfg.append.extend(
        [
            "nandsim.first_id_byte=0x20",
            "nandsim.second_id_byte=0xf1",
            "nandsim.third_id_byte=0x00",
            "nandsim.fourth_id_byte=0x15",
        ]
        .map(String::from),
    );
    for b in &bins {
        let name = b
            .file_name()
            .and_then(|n| n.to_str())
            .check_some("test name");
        cfg.initramfs.file(&format!("/opt/tests/{name}"), b, 0o755);
    }
    cfg.initramfs.file("/usr/bin/limina", &limina, 0o755);
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

    // The same test executables that passed under qemu-user, now on a real
    // big-endian kernel with real MTD devices in /sys/class/mtd.
    for b in &bins {
        let name = b
            .file_name()
            .and_then(|n| n.to_str())
            .check_some("test name");
        let (status, out) = vm
            .run_timeout(
                &format!("LIMINA_EXPECT_ENDIAN=big /opt/tests/{name} --test-threads=1 2>&1"),
                std::time::Duration::from_secs(300),
            )
            .check(name);
        assert!(
            status == 0 && out.contains("test result: ok."),
            "{name} in the MIPS VM:\n{out}"
        );
    }
    let v = vm.run_ok("limina --version").check("limina --version");
    assert!(v.starts_with("limina "), "{v}");
    vm.poweroff().check("poweroff");
}
