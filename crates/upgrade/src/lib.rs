//! Upgrade a router's NOR firmware so that a power cut never bricks it.
//!
//! A Limina firmware image (`firmware.bin`, as OpenWrt's ath79 images) is
//! a kernel uImage followed, at the next erase-block boundary, by a
//! squashfs root file system. The boot loader boots the first *slot* (an
//! MTD partition) whose uImage header and data CRCs hold: the **primary**
//! (`firmware`), else the **fallback** (`firmware-b`). An upgrade:
//!
//! 1. **checks everything before the first erase** ([`check`]): the
//!    image's layout (uImage header and data CRC, a whole squashfs after
//!    it), its minisign signature against the running image's public key
//!    (an unsigned or mis-signed image is refused when a key is
//!    configured), the board it was signed for (the `board:` field of the
//!    signed trusted comment, [`metadata`]) against the running device
//!    tree's `compatible` list ([`board`]), and that it fits both slots;
//! 2. **writes one slot, then the other** ([`upgrade`]), each with
//!    `mtd-rs`' writer: only the blocks that differ are erased and
//!    written, the header block last, every block read back. The slot
//!    written first is one whose loss leaves a bootable image in the
//!    other: normally the fallback (the primary keeps the old image), then
//!    the primary (the fallback now has the new one). Wherever the power
//!    fails, the boot loader finds a complete image, the old or the new;
//!    running the upgrade again completes it, rewriting only what is not
//!    yet new.
//!
//! With one slot (`fallback: None`) the writer still never leaves a
//! *valid-looking* mixed image, but a power cut between the erase of the
//! header block and its final write leaves no bootable image: the boot
//! loader's recovery (TFTP, web failsafe) is then needed.
//!
//! [`status`] is the boot loader's view of a slot, for `limina upgrade
//! --status` and for tests.
//!
//! # Example
//!
//! ```
//! use mtd::sim::SimFlash;
//! use upgrade::{check, upgrade, Policy, Slot};
//! # let image = upgrade::testimage::firmware(b"kernel", 3, 65536);
//! let (mut primary, mut fallback) = (SimFlash::nor(32, 65536), SimFlash::nor(32, 65536));
//! let policy = Policy { force_board: true, ..Policy::default() };
//! let checked = check(&image, &policy)?;
//! let report = upgrade(&checked, &mut primary, Some(&mut fallback), &mut |_, _| {})?;
//! assert_eq!(upgrade::status(&mut primary)?.sha256, checked.sha256());
//! // Both slots were empty: the primary went first.
//! assert_eq!(report.first, Slot::Primary);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod board;
pub mod metadata;
pub mod stream;
#[doc(hidden)]
pub mod testimage;
pub mod trial;
pub mod ubi;

use std::fmt;

use kexec::uimage::{Firmware, FirmwareError};
use limina_sign::{KeyId, PublicKey, Signature, VerifyError};
use mtd::writer::{self, Options, Progress, WriteError};
use mtd::{Flash, FlashError};
use sha2::{Digest, Sha256};

pub use metadata::Metadata;

/// Squashfs images are padded to a multiple of this (mksquashfs' default
/// device block size), so a slot's image ends at the next multiple after
/// `bytes_used`.
pub const SQUASHFS_PAD: u64 = 4096;

/// What the upgrade is told to trust.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy<'a> {
    /// The running image's public key. With one, the image must carry a
    /// signature by it; without one, signatures are not checked.
    pub key: Option<&'a PublicKey>,
    /// The image's signature (a `.minisig` file or the front of a signed
    /// stream).
    pub signature: Option<&'a Signature>,
    /// The running board's compatible strings (`None`: the system has no
    /// device tree).
    pub running_board: Option<&'a [String]>,
    /// Write without checking the board (`--force`). The signature is
    /// checked all the same.
    pub force_board: bool,
    /// The erase block size the squashfs is aligned to (0: 64 KiB, the
    /// NOR default).
    pub erase_size: u32,
}

/// Why an image was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The image is empty.
    #[error("the image is empty")]
    Empty,
    /// The layout is wrong: no valid uImage, or no whole squashfs after it.
    #[error("not a firmware image: {0}")]
    Layout(#[source] FirmwareError),
    /// A key is configured and the image has no signature.
    #[error("unsigned: the image has no signature, and this system only accepts images signed by key {key}")]
    Unsigned {
        /// The configured key.
        key: KeyId,
    },
    /// The signature does not hold (another key, changed bytes, a forged
    /// trusted comment).
    #[error("signature: {0}")]
    Signature(#[source] VerifyError),
    /// The board check needs a signed `board:` field and there is none.
    #[error("the image names no board ({why}); --force writes it without the board check")]
    NoBoard {
        /// Why there is none.
        why: &'static str,
    },
    /// The running system has no device tree to compare with.
    #[error("this system has no device tree naming its board, so the image's board {image:?} cannot be checked; --force writes it without the board check")]
    UnknownRunningBoard {
        /// The image's board.
        image: String,
    },
    /// The image is for another board.
    #[error("the image is for board {image:?}, this board is {}", running.join(", "))]
    WrongBoard {
        /// The image's board.
        image: String,
        /// The running board's compatible strings.
        running: Vec<String>,
    },
}

/// An image that passed [`check`].
#[derive(Debug)]
pub struct Checked<'a> {
    image: &'a [u8],
    firmware: Firmware<'a>,
    signed_by: Option<KeyId>,
    metadata: Metadata,
    board_checked: bool,
    sha256: [u8; 32],
}

impl<'a> Checked<'a> {
    /// The image bytes.
    pub fn image(&self) -> &'a [u8] {
        self.image
    }

    /// The kernel uImage's name.
    pub fn name(&self) -> &str {
        &self.firmware.uimage.name
    }

    /// Where the squashfs is in the image.
    pub fn rootfs(&self) -> std::ops::Range<usize> {
        self.firmware.rootfs.clone()
    }

    /// The key that signed it (`None`: signatures were not checked).
    pub fn signed_by(&self) -> Option<KeyId> {
        self.signed_by
    }

    /// The trusted comment's fields (empty when not signed or not
    /// checked).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Whether the board was checked (false with `force_board`).
    pub fn board_checked(&self) -> bool {
        self.board_checked
    }

    /// SHA-256 of the image as [`status`] reports a slot holding it.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// Checks `image` against `policy`: layout, signature, board. Needs no
/// flash; [`upgrade`] checks the sizes against the slots before its first
/// erase.
///
/// # Errors
///
/// [`CheckError`], naming the first problem found.
pub fn check<'a>(image: &'a [u8], policy: &Policy<'_>) -> Result<Checked<'a>, CheckError> {
    if image.is_empty() {
        return Err(CheckError::Empty);
    }
    let erase_size = if policy.erase_size == 0 {
        65536
    } else {
        policy.erase_size as usize
    };
    let firmware = Firmware::split(image, erase_size).map_err(CheckError::Layout)?;
    let (signed_by, metadata) = trust(image, policy)?;
    let end = image_end(&firmware, image.len() as u64);
    let sha256 = Sha256::digest(&image[..end as usize]).into();
    Ok(Checked {
        image,
        firmware,
        signed_by,
        metadata,
        board_checked: !policy.force_board,
        sha256,
    })
}

/// The signature and board checks every kind of image shares: with a key,
/// `image` must carry a signature by it; unless `force_board`, the signed
/// `board:` must be one of the running board's compatible strings. Returns
/// the key that signed and the trusted comment's fields.
pub(crate) fn trust(
    image: &[u8],
    policy: &Policy<'_>,
) -> Result<(Option<KeyId>, Metadata), CheckError> {
    let (signed_by, metadata) = match (policy.key, policy.signature) {
        (Some(key), None) => return Err(CheckError::Unsigned { key: key.key_id() }),
        (Some(key), Some(sig)) => {
            let verified = key.verify(sig, image).map_err(CheckError::Signature)?;
            (
                Some(key.key_id()),
                Metadata::parse(&verified.trusted_comment),
            )
        }
        (None, _) => (None, Metadata::default()),
    };
    if !policy.force_board {
        let image_board = match (&metadata.board, signed_by) {
            (Some(b), _) => b.clone(),
            (None, Some(_)) => {
                return Err(CheckError::NoBoard {
                    why: "its signed trusted comment has no board: field",
                })
            }
            (None, None) => {
                return Err(CheckError::NoBoard {
                    why: "no key is configured, so no signed board: field is read",
                })
            }
        };
        let Some(running) = policy.running_board else {
            return Err(CheckError::UnknownRunningBoard { image: image_board });
        };
        if !running.contains(&image_board) {
            return Err(CheckError::WrongBoard {
                image: image_board,
                running: running.to_vec(),
            });
        }
    }
    Ok((signed_by, metadata))
}

/// Where an image ends: its squashfs padded to [`SQUASHFS_PAD`], within
/// `available` bytes.
fn image_end(firmware: &Firmware<'_>, available: u64) -> u64 {
    let end = firmware.rootfs.start as u64
        + firmware
            .superblock
            .bytes_used
            .next_multiple_of(SQUASHFS_PAD);
    end.min(available)
}

/// Which slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The slot the boot loader tries first (`firmware`).
    Primary,
    /// The slot it tries when the primary is not valid (`firmware-b`).
    Fallback,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Slot::Primary => "primary",
            Slot::Fallback => "fallback",
        })
    }
}

/// What a boot loader finds in a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    /// Why the slot would not boot (`None`: it holds a valid image).
    pub invalid: Option<String>,
    /// The uImage's name (valid slots).
    pub name: Option<String>,
    /// The image's length: up to its squashfs padded to [`SQUASHFS_PAD`]
    /// (valid slots; 0 otherwise).
    pub length: u64,
    /// SHA-256 of those bytes (valid slots; zeros otherwise), as
    /// `sha256sum firmware.bin` prints it for the image file.
    pub sha256: [u8; 32],
}

impl SlotStatus {
    /// Whether a boot loader would boot this slot.
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }
}

/// Reads `flash` as the boot loader does: a uImage whose header and data
/// CRCs hold, and a whole squashfs after it (at an erase-block boundary).
///
/// # Errors
///
/// A read of the flash failed.
pub fn status<F: Flash + ?Sized>(flash: &mut F) -> Result<SlotStatus, FlashError> {
    let geometry = flash.geometry();
    let mut data = vec![0u8; usize::try_from(geometry.size).unwrap_or(usize::MAX)];
    let chunk = (geometry.erase_size as usize).max(4096);
    for (i, buf) in data.chunks_mut(chunk).enumerate() {
        flash.read((i * chunk) as u64, buf)?;
    }
    Ok(match Firmware::split(&data, geometry.erase_size as usize) {
        Ok(fw) => {
            let end = image_end(&fw, data.len() as u64);
            SlotStatus {
                invalid: None,
                name: Some(fw.uimage.name.clone()),
                length: end,
                sha256: Sha256::digest(&data[..end as usize]).into(),
            }
        }
        Err(e) => SlotStatus {
            invalid: Some(e.to_string()),
            name: None,
            length: 0,
            sha256: [0; 32],
        },
    })
}

/// Which slot a boot loader boots: the primary if valid, else the
/// fallback if valid.
pub fn boots(primary: &SlotStatus, fallback: Option<&SlotStatus>) -> Option<Slot> {
    if primary.valid() {
        Some(Slot::Primary)
    } else if fallback.is_some_and(SlotStatus::valid) {
        Some(Slot::Fallback)
    } else {
        None
    }
}

/// Why an upgrade failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Reading a slot before writing failed. Nothing was written.
    #[error("{slot} slot: reading it: {source}")]
    Read {
        /// The slot.
        slot: Slot,
        /// The error.
        #[source]
        source: FlashError,
    },
    /// Writing a slot failed (or was refused before anything was written:
    /// see [`UpgradeError::flash_untouched`]).
    #[error("{slot} slot: {source}")]
    Write {
        /// The slot.
        slot: Slot,
        /// The writer's error.
        #[source]
        source: WriteError,
        /// Whether a slot was written before this one failed.
        after_other: bool,
    },
}

impl UpgradeError {
    /// Whether the flash is known to be as it was.
    pub fn flash_untouched(&self) -> bool {
        match self {
            UpgradeError::Read { .. } => true,
            UpgradeError::Write {
                source,
                after_other,
                ..
            } => !after_other && source.flash_untouched(),
        }
    }
}

/// What [`upgrade`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The slot written first.
    pub first: Slot,
    /// The primary's writer report.
    pub primary: writer::Report,
    /// The fallback's (when there is one).
    pub fallback: Option<writer::Report>,
}

/// What [`plan`] found: per slot, (erases, writes, unchanged blocks), and
/// the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanSummary {
    /// The slot that would be written first.
    pub first: Slot,
    /// The primary's counts.
    pub primary: (u64, u64, u64),
    /// The fallback's.
    pub fallback: Option<(u64, u64, u64)>,
}

/// Only changed blocks, read back, and the header block as the commit
/// record of the whole image (a uImage's CRC does not cover the squashfs).
fn options() -> Options<'static> {
    Options {
        only_changed: true,
        header_guard: true,
        ..Options::default()
    }
}

/// The slot to write first: the fallback while the primary holds a valid
/// image, else the primary (the fallback's image then boots meanwhile).
fn first_slot<F: Flash + ?Sized>(
    primary: &mut F,
    fallback: Option<&mut F>,
) -> Result<Slot, UpgradeError> {
    let Some(_) = fallback else {
        return Ok(Slot::Primary);
    };
    let p = status(primary).map_err(|source| UpgradeError::Read {
        slot: Slot::Primary,
        source,
    })?;
    Ok(if p.valid() {
        Slot::Fallback
    } else {
        Slot::Primary
    })
}

/// The dry run of [`upgrade`]: reads the slots, writes nothing.
///
/// # Errors
///
/// As [`upgrade`] before its first erase (the image does not fit a slot, a
/// slot is read-only or unreadable).
pub fn plan<F: Flash + ?Sized>(
    checked: &Checked<'_>,
    primary: &mut F,
    mut fallback: Option<&mut F>,
) -> Result<PlanSummary, UpgradeError> {
    let first = first_slot(primary, fallback.as_deref_mut())?;
    let counts = |p: &writer::Plan<'_, F>| (p.erases(), p.writes(), p.unchanged());
    let write_err = |slot| {
        move |source| UpgradeError::Write {
            slot,
            source,
            after_other: false,
        }
    };
    let p = writer::plan(primary, checked.image, &options()).map_err(write_err(Slot::Primary))?;
    let primary_counts = counts(&p);
    let fallback_counts = match fallback {
        Some(f) => {
            let plan =
                writer::plan(f, checked.image, &options()).map_err(write_err(Slot::Fallback))?;
            Some(counts(&plan))
        }
        None => None,
    };
    Ok(PlanSummary {
        first,
        primary: primary_counts,
        fallback: fallback_counts,
    })
}

/// Writes a checked image to the slots: both are planned (read, sizes
/// checked) before the first erase, then the first slot is written
/// completely (header last), then the other. `progress` hears of every
/// erase, write and read-back, with its slot.
///
/// # Errors
///
/// [`UpgradeError::Read`] or [`UpgradeError::Write`] (nothing written when
/// [`UpgradeError::flash_untouched`]).
pub fn upgrade<F: Flash + ?Sized>(
    checked: &Checked<'_>,
    primary: &mut F,
    mut fallback: Option<&mut F>,
    progress: &mut dyn FnMut(Slot, &Progress),
) -> Result<Report, UpgradeError> {
    let first = first_slot(primary, fallback.as_deref_mut())?;
    let image = checked.image;
    let p = writer::plan(primary, image, &options()).map_err(|source| UpgradeError::Write {
        slot: Slot::Primary,
        source,
        after_other: false,
    })?;
    let Some(fallback) = fallback else {
        let report = p
            .execute(&mut |e| progress(Slot::Primary, e))
            .map_err(|source| UpgradeError::Write {
                slot: Slot::Primary,
                source,
                after_other: false,
            })?;
        return Ok(Report {
            first,
            primary: report,
            fallback: None,
        });
    };
    let f = writer::plan(fallback, image, &options()).map_err(|source| UpgradeError::Write {
        slot: Slot::Fallback,
        source,
        after_other: false,
    })?;
    let run = |plan: writer::Plan<'_, F>,
               slot: Slot,
               after_other: bool,
               progress: &mut dyn FnMut(Slot, &Progress)| {
        plan.execute(&mut |e| progress(slot, e))
            .map_err(|source| UpgradeError::Write {
                slot,
                source,
                after_other,
            })
    };
    let (primary_report, fallback_report) = match first {
        Slot::Fallback => {
            let fr = run(f, Slot::Fallback, false, progress)?;
            (run(p, Slot::Primary, true, progress)?, fr)
        }
        Slot::Primary => {
            let pr = run(p, Slot::Primary, false, progress)?;
            (pr, run(f, Slot::Fallback, true, progress)?)
        }
    };
    Ok(Report {
        first,
        primary: primary_report,
        fallback: Some(fallback_report),
    })
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use limina_sign::SecretKey;

    const ES: u32 = 4096;

    fn image() -> Vec<u8> {
        testimage::firmware(&[7u8; 5000], 3, ES as usize)
    }

    fn signed(image: &[u8], key: &SecretKey, comment: &str) -> Signature {
        key.sign(image, comment).expect("sign")
    }

    fn malta() -> Vec<String> {
        vec!["mti,malta".to_owned()]
    }

    #[test]
    fn every_refusal_names_its_reason() {
        let img = image();
        let key = SecretKey::generate().expect("key");
        let public = key.public_key();
        let other = SecretKey::generate().expect("other key");
        let good = signed(
            &img,
            &key,
            "timestamp:1\tfile:firmware.bin\tboard:mti,malta",
        );
        let board = malta();
        let with = |key: Option<&PublicKey>, sig: Option<&Signature>, force: bool| {
            let p = Policy {
                key,
                signature: sig,
                running_board: Some(&board),
                force_board: force,
                erase_size: ES,
            };
            check(&img, &p)
                .map(|c| c.signed_by())
                .map_err(|e| e.to_string())
        };
        // Good.
        assert_eq!(
            with(Some(&public), Some(&good), false),
            Ok(Some(public.key_id()))
        );
        // Unsigned with a key.
        let e = with(Some(&public), None, false).expect_err("unsigned");
        assert!(e.starts_with("unsigned: the image has no signature"), "{e}");
        // Another key.
        let theirs = signed(&img, &other, "timestamp:1\tboard:mti,malta");
        let e = with(Some(&public), Some(&theirs), false).expect_err("other key");
        assert!(e.contains("key id mismatch"), "{e}");
        // A flipped byte.
        let mut flipped = img.clone();
        let at = flipped.len() - 100;
        flipped[at] ^= 1;
        let p = Policy {
            key: Some(&public),
            signature: Some(&good),
            running_board: Some(&board),
            force_board: false,
            erase_size: ES,
        };
        let e = check(&flipped, &p).expect_err("flipped").to_string();
        assert!(e.starts_with("signature: bad signature"), "{e}");
        // Truncated: the layout check speaks first.
        let e = check(&img[..img.len() - 5000], &p)
            .expect_err("cut")
            .to_string();
        assert!(e.starts_with("not a firmware image"), "{e}");
        // Another board, and --force.
        let gl = signed(&img, &key, "timestamp:1\tboard:glinet,gl-ar750");
        let e = with(Some(&public), Some(&gl), false).expect_err("board");
        assert_eq!(
            e,
            "the image is for board \"glinet,gl-ar750\", this board is mti,malta"
        );
        assert!(with(Some(&public), Some(&gl), true).is_ok());
        // Signed without a board field.
        let plain = signed(&img, &key, "timestamp:1\tfile:firmware.bin\thashed");
        let e = with(Some(&public), Some(&plain), false).expect_err("no board");
        assert!(
            e.contains("no board: field") && e.contains("--force"),
            "{e}"
        );
        // No key: no board known.
        let e = with(None, None, false).expect_err("no key");
        assert!(e.contains("no key is configured"), "{e}");
        assert_eq!(with(None, None, true), Ok(None));
        // No device tree.
        let p = Policy {
            key: Some(&public),
            signature: Some(&good),
            running_board: None,
            force_board: false,
            erase_size: ES,
        };
        let e = check(&img, &p).expect_err("no dt").to_string();
        assert!(e.starts_with("this system has no device tree"), "{e}");
        // Empty, and not a firmware image.
        assert!(matches!(check(&[], &p), Err(CheckError::Empty)));
        let e = check(&[0u8; 100], &p).expect_err("junk").to_string();
        assert!(e.contains("magic"), "{e}");
    }

    #[test]
    fn oversized_for_a_slot_writes_nothing() {
        let img = testimage::firmware(&[7u8; 5000], 20, ES as usize);
        let c = check(
            &img,
            &Policy {
                force_board: true,
                erase_size: ES,
                ..Policy::default()
            },
        )
        .expect("checked");
        let mut primary = mtd::sim::SimFlash::nor(32, ES);
        let mut fallback = mtd::sim::SimFlash::nor(8, ES);
        let before = (primary.contents().to_vec(), fallback.contents().to_vec());
        let e =
            upgrade(&c, &mut primary, Some(&mut fallback), &mut |_, _| {}).expect_err("too large");
        assert!(e.flash_untouched(), "{e}");
        assert!(
            e.to_string().starts_with("fallback slot: mtd: the image"),
            "{e}"
        );
        assert_eq!(
            (primary.contents(), fallback.contents()),
            (&before.0[..], &before.1[..])
        );
    }
}
