//! aarch64 `-M virt` with Debian's arm64 kernel: the machine for device-tree
//! and kexec-with-DTB tests.

use limina_board_tests::{Machine, Vm, VmConfig};

use crate::common::Check;

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn running_device_tree_copied_out_and_decompiled_with_dtc() {
    let mut cfg = VmConfig::new(Machine::Aarch64, "fdt").check("config");
    cfg.append.push("limina.marker=aarch64-fdt".to_string());
    let mut vm = Vm::boot(cfg).check("boot");
    let fdt = vm
        .read_file("/sys/firmware/fdt")
        .check("read /sys/firmware/fdt");
    let size = vm.run_ok("wc -c < /sys/firmware/fdt").check("size");
    assert_eq!(fdt.len().to_string(), size.trim());
    assert_eq!(
        &fdt[..4],
        &[0xd0, 0x0d, 0xfe, 0xed],
        "FDT magic, big-endian"
    );
    let dtb = vm.work_dir().join("running.dtb");
    std::fs::write(&dtb, &fdt).check("write dtb");
    vm.poweroff().check("poweroff");

    let dts = std::process::Command::new("dtc")
        .args(["-q", "-I", "dtb", "-O", "dts"])
        .arg(&dtb)
        .output()
        .check("dtc (install with scripts/setup)");
    assert!(
        dts.status.success(),
        "dtc: {}",
        String::from_utf8_lossy(&dts.stderr)
    );
    let dts = String::from_utf8_lossy(&dts.stdout);
    assert!(dts.contains("compatible = \"linux,dummy-virt\""), "{dts}");

    let bootargs = std::process::Command::new("fdtget")
        .args(["-t", "s"])
        .arg(&dtb)
        .args(["/chosen", "bootargs"])
        .output()
        .check("fdtget");
    let bootargs = String::from_utf8_lossy(&bootargs.stdout);
    assert!(bootargs.contains("limina.marker=aarch64-fdt"), "{bootargs}");
}
