//! Power cuts at every point of an upgrade, on the simulated flash
//! (`mtd::sim`): the boot loader model ([`upgrade::status`] +
//! [`upgrade::boots`]) must find the old image or the new one after each,
//! never a valid-looking mix, and with two slots always one of the two;
//! running the upgrade again must complete it.
//!
//! The real-kernel version of this test (phram in reserved RAM, the guest
//! reset between the cut and the check) is in
//! `board-tests/tests/upgrade.rs`.

use mtd::sim::{Faults, SimFlash};
use mtd::Flash;
use upgrade::testimage::firmware_seeded;
use upgrade::{boots, check, status, upgrade, Checked, Policy, Slot};

const ES: usize = 4096;
const SLOT_BLOCKS: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Old,
    New,
    /// No slot is valid: the boot loader's recovery is needed.
    Nothing,
    /// A slot is valid but holds neither image: must never happen.
    Mixed,
}

fn policy() -> Policy<'static> {
    Policy {
        force_board: true,
        erase_size: ES as u32,
        ..Policy::default()
    }
}

fn checked(image: &[u8]) -> Checked<'_> {
    check(image, &policy()).expect("a good image")
}

fn outcome(
    primary: &mut SimFlash,
    fallback: Option<&mut SimFlash>,
    old: &[u8; 32],
    new: &[u8; 32],
) -> Outcome {
    let p = status(primary).expect("read primary");
    let f = fallback.map(|f| status(f).expect("read fallback"));
    match boots(&p, f.as_ref()) {
        None => Outcome::Nothing,
        Some(slot) => {
            let s = if slot == Slot::Primary {
                &p
            } else {
                f.as_ref().expect("fallback")
            };
            if s.sha256 == *old {
                Outcome::Old
            } else if s.sha256 == *new {
                Outcome::New
            } else {
                Outcome::Mixed
            }
        }
    }
}

/// Total work (bytes erased + bytes programmed) of writing `new` over
/// `old` with the upgrade's options, on a fresh simulated flash.
fn work(old: &[u8], image: &Checked<'_>) -> u64 {
    let mut f = SimFlash::nor(SLOT_BLOCKS, ES as u32);
    f.load(old);
    f.reset_counters();
    upgrade(image, &mut f, None, &mut |_, _| {}).expect("write");
    let c = f.counters();
    c.erases * ES as u64 + c.bytes_written
}

/// Cuts the power at every `step` bytes of work of each slot's write, in
/// turn; returns the outcomes seen.
fn cut_everywhere(
    start_primary: &[u8],
    start_fallback: Option<&[u8]>,
    old: &[u8],
    new: &[u8],
    step: u64,
) -> Vec<(Slot, u64, Outcome)> {
    let old_sha = checked(old).sha256();
    let image = checked(new);
    let new_sha = image.sha256();
    let mut seen = Vec::new();
    let order: &[Slot] = if start_fallback.is_some() {
        if status(&mut loaded(start_primary)).expect("status").valid() {
            &[Slot::Fallback, Slot::Primary]
        } else {
            &[Slot::Primary, Slot::Fallback]
        }
    } else {
        &[Slot::Primary]
    };
    for (phase, &cut_slot) in order.iter().enumerate() {
        let before = if cut_slot == Slot::Primary {
            start_primary
        } else {
            start_fallback.expect("fallback")
        };
        let total = work(before, &image);
        let mut at = 0;
        while at <= total {
            let mut primary = loaded(start_primary);
            let mut fallback = start_fallback.map(loaded);
            // The slot written before this phase is complete.
            if phase == 1 {
                let done = if order[0] == Slot::Primary {
                    &mut primary
                } else {
                    fallback.as_mut().expect("fallback")
                };
                done.load(new);
            }
            let target = if cut_slot == Slot::Primary {
                &mut primary
            } else {
                fallback.as_mut().expect("fallback")
            };
            target.set_faults(Faults {
                power_cut_after_bytes: Some(at),
                ..Faults::default()
            });
            let result = if phase == 1 {
                // Only the second slot's write remains: run it alone.
                let t = if cut_slot == Slot::Primary {
                    &mut primary
                } else {
                    fallback.as_mut().expect("fallback")
                };
                upgrade(&image, t, None, &mut |_, _| {}).map(|_| ())
            } else {
                upgrade(&image, &mut primary, fallback.as_mut(), &mut |_, _| {}).map(|_| ())
            };
            for f in [Some(&mut primary), fallback.as_mut()]
                .into_iter()
                .flatten()
            {
                f.power_on();
                f.set_faults(Faults::default());
            }
            let got = outcome(&mut primary, fallback.as_mut(), &old_sha, &new_sha);
            seen.push((cut_slot, at, got));
            // The rerun completes and the new image boots from the primary.
            upgrade(&image, &mut primary, fallback.as_mut(), &mut |_, _| {}).unwrap_or_else(|e| {
                panic!("rerun after a cut at {at} in {cut_slot}: {e} (first run: {result:?})")
            });
            assert_eq!(
                outcome(&mut primary, fallback.as_mut(), &old_sha, &new_sha),
                Outcome::New
            );
            assert!(status(&mut primary).expect("status").valid());
            at += step;
        }
    }
    seen
}

fn loaded(content: &[u8]) -> SimFlash {
    let mut f = SimFlash::nor(SLOT_BLOCKS, ES as u32);
    f.load(content);
    f
}

fn count(seen: &[(Slot, u64, Outcome)], o: Outcome) -> usize {
    seen.iter().filter(|s| s.2 == o).count()
}

fn images() -> (Vec<u8>, Vec<u8>) {
    let kernel_old: Vec<u8> = (0..3 * ES + 100).map(|i| (i % 251) as u8).collect();
    let kernel_new: Vec<u8> = (0..4 * ES + 7).map(|i| (i % 241) as u8).collect();
    (
        firmware_seeded(&kernel_old, 6, ES, 1),
        firmware_seeded(&kernel_new, 6, ES, 2),
    )
}

#[test]
fn two_slots_always_boot_the_old_or_the_new_image() {
    let (old, new) = images();
    let seen = cut_everywhere(&old, Some(&old), &old, &new, ES as u64 / 2);
    let (o, n) = (count(&seen, Outcome::Old), count(&seen, Outcome::New));
    eprintln!(
        "two slots, whole image changed: {} cuts: old {o}, new {n}",
        seen.len()
    );
    assert_eq!(count(&seen, Outcome::Nothing), 0, "{seen:?}");
    assert_eq!(count(&seen, Outcome::Mixed), 0, "{seen:?}");
    assert!(o > 0 && n > 0, "both outcomes are reached: {seen:?}");
}

#[test]
fn two_slots_root_file_system_only_change_is_guarded_by_the_header() {
    // Same kernel: the header block is identical, only the squashfs
    // changes. Without the header guard a cut would leave the old, valid
    // uImage header over a half-written root file system.
    let kernel: Vec<u8> = (0..2 * ES + 9).map(|i| (i % 239) as u8).collect();
    let old = firmware_seeded(&kernel, 8, ES, 1);
    let new = firmware_seeded(&kernel, 8, ES, 9);
    let seen = cut_everywhere(&old, Some(&old), &old, &new, ES as u64 / 2);
    eprintln!(
        "two slots, rootfs only: {} cuts: old {}, new {}",
        seen.len(),
        count(&seen, Outcome::Old),
        count(&seen, Outcome::New)
    );
    assert_eq!(count(&seen, Outcome::Nothing), 0, "{seen:?}");
    assert_eq!(count(&seen, Outcome::Mixed), 0, "{seen:?}");
}

#[test]
fn a_broken_primary_is_rewritten_first() {
    // The primary holds a half-written image (no valid header), the
    // fallback the old one: writing the fallback first would leave
    // nothing, so the primary goes first.
    let (old, new) = images();
    let mut broken = old.clone();
    broken[..ES].fill(0xff);
    let seen = cut_everywhere(&broken, Some(&old), &old, &new, ES as u64 / 2);
    assert_eq!(seen.first().map(|s| s.0), Some(Slot::Primary));
    assert_eq!(count(&seen, Outcome::Nothing), 0, "{seen:?}");
    assert_eq!(count(&seen, Outcome::Mixed), 0, "{seen:?}");
}

#[test]
fn one_slot_never_boots_a_mix_but_can_leave_nothing() {
    let (old, new) = images();
    let seen = cut_everywhere(&old, None, &old, &new, ES as u64 / 2);
    let nothing = count(&seen, Outcome::Nothing);
    eprintln!(
        "one slot: {} cuts: old {}, new {}, nothing {nothing}",
        seen.len(),
        count(&seen, Outcome::Old),
        count(&seen, Outcome::New)
    );
    assert_eq!(count(&seen, Outcome::Mixed), 0, "{seen:?}");
    // Between the header's erase and its last write nothing boots: the
    // reason for the second slot.
    assert!(nothing > 0);
}

#[test]
fn a_one_block_change_costs_two_blocks_per_slot() {
    let (old, _) = images();
    let mut new = old.clone();
    let last = new.len() - 10;
    new[last] ^= 0x55;
    let image = checked(&new);
    let (mut p, mut f) = (loaded(&old), loaded(&old));
    p.reset_counters();
    f.reset_counters();
    let report = upgrade(&image, &mut p, Some(&mut f), &mut |_, _| {}).expect("upgrade");
    // The changed block and the header block (the guard), in each slot.
    assert_eq!((report.primary.erased, report.primary.written), (2, 2));
    assert_eq!(report.fallback.map(|r| (r.erased, r.written)), Some((2, 2)));
    assert_eq!(report.first, Slot::Fallback);
    // Again: nothing to do.
    let again = upgrade(&image, &mut p, Some(&mut f), &mut |_, _| {}).expect("again");
    assert_eq!((again.primary.erased, again.primary.written), (0, 0));
    assert_eq!(p.geometry().erase_size as usize, ES);
}
