//! Flash that survives a power cut: `phram` MTD devices over guest RAM the
//! kernel is told to leave alone.
//!
//! A power-cut test needs storage that keeps what was written when
//! everything else is lost: the kernel, its page cache, every process. QEMU's
//! reset (the guest's `echo b > /proc/sysrq-trigger`, or the monitor's
//! `system_reset`, see [`crate::Vm::reboot_hard`] and
//! [`crate::Vm::system_reset`]) restarts the machine without clearing guest
//! RAM; it only reloads the ROMs (firmware, and the `-kernel`/`-initrd`
//! images). So RAM the kernel never uses for itself, mapped as an MTD device
//! by `phram`, behaves like NOR flash across the reset: what was erased or
//! written before the cut is there after it, and nothing else is. The
//! `upgrade::persistent_flash_*` tests check this on each machine.
//!
//! The reserved region is 32 MiB on each machine:
//!
//! | machine | how | region |
//! |---|---|---|
//! | x86_64 | `memmap=32M$0x10000000` (an E820 "reserved" range) and `nokaslr` | 256..288 MiB of 512 |
//! | big-endian MIPS | `mem=192M@0 mem=32M@224M` (a hole in the memory map) | 192..224 MiB of 256 |
//!
//! On malta QEMU puts the initramfs at the top of RAM (224..256 MiB), which
//! stays RAM. `nokaslr` keeps the x86_64 kernel at one place; its
//! decompressor avoids `memmap=` ranges anyway. aarch64's Debian kernel has
//! no `phram`.

use crate::{Error, Machine, VmConfig};

/// The size of the reserved region on every machine.
pub const REGION_SIZE: u64 = 32 << 20;

/// A set of `phram` devices in the reserved region of a guest, added at boot
/// by the guest's `/init`, in order, each starting where the previous ends.
#[derive(Debug, Clone)]
pub struct PersistentFlash {
    erase_size: u32,
    devices: Vec<(String, u64)>,
}

impl PersistentFlash {
    /// No devices yet; every device gets `erase_size` (e.g. 64 KiB, NOR's).
    pub fn new(erase_size: u32) -> PersistentFlash {
        PersistentFlash {
            erase_size,
            devices: Vec::new(),
        }
    }

    /// Adds a device named `name` (its MTD name, `mtd:<name>`) of `size`
    /// bytes.
    pub fn device(mut self, name: &str, size: u64) -> PersistentFlash {
        self.devices.push((name.to_string(), size));
        self
    }

    /// Where the reserved region starts in `machine`'s physical memory.
    pub fn region_start(machine: Machine) -> Result<u64, Error> {
        match machine {
            Machine::X86_64 => Ok(0x1000_0000),
            Machine::Mips => Ok(0x0c00_0000),
            Machine::Aarch64 => Err(Error::Config {
                reason: "the aarch64 kernel has no phram: no persistent flash there".to_string(),
            }),
        }
    }

    /// The kernel command-line words that keep the region out of the
    /// kernel's memory.
    pub fn kernel_args(machine: Machine) -> Result<Vec<String>, Error> {
        let start = Self::region_start(machine)?;
        Ok(match machine {
            Machine::X86_64 => vec![
                format!("memmap={}M${start:#x}", REGION_SIZE >> 20),
                "nokaslr".to_string(),
            ],
            _ => vec![
                format!("mem={}M@0", start >> 20),
                format!(
                    "mem={}M@{}M",
                    REGION_SIZE >> 20,
                    (start + REGION_SIZE) >> 20
                ),
            ],
        })
    }

    /// The `phram` parameter for each device
    /// (`<name>,<start>,<length>,<erasesize>`), in order.
    pub fn phram_params(&self, machine: Machine) -> Result<Vec<String>, Error> {
        let mut at = Self::region_start(machine)?;
        let end = at + REGION_SIZE;
        let mut out = Vec::new();
        for (name, size) in &self.devices {
            let es = u64::from(self.erase_size);
            if name.is_empty() || name.contains([',', ' ', '\'', '"']) {
                return Err(Error::Config {
                    reason: format!("phram device name {name:?}: no commas, spaces or quotes"),
                });
            }
            if es == 0 || *size == 0 || size % es != 0 {
                return Err(Error::Config {
                    reason: format!(
                        "phram device {name}: size {size} is not a positive multiple of the erase size {es}"
                    ),
                });
            }
            if at + size > end {
                return Err(Error::Config {
                    reason: format!(
                        "phram devices need more than the {} MiB reserved region",
                        REGION_SIZE >> 20
                    ),
                });
            }
            out.push(format!("{name},{at:#x},{size:#x},{es:#x}"));
            at += size;
        }
        Ok(out)
    }

    /// Reserves the region on the kernel command line, has `/init` add the
    /// devices (through `/sys/module/phram/parameters/phram`: built-in
    /// `phram` takes only one device on the command line), and lets the
    /// guest reboot (`allow_reboot`), which is what the region is for.
    pub fn apply(&self, cfg: &mut VmConfig) -> Result<(), Error> {
        let machine = cfg.machine;
        let params = self.phram_params(machine)?;
        cfg.append.extend(Self::kernel_args(machine)?);
        if machine == Machine::X86_64 {
            cfg.initramfs.module("phram", "");
        }
        for p in params {
            cfg.initramfs
                .init_command(&format!("echo {p} > /sys/module/phram/parameters/phram"));
        }
        cfg.allow_reboot = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_follow_each_other_in_the_region() {
        let f = PersistentFlash::new(0x10000)
            .device("firmware", 8 << 20)
            .device("firmware-b", 8 << 20);
        assert_eq!(
            f.phram_params(Machine::X86_64).expect("params"),
            [
                "firmware,0x10000000,0x800000,0x10000",
                "firmware-b,0x10800000,0x800000,0x10000"
            ]
        );
        assert_eq!(
            f.phram_params(Machine::Mips).expect("params")[1],
            "firmware-b,0xc800000,0x800000,0x10000"
        );
        assert_eq!(
            PersistentFlash::kernel_args(Machine::X86_64).expect("args"),
            ["memmap=32M$0x10000000", "nokaslr"]
        );
        assert_eq!(
            PersistentFlash::kernel_args(Machine::Mips).expect("args"),
            ["mem=192M@0", "mem=32M@224M"]
        );
    }

    #[test]
    fn bad_layouts_are_refused() {
        let too_big = PersistentFlash::new(0x10000)
            .device("a", 16 << 20)
            .device("b", 32 << 20);
        assert!(too_big.phram_params(Machine::Mips).is_err());
        let unaligned = PersistentFlash::new(0x10000).device("a", 0x18000);
        assert!(unaligned.phram_params(Machine::X86_64).is_err());
        let comma = PersistentFlash::new(0x10000).device("a,b", 0x10000);
        assert!(comma.phram_params(Machine::X86_64).is_err());
        let ok = PersistentFlash::new(0x10000).device("a", 0x10000);
        assert!(ok.phram_params(Machine::Aarch64).is_err());
    }
}
