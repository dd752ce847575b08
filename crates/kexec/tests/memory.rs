//! `/proc/iomem` and device-tree memory parsing.

use kexec::dtb::{Fdt, ReservedRegion};
use kexec::memory::Error;
use kexec::{MemoryMap, Range};

/// `/proc/iomem` of the aarch64 `virt` guest (512 MiB), abridged.
const IOMEM_ARM64: &str = "\
09000000-09000fff : pl011@9000000
  09000000-09000fff : 9000000.pl011 pl011@9000000
40000000-5fffffff : System RAM
  40210000-41a0ffff : Kernel code
  41a10000-4225ffff : reserved
  42260000-4269ffff : Kernel data
  48000000-4bffffff : reserved
  5fe00000-5fffffff : reserved
4010000000-401fffffff : PCI ECAM
8000000000-ffffffffff : pcie@10000000
";

/// x86_64 with RAM above 4 GiB and RAM entries split by holes.
const IOMEM_X86: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000a0000-000bffff : PCI Bus 0000:00
00100000-bffdffff : System RAM
  01000000-01e02fff : Kernel code
bffe0000-bfffffff : Reserved
100000000-23fffffff : System RAM
";

#[test]
fn iomem_arm64_ram_and_nested_reserved() {
    let m = MemoryMap::from_iomem(IOMEM_ARM64).expect("parse");
    assert_eq!(m.ram, vec![Range::new(0x4000_0000, 0x6000_0000)]);
    assert_eq!(
        m.reserved,
        vec![
            Range::new(0x41a1_0000, 0x4226_0000),
            Range::new(0x4800_0000, 0x4c00_0000),
            Range::new(0x5fe0_0000, 0x6000_0000),
        ]
    );
    assert_eq!(m.total_ram(), 512 << 20);
}

#[test]
fn iomem_x86_64bit_addresses() {
    let m = MemoryMap::from_iomem(IOMEM_X86).expect("parse");
    assert_eq!(
        m.ram,
        vec![
            Range::new(0x1000, 0xa0000 - 0x400),
            Range::new(0x10_0000, 0xbffe_0000),
            Range::new(0x1_0000_0000, 0x2_4000_0000),
        ]
    );
    // Top-level "Reserved" is not inside RAM: not a reservation.
    assert!(m.reserved.is_empty());
}

#[test]
fn iomem_errors() {
    // Unprivileged readers see zeros.
    let zeros = "00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n";
    let e = MemoryMap::from_iomem(zeros).expect_err("error");
    assert!(e.to_string().contains("needs root"), "{e}");
    for bad in [
        "40000000-3fffffff : System RAM\n",
        "xyz-5fffffff : System RAM\n",
        "40000000 : System RAM\n",
        "40000000-5fffffff System RAM\n",
        "00000000-0fffffff : Reserved\n",
    ] {
        assert!(
            matches!(MemoryMap::from_iomem(bad), Err(e) if e.is_iomem()),
            "{bad:?}"
        );
    }
}

#[test]
fn fdt_memory_nodes_with_both_cell_sizes() {
    for (ac, sc) in [(1u32, 1u32), (2, 2), (2, 1)] {
        let mut fdt = Fdt::new();
        fdt.root.set_prop("#address-cells", ac.to_be_bytes());
        fdt.root.set_prop("#size-cells", sc.to_be_bytes());
        let mut reg = Vec::new();
        for (a, s) in [(0x8000_0000u64, 0x1000_0000u64), (0x0, 0x0400_0000)] {
            if ac == 2 {
                reg.extend(a.to_be_bytes());
            } else {
                reg.extend((a as u32).to_be_bytes());
            }
            if sc == 2 {
                reg.extend(s.to_be_bytes());
            } else {
                reg.extend((s as u32).to_be_bytes());
            }
        }
        let mem = fdt.node_or_create("/memory@0").expect("node");
        mem.set_prop("device_type", b"memory\0".to_vec());
        mem.set_prop("reg", reg);
        fdt.add_reserved_memory(&ReservedRegion {
            name: "ramoops".into(),
            address: 0x8f00_0000,
            size: 0x10_0000,
            compatible: None,
            no_map: false,
        })
        .expect("reserved");
        fdt.reserve.push(kexec::dtb::ReserveEntry {
            address: 0x1000,
            size: 0x1000,
        });
        // Through the blob, as from /sys/firmware/fdt.
        let fdt = Fdt::parse(&fdt.to_bytes()).expect("reparse");
        let m = MemoryMap::from_fdt(&fdt).expect("memory");
        assert_eq!(
            m.ram,
            vec![
                Range::new(0, 0x0400_0000),
                Range::new(0x8000_0000, 0x9000_0000)
            ],
            "cells {ac}/{sc}"
        );
        assert_eq!(
            m.reserved,
            vec![
                Range::new(0x1000, 0x2000),
                Range::new(0x8f00_0000, 0x8f10_0000)
            ]
        );
    }
    assert!(matches!(
        MemoryMap::from_fdt(&Fdt::new()),
        Err(Error::NoMemory)
    ));
}
