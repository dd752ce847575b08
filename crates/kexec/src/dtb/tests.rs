use super::*;
use proptest::prelude::*;

fn sample() -> Fdt {
    let mut fdt = Fdt::new();
    fdt.boot_cpuid_phys = 3;
    fdt.reserve.push(ReserveEntry {
        address: 0x1000,
        size: 0x2000,
    });
    fdt.root.set_prop("compatible", b"test,board\0".to_vec());
    let mut cpus = Node::new("cpus");
    cpus.children.push(Node::new("cpu@0"));
    fdt.root.children.push(cpus);
    fdt.set_bootargs("console=ttyS0").expect("valid bootargs");
    fdt
}

#[test]
fn header_and_layout() {
    let blob = sample().to_bytes();
    let f = |i: usize| be32(&blob, i * 4).expect("header field");
    assert_eq!(f(0), FDT_MAGIC);
    assert_eq!(f(1) as usize, blob.len());
    assert_eq!(f(4), 40, "memreserve right after the header, 8-aligned");
    assert_eq!(f(2), 40 + 2 * 16, "one entry plus the terminator");
    assert_eq!((f(5), f(6), f(7)), (17, 16, 3));
    assert_eq!(f(3), f(2) + f(9), "strings right after the structure block");
    assert_eq!(f(9) % 4, 0);
    // Each property name once in the strings block.
    let strings = &blob[f(3) as usize..];
    assert_eq!(
        strings,
        b"#address-cells\0#size-cells\0compatible\0bootargs\0"
    );
}

#[test]
fn round_trip() {
    let fdt = sample();
    let back = Fdt::parse(&fdt.to_bytes()).expect("own output parses");
    assert_eq!(back, fdt);
    assert_eq!(back.to_bytes(), fdt.to_bytes());
}

#[test]
fn initrd_cells() {
    let mut fdt = Fdt::new();
    fdt.set_initrd(0x1_0000_0000, 0x1_0010_0000)
        .expect("fits 2 cells");
    assert_eq!(
        fdt.prop("/chosen", "linux,initrd-start")
            .expect("chosen")
            .expect("prop")
            .value
            .len(),
        8
    );
    fdt.root.set_prop("#address-cells", 1u32.to_be_bytes());
    let err = fdt
        .set_initrd(0x1_0000_0000, 0x1_0010_0000)
        .expect_err("does not fit 1 cell");
    assert!(
        err.to_string()
            .starts_with("dtb: linux,initrd-start 0x100000000 does not fit in 1 cell"),
        "{err}"
    );
    fdt.set_initrd(0x0080_0000, 0x0090_0000)
        .expect("fits 1 cell");
    assert_eq!(
        fdt.prop_u32("/chosen", "linux,initrd-end").expect("ok"),
        Some(0x0090_0000)
    );
    assert!(fdt.set_initrd(2, 1).is_err());
}

#[test]
fn reserved_memory_created_and_checked() {
    let mut fdt = Fdt::new();
    fdt.root.set_prop("#address-cells", 1u32.to_be_bytes());
    let region = ReservedRegion {
        name: "phram".into(),
        address: 0x0400_0000,
        size: 0x10_0000,
        compatible: None,
        no_map: false,
    };
    let path = fdt.add_reserved_memory(&region).expect("added");
    assert_eq!(path, "/reserved-memory/phram@4000000");
    assert_eq!(
        fdt.prop_u32("/reserved-memory", "#address-cells")
            .expect("ok"),
        Some(1)
    );
    assert_eq!(
        fdt.prop_u32("/reserved-memory", "#size-cells").expect("ok"),
        Some(1)
    );
    assert_eq!(
        fdt.prop("/reserved-memory", "ranges")
            .expect("ok")
            .map(|p| p.value.len()),
        Some(0)
    );
    assert_eq!(
        fdt.node(&path)
            .expect("node")
            .prop("reg")
            .expect("reg")
            .value,
        [4, 0, 0, 0, 0, 0x10, 0, 0].as_slice()
    );
    assert!(fdt.node(&path).expect("node").prop("no-map").is_none());
    assert!(matches!(
        fdt.add_reserved_memory(&region),
        Err(Error::Exists(_))
    ));
    let far = ReservedRegion {
        address: 0x1_0000_0000,
        ..region
    };
    assert!(matches!(
        fdt.add_reserved_memory(&far),
        Err(Error::TooBig { .. })
    ));
    let bad = ReservedRegion {
        name: "a/b".into(),
        address: 0,
        size: 1,
        compatible: None,
        no_map: false,
    };
    assert!(matches!(
        fdt.add_reserved_memory(&bad),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn bad_cells_and_readers() {
    let mut fdt = Fdt::new();
    fdt.root.set_prop("#address-cells", 3u32.to_be_bytes());
    assert!(matches!(
        fdt.set_initrd(0, 1),
        Err(Error::Cells { cells: 3, .. })
    ));
    assert!(matches!(fdt.node("chosen"), Err(Error::BadPath(_))));
    assert!(matches!(fdt.node("/nope"), Err(Error::NoNode(_))));
    assert_eq!(fdt.bootargs().expect("no chosen is fine"), None);
    fdt.set_kaslr_seed(0x0102_0304_0506_0708).expect("set");
    assert_eq!(
        fdt.prop_u64("/chosen", "kaslr-seed").expect("ok"),
        Some(0x0102_0304_0506_0708)
    );
    fdt.set_rng_seed(&[1, 2, 3]).expect("set");
    assert!(fdt.prop_u32("/chosen", "rng-seed").is_err());
    assert!(fdt.prop_str("/chosen", "kaslr-seed").is_err());
    assert!(fdt.set_bootargs("a\0b").is_err());
}

#[test]
fn bad_headers() {
    assert!(matches!(Fdt::parse(&[]), Err(Error::Truncated { .. })));
    assert!(matches!(Fdt::parse(&[0; 64]), Err(Error::BadMagic(0))));
    let mut blob = sample().to_bytes();
    blob[20..24].copy_from_slice(&15u32.to_be_bytes());
    assert!(matches!(Fdt::parse(&blob), Err(Error::Version { .. })));
    let blob = sample().to_bytes();
    assert!(matches!(
        Fdt::parse(&blob[..blob.len() - 1]),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn long_node_names_are_an_error() {
    // fdt-rs reads node names of at most MAX_NODE_NAME bytes.
    for (len, ok) in [(MAX_NODE_NAME, true), (MAX_NODE_NAME + 1, false)] {
        let mut fdt = Fdt::new();
        fdt.root.children.push(Node::new("n".repeat(len)));
        assert_eq!(Fdt::parse(&fdt.to_bytes()).is_ok(), ok, "{len}");
    }
    let mut fdt = Fdt::new();
    let region = ReservedRegion {
        name: "r".repeat(21),
        address: 0xffff_ffff,
        size: 1,
        compatible: None,
        no_map: false,
    };
    assert!(matches!(
        fdt.add_reserved_memory(&region),
        Err(Error::Invalid(_))
    ));
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9,-]{0,15}(@[0-9a-f]{1,8})?"
}

fn arb_node(depth: u32) -> BoxedStrategy<Node> {
    let props = prop::collection::vec(
        (
            "[a-z#][a-z0-9,#-]{0,15}",
            prop::collection::vec(any::<u8>(), 0..20),
        ),
        0..5,
    );
    let leaf = (arb_name(), props.clone()).prop_map(|(name, props)| {
        let mut n = Node::new(name);
        for (k, v) in props {
            n.set_prop(&k, v);
        }
        n
    });
    if depth == 0 {
        return leaf.boxed();
    }
    (leaf, prop::collection::vec(arb_node(depth - 1), 0..4))
        .prop_map(|(mut n, children)| {
            for c in children {
                if n.child(&c.name).is_none() {
                    n.children.push(c);
                }
            }
            n
        })
        .boxed()
}

fn arb_fdt() -> impl Strategy<Value = Fdt> {
    (
        arb_node(3),
        any::<u32>(),
        prop::collection::vec((any::<u64>(), 1..u64::MAX), 0..4),
    )
        .prop_map(|(mut root, cpu, rsv)| {
            root.name = String::new();
            Fdt {
                boot_cpuid_phys: cpu,
                reserve: rsv
                    .into_iter()
                    .map(|(address, size)| ReserveEntry { address, size })
                    .collect(),
                root,
            }
        })
}

proptest! {
    #[test]
    fn prop_round_trip(fdt in arb_fdt()) {
        let blob = fdt.to_bytes();
        prop_assert_eq!(Fdt::parse(&blob).expect("own output parses"), fdt);
    }

    #[test]
    fn prop_edits(mut fdt in arb_fdt(), args in "[ -~]{0,100}", ac in 1u32..=2, start in any::<u32>(), len in any::<u32>(), seed in any::<u64>()) {
        fdt.root.set_prop("#address-cells", ac.to_be_bytes());
        fdt.root.set_prop("#size-cells", ac.to_be_bytes());
        fdt.root.children.retain(|c| c.name != "reserved-memory");
        let start = u64::from(start);
        let end = start + u64::from(len);
        fdt.set_bootargs(&args).expect("printable bootargs");
        let initrd = fdt.set_initrd(start, end);
        prop_assert_eq!(initrd.is_ok(), ac == 2 || end <= u64::from(u32::MAX));
        fdt.set_kaslr_seed(seed).expect("set");
        let region = ReservedRegion { name: "phram".into(), address: start, size: u64::from(len), compatible: Some("phram".into()), no_map: true };
        let path = fdt.add_reserved_memory(&region).expect("u32 values fit any cells");
        let back = Fdt::parse(&fdt.to_bytes()).expect("parses");
        prop_assert_eq!(back.bootargs().expect("string"), Some(args));
        if initrd.is_ok() {
            prop_assert_eq!(back.prop_u64("/chosen", "linux,initrd-end").expect("number"), Some(end));
            prop_assert_eq!(back.prop("/chosen", "linux,initrd-end").expect("ok").map(|p| p.value.len()), Some(4 * ac as usize));
        }
        prop_assert_eq!(back.prop_u64("/chosen", "kaslr-seed").expect("number"), Some(seed));
        prop_assert_eq!(back.reg(&path).expect("reg"), vec![(start, u64::from(len))]);
        prop_assert!(back.node(&path).expect("node").prop("no-map").is_some());
        prop_assert_eq!(back, fdt);
    }

    #[test]
    fn prop_mutated_blobs_never_panic(fdt in arb_fdt(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut blob = fdt.to_bytes();
        for (at, byte) in flips {
            let i = at % blob.len();
            blob[i] = byte;
        }
        let _ = Fdt::parse(&blob);
        let _ = Fdt::parse(&blob[..cut % (blob.len() + 1)]);
    }

    #[test]
    fn prop_random_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Fdt::parse(&bytes);
        if bytes.len() >= 4 {
            bytes[..4].copy_from_slice(&FDT_MAGIC.to_be_bytes());
        }
        let _ = Fdt::parse(&bytes);
    }
}

/// `dtc -I dts -O dtb` of `/dts-v1/; / { };`, byte for byte.
const EMPTY_DTB: &str = "d00dfeed 00000048 00000038 00000048 00000028 00000011 00000010 00000000 \
                         00000000 00000010 00000000 00000000 00000000 00000000 00000001 00000000 \
                         00000002 00000009";

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
        .collect()
}

#[test]
fn empty_tree_matches_dtc_bytes() {
    let blob = unhex(EMPTY_DTB);
    let fdt = Fdt::parse(&blob).expect("dtc's empty tree parses");
    assert_eq!(
        fdt,
        Fdt {
            boot_cpuid_phys: 0,
            reserve: Vec::new(),
            root: Node::new("")
        }
    );
    assert_eq!(fdt.to_bytes(), blob);
}

#[test]
fn every_truncation_and_header_word_is_an_error_not_a_panic() {
    let blob = sample().to_bytes();
    for len in 0..blob.len() {
        assert!(Fdt::parse(&blob[..len]).is_err(), "truncated to {len}");
    }
    for word in 1..10 {
        for value in [0u32, 1, 3, 4, 39, 40, 0x7fff_ffff, 0xffff_fffc, u32::MAX] {
            let mut bad = blob.clone();
            bad[word * 4..word * 4 + 4].copy_from_slice(&value.to_be_bytes());
            let _ = Fdt::parse(&bad);
        }
    }
}
