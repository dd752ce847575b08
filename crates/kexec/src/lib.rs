//! Boot a new kernel from the running one with kexec, for firmware.
//!
//! A router that can boot a new firmware image from RAM before writing it
//! to flash can try an upgrade without risking the device. This crate has
//! the pieces:
//!
//! - [`detect`](mod@detect): which format an image is, from its magic numbers — the
//!   one module below the formats, so that each format is a leaf;
//! - [`image`]: parse kernel images — MIPS ELF `vmlinux` (32-bit, either
//!   byte order), ARM `zImage`, arm64 `Image` (x86 `bzImage`s are
//!   recognised and left to `kexec_file_load`);
//! - [`uimage`]: U-Boot `uImage`s (header and CRCs checked, LZMA
//!   payloads) and firmware images of a kernel uImage plus a squashfs;
//! - [`squashfs`]: the one squashfs superblock check (version 4, whole);
//! - [`memory`]: where RAM is, from `/proc/iomem` or a device tree;
//! - [`Layout`]: place the kernel, initrd, DTB and any extra segment (at a
//!   fixed address or the lowest free one), checking alignment, RAM and
//!   overlaps before anything is loaded; [`Layout::finish`] adds the arm64
//!   entry trampoline ([`trampoline`]) and gives a [`LoadPlan`];
//! - [`dtb`]: read the running device tree, edit `/chosen/bootargs`, the
//!   initrd range, seeds and `/reserved-memory`, write a blob;
//! - [`handoff`]: the policy for the tree the next kernel gets (fresh
//!   seeds, no stale initrd or crash-kernel properties);
//! - [`trial`]: trial boot — a new firmware's kernel with its squashfs
//!   root in reserved RAM, as a phram MTD device;
//! - [`kexec_load`], [`kexec_file_load`], [`unload`], [`exec`]: the system
//!   calls, from a private `sys` module — the crate's only `unsafe` code
//!   (besides one call into fdt-rs, see `dtb`).
//!
//! # Errors
//!
//! Each module has its own error enum ([`image::Error`],
//! [`uimage::Error`], [`uimage::FirmwareError`], [`squashfs::Error`],
//! [`memory::Error`], [`layout::Error`], [`dtb::Error`],
//! [`handoff::Error`], [`trial::Error`], [`SysError`]) whose variants name
//! the case (a wrong architecture is [`uimage::Error::WrongArch`], a cut
//! header [`image::Error::Truncated`]) and keep the cause as `source()`;
//! [`Error`] wraps them all.
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
//! use kexec::{KernelImage, Layout, MemoryMap, Arch};
//!
//! # fn main() -> Result<(), kexec::Error> {
//! let kernel = KernelImage::read("/tmp/vmlinux")?;
//! let memory = MemoryMap::read_iomem()?;
//! let mut layout = Layout::new(kernel.arch, memory).with_page_size(kexec::page_size());
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
//! kexec::exec()?;               // reboot into it; returns only on failure
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

use std::path::PathBuf;

pub mod arch;
pub mod detect;
pub mod dtb;
pub mod handoff;
pub mod image;
pub mod layout;
pub mod memory;
pub mod squashfs;
mod sys;
pub mod trampoline;
pub mod trial;
pub mod uimage;

pub use arch::Arch;
pub use detect::{detect, Format};
pub use image::KernelImage;
pub use layout::{kexec_load, Layout, LoadPlan, PlacedKernel, Segment};
pub use memory::{MemoryMap, Range};
pub use sys::{
    exec, kexec_file_load, loaded, page_size, unload, Error as SysError, Unload,
    HAS_KEXEC_FILE_LOAD, KEXEC_LOADED, KEXEC_SEGMENT_MAX,
};

/// Any error of this crate: one variant per module, each transparent (the
/// module's message, its `source()` chain kept).
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
    /// A kernel image could not be parsed.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// A uImage could not be read or booted.
    #[error(transparent)]
    UImage(#[from] uimage::Error),
    /// A firmware image could not be split.
    #[error(transparent)]
    Firmware(#[from] uimage::FirmwareError),
    /// A squashfs is not whole.
    #[error(transparent)]
    Squashfs(#[from] squashfs::Error),
    /// Where RAM is could not be read.
    #[error(transparent)]
    Memory(#[from] memory::Error),
    /// A segment could not be placed.
    #[error(transparent)]
    Layout(#[from] layout::Error),
    /// The device tree could not be read or edited.
    #[error(transparent)]
    Dtb(#[from] dtb::Error),
    /// The hand-off tree could not be made.
    #[error(transparent)]
    Handoff(#[from] handoff::Error),
    /// A trial boot could not be prepared.
    #[error(transparent)]
    Trial(#[from] trial::Error),
    /// A kexec system call failed.
    #[error(transparent)]
    Sys(#[from] sys::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
