//! The [`Flash`] trait: what a flash writer needs from a device.
//!
//! Writers are generic over this trait so that the same code runs on the
//! kernel's `/dev/mtdN` ([`MtdFlash`]) and on the simulator
//! (`sim::SimFlash`, feature `sim`), where every power cut can be tried.
//! Addresses are in bytes; erase operations take an erase-block index.

use std::io;

use crate::device::{DeviceError, Mtd, OpenMode};
use crate::spec::DeviceSpec;
use crate::sysfs;
use crate::types::MtdType;

/// What kind of memory a flash is, as far as writing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashKind {
    /// NOR (and RAM, ROM, DataFlash): any byte writable, programming only
    /// clears bits, no bad blocks.
    Nor,
    /// NAND: page-sized writes (or sub-page-sized, where the chip allows),
    /// each programmed once per erase, bad blocks to skip.
    Nand,
}

/// The geometry of a flash device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Geometry {
    /// NOR-like or NAND.
    pub kind: FlashKind,
    /// Total size in bytes (a multiple of `erase_size`).
    pub size: u64,
    /// Erase block size in bytes.
    pub erase_size: u32,
    /// Minimal write unit in bytes: 1 on NOR, the page size on NAND.
    pub write_size: u32,
    /// The smallest write the device accepts, in bytes: a *sub-page* on
    /// NAND that allows writing parts of a page (the kernel's sysfs
    /// `subpagesize`, e.g. 512 on a 2 KiB page), else `write_size`. A
    /// divisor of `write_size`; see [`Geometry::with_subpage_size`].
    pub subpage_size: u32,
    /// Whether the device may be erased and written.
    pub writable: bool,
}

impl Geometry {
    /// A geometry without sub-pages; `write_size` 0 is taken as 1.
    pub fn new(kind: FlashKind, size: u64, erase_size: u32, write_size: u32) -> Self {
        Self {
            kind,
            size,
            erase_size,
            write_size: write_size.max(1),
            subpage_size: write_size.max(1),
            writable: true,
        }
    }

    /// The same geometry with sub-pages of `subpage_size` bytes (NAND that
    /// accepts sub-page writes). A size that is not a power of two dividing
    /// `write_size` is ignored: the device is then written in whole pages.
    #[must_use]
    pub fn with_subpage_size(self, subpage_size: u32) -> Self {
        let fits = subpage_size.is_power_of_two()
            && subpage_size <= self.write_size
            && self.write_size.is_multiple_of(subpage_size);
        Self {
            subpage_size: if fits { subpage_size } else { self.write_size },
            ..self
        }
    }

    /// The same geometry, read-only.
    #[must_use]
    pub fn read_only(self) -> Self {
        Self {
            writable: false,
            ..self
        }
    }

    /// The number of erase blocks.
    pub fn blocks(&self) -> u64 {
        if self.erase_size == 0 {
            0
        } else {
            self.size / u64::from(self.erase_size)
        }
    }

    /// The byte offset of erase block `block`.
    pub fn block_offset(&self, block: u64) -> u64 {
        block * u64::from(self.erase_size)
    }
}

/// A failed flash operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlashError {
    /// The device returned an error.
    #[error("mtd: {op} at {offset:#x} failed: {source}")]
    Io {
        /// "read", "write", "erase", ...
        op: &'static str,
        /// The byte offset.
        offset: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An ioctl on the device failed (`MEMERASE64`, `MEMGETBADBLOCK`, ...);
    /// the [`DeviceError`] names the request and keeps the errno.
    #[error("mtd: {op} at {offset:#x} failed: {source}")]
    Device {
        /// "erase", "is_bad", "mark_bad".
        op: &'static str,
        /// The byte offset.
        offset: u64,
        /// The error.
        #[source]
        source: Box<DeviceError>,
    },
    /// An operation outside the device or not aligned as the device needs.
    #[error("mtd: {op} of {len} bytes at {offset:#x} is outside the device or not aligned to {align} bytes")]
    Range {
        /// "read", "write", "erase".
        op: &'static str,
        /// The byte offset.
        offset: u64,
        /// The length in bytes.
        len: u64,
        /// The alignment needed.
        align: u32,
    },
    /// The device is read-only.
    #[error("mtd: the device is read-only")]
    ReadOnly,
    /// The device failed in a way only its implementation describes: the
    /// cause is in `source` (for the simulator, a `mtd::sim::SimFault`:
    /// a power cut, a NAND page programmed twice). Writers treat it as a
    /// failure of the operation, never as a worn block.
    #[error("mtd: device fault at {offset:#x}: {source}")]
    Fault {
        /// Where the failed operation was.
        offset: u64,
        /// What happened.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl FlashError {
    /// Whether the device itself reported an I/O failure
    /// ([`Io`](Self::Io) or [`Device`](Self::Device)): on NAND, a block
    /// that fails to erase this way is worn out.
    pub fn is_device_failure(&self) -> bool {
        matches!(self, FlashError::Io { .. } | FlashError::Device { .. })
    }
}

/// Raw access to one flash device (or partition).
///
/// Implemented by [`MtdFlash`] (a kernel MTD device) and
/// `sim::SimFlash` (a simulated one, feature `sim`).
pub trait Flash {
    /// The device's geometry.
    fn geometry(&self) -> Geometry;
    /// Reads `buf.len()` bytes at byte `offset`.
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FlashError>;
    /// Erases erase block `block` (every byte becomes `0xff`).
    fn erase_block(&mut self, block: u64) -> Result<(), FlashError>;
    /// Programs `data` at byte `offset`; offset and length must be multiples
    /// of [`Geometry::subpage_size`] (which is [`Geometry::write_size`] on
    /// flash without sub-pages), and the range erased beforehand. On NAND
    /// each sub-page is programmed once per erase.
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), FlashError>;
    /// Whether erase block `block` is marked bad (always `false` on NOR).
    fn is_bad(&mut self, block: u64) -> Result<bool, FlashError>;
    /// Marks erase block `block` bad.
    fn mark_bad(&mut self, block: u64) -> Result<(), FlashError>;
}

/// Checks that `[offset, offset + len)` lies inside the device and is
/// aligned to `align`.
pub(crate) fn check_range(
    geometry: &Geometry,
    op: &'static str,
    offset: u64,
    len: u64,
    align: u32,
) -> Result<(), FlashError> {
    let align64 = u64::from(align.max(1));
    let inside = offset
        .checked_add(len)
        .is_some_and(|end| end <= geometry.size);
    if !inside || !offset.is_multiple_of(align64) || !len.is_multiple_of(align64) {
        return Err(FlashError::Range {
            op,
            offset,
            len,
            align,
        });
    }
    Ok(())
}

/// A kernel MTD device behind the [`Flash`] trait.
///
/// # Example
///
/// ```no_run
/// use mtd::{DeviceSpec, Flash, MtdFlash, OpenMode};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut flash = MtdFlash::open(&"mtd:firmware".parse()?, OpenMode::ReadOnly)?;
/// let mut first = vec![0; flash.geometry().erase_size as usize];
/// flash.read(0, &mut first)?;
/// println!("block 0 bad: {}", flash.is_bad(0)?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MtdFlash {
    mtd: Mtd,
    geometry: Geometry,
}

impl MtdFlash {
    /// Opens the device `spec` names and reads its geometry.
    pub fn open(spec: &DeviceSpec, mode: OpenMode) -> Result<Self, DeviceError> {
        Self::new(Mtd::open(spec, mode)?)
    }

    /// Wraps an open device, reading its geometry with `MEMGETINFO` (and its
    /// 64-bit size and sub-page size from sysfs where there is one).
    ///
    /// A system without `/sys/class/mtd`, or without this device in it,
    /// gets the `MEMGETINFO` geometry (32-bit size, whole pages). A
    /// `/sys/class/mtd` that is there but cannot be read or parsed is an
    /// error ([`DeviceError::Sysfs`]): a geometry guessed without it could
    /// write sub-pages a NAND chip refuses.
    /// [`Geometry::writable`]
    /// says whether the device may be written (`MTD_WRITEABLE`); erasing
    /// and writing also need it opened [`OpenMode::ReadWrite`].
    pub fn new(mtd: Mtd) -> Result<Self, DeviceError> {
        let info = mtd.info()?;
        let sysfs = sysfs::list()?.into_iter().find(|d| d.index == mtd.index());
        let size = sysfs.as_ref().map_or(u64::from(info.size), |d| d.size);
        let kind = if info.mtd_type.is_nand() {
            FlashKind::Nand
        } else {
            FlashKind::Nor
        };
        let mut geometry = Geometry::new(kind, size, info.erase_size, info.write_size);
        // Without sysfs (or `subpagesize`) whole pages: always accepted.
        if let Some(sub) = sysfs.and_then(|d| d.sub_page_size) {
            geometry = geometry.with_subpage_size(sub);
        }
        // What the device allows; an fd opened read-only is refused by
        // erase and write themselves, so that a dry run on it plans like
        // the real thing.
        if !info.writable() {
            geometry = geometry.read_only();
        }
        if info.mtd_type == MtdType::Ubi {
            log::debug!("{} is a gluebi volume", mtd.path().display());
        }
        Ok(Self { mtd, geometry })
    }

    fn writable(&self) -> bool {
        self.geometry.writable && self.mtd.mode() == OpenMode::ReadWrite
    }

    /// The open device.
    pub fn device(&self) -> &Mtd {
        &self.mtd
    }

    fn io_error(op: &'static str, offset: u64) -> impl FnOnce(io::Error) -> FlashError {
        move |source| FlashError::Io { op, offset, source }
    }

    fn device_error(op: &'static str, offset: u64) -> impl FnOnce(DeviceError) -> FlashError {
        move |source| FlashError::Device {
            op,
            offset,
            source: Box::new(source),
        }
    }
}

impl Flash for MtdFlash {
    fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FlashError> {
        check_range(&self.geometry, "read", offset, buf.len() as u64, 1)?;
        self.mtd
            .read_at(offset, buf)
            .map_err(Self::io_error("read", offset))
    }

    fn erase_block(&mut self, block: u64) -> Result<(), FlashError> {
        if !self.writable() {
            return Err(FlashError::ReadOnly);
        }
        let es = u64::from(self.geometry.erase_size);
        let offset = self.geometry.block_offset(block);
        check_range(
            &self.geometry,
            "erase",
            offset,
            es,
            self.geometry.erase_size,
        )?;
        self.mtd
            .erase(offset, es)
            .map_err(Self::device_error("erase", offset))
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), FlashError> {
        if !self.writable() {
            return Err(FlashError::ReadOnly);
        }
        check_range(
            &self.geometry,
            "write",
            offset,
            data.len() as u64,
            self.geometry.subpage_size,
        )?;
        self.mtd
            .write_at(offset, data)
            .map_err(Self::io_error("write", offset))
    }

    fn is_bad(&mut self, block: u64) -> Result<bool, FlashError> {
        if self.geometry.kind != FlashKind::Nand {
            return Ok(false);
        }
        let offset = self.geometry.block_offset(block);
        self.mtd
            .is_bad_block(offset)
            .map_err(Self::device_error("bad block query", offset))
    }

    fn mark_bad(&mut self, block: u64) -> Result<(), FlashError> {
        let offset = self.geometry.block_offset(block);
        self.mtd
            .mark_bad_block(offset)
            .map_err(Self::device_error("bad block marking", offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_blocks_and_offsets() {
        let g = Geometry::new(FlashKind::Nand, 1 << 20, 128 << 10, 2048);
        assert_eq!(g.blocks(), 8);
        assert_eq!(g.block_offset(3), 3 * (128 << 10));
        assert!(g.writable);
        assert!(!g.read_only().writable);
        assert_eq!(Geometry::new(FlashKind::Nor, 0, 0, 0).blocks(), 0);
        assert_eq!(Geometry::new(FlashKind::Nor, 64, 16, 0).write_size, 1);
        assert_eq!(g.subpage_size, 2048);
        assert_eq!(g.with_subpage_size(512).subpage_size, 512);
        assert_eq!(g.with_subpage_size(2048).subpage_size, 2048);
        for odd in [0, 3, 768, 4096] {
            assert_eq!(g.with_subpage_size(odd).subpage_size, 2048, "{odd}");
        }
        assert_eq!(g.with_subpage_size(512).read_only().subpage_size, 512);
    }

    #[test]
    fn range_checks() {
        let g = Geometry::new(FlashKind::Nand, 4096, 1024, 512);
        assert!(check_range(&g, "write", 512, 512, 512).is_ok());
        assert!(check_range(&g, "write", 3584, 512, 512).is_ok());
        assert!(check_range(&g, "write", 256, 512, 512).is_err());
        assert!(check_range(&g, "write", 512, 100, 512).is_err());
        assert!(check_range(&g, "write", 4096, 512, 512).is_err());
        assert!(check_range(&g, "read", u64::MAX, 2, 1).is_err());
        let msg = check_range(&g, "write", 256, 512, 512)
            .expect_err("unaligned")
            .to_string();
        assert_eq!(
            msg,
            "mtd: write of 512 bytes at 0x100 is outside the device or not aligned to 512 bytes"
        );
    }
}
