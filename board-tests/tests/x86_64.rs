//! x86_64 with Debian's amd64 kernel: MTD simulators, UBI and UBIFS, the
//! watchdog drivers and kexec, all from the distribution's modules, driven
//! with the reference tools (mtd-utils, kexec-tools) copied from the host.

use std::time::Duration;

use limina_board_tests::{Initramfs, Machine, MachineAssets, Vm, VmConfig};

use crate::common::Check;

fn sbin(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).is_file() {
            return p;
        }
    }
    panic!("{name} not installed on the host: run scripts/setup");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn mtdram_nandsim_ubi_and_ubifs_with_mtd_utils() {
    let mut cfg = VmConfig::new(Machine::X86_64, "mtd-ubi").check("config");
    cfg.initramfs
        .module("mtdram", "total_size=8192 erase_size=128")
        // 256 MiB NAND, 2 KiB pages, 128 KiB blocks.
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xaa third_id_byte=0x00 fourth_id_byte=0x15",
        )
        .module("ubi", "")
        // UBIFS sets up every compressor it knows at load time; lzo and
        // deflate are built into Debian's kernel, zstd is a module.
        .module("zstd", "")
        .module("ubifs", "");
    for tool in ["ubiattach", "ubidetach", "ubimkvol", "ubinfo"] {
        cfg.initramfs
            .host_program(&format!("/usr/sbin/{tool}"), sbin(tool))
            .check("host program");
    }
    let mut vm = Vm::boot(cfg).check("boot");

    let proc_mtd = vm.run_ok("cat /proc/mtd").check("cat /proc/mtd");
    assert!(
        proc_mtd.contains("mtd0: 00800000 00020000 \"mtdram test device\""),
        "{proc_mtd}"
    );
    assert!(
        proc_mtd.contains("mtd1: 10000000 00020000 \"NAND simulator partition 0\""),
        "{proc_mtd}"
    );
    assert_eq!(
        vm.run_ok("cat /sys/class/mtd/mtd1/writesize")
            .check("sysfs"),
        "2048"
    );

    // mtd-utils attaches UBI to the NAND; the kernel formats it.
    let out = vm.run_ok("ubiattach -p /dev/mtd1").check("ubiattach");
    assert!(out.contains("UBI device number 0"), "{out}");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/total_eraseblocks")
            .check("ubi"),
        "2048"
    );
    vm.run_ok("ubimkvol /dev/ubi0 -N data -s 16MiB")
        .check("ubimkvol");
    let info = vm.run_ok("ubinfo -d 0 -n 0").check("ubinfo");
    assert!(info.contains("Name:        data"), "{info}");

    // UBIFS on it keeps a file across unmount and remount.
    vm.run_ok("mount -t ubifs ubi0:data /mnt && echo limina-ubifs > /mnt/f && umount /mnt")
        .check("ubifs write");
    vm.run_ok("mount -t ubifs ubi0:data /mnt").check("remount");
    assert_eq!(vm.run_ok("cat /mnt/f").check("read back"), "limina-ubifs");
    vm.run_ok("umount /mnt && ubidetach -p /dev/mtd1")
        .check("detach");
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn softdog_and_i6300esb_register_watchdogs() {
    let mut cfg = VmConfig::new(Machine::X86_64, "watchdog").check("config");
    cfg.qemu_args
        .extend(["-device".to_string(), "i6300esb".to_string()]);
    cfg.initramfs.module("i6300esb", "").module("softdog", "");
    let mut vm = Vm::boot(cfg).check("boot");
    let ids = vm
        .run_ok("cat /sys/class/watchdog/watchdog*/identity")
        .check("identities");
    assert!(ids.contains("i6300ESB timer"), "{ids}");
    assert!(ids.contains("Software Watchdog"), "{ids}");
    let devs = vm
        .run_ok("ls /dev/watchdog0 /dev/watchdog1")
        .check("device nodes");
    assert!(devs.contains("/dev/watchdog1"), "{devs}");
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn kexec_load_starts_a_new_kernel_with_our_command_line() {
    let assets = MachineAssets::find(Machine::X86_64).check("assets");
    // The second kernel boots from its own small initramfs.
    let child_dir =
        limina_board_tests::workspace_root().join("build/board-tests/x86_64-kexec-child");
    std::fs::create_dir_all(&child_dir).check("dir");
    let child = child_dir.join("initramfs.cpio");
    Initramfs::new(Machine::X86_64)
        .write(&assets, &child)
        .check("child initramfs");

    let mut cfg = VmConfig::new(Machine::X86_64, "kexec").check("config");
    cfg.initramfs
        .file("/boot/bzImage", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .host_program("/usr/sbin/kexec", sbin("kexec"))
        .check("kexec-tools");
    let mut vm = Vm::boot(cfg).check("boot");
    assert!(!vm
        .run_ok("cat /proc/cmdline")
        .check("cmdline")
        .contains("limina.kexec=1"));
    vm.run_ok(
        "kexec -l /boot/bzImage --initrd=/boot/child.cpio \
         --append='console=ttyS0 rdinit=/init panic=-1 loglevel=4 limina.kexec=1'",
    )
    .check("kexec -l");
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "1"
    );
    vm.send_line("kexec -e").check("kexec -e");
    vm.wait_ready(Duration::from_secs(90))
        .check("second kernel boots");
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(cmdline.contains("limina.kexec=1"), "{cmdline}");
    vm.poweroff().check("poweroff");
}
