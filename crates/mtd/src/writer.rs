//! Writing a firmware image to flash so that a power cut never bricks.
//!
//! [`write_image`] does what `flashcp` does (erase, write, verify), with
//! stronger guarantees:
//!
//! 1. **Everything checkable is checked before the first erase**: the image
//!    is not empty, fits the device counting NAND bad blocks, the device is
//!    writable, the image starts with the expected magic and passes the
//!    caller's check hook (a signature check, say), and the current content
//!    of every block could be read. A refused image leaves the flash as it
//!    was.
//! 2. **Only blocks that differ are erased and written** (with
//!    [`Options::only_changed`], `flashcp -p`): an image differing in one
//!    block costs one erase. On NOR, a block that is already erased is
//!    written without an erase.
//! 3. **The header block goes last**: if block 0 changes, it is erased
//!    *first* (so the old header is gone before any other block changes),
//!    every other block is written and verified, then block 0 is written in
//!    two steps, its first write unit (NOR: first byte, NAND: first page)
//!    last. A boot loader that checks a header at offset 0 therefore finds
//!    either the old image untouched, or no valid header, or the complete,
//!    verified new image, wherever the power fails. (This assumes the first
//!    byte of a valid header is not `0xff` and that the header checksums
//!    the image, as uImage, FIT and TRX headers do.)
//! 4. **NAND bad blocks are skipped**: image block *i* goes to the *i*-th
//!    good block, like `nandwrite`. A block that fails to erase is marked
//!    bad and the write stops with [`WriteError::WentBad`]; running it again
//!    maps the image around the new bad block.
//! 5. **Every written block is read back and compared**; a mismatch is
//!    re-read once (a transient bit flip) and then reported.
//!
//! [`plan`] computes the same decisions without touching the flash: a
//! dry run reporting what would be erased and written.
//!
//! # Example
//!
//! ```
//! use mtd::sim::SimFlash;
//! use mtd::writer::{self, Options};
//!
//! let mut flash = SimFlash::nor(16, 4096);
//! let image = vec![0x27; 3 * 4096 + 100];
//! let options = Options { only_changed: true, ..Options::default() };
//!
//! let plan = writer::plan(&mut flash, &image, &options)?;
//! assert_eq!((plan.erases(), plan.writes()), (0, 4)); // erased flash: no erase needed
//! writer::write_image(&mut flash, &image, &options, &mut |_| {})?;
//!
//! // The same image again costs nothing.
//! let report = writer::write_image(&mut flash, &image, &options, &mut |_| {})?;
//! assert_eq!((report.erased, report.written, report.unchanged), (0, 0, 4));
//! # Ok::<(), mtd::writer::WriteError>(())
//! ```

use std::fmt;

use crate::flash::{Flash, FlashError, FlashKind, Geometry};

/// Why an [`ImageCheck`] refused an image (any error type; it becomes the
/// `source` of [`WriteError::Rejected`]).
pub type CheckError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A check run on the whole image before anything is erased; `Err` holds
/// the reason to refuse it.
pub type ImageCheck<'a> = &'a dyn Fn(&[u8]) -> Result<(), CheckError>;

/// How to write.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Compare first and leave blocks that already hold the image's data
    /// (`flashcp -p`); without it every block of the image is erased and
    /// written, as plain `flashcp` does.
    pub only_changed: bool,
    /// Erase every good block of the device, not only those the image
    /// covers (`flashcp -A`). Overrides `only_changed`.
    pub erase_all: bool,
    /// Read back every written block and compare (default on).
    pub verify: bool,
    /// Refuse an image that does not start with these bytes.
    pub expected_magic: Option<&'a [u8]>,
    /// Refuse an image this check rejects (e.g. a signature check).
    pub check: Option<ImageCheck<'a>>,
    /// Make the header block the commit record of the whole image: when
    /// any image block changes, block 0 is erased first and written last
    /// even if it already holds the image's data. For headers that
    /// checksum only part of the image: a uImage covers its kernel, not
    /// the squashfs after it, so an upgrade that changes only the root
    /// file system would otherwise keep a valid old header over blocks
    /// half rewritten. Costs one erase and one write when block 0 is
    /// unchanged; nothing when nothing changes.
    pub header_guard: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            only_changed: false,
            erase_all: false,
            verify: true,
            expected_magic: None,
            check: None,
            header_guard: false,
        }
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("only_changed", &self.only_changed)
            .field("erase_all", &self.erase_all)
            .field("verify", &self.verify)
            .field("expected_magic", &self.expected_magic)
            .field("check", &self.check.map(|_| "fn"))
            .field("header_guard", &self.header_guard)
            .finish()
    }
}

/// Why an image was not (completely) written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The image has no bytes. Nothing was written.
    #[error("mtd: the image is empty")]
    Empty,
    /// The device is read-only. Nothing was written.
    #[error("mtd: the device is read-only")]
    ReadOnly,
    /// The image does not fit. Nothing was written.
    #[error("mtd: the image ({image} bytes) is larger than the device ({capacity} bytes usable{})",
            if *bad_blocks > 0 { format!(", {bad_blocks} bad blocks") } else { String::new() })]
    TooLarge {
        /// Image size in bytes.
        image: u64,
        /// Bytes in good blocks.
        capacity: u64,
        /// Bad blocks on the device.
        bad_blocks: u64,
    },
    /// The image does not start with the expected magic. Nothing was written.
    #[error("mtd: the image starts with {found:02x?}, expected {expected:02x?}")]
    BadMagic {
        /// The magic asked for.
        expected: Vec<u8>,
        /// The image's first bytes.
        found: Vec<u8>,
    },
    /// The caller's check refused the image. Nothing was written.
    #[error("mtd: the image was refused: {0}")]
    Rejected(#[source] CheckError),
    /// A flash operation failed.
    #[error("mtd: block {block}: {source}")]
    Flash {
        /// The erase block (physical index).
        block: u64,
        /// What failed.
        #[source]
        source: FlashError,
    },
    /// A block failed to erase and was marked bad; running again maps the
    /// image around it.
    #[error(
        "mtd: block {block} failed to erase and was marked bad; write the image again: {source}"
    )]
    WentBad {
        /// The erase block (physical index).
        block: u64,
        /// The erase error.
        #[source]
        source: FlashError,
    },
    /// A block read back differently from what was written.
    #[error("mtd: verification failed in block {block} at {offset:#x}")]
    Verify {
        /// The erase block (physical index).
        block: u64,
        /// The first differing byte.
        offset: u64,
    },
}

impl WriteError {
    /// Whether the flash is known to be as it was (the error was found
    /// before anything was erased or written).
    pub fn flash_untouched(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::ReadOnly
                | Self::TooLarge { .. }
                | Self::BadMagic { .. }
                | Self::Rejected(_)
        )
    }
}

/// What happens to one erase block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// It already holds the image's data: left alone.
    Keep,
    /// It is erased already (NOR): written without an erase.
    Write,
    /// Erased, then written.
    EraseWrite,
    /// Only erased (`erase_all`, blocks past the image).
    Erase,
}

/// The decision for one erase block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPlan {
    /// The block of the image (`None` for blocks past the image).
    pub image_block: Option<u64>,
    /// The erase block of the device.
    pub block: u64,
    /// What happens to it.
    pub action: Action,
}

/// What a write will do, decided before anything is changed.
///
/// A plan holds what it was made from — the flash (borrowed mutably, so
/// nothing else changes it in between), the image and whether to verify —
/// so [`execute`] takes nothing else and cannot be handed another image.
pub struct Plan<'a, F: Flash + ?Sized> {
    flash: &'a mut F,
    image: &'a [u8],
    verify: bool,
    geometry: Geometry,
    blocks: Vec<BlockPlan>,
    bad_skipped: Vec<u64>,
}

impl<F: Flash + ?Sized> fmt::Debug for Plan<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("geometry", &self.geometry)
            .field("image_len", &self.image.len())
            .field("verify", &self.verify)
            .field("blocks", &self.blocks)
            .field("bad_skipped", &self.bad_skipped)
            .finish_non_exhaustive()
    }
}

impl<'a, F: Flash + ?Sized> Plan<'a, F> {
    /// The device's geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The image length in bytes.
    pub fn image_len(&self) -> u64 {
        self.image.len() as u64
    }

    /// One entry per image block in image order, then blocks only erased.
    pub fn blocks(&self) -> &[BlockPlan] {
        &self.blocks
    }

    /// Bad blocks skipped inside the image's range.
    pub fn bad_skipped(&self) -> &[u64] {
        &self.bad_skipped
    }

    /// Carries the plan out ([`execute`]).
    pub fn execute(self, progress: &mut dyn FnMut(&Progress)) -> Result<Report, WriteError> {
        execute(self, progress)
    }

    /// How many blocks will be erased.
    pub fn erases(&self) -> u64 {
        self.count(|a| matches!(a, Action::EraseWrite | Action::Erase))
    }

    /// How many blocks will be written.
    pub fn writes(&self) -> u64 {
        self.count(|a| matches!(a, Action::Write | Action::EraseWrite))
    }

    /// How many image blocks already hold the right data.
    pub fn unchanged(&self) -> u64 {
        self.count(|a| a == Action::Keep)
    }

    fn count(&self, f: impl Fn(Action) -> bool) -> u64 {
        self.blocks.iter().filter(|b| f(b.action)).count() as u64
    }
}

impl<F: Flash + ?Sized> fmt::Display for Plan<'_, F> {
    /// `erase 3, write 3, unchanged 61, bad blocks skipped 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "erase {}, write {}, unchanged {}, bad blocks skipped {}",
            self.erases(),
            self.writes(),
            self.unchanged(),
            self.bad_skipped.len()
        )
    }
}

/// What [`write_image`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Blocks erased.
    pub erased: u64,
    /// Blocks written.
    pub written: u64,
    /// Blocks read back and compared.
    pub verified: u64,
    /// Image blocks left alone because they already held the data.
    pub unchanged: u64,
    /// Bad blocks skipped.
    pub bad_skipped: u64,
}

/// The stage a [`Progress`] report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Erasing a block.
    Erase,
    /// Writing a block.
    Write,
    /// Reading a block back.
    Verify,
}

/// A progress report, given before each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is about to happen.
    pub stage: Stage,
    /// To which erase block.
    pub block: u64,
    /// Operations done so far.
    pub done: u64,
    /// Operations in all.
    pub total: u64,
}

/// Checks everything about `image` that does not need the flash.
fn check_image(geometry: &Geometry, image: &[u8], options: &Options<'_>) -> Result<(), WriteError> {
    if image.is_empty() {
        return Err(WriteError::Empty);
    }
    if !geometry.writable {
        return Err(WriteError::ReadOnly);
    }
    if let Some(magic) = options.expected_magic {
        if !image.starts_with(magic) {
            return Err(WriteError::BadMagic {
                expected: magic.to_vec(),
                found: image[..magic.len().min(image.len())].to_vec(),
            });
        }
    }
    if image.len() as u64 > geometry.size {
        return Err(WriteError::TooLarge {
            image: image.len() as u64,
            capacity: geometry.size,
            bad_blocks: 0,
        });
    }
    if let Some(check) = options.check {
        check(image).map_err(WriteError::Rejected)?;
    }
    Ok(())
}

/// Decides what writing `image` would do, reading the flash but changing
/// nothing: the dry run, and the first half of [`write_image`]. The plan
/// keeps `flash` and `image` for [`execute`].
///
/// Fails with the same pre-flight errors as [`write_image`].
pub fn plan<'a, F: Flash + ?Sized>(
    flash: &'a mut F,
    image: &'a [u8],
    options: &Options<'_>,
) -> Result<Plan<'a, F>, WriteError> {
    let geometry = flash.geometry();
    check_image(&geometry, image, options)?;
    let es = u64::from(geometry.erase_size);
    let image_blocks = (image.len() as u64).div_ceil(es);
    let nand = geometry.kind == FlashKind::Nand;
    let bad = |flash: &mut F, block: u64| -> Result<bool, WriteError> {
        if nand {
            flash
                .is_bad(block)
                .map_err(|source| WriteError::Flash { block, source })
        } else {
            Ok(false)
        }
    };

    // Map image blocks to good blocks.
    let mut mapping = Vec::new();
    let mut bad_skipped = Vec::new();
    let mut block = 0;
    while (mapping.len() as u64) < image_blocks && block < geometry.blocks() {
        if bad(flash, block)? {
            bad_skipped.push(block);
        } else {
            mapping.push(block);
        }
        block += 1;
    }
    if (mapping.len() as u64) < image_blocks {
        let mut bad_blocks = bad_skipped.len() as u64;
        for b in block..geometry.blocks() {
            bad_blocks += u64::from(bad(flash, b)?);
        }
        return Err(WriteError::TooLarge {
            image: image.len() as u64,
            capacity: (geometry.blocks() - bad_blocks) * es,
            bad_blocks,
        });
    }

    let compare = options.only_changed && !options.erase_all;
    let mut blocks = Vec::with_capacity(mapping.len());
    let mut current = vec![0u8; geometry.erase_size as usize];
    // Compared with memcmp: byte loops are slow in a size-optimised build.
    let erased = vec![0xffu8; geometry.erase_size as usize];
    for (i, &block) in mapping.iter().enumerate() {
        let action = if compare {
            let chunk = image_chunk(image, es, i as u64);
            flash
                .read(geometry.block_offset(block), &mut current)
                .map_err(|source| WriteError::Flash { block, source })?;
            if current[..chunk.len()] == *chunk {
                Action::Keep
            } else if !nand && current == erased {
                Action::Write
            } else {
                Action::EraseWrite
            }
        } else {
            Action::EraseWrite
        };
        blocks.push(BlockPlan {
            image_block: Some(i as u64),
            block,
            action,
        });
    }
    let changes = blocks.iter().any(|b| b.action != Action::Keep);
    if options.header_guard && changes {
        if let Some(h) = blocks.first_mut().filter(|h| h.action == Action::Keep) {
            h.action = Action::EraseWrite;
        }
    }
    if options.erase_all {
        for b in block..geometry.blocks() {
            if !bad(flash, b)? {
                blocks.push(BlockPlan {
                    image_block: None,
                    block: b,
                    action: Action::Erase,
                });
            }
        }
    }
    Ok(Plan {
        flash,
        image,
        verify: options.verify,
        geometry,
        blocks,
        bad_skipped,
    })
}

/// Image block `i`, the last one possibly short.
fn image_chunk(image: &[u8], es: u64, i: u64) -> &[u8] {
    let start = (i * es) as usize;
    let end = image.len().min(start + es as usize);
    &image[start..end]
}

/// Writes `image` to the start of `flash`: [`plan`], then erase, write and
/// verify as the [module documentation](self) describes, reporting each
/// operation to `progress`.
///
/// On error, [`WriteError::flash_untouched`] tells whether anything was
/// changed.
pub fn write_image<F: Flash + ?Sized>(
    flash: &mut F,
    image: &[u8],
    options: &Options<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, WriteError> {
    plan(flash, image, options)?.execute(progress)
}

/// Carries out `plan` on the flash and image it was made from, reporting
/// each operation to `progress`.
pub fn execute<F: Flash + ?Sized>(
    plan: Plan<'_, F>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, WriteError> {
    let report = Report {
        unchanged: plan.unchanged(),
        bad_skipped: plan.bad_skipped.len() as u64,
        ..Report::default()
    };
    let total = plan.erases() + plan.writes() * (1 + u64::from(plan.verify));
    let Plan {
        flash,
        image,
        verify,
        geometry,
        blocks,
        bad_skipped: _,
    } = plan;
    let mut run = Run {
        flash,
        geometry,
        image,
        verify,
        report,
        done: 0,
        total,
        progress,
    };
    let header = blocks
        .first()
        .filter(|b| b.image_block == Some(0) && b.action != Action::Keep)
        .copied();

    // 1. The header block's erase comes first: no old header over new data.
    if let Some(h) = header.filter(|h| h.action == Action::EraseWrite) {
        run.erase(h.block)?;
    }
    // 2. With erase_all, the blocks past the image.
    for b in blocks.iter().filter(|b| b.action == Action::Erase) {
        run.erase(b.block)?;
    }
    // 3. Every other image block, in order.
    for b in blocks.iter().skip(usize::from(header.is_some())) {
        let Some(i) = b.image_block else { continue };
        if matches!(b.action, Action::Keep | Action::Erase) {
            continue;
        }
        if b.action == Action::EraseWrite {
            run.erase(b.block)?;
        }
        run.write_block(b.block, i, false)?;
    }
    // 4. The header block, its first write unit last.
    if let Some(h) = header {
        run.write_block(h.block, 0, true)?;
    }
    Ok(run.report)
}

struct Run<'r, F: Flash + ?Sized> {
    flash: &'r mut F,
    geometry: Geometry,
    image: &'r [u8],
    verify: bool,
    report: Report,
    done: u64,
    total: u64,
    progress: &'r mut dyn FnMut(&Progress),
}

impl<F: Flash + ?Sized> Run<'_, F> {
    fn tell(&mut self, stage: Stage, block: u64) {
        (self.progress)(&Progress {
            stage,
            block,
            done: self.done,
            total: self.total,
        });
        self.done += 1;
    }

    fn erase(&mut self, block: u64) -> Result<(), WriteError> {
        self.tell(Stage::Erase, block);
        match self.flash.erase_block(block) {
            Ok(()) => {
                self.report.erased += 1;
                Ok(())
            }
            Err(source) if source.is_device_failure() && self.geometry.kind == FlashKind::Nand => {
                log::warn!("block {block} failed to erase, marking it bad: {source}");
                if let Err(e) = self.flash.mark_bad(block) {
                    log::warn!("marking block {block} bad failed: {e}");
                }
                Err(WriteError::WentBad { block, source })
            }
            Err(source) => Err(WriteError::Flash { block, source }),
        }
    }

    /// Writes image block `i` to erase block `block`, padded to the write
    /// size with `0xff`; with `unit_last`, the first write unit goes last.
    fn write_block(&mut self, block: u64, i: u64, unit_last: bool) -> Result<(), WriteError> {
        let es = u64::from(self.geometry.erase_size);
        let ws = self.geometry.write_size as usize;
        let mut data = image_chunk(self.image, es, i).to_vec();
        data.resize(data.len().div_ceil(ws) * ws, 0xff);
        let offset = self.geometry.block_offset(block);
        let fail = |source| WriteError::Flash { block, source };
        self.tell(Stage::Write, block);
        if unit_last && data.len() > ws {
            self.flash
                .write(offset + ws as u64, &data[ws..])
                .map_err(fail)?;
            self.check(block, offset + ws as u64, &data[ws..])?;
            self.flash.write(offset, &data[..ws]).map_err(fail)?;
        } else {
            self.flash.write(offset, &data).map_err(fail)?;
        }
        self.report.written += 1;
        if self.verify {
            self.tell(Stage::Verify, block);
            self.check(block, offset, &data)?;
            self.report.verified += 1;
        }
        Ok(())
    }

    /// Reads `expected.len()` bytes at `offset` back and compares, re-reading
    /// once on a mismatch.
    fn check(&mut self, block: u64, offset: u64, expected: &[u8]) -> Result<(), WriteError> {
        if !self.verify {
            return Ok(());
        }
        let mut back = vec![0u8; expected.len()];
        for attempt in 0..2 {
            self.flash
                .read(offset, &mut back)
                .map_err(|source| WriteError::Flash { block, source })?;
            if back == expected {
                return Ok(());
            }
            match back.iter().zip(expected).position(|(a, b)| a != b) {
                None => return Ok(()),
                Some(at) if attempt == 1 => {
                    return Err(WriteError::Verify {
                        block,
                        offset: offset + at as u64,
                    })
                }
                Some(at) => log::warn!("block {block}: re-reading after a mismatch at {at:#x}"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Faults, SimFlash};

    const ES: u32 = 64;

    fn image(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
            .collect()
    }

    fn changed() -> Options<'static> {
        Options {
            only_changed: true,
            ..Options::default()
        }
    }

    fn write(f: &mut SimFlash, img: &[u8], o: &Options<'_>) -> Result<Report, WriteError> {
        write_image(f, img, o, &mut |_| {})
    }

    #[test]
    fn fresh_nor_needs_no_erase_and_identical_costs_nothing() {
        let mut f = SimFlash::nor(8, ES);
        let img = image(5 * ES as usize + 7, 1);
        let r = write(&mut f, &img, &changed()).expect("write");
        assert_eq!((r.erased, r.written, r.verified), (0, 6, 6));
        assert_eq!(&f.contents()[..img.len()], &img[..]);
        f.reset_counters();
        let r = write(&mut f, &img, &changed()).expect("write");
        assert_eq!((r.erased, r.written, r.unchanged), (0, 0, 6));
        assert_eq!((f.counters().erases, f.counters().writes), (0, 0));
    }

    #[test]
    fn one_block_different_costs_exactly_one_erase() {
        for mut f in [SimFlash::nor(8, ES), SimFlash::nand(8, ES, 16)] {
            let old = image(6 * ES as usize, 1);
            f.load(&old);
            let mut new = old.clone();
            new[3 * ES as usize + 5] ^= 0xff;
            let p = plan(&mut f, &new, &changed()).expect("plan");
            assert_eq!((p.erases(), p.writes(), p.unchanged()), (1, 1, 5));
            assert_eq!(
                p.to_string(),
                "erase 1, write 1, unchanged 5, bad blocks skipped 0"
            );
            write(&mut f, &new, &changed()).expect("write");
            assert_eq!(f.counters().erases, 1);
            assert_eq!(&f.contents()[..new.len()], &new[..]);
        }
    }

    #[test]
    fn header_guard_rewrites_an_unchanged_header_block_around_the_change() {
        let mut f = SimFlash::nor(8, ES);
        let old = image(6 * ES as usize, 1);
        f.load(&old);
        let mut new = old.clone();
        new[4 * ES as usize] ^= 0xff;
        let guard = Options {
            header_guard: true,
            ..changed()
        };
        // Unchanged image: the guard costs nothing.
        let p = plan(&mut f, &old, &guard).expect("plan");
        assert_eq!((p.erases(), p.writes(), p.unchanged()), (0, 0, 6));
        // Block 4 changes: block 0 is erased first and written last.
        let mut order = Vec::new();
        write_image(&mut f, &new, &guard, &mut |p| {
            order.push((p.stage, p.block))
        })
        .expect("write");
        assert_eq!(
            order,
            [
                (Stage::Erase, 0),
                (Stage::Erase, 4),
                (Stage::Write, 4),
                (Stage::Verify, 4),
                (Stage::Write, 0),
                (Stage::Verify, 0),
            ]
        );
        assert_eq!(&f.contents()[..new.len()], &new[..]);
        // A power cut anywhere leaves the old image, block 0 erased, or
        // the whole new image: never the header over a half-written rest.
        for cut in 0..4 {
            let mut f = SimFlash::nor(8, ES);
            f.load(&old);
            f.set_faults(Faults {
                power_cut_after_erases: Some(cut),
                ..Faults::default()
            });
            let _ = write_image(&mut f, &new, &guard, &mut |_| {});
            let head = &f.contents()[..ES as usize];
            let rest_new = f.contents()[ES as usize..new.len()] == new[ES as usize..];
            let untouched = f.contents()[..old.len()] == old[..];
            assert!(
                untouched
                    || head.iter().all(|&b| b == 0xff)
                    || (head == &new[..ES as usize] && rest_new),
                "cut {cut}: a header over a half-written image"
            );
        }
    }

    #[test]
    fn without_only_changed_every_block_is_erased_and_written() {
        let mut f = SimFlash::nor(8, ES);
        let img = image(3 * ES as usize, 1);
        f.load(&img);
        let r = write(&mut f, &img, &Options::default()).expect("write");
        assert_eq!((r.erased, r.written), (3, 3));
        let r = write(
            &mut f,
            &img,
            &Options {
                erase_all: true,
                ..changed()
            },
        )
        .expect("write");
        assert_eq!((r.erased, r.written), (8, 3));
        assert!(f.contents()[img.len()..].iter().all(|&b| b == 0xff));
    }

    #[test]
    fn header_block_is_erased_first_and_written_last() {
        let mut f = SimFlash::nor(4, ES);
        let old = image(4 * ES as usize, 1);
        f.load(&old);
        let new = image(4 * ES as usize, 2);
        let mut log = Vec::new();
        write_image(&mut f, &new, &changed(), &mut |p| {
            log.push((p.stage, p.block))
        })
        .expect("write");
        use Stage::*;
        assert_eq!(
            log,
            [
                (Erase, 0),
                (Erase, 1),
                (Write, 1),
                (Verify, 1),
                (Erase, 2),
                (Write, 2),
                (Verify, 2),
                (Erase, 3),
                (Write, 3),
                (Verify, 3),
                (Write, 0),
                (Verify, 0)
            ]
        );
    }

    #[test]
    fn nand_skips_bad_blocks_and_pads_the_last_page() {
        let mut f = SimFlash::nand(8, ES, 16).with_bad_blocks(&[1, 4]);
        let img = image(4 * ES as usize + 3, 1);
        let p = plan(&mut f, &img, &changed()).expect("plan");
        assert_eq!(p.bad_skipped(), [1, 4]);
        let phys: Vec<u64> = p.blocks().iter().map(|b| b.block).collect();
        assert_eq!(phys, [0, 2, 3, 5, 6]);
        let r = write(&mut f, &img, &changed()).expect("write");
        assert_eq!((r.erased, r.written, r.bad_skipped), (5, 5, 2));
        let c = f.contents();
        let es = ES as usize;
        assert_eq!(&c[..es], &img[..es]);
        assert_eq!(&c[2 * es..4 * es], &img[es..3 * es]);
        assert_eq!(&c[5 * es..6 * es], &img[3 * es..4 * es]);
        assert_eq!(&c[6 * es..6 * es + 3], &img[4 * es..]);
        assert!(c[6 * es + 3..6 * es + 16].iter().all(|&b| b == 0xff));
    }

    #[test]
    fn refusals_happen_before_anything_changes() {
        let old = image(4 * ES as usize, 9);
        let fresh = || {
            let mut f = SimFlash::nand(8, ES, 16).with_bad_blocks(&[2]);
            f.load(&old);
            f
        };
        let reject = |_: &[u8]| Err("bad signature".into());
        let cases: Vec<(Vec<u8>, Options<'_>, SimFlash, &str)> = vec![
            (Vec::new(), changed(), fresh(), "mtd: the image is empty"),
            (
                image(8 * ES as usize, 1),
                changed(),
                fresh(),
                "mtd: the image (512 bytes) is larger than the device (448 bytes usable, 1 bad blocks)",
            ),
            (
                image(9 * ES as usize, 1),
                changed(),
                fresh(),
                "mtd: the image (576 bytes) is larger than the device (512 bytes usable)",
            ),
            (image(10, 1), changed(), fresh().read_only(), "mtd: the device is read-only"),
            (
                image(10, 1),
                Options {
                    expected_magic: Some(b"HDR0"),
                    ..changed()
                },
                fresh(),
                "mtd: the image starts with [01, 21, 3f, 5f], expected [48, 44, 52, 30]",
            ),
            (
                image(10, 1),
                Options {
                    check: Some(&reject),
                    ..changed()
                },
                fresh(),
                "mtd: the image was refused: bad signature",
            ),
        ];
        for (img, o, mut f, msg) in cases {
            let before = f.contents().to_vec();
            let err = write(&mut f, &img, &o).expect_err(msg);
            assert_eq!(err.to_string(), msg);
            assert!(err.flash_untouched());
            assert_eq!(f.contents(), &before[..]);
            assert_eq!((f.counters().erases, f.counters().writes), (0, 0));
        }
    }

    #[test]
    fn erase_failure_on_nand_marks_the_block_bad_and_a_rerun_skips_it() {
        let mut f = SimFlash::nand(8, ES, 16);
        let img = image(3 * ES as usize, 1);
        f.set_faults(Faults {
            fail_erase: vec![1],
            ..Faults::default()
        });
        let err = write(&mut f, &img, &changed()).expect_err("goes bad");
        assert!(matches!(err, WriteError::WentBad { block: 1, .. }), "{err}");
        assert!(!err.flash_untouched());
        assert!(f.is_bad(1).expect("query"));
        let r = write(&mut f, &img, &changed()).expect("rerun");
        assert_eq!(r.bad_skipped, 1);
    }

    #[test]
    fn write_failure_and_verify_failure_are_reported() {
        let mut f = SimFlash::nor(4, ES);
        f.set_faults(Faults {
            fail_write: vec![2],
            ..Faults::default()
        });
        let err = write(&mut f, &image(3 * ES as usize, 1), &changed()).expect_err("fails");
        assert!(matches!(err, WriteError::Flash { block: 2, .. }), "{err}");

        // One flipped read is re-read; two in a row are a verify failure.
        let mut f = SimFlash::nor(4, ES);
        f.set_faults(Faults {
            read_bit_flips: 1,
            ..Faults::default()
        });
        write(&mut f, &image(ES as usize, 1), &Options::default()).expect("re-read");
        let mut f = SimFlash::nor(4, ES);
        f.set_faults(Faults {
            read_bit_flips: 2,
            ..Faults::default()
        });
        let err = write(&mut f, &image(ES as usize, 1), &Options::default()).expect_err("flips");
        assert!(
            matches!(
                err,
                WriteError::Verify {
                    block: 0,
                    offset: 32
                }
            ),
            "{err}"
        );
    }
}
