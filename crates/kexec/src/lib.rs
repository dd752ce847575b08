//! Boot a new image from the running one with kexec, for firmware.
//!
//! A router that can boot a new firmware image from RAM before writing it
//! to flash can try an upgrade without risking the device. This crate will
//! hold the pieces for that; this release has the first one:
//!
//! - [`dtb`]: read a flattened device tree (from `/sys/firmware/fdt` or a
//!   file), edit it — `/chosen/bootargs`, `linux,initrd-start`/`-end`,
//!   `rng-seed`, `kaslr-seed`, `/reserved-memory` nodes such as a `phram`
//!   root file system — and write a blob `dtc` and the kernel accept.
//!
//! Kernel image loaders, `kexec_load` and the trial-boot path come next.
//!
//! # Example: give the next kernel a command line and a phram region
//!
//! ```
//! use kexec::dtb::{Fdt, ReservedRegion};
//!
//! // On a device: `Fdt::read(kexec::dtb::SYSFS_FDT)?`.
//! let mut fdt = Fdt::new();
//! fdt.set_bootargs("console=ttyS0,115200 root=/dev/mtdblock0")?;
//! let path = fdt.add_reserved_memory(&ReservedRegion {
//!     name: "phram".into(),
//!     address: 0x0200_0000,
//!     size: 0x0060_0000,
//!     compatible: Some("phram".into()),
//!     no_map: true,
//! })?;
//! assert_eq!(path, "/reserved-memory/phram@2000000");
//! let blob: Vec<u8> = fdt.to_bytes();
//! assert_eq!(&blob[..4], &[0xd0, 0x0d, 0xfe, 0xed]);
//! # Ok::<(), kexec::dtb::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod dtb;
