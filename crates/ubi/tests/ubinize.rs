//! Byte-for-byte comparison with mtd-utils' `ubinize` over a matrix of
//! geometries and volume layouts (reference outputs made and cached by
//! `tests/fixtures/make_ubinize_images.sh`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{data, scratch, ubinize_ours, which};

/// Volume layouts, as ini text over the input files written by `inputs`.
const LAYOUTS: [(&str, &str); 4] = [
    // One dynamic volume without data: only the volume table is written.
    (
        "empty",
        "[data]\nmode=ubi\nvol_id=0\nvol_type=dynamic\nvol_size=1MiB\nvol_name=data\n",
    ),
    // Static volume whose image is not a multiple of the LEB size, and a
    // dynamic autoresize volume larger than its image.
    (
        "mixed",
        "[kernel]\nmode=ubi\nimage=kernel.bin\nvol_id=0\nvol_type=static\nvol_name=kernel\n\
         [rootfs]\nmode=ubi\nimage=rootfs.bin\nvol_id=1\nvol_type=dynamic\nvol_size=3MiB\n\
         vol_name=rootfs\nvol_flags=autoresize\n",
    ),
    // Several volumes: sparse IDs out of order, alignment, skip-check, a
    // volume without an image, quoting and comments.
    (
        "many",
        "; comment\n[ubootenv]\nmode=ubi\nvol_id=7\nvol_size=64KiB\nvol_name=\"u-boot-env\"\n\
         [fit]\nmode=ubi\nimage=kernel.bin\nvol_id=2\nvol_type=static\nvol_name=fit\n\
         vol_flags=skip-check\n\
         [aligned]\nmode=ubi\nimage=small.bin\nvol_id=0\nvol_type=dynamic\nvol_alignment=2048\n\
         vol_name=aligned # trailing comment\n\
         [data]\nmode=ubi\nimage=rootfs.bin\nvol_id=3\nvol_name=data\n",
    ),
    // A static volume of exactly one LEB's worth of data per alignment unit
    // and an exact-size dynamic volume.
    (
        "exact",
        "[a]\nmode=ubi\nimage=small.bin\nvol_id=0\nvol_type=static\nvol_name=a\n\
         [b]\nmode=ubi\nimage=small.bin\nvol_id=1\nvol_name=b\n",
    ),
];

/// Inputs that ubinize must refuse, and we too.
const BAD: [(&str, &str); 4] = [
    (
        "bad_dup_id",
        "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\n[b]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=b\n",
    ),
    (
        "bad_two_autoresize",
        "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\nvol_flags=autoresize\n\
         [b]\nmode=ubi\nvol_id=1\nvol_size=1\nvol_name=b\nvol_flags=autoresize\n",
    ),
    (
        "bad_image_too_big",
        "[a]\nmode=ubi\nimage=kernel.bin\nvol_id=0\nvol_size=100000\nvol_name=a\n",
    ),
    (
        "bad_dup_name",
        "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\n[b]\nmode=ubi\nvol_id=1\nvol_size=1\nvol_name=a\n",
    ),
];

/// `(PEB, min I/O, sub-page)` combinations.
fn geometries() -> Vec<(u32, u32, Option<u32>)> {
    let mut out = Vec::new();
    for peb in [64 * 1024, 128 * 1024, 256 * 1024] {
        out.push((peb, 1, None));
        out.push((peb, 512, None));
        out.push((peb, 512, Some(256)));
        out.push((peb, 2048, None));
        out.push((peb, 2048, Some(512)));
    }
    out
}

fn inputs(dir: &Path) {
    // 300001 bytes: not a multiple of any LEB size in the matrix.
    std::fs::write(dir.join("kernel.bin"), data(1, 300_001)).expect("writable");
    std::fs::write(dir.join("rootfs.bin"), data(2, 1_000_000)).expect("writable");
    std::fs::write(dir.join("small.bin"), data(3, 4_000)).expect("writable");
}

/// Writes inputs and cases, runs the fixture script; `None` (with the
/// reason printed) when ubinize is not installed.
fn reference(cases: &[(String, String, String)]) -> Option<PathBuf> {
    if which("ubinize").is_none() {
        eprintln!("skipped: mtd-utils' ubinize is not installed (apt-get install mtd-utils)");
        return None;
    }
    let dir = scratch("ubinize-matrix");
    inputs(&dir);
    let mut list = String::new();
    for (name, flags, ini) in cases {
        std::fs::write(dir.join(format!("{name}.ini")), ini).expect("writable");
        writeln!(list, "{name} {flags}").expect("String write");
    }
    std::fs::write(dir.join("cases.txt"), list).expect("writable");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_ubinize_images.sh");
    let status = Command::new("sh")
        .arg(&script)
        .arg(&dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "{} failed: {status}", script.display());
    Some(dir)
}

fn matrix() -> Vec<(String, String, String)> {
    let mut cases = Vec::new();
    for (peb, min_io, sub) in geometries() {
        for (layout, ini) in LAYOUTS {
            let name = format!(
                "{layout}_p{}k_m{min_io}_s{}",
                peb / 1024,
                sub.unwrap_or(min_io)
            );
            let mut flags = format!("-p {peb} -m {min_io} -Q 0x{:x}", peb ^ min_io);
            if let Some(s) = sub {
                write!(flags, " -s {s}").expect("String write");
            }
            cases.push((name, flags, ini.to_owned()));
        }
    }
    // Erase counter, explicit VID header offset, version, size suffixes.
    let mixed = LAYOUTS[1].1.to_owned();
    cases.push((
        "ec".into(),
        "-p 128KiB -m 2048 -e 12345 -Q 7".into(),
        mixed.clone(),
    ));
    cases.push((
        "vidoff".into(),
        "-p 128KiB -m 512 -O 1024 -x 1 -Q 0".into(),
        mixed.clone(),
    ));
    cases.push((
        "vidoff_nor".into(),
        "-p 64KiB -m 1 -O 64 -Q 0xffffffff".into(),
        mixed,
    ));
    for (name, ini) in BAD {
        cases.push((name.into(), "-p 128KiB -m 2048 -Q 1".into(), ini.to_owned()));
    }
    cases
}

#[test]
fn images_are_byte_identical_to_mtd_utils_ubinize() {
    let cases = matrix();
    let Some(dir) = reference(&cases) else { return };
    let mut checked = 0;
    for (name, flags, _) in &cases {
        let ours = ubinize_ours(&dir, name, flags);
        let ref_path = dir.join(format!("{name}.ref"));
        if name.starts_with("bad_") {
            assert!(!ref_path.exists(), "{name}: ubinize accepted it");
            let err = ours.expect_err(&format!("{name}: we accepted what ubinize refuses"));
            assert!(err.starts_with("ubi: "), "{name}: {err}");
            continue;
        }
        let theirs = std::fs::read(&ref_path).unwrap_or_else(|e| {
            panic!(
                "{name}: no reference ({e}); ubinize said: {}",
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            )
        });
        let ours = ours.unwrap_or_else(|e| panic!("{name}: {e}"));
        if ours != theirs {
            let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            panic!(
                "{name} ({flags}): ours {} bytes, ubinize {} bytes, first difference at {first:?}",
                ours.len(),
                theirs.len()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len() - BAD.len());
}
