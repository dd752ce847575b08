//! `ubiformat`: (re)format a flash for UBI, or write a UBI image to it,
//! keeping every eraseblock's erase counter.
//!
//! Writing a UBI image raw (with `nandwrite`, `flashcp` or `dd`) resets
//! every erase counter to the image's, which is usually 0: UBI's wear
//! levelling then works from a false history. This module does what
//! mtd-utils' `ubiformat` does instead:
//!
//! 1. [`scan`] every eraseblock: bad, empty (all 0xFF), a valid EC header
//!    (its counter), a corrupted one, or foreign data;
//! 2. decide the counters: each valid counter + 1; the mean of the valid
//!    ones for the rest; with mtd-utils' thresholds (fewer than 95% valid
//!    counters needs confirmation, fewer than 50% falls back to 0 for all),
//!    and `-e` to set them all;
//! 3. erase each good block and write either the next PEB of the image
//!    (its EC header rewritten with the counter and the image sequence
//!    number), without its trailing 0xFF pages, or a fresh EC header (and
//!    an empty volume table in the first two blocks when there is no
//!    image). Bad blocks are skipped; on NAND a block that fails to erase
//!    or program is marked bad and the data goes to the next one.
//!
//! A fresh EC header is written alone, in the smallest write the flash
//! accepts (a 512-byte sub-page on most 2 KiB-page NAND, as mtd-utils
//! does), so that the VID header may share the first page: UBI writes it
//! later into the next sub-page.
//!
//! It works on any [`mtd::Flash`]: a kernel MTD device or mtd-rs's
//! simulator, which the tests use.

use std::io::{self, Read};

use mtd::{Flash, FlashError, FlashKind};

use crate::image::{Geometry, ImageError, Params};
use crate::media::{EcHeader, EC_HDR_MAGIC, EC_HDR_SIZE};

/// Erase counters above this are invalid (`UBI_MAX_ERASECOUNTER`).
pub const MAX_ERASECOUNTER: u64 = 0x7FFF_FFFF;

/// How many bad blocks in a row end the format (as mtd-utils'
/// `MAX_CONSECUTIVE_BAD_BLOCKS`).
const MAX_CONSECUTIVE_BAD: u32 = 4;

/// What the scan found in one eraseblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockState {
    /// Marked bad: skipped.
    Bad,
    /// All 0xFF where the EC header would be.
    Empty,
    /// A valid EC header with this counter.
    Ec(u64),
    /// UBI magic, but a bad CRC or counter.
    Corrupted,
    /// Neither UBI nor erased.
    Alien,
}

/// The scan of a whole device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// One state per eraseblock.
    pub blocks: Vec<BlockState>,
}

impl Scan {
    fn count(&self, f: impl Fn(&BlockState) -> bool) -> usize {
        self.blocks.iter().filter(|b| f(b)).count()
    }

    /// Good (not bad) blocks.
    pub fn good(&self) -> usize {
        self.count(|b| *b != BlockState::Bad)
    }

    /// Bad blocks.
    pub fn bad(&self) -> usize {
        self.count(|b| *b == BlockState::Bad)
    }

    /// Blocks with a valid erase counter.
    pub fn valid(&self) -> usize {
        self.count(|b| matches!(b, BlockState::Ec(_)))
    }

    /// Empty blocks.
    pub fn empty(&self) -> usize {
        self.count(|b| *b == BlockState::Empty)
    }

    /// Blocks with foreign data.
    pub fn alien(&self) -> usize {
        self.count(|b| *b == BlockState::Alien)
    }

    /// Mean of the valid erase counters, rounded down (0 if none).
    pub fn mean_ec(&self) -> u64 {
        let (sum, n) = self
            .blocks
            .iter()
            .fold((0u128, 0u128), |(s, n), b| match b {
                BlockState::Ec(e) => (s + u128::from(*e), n + 1),
                _ => (s, n),
            });
        sum.checked_div(n)
            .map_or(0, |m| u64::try_from(m).expect("mean of u64s fits a u64"))
    }

    /// Highest valid erase counter.
    pub fn max_ec(&self) -> Option<u64> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                BlockState::Ec(e) => Some(*e),
                _ => None,
            })
            .max()
    }
}

/// Choices of `ubiformat`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// `-s`: sub-page size (default: the flash's, [`mtd::Geometry::subpage_size`]).
    pub subpage_size: Option<u32>,
    /// `-O`: VID header offset (default: the first sub-page after the EC
    /// header).
    pub vid_hdr_offset: Option<u32>,
    /// `-e`: use this erase counter for every block.
    pub ec: Option<u64>,
    /// `-Q`: image sequence number (default: the image's, else `random`).
    pub image_seq: Option<u32>,
    /// `-y`: go on where mtd-utils would ask (foreign data, few valid
    /// counters).
    pub yes: bool,
    /// `-n`: don't write a volume table (without an image).
    pub no_volume_table: bool,
}

/// What a format did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The scan before formatting.
    pub scan: Scan,
    /// Image PEBs written.
    pub image_pebs: u64,
    /// Blocks given a fresh EC header (and the volume table).
    pub formatted: u64,
    /// Blocks marked bad during the format.
    pub new_bad: Vec<u64>,
    /// The counter used for blocks without a valid one.
    pub mean_ec: u64,
}

/// A failed format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The flash failed.
    #[error(transparent)]
    Flash(#[from] FlashError),
    /// Bad geometry for UBI.
    #[error(transparent)]
    Geometry(#[from] ImageError),
    /// The VID header would share the EC header's write unit (sub-page, or
    /// page on NAND without sub-pages): UBI could not write it later.
    #[error(
        "ubi: the VID header offset {vid} is in the EC header's {unit}-byte write unit (the \
         sub-page size; the whole page without sub-pages), where UBI could not write it: use \
         -O {unit} (and ubiattach -O {unit})"
    )]
    SubPage {
        /// VID header offset.
        vid: u32,
        /// The smallest write: the sub-page size in use.
        unit: u32,
    },
    /// `-s` asks for smaller writes than the flash accepts.
    #[error(
        "ubi: sub-page size {asked} is smaller than the {flash} bytes this flash writes at \
         least (its sub-page size)"
    )]
    SubPageTooSmall {
        /// `-s`.
        asked: u32,
        /// The flash's sub-page size.
        flash: u32,
    },
    /// mtd-utils would ask before going on; `-y` says yes.
    #[error("ubi: {0}; use -y to format anyway")]
    NeedsConfirmation(String),
    /// The image does not fit or is malformed.
    #[error("ubi: image: {0}")]
    Image(String),
    /// Reading the image failed.
    #[error("ubi: cannot read the image: {0}")]
    Read(#[source] io::Error),
    /// Too many blocks went bad in a row.
    #[error(
        "ubi: {MAX_CONSECUTIVE_BAD} consecutive bad blocks at block {block}; the flash is failing"
    )]
    FailingFlash {
        /// The last block that failed.
        block: u64,
    },
    /// No good blocks for the volume table.
    #[error("ubi: need at least 2 good eraseblocks, have {0}")]
    TooSmall(usize),
}

/// Scans every eraseblock's EC header.
pub fn scan(flash: &mut dyn Flash) -> Result<Scan, FormatError> {
    let g = flash.geometry();
    let mut blocks = Vec::with_capacity(usize::try_from(g.blocks()).unwrap_or(0));
    let mut hdr = [0u8; EC_HDR_SIZE];
    for block in 0..g.blocks() {
        if g.kind == FlashKind::Nand && flash.is_bad(block)? {
            blocks.push(BlockState::Bad);
            continue;
        }
        flash.read(g.block_offset(block), &mut hdr)?;
        let state = match EcHeader::parse(&hdr) {
            Ok(ec) if ec.ec <= MAX_ERASECOUNTER => BlockState::Ec(ec.ec),
            Ok(_) => BlockState::Corrupted,
            Err(_) if hdr.iter().all(|&b| b == 0xFF) => BlockState::Empty,
            Err(_) if hdr[..4] == EC_HDR_MAGIC.to_be_bytes() => BlockState::Corrupted,
            Err(_) => BlockState::Alien,
        };
        blocks.push(state);
    }
    Ok(Scan { blocks })
}

/// Inspects a flash like [`crate::inspect::scan`] does an image, skipping
/// (and reporting) bad blocks.
pub fn inspect(flash: &mut dyn Flash) -> Result<crate::inspect::Report, FormatError> {
    let g = flash.geometry();
    let mut scanner = crate::inspect::Scanner::new(g.erase_size)
        .map_err(|e| FormatError::Image(e.to_string()))?;
    let mut buf = vec![0u8; g.erase_size as usize];
    for block in 0..g.blocks() {
        if g.kind == FlashKind::Nand && flash.is_bad(block)? {
            scanner.push(None);
        } else {
            flash.read(g.block_offset(block), &mut buf)?;
            scanner.push(Some(&buf));
        }
    }
    Ok(scanner.finish())
}

/// Length of `buf` without its trailing all-0xFF `unit`-sized chunks
/// (mtd-utils' `drop_ffs`): those pages stay erased, as UBI expects.
pub fn drop_ffs(buf: &[u8], unit: usize) -> usize {
    let last = buf.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1);
    last.div_ceil(unit.max(1)) * unit.max(1)
}

/// Formats `flash`, writing `image` (a UBI image: whole PEBs, e.g. from
/// [`crate::image::Plan::write`], with its length) if given.
///
/// ```
/// use mtd::sim::SimFlash;
///
/// let mut flash = SimFlash::nand(64, 128 * 1024, 2048);
/// let opts = ubi::format::Options { vid_hdr_offset: Some(2048), image_seq: Some(1), ..Default::default() };
/// ubi::format::format(&mut flash, &opts, None)?;
/// // Formatting again keeps the history: every counter is now 1.
/// let report = ubi::format::format(&mut flash, &opts, None)?;
/// assert_eq!(report.scan.max_ec(), Some(0));
/// assert_eq!(ubi::format::scan(&mut flash)?.mean_ec(), 1);
/// # Ok::<(), ubi::format::FormatError>(())
/// ```
pub fn format(
    flash: &mut dyn Flash,
    opts: &Options,
    image: Option<(&mut dyn Read, u64)>,
) -> Result<Report, FormatError> {
    let fg = flash.geometry();
    let scan = scan(flash)?;
    let good = scan.good();
    if good < 2 {
        return Err(FormatError::TooSmall(good));
    }
    if scan.alien() > 0 && !opts.yes {
        return Err(FormatError::NeedsConfirmation(format!(
            "{} of {good} eraseblocks contain non-UBI data",
            scan.alien()
        )));
    }
    let mut override_ec = opts.ec;
    if override_ec.is_none() && scan.empty() < good {
        let percent = scan.valid() * 100 / good;
        if percent < 95 && !opts.yes {
            return Err(FormatError::NeedsConfirmation(format!(
                "only {} of {good} eraseblocks have a valid erase counter",
                scan.valid()
            )));
        }
        if percent < 50 {
            log::warn!("fewer than half the erase counters are valid: using 0 for all");
            override_ec = Some(0);
        }
    }
    let mean = scan.mean_ec();
    let ec_of = |block: u64| {
        override_ec.unwrap_or(match scan.blocks[block as usize] {
            BlockState::Ec(e) => e + 1,
            _ => mean,
        })
    };

    let peb = fg.erase_size;
    let page = fg.write_size;
    let subpage = opts.subpage_size.unwrap_or(fg.subpage_size);
    if subpage < fg.subpage_size {
        return Err(FormatError::SubPageTooSmall {
            asked: subpage,
            flash: fg.subpage_size,
        });
    }
    let (mut image, image_pebs) = match image {
        Some((reader, len)) => {
            if !len.is_multiple_of(u64::from(peb)) {
                return Err(FormatError::Image(format!(
                    "size {len} is not a multiple of the eraseblock size {peb}"
                )));
            }
            let pebs = len / u64::from(peb);
            if pebs > good as u64 {
                return Err(FormatError::Image(format!(
                    "{pebs} eraseblocks do not fit the {good} good ones of the flash"
                )));
            }
            (Some(reader), pebs)
        }
        None => (None, 0),
    };

    // The first image PEB gives the geometry when there is an image.
    let mut first: Option<Vec<u8>> = None;
    let mut image_seq = opts.image_seq;
    let mut vid_hdr_offset = opts.vid_hdr_offset;
    if let Some(reader) = image.as_mut().filter(|_| image_pebs > 0) {
        let mut buf = vec![0u8; peb as usize];
        reader.read_exact(&mut buf).map_err(FormatError::Read)?;
        let ec = EcHeader::parse(&buf)
            .map_err(|e| FormatError::Image(format!("first eraseblock: {e}")))?;
        image_seq = image_seq.or(Some(ec.image_seq));
        if vid_hdr_offset.is_some_and(|o| o != ec.vid_hdr_offset) {
            return Err(FormatError::Image(format!(
                "the image's VID header offset is {}, not the {} asked for",
                ec.vid_hdr_offset,
                vid_hdr_offset.unwrap_or(0)
            )));
        }
        vid_hdr_offset = Some(ec.vid_hdr_offset);
        first = Some(buf);
    }
    let geometry = Geometry::new(&Params {
        peb_size: peb,
        min_io_size: page,
        subpage_size: Some(subpage),
        vid_hdr_offset,
        ubi_version: crate::media::UBI_VERSION,
        image_seq: image_seq.unwrap_or_else(random_seq),
    })?;
    // A fresh EC header is written alone, in whole write units (mtd-utils'
    // `write_size`); UBI later writes the VID header in its own unit.
    let ec_len = EC_HDR_SIZE.div_ceil(subpage as usize) * subpage as usize;
    let vid_unit = geometry.vid_hdr_offset / subpage * subpage;
    if (vid_unit as usize) < ec_len {
        return Err(FormatError::SubPage {
            vid: geometry.vid_hdr_offset,
            unit: subpage,
        });
    }

    let mut report = Report {
        scan: scan.clone(),
        image_pebs: 0,
        formatted: 0,
        new_bad: Vec::new(),
        mean_ec: mean,
    };
    let vtbl = geometry.empty_vtbl();
    let mut layout_written = 0u32;
    // One buffer for every image PEB, one for every fresh EC header.
    let have_first = first.is_some();
    let mut peb_buf = first.unwrap_or_default();
    let mut pending = have_first;
    let mut ec_buf = vec![0xFF_u8; ec_len];
    let mut layout_buf: Vec<u8>;
    let mut consecutive_bad = 0;
    for block in 0..fg.blocks() {
        if scan.blocks[block as usize] == BlockState::Bad {
            continue;
        }
        let ec = ec_of(block);
        // What goes into this block.
        let data: &[u8] = if report.image_pebs < image_pebs {
            if !pending {
                peb_buf.resize(peb as usize, 0);
                image
                    .as_mut()
                    .expect("image_pebs > 0 only with an image")
                    .read_exact(&mut peb_buf)
                    .map_err(FormatError::Read)?;
            }
            pending = true;
            let mut hdr = EcHeader::parse(&peb_buf).map_err(|e| {
                FormatError::Image(format!("eraseblock {}: {e}", report.image_pebs))
            })?;
            hdr.ec = ec;
            hdr.image_seq = geometry.image_seq;
            peb_buf[..EC_HDR_SIZE].copy_from_slice(&hdr.to_bytes());
            &peb_buf[..drop_ffs(&peb_buf, page as usize)]
        } else if image_pebs == 0 && !opts.no_volume_table && layout_written < 2 {
            layout_buf = geometry.layout_peb(&vtbl, layout_written, ec);
            &layout_buf[..drop_ffs(&layout_buf, page as usize)]
        } else {
            ec_buf[..EC_HDR_SIZE].copy_from_slice(&geometry.ec_header(ec).to_bytes());
            &ec_buf
        };
        let result = flash
            .erase_block(block)
            .and_then(|()| flash.write(fg.block_offset(block), data));
        match result {
            Ok(()) => {
                consecutive_bad = 0;
                if report.image_pebs < image_pebs {
                    report.image_pebs += 1;
                    pending = false;
                } else {
                    if image_pebs == 0 && !opts.no_volume_table && layout_written < 2 {
                        layout_written += 1;
                    }
                    report.formatted += 1;
                }
            }
            Err(FlashError::Io { .. }) if fg.kind == FlashKind::Nand => {
                log::warn!("eraseblock {block} failed; marking it bad");
                flash.mark_bad(block)?;
                report.new_bad.push(block);
                consecutive_bad += 1;
                if consecutive_bad >= MAX_CONSECUTIVE_BAD {
                    return Err(FormatError::FailingFlash { block });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if report.image_pebs < image_pebs {
        return Err(FormatError::Image(format!(
            "only {} of {image_pebs} eraseblocks fit after blocks went bad",
            report.image_pebs
        )));
    }
    Ok(report)
}

/// A random image sequence number (`ubiformat` without `-Q` and image).
fn random_seq() -> u32 {
    let mut b = [0u8; 4];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u32::from_ne_bytes(b);
    }
    std::process::id()
}

#[cfg(test)]
mod tests {
    use mtd::sim::SimFlash;

    use super::*;
    use crate::image::Plan;
    use crate::inspect;

    const PEB: u32 = 128 * 1024;

    fn opts() -> Options {
        Options {
            vid_hdr_offset: Some(2048),
            image_seq: Some(9),
            ..Options::default()
        }
    }

    fn ecs(flash: &mut SimFlash) -> Vec<BlockState> {
        scan(flash).expect("scan").blocks
    }

    #[test]
    fn counters_go_up_by_one_per_format_and_bad_blocks_are_skipped() {
        let mut flash = SimFlash::nand(32, PEB, 2048).with_bad_blocks(&[5]);
        let r = format(&mut flash, &opts(), None).expect("empty flash");
        assert_eq!(r.formatted, 31);
        assert_eq!(ecs(&mut flash)[5], BlockState::Bad);
        assert_eq!(ecs(&mut flash)[0], BlockState::Ec(0));
        format(&mut flash, &opts(), None).expect("second");
        format(&mut flash, &opts(), None).expect("third");
        let blocks = ecs(&mut flash);
        assert!(blocks.iter().enumerate().all(|(i, b)| if i == 5 {
            *b == BlockState::Bad
        } else {
            *b == BlockState::Ec(2)
        }));
        // The layout volume is there: the kernel attaches with no volumes.
        let report = inspect::scan(&mut flash.contents(), PEB).expect("scan");
        assert!(report.vtbl.is_some(), "{:?}", report.vtbl_errors);
        assert!(report.volumes.is_empty());
        let on_flash = inspect(&mut flash).expect("inspect");
        assert_eq!(on_flash.pebs[5].state, inspect::PebState::Bad);
        assert_eq!(on_flash.ec_stats(), Some((2, 2, 2)));
    }

    #[test]
    fn missing_counters_get_the_mean_and_few_valid_need_yes() {
        let mut flash = SimFlash::nand(20, PEB, 2048);
        format(
            &mut flash,
            &Options {
                ec: Some(10),
                ..opts()
            },
            None,
        )
        .expect("ec 10");
        // Erase one block: 19 of 20 valid (95%) is fine without -y.
        flash.erase_block(3).expect("erase");
        format(&mut flash, &opts(), None).expect("95% valid");
        let b = ecs(&mut flash);
        assert_eq!(b[0], BlockState::Ec(11));
        assert_eq!(b[3], BlockState::Ec(10), "erased block gets the mean");
        // Two erased of 20 (90%): needs -y.
        flash.erase_block(1).expect("erase");
        flash.erase_block(2).expect("erase");
        let before = flash.contents().to_vec();
        let err = format(&mut flash, &opts(), None).expect_err("needs -y");
        assert!(matches!(err, FormatError::NeedsConfirmation(_)), "{err}");
        assert!(
            flash.contents() == before.as_slice(),
            "nothing written without -y"
        );
        format(
            &mut flash,
            &Options {
                yes: true,
                ..opts()
            },
            None,
        )
        .expect("with -y");
    }

    #[test]
    fn foreign_data_needs_yes() {
        let mut flash = SimFlash::nand(8, PEB, 2048);
        flash.write(0, &[0u8; 2048]).expect("program");
        let err = format(&mut flash, &opts(), None).expect_err("alien");
        assert!(err.to_string().contains("non-UBI data"), "{err}");
        format(
            &mut flash,
            &Options {
                yes: true,
                ..opts()
            },
            None,
        )
        .expect("with -y");
    }

    #[test]
    fn image_is_written_with_refreshed_counters_without_trailing_ff_pages() {
        let specs = crate::ini::parse(
            "[v]\nmode=ubi\nvol_id=0\nvol_size=1MiB\nvol_name=v\n[s]\nmode=ubi\nvol_id=1\nvol_size=1MiB\nvol_name=s\n",
        )
        .expect("ini");
        let mut p = Params::new(PEB, 2048, 77);
        p.vid_hdr_offset = Some(2048);
        let g = Geometry::new(&p).expect("geometry");
        let mut plan = Plan::new(g, 0, &specs, None).expect("plan");
        plan.volumes[1].source = crate::image::Source::Bytes(vec![0x42; 200_000]);
        plan.volumes[1].data_len = 200_000;
        let mut img = Vec::new();
        plan.write(&mut img).expect("image");
        let mut flash = SimFlash::nand(16, PEB, 2048).with_bad_blocks(&[1]);
        format(
            &mut flash,
            &Options {
                ec: Some(4),
                ..opts()
            },
            None,
        )
        .expect("pre-format");
        let len = img.len() as u64;
        let r = format(&mut flash, &opts(), Some((&mut img.as_slice(), len))).expect("flash");
        assert_eq!(r.image_pebs, 4);
        assert_eq!(r.formatted, 11);
        // Image PEB 1 went to block 2 (block 1 is bad).
        let report = inspect::scan(&mut flash.contents(), PEB).expect("scan");
        assert_eq!(report.volumes[&1].lebs.get(&0), Some(&3));
        assert!(report
            .pebs
            .iter()
            .all(|p| p.ec.is_none_or(|e| e.ec == 5 && e.image_seq == 9)));
        // The rest of a written image PEB stays erased.
        let last_data = 4 * PEB as usize + 4096 + (200_000 - 126_976);
        assert!(flash.contents()[last_data + 2048..5 * PEB as usize]
            .iter()
            .all(|&b| b == 0xFF));
        assert_eq!(drop_ffs(&[1, 0xFF, 0xFF, 0xFF], 2), 2);
        assert_eq!(drop_ffs(&[0xFF; 4], 2), 0);
    }

    #[test]
    fn bad_images_are_refused_before_writing() {
        let mut flash = SimFlash::nand(4, PEB, 2048);
        let img = vec![0u8; PEB as usize + 1];
        let err = format(
            &mut flash,
            &opts(),
            Some((&mut img.as_slice(), img.len() as u64)),
        )
        .expect_err("not whole PEBs");
        assert!(err.to_string().contains("not a multiple"), "{err}");
        let img = vec![0xFFu8; 5 * PEB as usize];
        let err = format(
            &mut flash,
            &opts(),
            Some((&mut img.as_slice(), img.len() as u64)),
        )
        .expect_err("too big");
        assert!(err.to_string().contains("do not fit"), "{err}");
        assert!(flash.contents().iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn sub_page_layouts_need_a_flash_that_writes_sub_pages() {
        // Whole-page NAND: the VID header needs its own page.
        let mut flash = SimFlash::nand(4, PEB, 2048);
        let o = Options {
            vid_hdr_offset: Some(512),
            ..opts()
        };
        let err = format(&mut flash, &o, None).expect_err("-O 512");
        assert!(
            matches!(
                err,
                FormatError::SubPage {
                    vid: 512,
                    unit: 2048
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("use -O 2048"), "{err}");
        let o = Options {
            vid_hdr_offset: None,
            subpage_size: Some(512),
            ..opts()
        };
        assert!(matches!(
            format(&mut flash, &o, None),
            Err(FormatError::SubPageTooSmall {
                asked: 512,
                flash: 2048
            })
        ));
        assert!(flash.contents().iter().all(|&b| b == 0xFF));
        // Its default is the second page.
        let o = Options {
            vid_hdr_offset: None,
            ..opts()
        };
        format(&mut flash, &o, None).expect("default layout");
        let report = inspect(&mut flash).expect("inspect");
        assert_eq!(report.pebs[0].ec.map(|e| e.vid_hdr_offset), Some(2048));
    }

    fn subpage_nand(blocks: u64) -> SimFlash {
        SimFlash::new(
            mtd::Geometry::new(FlashKind::Nand, blocks * u64::from(PEB), PEB, 2048)
                .with_subpage_size(512),
        )
    }

    #[test]
    fn sub_page_nand_gets_the_vid_header_in_the_first_page_like_mtd_utils() {
        let mut flash = subpage_nand(8).with_bad_blocks(&[2]);
        let o = Options {
            vid_hdr_offset: None,
            ..opts()
        };
        let r = format(&mut flash, &o, None).expect("format");
        assert_eq!(r.formatted, 7);
        format(&mut flash, &o, None).expect("again");
        let report = inspect(&mut flash).expect("inspect");
        assert_eq!(report.ec_stats(), Some((1, 1, 1)));
        let ec = report.pebs[0].ec.expect("EC header");
        assert_eq!((ec.vid_hdr_offset, ec.data_offset), (512, 2048));
        assert!(report.vtbl.is_some(), "{:?}", report.vtbl_errors);
        // A fresh EC header is one 512-byte sub-page: the rest of the page
        // is erased, and UBI can program the VID header's sub-page later.
        let at = 3 * PEB as usize;
        assert!(flash.contents()[at + EC_HDR_SIZE..at + PEB as usize]
            .iter()
            .all(|&b| b == 0xFF));
        flash
            .write(at as u64 + 512, &[0u8; 512])
            .expect("VID header sub-page still unprogrammed");
        // -s 2048 on this flash: whole pages, VID header in the second.
        let o = Options {
            vid_hdr_offset: None,
            subpage_size: Some(2048),
            ..opts()
        };
        format(&mut flash, &o, None).expect("-s 2048");
        let report = inspect(&mut flash).expect("inspect");
        assert_eq!(report.pebs[0].ec.map(|e| e.vid_hdr_offset), Some(2048));
        assert_eq!(report.ec_stats(), Some((2, 2, 2)));
    }

    #[test]
    fn sub_page_image_is_written_to_sub_page_nand() {
        let specs =
            crate::ini::parse("[v]\nmode=ubi\nvol_id=0\nvol_size=1MiB\nvol_name=v\n").expect("ini");
        let mut p = Params::new(PEB, 2048, 5);
        p.subpage_size = Some(512);
        let g = Geometry::new(&p).expect("geometry");
        let mut plan = Plan::new(g, 0, &specs, None).expect("plan");
        plan.volumes[0].source = crate::image::Source::Bytes(vec![0x17; 300_000]);
        plan.volumes[0].data_len = 300_000;
        let mut img = Vec::new();
        plan.write(&mut img).expect("image");
        let mut flash = subpage_nand(12);
        let len = img.len() as u64;
        let r = format(&mut flash, &opts_image(), Some((&mut img.as_slice(), len))).expect("image");
        assert_eq!(r.image_pebs, 5);
        let report = inspect::scan(&mut flash.contents(), PEB).expect("scan");
        assert!(report
            .pebs
            .iter()
            .all(|p| p.ec.is_none_or(|e| e.vid_hdr_offset == 512 && e.ec == 0)));
        assert_eq!(report.volumes[&0].lebs.len(), 3);
        // The same image on whole-page NAND: refused before writing.
        let mut flash = SimFlash::nand(12, PEB, 2048);
        let err = format(&mut flash, &opts_image(), Some((&mut img.as_slice(), len)))
            .expect_err("whole pages");
        assert!(
            matches!(
                err,
                FormatError::SubPage {
                    vid: 512,
                    unit: 2048
                }
            ),
            "{err}"
        );
        assert!(flash.contents().iter().all(|&b| b == 0xFF));
    }

    fn opts_image() -> Options {
        Options {
            vid_hdr_offset: None,
            ..opts()
        }
    }
}
