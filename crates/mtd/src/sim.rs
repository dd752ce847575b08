//! A simulated flash with the semantics of real chips and fault injection.
//!
//! Kernel devices cannot lose power on demand; [`SimFlash`] can, after any
//! number of bytes, which is what lets the writer be tested against every
//! possible power cut. It models:
//!
//! - **NOR**: programming only clears bits (`old & new`), erase sets a whole
//!   block to `0xff`, any byte is writable.
//! - **NAND**: writes are whole pages, or whole sub-pages where the
//!   geometry has them ([`Geometry::with_subpage_size`]); each page (or
//!   sub-page) is programmed once per erase (a second program is an error,
//!   as it corrupts real chips); bad blocks from the factory
//!   ([`SimFlash::with_bad_blocks`]) and at run time ([`Faults::fail_erase`]
//!   / [`Faults::fail_write`], then [`Flash::mark_bad`]); erasing or
//!   writing a bad block fails.
//! - **Power cuts** ([`Faults::power_cut_after_bytes`]): every programmed
//!   byte and every erased byte costs one unit of a budget; when it runs out
//!   the operation stops where it is and the flash is off until
//!   [`SimFlash::power_on`]. An interrupted NOR write leaves a programmed
//!   prefix; an interrupted NAND page program leaves the page unprogrammed
//!   (the chip latches a whole page, or sub-page); an interrupted erase
//!   leaves an erased prefix of the block and old data after it.
//!   [`Faults::power_cut_after_erases`] cuts before the next erase instead.
//! - **Bit flips** ([`Faults::read_bit_flips`]): the next reads return one
//!   flipped bit each, as an uncorrectable read would.
//!
//! [`Counters`] record erases and writes so that tests can assert what an
//! update cost.
//!
//! # Example
//!
//! ```
//! use mtd::sim::{Faults, SimFlash};
//! use mtd::Flash;
//!
//! let mut nor = SimFlash::nor(4, 4096);
//! nor.write(0, &[0x0f])?;
//! nor.write(0, &[0xf0])?; // NOR programming only clears bits
//! let mut b = [0u8; 1];
//! nor.read(0, &mut b)?;
//! assert_eq!(b, [0x00]);
//! nor.erase_block(0)?;
//! assert_eq!(nor.counters().erases, 1);
//!
//! nor.set_faults(Faults { power_cut_after_bytes: Some(10), ..Faults::default() });
//! assert!(nor.write(0, &[0; 100]).is_err()); // 10 bytes made it
//! nor.power_on();
//! # Ok::<(), mtd::FlashError>(())
//! ```

use std::io;

use crate::flash::{check_range, Flash, FlashError, FlashKind, Geometry};

/// A fault only the simulator has, reported as [`FlashError::Fault`] with
/// this as its `source` ([`SimFault::of`] finds it): production code has
/// no variant for what cannot happen on a kernel device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimFault {
    /// The power went off. Nothing works until [`SimFlash::power_on`].
    #[error("simulated power cut")]
    PowerCut {
        /// Where the interrupted operation was.
        offset: u64,
    },
    /// A NAND page was programmed twice without an erase.
    #[error("NAND page programmed twice without an erase")]
    Reprogram {
        /// The page.
        offset: u64,
    },
}

impl SimFault {
    /// The simulator fault behind `e`, if it is one.
    pub fn of(e: &FlashError) -> Option<&SimFault> {
        match e {
            FlashError::Fault { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }
}

impl From<SimFault> for FlashError {
    fn from(f: SimFault) -> FlashError {
        let offset = match f {
            SimFault::PowerCut { offset } | SimFault::Reprogram { offset } => offset,
        };
        FlashError::Fault {
            offset,
            source: Box::new(f),
        }
    }
}

/// Faults to inject into a [`SimFlash`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Cut the power after this many bytes of work (bytes programmed plus
    /// bytes erased) from now.
    pub power_cut_after_bytes: Option<u64>,
    /// Cut the power before the erase that follows this many erases from now.
    pub power_cut_after_erases: Option<u64>,
    /// Erasing these blocks fails with `EIO` (they are going bad).
    pub fail_erase: Vec<u64>,
    /// Programming these blocks fails with `EIO`.
    pub fail_write: Vec<u64>,
    /// The next this many reads each return one flipped bit.
    pub read_bit_flips: u32,
}

/// What a [`SimFlash`] was asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Block erases started.
    pub erases: u64,
    /// Write calls.
    pub writes: u64,
    /// Bytes passed to write calls.
    pub bytes_written: u64,
    /// Read calls.
    pub reads: u64,
}

/// A simulated NOR or NAND flash, held in memory.
#[derive(Debug, Clone)]
pub struct SimFlash {
    geometry: Geometry,
    data: Vec<u8>,
    /// NAND: whether each write unit (sub-page, or page) was programmed
    /// since its last erase.
    programmed: Vec<bool>,
    bad: Vec<bool>,
    faults: Faults,
    counters: Counters,
    powered: bool,
}

impl SimFlash {
    /// A simulated flash of `geometry`, erased (all `0xff`).
    ///
    /// # Panics
    ///
    /// If the geometry does not fit in memory or is inconsistent (erase size
    /// 0 or not a multiple of the write size, size not a multiple of the
    /// erase size): a test bug.
    pub fn new(geometry: Geometry) -> Self {
        let size = usize::try_from(geometry.size).expect("a simulated flash fits in memory");
        assert!(
            geometry.erase_size > 0
                && geometry.erase_size.is_multiple_of(geometry.write_size)
                && geometry.size.is_multiple_of(u64::from(geometry.erase_size)),
            "inconsistent geometry {geometry:?}"
        );
        let pages = size / geometry.subpage_size as usize;
        let blocks = usize::try_from(geometry.blocks()).expect("fits in memory");
        Self {
            geometry,
            data: vec![0xff; size],
            programmed: vec![false; pages],
            bad: vec![false; blocks],
            faults: Faults::default(),
            counters: Counters::default(),
            powered: true,
        }
    }

    /// An erased NOR flash of `blocks` blocks of `erase_size` bytes.
    pub fn nor(blocks: u64, erase_size: u32) -> Self {
        Self::new(Geometry::new(
            FlashKind::Nor,
            blocks * u64::from(erase_size),
            erase_size,
            1,
        ))
    }

    /// An erased NAND flash of `blocks` blocks of `erase_size` bytes and
    /// pages of `page_size` bytes, written in whole pages (see
    /// [`SimFlash::new`] with [`Geometry::with_subpage_size`] for
    /// sub-pages).
    pub fn nand(blocks: u64, erase_size: u32, page_size: u32) -> Self {
        Self::new(Geometry::new(
            FlashKind::Nand,
            blocks * u64::from(erase_size),
            erase_size,
            page_size,
        ))
    }

    /// The same flash with these blocks bad from the factory.
    ///
    /// # Panics
    ///
    /// If a block is outside the flash.
    #[must_use]
    pub fn with_bad_blocks(mut self, blocks: &[u64]) -> Self {
        for &b in blocks {
            *self
                .bad
                .get_mut(b as usize)
                .expect("bad block inside the flash") = true;
        }
        self
    }

    /// The same flash, read-only.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.geometry = self.geometry.read_only();
        self
    }

    /// Sets the whole content directly (not counted, no faults), as if the
    /// flash had been written earlier; NAND pages (sub-pages) holding
    /// anything but `0xff` count as programmed.
    ///
    /// # Panics
    ///
    /// If `content` is longer than the flash.
    pub fn load(&mut self, content: &[u8]) {
        assert!(content.len() <= self.data.len(), "content fits");
        self.data.fill(0xff);
        self.data[..content.len()].copy_from_slice(content);
        let page = self.geometry.subpage_size as usize;
        for (flag, chunk) in self.programmed.iter_mut().zip(self.data.chunks(page)) {
            *flag = chunk.iter().any(|&b| b != 0xff);
        }
    }

    /// The raw content, as the chip holds it now.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// What was done so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Sets the counters back to zero.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// Arms faults, replacing the ones armed before.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Restores power after a cut; faults are disarmed, content is kept.
    pub fn power_on(&mut self) {
        self.powered = true;
        self.faults = Faults::default();
    }

    /// Whether the power is on.
    pub fn powered(&self) -> bool {
        self.powered
    }

    fn check_power(&self, offset: u64) -> Result<(), FlashError> {
        if self.powered {
            Ok(())
        } else {
            Err(SimFault::PowerCut { offset }.into())
        }
    }

    /// Takes up to `want` units from the power budget: how many are granted
    /// before the cut (all of them if no cut is armed).
    fn spend(&mut self, want: u64) -> u64 {
        match &mut self.faults.power_cut_after_bytes {
            None => want,
            Some(left) => {
                let granted = want.min(*left);
                *left -= granted;
                granted
            }
        }
    }

    fn eio(op: &'static str, offset: u64) -> FlashError {
        FlashError::Io {
            op,
            offset,
            source: io::Error::from_raw_os_error(5),
        }
    }

    fn block_of(&self, offset: u64) -> u64 {
        offset / u64::from(self.geometry.erase_size)
    }
}

impl Flash for SimFlash {
    fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FlashError> {
        self.check_power(offset)?;
        check_range(&self.geometry, "read", offset, buf.len() as u64, 1)?;
        self.counters.reads += 1;
        let start = offset as usize;
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        if self.faults.read_bit_flips > 0 && !buf.is_empty() {
            self.faults.read_bit_flips -= 1;
            buf[buf.len() / 2] ^= 0x10;
        }
        Ok(())
    }

    fn erase_block(&mut self, block: u64) -> Result<(), FlashError> {
        let offset = self.geometry.block_offset(block);
        self.check_power(offset)?;
        if !self.geometry.writable {
            return Err(FlashError::ReadOnly);
        }
        let es = self.geometry.erase_size;
        check_range(&self.geometry, "erase", offset, u64::from(es), es)?;
        if self.bad[block as usize] || self.faults.fail_erase.contains(&block) {
            return Err(Self::eio("erase", offset));
        }
        if let Some(left) = &mut self.faults.power_cut_after_erases {
            if *left == 0 {
                self.powered = false;
                return Err(SimFault::PowerCut { offset }.into());
            }
            *left -= 1;
        }
        self.counters.erases += 1;
        let granted = self.spend(u64::from(es)) as usize;
        let start = offset as usize;
        self.data[start..start + granted].fill(0xff);
        let page = self.geometry.subpage_size as usize;
        let first_page = start / page;
        for p in first_page..first_page + granted / page {
            self.programmed[p] = false;
        }
        if granted < es as usize {
            self.powered = false;
            return Err(SimFault::PowerCut {
                offset: offset + granted as u64,
            }
            .into());
        }
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), FlashError> {
        self.check_power(offset)?;
        if !self.geometry.writable {
            return Err(FlashError::ReadOnly);
        }
        let page = self.geometry.subpage_size;
        check_range(&self.geometry, "write", offset, data.len() as u64, page)?;
        let es = u64::from(self.geometry.erase_size);
        let last = offset + (data.len() as u64).saturating_sub(1);
        for block in self.block_of(offset)..=self.block_of(last) {
            if data.is_empty() {
                break;
            }
            if self.bad[block as usize] || self.faults.fail_write.contains(&block) {
                return Err(Self::eio("write", block * es));
            }
        }
        self.counters.writes += 1;
        self.counters.bytes_written += data.len() as u64;
        let start = offset as usize;
        match self.geometry.kind {
            FlashKind::Nor => {
                let granted = self.spend(data.len() as u64) as usize;
                for (cell, &b) in self.data[start..start + granted].iter_mut().zip(data) {
                    *cell &= b;
                }
                if granted < data.len() {
                    self.powered = false;
                    return Err(SimFault::PowerCut {
                        offset: offset + granted as u64,
                    }
                    .into());
                }
            }
            FlashKind::Nand => {
                let page = page as usize;
                for (i, chunk) in data.chunks(page).enumerate() {
                    let at = start + i * page;
                    if self.programmed[at / page] {
                        return Err(SimFault::Reprogram { offset: at as u64 }.into());
                    }
                    if self.spend(page as u64) < page as u64 {
                        self.powered = false;
                        return Err(SimFault::PowerCut { offset: at as u64 }.into());
                    }
                    self.data[at..at + page].copy_from_slice(chunk);
                    self.programmed[at / page] = true;
                }
            }
        }
        Ok(())
    }

    fn is_bad(&mut self, block: u64) -> Result<bool, FlashError> {
        let offset = self.geometry.block_offset(block);
        self.check_power(offset)?;
        if block >= self.geometry.blocks() {
            return Err(FlashError::Range {
                op: "bad block query",
                offset,
                len: u64::from(self.geometry.erase_size),
                align: self.geometry.erase_size,
            });
        }
        Ok(self.bad[block as usize])
    }

    fn mark_bad(&mut self, block: u64) -> Result<(), FlashError> {
        let offset = self.geometry.block_offset(block);
        self.check_power(offset)?;
        if self.geometry.kind != FlashKind::Nand {
            return Err(FlashError::Io {
                op: "bad block marking",
                offset,
                source: io::Error::from_raw_os_error(95),
            });
        }
        let slot = self.bad.get_mut(block as usize).ok_or(FlashError::Range {
            op: "bad block marking",
            offset,
            len: 0,
            align: 1,
        })?;
        *slot = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(f: &mut SimFlash) -> Vec<u8> {
        let mut v = vec![0; f.geometry().size as usize];
        f.read(0, &mut v).expect("read");
        v
    }

    #[test]
    fn nor_program_clears_bits_and_erase_sets_them() {
        let mut f = SimFlash::nor(2, 16);
        f.write(3, &[0b1010_1010]).expect("write");
        f.write(3, &[0b1100_1100]).expect("write");
        assert_eq!(read_all(&mut f)[3], 0b1000_1000);
        f.erase_block(0).expect("erase");
        assert!(read_all(&mut f).iter().all(|&b| b == 0xff));
        assert_eq!(f.counters().erases, 1);
        assert_eq!(f.counters().writes, 2);
        assert_eq!(f.counters().bytes_written, 2);
    }

    #[test]
    fn nand_pages_are_programmed_once_per_erase() {
        let mut f = SimFlash::nand(2, 64, 16);
        f.write(16, &[1; 16]).expect("write");
        assert!(matches!(
            f.write(16, &[1; 16]),
            Err(e) if SimFault::of(&e) == Some(&SimFault::Reprogram { offset: 16 })
        ));
        assert!(matches!(
            f.write(8, &[1; 16]),
            Err(FlashError::Range { align: 16, .. })
        ));
        f.erase_block(0).expect("erase");
        f.write(16, &[2; 16]).expect("write after erase");
        // load() marks pages with data programmed.
        f.load(&[0; 8]);
        assert!(matches!(
            f.write(0, &[0; 16]),
            Err(e) if matches!(SimFault::of(&e), Some(SimFault::Reprogram { .. }))
        ));
        f.write(16, &[0; 16]).expect("page 1 is free after load");
    }

    #[test]
    fn nand_sub_pages_are_programmed_once_per_erase() {
        let g = Geometry::new(FlashKind::Nand, 128, 64, 16).with_subpage_size(4);
        let mut f = SimFlash::new(g);
        f.write(0, &[1; 4]).expect("first sub-page");
        f.write(4, &[2; 4])
            .expect("second sub-page of the same page");
        assert!(matches!(
            f.write(4, &[3; 4]),
            Err(e) if SimFault::of(&e) == Some(&SimFault::Reprogram { offset: 4 })
        ));
        assert!(matches!(
            f.write(2, &[3; 4]),
            Err(FlashError::Range { align: 4, .. })
        ));
        f.write(8, &[3; 8]).expect("the rest of the page");
        assert_eq!(
            &read_all(&mut f)[..16],
            &[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3]
        );
        f.erase_block(0).expect("erase");
        f.write(4, &[4; 4]).expect("after erase");
        // A whole-page geometry refuses the same sub-page write.
        assert!(matches!(
            SimFlash::nand(2, 64, 16).write(0, &[1; 4]),
            Err(FlashError::Range { align: 16, .. })
        ));
    }

    #[test]
    fn bad_blocks_fail_erase_and_write() {
        let mut f = SimFlash::nand(4, 64, 16).with_bad_blocks(&[2]);
        assert!(f.is_bad(2).expect("query"));
        assert!(!f.is_bad(1).expect("query"));
        assert!(f.erase_block(2).is_err());
        assert!(f.write(128, &[0; 16]).is_err());
        assert!(f.is_bad(4).is_err());
        f.set_faults(Faults {
            fail_erase: vec![1],
            ..Faults::default()
        });
        let err = f.erase_block(1).expect_err("going bad");
        // The errno text is the C library's (glibc and musl word EIO
        // differently); the prefix and the number are ours.
        let msg = err.to_string();
        assert!(msg.starts_with("mtd: erase at 0x40 failed: "), "{msg}");
        assert!(msg.ends_with("(os error 5)"), "{msg}");
        f.mark_bad(1).expect("mark");
        assert!(f.is_bad(1).expect("query"));
        assert!(SimFlash::nor(1, 16).mark_bad(0).is_err());
    }

    #[test]
    fn power_cut_mid_nor_write_leaves_a_prefix() {
        let mut f = SimFlash::nor(1, 16);
        f.set_faults(Faults {
            power_cut_after_bytes: Some(3),
            ..Faults::default()
        });
        assert!(matches!(
            f.write(0, &[0; 8]),
            Err(e) if SimFault::of(&e) == Some(&SimFault::PowerCut { offset: 3 })
        ));
        assert!(!f.powered());
        assert!(matches!(
            f.read(0, &mut [0; 1]),
            Err(e) if matches!(SimFault::of(&e), Some(SimFault::PowerCut { .. }))
        ));
        f.power_on();
        assert_eq!(&read_all(&mut f)[..5], &[0, 0, 0, 0xff, 0xff]);
    }

    #[test]
    fn power_cut_mid_erase_leaves_an_erased_prefix() {
        let mut f = SimFlash::nor(1, 16);
        f.load(&[0; 16]);
        f.set_faults(Faults {
            power_cut_after_bytes: Some(4),
            ..Faults::default()
        });
        assert!(f.erase_block(0).is_err());
        f.power_on();
        let c = read_all(&mut f);
        assert_eq!(&c[..4], &[0xff; 4]);
        assert_eq!(&c[4..], &[0; 12]);
    }

    #[test]
    fn power_cut_mid_nand_page_leaves_it_unprogrammed() {
        let mut f = SimFlash::nand(1, 64, 16);
        f.set_faults(Faults {
            power_cut_after_bytes: Some(20),
            ..Faults::default()
        });
        assert!(matches!(
            f.write(0, &[0; 32]),
            Err(e) if SimFault::of(&e) == Some(&SimFault::PowerCut { offset: 16 })
        ));
        f.power_on();
        let c = read_all(&mut f);
        assert_eq!(&c[..16], &[0; 16]);
        assert_eq!(&c[16..32], &[0xff; 16]);
        f.write(16, &[1; 16])
            .expect("the cut page can still be programmed");
    }

    #[test]
    fn power_cut_after_erases_and_bit_flips() {
        let mut f = SimFlash::nor(3, 16);
        f.set_faults(Faults {
            power_cut_after_erases: Some(1),
            read_bit_flips: 1,
            ..Faults::default()
        });
        f.erase_block(0).expect("first erase");
        assert!(matches!(
            f.erase_block(1),
            Err(e) if SimFault::of(&e) == Some(&SimFault::PowerCut { offset: 16 })
        ));
        f.power_on();
        assert_eq!(f.counters().erases, 1);
        f.set_faults(Faults {
            read_bit_flips: 1,
            ..Faults::default()
        });
        let mut buf = [0xffu8; 4];
        f.read(0, &mut buf).expect("read");
        assert_eq!(buf, [0xff, 0xff, 0xef, 0xff]);
        f.read(0, &mut buf).expect("read");
        assert_eq!(buf, [0xff; 4]);
    }

    #[test]
    fn read_only_refuses_changes() {
        let mut f = SimFlash::nor(1, 16).read_only();
        assert!(matches!(f.erase_block(0), Err(FlashError::ReadOnly)));
        assert!(matches!(f.write(0, &[0]), Err(FlashError::ReadOnly)));
    }
}
