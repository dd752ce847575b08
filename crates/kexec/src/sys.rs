//! The kexec system calls: the crate's only `unsafe` code.
//!
//! `kexec_load(2)`, `kexec_file_load(2)` and `reboot(LINUX_REBOOT_CMD_KEXEC)`,
//! with syscall numbers and flags from `libc` and `nix`. Callers check
//! everything first (the [`Layout`](crate::Layout) does); these functions
//! only convert and call. The module is private: the crate root re-exports
//! the safe functions ([`crate::exec`], [`crate::unload`], ...), and it
//! depends on no other module of the crate (segments come in as
//! [`RawSegment`]s), so the unsafe code can be read alone.
#![allow(
    unsafe_code,
    reason = "raw syscalls: kexec_load and kexec_file_load have no safe binding in libc or \
              nix, sync(2) and sysconf(3) are libc calls; each block states its pointers' \
              lifetimes in a SAFETY comment"
)]

use std::convert::Infallible;
use std::fs::File;

use nix::errno::Errno;

/// Why a kexec system call (or its preparation) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kexec system call failed.
    #[error("kexec: {call}: {errno}{}{hint}", if hint.is_empty() { "" } else { ": " })]
    Syscall {
        /// The call.
        call: &'static str,
        /// The error number.
        errno: Errno,
        /// A likely cause.
        hint: &'static str,
    },
    /// An address or size does not fit this system's `kexec_segment`.
    #[error("kexec: {what} {value:#x} does not fit this system's {bits}-bit kexec_segment")]
    TooWide {
        /// "entry", "segment address", "segment size".
        what: &'static str,
        /// The value.
        value: u64,
        /// `usize::BITS`.
        bits: u32,
    },
    /// A command line with a NUL byte.
    #[error("kexec: the command line contains a NUL byte")]
    NulInCommandLine,
    /// `kexec_file_load` is not built for this target.
    #[error("kexec: unsupported: kexec_file_load is only built for x86_64 and aarch64-gnu")]
    NoFileLoad,
    /// Reading [`KEXEC_LOADED`] failed.
    #[error("kexec: cannot read {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The errno of a failed call, if this is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Syscall { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One segment as `kexec_load` takes it: bytes, and where they go.
#[derive(Clone, Copy, Debug)]
pub struct RawSegment<'a> {
    /// The bytes.
    pub data: &'a [u8],
    /// Physical destination.
    pub address: u64,
    /// Bytes reserved at the destination.
    pub mem_size: u64,
}

/// Which call [`unload`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unload {
    /// `kexec_load` with no segments (kexec-tools' default).
    #[default]
    KexecLoad,
    /// `kexec_file_load` with `KEXEC_FILE_UNLOAD` (`kexec -u -s`).
    KexecFileLoad,
}

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
    Error::Syscall { call, errno, hint }
}

fn word(value: u64, what: &'static str) -> Result<libc::size_t> {
    libc::size_t::try_from(value).map_err(|_| Error::TooWide {
        what,
        value,
        bits: usize::BITS,
    })
}

/// `kexec_load(entry, segments, flags)` (see [`crate::kexec_load`]).
pub(crate) fn kexec_load(entry: u64, segments: &[RawSegment<'_>], flags: u32) -> Result<()> {
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
    let c = std::ffi::CString::new(cmdline).map_err(|_| Error::NulInCommandLine)?;
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
    Err(Error::NoFileLoad)
}

/// Unload the loaded image: `kexec_load` with no segments, or
/// `kexec_file_load` with `KEXEC_FILE_UNLOAD` (either unloads an image
/// loaded by the other call). [`Unload::KexecFileLoad`] on a build without
/// `kexec_file_load` ([`HAS_KEXEC_FILE_LOAD`]) uses `kexec_load`.
pub fn unload(how: Unload) -> Result<()> {
    if how == Unload::KexecFileLoad {
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
