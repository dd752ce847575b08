//! Reading a UBI image or raw flash dump back: volumes, LEBs, erase
//! counters and CRC errors.
//!
//! The inspector walks the PEBs in order and classifies each one by its
//! headers, checking every CRC (EC and VID headers, volume-table records,
//! and the data of static volumes). It never trusts a length read from
//! flash without bounding it by the PEB size, so any input can be
//! inspected: damage is reported, not fatal.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::media::{
    is_erased, EcHeader, FormatError, VidHeader, VolType, VtblRecord, EC_HDR_MAGIC, EC_HDR_SIZE,
    LAYOUT_VOLUME_ID, VTBL_RECORD_SIZE,
};

/// What one PEB holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PebState {
    /// Marked bad on the flash: not read.
    Bad,
    /// All 0xFF: erased, no EC header (UBI will format it on attach).
    Erased,
    /// The EC header is damaged (or the PEB is not UBI).
    BadEcHeader(FormatError),
    /// Valid EC header, no VID header: a free PEB.
    Free,
    /// Valid EC header, damaged VID header.
    BadVidHeader(FormatError),
    /// Holds LEB `vid.lnum` of volume `vid.vol_id`.
    Used {
        /// The VID header.
        vid: VidHeader,
        /// For static volumes: whether the data CRC matched.
        data_crc_ok: Option<bool>,
    },
}

/// One PEB of the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peb {
    /// Index from the start of the image.
    pub index: u64,
    /// The EC header, if valid.
    pub ec: Option<EcHeader>,
    /// What it holds.
    pub state: PebState,
}

/// A volume as found in the volume table and the PEBs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Volume ID.
    pub id: u32,
    /// Its volume-table record.
    pub record: VtblRecord,
    /// LEB number -> PEB index, for the LEBs found.
    pub lebs: BTreeMap<u32, u64>,
    /// Static volumes: bytes of data (sum of the LEBs' `data_size`).
    pub data_bytes: u64,
    /// LEBs whose data CRC did not match.
    pub crc_errors: u32,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// PEB size the scan used.
    pub peb_size: u32,
    /// Every PEB, in order.
    pub pebs: Vec<Peb>,
    /// The volume table, if a valid copy was found (from the first valid
    /// layout-volume LEB).
    pub vtbl: Option<Vec<VtblRecord>>,
    /// Volume-table problems (damaged records, copies that differ).
    pub vtbl_errors: Vec<String>,
    /// User volumes, by ID.
    pub volumes: BTreeMap<u32, Volume>,
}

impl Report {
    /// Lowest, mean and highest erase counter of the PEBs with a valid EC
    /// header (`None` if there are none).
    pub fn ec_stats(&self) -> Option<(u64, u64, u64)> {
        let ecs: Vec<u64> = self
            .pebs
            .iter()
            .filter_map(|p| p.ec.map(|e| e.ec))
            .collect();
        let min = *ecs.iter().min()?;
        let max = *ecs.iter().max()?;
        let sum: u128 = ecs.iter().map(|&e| u128::from(e)).sum();
        let mean = u64::try_from(sum / ecs.len() as u128).expect("mean of u64s fits a u64");
        Some((min, mean, max))
    }

    /// PEBs whose EC header gives other VID header or data offsets than
    /// the first valid one: the kernel refuses to attach such a flash.
    pub fn inconsistent_offsets(&self) -> usize {
        let mut ecs = self.pebs.iter().filter_map(|p| p.ec);
        let Some(first) = ecs.next() else { return 0 };
        ecs.filter(|e| {
            (e.vid_hdr_offset, e.data_offset) != (first.vid_hdr_offset, first.data_offset)
        })
        .count()
    }

    /// PEBs whose headers or data failed a check.
    pub fn damaged(&self) -> usize {
        self.pebs
            .iter()
            .filter(|p| {
                matches!(
                    p.state,
                    PebState::BadEcHeader(_)
                        | PebState::BadVidHeader(_)
                        | PebState::Used {
                            data_crc_ok: Some(false),
                            ..
                        }
                )
            })
            .count()
    }
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Reading failed.
    #[error("ubi: cannot read the image: {0}")]
    Read(#[source] io::Error),
    /// The PEB size is unusable.
    #[error("ubi: bad eraseblock size {0}")]
    PebSize(u32),
    /// No EC header to learn the PEB size from.
    #[error("ubi: not a UBI image (no EC header magic \"UBI#\" found); give the eraseblock size")]
    NotUbi,
}

/// Guesses the PEB size of an image: the distance from the first EC
/// header to the next one, at a 1 KiB multiple (the way ubi_reader does).
pub fn guess_peb_size(head: &[u8]) -> Option<u32> {
    let magic = EC_HDR_MAGIC.to_be_bytes();
    if head.get(..4) != Some(&magic[..]) {
        return None;
    }
    (1024..head.len())
        .step_by(1024)
        .find(|&off| head.get(off..off + 4) == Some(&magic[..]))
        .and_then(|off| u32::try_from(off).ok())
}

/// Scans an image PEB by PEB. A short last PEB is scanned as far as it goes.
///
/// ```
/// use ubi::image::{Geometry, Params, Plan};
///
/// let specs = ubi::ini::parse("[data]\nmode=ubi\nvol_id=0\nvol_size=1MiB\nvol_name=data\n")?;
/// let plan = Plan::new(Geometry::new(&Params::new(65536, 512, 7))?, 3, &specs, None)?;
/// let mut image = Vec::new();
/// plan.write(&mut image)?;
///
/// let report = ubi::inspect::scan(&mut image.as_slice(), 65536)?;
/// assert_eq!(report.volumes[&0].record.name, b"data");
/// assert_eq!(report.ec_stats(), Some((3, 3, 3)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scan(input: &mut dyn Read, peb_size: u32) -> Result<Report, InspectError> {
    let mut scanner = Scanner::new(peb_size)?;
    let mut buf = vec![0u8; peb_size as usize];
    loop {
        let n = read_full(input, &mut buf).map_err(InspectError::Read)?;
        if n == 0 {
            break;
        }
        scanner.push(Some(&buf[..n]));
        if n < buf.len() {
            break;
        }
    }
    Ok(scanner.finish())
}

/// A scan fed one PEB at a time, for sources that are not a plain
/// [`Read`] (a flash with bad blocks, which are not read).
#[derive(Debug)]
pub struct Scanner {
    report: Report,
    layout_copies: Vec<Vec<u8>>,
}

impl Scanner {
    /// A scan of PEBs of `peb_size` bytes.
    pub fn new(peb_size: u32) -> Result<Self, InspectError> {
        if (peb_size as usize) < 2 * EC_HDR_SIZE + VTBL_RECORD_SIZE {
            return Err(InspectError::PebSize(peb_size));
        }
        Ok(Self {
            report: Report {
                peb_size,
                pebs: Vec::new(),
                vtbl: None,
                vtbl_errors: Vec::new(),
                volumes: BTreeMap::new(),
            },
            layout_copies: Vec::new(),
        })
    }

    /// Adds the next PEB: its bytes, or `None` for a bad block.
    pub fn push(&mut self, peb: Option<&[u8]>) {
        let index = self.report.pebs.len() as u64;
        let peb = match peb {
            Some(bytes) => classify(index, bytes, &mut self.layout_copies),
            None => Peb {
                index,
                ec: None,
                state: PebState::Bad,
            },
        };
        self.report.pebs.push(peb);
    }

    /// The report.
    pub fn finish(mut self) -> Report {
        read_vtbl(&mut self.report, &self.layout_copies);
        collect_volumes(&mut self.report);
        self.report
    }
}

fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn classify(index: u64, peb: &[u8], layout: &mut Vec<Vec<u8>>) -> Peb {
    let head = &peb[..peb.len().min(EC_HDR_SIZE)];
    let ec = match EcHeader::parse(peb) {
        Ok(ec) => ec,
        Err(_) if is_erased(head) => {
            return Peb {
                index,
                ec: None,
                state: PebState::Erased,
            }
        }
        Err(e) => {
            return Peb {
                index,
                ec: None,
                state: PebState::BadEcHeader(e),
            }
        }
    };
    let vid_off = (ec.vid_hdr_offset as usize).min(peb.len());
    let data_off = (ec.data_offset as usize).min(peb.len());
    let vid_bytes = &peb[vid_off..];
    let state = match VidHeader::parse(vid_bytes) {
        Err(_) if is_erased(&vid_bytes[..vid_bytes.len().min(64)]) => PebState::Free,
        Err(e) => PebState::BadVidHeader(e),
        Ok(vid) => {
            let data = &peb[data_off..];
            let data_crc_ok = if vid.vol_type == VolType::Static || vid.copy_flag != 0 {
                let len = (vid.data_size as usize).min(data.len());
                Some(len == vid.data_size as usize && crate::crc32(&data[..len]) == vid.data_crc)
            } else {
                None
            };
            if vid.vol_id == LAYOUT_VOLUME_ID {
                layout.push(data.to_vec());
            }
            PebState::Used { vid, data_crc_ok }
        }
    };
    Peb {
        index,
        ec: Some(ec),
        state,
    }
}

fn read_vtbl(report: &mut Report, copies: &[Vec<u8>]) {
    let mut tables: Vec<Vec<VtblRecord>> = Vec::new();
    for (copy, data) in copies.iter().enumerate() {
        let mut records = Vec::new();
        let mut ok = true;
        for (slot, chunk) in data.chunks_exact(VTBL_RECORD_SIZE).take(128).enumerate() {
            match VtblRecord::parse(chunk) {
                Ok(r) => records.push(r),
                Err(e) => {
                    ok = false;
                    report
                        .vtbl_errors
                        .push(format!("volume table copy {copy}, slot {slot}: {e}"));
                    records.push(VtblRecord::default());
                }
            }
        }
        if ok {
            tables.push(records);
        }
    }
    if tables.windows(2).any(|w| w[0] != w[1]) {
        report
            .vtbl_errors
            .push("the volume table copies differ".to_owned());
    }
    if copies.is_empty() {
        report.vtbl_errors.push("no layout volume found".to_owned());
    }
    report.vtbl = tables.into_iter().next();
}

fn collect_volumes(report: &mut Report) {
    if let Some(vtbl) = &report.vtbl {
        for (id, rec) in vtbl.iter().enumerate() {
            if !rec.is_empty() {
                let id = u32::try_from(id).expect("at most 128 slots");
                report.volumes.insert(
                    id,
                    Volume {
                        id,
                        record: rec.clone(),
                        lebs: BTreeMap::new(),
                        data_bytes: 0,
                        crc_errors: 0,
                    },
                );
            }
        }
    }
    for peb in &report.pebs {
        if let PebState::Used { vid, data_crc_ok } = &peb.state {
            if let Some(vol) = report.volumes.get_mut(&vid.vol_id) {
                vol.lebs.insert(vid.lnum, peb.index);
                if vid.vol_type == VolType::Static {
                    vol.data_bytes += u64::from(vid.data_size);
                }
                if *data_crc_ok == Some(false) {
                    vol.crc_errors += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_reported_not_fatal() {
        let mut data = vec![0x5Au8; 3 * 4096];
        data.extend(std::iter::repeat_n(0xFF, 4096));
        let report = scan(&mut data.as_slice(), 4096).expect("scans");
        assert_eq!(report.pebs.len(), 4);
        assert!(matches!(
            report.pebs[0].state,
            PebState::BadEcHeader(FormatError::BadMagic { .. })
        ));
        assert_eq!(report.pebs[3].state, PebState::Erased);
        assert_eq!(report.damaged(), 3);
        assert_eq!(report.vtbl, None);
        assert_eq!(report.ec_stats(), None);
        assert_eq!(report.inconsistent_offsets(), 0);
    }

    #[test]
    fn mixed_offsets_are_counted() {
        let mut data = Vec::new();
        for vid in [2048u32, 512, 2048, 512] {
            let ec = EcHeader {
                version: 1,
                ec: 0,
                vid_hdr_offset: vid,
                data_offset: 4096,
                image_seq: 1,
            };
            let mut peb = vec![0xFFu8; 8192];
            peb[..EC_HDR_SIZE].copy_from_slice(&ec.to_bytes());
            data.extend(peb);
        }
        let report = scan(&mut data.as_slice(), 8192).expect("scans");
        assert_eq!(report.inconsistent_offsets(), 2);
        assert!(report.pebs.iter().all(|p| p.state == PebState::Free));
    }

    #[test]
    fn tiny_peb_size_is_an_error() {
        assert!(matches!(
            scan(&mut [0u8; 10].as_slice(), 100),
            Err(InspectError::PebSize(100))
        ));
    }

    /// A valid 6-PEB image (4 KiB PEBs): layout volume, a static and a
    /// dynamic volume. The seed corpus the mutation test starts from.
    fn valid_image() -> Vec<u8> {
        use crate::image::{Geometry, Params, Plan, Source};
        let specs = crate::ini::parse(
            "[s]\nmode=ubi\nvol_id=0\nvol_size=8000\nvol_name=s\nvol_type=static\nimage=x\n\
             [d]\nmode=ubi\nvol_id=1\nvol_size=8000\nvol_name=d\n",
        )
        .expect("valid ini");
        let mut specs = specs;
        specs[0].image = None;
        let g = Geometry::new(&Params::new(4096, 64, 3)).expect("geometry");
        let mut plan = Plan::new(g, 1, &specs, None).expect("plan");
        for v in &mut plan.volumes {
            v.source = Source::Bytes(vec![0x5A; 5000]);
            v.data_len = 5000;
        }
        let mut out = Vec::new();
        plan.write(&mut out).expect("in memory");
        out
    }

    #[test]
    fn the_seed_image_reads_back() {
        let report = scan(&mut valid_image().as_slice(), 4096).expect("scans");
        assert_eq!(report.pebs.len(), 6);
        assert_eq!(report.damaged(), 0);
        assert_eq!(report.volumes[&0].data_bytes, 5000);
        assert_eq!(report.volumes[&1].lebs.len(), 2);
    }

    proptest::proptest! {
        /// Mutations of a valid image (valid magics and CRCs nearby, so
        /// the parsers get past their first checks): never a panic, and
        /// damage shows up as damage.
        #[test]
        fn mutated_images_never_panic(
            flips in proptest::collection::vec((0usize..6 * 4096, proptest::num::u8::ANY), 1..20),
            cut in 0usize..6 * 4096,
        ) {
            let mut img = valid_image();
            for (at, v) in flips {
                img[at] ^= v;
            }
            let _ = scan(&mut img.as_slice(), 4096);
            img.truncate(cut);
            let _ = scan(&mut img.as_slice(), 4096);
            let _ = guess_peb_size(&img);
        }

        #[test]
        fn scan_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            let _ = scan(&mut bytes.as_slice(), 1024);
            let _ = guess_peb_size(&bytes);
        }
    }
}
