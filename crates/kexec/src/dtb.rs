//! Read, edit and write flattened device trees (DTB blobs).
//!
//! [`Fdt::parse`] turns a blob into an owned tree of [`Node`]s whose
//! properties are raw big-endian bytes, keeping the memory reservation
//! block and `boot_cpuid_phys`; [`Fdt::to_bytes`] writes a version 17 blob
//! that `dtc` and the kernel read. In between, the edits a kexec needs:
//! [`Fdt::set_bootargs`], [`Fdt::set_initrd`], [`Fdt::set_rng_seed`],
//! [`Fdt::set_kaslr_seed`] and [`Fdt::add_reserved_memory`], all honouring
//! `#address-cells`/`#size-cells`.
//!
//! Cell arithmetic uses `to_be_bytes`/`from_be_bytes` only, so it is the
//! same on big- and little-endian hosts. Malformed input gives an
//! [`Error`], never a panic.
//!
//! ```
//! use kexec::dtb::{Fdt, ReservedRegion};
//!
//! let mut fdt = Fdt::new();
//! fdt.set_bootargs("console=ttyS0 root=/dev/mtdblock0")?;
//! fdt.add_reserved_memory(&ReservedRegion {
//!     name: "phram".into(),
//!     address: 0x0400_0000,
//!     size: 0x0060_0000,
//!     compatible: Some("phram".into()),
//!     no_map: true,
//! })?;
//! let blob = fdt.to_bytes();
//!
//! let back = Fdt::parse(&blob)?;
//! assert_eq!(back.bootargs()?.as_deref(), Some("console=ttyS0 root=/dev/mtdblock0"));
//! assert_eq!(back.reg("/reserved-memory/phram@4000000")?, vec![(0x0400_0000, 0x0060_0000)]);
//! # Ok::<(), kexec::dtb::Error>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod tokens;

/// The running kernel's device tree.
pub const SYSFS_FDT: &str = "/sys/firmware/fdt";

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_END: u32 = 9;
const HEADER_LEN: usize = 40;
/// The longest node name (with unit address) fdt-rs 0.4 reads: its
/// `MAX_NODE_NAME_LEN` (31) less one, less the NUL.
pub const MAX_NODE_NAME: usize = 29;
/// Nesting deeper than this is refused (real trees are under 10 deep).
const MAX_DEPTH: usize = 64;

/// Errors of the DTB parser and editor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a blob from a file failed.
    #[error("dtb: cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The blob is shorter than its header says.
    #[error("dtb: truncated: {what} needs {need} bytes, the blob has {have}")]
    Truncated {
        /// Which part is cut off.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        have: usize,
    },
    /// The blob does not start with 0xd00dfeed.
    #[error("dtb: bad magic {0:#010x} (a DTB starts with 0xd00dfeed)")]
    BadMagic(u32),
    /// The header's version is older than 16 or newer layouts are required.
    #[error("dtb: unsupported version {version} (last compatible {last_comp}); need 16 or 17")]
    Version {
        /// The header's `version`.
        version: u32,
        /// The header's `last_comp_version`.
        last_comp: u32,
    },
    /// The blob's blocks or tokens are inconsistent.
    #[error("dtb: malformed: {0}")]
    Malformed(String),
    /// A node path does not exist.
    #[error("dtb: no node {0}")]
    NoNode(String),
    /// A node path is not absolute or has an empty component.
    #[error("dtb: bad node path {0:?} (want /a/b@1)")]
    BadPath(String),
    /// A node to add exists already.
    #[error("dtb: node {0} exists already")]
    Exists(String),
    /// A property's value is not what its reader expects.
    #[error("dtb: property {node}:{prop}: {problem}")]
    BadProperty {
        /// The node path.
        node: String,
        /// The property name.
        prop: String,
        /// What is wrong.
        problem: String,
    },
    /// A number does not fit the cells it must be written in.
    #[error("dtb: {what} {value:#x} does not fit in {cells} cell(s)")]
    TooBig {
        /// What the number is.
        what: String,
        /// The number.
        value: u64,
        /// The cell count.
        cells: u32,
    },
    /// `#address-cells`/`#size-cells` other than 1 or 2.
    #[error("dtb: {node} has {prop} = {cells}; only 1 and 2 are supported")]
    Cells {
        /// The node path.
        node: String,
        /// `#address-cells` or `#size-cells`.
        prop: &'static str,
        /// The value found.
        cells: u32,
    },
    /// An argument is invalid (e.g. initrd end before start).
    #[error("dtb: {0}")]
    Invalid(String),
}

/// Shorthand for results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry of the memory reservation block (`/memreserve/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReserveEntry {
    /// Physical start address.
    pub address: u64,
    /// Length in bytes.
    pub size: u64,
}

/// A property: a name and its raw (big-endian) value bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// The property's name, e.g. `bootargs`.
    pub name: String,
    /// The value exactly as in the blob.
    pub value: Vec<u8>,
}

impl Property {
    /// The value as one NUL-terminated string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        let (last, body) = self.value.split_last()?;
        if *last != 0 || body.contains(&0) {
            return None;
        }
        std::str::from_utf8(body).ok()
    }

    /// The value as a string list (`compatible = "a", "b"`), if it is one.
    pub fn as_strings(&self) -> Option<Vec<&str>> {
        let body = self.value.strip_suffix(&[0])?;
        body.split(|b| *b == 0)
            .map(|s| std::str::from_utf8(s).ok())
            .collect()
    }

    /// The value as one 32-bit cell.
    pub fn as_u32(&self) -> Option<u32> {
        Some(u32::from_be_bytes(self.value.as_slice().try_into().ok()?))
    }

    /// The value as a 64-bit number (two cells), or one cell widened.
    pub fn as_u64(&self) -> Option<u64> {
        match self.value.len() {
            4 => self.as_u32().map(u64::from),
            8 => Some(u64::from_be_bytes(self.value.as_slice().try_into().ok()?)),
            _ => None,
        }
    }
}

/// A node: name (with unit address), properties and children in order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Node {
    /// `name@unit-address`; the root's name is empty.
    pub name: String,
    /// Properties in blob order.
    pub props: Vec<Property>,
    /// Child nodes in blob order.
    pub children: Vec<Node>,
}

impl Node {
    /// A node with no properties or children.
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: name.into(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The property called `name`.
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Set (replace, or append) the property `name`.
    pub fn set_prop(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.props.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = value,
            None => self.props.push(Property {
                name: name.to_owned(),
                value,
            }),
        }
    }

    /// Remove the property `name`; returns it if it was there.
    pub fn remove_prop(&mut self, name: &str) -> Option<Property> {
        let i = self.props.iter().position(|p| p.name == name)?;
        Some(self.props.remove(i))
    }

    /// The child called exactly `name` (with its unit address, if any).
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The child called exactly `name`, mutable.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// The child `name`, appended empty if missing.
    pub fn child_or_insert(&mut self, name: &str) -> &mut Node {
        let i = match self.children.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.children.push(Node::new(name));
                self.children.len() - 1
            }
        };
        &mut self.children[i]
    }

    /// `#address-cells`/`#size-cells` for this node's children (defaults 2
    /// and 1, as the Devicetree specification says).
    fn cells(&self, path: &str) -> Result<(u32, u32)> {
        let get = |prop: &'static str, default: u32| -> Result<u32> {
            let cells = match self.prop(prop) {
                None => default,
                Some(p) => p.as_u32().ok_or_else(|| Error::BadProperty {
                    node: path.to_owned(),
                    prop: prop.to_owned(),
                    problem: format!("{} bytes, want one cell", p.value.len()),
                })?,
            };
            if cells == 1 || cells == 2 {
                Ok(cells)
            } else {
                Err(Error::Cells {
                    node: path.to_owned(),
                    prop,
                    cells,
                })
            }
        };
        Ok((get("#address-cells", 2)?, get("#size-cells", 1)?))
    }
}

/// A region to add under `/reserved-memory`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedRegion {
    /// Node name without unit address, e.g. `phram`.
    pub name: String,
    /// Physical start address.
    pub address: u64,
    /// Length in bytes.
    pub size: u64,
    /// Optional `compatible` string, e.g. `phram`.
    pub compatible: Option<String>,
    /// Add `no-map` (the kernel does not map the region).
    pub no_map: bool,
}

/// A whole device tree: header fields we keep, reservations and nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fdt {
    /// The header's `boot_cpuid_phys`, kept on output.
    pub boot_cpuid_phys: u32,
    /// The memory reservation block, in order (terminator not included).
    pub reserve: Vec<ReserveEntry>,
    /// The root node (name empty).
    pub root: Node,
}

impl Default for Fdt {
    fn default() -> Self {
        Self::new()
    }
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn be64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_be_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// `value` as `cells` big-endian cells.
fn encode_cells(value: u64, cells: u32, what: &str) -> Result<Vec<u8>> {
    match cells {
        1 => u32::try_from(value)
            .map(|v| v.to_be_bytes().to_vec())
            .map_err(|_| Error::TooBig {
                what: what.to_owned(),
                value,
                cells,
            }),
        _ => Ok(value.to_be_bytes().to_vec()),
    }
}

fn split_path(path: &str) -> Result<Vec<&str>> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| Error::BadPath(path.to_owned()))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::BadPath(path.to_owned()));
    }
    Ok(parts)
}

impl Fdt {
    /// An empty tree: a root with `#address-cells = <2>`, `#size-cells =
    /// <1>` (the specification's defaults) and nothing else.
    pub fn new() -> Self {
        let mut root = Node::new("");
        root.set_prop("#address-cells", 2u32.to_be_bytes());
        root.set_prop("#size-cells", 1u32.to_be_bytes());
        Fdt {
            boot_cpuid_phys: 0,
            reserve: Vec::new(),
            root,
        }
    }

    /// Read and parse a blob from a file, e.g. [`SYSFS_FDT`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let blob = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&blob)
    }

    /// Parse a blob (version 16 or 17). Bytes after `totalsize` are
    /// ignored.
    pub fn parse(blob: &[u8]) -> Result<Self> {
        let field = |i: usize| be32(blob, i * 4);
        let Some(magic) = field(0) else {
            return Err(Error::Truncated {
                what: "header",
                need: HEADER_LEN,
                have: blob.len(),
            });
        };
        if magic != FDT_MAGIC {
            return Err(Error::BadMagic(magic));
        }
        let (
            Some(total),
            Some(off_struct),
            Some(off_strings),
            Some(off_rsv),
            Some(version),
            Some(last_comp),
            Some(cpu),
            Some(size_strings),
        ) = (
            field(1),
            field(2),
            field(3),
            field(4),
            field(5),
            field(6),
            field(7),
            field(8),
        )
        else {
            return Err(Error::Truncated {
                what: "header",
                need: HEADER_LEN,
                have: blob.len(),
            });
        };
        if version < 16 || last_comp > 17 {
            return Err(Error::Version { version, last_comp });
        }
        let total = total as usize;
        let blob = blob.get(..total).ok_or(Error::Truncated {
            what: "totalsize",
            need: total,
            have: blob.len(),
        })?;
        let size_struct = if version >= 17 {
            field(9).ok_or(Error::Truncated {
                what: "header",
                need: HEADER_LEN,
                have: blob.len(),
            })? as usize
        } else {
            total.saturating_sub(off_struct as usize)
        };
        let block = |what: &'static str, off: u32, len: usize| -> Result<std::ops::Range<usize>> {
            let start = off as usize;
            let end = start
                .checked_add(len)
                .filter(|e| *e <= total)
                .ok_or(Error::Truncated {
                    what,
                    need: start.saturating_add(len),
                    have: total,
                })?;
            Ok(start..end)
        };
        let structs = block("structure block", off_struct, size_struct)?;
        let strings = &blob[block("strings block", off_strings, size_strings as usize)?];
        if structs.start % 4 != 0 || off_rsv % 8 != 0 || (off_rsv as usize) < HEADER_LEN.min(total)
        {
            return Err(Error::Malformed("misaligned block offsets".into()));
        }

        let mut reserve = Vec::new();
        let mut off = off_rsv as usize;
        loop {
            let (Some(address), Some(size)) = (be64(blob, off), be64(blob, off + 8)) else {
                return Err(Error::Truncated {
                    what: "memory reservation block",
                    need: off + 16,
                    have: total,
                });
            };
            if address == 0 && size == 0 {
                break;
            }
            reserve.push(ReserveEntry { address, size });
            off += 16;
        }

        let name_at = |off: usize| -> Result<String> {
            let tail = strings.get(off..).ok_or_else(|| {
                Error::Malformed(format!(
                    "property name offset {off} outside the strings block"
                ))
            })?;
            let len = tail
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| Error::Malformed("unterminated property name".into()))?;
            String::from_utf8(tail[..len].to_vec())
                .map_err(|_| Error::Malformed("property name is not UTF-8".into()))
        };

        let mut stack: Vec<Node> = Vec::new();
        let mut root = None;
        for tok in tokens::tokens(blob, structs.start, structs.end)? {
            if root.is_some() {
                return Err(Error::Malformed("tokens after the root node".into()));
            }
            match tok {
                tokens::Token::Begin(name) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(Error::Malformed(format!(
                            "nodes nested deeper than {MAX_DEPTH}"
                        )));
                    }
                    if stack.is_empty() != name.is_empty() {
                        return Err(Error::Malformed(
                            "the root, and only the root, has an empty name".into(),
                        ));
                    }
                    let name = String::from_utf8(name)
                        .map_err(|_| Error::Malformed("node name is not UTF-8".into()))?;
                    stack.push(Node::new(name));
                }
                tokens::Token::Prop(value, nameoff) => {
                    let node = stack
                        .last_mut()
                        .ok_or_else(|| Error::Malformed("property outside any node".into()))?;
                    node.props.push(Property {
                        name: name_at(nameoff)?,
                        value,
                    });
                }
                tokens::Token::End => {
                    let node = stack
                        .pop()
                        .ok_or_else(|| Error::Malformed("unbalanced FDT_END_NODE".into()))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
            }
        }
        let root = root.ok_or_else(|| Error::Malformed("no complete root node".into()))?;
        Ok(Fdt {
            boot_cpuid_phys: cpu,
            reserve,
            root,
        })
    }

    /// Write a version 17 blob (last compatible version 16).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut strings: Vec<u8> = Vec::new();
        let mut offsets: HashMap<&str, u32> = HashMap::new();
        let mut structure: Vec<u8> = Vec::new();
        write_node(&self.root, &mut structure, &mut strings, &mut offsets);
        structure.extend_from_slice(&FDT_END.to_be_bytes());

        let off_rsv = HEADER_LEN; // a multiple of 8
        let off_struct = off_rsv + 16 * (self.reserve.len() + 1);
        let off_strings = off_struct + structure.len();
        let total = off_strings + strings.len();
        let mut out = Vec::with_capacity(total);
        for v in [
            FDT_MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            off_rsv as u32,
            17,
            16,
            self.boot_cpuid_phys,
            strings.len() as u32,
            structure.len() as u32,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        for r in self.reserve.iter().chain(std::iter::once(&ReserveEntry {
            address: 0,
            size: 0,
        })) {
            out.extend_from_slice(&r.address.to_be_bytes());
            out.extend_from_slice(&r.size.to_be_bytes());
        }
        out.extend_from_slice(&structure);
        out.extend_from_slice(&strings);
        out
    }

    /// The node at `path` (`/`, `/chosen`, `/reserved-memory/phram@4000000`).
    pub fn node(&self, path: &str) -> Result<&Node> {
        let mut node = &self.root;
        for part in split_path(path)? {
            node = node
                .child(part)
                .ok_or_else(|| Error::NoNode(path.to_owned()))?;
        }
        Ok(node)
    }

    /// The node at `path`, mutable.
    pub fn node_mut(&mut self, path: &str) -> Result<&mut Node> {
        let mut node = &mut self.root;
        for part in split_path(path)? {
            node = node
                .child_mut(part)
                .ok_or_else(|| Error::NoNode(path.to_owned()))?;
        }
        Ok(node)
    }

    /// The node at `path`, creating it and any missing parents.
    pub fn node_or_create(&mut self, path: &str) -> Result<&mut Node> {
        let mut node = &mut self.root;
        for part in split_path(path)? {
            node = node.child_or_insert(part);
        }
        Ok(node)
    }

    /// Property `prop` of node `path`.
    pub fn prop(&self, path: &str, prop: &str) -> Result<Option<&Property>> {
        Ok(self.node(path)?.prop(prop))
    }

    fn bad(path: &str, prop: &str, problem: impl Into<String>) -> Error {
        Error::BadProperty {
            node: path.to_owned(),
            prop: prop.to_owned(),
            problem: problem.into(),
        }
    }

    /// Property as a string; `None` if absent, an error if not a string.
    pub fn prop_str(&self, path: &str, prop: &str) -> Result<Option<&str>> {
        match self.prop(path, prop)? {
            None => Ok(None),
            Some(p) => p
                .as_str()
                .map(Some)
                .ok_or_else(|| Self::bad(path, prop, "not a NUL-terminated UTF-8 string")),
        }
    }

    /// Property as one cell; `None` if absent, an error if not 4 bytes.
    pub fn prop_u32(&self, path: &str, prop: &str) -> Result<Option<u32>> {
        match self.prop(path, prop)? {
            None => Ok(None),
            Some(p) => p
                .as_u32()
                .map(Some)
                .ok_or_else(|| Self::bad(path, prop, format!("{} bytes, want 4", p.value.len()))),
        }
    }

    /// Property as a number of one or two cells; `None` if absent.
    pub fn prop_u64(&self, path: &str, prop: &str) -> Result<Option<u64>> {
        match self.prop(path, prop)? {
            None => Ok(None),
            Some(p) => p.as_u64().map(Some).ok_or_else(|| {
                Self::bad(path, prop, format!("{} bytes, want 4 or 8", p.value.len()))
            }),
        }
    }

    /// The root's `#address-cells` and `#size-cells` (defaults 2 and 1).
    pub fn root_cells(&self) -> Result<(u32, u32)> {
        self.root.cells("/")
    }

    /// `reg` of node `path` as (address, size) pairs, decoded with the
    /// parent's `#address-cells`/`#size-cells`.
    pub fn reg(&self, path: &str) -> Result<Vec<(u64, u64)>> {
        let parts = split_path(path)?;
        let parent_path = match parts.split_last() {
            Some((_, init)) if !init.is_empty() => format!("/{}", init.join("/")),
            _ => "/".to_owned(),
        };
        let (ac, sc) = self.node(&parent_path)?.cells(&parent_path)?;
        let value = &self
            .node(path)?
            .prop("reg")
            .ok_or_else(|| Self::bad(path, "reg", "missing"))?
            .value;
        let stride = 4 * (ac + sc) as usize;
        if value.len() % stride != 0 {
            return Err(Self::bad(
                path,
                "reg",
                format!("{} bytes, not a multiple of {stride}", value.len()),
            ));
        }
        let read = |chunk: &[u8]| -> u64 {
            chunk.chunks(4).fold(0u64, |acc, c| {
                (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            })
        };
        Ok(value
            .chunks(stride)
            .map(|pair| {
                let (a, s) = pair.split_at(4 * ac as usize);
                (read(a), read(s))
            })
            .collect())
    }

    /// `/chosen/bootargs`, if set.
    pub fn bootargs(&self) -> Result<Option<String>> {
        match self.node("/chosen") {
            Err(Error::NoNode(_)) => Ok(None),
            Err(e) => Err(e),
            Ok(_) => Ok(self.prop_str("/chosen", "bootargs")?.map(str::to_owned)),
        }
    }

    /// Set or replace `/chosen/bootargs`, creating `/chosen` if missing.
    pub fn set_bootargs(&mut self, args: &str) -> Result<()> {
        if args.contains('\0') {
            return Err(Error::Invalid("bootargs contain a NUL byte".into()));
        }
        let mut value = args.as_bytes().to_vec();
        value.push(0);
        self.node_or_create("/chosen")?.set_prop("bootargs", value);
        Ok(())
    }

    /// Set `linux,initrd-start` and `linux,initrd-end` (end exclusive) in
    /// `/chosen`, in cells of the root's `#address-cells`.
    pub fn set_initrd(&mut self, start: u64, end: u64) -> Result<()> {
        if end < start {
            return Err(Error::Invalid(format!(
                "initrd end {end:#x} is before its start {start:#x}"
            )));
        }
        let (ac, _) = self.root_cells()?;
        let s = encode_cells(start, ac, "linux,initrd-start")?;
        let e = encode_cells(end, ac, "linux,initrd-end")?;
        let chosen = self.node_or_create("/chosen")?;
        chosen.set_prop("linux,initrd-start", s);
        chosen.set_prop("linux,initrd-end", e);
        Ok(())
    }

    /// Set `/chosen/rng-seed` (random bytes the kernel adds to its pool).
    pub fn set_rng_seed(&mut self, seed: &[u8]) -> Result<()> {
        self.node_or_create("/chosen")?.set_prop("rng-seed", seed);
        Ok(())
    }

    /// Set `/chosen/kaslr-seed` (a 64-bit number, two cells).
    pub fn set_kaslr_seed(&mut self, seed: u64) -> Result<()> {
        self.node_or_create("/chosen")?
            .set_prop("kaslr-seed", seed.to_be_bytes());
        Ok(())
    }

    /// Add `/reserved-memory/<name>@<address in hex>` and return its path.
    ///
    /// `/reserved-memory` is created if missing, with the root's
    /// `#address-cells`/`#size-cells` and an empty `ranges`; `reg` is
    /// written with `/reserved-memory`'s cell counts. Fails if the node
    /// exists or the numbers do not fit the cells.
    pub fn add_reserved_memory(&mut self, region: &ReservedRegion) -> Result<String> {
        if region.name.is_empty() || region.name.contains(['/', '@', '\0']) {
            return Err(Error::Invalid(format!(
                "bad reserved-memory node name {:?}",
                region.name
            )));
        }
        if region
            .compatible
            .as_deref()
            .is_some_and(|c| c.contains('\0'))
        {
            return Err(Error::Invalid("compatible contains a NUL byte".into()));
        }
        let (rac, rsc) = self.root_cells()?;
        let parent_path = "/reserved-memory";
        let parent = match self.root.child("reserved-memory") {
            Some(_) => self.node_mut(parent_path)?,
            None => {
                let rm = self.root.child_or_insert("reserved-memory");
                rm.set_prop("#address-cells", rac.to_be_bytes());
                rm.set_prop("#size-cells", rsc.to_be_bytes());
                rm.set_prop("ranges", Vec::new());
                rm
            }
        };
        let (ac, sc) = parent.cells(parent_path)?;
        let unit = format!("{}@{:x}", region.name, region.address);
        let path = format!("{parent_path}/{unit}");
        if unit.len() > MAX_NODE_NAME {
            return Err(Error::Invalid(format!(
                "node name {unit} is longer than {MAX_NODE_NAME} bytes"
            )));
        }
        if parent.child(&unit).is_some() {
            return Err(Error::Exists(path));
        }
        let mut reg = encode_cells(region.address, ac, &format!("{path} address"))?;
        reg.extend(encode_cells(region.size, sc, &format!("{path} size"))?);
        let mut node = Node::new(unit);
        if let Some(c) = &region.compatible {
            let mut v = c.as_bytes().to_vec();
            v.push(0);
            node.set_prop("compatible", v);
        }
        node.set_prop("reg", reg);
        if region.no_map {
            node.set_prop("no-map", Vec::new());
        }
        parent.children.push(node);
        Ok(path)
    }
}

fn write_node<'a>(
    node: &'a Node,
    out: &mut Vec<u8>,
    strings: &mut Vec<u8>,
    offsets: &mut HashMap<&'a str, u32>,
) {
    let pad = |out: &mut Vec<u8>| out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(&FDT_BEGIN_NODE.to_be_bytes());
    out.extend_from_slice(node.name.as_bytes());
    out.push(0);
    pad(out);
    for p in &node.props {
        let nameoff = *offsets.entry(p.name.as_str()).or_insert_with(|| {
            let off = strings.len() as u32;
            strings.extend_from_slice(p.name.as_bytes());
            strings.push(0);
            off
        });
        out.extend_from_slice(&FDT_PROP.to_be_bytes());
        out.extend_from_slice(&(p.value.len() as u32).to_be_bytes());
        out.extend_from_slice(&nameoff.to_be_bytes());
        out.extend_from_slice(&p.value);
        pad(out);
    }
    for c in &node.children {
        write_node(c, out, strings, offsets);
    }
    out.extend_from_slice(&FDT_END_NODE.to_be_bytes());
}

#[cfg(test)]
mod tests;
