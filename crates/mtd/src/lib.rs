//! Access to Linux MTD (Memory Technology Device) raw flash, for firmware.
//!
//! On routers and other embedded Linux systems the NOR or NAND flash holding
//! the boot loader, kernel and root file system is exposed as MTD devices:
//! `/dev/mtdN` character devices described by `/sys/class/mtd/mtdN/` and
//! listed in `/proc/mtd`. This crate is the foundation for tools that inspect
//! and update that flash:
//!
//! - [`sysfs`]: enumerate devices with their geometry, type and flags
//!   ([`MtdInfo`]). A system without MTD simply has no devices.
//! - [`proc`]: parse `/proc/mtd` ([`ProcMtdEntry`]).
//! - [`spec`]: name a device like mtd-utils and the kernel do
//!   (`/dev/mtd3`, `mtd3`, `3`, `mtd:firmware`) and resolve the name
//!   ([`DeviceSpec`]).
//! - [`device`]: open `/dev/mtdN`, checked to be the MTD device meant, and
//!   query and change it with the MTD ioctls (`MEMGETINFO`, `MEMERASE64`,
//!   `MEMGETBADBLOCK`, `MEMSETBADBLOCK`, `MEMUNLOCK`, `ECCGETSTATS`) and
//!   `pread`/`pwrite` ([`Mtd`], [`DeviceInfo`], [`EccStats`]).
//! - [`flash`]: the [`Flash`] trait writers are generic over, implemented
//!   by [`MtdFlash`] (a kernel device) and `sim::SimFlash`.
//! - `sim` (cargo feature `sim`): a simulated NOR or NAND flash with true
//!   semantics and fault injection (power cuts after any number of bytes,
//!   failing erases and writes, bit flips), for tests.
//! - [`writer`]: write an image like `flashcp`, power-cut safe: checks
//!   before the first erase, only differing blocks, header block last, bad
//!   blocks skipped, every block verified; [`writer::plan`] is the dry run.
//! - [`phram`]: describe a RAM region as an MTD device and add it at run
//!   time.
//!
//! All `unsafe` code (the ioctls) lives in one private module, `sys`,
//! whose request numbers come from nix's `ioctl_*!` macros and are tested
//! against the C headers for each architecture (MIPS encodes them
//! differently from x86 and ARM).
//!
//! # Example: list the flash
//!
//! ```
//! # fn main() -> Result<(), mtd::Error> {
//! for dev in mtd::sysfs::list()? {
//!     println!(
//!         "mtd{}: {:>10} bytes, {} KiB blocks, {} {}{}",
//!         dev.index,
//!         dev.size,
//!         dev.erase_size / 1024,
//!         dev.mtd_type,
//!         dev.name,
//!         if dev.writable() { "" } else { " (read-only)" },
//!     );
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Example: open a partition by name
//!
//! ```no_run
//! use mtd::{DeviceSpec, Mtd, OpenMode};
//!
//! # fn main() -> Result<(), mtd::Error> {
//! let spec: DeviceSpec = "mtd:firmware".parse()?;
//! let flash = Mtd::open(&spec, OpenMode::ReadOnly)?;
//! let info = flash.info()?;
//! println!("{}: {} flash, {} byte erase blocks", flash.path().display(), info.mtd_type, info.erase_size);
//! # Ok(())
//! # }
//! ```
//!
//! # Example: update a partition, power-cut safe
//!
//! ```no_run
//! use mtd::writer::{self, Options};
//! use mtd::{MtdFlash, OpenMode};
//!
//! # fn main() -> Result<(), mtd::Error> {
//! let image = std::fs::read("/tmp/firmware.bin").expect("readable");
//! let mut flash = MtdFlash::open(&"mtd:firmware".parse()?, OpenMode::ReadWrite)?;
//! let options = Options { only_changed: true, expected_magic: Some(b"HDR0"), ..Options::default() };
//! let plan = writer::plan(&mut flash, &image, &options)?; // nothing changed yet
//! println!("{plan}"); // erase 3, write 3, unchanged 122, bad blocks skipped 0
//! let erases = plan.erases();
//! // The plan carries the flash and image it was made for.
//! let report = writer::execute(plan, &mut |p| {
//!     log::info!("{:?} block {} ({}/{})", p.stage, p.block, p.done, p.total)
//! })?;
//! assert_eq!(report.erased, erases);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Each module has its own error type naming what to act on (the file,
//! the device name and the names there are); [`Error`] wraps them all.
//! Messages are lower-case and start with `mtd: `, and already include the
//! underlying OS error.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod device;
pub mod flash;
pub mod phram;
pub mod proc;
#[cfg(feature = "sim")]
pub mod sim;
pub mod spec;
mod sys;
pub mod sysfs;
mod types;
pub mod writer;

#[cfg(test)]
mod testutil;

pub use device::{DeviceError, DeviceInfo, EccStats, Mtd, OpenMode};
pub use flash::{Flash, FlashError, FlashKind, Geometry, MtdFlash};
pub use proc::{ProcError, ProcMtdEntry};
pub use spec::{DeviceSpec, SpecError};
pub use sysfs::{MtdInfo, SysfsError};
pub use types::{MtdFlags, MtdType};
pub use writer::WriteError;

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading `/sys/class/mtd` failed.
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    /// Reading or parsing `/proc/mtd` failed.
    #[error(transparent)]
    Proc(#[from] ProcError),
    /// A device spec was invalid or matched no device.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Opening or querying a device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A flash operation failed.
    #[error(transparent)]
    Flash(#[from] FlashError),
    /// Writing an image failed or was refused.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A phram region was invalid or could not be added.
    #[error(transparent)]
    Phram(#[from] phram::PhramError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_error_keeps_module_messages() {
        let err: Error = DeviceSpec::parse("nope").expect_err("invalid").into();
        assert!(matches!(err, Error::Spec(_)));
        assert!(err.to_string().starts_with("mtd: invalid device \"nope\""));
        let err: Error = proc::parse_proc_mtd("").expect_err("no header").into();
        assert!(matches!(err, Error::Proc(_)));
    }
}
