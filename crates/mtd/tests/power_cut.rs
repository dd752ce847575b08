//! The writer against every power cut, on the simulator.
//!
//! A firmware image here is a header followed by a payload, as uImage and
//! TRX images are: magic, payload length, payload checksum, header
//! checksum. The boot loader model boots an image when the header is valid
//! and the payload matches its checksum; a valid header whose payload does
//! not verify is what bricks a router ("Bad Data CRC"), and must never be
//! left on the flash, wherever the power fails.
//!
//! For each scenario the whole update is first run without faults to learn
//! how many bytes of work (bytes programmed plus bytes erased) it takes;
//! then the power is cut after every possible number of bytes, which covers
//! every block boundary and every point inside an erase or a write.

use mtd::sim::{Faults, SimFlash};
use mtd::writer::{self, Options};
use mtd::{Flash, FlashKind};
use proptest::prelude::*;

const MAGIC: &[u8; 4] = b"LIMI";
const HEADER: usize = 16;

/// FNV-1a, a stand-in for the CRC32 of real headers.
fn checksum(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A bootable image with this payload.
fn firmware(payload: &[u8]) -> Vec<u8> {
    let mut img = Vec::with_capacity(HEADER + payload.len());
    img.extend_from_slice(MAGIC);
    img.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
    img.extend_from_slice(&checksum(payload).to_be_bytes());
    let hcrc = checksum(&img);
    img.extend_from_slice(&hcrc.to_be_bytes());
    img.extend_from_slice(payload);
    img
}

/// What the boot loader finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boot {
    /// The old image, intact.
    Old,
    /// The new image, complete.
    New,
    /// No valid header: the boot loader falls back to recovery.
    NoImage,
    /// A valid header over a payload that does not verify: bricked.
    Corrupt,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b.try_into().expect("4 bytes"))
}

/// Boots from the flash as seen through `read` (NAND bad blocks skipped by
/// `logical`, the flash content in image order).
fn boot(logical: &[u8], old: &[u8], new: &[u8]) -> Boot {
    if logical.len() < HEADER
        || &logical[..4] != MAGIC
        || checksum(&logical[..12]) != be32(&logical[12..16])
    {
        return Boot::NoImage;
    }
    let len = be32(&logical[4..8]) as usize;
    let Some(payload) = logical.get(HEADER..HEADER + len) else {
        return Boot::Corrupt;
    };
    if checksum(payload) != be32(&logical[8..12]) {
        return Boot::Corrupt;
    }
    let image = &logical[..HEADER + len];
    if image == new {
        Boot::New
    } else if image == old {
        Boot::Old
    } else {
        // Verifies, but is neither image: impossible short of a collision.
        Boot::Corrupt
    }
}

/// The flash content in image order: good blocks only, as a NAND boot
/// loader reads it.
fn logical_view(flash: &mut SimFlash) -> Vec<u8> {
    let g = flash.geometry();
    let mut out = Vec::new();
    let mut block = vec![0u8; g.erase_size as usize];
    for b in 0..g.blocks() {
        if flash.is_bad(b).expect("powered") {
            continue;
        }
        flash.read(g.block_offset(b), &mut block).expect("powered");
        out.extend_from_slice(&block);
    }
    out
}

/// Lays `content` out over the good blocks of `flash`.
fn load_logical(flash: &mut SimFlash, content: &[u8]) {
    let g = flash.geometry();
    let es = g.erase_size as usize;
    let mut raw = vec![0xff; g.size as usize];
    let mut chunks = content.chunks(es);
    for b in 0..g.blocks() {
        if flash.is_bad(b).expect("powered") {
            continue;
        }
        if let Some(chunk) = chunks.next() {
            let at = g.block_offset(b) as usize;
            raw[at..at + chunk.len()].copy_from_slice(chunk);
        }
    }
    flash.load(&raw);
}

struct Scenario {
    name: String,
    flash: SimFlash,
    old: Vec<u8>,
    new: Vec<u8>,
    options: Options<'static>,
}

/// The bytes of work a complete update takes.
fn work(flash: &SimFlash) -> u64 {
    let c = flash.counters();
    c.bytes_written + c.erases * u64::from(flash.geometry().erase_size)
}

/// Cuts the power after `faults` strike, checks what the boot loader sees,
/// then powers on and writes again, which must complete the update.
fn cut_and_recover(s: &Scenario, faults: Faults, what: &str) -> Boot {
    let mut flash = s.flash.clone();
    flash.set_faults(faults);
    let result = writer::write_image(&mut flash, &s.new, &s.options, &mut |_| {});
    let cut = !flash.powered();
    flash.power_on();
    let seen = boot(&logical_view(&mut flash), &s.old, &s.new);
    assert_ne!(
        seen,
        Boot::Corrupt,
        "{}: {what}: valid header over a partial image",
        s.name
    );
    if !cut {
        result.unwrap_or_else(|e| panic!("{}: {what}: {e}", s.name));
        assert_eq!(seen, Boot::New, "{}: {what}: completed", s.name);
    } else if flash.contents() == s.flash.contents() && boot_of_old(s) == Boot::Old {
        assert_eq!(seen, Boot::Old, "{}: {what}: untouched", s.name);
    }
    // Power back: running the update again finishes it.
    writer::write_image(&mut flash, &s.new, &s.options, &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: {what}: rerun: {e}", s.name));
    assert_eq!(
        boot(&logical_view(&mut flash), &s.old, &s.new),
        Boot::New,
        "{}: {what}: rerun",
        s.name
    );
    seen
}

fn boot_of_old(s: &Scenario) -> Boot {
    let mut f = s.flash.clone();
    boot(&logical_view(&mut f), &s.old, &s.new)
}

/// Every cut, byte by byte and erase by erase. Returns how often each
/// outcome was seen: (old, no image, new).
fn every_cut(s: &Scenario) -> (u32, u32, u32) {
    let mut clean = s.flash.clone();
    writer::write_image(&mut clean, &s.new, &s.options, &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: clean run: {e}", s.name));
    let total = work(&clean);
    let erases = clean.counters().erases;
    let mut seen = (0, 0, 0);
    let mut count = |b| match b {
        Boot::Old => seen.0 += 1,
        Boot::NoImage => seen.1 += 1,
        Boot::New => seen.2 += 1,
        Boot::Corrupt => unreachable!("asserted in cut_and_recover"),
    };
    for n in 0..=total {
        let faults = Faults {
            power_cut_after_bytes: Some(n),
            ..Faults::default()
        };
        count(cut_and_recover(
            s,
            faults,
            &format!("cut after {n} of {total} bytes"),
        ));
    }
    for n in 0..=erases {
        let faults = Faults {
            power_cut_after_erases: Some(n),
            ..Faults::default()
        };
        count(cut_and_recover(s, faults, &format!("cut before erase {n}")));
    }
    seen
}

fn payload(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (checksum(&(i as u32 ^ seed.rotate_left(7)).to_le_bytes()) >> 5) as u8)
        .collect()
}

fn scenarios() -> Vec<Scenario> {
    const ES: u32 = 64;
    let es = ES as usize;
    let old_fw = firmware(&payload(4 * es + 10, 1));
    let mut small_change = payload(4 * es + 10, 1);
    small_change[3 * es] ^= 0x40;
    let contents: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "all blocks differ",
            old_fw.clone(),
            firmware(&payload(4 * es + 10, 2)),
        ),
        (
            "one payload byte differs",
            old_fw.clone(),
            firmware(&small_change),
        ),
        (
            "new is shorter",
            old_fw.clone(),
            firmware(&payload(2 * es - 3, 3)),
        ),
        (
            "new is longer",
            old_fw.clone(),
            firmware(&payload(6 * es + 20, 4)),
        ),
        ("fresh flash", Vec::new(), firmware(&payload(3 * es, 5))),
        (
            "garbage before",
            payload(5 * es, 6),
            firmware(&payload(3 * es + 1, 7)),
        ),
    ];
    let mut out = Vec::new();
    for (what, old, new) in contents {
        for kind in [FlashKind::Nor, FlashKind::Nand] {
            for (oname, options) in [
                (
                    "-p",
                    Options {
                        only_changed: true,
                        ..Options::default()
                    },
                ),
                ("plain", Options::default()),
                (
                    "-A",
                    Options {
                        erase_all: true,
                        ..Options::default()
                    },
                ),
            ] {
                let mut flash = match kind {
                    FlashKind::Nor => SimFlash::nor(10, ES),
                    FlashKind::Nand => SimFlash::nand(12, ES, 16).with_bad_blocks(&[2, 7]),
                };
                load_logical(&mut flash, &old);
                out.push(Scenario {
                    name: format!("{what}, {kind:?}, {oname}"),
                    flash,
                    old: old.clone(),
                    new: new.clone(),
                    options,
                });
            }
        }
    }
    out
}

#[test]
fn no_power_cut_leaves_a_valid_header_over_a_partial_image() {
    for s in scenarios() {
        let (old, none, new) = every_cut(&s);
        eprintln!("{}: old {old}, no image {none}, new {new}", s.name);
        // The new image appears only at the very end: the last byte
        // programmed is the header's first.
        assert!(new >= 1, "{}", s.name);
        if boot_of_old(&s) == Boot::Old {
            assert!(old >= 1, "{}: cut at 0 keeps the old image", s.name);
        }
    }
}

#[test]
fn an_unchanged_image_survives_every_cut_untouched() {
    let s = Scenario {
        name: "identical".to_owned(),
        flash: {
            let mut f = SimFlash::nor(8, 64);
            f.load(&firmware(&payload(300, 9)));
            f
        },
        old: firmware(&payload(300, 9)),
        new: firmware(&payload(300, 9)),
        options: Options {
            only_changed: true,
            ..Options::default()
        },
    };
    let mut clean = s.flash.clone();
    writer::write_image(&mut clean, &s.new, &s.options, &mut |_| {}).expect("write");
    assert_eq!((clean.counters().erases, clean.counters().writes), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random old content (an image, garbage or erased), random new image,
    /// random geometry and bad blocks, one random cut.
    #[test]
    fn random_updates_never_leave_a_corrupt_image(
        nand in any::<bool>(),
        old_len in 0usize..700,
        old_is_image in any::<bool>(),
        old_seed in any::<u32>(),
        new_len in 1usize..700,
        new_seed in any::<u32>(),
        keep_prefix in 0usize..700,
        bad in proptest::collection::vec(0u64..16, 0..3),
        only_changed in any::<bool>(),
        cut_fraction in 0.0f64..1.05,
    ) {
        let old_payload = payload(old_len, old_seed);
        let old = if old_is_image { firmware(&old_payload) } else { old_payload.clone() };
        // The new payload often shares a prefix with the old one, so that
        // some blocks are unchanged.
        let mut new_payload = payload(new_len, new_seed);
        let shared = keep_prefix.min(new_len).min(old_payload.len());
        new_payload[..shared].copy_from_slice(&old_payload[..shared]);
        let new = firmware(&new_payload);
        let mut flash = if nand {
            SimFlash::nand(16, 64, 16).with_bad_blocks(&bad)
        } else {
            SimFlash::nor(16, 64)
        };
        load_logical(&mut flash, &old);
        let s = Scenario {
            name: format!("nand {nand}, bad {bad:?}"),
            flash,
            old,
            new,
            options: Options { only_changed, ..Options::default() },
        };
        let mut clean = s.flash.clone();
        writer::write_image(&mut clean, &s.new, &s.options, &mut |_| {})
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(boot(&logical_view(&mut clean), &s.old, &s.new), Boot::New);
        let cut = (work(&clean) as f64 * cut_fraction) as u64;
        let faults = Faults { power_cut_after_bytes: Some(cut), ..Faults::default() };
        cut_and_recover(&s, faults, &format!("cut after {cut}"));
    }
}
