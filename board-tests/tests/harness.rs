//! The harness's own failure modes. Each must end with an error naming the
//! cause within its timeout, never a hang of the suite. The first two need no
//! QEMU at all and always run.

use std::time::{Duration, Instant};

use limina_board_tests::{timeout_scale, Error, Machine, Vm, VmConfig};

use crate::common::{Check, CheckErr};

fn empty_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("limina-harness-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).check("temp dir");
    d
}

#[test]
fn qemu_not_installed_is_named() {
    let mut cfg = VmConfig::new(Machine::Mips, "no-qemu").check("config");
    cfg.qemu_binary = Some("qemu-system-limina-nonexistent".to_string());
    let err = Vm::boot(cfg).err().check_err();
    assert!(matches!(err, Error::QemuNotFound { .. }), "{err}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("qemu-system-limina-nonexistent not found"),
        "{msg}"
    );
    assert!(msg.contains("scripts/setup"), "{msg}");
}

#[test]
fn missing_kernel_is_named_with_the_script_that_makes_it() {
    let mut cfg = VmConfig::new(Machine::Mips, "no-kernel").check("config");
    // Any executable will do: the kernel is checked before QEMU starts.
    cfg.qemu_binary = Some("/bin/sh".to_string());
    let assets = empty_dir("assets");
    cfg.assets_dir = Some(assets.clone());
    let err = Vm::boot(cfg).err().check_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        matches!(err, Error::AssetMissing { what: "kernel", .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&assets.join("mips/kernel").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("scripts/vm-assets mips"), "{msg}");
    let _ = std::fs::remove_dir_all(assets);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn a_hanging_guest_command_times_out_with_the_console_log() {
    let cfg = VmConfig::new(Machine::X86_64, "hang").check("config");
    let mut vm = Vm::boot(cfg).check("boot");
    let start = Instant::now();
    let err = vm
        .run_timeout("sleep 3600", Duration::from_secs(3))
        .err()
        .check_err();
    let took = start.elapsed();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::Timeout { .. }), "{msg}");
    assert!(
        msg.contains("`sleep 3600`") && msg.contains("console.log"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(3).mul_f64(timeout_scale()) + Duration::from_secs(5));
    assert!(vm.console_log().is_file(), "console log kept");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn a_guest_kernel_panic_is_reported_as_such() {
    let cfg = VmConfig::new(Machine::X86_64, "panic").check("config");
    let mut vm = Vm::boot(cfg).check("boot");
    let err = vm.run("echo c > /proc/sysrq-trigger").err().check_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::GuestPanic { .. }), "{msg}");
    assert!(msg.contains("Kernel panic - not syncing"), "{msg}");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_refusing_the_kernel_is_reported_with_its_message() {
    let mut cfg = VmConfig::new(Machine::X86_64, "bad-kernel").check("config");
    let bogus = empty_dir("bogus-kernel").join("bzImage");
    std::fs::write(&bogus, b"this is not a kernel").check("write");
    cfg.kernel = Some(bogus);
    let err = Vm::boot(cfg).err().check_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::QemuExited { .. }), "{msg}");
    // QEMU's own complaint is in the tail.
    assert!(msg.to_lowercase().contains("kernel"), "{msg}");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn a_guest_that_never_reaches_its_shell_times_out_booting() {
    let mut cfg = VmConfig::new(Machine::X86_64, "stuck-boot").check("config");
    cfg.initramfs.init_command("sleep 3600");
    cfg.timeouts.boot = Duration::from_secs(15);
    let start = Instant::now();
    let err = Vm::boot(cfg).err().check_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::Timeout { .. }), "{msg}");
    assert!(msg.contains("to boot to its shell"), "{msg}");
    assert!(
        start.elapsed()
            < Duration::from_secs(15).mul_f64(timeout_scale()) + Duration::from_secs(10)
    );
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn a_failing_boot_step_stops_the_boot_with_its_name() {
    let mut cfg = VmConfig::new(Machine::X86_64, "init-fails").check("config");
    // No NAND chip has this ID, so nandsim refuses to load.
    cfg.initramfs
        .module("nandsim", "first_id_byte=0x01 second_id_byte=0x01");
    let err = Vm::boot(cfg).err().check_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::GuestInit { .. }), "{msg}");
    assert!(msg.contains("modprobe nandsim first_id_byte=0x01"), "{msg}");
}
