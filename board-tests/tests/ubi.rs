//! UBI with our applets on real kernels: an image built by our `ubinize`
//! (with a UBIFS volume from mtd-utils' `mkfs.ubifs`) written raw to a
//! nandsim NAND with a bad block, attached and mounted; then volume
//! create/update/rename/remove through our ioctls, on x86_64 (Debian's
//! modules) and on the big-endian MIPS kernel (built in), whose ioctl
//! numbers are encoded differently.

use std::path::{Path, PathBuf};
use std::process::Command;

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};

use crate::common::{sha256_file, Check, CheckSome};

const APPLETS: &[&str] = &[
    "ubiattach",
    "ubidetach",
    "ubimkvol",
    "ubirmvol",
    "ubirsvol",
    "ubirename",
    "ubiupdatevol",
    "ubinfo",
    "ubinize",
];

/// Deterministic pseudo-random bytes.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("limina-ubi-vm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).check("scratch dir");
    dir
}

/// The kernel's erase counters after `attach` (an attach command): the
/// maximum from sysfs `max_ec` and the mean from the attach message
/// ("max/mean erase counter: M/N"); Linux 6.1 has no `mean_ec` in sysfs.
fn kernel_ecs(vm: &mut Vm, attach: &str) -> (u64, u64) {
    vm.run_ok("dmesg -c >/dev/null").check("clear dmesg");
    vm.run_ok(attach).check(attach);
    let max: u64 = vm
        .run_ok("cat /sys/class/ubi/ubi0/max_ec")
        .check("max_ec")
        .parse()
        .check("max_ec number");
    let line = vm
        .run_ok("dmesg | grep -o 'max/mean erase counter: [0-9]*/[0-9]*'")
        .check("attach message");
    let (m, mean) = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.split_once('/'))
        .check_some("max/mean");
    assert_eq!(m, max.to_string(), "dmesg and sysfs disagree: {line}");
    (max, mean.parse().check("mean"))
}

/// (min, mean, max) from our inspector's "Erase counters:" line.
fn inspector_ecs(info: &str) -> (u64, u64, u64) {
    let line = info
        .lines()
        .find(|l| l.starts_with("Erase counters:"))
        .check_some("erase counter line");
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1], nums[2])
}

/// Volume management through our ioctls, on an attached `ubi0`: create two
/// volumes, fill them with `ubiupdatevol`, check the kernel reads back what
/// was written, swap their names atomically, remove one.
fn volume_ioctls(vm: &mut Vm, big: &Path, small: &Path) {
    let (big_sum, small_sum) = (sha256_file(big), sha256_file(small));
    let big_len = std::fs::metadata(big).check("big").len();
    let small_len = std::fs::metadata(small).check("small").len();
    vm.run_ok("ubimkvol /dev/ubi0 -N vol_a -s 1MiB -n 10")
        .check("ubimkvol a");
    vm.run_ok("ubimkvol /dev/ubi0 -N vol_b -S 4 -n 11 -t static")
        .check("ubimkvol b");
    vm.run_ok("ubiupdatevol /dev/ubi0_10 /opt/ubi/big.bin")
        .check("ubiupdatevol a");
    vm.run_ok("cat /opt/ubi/small.bin | ubiupdatevol /dev/ubi0_11 -s 5000 -")
        .check("ubiupdatevol b from stdin");
    let sum_a = vm
        .run_ok(&format!("head -c {big_len} /dev/ubi0_10 | sha256sum"))
        .check("read a");
    assert!(sum_a.starts_with(&big_sum), "{sum_a} vs {big_sum}");
    // A static volume reads back exactly the bytes written.
    let sum_b = vm.run_ok("sha256sum < /dev/ubi0_11").check("read b");
    assert!(sum_b.starts_with(&small_sum), "{sum_b} vs {small_sum}");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/ubi0_11/data_bytes")
            .check("data_bytes"),
        small_len.to_string()
    );

    // Resize: 1 MiB is 9 LEBs of 126976 or 129024 bytes; 20 LEBs after.
    vm.run_ok("ubirsvol /dev/ubi0 -N vol_a -S 20")
        .check("ubirsvol");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/ubi0_10/reserved_ebs")
            .check("reserved_ebs"),
        "20"
    );
    let sum_a = vm
        .run_ok(&format!("head -c {big_len} /dev/ubi0_10 | sha256sum"))
        .check("read a after resize");
    assert!(sum_a.starts_with(&big_sum), "{sum_a} vs {big_sum}");

    // The A/B swap: one UBI_IOCRNVOL.
    vm.run_ok("ubirename /dev/ubi0 vol_a vol_b vol_b vol_a")
        .check("ubirename");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/ubi0_10/name")
            .check("name 10"),
        "vol_b"
    );
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/ubi0_11/name")
            .check("name 11"),
        "vol_a"
    );
    let info = vm.run_ok("ubinfo -d 0 -N vol_b").check("ubinfo -N");
    assert!(info.contains("Volume ID:   10"), "{info}");

    // Remove one by name, the other by ID.
    vm.run_ok("ubirmvol /dev/ubi0 -N vol_a")
        .check("ubirmvol -N");
    vm.run_ok("ubirmvol /dev/ubi0 -n 10").check("ubirmvol -n");
    let (status, _) = vm
        .run("test -e /sys/class/ubi/ubi0/ubi0_10 || test -e /sys/class/ubi/ubi0/ubi0_11")
        .check("gone");
    assert_ne!(status, 0, "removed volumes are still in sysfs");
    // Errors are one line on stderr and exit 255, like mtd-utils.
    let (status, out) = vm
        .run("ubirmvol /dev/ubi0 -N no-such-volume 2>&1")
        .check("bad rmvol");
    assert_eq!(status, 255, "{out}");
    assert!(out.starts_with("ubirmvol: ubi: no volume named"), "{out}");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubinize_image_with_ubifs_attaches_and_mounts_and_volume_ioctls_work_on_x86_64() {
    let dir = scratch("x86_64");
    // A UBIFS image of a small tree, made by mtd-utils' mkfs.ubifs for a
    // 2 KiB-page, 128 KiB-block NAND with 512-byte sub-pages (VID header at
    // 512, data at 2048: LEB 129024 bytes). -F: free-space
    // fixup, as images written raw (not by ubiformat) need.
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("sub")).check("root");
    std::fs::write(root.join("hello.txt"), "hello from limina\n").check("hello");
    std::fs::write(root.join("sub/data.bin"), data(1, 200_000)).check("data");
    let status = Command::new("mkfs.ubifs")
        .args(["-m", "2048", "-e", "129024", "-c", "200", "-F", "-r"])
        .arg(&root)
        .arg("-o")
        .arg(dir.join("rootfs.ubifs"))
        .status()
        .check("mkfs.ubifs (mtd-utils) on the host");
    assert!(status.success(), "mkfs.ubifs failed");
    std::fs::write(dir.join("big.bin"), data(2, 300_001)).check("big");
    std::fs::write(dir.join("small.bin"), data(3, 5_000)).check("small");
    let ini = "[rootfs]\nmode=ubi\nimage=/opt/ubi/rootfs.ubifs\nvol_id=0\nvol_size=24MiB\n\
               vol_name=rootfs\n\
               [kernel]\nmode=ubi\nimage=/opt/ubi/big.bin\nvol_id=1\nvol_type=static\n\
               vol_name=kernel\n";

    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "ubi").check("config");
    cfg.initramfs
        // 128 MiB NAND, 2 KiB pages, 128 KiB blocks; block 3 is bad.
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xf1 third_id_byte=0x00 fourth_id_byte=0x15 \
             badblocks=3",
        )
        .module("ubi", "")
        .module("zstd", "")
        .module("ubifs", "");
    cfg.initramfs
        .host_program("/usr/sbin/nandwrite", "/usr/sbin/nandwrite")
        .check("nandwrite (mtd-utils) from the host");
    for name in ["rootfs.ubifs", "big.bin", "small.bin"] {
        cfg.initramfs
            .file(&format!("/opt/ubi/{name}"), dir.join(name), 0o644);
    }
    cfg.initramfs
        .bytes("/opt/ubi/ubinize.ini", ini, 0o644)
        .limina(&limina, APPLETS);
    let mut vm = Vm::boot(cfg).check("boot");

    // Our ubinize in the guest (nandsim's NAND has 512-byte sub-pages, so
    // the VID header goes at 512); our ubinfo reads the image back.
    vm.run_ok("ubinize -o /tmp/img.ubi -p 128KiB -m 2048 -s 512 -Q 42 /opt/ubi/ubinize.ini")
        .check("ubinize");
    let info = vm.run_ok("ubinfo /tmp/img.ubi").check("ubinfo image");
    assert!(info.contains("volume 0 \"rootfs\": dynamic"), "{info}");
    assert!(
        info.contains("volume 1 \"kernel\": static, 3 of 3 LEBs in the image"),
        "{info}"
    );
    assert!(info.contains("Damaged eraseblocks:   0"), "{info}");

    // Raw to the NAND (nandwrite skips the bad block), attached by our
    // ubiattach.
    vm.run_ok("nandwrite -q -p /dev/mtd0 /tmp/img.ubi")
        .check("nandwrite");
    vm.run_ok("ubiattach -m 0").check("ubiattach");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/bad_peb_count")
            .check("bad blocks"),
        "1"
    );
    let info = vm.run_ok("ubinfo -d 0 -a").check("ubinfo device");
    assert!(info.contains("Name:        rootfs"), "{info}");
    assert!(info.contains("Name:        kernel"), "{info}");
    assert!(
        info.contains("Count of bad physical eraseblocks:       1"),
        "{info}"
    );

    // The UBIFS volume mounts with its files intact.
    vm.run_ok("mount -t ubifs ubi0:rootfs /mnt").check("mount");
    assert_eq!(
        vm.run_ok("cat /mnt/hello.txt").check("hello"),
        "hello from limina"
    );
    let sum = vm.run_ok("sha256sum < /mnt/sub/data.bin").check("data");
    assert!(
        sum.starts_with(&sha256_file(&root.join("sub/data.bin"))),
        "{sum}"
    );
    vm.run_ok("umount /mnt").check("umount");
    // The static volume reads back exactly.
    let sum = vm.run_ok("sha256sum < /dev/ubi0_1").check("kernel vol");
    assert!(sum.starts_with(&sha256_file(&dir.join("big.bin"))), "{sum}");

    volume_ioctls(&mut vm, &dir.join("big.bin"), &dir.join("small.bin"));

    vm.run_ok("ubidetach -m 0").check("ubidetach");
    let (status, _) = vm.run("test -e /dev/ubi0").check("ubi0 gone");
    assert_ne!(status, 0, "/dev/ubi0 still exists after ubidetach");
    vm.poweroff().check("poweroff");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn volume_ioctls_and_ubiformat_on_big_endian_mips() {
    let dir = scratch("mips");
    std::fs::write(dir.join("big.bin"), data(4, 300_001)).check("big");
    std::fs::write(dir.join("small.bin"), data(5, 5_000)).check("small");
    let limina = guest_limina(Machine::Mips).check("limina for mips");
    let mut cfg = VmConfig::new(Machine::Mips, "ubi-mips").check("config");
    cfg.append.extend(
        [
            "nandsim.first_id_byte=0x20",
            "nandsim.second_id_byte=0xf1",
            "nandsim.third_id_byte=0x00",
            "nandsim.fourth_id_byte=0x15",
        ]
        .map(String::from),
    );
    for name in ["big.bin", "small.bin"] {
        cfg.initramfs
            .file(&format!("/opt/ubi/{name}"), dir.join(name), 0o644);
    }
    let mut applets = APPLETS.to_vec();
    applets.push("ubiformat");
    cfg.initramfs.limina(&limina, &applets);
    let mut vm = Vm::boot(cfg).check("boot");
    assert_eq!(vm.run_ok("uname -m").check("uname"), "mips");

    // mtd1 is the NAND (mtd0 is mtdram); the kernel formats it on attach.
    vm.run_ok("ubiattach -p /dev/mtd1 -d 0").check("ubiattach");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/mtd_num")
            .check("mtd_num"),
        "1"
    );
    volume_ioctls(&mut vm, &dir.join("big.bin"), &dir.join("small.bin"));
    vm.run_ok("ubidetach -p /dev/mtd1").check("ubidetach");

    // ubiformat over the kernel's UBI (mtd-rs's MTD ioctls, big-endian):
    // every counter goes up by one; the kernel then reports the same
    // maximum as our inspector.
    let before = vm.run_ok("ubinfo /dev/mtd1").check("inspect before");
    vm.run_ok("ubiformat /dev/mtd1 -O 2048").check("ubiformat");
    let after = vm.run_ok("ubinfo /dev/mtd1").check("inspect after");
    let ecs = |info: &str| {
        let (min, _, max) = inspector_ecs(info);
        (min, max)
    };
    let ((min0, max0), (min1, max1)) = (ecs(&before), ecs(&after));
    assert_eq!((min1, max1), (min0 + 1, max0 + 1), "{before}\n{after}");
    vm.run_ok("ubiattach -m 1 -O 2048")
        .check("attach formatted");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/max_ec").check("max_ec"),
        max1.to_string()
    );
    vm.run_ok("ubidetach -m 1").check("detach formatted");

    // The default layout of this sub-page NAND: our EC headers in 512-byte
    // sub-pages, the VID header at 512, where the kernel writes it.
    assert_eq!(
        vm.run_ok("cat /sys/class/mtd/mtd1/subpagesize")
            .check("subpagesize"),
        "512"
    );
    vm.run_ok("ubiformat /dev/mtd1")
        .check("ubiformat sub-pages");
    let info = vm.run_ok("ubinfo /dev/mtd1").check("inspect sub-pages");
    assert!(info.contains("VID header offset:     512"), "{info}");
    assert_eq!(ecs(&info), (min1 + 1, max1 + 1), "{info}");
    vm.run_ok("ubiattach -m 1").check("attach sub-pages");
    vm.run_ok("ubimkvol /dev/ubi0 -N v -S 8").check("mkvol");
    vm.run_ok("ubiupdatevol /dev/ubi0_0 /opt/ubi/big.bin")
        .check("ubiupdatevol");
    let big_len = std::fs::metadata(dir.join("big.bin")).check("big").len();
    let sum = vm
        .run_ok(&format!("head -c {big_len} /dev/ubi0_0 | sha256sum"))
        .check("read back");
    assert!(sum.starts_with(&sha256_file(&dir.join("big.bin"))), "{sum}");
    vm.run_ok("ubidetach -m 1").check("detach sub-pages");
    vm.poweroff().check("poweroff");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubiformat_keeps_erase_counters_skips_bad_blocks_and_writes_an_image_on_x86_64() {
    let dir = scratch("ubiformat");
    // The VID header in its own page (-O 2048; the default on this NAND
    // is the 512-byte sub-page, tested below): data at 4096, LEB 126976
    // bytes.
    let root = dir.join("root");
    std::fs::create_dir_all(&root).check("root");
    std::fs::write(root.join("file.bin"), data(6, 100_000)).check("file");
    let status = Command::new("mkfs.ubifs")
        .args(["-m", "2048", "-e", "126976", "-c", "100", "-F", "-r"])
        .arg(&root)
        .arg("-o")
        .arg(dir.join("rootfs.ubifs"))
        .status()
        .check("mkfs.ubifs (mtd-utils) on the host");
    assert!(status.success(), "mkfs.ubifs failed");
    // No autoresize: the kernel would rewrite the volume table on attach,
    // erasing a block (counter 3) before we read max_ec.
    let ini = "[rootfs]\nmode=ubi\nimage=/opt/ubi/rootfs.ubifs\nvol_id=0\nvol_size=12MiB\n\
               vol_name=rootfs\n";

    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "ubiformat").check("config");
    cfg.initramfs
        // 128 MiB NAND, 2 KiB pages, 128 KiB blocks; blocks 3 and 7 bad.
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xf1 third_id_byte=0x00 fourth_id_byte=0x15 \
             badblocks=3,7",
        )
        .module("ubi", "")
        .module("zstd", "")
        .module("ubifs", "");
    for tool in ["flash_erase", "nandwrite"] {
        cfg.initramfs
            .host_program(&format!("/usr/sbin/{tool}"), format!("/usr/sbin/{tool}"))
            .check("mtd-utils from the host");
    }
    cfg.initramfs
        .file("/opt/ubi/rootfs.ubifs", dir.join("rootfs.ubifs"), 0o644)
        .bytes("/opt/ubi/ubinize.ini", ini, 0o644);
    let mut applets = APPLETS.to_vec();
    applets.push("ubiformat");
    cfg.initramfs.limina(&limina, &applets);
    let mut vm = Vm::boot(cfg).check("boot");

    // Two formats of the empty NAND, each followed by an attach: the
    // kernel's max and mean counters go up by one, as our inspector's do;
    // bad blocks are skipped.
    vm.run_ok("ubiformat /dev/mtd0 -O 2048 -Q 5")
        .check("format 1");
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect 1");
    assert!(info.contains("Bad eraseblocks:       2"), "{info}");
    let (min1, mean1, max1) = inspector_ecs(&info);
    assert_eq!(min1, max1, "a fresh format gives one counter: {info}");
    // ubiattach -b: bad-block reserve per 1024 PEBs (1024 here), minus
    // the 2 bad ones; two values, so the kernel's default cannot pass.
    let kernel1 = kernel_ecs(&mut vm, "ubiattach -m 0 -O 2048 -b 10");
    assert_eq!(kernel1, (max1, mean1), "{info}");
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/reserved_for_bad")
            .check("reserved_for_bad"),
        "8"
    );
    let line = vm
        .run_ok("dmesg | grep -o 'PEBs reserved for bad PEB handling: [0-9]*'")
        .check("bad PEB message");
    assert!(line.ends_with(": 8"), "{line}");
    vm.run_ok("ubidetach -m 0").check("detach");
    vm.run_ok("ubiformat /dev/mtd0 -O 2048 -Q 5")
        .check("format 2");
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect 2");
    assert_eq!(
        inspector_ecs(&info),
        (min1 + 1, mean1 + 1, max1 + 1),
        "{info}"
    );
    // The kernel agrees, and finds the empty volume table.
    let kernel2 = kernel_ecs(&mut vm, "ubiattach -m 0 -O 2048 -b 30");
    assert_eq!(kernel2, (kernel1.0 + 1, kernel1.1 + 1));
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/reserved_for_bad")
            .check("reserved_for_bad"),
        "28"
    );
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/bad_peb_count")
            .check("bad_peb_count"),
        "2"
    );
    assert_eq!(
        vm.run_ok("cat /sys/class/ubi/ubi0/volumes_count")
            .check("volumes"),
        "0"
    );
    vm.run_ok("ubidetach -m 0").check("detach");

    // An image built by our ubinize, written by our ubiformat: counters 2.
    vm.run_ok("ubinize -o /tmp/img.ubi -p 128KiB -m 2048 -O 2048 -Q 42 /opt/ubi/ubinize.ini")
        .check("ubinize");
    vm.run_ok("ubiformat /dev/mtd0 -f /tmp/img.ubi")
        .check("format with image");
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect 3");
    assert_eq!(
        inspector_ecs(&info),
        (min1 + 2, mean1 + 2, max1 + 2),
        "{info}"
    );
    assert!(info.contains("Image sequence number: 42"), "{info}");
    assert!(info.contains("volume 0 \"rootfs\": dynamic"), "{info}");
    let kernel3 = kernel_ecs(&mut vm, "ubiattach -m 0 -O 2048");
    assert_eq!(kernel3, (kernel1.0 + 2, kernel1.1 + 2));
    vm.run_ok("mount -t ubifs ubi0:rootfs /mnt").check("mount");
    let sum = vm.run_ok("sha256sum < /mnt/file.bin").check("file");
    assert!(
        sum.starts_with(&sha256_file(&root.join("file.bin"))),
        "{sum}"
    );
    vm.run_ok("umount /mnt && ubidetach -m 0").check("detach");

    // Foreign data: refused without -y, like mtd-utils' question.
    vm.run_ok(
        "dd if=/dev/zero of=/tmp/z bs=2048 count=1 2>/dev/null \
         && /usr/sbin/flash_erase -q /dev/mtd0 0 1 && nandwrite -q /dev/mtd0 /tmp/z",
    )
    .check("alien data");
    let (status, out) = vm.run("ubiformat /dev/mtd0 -O 2048 2>&1").check("alien");
    assert_eq!(status, 255, "{out}");
    assert!(out.contains("non-UBI data; use -y"), "{out}");
    vm.run_ok("ubiformat /dev/mtd0 -O 2048 -y")
        .check("format -y");
    // -n: EC headers only, no volume table. The kernel sees EC headers
    // (so not an empty flash it would lay out itself) and no layout
    // volume, and refuses to attach, as after mtd-utils' ubiformat -n.
    vm.run_ok("ubiformat /dev/mtd0 -O 2048 -n")
        .check("format -n");
    vm.run_ok("dmesg -c > /dev/null").check("dmesg -c");
    let (status, out) = vm
        .run("ubiattach -m 0 -O 2048 2>&1")
        .check("attach after -n");
    assert_ne!(status, 0, "attached without a volume table: {out}");
    let log = vm.run_ok("dmesg").check("dmesg");
    assert!(
        log.contains("the layout volume was not found"),
        "-n left a volume table:\n{log}"
    );
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect -n");
    assert!(info.contains("Volumes:               0"), "{info}");
    vm.poweroff().check("poweroff");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sub-page NAND (nandsim's 2 KiB pages take 512-byte writes): with no
/// `-O`, the VID header goes into the first page at 512, as mtd-utils puts
/// it. Our ubiformat leaves the flash byte for byte as mtd-utils'
/// ubiformat does with the same counter and sequence number (format only,
/// and with an image), keeps counters across formats, and the kernel
/// attaches, writes volumes into the sub-pages after our EC headers and
/// mounts a UBIFS volume from the image.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubiformat_on_sub_page_nand_matches_mtd_utils_on_x86_64() {
    let dir = scratch("subpage");
    // UBIFS for VID header 512, data 2048: LEB 129024 bytes.
    let root = dir.join("root");
    std::fs::create_dir_all(&root).check("root");
    std::fs::write(root.join("file.bin"), data(7, 150_000)).check("file");
    let status = Command::new("mkfs.ubifs")
        .args(["-m", "2048", "-e", "129024", "-c", "100", "-r"])
        .arg(&root)
        .arg("-o")
        .arg(dir.join("rootfs.ubifs"))
        .status()
        .check("mkfs.ubifs (mtd-utils) on the host");
    assert!(status.success(), "mkfs.ubifs failed");
    std::fs::write(dir.join("big.bin"), data(8, 1_000_001)).check("big");
    let ini = "[rootfs]\nmode=ubi\nimage=/opt/ubi/rootfs.ubifs\nvol_id=0\nvol_size=12MiB\n\
               vol_name=rootfs\n";

    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "ubi-subpage").check("config");
    cfg.initramfs
        // 128 MiB NAND, 2 KiB pages (512-byte sub-pages), 128 KiB blocks;
        // block 5 is bad.
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xf1 third_id_byte=0x00 fourth_id_byte=0x15 \
             badblocks=5",
        )
        .module("ubi", "")
        .module("zstd", "")
        .module("ubifs", "");
    cfg.initramfs
        .host_program("/usr/sbin/mtd-utils-ubiformat", "/usr/sbin/ubiformat")
        .check("mtd-utils ubiformat from the host");
    cfg.initramfs
        .file("/opt/ubi/rootfs.ubifs", dir.join("rootfs.ubifs"), 0o644)
        .file("/opt/ubi/big.bin", dir.join("big.bin"), 0o644)
        .bytes("/opt/ubi/ubinize.ini", ini, 0o644);
    let mut applets = APPLETS.to_vec();
    applets.push("ubiformat");
    cfg.initramfs.limina(&limina, &applets);
    let mut vm = Vm::boot(cfg).check("boot");
    assert_eq!(
        vm.run_ok("cat /sys/class/mtd/mtd0/writesize /sys/class/mtd/mtd0/subpagesize")
            .check("geometry"),
        "2048\n512",
        "the test needs NAND with sub-pages"
    );
    let flash_sum = |vm: &mut Vm| vm.run_ok("sha256sum < /dev/mtd0").check("read the flash");

    // Format only, same counter and sequence number: the same flash.
    vm.run_ok("mtd-utils-ubiformat /dev/mtd0 -y -q -e 5 -Q 7")
        .check("mtd-utils format");
    let (theirs, their_info) = (
        flash_sum(&mut vm),
        vm.run_ok("ubinfo /dev/mtd0").check("inspect theirs"),
    );
    assert!(
        their_info.contains("VID header offset:     512"),
        "{their_info}"
    );
    vm.run_ok("ubiformat /dev/mtd0 -y -e 5 -Q 7")
        .check("our format");
    assert_eq!(flash_sum(&mut vm), theirs, "flash differs from mtd-utils'");
    assert_eq!(
        vm.run_ok("ubinfo /dev/mtd0").check("inspect ours"),
        their_info
    );

    // Counters go on: 6 for every block, for the kernel too, which
    // attaches with its default VID header offset.
    vm.run_ok("ubiformat /dev/mtd0")
        .check("format keeping counters");
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect");
    assert_eq!(inspector_ecs(&info), (6, 6, 6), "{info}");
    assert_eq!(kernel_ecs(&mut vm, "ubiattach -m 0"), (6, 6));
    let line = vm
        .run_ok("dmesg | grep -o 'VID header offset: .*'")
        .check("VID offset message");
    assert_eq!(
        line,
        "VID header offset: 512 (aligned 512), data offset: 2048"
    );
    // The kernel writes VID headers into the sub-page after each of our
    // EC headers: a volume written and read back proves it.
    vm.run_ok("ubimkvol /dev/ubi0 -N v -s 4MiB")
        .check("ubimkvol");
    vm.run_ok("ubiupdatevol /dev/ubi0_0 /opt/ubi/big.bin")
        .check("ubiupdatevol");
    let sum = vm
        .run_ok("head -c 1000001 /dev/ubi0_0 | sha256sum")
        .check("read back");
    assert!(sum.starts_with(&sha256_file(&dir.join("big.bin"))), "{sum}");
    vm.run_ok("ubidetach -m 0").check("detach");

    // An image built for sub-pages, written by both tools: the same flash.
    vm.run_ok("ubinize -o /tmp/img.ubi -p 128KiB -m 2048 -s 512 -Q 9 /opt/ubi/ubinize.ini")
        .check("ubinize");
    vm.run_ok("mtd-utils-ubiformat /dev/mtd0 -y -q -f /tmp/img.ubi -e 3 -Q 9")
        .check("mtd-utils image");
    let theirs = flash_sum(&mut vm);
    vm.run_ok("ubiformat /dev/mtd0 -y -f /tmp/img.ubi -e 3 -Q 9")
        .check("our image");
    assert_eq!(flash_sum(&mut vm), theirs, "flash differs from mtd-utils'");
    vm.run_ok("ubiformat /dev/mtd0 -f /tmp/img.ubi")
        .check("image keeping counters");
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect image");
    assert_eq!(inspector_ecs(&info), (4, 4, 4), "{info}");
    assert!(info.contains("Image sequence number: 9"), "{info}");
    assert_eq!(kernel_ecs(&mut vm, "ubiattach -m 0"), (4, 4));
    vm.run_ok("mount -t ubifs ubi0:rootfs /mnt").check("mount");
    let sum = vm.run_ok("sha256sum < /mnt/file.bin").check("file");
    assert!(
        sum.starts_with(&sha256_file(&root.join("file.bin"))),
        "{sum}"
    );
    vm.run_ok("umount /mnt && ubidetach -m 0").check("detach");

    // -O 512 where the flash writes whole pages would be refused; here a
    // VID header offset inside the EC header's sub-page is.
    let (status, out) = vm.run("ubiformat /dev/mtd0 -O 256 2>&1").check("-O 256");
    assert_eq!(status, 255, "{out}");
    assert!(out.contains("use -O 512"), "{out}");
    vm.poweroff().check("poweroff");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `a` and `b` alternately, `reps` times each, in the guest; the
/// mean wall time of one run of each in ms. /proc/uptime ticks in 10 ms
/// and one format of this NAND takes some tens of ms: the rounding
/// averages out over many runs, and alternating spreads the load of the
/// (shared) host evenly over both.
fn timed_pair_ms(vm: &mut Vm, a: &str, b: &str, reps: u32) -> (f64, f64) {
    let now = "$(cut -d' ' -f1 /proc/uptime | tr -d .)";
    let run =
        |cmd: &str| format!("{cmd} >/tmp/bench.out 2>&1 || {{ cat /tmp/bench.out; exit 1; }}");
    let script = format!(
        "ta=0; tb=0; i=0; while [ $i -lt {reps} ]; do t0={now}; {}; t1={now}; {}; t2={now}; \
         ta=$((ta + t1 - t0)); tb=$((tb + t2 - t1)); i=$((i + 1)); done; echo $ta $tb",
        run(a),
        run(b)
    );
    let out = vm.run_ok(&script).check(a);
    let ticks: Vec<u32> = out
        .split_whitespace()
        .map(|w| w.parse().check("ticks"))
        .collect();
    let ms = |t: u32| f64::from(t) * 10.0 / f64::from(reps);
    (ms(ticks[0]), ms(ticks[1]))
}

/// Our ubiformat against mtd-utils' on a 128 MiB nandsim (2 KiB pages,
/// 512-byte sub-pages, both tools' default layout): formatting a UBI
/// flash, and writing a 32 MiB image. Prints a table;
/// `scripts/bench-ubi` runs it.
#[test]
#[ignore = "a benchmark, not a test: run scripts/bench-ubi"]
fn bench_ubiformat_vs_mtd_utils() {
    let limina = guest_limina(Machine::X86_64).check("limina for x86_64");
    let mut cfg = VmConfig::new(Machine::X86_64, "ubi-bench").check("config");
    cfg.memory_mib = cfg.memory_mib.max(512);
    cfg.initramfs
        .module(
            "nandsim",
            "first_id_byte=0x20 second_id_byte=0xf1 third_id_byte=0x00 fourth_id_byte=0x15",
        )
        .limina(&limina, &["ubinize", "ubiformat", "ubinfo"])
        .host_program("/usr/sbin/mtd-utils-ubiformat", "/usr/sbin/ubiformat")
        .check("mtd-utils ubiformat")
        .bytes(
            "/opt/ubi/img.ini",
            "[data]\nmode=ubi\nimage=/tmp/data.bin\nvol_id=0\nvol_name=data\n",
            0o644,
        );
    let mut vm = Vm::boot(cfg).check("boot");
    let subpage = vm
        .run_ok("cat /sys/class/mtd/mtd0/subpagesize")
        .check("subpagesize");
    vm.run_ok(&format!(
        "head -c 33554432 /dev/urandom > /tmp/data.bin && \
         ubinize -o /tmp/img.ubi -p 128KiB -m 2048 -s {subpage} -Q 1 /opt/ubi/img.ini"
    ))
    .check("image");
    vm.run_ok("ubiformat /dev/mtd0 -Q 1").check("first format");
    let cases = [
        ("format (no image)", "-Q 1"),
        ("write 32 MiB image", "-Q 1 -f /tmp/img.ubi"),
    ];
    let tools = [
        ("limina ubiformat", "ubiformat /dev/mtd0 -y"),
        ("mtd-utils ubiformat", "mtd-utils-ubiformat /dev/mtd0 -y -q"),
    ];
    let mut rows = Vec::new();
    let mut formats = 1;
    for ((case, flags), reps) in cases.into_iter().zip([40, 15]) {
        let (ours, theirs) = timed_pair_ms(
            &mut vm,
            &format!("{} {flags}", tools[0].1),
            &format!("{} {flags}", tools[1].1),
            reps,
        );
        formats += 2 * reps;
        rows.push((case, ours, theirs));
    }
    let info = vm.run_ok("ubinfo /dev/mtd0").check("inspect");
    println!(
        "\nubiformat on nandsim (128 MiB, 2 KiB pages, {subpage}-byte sub-pages, 128 KiB blocks), \
         x86_64 guest under QEMU TCG; mean ms per run (40 and 15 runs of each, alternating):\n"
    );
    println!(
        "| {:<20} | {:>18} | {:>20} | {:>8} |",
        "case", tools[0].0, tools[1].0, "speed"
    );
    println!(
        "|{}|{}:|{}:|{}:|",
        "-".repeat(22),
        "-".repeat(19),
        "-".repeat(21),
        "-".repeat(9)
    );
    for (case, ours, theirs) in rows {
        println!(
            "| {case:<20} | {ours:>18.1} | {theirs:>20.1} | {:>7.2}x |",
            theirs / ours
        );
    }
    println!(
        "\nafter {formats} formats: {}",
        info.lines()
            .find(|l| l.starts_with("Erase counters"))
            .unwrap_or("?")
    );
    vm.poweroff().check("poweroff");
}
