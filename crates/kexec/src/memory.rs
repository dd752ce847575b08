//! Physical memory: where RAM is, and what in it must not be overwritten.
//!
//! Two sources: `/proc/iomem` ([`MemoryMap::from_iomem`]) on a running
//! system, and a device tree's `/memory` nodes ([`MemoryMap::from_fdt`]).

use crate::dtb::{self, Fdt};

/// Why the memory map could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of `/proc/iomem` is not `start-end : name`.
    #[error("kexec: /proc/iomem: line {line}: {problem}: {text:?}")]
    IomemLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: &'static str,
        /// The line.
        text: String,
    },
    /// Every address is zero: the reader lacks `CAP_SYS_ADMIN`.
    #[error("kexec: /proc/iomem: all addresses are zero: reading /proc/iomem needs root (CAP_SYS_ADMIN)")]
    IomemHidden,
    /// No `System RAM` entry.
    #[error("kexec: /proc/iomem: no \"System RAM\" entry")]
    IomemNoRam,
    /// Reading `/proc/iomem` failed.
    #[error("kexec: cannot read {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The device tree has no `/memory` node with a `reg`.
    #[error("kexec: the device tree has no /memory node with a reg")]
    NoMemory,
    /// A `reg` in the device tree could not be read.
    #[error(transparent)]
    Dtb(#[from] dtb::Error),
}

impl Error {
    /// Whether this is one of the `/proc/iomem` parse errors.
    pub fn is_iomem(&self) -> bool {
        matches!(
            self,
            Error::IomemLine { .. } | Error::IomemHidden | Error::IomemNoRam
        )
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `/proc/iomem`.
pub const PROC_IOMEM: &str = "/proc/iomem";

/// A half-open physical address range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// `start..end`.
    pub fn new(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    /// `start..start + len` (saturating at the top of the address space).
    pub fn at(start: u64, len: u64) -> Range {
        Range {
            start,
            end: start.saturating_add(len),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside this range.
    pub fn contains(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end.saturating_sub(1))
    }
}

/// RAM ranges and reserved ranges inside them, each sorted and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryMap {
    /// Usable RAM.
    pub ram: Vec<Range>,
    /// Parts of RAM that flexible placements avoid: `reserved` entries
    /// inside `System RAM` in `/proc/iomem`, or a device tree's
    /// `/memreserve/` entries and `/reserved-memory` children.
    pub reserved: Vec<Range>,
}

fn merge(mut v: Vec<Range>) -> Vec<Range> {
    v.retain(|r| !r.is_empty());
    v.sort();
    let mut out: Vec<Range> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

impl MemoryMap {
    /// A map of the given RAM and reserved ranges (sorted and merged).
    pub fn new(ram: Vec<Range>, reserved: Vec<Range>) -> MemoryMap {
        MemoryMap {
            ram: merge(ram),
            reserved: merge(reserved),
        }
    }

    /// Parse `/proc/iomem` text.
    ///
    /// Every `System RAM` entry is RAM, whatever its nesting (some
    /// platforms nest it); entries named `reserved` nested inside RAM are
    /// reserved. Addresses are hexadecimal, up to 64 bits, and the end is
    /// inclusive (converted to exclusive here). Read as an unprivileged
    /// user, the kernel shows zeros: that gives [`Error::IomemHidden`].
    pub fn from_iomem(text: &str) -> Result<MemoryMap> {
        let mut ram = Vec::new();
        let mut reserved = Vec::new();
        let mut in_ram_depth: Option<usize> = None;
        let mut any_nonzero = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |problem: &'static str| Error::IomemLine {
                line: n + 1,
                problem,
                text: line.to_owned(),
            };
            let depth = line.len() - line.trim_start_matches(' ').len();
            let (span, name) = line
                .trim_start()
                .split_once(" : ")
                .ok_or_else(|| bad("no ' : '"))?;
            let (s, e) = span.split_once('-').ok_or_else(|| bad("no start-end"))?;
            let s = u64::from_str_radix(s, 16).map_err(|_| bad("bad start address"))?;
            let e = u64::from_str_radix(e, 16).map_err(|_| bad("bad end address"))?;
            if e < s {
                return Err(bad("end before start"));
            }
            any_nonzero |= e != 0;
            let range = Range::new(s, e.saturating_add(1));
            if in_ram_depth.is_some_and(|d| depth <= d) {
                in_ram_depth = None;
            }
            if name == "System RAM" {
                ram.push(range);
                if in_ram_depth.is_none() {
                    in_ram_depth = Some(depth);
                }
            } else if in_ram_depth.is_some() && name.eq_ignore_ascii_case("reserved") {
                reserved.push(range);
            }
        }
        if !any_nonzero && !text.trim().is_empty() {
            return Err(Error::IomemHidden);
        }
        if ram.is_empty() {
            return Err(Error::IomemNoRam);
        }
        Ok(MemoryMap::new(ram, reserved))
    }

    /// Read and parse [`PROC_IOMEM`].
    pub fn read_iomem() -> Result<MemoryMap> {
        let text = std::fs::read_to_string(PROC_IOMEM).map_err(|source| Error::Io {
            path: PROC_IOMEM.into(),
            source,
        })?;
        Self::from_iomem(&text)
    }

    /// RAM from a device tree: the `reg` of every root child named
    /// `memory` or `memory@…` (or with `device_type = "memory"`), in the
    /// root's `#address-cells`/`#size-cells`; reserved: `/memreserve/`
    /// entries and `reg` of `/reserved-memory` children.
    pub fn from_fdt(fdt: &Fdt) -> Result<MemoryMap> {
        let mut ram = Vec::new();
        for child in &fdt.root.children {
            let is_memory = child.name == "memory"
                || child.name.starts_with("memory@")
                || child
                    .prop("device_type")
                    .and_then(|p| p.as_str())
                    .is_some_and(|t| t == "memory");
            if !is_memory || child.prop("reg").is_none() {
                continue;
            }
            if child
                .prop("status")
                .and_then(|p| p.as_str())
                .is_some_and(|s| s != "okay" && s != "ok")
            {
                continue;
            }
            for (a, s) in fdt.reg(&format!("/{}", child.name))? {
                ram.push(Range::at(a, s));
            }
        }
        if ram.is_empty() {
            return Err(Error::NoMemory);
        }
        let mut reserved: Vec<Range> = fdt
            .reserve
            .iter()
            .map(|r| Range::at(r.address, r.size))
            .collect();
        if let Some(rm) = fdt.root.child("reserved-memory") {
            for c in &rm.children {
                if c.prop("reg").is_some() {
                    for (a, s) in fdt.reg(&format!("/reserved-memory/{}", c.name))? {
                        reserved.push(Range::at(a, s));
                    }
                }
            }
        }
        Ok(MemoryMap::new(ram, reserved))
    }

    /// Total bytes of RAM.
    pub fn total_ram(&self) -> u64 {
        self.ram.iter().map(Range::len).sum()
    }

    /// Whether `r` lies inside one RAM range.
    pub fn in_ram(&self, r: &Range) -> bool {
        self.ram.iter().any(|m| m.contains(r))
    }
}
