//! The CPU architectures whose kernels this crate loads.

use object::elf;

/// A kernel's (or the running system's) architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// 32-bit MIPS, big-endian.
    Mips,
    /// 32-bit MIPS, little-endian.
    Mipsel,
    /// 32-bit ARM (`zImage`).
    Arm,
    /// 64-bit ARM (`Image`).
    Aarch64,
    /// x86_64 (`bzImage`, loaded by the kernel with `kexec_file_load` only).
    X86_64,
}

impl Arch {
    /// The architecture this program was built for, which is the running
    /// kernel's; `None` on others.
    pub fn running() -> Option<Arch> {
        if cfg!(target_arch = "mips") {
            Some(if cfg!(target_endian = "big") {
                Arch::Mips
            } else {
                Arch::Mipsel
            })
        } else if cfg!(target_arch = "arm") {
            Some(Arch::Arm)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else {
            None
        }
    }

    /// A short name (`mips`, `mipsel`, `arm`, `aarch64`, `x86_64`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Mips => "mips",
            Arch::Mipsel => "mipsel",
            Arch::Arm => "arm",
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The `KEXEC_ARCH_*` value for `kexec_load`'s flags: the ELF machine
    /// number shifted left by 16, as `<linux/kexec.h>` defines them
    /// (`KEXEC_ARCH_MIPS` is `EM_MIPS << 16`, `KEXEC_ARCH_MIPS_LE` is
    /// `EM_MIPS_RS3_LE << 16`).
    pub fn kexec_arch_flag(self) -> u32 {
        let em = match self {
            Arch::Mips => elf::EM_MIPS,
            Arch::Mipsel => elf::EM_MIPS_RS3_LE,
            Arch::Arm => elf::EM_ARM,
            Arch::Aarch64 => elf::EM_AARCH64,
            Arch::X86_64 => elf::EM_X86_64,
        };
        u32::from(em) << 16
    }

    /// Whether addresses and `kexec_segment` fields are 32 bits wide.
    pub fn is_32bit(self) -> bool {
        matches!(self, Arch::Mips | Arch::Mipsel | Arch::Arm)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
