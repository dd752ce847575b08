//! The three guest machines and the QEMU command line for each.
//!
//! The command lines are fixed here rather than spread over tests so that a
//! failing test can be reproduced by hand: [`crate::Vm`] prints the exact
//! command into the console log's first line.

use crate::elf::{ElfClass, ElfData, ElfIdent};

/// A QEMU machine the bench can boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Machine {
    /// `qemu-system-x86_64 -M pc`, Debian's amd64 kernel and modules.
    X86_64,
    /// `qemu-system-mips -M malta -cpu 24Kf`, big-endian, a kernel built by
    /// `scripts/build-mips-kernel` with MTD/UBI/watchdog/kexec built in.
    Mips,
    /// `qemu-system-aarch64 -M virt -cpu cortex-a53`, Debian's arm64 kernel.
    Aarch64,
}

impl Machine {
    /// Every machine.
    pub const ALL: [Machine; 3] = [Machine::X86_64, Machine::Mips, Machine::Aarch64];

    /// The short name used for asset directories and logs.
    pub fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Mips => "mips",
            Machine::Aarch64 => "aarch64",
        }
    }

    /// The Rust target whose static binaries run in this guest.
    pub fn rust_target(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64-unknown-linux-gnu",
            Machine::Mips => "mips-unknown-linux-gnu",
            Machine::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The QEMU system emulator.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Machine::X86_64 => "qemu-system-x86_64",
            Machine::Mips => "qemu-system-mips",
            Machine::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The serial console device as the guest kernel names it.
    pub fn console(self) -> &'static str {
        match self {
            Machine::X86_64 | Machine::Mips => "ttyS0",
            Machine::Aarch64 => "ttyAMA0",
        }
    }

    /// Memory given to the guest, in MiB (malta addresses 256 MiB directly).
    pub fn default_memory_mib(self) -> u32 {
        match self {
            Machine::X86_64 | Machine::Aarch64 => 512,
            Machine::Mips => 256,
        }
    }

    /// What an ELF file must be to run (or load, for modules) in this guest.
    pub fn elf_ident(self) -> ElfIdent {
        match self {
            Machine::X86_64 => ElfIdent {
                class: ElfClass::Elf64,
                data: ElfData::Little,
                machine: crate::elf::EM_X86_64,
            },
            Machine::Mips => ElfIdent {
                class: ElfClass::Elf32,
                data: ElfData::Big,
                machine: crate::elf::EM_MIPS,
            },
            Machine::Aarch64 => ElfIdent {
                class: ElfClass::Elf64,
                data: ElfData::Little,
                machine: crate::elf::EM_AARCH64,
            },
        }
    }

    /// QEMU arguments for this machine, without kernel, initrd and append.
    pub(crate) fn qemu_args(self, memory_mib: u32) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Machine::X86_64 => vec!["-M".into(), "pc".into(), "-cpu".into(), "qemu64".into()],
            // -vga none: malta otherwise looks for a VGA BIOS it does not need.
            Machine::Mips => vec![
                "-M".into(),
                "malta".into(),
                "-cpu".into(),
                "24Kf".into(),
                "-vga".into(),
                "none".into(),
            ],
            Machine::Aarch64 => vec![
                "-M".into(),
                "virt".into(),
                "-cpu".into(),
                "cortex-a53".into(),
            ],
        };
        args.extend(
            [
                "-accel",
                "tcg",
                "-m",
                &memory_mib.to_string(),
                "-display",
                "none",
                "-monitor",
                "none",
                "-serial",
                "stdio",
                "-nic",
                "none",
            ]
            .map(String::from),
        );
        args
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
