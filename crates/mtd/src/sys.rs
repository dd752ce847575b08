//! The kernel ABI: the MTD ioctls and their payload structs.
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
/// The ioctl number of `MEMUNLOCK`.
const MEMUNLOCK_NR: u8 = 6;
/// The ioctl number of `MEMGETBADBLOCK`.
const MEMGETBADBLOCK_NR: u8 = 11;
/// The ioctl number of `MEMSETBADBLOCK`.
const MEMSETBADBLOCK_NR: u8 = 12;
/// The ioctl number of `ECCGETSTATS`.
const ECCGETSTATS_NR: u8 = 18;
/// The ioctl number of `MEMERASE64`.
const MEMERASE64_NR: u8 = 20;

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

/// `struct erase_info_user64` (`MEMERASE64`): a 64-bit byte range.
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct erase_info_user64 {
    /// `start`: first byte, erase-block aligned.
    pub(crate) start: u64,
    /// `length`: a multiple of the erase size.
    pub(crate) length: u64,
}

/// `struct erase_info_user` (`MEMUNLOCK`, `MEMLOCK`, old `MEMERASE`).
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct erase_info_user {
    /// `start`.
    pub(crate) start: u32,
    /// `length`.
    pub(crate) length: u32,
}

/// `struct mtd_ecc_stats` (`ECCGETSTATS`).
///
/// ```c
/// struct mtd_ecc_stats {
///     __u32 corrected; __u32 failed; __u32 badblocks; __u32 bbtblocks;
/// };
/// ```
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct mtd_ecc_stats {
    /// Bit errors corrected by ECC.
    pub(crate) corrected: u32,
    /// Uncorrectable ECC errors.
    pub(crate) failed: u32,
    /// Bad blocks in this device.
    pub(crate) badblocks: u32,
    /// Blocks reserved for the bad block table.
    pub(crate) bbtblocks: u32,
}

// MEMERASE64 is `_IOW('M', 20, struct erase_info_user64)`.
nix::ioctl_write_ptr!(
    /// `ioctl(fd, MEMERASE64, const struct erase_info_user64 *)`.
    memerase64,
    MTD_IOC_MAGIC,
    MEMERASE64_NR,
    erase_info_user64
);

// MEMUNLOCK is `_IOW('M', 6, struct erase_info_user)`.
nix::ioctl_write_ptr!(
    /// `ioctl(fd, MEMUNLOCK, const struct erase_info_user *)`.
    memunlock,
    MTD_IOC_MAGIC,
    MEMUNLOCK_NR,
    erase_info_user
);

// MEMGETBADBLOCK is `_IOW('M', 11, __kernel_loff_t)`; the answer is the
// ioctl's return value (0 good, 1 bad).
nix::ioctl_write_ptr!(
    /// `ioctl(fd, MEMGETBADBLOCK, const loff_t *)`.
    memgetbadblock,
    MTD_IOC_MAGIC,
    MEMGETBADBLOCK_NR,
    i64
);

// MEMSETBADBLOCK is `_IOW('M', 12, __kernel_loff_t)`.
nix::ioctl_write_ptr!(
    /// `ioctl(fd, MEMSETBADBLOCK, const loff_t *)`.
    memsetbadblock,
    MTD_IOC_MAGIC,
    MEMSETBADBLOCK_NR,
    i64
);

// ECCGETSTATS is `_IOR('M', 18, struct mtd_ecc_stats)`.
nix::ioctl_read!(
    /// `ioctl(fd, ECCGETSTATS, struct mtd_ecc_stats *)`.
    eccgetstats,
    MTD_IOC_MAGIC,
    ECCGETSTATS_NR,
    mtd_ecc_stats
);

/// Erases `length` bytes from `start` (both erase-block aligned).
#[doc(alias = "MEMERASE64")]
pub(crate) fn mem_erase64(fd: BorrowedFd<'_>, start: u64, length: u64) -> Result<(), Errno> {
    let arg = erase_info_user64 { start, length };
    // SAFETY: MEMERASE64 is a write ioctl (_IOW: the kernel copies one
    // `struct erase_info_user64`, 16 bytes, in from user space); `arg` is a
    // live, aligned value of that layout (pinned by the tests) that the
    // kernel only reads. `fd` is borrowed, hence open during the call.
    unsafe { memerase64(fd.as_raw_fd(), &arg) }?;
    Ok(())
}

/// Unlocks `length` bytes from `start` (NOR chips locked at power-up).
#[doc(alias = "MEMUNLOCK")]
pub(crate) fn mem_unlock(fd: BorrowedFd<'_>, start: u32, length: u32) -> Result<(), Errno> {
    let arg = erase_info_user { start, length };
    // SAFETY: MEMUNLOCK is _IOW with one `struct erase_info_user` (8 bytes)
    // read by the kernel from `arg`, which is live and aligned for the call.
    unsafe { memunlock(fd.as_raw_fd(), &arg) }?;
    Ok(())
}

/// Whether the erase block at byte offset `offset` is marked bad.
#[doc(alias = "MEMGETBADBLOCK")]
pub(crate) fn mem_get_bad_block(fd: BorrowedFd<'_>, offset: i64) -> Result<bool, Errno> {
    // SAFETY: MEMGETBADBLOCK is _IOW with one `loff_t` (8 bytes) read by the
    // kernel from `offset`, a live i64 on our stack; the result is the
    // return value, not written through the pointer.
    let bad = unsafe { memgetbadblock(fd.as_raw_fd(), &offset) }?;
    Ok(bad > 0)
}

/// Marks the erase block at byte offset `offset` bad.
#[doc(alias = "MEMSETBADBLOCK")]
pub(crate) fn mem_set_bad_block(fd: BorrowedFd<'_>, offset: i64) -> Result<(), Errno> {
    // SAFETY: MEMSETBADBLOCK is _IOW with one `loff_t` (8 bytes) read by the
    // kernel from `offset`, a live i64 on our stack.
    unsafe { memsetbadblock(fd.as_raw_fd(), &offset) }?;
    Ok(())
}

/// The device's ECC and bad-block counters.
#[doc(alias = "ECCGETSTATS")]
pub(crate) fn ecc_get_stats(fd: BorrowedFd<'_>) -> Result<mtd_ecc_stats, Errno> {
    let mut stats = mtd_ecc_stats::default();
    // SAFETY: ECCGETSTATS is _IOR: the kernel copies one `struct
    // mtd_ecc_stats` (16 bytes, size encoded in the request) out to `stats`,
    // an aligned, exclusively borrowed value that outlives the call.
    unsafe { eccgetstats(fd.as_raw_fd(), &mut stats) }?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::mem::{align_of, offset_of, size_of};
    use std::os::fd::AsFd;

    use super::*;

    /// The MTD requests as the C headers define them for this architecture,
    /// `(name, value)`.
    ///
    /// Verified by compiling `printf("%lx", MEMGETINFO)` etc. (with
    /// `<sys/ioctl.h>` and `<mtd/mtd-user.h>`) with gcc, mips-linux-gnu-gcc,
    /// mipsel-linux-gnu-gcc, arm-linux-gnueabihf-gcc and
    /// aarch64-linux-gnu-gcc and running each under qemu-user:
    ///
    /// - generic `asm-generic/ioctl.h` (x86_64, arm, aarch64, also x86 and
    ///   riscv): `_IOC_WRITE` = 1, `_IOC_READ` = 2, 2 direction bits at
    ///   bit 30, 14 size bits: MEMGETINFO =
    ///   `2 << 30 | 32 << 16 | 'M' << 8 | 1` = 0x80204d01.
    /// - MIPS (mips, mipsel; mips64 uses the same header): `_IOC_READ` = 2,
    ///   `_IOC_WRITE` = 4, 3 direction bits at bit 29, 13 size bits:
    ///   MEMGETINFO = `2 << 29 | 32 << 16 | 'M' << 8 | 1` = 0x40204d01, so
    ///   reads and writes swap their top bits relative to x86.
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
    const FROM_HEADER: [(&str, u32); 6] = [
        ("MEMGETINFO", 0x4020_4d01),
        ("MEMERASE64", 0x8010_4d14),
        ("MEMGETBADBLOCK", 0x8008_4d0b),
        ("MEMSETBADBLOCK", 0x8008_4d0c),
        ("MEMUNLOCK", 0x8008_4d06),
        ("ECCGETSTATS", 0x4010_4d12),
    ];
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
    const FROM_HEADER: [(&str, u32); 6] = [
        ("MEMGETINFO", 0x8020_4d01),
        ("MEMERASE64", 0x4010_4d14),
        ("MEMGETBADBLOCK", 0x4008_4d0b),
        ("MEMSETBADBLOCK", 0x4008_4d0c),
        ("MEMUNLOCK", 0x4008_4d06),
        ("ECCGETSTATS", 0x8010_4d12),
    ];

    /// The kernel's `cmd` is 32 bits wide (`unsigned int`); libc's request
    /// type is c_ulong on glibc and c_int on musl.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::unnecessary_cast,
        reason = "ioctl numbers are 32-bit; this keeps their bit pattern"
    )]
    fn as_u32(request: nix::sys::ioctl::ioctl_num_type) -> u32 {
        request as u32
    }

    #[test]
    fn requests_match_the_c_header() {
        // The same expressions the ioctl_read!/ioctl_write_ptr! invocations
        // above expand to.
        let ours = [
            (
                "MEMGETINFO",
                nix::request_code_read!(MTD_IOC_MAGIC, MEMGETINFO_NR, size_of::<mtd_info_user>()),
            ),
            (
                "MEMERASE64",
                nix::request_code_write!(
                    MTD_IOC_MAGIC,
                    MEMERASE64_NR,
                    size_of::<erase_info_user64>()
                ),
            ),
            (
                "MEMGETBADBLOCK",
                nix::request_code_write!(MTD_IOC_MAGIC, MEMGETBADBLOCK_NR, size_of::<i64>()),
            ),
            (
                "MEMSETBADBLOCK",
                nix::request_code_write!(MTD_IOC_MAGIC, MEMSETBADBLOCK_NR, size_of::<i64>()),
            ),
            (
                "MEMUNLOCK",
                nix::request_code_write!(MTD_IOC_MAGIC, MEMUNLOCK_NR, size_of::<erase_info_user>()),
            ),
            (
                "ECCGETSTATS",
                nix::request_code_read!(MTD_IOC_MAGIC, ECCGETSTATS_NR, size_of::<mtd_ecc_stats>()),
            ),
        ];
        for ((name, request), (header_name, header)) in ours.into_iter().zip(FROM_HEADER) {
            assert_eq!(name, header_name);
            let request = as_u32(request);
            assert_eq!(
                request, header,
                "{name} is {request:#x}, the C header says {header:#x}"
            );
        }
    }

    #[test]
    fn payload_layouts_match_the_c_header() {
        // sizeof/offsetof as printed by gcc for x86_64, mips, mipsel, armhf
        // and arm64 alike.
        assert_eq!(size_of::<erase_info_user64>(), 16);
        assert_eq!(offset_of!(erase_info_user64, length), 8);
        assert_eq!(size_of::<erase_info_user>(), 8);
        assert_eq!(offset_of!(erase_info_user, length), 4);
        assert_eq!(size_of::<mtd_ecc_stats>(), 16);
        assert_eq!(offset_of!(mtd_ecc_stats, failed), 4);
        assert_eq!(offset_of!(mtd_ecc_stats, badblocks), 8);
        assert_eq!(offset_of!(mtd_ecc_stats, bbtblocks), 12);
        // __kernel_loff_t is `long long` everywhere.
        assert_eq!(size_of::<i64>(), 8);
    }

    #[test]
    fn device_ops_on_a_non_mtd_fd_are_enotty() {
        let null = File::open("/dev/null").expect("/dev/null exists on Linux");
        assert_eq!(mem_get_bad_block(null.as_fd(), 0), Err(Errno::ENOTTY));
        assert_eq!(ecc_get_stats(null.as_fd()), Err(Errno::ENOTTY));
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
