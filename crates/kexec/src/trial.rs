//! Trial boot: boot a new firmware's kernel with its squashfs root file
//! system in RAM, before anything is written to flash.
//!
//! The root file system goes into a free, 1 MiB-aligned region of RAM that
//! the next kernel's device tree gets as a `no-map`
//! `/reserved-memory/phram@ADDR` node, and that the kernel's built-in
//! `phram` driver turns into an MTD device from the command line
//! (`phram.phram=NAME,ADDR,SIZE root=/dev/mtdblockN rootfstype=squashfs`).
//! The rest of the command line is the running one without the words that
//! name the old root ([`base_cmdline`]). The tree is then edited as for
//! any kexec ([`crate::handoff::edit_dtb`]: fresh seeds, no stale initrd
//! or crash properties).
//!
//! Everything — kernel format and architecture, squashfs superblock,
//! device tree, placement in RAM — is checked in [`TrialBoot::plan`];
//! [`Trial::load`] is the first system call.
//!
//! ```no_run
//! use kexec::trial::{Options, System, TrialBoot};
//!
//! # fn main() -> Result<(), kexec::Error> {
//! let system = System::running(None, None)?; // /sys/firmware/fdt, /proc/iomem, /proc/cmdline
//! let kernel = kexec::image::KernelImage::read("/tmp/vmlinux")?; // or uimage::parse_kernel
//! let rootfs = kexec::trial::read_rootfs("/tmp/rootfs.squashfs")?;
//! let trial = TrialBoot::new(kernel, rootfs)?.plan(system, &Options::default())?;
//! eprintln!("bootargs: {}", trial.bootargs());
//! trial.load()?; // kexec_load
//! kexec::exec()?; // reboot into it; returns only on failure
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::dtb::{self, Fdt, ReservedRegion, SYSFS_FDT};
use crate::handoff::{self, Seed};
use crate::image::{self as kernel_image, KernelImage};
use crate::layout::{self, Layout, LoadPlan, PlacedKernel};
use crate::memory::{self, MemoryMap, Range};
use crate::squashfs::{self, Superblock};
use crate::sys;
use crate::uimage::{self, Firmware, FirmwareError};

/// Alignment of the root file system region.
pub const REGION_ALIGN: u64 = 1 << 20;
/// The region's size is a multiple of this: phram wants a multiple of its
/// erase size (the page size, at most 64 KiB).
pub const SIZE_GRANULE: u64 = 64 << 10;
/// Default erase block size of a firmware image (the squashfs starts at a
/// multiple of it): the GL-AR750's NOR flash, and most routers'.
pub const DEFAULT_ERASE_SIZE: usize = 64 << 10;
/// `root=` for the new kernel when [`Options::root`] is not given. A
/// built-in phram creates its device from the command line when its
/// initcall runs: `drivers/mtd/devices/` is linked before `mtdram`,
/// `nand/`, `spi-nor/` and the SPI controllers in `drivers/spi/`, so the
/// phram device is `mtd0` (measured on the malta bench: before mtdram and
/// nandsim). Only `drivers/mtd/maps/` flash (physmap) registers earlier;
/// boards with it set [`Options::root`].
pub const DEFAULT_ROOT: &str = "/dev/mtdblock0";
/// Default phram device name.
pub const DEFAULT_NAME: &str = "rootfs";
/// The `compatible` of a `/reserved-memory` node that the kernel's phram
/// driver turns into an MTD device by itself (Linux 6.0 and later:
/// `drivers/of/platform.c` creates a platform device for it and phram's
/// `phram_probe` registers it, named by the node's `label`).
pub const PHRAM_COMPATIBLE: &str = "phram";

/// Why a trial boot cannot be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("kexec: cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file does not fit in memory.
    #[error("kexec: {path}: {len} bytes do not fit in memory")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The kernel image is bad or not bootable here.
    #[error(transparent)]
    Kernel(#[from] kernel_image::Error),
    /// The kernel uImage is bad or not bootable here.
    #[error(transparent)]
    UImage(#[from] uimage::Error),
    /// The firmware image could not be split.
    #[error(transparent)]
    Firmware(#[from] FirmwareError),
    /// The root file system is no whole squashfs 4.0.
    #[error("kexec: root file system: {source}; trial boot needs a squashfs root")]
    Rootfs {
        /// What is wrong with it.
        #[source]
        source: squashfs::Error,
    },
    /// A kernel for another architecture.
    #[error("kexec: a kernel for {kernel}, this system is {system}")]
    WrongArch {
        /// The kernel's.
        kernel: Arch,
        /// The system's.
        system: Arch,
    },
    /// `kexec_load` does not exist for the running architecture.
    #[error("kexec: kexec_load is not supported on this architecture")]
    NoArch,
    /// The device tree could not be read.
    #[error("kexec: {path}: not a usable device tree: {source}")]
    ReadDtb {
        /// Where it was read from.
        path: PathBuf,
        /// Why.
        #[source]
        source: dtb::Error,
    },
    /// The device tree could not be edited.
    #[error("kexec: device tree: {0}")]
    EditDtb(#[source] dtb::Error),
    /// Where RAM is could be learnt neither from `/proc/iomem` nor from
    /// the device tree.
    #[error(transparent)]
    Memory(#[from] memory::Error),
    /// `--address` is not 1 MiB aligned.
    #[error("kexec: root file system address {0:#x} is not 1 MiB aligned")]
    Misaligned(u64),
    /// A phram name with `,` or spaces, or empty.
    #[error("kexec: phram name '{0}': must be non-empty, without ',' or spaces")]
    BadName(String),
    /// Two phram devices of one trial boot with the same name.
    #[error("kexec: phram name '{0}' is used twice")]
    DuplicateName(String),
    /// Placing a segment failed.
    #[error("kexec: {what}: {}", unprefixed(source))]
    Layout {
        /// "kernel", "root file system", "initrd", "dtb", "plan".
        what: &'static str,
        /// Why.
        #[source]
        source: layout::Error,
    },
    /// Fresh randomness could not be read.
    #[error(transparent)]
    Seed(#[from] handoff::Error),
}

/// A module error's message without its `kexec: ` prefix, after ours.
fn unprefixed(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    s.strip_prefix("kexec: ").map(str::to_owned).unwrap_or(s)
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Words of a command line that describe the *old* root: a trial boot
/// replaces them.
pub fn is_root_word(w: &str) -> bool {
    const KEYS: &[&str] = &[
        "root",
        "rootfstype",
        "rootflags",
        "phram.phram",
        "phram",
        "ubi.mtd",
        "ubi.block",
        "initrd",
        "rd_start",
        "rd_size",
    ];
    let key = w.split_once('=').map_or(w, |(k, _)| k);
    KEYS.contains(&key)
}

/// The running command line without the words naming its root.
pub fn base_cmdline(running: &str) -> Vec<String> {
    running
        .split_whitespace()
        .filter(|w| !is_root_word(w))
        .map(str::to_string)
        .collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads a root file system image into a buffer with room for its padding
/// to [`SIZE_GRANULE`], so padding never copies the image.
///
/// Errors: [`Error::Io`], [`Error::TooLarge`].
pub fn read_rootfs(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    use std::io::Read;
    let path = path.as_ref();
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let len = f.metadata().map_err(io(path))?.len();
    let cap = usize::try_from(len.next_multiple_of(SIZE_GRANULE)).map_err(|_| Error::TooLarge {
        path: path.to_owned(),
        len,
    })?;
    let mut data = Vec::with_capacity(cap);
    f.read_to_end(&mut data).map_err(io(path))?;
    Ok(data)
}

/// The running system a trial boot starts from (its required inputs).
#[derive(Debug, Clone)]
pub struct System {
    /// The architecture (the kernel must be for it).
    pub arch: Arch,
    /// The device tree to hand over, edited.
    pub fdt: Fdt,
    /// Where RAM is.
    pub memory: MemoryMap,
    /// The running command line.
    pub cmdline: String,
}

impl System {
    /// The running system: its architecture, the device tree at `dtb` (or
    /// [`SYSFS_FDT`]), RAM from `/proc/iomem` (or, where that is empty or
    /// unreadable, from the tree's `/memory`), and `cmdline` or
    /// `/proc/cmdline`.
    ///
    /// Errors: [`Error::NoArch`], [`Error::ReadDtb`], [`Error::Memory`],
    /// [`Error::Io`].
    pub fn running(dtb: Option<&Path>, cmdline: Option<String>) -> Result<System> {
        let arch = Arch::running().ok_or(Error::NoArch)?;
        let path = dtb.unwrap_or(Path::new(SYSFS_FDT));
        let fdt = Fdt::read(path).map_err(|source| Error::ReadDtb {
            path: path.to_owned(),
            source,
        })?;
        let memory = match MemoryMap::read_iomem() {
            Ok(m) if !m.ram.is_empty() => m,
            _ => MemoryMap::from_fdt(&fdt)?,
        };
        let cmdline = match cmdline {
            Some(c) => c,
            None => {
                std::fs::read_to_string("/proc/cmdline").map_err(io(Path::new("/proc/cmdline")))?
            }
        };
        Ok(System {
            arch,
            fdt,
            memory,
            cmdline,
        })
    }
}

/// Choices with defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Where the root file system goes (1 MiB aligned); default: the
    /// highest free region the next kernel reaches at boot.
    pub address: Option<u64>,
    /// `root=`; default [`DEFAULT_ROOT`].
    pub root: Option<String>,
    /// The phram device's name; default [`DEFAULT_NAME`].
    pub name: Option<String>,
    /// Words appended to the command line.
    pub append: Vec<String>,
    /// The page size; default the running kernel's.
    pub page_size: Option<u64>,
    /// The randomness for `rng-seed`/`kaslr-seed`; default
    /// [`Seed::from_urandom`].
    pub seed: Option<Seed>,
}

/// Where a kernel and root file system came from in a firmware image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FirmwareInfo {
    /// The uImage's name.
    pub name: String,
    /// Its length, header included.
    pub uimage_len: usize,
    /// Its compression's name.
    pub compression: String,
    /// Offset of the squashfs in the image.
    pub rootfs_offset: usize,
    /// Offset in the payload of an appended DTB that was zeroed.
    pub zeroed_dtb: Option<usize>,
}

/// A kernel and a checked squashfs, to be placed.
#[derive(Debug)]
pub struct TrialBoot {
    kernel: KernelImage,
    rootfs: Vec<u8>,
    superblock: Superblock,
    initrd: Option<Vec<u8>>,
    regions: Vec<(String, Vec<u8>)>,
    firmware: Option<FirmwareInfo>,
}

/// A region of RAM the next kernel gets as a phram MTD device besides its
/// root file system, placed and reserved by [`TrialBoot::plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedRegion {
    /// Where it is (its length a multiple of [`SIZE_GRANULE`]).
    pub range: Range,
    /// How many bytes of it are data (the rest is zeros).
    pub data_len: u64,
}

impl TrialBoot {
    /// A kernel and a root file system image, checked to be a whole
    /// squashfs 4.0 ([`Superblock::parse`]). A buffer from
    /// [`read_rootfs`] already has room for the padding.
    ///
    /// Errors: [`Error::Rootfs`].
    pub fn new(kernel: KernelImage, rootfs: Vec<u8>) -> Result<TrialBoot> {
        let superblock = Superblock::parse(&rootfs).map_err(|source| Error::Rootfs { source })?;
        Ok(TrialBoot {
            kernel,
            rootfs,
            superblock,
            initrd: None,
            regions: Vec::new(),
            firmware: None,
        })
    }

    /// A firmware image: a kernel uImage and, at a multiple of
    /// `erase_size`, a squashfs ([`Firmware::split`]), for `arch`. An
    /// appended DTB is zeroed ([`uimage::UImage::kernel_and_zeroed_dtb`]). The
    /// image's buffer becomes the root file system's: the squashfs moves
    /// to its front and the rest is given back.
    ///
    /// Errors: [`Error::Firmware`], [`Error::UImage`].
    pub fn from_firmware(mut data: Vec<u8>, erase_size: usize, arch: Arch) -> Result<TrialBoot> {
        let fw = Firmware::split(&data, erase_size)?;
        let (kernel, zeroed_dtb) = fw.uimage.kernel_and_zeroed_dtb(arch)?;
        let info = FirmwareInfo {
            name: fw.uimage.name.clone(),
            uimage_len: fw.uimage.len(),
            compression: fw.uimage.compression.name(),
            rootfs_offset: fw.rootfs.start,
            zeroed_dtb,
        };
        let (range, superblock) = (fw.rootfs.clone(), fw.superblock);
        // The peak was earlier: the file, the kernel and the LZMA window.
        data.truncate(range.end);
        data.drain(..range.start);
        let cap = (data.len() as u64).next_multiple_of(SIZE_GRANULE);
        data.shrink_to(usize::try_from(cap).unwrap_or(usize::MAX));
        Ok(TrialBoot {
            kernel,
            rootfs: data,
            superblock,
            initrd: None,
            regions: Vec::new(),
            firmware: Some(info),
        })
    }

    /// Adds an initramfs for the next kernel.
    #[must_use]
    pub fn with_initrd(mut self, initrd: Vec<u8>) -> TrialBoot {
        self.initrd = Some(initrd);
        self
    }

    /// Adds a region of RAM holding `data` that the next kernel finds as
    /// the phram MTD device `name` (its `/proc/mtd` name), for data the new
    /// system reads once it runs — such as the whole signed image it is to
    /// commit to flash (`limina upgrade --trial`).
    ///
    /// Unlike the root file system, which is named on the command line
    /// (`phram.phram=`: a built-in phram keeps only one device from the
    /// command line), each such region is a `/reserved-memory` node with
    /// `compatible = "phram"` and `label = NAME` (Linux 6.0 and later). Those
    /// devices register when the phram driver does, *before* the command
    /// line's device, so the default `root=` counts them:
    /// `/dev/mtdblockN` with N the number of regions. The region is 1 MiB
    /// aligned and padded with zeros to [`SIZE_GRANULE`], like the root
    /// file system; its device's erase size is the page size.
    #[must_use]
    pub fn with_region(mut self, name: &str, data: Vec<u8>) -> TrialBoot {
        self.regions.push((name.to_owned(), data));
        self
    }

    /// The kernel.
    pub fn kernel(&self) -> &KernelImage {
        &self.kernel
    }

    /// The squashfs superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.superblock
    }

    /// Where the parts came from, for a firmware image.
    pub fn firmware(&self) -> Option<&FirmwareInfo> {
        self.firmware.as_ref()
    }

    /// Places kernel, root file system, initrd and the edited tree of
    /// `system`, checking everything; nothing is loaded.
    ///
    /// Errors: [`Error::WrongArch`], [`Error::BadName`],
    /// [`Error::Misaligned`], [`Error::Layout`] (no room, outside RAM,
    /// overlaps), [`Error::EditDtb`], [`Error::Seed`].
    pub fn plan(self, system: System, options: &Options) -> Result<Trial> {
        let TrialBoot {
            kernel,
            rootfs,
            superblock: _,
            initrd,
            regions,
            firmware,
        } = self;
        if kernel.arch != system.arch {
            return Err(Error::WrongArch {
                kernel: kernel.arch,
                system: system.arch,
            });
        }
        let name = options.name.as_deref().unwrap_or(DEFAULT_NAME);
        if name.is_empty() || name.contains([',', ' ']) {
            return Err(Error::BadName(name.to_owned()));
        }
        for (i, (n, _)) in regions.iter().enumerate() {
            if n.is_empty() || n.contains([',', ' ', '\0']) {
                return Err(Error::BadName(n.clone()));
            }
            if n == name || regions[..i].iter().any(|(m, _)| m == n) {
                return Err(Error::DuplicateName(n.clone()));
            }
        }
        let System {
            arch,
            mut fdt,
            memory,
            cmdline,
        } = system;
        let page_size = options.page_size.unwrap_or_else(sys::page_size);
        let mut layout = Layout::new(arch, memory).with_page_size(page_size);
        let format = kernel.format;
        let placed = layout.take_kernel(kernel).map_err(|source| Error::Layout {
            what: "kernel",
            source,
        })?;

        let rootfs_len = rootfs.len() as u64;
        let size = rootfs_len.next_multiple_of(SIZE_GRANULE);
        let address = match options.address {
            Some(at) if !at.is_multiple_of(REGION_ALIGN) => return Err(Error::Misaligned(at)),
            Some(at) => at,
            None => layout
                .find_free_top(size, REGION_ALIGN)
                .map_err(|source| Error::Layout {
                    what: "root file system",
                    source,
                })?,
        };
        let mut padded = rootfs;
        padded.resize(usize::try_from(size).unwrap_or(usize::MAX), 0);
        let rootfs_region = layout
            .add_fixed("rootfs", address, padded)
            .map_err(|source| Error::Layout {
                what: "root file system",
                source,
            })?;

        // The other regions, each below the previous one.
        let mut placed_regions = Vec::with_capacity(regions.len());
        for (region_name, mut data) in regions {
            let data_len = data.len() as u64;
            let size = data_len.max(1).next_multiple_of(SIZE_GRANULE);
            let at = layout
                .find_free_top(size, REGION_ALIGN)
                .map_err(|source| Error::Layout {
                    what: "phram region",
                    source,
                })?;
            data.resize(usize::try_from(size).unwrap_or(usize::MAX), 0);
            let range =
                layout
                    .add_fixed(&region_name, at, data)
                    .map_err(|source| Error::Layout {
                        what: "phram region",
                        source,
                    })?;
            placed_regions.push((region_name, PlacedRegion { range, data_len }));
        }

        let default_root;
        let root = match options.root.as_deref() {
            Some(r) => r,
            None if placed_regions.is_empty() => DEFAULT_ROOT,
            None => {
                default_root = format!("/dev/mtdblock{}", placed_regions.len());
                &default_root
            }
        };
        let mut words = base_cmdline(&cmdline);
        words.push(format!("phram.phram={name},{address:#x},{size:#x}"));
        words.push(format!("root={root}"));
        words.push("rootfstype=squashfs".into());
        words.extend(options.append.iter().cloned());
        let bootargs = words.join(" ");

        fdt.add_reserved_memory(&ReservedRegion {
            name: "phram".into(),
            address,
            size,
            compatible: None,
            no_map: true,
        })
        .map_err(Error::EditDtb)?;
        for (region_name, region) in &placed_regions {
            let path = fdt
                .add_reserved_memory(&ReservedRegion {
                    name: "phram".into(),
                    address: region.range.start,
                    size: region.range.len(),
                    compatible: Some(PHRAM_COMPATIBLE.into()),
                    no_map: true,
                })
                .map_err(Error::EditDtb)?;
            let mut label = region_name.as_bytes().to_vec();
            label.push(0);
            fdt.node_mut(&path)
                .map_err(Error::EditDtb)?
                .set_prop("label", label);
        }
        let initrd = match initrd {
            Some(data) => Some(layout.add_initrd(data).map_err(|source| Error::Layout {
                what: "initrd",
                source,
            })?),
            None => None,
        };
        let seed = match options.seed {
            Some(s) => s,
            None => Seed::from_urandom()?,
        };
        handoff::edit_dtb(&mut fdt, initrd, Some(&bootargs), &seed).map_err(Error::EditDtb)?;
        layout
            .add_dtb(fdt.to_bytes())
            .map_err(|source| Error::Layout {
                what: "dtb",
                source,
            })?;
        let plan = layout.finish().map_err(|source| Error::Layout {
            what: "plan",
            source,
        })?;
        Ok(Trial {
            plan,
            bootargs,
            kernel: placed,
            format,
            rootfs: rootfs_region,
            rootfs_len,
            initrd,
            regions: placed_regions,
            firmware,
        })
    }
}

/// A checked trial boot, ready for `kexec_load`.
#[derive(Debug, Clone)]
pub struct Trial {
    plan: LoadPlan,
    bootargs: String,
    kernel: PlacedKernel,
    format: kernel_image::Format,
    rootfs: Range,
    rootfs_len: u64,
    initrd: Option<Range>,
    regions: Vec<(String, PlacedRegion)>,
    firmware: Option<FirmwareInfo>,
}

impl Trial {
    /// The next kernel's command line.
    pub fn bootargs(&self) -> &str {
        &self.bootargs
    }

    /// The reserved region holding the root file system (its size a
    /// multiple of [`SIZE_GRANULE`]).
    pub fn rootfs_region(&self) -> Range {
        self.rootfs
    }

    /// The other phram regions ([`TrialBoot::with_region`]): name and
    /// place, in the order added.
    pub fn regions(&self) -> &[(String, PlacedRegion)] {
        &self.regions
    }

    /// Where the initrd went.
    pub fn initrd(&self) -> Option<Range> {
        self.initrd
    }

    /// Where the kernel went.
    pub fn kernel(&self) -> PlacedKernel {
        self.kernel
    }

    /// The segments to load.
    pub fn plan(&self) -> &LoadPlan {
        &self.plan
    }

    /// The plan in lines, for `--dry-run` and logs: where each part came
    /// from and went, the command line, the segments.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(fw) = &self.firmware {
            out.push(format!(
                "firmware: uImage '{}' ({} bytes, {}), squashfs at {:#x}",
                fw.name, fw.uimage_len, fw.compression, fw.rootfs_offset
            ));
            if let Some(at) = fw.zeroed_dtb {
                out.push(format!(
                    "kernel: zeroed the DTB appended at offset {at:#x}, so the kernel takes the edited tree"
                ));
            }
        }
        out.push(format!(
            "kernel: {} ({}), entry {:#x}, at {}",
            self.format.name(),
            self.plan.arch.name(),
            self.kernel.entry,
            self.kernel.footprint
        ));
        out.push(format!(
            "rootfs: squashfs, {} bytes at {:#x} (region {:#x})",
            self.rootfs_len,
            self.rootfs.start,
            self.rootfs.len()
        ));
        for (name, r) in &self.regions {
            out.push(format!(
                "phram {name}: {} bytes at {:#x} (region {:#x}, /reserved-memory compatible \"phram\")",
                r.data_len,
                r.range.start,
                r.range.len()
            ));
        }
        if let Some(r) = self.initrd {
            out.push(format!("initrd: at {r}"));
        }
        out.push(format!("bootargs: {}", self.bootargs));
        out.extend(self.plan.describe());
        out
    }

    /// `kexec_load` the plan; [`crate::exec`] boots it.
    ///
    /// Errors: [`sys::Error`].
    pub fn load(&self) -> Result<(), sys::Error> {
        self.plan.load()
    }
}
