//! Device type and flag values shared by sysfs, `/proc/mtd` and the ioctls.
//!
//! The numeric values mirror `include/uapi/mtd/mtd-abi.h`; the type names are
//! spelled the way the kernel prints them in `/sys/class/mtd/mtdN/type`
//! (`mtd_type_show()` in `drivers/mtd/mtdcore.c`).

use std::convert::Infallible;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where device nodes live.
const DEV_DIR: &str = "/dev";

/// `/dev/mtdN`. Here, below [`crate::sysfs`] and [`crate::device`], so
/// that both name a device's node without depending on each other.
pub(crate) fn dev_path(index: u32) -> PathBuf {
    Path::new(DEV_DIR).join(format!("mtd{index}"))
}

/// The kind of memory behind an MTD device (`MTD_RAM`, `MTD_NANDFLASH`, ...).
///
/// Displayed and parsed with the kernel's sysfs spelling: `absent`, `ram`,
/// `rom`, `nor`, `nand`, `dataflash`, `ubi`, `mlc-nand`, `unknown`. A spelling
/// this crate does not know (from a newer kernel) is kept as
/// [`MtdType::Other`] rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MtdType {
    /// `MTD_ABSENT` (0), sysfs `absent`.
    Absent,
    /// `MTD_RAM` (1), sysfs `ram`: RAM posing as flash (e.g. `mtdram`).
    Ram,
    /// `MTD_ROM` (2), sysfs `rom`.
    Rom,
    /// `MTD_NORFLASH` (3), sysfs `nor`: NOR flash, byte-addressable.
    Nor,
    /// `MTD_NANDFLASH` (4), sysfs `nand`: SLC NAND, page-programmed, bad blocks.
    Nand,
    /// `MTD_DATAFLASH` (6), sysfs `dataflash`: Atmel DataFlash.
    DataFlash,
    /// `MTD_UBIVOLUME` (7), sysfs `ubi`: a UBI volume emulated as an MTD (gluebi).
    Ubi,
    /// `MTD_MLCNANDFLASH` (8), sysfs `mlc-nand`: MLC/TLC NAND.
    MlcNand,
    /// sysfs `unknown`: the kernel itself did not recognise the type code.
    Unknown,
    /// A sysfs spelling this crate does not know, kept verbatim.
    Other(String),
}

impl MtdType {
    /// Parses the contents of a sysfs `type` attribute (surrounding
    /// whitespace, such as the trailing newline, is ignored).
    ///
    /// Never fails: unknown spellings become [`MtdType::Other`].
    pub fn from_sysfs(s: &str) -> Self {
        match s.trim() {
            "absent" => Self::Absent,
            "ram" => Self::Ram,
            "rom" => Self::Rom,
            "nor" => Self::Nor,
            "nand" => Self::Nand,
            "dataflash" => Self::DataFlash,
            "ubi" => Self::Ubi,
            "mlc-nand" => Self::MlcNand,
            "unknown" => Self::Unknown,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Maps the numeric type of `struct mtd_info_user` (MEMGETINFO) to a type.
    ///
    /// Codes the kernel's sysfs code would print as `unknown` (5 and anything
    /// above 8) map to [`MtdType::Unknown`], as sysfs does.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Absent,
            1 => Self::Ram,
            2 => Self::Rom,
            3 => Self::Nor,
            4 => Self::Nand,
            6 => Self::DataFlash,
            7 => Self::Ubi,
            8 => Self::MlcNand,
            _ => Self::Unknown,
        }
    }

    /// The kernel's numeric type code, if this type has one.
    pub fn code(&self) -> Option<u8> {
        match self {
            Self::Absent => Some(0),
            Self::Ram => Some(1),
            Self::Rom => Some(2),
            Self::Nor => Some(3),
            Self::Nand => Some(4),
            Self::DataFlash => Some(6),
            Self::Ubi => Some(7),
            Self::MlcNand => Some(8),
            Self::Unknown | Self::Other(_) => None,
        }
    }

    /// The sysfs spelling (`"nand"`, `"mlc-nand"`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Absent => "absent",
            Self::Ram => "ram",
            Self::Rom => "rom",
            Self::Nor => "nor",
            Self::Nand => "nand",
            Self::DataFlash => "dataflash",
            Self::Ubi => "ubi",
            Self::MlcNand => "mlc-nand",
            Self::Unknown => "unknown",
            Self::Other(s) => s,
        }
    }

    /// Whether this is NAND flash (SLC or MLC): page writes, OOB area and
    /// bad blocks that writers must skip.
    pub fn is_nand(&self) -> bool {
        matches!(self, Self::Nand | Self::MlcNand)
    }
}

impl fmt::Display for MtdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MtdType {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_sysfs(s))
    }
}

/// The capability flags of an MTD device (`MTD_WRITEABLE`, ...).
///
/// A thin wrapper around the kernel's `u32` so that bits this crate does not
/// name survive a round trip. sysfs prints them as `0x%lx`
/// (e.g. `0xc00`); [`Display`](fmt::Display) uses the same form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MtdFlags(u32);

impl MtdFlags {
    /// `MTD_WRITEABLE`: the device can be written (and erased).
    pub const WRITEABLE: Self = Self(0x400);
    /// `MTD_BIT_WRITEABLE`: single bits can be flipped (NOR, RAM).
    pub const BIT_WRITEABLE: Self = Self(0x800);
    /// `MTD_NO_ERASE`: no erase is needed before writing (RAM).
    pub const NO_ERASE: Self = Self(0x1000);
    /// `MTD_POWERUP_LOCK`: the chip is locked after every reset.
    pub const POWERUP_LOCK: Self = Self(0x2000);
    /// `MTD_SLC_ON_MLC_EMULATION`: an MLC NAND partition used in SLC mode.
    pub const SLC_ON_MLC_EMULATION: Self = Self(0x4000);

    const NAMED: [(Self, &'static str); 5] = [
        (Self::WRITEABLE, "WRITEABLE"),
        (Self::BIT_WRITEABLE, "BIT_WRITEABLE"),
        (Self::NO_ERASE, "NO_ERASE"),
        (Self::POWERUP_LOCK, "POWERUP_LOCK"),
        (Self::SLC_ON_MLC_EMULATION, "SLC_ON_MLC_EMULATION"),
    ];

    /// Wraps raw flag bits, keeping bits this crate does not name.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw flag bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `MTD_WRITEABLE` is set: the kernel allows writing and erasing.
    pub const fn writable(self) -> bool {
        self.contains(Self::WRITEABLE)
    }

    /// `MTD_BIT_WRITEABLE` is set: single bits can be flipped in place.
    pub const fn bit_writable(self) -> bool {
        self.contains(Self::BIT_WRITEABLE)
    }

    /// `MTD_NO_ERASE` is set: writes need no prior erase.
    pub const fn no_erase(self) -> bool {
        self.contains(Self::NO_ERASE)
    }
}

impl fmt::Display for MtdFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Debug for MtdFlags {
    /// `MtdFlags(0xc00: WRITEABLE | BIT_WRITEABLE)`, with unnamed bits in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MtdFlags({:#x}", self.0)?;
        let mut rest = self.0;
        let mut sep = ": ";
        for (flag, name) in Self::NAMED {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = " | ";
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            write!(f, "{sep}{rest:#x}")?;
        }
        f.write_str(")")
    }
}

impl From<u32> for MtdFlags {
    fn from(bits: u32) -> Self {
        Self(bits)
    }
}

impl From<MtdFlags> for u32 {
    fn from(flags: MtdFlags) -> Self {
        flags.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KNOWN: [(&str, u8); 8] = [
        ("absent", 0),
        ("ram", 1),
        ("rom", 2),
        ("nor", 3),
        ("nand", 4),
        ("dataflash", 6),
        ("ubi", 7),
        ("mlc-nand", 8),
    ];

    #[test]
    fn type_sysfs_spelling_round_trips() {
        for (name, code) in ALL_KNOWN {
            let t = MtdType::from_sysfs(name);
            assert_eq!(t.as_str(), name);
            assert_eq!(t.to_string(), name);
            assert_eq!(t.code(), Some(code), "{name}");
            assert_eq!(MtdType::from_code(code), t, "{name}");
        }
    }

    #[test]
    fn type_ignores_trailing_newline_and_keeps_unknown_spellings() {
        assert_eq!(MtdType::from_sysfs("nand\n"), MtdType::Nand);
        assert_eq!(MtdType::from_sysfs("unknown\n"), MtdType::Unknown);
        assert_eq!(
            MtdType::from_sysfs("spi-nand\n"),
            MtdType::Other("spi-nand".to_owned())
        );
        assert_eq!(MtdType::Other("x".to_owned()).code(), None);
        assert_eq!("mlc-nand".parse::<MtdType>(), Ok(MtdType::MlcNand));
    }

    #[test]
    fn type_codes_without_a_name_are_unknown_like_sysfs() {
        assert_eq!(MtdType::from_code(5), MtdType::Unknown);
        assert_eq!(MtdType::from_code(9), MtdType::Unknown);
        assert_eq!(MtdType::from_code(255), MtdType::Unknown);
    }

    #[test]
    fn nand_types() {
        assert!(MtdType::Nand.is_nand());
        assert!(MtdType::MlcNand.is_nand());
        assert!(!MtdType::Nor.is_nand());
        assert!(!MtdType::Ram.is_nand());
    }

    #[test]
    fn flags_helpers_and_formatting() {
        // MTD_CAP_NORFLASH = MTD_WRITEABLE | MTD_BIT_WRITEABLE
        let nor = MtdFlags::from_bits(0xc00);
        assert!(nor.writable());
        assert!(nor.bit_writable());
        assert!(!nor.no_erase());
        assert_eq!(nor.to_string(), "0xc00");
        assert_eq!(
            format!("{nor:?}"),
            "MtdFlags(0xc00: WRITEABLE | BIT_WRITEABLE)"
        );
        // MTD_CAP_RAM also has MTD_NO_ERASE; an unnamed bit is kept.
        let ram = MtdFlags::from(0x1c00 | 0x1);
        assert!(ram.no_erase());
        assert_eq!(u32::from(ram), 0x1c01);
        assert_eq!(
            format!("{ram:?}"),
            "MtdFlags(0x1c01: WRITEABLE | BIT_WRITEABLE | NO_ERASE | 0x1)"
        );
        // MTD_CAP_ROM
        let rom = MtdFlags::default();
        assert!(!rom.writable());
        assert_eq!(format!("{rom:?}"), "MtdFlags(0x0)");
        assert_eq!(rom.to_string(), "0x0");
    }
}
