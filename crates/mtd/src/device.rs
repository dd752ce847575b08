//! An open MTD character device (`/dev/mtdN`).
//!
//! [`Mtd::open`] refuses anything that is not an MTD character device
//! (major 90) and checks that the node it opened is the device it was asked
//! for, so a stale or mis-made `/dev` entry cannot redirect a later erase or
//! write to the wrong flash.

use std::fmt;
use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::spec::{DeviceSpec, SpecError};
use crate::sys;
use crate::sysfs::{self, SysfsError};
use crate::types::{dev_path, MtdFlags, MtdType};

/// The character-device major number of MTD (`MTD_CHAR_MAJOR` in
/// `include/uapi/linux/major.h`). Minor `2 * N` is `mtdN`, `2 * N + 1` is
/// the read-only `mtdNro`.
pub const MTD_CHAR_MAJOR: u64 = 90;

/// How to open a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenMode {
    /// `O_RDONLY`: reading and queries only.
    ReadOnly,
    /// `O_RDWR`: also erase and write. The kernel refuses this for a device
    /// without `MTD_WRITEABLE` and for `mtdNro` nodes (`EACCES`).
    ReadWrite,
}

impl fmt::Display for OpenMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReadOnly => "read-only",
            Self::ReadWrite => "read-write",
        })
    }
}

/// A failure to open or query an MTD device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The device node could not be opened.
    #[error("mtd: cannot open {} {mode}: {source}", path.display())]
    Open {
        /// The node.
        path: PathBuf,
        /// How it was to be opened.
        mode: OpenMode,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `fstat` on the opened node failed.
    #[error("mtd: cannot stat {}: {source}", path.display())]
    Stat {
        /// The node.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The path is not an MTD character device.
    #[error("mtd: {} is not an MTD character device ({what})", path.display())]
    NotMtd {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "regular file" or "character device 1:3".
        what: String,
    },
    /// The node is an MTD device, but not the one asked for.
    #[error("mtd: {} is mtd{found}, not mtd{expected} (stale or mis-made device node?)", path.display())]
    WrongDevice {
        /// The node.
        path: PathBuf,
        /// The index asked for.
        expected: u32,
        /// The index the node's minor number names.
        found: u32,
    },
    /// An ioctl on the device failed.
    #[error("mtd: {request} on {} failed: {source}", path.display())]
    Ioctl {
        /// The node.
        path: PathBuf,
        /// The ioctl, e.g. "MEMGETINFO".
        request: &'static str,
        /// The error the kernel returned.
        #[source]
        source: Errno,
    },
    /// Listing devices to resolve a name failed.
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    /// The device spec matched no device.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// What `MEMGETINFO` reports about an open device.
///
/// Prefer [`crate::sysfs::MtdInfo`] for enumeration; this is what the
/// driver behind an open file descriptor says, e.g. to check a device
/// before writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// The memory type.
    pub mtd_type: MtdType,
    /// The raw type code (`MTD_NANDFLASH` = 4, ...), kept for codes that
    /// [`MtdType`] maps to [`MtdType::Unknown`].
    pub type_code: u8,
    /// The capability flags.
    pub flags: MtdFlags,
    /// Total size in bytes, **truncated to 32 bits by the kernel** for
    /// devices of 4 GiB and more; use [`crate::sysfs::MtdInfo::size`] there.
    pub size: u32,
    /// Erase block size in bytes.
    pub erase_size: u32,
    /// Minimal write unit in bytes.
    pub write_size: u32,
    /// OOB bytes per page.
    pub oob_size: u32,
}

impl DeviceInfo {
    fn from_raw(raw: &sys::mtd_info_user) -> Self {
        Self {
            mtd_type: MtdType::from_code(raw.type_),
            type_code: raw.type_,
            flags: MtdFlags::from_bits(raw.flags),
            size: raw.size,
            erase_size: raw.erasesize,
            write_size: raw.writesize,
            oob_size: raw.oobsize,
        }
    }

    /// Whether the kernel allows writing and erasing (`MTD_WRITEABLE`).
    pub fn writable(&self) -> bool {
        self.flags.writable()
    }
}

/// An open MTD character device.
///
/// Closed when dropped.
#[derive(Debug)]
pub struct Mtd {
    file: File,
    path: PathBuf,
    index: u32,
    mode: OpenMode,
}

impl Mtd {
    /// Opens the device `spec` names: `/dev/mtdN` directly for an index, or
    /// after looking the name up in `/sys/class/mtd` for `mtd:NAME`.
    pub fn open(spec: &DeviceSpec, mode: OpenMode) -> Result<Self, DeviceError> {
        let index = match spec {
            DeviceSpec::Index(index) => *index,
            DeviceSpec::Name(_) => spec.resolve_index(&sysfs::list()?)?,
        };
        let path = dev_path(index);
        let mtd = Self::open_path(&path, mode)?;
        if mtd.index != index {
            return Err(DeviceError::WrongDevice {
                path,
                expected: index,
                found: mtd.index,
            });
        }
        Ok(mtd)
    }

    /// Opens the MTD character device node at `path` (which need not be
    /// under `/dev`); its index is taken from the node's minor number.
    ///
    /// Anything but an MTD character device is refused with
    /// [`DeviceError::NotMtd`] *before* it is opened: opening some other
    /// nodes has side effects (`/dev/watchdog` starts the watchdog, a fifo
    /// blocks). The opened file is checked again, so a node swapped in
    /// between is refused too.
    pub fn open_path(path: impl AsRef<Path>, mode: OpenMode) -> Result<Self, DeviceError> {
        let path = path.as_ref();
        let open_error = |source| DeviceError::Open {
            path: path.to_owned(),
            mode,
            source,
        };
        let before = fs::metadata(path).map_err(open_error)?;
        let index = mtd_index(path, &before)?;
        let file = OpenOptions::new()
            .read(true)
            .write(mode == OpenMode::ReadWrite)
            .open(path)
            .map_err(open_error)?;
        // fstat on the opened file: what is used is what was checked.
        let after = file.metadata().map_err(|source| DeviceError::Stat {
            path: path.to_owned(),
            source,
        })?;
        mtd_index(path, &after)?;
        if after.rdev() != before.rdev() {
            return Err(DeviceError::NotMtd {
                path: path.to_owned(),
                what: "a different device once opened".to_owned(),
            });
        }
        log::debug!("opened {} (mtd{index}) {mode}", path.display());
        Ok(Self {
            file,
            path: path.to_owned(),
            index,
            mode,
        })
    }

    /// The device's index (N in `mtdN`), from the node's minor number.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The path the device was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the device was opened.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// Queries the device's type, flags and geometry (`MEMGETINFO`).
    #[doc(alias = "MEMGETINFO")]
    pub fn info(&self) -> Result<DeviceInfo, DeviceError> {
        let raw = sys::mem_get_info(self.file.as_fd()).map_err(|source| DeviceError::Ioctl {
            path: self.path.clone(),
            request: "MEMGETINFO",
            source,
        })?;
        Ok(DeviceInfo::from_raw(&raw))
    }
}

/// ECC and bad-block counters of a device (`ECCGETSTATS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EccStats {
    /// Bit errors ECC corrected since boot.
    pub corrected: u32,
    /// Uncorrectable ECC errors since boot.
    pub failed: u32,
    /// Bad blocks in the device.
    pub bad_blocks: u32,
    /// Blocks reserved for the bad block table.
    pub bbt_blocks: u32,
}

impl Mtd {
    fn ioctl_error(&self, request: &'static str) -> impl FnOnce(Errno) -> DeviceError + '_ {
        move |source| DeviceError::Ioctl {
            path: self.path.clone(),
            request,
            source,
        }
    }

    /// Erases `length` bytes from byte `start` (`MEMERASE64`); both must be
    /// multiples of the erase size. Erased flash reads as `0xff`.
    #[doc(alias = "MEMERASE64")]
    pub fn erase(&self, start: u64, length: u64) -> Result<(), DeviceError> {
        sys::mem_erase64(self.file.as_fd(), start, length).map_err(self.ioctl_error("MEMERASE64"))
    }

    /// Unlocks `length` bytes from `start` (`MEMUNLOCK`), for NOR chips that
    /// lock themselves at power-up. Devices without locking answer
    /// `EOPNOTSUPP`, which is returned as an error for the caller to ignore.
    #[doc(alias = "MEMUNLOCK")]
    pub fn unlock(&self, start: u32, length: u32) -> Result<(), DeviceError> {
        sys::mem_unlock(self.file.as_fd(), start, length).map_err(self.ioctl_error("MEMUNLOCK"))
    }

    /// Whether the erase block containing byte `offset` is marked bad
    /// (`MEMGETBADBLOCK`). Devices without bad blocks (NOR, RAM) have none:
    /// their `EOPNOTSUPP` is answered with `false`.
    #[doc(alias = "MEMGETBADBLOCK")]
    pub fn is_bad_block(&self, offset: u64) -> Result<bool, DeviceError> {
        let offset = i64::try_from(offset).map_err(|_| DeviceError::Ioctl {
            path: self.path.clone(),
            request: "MEMGETBADBLOCK",
            source: Errno::EINVAL,
        })?;
        match sys::mem_get_bad_block(self.file.as_fd(), offset) {
            Err(Errno::EOPNOTSUPP) => Ok(false),
            other => other.map_err(self.ioctl_error("MEMGETBADBLOCK")),
        }
    }

    /// Marks the erase block containing byte `offset` bad (`MEMSETBADBLOCK`).
    #[doc(alias = "MEMSETBADBLOCK")]
    pub fn mark_bad_block(&self, offset: u64) -> Result<(), DeviceError> {
        let offset = i64::try_from(offset).map_err(|_| DeviceError::Ioctl {
            path: self.path.clone(),
            request: "MEMSETBADBLOCK",
            source: Errno::EINVAL,
        })?;
        sys::mem_set_bad_block(self.file.as_fd(), offset)
            .map_err(self.ioctl_error("MEMSETBADBLOCK"))
    }

    /// The device's ECC and bad-block counters (`ECCGETSTATS`).
    #[doc(alias = "ECCGETSTATS")]
    pub fn ecc_stats(&self) -> Result<EccStats, DeviceError> {
        let raw = sys::ecc_get_stats(self.file.as_fd()).map_err(self.ioctl_error("ECCGETSTATS"))?;
        Ok(EccStats {
            corrected: raw.corrected,
            failed: raw.failed,
            bad_blocks: raw.badblocks,
            bbt_blocks: raw.bbtblocks,
        })
    }

    /// Reads `buf.len()` bytes at byte `offset` (`pread`).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    /// Writes `data` at byte `offset` (`pwrite`). NAND needs `offset` and the
    /// length to be multiples of the page size ([`DeviceInfo::write_size`]),
    /// or of the sub-page size (sysfs `subpagesize`) where the chip takes
    /// sub-page writes; the [`crate::Flash`] implementation checks that
    /// before calling this.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset)
    }
}

impl AsFd for Mtd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The MTD index of the node `meta` describes, or why it is not an MTD
/// character device.
fn mtd_index(path: &Path, meta: &Metadata) -> Result<u32, DeviceError> {
    let not_mtd = |what: String| DeviceError::NotMtd {
        path: path.to_owned(),
        what,
    };
    if !meta.file_type().is_char_device() {
        return Err(not_mtd(file_kind(meta.file_type()).to_owned()));
    }
    let (maj, min) = (dev_major(meta.rdev()), dev_minor(meta.rdev()));
    if maj != MTD_CHAR_MAJOR {
        return Err(not_mtd(format!("character device {maj}:{min}")));
    }
    // Minor 2N is mtdN, 2N + 1 its read-only twin mtdNro.
    u32::try_from(min / 2).map_err(|_| not_mtd(format!("character device {maj}:{min}")))
}

fn file_kind(kind: FileType) -> &'static str {
    if kind.is_file() {
        "regular file"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else {
        "not a character device"
    }
}

/// The major number of a `dev_t` as std returns it (`MetadataExt::rdev`, a
/// `u64` on every architecture), in the encoding glibc's and musl's
/// `major()` decode: 12 low bits at 8..20, the rest from bit 44 up.
///
/// Done here rather than with `nix::sys::stat::major`, because libc's
/// `st_rdev` is 32 bits on some 32-bit targets (MIPS o32) while `dev_t` is
/// 64, so no single call type-checks everywhere.
const fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
}

/// The minor number of a `dev_t` (see [`dev_major`]): 8 low bits at 0..8,
/// the rest from bit 20 up.
const fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// glibc's `makedev()`.
    fn makedev(major: u64, minor: u64) -> u64 {
        ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
    }

    #[test]
    fn dev_t_decoding() {
        for (maj, min) in [
            (1, 3),
            (90, 0),
            (90, 7),
            (90, 511),
            (0xfff, 0xff),
            (0x1234, 0x56789),
        ] {
            let dev = makedev(maj, min);
            assert_eq!((dev_major(dev), dev_minor(dev)), (maj, min), "{dev:#x}");
        }
        // The values of real nodes: /dev/null and /dev/mtd3ro.
        assert_eq!((dev_major(0x103), dev_minor(0x103)), (1, 3));
        assert_eq!((dev_major(0x5a07), dev_minor(0x5a07)), (90, 7));
    }

    #[test]
    fn dev_paths() {
        assert_eq!(dev_path(0), Path::new("/dev/mtd0"));
        assert_eq!(dev_path(12), Path::new("/dev/mtd12"));
    }

    #[test]
    fn refuses_a_character_device_of_another_driver() {
        // /dev/null is character device 1:3.
        let err = Mtd::open_path("/dev/null", OpenMode::ReadOnly).expect_err("not MTD");
        assert!(
            matches!(&err, DeviceError::NotMtd { path, what }
                if path == Path::new("/dev/null") && what == "character device 1:3"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "mtd: /dev/null is not an MTD character device (character device 1:3)"
        );
    }

    #[test]
    fn refuses_a_regular_file_and_a_directory() {
        let tmp = TempDir::new("device");
        let file = tmp.path().join("mtd0");
        std::fs::write(&file, [0xffu8; 64]).expect("temp dir");
        let err = Mtd::open_path(&file, OpenMode::ReadOnly).expect_err("not MTD");
        assert!(
            matches!(&err, DeviceError::NotMtd { what, .. } if what == "regular file"),
            "{err:?}"
        );
        let err = Mtd::open_path(tmp.path(), OpenMode::ReadOnly).expect_err("not MTD");
        assert!(
            matches!(&err, DeviceError::NotMtd { what, .. } if what == "directory"),
            "{err:?}"
        );
    }

    #[test]
    fn checks_the_node_before_opening_it() {
        // open(2) on a socket fails with ENXIO; getting NotMtd instead shows
        // the node was refused before anything was opened.
        let tmp = TempDir::new("device");
        let sock = tmp.path().join("mtd0");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("temp dir");
        let err = Mtd::open_path(&sock, OpenMode::ReadWrite).expect_err("not MTD");
        assert!(
            matches!(&err, DeviceError::NotMtd { what, .. } if what == "socket"),
            "{err:?}"
        );
    }

    #[test]
    fn missing_node_is_an_open_error_naming_path_and_mode() {
        let tmp = TempDir::new("device");
        let path = tmp.path().join("mtd99");
        let err = Mtd::open_path(&path, OpenMode::ReadWrite).expect_err("missing");
        match &err {
            DeviceError::Open {
                path: p,
                mode,
                source,
            } => {
                assert_eq!(p, &path);
                assert_eq!(*mode, OpenMode::ReadWrite);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("mtd: cannot open "), "{msg}");
        assert!(msg.contains("mtd99 read-write: "), "{msg}");
    }

    #[test]
    fn device_info_from_raw() {
        let raw = sys::mtd_info_user {
            type_: 4,
            flags: 0x400,
            size: 128 << 20,
            erasesize: 128 << 10,
            writesize: 2048,
            oobsize: 64,
            padding: 0,
        };
        let info = DeviceInfo::from_raw(&raw);
        assert_eq!(info.mtd_type, MtdType::Nand);
        assert_eq!(info.type_code, 4);
        assert!(info.writable());
        assert_eq!(info.size, 128 << 20);
        assert_eq!(info.erase_size, 128 << 10);
        assert_eq!(info.write_size, 2048);
        assert_eq!(info.oob_size, 64);
        let odd = DeviceInfo::from_raw(&sys::mtd_info_user { type_: 42, ..raw });
        assert_eq!(odd.mtd_type, MtdType::Unknown);
        assert_eq!(odd.type_code, 42);
    }
}
