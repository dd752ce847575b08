//! The on-flash structures: EC header, VID header, volume-table record.
//!
//! UBI stores three kinds of record on flash, all big-endian and all
//! protected by [`crate::crc32`]: every physical eraseblock (PEB)
//! starts with an erase-counter header ([`EcHeader`], magic `"UBI#"`), a PEB
//! that holds data has a volume-identifier header ([`VidHeader`], magic
//! `"UBI!"`) at the VID header offset, and the two LEBs of the layout
//! volume ([`LAYOUT_VOLUME_ID`]) hold the volume table, an array of
//! [`VtblRecord`]s. The layouts follow `drivers/mtd/ubi/ubi-media.h`.
//!
//! Parsing takes a byte slice and never panics: short input, a wrong magic
//! and a CRC mismatch are [`FormatError`]s that name what was wrong.

use crate::crc32;

/// Size of the EC header (`UBI_EC_HDR_SIZE`).
pub const EC_HDR_SIZE: usize = 64;
/// Size of the VID header (`UBI_VID_HDR_SIZE`).
pub const VID_HDR_SIZE: usize = 64;
/// Size of one volume-table record (`UBI_VTBL_RECORD_SIZE`).
pub const VTBL_RECORD_SIZE: usize = 172;
/// Bytes of an EC header covered by its CRC (`UBI_EC_HDR_SIZE_CRC`).
const EC_HDR_SIZE_CRC: usize = EC_HDR_SIZE - 4;
/// Bytes of a VID header covered by its CRC (`UBI_VID_HDR_SIZE_CRC`).
const VID_HDR_SIZE_CRC: usize = VID_HDR_SIZE - 4;
/// Bytes of a volume-table record covered by its CRC.
const VTBL_RECORD_SIZE_CRC: usize = VTBL_RECORD_SIZE - 4;

/// EC header magic, `"UBI#"` (`UBI_EC_HDR_MAGIC`).
pub const EC_HDR_MAGIC: u32 = 0x5542_4923;
/// VID header magic, `"UBI!"` (`UBI_VID_HDR_MAGIC`).
pub const VID_HDR_MAGIC: u32 = 0x5542_4921;
/// The only on-flash format version (`UBI_VERSION`).
pub const UBI_VERSION: u8 = 1;
/// Most volumes a UBI device can have (`UBI_MAX_VOLUMES`).
pub const MAX_VOLUMES: u32 = 128;
/// Longest volume name, without the NUL (`UBI_VOL_NAME_MAX`).
pub const VOL_NAME_MAX: usize = 127;
/// Volume ID of the internal layout volume holding the volume table.
pub const LAYOUT_VOLUME_ID: u32 = 0x7FFF_EFFF;
/// LEBs of the layout volume (`UBI_LAYOUT_VOLUME_EBS`).
pub const LAYOUT_VOLUME_EBS: u32 = 2;
/// Name of the layout volume (`UBI_LAYOUT_VOLUME_NAME`).
pub const LAYOUT_VOLUME_NAME: &str = "layout volume";
/// Volume IDs from here on are internal (`UBI_INTERNAL_VOL_START`).
pub const INTERNAL_VOL_START: u32 = 0x7FFF_FFFF - 4096;

/// `UBI_VTBL_AUTORESIZE_FLG`: grow this volume to fill the device on the
/// first attach.
pub const VTBL_AUTORESIZE_FLG: u8 = 0x01;
/// `UBI_VTBL_SKIP_CRC_CHECK_FLG`: don't check static volume data CRCs.
pub const VTBL_SKIP_CRC_CHECK_FLG: u8 = 0x02;

/// `UBI_COMPAT_REJECT`: the layout volume's compatibility flag.
pub const COMPAT_REJECT: u8 = 5;

/// Why a record could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than the record's size.
    #[error("ubi: truncated {what}: {len} bytes, need {need}")]
    Truncated {
        /// Which record.
        what: &'static str,
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The magic number is not the record's.
    #[error("ubi: bad {what} magic {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// Which record.
        what: &'static str,
        /// What was read.
        found: u32,
        /// What it should be.
        expected: u32,
    },
    /// The stored CRC does not match the bytes.
    #[error("ubi: {what} crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// Which record.
        what: &'static str,
        /// CRC in the record.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// A field holds a value UBI does not define.
    #[error("ubi: {what}: bad {field} {value}")]
    BadField {
        /// Which record.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// The value read.
        value: u64,
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(w)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(w)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Checks length, magic and CRC of a record at the start of `bytes`.
fn check(
    bytes: &[u8],
    what: &'static str,
    size: usize,
    magic: Option<u32>,
) -> Result<(), FormatError> {
    if bytes.len() < size {
        return Err(FormatError::Truncated {
            what,
            len: bytes.len(),
            need: size,
        });
    }
    if let Some(expected) = magic {
        let found = be32(bytes, 0);
        if found != expected {
            return Err(FormatError::BadMagic {
                what,
                found,
                expected,
            });
        }
    }
    let stored = be32(bytes, size - 4);
    let computed = crc32(&bytes[..size - 4]);
    if stored != computed {
        return Err(FormatError::BadCrc {
            what,
            stored,
            computed,
        });
    }
    Ok(())
}

/// The erase-counter header at offset 0 of every PEB (`struct ubi_ec_hdr`).
///
/// ```text
/// 0  magic "UBI#"   4  version  5  padding[3]  8  ec (u64)
/// 16 vid_hdr_offset 20 data_offset  24 image_seq  28 padding[32]  60 hdr_crc
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcHeader {
    /// Format version, [`UBI_VERSION`].
    pub version: u8,
    /// How often this PEB has been erased.
    pub ec: u64,
    /// Where the VID header starts in the PEB.
    pub vid_hdr_offset: u32,
    /// Where data starts in the PEB.
    pub data_offset: u32,
    /// Image sequence number: the same on all PEBs of one image.
    pub image_seq: u32,
}

impl EcHeader {
    /// Parses and checks (magic, CRC) the first [`EC_HDR_SIZE`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        check(bytes, "ec header", EC_HDR_SIZE, Some(EC_HDR_MAGIC))?;
        Ok(Self {
            version: bytes[4],
            ec: be64(bytes, 8),
            vid_hdr_offset: be32(bytes, 16),
            data_offset: be32(bytes, 20),
            image_seq: be32(bytes, 24),
        })
    }

    /// The 64 on-flash bytes, CRC included.
    pub fn to_bytes(&self) -> [u8; EC_HDR_SIZE] {
        let mut b = [0u8; EC_HDR_SIZE];
        b[0..4].copy_from_slice(&EC_HDR_MAGIC.to_be_bytes());
        b[4] = self.version;
        b[8..16].copy_from_slice(&self.ec.to_be_bytes());
        b[16..20].copy_from_slice(&self.vid_hdr_offset.to_be_bytes());
        b[20..24].copy_from_slice(&self.data_offset.to_be_bytes());
        b[24..28].copy_from_slice(&self.image_seq.to_be_bytes());
        let crc = crc32(&b[..EC_HDR_SIZE_CRC]);
        b[60..64].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

/// Volume type as stored in VID headers and the volume table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VolType {
    /// `UBI_VID_DYNAMIC` (1): read-write, size is the reserved size.
    Dynamic,
    /// `UBI_VID_STATIC` (2): read-only, exact data size, CRC-checked.
    Static,
    /// A value UBI does not define.
    Other(u8),
}

impl VolType {
    /// The on-flash byte.
    pub fn to_raw(self) -> u8 {
        match self {
            VolType::Dynamic => 1,
            VolType::Static => 2,
            VolType::Other(v) => v,
        }
    }

    /// From the on-flash byte.
    pub fn from_raw(v: u8) -> Self {
        match v {
            1 => VolType::Dynamic,
            2 => VolType::Static,
            v => VolType::Other(v),
        }
    }
}

impl std::fmt::Display for VolType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VolType::Dynamic => f.write_str("dynamic"),
            VolType::Static => f.write_str("static"),
            VolType::Other(v) => write!(f, "unknown({v})"),
        }
    }
}

/// The volume-identifier header (`struct ubi_vid_hdr`): which LEB of which
/// volume this PEB holds.
///
/// ```text
/// 0  magic "UBI!"  4 version  5 vol_type  6 copy_flag  7 compat
/// 8  vol_id  12 lnum  16 padding1[4]  20 data_size  24 used_ebs
/// 28 data_pad  32 data_crc  36 padding2[4]  40 sqnum (u64)
/// 48 padding3[12]  60 hdr_crc
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VidHeader {
    /// Format version, [`UBI_VERSION`].
    pub version: u8,
    /// Static or dynamic.
    pub vol_type: VolType,
    /// Set when the PEB was copied by wear-levelling.
    pub copy_flag: u8,
    /// Compatibility flags of internal volumes (0 for user volumes).
    pub compat: u8,
    /// The volume.
    pub vol_id: u32,
    /// Logical eraseblock number in the volume.
    pub lnum: u32,
    /// Static volumes and copies: bytes of data in this LEB.
    pub data_size: u32,
    /// Static volumes: LEBs the volume's data uses.
    pub used_ebs: u32,
    /// Bytes at the end of the PEB unused because of the alignment.
    pub data_pad: u32,
    /// Static volumes and copies: CRC of `data_size` data bytes.
    pub data_crc: u32,
    /// Global sequence number (0 in images).
    pub sqnum: u64,
}

impl VidHeader {
    /// Parses and checks (magic, CRC) the first [`VID_HDR_SIZE`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        check(bytes, "vid header", VID_HDR_SIZE, Some(VID_HDR_MAGIC))?;
        Ok(Self {
            version: bytes[4],
            vol_type: VolType::from_raw(bytes[5]),
            copy_flag: bytes[6],
            compat: bytes[7],
            vol_id: be32(bytes, 8),
            lnum: be32(bytes, 12),
            data_size: be32(bytes, 20),
            used_ebs: be32(bytes, 24),
            data_pad: be32(bytes, 28),
            data_crc: be32(bytes, 32),
            sqnum: be64(bytes, 40),
        })
    }

    /// The 64 on-flash bytes, CRC included.
    pub fn to_bytes(&self) -> [u8; VID_HDR_SIZE] {
        let mut b = [0u8; VID_HDR_SIZE];
        b[0..4].copy_from_slice(&VID_HDR_MAGIC.to_be_bytes());
        b[4] = self.version;
        b[5] = self.vol_type.to_raw();
        b[6] = self.copy_flag;
        b[7] = self.compat;
        b[8..12].copy_from_slice(&self.vol_id.to_be_bytes());
        b[12..16].copy_from_slice(&self.lnum.to_be_bytes());
        b[20..24].copy_from_slice(&self.data_size.to_be_bytes());
        b[24..28].copy_from_slice(&self.used_ebs.to_be_bytes());
        b[28..32].copy_from_slice(&self.data_pad.to_be_bytes());
        b[32..36].copy_from_slice(&self.data_crc.to_be_bytes());
        b[40..48].copy_from_slice(&self.sqnum.to_be_bytes());
        let crc = crc32(&b[..VID_HDR_SIZE_CRC]);
        b[60..64].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

/// One record of the volume table (`struct ubi_vtbl_record`).
///
/// ```text
/// 0 reserved_pebs  4 alignment  8 data_pad  12 vol_type  13 upd_marker
/// 14 name_len (u16)  16 name[128]  144 flags  145 padding[23]  168 crc
/// ```
///
/// An unused slot is all zeroes (with its CRC, `0xf116c36b`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VtblRecord {
    /// PEBs reserved for the volume.
    pub reserved_pebs: u32,
    /// Volume alignment.
    pub alignment: u32,
    /// Bytes unused at the end of each LEB because of the alignment.
    pub data_pad: u32,
    /// `UBI_VID_DYNAMIC` (1) or `UBI_VID_STATIC` (2); 0 in an unused slot.
    pub vol_type: u8,
    /// Set while a volume update is in progress.
    pub upd_marker: u8,
    /// Volume name (at most [`VOL_NAME_MAX`] bytes).
    pub name: Vec<u8>,
    /// `UBI_VTBL_*` flags.
    pub flags: u8,
}

impl VtblRecord {
    /// Whether this slot is unused (no PEBs reserved).
    pub fn is_empty(&self) -> bool {
        self.reserved_pebs == 0
    }

    /// The volume name, lossily decoded.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Parses and checks (CRC, name length) one record.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        const WHAT: &str = "volume table record";
        check(bytes, WHAT, VTBL_RECORD_SIZE, None)?;
        let name_len = usize::from(be16(bytes, 14));
        if name_len > VOL_NAME_MAX {
            return Err(FormatError::BadField {
                what: WHAT,
                field: "name_len",
                value: name_len as u64,
            });
        }
        Ok(Self {
            reserved_pebs: be32(bytes, 0),
            alignment: be32(bytes, 4),
            data_pad: be32(bytes, 8),
            vol_type: bytes[12],
            upd_marker: bytes[13],
            name: bytes[16..16 + name_len].to_vec(),
            flags: bytes[144],
        })
    }

    /// The 172 on-flash bytes, CRC included. Names longer than
    /// [`VOL_NAME_MAX`] are cut (the builder rejects them before).
    pub fn to_bytes(&self) -> [u8; VTBL_RECORD_SIZE] {
        let mut b = [0u8; VTBL_RECORD_SIZE];
        let name = &self.name[..self.name.len().min(VOL_NAME_MAX)];
        b[0..4].copy_from_slice(&self.reserved_pebs.to_be_bytes());
        b[4..8].copy_from_slice(&self.alignment.to_be_bytes());
        b[8..12].copy_from_slice(&self.data_pad.to_be_bytes());
        b[12] = self.vol_type;
        b[13] = self.upd_marker;
        let name_len = u16::try_from(name.len()).expect("cut to 127 bytes above");
        b[14..16].copy_from_slice(&name_len.to_be_bytes());
        b[16..16 + name.len()].copy_from_slice(name);
        b[144] = self.flags;
        let crc = crc32(&b[..VTBL_RECORD_SIZE_CRC]);
        b[168..172].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

/// Whether every byte is 0xFF (an erased, never-written area).
pub fn is_erased(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EC header as mtd-utils 2.1.5 `ubinize -p 128KiB -m 2048 -Q 0x12345678
    /// -e 7` writes it (first 64 bytes of the output).
    const EC_VECTOR: [u8; 64] = [
        0x55, 0x42, 0x49, 0x23, // magic "UBI#"
        0x01, // version 1
        0x00, 0x00, 0x00, // padding1
        0, 0, 0, 0, 0, 0, 0, 7, // ec = 7
        0x00, 0x00, 0x08, 0x00, // vid_hdr_offset = 2048
        0x00, 0x00, 0x10, 0x00, // data_offset = 4096
        0x12, 0x34, 0x56, 0x78, // image_seq
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding2
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0x2c, 0xef, 0xe4, 0xe4, // hdr_crc
    ];

    #[test]
    fn ec_header_vector_parses_and_round_trips() {
        let hdr = EcHeader::parse(&EC_VECTOR).expect("vector is valid");
        assert_eq!(
            hdr,
            EcHeader {
                version: 1,
                ec: 7,
                vid_hdr_offset: 2048,
                data_offset: 4096,
                image_seq: 0x1234_5678,
            }
        );
        assert_eq!(hdr.to_bytes(), EC_VECTOR);
    }

    /// The VID header of LEB 0 of the layout volume from the same image.
    const VID_VECTOR: [u8; 64] = [
        0x55, 0x42, 0x49, 0x21, // magic "UBI!"
        0x01, // version
        0x01, // vol_type dynamic
        0x00, // copy_flag
        0x05, // compat UBI_COMPAT_REJECT
        0x7f, 0xff, 0xef, 0xff, // vol_id = layout volume
        0x00, 0x00, 0x00, 0x00, // lnum 0
        0, 0, 0, 0, // padding1
        0, 0, 0, 0, // data_size
        0, 0, 0, 0, // used_ebs
        0, 0, 0, 0, // data_pad
        0, 0, 0, 0, // data_crc
        0, 0, 0, 0, // padding2
        0, 0, 0, 0, 0, 0, 0, 0, // sqnum
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding3
        0xb8, 0x25, 0x64, 0xa8, // hdr_crc
    ];

    #[test]
    fn vid_header_vector_parses_and_round_trips() {
        let hdr = VidHeader::parse(&VID_VECTOR).expect("vector is valid");
        assert_eq!(hdr.vol_type, VolType::Dynamic);
        assert_eq!(hdr.compat, COMPAT_REJECT);
        assert_eq!(hdr.vol_id, LAYOUT_VOLUME_ID);
        assert_eq!(hdr.lnum, 0);
        assert_eq!(hdr.to_bytes(), VID_VECTOR);
    }

    #[test]
    fn empty_vtbl_record_has_the_well_known_crc() {
        let b = VtblRecord::default().to_bytes();
        assert_eq!(&b[168..], &0xf116_c36b_u32.to_be_bytes());
        assert_eq!(VtblRecord::parse(&b), Ok(VtblRecord::default()));
    }

    #[test]
    fn vtbl_record_round_trips() {
        let rec = VtblRecord {
            reserved_pebs: 10,
            alignment: 1,
            data_pad: 0,
            vol_type: 1,
            upd_marker: 0,
            name: b"rootfs".to_vec(),
            flags: VTBL_AUTORESIZE_FLG,
        };
        let b = rec.to_bytes();
        assert_eq!(&b[0..4], &[0, 0, 0, 10]); // reserved_pebs
        assert_eq!(&b[14..16], &[0, 6]); // name_len
        assert_eq!(&b[16..23], b"rootfs\0"); // name, NUL-terminated
        assert_eq!(b[144], 1); // flags
        assert_eq!(VtblRecord::parse(&b), Ok(rec));
    }

    #[test]
    fn truncated_header_is_an_error() {
        let err = EcHeader::parse(&EC_VECTOR[..63]).expect_err("63 bytes");
        assert_eq!(
            err.to_string(),
            "ubi: truncated ec header: 63 bytes, need 64"
        );
    }

    #[test]
    fn wrong_magic_is_an_error() {
        let err = EcHeader::parse(&VID_VECTOR).expect_err("a VID header");
        assert_eq!(
            err.to_string(),
            "ubi: bad ec header magic 0x55424921, expected 0x55424923"
        );
    }

    #[test]
    fn crc_mismatch_is_an_error() {
        let mut b = EC_VECTOR;
        b[15] = 8; // ec 7 -> 8 without fixing the CRC
        assert!(matches!(
            EcHeader::parse(&b),
            Err(FormatError::BadCrc {
                stored: 0x2cef_e4e4,
                ..
            })
        ));
    }

    #[test]
    fn overlong_name_len_is_an_error() {
        let mut b = VtblRecord::default().to_bytes();
        b[14..16].copy_from_slice(&200u16.to_be_bytes());
        let crc = crc32(&b[..168]);
        b[168..].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            VtblRecord::parse(&b),
            Err(FormatError::BadField {
                field: "name_len",
                value: 200,
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = EcHeader::parse(&bytes);
            let _ = VidHeader::parse(&bytes);
            let _ = VtblRecord::parse(&bytes);
        }

        #[test]
        fn ec_header_round_trips(ec in 0u64..u64::MAX, vid in 0u32..u32::MAX, seq in 0u32..u32::MAX) {
            let hdr = EcHeader { version: 1, ec, vid_hdr_offset: vid, data_offset: vid, image_seq: seq };
            proptest::prop_assert_eq!(EcHeader::parse(&hdr.to_bytes()), Ok(hdr));
        }
    }
}
