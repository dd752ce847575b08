//! The arm64 trampoline: its encoding, and a cross-check with the GNU
//! assembler when `aarch64-linux-gnu-as` is installed.

use kexec::trampoline::{arm64_trampoline, ARM64_TRAMPOLINE_LEN};

#[test]
fn encoding() {
    let t = arm64_trampoline(0x4820_0000, 0x4020_0000, false);
    assert_eq!(t.len(), ARM64_TRAMPOLINE_LEN);
    let words: Vec<u32> = t[..24]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
        .collect();
    assert_eq!(
        words,
        [
            0x5800_00c0,
            0xaa1f_03e1,
            0xaa1f_03e2,
            0xaa1f_03e3,
            0x5800_0084,
            0xd61f_0080
        ]
    );
    assert_eq!(t[24..32], 0x4820_0000u64.to_le_bytes());
    assert_eq!(t[32..40], 0x4020_0000u64.to_le_bytes());
    let be = arm64_trampoline(0x4820_0000, 0x4020_0000, true);
    assert_eq!(be[..24], t[..24], "instructions are little-endian always");
    assert_eq!(be[24..32], 0x4820_0000u64.to_be_bytes());
}

#[test]
fn matches_the_gnu_assembler() {
    let dir = std::env::temp_dir().join(format!("kexec-tramp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let src = dir.join("t.s");
    let obj = dir.join("t.o");
    let bin = dir.join("t.bin");
    std::fs::write(
        &src,
        "ldr x0, dtb\nmov x1, xzr\nmov x2, xzr\nmov x3, xzr\nldr x4, kernel\nbr x4\n\
         dtb: .quad 0x48200000\nkernel: .quad 0x40200000\n",
    )
    .expect("write");
    let as_ok = std::process::Command::new("aarch64-linux-gnu-as")
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .status();
    match as_ok {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("skipped: aarch64-linux-gnu-as unavailable ({other:?})");
            return;
        }
    }
    let s = std::process::Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&obj)
        .arg(&bin)
        .status()
        .expect("objcopy");
    assert!(s.success());
    let want = std::fs::read(&bin).expect("read");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(arm64_trampoline(0x4820_0000, 0x4020_0000, false), want);
}
