//! Checks against the MTD devices of the machine the tests run on.
//!
//! On a host without MTD every source is empty and these pass trivially;
//! inside the project's QEMU guests (which load `mtdram` and `nandsim`) they
//! compare real devices. They only read: nothing is opened for writing.

use std::io;

use mtd::{proc, sysfs, DeviceError, DeviceSpec, Flash, FlashKind, Mtd, MtdFlash, OpenMode};

/// `/sys/class/mtd` and `/proc/mtd` must list the same devices with the same
/// names, sizes and erase sizes.
#[test]
fn sysfs_agrees_with_proc_mtd() {
    let from_sysfs = sysfs::list().expect("the real /sys/class/mtd is readable");
    let from_proc = proc::read_proc_mtd().expect("the real /proc/mtd is readable");

    let sysfs_view: Vec<(u32, &str, u64, u32)> = from_sysfs
        .iter()
        .map(|d| (d.index, d.name.as_str(), d.size, d.erase_size))
        .collect();
    let proc_view: Vec<(u32, &str, u64, u32)> = from_proc
        .iter()
        .map(|e| (e.index, e.name.as_str(), e.size, e.erase_size))
        .collect();
    assert_eq!(
        sysfs_view, proc_view,
        "sysfs (left) and /proc/mtd (right) disagree"
    );
    eprintln!("{} MTD device(s) agree", sysfs_view.len());
}

/// `MEMGETINFO` on every `/dev/mtdN` must agree with sysfs.
///
/// A real kernel always answers MEMGETINFO on an MTD node, so `ENOTTY` here
/// means a wrong request number, which is exactly what this is for on native
/// MIPS. (Under qemu-user on a host that has MTD devices it can fail if that
/// qemu does not translate the MTD ioctls.)
#[test]
fn memgetinfo_agrees_with_sysfs() {
    let devices = sysfs::list().expect("the real /sys/class/mtd is readable");
    for dev in &devices {
        let mtd = match Mtd::open(&DeviceSpec::Index(dev.index), OpenMode::ReadOnly) {
            Ok(mtd) => mtd,
            Err(DeviceError::Open { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                eprintln!("skipping mtd{}: {source}", dev.index);
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(mtd.index(), dev.index);
        let info = mtd.info().unwrap_or_else(|e| panic!("{e}"));
        let at = format!("mtd{} ({:?})", dev.index, dev.name);
        assert_eq!(info.mtd_type, dev.mtd_type, "{at}");
        assert_eq!(info.flags, dev.flags, "{at}");
        assert_eq!(info.erase_size, dev.erase_size, "{at}");
        assert_eq!(info.write_size, dev.write_size, "{at}");
        assert_eq!(info.oob_size, dev.oob_size, "{at}");
        if let Ok(size) = u32::try_from(dev.size) {
            assert_eq!(info.size, size, "{at}");
        }
    }
}

/// Every device is reachable by its name, unless the name is shared.
#[test]
fn every_device_resolves_by_name() {
    let devices = sysfs::list().expect("the real /sys/class/mtd is readable");
    for dev in &devices {
        let spec = DeviceSpec::Name(dev.name.clone());
        let same_name = devices.iter().filter(|d| d.name == dev.name).count();
        match spec.resolve_index(&devices) {
            Ok(index) => assert_eq!(index, dev.index),
            Err(e) => assert!(same_name > 1, "{e}"),
        }
    }
}

/// `Mtd::open` by name reaches the device sysfs names, and a `mtdNro` node
/// opens read-only as the same device but is refused for writing.
#[test]
fn opens_by_name_and_through_ro_nodes() {
    let devices = sysfs::list().expect("the real /sys/class/mtd is readable");
    for dev in &devices {
        if devices.iter().filter(|d| d.name == dev.name).count() > 1 {
            continue;
        }
        let by_name = DeviceSpec::Name(dev.name.clone());
        match Mtd::open(&by_name, OpenMode::ReadOnly) {
            Ok(mtd) => {
                assert_eq!(mtd.index(), dev.index);
                assert_eq!(mtd.path(), dev.dev_path());
            }
            Err(DeviceError::Open { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                eprintln!("skipping mtd{}: {source}", dev.index);
                continue;
            }
            Err(e) => panic!("{e}"),
        }

        let ro = dev.dev_path().with_file_name(format!("mtd{}ro", dev.index));
        if !ro.exists() {
            continue;
        }
        let mtd = Mtd::open_path(&ro, OpenMode::ReadOnly).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mtd.index(), dev.index, "{}", ro.display());
        match Mtd::open_path(&ro, OpenMode::ReadWrite) {
            Err(DeviceError::Open { source, .. }) => {
                assert_eq!(source.kind(), io::ErrorKind::PermissionDenied, "{source}");
            }
            other => panic!("{} opened for writing: {other:?}", ro.display()),
        }
    }
}

/// The read-only device operations answer on every device, and agree with
/// sysfs: `MtdFlash` geometry, `MEMGETBADBLOCK` on every block, and the bad
/// block count of `ECCGETSTATS` and sysfs `bad_blocks`. On a kernel, a wrong
/// request number shows up as `ENOTTY` here (big-endian MIPS in the VM).
#[test]
fn bad_blocks_and_ecc_stats_agree_with_sysfs() {
    let devices = sysfs::list().expect("the real /sys/class/mtd is readable");
    for dev in &devices {
        let mtd = match Mtd::open(&DeviceSpec::Index(dev.index), OpenMode::ReadOnly) {
            Ok(mtd) => mtd,
            Err(DeviceError::Open { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                eprintln!("skipping mtd{}: {source}", dev.index);
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        let at = format!("mtd{} ({:?})", dev.index, dev.name);
        let mut flash = MtdFlash::new(mtd).unwrap_or_else(|e| panic!("{at}: {e}"));
        let g = flash.geometry();
        assert_eq!(g.size, dev.size, "{at}");
        assert_eq!(g.erase_size, dev.erase_size, "{at}");
        assert_eq!(g.write_size, dev.write_size.max(1), "{at}");
        // Sub-page writes where the kernel allows them (NAND without
        // NAND_NO_SUBPAGE_WRITE), else whole pages.
        assert_eq!(
            g.subpage_size,
            dev.sub_page_size.unwrap_or(dev.write_size).max(1),
            "{at}"
        );
        assert_eq!(g.kind == FlashKind::Nand, dev.mtd_type.is_nand(), "{at}");
        assert_eq!(g.writable, dev.writable(), "{at}");
        let mut bad = 0u32;
        for block in 0..g.blocks() {
            bad += u32::from(flash.is_bad(block).unwrap_or_else(|e| panic!("{at}: {e}")));
        }
        let stats = flash
            .device()
            .ecc_stats()
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        if g.kind == FlashKind::Nand {
            assert_eq!(stats.bad_blocks, bad, "{at}: ECCGETSTATS vs MEMGETBADBLOCK");
        }
        let sysfs_bad =
            std::fs::read_to_string(format!("/sys/class/mtd/mtd{}/bad_blocks", dev.index));
        if let Ok(text) = sysfs_bad {
            assert_eq!(text.trim(), bad.to_string(), "{at}: sysfs bad_blocks");
        }
        // Reading the first block works and, read-only, erasing is refused
        // before the kernel is asked.
        let mut first = vec![0u8; g.erase_size as usize];
        flash
            .read(0, &mut first)
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            matches!(flash.erase_block(0), Err(mtd::FlashError::ReadOnly)),
            "{at}"
        );
        eprintln!("{at}: {} blocks, {bad} bad, {stats:?}", g.blocks());
    }
}
