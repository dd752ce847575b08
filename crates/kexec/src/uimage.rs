//! U-Boot legacy images (`uImage`) and the router firmware images made of
//! one kernel uImage and a squashfs.
//!
//! A uImage is a 64-byte header, big-endian on every architecture (U-Boot's
//! `include/image.h`: magic `0x27051956`, a CRC-32 of the header, size,
//! load and entry addresses, a CRC-32 of the data, OS, architecture, type,
//! compression, a 32-byte name), then the data. OpenWrt-style firmware
//! such as the GL-AR750's `firmware.bin` is a kernel uImage padded to the
//! flash erase block, then the squashfs root file system.
//!
//! [`UImage::parse`] checks the header and both CRCs; [`UImage::kernel`]
//! decompresses the data (none or LZMA; `mkimage -C lzma` is what MIPS
//! routers use) and makes a [`KernelImage`]: a payload in a format this
//! crate knows (a zImage, an arm64 Image, an ELF) is parsed as such; a raw
//! MIPS kernel (`vmlinux.bin`) goes to the header's load address with the
//! header's entry point. [`Firmware::split`] finds the squashfs after the
//! uImage.
//!
//! A raw MIPS kernel built with `CONFIG_MIPS_RAW_APPENDED_DTB` finds a DTB
//! appended to it at `__appended_dtb`, and upstream `get_fdt()`
//! (`arch/mips/include/asm/bootinfo.h`) prefers that one over a tree passed
//! in registers, so an edited device tree would be ignored.
//! [`UImage::kernel`] zeroes a DTB it finds at the end of the payload, so
//! the kernel takes the one kexec hands over. (Limina's kernel patch also
//! reorders `get_fdt()`; the zeroing makes kernels without that hunk
//! behave the same.)
//!
//! ```no_run
//! use kexec::uimage::Firmware;
//! use kexec::Arch;
//!
//! # fn main() -> Result<(), kexec::Error> {
//! let data = std::fs::read("/tmp/firmware.bin").expect("read");
//! let fw = Firmware::split(&data, 64 << 10)?;
//! let kernel = fw.uimage.kernel(Arch::Mips)?;
//! let rootfs = &data[fw.rootfs.clone()];
//! # let _ = (kernel, rootfs);
//! # Ok(())
//! # }
//! ```

use std::io::Read;
use std::ops::Range;

use crate::detect::{self, Format};
use crate::image::{self as kernel_image, mips_virt_to_phys, FixedPart, KernelImage, Placement};
use crate::squashfs::{self, Superblock};
use crate::Arch;

pub use crate::detect::is_uimage;

/// The uImage magic number (`IH_MAGIC`).
pub const MAGIC: u32 = detect::UIMAGE_MAGIC;
/// Size of the uImage header.
pub const HEADER_LEN: usize = 64;
/// `IH_OS_LINUX`.
const OS_LINUX: u8 = 5;
/// `IH_TYPE_KERNEL`.
const TYPE_KERNEL: u8 = 2;
/// Largest decompressed kernel accepted (a MIPS kernel lives in the low
/// 512 MiB; nothing a router boots comes near this).
const MAX_KERNEL: usize = 256 << 20;
/// The decoder's memory limit in KiB, checked against the stream header's
/// dictionary size (OpenWrt's `preset=9` says 64 MiB). The window is
/// allocated as it fills, doubling, so it stays below twice the output,
/// which [`MAX_KERNEL`] bounds.
const LZMA_MEMLIMIT_KIB: u32 = 256 << 10;

/// With `CONFIG_MIPS_RAW_APPENDED_DTB` the linker script leaves 1 MiB at
/// `__appended_dtb` for the tree and aligns to 64 KiB before `.bss`.
const APPENDED_DTB_ROOM: u64 = 0x10_0000 + 0x1_0000;
/// Room kept after a raw MIPS kernel for its `.bss`, at least: enough for
/// an `APPENDED_DTB_ROOM` the raw binary does not show plus a `.bss` of
/// most of a MiB (ath79 kernels: a few hundred KiB).
const MIN_BSS_ROOM: u64 = 2 << 20;

/// The data compression of a uImage (`IH_COMP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// `IH_COMP_NONE`.
    None,
    /// `IH_COMP_GZIP`.
    Gzip,
    /// `IH_COMP_BZIP2`.
    Bzip2,
    /// `IH_COMP_LZMA` (the `lzma_alone` format).
    Lzma,
    /// `IH_COMP_LZO`.
    Lzo,
    /// `IH_COMP_LZ4`.
    Lz4,
    /// `IH_COMP_ZSTD`.
    Zstd,
    /// Any other value.
    Other(u8),
}

impl Compression {
    fn from_byte(b: u8) -> Compression {
        match b {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Bzip2,
            3 => Compression::Lzma,
            4 => Compression::Lzo,
            5 => Compression::Lz4,
            6 => Compression::Zstd,
            n => Compression::Other(n),
        }
    }

    /// The name `mkimage -C` uses.
    pub fn name(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Gzip => "gzip".into(),
            Compression::Bzip2 => "bzip2".into(),
            Compression::Lzma => "lzma".into(),
            Compression::Lzo => "lzo".into(),
            Compression::Lz4 => "lz4".into(),
            Compression::Zstd => "zstd".into(),
            Compression::Other(n) => format!("compression {n}"),
        }
    }
}

/// The architecture byte of a uImage (`IH_ARCH_*`) as a name, and the
/// [`Arch`]es it can mean.
fn arch_of(b: u8) -> (&'static str, &'static [Arch]) {
    match b {
        2 => ("arm", &[Arch::Arm]),
        3 => ("x86", &[]),
        5 => ("mips", &[Arch::Mips, Arch::Mipsel]),
        22 => ("arm64", &[Arch::Aarch64]),
        24 => ("x86_64", &[Arch::X86_64]),
        _ => ("another architecture", &[]),
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Why a uImage cannot be read or booted. Variants up to
/// [`Lzma`](Error::Lzma) mean corrupt bytes; the others a uImage this
/// system does not boot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than a header.
    #[error("kexec: bad kernel image: uImage: {len} bytes, shorter than the 64-byte header")]
    TooShort {
        /// Bytes there are.
        len: usize,
    },
    /// No uImage magic.
    #[error("kexec: bad kernel image: uImage: magic {found:#010x}, not {MAGIC:#010x}")]
    BadMagic {
        /// The first word.
        found: u32,
    },
    /// The header's CRC does not match.
    #[error("kexec: bad kernel image: uImage: header CRC {computed:#010x}, the header says {stored:#010x}")]
    HeaderCrc {
        /// CRC of the header as it is.
        computed: u32,
        /// `ih_hcrc`.
        stored: u32,
    },
    /// Less data than the header says.
    #[error("kexec: bad kernel image: uImage: truncated: the header says {size} bytes of data, {available} follow it")]
    Truncated {
        /// `ih_size`.
        size: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// The data's CRC does not match.
    #[error("kexec: bad kernel image: uImage: data CRC {computed:#010x}, the header says {stored:#010x}")]
    DataCrc {
        /// CRC of the data as it is.
        computed: u32,
        /// `ih_dcrc`.
        stored: u32,
    },
    /// The LZMA stream is corrupt or cut short.
    #[error("kexec: bad kernel image: uImage: LZMA data: {source}")]
    Lzma {
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The data decompresses to more than 256 MiB.
    #[error("kexec: bad kernel image: uImage: LZMA data decompresses to more than {} MiB", MAX_KERNEL >> 20)]
    TooLarge,
    /// The payload is a uImage itself.
    #[error("kexec: bad kernel image: uImage: '{name}' holds another uImage")]
    Nested {
        /// The image name.
        name: String,
    },
    /// A raw MIPS kernel's load or entry address is not in KSEG0/KSEG1.
    #[error(
        "kexec: bad kernel image: uImage: {what} {address:#x} is a mapped (KSEG2/KSEG3) address"
    )]
    Mapped {
        /// "load address" or "entry point".
        what: &'static str,
        /// The address.
        address: u32,
    },
    /// No data.
    #[error("kexec: bad kernel image: uImage: no data")]
    NoData,
    /// The entry point is not inside the raw kernel.
    #[error("kexec: bad kernel image: uImage: entry {entry:#x} is outside the kernel ({address:#x}, {len} bytes)")]
    EntryOutside {
        /// Physical entry.
        entry: u64,
        /// Physical load address.
        address: u64,
        /// Kernel length.
        len: u64,
    },
    /// A compression other than none and LZMA.
    #[error("kexec: unsupported: uImage data compressed with {} (only none and lzma)", .0.name())]
    Compression(Compression),
    /// Not a Linux image.
    #[error("kexec: unsupported: uImage '{name}' is for OS {os}, not Linux")]
    NotLinux {
        /// The image name.
        name: String,
        /// `ih_os`.
        os: u8,
    },
    /// Not a kernel image (a ramdisk, a script, ...).
    #[error(
        "kexec: unsupported: uImage '{name}' is of type {kind}, not a kernel (mkimage -T kernel)"
    )]
    NotAKernel {
        /// The image name.
        name: String,
        /// `ih_type`.
        kind: u8,
    },
    /// A kernel for another architecture.
    #[error("kexec: unsupported: uImage '{name}' is for {image_arch}, this system is {system}")]
    WrongArch {
        /// The image name.
        name: String,
        /// The header's architecture, as a name.
        image_arch: &'static str,
        /// The system's.
        system: Arch,
    },
    /// A payload that is no kernel format this crate parses, on an
    /// architecture without raw kernels.
    #[error("kexec: bad kernel image: uImage '{name}': the {compression} data is no kernel image this crate knows")]
    UnknownPayload {
        /// The image name.
        name: String,
        /// Its compression's name.
        compression: String,
    },
    /// The payload is a kernel format this crate parses, and it is bad.
    #[error(transparent)]
    Payload(#[from] kernel_image::Error),
}

impl Error {
    /// Whether the uImage's bytes are wrong (truncated, corrupt), as
    /// opposed to a whole uImage this system does not boot.
    pub fn is_bad_image(&self) -> bool {
        match self {
            Error::Payload(e) => e.is_bad_image(),
            Error::Compression(_)
            | Error::NotLinux { .. }
            | Error::NotAKernel { .. }
            | Error::WrongArch { .. } => false,
            _ => true,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A checked uImage: its header fields and its (still compressed) data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UImage<'a> {
    /// The image name (up to 32 bytes, without the trailing NULs).
    pub name: String,
    /// Load address (`ih_load`), as U-Boot sees it (a KSEG0 address on
    /// MIPS).
    pub load: u32,
    /// Entry point (`ih_ep`).
    pub entry: u32,
    /// Creation time, seconds since 1970.
    pub time: u32,
    /// `IH_OS_*`.
    pub os: u8,
    /// `IH_ARCH_*`.
    pub arch: u8,
    /// `IH_TYPE_*`.
    pub kind: u8,
    /// How the data is compressed.
    pub compression: Compression,
    /// The data after the header (`ih_size` bytes).
    pub data: &'a [u8],
}

impl<'a> UImage<'a> {
    /// Parse the uImage at the start of `bytes` (anything after its data is
    /// ignored), checking the magic, the header CRC, that the data is all
    /// there and the data CRC.
    ///
    /// Errors: [`Error::TooShort`], [`Error::BadMagic`],
    /// [`Error::HeaderCrc`], [`Error::Truncated`], [`Error::DataCrc`].
    pub fn parse(bytes: &'a [u8]) -> Result<UImage<'a>> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::TooShort { len: bytes.len() });
        }
        if be32(bytes, 0) != MAGIC {
            return Err(Error::BadMagic {
                found: be32(bytes, 0),
            });
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        let hcrc = be32(&header, 4);
        header[4..8].fill(0);
        let computed = crc32fast::hash(&header);
        if computed != hcrc {
            return Err(Error::HeaderCrc {
                computed,
                stored: hcrc,
            });
        }
        let size = be32(bytes, 12) as usize;
        let data = bytes
            .get(HEADER_LEN..HEADER_LEN.saturating_add(size))
            .ok_or(Error::Truncated {
                size,
                available: bytes.len() - HEADER_LEN,
            })?;
        let dcrc = be32(bytes, 24);
        let computed = crc32fast::hash(data);
        if computed != dcrc {
            return Err(Error::DataCrc {
                computed,
                stored: dcrc,
            });
        }
        let name_bytes = &bytes[32..64];
        let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(32);
        Ok(UImage {
            name: String::from_utf8_lossy(&name_bytes[..name_len]).into_owned(),
            time: be32(bytes, 8),
            load: be32(bytes, 16),
            entry: be32(bytes, 20),
            os: bytes[28],
            arch: bytes[29],
            kind: bytes[30],
            compression: Compression::from_byte(bytes[31]),
            data,
        })
    }

    /// Bytes the uImage occupies: header and data.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The data, decompressed (none and LZMA; other compressions are
    /// [`Error::Compression`]). At most 256 MiB ([`Error::TooLarge`]).
    pub fn decompress(&self) -> Result<Vec<u8>> {
        match self.compression {
            Compression::None => Ok(self.data.to_vec()),
            Compression::Lzma => {
                let reader =
                    lzma_rust2::LzmaReader::new_mem_limit(self.data, LZMA_MEMLIMIT_KIB, None)
                        .map_err(|source| Error::Lzma { source })?;
                let mut out =
                    Vec::with_capacity(self.data.len().saturating_mul(3).min(MAX_KERNEL + 1));
                reader
                    .take(MAX_KERNEL as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|source| Error::Lzma { source })?;
                if out.len() > MAX_KERNEL {
                    return Err(Error::TooLarge);
                }
                Ok(out)
            }
            other => Err(Error::Compression(other)),
        }
    }

    /// The Linux kernel in this uImage, for a system of architecture
    /// `arch` (the running one: a raw MIPS kernel does not say its byte
    /// order, so `arch` gives it).
    ///
    /// The header must say Linux, type kernel, and an architecture that
    /// `arch` belongs to. A payload that is itself a kernel format this
    /// crate parses (zImage, arm64 Image, ELF) is parsed as such; a MIPS
    /// payload otherwise is a raw binary loaded at the physical load
    /// address, entered at the physical entry point, with room kept after
    /// it for the kernel's `.bss` (half its size, at least 2 MiB, after the
    /// 1 MiB + 64 KiB an appended DTB's place takes: the raw binary does
    /// not say). An appended DTB is zeroed (see the module documentation).
    ///
    /// Errors: [`Error::NotLinux`], [`Error::NotAKernel`],
    /// [`Error::WrongArch`], [`Error::Compression`] for what this system
    /// does not boot; [`Error::Lzma`], [`Error::Mapped`],
    /// [`Error::EntryOutside`], [`Error::Nested`], [`Error::Payload`] and
    /// the others of [`Error::is_bad_image`] for corrupt data.
    pub fn kernel(&self, arch: Arch) -> Result<KernelImage> {
        Ok(self.kernel_and_zeroed_dtb(arch)?.0)
    }

    /// [`kernel`](Self::kernel), and the offset in the payload of the
    /// appended DTB it zeroed, if it zeroed one (for a caller that reports
    /// it, as trial-boot does).
    ///
    /// Errors: as [`kernel`](Self::kernel).
    pub fn kernel_and_zeroed_dtb(&self, arch: Arch) -> Result<(KernelImage, Option<usize>)> {
        // The header first: nothing is decompressed for another system.
        self.check_kernel(arch)?;
        self.payload_kernel(arch, self.decompress()?)
    }

    /// The header checks of [`kernel`](Self::kernel): Linux, type kernel,
    /// an architecture `arch` belongs to.
    fn check_kernel(&self, arch: Arch) -> Result<()> {
        if self.os != OS_LINUX {
            return Err(Error::NotLinux {
                name: self.name.clone(),
                os: self.os,
            });
        }
        if self.kind != TYPE_KERNEL {
            return Err(Error::NotAKernel {
                name: self.name.clone(),
                kind: self.kind,
            });
        }
        let (arch_name, arches) = arch_of(self.arch);
        if !arches.contains(&arch) {
            return Err(Error::WrongArch {
                name: self.name.clone(),
                image_arch: arch_name,
                system: arch,
            });
        }
        Ok(())
    }

    /// The kernel in the decompressed payload `data` (the header checked).
    fn payload_kernel(
        &self,
        arch: Arch,
        mut data: Vec<u8>,
    ) -> Result<(KernelImage, Option<usize>)> {
        match detect::detect(&data) {
            Ok(Format::UImage) => {
                return Err(Error::Nested {
                    name: self.name.clone(),
                });
            }
            Ok(_) => return Ok((KernelImage::from_vec(data)?, None)),
            Err(_) => {}
        }
        if !matches!(arch, Arch::Mips | Arch::Mipsel) {
            return Err(Error::UnknownPayload {
                name: self.name.clone(),
                compression: self.compression.name(),
            });
        }
        let address = mips_virt_to_phys(u64::from(self.load)).ok_or(Error::Mapped {
            what: "load address",
            address: self.load,
        })?;
        let entry = mips_virt_to_phys(u64::from(self.entry)).ok_or(Error::Mapped {
            what: "entry point",
            address: self.entry,
        })?;
        if data.is_empty() {
            return Err(Error::NoData);
        }
        let len = data.len() as u64;
        if !(address..address + len).contains(&entry) {
            return Err(Error::EntryOutside {
                entry,
                address,
                len,
            });
        }
        // The raw binary ends where the kernel's `.bss` is still to come.
        let mut end = len;
        let zeroed = appended_dtb(&data);
        if let Some(at) = zeroed {
            log::info!(
                "uImage '{}': zeroed the DTB appended at offset {at:#x} so the kernel takes the one kexec passes",
                self.name
            );
            data[at..].fill(0);
            end = end.max(at as u64 + APPENDED_DTB_ROOM);
        }
        let mem_size = end + (len / 2).max(MIN_BSS_ROOM);
        let kernel = KernelImage {
            arch,
            format: Format::MipsRaw,
            placement: Placement::Fixed {
                parts: vec![FixedPart {
                    address,
                    data,
                    mem_size,
                }],
                entry,
            },
            flags: 0,
        };
        Ok((kernel, zeroed))
    }
}

/// The kernel in `data`, whatever its format: a U-Boot uImage through
/// [`UImage::kernel`] for `arch` (the running architecture: a raw MIPS
/// kernel does not say its byte order), anything else by its own header
/// ([`KernelImage::from_vec`]).
///
/// Errors: as [`UImage::parse`] and [`UImage::kernel`]; errors of the
/// other formats come as [`Error::Payload`].
pub fn parse_kernel(data: Vec<u8>, arch: Arch) -> Result<KernelImage> {
    if is_uimage(&data) {
        UImage::parse(&data)?.kernel(arch)
    } else {
        Ok(KernelImage::from_vec(data)?)
    }
}

/// The offset of a flattened device tree that ends exactly at the end of
/// `data` (`cat vmlinux.bin board.dtb`), if there is one: a 4-byte aligned
/// FDT magic whose header's `totalsize` reaches the end.
pub fn appended_dtb(data: &[u8]) -> Option<usize> {
    const FDT_MAGIC: u32 = 0xd00d_feed;
    // A DTB is at least a 40-byte header; router DTBs are a few KiB,
    // none near 1 MiB.
    let lowest = data.len().saturating_sub(1 << 20);
    let last = data.len().checked_sub(40)?;
    let mut at = last - last % 4;
    loop {
        if be32(data, at) == FDT_MAGIC && be32(data, at + 4) as usize == data.len() - at {
            return Some(at);
        }
        if at < lowest + 4 {
            return None;
        }
        at -= 4;
    }
}

/// Why a firmware image cannot be split.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirmwareError {
    /// The erase block size is not a power of two.
    #[error("kexec: erase block size {0} is not a power of two")]
    EraseSize(usize),
    /// The uImage at the start is bad.
    #[error(transparent)]
    UImage(#[from] Error),
    /// No squashfs superblock where one may start.
    #[error(
        "kexec: bad firmware image: no squashfs after the uImage '{name}' ({len} bytes), \
         neither right after it nor at a {erase_size}-byte boundary"
    )]
    NoSquashfs {
        /// The uImage's name.
        name: String,
        /// Its length, header included.
        len: usize,
        /// The erase block size searched with.
        erase_size: usize,
    },
    /// The squashfs found is not whole (or not version 4).
    #[error("kexec: bad firmware image: the squashfs at {at:#x}: {source}")]
    Squashfs {
        /// Its offset in the image.
        at: usize,
        /// What is wrong with it.
        #[source]
        source: squashfs::Error,
    },
}

/// A firmware image: a kernel uImage, then (at the next multiple of the
/// erase block size) a squashfs root file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firmware<'a> {
    /// The kernel's uImage.
    pub uimage: UImage<'a>,
    /// Where the squashfs is in the image: from its superblock to the end
    /// of the bytes it uses.
    pub rootfs: Range<usize>,
    /// The squashfs superblock.
    pub superblock: Superblock,
}

impl<'a> Firmware<'a> {
    /// Split a firmware image: check the uImage at its start, then look
    /// for a squashfs superblock right at the end of the uImage and at
    /// each multiple of `erase_size` after it (as OpenWrt's `uimage,fw`
    /// partition splitter does), and check that the squashfs is version 4
    /// and all there ([`Superblock::parse`]).
    ///
    /// Errors: [`FirmwareError::UImage`] for a bad uImage,
    /// [`FirmwareError::NoSquashfs`], [`FirmwareError::Squashfs`] for a
    /// truncated one or another version; [`FirmwareError::EraseSize`] if
    /// `erase_size` is not a power of two.
    pub fn split(data: &'a [u8], erase_size: usize) -> Result<Firmware<'a>, FirmwareError> {
        if !erase_size.is_power_of_two() {
            return Err(FirmwareError::EraseSize(erase_size));
        }
        let uimage = UImage::parse(data)?;
        let mut at = uimage.len();
        while at.saturating_add(squashfs::SUPERBLOCK_LEN) <= data.len() {
            if &data[at..at + 4] == squashfs::MAGIC {
                let superblock = Superblock::parse(&data[at..])
                    .map_err(|source| FirmwareError::Squashfs { at, source })?;
                return Ok(Firmware {
                    uimage,
                    rootfs: at..at + superblock.bytes_used as usize,
                    superblock,
                });
            }
            // The next erase block boundary.
            at = (at & !(erase_size - 1)) + erase_size;
        }
        Err(FirmwareError::NoSquashfs {
            name: uimage.name.clone(),
            len: uimage.len(),
            erase_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uImage as `mkimage -A ARCH -O linux -T kernel -C COMP` makes it.
    pub(crate) fn make(arch: u8, comp: u8, load: u32, entry: u32, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        h[8..12].copy_from_slice(&1_700_000_000u32.to_be_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_be_bytes());
        h[16..20].copy_from_slice(&load.to_be_bytes());
        h[20..24].copy_from_slice(&entry.to_be_bytes());
        h[24..28].copy_from_slice(&crc32fast::hash(data).to_be_bytes());
        h[28] = OS_LINUX;
        h[29] = arch;
        h[30] = TYPE_KERNEL;
        h[31] = comp;
        h[32..36].copy_from_slice(b"test");
        let hcrc = crc32fast::hash(&h);
        h[4..8].copy_from_slice(&hcrc.to_be_bytes());
        h.extend_from_slice(data);
        h
    }

    /// An `lzma_alone` stream of `data` with an end marker and no size, as
    /// `xz --format=lzma` writes it (the encoder is a dev-dependency
    /// feature only; `tests/uimage.rs` checks streams made by `xz` itself).
    fn lzma(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let opts = lzma_rust2::LzmaOptions::with_preset(6);
        let mut w =
            lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).expect("encoder");
        w.write_all(data).expect("compress");
        w.finish().expect("finish")
    }

    fn raw_kernel(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn header_fields_and_crcs() {
        let img = make(5, 0, 0x8006_0000, 0x8006_0000, b"kernel bytes");
        let u = UImage::parse(&img).expect("parse");
        assert_eq!(u.name, "test");
        assert_eq!((u.load, u.entry), (0x8006_0000, 0x8006_0000));
        assert_eq!((u.os, u.arch, u.kind), (5, 5, 2));
        assert_eq!(u.compression, Compression::None);
        assert_eq!(u.data, b"kernel bytes");
        assert_eq!(u.len(), 64 + 12);

        let mut bad_h = img.clone();
        bad_h[16] ^= 1;
        let e = UImage::parse(&bad_h).expect_err("header crc").to_string();
        assert!(e.contains("header CRC"), "{e}");
        let mut bad_d = img.clone();
        *bad_d.last_mut().expect("byte") ^= 1;
        let e = UImage::parse(&bad_d).expect_err("data crc").to_string();
        assert!(e.contains("data CRC"), "{e}");
        let e = UImage::parse(&img[..70]).expect_err("short").to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = UImage::parse(b"\x7fELF").expect_err("not").to_string();
        assert!(e.contains("shorter than the 64-byte header"), "{e}");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let img = make(5, 3, 0x8006_0000, 0x8006_0000, &lzma(&raw_kernel(5000)));
        for n in 0..img.len() {
            assert!(UImage::parse(&img[..n]).is_err(), "{n} bytes");
        }
        UImage::parse(&img).expect("whole");
    }

    #[test]
    fn raw_mips_kernel_goes_to_the_physical_load_address() {
        let k = raw_kernel(300_000);
        let img = make(5, 3, 0x8006_0000, 0x8006_0400, &lzma(&k));
        let u = UImage::parse(&img).expect("parse");
        for arch in [Arch::Mips, Arch::Mipsel] {
            let kernel = u.kernel(arch).expect("kernel");
            assert_eq!(kernel.arch, arch);
            assert_eq!(kernel.format, Format::MipsRaw);
            let Placement::Fixed { parts, entry } = &kernel.placement else {
                panic!("not fixed")
            };
            assert_eq!(*entry, 0x60400);
            assert_eq!(parts.len(), 1);
            assert_eq!(parts[0].address, 0x60000);
            assert_eq!(parts[0].data, k);
            assert_eq!(parts[0].mem_size, 300_000 + (2 << 20));
        }
        let e = u.kernel(Arch::Aarch64).expect_err("arch").to_string();
        assert!(e.contains("is for mips, this system is aarch64"), "{e}");
    }

    #[test]
    fn an_appended_dtb_is_zeroed() {
        let mut k = raw_kernel(100_000);
        let at = k.len();
        let mut dtb = vec![0u8; 200];
        dtb[0..4].copy_from_slice(&0xd00d_feedu32.to_be_bytes());
        dtb[4..8].copy_from_slice(&200u32.to_be_bytes());
        k.extend_from_slice(&dtb);
        assert_eq!(appended_dtb(&k), Some(at));
        let img = make(5, 0, 0x8006_0000, 0x8006_0000, &k);
        let kernel = UImage::parse(&img)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect("kernel");
        let Placement::Fixed { parts, .. } = &kernel.placement else {
            panic!("not fixed")
        };
        assert_eq!(parts[0].data[..at], k[..at]);
        assert!(parts[0].data[at..].iter().all(|&b| b == 0));
        // .bss comes after the 1 MiB + 64 KiB kept for the tree.
        assert_eq!(parts[0].mem_size, at as u64 + 0x11_0000 + (2 << 20));
        // A magic whose totalsize does not reach the end is kernel data.
        let mut k2 = raw_kernel(100_000);
        k2[4000..4004].copy_from_slice(&0xd00d_feedu32.to_be_bytes());
        assert_eq!(appended_dtb(&k2), None);
    }

    #[test]
    fn what_cannot_be_booted_is_a_clear_error() {
        let k = raw_kernel(1000);
        let gz = make(5, 1, 0x8006_0000, 0x8006_0000, &k);
        let e = UImage::parse(&gz)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect_err("gzip");
        assert!(e.to_string().contains("gzip (only none and lzma)"), "{e}");
        let outside = make(5, 0, 0x8006_0000, 0x9000_0000, &k);
        let e = UImage::parse(&outside)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect_err("entry");
        assert!(e.to_string().contains("outside the kernel"), "{e}");
        let kseg2 = make(5, 0, 0xc000_0000, 0xc000_0000, &k);
        let e = UImage::parse(&kseg2)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect_err("kseg2");
        assert!(e.to_string().contains("mapped (KSEG2/KSEG3)"), "{e}");
        // A stream cut in half: the CRC is right (it is over what is
        // there), the LZMA data ends too early.
        let stream = lzma(&raw_kernel(200_000));
        let cut = make(5, 3, 0x8006_0000, 0x8006_0000, &stream[..stream.len() / 2]);
        let e = UImage::parse(&cut)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect_err("lzma");
        assert!(e.to_string().contains("LZMA data"), "{e}");
        let short_header = make(5, 3, 0x8006_0000, 0x8006_0000, &stream[..5]);
        let e = UImage::parse(&short_header)
            .expect("parse")
            .decompress()
            .expect_err("hdr");
        assert!(e.to_string().contains("LZMA data"), "{e}");
        let nested = make(5, 0, 0x8006_0000, 0x8006_0000, &make(5, 0, 0, 0, &k));
        let e = UImage::parse(&nested)
            .expect("parse")
            .kernel(Arch::Mips)
            .expect_err("nested");
        assert!(e.to_string().contains("holds another uImage"), "{e}");
        let arm_raw = make(2, 0, 0x8000, 0x8000, &k);
        let e = UImage::parse(&arm_raw)
            .expect("parse")
            .kernel(Arch::Arm)
            .expect_err("raw arm");
        assert!(
            e.to_string().contains("no kernel image this crate knows"),
            "{e}"
        );
    }

    #[test]
    fn firmware_splits_at_the_erase_block_after_the_uimage() {
        let k = lzma(&raw_kernel(70_000));
        let mut fw = make(5, 3, 0x8006_0000, 0x8006_0000, &k);
        let at = fw.len().next_multiple_of(64 << 10);
        fw.resize(at, 0xff);
        let mut sq = vec![0u8; 4096];
        sq[0..4].copy_from_slice(squashfs::MAGIC);
        sq[28..30].copy_from_slice(&4u16.to_le_bytes());
        sq[40..48].copy_from_slice(&4000u64.to_le_bytes());
        fw.extend_from_slice(&sq);
        let split = Firmware::split(&fw, 64 << 10).expect("split");
        assert_eq!(split.rootfs, at..at + 4000);
        assert_eq!(split.uimage.data, k.as_slice());
        let e = Firmware::split(&fw[..at + 2000], 64 << 10).expect_err("short squashfs");
        assert!(e.to_string().contains("says it uses 4000 bytes"), "{e}");
        let e = Firmware::split(&fw[..at], 64 << 10).expect_err("no squashfs");
        assert!(
            e.to_string()
                .contains("no squashfs after the uImage 'test'"),
            "{e}"
        );
        // Not at a block boundary: not found (the splitter's rule).
        let e = Firmware::split(&fw, 128 << 10).expect_err("boundary");
        assert!(e.to_string().contains("no squashfs"), "{e}");
        // Right after the uImage, unpadded: found.
        let mut tight = make(5, 3, 0x8006_0000, 0x8006_0000, &k);
        let tight_at = tight.len();
        tight.extend_from_slice(&sq);
        let split = Firmware::split(&tight, 64 << 10).expect("unpadded");
        assert_eq!(split.rootfs, tight_at..tight_at + 4000);
        // A superblock claiming fewer bytes than itself.
        let mut tiny = fw.clone();
        tiny[at + 40..at + 48].copy_from_slice(&0u64.to_le_bytes());
        let e = Firmware::split(&tiny, 64 << 10).expect_err("bytes_used 0");
        assert!(e.to_string().contains("says it uses 0 bytes"), "{e}");
    }
}
