//! Boot a new kernel from the running one with kexec, for firmware.
//!
//! A router that can boot a new firmware image from RAM before writing it
//! to flash can try an upgrade without risking the device. This crate has
//! the pieces:
//!
//! - [`image`]: detect and parse kernel images — MIPS ELF `vmlinux`
//!   (32-bit, either byte order), ARM `zImage`, arm64 `Image` (x86
//!   `bzImage`s are recognised and left to `kexec_file_load`);
//! - [`uimage`]: U-Boot `uImage`s (header and CRCs checked, LZMA
//!   payloads) and firmware images of a kernel uImage plus a squashfs;
//! - [`memory`]: where RAM is, from `/proc/iomem` or a device tree;
//! - [`Layout`]: place the kernel, initrd, DTB and any extra segment (at a
//!   fixed address or the lowest free one), checking alignment, RAM and
//!   overlaps before anything is loaded; [`Layout::finish`] adds the arm64
//!   entry trampoline ([`trampoline`]) and gives a [`LoadPlan`];
//! - [`dtb`]: read the running device tree, edit `/chosen/bootargs`, the
//!   initrd range, seeds and `/reserved-memory`, write a blob;
//! - [`sys`]: `kexec_load`, `kexec_file_load`, unload and
//!   `reboot(LINUX_REBOOT_CMD_KEXEC)` — the crate's only `unsafe` code
//!   (besides one call into fdt-rs, see `dtb`).
//!
//! How each architecture gets its DTB: ARM (32-bit) Linux finds the segment
//! starting with the FDT magic and passes it in `r2`; MIPS Linux does the
//! same (`uhi_machine_kexec_prepare`, for kernels with the UHI boot
//! protocol); arm64 Linux does not, so the entry is a small trampoline that
//! sets `x0`. See `docs/kexec.md`.
//!
//! # Example: the next kernel with a phram root file system
//!
//! ```no_run
//! use kexec::dtb::{Fdt, ReservedRegion, SYSFS_FDT};
//! use kexec::{sys, KernelImage, Layout, MemoryMap, Arch};
//!
//! # fn main() -> Result<(), kexec::Error> {
//! let kernel = KernelImage::read("/tmp/vmlinux")?;
//! let memory = MemoryMap::read_iomem()?;
//! let mut layout = Layout::new(kernel.arch, memory).with_page_size(sys::page_size());
//! layout.add_kernel(&kernel)?;
//!
//! // A 1 MiB aligned home for the root file system, reserved in the DTB.
//! let rootfs = std::fs::read("/tmp/rootfs.squashfs").map_err(|e| kexec::Error::Io {
//!     path: "/tmp/rootfs.squashfs".into(),
//!     source: e,
//! })?;
//! let at = layout.find_free(rootfs.len() as u64, 1 << 20)?;
//! let size = (rootfs.len() as u64).next_multiple_of(1 << 20);
//! let mut fdt = Fdt::read(SYSFS_FDT)?;
//! fdt.add_reserved_memory(&ReservedRegion {
//!     name: "phram".into(),
//!     address: at,
//!     size,
//!     compatible: None,
//!     no_map: true,
//! })?;
//! fdt.set_bootargs(&format!(
//!     "console=ttyS0,115200 phram.phram=rootfs,{at:#x},{size} root=/dev/mtdblock0"
//! ))?;
//! layout.add_fixed("rootfs", at, rootfs)?;
//! layout.add_dtb(fdt.to_bytes())?;
//!
//! let plan = layout.finish()?; // everything is checked here
//! plan.load()?;                // kexec_load
//! sys::exec()?;                // reboot into it; returns only on failure
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

use std::path::PathBuf;

pub mod arch;
pub mod dtb;
pub mod image;
pub mod layout;
pub mod memory;
pub mod sys;
pub mod trampoline;
pub mod uimage;

pub use arch::Arch;
pub use image::{detect, Format, KernelImage};
pub use layout::{Layout, LoadPlan, PlacedKernel, Segment};
pub use memory::{MemoryMap, Range};

/// Errors of image parsing, placement and the kexec calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file failed.
    #[error("kexec: cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are no kernel image this crate knows.
    #[error(
        "kexec: not a kernel image (not a MIPS ELF, ARM zImage, arm64 Image or x86 bzImage): {0}"
    )]
    NotAKernel(String),
    /// A kernel image's header is inconsistent or truncated.
    #[error("kexec: bad kernel image: {0}")]
    BadImage(String),
    /// A firmware image (a kernel uImage and a squashfs) is not whole.
    #[error("kexec: bad firmware image: {0}")]
    BadFirmware(String),
    /// Something this crate (or architecture) does not do.
    #[error("kexec: unsupported: {0}")]
    Unsupported(String),
    /// `/proc/iomem` could not be parsed.
    #[error("kexec: /proc/iomem: {0}")]
    Iomem(String),
    /// The device tree has no `/memory` node with a `reg`.
    #[error("kexec: the device tree has no /memory node with a reg")]
    NoMemory,
    /// A segment does not start on a page boundary.
    #[error("kexec: {name} at {address:#x} is not aligned to the page size {page_size:#x}")]
    Misaligned {
        /// The segment.
        name: String,
        /// Its address.
        address: u64,
        /// The page size.
        page_size: u64,
    },
    /// A segment is not inside one RAM range.
    #[error("kexec: {name} at {range} is outside RAM")]
    OutsideRam {
        /// The segment.
        name: String,
        /// Where it would go.
        range: Range,
    },
    /// Two segments overlap.
    #[error("kexec: {name} at {range} overlaps {other} at {other_range}")]
    Overlap {
        /// The segment being added.
        name: String,
        /// Where it would go.
        range: Range,
        /// The segment in the way.
        other: String,
        /// Where that one is.
        other_range: Range,
    },
    /// No free RAM fits a segment.
    #[error("kexec: no free RAM for {name}: {size} bytes aligned to {align:#x}")]
    NoRoom {
        /// The segment.
        name: String,
        /// Bytes needed.
        size: u64,
        /// Alignment wanted.
        align: u64,
    },
    /// Something is larger than RAM (or than its limit).
    #[error("kexec: {what} is {size} bytes, more than RAM ({ram} bytes)")]
    TooBig {
        /// What.
        what: String,
        /// Its size.
        size: u64,
        /// The RAM (or limit).
        ram: u64,
    },
    /// More segments than `kexec_load` takes.
    #[error("kexec: {0} segments, the kernel takes at most 16")]
    TooManySegments(usize),
    /// [`Layout::finish`] without a kernel.
    #[error("kexec: no kernel in the layout")]
    NoKernel,
    /// An arm64 layout without a DTB.
    #[error("kexec: an arm64 kernel needs a DTB")]
    NoDtb,
    /// The device tree could not be read or edited.
    #[error(transparent)]
    Dtb(#[from] dtb::Error),
    /// A kexec system call failed.
    #[error("kexec: {call}: {errno}{}{hint}", if hint.is_empty() { "" } else { ": " })]
    Syscall {
        /// The call.
        call: &'static str,
        /// The error number.
        errno: nix::errno::Errno,
        /// A likely cause.
        hint: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
