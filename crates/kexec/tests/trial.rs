//! Trial boots planned against a synthetic system: the root file system
//! and the extra phram regions (`TrialBoot::with_region`) are placed,
//! reserved in the tree and named on the command line, and everything is
//! refused before anything would be loaded.

use kexec::dtb::Fdt;
use kexec::handoff::Seed;
use kexec::trial::{Error, Options, System, TrialBoot, PHRAM_COMPATIBLE, REGION_ALIGN};
use kexec::{Arch, KernelImage, MemoryMap, Range};

use crate::images::arm64_image;

/// A squashfs 4.0 superblock saying it uses `len` bytes, then padding.
fn squashfs(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[..4].copy_from_slice(b"hsqs");
    v[28..30].copy_from_slice(&4u16.to_le_bytes());
    v[40..48].copy_from_slice(&(len as u64).to_le_bytes());
    v
}

fn system() -> System {
    let mut fdt = Fdt::new();
    fdt.set_bootargs("console=ttyAMA0 root=/dev/sda1")
        .expect("bootargs");
    System {
        arch: Arch::Aarch64,
        fdt,
        memory: MemoryMap::new(vec![Range::new(0x4000_0000, 0x5000_0000)], vec![]),
        cmdline: "console=ttyAMA0 root=/dev/sda1 rootwait".into(),
    }
}

fn options() -> Options {
    let mut o = Options::default();
    o.seed = Some(Seed([7; kexec::handoff::SEED_LEN]));
    o.page_size = Some(4096);
    o.append = vec!["limina.trial=1".into()];
    o
}

fn boot() -> TrialBoot {
    let kernel = KernelImage::parse(&arm64_image(0, 0x0100_0000, 0b1010, 0x2000)).expect("kernel");
    TrialBoot::new(kernel, squashfs(100_000)).expect("trial")
}

#[test]
fn a_region_is_a_labelled_phram_node_and_root_counts_it() {
    let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let trial = boot()
        .with_region("limina-upgrade", data.clone())
        .plan(system(), &options())
        .expect("plan");
    let [(name, region)] = trial.regions() else {
        panic!("one region: {:?}", trial.regions())
    };
    assert_eq!(name, "limina-upgrade");
    assert_eq!(region.data_len, 200_000);
    assert_eq!(region.range.start % REGION_ALIGN, 0);
    assert_eq!(region.range.len(), 256 << 10, "padded to 64 KiB");
    assert!(!region.range.overlaps(&trial.rootfs_region()));
    // The DT device registers before the command line's: root is mtd1.
    let bootargs = trial.bootargs();
    assert!(
        bootargs.contains(" root=/dev/mtdblock1 ") && bootargs.contains("phram.phram=rootfs,"),
        "{bootargs}"
    );
    assert!(!bootargs.contains("/dev/sda1"), "{bootargs}");
    // The segment holds the data, then zeros.
    let seg = trial
        .plan()
        .segments
        .iter()
        .find(|s| s.address == region.range.start)
        .expect("segment");
    assert_eq!(&seg.data[..data.len()], &data[..]);
    assert!(seg.data[data.len()..].iter().all(|&b| b == 0));
    // The tree: compatible, label, no-map, reg.
    let dtb = trial
        .plan()
        .segments
        .iter()
        .find(|s| s.data.starts_with(&[0xd0, 0x0d, 0xfe, 0xed]))
        .expect("dtb segment");
    let fdt = Fdt::parse(&dtb.data).expect("tree");
    let node = fdt
        .node(&format!("/reserved-memory/phram@{:x}", region.range.start))
        .expect("node");
    let value = |p: &str| node.prop(p).map(|p| p.value.clone());
    assert_eq!(
        value("compatible"),
        Some(format!("{PHRAM_COMPATIBLE}\0").into_bytes())
    );
    assert_eq!(value("label"), Some(b"limina-upgrade\0".to_vec()));
    assert!(node.prop("no-map").is_some());
    let described = trial.describe().join("\n");
    assert!(
        described.contains("phram limina-upgrade: 200000 bytes at"),
        "{described}"
    );
}

#[test]
fn an_explicit_root_wins_and_bad_names_are_refused() {
    let mut o = options();
    o.root = Some("/dev/mtdblock7".into());
    let trial = boot()
        .with_region("limina-upgrade", vec![1; 10])
        .plan(system(), &o)
        .expect("plan");
    assert!(trial.bootargs().contains("root=/dev/mtdblock7"));
    let no_region = boot().plan(system(), &options()).expect("plan");
    assert!(no_region.bootargs().contains("root=/dev/mtdblock0"));

    for (name, want) in [("a,b", "phram name 'a,b'"), ("", "phram name ''")] {
        let e = boot()
            .with_region(name, vec![1])
            .plan(system(), &options())
            .expect_err("bad name");
        assert!(matches!(e, Error::BadName(_)), "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = boot()
        .with_region("rootfs", vec![1])
        .plan(system(), &options())
        .expect_err("the root's name");
    assert!(matches!(e, Error::DuplicateName(_)), "{e}");
    let e = boot()
        .with_region("x", vec![1])
        .with_region("x", vec![1])
        .plan(system(), &options())
        .expect_err("twice");
    assert!(matches!(e, Error::DuplicateName(_)), "{e}");
}

#[test]
fn a_region_that_does_not_fit_is_refused_before_loading() {
    // 32 MiB of RAM: the 16 MiB kernel and the root file system fit, a
    // 16 MiB region does not. (Small enough to allocate in the 256 MiB
    // MIPS test VM, where these tests run too.)
    let mut small = system();
    small.memory = MemoryMap::new(vec![Range::new(0x4000_0000, 0x4200_0000)], vec![]);
    let e = boot()
        .with_region("limina-upgrade", vec![0; 0x0100_0000])
        .plan(small, &options())
        .expect_err("too big");
    assert!(e.to_string().starts_with("kexec: phram region:"), "{e}");
}
