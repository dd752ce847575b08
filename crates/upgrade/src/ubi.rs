//! NAND boards: the root file system in one of two UBI volumes, upgraded
//! A/B with one atomic rename, as RAUC and OpenWrt's dual-rootfs boards
//! do.
//!
//! The kernel boots the volume **named** [`ACTIVE`] (`rootfs`:
//! `ubi.mtd=N ubi.block=0,rootfs`, the root being that volume's
//! `ubiblock`); the other volume, [`INACTIVE`] (`rootfs_b`), holds the
//! previous image. The image is the volume's contents: a squashfs root
//! file system as `mksquashfs` writes it (padded to 4 KiB), signed like
//! `firmware.bin` (a `.minisig` beside it, `board:` in the trusted
//! comment). Not a `ubinize` image: that describes a whole UBI device,
//! and writing one would replace both volumes at once.
//!
//! An upgrade ([`upgrade`]):
//!
//! 1. checks everything before anything is written ([`check`], then
//!    [`Slots::layout`]): a whole squashfs 4.0, the signature against the
//!    running image's key and the signed `board:` against the running
//!    device tree (the same rules and messages as the NOR path's
//!    [`crate::check`]), both volumes there, and the image no larger than
//!    the inactive volume's reserved size;
//! 2. replaces the inactive volume's contents with one volume update
//!    (`UBI_IOCVOLUP`, then write(2)). Until the last byte is written the
//!    kernel keeps the volume's *update marker* set in the volume table:
//!    after a power cut it refuses to read that volume (`upd_marker` 1 in
//!    sysfs, EBADF on read), and the active volume was never touched;
//! 3. reads the inactive volume back and compares its SHA-256 with the
//!    image's;
//! 4. swaps the two names with one `UBI_IOCRNVOL`: the kernel writes the
//!    new volume table as one atomic LEB change per copy, so after a power
//!    cut exactly one volume is named `rootfs`, the old one or the new
//!    one.
//!
//! [`status`] is the boot's view: per volume, whether it is readable and
//! complete, the SHA-256 of the squashfs it holds, and which is active.

#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use kexec::squashfs::{self, Superblock};
use limina_sign::KeyId;
use sha2::{Digest, Sha256};
use ubi::device::{self, DeviceError, UbiDevice, VolumeInfo};

use crate::{CheckError, Metadata, Policy, SQUASHFS_PAD};

/// The volume the kernel boots.
pub const ACTIVE: &str = "rootfs";
/// The volume an upgrade writes, then renames to [`ACTIVE`].
pub const INACTIVE: &str = "rootfs_b";

/// Why an image was refused before anything was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Not a whole squashfs 4.0 image.
    #[error("not a root file system image: {0}")]
    Layout(#[source] squashfs::Error),
    /// The signature or board check failed (as on NOR).
    #[error(transparent)]
    Trust(#[from] CheckError),
}

/// A root file system image that passed [`check`].
#[derive(Debug)]
pub struct Checked<'a> {
    image: &'a [u8],
    superblock: Superblock,
    signed_by: Option<KeyId>,
    metadata: Metadata,
    board_checked: bool,
    sha256: [u8; 32],
}

impl<'a> Checked<'a> {
    /// The image bytes, all of which are written.
    pub fn image(&self) -> &'a [u8] {
        self.image
    }

    /// The squashfs superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.superblock
    }

    /// The key that signed it (`None`: signatures were not checked).
    pub fn signed_by(&self) -> Option<KeyId> {
        self.signed_by
    }

    /// The trusted comment's fields.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Whether the board was checked (false with `force_board`).
    pub fn board_checked(&self) -> bool {
        self.board_checked
    }

    /// SHA-256 of the squashfs padded to [`SQUASHFS_PAD`] (within the
    /// image), as [`status`] reports a volume holding it; for an image
    /// `mksquashfs` wrote, what `sha256sum` prints for the file.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// The padded length of a squashfs within `available` bytes.
fn padded(superblock: &Superblock, available: u64) -> u64 {
    superblock
        .bytes_used
        .next_multiple_of(SQUASHFS_PAD)
        .min(available)
}

/// Checks a root file system image against `policy`: a whole squashfs,
/// then signature and board exactly as [`crate::check`] does
/// (`policy.erase_size` is not used). Needs no device; [`Slots::layout`]
/// checks the size.
///
/// # Errors
///
/// [`ImageError`], naming the first problem found.
pub fn check<'a>(image: &'a [u8], policy: &Policy<'_>) -> Result<Checked<'a>, ImageError> {
    if image.is_empty() {
        return Err(CheckError::Empty.into());
    }
    let superblock = Superblock::parse(image).map_err(ImageError::Layout)?;
    let (signed_by, metadata) = crate::trust(image, policy)?;
    let end = padded(&superblock, image.len() as u64) as usize;
    Ok(Checked {
        image,
        superblock,
        signed_by,
        metadata,
        board_checked: !policy.force_board,
        sha256: Sha256::digest(&image[..end]).into(),
    })
}

/// Why a UBI upgrade or status failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UbiError {
    /// The device argument names no UBI device.
    #[error("{0:?} is not a UBI device (give /dev/ubiN, ubiN or N)")]
    DeviceName(String),
    /// A volume of the A/B layout is missing.
    #[error("{device}: no volume named {name:?}: the A/B layout needs volumes {ACTIVE:?} and {INACTIVE:?} (docs/upgrading.md)")]
    NoVolume {
        /// The UBI device (`ubiN`).
        device: String,
        /// The volume missing.
        name: &'static str,
    },
    /// The image does not fit the inactive volume.
    #[error("{device}: the image is {len} bytes, volume {INACTIVE:?} (ID {id}) holds {reserved}")]
    TooLarge {
        /// The UBI device.
        device: String,
        /// The image's length.
        len: u64,
        /// The inactive volume's ID.
        id: u32,
        /// Its reserved size in bytes.
        reserved: u64,
    },
    /// The kernel refused an operation or sysfs could not be read.
    #[error("{what}: {source}")]
    Device {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: DeviceError,
    },
    /// A volume could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The volume node.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The inactive volume does not read back as written.
    #[error("{device}: volume {INACTIVE:?} (ID {id}) reads back with sha256 {got}, not the image's {want}; the names were not swapped")]
    Verify {
        /// The UBI device.
        device: String,
        /// The volume's ID.
        id: u32,
        /// What was read.
        got: String,
        /// What was written.
        want: String,
    },
}

/// Where a failed upgrade stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the volume update: nothing was written.
    Check,
    /// The inactive volume was (partly) written; the active one was not
    /// touched and is still named `rootfs`.
    Update,
    /// The rename failed: the kernel changed no name.
    Rename,
}

/// A failed [`upgrade`] and where it stopped.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct UpgradeError {
    /// Where.
    pub stage: Stage,
    /// Why.
    #[source]
    pub source: UbiError,
}

impl UpgradeError {
    /// Whether nothing was written.
    pub fn nothing_written(&self) -> bool {
        self.stage == Stage::Check
    }
}

/// The `N` of `/dev/ubiN`, `ubiN` or `N`.
pub fn ubi_number(device: &str) -> Result<u32, UbiError> {
    let name = device.strip_prefix("/dev/").unwrap_or(device);
    let digits = name.strip_prefix("ubi").unwrap_or(name);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UbiError::DeviceName(device.to_owned()));
    }
    digits
        .parse()
        .map_err(|_| UbiError::DeviceName(device.to_owned()))
}

/// The two volumes of the A/B layout, found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The volume named [`ACTIVE`].
    pub active: VolumeInfo,
    /// The volume named [`INACTIVE`].
    pub inactive: VolumeInfo,
}

impl Layout {
    /// Finds the two volumes among `volumes` (of device `device`).
    ///
    /// # Errors
    ///
    /// [`UbiError::NoVolume`] naming the one missing.
    pub fn find(device: &str, volumes: &[VolumeInfo]) -> Result<Layout, UbiError> {
        let by_name = |name: &'static str| {
            volumes
                .iter()
                .find(|v| v.name == name)
                .cloned()
                .ok_or_else(|| UbiError::NoVolume {
                    device: device.to_owned(),
                    name,
                })
        };
        Ok(Layout {
            active: by_name(ACTIVE)?,
            inactive: by_name(INACTIVE)?,
        })
    }
}

/// A volume's reserved size in bytes.
pub fn reserved_bytes(v: &VolumeInfo) -> u64 {
    v.reserved_ebs.saturating_mul(v.usable_eb_size)
}

/// An attached UBI device holding the A/B volumes.
#[derive(Debug)]
pub struct Slots {
    ubi_num: u32,
    sysfs: PathBuf,
    dev_dir: PathBuf,
}

impl Slots {
    /// The UBI device `device` (`/dev/ubiN`, `ubiN` or `N`), through
    /// `/dev` and `/sys/class/ubi`.
    ///
    /// # Errors
    ///
    /// [`UbiError::DeviceName`].
    pub fn new(device: &str) -> Result<Slots, UbiError> {
        Ok(Slots {
            ubi_num: ubi_number(device)?,
            sysfs: PathBuf::from(device::SYSFS_UBI),
            dev_dir: PathBuf::from("/dev"),
        })
    }

    /// `ubiN`.
    pub fn name(&self) -> String {
        format!("ubi{}", self.ubi_num)
    }

    /// The volume node of volume `id`, `/dev/ubiN_ID`.
    pub fn volume_path(&self, id: u32) -> PathBuf {
        self.dev_dir.join(format!("ubi{}_{id}", self.ubi_num))
    }

    /// Every volume, from sysfs.
    ///
    /// # Errors
    ///
    /// [`UbiError::Device`] (no such UBI device, sysfs unreadable).
    pub fn volumes(&self) -> Result<Vec<VolumeInfo>, UbiError> {
        device::volumes(&self.sysfs, self.ubi_num).map_err(|source| UbiError::Device {
            what: format!("{}: listing volumes", self.name()),
            source,
        })
    }

    /// The two volumes, by name.
    ///
    /// # Errors
    ///
    /// As [`Slots::volumes`] and [`Layout::find`].
    pub fn layout(&self) -> Result<Layout, UbiError> {
        Layout::find(&self.name(), &self.volumes()?)
    }
}

/// What the boot finds in one volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeStatus {
    /// The volume as sysfs describes it.
    pub info: VolumeInfo,
    /// Why the volume cannot be booted (`None`: it holds a whole squashfs
    /// the kernel reads).
    pub invalid: Option<String>,
    /// The squashfs's length padded to [`SQUASHFS_PAD`] (valid volumes;
    /// 0 otherwise).
    pub length: u64,
    /// SHA-256 of those bytes (valid volumes; zeros otherwise).
    pub sha256: [u8; 32],
}

impl VolumeStatus {
    /// Whether the kernel would mount it as the root.
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }
}

/// The boot's view of the A/B volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The volume named [`ACTIVE`] (`None`: there is none).
    pub active: Option<VolumeStatus>,
    /// The volume named [`INACTIVE`].
    pub inactive: Option<VolumeStatus>,
}

impl Status {
    /// Whether the boot finds a root file system: the active volume is
    /// valid.
    pub fn boots(&self) -> bool {
        self.active.as_ref().is_some_and(VolumeStatus::valid)
    }
}

/// Judges one volume from its sysfs record and its contents (`data`, the
/// volume node opened for reading, or the error opening it gave).
pub fn assess(info: VolumeInfo, data: io::Result<&mut dyn Read>) -> VolumeStatus {
    let invalid = |info: VolumeInfo, why: String| VolumeStatus {
        info,
        invalid: Some(why),
        length: 0,
        sha256: [0; 32],
    };
    if info.upd_marker {
        return invalid(
            info,
            "interrupted update (upd_marker set: the kernel refuses to read it)".into(),
        );
    }
    if info.corrupted {
        return invalid(
            info,
            "corrupted (the kernel's CRC check of this static volume failed)".into(),
        );
    }
    let data = match data {
        Ok(d) => d,
        Err(e) => return invalid(info, format!("cannot open: {e}")),
    };
    let mut head = vec![0u8; squashfs::SUPERBLOCK_LEN];
    if let Err(e) = data.read_exact(&mut head) {
        return invalid(info, format!("cannot read: {e}"));
    }
    let available = info.data_bytes;
    // Parse the superblock alone; the length check is against the volume.
    let bytes_used = match Superblock::parse(&head) {
        Ok(sb) => sb.bytes_used,
        Err(squashfs::Error::Truncated { used, .. }) => used,
        Err(e) => return invalid(info, format!("no squashfs: {e}")),
    };
    if bytes_used > available {
        return invalid(
            info,
            format!("truncated squashfs: it uses {bytes_used} bytes, the volume holds {available}"),
        );
    }
    let length = bytes_used.next_multiple_of(SQUASHFS_PAD).min(available);
    let mut hasher = Sha256::new();
    hasher.update(&head);
    let mut rest = data.take(length - head.len() as u64);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = head.len() as u64;
    loop {
        match rest.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                got += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return invalid(info, format!("cannot read: {e}")),
        }
    }
    if got != length {
        return invalid(
            info,
            format!("short read: {got} of {length} bytes of the squashfs"),
        );
    }
    VolumeStatus {
        info,
        invalid: None,
        length,
        sha256: hasher.finalize().into(),
    }
}

fn volume_status(slots: &Slots, info: VolumeInfo) -> VolumeStatus {
    let path = slots.volume_path(info.id);
    match File::open(&path) {
        Ok(mut f) => assess(info, Ok(&mut f)),
        Err(e) => assess(info, Err(e)),
    }
}

/// Reads the A/B volumes as the boot does.
///
/// # Errors
///
/// [`UbiError::Device`]: the device's volumes cannot be listed.
pub fn status(slots: &Slots) -> Result<Status, UbiError> {
    let volumes = slots.volumes()?;
    let find = |name: &str| volumes.iter().find(|v| v.name == name).cloned();
    Ok(Status {
        active: find(ACTIVE).map(|v| volume_status(slots, v)),
        inactive: find(INACTIVE).map(|v| volume_status(slots, v)),
    })
}

/// What [`plan`] found: the upgrade would write `len` bytes into volume
/// `inactive` and swap the names, unless the active volume already holds
/// the image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The two volumes.
    pub layout: Layout,
    /// Bytes to write.
    pub len: u64,
    /// The active volume already holds this image: nothing to do.
    pub already_active: bool,
}

/// The dry run of [`upgrade`]: finds the volumes, checks the size, reads
/// the active volume; writes nothing.
///
/// # Errors
///
/// [`UbiError`] as [`upgrade`] before writing.
pub fn plan(checked: &Checked<'_>, slots: &Slots) -> Result<Plan, UbiError> {
    let layout = slots.layout()?;
    let len = checked.image.len() as u64;
    let reserved = reserved_bytes(&layout.inactive);
    if len > reserved {
        return Err(UbiError::TooLarge {
            device: slots.name(),
            len,
            id: layout.inactive.id,
            reserved,
        });
    }
    let active = volume_status(slots, layout.active.clone());
    Ok(Plan {
        already_active: active.valid() && active.sha256 == checked.sha256,
        layout,
        len,
    })
}

/// What an upgrade is doing, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The volume update of volume `id` started, or has `written` of
    /// `total` bytes on flash (reported before each further chunk is
    /// handed to the kernel, and once at the end).
    Update {
        /// The inactive volume's ID.
        id: u32,
        /// Bytes written so far.
        written: u64,
        /// Bytes to write.
        total: u64,
    },
    /// The volume update is complete; reading it back.
    Verify {
        /// The volume's ID.
        id: u32,
    },
    /// Read back and equal; the one rename comes next.
    Rename {
        /// The volume becoming `rootfs`.
        new_active: u32,
        /// The volume becoming `rootfs_b`.
        old_active: u32,
    },
    /// The rename returned: the new image is `rootfs`.
    Renamed {
        /// The volume now named `rootfs`.
        active: u32,
    },
}

/// What [`upgrade`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Report {
    /// The active volume already held the image.
    AlreadyActive {
        /// Its ID.
        id: u32,
    },
    /// Written, verified, renamed.
    Swapped {
        /// The volume now named `rootfs` (the new image).
        active: u32,
        /// The volume now named `rootfs_b` (the old image).
        inactive: u32,
        /// Bytes written.
        written: u64,
    },
}

/// A reader that reports how much it handed out before each read: by then
/// the kernel has taken (and written) everything handed out before.
struct Counting<'a, 'p> {
    data: &'a [u8],
    at: usize,
    id: u32,
    progress: &'p mut dyn FnMut(&Progress),
}

impl Read for Counting<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (self.progress)(&Progress::Update {
            id: self.id,
            written: self.at as u64,
            total: self.data.len() as u64,
        });
        let n = buf.len().min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// SHA-256 of the first `len` bytes of the volume at `path`.
fn read_back(path: &Path, len: u64) -> Result<[u8; 32], UbiError> {
    let err = |source| UbiError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let mut data = file.take(len);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    loop {
        match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                got += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    if got != len {
        return Err(err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{got} of {len} bytes"),
        )));
    }
    Ok(hasher.finalize().into())
}

/// The A/B upgrade: [`plan`], then the volume update of [`INACTIVE`],
/// the read-back, and one rename swapping [`ACTIVE`] and [`INACTIVE`].
/// When the active volume already holds the image, nothing is written.
///
/// # Errors
///
/// [`UpgradeError`], with the [`Stage`] it stopped at.
pub fn upgrade(
    checked: &Checked<'_>,
    slots: &Slots,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, UpgradeError> {
    let at = |stage| move |source| UpgradeError { stage, source };
    let plan = plan(checked, slots).map_err(at(Stage::Check))?;
    let (active, inactive) = (plan.layout.active.id, plan.layout.inactive.id);
    if plan.already_active {
        return Ok(Report::AlreadyActive { id: active });
    }
    let path = slots.volume_path(inactive);
    let mut reader = Counting {
        data: checked.image,
        at: 0,
        id: inactive,
        progress,
    };
    device::update_volume(&path, &mut reader, plan.len).map_err(|source| {
        // Opening writes nothing; nor does the ioctl when it refuses
        // before the kernel's ubi_start_update (drivers/mtd/ubi/cdev.c:
        // a read-only open, a bad size, other openers). Any other error
        // may come after the update marker was set.
        let refused_early = |errno: i32| {
            use io::ErrorKind::*;
            matches!(
                io::Error::from_raw_os_error(errno).kind(),
                ResourceBusy | InvalidInput | ReadOnlyFilesystem | PermissionDenied
            )
        };
        let stage = match &source {
            DeviceError::Open { .. } => Stage::Check,
            DeviceError::Ioctl { errno, .. } if reader.at == 0 && refused_early(*errno as i32) => {
                Stage::Check
            }
            _ => Stage::Update,
        };
        UpgradeError {
            stage,
            source: UbiError::Device {
                what: format!(
                    "{}: updating volume {INACTIVE:?} (ID {inactive})",
                    slots.name()
                ),
                source,
            },
        }
    })?;
    let progress = reader.progress;
    progress(&Progress::Update {
        id: inactive,
        written: plan.len,
        total: plan.len,
    });
    progress(&Progress::Verify { id: inactive });
    let want = Sha256::digest(checked.image);
    let got = read_back(&path, plan.len).map_err(at(Stage::Update))?;
    if got[..] != want[..] {
        return Err(UpgradeError {
            stage: Stage::Update,
            source: UbiError::Verify {
                device: slots.name(),
                id: inactive,
                got: crate::hex(&got),
                want: crate::hex(&want),
            },
        });
    }
    progress(&Progress::Rename {
        new_active: inactive,
        old_active: active,
    });
    let dev_path = slots.dev_dir.join(slots.name());
    let dev = UbiDevice::open(&dev_path).map_err(|source| UpgradeError {
        stage: Stage::Rename,
        source: UbiError::Device {
            what: format!("{}: opening it to rename", slots.name()),
            source,
        },
    })?;
    dev.rename(&[(active, INACTIVE), (inactive, ACTIVE)])
        .map_err(|source| UpgradeError {
            stage: Stage::Rename,
            source: UbiError::Device {
                what: format!(
                    "{}: renaming {ACTIVE:?} (ID {active}) <-> {INACTIVE:?} (ID {inactive})",
                    slots.name()
                ),
                source,
            },
        })?;
    progress(&Progress::Renamed { active: inactive });
    Ok(Report::Swapped {
        active: inactive,
        inactive: active,
        written: plan.len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use limina_sign::SecretKey;

    /// A squashfs 4.0 superblock heading `len` bytes of filler
    /// (`bytes_used` = `used`).
    fn squashfs(len: usize, used: u64, seed: u8) -> Vec<u8> {
        let mut fs: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        fs[..96].fill(0);
        fs[..4].copy_from_slice(b"hsqs");
        fs[12..16].copy_from_slice(&131_072u32.to_le_bytes());
        fs[28..30].copy_from_slice(&4u16.to_le_bytes());
        fs[40..48].copy_from_slice(&used.to_le_bytes());
        fs
    }

    fn info(id: u32, name: &str, data_bytes: u64) -> VolumeInfo {
        VolumeInfo {
            id,
            name: name.to_owned(),
            vol_type: "dynamic".into(),
            reserved_ebs: 16,
            usable_eb_size: 65408,
            data_bytes,
            alignment: 1,
            corrupted: false,
            upd_marker: false,
        }
    }

    #[test]
    fn device_names() {
        assert_eq!(ubi_number("/dev/ubi0").ok(), Some(0));
        assert_eq!(ubi_number("ubi12").ok(), Some(12));
        assert_eq!(ubi_number("3").ok(), Some(3));
        for bad in ["/dev/ubi0_1", "ubi", "", "/dev/mtd0", "ubi-1"] {
            let e = ubi_number(bad).expect_err(bad).to_string();
            assert!(e.contains("is not a UBI device"), "{bad}: {e}");
        }
    }

    #[test]
    fn layout_names_the_missing_volume() {
        let vols = [info(0, "rootfs", 0), info(1, "rootfs_b", 0)];
        let l = Layout::find("ubi0", &vols).expect("both");
        assert_eq!((l.active.id, l.inactive.id), (0, 1));
        // After a swap, by name, not by ID.
        let swapped = [info(0, "rootfs_b", 0), info(1, "rootfs", 0)];
        let l = Layout::find("ubi0", &swapped).expect("both");
        assert_eq!((l.active.id, l.inactive.id), (1, 0));
        let e = Layout::find("ubi0", &vols[..1])
            .expect_err("no rootfs_b")
            .to_string();
        assert!(e.starts_with("ubi0: no volume named \"rootfs_b\""), "{e}");
        assert_eq!(reserved_bytes(&vols[0]), 16 * 65408);
    }

    #[test]
    fn assess_reads_the_squashfs_and_names_what_is_wrong() {
        // A squashfs of 10000 bytes used, padded to 12288, in a dynamic
        // volume (data_bytes: the whole volume, 0xff after the data).
        let mut vol = squashfs(12288, 10000, 1);
        vol.resize(16 * 65408, 0xff);
        let s = assess(info(0, "rootfs", vol.len() as u64), Ok(&mut &vol[..]));
        assert!(s.valid(), "{:?}", s.invalid);
        assert_eq!(s.length, 12288);
        assert_eq!(s.sha256, <[u8; 32]>::from(Sha256::digest(&vol[..12288])));
        // The image check agrees on the hash.
        let p = Policy {
            force_board: true,
            ..Policy::default()
        };
        let c = check(&vol[..12288], &p).expect("checked");
        assert_eq!(c.sha256(), s.sha256);

        let mut marked = info(1, "rootfs_b", vol.len() as u64);
        marked.upd_marker = true;
        let s = assess(marked, Ok(&mut &vol[..]));
        assert!(s
            .invalid
            .as_deref()
            .is_some_and(|w| w.contains("upd_marker")));
        let mut bad = info(1, "rootfs_b", 12288);
        bad.corrupted = true;
        assert!(assess(bad, Ok(&mut &vol[..])).invalid.is_some());
        let erased = vec![0xffu8; 4096];
        let s = assess(info(1, "rootfs_b", 4096), Ok(&mut &erased[..]));
        assert!(
            s.invalid
                .as_deref()
                .is_some_and(|w| w.contains("no squashfs")),
            "{:?}",
            s.invalid
        );
        // A static volume whose data ends before the squashfs does.
        let s = assess(info(1, "rootfs_b", 8192), Ok(&mut &vol[..8192]));
        assert!(
            s.invalid
                .as_deref()
                .is_some_and(|w| w.contains("truncated")),
            "{:?}",
            s.invalid
        );
        let s = assess(
            info(1, "rootfs_b", 8192),
            Err(io::Error::from_raw_os_error(9)),
        );
        assert!(s
            .invalid
            .as_deref()
            .is_some_and(|w| w.contains("cannot open")));
    }

    #[test]
    fn check_refuses_as_the_nor_path_does() {
        let img = squashfs(8192, 8000, 2);
        let key = SecretKey::generate().expect("key");
        let public = key.public_key();
        let board = vec!["mti,malta".to_owned()];
        let sig = |k: &SecretKey, b: &str| {
            k.sign(
                &img[..],
                &format!("timestamp:1\tfile:rootfs.squashfs\tboard:{b}"),
            )
            .expect("sign")
        };
        let (good, other_board) = (sig(&key, "mti,malta"), sig(&key, "glinet,gl-ar750"));
        let other_key = sig(&SecretKey::generate().expect("key"), "mti,malta");
        let run = |data: &[u8], s: Option<&limina_sign::Signature>| {
            let p = Policy {
                key: Some(&public),
                signature: s,
                running_board: Some(&board),
                ..Policy::default()
            };
            check(data, &p)
                .map(|c| c.sha256())
                .map_err(|e| e.to_string())
        };
        assert!(run(&img, Some(&good)).is_ok());
        let e = run(&img, None).expect_err("unsigned");
        assert!(e.starts_with("unsigned: "), "{e}");
        let e = run(&img, Some(&other_key)).expect_err("other key");
        assert!(e.starts_with("signature: "), "{e}");
        let e = run(&img, Some(&other_board)).expect_err("board");
        assert!(
            e.starts_with("the image is for board \"glinet,gl-ar750\""),
            "{e}"
        );
        let e = run(&img[..4096], Some(&good)).expect_err("truncated");
        assert!(
            e.starts_with("not a root file system image: truncated"),
            "{e}"
        );
        let e = run(&[0xff; 4096], Some(&good)).expect_err("not squashfs");
        assert!(e.contains("no 'hsqs'"), "{e}");
        let e = run(&[], Some(&good)).expect_err("empty");
        assert_eq!(e, "the image is empty");
    }
}
