//! Kernel image formats: detect them from their bytes and turn them into
//! what the [`Layout`](crate::Layout) places.
//!
//! | Format | Detected by | Placement |
//! |---|---|---|
//! | MIPS `vmlinux` (ELF32, BE or LE) | `\x7fELF`, `EM_MIPS` | each `PT_LOAD` at its physical address; entry = physical `e_entry` |
//! | ARM `zImage` | `0x016f2818` at 0x24 | RAM base (128 MiB aligned) + 0x8000; 4 × its size kept free for decompression |
//! | arm64 `Image` | `ARM\x64` at 0x38 | a 2 MiB aligned base + `text_offset`, `image_size` bytes |
//! | x86 `bzImage` | `HdrS` at 0x202 | only by the kernel itself: `kexec_file_load` |
//! | U-Boot `uImage` | `0x27051956` at 0 | its payload, by [`crate::uimage`] (a raw MIPS kernel at the header's load address) |
//!
//! Header fields are read with `from_le_bytes`/`from_be_bytes` as each
//! format defines them, so parsing is the same on any host.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

pub use crate::detect::{detect, Format, NotAKernel};
use crate::detect::{le32, ARM64_MAGIC, ARM64_MAGIC_OFF, ZIMAGE_MAGIC, ZIMAGE_MAGIC_OFF};
use crate::Arch;

/// Where a zImage goes above the start of RAM (`TEXT_OFFSET` plus the
/// decompressor's expectations; what kexec-tools uses).
pub const ZIMAGE_OFFSET: u64 = 0x8000;
/// A zImage derives `PHYS_OFFSET` from its load address masked with
/// `0xf8000000` (`AUTO_ZRELADDR`): the base must be 128 MiB aligned.
const ZIMAGE_BASE_ALIGN: u64 = 0x0800_0000;
/// arm64 kernels are placed at a 2 MiB aligned base plus `text_offset`
/// (`Documentation/arm64/booting.rst`).
pub const ARM64_BASE_ALIGN: u64 = 2 << 20;

/// Why a kernel image cannot be parsed. "Bad" variants (the bytes are
/// wrong: [`Truncated`](Error::Truncated), [`Malformed`](Error::Malformed),
/// [`Elf`](Error::Elf)) are told apart from "unsupported" ones (the bytes
/// are fine, this crate or architecture does not load them).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No known magic number.
    #[error(transparent)]
    NotAKernel(#[from] NotAKernel),
    /// The header ends before the field named.
    #[error("kexec: bad kernel image: {format}: header truncated")]
    Truncated {
        /// The format detected.
        format: Format,
    },
    /// A header field is inconsistent.
    #[error("kexec: bad kernel image: {format}: {problem}")]
    Malformed {
        /// The format detected.
        format: Format,
        /// What is wrong.
        problem: String,
    },
    /// The ELF headers could not be read.
    #[error("kexec: bad kernel image: MIPS vmlinux (ELF): {source}")]
    Elf {
        /// The parser's error.
        #[source]
        source: object::read::Error,
    },
    /// An ELF kernel for another machine than MIPS.
    #[error("kexec: unsupported: ELF kernel for machine {machine}, not MIPS (8)")]
    WrongMachine {
        /// `e_machine`.
        machine: u16,
    },
    /// A 64-bit ELF.
    #[error("kexec: unsupported: 64-bit ELF kernels are not supported (only 32-bit MIPS vmlinux)")]
    Elf64,
    /// An x86 `bzImage`: only `kexec_file_load` loads it.
    #[error("kexec: unsupported: an x86 bzImage is loaded by the kernel itself: use kexec_file_load (-s)")]
    NeedsFileLoad,
    /// A uImage given to [`KernelImage::parse`].
    #[error(
        "kexec: unsupported: a U-Boot uImage: read it with kexec::uimage::UImage::kernel, which \
         is told the architecture (a raw MIPS kernel does not say its byte order)"
    )]
    UImage,
    /// An arm64 Image without `image_size` (Linux before 3.17).
    #[error("kexec: unsupported: arm64 Image with image_size 0 (a kernel older than 3.17)")]
    Arm64TooOld,
    /// Reading the file failed.
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
    /// Whether the bytes are wrong (truncated or inconsistent), as opposed
    /// to a well-formed image this crate does not load.
    pub fn is_bad_image(&self) -> bool {
        matches!(
            self,
            Error::Truncated { .. } | Error::Malformed { .. } | Error::Elf { .. }
        )
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A piece of a kernel to copy to a fixed physical address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedPart {
    /// Physical load address.
    pub address: u64,
    /// Bytes to copy there.
    pub data: Vec<u8>,
    /// Bytes the part occupies (at least `data.len()`; the rest is zeroed,
    /// e.g. `.bss`).
    pub mem_size: u64,
}

/// Where a kernel must go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Parts at fixed physical addresses (an ELF `vmlinux`).
    Fixed {
        /// The `PT_LOAD` segments.
        parts: Vec<FixedPart>,
        /// Physical entry address.
        entry: u64,
    },
    /// One blob loaded at `base + offset`, with `base` the lowest address
    /// aligned to `base_align` (at or above the start of a RAM range) that
    /// leaves `footprint` bytes free from the load address on; entry =
    /// load address.
    Relocatable {
        /// The image bytes.
        data: Vec<u8>,
        /// Offset of the load address from the aligned base.
        offset: u64,
        /// Alignment of the base.
        base_align: u64,
        /// Bytes the kernel needs from its load address on (its `.bss`, or
        /// room to decompress into), at least `data.len()`.
        footprint: u64,
    },
}

/// A parsed kernel image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelImage {
    /// The architecture the kernel is for.
    pub arch: Arch,
    /// The format it came in.
    pub format: Format,
    /// Where it must be loaded.
    pub placement: Placement,
    /// For arm64 `Image`s: the header's flags (bit 0 big-endian, bits 1-2
    /// page size, bit 3 placement); 0 otherwise.
    pub flags: u64,
}

fn le64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

impl KernelImage {
    /// Detect the format of `data` and parse its header.
    ///
    /// Errors: [`Error::NotAKernel`]; [`Error::Truncated`],
    /// [`Error::Malformed`] or [`Error::Elf`] for a header that is
    /// inconsistent or truncated ([`Error::is_bad_image`]);
    /// [`Error::NeedsFileLoad`] for a bzImage, [`Error::Elf64`],
    /// [`Error::WrongMachine`], [`Error::UImage`], [`Error::Arm64TooOld`].
    pub fn parse(data: &[u8]) -> Result<KernelImage> {
        Ok(parse_any(data, true)?.0)
    }

    /// Like [`parse`](Self::parse), but takes the bytes and reuses their
    /// buffer for the loaded data instead of copying it (a kernel with one
    /// `PT_LOAD`, a zImage, an arm64 Image), so that memory peaks at one
    /// copy of the kernel rather than two.
    pub fn from_vec(mut data: Vec<u8>) -> Result<KernelImage> {
        let (mut image, ranges) = parse_any(&data, false)?;
        match &mut image.placement {
            Placement::Relocatable { data: d, .. } => *d = data,
            Placement::Fixed { parts, .. } => {
                if let [only] = ranges.as_slice() {
                    data.truncate(only.end);
                    data.drain(..only.start);
                    parts[0].data = data;
                } else {
                    for (part, r) in parts.iter_mut().zip(ranges) {
                        part.data = data[r].to_vec();
                    }
                }
            }
        }
        Ok(image)
    }

    /// Read a file and parse it ([`from_vec`](Self::from_vec)).
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<KernelImage> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_vec(data)
    }

    /// Bytes the kernel occupies once loaded (sum of its parts' memory
    /// sizes, or its footprint).
    pub fn footprint(&self) -> u64 {
        match &self.placement {
            Placement::Fixed { parts, .. } => parts.iter().map(|p| p.mem_size).sum(),
            Placement::Relocatable { footprint, .. } => *footprint,
        }
    }
}

/// Parses `data`; with `copy` the loaded bytes are copied into the image,
/// without it they are left empty and the file ranges of the `PT_LOAD`
/// parts are returned (in part order) for [`KernelImage::from_vec`].
fn parse_any(data: &[u8], copy: bool) -> Result<(KernelImage, Vec<std::ops::Range<usize>>)> {
    match detect(data)? {
        Format::MipsElf => parse_mips_elf(data, copy),
        Format::ArmZimage => Ok((parse_zimage(data, copy)?, Vec::new())),
        Format::Arm64Image => Ok((parse_arm64(data, copy)?, Vec::new())),
        Format::X86BzImage => Err(Error::NeedsFileLoad),
        Format::UImage | Format::MipsRaw => Err(Error::UImage),
    }
}

fn bad(format: Format, what: impl std::fmt::Display) -> Error {
    Error::Malformed {
        format,
        problem: what.to_string(),
    }
}

/// `virt_to_phys` for a 32-bit MIPS kernel address: KSEG0/KSEG1
/// (0x80000000..0xc0000000) map to the low 512 MiB; addresses below
/// 0x80000000 are taken as physical already; mapped segments are refused.
pub fn mips_virt_to_phys(addr: u64) -> Option<u64> {
    match addr {
        0..0x8000_0000 => Some(addr),
        0x8000_0000..0xc000_0000 => Some(addr & 0x1fff_ffff),
        _ => None,
    }
}

fn parse_mips_elf(data: &[u8], copy: bool) -> Result<(KernelImage, Vec<std::ops::Range<usize>>)> {
    let f = Format::MipsElf;
    if data.get(4) == Some(&elf::ELFCLASS64) {
        return Err(Error::Elf64);
    }
    let hdr =
        elf::FileHeader32::<Endianness>::parse(data).map_err(|source| Error::Elf { source })?;
    let endian = hdr.endian().map_err(|source| Error::Elf { source })?;
    let machine = hdr.e_machine(endian);
    if machine != elf::EM_MIPS {
        return Err(Error::WrongMachine { machine });
    }
    let arch = match endian {
        Endianness::Big => Arch::Mips,
        Endianness::Little => Arch::Mipsel,
    };
    let entry_virt = u64::from(hdr.e_entry(endian));
    let entry = mips_virt_to_phys(entry_virt)
        .ok_or_else(|| bad(f, format!("entry {entry_virt:#x} is not in KSEG0/KSEG1")))?;
    let mut parts = Vec::new();
    let mut ranges = Vec::new();
    for ph in hdr
        .program_headers(endian, data)
        .map_err(|source| Error::Elf { source })?
    {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let paddr = u64::from(ph.p_paddr(endian));
        let address = mips_virt_to_phys(paddr)
            .ok_or_else(|| bad(f, format!("PT_LOAD at {paddr:#x} is not in KSEG0/KSEG1")))?;
        let bytes = ph
            .data(endian, data)
            .map_err(|_| bad(f, format!("PT_LOAD at {paddr:#x} extends past the file")))?;
        let mem_size = u64::from(ph.p_memsz(endian));
        if mem_size < bytes.len() as u64 {
            return Err(bad(f, format!("PT_LOAD at {paddr:#x}: memsz below filesz")));
        }
        if mem_size == 0 {
            continue;
        }
        // `bytes` is a subslice of `data`: its offset, for from_vec.
        let start = bytes.as_ptr() as usize - data.as_ptr() as usize;
        ranges.push(start..start + bytes.len());
        parts.push(FixedPart {
            address,
            data: if copy { bytes.to_vec() } else { Vec::new() },
            mem_size,
        });
    }
    if parts.is_empty() {
        return Err(bad(f, "no PT_LOAD segment"));
    }
    let inside = parts
        .iter()
        .any(|p| (p.address..p.address + p.mem_size).contains(&entry));
    if !inside {
        return Err(bad(f, format!("entry {entry:#x} is outside every PT_LOAD")));
    }
    Ok((
        KernelImage {
            arch,
            format: f,
            placement: Placement::Fixed { parts, entry },
            flags: 0,
        },
        ranges,
    ))
}

fn parse_zimage(data: &[u8], copy: bool) -> Result<KernelImage> {
    let f = Format::ArmZimage;
    // A big-endian zImage stores its header words big-endian.
    let big = le32(data, ZIMAGE_MAGIC_OFF) == Some(ZIMAGE_MAGIC.swap_bytes());
    let word = |off: usize| {
        le32(data, off)
            .map(|v| if big { v.swap_bytes() } else { v })
            .ok_or(Error::Truncated { format: f })
    };
    let (start, end) = (word(0x28)?, word(0x2c)?);
    let size = end
        .checked_sub(start)
        .ok_or_else(|| bad(f, format!("end {end:#x} before start {start:#x}")))?;
    if size as usize > data.len() || size < 0x30 {
        return Err(bad(
            f,
            format!("header says {size} bytes, the file has {}", data.len()),
        ));
    }
    // kexec-tools' rule when the zImage carries no size table: the
    // decompressed kernel plus the relocated decompressor fit in 4 × size.
    let footprint = (data.len() as u64) * 4;
    Ok(KernelImage {
        arch: Arch::Arm,
        format: f,
        placement: Placement::Relocatable {
            data: if copy { data.to_vec() } else { Vec::new() },
            offset: ZIMAGE_OFFSET,
            base_align: ZIMAGE_BASE_ALIGN,
            footprint,
        },
        flags: u64::from(big),
    })
}

/// The fields of an arm64 `Image` header (`Documentation/arm64/booting.rst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm64Header {
    /// Offset of the load address from a 2 MiB aligned base.
    pub text_offset: u64,
    /// Bytes the kernel occupies from its load address on, `.bss` included.
    pub image_size: u64,
    /// Bit 0: big-endian kernel; bits 1-2: page size (1 = 4K, 2 = 16K,
    /// 3 = 64K); bit 3: may be placed anywhere in RAM.
    pub flags: u64,
}

impl Arm64Header {
    /// Parse the 64-byte header (little-endian fields whatever the kernel's
    /// endianness).
    pub fn parse(data: &[u8]) -> Result<Arm64Header> {
        let f = Format::Arm64Image;
        if data.get(ARM64_MAGIC_OFF..ARM64_MAGIC_OFF + 4) != Some(ARM64_MAGIC.as_slice()) {
            return Err(bad(f, "no ARM\\x64 magic at 0x38"));
        }
        let field = |off| le64(data, off).ok_or(Error::Truncated { format: f });
        Ok(Arm64Header {
            text_offset: field(8)?,
            image_size: field(16)?,
            flags: field(24)?,
        })
    }

    /// Whether the kernel is big-endian (flags bit 0).
    pub fn big_endian(&self) -> bool {
        self.flags & 1 != 0
    }

    /// The kernel's page size in bytes, if the header says (flags bits 1-2).
    pub fn page_size(&self) -> Option<u64> {
        match (self.flags >> 1) & 3 {
            1 => Some(4 << 10),
            2 => Some(16 << 10),
            3 => Some(64 << 10),
            _ => None,
        }
    }
}

fn parse_arm64(data: &[u8], copy: bool) -> Result<KernelImage> {
    let f = Format::Arm64Image;
    let h = Arm64Header::parse(data)?;
    if h.image_size == 0 {
        return Err(Error::Arm64TooOld);
    }
    if h.text_offset >= ARM64_BASE_ALIGN || !h.text_offset.is_multiple_of(4096) {
        return Err(bad(f, format!("text_offset {:#x}", h.text_offset)));
    }
    if h.image_size < data.len() as u64 {
        // Trailing data (e.g. a signature) is loaded but must fit.
        log::debug!(
            "arm64 Image: file ({} bytes) longer than image_size ({})",
            data.len(),
            h.image_size
        );
    }
    Ok(KernelImage {
        arch: Arch::Aarch64,
        format: f,
        placement: Placement::Relocatable {
            data: if copy { data.to_vec() } else { Vec::new() },
            offset: h.text_offset,
            base_align: ARM64_BASE_ALIGN,
            footprint: h.image_size.max(data.len() as u64),
        },
        flags: h.flags,
    })
}
