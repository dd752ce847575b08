//! The running kernel's own device tree, where there is one (the MIPS VM,
//! ARM and MIPS boards; not x86_64 hosts).

use kexec::dtb::{Fdt, SYSFS_FDT};

#[test]
fn running_tree_round_trips() {
    let blob = match std::fs::read(SYSFS_FDT) {
        Ok(blob) => blob,
        Err(e) => {
            eprintln!("skipped: cannot read {SYSFS_FDT}: {e} (no device tree, or not root)");
            return;
        }
    };
    let fdt = Fdt::parse(&blob).expect("the kernel's tree parses");
    assert!(!fdt.root.children.is_empty(), "a real tree has nodes");
    let again = Fdt::parse(&fdt.to_bytes()).expect("our rewrite parses");
    assert_eq!(again, fdt);
    let mut edited = fdt.clone();
    edited.set_bootargs("marker=LIMINA").expect("bootargs");
    assert_eq!(
        Fdt::parse(&edited.to_bytes())
            .expect("parses")
            .bootargs()
            .expect("string")
            .as_deref(),
        Some("marker=LIMINA")
    );
}
