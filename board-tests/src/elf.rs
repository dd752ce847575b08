//! Just enough ELF to refuse a binary built for the wrong guest.
//!
//! Putting an x86 binary into the big-endian MIPS initramfs would otherwise
//! surface as a confusing "not found" from the guest shell. The first 20
//! bytes of an ELF file say class, byte order and machine; that is all this
//! reads. It is also the bench's own endianness check: the tests below read
//! this very executable's header and insist that the byte order it declares
//! is the one the CPU uses.

use std::fmt;

/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of MIPS (both byte orders).
pub const EM_MIPS: u16 = 8;
/// `e_machine` of 32-bit ARM.
pub const EM_ARM: u16 = 40;
/// `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;

/// ELF word size (`EI_CLASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfClass {
    /// `ELFCLASS32`.
    Elf32,
    /// `ELFCLASS64`.
    Elf64,
}

/// ELF byte order (`EI_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfData {
    /// `ELFDATA2LSB`.
    Little,
    /// `ELFDATA2MSB`.
    Big,
}

/// The identifying fields of an ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfIdent {
    /// Word size.
    pub class: ElfClass,
    /// Byte order.
    pub data: ElfData,
    /// `e_machine`, decoded in the file's byte order.
    pub machine: u16,
}

/// Why bytes are not a usable ELF header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// Fewer than 20 bytes.
    #[error("elf: truncated header ({0} bytes)")]
    Truncated(usize),
    /// No `\x7fELF` magic.
    #[error("elf: not an ELF file")]
    NotElf,
    /// `EI_CLASS` is neither 1 nor 2.
    #[error("elf: bad class {0}")]
    BadClass(u8),
    /// `EI_DATA` is neither 1 nor 2.
    #[error("elf: bad byte order {0}")]
    BadData(u8),
}

impl ElfIdent {
    /// Parses the start of an ELF file.
    pub fn parse(bytes: &[u8]) -> Result<ElfIdent, ElfError> {
        if bytes.len() < 20 {
            return Err(ElfError::Truncated(bytes.len()));
        }
        if bytes[..4] != *b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        let class = match bytes[4] {
            1 => ElfClass::Elf32,
            2 => ElfClass::Elf64,
            c => return Err(ElfError::BadClass(c)),
        };
        let raw = [bytes[18], bytes[19]];
        let (data, machine) = match bytes[5] {
            1 => (ElfData::Little, u16::from_le_bytes(raw)),
            2 => (ElfData::Big, u16::from_be_bytes(raw)),
            d => return Err(ElfError::BadData(d)),
        };
        Ok(ElfIdent {
            class,
            data,
            machine,
        })
    }

    /// Reads the header of a file; `Ok(None)` if it is not ELF at all.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Option<ElfIdent>> {
        use std::io::Read;
        let mut head = [0u8; 20];
        let mut f = std::fs::File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(ElfIdent::parse(&head[..n]).ok())
    }
}

impl fmt::Display for ElfIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.class {
            ElfClass::Elf32 => 32,
            ElfClass::Elf64 => 64,
        };
        let order = match self.data {
            ElfData::Little => "little-endian",
            ElfData::Big => "big-endian",
        };
        let arch = match self.machine {
            EM_X86_64 => "x86-64".to_string(),
            EM_MIPS => "MIPS".to_string(),
            EM_ARM => "ARM".to_string(),
            EM_AARCH64 => "AArch64".to_string(),
            m => format!("e_machine {m}"),
        };
        write!(f, "ELF {bits}-bit {order} {arch}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ELF header of a big-endian MIPS executable, field by field.
    const MIPS_BE_HEAD: [u8; 20] = [
        0x7f, b'E', b'L', b'F', // EI_MAG
        0x01, // EI_CLASS: ELFCLASS32
        0x02, // EI_DATA: ELFDATA2MSB
        0x01, // EI_VERSION
        0x00, // EI_OSABI: SYSV
        0, 0, 0, 0, 0, 0, 0, 0, // EI_ABIVERSION + padding
        0x00, 0x02, // e_type: ET_EXEC (big-endian)
        0x00, 0x08, // e_machine: EM_MIPS (big-endian)
    ];

    #[test]
    fn parses_big_endian_header_on_any_host() {
        let id = ElfIdent::parse(&MIPS_BE_HEAD).expect("valid header");
        assert_eq!(id.class, ElfClass::Elf32);
        assert_eq!(id.data, ElfData::Big);
        assert_eq!(id.machine, EM_MIPS);
        assert_eq!(id.to_string(), "ELF 32-bit big-endian MIPS");
    }

    #[test]
    fn parses_little_endian_header_on_any_host() {
        let mut head = MIPS_BE_HEAD;
        head[5] = 1; // ELFDATA2LSB
        head[18..20].copy_from_slice(&[183, 0]); // EM_AARCH64, little-endian
        head[4] = 2;
        let id = ElfIdent::parse(&head).expect("valid header");
        assert_eq!(id.data, ElfData::Little);
        assert_eq!(id.machine, EM_AARCH64);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            ElfIdent::parse(&MIPS_BE_HEAD[..10]),
            Err(ElfError::Truncated(10))
        );
        let mut h = MIPS_BE_HEAD;
        h[0] = 0;
        assert_eq!(ElfIdent::parse(&h), Err(ElfError::NotElf));
        h = MIPS_BE_HEAD;
        h[5] = 7;
        assert_eq!(ElfIdent::parse(&h), Err(ElfError::BadData(7)));
        h = MIPS_BE_HEAD;
        h[4] = 3;
        assert_eq!(ElfIdent::parse(&h), Err(ElfError::BadClass(3)));
    }

    /// The endianness check the bench exists for: this executable's own ELF
    /// header declares the byte order the CPU really uses, and a field read
    /// with native byte order gives the same value as one read in the
    /// declared order. Under qemu-mips and in the MIPS VM this runs
    /// big-endian; anywhere else little-endian.
    #[test]
    fn own_executable_header_matches_target_byte_order() {
        let exe = std::fs::read("/proc/self/exe").expect("/proc/self/exe is readable on Linux");
        let id = ElfIdent::parse(&exe).expect("the running test binary is ELF");

        let expected_data = if cfg!(target_endian = "big") {
            ElfData::Big
        } else {
            ElfData::Little
        };
        assert_eq!(id.data, expected_data);

        let expected_machine = if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
            EM_MIPS
        } else if cfg!(target_arch = "arm") {
            EM_ARM
        } else if cfg!(target_arch = "aarch64") {
            EM_AARCH64
        } else if cfg!(target_arch = "x86_64") {
            EM_X86_64
        } else {
            id.machine
        };
        assert_eq!(id.machine, expected_machine);

        // A header struct read the way C code does it (native byte order)
        // agrees with the declared order only on the matching CPU.
        #[repr(C)]
        struct Head {
            ident: [u8; 16],
            e_type: u16,
            e_machine: u16,
        }
        let mut raw = [0u8; 20];
        raw.copy_from_slice(&exe[..20]);
        let head = Head {
            ident: exe[..16].try_into().expect("16 bytes"),
            e_type: u16::from_ne_bytes([raw[16], raw[17]]),
            e_machine: u16::from_ne_bytes([raw[18], raw[19]]),
        };
        assert_eq!(&head.ident[..4], b"\x7fELF");
        assert_eq!(head.e_machine, expected_machine);
        assert!(head.e_type == 2 || head.e_type == 3, "ET_EXEC or ET_DYN");
        let swapped = u16::from_ne_bytes([raw[19], raw[18]]);
        assert_ne!(
            swapped, expected_machine,
            "byte order must matter for e_machine"
        );
        assert_eq!(std::mem::size_of::<Head>(), 20);

        // The pointer width the ELF class promises.
        let expected_class = if cfg!(target_pointer_width = "64") {
            ElfClass::Elf64
        } else {
            ElfClass::Elf32
        };
        assert_eq!(id.class, expected_class);
    }

    /// `scripts/cross-test` runs each target's tests with
    /// `LIMINA_EXPECT_ENDIAN` set to the byte order that target must have
    /// (big for `mips-unknown-linux-gnu`), so a cross build that silently
    /// produced the wrong variant fails here, under qemu-user and in the VM.
    #[test]
    fn byte_order_is_the_expected_one() {
        let word = std::hint::black_box(0x0102_0304u32);
        let bytes = word.to_ne_bytes();
        if cfg!(target_endian = "big") {
            assert_eq!(bytes, [1, 2, 3, 4]);
        } else {
            assert_eq!(bytes, [4, 3, 2, 1]);
        }
        let built = if cfg!(target_endian = "big") {
            "big"
        } else {
            "little"
        };
        match std::env::var("LIMINA_EXPECT_ENDIAN").as_deref() {
            Ok(want @ ("big" | "little")) => {
                assert_eq!(built, want, "wrong byte order for this target")
            }
            Ok(other) => panic!("LIMINA_EXPECT_ENDIAN must be big or little, not {other:?}"),
            Err(_) => {}
        }
    }
}
