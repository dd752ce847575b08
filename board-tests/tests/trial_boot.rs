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
    build_dir, guest_bins_dir, guest_limina, Initramfs, Machine, MachineAssets, Vm, VmConfig,
};

use crate::common::{
    assert_refused_nothing_loaded, busybox_maxrss_divisor, host_run, Check, CheckSome,
};

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
    host_run(Command::new("mksquashfs").arg(&root).arg(&out).args([
        "-comp",
        "xz",
        "-noappend",
        "-all-root",
        "-quiet",
        "-no-progress",
    ]));
    out
}

/// The guest with our limina, the bench kernel as the "new" kernel, a child
/// initramfs for it, a root file system image and `extra` files (guest
/// path, host file).
fn trial_guest(name: &str, rootfs: &Path, extra: &[(&str, &Path)]) -> (Vm, MachineAssets) {
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
    for (guest, host) in extra {
        cfg.initramfs.file(guest, host, 0o644);
    }
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
    let (mut vm, _) = trial_guest("trial-boot", &rootfs, &[]);

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
        assert_refused_nothing_loaded(&mut vm, cmd, expect);
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

    check_new_kernel(&mut vm, &rootfs, release);
    vm.poweroff().check("poweroff");
}

/// limina-kexec's `examples/trial_boot.rs`: another firmware's trial boot,
/// written against the library alone (no `limina` code), refuses what
/// `limina trial-boot` refuses and boots the same kernel and squashfs.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn trial_boot_example_boots_with_the_library_alone() {
    let dir = build_dir()
        .join("board-tests")
        .join("mips-trial-boot-example-rootfs");
    std::fs::create_dir_all(&dir).check("dir");
    let release = b"LIMINA_RELEASE=example-41c2\n";
    let rootfs = squashfs(
        &dir,
        "rootfs",
        &[
            ("etc/limina-release", release),
            ("usr/share/limina/payload", &[0x5a; 70_000]),
        ],
    );
    let target = Machine::Mips.rust_target();
    let example = guest_bins_dir(target).join("kexec-trial-boot");
    assert!(
        example.is_file(),
        "{} is missing: run scripts/guest-bins {target}",
        example.display()
    );
    let (mut vm, _) = trial_guest(
        "trial-boot-example",
        &rootfs,
        &[("/boot/kexec-trial-boot", &example)],
    );
    vm.run_ok("chmod 755 /boot/kexec-trial-boot").check("chmod");

    // Typed errors reach the program with their cause.
    for (cmd, expect) in [
        (
            "/boot/kexec-trial-boot /boot/vmlinux /boot/child.cpio",
            "not a squashfs image",
        ),
        (
            "/boot/kexec-trial-boot /boot/child.cpio /boot/rootfs.sqfs",
            "not a kernel image",
        ),
    ] {
        assert_refused_nothing_loaded(&mut vm, cmd, expect);
    }
    let plan = vm
        .run_ok("/boot/kexec-trial-boot -n /boot/vmlinux /boot/rootfs.sqfs 2>&1")
        .check("dry run");
    assert!(plan.contains("phram.phram=rootfs,"), "{plan}");
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "0"
    );

    vm.send_line(
        "/boot/kexec-trial-boot --initrd /boot/child.cpio /boot/vmlinux /boot/rootfs.sqfs \
         limina.trial=1",
    )
    .check("kexec-trial-boot");
    vm.wait_ready(Duration::from_secs(240))
        .check("the new kernel boots");
    check_new_kernel(&mut vm, &rootfs, release);
    vm.poweroff().check("poweroff");
}

/// An OpenWrt-style firmware image from the bench kernel, made as
/// `boards/glinet/gl-ar750/post-image.sh` makes the GL-AR750's
/// `firmware.bin`: `vmlinux.bin` with a DTB appended, `xz --format=lzma`
/// with OpenWrt's parameters, `mkimage -C lzma` at the kernel's load
/// address and entry, padded to 64 KiB, then the squashfs.
fn firmware_image(dir: &Path, vmlinux: &Path, rootfs: &Path) -> PathBuf {
    let kernel = kexec::KernelImage::read(vmlinux).check("bench vmlinux");
    let kexec::image::Placement::Fixed { parts, entry } = &kernel.placement else {
        panic!("the bench vmlinux is an ELF with fixed parts")
    };
    let load = 0x8000_0000 | parts[0].address;
    let entry = 0x8000_0000 | entry;
    let bin = dir.join("vmlinux-dtb.bin");
    host_run(
        Command::new("mips-linux-gnu-objcopy")
            .args([
                "-O", "binary", "-R", ".reginfo", "-R", ".notes", "-R", ".note",
            ])
            .args([
                "-R",
                ".comment",
                "-R",
                ".mdebug",
                "-R",
                ".note.gnu.build-id",
                "-S",
            ])
            .arg(vmlinux)
            .arg(&bin),
    );
    let dts = dir.join("appended.dts");
    std::fs::write(
        &dts,
        "/dts-v1/;\n/ { model = \"appended\"; chosen { bootargs = \"appended-dtb-was-used\"; }; };\n",
    )
    .check("dts");
    let dtb = host_run(
        Command::new("dtc")
            .args(["-q", "-I", "dts", "-O", "dtb"])
            .arg(&dts),
    );
    let mut payload = std::fs::read(&bin).check("vmlinux.bin");
    payload.extend_from_slice(&dtb);
    std::fs::write(&bin, &payload).check("vmlinux-dtb.bin");
    let lzma = dir.join("vmlinux-dtb.bin.lzma");
    let compressed = host_run(
        Command::new("xz")
            .args([
                "--format=lzma",
                "--lzma1=preset=9,lc=1,lp=2,pb=2",
                "--stdout",
            ])
            .arg(&bin),
    );
    std::fs::write(&lzma, compressed).check("lzma");
    let uimage = dir.join("uImage");
    host_run(
        Command::new("mkimage")
            .args(["-A", "mips", "-O", "linux", "-T", "kernel", "-C", "lzma"])
            .args(["-a", &format!("{load:#x}"), "-e", &format!("{entry:#x}")])
            .args(["-n", "Limina bench"])
            .arg("-d")
            .arg(&lzma)
            .arg(&uimage),
    );
    let mut fw = std::fs::read(&uimage).check("uImage");
    fw.resize(fw.len().next_multiple_of(64 << 10), 0xff);
    fw.extend_from_slice(&std::fs::read(rootfs).check("rootfs"));
    let out = dir.join("firmware.bin");
    std::fs::write(&out, fw).check("firmware.bin");
    out
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn trial_boot_boots_a_firmware_image_of_lzma_uimage_and_squashfs() {
    let dir = build_dir().join("board-tests").join("mips-firmware-image");
    std::fs::create_dir_all(&dir).check("dir");
    let release = b"LIMINA_RELEASE=firmware-c41d\n";
    let rootfs = squashfs(
        &dir,
        "rootfs",
        &[
            ("etc/limina-release", release),
            ("usr/share/limina/payload", &[0xa5; 70_000]),
        ],
    );
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let firmware = firmware_image(&dir, &assets.kernel, &rootfs);
    // Cut 200 bytes into the squashfs: its superblock is there, its data not.
    let fw_len = std::fs::metadata(&firmware).check("size").len();
    let sqfs_len = std::fs::metadata(&rootfs).check("size").len();
    let truncated = dir.join("truncated.bin");
    std::fs::write(
        &truncated,
        &std::fs::read(&firmware).check("read")[..(fw_len - sqfs_len + 200) as usize],
    )
    .check("truncated");

    let (mut vm, _) = trial_guest(
        "trial-boot-firmware",
        &rootfs,
        &[
            ("/boot/firmware.bin", &firmware),
            ("/boot/truncated.bin", &truncated),
            ("/boot/uImage", &dir.join("uImage")),
        ],
    );

    for (cmd, expect) in [
        (
            "limina trial-boot /boot/truncated.bin",
            "the squashfs at 0x",
        ),
        ("limina trial-boot /boot/rootfs.sqfs", "uImage: magic"),
        (
            "limina trial-boot --erase-size 0x40000 /boot/firmware.bin",
            "no squashfs after the uImage 'Limina bench'",
        ),
    ] {
        assert_refused_nothing_loaded(&mut vm, cmd, expect);
    }

    // The uImage alone is a KERNEL for trial-boot and for kexec -l.
    let plan = vm
        .run_ok("limina trial-boot -n /boot/uImage /boot/rootfs.sqfs 2>&1")
        .check("uImage + rootfs dry run");
    assert!(plan.contains("raw MIPS kernel from a uImage"), "{plan}");
    vm.run_ok("limina kexec -l /boot/uImage --command-line console=ttyS0")
        .check("kexec -l uImage");
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "1"
    );
    vm.run_ok("limina kexec -u").check("kexec -u");

    let plan = vm
        .run_ok("limina trial-boot -n /boot/firmware.bin 2>&1")
        .check("dry run");
    assert!(
        plan.contains("uImage 'Limina bench'")
            && plan.contains("raw MIPS kernel from a uImage")
            && plan.contains("zeroed the DTB appended"),
        "{plan}"
    );

    vm.send_line(
        "limina trial-boot --initrd /boot/child.cpio --append limina.trial=1 /boot/firmware.bin",
    )
    .check("trial-boot");
    vm.wait_ready(Duration::from_secs(240))
        .check("the new kernel boots from the firmware image");
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(
        !cmdline.contains("appended-dtb-was-used"),
        "the kernel took the appended DTB: {cmdline}"
    );
    check_new_kernel(&mut vm, &rootfs, release);
    vm.poweroff().check("poweroff");
}

/// After a trial boot: the new kernel's command line carries the marker
/// and names the phram device as root, the `/reserved-memory` node is in
/// its tree, and the phram MTD holds the squashfs `rootfs` with its files.
fn check_new_kernel(vm: &mut Vm, rootfs: &Path, release: &[u8]) {
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
    let image_len = std::fs::metadata(rootfs).check("rootfs size").len();
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
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let firmware = firmware_image(&dir, &assets.kernel, &rootfs);
    let fw_len = std::fs::metadata(&firmware).check("size").len();
    let (mut vm, _) = trial_guest(
        "trial-boot-bench",
        &rootfs,
        &[
            ("/boot/firmware.bin", &firmware),
            ("/boot/kernel.lzma", &dir.join("vmlinux-dtb.bin.lzma")),
        ],
    );
    let page_kib = busybox_maxrss_divisor(&mut vm);
    let cmd = "limina trial-boot -l --initrd /boot/child.cpio /boot/vmlinux /boot/rootfs.sqfs";
    let (ms, maxrss) = measure_load(&mut vm, cmd, page_kib);
    let fw_cmd = "limina trial-boot -l --initrd /boot/child.cpio /boot/firmware.bin";
    let (fw_ms, fw_maxrss) = measure_load(&mut vm, fw_cmd, page_kib);
    // The reference for the decompression alone: busybox's unlzma on the
    // same stream.
    let mut unlzma_ms = Vec::new();
    for _ in 0..5 {
        let out = vm
            .run_ok(
                "t0=$(cut -d' ' -f1 /proc/uptime | tr -d .); \
                 unlzma -c /boot/kernel.lzma >/dev/null; \
                 t1=$(cut -d' ' -f1 /proc/uptime | tr -d .); echo $((t1 - t0))",
            )
            .check("unlzma");
        unlzma_ms.push(out.trim().parse::<u64>().check("centiseconds") * 10);
    }
    unlzma_ms.sort_unstable();
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
    println!(
        "trial-boot bench firmware: image {fw_len} bytes, start to loaded {} ms (median of 5, min {} max {}), \
         peak RSS {fw_maxrss} KiB, busybox unlzma of its kernel {} ms (median of 5)",
        fw_ms[2], fw_ms[0], fw_ms[4], unlzma_ms[2]
    );
    vm.poweroff().check("poweroff");
}

/// Runs `cmd` (a `trial-boot -l`) 5 times, unloading after each: the
/// sorted times in ms (guest `/proc/uptime`) and the peak RSS in KiB.
fn measure_load(vm: &mut Vm, cmd: &str, page_kib: u64) -> (Vec<u64>, u64) {
    let mut ms = Vec::new();
    let mut maxrss = 0u64;
    for _ in 0..5 {
        let out = vm
            .run_ok(&format!(
                "t0=$(cut -d' ' -f1 /proc/uptime | tr -d .); time -v {cmd} >/tmp/b.out 2>&1; \
                 t1=$(cut -d' ' -f1 /proc/uptime | tr -d .); limina kexec -u; \
                 echo \"cs=$((t1 - t0))\"; grep 'Maximum resident' /tmp/b.out"
            ))
            .check(cmd);
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
    assert_eq!(ms.len(), 5, "{cmd}: timings {ms:?}");
    assert!(maxrss > 0, "{cmd}: no maxrss from time -v");
    (ms, maxrss)
}

// ---------------------------------------------------------------------------
// `limina upgrade --trial` and `--commit` (issue 14): the old system checks
// a signed image and boots it from RAM; the new system commits itself to
// the flash slots only when healthy, and a new system that never becomes
// healthy is reset by the watchdog, after which the flash still holds the
// old image.
//
// The flash is the persistent-flash harness's two phram slots (8 MiB each,
// 64 KiB blocks) over RAM the kernels leave alone (`mem=` holes, kept on
// the trial kernel's command line). There is no boot loader in these VMs:
// after a reset the bench kernel and initramfs boot again, and the "boot
// loader model" is `limina upgrade --status`, which reads the slots as a
// boot loader would.
//
// The "new image" is the bench kernel as an LZMA uImage plus a squashfs,
// signed; its userland is a child initramfs (`--initrd`) playing the part of
// the image's init: it adds the flash devices, starts the image's watchdog
// service (`limina watchdog` on the malta's softdog, fed only once the
// commit is done, after a head start) and, when the image's root file
// system says it is healthy (`/etc/limina-healthy` on the phram squashfs:
// the stand-in for "the default bundle came up"), runs
// `package/limina-init/libexec/upgrade-commit`, the script the image's
// `upgrade-commit` service runs.
// ---------------------------------------------------------------------------

/// The slots' erase block and size (as `board-tests/tests/upgrade.rs`).
const ES: u32 = 64 * 1024;
const SLOT: u64 = 8 << 20;
/// The trial image's watchdog service: timeout, interval, head start (s).
const DOG_TIMEOUT: u64 = 5;
const DOG_HEAD_START: u64 = 45;

fn flash() -> limina_board_tests::PersistentFlash {
    limina_board_tests::PersistentFlash::new(ES)
        .device("firmware", SLOT)
        .device("firmware-b", SLOT)
}

/// A small valid firmware image that is not meant to boot: a `mkimage`
/// uImage of `kernel_len` bytes, padded to 64 KiB, and a squashfs.
fn small_firmware(dir: &Path, name: &str, kernel_len: usize) -> PathBuf {
    let work = dir.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).check("dir");
    let kernel: Vec<u8> = (0..kernel_len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
        .collect();
    std::fs::write(work.join("kernel"), kernel).check("kernel");
    host_run(
        Command::new("mkimage")
            .args(["-A", "mips", "-O", "linux", "-T", "kernel", "-C", "none"])
            .args(["-a", "0x80060000", "-e", "0x80060000", "-n", name, "-d"])
            .arg(work.join("kernel"))
            .arg(work.join("uImage")),
    );
    let rootfs = squashfs(&work, "root", &[("etc/limina-release", name.as_bytes())]);
    let mut fw = std::fs::read(work.join("uImage")).check("uImage");
    fw.resize(fw.len().next_multiple_of(ES as usize), 0xff);
    fw.extend_from_slice(&std::fs::read(rootfs).check("rootfs"));
    let out = dir.join(format!("{name}.bin"));
    std::fs::write(&out, fw).check("firmware");
    out
}

/// The child initramfs: the new image's userland in a trial boot.
fn trial_child(dir: &Path, public_key: &str) -> PathBuf {
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let commit_script =
        limina_board_tests::workspace_root().join("package/limina-init/libexec/upgrade-commit");
    let params = flash().phram_params(Machine::Mips).check("phram params");
    let init = format!(
        "#!/bin/sh\n\
         # The trial image's init, in miniature (board-tests/tests/trial_boot.rs).\n\
         for p in {params}; do echo \"$p\" > /sys/module/phram/parameters/phram; done\n\
         root=$(tr ' ' '\\n' < /proc/cmdline | sed -n 's/^root=//p')\n\
         mkdir -p /mnt/root\n\
         mount -t squashfs -o ro \"$root\" /mnt/root || echo \"trial-init: cannot mount $root\" > /run/commit.log\n\
         # The image's watchdog service: feeds only once the commit is done.\n\
         limina watchdog -t {DOG_TIMEOUT} -i 1 -H {DOG_HEAD_START} --file /run/committed > /run/watchdog.log 2>&1 &\n\
         # The health condition, then the upgrade-commit service's script.\n\
         ( if test -e /mnt/root/etc/limina-healthy; then\n\
             /usr/libexec/limina-init/upgrade-commit > /run/commit.log 2>&1 &&\n\
             cut -d' ' -f1 /proc/uptime > /run/committed.tmp && mv /run/committed.tmp /run/committed\n\
           else echo 'trial-init: the health condition never passes' > /run/commit.log; fi ) &\n\
         true\n",
        params = params.join(" "),
    );
    let out = dir.join("trial-child.cpio");
    let mut child = Initramfs::new(Machine::Mips);
    child
        .limina(&limina, &[])
        .bytes("/etc/trial-init", init, 0o755)
        .bytes("/etc/limina/signing.pub", public_key.to_owned(), 0o644)
        // No s6 here, so no settle check (settle 0: the script then does
        // not ask s6-rc-db); the settle check is tested on the real image
        // in buildroot_trial.rs.
        .bytes("/etc/limina-init/trial-settle", "0\n".to_owned(), 0o644)
        .file(
            "/usr/libexec/limina-init/upgrade-commit",
            &commit_script,
            0o755,
        )
        .init_command("/etc/trial-init");
    child.write(&assets, &out).check("child initramfs");
    out
}

/// The sha256 each slot's image has for the boot loader model (`None`:
/// invalid), and the slot it boots.
fn slot_status(vm: &mut Vm) -> (Option<String>, Option<String>, String) {
    let out = vm
        .run_ok("limina upgrade --status")
        .check("upgrade --status");
    let sha = |slot: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{slot} ")))
            .check_some(&format!("{slot} in {out}"));
        line.split(", ")
            .find_map(|f| f.strip_prefix("sha256 "))
            .map(str::to_owned)
    };
    let boots = out
        .lines()
        .find_map(|l| l.strip_prefix("boots: "))
        .check_some("boots:")
        .to_owned();
    (sha("primary"), sha("fallback"), boots)
}

fn guest_sha256(vm: &mut Vm, path: &str) -> String {
    vm.run_ok(&format!("sha256sum < {path}"))
        .check("sha256sum")
        .split_whitespace()
        .next()
        .check_some("sha256")
        .to_owned()
}

/// The old system: the slots, the key, the old image written to both slots
/// by a normal upgrade, the new image and the child initramfs. Returns the
/// VM and the sha256 of the old and new images.
fn upgrade_trial_vm(name: &str, healthy: bool) -> (Vm, String, String) {
    use limina_sign::SecretKey;
    let dir = build_dir()
        .join("board-tests")
        .join(format!("mips-{name}-inputs"));
    std::fs::create_dir_all(&dir).check("dir");
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let mut files: Vec<(&str, &[u8])> = vec![("etc/limina-release", b"LIMINA_RELEASE=new\n")];
    if healthy {
        files.push(("etc/limina-healthy", b"yes\n"));
    }
    let rootfs = squashfs(&dir, "new-root", &files);
    let new = firmware_image(&dir, &assets.kernel, &rootfs);
    let old = small_firmware(&dir, "old", 200_000);
    let key = SecretKey::generate().check("keygen");
    let sign = |path: &Path| -> String {
        key.sign(
            &std::fs::read(path).check("image")[..],
            "timestamp:1\tfile:firmware.bin\tboard:mti,malta",
        )
        .check("sign")
        .to_text()
    };
    let public = key.public_key().to_text();
    let child = trial_child(&dir, &public);
    let mut flipped = std::fs::read(&new).check("new");
    let at = flipped.len() - 3000;
    flipped[at] ^= 0x08;

    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = VmConfig::new(Machine::Mips, name).check("config");
    flash().apply(&mut cfg).check("persistent flash");
    cfg.initramfs
        .limina(&limina, &[])
        .bytes("/etc/limina/signing.pub", public.clone(), 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .file("/img/new.bin", &new, 0o644)
        .bytes("/img/new.bin.minisig", sign(&new), 0o644)
        .file("/img/old.bin", &old, 0o644)
        .bytes("/img/old.bin.minisig", sign(&old), 0o644)
        .bytes("/img/flipped.bin", flipped, 0o644)
        .bytes("/img/flipped.bin.minisig", sign(&new), 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    let out = vm
        .run_ok("limina upgrade /img/old.bin 2>&1")
        .check("the old image into both slots");
    assert!(out.contains("upgrade: done"), "{out}");
    let old_sha = guest_sha256(&mut vm, "/img/old.bin");
    let new_sha = guest_sha256(&mut vm, "/img/new.bin");
    assert_eq!(
        slot_status(&mut vm),
        (
            Some(old_sha.clone()),
            Some(old_sha.clone()),
            "primary".to_owned()
        )
    );
    (vm, old_sha, new_sha)
}

/// The trial command, with the child initramfs as the new image's
/// userland.
const TRIAL: &str = "limina upgrade --trial --grace 30 --initrd /boot/child.cpio /img/new.bin";

/// Sends [`TRIAL`] and waits for the new kernel's shell; checks what the
/// old side said and what the new kernel got. Returns the old side's
/// lines and the host time from the command to the new shell.
fn trial_boot_into_new(vm: &mut Vm) -> (String, Duration) {
    let t = std::time::Instant::now();
    vm.send_line(&format!("{TRIAL} 2>&1")).check("trial");
    let said = vm
        .wait_for_console("left running across the jump", Duration::from_secs(120))
        .check("the old side arms the watchdog");
    vm.wait_ready(Duration::from_secs(240))
        .check("the new kernel boots");
    let to_shell = t.elapsed();
    eprintln!("trial: the old side said:\n{said}");
    assert!(said.contains("signed by key"), "{said}");
    assert!(said.contains("board mti,malta"), "{said}");
    // softdog (as i6300esb and every watchdog-core driver by default) is
    // stopped by the kernel at kexec: the test shows that the old side
    // says so, not that the watchdog survives.
    assert!(said.contains("watchdog.stop_on_reboot=-1"), "{said}");

    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(cmdline.contains("limina.trial=1"), "{cmdline}");
    assert!(cmdline.contains("watchdog.open_timeout=30"), "{cmdline}");
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let index = |name: &str| {
        proc_mtd
            .lines()
            .find(|l| l.ends_with(&format!("\"{name}\"")))
            .and_then(|l| l.strip_prefix("mtd"))
            .and_then(|l| l.split(':').next())
            .map(str::to_owned)
            .check_some(&format!("{name} in /proc/mtd:\n{proc_mtd}"))
    };
    let (region, rootfs) = (index("limina-upgrade"), index("rootfs"));
    let root = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("root="))
        .check_some("root=");
    assert_eq!(root, format!("/dev/mtdblock{rootfs}"), "{proc_mtd}");
    assert_eq!(
        vm.run_ok("cat /mnt/root/etc/limina-release")
            .check("the new root file system, mounted from phram"),
        "LIMINA_RELEASE=new"
    );
    let label = vm
        .run_ok("cat /proc/device-tree/reserved-memory/phram@*/label")
        .check("label");
    assert!(label.contains("limina-upgrade"), "{label}");
    eprintln!("trial: limina-upgrade is mtd{region}, rootfs mtd{rootfs}; {cmdline}");
    (said, to_shell)
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn upgrade_trial_a_healthy_image_commits_itself_to_the_slots() {
    let (mut vm, old_sha, new_sha) = upgrade_trial_vm("upgrade-trial-healthy", true);

    // Refusals, with nothing loaded and the flash unchanged.
    let (rc, out) = vm
        .run("limina upgrade --commit 2>&1")
        .check("commit outside a trial");
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("refused: this system was not trial-booted (limina.trial=1 is not on /proc/cmdline); nothing was written"),
        "{out}"
    );
    assert_refused_nothing_loaded(
        &mut vm,
        "limina upgrade --trial --grace 30 --initrd /boot/child.cpio /img/flipped.bin",
        "refused: signature",
    );
    assert_refused_nothing_loaded(
        &mut vm,
        "limina upgrade --trial --grace 30 --initrd /nonexistent /img/new.bin",
        "cannot read /nonexistent",
    );
    // The image's watchdog service holds the device: refused with the way
    // out, nothing loaded.
    vm.run_ok(
        "limina watchdog -t 30 -i 1 -H 0 --file / >/tmp/dog.log 2>&1 & echo $! > /tmp/dog.pid",
    )
    .check("a watchdog service");
    assert_refused_nothing_loaded(
        &mut vm,
        "sleep 1; limina upgrade --trial --grace 30 --initrd /boot/child.cpio /img/new.bin",
        "the watchdog service holds it; stop it first",
    );
    vm.run_ok("kill $(cat /tmp/dog.pid); wait")
        .check("stop the watchdog service (magic close)");
    // The watchdog was never armed by those: it can be opened and stopped.
    vm.run_ok("limina watchdog --info >/dev/null")
        .check("the watchdog is free");
    // The dry run, from a signed stream on standard input (as over ssh).
    let plan = vm
        .run_ok(
            "cat /img/new.bin.minisig /img/new.bin | \
             limina upgrade --trial -n --initrd /boot/child.cpio - 2>&1",
        )
        .check("dry run");
    assert!(
        plan.contains("phram limina-upgrade: ")
            && plan.contains("limina.trial=1")
            && plan.contains("root=/dev/mtdblock1"),
        "{plan}"
    );
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "0"
    );
    assert_eq!(slot_status(&mut vm).0.as_deref(), Some(old_sha.as_str()));

    let t = std::time::Instant::now();
    let (_, to_shell) = trial_boot_into_new(&mut vm);
    // The new system commits itself; the slots were not touched before.
    let mut committed = None;
    for _ in 0..120 {
        let (rc, out) = vm.run("cat /run/committed").check("committed?");
        if rc == 0 {
            committed = Some(out);
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let to_committed = t.elapsed();
    let log = vm.run_ok("cat /run/commit.log").check("commit log");
    let uptime = committed.unwrap_or_else(|| panic!("the trial system did not commit:\n{log}"));
    assert!(log.contains("upgrade: done: primary"), "{log}");
    assert!(
        log.contains("the next boot boots this image from flash"),
        "{log}"
    );
    assert_eq!(
        slot_status(&mut vm),
        (
            Some(new_sha.clone()),
            Some(new_sha.clone()),
            "primary".to_owned()
        ),
        "{log}"
    );
    println!(
        "upgrade --trial (healthy): command to the new kernel's shell {:.1} s, to committed {:.1} s \
         (host time; the new kernel's uptime at commit {uptime} s)\ncommit log:\n{log}",
        to_shell.as_secs_f64(),
        to_committed.as_secs_f64()
    );

    // The healthy system is not reset: its watchdog service feeds past the
    // head start and timeout.
    let boots = vm.boots();
    std::thread::sleep(Duration::from_secs(DOG_HEAD_START + 2 * DOG_TIMEOUT));
    let up: f64 = vm
        .run_ok("cut -d' ' -f1 /proc/uptime")
        .check("uptime")
        .parse()
        .check("uptime");
    assert!(up > (DOG_HEAD_START + DOG_TIMEOUT) as f64, "uptime {up}");
    assert_eq!(vm.boots(), boots);
    let dog = vm.run_ok("cat /run/watchdog.log").check("watchdog log");
    assert!(!dog.contains("check failed"), "{dog}");

    // A power cut: the boot loader model boots the new image from flash.
    vm.reboot_hard().check("power cut");
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(!cmdline.contains("limina.trial"), "{cmdline}");
    assert_eq!(
        slot_status(&mut vm),
        (Some(new_sha.clone()), Some(new_sha), "primary".to_owned())
    );
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn upgrade_trial_an_unhealthy_image_is_reset_by_the_watchdog_and_the_old_one_stays() {
    let (mut vm, old_sha, _) = upgrade_trial_vm("upgrade-trial-unhealthy", false);
    let (_, to_shell) = trial_boot_into_new(&mut vm);
    let boots = vm.boots();
    // The health condition never passes, so the image's watchdog service
    // stops feeding after its head start and the softdog resets the
    // machine. QEMU resets into the bench kernel and initramfs: the "old
    // image" as far as these VMs can boot one.
    let t = std::time::Instant::now();
    let out = vm
        .run_until_reset(
            "cat /run/commit.log; tail -f /run/watchdog.log",
            Duration::from_secs(DOG_HEAD_START + 4 * DOG_TIMEOUT + 30),
        )
        .check("the watchdog resets the trial system");
    let to_reset = t.elapsed();
    assert!(out.contains("the health condition never passes"), "{out}");
    assert!(out.contains("watchdog: check failed"), "{out}");
    assert_eq!(vm.boots(), boots + 1);
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(!cmdline.contains("limina.trial"), "{cmdline}");
    // The flash is as it was: the boot loader model boots the old image.
    assert_eq!(
        slot_status(&mut vm),
        (Some(old_sha.clone()), Some(old_sha), "primary".to_owned())
    );
    println!(
        "upgrade --trial (unhealthy): command to the new kernel's shell {:.1} s; from there to \
         the watchdog reset and the old system's shell {:.1} s",
        to_shell.as_secs_f64(),
        to_reset.as_secs_f64()
    );
    vm.poweroff().check("poweroff");
}

// ---------------------------------------------------------------------------
// What `--grace` relies on, where a VM has a hardware watchdog: the x86_64
// guest's i6300esb (malta has none, and softdog is a timer of the kernel
// that kexec replaces). The old kernel's watchdog is armed and left open
// without a magic close (as `limina upgrade --trial` leaves it: here by
// SIGKILLing a feeding `limina watchdog`), then a new kernel is kexec'd
// whose initramfs never touches the watchdog. With `watchdog.stop_on_reboot=0`
// the kernel keeps the 6300ESB running across kexec and it resets the new
// system one timeout after the last feed; with the default, the driver's
// reboot notifier stops it at kexec and nothing resets the new system.
// (x86_64 has no device tree, so `limina upgrade --trial` itself does not
// run there: this is the kernel behaviour the MIPS tests cannot show.)
// ---------------------------------------------------------------------------

const ESB_TIMEOUT: u64 = 20;

fn watchdog_across_kexec(keep_running: bool) -> Option<Duration> {
    let assets = MachineAssets::find(Machine::X86_64).check("assets");
    let name = if keep_running {
        "trial-esb-kept"
    } else {
        "trial-esb-stopped"
    };
    let dir = build_dir()
        .join("board-tests")
        .join(format!("x86_64-{name}-inputs"));
    std::fs::create_dir_all(&dir).check("dir");
    let child = dir.join("child.cpio");
    let mut rd = Initramfs::new(Machine::X86_64);
    rd.bytes("/etc/kexec-child", "the new system\n", 0o644);
    rd.write(&assets, &child).check("child initramfs");

    let mut cfg = VmConfig::new(Machine::X86_64, name).check("config");
    cfg.qemu_args
        .extend(["-device", "i6300esb", "-trace", "watchdog_perform_action"].map(String::from));
    cfg.allow_reboot = true;
    let params = if keep_running { "stop_on_reboot=0" } else { "" };
    cfg.initramfs
        .module("watchdog", params)
        .module("i6300esb", "")
        .file("/boot/bzImage", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .limina(guest_limina(Machine::X86_64).check("limina"), &[]);
    let mut vm = Vm::boot(cfg).check("boot");
    let param = vm
        .run_ok("cat /sys/module/watchdog/parameters/stop_on_reboot")
        .check("stop_on_reboot");
    assert_eq!(param, if keep_running { "0" } else { "-1" });
    vm.run_ok(
        "limina kexec -s -l /boot/bzImage --initrd /boot/child.cpio \
         --command-line 'console=ttyS0 rdinit=/init panic=-1 loglevel=4 limina.trial=1'",
    )
    .check("kexec -s -l");
    // Arm: a feeding daemon with the timeout, killed without magic close.
    vm.run_ok(&format!(
        "limina watchdog -t {ESB_TIMEOUT} -i 1 -H 0 --file / >/tmp/dog.log 2>&1 & \
         sleep 2; kill -9 $!; wait $! 2>/dev/null; true"
    ))
    .check("arm and abandon the watchdog");
    let fed = std::time::Instant::now();
    vm.send_line("limina kexec -e").check("kexec -e");
    vm.wait_ready(Duration::from_secs(120))
        .check("the new kernel boots");
    let boots = vm.boots();
    assert!(vm
        .run_ok("cat /proc/cmdline")
        .check("cmdline")
        .contains("limina.trial=1"));
    assert_eq!(
        vm.run_ok("cat /etc/kexec-child").check("child"),
        "the new system"
    );
    // The new system never opens the watchdog (its driver is not even
    // loaded).
    if keep_running {
        vm.wait_for_console(
            "watchdog_perform_action",
            Duration::from_secs(ESB_TIMEOUT + 40),
        )
        .check("stop_on_reboot=0: the watchdog resets the new kernel");
        let took = fed.elapsed();
        vm.wait_ready(Duration::from_secs(120))
            .check("the fresh boot after the reset");
        assert_eq!(vm.boots(), boots + 1);
        assert!(!vm
            .run_ok("cat /proc/cmdline")
            .check("cmdline")
            .contains("limina.trial=1"));
        vm.poweroff().check("poweroff");
        return Some(took);
    }
    // A command that outlives the timeout twice over finishes in the same
    // kernel: nothing reset it.
    vm.run_timeout(
        &format!("sleep {}", 2 * ESB_TIMEOUT),
        Duration::from_secs(2 * ESB_TIMEOUT + 60),
    )
    .check("the default: no reset of the new kernel");
    assert_eq!(vm.boots(), boots);
    assert!(vm
        .run_ok("cat /proc/cmdline")
        .check("cmdline")
        .contains("limina.trial=1"));
    vm.poweroff().check("poweroff");
    None
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn i6300esb_left_armed_resets_a_kexeced_kernel_that_never_feeds_it_with_stop_on_reboot_0() {
    let took = watchdog_across_kexec(true).check_some("a reset");
    println!(
        "i6300esb across kexec (stop_on_reboot=0): reset {:.1} s after the last feed (timeout {ESB_TIMEOUT} s)",
        took.as_secs_f64()
    );
    assert!(
        took >= Duration::from_secs(ESB_TIMEOUT - 2),
        "reset too early: {took:?}"
    );
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn i6300esb_is_stopped_at_kexec_by_default() {
    assert!(watchdog_across_kexec(false).is_none());
}
