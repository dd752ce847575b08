//! The kernel ABI: the UBI ioctls and their payload structs
//! (`include/uapi/mtd/ubi-user.h`).
//!
//! This is the only module of the crate with `unsafe` code. Each ioctl has
//! one request-number definition made with nix's `ioctl_*!` macros (MIPS
//! encodes direction bits differently from x86 and ARM), one `#[repr(C)]`
//! payload mirroring the header, and one safe wrapper taking a
//! [`BorrowedFd`]. The tests pin request numbers and layouts to the values
//! gcc gives for the C header on x86_64 and big-endian MIPS.
#![allow(
    unsafe_code,
    reason = "the UBI ioctls are only reachable through libc::ioctl; every unsafe block is \
              wrapped in a safe function with a SAFETY comment"
)]

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `UBI_IOC_MAGIC` and `UBI_CTRL_IOC_MAGIC`: `'o'`.
const UBI_IOC_MAGIC: u8 = b'o';
/// `UBI_VOL_IOC_MAGIC`: `'O'`.
const UBI_VOL_IOC_MAGIC: u8 = b'O';
/// `UBI_MAX_VOLUME_NAME`.
pub(crate) const UBI_MAX_VOLUME_NAME: usize = 127;
/// `UBI_MAX_RNVOL`: volumes one rename request can name.
pub(crate) const UBI_MAX_RNVOL: usize = 32;

/// `struct ubi_attach_req` (24 bytes).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ubi_attach_req {
    /// UBI device number to create, or `UBI_DEV_NUM_AUTO` (-1); the kernel
    /// writes the number it used back here.
    pub(crate) ubi_num: i32,
    /// MTD device number to attach.
    pub(crate) mtd_num: i32,
    /// VID header offset (0: default).
    pub(crate) vid_hdr_offset: i32,
    /// PEBs per 1024 to reserve for bad blocks (0: default).
    pub(crate) max_beb_per1024: i16,
    /// Don't create a fastmap.
    pub(crate) disable_fm: i8,
    /// Reserved.
    pub(crate) padding: [i8; 9],
}

/// `struct ubi_mkvol_req` (152 bytes, `__packed` but naturally aligned).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ubi_mkvol_req {
    /// Volume ID or `UBI_VOL_NUM_AUTO` (-1); the kernel writes the ID used.
    pub(crate) vol_id: i32,
    /// Alignment.
    pub(crate) alignment: i32,
    /// Size in bytes.
    pub(crate) bytes: i64,
    /// `UBI_DYNAMIC_VOLUME` (3) or `UBI_STATIC_VOLUME` (4).
    pub(crate) vol_type: i8,
    /// `UBI_VOL_SKIP_CRC_CHECK_FLG`.
    pub(crate) flags: u8,
    /// Name length without the NUL.
    pub(crate) name_len: i16,
    /// Reserved.
    pub(crate) padding2: [i8; 4],
    /// Name, NUL-terminated.
    pub(crate) name: [u8; UBI_MAX_VOLUME_NAME + 1],
}

/// `struct ubi_rsvol_req` (12 bytes, `__packed`).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct ubi_rsvol_req {
    /// New size in bytes.
    pub(crate) bytes: i64,
    /// The volume.
    pub(crate) vol_id: i32,
}

/// One entry of `struct ubi_rnvol_req` (136 bytes).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ubi_rnvol_ent {
    /// The volume.
    pub(crate) vol_id: i32,
    /// New name length.
    pub(crate) name_len: i16,
    /// Reserved.
    pub(crate) padding2: [i8; 2],
    /// New name, NUL-terminated.
    pub(crate) name: [u8; UBI_MAX_VOLUME_NAME + 1],
}

/// `struct ubi_rnvol_req` (4368 bytes).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ubi_rnvol_req {
    /// Entries used.
    pub(crate) count: i32,
    /// Reserved.
    pub(crate) padding1: [i8; 12],
    /// The renames.
    pub(crate) ents: [ubi_rnvol_ent; UBI_MAX_RNVOL],
}

impl ubi_rnvol_ent {
    pub(crate) const EMPTY: Self = Self {
        vol_id: 0,
        name_len: 0,
        padding2: [0; 2],
        name: [0; UBI_MAX_VOLUME_NAME + 1],
    };
}

nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCMKVOL, struct ubi_mkvol_req *)`.
    ubi_iocmkvol, UBI_IOC_MAGIC, 0, ubi_mkvol_req
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCRMVOL, const __s32 *)`.
    ubi_iocrmvol, UBI_IOC_MAGIC, 1, i32
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCRSVOL, const struct ubi_rsvol_req *)`.
    ubi_iocrsvol, UBI_IOC_MAGIC, 2, ubi_rsvol_req
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCRNVOL, const struct ubi_rnvol_req *)`.
    ubi_iocrnvol, UBI_IOC_MAGIC, 3, ubi_rnvol_req
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCATT, struct ubi_attach_req *)`.
    ubi_iocatt, UBI_IOC_MAGIC, 64, ubi_attach_req
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCDET, const __s32 *)`.
    ubi_iocdet, UBI_IOC_MAGIC, 65, i32
);
nix::ioctl_write_ptr!(
    /// `ioctl(fd, UBI_IOCVOLUP, const __s64 *)`.
    ubi_iocvolup, UBI_VOL_IOC_MAGIC, 0, i64
);

/// Attaches an MTD device (on `/dev/ubi_ctrl`); returns the UBI device
/// number the kernel chose.
#[doc(alias = "UBI_IOCATT")]
pub(crate) fn ubi_att(fd: BorrowedFd<'_>, mut req: ubi_attach_req) -> Result<i32, Errno> {
    // SAFETY: UBI_IOCATT is _IOW with one `struct ubi_attach_req` (24 bytes,
    // layout pinned by the tests). The kernel reads it and, on success,
    // writes the UBI device number back into its first field (put_user), so
    // the pointer comes from a live, exclusively borrowed local that
    // outlives the call. `fd` is borrowed, hence open.
    unsafe { ubi_iocatt(fd.as_raw_fd(), std::ptr::addr_of_mut!(req).cast_const()) }?;
    Ok(req.ubi_num)
}

/// Detaches UBI device `ubi_num` (on `/dev/ubi_ctrl`).
#[doc(alias = "UBI_IOCDET")]
pub(crate) fn ubi_det(fd: BorrowedFd<'_>, ubi_num: i32) -> Result<(), Errno> {
    // SAFETY: UBI_IOCDET is _IOW with one __s32 the kernel reads from
    // `ubi_num`, a live local.
    unsafe { ubi_iocdet(fd.as_raw_fd(), &ubi_num) }?;
    Ok(())
}

/// Creates a volume (on `/dev/ubiN`); returns the volume ID used.
#[doc(alias = "UBI_IOCMKVOL")]
pub(crate) fn ubi_mkvol(fd: BorrowedFd<'_>, mut req: ubi_mkvol_req) -> Result<i32, Errno> {
    // SAFETY: UBI_IOCMKVOL is _IOW with one `struct ubi_mkvol_req` (152
    // bytes, layout pinned by the tests); the kernel reads it and writes the
    // chosen volume ID back into `vol_id` (put_user), so the pointer comes
    // from a live, exclusively borrowed local that outlives the call.
    unsafe { ubi_iocmkvol(fd.as_raw_fd(), std::ptr::addr_of_mut!(req).cast_const()) }?;
    Ok(req.vol_id)
}

/// Removes volume `vol_id` (on `/dev/ubiN`).
#[doc(alias = "UBI_IOCRMVOL")]
pub(crate) fn ubi_rmvol(fd: BorrowedFd<'_>, vol_id: i32) -> Result<(), Errno> {
    // SAFETY: UBI_IOCRMVOL is _IOW with one __s32 read from a live local.
    unsafe { ubi_iocrmvol(fd.as_raw_fd(), &vol_id) }?;
    Ok(())
}

/// Resizes volume `vol_id` to `bytes` (on `/dev/ubiN`).
#[doc(alias = "UBI_IOCRSVOL")]
pub(crate) fn ubi_rsvol(fd: BorrowedFd<'_>, vol_id: i32, bytes: i64) -> Result<(), Errno> {
    let req = ubi_rsvol_req { bytes, vol_id };
    // SAFETY: UBI_IOCRSVOL is _IOW with one packed `struct ubi_rsvol_req`
    // (12 bytes) the kernel copies in from `req`, a live local.
    unsafe { ubi_iocrsvol(fd.as_raw_fd(), &req) }?;
    Ok(())
}

/// Renames volumes atomically (on `/dev/ubiN`).
#[doc(alias = "UBI_IOCRNVOL")]
pub(crate) fn ubi_rnvol(fd: BorrowedFd<'_>, req: &ubi_rnvol_req) -> Result<(), Errno> {
    // SAFETY: UBI_IOCRNVOL is _IOW with one `struct ubi_rnvol_req` (4368
    // bytes, pinned by the tests) the kernel copies in from `req`, borrowed
    // for the call.
    unsafe { ubi_iocrnvol(fd.as_raw_fd(), req) }?;
    Ok(())
}

/// Starts a volume update of `bytes` bytes (on `/dev/ubiN_M`); the data
/// then follows with write(2). `bytes == 0` wipes the volume.
#[doc(alias = "UBI_IOCVOLUP")]
pub(crate) fn ubi_volup(fd: BorrowedFd<'_>, bytes: i64) -> Result<(), Errno> {
    // SAFETY: UBI_IOCVOLUP is _IOW with one __s64 read from a live local.
    unsafe { ubi_iocvolup(fd.as_raw_fd(), &bytes) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    const MIPS_LIKE: bool = cfg!(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ));

    /// Request numbers printed by a C program including `<mtd/ubi-user.h>`,
    /// built with gcc (x86_64: generic encoding, `_IOC_WRITE` = 1 at bit 30)
    /// and mips-linux-gnu-gcc run under qemu-mips (`_IOC_WRITE` = 4 at bit
    /// 29), as `(name, generic, mips)`.
    const FROM_HEADER: [(&str, u32, u32); 7] = [
        ("UBI_IOCMKVOL", 0x4098_6f00, 0x8098_6f00),
        ("UBI_IOCRMVOL", 0x4004_6f01, 0x8004_6f01),
        ("UBI_IOCRSVOL", 0x400c_6f02, 0x800c_6f02),
        ("UBI_IOCRNVOL", 0x5110_6f03, 0x9110_6f03),
        ("UBI_IOCATT", 0x4018_6f40, 0x8018_6f40),
        ("UBI_IOCDET", 0x4004_6f41, 0x8004_6f41),
        ("UBI_IOCVOLUP", 0x4008_4f00, 0x8008_4f00),
    ];

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ioctl numbers are 32-bit; this keeps their bit pattern"
    )]
    fn ours() -> [u32; 7] {
        [
            nix::request_code_write!(UBI_IOC_MAGIC, 0, size_of::<ubi_mkvol_req>()) as u32,
            nix::request_code_write!(UBI_IOC_MAGIC, 1, size_of::<i32>()) as u32,
            nix::request_code_write!(UBI_IOC_MAGIC, 2, size_of::<ubi_rsvol_req>()) as u32,
            nix::request_code_write!(UBI_IOC_MAGIC, 3, size_of::<ubi_rnvol_req>()) as u32,
            nix::request_code_write!(UBI_IOC_MAGIC, 64, size_of::<ubi_attach_req>()) as u32,
            nix::request_code_write!(UBI_IOC_MAGIC, 65, size_of::<i32>()) as u32,
            nix::request_code_write!(UBI_VOL_IOC_MAGIC, 0, size_of::<i64>()) as u32,
        ]
    }

    #[test]
    fn request_numbers_match_the_c_header() {
        for ((name, generic, mips), ours) in FROM_HEADER.iter().zip(ours()) {
            let want = if MIPS_LIKE { *mips } else { *generic };
            assert_eq!(
                ours, want,
                "{name} is {ours:#x}, the C header says {want:#x}"
            );
        }
    }

    #[test]
    fn layouts_match_the_c_header() {
        // sizeof/offsetof from gcc for x86_64 and mips alike.
        assert_eq!(size_of::<ubi_attach_req>(), 24);
        assert_eq!(size_of::<ubi_mkvol_req>(), 152);
        assert_eq!(offset_of!(ubi_mkvol_req, bytes), 8);
        assert_eq!(offset_of!(ubi_mkvol_req, vol_type), 16);
        assert_eq!(offset_of!(ubi_mkvol_req, flags), 17);
        assert_eq!(offset_of!(ubi_mkvol_req, name_len), 18);
        assert_eq!(offset_of!(ubi_mkvol_req, name), 24);
        assert_eq!(size_of::<ubi_rsvol_req>(), 12);
        assert_eq!(size_of::<ubi_rnvol_req>(), 4368);
        assert_eq!(offset_of!(ubi_rnvol_req, ents), 16);
    }

    #[test]
    fn ioctls_on_a_non_ubi_fd_fail_cleanly() {
        use std::os::fd::AsFd;
        let null = std::fs::File::open("/dev/null").expect("/dev/null exists on Linux");
        assert_eq!(ubi_rmvol(null.as_fd(), 0), Err(Errno::ENOTTY));
        assert_eq!(ubi_volup(null.as_fd(), 0), Err(Errno::ENOTTY));
    }
}
