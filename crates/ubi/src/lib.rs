//! UBI (Unsorted Block Images) for firmware: the on-flash format, images
//! byte-identical to mtd-utils' `ubinize`, an inspector, and the kernel's
//! UBI ioctls.
//!
//! NAND routers keep their root file system in UBI volumes. UBI spreads
//! writes over the whole flash and keeps each eraseblock's erase counter in
//! its header; this crate writes and reads those headers.
//!
//! - [`media`]: the on-flash records (EC header `"UBI#"`, VID header
//!   `"UBI!"`, volume-table records), big-endian, CRC-checked; parsing
//!   never panics.
//! - [`ini`]: mtd-utils' `ubinize` configuration file.
//! - [`image`]: build an image ([`image::Plan`]), byte for byte what
//!   `ubinize` writes for the same input, checked fully before writing.
//! - [`inspect`]: scan an image or flash dump: volumes, LEBs, erase
//!   counters, CRC errors.
//! - `format` (feature `format`): `ubiformat` over mtd-rs's `Flash`:
//!   erase counters kept (+1), bad blocks skipped.
//! - `device` (feature `device`, Linux): attach/detach, create, remove,
//!   resize and atomically rename volumes, volume update, and sysfs info.
//!
//! The format modules do no I/O beyond `Read`/`Write`, so they build on any
//! platform; all `unsafe` code (the ioctls) is in one private module.
//!
//! # Example: build an image and read it back
//!
//! ```
//! use ubi::image::{Geometry, Params, Plan};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The same ini file and flags `ubinize -p 128KiB -m 2048 -Q 1` takes.
//! let specs = ubi::ini::parse(
//!     "[rootfs]\nmode=ubi\nvol_id=0\nvol_size=8MiB\nvol_name=rootfs\nvol_flags=autoresize\n",
//! )?;
//! let geometry = Geometry::new(&Params::new(128 * 1024, 2048, 1))?;
//! let plan = Plan::new(geometry, 0, &specs, None)?;
//! let mut image = Vec::new();
//! plan.write(&mut image)?;
//!
//! let report = ubi::inspect::scan(&mut image.as_slice(), 128 * 1024)?;
//! let rootfs = &report.volumes[&0];
//! assert_eq!(rootfs.record.name, b"rootfs");
//! assert_eq!(rootfs.record.reserved_pebs, 67); // 8 MiB in 126976-byte LEBs
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Each module has its own error enum; messages are lower-case, start with
//! `ubi: ` and name the section, volume, file or device to act on.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(all(feature = "device", target_os = "linux"))]
pub mod device;
#[cfg(feature = "format")]
pub mod format;
pub mod image;
pub mod ini;
pub mod inspect;
pub mod media;
#[cfg(all(feature = "device", target_os = "linux"))]
mod sys;

/// UBI's CRC-32: the IEEE 802.3 polynomial (reflected, 0xEDB88320) with
/// initial value 0xFFFFFFFF and **no** final xor (the kernel's
/// `crc32(UBI_CRC32_INIT, buf, len)`).
///
/// The standard CRC-32 differs only by the final xor with 0xFFFFFFFF, so
/// this is the complement of `crc32fast::hash` (see decision record 0040).
///
/// ```
/// // An all-zero volume-table record's CRC, as in every UBI image.
/// assert_eq!(ubi::crc32(&[0u8; 168]), 0xf116_c36b);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    !crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_known_values() {
        // Empty input: the initial value, untouched.
        assert_eq!(super::crc32(b""), 0xFFFF_FFFF);
        // The CRC-32 check value of "123456789" is 0xCBF43926; without the
        // final xor it is its complement.
        assert_eq!(super::crc32(b"123456789"), !0xCBF4_3926);
        assert_eq!(super::crc32(&[0u8; 168]), 0xf116_c36b);
    }
}
