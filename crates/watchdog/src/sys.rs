//! The kernel ABI: `struct watchdog_info` and the `WDIOC_*` ioctls of
//! `include/uapi/linux/watchdog.h`.
//!
//! This is the only module of the crate with `unsafe` code. Each ioctl gets
//! one request-number definition made with nix's `ioctl_*!` macros (never a
//! hard-coded number: MIPS encodes the direction bits differently from x86
//! and ARM) and one safe wrapper taking a [`BorrowedFd`]. The header
//! declares `WDIOC_SETOPTIONS` and `WDIOC_KEEPALIVE` as `_IOR` although the
//! kernel reads the `int` from user space; we encode them exactly as the
//! header does, since the number is what the driver matches on. The tests
//! pin every request number to the value the C header gives on x86_64 and
//! on MIPS.
#![allow(
    unsafe_code,
    reason = "the watchdog ioctls are only reachable through libc::ioctl; every unsafe block \
              is wrapped in a safe function with a SAFETY comment"
)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::libc::c_int;

/// The ioctl "type" of all watchdog ioctls: `WATCHDOG_IOCTL_BASE`, `'W'`.
const WATCHDOG_IOCTL_BASE: u8 = b'W';

/// `struct watchdog_info` from `include/uapi/linux/watchdog.h`:
///
/// ```c
/// struct watchdog_info {
///     __u32 options;          /* Options the card/driver supports */
///     __u32 firmware_version; /* Firmware version of the card */
///     __u8  identity[32];     /* Identity of the board */
/// };
/// ```
///
/// 40 bytes on every architecture (checked by the tests), native byte order.
#[allow(
    non_camel_case_types,
    reason = "named as in the kernel header it mirrors, to make review against it easy"
)]
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct watchdog_info {
    /// `options`: the `WDIOF_*` bits the driver supports.
    pub(crate) options: u32,
    /// `firmware_version`.
    pub(crate) firmware_version: u32,
    /// `identity`: NUL-padded driver name.
    pub(crate) identity: [u8; 32],
}

nix::ioctl_read!(
    /// `ioctl(fd, WDIOC_GETSUPPORT, struct watchdog_info *)`.
    wdioc_getsupport,
    WATCHDOG_IOCTL_BASE,
    0,
    watchdog_info
);
nix::ioctl_read!(
    /// `ioctl(fd, WDIOC_GETBOOTSTATUS, int *)`.
    wdioc_getbootstatus,
    WATCHDOG_IOCTL_BASE,
    2,
    c_int
);
nix::ioctl_read!(
    /// `ioctl(fd, WDIOC_SETOPTIONS, int *)` (declared `_IOR` in the header).
    wdioc_setoptions,
    WATCHDOG_IOCTL_BASE,
    4,
    c_int
);
nix::ioctl_read!(
    /// `ioctl(fd, WDIOC_KEEPALIVE, int *)` (declared `_IOR`, payload unused).
    wdioc_keepalive,
    WATCHDOG_IOCTL_BASE,
    5,
    c_int
);
nix::ioctl_readwrite!(
    /// `ioctl(fd, WDIOC_SETTIMEOUT, int *)`: in the wanted timeout, out the
    /// one the hardware got.
    wdioc_settimeout,
    WATCHDOG_IOCTL_BASE,
    6,
    c_int
);
nix::ioctl_read!(
    /// `ioctl(fd, WDIOC_GETTIMEOUT, int *)`.
    wdioc_gettimeout,
    WATCHDOG_IOCTL_BASE,
    7,
    c_int
);

/// Asks the driver which `WDIOF_*` options it supports, and its identity.
#[doc(alias = "WDIOC_GETSUPPORT")]
pub(crate) fn get_support(fd: BorrowedFd<'_>) -> Result<watchdog_info, Errno> {
    let mut info = watchdog_info::default();
    // SAFETY: WDIOC_GETSUPPORT is _IOR: the kernel copies one
    // `struct watchdog_info` (40 bytes, size encoded in the request) out to
    // the pointer; `info` mirrors the header's layout (pinned by the tests),
    // is aligned, initialised, exclusively borrowed and outlives the call;
    // `fd` is borrowed, hence open.
    unsafe { wdioc_getsupport(fd.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// Reads the `WDIOF_*` status bits of the last reboot (e.g. `WDIOF_CARDRESET`).
#[doc(alias = "WDIOC_GETBOOTSTATUS")]
pub(crate) fn get_boot_status(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    let mut status: c_int = 0;
    // SAFETY: WDIOC_GETBOOTSTATUS is _IOR: the kernel writes one int to the
    // pointer, which points at a live, exclusively borrowed c_int.
    unsafe { wdioc_getbootstatus(fd.as_raw_fd(), &mut status) }?;
    #[allow(clippy::cast_sign_loss, reason = "a bit mask, kept bit for bit")]
    Ok(status as u32)
}

/// Sets `WDIOS_*` options (`WDIOS_DISABLECARD`, `WDIOS_ENABLECARD`).
#[doc(alias = "WDIOC_SETOPTIONS")]
pub(crate) fn set_options(fd: BorrowedFd<'_>, options: c_int) -> Result<(), Errno> {
    let mut options = options;
    // SAFETY: WDIOC_SETOPTIONS (encoded _IOR as in the header) makes the
    // kernel read one int from the pointer, which points at a live c_int
    // that outlives the call.
    unsafe { wdioc_setoptions(fd.as_raw_fd(), &mut options) }?;
    Ok(())
}

/// Feeds the watchdog.
#[doc(alias = "WDIOC_KEEPALIVE")]
pub(crate) fn keepalive(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut unused: c_int = 0;
    // SAFETY: WDIOC_KEEPALIVE (encoded _IOR as in the header) ignores its
    // argument; we still pass a valid pointer to a live c_int in case a
    // driver touches it.
    unsafe { wdioc_keepalive(fd.as_raw_fd(), &mut unused) }?;
    Ok(())
}

/// Sets the timeout in seconds; returns the timeout the driver chose (it
/// may round).
#[doc(alias = "WDIOC_SETTIMEOUT")]
pub(crate) fn set_timeout(fd: BorrowedFd<'_>, seconds: c_int) -> Result<c_int, Errno> {
    let mut value = seconds;
    // SAFETY: WDIOC_SETTIMEOUT is _IOWR with an int payload: the kernel
    // reads the int at the pointer and writes the effective timeout back;
    // `value` is a live, exclusively borrowed c_int.
    unsafe { wdioc_settimeout(fd.as_raw_fd(), &mut value) }?;
    Ok(value)
}

/// Reads the timeout in seconds.
#[doc(alias = "WDIOC_GETTIMEOUT")]
pub(crate) fn get_timeout(fd: BorrowedFd<'_>) -> Result<c_int, Errno> {
    let mut value: c_int = 0;
    // SAFETY: WDIOC_GETTIMEOUT is _IOR: the kernel writes one int to the
    // pointer, which points at a live, exclusively borrowed c_int.
    unsafe { wdioc_gettimeout(fd.as_raw_fd(), &mut value) }?;
    Ok(value)
}

/// Takes ownership of `fd`, a descriptor inherited from the parent
/// process (the watchdog hand-off), after checking that it is open.
///
/// The caller promises that nothing else in this process owns `fd`: the
/// hand-off protocol passes it to exactly one successor, and the caller
/// calls this once, at start-up.
pub(crate) fn adopt_fd(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_GETFD takes no argument and only reads the descriptor
    // table; any integer is a valid input (EBADF if not open).
    let r = unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fd` is open (checked just above) and, per this function's
    // contract, owned by no other object in this process, so the OwnedFd
    // becomes its only owner and closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `madvise(MADV_DONTNEED)` over `[start, end)`: drops this process's
/// page-table entries there; a later access faults the pages in again.
///
/// The caller must only pass read-only private file mappings that hold no
/// private (copied-on-write) page, where a re-fault reads the same bytes
/// back from the file: [`crate::startup::releasable_ranges`] picks those.
pub(crate) fn dont_need(start: usize, end: usize) -> Result<(), Errno> {
    let Some(addr) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
        return Err(Errno::EINVAL);
    };
    // SAFETY: the range is a read-only mapping of this process's
    // executable with no private page (`Anonymous: 0 kB` in smaps; being
    // read-only, none can appear): MADV_DONTNEED only zaps its page-table
    // entries and the next access faults in the identical file bytes, so
    // no code or data that Rust sees changes.
    unsafe { nix::sys::mman::madvise(addr, end - start, nix::sys::mman::MmapAdvise::MADV_DONTNEED) }
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    /// Whether this architecture uses the MIPS-style ioctl encoding
    /// (3 direction bits at bit 29, `_IOC_READ` = 2, `_IOC_WRITE` = 4).
    const MIPS_STYLE: bool = cfg!(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ));

    /// The request numbers the C headers give, as printed by
    /// `printf("%lx", WDIOC_...)` with `<sys/ioctl.h>` and
    /// `<linux/watchdog.h>`, compiled with gcc (x86_64) and with
    /// mips-linux-gnu-gcc, run under `qemu-mips-static -cpu 24Kf`
    /// (generic: arm, aarch64 too; MIPS: mipsel too).
    /// Columns: name, generic value, MIPS value.
    const FROM_HEADER: &[(&str, u32, u32)] = &[
        ("WDIOC_GETSUPPORT", 0x8028_5700, 0x4028_5700),
        ("WDIOC_GETBOOTSTATUS", 0x8004_5702, 0x4004_5702),
        ("WDIOC_SETOPTIONS", 0x8004_5704, 0x4004_5704),
        ("WDIOC_KEEPALIVE", 0x8004_5705, 0x4004_5705),
        ("WDIOC_SETTIMEOUT", 0xc004_5706, 0xc004_5706),
        ("WDIOC_GETTIMEOUT", 0x8004_5707, 0x4004_5707),
    ];

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ioctl numbers are 32-bit; this keeps their bit pattern"
    )]
    fn ours(name: &str) -> u32 {
        let int = size_of::<c_int>();
        let b = WATCHDOG_IOCTL_BASE;
        // The same expressions the ioctl_*! invocations above expand to.
        (match name {
            "WDIOC_GETSUPPORT" => nix::request_code_read!(b, 0, size_of::<watchdog_info>()),
            "WDIOC_GETBOOTSTATUS" => nix::request_code_read!(b, 2, int),
            "WDIOC_SETOPTIONS" => nix::request_code_read!(b, 4, int),
            "WDIOC_KEEPALIVE" => nix::request_code_read!(b, 5, int),
            "WDIOC_SETTIMEOUT" => nix::request_code_readwrite!(b, 6, int),
            "WDIOC_GETTIMEOUT" => nix::request_code_read!(b, 7, int),
            other => panic!("no request {other}"),
        }) as u32
    }

    #[test]
    fn request_numbers_match_the_c_header() {
        for &(name, generic, mips) in FROM_HEADER {
            let want = if MIPS_STYLE { mips } else { generic };
            assert_eq!(
                ours(name),
                want,
                "{name}: ours {:#x}, header {want:#x}",
                ours(name)
            );
        }
    }

    #[test]
    fn watchdog_info_layout_matches_the_header() {
        assert_eq!(size_of::<watchdog_info>(), 40);
        assert_eq!(offset_of!(watchdog_info, options), 0);
        assert_eq!(offset_of!(watchdog_info, firmware_version), 4);
        assert_eq!(offset_of!(watchdog_info, identity), 8);
    }

    #[test]
    fn ioctls_on_a_non_watchdog_fd_fail_cleanly() {
        use std::os::fd::AsFd;
        let f = std::fs::File::open("/dev/null").expect("/dev/null exists on Linux");
        assert!(get_support(f.as_fd()).is_err());
        assert!(keepalive(f.as_fd()).is_err());
    }
}
