//! uImages and firmware images made by the reference tools — U-Boot's
//! `mkimage`, `xz --format=lzma` with OpenWrt's ath79 parameters (as
//! `boards/glinet/gl-ar750/post-image.sh`), `dtc`, `mksquashfs` — read by
//! `kexec::uimage`. Skips (with a printed reason) where a tool is absent,
//! e.g. inside the test VMs.

use std::process::Command;

use kexec::image::Placement;
use kexec::uimage::{Firmware, UImage};
use kexec::{Arch, Format};

use crate::common::{run, Scratch};

fn tools_present(tools: &[&str]) -> bool {
    for tool in tools {
        if Command::new(tool).arg("-V").output().is_err() {
            eprintln!("skipped: `{tool}` is not on PATH (scripts/setup installs it)");
            return false;
        }
    }
    true
}

/// Something kernel-sized that compresses like code, not like zeros.
fn fake_kernel(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678u32;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 16 < 10 {
                (x & 0x0f) as u8
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

/// `mkimage -l`'s value for a field ("Load Address: 80060000").
fn listed(listing: &str, field: &str) -> String {
    listing
        .lines()
        .find_map(|l| l.trim().strip_prefix(field))
        .map(|v| v.trim_start_matches(':').trim().to_owned())
        .unwrap_or_else(|| panic!("no '{field}' in mkimage -l output:\n{listing}"))
}

#[test]
fn an_ath79_style_firmware_image_from_the_reference_tools() {
    if !tools_present(&["mkimage", "xz", "dtc", "mksquashfs"]) {
        return;
    }
    let s = Scratch::new("uimage-fw");
    // vmlinux.bin with the board's DTB appended, as post-image.sh does.
    let kernel = fake_kernel(3 << 20);
    std::fs::write(
        s.path("board.dts"),
        "/dts-v1/;\n/ { model = \"test\"; chosen { bootargs = \"console=ttyS0\"; }; };\n",
    )
    .expect("dts");
    run(Command::new("dtc")
        .args(["-q", "-I", "dts", "-O", "dtb", "-o"])
        .arg(s.path("board.dtb"))
        .arg(s.path("board.dts")));
    let dtb = std::fs::read(s.path("board.dtb")).expect("dtb");
    let mut payload = kernel.clone();
    payload.extend_from_slice(&dtb);
    std::fs::write(s.path("vmlinux-dtb.bin"), &payload).expect("payload");
    let lz = Command::new("xz")
        .args([
            "--format=lzma",
            "--lzma1=preset=9,lc=1,lp=2,pb=2",
            "--stdout",
        ])
        .arg(s.path("vmlinux-dtb.bin"))
        .output()
        .expect("xz");
    assert!(lz.status.success(), "xz failed");
    std::fs::write(s.path("vmlinux-dtb.bin.lzma"), &lz.stdout).expect("lzma");
    run(Command::new("mkimage")
        .args(["-A", "mips", "-O", "linux", "-T", "kernel", "-C", "lzma"])
        .args(["-a", "0x80060000", "-e", "0x80060400", "-n", "Limina test"])
        .arg("-d")
        .arg(s.path("vmlinux-dtb.bin.lzma"))
        .arg(s.path("uImage")));
    let listing = run(Command::new("mkimage").arg("-l").arg(s.path("uImage")));
    let uimage = std::fs::read(s.path("uImage")).expect("uImage");

    let u = UImage::parse(&uimage).expect("our parser reads mkimage's uImage");
    assert_eq!(u.name, listed(&listing, "Image Name"));
    assert_eq!(format!("{:08x}", u.load), listed(&listing, "Load Address"));
    assert_eq!(format!("{:08x}", u.entry), listed(&listing, "Entry Point"));
    assert!(
        listed(&listing, "Data Size").starts_with(&format!("{} Bytes", u.data.len())),
        "{listing}"
    );
    assert_eq!(
        u.decompress().expect("lzma"),
        payload,
        "xz's lzma_alone stream"
    );

    let k = u.kernel(Arch::Mips).expect("kernel");
    assert_eq!(k.format, Format::MipsRaw);
    let Placement::Fixed { parts, entry } = &k.placement else {
        panic!("a raw MIPS kernel has a fixed place")
    };
    assert_eq!((parts[0].address, *entry), (0x60000, 0x60400));
    assert_eq!(parts[0].data[..kernel.len()], kernel[..]);
    assert!(
        parts[0].data[kernel.len()..].iter().all(|&b| b == 0),
        "the appended DTB is zeroed so the kernel takes kexec's"
    );

    // firmware.bin: the uImage padded to 64 KiB, then the squashfs.
    std::fs::create_dir_all(s.path("root/etc")).expect("root");
    std::fs::write(s.path("root/etc/release"), "LIMINA=1\n").expect("file");
    run(Command::new("mksquashfs")
        .arg(s.path("root"))
        .arg(s.path("root.sqfs"))
        .args([
            "-comp",
            "xz",
            "-noappend",
            "-all-root",
            "-quiet",
            "-no-progress",
        ]));
    let sqfs = std::fs::read(s.path("root.sqfs")).expect("sqfs");
    let mut fw = uimage.clone();
    fw.resize(uimage.len().next_multiple_of(64 << 10), 0xff);
    let at = fw.len();
    fw.extend_from_slice(&sqfs);
    let split = Firmware::split(&fw, 64 << 10).expect("split");
    assert_eq!(split.rootfs.start, at);
    assert!(split.rootfs.end <= at + sqfs.len());
    assert_eq!(&fw[split.rootfs.clone()], &sqfs[..split.rootfs.len()]);
    assert_eq!(split.uimage, u);
}

#[test]
fn a_gzip_uimage_is_refused_by_name() {
    if !tools_present(&["mkimage", "gzip"]) {
        return;
    }
    let s = Scratch::new("uimage-gz");
    std::fs::write(s.path("k"), fake_kernel(100_000)).expect("k");
    run(Command::new("gzip").arg("-k").arg(s.path("k")));
    run(Command::new("mkimage")
        .args(["-A", "mips", "-O", "linux", "-T", "kernel", "-C", "gzip"])
        .args(["-a", "0x80060000", "-e", "0x80060000", "-n", "gz"])
        .arg("-d")
        .arg(s.path("k.gz"))
        .arg(s.path("uImage")));
    let data = std::fs::read(s.path("uImage")).expect("uImage");
    let e = UImage::parse(&data)
        .expect("parse")
        .kernel(Arch::Mips)
        .expect_err("gzip");
    assert_eq!(
        e.to_string(),
        "kexec: unsupported: uImage data compressed with gzip (only none and lzma)"
    );
}
