//! The kexec system calls: the crate's only `unsafe` code.
//!
//! `kexec_load(2)`, `kexec_file_load(2)` and `reboot(LINUX_REBOOT_CMD_KEXEC)`,
//! with syscall numbers and flags from `libc` and `nix`. Callers check
//! everything first (the [`Layout`](crate::Layout) does); these functions
//! only convert and call.
#![allow(unsafe_code)]

use std::convert::Infallible;
use std::fs::File;

use nix::errno::Errno;

use crate::{Error, Result, Segment};

/// `/sys/kernel/kexec_loaded`: `1` while an image is loaded.
pub const KEXEC_LOADED: &str = "/sys/kernel/kexec_loaded";

/// The most segments `kexec_load` takes (`KEXEC_SEGMENT_MAX`).
pub const KEXEC_SEGMENT_MAX: usize = 16;

/// `struct kexec_segment` from `<linux/kexec.h>`.
#[repr(C)]
struct KexecSegment {
    buf: *const libc::c_void,
    bufsz: libc::size_t,
    mem: libc::size_t,
    memsz: libc::size_t,
}

fn hint(call: &'static str, errno: Errno) -> Error {
    let hint = match errno {
        Errno::EPERM => {
            "needs root (CAP_SYS_BOOT); or kexec is disabled (kernel.kexec_load_disabled, lockdown)"
        }
        Errno::ENOSYS => {
            "the kernel is built without this kexec call (CONFIG_KEXEC / CONFIG_KEXEC_FILE)"
        }
        Errno::EBUSY => "another kexec load or exec is in progress",
        Errno::EINVAL => "the kernel rejected the segments or flags",
        Errno::ENOEXEC => "the kernel does not recognize the image format",
        Errno::EKEYREJECTED | Errno::EBADMSG => "the image's signature was rejected",
        Errno::ENOMEM => "the kernel could not allocate memory for the image",
        Errno::EADDRNOTAVAIL => "a segment's destination is not usable memory",
        _ => "",
    };
    Error::Syscall {
        call,
        errno,
        hint: hint.to_owned(),
    }
}

fn word(v: u64, what: &str) -> Result<libc::size_t> {
    libc::size_t::try_from(v).map_err(|_| {
        Error::Unsupported(format!(
            "{what} {v:#x} does not fit this system's {}-bit kexec_segment",
            usize::BITS
        ))
    })
}

/// `kexec_load(entry, segments, flags)`: load an image to run on the next
/// [`exec`]. `flags` is a `KEXEC_ARCH_*` value
/// ([`Arch::kexec_arch_flag`](crate::Arch::kexec_arch_flag)) or 0, plus
/// `KEXEC_ON_CRASH`/`KEXEC_PRESERVE_CONTEXT` if wanted.
pub fn kexec_load(entry: u64, segments: &[Segment], flags: u32) -> Result<()> {
    let entry = word(entry, "entry")?;
    let raw = segments
        .iter()
        .map(|s| {
            Ok(KexecSegment {
                buf: s.data.as_ptr().cast(),
                bufsz: s.data.len(),
                mem: word(s.address, "segment address")?,
                memsz: word(s.mem_size, "segment size")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // SAFETY: `raw` points at `raw.len()` initialised kexec_segment structs
    // whose `buf`s borrow `segments`' data, all alive for the call; the
    // kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            entry as libc::c_ulong,
            raw.len() as libc::c_ulong,
            raw.as_ptr(),
            libc::c_ulong::from(flags),
        )
    };
    if r == -1 {
        return Err(hint("kexec_load", Errno::last()));
    }
    Ok(())
}

/// Whether this build has `kexec_file_load`: x86_64, and aarch64 with
/// glibc (musl's `libc` crate bindings lack the aarch64 syscall number, and
/// arm64 firmware uses `kexec_load` with our trampoline anyway).
pub const HAS_KEXEC_FILE_LOAD: bool = cfg!(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_env = "gnu")
));

/// `kexec_file_load(kernel, initrd, cmdline, flags)`: the kernel itself
/// parses the image (and checks its signature where configured). Without an
/// initrd, `KEXEC_FILE_NO_INITRAMFS` is added to `flags`.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_env = "gnu")
))]
pub fn kexec_file_load(
    kernel: &File,
    initrd: Option<&File>,
    cmdline: &str,
    flags: u32,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    let c = std::ffi::CString::new(cmdline)
        .map_err(|_| Error::Unsupported("command line contains a NUL byte".into()))?;
    let len = c.as_bytes_with_nul().len();
    let mut flags = libc::c_ulong::from(flags);
    let initrd_fd = match initrd {
        Some(f) => f.as_raw_fd(),
        None => {
            flags |= libc::KEXEC_FILE_NO_INITRAMFS as libc::c_ulong;
            -1
        }
    };
    // SAFETY: the fds are open for the call; `c` is a NUL-terminated string
    // of `len` bytes (NUL included) alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kernel.as_raw_fd(),
            initrd_fd,
            len as libc::c_ulong,
            c.as_ptr(),
            flags,
        )
    };
    if r == -1 {
        return Err(hint("kexec_file_load", Errno::last()));
    }
    Ok(())
}

/// `kexec_file_load` is not available in this build (see
/// [`HAS_KEXEC_FILE_LOAD`]).
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_env = "gnu")
)))]
pub fn kexec_file_load(
    _kernel: &File,
    _initrd: Option<&File>,
    _cmdline: &str,
    _flags: u32,
) -> Result<()> {
    Err(Error::Unsupported(
        "kexec_file_load is only built for x86_64 and aarch64-gnu".into(),
    ))
}

/// Unload the loaded image: `kexec_load` with no segments, or
/// `kexec_file_load` with `KEXEC_FILE_UNLOAD` when `file` is set (either
/// unloads an image loaded by the other call).
pub fn unload(file: bool) -> Result<()> {
    if file {
        #[cfg(any(
            target_arch = "x86_64",
            all(target_arch = "aarch64", target_env = "gnu")
        ))]
        {
            // SAFETY: no pointers are passed (fds -1, NULL command line).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_kexec_file_load,
                    -1 as libc::c_int,
                    -1 as libc::c_int,
                    0 as libc::c_ulong,
                    std::ptr::null::<libc::c_char>(),
                    libc::KEXEC_FILE_UNLOAD as libc::c_ulong,
                )
            };
            if r == -1 {
                return Err(hint("kexec_file_load", Errno::last()));
            }
            return Ok(());
        }
    }
    kexec_load(0, &[], 0)
}

/// Sync file systems and reboot into the loaded image
/// (`reboot(LINUX_REBOOT_CMD_KEXEC)`). Returns only on failure.
pub fn exec() -> Result<Infallible> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_KEXEC)
        .map_err(|e| hint("reboot(LINUX_REBOOT_CMD_KEXEC)", e))
}

/// Whether an image is loaded (reads [`KEXEC_LOADED`]).
pub fn loaded() -> Result<bool> {
    let s = std::fs::read_to_string(KEXEC_LOADED).map_err(|source| Error::Io {
        path: KEXEC_LOADED.into(),
        source,
    })?;
    Ok(s.trim() == "1")
}

/// The running kernel's page size.
pub fn page_size() -> u64 {
    // SAFETY: sysconf takes a constant and returns a number.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(4096)
}
