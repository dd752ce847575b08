//! Our DTB output checked with the reference tools: trees compiled by
//! `dtc`, edited with `kexec::dtb`, decompiled by `dtc` and read back with
//! `fdtget`. Skips (with a printed reason) where `dtc`/`fdtget` are absent.

use std::path::Path;
use std::process::Command;

use kexec::dtb::{Fdt, ReserveEntry, ReservedRegion};

use crate::common::{run, Scratch};

const CELLS1: &str = include_str!("fixtures/cells1.dts");
const CELLS2: &str = include_str!("fixtures/cells2.dts");
const VIRT: &str = include_str!("fixtures/qemu-virt-aarch64.dts");

fn tools_present() -> bool {
    for tool in ["dtc", "fdtget"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("skipped: `{tool}` is not on PATH (Debian package device-tree-compiler)");
            return false;
        }
    }
    true
}

fn compile(scratch: &Scratch, name: &str, dts: &str) -> Vec<u8> {
    let src = scratch.path(&format!("{name}.dts"));
    let dtb = scratch.path(&format!("{name}.dtb"));
    std::fs::write(&src, dts).expect("write dts");
    run(Command::new("dtc")
        .args(["-q", "-I", "dts", "-O", "dtb", "-o"])
        .arg(&dtb)
        .arg(&src));
    std::fs::read(&dtb).expect("read dtb")
}

fn fdtget(dtb: &Path, args: &[&str]) -> String {
    run(Command::new("fdtget")
        .args(&args[..1])
        .arg(dtb)
        .args(&args[1..]))
    .trim()
    .to_owned()
}

fn decompile(dtb: &Path) -> String {
    run(Command::new("dtc")
        .args(["-q", "-I", "dtb", "-O", "dts"])
        .arg(dtb))
}

#[test]
fn dtc_blobs_round_trip() {
    if !tools_present() {
        return;
    }
    let scratch = Scratch::new("roundtrip");
    for (name, dts) in [("cells1", CELLS1), ("cells2", CELLS2), ("virt", VIRT)] {
        let blob = compile(&scratch, name, dts);
        let fdt = Fdt::parse(&blob).expect("dtc output parses");
        let ours = fdt.to_bytes();
        assert_eq!(Fdt::parse(&ours).expect("our output parses"), fdt, "{name}");
        // dtc reads ours back to the same source as its own blob.
        let out = scratch.path(&format!("{name}.ours.dtb"));
        std::fs::write(&out, &ours).expect("write");
        assert_eq!(
            decompile(&out),
            decompile(&scratch.path(&format!("{name}.dtb"))),
            "{name}"
        );
    }
    let fdt = Fdt::parse(&compile(&scratch, "cells2", CELLS2)).expect("parses");
    assert_eq!(
        fdt.reserve,
        [
            ReserveEntry {
                address: 0x4000_0000,
                size: 0x1_0000
            },
            ReserveEntry {
                address: 0x4800_0000,
                size: 0x1000
            }
        ]
    );
    assert_eq!(
        fdt.reg("/memory@40000000").expect("reg"),
        [(0x4000_0000, 0x2000_0000)]
    );
}

#[test]
fn unedited_output_is_byte_identical_to_dtc() {
    // True when no property name is a suffix of another (dtc then shares
    // the tail in its strings block; we do not), as in both fixtures.
    if !tools_present() {
        return;
    }
    let scratch = Scratch::new("identical");
    for (name, dts) in [("cells1", CELLS1), ("cells2", CELLS2)] {
        let blob = compile(&scratch, name, dts);
        assert_eq!(
            Fdt::parse(&blob).expect("parses").to_bytes(),
            blob,
            "{name}"
        );
    }
}

fn edit_and_check(name: &str, dts: &str, cells: u32) {
    let scratch = Scratch::new(name);
    let mut fdt = Fdt::parse(&compile(&scratch, name, dts)).expect("dtc output parses");
    let bootargs =
        "console=ttyS0,115200 phram.phram=rootfs,0x6000000,6Mi root=/dev/mtdblock0 marker=LIMINA";
    fdt.set_bootargs(bootargs).expect("bootargs");
    fdt.set_initrd(0x0500_0000, 0x0540_0000).expect("initrd");
    fdt.set_kaslr_seed(0x1122_3344_5566_7788).expect("kaslr");
    fdt.set_rng_seed(&[0xde, 0xad, 0xbe, 0xef, 0x01])
        .expect("rng");
    let path = fdt
        .add_reserved_memory(&ReservedRegion {
            name: "phram".into(),
            address: 0x0600_0000,
            size: 0x0060_0000,
            compatible: Some("phram".into()),
            no_map: true,
        })
        .expect("reserved-memory");
    assert_eq!(path, "/reserved-memory/phram@6000000");
    let out = scratch.path("out.dtb");
    std::fs::write(&out, fdt.to_bytes()).expect("write");

    let dts = decompile(&out);
    assert!(dts.contains("phram@6000000 {"), "{dts}");
    assert!(dts.contains("/memreserve/"), "{dts}");
    assert_eq!(fdtget(&out, &["-ts", "/chosen", "bootargs"]), bootargs);
    let (start, end, reg) = if cells == 1 {
        ("5000000", "5400000", "6000000 600000")
    } else {
        ("0 5000000", "0 5400000", "0 6000000 0 600000")
    };
    assert_eq!(
        fdtget(&out, &["-tx", "/chosen", "linux,initrd-start"]),
        start
    );
    assert_eq!(fdtget(&out, &["-tx", "/chosen", "linux,initrd-end"]), end);
    assert_eq!(fdtget(&out, &["-tx", &path, "reg"]), reg);
    assert_eq!(fdtget(&out, &["-ts", &path, "compatible"]), "phram");
    assert_eq!(
        fdtget(&out, &["-tx", "/chosen", "kaslr-seed"]),
        "11223344 55667788"
    );
    assert_eq!(
        fdtget(&out, &["-tbx", "/chosen", "rng-seed"]),
        "de ad be ef 1"
    );
    assert_eq!(
        fdtget(&out, &["-l", "/reserved-memory"]).lines().last(),
        Some("phram@6000000")
    );
    assert_eq!(
        fdtget(&out, &["-p", &path]).lines().collect::<Vec<_>>(),
        ["compatible", "reg", "no-map"]
    );
    assert_eq!(
        fdtget(&out, &["-tu", "/reserved-memory", "#address-cells"]),
        cells.to_string()
    );
    assert_eq!(
        fdtget(&out, &["-tu", "/reserved-memory", "#size-cells"]),
        cells.to_string()
    );
}

#[test]
fn edits_read_by_fdtget_one_cell() {
    if tools_present() {
        edit_and_check("cells1", CELLS1, 1);
    }
}

#[test]
fn edits_read_by_fdtget_two_cells() {
    if tools_present() {
        edit_and_check("cells2", CELLS2, 2);
    }
}

#[test]
fn edits_of_a_real_tree_replace_old_values() {
    if !tools_present() {
        return;
    }
    let scratch = Scratch::new("virt");
    let mut fdt = Fdt::parse(&compile(&scratch, "virt", VIRT)).expect("parses");
    assert_eq!(
        fdt.prop_u64("/chosen", "linux,initrd-start")
            .expect("number"),
        Some(0x4800_0000)
    );
    let children = fdt.node("/chosen").expect("chosen").props.len();
    fdt.set_bootargs("console=ttyAMA0 marker=NEW")
        .expect("bootargs");
    fdt.set_initrd(0x4900_0000, 0x4a00_0000).expect("initrd");
    fdt.set_kaslr_seed(0xfeed).expect("kaslr");
    assert_eq!(
        fdt.node("/chosen").expect("chosen").props.len(),
        children,
        "replaced, not added"
    );
    let out = scratch.path("out.dtb");
    std::fs::write(&out, fdt.to_bytes()).expect("write");
    assert_eq!(
        fdtget(&out, &["-ts", "/chosen", "bootargs"]),
        "console=ttyAMA0 marker=NEW"
    );
    assert_eq!(
        fdtget(&out, &["-tx", "/chosen", "linux,initrd-start"]),
        "0 49000000"
    );
    assert_eq!(fdtget(&out, &["-tx", "/chosen", "kaslr-seed"]), "0 feed");
    assert_eq!(
        fdtget(&out, &["-ts", "/chosen", "stdout-path"]),
        "/pl011@9000000"
    );
}

#[test]
fn one_cell_tree_refuses_high_addresses() {
    if !tools_present() {
        return;
    }
    let scratch = Scratch::new("refuse");
    let mut fdt = Fdt::parse(&compile(&scratch, "cells1", CELLS1)).expect("parses");
    let before = fdt.clone();
    assert!(fdt.set_initrd(0xffff_f000, 0x1_0000_1000).is_err());
    let high = ReservedRegion {
        name: "phram".into(),
        address: 0x1_0000_0000,
        size: 0x1000,
        compatible: None,
        no_map: false,
    };
    assert!(fdt.add_reserved_memory(&high).is_err());
    // The refused edits changed nothing but the created /reserved-memory.
    fdt.root.children.retain(|c| c.name != "reserved-memory");
    assert_eq!(fdt, before);
}
