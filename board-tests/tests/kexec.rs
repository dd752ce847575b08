//! kexec: our loaders on real kernel images (no VM), and `limina kexec` in
//! guests — aarch64 with `kexec_load`, an edited device tree and our
//! trampoline; x86_64 with `kexec_file_load`; bad input loading nothing.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use kexec::dtb::{Fdt, ReservedRegion};
use kexec::image::Placement;
use kexec::{Arch, Format, KernelImage, Layout, MemoryMap, Range};
use limina_board_tests::{
    guest_limina, vm_assets_dir, Initramfs, Machine, MachineAssets, Vm, VmConfig,
};

use crate::common::{busybox_maxrss_divisor, Check, CheckSome};

/// A kernel image from `scripts/vm-assets kexec-images`.
fn extra_image(name: &str) -> PathBuf {
    let p = vm_assets_dir().join("kexec-images").join(name);
    assert!(
        p.is_file(),
        "{} missing: run scripts/vm-assets kexec-images",
        p.display()
    );
    p
}

/// Lay a real kernel out in `ram` with a DTB and an initrd, check the
/// invariants, and return the plan's segments.
fn lay_out(image: &KernelImage, ram: Range) -> kexec::LoadPlan {
    let mut l = Layout::new(image.arch, MemoryMap::new(vec![ram], vec![]));
    let k = l.add_kernel(image).check("kernel");
    assert!(ram.contains(&k.footprint), "{:?}", k.footprint);
    let rd = l.add_initrd(vec![0x42; 3 << 20]).check("initrd");
    let mut fdt = Fdt::new();
    fdt.set_initrd(rd.start, rd.end).check("set_initrd");
    fdt.set_bootargs("console=ttyS0").check("bootargs");
    l.add_dtb(fdt.to_bytes()).check("dtb");
    let rootfs = l.find_free(6 << 20, 1 << 20).check("find_free");
    l.add_fixed("rootfs", rootfs, vec![0; 6 << 20])
        .check("rootfs");
    let plan = l.finish().check("finish");
    for (i, s) in plan.segments.iter().enumerate() {
        assert_eq!(s.address % 4096, 0);
        assert!(ram.contains(&s.range()), "{} {}", s.name, s.range());
        assert!(!k.footprint.overlaps(&s.range()) || s.name.starts_with("kernel"));
        for t in &plan.segments[i + 1..] {
            assert!(!s.range().overlaps(&t.range()), "{} / {}", s.name, t.name);
        }
    }
    plan
}

#[test]
#[cfg_attr(
    not(feature = "vm"),
    ignore = "needs scripts/vm-assets: runs in the vm-tests stage"
)]
fn real_arm64_image_from_debian() {
    let assets = MachineAssets::find(Machine::Aarch64).check("assets");
    let data = std::fs::read(&assets.kernel).check("read");
    let image = KernelImage::parse(&data).check("parse");
    assert_eq!(
        (image.arch, image.format),
        (Arch::Aarch64, Format::Arm64Image)
    );
    let h = kexec::image::Arm64Header::parse(&data).check("header");
    assert_eq!(h.page_size(), Some(4096), "Debian arm64 uses 4K pages");
    assert!(!h.big_endian());
    assert!(h.image_size > data.len() as u64, "image_size counts .bss");
    let plan = lay_out(&image, Range::new(0x4000_0000, 0x6000_0000));
    let kernel = plan
        .segments
        .iter()
        .find(|s| s.name == "kernel")
        .check_some("kernel");
    assert_eq!(kernel.address, 0x4000_0000 + h.text_offset);
    assert_eq!(kernel.data.len(), data.len());
    let tramp = plan
        .segments
        .iter()
        .find(|s| s.name == "trampoline")
        .check_some("trampoline");
    assert_eq!(plan.entry, tramp.address);
}

#[test]
#[cfg_attr(
    not(feature = "vm"),
    ignore = "needs scripts/vm-assets: runs in the vm-tests stage"
)]
fn real_mips_be_malta_vmlinux() {
    let assets = MachineAssets::find(Machine::Mips).check("assets");
    let data = std::fs::read(&assets.kernel).check("read");
    let image = KernelImage::parse(&data).check("parse");
    assert_eq!((image.arch, image.format), (Arch::Mips, Format::MipsElf));
    let Placement::Fixed { parts, entry } = &image.placement else {
        panic!("fixed placement")
    };
    // readelf: LOAD at 0x80100000 (physical 0x100000).
    assert!(parts.iter().all(|p| p.address < 0x2000_0000));
    assert!(parts.iter().any(|p| p.address == 0x0010_0000), "{parts:?}");
    assert!(*entry > 0x0010_0000 && *entry < 0x2000_0000);
    let plan = lay_out(&image, Range::new(0, 0x1000_0000));
    assert_eq!(plan.entry, *entry);
}

#[test]
#[cfg_attr(
    not(feature = "vm"),
    ignore = "needs scripts/vm-assets: runs in the vm-tests stage"
)]
fn real_mipsel_malta_vmlinux_from_debian() {
    let data = std::fs::read(extra_image("mipsel-vmlinux")).check("read");
    let image = KernelImage::parse(&data).check("parse");
    assert_eq!((image.arch, image.format), (Arch::Mipsel, Format::MipsElf));
    let Placement::Fixed { entry, .. } = image.placement else {
        panic!("fixed placement")
    };
    let plan = lay_out(&image, Range::new(0, 0x1000_0000));
    assert_eq!(plan.entry, entry);
}

#[test]
#[cfg_attr(
    not(feature = "vm"),
    ignore = "needs scripts/vm-assets: runs in the vm-tests stage"
)]
fn real_armhf_zimage_from_debian() {
    let data = std::fs::read(extra_image("armhf-zImage")).check("read");
    let image = KernelImage::parse(&data).check("parse");
    assert_eq!((image.arch, image.format), (Arch::Arm, Format::ArmZimage));
    let plan = lay_out(&image, Range::new(0x4000_0000, 0x6000_0000));
    assert_eq!(plan.entry, 0x4000_8000);
    // The DTB and initrd stay clear of the room the zImage decompresses into.
    let dtb = plan
        .segments
        .iter()
        .find(|s| s.name == "dtb")
        .check_some("dtb");
    assert!(dtb.address >= 0x4000_8000 + 4 * data.len() as u64);
}

/// Sends `data` to `path` in the guest as base64 lines.
fn write_guest_file(vm: &mut Vm, path: &str, data: &[u8]) {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    vm.run_ok(&format!("rm -f {path}.b64")).check("rm");
    for chunk in text.as_bytes().chunks(512) {
        let line = std::str::from_utf8(chunk).check("ascii");
        vm.run_ok(&format!("echo {line} >> {path}.b64"))
            .check("send");
    }
    vm.run_ok(&format!("base64 -d {path}.b64 > {path}"))
        .check("decode");
}

/// An arm64 Image header claiming 1 GiB: more than the guest's RAM.
fn huge_arm64_image() -> Vec<u8> {
    let mut v = vec![0u8; 4096];
    v[16..24].copy_from_slice(&(1u64 << 30).to_le_bytes());
    v[24..32].copy_from_slice(&0b1010u64.to_le_bytes());
    v[0x38..0x3c].copy_from_slice(b"ARM\x64");
    v
}

fn child_initramfs(machine: Machine, assets: &MachineAssets) -> PathBuf {
    let dir = vm_assets_dir()
        .with_file_name("board-tests")
        .join(format!("{machine}-kexec-child"));
    std::fs::create_dir_all(&dir).check("dir");
    let child = dir.join("initramfs.cpio");
    let mut rd = Initramfs::new(machine);
    rd.bytes("/etc/kexec-child", "the child initramfs\n", 0o644);
    rd.write(assets, &child).check("child initramfs");
    child
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn aarch64_kexec_load_with_edited_running_dtb() {
    let assets = MachineAssets::find(Machine::Aarch64).check("assets");
    let child = child_initramfs(Machine::Aarch64, &assets);
    let mut cfg = VmConfig::new(Machine::Aarch64, "kexec").check("config");
    cfg.initramfs
        .file("/boot/Image", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .bytes("/boot/huge-Image", huge_arm64_image(), 0o644)
        .limina(guest_limina(Machine::Aarch64).check("limina"), &["kexec"]);
    let mut vm = Vm::boot(cfg).check("boot");
    let loaded = |vm: &mut Vm| vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded");

    // Bad input: a clear one-line error, exit 1, nothing loaded.
    for (cmd, says) in [
        ("kexec -l /boot/child.cpio", "not a kernel image"),
        ("kexec -l /boot/huge-Image", "more than RAM"),
        (
            "kexec -l /boot/Image --dtb /boot/child.cpio --initrd /boot/child.cpio",
            "dtb: bad magic",
        ),
        ("kexec -e", "nothing has been loaded"),
    ] {
        let (status, out) = vm.run(&format!("{cmd} 2>&1")).check(cmd);
        assert_eq!(status, 1, "{cmd}: {out}");
        assert!(out.contains(says), "{cmd}: {out}");
        assert_eq!(out.trim().lines().count(), 1, "{cmd}: {out}");
        assert_eq!(loaded(&mut vm), "0", "{cmd} loaded nothing");
    }

    // The running tree as it is: load, then unload.
    let out = vm
        .run_ok("kexec -d -l /boot/Image --initrd /boot/child.cpio 2>&1")
        .check("kexec -l (running tree)");
    assert!(out.contains("trampoline"), "{out}");
    assert_eq!(loaded(&mut vm), "1");
    vm.run_ok("kexec -u").check("kexec -u");
    assert_eq!(loaded(&mut vm), "0");

    // The running tree edited on the host: a reserved-memory node.
    let running = vm.read_file("/sys/firmware/fdt").check("read fdt");
    let mut fdt = Fdt::parse(&running).check("parse running fdt");
    let node = fdt
        .add_reserved_memory(&ReservedRegion {
            name: "limina-test".into(),
            address: 0x5f00_0000,
            size: 0x10_0000,
            compatible: None,
            no_map: true,
        })
        .check("reserved-memory");
    assert_eq!(node, "/reserved-memory/limina-test@5f000000");
    write_guest_file(&mut vm, "/tmp/next.dtb", &fdt.to_bytes());
    vm.run_ok(
        "kexec -l /boot/Image --dtb /tmp/next.dtb --initrd /boot/child.cpio \
         --append limina.kexec=arm64-dtb",
    )
    .check("kexec -l (edited tree)");
    assert_eq!(loaded(&mut vm), "1");
    vm.send_line("kexec -e").check("kexec -e");
    vm.wait_ready(Duration::from_secs(240))
        .check("second kernel boots");

    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(cmdline.contains("limina.kexec=arm64-dtb"), "{cmdline}");
    let rm = vm
        .run_ok("ls /proc/device-tree/reserved-memory/")
        .check("reserved-memory");
    assert!(rm.contains("limina-test@5f000000"), "{rm}");
    let reg = vm
        .run_ok("od -An -tx1 /proc/device-tree/reserved-memory/limina-test@5f000000/reg")
        .check("reg");
    assert_eq!(
        reg.split_whitespace().collect::<String>(),
        "000000005f0000000000000000100000",
        "{reg}"
    );
    // It booted from the initrd we gave.
    assert_eq!(
        vm.run_ok("cat /etc/kexec-child").check("child marker"),
        "the child initramfs"
    );
    assert_eq!(vm.run("test -e /boot/Image").check("no Image").0, 1);
    vm.poweroff().check("poweroff");
}

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
fn x86_64_kexec_file_load_with_initrd_and_command_line() {
    let assets = MachineAssets::find(Machine::X86_64).check("assets");
    let child = child_initramfs(Machine::X86_64, &assets);
    let mut cfg = VmConfig::new(Machine::X86_64, "kexec-file").check("config");
    cfg.initramfs
        .file("/boot/bzImage", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .limina(guest_limina(Machine::X86_64).check("limina"), &["kexec"])
        .host_program("/usr/sbin/kexec-tools", sbin("kexec"))
        .check("kexec-tools");
    let mut vm = Vm::boot(cfg).check("boot");
    let loaded = |vm: &mut Vm| vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded");

    // Not a kernel: refused before the syscall.
    let (status, out) = vm
        .run("kexec -s -l /boot/child.cpio 2>&1")
        .check("not a kernel");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("not a kernel image"), "{out}");
    assert_eq!(loaded(&mut vm), "0");
    // -l without -s on x86_64 is refused with a hint.
    let (status, out) = vm.run("kexec -l /boot/bzImage 2>&1").check("no -s");
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("kexec_file_load"), "{out}");
    assert_eq!(loaded(&mut vm), "0");

    vm.run_ok(
        "kexec -s -l /boot/bzImage --initrd /boot/child.cpio \
         --command-line 'console=ttyS0 rdinit=/init panic=-1 loglevel=4 limina.kexec=file'",
    )
    .check("kexec -s -l");
    assert_eq!(loaded(&mut vm), "1");
    vm.run_ok("kexec -s -u").check("unload");
    assert_eq!(loaded(&mut vm), "0");
    vm.run_ok(
        "kexec -s -l /boot/bzImage --initrd=/boot/child.cpio \
         --command-line='console=ttyS0 rdinit=/init panic=-1 loglevel=4 limina.kexec=file'",
    )
    .check("kexec -s -l again");
    vm.send_line("kexec -e").check("kexec -e");
    vm.wait_ready(Duration::from_secs(120))
        .check("second kernel boots");
    let cmdline = vm.run_ok("cat /proc/cmdline").check("cmdline");
    assert!(cmdline.contains("limina.kexec=file"), "{cmdline}");
    assert_eq!(
        vm.run_ok("cat /etc/kexec-child").check("child marker"),
        "the child initramfs"
    );
    vm.poweroff().check("poweroff");
}

/// Mean milliseconds per run of `cmd` over `runs` runs, from the guest's
/// `/proc/uptime` (10 ms resolution, hence many runs), and the peak RSS of
/// one run in KiB (busybox `time -v`, corrected: see
/// [`busybox_maxrss_divisor`]).
fn time_and_rss(vm: &mut Vm, cmd: &str, runs: u32) -> (f64, u64) {
    let out = vm
        .run_ok(&format!(
            "a=$(cut -d' ' -f1 /proc/uptime); for i in $(seq {runs}); do {cmd} >/dev/null || exit 1; done; \
             b=$(cut -d' ' -f1 /proc/uptime); echo $a $b"
        ))
        .check(cmd);
    let t: Vec<f64> = out
        .split_whitespace()
        .map(|s| s.parse().check("uptime"))
        .collect();
    let ms = (t[1] - t[0]) * 1000.0 / f64::from(runs);
    let v = vm
        .run_ok(&format!(
            "time -v {cmd} 2>&1 >/dev/null | grep 'Maximum resident'"
        ))
        .check("time -v");
    let kib: u64 = v
        .rsplit(':')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .check_some("Maximum resident set size");
    (ms, kib / busybox_maxrss_divisor(vm))
}

/// Not a test: `scripts/bench-kexec` runs it and prints the table.
#[test]
#[ignore = "benchmark: run by scripts/bench-kexec"]
fn bench_kexec_load_vs_kexec_tools() {
    let assets = MachineAssets::find(Machine::X86_64).check("assets");
    let child = child_initramfs(Machine::X86_64, &assets);
    let mut cfg = VmConfig::new(Machine::X86_64, "kexec-bench").check("config");
    cfg.initramfs
        .file("/boot/bzImage", &assets.kernel, 0o644)
        .file("/boot/child.cpio", &child, 0o644)
        .limina(guest_limina(Machine::X86_64).check("limina"), &["kexec"])
        .host_program("/usr/sbin/kexec-tools", sbin("kexec"))
        .check("kexec-tools");
    let mut vm = Vm::boot(cfg).check("boot");
    let args = "/boot/bzImage --initrd=/boot/child.cpio --command-line='console=ttyS0 quiet'";
    let runs = 20;
    let rows = [
        (
            "limina kexec -s -l",
            format!("/usr/local/bin/kexec -s -l {args}"),
        ),
        (
            "kexec-tools -s -l",
            format!("/usr/sbin/kexec-tools -s -l {args}"),
        ),
        (
            "kexec-tools -c -l",
            format!("/usr/sbin/kexec-tools -c -l {args}"),
        ),
    ];
    let kernel = std::fs::metadata(&assets.kernel).check("size").len();
    let rd = std::fs::metadata(&child).check("size").len();
    println!(
        "kexec load in the x86_64 VM (TCG): bzImage {} KiB, initrd {} KiB, mean of {runs} runs",
        kernel >> 10,
        rd >> 10
    );
    println!(
        "| {:<20} | {:>12} | {:>14} |",
        "command", "ms per load", "peak RSS (KiB)"
    );
    println!("|{:-<22}|{:->14}|{:->16}|", "", "", "");
    for (name, cmd) in rows {
        let (ms, kib) = time_and_rss(&mut vm, &cmd, runs);
        assert_eq!(
            vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
            "1",
            "{name} loaded"
        );
        vm.run_ok("/usr/sbin/kexec-tools -u").check("unload");
        println!("| {name:<20} | {ms:>12.1} | {kib:>14} |");
    }
    vm.poweroff().check("poweroff");
}
