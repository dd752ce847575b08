//! The kernel ABI: `struct mtd_info_user` and the `MEMGETINFO` ioctl.
//!
//! This is the only module of the crate with `unsafe` code. Each ioctl gets
//! one `#[repr(C)]` payload type mirroring the uapi header, one
//! request-number definition made with nix's `ioctl_*!` macros (never a
//! hard-coded number: MIPS, PowerPC and SPARC encode the direction bits
//! differently from x86 and ARM), and one safe wrapper taking a
//! [`BorrowedFd`]. The tests pin each request number to the value the C
//! header gives on every architecture we ship for.
#![allow(
    unsafe_code,
    reason = "the MTD ioctls are only reachable through libc::ioctl; every unsafe block is \
              wrapped in a safe function with a SAFETY comment"
)]

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// The ioctl "type" (magic) of all MTD ioctls: `'M'`.
const MTD_IOC_MAGIC: u8 = b'M';
/// The ioctl number of `MEMGETINFO`.
const MEMGETINFO_NR: u8 = 1;

/// `struct mtd_info_user` from `include/uapi/mtd/mtd-abi.h`.
///
/// Mirrors the uapi header field for field, in order:
///
/// ```c
/// struct mtd_info_user {
///     __u8 type;
///     __u32 flags;
///     __u32 size;      /* Total size of the MTD */
///     __u32 erasesize;
///     __u32 writesize;
///     __u32 oobsize;   /* Amount of OOB data per block (e.g. 16) */
///     __u64 padding;   /* Old obsolete field; do not use */
/// };
/// ```
///
/// 32 bytes on every Linux architecture (checked by the tests); the fields
/// are in native byte order, the kernel's and ours alike.
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors, to make review against it easy"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct mtd_info_user {
    /// `type`: `MTD_ABSENT`, `MTD_RAM`, ... (`type` is a Rust keyword).
    pub(crate) type_: u8,
    /// `flags`: `MTD_WRITEABLE`, ...
    pub(crate) flags: u32,
    /// `size`: total size, truncated to 32 bits by the kernel.
    pub(crate) size: u32,
    /// `erasesize`.
    pub(crate) erasesize: u32,
    /// `writesize`.
    pub(crate) writesize: u32,
    /// `oobsize`.
    pub(crate) oobsize: u32,
    /// `padding`: obsolete, always 0.
    pub(crate) padding: u64,
}

// MEMGETINFO is `_IOR('M', 1, struct mtd_info_user)`: the kernel writes one
// mtd_info_user to the pointer passed.
nix::ioctl_read!(
    /// `ioctl(fd, MEMGETINFO, struct mtd_info_user *)`.
    memgetinfo,
    MTD_IOC_MAGIC,
    MEMGETINFO_NR,
    mtd_info_user
);

/// Asks the kernel for the basic geometry of the MTD device open on `fd`.
///
/// Fails with `ENOTTY` if `fd` is not an MTD character device.
#[doc(alias = "MEMGETINFO")]
pub(crate) fn mem_get_info(fd: BorrowedFd<'_>) -> Result<mtd_info_user, Errno> {
    let mut info = mtd_info_user::default();
    // SAFETY: MEMGETINFO is a read ioctl (_IOR: the kernel copies data out to
    // user space) whose payload is exactly one `struct mtd_info_user`; its
    // size (32 bytes) is encoded in the request number that ioctl_read!
    // computes from `mtd_info_user`, whose layout mirrors the uapi header
    // (pinned by the tests below). `info` is a properly aligned, initialised,
    // exclusively borrowed mtd_info_user that outlives the call, so the
    // kernel's write stays in bounds. `fd` is borrowed, hence open for the
    // duration of the call. Nothing is read from `info` unless the ioctl
    // succeeded.
    unsafe { memgetinfo(fd.as_raw_fd(), &mut info) }?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::mem::{align_of, offset_of, size_of};
    use std::os::fd::AsFd;

    use super::*;

    /// MEMGETINFO as the C headers define it for this architecture.
    ///
    /// Verified by compiling `printf("%lx", MEMGETINFO)` (with
    /// `<sys/ioctl.h>` and `<mtd/mtd-user.h>`) with each cross gcc and
    /// running it under qemu-user:
    ///
    /// - generic `asm-generic/ioctl.h` (x86_64, arm, aarch64, also x86 and
    ///   riscv): `_IOC_READ` = 2, 2 direction bits at bit 30, 14 size bits:
    ///   `2 << 30 | 32 << 16 | 'M' << 8 | 1` = 0x80204d01.
    /// - MIPS (mips, mipsel; mips64 uses the same header): `_IOC_READ` = 2,
    ///   3 direction bits at bit 29, 13 size bits:
    ///   `2 << 29 | 32 << 16 | 'M' << 8 | 1` = 0x40204d01.
    ///   PowerPC and SPARC use the same layout as MIPS (from their
    ///   `asm/ioctl.h`; not compiler-checked here).
    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))]
    const MEMGETINFO_FROM_HEADER: u32 = 0x4020_4d01;
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    const MEMGETINFO_FROM_HEADER: u32 = 0x8020_4d01;

    #[test]
    fn memgetinfo_request_matches_the_c_header() {
        // The same expression ioctl_read!(memgetinfo, ...) expands to.
        let request =
            nix::request_code_read!(MTD_IOC_MAGIC, MEMGETINFO_NR, size_of::<mtd_info_user>());
        // The kernel's `cmd` is 32 bits wide (`unsigned int`); libc's
        // request type is c_ulong on glibc and c_int on musl.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ioctl numbers are 32-bit; this keeps their bit pattern"
        )]
        let request = request as u32;
        assert_eq!(
            request, MEMGETINFO_FROM_HEADER,
            "MEMGETINFO is {request:#x}, the C header says {MEMGETINFO_FROM_HEADER:#x}"
        );
    }

    #[test]
    fn mtd_info_user_layout_matches_the_c_header() {
        // Offsets and size as printed by offsetof()/sizeof() with gcc for
        // x86_64, mips, mipsel, armhf and arm64 alike.
        assert_eq!(size_of::<mtd_info_user>(), 32);
        assert_eq!(offset_of!(mtd_info_user, type_), 0);
        assert_eq!(offset_of!(mtd_info_user, flags), 4);
        assert_eq!(offset_of!(mtd_info_user, size), 8);
        assert_eq!(offset_of!(mtd_info_user, erasesize), 12);
        assert_eq!(offset_of!(mtd_info_user, writesize), 16);
        assert_eq!(offset_of!(mtd_info_user, oobsize), 20);
        assert_eq!(offset_of!(mtd_info_user, padding), 24);
        assert_eq!(align_of::<mtd_info_user>(), align_of::<u64>());
    }

    #[test]
    fn memgetinfo_on_a_non_mtd_fd_is_enotty() {
        let null = File::open("/dev/null").expect("/dev/null exists on Linux");
        assert_eq!(mem_get_info(null.as_fd()), Err(Errno::ENOTTY));
    }
}
