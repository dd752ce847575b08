//! Limina's test bench: boot real Linux kernels under QEMU and drive them over
//! the serial console.
//!
//! Library code that touches flash, watchdogs, kexec or netlink cannot be
//! believed until it has run against the kernel that implements those
//! interfaces, on the CPU it ships for. This crate boots three machines under
//! QEMU's TCG (KVM does not boot guests on the build machines):
//!
//! | machine | kernel | what it is for |
//! |---|---|---|
//! | [`Machine::X86_64`] | Debian amd64 | mtdram, nandsim, UBI, softdog, i6300esb, kexec |
//! | [`Machine::Mips`] | big-endian malta, built here | ioctl encoding, endianness |
//! | [`Machine::Aarch64`] | Debian arm64 | device trees, kexec with a DTB |
//!
//! It assembles each guest's initramfs itself ([`Initramfs`]) from a static
//! busybox, the kernel modules a test asks for (with their dependencies), and
//! our own statically linked binaries, then talks to the guest's shell over
//! the serial console ([`Vm`]), in the spirit of Buildroot's
//! `support/testing`. Every step has a timeout; a timeout, a kernel panic or
//! QEMU dying ends the step with an [`Error`] naming the cause and the path of
//! the console log, which is kept.
//!
//! ```no_run
//! use limina_board_tests::{Machine, Vm, VmConfig};
//!
//! # fn main() -> Result<(), limina_board_tests::Error> {
//! let mut cfg = VmConfig::new(Machine::X86_64, "mtdram-smoke")?;
//! cfg.initramfs.module("mtdram", "total_size=1024 erase_size=64");
//! let mut vm = Vm::boot(cfg)?;
//! let proc_mtd = vm.run_ok("cat /proc/mtd")?;
//! assert!(proc_mtd.contains("mtdram test device"));
//! vm.poweroff()?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod assets;
mod console;
pub mod elf;
mod error;
pub mod flash;
pub mod initramfs;
mod machine;
mod modules;
mod vm;

pub use assets::{
    build_dir, guest_bins_dir, guest_limina, vm_assets_dir, workspace_root, MachineAssets,
};
pub use error::Error;
pub use flash::PersistentFlash;
pub use initramfs::Initramfs;
pub use machine::Machine;
pub use modules::ModuleTree;
pub use vm::{timeout_scale, Timeouts, Vm, VmConfig};
