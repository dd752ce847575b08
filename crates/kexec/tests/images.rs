//! Kernel header parsers on synthetic images (both byte orders; the
//! builders write every field with explicit `to_be_bytes`/`to_le_bytes`).

use kexec::image::{mips_virt_to_phys, Arm64Header, Error, Placement};
use kexec::{detect, Arch, Format, KernelImage};

/// A 32-bit MIPS ELF with the given PT_LOADs `(vaddr, paddr, filesz, memsz)`.
pub fn mips_elf(big: bool, entry: u32, loads: &[(u32, u32, u32, u32)]) -> Vec<u8> {
    let w16 = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut e = vec![0x7f, b'E', b'L', b'F', 1, if big { 2 } else { 1 }, 1, 0];
    e.resize(16, 0);
    e.extend(w16(2)); // ET_EXEC
    e.extend(w16(8)); // EM_MIPS
    e.extend(w32(1));
    e.extend(w32(entry));
    e.extend(w32(52)); // e_phoff
    e.extend(w32(0)); // e_shoff
    e.extend(w32(0x7000_1001)); // e_flags
    e.extend(w16(52));
    e.extend(w16(32));
    e.extend(w16(loads.len() as u16));
    e.extend(w16(40));
    e.extend(w16(0));
    e.extend(w16(0));
    let mut off = 52 + 32 * loads.len() as u32;
    let mut payload = Vec::new();
    for (i, &(vaddr, paddr, filesz, memsz)) in loads.iter().enumerate() {
        for v in [1, off, vaddr, paddr, filesz, memsz, 7, 0x1000] {
            e.extend(w32(v));
        }
        payload.extend((0..filesz).map(|j| (i as u32 * 7 + j) as u8));
        off += filesz;
    }
    e.extend(payload);
    e
}

/// An arm64 Image header plus `len - 64` payload bytes.
pub fn arm64_image(text_offset: u64, image_size: u64, flags: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len.max(64)];
    v[0..4].copy_from_slice(&[0x4d, 0x5a, 0, 0x91]);
    v[8..16].copy_from_slice(&text_offset.to_le_bytes());
    v[16..24].copy_from_slice(&image_size.to_le_bytes());
    v[24..32].copy_from_slice(&flags.to_le_bytes());
    v[0x38..0x3c].copy_from_slice(b"ARM\x64");
    v
}

/// An ARM zImage header (start 0, end `len`) in `len` bytes.
pub fn zimage(len: u32, big: bool) -> Vec<u8> {
    let w = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut v = vec![0u8; len as usize];
    v[0x24..0x28].copy_from_slice(&w(0x016f_2818));
    v[0x28..0x2c].copy_from_slice(&w(0));
    v[0x2c..0x30].copy_from_slice(&w(len));
    v
}

#[test]
fn mips_elf_both_endians() {
    for big in [true, false] {
        let elf = mips_elf(
            big,
            0x8010_0400,
            &[(0x8010_0000, 0x8010_0000, 0x3000, 0x5000)],
        );
        assert_eq!(detect(&elf).expect("detect"), Format::MipsElf);
        let k = KernelImage::parse(&elf).expect("parse");
        assert_eq!(k.arch, if big { Arch::Mips } else { Arch::Mipsel });
        let Placement::Fixed { parts, entry } = &k.placement else {
            panic!("fixed placement");
        };
        assert_eq!(*entry, 0x0010_0400);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].address, 0x0010_0000);
        assert_eq!(parts[0].data.len(), 0x3000);
        assert_eq!(parts[0].mem_size, 0x5000);
        assert_eq!(parts[0].data[1], 1);
        assert_eq!(k.footprint(), 0x5000);
    }
}

#[test]
fn mips_physical_paddr_kept_and_kseg2_refused() {
    // p_paddr already physical, p_vaddr in KSEG0.
    let elf = mips_elf(
        true,
        0x8020_0000,
        &[(0x8020_0000, 0x0020_0000, 0x100, 0x100)],
    );
    let k = KernelImage::parse(&elf).expect("parse");
    let Placement::Fixed { parts, .. } = &k.placement else {
        panic!()
    };
    assert_eq!(parts[0].address, 0x0020_0000);
    assert_eq!(mips_virt_to_phys(0xa000_1000), Some(0x1000));
    assert_eq!(mips_virt_to_phys(0x9fff_f000), Some(0x1fff_f000));
    assert_eq!(mips_virt_to_phys(0xc000_0000), None);
    let mapped = mips_elf(
        true,
        0xc000_0000,
        &[(0xc000_0000, 0xc000_0000, 0x100, 0x100)],
    );
    let e = KernelImage::parse(&mapped).expect_err("error");
    assert!(e.to_string().contains("KSEG0"), "{e}");
}

#[test]
fn mips_elf_bad_inputs() {
    // Entry outside every PT_LOAD.
    let elf = mips_elf(
        false,
        0x8090_0000,
        &[(0x8010_0000, 0x8010_0000, 0x100, 0x100)],
    );
    assert!(matches!(KernelImage::parse(&elf), Err(e) if e.is_bad_image()));
    // memsz < filesz.
    let elf = mips_elf(
        false,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x200, 0x100)],
    );
    assert!(matches!(KernelImage::parse(&elf), Err(e) if e.is_bad_image()));
    // Truncated file: PT_LOAD data past the end.
    let mut elf = mips_elf(
        true,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x200, 0x200)],
    );
    elf.truncate(elf.len() - 16);
    assert!(matches!(KernelImage::parse(&elf), Err(e) if e.is_bad_image()));
    // Not MIPS.
    let mut elf = mips_elf(
        false,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x100, 0x100)],
    );
    elf[18] = 40; // EM_ARM
    assert!(matches!(
        KernelImage::parse(&elf),
        Err(Error::WrongMachine { machine: 40 })
    ));
    // ELF64.
    let mut elf = mips_elf(
        false,
        0x8010_0000,
        &[(0x8010_0000, 0x8010_0000, 0x100, 0x100)],
    );
    elf[4] = 2;
    assert!(matches!(KernelImage::parse(&elf), Err(Error::Elf64)));
    // Every truncation of a valid ELF gives an error, never a panic.
    let elf = mips_elf(true, 0x8010_0000, &[(0x8010_0000, 0x8010_0000, 0x40, 0x40)]);
    for n in 0..elf.len() {
        assert!(KernelImage::parse(&elf[..n]).is_err(), "truncated at {n}");
    }
}

#[test]
fn arm64_header_fields() {
    let img = arm64_image(0, 0x0300_0000, 0b1010, 0x1000);
    assert_eq!(detect(&img).expect("detect"), Format::Arm64Image);
    let h = Arm64Header::parse(&img).expect("header");
    assert_eq!(h.image_size, 0x0300_0000);
    assert_eq!(h.page_size(), Some(4096));
    assert!(!h.big_endian());
    let k = KernelImage::parse(&img).expect("parse");
    assert_eq!(k.arch, Arch::Aarch64);
    let Placement::Relocatable {
        offset,
        base_align,
        footprint,
        data,
    } = &k.placement
    else {
        panic!()
    };
    assert_eq!(
        (*offset, *base_align, *footprint),
        (0, 2 << 20, 0x0300_0000)
    );
    assert_eq!(data.len(), 0x1000);

    let be = arm64_image(0x8_0000, 0x100_0000, 0b0111, 0x100);
    let h = Arm64Header::parse(&be).expect("header");
    assert!(h.big_endian());
    assert_eq!(h.page_size(), Some(64 << 10));
    assert_eq!(h.text_offset, 0x8_0000);

    // image_size 0 (pre-3.17) and a silly text_offset are refused.
    assert!(matches!(
        KernelImage::parse(&arm64_image(0, 0, 0, 0x100)),
        Err(Error::Arm64TooOld)
    ));
    assert!(matches!(
        KernelImage::parse(&arm64_image(0x30_0000, 0x100_0000, 0, 0x100)),
        Err(e) if e.is_bad_image()
    ));
}

#[test]
fn zimage_both_endians() {
    for big in [false, true] {
        let z = zimage(0x4000, big);
        assert_eq!(detect(&z).expect("detect"), Format::ArmZimage);
        let k = KernelImage::parse(&z).expect("parse");
        assert_eq!(k.arch, Arch::Arm);
        let Placement::Relocatable {
            offset, footprint, ..
        } = &k.placement
        else {
            panic!()
        };
        assert_eq!(*offset, 0x8000);
        assert_eq!(*footprint, 4 * 0x4000);
    }
    // end beyond the file.
    let mut z = zimage(0x4000, false);
    z.truncate(0x3000);
    assert!(matches!(KernelImage::parse(&z), Err(e) if e.is_bad_image()));
}

#[test]
fn not_a_kernel_is_a_clear_error() {
    for (bytes, says) in [
        (vec![0u8; 4096], "starts 00 00"),
        (vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "gzip"),
        (vec![0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0], "device tree"),
        (b"#!/bin/sh\n".to_vec(), "only 10 bytes"),
    ] {
        let e = KernelImage::parse(&bytes).expect_err("error");
        assert!(matches!(e, Error::NotAKernel(_)), "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("kexec: not a kernel image"), "{msg}");
        assert!(msg.contains(says), "{msg}");
    }
    // A bzImage is recognised but left to kexec_file_load.
    let mut bz = vec![0u8; 0x400];
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    assert_eq!(detect(&bz).expect("detect"), Format::X86BzImage);
    let e = KernelImage::parse(&bz).expect_err("error");
    assert!(e.to_string().contains("kexec_file_load"), "{e}");
}

#[test]
fn from_vec_reuses_the_buffer_and_equals_parse() {
    let one = mips_elf(
        true,
        0x8010_0400,
        &[(0x8010_0000, 0x8010_0000, 0x3000, 0x5000)],
    );
    let two = mips_elf(
        false,
        0x8010_0400,
        &[
            (0x8010_0000, 0x8010_0000, 0x2000, 0x2000),
            (0x8020_0000, 0x8020_0000, 0x1800, 0x4000),
        ],
    );
    for image in [
        one,
        two,
        zimage(0x4000, false),
        arm64_image(0x8_0000, 0x10_0000, 0b1010, 0x2000),
    ] {
        let parsed = KernelImage::parse(&image).expect("parse");
        let owned = KernelImage::from_vec(image.clone()).expect("from_vec");
        assert_eq!(owned, parsed);
    }
    // Errors are the same too.
    let mut bad = zimage(0x4000, false);
    bad[0x2c..0x30].copy_from_slice(&0x10u32.to_le_bytes());
    assert_eq!(
        KernelImage::from_vec(bad.clone())
            .err()
            .map(|e| e.to_string()),
        KernelImage::parse(&bad).err().map(|e| e.to_string())
    );
}
