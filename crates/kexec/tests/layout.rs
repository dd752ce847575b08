//! Segment placement: kernels, flexible and fixed segments, errors, and
//! the invariants (aligned, inside RAM, no overlaps) under random input.

use kexec::dtb::Fdt;
use kexec::layout::Error;
use kexec::{Arch, KernelImage, Layout, MemoryMap, Range};
use proptest::prelude::*;

use crate::images::{arm64_image, mips_elf, zimage};

fn ram(ranges: &[(u64, u64)]) -> MemoryMap {
    MemoryMap::new(
        ranges.iter().map(|&(s, e)| Range::new(s, e)).collect(),
        vec![],
    )
}

fn dtb() -> Vec<u8> {
    let mut f = Fdt::new();
    f.set_bootargs("console=ttyAMA0").expect("bootargs");
    f.to_bytes()
}

fn assert_invariants(l: &Layout) {
    let segs = l.segments();
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.address % l.page_size(), 0, "{} aligned", s.name);
        assert_eq!(s.mem_size % l.page_size(), 0, "{} size", s.name);
        assert!(s.mem_size >= s.data.len() as u64);
        assert!(l.memory().in_ram(&s.range()), "{} in RAM", s.name);
        for t in &segs[i + 1..] {
            assert!(!s.range().overlaps(&t.range()), "{} vs {}", s.name, t.name);
        }
    }
}

#[test]
fn arm64_kernel_dtb_initrd_and_trampoline() {
    let mem = MemoryMap::new(
        vec![Range::new(0x4000_0000, 0x6000_0000)],
        vec![Range::new(0x4800_0000, 0x4c00_0000)],
    );
    let mut l = Layout::new(Arch::Aarch64, mem);
    let k = KernelImage::parse(&arm64_image(0, 0x0250_0000, 0b1010, 0x2000)).expect("image");
    let placed = l.add_kernel(&k).expect("kernel");
    assert_eq!(placed.entry, 0x4000_0000);
    assert_eq!(placed.footprint, Range::new(0x4000_0000, 0x4250_0000));
    // The initrd goes after the kernel's whole image_size.
    let rd = l.add_initrd(vec![7; 0x1234]).expect("initrd");
    assert_eq!(rd, Range::new(0x4250_0000, 0x4250_1234));
    let dtb_at = l.add_dtb(dtb()).expect("dtb");
    assert_eq!(dtb_at % (2 << 20), 0, "2 MiB aligned");
    assert_eq!(dtb_at, 0x4260_0000);
    // Reserved ranges are avoided by flexible placement.
    let big = l.find_free(0x0600_0000, 1 << 20).expect("free");
    assert_eq!(big, 0x4c00_0000);
    assert_invariants(&l);
    let plan = l.finish().expect("finish");
    let tramp = plan
        .segments
        .iter()
        .find(|s| s.name == "trampoline")
        .expect("trampoline");
    assert_eq!(plan.entry, tramp.address);
    assert_eq!(tramp.data.len(), 40);
    let word = |off: usize| {
        let b: [u8; 8] = tramp.data[off..off + 8].try_into().expect("8");
        if cfg!(target_endian = "big") {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    };
    assert_eq!(word(24), dtb_at);
    assert_eq!(word(32), 0x4000_0000);
    assert!(plan
        .segments
        .windows(2)
        .all(|w| w[0].address < w[1].address));
}

#[test]
fn arm64_needs_a_dtb() {
    let mut l = Layout::new(Arch::Aarch64, ram(&[(0x4000_0000, 0x6000_0000)]));
    l.add_kernel(&KernelImage::parse(&arm64_image(0, 0x100_0000, 0, 0x100)).expect("img"))
        .expect("kernel");
    assert!(matches!(l.finish(), Err(Error::NoDtb)));
    let l = Layout::new(Arch::Aarch64, ram(&[(0x4000_0000, 0x6000_0000)]));
    assert!(matches!(l.finish(), Err(Error::NoKernel)));
}

#[test]
fn zimage_at_ram_base_plus_0x8000_with_room_to_decompress() {
    let mut l = Layout::new(Arch::Arm, ram(&[(0x6000_0000, 0x7000_0000)]));
    let k = KernelImage::parse(&zimage(0x10_0000, false)).expect("zimage");
    let p = l.add_kernel(&k).expect("kernel");
    assert_eq!(p.entry, 0x6000_8000);
    assert_eq!(p.footprint, Range::new(0x6000_0000, 0x6040_8000));
    let d = l.add_dtb(dtb()).expect("dtb");
    assert!(d >= 0x6000_8000 + 0x40_0000, "dtb {d:#x} after 4 x zImage");
    let plan = l.finish().expect("finish");
    assert_eq!(plan.entry, 0x6000_8000);
    assert_eq!(plan.segments.len(), 2);
}

#[test]
fn mips_fixed_kernel_and_lowmem_limit() {
    // 256 MiB at 0 plus high memory above 512 MiB (not reachable at boot).
    let mut l = Layout::new(
        Arch::Mips,
        ram(&[(0, 0x1000_0000), (0x2000_0000, 0x3000_0000)]),
    );
    let k = KernelImage::parse(&mips_elf(
        true,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x9d_48dc, 0xa0_bb20)],
    ))
    .expect("elf");
    let p = l.add_kernel(&k).expect("kernel");
    assert_eq!(p.entry, 0x0010_0000);
    assert_eq!(p.footprint, Range::new(0x10_0000, 0xb0_c000));
    let seg = &l.segments()[0];
    assert_eq!((seg.address, seg.mem_size), (0x10_0000, 0xa0_c000));
    // Never in the first MiB (exception vectors): the lowest free page is
    // right after the kernel...
    assert_eq!(l.find_free(0x1000, 0x1000).expect("free"), 0xb0_c000);
    // ...unless the caller lowers the floor.
    l.set_min_address(0);
    assert_eq!(l.find_free(0x1000, 0x1000).expect("free"), 0);
    l.set_min_address(0x10_0000);
    // Too big for the low 256 MiB: the high range is beyond max_address.
    assert!(matches!(
        l.find_free(0x1000_0000, 1 << 20),
        Err(Error::NoRoom { .. })
    ));
    l.set_max_address(None);
    assert_eq!(
        l.find_free(0x1000_0000, 1 << 20).expect("high"),
        0x2000_0000
    );
}

#[test]
fn fixed_segment_for_a_phram_rootfs() {
    let mut l = Layout::new(Arch::Mipsel, ram(&[(0, 0x0400_0000)]));
    let k = KernelImage::parse(&mips_elf(
        false,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x40_0000, 0x50_0000)],
    ))
    .expect("elf");
    l.add_kernel(&k).expect("kernel");
    let rootfs = vec![0x55u8; 0x25_0000];
    let at = l.find_free(rootfs.len() as u64, 1 << 20).expect("free");
    assert_eq!(at, 0x60_0000, "first MiB boundary after the kernel");
    let r = l.add_fixed("rootfs", at, rootfs).expect("fixed");
    assert_eq!(r, Range::new(0x60_0000, 0x85_0000));
    // The same place again is an overlap naming both.
    let e = l.add_fixed("again", at, vec![1]).expect_err("overlap");
    assert!(matches!(e, Error::Overlap { .. }));
    let msg = e.to_string();
    assert!(msg.contains("again") && msg.contains("rootfs"), "{msg}");
    // On the kernel: overlap.
    assert!(matches!(
        l.add_fixed("x", 0x20_0000, vec![1]),
        Err(Error::Overlap { .. })
    ));
    // Misaligned and outside RAM.
    assert!(matches!(
        l.add_fixed("x", 0x90_0800, vec![1]),
        Err(Error::Misaligned { .. })
    ));
    assert!(matches!(
        l.add_fixed("x", 0x03ff_f000, vec![0; 0x2000]),
        Err(Error::OutsideRam { .. })
    ));
    assert_invariants(&l);
}

#[test]
fn kernels_that_do_not_fit() {
    // Larger than RAM.
    let mut l = Layout::new(Arch::Aarch64, ram(&[(0x4000_0000, 0x4100_0000)]));
    let k = KernelImage::parse(&arm64_image(0, 0x0200_0000, 0, 0x100)).expect("img");
    let e = l.add_kernel(&k).expect_err("too big");
    assert!(matches!(e, Error::TooBig { .. }), "{e}");
    assert!(e.to_string().contains("more than RAM"), "{e}");
    // A MIPS ELF linked outside this RAM.
    let mut l = Layout::new(Arch::Mips, ram(&[(0, 0x0100_0000)]));
    let k = KernelImage::parse(&mips_elf(
        true,
        0x8200_0000,
        &[(0x8200_0000, 0x8200_0000, 0x100, 0x100)],
    ))
    .expect("elf");
    assert!(matches!(l.add_kernel(&k), Err(Error::OutsideRam { .. })));
    // Another architecture's kernel.
    let k = KernelImage::parse(&zimage(0x1000, false)).expect("z");
    assert!(matches!(l.add_kernel(&k), Err(Error::WrongArch { .. })));
    assert!(l.segments().is_empty(), "nothing added on errors");
}

#[test]
fn dtb_must_be_a_dtb() {
    let mut l = Layout::new(Arch::Arm, ram(&[(0x6000_0000, 0x7000_0000)]));
    assert!(matches!(l.add_dtb(vec![0; 64]), Err(Error::NotADtb { .. })));
    assert!(l.segments().is_empty());
}

#[test]
fn too_many_segments() {
    let mut l = Layout::new(Arch::Arm, ram(&[(0x6000_0000, 0x7000_0000)]));
    l.add_kernel(&KernelImage::parse(&zimage(0x1000, false)).expect("z"))
        .expect("kernel");
    for i in 0..16 {
        l.add(&format!("x{i}"), vec![1], 4096).expect("add");
    }
    assert!(matches!(l.finish(), Err(Error::TooManySegments(17))));
}

proptest! {
    #[test]
    fn random_placements_keep_the_invariants(
        ranges in prop::collection::vec((0u64..64, 1u64..64), 1..4),
        ops in prop::collection::vec((any::<bool>(), 0u64..0x30_0000, 0u32..4, 0u64..0x400_0000), 0..24),
        page_shift in prop::sample::select(vec![12u32, 14, 16]),
    ) {
        // RAM ranges in units of 1 MiB (overlaps merged by MemoryMap).
        let mem = MemoryMap::new(
            ranges.iter().map(|&(s, l)| Range::at(s << 20, l << 20)).collect(),
            vec![],
        );
        let mut l = Layout::new(Arch::Mips, mem).with_page_size(1 << page_shift);
        for (fixed, len, align_shift, at) in ops {
            let before = l.segments().len();
            let data = vec![0u8; len as usize];
            let r = if fixed {
                l.add_fixed("f", at, data).map(|_| ())
            } else {
                l.add("a", data, 4096 << align_shift).map(|_| ())
            };
            match r {
                Ok(()) => prop_assert_eq!(l.segments().len(), before + 1),
                Err(_) => prop_assert_eq!(l.segments().len(), before),
            }
            assert_invariants(&l);
        }
    }

    #[test]
    fn find_free_is_free_and_aligned(
        taken in prop::collection::vec((0u64..256, 1u64..8), 0..10),
        size in 1u64..0x80_0000,
        align_shift in 12u32..24,
    ) {
        let mut l = Layout::new(Arch::Mips, ram(&[(0, 0x1000_0000)]));
        // The search itself, from the bottom of RAM.
        l.set_min_address(0);
        for (at, pages) in taken {
            let _ = l.add_fixed("t", at << 20, vec![0; (pages << 12) as usize]);
        }
        if let Ok(a) = l.find_free(size, 1 << align_shift) {
            prop_assert_eq!(a % (1 << align_shift), 0);
            let r = Range::at(a, size);
            prop_assert!(l.memory().in_ram(&r));
            prop_assert!(l.segments().iter().all(|s| !s.range().overlaps(&r)));
            // And it is the lowest such address: one step lower is taken or misaligned.
            if a >= 1 << align_shift {
                let lower = Range::at(a - (1 << align_shift), size);
                prop_assert!(l.segments().iter().any(|s| s.range().overlaps(&lower)));
            }
        }
    }
}

#[test]
fn take_kernel_equals_add_kernel() {
    let elf = mips_elf(
        true,
        0x8010_0400,
        &[(0x8010_0200, 0x8010_0200, 0x3000, 0x5000)],
    );
    let image = KernelImage::parse(&elf).expect("elf");
    let mut a = Layout::new(Arch::Mips, ram(&[(0, 0x0400_0000)]));
    let mut b = a.clone();
    assert_eq!(
        a.add_kernel(&image).expect("add"),
        b.take_kernel(image).expect("take")
    );
    assert_eq!(a.segments(), b.segments());
    // The part did not start on a page: the segment is padded in front.
    assert_eq!(a.segments()[0].address, 0x10_0000);
    assert_eq!(a.segments()[0].data[..0x200], [0u8; 0x200]);
}

#[test]
fn rootfs_goes_to_the_top_of_ram_clear_of_everything() {
    let memory = MemoryMap::new(
        vec![Range::new(0, 0x1000_0000)],
        vec![Range::new(0x0ff0_0000, 0x0ff4_0000)],
    );
    let mib = 1 << 20;
    let free_top = |l: &Layout, size| l.find_free_top(size, mib).ok();
    let mut l = Layout::new(Arch::Mips, memory);
    // Below the reserved range at the top.
    assert_eq!(free_top(&l, 0x30_0000), Some(0x0fc0_0000));
    // Below a segment in the way, and below the limit.
    l.add_fixed("taken", 0x0f00_0000, vec![0; 0xc0_0000])
        .expect("taken");
    l.set_max_address(Some(0x0fc0_0000));
    assert_eq!(free_top(&l, 0x30_0000), Some(0x0ed0_0000));
    // Too big.
    l.set_max_address(None);
    assert_eq!(free_top(&l, 0x2000_0000), None);
    // Never below the MIPS floor (the first MiB).
    let mut low = Layout::new(
        Arch::Mips,
        MemoryMap::new(vec![Range::new(0, 0x20_0000)], vec![]),
    );
    assert_eq!(free_top(&low, 0x10_0000), Some(0x10_0000));
    low.add_fixed("k", 0x10_0000, vec![0; 0x1000]).expect("k");
    assert_eq!(free_top(&low, 0x10_0000), None);
}
