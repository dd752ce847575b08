//! Placing segments in physical memory, checked before anything is loaded.

use crate::arch::Arch;
use crate::image::{KernelImage, Placement, ARM64_BASE_ALIGN};
use crate::memory::{MemoryMap, Range};
use crate::sys::{self, KEXEC_SEGMENT_MAX};
use crate::trampoline::arm64_trampoline;

/// Why a segment cannot be placed, or a layout not finished.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment does not start on a page boundary.
    #[error("kexec: {name} at {address:#x} is not aligned to the page size {page_size:#x}")]
    Misaligned {
        /// The segment.
        name: String,
        /// Its address.
        address: u64,
        /// The page size.
        page_size: u64,
    },
    /// A segment is not inside one RAM range.
    #[error("kexec: {name} at {range} is outside RAM")]
    OutsideRam {
        /// The segment.
        name: String,
        /// Where it would go.
        range: Range,
    },
    /// Two segments overlap.
    #[error("kexec: {name} at {range} overlaps {other} at {other_range}")]
    Overlap {
        /// The segment being added.
        name: String,
        /// Where it would go.
        range: Range,
        /// The segment in the way.
        other: String,
        /// Where that one is.
        other_range: Range,
    },
    /// No free RAM fits a segment.
    #[error("kexec: no free RAM for {name}: {size} bytes aligned to {align:#x}")]
    NoRoom {
        /// The segment.
        name: String,
        /// Bytes needed.
        size: u64,
        /// Alignment wanted.
        align: u64,
    },
    /// Something is larger than RAM (or than its limit).
    #[error("kexec: {what} is {size} bytes, more than RAM ({ram} bytes)")]
    TooBig {
        /// What.
        what: String,
        /// Its size.
        size: u64,
        /// The RAM (or limit).
        ram: u64,
    },
    /// A kernel part reaches past the top of the address space.
    #[error("kexec: kernel part at {address:#x} reaches past the top of memory")]
    AddressOverflow {
        /// Its address.
        address: u64,
    },
    /// More segments than `kexec_load` takes.
    #[error("kexec: {0} segments, the kernel takes at most 16")]
    TooManySegments(usize),
    /// A kernel for another architecture than the layout's.
    #[error("kexec: a {kernel} kernel cannot be loaded on {layout}")]
    WrongArch {
        /// The kernel's.
        kernel: Arch,
        /// The layout's (the running system's).
        layout: Arch,
    },
    /// A second kernel.
    #[error("kexec: a kernel is in the layout already")]
    SecondKernel,
    /// A second DTB.
    #[error("kexec: a DTB is in the layout already")]
    SecondDtb,
    /// A DTB that does not start with the FDT magic.
    #[error("kexec: the DTB starts with {found:#010x}, not the FDT magic 0xd00dfeed")]
    NotADtb {
        /// Its first word.
        found: u32,
    },
    /// [`Layout::finish`] without a kernel.
    #[error("kexec: no kernel in the layout")]
    NoKernel,
    /// An arm64 layout without a DTB.
    #[error("kexec: an arm64 kernel needs a DTB")]
    NoDtb,
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One piece of the next system, copied to `address` at exec time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// What it is, for messages (`kernel`, `initrd`, `dtb`, `rootfs`...).
    pub name: String,
    /// Physical destination (page aligned).
    pub address: u64,
    /// The bytes.
    pub data: Vec<u8>,
    /// Bytes reserved at the destination (page multiple, ≥ `data.len()`);
    /// the kernel zeroes the rest.
    pub mem_size: u64,
}

impl Segment {
    /// The destination range.
    pub fn range(&self) -> Range {
        Range::at(self.address, self.mem_size)
    }
}

/// Where the kernel went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedKernel {
    /// Physical entry address.
    pub entry: u64,
    /// Everything the kernel occupies (with `.bss` or decompression room).
    pub footprint: Range,
}

/// The default highest end address for flexible placements on `arch`:
/// what the next kernel reaches directly at boot (KSEG0 on MIPS: 512 MiB;
/// ARM lowmem: 760 MiB above the start of RAM).
fn default_max(arch: Arch, memory: &MemoryMap) -> Option<u64> {
    match arch {
        Arch::Mips | Arch::Mipsel => Some(0x2000_0000),
        Arch::Arm => memory.ram.first().map(|r| r.start + (760 << 20)),
        _ => None,
    }
}

/// Where flexible placements may start. On MIPS the first megabyte holds
/// the exception vectors the new kernel installs at `ebase` (physical 0 on
/// 32-bit kernels) and, on malta, YAMON's data; a DTB or initrd there
/// would be overwritten before (or while) the kernel reads it.
fn default_min(arch: Arch) -> u64 {
    match arch {
        Arch::Mips | Arch::Mipsel => 0x10_0000,
        _ => 0,
    }
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    v.checked_next_multiple_of(a.max(1))
}

/// The segments of the next system, and where each goes.
///
/// Every method checks before it changes anything: a segment must be page
/// aligned, inside one RAM range, and must not overlap another segment or
/// the kernel's footprint. [`Layout::finish`] adds the arm64 trampoline and
/// gives the [`LoadPlan`] that [`LoadPlan::load`] hands to `kexec_load`.
///
/// Flexible placements ([`Layout::add`], [`Layout::add_initrd`],
/// [`Layout::add_dtb`], [`Layout::find_free`]) take the lowest free address
/// at or above [`Layout::min_address`] and also avoid [`MemoryMap::reserved`]
/// and addresses above [`Layout::max_address`]; fixed ones ([`Layout::add_fixed`] and the
/// kernel) may cover reserved ranges (the running kernel is one).
#[derive(Clone, Debug)]
pub struct Layout {
    arch: Arch,
    memory: MemoryMap,
    page_size: u64,
    max_address: Option<u64>,
    min_address: u64,
    segments: Vec<Segment>,
    /// Claimed ranges: segments, and the kernel's whole footprint.
    claims: Vec<(Range, String)>,
    kernel: Option<PlacedKernel>,
    dtb: Option<u64>,
}

impl Layout {
    /// An empty layout for a kernel of `arch` in `memory`, with 4 KiB pages
    /// (see [`Layout::with_page_size`]) and the arch's default
    /// [`max_address`](Layout::max_address).
    pub fn new(arch: Arch, memory: MemoryMap) -> Layout {
        Layout {
            arch,
            max_address: default_max(arch, &memory),
            min_address: default_min(arch),
            memory,
            page_size: 4096,
            segments: Vec::new(),
            claims: Vec::new(),
            kernel: None,
            dtb: None,
        }
    }

    /// Use the running kernel's page size (`sys::page_size()`); segments
    /// are aligned to it. Must be a power of two.
    pub fn with_page_size(mut self, page_size: u64) -> Layout {
        if page_size.is_power_of_two() {
            self.page_size = page_size;
        }
        self
    }

    /// Flexible placements start at or above this address (default: 1 MiB
    /// on MIPS, where the first megabyte holds the exception vectors; 0
    /// elsewhere).
    pub fn set_min_address(&mut self, min: u64) {
        self.min_address = min;
    }

    /// See [`Layout::set_min_address`].
    pub fn min_address(&self) -> u64 {
        self.min_address
    }

    /// Flexible placements end at or below this address (`None`: anywhere).
    pub fn set_max_address(&mut self, max: Option<u64>) {
        self.max_address = max;
    }

    /// The limit for flexible placements.
    pub fn max_address(&self) -> Option<u64> {
        self.max_address
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The memory map.
    pub fn memory(&self) -> &MemoryMap {
        &self.memory
    }

    /// The page size segments are aligned to.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The segments so far, in the order added.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The kernel, once added.
    pub fn kernel(&self) -> Option<PlacedKernel> {
        self.kernel
    }

    /// The DTB's address, once added.
    pub fn dtb_address(&self) -> Option<u64> {
        self.dtb
    }

    fn round(&self, len: u64) -> Result<u64> {
        align_up(len.max(1), self.page_size).ok_or(Error::TooBig {
            what: "segment".into(),
            size: len,
            ram: self.memory.total_ram(),
        })
    }

    /// Check that `range` (named `name`) may be claimed.
    fn check(&self, name: &str, range: Range) -> Result<()> {
        if !range.start.is_multiple_of(self.page_size) {
            return Err(Error::Misaligned {
                name: name.to_owned(),
                address: range.start,
                page_size: self.page_size,
            });
        }
        if !self.memory.in_ram(&range) {
            return Err(Error::OutsideRam {
                name: name.to_owned(),
                range,
            });
        }
        if let Some((other, what)) = self.claims.iter().find(|(r, _)| r.overlaps(&range)) {
            return Err(Error::Overlap {
                name: name.to_owned(),
                range,
                other: what.clone(),
                other_range: *other,
            });
        }
        Ok(())
    }

    fn push(&mut self, name: &str, address: u64, data: Vec<u8>, mem_size: u64) {
        let seg = Segment {
            name: name.to_owned(),
            address,
            data,
            mem_size,
        };
        self.claims.push((seg.range(), name.to_owned()));
        self.segments.push(seg);
    }

    /// Add the kernel where it must go: an ELF's parts at their physical
    /// addresses, a zImage or arm64 Image at the lowest suitable base.
    ///
    /// Errors: [`Error::WrongArch`], [`Error::SecondKernel`], [`Error::TooBig`] if it is larger than RAM,
    /// [`Error::OutsideRam`]/[`Error::Overlap`]/[`Error::NoRoom`].
    pub fn add_kernel(&mut self, image: &KernelImage) -> Result<PlacedKernel> {
        self.take_kernel(image.clone())
    }

    /// [`add_kernel`](Layout::add_kernel), moving the image's bytes into
    /// the layout instead of copying them (a kernel is megabytes; on a
    /// router with 64 MiB that matters).
    pub fn take_kernel(&mut self, image: KernelImage) -> Result<PlacedKernel> {
        if image.arch != self.arch {
            return Err(Error::WrongArch {
                kernel: image.arch,
                layout: self.arch,
            });
        }
        if self.kernel.is_some() {
            return Err(Error::SecondKernel);
        }
        let ram = self.memory.total_ram();
        if image.footprint() > ram {
            return Err(Error::TooBig {
                what: format!("kernel ({})", image.format.name()),
                size: image.footprint(),
                ram,
            });
        }
        let placed = match image.placement {
            Placement::Fixed { parts, entry } => {
                let mut ranges = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    let name = format!("kernel part {i}");
                    let start = p.address - p.address % self.page_size;
                    let end = p
                        .address
                        .checked_add(p.mem_size)
                        .and_then(|e| align_up(e, self.page_size))
                        .ok_or(Error::AddressOverflow { address: p.address })?;
                    let r = Range::new(start, end);
                    self.check(&name, r)?;
                    if let Some(prev) = ranges.iter().find(|q: &&Range| q.overlaps(&r)) {
                        return Err(Error::Overlap {
                            name,
                            range: r,
                            other: "another kernel part".into(),
                            other_range: *prev,
                        });
                    }
                    ranges.push(r);
                }
                for (i, (p, r)) in parts.into_iter().zip(&ranges).enumerate() {
                    // Pad the front so the segment starts on a page.
                    let lead = (p.address - r.start) as usize;
                    let data = if lead == 0 {
                        p.data
                    } else {
                        let mut d = vec![0u8; lead];
                        d.extend_from_slice(&p.data);
                        d
                    };
                    self.push(&format!("kernel part {i}"), r.start, data, r.len());
                }
                let start = ranges.iter().map(|r| r.start).min().unwrap_or(0);
                let end = ranges.iter().map(|r| r.end).max().unwrap_or(0);
                PlacedKernel {
                    entry,
                    footprint: Range::new(start, end),
                }
            }
            Placement::Relocatable {
                data,
                offset,
                base_align,
                footprint,
            } => {
                let need = self.round(footprint)?;
                let mut found = None;
                let want = |load: u64| Range::new(load - offset, load + need);
                'ranges: for r in &self.memory.ram {
                    let Some(mut base) = align_up(r.start, base_align) else {
                        continue;
                    };
                    loop {
                        let Some(load) = base.checked_add(offset) else {
                            continue 'ranges;
                        };
                        let fp = want(load);
                        if fp.end > r.end {
                            continue 'ranges;
                        }
                        match self.claims.iter().find(|(c, _)| c.overlaps(&fp)) {
                            None => {
                                found = Some(load);
                                break 'ranges;
                            }
                            Some((c, _)) => match align_up(c.end, base_align) {
                                Some(b) if b > base => base = b,
                                _ => continue 'ranges,
                            },
                        }
                    }
                }
                let load = found.ok_or_else(|| Error::NoRoom {
                    name: "kernel".into(),
                    size: need,
                    align: base_align,
                })?;
                if !load.is_multiple_of(self.page_size) {
                    return Err(Error::Misaligned {
                        name: "kernel".into(),
                        address: load,
                        page_size: self.page_size,
                    });
                }
                let seg_len = self.round(data.len() as u64)?;
                // The kernel also owns what lies between the aligned base
                // and its load address (ARM keeps its first page tables
                // there).
                let fp = Range::new(load - offset, load + need);
                self.push("kernel", load, data, seg_len);
                if offset > 0 {
                    self.claims
                        .push((Range::new(fp.start, load), "kernel (below text)".into()));
                }
                if need > seg_len {
                    self.claims.push((
                        Range::new(load + seg_len, fp.end),
                        "kernel (bss/decompression)".into(),
                    ));
                }
                PlacedKernel {
                    entry: load,
                    footprint: fp,
                }
            }
        };
        self.kernel = Some(placed);
        Ok(placed)
    }

    /// The lowest address aligned to `align` (and to the page size) where
    /// `size` bytes fit in RAM without touching a segment, the kernel's
    /// footprint or a reserved range, ending at or below
    /// [`max_address`](Layout::max_address). Changes nothing.
    ///
    /// Error: [`Error::NoRoom`].
    pub fn find_free(&self, size: u64, align: u64) -> Result<u64> {
        let align = align.max(self.page_size);
        let size = self.round(size)?;
        let no_room = Error::NoRoom {
            name: "region".into(),
            size,
            align,
        };
        if !align.is_power_of_two() {
            return Err(no_room);
        }
        for r in &self.memory.ram {
            let Some(mut a) = align_up(r.start.max(self.min_address), align) else {
                continue;
            };
            loop {
                let cand = Range::at(a, size);
                if cand.end > r.end || self.max_address.is_some_and(|m| cand.end > m) {
                    break;
                }
                let blocker = self
                    .claims
                    .iter()
                    .map(|(c, _)| c)
                    .chain(&self.memory.reserved)
                    .filter(|c| c.overlaps(&cand))
                    .map(|c| c.end)
                    .max();
                match blocker {
                    None => return Ok(a),
                    Some(end) => match align_up(end, align) {
                        Some(n) if n > a => a = n,
                        _ => break,
                    },
                }
            }
        }
        Err(no_room)
    }

    /// Like [`find_free`](Layout::find_free), but the *highest* such
    /// address: the top of RAM (below [`max_address`](Layout::max_address))
    /// is the farthest from the new kernel and its early allocations, the
    /// place for a region the new system keeps (a phram root file system).
    /// Changes nothing.
    ///
    /// Error: [`Error::NoRoom`].
    pub fn find_free_top(&self, size: u64, align: u64) -> Result<u64> {
        let align = align.max(self.page_size);
        let size = self.round(size)?;
        let no_room = Error::NoRoom {
            name: "region".into(),
            size,
            align,
        };
        if !align.is_power_of_two() {
            return Err(no_room);
        }
        for r in self.memory.ram.iter().rev() {
            let end = self.max_address.map_or(r.end, |m| m.min(r.end));
            let floor = r.start.max(self.min_address);
            let Some(mut a) = end.checked_sub(size).map(|a| a - a % align) else {
                continue;
            };
            while a >= floor {
                let cand = Range::at(a, size);
                let blocker = self
                    .claims
                    .iter()
                    .map(|(c, _)| c)
                    .chain(&self.memory.reserved)
                    .filter(|c| c.overlaps(&cand))
                    .map(|c| c.start)
                    .min();
                match blocker {
                    None => return Ok(a),
                    // Jump below the lowest obstacle.
                    Some(start) => match start.checked_sub(size) {
                        Some(n) if n - n % align < a => a = n - n % align,
                        _ => break,
                    },
                }
            }
        }
        Err(no_room)
    }

    /// Add `data` at the fixed physical `address` (page aligned), e.g. a
    /// root file system at an address from [`Layout::find_free`]. Returns
    /// the range it occupies (size rounded up to pages).
    ///
    /// Errors: [`Error::Misaligned`], [`Error::OutsideRam`],
    /// [`Error::Overlap`].
    pub fn add_fixed(&mut self, name: &str, address: u64, data: Vec<u8>) -> Result<Range> {
        let mem = self.round(data.len() as u64)?;
        let range = Range::at(address, mem);
        self.check(name, range)?;
        self.push(name, address, data, mem);
        Ok(range)
    }

    /// Add `data` at the lowest free address aligned to `align` (see
    /// [`Layout::find_free`]); returns the address.
    pub fn add(&mut self, name: &str, data: Vec<u8>, align: u64) -> Result<u64> {
        let a = self
            .find_free(data.len() as u64, align)
            .map_err(|e| match e {
                Error::NoRoom { size, align, .. } => Error::NoRoom {
                    name: name.to_owned(),
                    size,
                    align,
                },
                e => e,
            })?;
        self.add_fixed(name, a, data)?;
        Ok(a)
    }

    /// Add an initrd; returns its exact range (`start..start + len`) for
    /// [`Fdt::set_initrd`](crate::dtb::Fdt::set_initrd).
    pub fn add_initrd(&mut self, data: Vec<u8>) -> Result<Range> {
        let len = data.len() as u64;
        let a = self.add("initrd", data, self.page_size)?;
        Ok(Range::at(a, len))
    }

    /// Add the device tree blob (it must start with the FDT magic: ARM and
    /// MIPS kernels find it among the segments by that). On arm64 it is
    /// placed 2 MiB aligned (the boot protocol forbids crossing a 2 MiB
    /// boundary) and must be at most 2 MiB. Returns its address.
    pub fn add_dtb(&mut self, blob: Vec<u8>) -> Result<u64> {
        if !blob.starts_with(&[0xd0, 0x0d, 0xfe, 0xed]) {
            return Err(Error::NotADtb {
                found: u32::from_be_bytes([0, 1, 2, 3].map(|i| blob.get(i).copied().unwrap_or(0))),
            });
        }
        if self.dtb.is_some() {
            return Err(Error::SecondDtb);
        }
        let align = if self.arch == Arch::Aarch64 {
            if blob.len() as u64 > ARM64_BASE_ALIGN {
                return Err(Error::TooBig {
                    what: "arm64 DTB (limit 2 MiB)".into(),
                    size: blob.len() as u64,
                    ram: ARM64_BASE_ALIGN,
                });
            }
            ARM64_BASE_ALIGN
        } else {
            self.page_size
        };
        let a = self.add("dtb", blob, align)?;
        self.dtb = Some(a);
        Ok(a)
    }

    /// Finish: on arm64 add the entry trampoline (which needs the DTB),
    /// check the segment count and sizes, and sort segments by address.
    ///
    /// Errors: [`Error::NoKernel`], [`Error::NoDtb`] on arm64,
    /// [`Error::TooManySegments`], and the placement errors.
    pub fn finish(mut self) -> Result<LoadPlan> {
        let kernel = self.kernel.ok_or(Error::NoKernel)?;
        let entry = if self.arch == Arch::Aarch64 {
            let dtb = self.dtb.ok_or(Error::NoDtb)?;
            let code = arm64_trampoline(dtb, kernel.entry, cfg!(target_endian = "big"));
            self.add("trampoline", code, self.page_size)?
        } else {
            kernel.entry
        };
        if self.segments.len() > KEXEC_SEGMENT_MAX {
            return Err(Error::TooManySegments(self.segments.len()));
        }
        let total: u64 = self.segments.iter().map(|s| s.mem_size).sum();
        let ram = self.memory.total_ram();
        if total > ram {
            return Err(Error::TooBig {
                what: "all segments".into(),
                size: total,
                ram,
            });
        }
        self.segments.sort_by_key(|s| s.address);
        Ok(LoadPlan {
            arch: self.arch,
            entry,
            segments: self.segments,
        })
    }
}

/// A checked image, ready for `kexec_load`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// The kernel's architecture (gives the `KEXEC_ARCH_*` flag).
    pub arch: Arch,
    /// Physical entry address (the trampoline on arm64).
    pub entry: u64,
    /// Segments sorted by address, not overlapping.
    pub segments: Vec<Segment>,
}

impl LoadPlan {
    /// Load it: `kexec_load(entry, segments, KEXEC_ARCH_<arch>)`. Run it
    /// with [`exec`](crate::exec).
    ///
    /// Errors: [`sys::Error`] (the call's errno, with a likely cause).
    pub fn load(&self) -> Result<(), sys::Error> {
        kexec_load(self.entry, &self.segments, self.arch.kexec_arch_flag())
    }

    /// One line per segment (`name address-end size`), for logs.
    pub fn describe(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|s| format!("{:<12} {} ({} bytes)", s.name, s.range(), s.data.len()))
            .collect()
    }
}

/// `kexec_load(entry, segments, flags)`: load an image to run on the next
/// [`exec`](crate::exec). `flags` is a `KEXEC_ARCH_*` value
/// ([`Arch::kexec_arch_flag`]) or 0, plus `KEXEC_ON_CRASH` or
/// `KEXEC_PRESERVE_CONTEXT` if wanted. [`LoadPlan::load`] calls it with
/// checked segments; called directly, nothing is checked but the
/// segments' addresses fitting this system's word size.
///
/// Errors: [`sys::Error`].
pub fn kexec_load(entry: u64, segments: &[Segment], flags: u32) -> Result<(), sys::Error> {
    let raw: Vec<sys::RawSegment<'_>> = segments
        .iter()
        .map(|s| sys::RawSegment {
            data: &s.data,
            address: s.address,
            mem_size: s.mem_size,
        })
        .collect();
    sys::kexec_load(entry, &raw, flags)
}
