//! Talking to the kernel's UBI: attach and detach MTD devices, create,
//! remove, resize and atomically rename volumes, update a volume's
//! contents, and read device and volume information from sysfs.
//!
//! Control operations go through `/dev/ubi_ctrl` ([`Control`]), volume
//! management through the UBI device `/dev/ubiN` ([`UbiDevice`]), and a
//! volume update through the volume node `/dev/ubiN_M`
//! ([`update_volume`]). Information comes from `/sys/class/ubi`, which is
//! what mtd-utils' `ubinfo` reads too.
//!
//! # Example: swap two volumes (A/B update)
//!
//! ```no_run
//! use ubi::device::UbiDevice;
//!
//! # fn main() -> Result<(), ubi::device::DeviceError> {
//! let dev = UbiDevice::open("/dev/ubi0")?;
//! let a = dev.volume_id("rootfs")?;
//! let b = dev.volume_id("rootfs_new")?;
//! // One ioctl: either both names change or neither does.
//! dev.rename(&[(a, "rootfs_new"), (b, "rootfs")])?;
//! # Ok(())
//! # }
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::sys;

/// Default control device.
pub const UBI_CTRL: &str = "/dev/ubi_ctrl";
/// Where the kernel describes UBI devices and volumes.
pub const SYSFS_UBI: &str = "/sys/class/ubi";

/// A failed UBI operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// A device node could not be opened.
    #[error("ubi: cannot open {}: {source}", path.display())]
    Open {
        /// The node.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An ioctl failed.
    #[error("ubi: {op} on {}: {errno}", path.display())]
    Ioctl {
        /// What was attempted (`attach mtd3`, `rename`...).
        op: String,
        /// The node.
        path: PathBuf,
        /// The kernel's answer.
        errno: Errno,
    },
    /// sysfs could not be read.
    #[error("ubi: cannot read {}: {source}", path.display())]
    Sysfs {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A name is not a volume of the device.
    #[error("ubi: no volume named {name:?} on {}", path.display())]
    NoSuchVolume {
        /// The UBI device.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// Bad arguments (name too long, too many renames...).
    #[error("ubi: {0}")]
    Invalid(String),
    /// The update data could not be read or written.
    #[error("ubi: volume update of {}: {source}", path.display())]
    Update {
        /// The volume node.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

fn open(path: &Path, write: bool) -> Result<File, DeviceError> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .map_err(|source| DeviceError::Open {
            path: path.to_owned(),
            source,
        })
}

/// `/dev/ubi_ctrl`: attaching and detaching MTD devices.
#[derive(Debug)]
pub struct Control {
    file: File,
    path: PathBuf,
}

/// What to attach (`ubiattach`'s flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttachRequest {
    /// MTD device number (`-m`).
    pub mtd_num: u32,
    /// UBI device number to create (`-d`); `None` lets the kernel choose.
    pub ubi_num: Option<u32>,
    /// VID header offset (`-O`); `None` for the default.
    pub vid_hdr_offset: Option<u32>,
    /// PEBs per 1024 reserved for bad blocks (`-b`); `None` for the default.
    pub max_beb_per1024: Option<u16>,
}

impl Control {
    /// Opens the control device (normally [`UBI_CTRL`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let path = path.as_ref().to_owned();
        Ok(Self {
            file: open(&path, true)?,
            path,
        })
    }

    fn err(&self, op: String) -> impl FnOnce(Errno) -> DeviceError + '_ {
        move |errno| DeviceError::Ioctl {
            op,
            path: self.path.clone(),
            errno,
        }
    }

    /// Attaches an MTD device; returns the new UBI device number.
    pub fn attach(&self, req: &AttachRequest) -> Result<u32, DeviceError> {
        let to_i32 = |v: u32, what: &str| {
            i32::try_from(v).map_err(|_| DeviceError::Invalid(format!("{what} {v} is too large")))
        };
        let raw = sys::ubi_attach_req {
            ubi_num: match req.ubi_num {
                Some(n) => to_i32(n, "UBI device number")?,
                None => sys::UBI_DEV_NUM_AUTO,
            },
            mtd_num: to_i32(req.mtd_num, "MTD device number")?,
            vid_hdr_offset: to_i32(req.vid_hdr_offset.unwrap_or(0), "VID header offset")?,
            max_beb_per1024: i16::try_from(req.max_beb_per1024.unwrap_or(0))
                .map_err(|_| DeviceError::Invalid("max_beb_per1024 is too large".into()))?,
            ..Default::default()
        };
        let n = sys::ubi_att(self.file.as_fd(), raw)
            .map_err(self.err(format!("attach mtd{}", req.mtd_num)))?;
        log::info!("attached mtd{} as ubi{n}", req.mtd_num);
        u32::try_from(n).map_err(|_| DeviceError::Invalid(format!("kernel returned ubi{n}")))
    }

    /// Detaches UBI device `ubi_num`.
    pub fn detach(&self, ubi_num: u32) -> Result<(), DeviceError> {
        let n = i32::try_from(ubi_num)
            .map_err(|_| DeviceError::Invalid(format!("UBI device number {ubi_num}")))?;
        sys::ubi_det(self.file.as_fd(), n).map_err(self.err(format!("detach ubi{ubi_num}")))
    }
}

/// Volume type for [`UbiDevice::mkvol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MkvolType {
    /// `UBI_DYNAMIC_VOLUME` (3).
    Dynamic,
    /// `UBI_STATIC_VOLUME` (4).
    Static,
}

/// A volume to create (`ubimkvol`'s flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkvolRequest {
    /// Volume ID (`-n`); `None` lets the kernel choose.
    pub vol_id: Option<u32>,
    /// Name (`-N`).
    pub name: String,
    /// Size in bytes (`-s`).
    pub bytes: u64,
    /// Type (`-t`).
    pub vol_type: MkvolType,
    /// Alignment (`-a`).
    pub alignment: u32,
    /// Skip the CRC check of a static volume (`-k`).
    pub skip_check: bool,
}

fn name_bytes(name: &str) -> Result<([u8; sys::UBI_MAX_VOLUME_NAME + 1], i16), DeviceError> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > sys::UBI_MAX_VOLUME_NAME || b.contains(&0) {
        return Err(DeviceError::Invalid(format!(
            "volume name {name:?} must be 1 to {} bytes without NUL",
            sys::UBI_MAX_VOLUME_NAME
        )));
    }
    let mut out = [0u8; sys::UBI_MAX_VOLUME_NAME + 1];
    out[..b.len()].copy_from_slice(b);
    Ok((out, i16::try_from(b.len()).expect("at most 127")))
}

/// A UBI device node, `/dev/ubiN`: volume management.
#[derive(Debug)]
pub struct UbiDevice {
    file: File,
    path: PathBuf,
    ubi_num: Option<u32>,
}

/// Parses the `N` of `/dev/ubiN` (or `ubiN`).
fn ubi_number(path: &Path) -> Option<u32> {
    path.file_name()?
        .to_str()?
        .strip_prefix("ubi")?
        .parse()
        .ok()
}

impl UbiDevice {
    /// Opens `/dev/ubiN`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let path = path.as_ref().to_owned();
        Ok(Self {
            file: open(&path, true)?,
            ubi_num: ubi_number(&path),
            path,
        })
    }

    /// The device node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: String) -> impl FnOnce(Errno) -> DeviceError + '_ {
        move |errno| DeviceError::Ioctl {
            op,
            path: self.path.clone(),
            errno,
        }
    }

    /// Creates a volume; returns its ID.
    pub fn mkvol(&self, req: &MkvolRequest) -> Result<u32, DeviceError> {
        let (name, name_len) = name_bytes(&req.name)?;
        let raw = sys::ubi_mkvol_req {
            vol_id: match req.vol_id {
                Some(id) => i32::try_from(id)
                    .map_err(|_| DeviceError::Invalid(format!("volume ID {id}")))?,
                None => sys::UBI_VOL_NUM_AUTO,
            },
            alignment: i32::try_from(req.alignment)
                .map_err(|_| DeviceError::Invalid(format!("alignment {}", req.alignment)))?,
            bytes: i64::try_from(req.bytes)
                .map_err(|_| DeviceError::Invalid(format!("size {}", req.bytes)))?,
            vol_type: match req.vol_type {
                MkvolType::Dynamic => sys::UBI_DYNAMIC_VOLUME,
                MkvolType::Static => sys::UBI_STATIC_VOLUME,
            },
            flags: u8::from(req.skip_check),
            name_len,
            padding2: [0; 4],
            name: sys::c_name(name),
        };
        let id = sys::ubi_mkvol(self.file.as_fd(), raw)
            .map_err(self.err(format!("create volume {:?}", req.name)))?;
        u32::try_from(id).map_err(|_| DeviceError::Invalid(format!("kernel returned volume {id}")))
    }

    /// Removes volume `vol_id`.
    pub fn rmvol(&self, vol_id: u32) -> Result<(), DeviceError> {
        let id = i32::try_from(vol_id)
            .map_err(|_| DeviceError::Invalid(format!("volume ID {vol_id}")))?;
        sys::ubi_rmvol(self.file.as_fd(), id).map_err(self.err(format!("remove volume {vol_id}")))
    }

    /// Resizes volume `vol_id` to `bytes`.
    pub fn rsvol(&self, vol_id: u32, bytes: u64) -> Result<(), DeviceError> {
        let id = i32::try_from(vol_id)
            .map_err(|_| DeviceError::Invalid(format!("volume ID {vol_id}")))?;
        let bytes =
            i64::try_from(bytes).map_err(|_| DeviceError::Invalid(format!("size {bytes}")))?;
        sys::ubi_rsvol(self.file.as_fd(), id, bytes)
            .map_err(self.err(format!("resize volume {vol_id}")))
    }

    /// Renames volumes in one atomic step: after a crash either all or none
    /// of the names have changed. Names may be swapped between the volumes
    /// listed (the A/B swap).
    pub fn rename(&self, renames: &[(u32, &str)]) -> Result<(), DeviceError> {
        if renames.is_empty() || renames.len() > sys::UBI_MAX_RNVOL {
            return Err(DeviceError::Invalid(format!(
                "a rename takes 1 to {} volumes, not {}",
                sys::UBI_MAX_RNVOL,
                renames.len()
            )));
        }
        // The header's struct is packed: fill the entries first, then move
        // them in (no references into a packed struct).
        let mut ents = [sys::ubi_rnvol_ent::default(); sys::UBI_MAX_RNVOL];
        for (ent, (id, name)) in ents.iter_mut().zip(renames) {
            let (n, len) = name_bytes(name)?;
            ent.vol_id =
                i32::try_from(*id).map_err(|_| DeviceError::Invalid(format!("volume ID {id}")))?;
            ent.name_len = len;
            ent.name = sys::c_name(n);
        }
        let req = Box::new(sys::ubi_rnvol_req {
            count: i32::try_from(renames.len()).expect("at most 32"),
            padding1: [0; 12],
            ents,
        });
        sys::ubi_rnvol(self.file.as_fd(), &req).map_err(self.err("rename volumes".into()))
    }

    /// Looks a volume up by name in sysfs.
    pub fn volume_id(&self, name: &str) -> Result<u32, DeviceError> {
        let num = self.ubi_num.ok_or_else(|| {
            DeviceError::Invalid(format!(
                "cannot tell the UBI number of {}",
                self.path.display()
            ))
        })?;
        volumes(Path::new(SYSFS_UBI), num)?
            .into_iter()
            .find(|v| v.name == name)
            .map(|v| v.id)
            .ok_or_else(|| DeviceError::NoSuchVolume {
                path: self.path.clone(),
                name: name.to_owned(),
            })
    }
}

/// Replaces the contents of the volume at `path` (`/dev/ubiN_M`) with
/// `len` bytes read from `data` (`UBI_IOCVOLUP`, then write(2)). The kernel
/// marks the volume as being updated until the last byte is written, so an
/// interrupted update is detected at the next attach. `len == 0` wipes the
/// volume (`ubiupdatevol -t`).
pub fn update_volume(path: &Path, data: &mut dyn Read, len: u64) -> Result<(), DeviceError> {
    let mut file = open(path, true)?;
    let bytes = i64::try_from(len).map_err(|_| DeviceError::Invalid(format!("size {len}")))?;
    sys::ubi_volup(file.as_fd(), bytes).map_err(|errno| DeviceError::Ioctl {
        op: "start volume update".into(),
        path: path.to_owned(),
        errno,
    })?;
    let upd = |source| DeviceError::Update {
        path: path.to_owned(),
        source,
    };
    let mut buf = vec![0u8; 128 * 1024];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).expect("at most 128 KiB");
        let n = data.read(&mut buf[..want]).map_err(upd)?;
        if n == 0 {
            return Err(upd(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("input ended {left} bytes short"),
            )));
        }
        file.write_all(&buf[..n]).map_err(upd)?;
        left -= n as u64;
    }
    Ok(())
}

/// A UBI device as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `N` of `ubiN`.
    pub ubi_num: u32,
    /// The MTD device it is attached to.
    pub mtd_num: u32,
    /// Number of volumes.
    pub volumes_count: u32,
    /// Eraseblocks in total.
    pub total_eraseblocks: u64,
    /// Eraseblocks not reserved by volumes.
    pub avail_eraseblocks: u64,
    /// LEB size.
    pub eraseblock_size: u64,
    /// Highest erase counter.
    pub max_ec: u64,
    /// Mean erase counter (`None` before Linux 6.3, which added it).
    pub mean_ec: Option<u64>,
    /// Bad PEBs.
    pub bad_peb_count: u64,
    /// Minimum I/O unit.
    pub min_io_size: u64,
}

/// A volume as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Volume ID.
    pub id: u32,
    /// Name.
    pub name: String,
    /// `static` or `dynamic`.
    pub vol_type: String,
    /// Reserved LEBs.
    pub reserved_ebs: u64,
    /// Usable bytes per LEB.
    pub usable_eb_size: u64,
    /// Data bytes (static volumes: the exact size).
    pub data_bytes: u64,
    /// Alignment.
    pub alignment: u64,
    /// Whether the kernel found the volume corrupted.
    pub corrupted: bool,
    /// Whether an update was interrupted.
    pub upd_marker: bool,
}

fn read_attr(dir: &Path, name: &str) -> Result<String, DeviceError> {
    let path = dir.join(name);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| DeviceError::Sysfs { path, source })
}

fn read_num(dir: &Path, name: &str) -> Result<u64, DeviceError> {
    let s = read_attr(dir, name)?;
    s.parse().map_err(|_| DeviceError::Sysfs {
        path: dir.join(name),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {s:?}")),
    })
}

fn small(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// UBI devices under `sysfs` (normally [`SYSFS_UBI`]), by number. No UBI
/// (no such directory) is an empty list.
pub fn devices(sysfs: &Path) -> Result<Vec<DeviceInfo>, DeviceError> {
    let entries = match std::fs::read_dir(sysfs) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DeviceError::Sysfs {
                path: sysfs.to_owned(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(num) = name.to_str().and_then(|n| ubi_number(Path::new(n))) else {
            continue;
        };
        let d = entry.path();
        out.push(DeviceInfo {
            ubi_num: num,
            mtd_num: small(read_num(&d, "mtd_num")?),
            volumes_count: small(read_num(&d, "volumes_count")?),
            total_eraseblocks: read_num(&d, "total_eraseblocks")?,
            avail_eraseblocks: read_num(&d, "avail_eraseblocks")?,
            eraseblock_size: read_num(&d, "eraseblock_size")?,
            max_ec: read_num(&d, "max_ec")?,
            mean_ec: if d.join("mean_ec").exists() {
                Some(read_num(&d, "mean_ec")?)
            } else {
                None
            },
            bad_peb_count: read_num(&d, "bad_peb_count")?,
            min_io_size: read_num(&d, "min_io_size")?,
        });
    }
    out.sort_by_key(|d| d.ubi_num);
    Ok(out)
}

/// The volumes of UBI device `ubi_num`, by ID.
pub fn volumes(sysfs: &Path, ubi_num: u32) -> Result<Vec<VolumeInfo>, DeviceError> {
    let dir = sysfs.join(format!("ubi{ubi_num}"));
    let prefix = format!("ubi{ubi_num}_");
    let entries = std::fs::read_dir(&dir).map_err(|source| DeviceError::Sysfs {
        path: dir.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let d = entry.path();
        out.push(VolumeInfo {
            id,
            name: read_attr(&d, "name")?,
            vol_type: read_attr(&d, "type")?,
            reserved_ebs: read_num(&d, "reserved_ebs")?,
            usable_eb_size: read_num(&d, "usable_eb_size")?,
            data_bytes: read_num(&d, "data_bytes")?,
            alignment: read_num(&d, "alignment")?,
            corrupted: read_num(&d, "corrupted")? != 0,
            upd_marker: read_num(&d, "upd_marker")? != 0,
        });
    }
    out.sort_by_key(|v| v.id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, attrs: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).expect("temp dir is writable");
        for (k, v) in attrs {
            std::fs::write(dir.join(k), format!("{v}\n")).expect("temp dir is writable");
        }
    }

    #[test]
    fn sysfs_devices_and_volumes() {
        let root = std::env::temp_dir().join(format!("limina-ubi-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let d = root.join("ubi0");
        write(
            &d,
            &[
                ("mtd_num", "3"),
                ("volumes_count", "1"),
                ("total_eraseblocks", "1024"),
                ("avail_eraseblocks", "10"),
                ("eraseblock_size", "126976"),
                ("max_ec", "2"),
                ("mean_ec", "1"),
                ("bad_peb_count", "4"),
                ("min_io_size", "2048"),
            ],
        );
        write(
            &d.join("ubi0_1"),
            &[
                ("name", "rootfs"),
                ("type", "dynamic"),
                ("reserved_ebs", "990"),
                ("usable_eb_size", "126976"),
                ("data_bytes", "125706240"),
                ("alignment", "1"),
                ("corrupted", "0"),
                ("upd_marker", "0"),
            ],
        );
        std::fs::write(root.join("ubi_ctrl"), "").expect("temp dir is writable");
        let devs = devices(&root).expect("readable");
        assert_eq!(devs.len(), 1);
        assert_eq!(
            (devs[0].mtd_num, devs[0].max_ec, devs[0].bad_peb_count),
            (3, 2, 4)
        );
        let vols = volumes(&root, 0).expect("readable");
        assert_eq!(vols.len(), 1);
        assert_eq!((vols[0].id, vols[0].name.as_str()), (1, "rootfs"));
        assert!(devices(&root.join("missing"))
            .expect("absent is empty")
            .is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn bad_names_are_rejected_before_any_ioctl() {
        assert!(name_bytes("").is_err());
        assert!(name_bytes(&"x".repeat(128)).is_err());
        assert!(name_bytes("a\0b").is_err());
        assert_eq!(name_bytes("ab").expect("valid").1, 2);
    }

    #[test]
    fn ubi_numbers_from_paths() {
        assert_eq!(ubi_number(Path::new("/dev/ubi3")), Some(3));
        assert_eq!(ubi_number(Path::new("/dev/ubi3_0")), None);
        assert_eq!(ubi_number(Path::new("/dev/ubi_ctrl")), None);
    }
}
