//! Which format a kernel image is, from its magic numbers alone.
//!
//! Detection sits below the format modules ([`crate::image`] for ELF,
//! zImage and arm64 `Image`; [`crate::uimage`] for U-Boot images) so that
//! each format is a leaf that depends on nothing but this table, as
//! linux-loader keeps its loaders apart: a uImage holding a zImage asks
//! this module what its payload is, not the zImage parser.
//!
//! | Format | Detected by |
//! |---|---|
//! | MIPS `vmlinux` (ELF32, BE or LE) | `\x7fELF` |
//! | ARM `zImage` | `0x016f2818` at 0x24 (either byte order) |
//! | arm64 `Image` | `ARM\x64` at 0x38 |
//! | x86 `bzImage` | `HdrS` at 0x202 |
//! | U-Boot `uImage` | `0x27051956` at 0, big-endian |

/// Offset of the ARM `zImage` magic word.
pub(crate) const ZIMAGE_MAGIC_OFF: usize = 0x24;
/// The ARM `zImage` magic (`arch/arm/boot/compressed/head.S`), little-endian.
pub(crate) const ZIMAGE_MAGIC: u32 = 0x016f_2818;
/// Offset of the arm64 `Image` magic.
pub(crate) const ARM64_MAGIC_OFF: usize = 0x38;
/// The arm64 `Image` magic, `ARM\x64`.
pub(crate) const ARM64_MAGIC: &[u8; 4] = b"ARM\x64";
/// Offset of the x86 boot protocol's `HdrS` signature.
const BZIMAGE_MAGIC_OFF: usize = 0x202;
/// The uImage magic number (`IH_MAGIC`), big-endian at offset 0.
pub const UIMAGE_MAGIC: u32 = 0x2705_1956;
/// The ELF magic.
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// The kind of kernel image, as detected from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// A 32-bit MIPS ELF `vmlinux`.
    MipsElf,
    /// An ARM (32-bit) `zImage`.
    ArmZimage,
    /// An arm64 `Image`.
    Arm64Image,
    /// An x86 `bzImage` (loadable with `kexec_file_load` only).
    X86BzImage,
    /// A U-Boot legacy `uImage`: read it with [`crate::uimage::UImage`],
    /// which knows the architecture its raw MIPS payload needs.
    UImage,
    /// A raw MIPS kernel (`vmlinux.bin`) from a uImage, placed at the
    /// uImage's load address.
    MipsRaw,
}

impl Format {
    /// A human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::MipsElf => "MIPS vmlinux (ELF)",
            Format::ArmZimage => "ARM zImage",
            Format::Arm64Image => "arm64 Image",
            Format::X86BzImage => "x86 bzImage",
            Format::UImage => "U-Boot uImage",
            Format::MipsRaw => "raw MIPS kernel from a uImage",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The bytes are no kernel image this crate knows; `looks` says what they
/// look like instead (gzip data, a device tree, a few bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "kexec: not a kernel image (not a MIPS ELF, ARM zImage, arm64 Image or x86 bzImage): {looks}"
)]
pub struct NotAKernel {
    /// What the bytes look like.
    pub looks: String,
}

pub(crate) fn le32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Whether `data` starts with the uImage magic.
pub fn is_uimage(data: &[u8]) -> bool {
    data.get(..4) == Some(UIMAGE_MAGIC.to_be_bytes().as_slice())
}

/// Which kernel format `data` is, from its magic numbers.
///
/// Errors: [`NotAKernel`] (naming what the bytes look like, e.g. a
/// gzip-compressed image) when none matches.
pub fn detect(data: &[u8]) -> Result<Format, NotAKernel> {
    if data.starts_with(ELF_MAGIC) {
        return Ok(Format::MipsElf);
    }
    if is_uimage(data) {
        return Ok(Format::UImage);
    }
    if data.get(ARM64_MAGIC_OFF..ARM64_MAGIC_OFF + 4) == Some(ARM64_MAGIC.as_slice()) {
        return Ok(Format::Arm64Image);
    }
    if let Some(m) = le32(data, ZIMAGE_MAGIC_OFF) {
        if m == ZIMAGE_MAGIC || m == ZIMAGE_MAGIC.swap_bytes() {
            return Ok(Format::ArmZimage);
        }
    }
    if data.get(BZIMAGE_MAGIC_OFF..BZIMAGE_MAGIC_OFF + 4) == Some(b"HdrS".as_slice()) {
        return Ok(Format::X86BzImage);
    }
    let looks = if data.starts_with(&[0x1f, 0x8b]) {
        "gzip-compressed data (decompress it first: gunzip)".to_owned()
    } else if data.starts_with(&[0xd0, 0x0d, 0xfe, 0xed]) {
        "a device tree blob".to_owned()
    } else if data.len() < 0x40 {
        format!("only {} bytes", data.len())
    } else {
        let head: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("starts {}", head.join(" "))
    };
    Err(NotAKernel { looks })
}
