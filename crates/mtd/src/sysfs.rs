//! Enumerating MTD devices through `/sys/class/mtd`.
//!
//! # Why sysfs
//!
//! The kernel offers three ways to learn what flash a system has:
//!
//! - `/proc/mtd` lists index, size, erase size and name only, in a text
//!   format meant for people (see [`crate::proc`]).
//! - The `MEMGETINFO` ioctl needs the device node opened first (so it cannot
//!   enumerate), reports the size as a 32-bit number (wrong for devices of
//!   4 GiB and more), and the kernel header itself says "better to use sysfs".
//! - `/sys/class/mtd/mtdN/` has one small attribute file per property
//!   (`name`, `size`, `erasesize`, `writesize`, `oobsize`, `type`, `flags`,
//!   ...), 64-bit sizes, and needs no open device and no privileges.
//!
//! This module therefore reads sysfs, the way mtd-utils' `libmtd` does.
//! `/sys/class/mtd` also holds an `mtdNro` entry per device (the read-only
//! character device); only the `mtdN` entries are devices and are listed.
//!
//! Every function has an `_in` variant that takes the class directory, so
//! that tests (and tools inspecting another root) can point it at a fake tree.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::types::{MtdFlags, MtdType};

/// The sysfs class directory of MTD devices.
pub const DEFAULT_ROOT: &str = "/sys/class/mtd";

/// One MTD device as described by `/sys/class/mtd/mtdN/`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtdInfo {
    /// N in `mtdN`, also the character device `/dev/mtdN`.
    pub index: u32,
    /// The device or partition name (`name`), e.g. `"firmware"`.
    pub name: String,
    /// Total size in bytes (`size`).
    pub size: u64,
    /// Erase block size in bytes (`erasesize`).
    pub erase_size: u32,
    /// Minimal write unit in bytes (`writesize`): 1 for NOR, the page for NAND.
    pub write_size: u32,
    /// Sub-page size in bytes (`subpagesize`), absent on very old kernels.
    pub sub_page_size: Option<u32>,
    /// OOB (spare area) bytes per page (`oobsize`); 0 unless NAND.
    pub oob_size: u32,
    /// OOB bytes free for users per page (`oobavail`), absent on old kernels.
    pub oob_avail: Option<u32>,
    /// Number of erase regions with differing block sizes
    /// (`numeraseregions`); 0 for uniform devices.
    pub num_erase_regions: u32,
    /// The memory type (`type`).
    pub mtd_type: MtdType,
    /// The capability flags (`flags`).
    pub flags: MtdFlags,
}

impl MtdInfo {
    /// Whether the kernel allows writing and erasing (`MTD_WRITEABLE`).
    pub fn writable(&self) -> bool {
        self.flags.writable()
    }

    /// The character device node, `/dev/mtdN`.
    pub fn dev_path(&self) -> PathBuf {
        crate::types::dev_path(self.index)
    }
}

/// A failure to read the MTD sysfs tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysfsError {
    /// The class directory exists but could not be listed.
    #[error("mtd: cannot list {}: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An attribute file could not be read (a mandatory one missing included).
    #[error("mtd: cannot read {}: {source}", path.display())]
    ReadAttr {
        /// The attribute file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An attribute file did not hold the expected kind of value.
    #[error("mtd: {} holds {value:?}, expected {expected}", path.display())]
    BadAttr {
        /// The attribute file.
        path: PathBuf,
        /// What it held (without the trailing newline).
        value: String,
        /// What was expected, e.g. "a decimal number".
        expected: &'static str,
    },
}

/// Lists the MTD devices in [`DEFAULT_ROOT`], sorted by index.
///
/// A system without MTD support (no `/sys/class/mtd`) has no devices: the
/// result is an empty list, not an error.
pub fn list() -> Result<Vec<MtdInfo>, SysfsError> {
    list_in(Path::new(DEFAULT_ROOT))
}

/// Lists the MTD devices in the class directory `root` (normally
/// `/sys/class/mtd`), sorted by index.
///
/// A missing `root` yields an empty list. Entries other than `mtdN` (such
/// as `mtdNro`) are skipped. A device removed while it is being read (a
/// partition deleted, a gluebi volume detached) is skipped too; any other
/// unreadable or malformed attribute is an error naming the file.
pub fn list_in(root: &Path) -> Result<Vec<MtdInfo>, SysfsError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            log::debug!("{} does not exist: no MTD devices", root.display());
            return Ok(Vec::new());
        }
        Err(source) => {
            return Err(SysfsError::ReadDir {
                path: root.to_owned(),
                source,
            })
        }
    };

    let mut devices = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| SysfsError::ReadDir {
            path: root.to_owned(),
            source,
        })?;
        let file_name = entry.file_name();
        let Some(index) = file_name.to_str().and_then(parse_entry_name) else {
            continue;
        };
        if let Some(info) = read_device(&entry.path(), index)? {
            devices.push(info);
        }
    }
    devices.sort_by_key(|d| d.index);
    Ok(devices)
}

/// `"mtd12"` → 12. `"mtd12ro"`, `"mtd"`, `"mtd+1"`, `"mtd01"` → `None`: the
/// kernel names devices `mtd%d`, so anything else is not a device entry.
fn parse_entry_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("mtd")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// Why one attribute could not be had.
enum AttrError {
    /// The file does not exist.
    Missing(PathBuf),
    /// Anything else.
    Fatal(SysfsError),
}

impl AttrError {
    fn into_sysfs(self) -> SysfsError {
        match self {
            Self::Missing(path) => SysfsError::ReadAttr {
                path,
                source: io::Error::new(io::ErrorKind::NotFound, "attribute missing"),
            },
            Self::Fatal(e) => e,
        }
    }
}

/// Reads `dir/attr` without its one trailing newline.
fn read_attr(dir: &Path, attr: &str) -> Result<(PathBuf, String), AttrError> {
    let path = dir.join(attr);
    match fs::read_to_string(&path) {
        Ok(mut value) => {
            if value.ends_with('\n') {
                value.pop();
            }
            Ok((path, value))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(AttrError::Missing(path)),
        Err(source) => Err(AttrError::Fatal(SysfsError::ReadAttr { path, source })),
    }
}

/// A number in the kernel's sysfs notation: decimal, or hex with `0x`.
trait SysfsNumber: Sized {
    fn parse_dec(s: &str) -> Option<Self>;
    fn parse_hex(s: &str) -> Option<Self>;
}

macro_rules! sysfs_number {
    ($($t:ty),*) => {$(
        impl SysfsNumber for $t {
            fn parse_dec(s: &str) -> Option<Self> {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                s.parse().ok()
            }
            fn parse_hex(s: &str) -> Option<Self> {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                <$t>::from_str_radix(s, 16).ok()
            }
        }
    )*};
}
sysfs_number!(u32, u64);

fn parse_number<T: SysfsNumber>(path: PathBuf, value: String) -> Result<T, AttrError> {
    let trimmed = value.trim();
    let parsed = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(hex) => T::parse_hex(hex),
        None => T::parse_dec(trimmed),
    };
    parsed.ok_or(AttrError::Fatal(SysfsError::BadAttr {
        path,
        value,
        expected: "a number that fits",
    }))
}

fn number<T: SysfsNumber>(dir: &Path, attr: &str) -> Result<T, AttrError> {
    let (path, value) = read_attr(dir, attr)?;
    parse_number(path, value)
}

fn optional_number<T: SysfsNumber>(dir: &Path, attr: &str) -> Result<Option<T>, AttrError> {
    match read_attr(dir, attr) {
        Ok((path, value)) => parse_number(path, value).map(Some),
        Err(AttrError::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_attrs(dir: &Path, index: u32) -> Result<MtdInfo, AttrError> {
    Ok(MtdInfo {
        index,
        name: read_attr(dir, "name")?.1,
        size: number(dir, "size")?,
        erase_size: number(dir, "erasesize")?,
        write_size: number(dir, "writesize")?,
        sub_page_size: optional_number(dir, "subpagesize")?,
        oob_size: number(dir, "oobsize")?,
        oob_avail: optional_number(dir, "oobavail")?,
        num_erase_regions: number(dir, "numeraseregions")?,
        mtd_type: MtdType::from_sysfs(&read_attr(dir, "type")?.1),
        flags: MtdFlags::from_bits(number(dir, "flags")?),
    })
}

/// Reads one `mtdN` directory; `Ok(None)` if it vanished meanwhile.
fn read_device(dir: &Path, index: u32) -> Result<Option<MtdInfo>, SysfsError> {
    match read_attrs(dir, index) {
        Ok(info) => Ok(Some(info)),
        Err(AttrError::Missing(path)) => {
            // A missing attribute in a directory that is still there is a
            // malformed tree; a directory that is gone is a device removed
            // while we were listing.
            if matches!(dir.try_exists(), Ok(false)) {
                log::debug!("{} disappeared while listing; skipped", dir.display());
                Ok(None)
            } else {
                Err(AttrError::Missing(path).into_sysfs())
            }
        }
        Err(e) => Err(e.into_sysfs()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// Attributes of one fake device, written the way the kernel prints them.
    pub(crate) struct FakeDevice<'a> {
        pub index: u32,
        pub name: &'a str,
        pub size: u64,
        pub erase_size: u32,
        pub write_size: u32,
        pub oob_size: u32,
        pub mtd_type: &'a str,
        pub flags: u32,
    }

    /// Writes `dev` below `root` like `drivers/mtd/mtdcore.c` would show it,
    /// plus the `mtdNro` sibling (which has no attributes we read).
    pub(crate) fn write_fake(root: &Path, dev: &FakeDevice<'_>) -> io::Result<()> {
        let dir = root.join(format!("mtd{}", dev.index));
        fs::create_dir_all(&dir)?;
        let attrs = [
            ("name", format!("{}\n", dev.name)),
            ("size", format!("{}\n", dev.size)),
            ("erasesize", format!("{}\n", dev.erase_size)),
            ("writesize", format!("{}\n", dev.write_size)),
            ("subpagesize", format!("{}\n", dev.write_size)),
            ("oobsize", format!("{}\n", dev.oob_size)),
            ("oobavail", format!("{}\n", dev.oob_size / 2)),
            ("numeraseregions", "0\n".to_owned()),
            ("type", format!("{}\n", dev.mtd_type)),
            ("flags", format!("{:#x}\n", dev.flags)),
            ("dev", format!("90:{}\n", dev.index * 2)),
            ("ecc_strength", "0\n".to_owned()),
        ];
        for (attr, value) in attrs {
            fs::write(dir.join(attr), value)?;
        }
        let ro = root.join(format!("mtd{}ro", dev.index));
        fs::create_dir_all(&ro)?;
        fs::write(ro.join("dev"), format!("90:{}\n", dev.index * 2 + 1))?;
        Ok(())
    }

    /// A GL-AR750-like NOR layout plus an nandsim device, out of order.
    pub(crate) const FAKES: [FakeDevice<'static>; 4] = [
        FakeDevice {
            index: 10,
            name: "NAND simulator partition 0",
            size: 134_217_728,
            erase_size: 131_072,
            write_size: 2048,
            oob_size: 64,
            mtd_type: "nand",
            flags: 0x400,
        },
        FakeDevice {
            index: 0,
            name: "u-boot",
            size: 262_144,
            erase_size: 65536,
            write_size: 1,
            oob_size: 0,
            mtd_type: "nor",
            flags: 0x800,
        },
        FakeDevice {
            index: 2,
            name: "firmware",
            size: 16_252_928,
            erase_size: 65536,
            write_size: 1,
            oob_size: 0,
            mtd_type: "nor",
            flags: 0xc00,
        },
        FakeDevice {
            index: 1,
            name: "art",
            size: 65536,
            erase_size: 65536,
            write_size: 1,
            oob_size: 0,
            mtd_type: "nor",
            flags: 0x800,
        },
    ];

    pub(crate) fn fake_tree() -> TempDir {
        let tmp = TempDir::new("sysfs");
        for dev in &FAKES {
            write_fake(tmp.path(), dev).expect("writing into a fresh temp dir");
        }
        tmp
    }

    #[test]
    fn lists_mtd_entries_sorted_and_skips_ro_nodes() {
        let tmp = fake_tree();
        let devices = list_in(tmp.path()).expect("fake tree is well-formed");
        let indexes: Vec<u32> = devices.iter().map(|d| d.index).collect();
        assert_eq!(indexes, [0, 1, 2, 10]);

        let firmware = &devices[2];
        assert_eq!(firmware.name, "firmware");
        assert_eq!(firmware.size, 16_252_928);
        assert_eq!(firmware.erase_size, 65536);
        assert_eq!(firmware.write_size, 1);
        assert_eq!(firmware.sub_page_size, Some(1));
        assert_eq!(firmware.oob_size, 0);
        assert_eq!(firmware.oob_avail, Some(0));
        assert_eq!(firmware.num_erase_regions, 0);
        assert_eq!(firmware.mtd_type, MtdType::Nor);
        assert_eq!(firmware.flags.bits(), 0xc00);
        assert!(firmware.writable());
        assert_eq!(firmware.dev_path(), Path::new("/dev/mtd2"));

        let uboot = &devices[0];
        assert!(!uboot.writable(), "u-boot partition is read-only");

        let nand = &devices[3];
        assert_eq!(nand.name, "NAND simulator partition 0");
        assert_eq!(nand.mtd_type, MtdType::Nand);
        assert_eq!(nand.write_size, 2048);
        assert_eq!(nand.oob_size, 64);
        assert_eq!(nand.oob_avail, Some(32));
    }

    #[test]
    fn missing_class_dir_means_no_devices() {
        let tmp = TempDir::new("nosysfs");
        let devices = list_in(&tmp.path().join("class/mtd")).expect("missing dir is not an error");
        assert!(devices.is_empty());
    }

    #[test]
    fn empty_class_dir_means_no_devices() {
        let tmp = TempDir::new("emptysysfs");
        assert!(list_in(tmp.path()).expect("empty dir").is_empty());
    }

    #[test]
    fn sizes_above_4_gib_are_kept() {
        let tmp = TempDir::new("bigsysfs");
        let dev = FakeDevice {
            index: 0,
            name: "big nand",
            size: 8 << 30,
            erase_size: 4 << 20,
            write_size: 16384,
            oob_size: 1280,
            mtd_type: "mlc-nand",
            flags: 0x400,
        };
        write_fake(tmp.path(), &dev).expect("temp dir");
        let devices = list_in(tmp.path()).expect("well-formed");
        assert_eq!(devices[0].size, 8 << 30);
        assert_eq!(devices[0].mtd_type, MtdType::MlcNand);
    }

    #[test]
    fn names_keep_inner_spaces_and_only_lose_the_newline() {
        let tmp = fake_tree();
        let dir = tmp.path().join("mtd1");
        fs::write(dir.join("name"), " spaced name \n").expect("temp dir");
        let devices = list_in(tmp.path()).expect("well-formed");
        assert_eq!(devices[1].name, " spaced name ");
    }

    #[test]
    fn optional_attributes_may_be_missing() {
        let tmp = fake_tree();
        let dir = tmp.path().join("mtd0");
        fs::remove_file(dir.join("subpagesize")).expect("exists");
        fs::remove_file(dir.join("oobavail")).expect("exists");
        let devices = list_in(tmp.path()).expect("still well-formed");
        assert_eq!(devices[0].sub_page_size, None);
        assert_eq!(devices[0].oob_avail, None);
    }

    #[test]
    fn missing_mandatory_attribute_names_the_file() {
        let tmp = fake_tree();
        let attr = tmp.path().join("mtd2").join("erasesize");
        fs::remove_file(&attr).expect("exists");
        let err = list_in(tmp.path()).expect_err("erasesize is mandatory");
        match &err {
            SysfsError::ReadAttr { path, source } => {
                assert_eq!(path, &attr);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected error {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("mtd: cannot read "), "{msg}");
        assert!(msg.contains("mtd2/erasesize"), "{msg}");
    }

    #[test]
    fn malformed_number_is_an_error_with_value() {
        let tmp = fake_tree();
        let attr = tmp.path().join("mtd1").join("size");
        fs::write(&attr, "lots\n").expect("temp dir");
        let err = list_in(tmp.path()).expect_err("size must be a number");
        assert!(
            matches!(&err, SysfsError::BadAttr { path, value, .. } if path == &attr && value == "lots"),
            "{err:?}"
        );
        assert!(err.to_string().contains("holds \"lots\""), "{err}");
    }

    #[test]
    fn overflowing_number_is_an_error() {
        let tmp = fake_tree();
        fs::write(tmp.path().join("mtd1").join("erasesize"), "4294967296\n").expect("temp dir");
        let err = list_in(tmp.path()).expect_err("erasesize is 32-bit");
        assert!(matches!(err, SysfsError::BadAttr { .. }), "{err:?}");
    }

    #[test]
    fn unknown_type_spelling_is_kept() {
        let tmp = fake_tree();
        fs::write(tmp.path().join("mtd0").join("type"), "hyperflash\n").expect("temp dir");
        let devices = list_in(tmp.path()).expect("well-formed");
        assert_eq!(devices[0].mtd_type, MtdType::Other("hyperflash".to_owned()));
    }

    #[test]
    fn entry_names() {
        assert_eq!(parse_entry_name("mtd0"), Some(0));
        assert_eq!(parse_entry_name("mtd12"), Some(12));
        assert_eq!(parse_entry_name("mtd4294967295"), Some(u32::MAX));
        for bad in [
            "mtd",
            "mtd0ro",
            "mtd+1",
            "mtd01",
            "mtd-1",
            "mtdblock0",
            "ubi0",
            "mtd4294967296",
            "MTD0",
        ] {
            assert_eq!(parse_entry_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_in_sysfs_notation() {
        let p = PathBuf::from("x");
        let ok = |s: &str| parse_number::<u64>(p.clone(), s.to_owned()).ok();
        assert_eq!(ok("0"), Some(0));
        assert_eq!(ok("8388608"), Some(8_388_608));
        assert_eq!(ok("0xc00"), Some(0xc00));
        assert_eq!(ok("0x0"), Some(0));
        assert_eq!(ok(" 42 "), Some(42));
        for bad in [
            "",
            "0x",
            "+1",
            "-1",
            "1 2",
            "0x+1",
            "ten",
            "18446744073709551616",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }
}
