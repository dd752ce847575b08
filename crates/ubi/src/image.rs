//! Building UBI images, byte for byte as mtd-utils' `ubinize` does.
//!
//! An image is what gets written raw to an erased flash partition (or
//! handed to `ubiformat`): PEBs 0 and 1 hold the two copies of the layout
//! volume (the volume table), then come the PEBs of each volume that has
//! an image file, in section order, one LEB per PEB. Every PEB starts with
//! an EC header with the same erase counter and image sequence number.
//! Volumes without data, and the reserved-but-unwritten rest of each
//! volume, take no space in the image: UBI finds those PEBs empty at
//! attach time.
//!
//! Unlike `ubinize`, [`Plan::new`] checks everything (geometry, IDs, names,
//! sizes, image files) before a single byte is written, so a bad
//! configuration leaves no half-written output behind.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::ini::VolumeSpec;
use crate::media::{
    EcHeader, VidHeader, VolType, VtblRecord, COMPAT_REJECT, EC_HDR_SIZE, LAYOUT_VOLUME_EBS,
    LAYOUT_VOLUME_ID, MAX_VOLUMES, UBI_VERSION, VID_HDR_SIZE, VTBL_AUTORESIZE_FLG,
    VTBL_RECORD_SIZE,
};

/// The flash geometry an image is built for: `ubinize`'s `-p`, `-m`, `-s`,
/// `-O`, `-x` and `-Q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `-p`: physical eraseblock size in bytes.
    pub peb_size: u32,
    /// `-m`: minimum I/O unit (NAND page; 1 for NOR).
    pub min_io_size: u32,
    /// `-s`: sub-page size; defaults to `min_io_size`.
    pub subpage_size: Option<u32>,
    /// `-O`: VID header offset; defaults to the first sub-page after the
    /// EC header.
    pub vid_hdr_offset: Option<u32>,
    /// `-x`: UBI format version (only 1 exists).
    pub ubi_version: u8,
    /// `-Q`: image sequence number.
    pub image_seq: u32,
}

impl Params {
    /// Geometry with the defaults `ubinize` uses for the optional flags.
    pub fn new(peb_size: u32, min_io_size: u32, image_seq: u32) -> Self {
        Self {
            peb_size,
            min_io_size,
            subpage_size: None,
            vid_hdr_offset: None,
            ubi_version: UBI_VERSION,
            image_seq,
        }
    }
}

/// The derived layout of every PEB (mtd-utils' `struct ubigen_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// PEB size.
    pub peb_size: u32,
    /// Minimum I/O unit.
    pub min_io_size: u32,
    /// Offset of the VID header in a PEB.
    pub vid_hdr_offset: u32,
    /// Offset of the data in a PEB.
    pub data_offset: u32,
    /// Bytes of data per LEB: `peb_size - data_offset`.
    pub leb_size: u32,
    /// Format version written to headers.
    pub ubi_version: u8,
    /// Image sequence number written to EC headers.
    pub image_seq: u32,
    /// Volume-table slots: as many records as fit a LEB, at most 128.
    pub max_volumes: u32,
}

impl Geometry {
    /// Checks the parameters as `ubinize` does and derives the layout.
    pub fn new(p: &Params) -> Result<Self, ImageError> {
        let bad = |why: String| Err(ImageError::Geometry(why));
        if p.peb_size == 0 {
            return bad("physical eraseblock size must be positive".into());
        }
        if p.min_io_size == 0 || !p.min_io_size.is_power_of_two() {
            return bad(format!(
                "min. I/O unit size {} must be a power of 2",
                p.min_io_size
            ));
        }
        let subpage = p.subpage_size.unwrap_or(p.min_io_size);
        if subpage == 0 || !subpage.is_power_of_two() {
            return bad(format!("sub-page size {subpage} must be a power of 2"));
        }
        if subpage > p.min_io_size {
            return bad(format!(
                "sub-page size {subpage} is larger than the min. I/O unit {}",
                p.min_io_size
            ));
        }
        if !p.peb_size.is_multiple_of(p.min_io_size) {
            return bad(format!(
                "physical eraseblock size {} is not a multiple of the min. I/O unit {}",
                p.peb_size, p.min_io_size
            ));
        }
        if p.ubi_version != UBI_VERSION {
            return bad(format!("UBI version {} is not supported", p.ubi_version));
        }
        let ec = EC_HDR_SIZE as u64;
        let vid = match p.vid_hdr_offset {
            Some(0) | None => ec.div_ceil(u64::from(subpage)) * u64::from(subpage),
            Some(o) => {
                if u64::from(o) + VID_HDR_SIZE as u64 >= u64::from(p.peb_size) {
                    return bad(format!("bad VID header offset {o}: beyond the eraseblock"));
                }
                if !o.is_multiple_of(8) {
                    return bad(format!("VID header offset {o} is not a multiple of 8"));
                }
                u64::from(o)
            }
        };
        let min_io = u64::from(p.min_io_size);
        let data = (vid + VID_HDR_SIZE as u64).div_ceil(min_io) * min_io;
        if data + VTBL_RECORD_SIZE as u64 > u64::from(p.peb_size) {
            return bad(format!(
                "eraseblock of {} bytes leaves no room for data after the headers ({data} bytes)",
                p.peb_size
            ));
        }
        let data_offset = u32::try_from(data).expect("smaller than peb_size, a u32");
        let leb_size = p.peb_size - data_offset;
        let max_volumes = (leb_size / VTBL_RECORD_SIZE as u32).min(MAX_VOLUMES);
        Ok(Self {
            peb_size: p.peb_size,
            min_io_size: p.min_io_size,
            vid_hdr_offset: u32::try_from(vid).expect("smaller than peb_size, a u32"),
            data_offset,
            leb_size,
            ubi_version: p.ubi_version,
            image_seq: p.image_seq,
            max_volumes,
        })
    }

    /// Bytes of the volume table: `max_volumes` records.
    pub fn vtbl_size(&self) -> usize {
        self.max_volumes as usize * VTBL_RECORD_SIZE
    }

    /// PEB `lnum` (0 or 1) of the layout volume holding `vtbl`, with erase
    /// counter `ec`: what `ubinize` and `ubiformat` write.
    pub fn layout_peb(&self, vtbl: &[u8], lnum: u32, ec: u64) -> Vec<u8> {
        let mut buf = vec![0xFF_u8; self.peb_size as usize];
        buf[..EC_HDR_SIZE].copy_from_slice(&self.ec_header(ec).to_bytes());
        let vid = VidHeader {
            version: self.ubi_version,
            vol_type: VolType::Dynamic,
            copy_flag: 0,
            compat: COMPAT_REJECT,
            vol_id: LAYOUT_VOLUME_ID,
            lnum,
            data_size: 0,
            used_ebs: 0,
            data_pad: 0,
            data_crc: 0,
            sqnum: 0,
        };
        let vid_off = self.vid_hdr_offset as usize;
        buf[vid_off..vid_off + VID_HDR_SIZE].copy_from_slice(&vid.to_bytes());
        let data = self.data_offset as usize;
        let len = vtbl.len().min(self.leb_size as usize);
        buf[data..data + len].copy_from_slice(&vtbl[..len]);
        buf
    }

    /// An empty volume table for this geometry (`max_volumes` empty
    /// records), as `ubiformat` writes it.
    pub fn empty_vtbl(&self) -> Vec<u8> {
        (0..self.max_volumes)
            .flat_map(|_| VtblRecord::default().to_bytes())
            .collect()
    }

    /// The EC header every PEB of this geometry gets, with counter `ec`.
    pub fn ec_header(&self, ec: u64) -> EcHeader {
        EcHeader {
            version: self.ubi_version,
            ec,
            vid_hdr_offset: self.vid_hdr_offset,
            data_offset: self.data_offset,
            image_seq: self.image_seq,
        }
    }
}

/// Why an image cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Bad `-p`/`-m`/`-s`/`-O`/`-x` combination.
    #[error("ubi: bad geometry: {0}")]
    Geometry(String),
    /// A volume does not fit the rules (IDs, names, sizes, alignment, flags).
    #[error("ubi: volume {id} ({section:?}): {why}")]
    Volume {
        /// The ini section.
        section: String,
        /// The volume ID.
        id: u32,
        /// What is wrong.
        why: String,
    },
    /// More than one volume has the autoresize flag.
    #[error("ubi: only one volume may have the autoresize flag, but {first:?} and {second:?} do")]
    TwoAutoresize {
        /// The first section with the flag.
        first: String,
        /// The second.
        second: String,
    },
    /// More volumes than the volume table holds.
    #[error("ubi: {count} volumes, but the volume table holds only {max}")]
    TooManyVolumes {
        /// Volumes asked for.
        count: usize,
        /// Slots in the table.
        max: u32,
    },
    /// The volumes need more PEBs than the device has.
    #[error(
        "ubi: volumes need {need} eraseblocks (2 for the volume table), the device has {have}"
    )]
    TooBig {
        /// PEBs needed.
        need: u64,
        /// PEBs available.
        have: u64,
    },
    /// An image file cannot be read.
    #[error("ubi: cannot read image {}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An image file changed size between planning and writing.
    #[error("ubi: image {} changed while the UBI image was written", path.display())]
    ImageChanged {
        /// The file.
        path: PathBuf,
    },
    /// Writing the output failed.
    #[error("ubi: cannot write the image: {0}")]
    Write(#[source] io::Error),
}

/// Where a volume's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No data: only the volume-table entry.
    Empty,
    /// A file, read while the image is written.
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Vec<u8>),
}

/// A checked volume: its table record and the data to write.
#[derive(Debug, Clone)]
pub struct PlannedVolume {
    /// The ini section name.
    pub section: String,
    /// Volume ID.
    pub id: u32,
    /// Volume type.
    pub vol_type: VolType,
    /// Its volume-table record.
    pub record: VtblRecord,
    /// Data bytes per LEB (`leb_size - data_pad`).
    pub usable_leb_size: u32,
    /// Where the data comes from.
    pub source: Source,
    /// Bytes of data.
    pub data_len: u64,
}

impl PlannedVolume {
    /// LEBs holding data (the PEBs this volume takes in the image).
    pub fn used_ebs(&self) -> u64 {
        self.data_len.div_ceil(u64::from(self.usable_leb_size))
    }
}

/// A checked image, ready to be written: the output of all validation.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The geometry.
    pub geometry: Geometry,
    /// Erase counter written to every EC header (`-e`).
    pub ec: u64,
    /// Volumes in ini order.
    pub volumes: Vec<PlannedVolume>,
}

impl Plan {
    /// Checks `specs` against `geometry` and the image files as `ubinize`
    /// does (and more: alignment bounds, nothing half-written), and
    /// computes the volume table. `device_size` (bytes), if given, must hold
    /// the layout volume and every volume's reserved PEBs.
    pub fn new(
        geometry: Geometry,
        ec: u64,
        specs: &[VolumeSpec],
        device_size: Option<u64>,
    ) -> Result<Self, ImageError> {
        let g = geometry;
        if specs.len() > g.max_volumes as usize {
            return Err(ImageError::TooManyVolumes {
                count: specs.len(),
                max: g.max_volumes,
            });
        }
        let mut volumes: Vec<PlannedVolume> = Vec::with_capacity(specs.len());
        let mut autoresize: Option<&str> = None;
        for spec in specs {
            let err = |why: String| ImageError::Volume {
                section: spec.section.clone(),
                id: spec.id,
                why,
            };
            if spec.id >= g.max_volumes {
                return Err(err(format!(
                    "volume ID too high, the maximum is {}",
                    g.max_volumes - 1
                )));
            }
            if spec.alignment == 0 || spec.alignment >= g.leb_size {
                return Err(err(format!(
                    "alignment {} must be from 1 to {} (below the LEB size)",
                    spec.alignment,
                    g.leb_size - 1
                )));
            }
            if spec.flags & VTBL_AUTORESIZE_FLG != 0 {
                if let Some(first) = autoresize {
                    return Err(ImageError::TwoAutoresize {
                        first: first.to_owned(),
                        second: spec.section.clone(),
                    });
                }
                autoresize = Some(&spec.section);
            }
            if let Some(other) = volumes.iter().find(|v| v.id == spec.id) {
                return Err(err(format!(
                    "volume ID {} is already used by section {:?}",
                    spec.id, other.section
                )));
            }
            if let Some(other) = volumes
                .iter()
                .find(|v| v.record.name == spec.name.as_bytes())
            {
                return Err(err(format!(
                    "volume name {:?} is already used by section {:?}",
                    spec.name, other.section
                )));
            }
            let (source, data_len) = match &spec.image {
                None => (Source::Empty, 0),
                Some(path) => {
                    let len = std::fs::metadata(path)
                        .map_err(|source| ImageError::Image {
                            path: path.clone(),
                            source,
                        })?
                        .len();
                    if len == 0 {
                        return Err(err(format!("image {} is empty", path.display())));
                    }
                    (Source::File(path.clone()), len)
                }
            };
            volumes.push(plan_volume(&g, spec, source, data_len).map_err(err)?);
        }
        if let Some(have) = device_size.map(|s| s / u64::from(g.peb_size)) {
            let need = u64::from(LAYOUT_VOLUME_EBS)
                + volumes
                    .iter()
                    .map(|v| u64::from(v.record.reserved_pebs))
                    .sum::<u64>();
            if need > have {
                return Err(ImageError::TooBig { need, have });
            }
        }
        Ok(Self {
            geometry,
            ec,
            volumes,
        })
    }

    /// The volume table: `max_volumes` records, used slots filled.
    pub fn vtbl(&self) -> Vec<u8> {
        let mut records = vec![VtblRecord::default(); self.geometry.max_volumes as usize];
        for v in &self.volumes {
            records[v.id as usize] = v.record.clone();
        }
        records.iter().flat_map(VtblRecord::to_bytes).collect()
    }

    /// Size of the image in bytes.
    pub fn image_size(&self) -> u64 {
        let pebs = u64::from(LAYOUT_VOLUME_EBS)
            + self
                .volumes
                .iter()
                .map(PlannedVolume::used_ebs)
                .sum::<u64>();
        pebs * u64::from(self.geometry.peb_size)
    }

    /// Writes the image to `out` (sequentially, PEB by PEB) and returns its
    /// size in bytes.
    ///
    /// ```
    /// use ubi::image::{Geometry, Params, Plan};
    ///
    /// let specs = ubi::ini::parse("[data]\nmode=ubi\nvol_id=0\nvol_size=1MiB\nvol_name=data\n")?;
    /// let geometry = Geometry::new(&Params::new(128 * 1024, 2048, 0x1234_5678))?;
    /// let plan = Plan::new(geometry, 0, &specs, None)?;
    /// let mut image = Vec::new();
    /// plan.write(&mut image)?;
    /// assert_eq!(image.len(), 2 * 128 * 1024); // just the volume table
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, out: &mut dyn Write) -> Result<u64, ImageError> {
        let g = &self.geometry;
        let peb = g.peb_size as usize;
        let data_off = g.data_offset as usize;
        let vid_off = g.vid_hdr_offset as usize;
        let mut buf = vec![0xFF_u8; peb];
        buf[..EC_HDR_SIZE].copy_from_slice(&g.ec_header(self.ec).to_bytes());

        // The layout volume: two identical LEBs holding the volume table.
        let vtbl = self.vtbl();
        for lnum in 0..LAYOUT_VOLUME_EBS {
            out.write_all(&g.layout_peb(&vtbl, lnum, self.ec))
                .map_err(ImageError::Write)?;
        }

        let mut written = u64::from(LAYOUT_VOLUME_EBS) * u64::from(g.peb_size);
        for v in &self.volumes {
            let mut file;
            let reader: &mut dyn Read = match &v.source {
                Source::Empty => continue,
                Source::Bytes(b) => &mut b.as_slice(),
                Source::File(path) => {
                    file = File::open(path).map_err(|source| ImageError::Image {
                        path: path.clone(),
                        source,
                    })?;
                    &mut file
                }
            };
            let used_ebs = u32::try_from(v.used_ebs()).expect("checked when planned");
            let mut left = v.data_len;
            for lnum in 0..used_ebs {
                let len = left.min(u64::from(v.usable_leb_size)) as usize;
                left -= len as u64;
                let data = &mut buf[data_off..data_off + len];
                reader.read_exact(data).map_err(|e| match &v.source {
                    Source::File(path) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        ImageError::ImageChanged { path: path.clone() }
                    }
                    Source::File(path) => ImageError::Image {
                        path: path.clone(),
                        source: e,
                    },
                    _ => ImageError::Write(e),
                })?;
                let (data_size, data_crc, vol_used_ebs) = if v.vol_type == VolType::Static {
                    (
                        u32::try_from(len).expect("at most a LEB"),
                        crate::crc32(data),
                        used_ebs,
                    )
                } else {
                    (0, 0, 0)
                };
                buf[data_off + len..].fill(0xFF);
                let vid = VidHeader {
                    version: g.ubi_version,
                    vol_type: v.vol_type,
                    copy_flag: 0,
                    compat: 0,
                    vol_id: v.id,
                    lnum,
                    data_size,
                    used_ebs: vol_used_ebs,
                    data_pad: v.record.data_pad,
                    data_crc,
                    sqnum: 0,
                };
                buf[vid_off..vid_off + VID_HDR_SIZE].copy_from_slice(&vid.to_bytes());
                out.write_all(&buf).map_err(ImageError::Write)?;
                written += u64::from(g.peb_size);
            }
        }
        out.flush().map_err(ImageError::Write)?;
        Ok(written)
    }

    /// Writes the image to a new file at `path`, through a temporary file
    /// renamed into place, so a failure leaves no partial output.
    pub fn write_file(&self, path: &Path) -> Result<u64, ImageError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = (|| {
            // Whole PEBs per write(2): no buffering layer needed.
            let mut file = File::create(&tmp).map_err(ImageError::Write)?;
            let n = self.write(&mut file)?;
            drop(file);
            std::fs::rename(&tmp, path).map_err(ImageError::Write)?;
            Ok(n)
        })();
        if result.is_err() {
            // Best effort: the error being reported is the one that matters.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Computes a volume's record as libubigen's `ubigen_add_volume` does.
fn plan_volume(
    g: &Geometry,
    spec: &VolumeSpec,
    source: Source,
    data_len: u64,
) -> Result<PlannedVolume, String> {
    let bytes = spec.size.unwrap_or(data_len);
    if bytes == 0 {
        return Err("volume size is 0".into());
    }
    if data_len > bytes {
        return Err(format!(
            "image of {data_len} bytes is larger than the volume size {bytes}"
        ));
    }
    if spec.name.len() > crate::media::VOL_NAME_MAX {
        return Err("name longer than 127 bytes".into());
    }
    let data_pad = g.leb_size % spec.alignment;
    let reserved_pebs = u32::try_from(bytes.div_ceil(u64::from(g.leb_size)))
        .map_err(|_| format!("volume size {bytes} is too large"))?;
    if data_len.div_ceil(u64::from(g.leb_size - data_pad)) > u64::from(u32::MAX) {
        return Err(format!("image of {data_len} bytes is too large"));
    }
    Ok(PlannedVolume {
        section: spec.section.clone(),
        id: spec.id,
        vol_type: spec.vol_type,
        record: VtblRecord {
            reserved_pebs,
            alignment: spec.alignment,
            data_pad,
            vol_type: spec.vol_type.to_raw(),
            upd_marker: 0,
            name: spec.name.as_bytes().to_vec(),
            flags: spec.flags,
        },
        usable_leb_size: g.leb_size - data_pad,
        source,
        data_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini;

    fn geometry(peb: u32, min_io: u32) -> Geometry {
        Geometry::new(&Params::new(peb, min_io, 1)).expect("valid geometry")
    }

    #[test]
    fn geometry_matches_ubinize_defaults() {
        let g = geometry(128 * 1024, 2048);
        assert_eq!(
            (g.vid_hdr_offset, g.data_offset, g.leb_size),
            (2048, 4096, 126_976)
        );
        assert_eq!(g.max_volumes, 128);
        let g = geometry(64 * 1024, 1);
        assert_eq!(
            (g.vid_hdr_offset, g.data_offset, g.leb_size),
            (64, 128, 65_408)
        );
        let mut p = Params::new(128 * 1024, 2048, 1);
        p.subpage_size = Some(512);
        let g = Geometry::new(&p).expect("valid");
        assert_eq!((g.vid_hdr_offset, g.data_offset), (512, 2048));
    }

    #[test]
    fn bad_geometry_is_an_error() {
        assert!(Geometry::new(&Params::new(128 * 1024, 3, 1)).is_err());
        assert!(Geometry::new(&Params::new(1000, 512, 1)).is_err());
        let mut p = Params::new(128 * 1024, 512, 1);
        p.subpage_size = Some(2048);
        assert!(Geometry::new(&p).is_err());
    }

    fn plan(text: &str, device: Option<u64>) -> Result<Plan, ImageError> {
        let specs = ini::parse(text).expect("valid ini");
        Plan::new(geometry(128 * 1024, 2048), 0, &specs, device)
    }

    #[test]
    fn duplicate_id_is_an_error() {
        let err = plan(
            "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\n[b]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=b\n",
            None,
        )
        .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "ubi: volume 0 (\"b\"): volume ID 0 is already used by section \"a\""
        );
    }

    #[test]
    fn two_autoresize_volumes_are_an_error() {
        let err = plan(
            "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\nvol_flags=autoresize\n\
             [b]\nmode=ubi\nvol_id=1\nvol_size=1\nvol_name=b\nvol_flags=autoresize\n",
            None,
        )
        .expect_err("two autoresize");
        assert!(matches!(err, ImageError::TwoAutoresize { .. }), "{err}");
    }

    #[test]
    fn volume_larger_than_device_is_an_error() {
        let err = plan(
            "[a]\nmode=ubi\nvol_id=0\nvol_size=2MiB\nvol_name=a\n",
            Some(16 * 128 * 1024),
        )
        .expect_err("too big");
        assert_eq!(
            err.to_string(),
            "ubi: volumes need 19 eraseblocks (2 for the volume table), the device has 16"
        );
        assert!(plan(
            "[a]\nmode=ubi\nvol_id=0\nvol_size=1MiB\nvol_name=a\n",
            Some(16 * 128 * 1024)
        )
        .is_ok());
    }

    #[test]
    fn alignment_not_below_leb_size_is_an_error() {
        let err = plan(
            "[a]\nmode=ubi\nvol_id=0\nvol_size=1\nvol_name=a\nvol_alignment=126976\n",
            None,
        )
        .expect_err("alignment");
        assert!(err.to_string().contains("alignment"), "{err}");
    }

    #[test]
    fn static_volume_from_bytes_has_data_crc() {
        let g = geometry(64 * 1024, 512);
        let spec = VolumeSpec {
            section: "s".into(),
            id: 3,
            name: "s".into(),
            vol_type: VolType::Static,
            size: None,
            alignment: 1,
            flags: 0,
            image: None,
        };
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut v =
            plan_volume(&g, &spec, Source::Bytes(data.clone()), data.len() as u64).expect("valid");
        v.record.reserved_pebs = 2;
        let plan = Plan {
            geometry: g,
            ec: 3,
            volumes: vec![v],
        };
        let mut out = Vec::new();
        let n = plan.write(&mut out).expect("in memory");
        assert_eq!(n, 4 * 64 * 1024);
        assert_eq!(out.len() as u64, plan.image_size());
        let vid = VidHeader::parse(&out[2 * 65536 + 512..]).expect("valid VID header");
        assert_eq!(vid.vol_id, 3);
        assert_eq!(vid.used_ebs, 2);
        assert_eq!(vid.data_size, g.leb_size);
        assert_eq!(vid.data_crc, crate::crc32(&data[..g.leb_size as usize]));
    }
}
