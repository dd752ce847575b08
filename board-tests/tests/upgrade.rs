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

use crate::common::{Check, CheckSome};

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

#[allow(dead_code)]
const CUT_TIMEOUT: Duration = Duration::from_secs(120);
