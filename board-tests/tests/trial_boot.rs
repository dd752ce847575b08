//! `limina trial-boot` on the big-endian MIPS malta guest: the whole path
//! of booting a new image from RAM. Our `kexec_load` gets the kernel, the
//! running device tree edited (bootargs with a marker and `phram.phram=`,
//! a `/reserved-memory` node over the root file system) and a squashfs as a
//! segment at a physical address trial-boot chose. The bench kernel carries
//! `patches/linux/0001-*` so the tree reaches the new kernel
//! (docs/decisions/0062).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use limina_board_tests::{
    build_dir, guest_limina, Initramfs, Machine, MachineAssets, Vm, VmConfig,
};

use crate::common::{busybox_maxrss_divisor, Check, CheckSome};

/// Builds a squashfs (xz, as the firmware's) from `files` (path, content).
fn squashfs(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let root = dir.join(format!("{name}.d"));
    let _ = std::fs::remove_dir_all(&root);
    for (path, data) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().check_some("parent")).check("mkdir");
        std::fs::write(&p, data).check("write rootfs file");
    }
    let out = dir.join(format!("{name}.sqfs"));
    let _ = std::fs::remove_file(&out);
    let st = Command::new("mksquashfs")
        .arg(&root)
        .arg(&out)
        .args([
            "-comp",
            "xz",
            "-noappend",
            "-all-root",
            "-quiet",
            "-no-progress",
        ])
        .status()
        .check("mksquashfs (scripts/setup installs squashfs-tools)");
    assert!(st.success(), "mksquashfs failed: {st}");
    out
}

/// The guest with our limina, the bench kernel as the "new" kernel, a child
/// initramfs for it, and a root file system image.
fn trial_guest(name: &str, rootfs: &Path) -> (Vm, MachineAssets) {
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let dir = build_dir()
        .join("board-tests")
        .join(format!("mips-{name}-inputs"));
    std::fs::create_dir_all(&dir).check("dir");
    let child = dir.join("child.cpio");
    Initramfs::new(Machine::Mips)
        .write(&assets, &child)
        .check("child initramfs");
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = VmConfig::new(Machine::Mips, name).check("config");
    cfg.initramfs
        .limina(&limina, &[])
        .file("/boot/vmlinux", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .file("/boot/rootfs.sqfs", rootfs, 0o644);
    (Vm::boot(cfg).check("boot"), assets)
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn trial_boot_kexecs_into_a_phram_root_named_by_the_device_tree() {
    let dir = build_dir()
        .join("board-tests")
        .join("mips-trial-boot-rootfs");
    std::fs::create_dir_all(&dir).check("dir");
    let release = b"LIMINA_RELEASE=trial-7f3a\n";
    let rootfs = squashfs(
        &dir,
        "rootfs",
        &[
            ("etc/limina-release", release),
            ("usr/share/limina/payload", &[0x5a; 70_000]),
        ],
    );
    let (mut vm, _) = trial_guest("trial-boot", &rootfs);

    // Bad input first: each is refused before anything is loaded.
    for (cmd, expect) in [
        (
            "limina trial-boot /boot/child.cpio /boot/rootfs.sqfs",
            "not a kernel image",
        ),
        (
            "limina trial-boot /boot/vmlinux /boot/child.cpio",
            "squashfs",
        ),
        (
            "limina trial-boot --dtb /boot/rootfs.sqfs /boot/vmlinux /boot/rootfs.sqfs",
            "device tree",
        ),
        (
            "limina trial-boot --address 0x7ff00000 /boot/vmlinux /boot/rootfs.sqfs",
            "RAM",
        ),
    ] {
        let (status, out) = vm.run(&format!("{cmd} 2>&1")).check(cmd);
        assert_ne!(status, 0, "{cmd} succeeded: {out}");
        assert!(out.contains(expect), "{cmd}: expected '{expect}' in: {out}");
        assert_eq!(
            vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
            "0",
            "{cmd} left something loaded"
        );
    }

    // A dry run prints the plan and loads nothing.
    let plan = vm
        .run_ok(
            "limina trial-boot -n --initrd /boot/child.cpio /boot/vmlinux /boot/rootfs.sqfs 2>&1",
        )
        .check("dry run");
    assert!(plan.contains("phram.phram=rootfs,"), "{plan}");
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "0"
    );

    // The real thing. The child initramfs gives the test a shell in the
    // new kernel; root= still names the phram device, as it would on a
    // router booting from it.
    assert!(!vm
        .run_ok("cat /proc/cmdline")
        .check("cmdline")
        .contains("limina.trial=1"));
    vm.send_line(
        "limina trial-boot --initrd /boot/child.cpio --append limina.trial=1 \
         /boot/vmlinux /boot/rootfs.sqfs",
    )
    .check("trial-boot");
    vm.wait_ready(Duration::from_secs(240))
        .check("the new kernel boots");

    // The command line came from the device tree's /chosen/bootargs.
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(cmdline.contains("limina.trial=1"), "{cmdline}");
    let phram = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("phram.phram="))
        .check_some("phram.phram= in the new command line");
    let fields: Vec<&str> = phram.split(',').collect();
    assert_eq!(fields.len(), 3, "{phram}");
    let addr = u64::from_str_radix(fields[1].trim_start_matches("0x"), 16).check("address");
    let size = u64::from_str_radix(fields[2].trim_start_matches("0x"), 16).check("size");
    let image_len = std::fs::metadata(&rootfs).check("rootfs size").len();
    assert!(
        size >= image_len,
        "phram size {size:#x} < image {image_len:#x}"
    );

    // The reserved-memory node is in the new kernel's tree.
    let node = format!("/proc/device-tree/reserved-memory/phram@{addr:x}");
    vm.run_ok(&format!("test -d {node}")).check(&node);

    // The phram MTD exists and holds exactly our image.
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let index = proc_mtd
        .lines()
        .find(|l| l.ends_with("\"rootfs\""))
        .and_then(|l| l.strip_prefix("mtd"))
        .and_then(|l| l.split(':').next())
        .check_some(&format!("phram \"rootfs\" in /proc/mtd:\n{proc_mtd}"));
    let root = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("root="))
        .check_some("root= in the new command line");
    assert_eq!(
        root,
        format!("/dev/mtdblock{index}"),
        "root= names another MTD: {proc_mtd}"
    );
    vm.run_ok(&format!(
        "mkdir -p /mnt && mount -t squashfs -o ro /dev/mtdblock{index} /mnt"
    ))
    .check("mount the phram squashfs");
    assert_eq!(
        vm.run_ok("cat /mnt/etc/limina-release")
            .check("release file"),
        String::from_utf8_lossy(release).trim()
    );
    assert_eq!(
        vm.run_ok("wc -c < /mnt/usr/share/limina/payload")
            .check("payload"),
        "70000"
    );
    vm.poweroff().check("poweroff");
}

/// Time from `trial-boot` start to "ready for `kexec -e`" (load only,
/// median of 5) with a 6 MiB squashfs, its peak RSS (`time -v`), and the
/// time from the full `trial-boot` command to the new kernel's shell.
/// `scripts/bench-trial-boot` runs it and prints the table.
#[test]
#[ignore = "a benchmark, not a test: run scripts/bench-trial-boot"]
fn bench_trial_boot_6mib() {
    let dir = build_dir()
        .join("board-tests")
        .join("mips-trial-boot-bench-rootfs");
    std::fs::create_dir_all(&dir).check("dir");
    // Incompressible, so the squashfs is as big as the payload.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let payload: Vec<u8> = (0..6 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let rootfs = squashfs(&dir, "rootfs-6m", &[("payload", &payload)]);
    let image_len = std::fs::metadata(&rootfs).check("size").len();
    let (mut vm, _) = trial_guest("trial-boot-bench", &rootfs);
    let page_kib = busybox_maxrss_divisor(&mut vm);
    let cmd = "limina trial-boot -l --initrd /boot/child.cpio /boot/vmlinux /boot/rootfs.sqfs";
    let mut ms = Vec::new();
    let mut maxrss = 0u64;
    for _ in 0..5 {
        let out = vm
            .run_ok(&format!(
                "t0=$(cut -d' ' -f1 /proc/uptime | tr -d .); time -v {cmd} >/tmp/b.out 2>&1; \
                 t1=$(cut -d' ' -f1 /proc/uptime | tr -d .); limina kexec -u; \
                 echo \"cs=$((t1 - t0))\"; grep 'Maximum resident' /tmp/b.out"
            ))
            .check("trial-boot -l");
        for line in out.lines() {
            if let Some(cs) = line.strip_prefix("cs=") {
                ms.push(cs.trim().parse::<u64>().check("centiseconds") * 10);
            } else if let Some(kb) = line
                .trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
            {
                maxrss = maxrss.max(kb.trim().parse::<u64>().check("maxrss") / page_kib);
            }
        }
    }
    ms.sort_unstable();
    assert_eq!(ms.len(), 5, "timings: {ms:?}");
    assert!(maxrss > 0, "no maxrss from time -v");
    let t = std::time::Instant::now();
    vm.send_line(&cmd.replace(" -l ", " ")).check("trial-boot");
    vm.wait_ready(Duration::from_secs(240)).check("new kernel");
    let to_shell = t.elapsed();
    println!(
        "trial-boot bench: image {image_len} bytes, start to loaded {} ms (median of 5, min {} max {}), \
         peak RSS {maxrss} KiB, start to the new kernel's shell {:.1} s",
        ms[2],
        ms[0],
        ms[4],
        to_shell.as_secs_f64()
    );
    vm.poweroff().check("poweroff");
}
