//! PyPI `ubi_reader` (an independent Python implementation) reads our
//! images and extracts the volumes we put in.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{data, scratch, ubinize_ours};

fn venv_tool(name: &str) -> Option<PathBuf> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../build/venv/bin")
        .join(name);
    tool.is_file().then_some(tool)
}

#[test]
fn ubi_reader_extracts_our_volumes() {
    let Some(extract) = venv_tool("ubireader_extract_images") else {
        eprintln!(
            "skipped: build/venv/bin/ubireader_extract_images is absent (scripts/setup makes it)"
        );
        return;
    };
    let dir = scratch("ubi-reader");
    let kernel = data(11, 300_001);
    let rootfs = data(12, 700_000);
    std::fs::write(dir.join("kernel.bin"), &kernel).expect("writable");
    std::fs::write(dir.join("rootfs.bin"), &rootfs).expect("writable");
    std::fs::write(
        dir.join("img.ini"),
        "[kernel]\nmode=ubi\nimage=kernel.bin\nvol_id=0\nvol_type=static\nvol_name=kernel\n\
         [rootfs]\nmode=ubi\nimage=rootfs.bin\nvol_id=1\nvol_size=2MiB\nvol_name=rootfs\n",
    )
    .expect("writable");
    let image = ubinize_ours(&dir, "img", "-p 128KiB -m 2048 -Q 0x55").expect("valid");
    let image_path = dir.join("img.ubi");
    std::fs::write(&image_path, image).expect("writable");
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let result = Command::new(&extract)
        .arg("-o")
        .arg(&out)
        .arg(&image_path)
        .output()
        .expect("ubireader runs");
    assert!(
        result.status.success(),
        "ubireader_extract_images failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let vol = |name: &str| {
        let path = out.join("img.ubi").join(format!("img-85_vol-{name}.ubifs"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    // Static volume: exactly the data (data_size in the VID headers).
    assert!(vol("kernel") == kernel, "kernel volume differs");
    // Dynamic volume: whole LEBs, the last one padded with 0xFF.
    let got = vol("rootfs");
    assert!(
        got.len() >= rootfs.len(),
        "rootfs volume is short: {}",
        got.len()
    );
    assert!(got[..rootfs.len()] == rootfs[..], "rootfs volume differs");
    assert!(
        got[rootfs.len()..].iter().all(|&b| b == 0xFF),
        "rootfs padding is not 0xFF"
    );
}
