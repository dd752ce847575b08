//! phram: a region of physical RAM presented as an MTD device.
//!
//! The kernel's `phram` driver turns `name,start,len[,erasesize]` into an
//! MTD device backed by RAM the kernel does not otherwise use: a crash log
//! that survives a warm reboot, a test flash, an image handed over by the
//! boot loader. The region must be kept out of the kernel's memory, with
//! `memmap=LEN$START` (x86), `mem=` or a DT `reserved-memory` node.
//!
//! [`Phram`] describes one region and renders it in every place it is
//! needed: the `phram.phram=` boot argument ([`Phram::bootarg`]), the value
//! written at run time to `/sys/module/phram/parameters/phram`
//! ([`Phram::param`], [`add`]), the x86 `memmap=` argument that reserves it
//! ([`Phram::memmap`]) and the `reg` cells of a DT `reserved-memory` child
//! with `compatible = "phram"` ([`Phram::dt_reg`]). [`list`] finds the
//! phram devices the kernel has.
//!
//! # Example
//!
//! ```
//! use mtd::phram::Phram;
//!
//! let p: Phram = "crashlog,0x7f00000,1Mi,64ki".parse()?;
//! assert_eq!(p.start, 0x7f0_0000);
//! assert_eq!(p.len, 1 << 20);
//! assert_eq!(p.bootarg(), "phram.phram=crashlog,0x7f00000,0x100000,0x10000");
//! assert_eq!(p.memmap(), "memmap=0x100000$0x7f00000");
//! assert_eq!(p.dt_reg(2, 2), [0, 0x7f0_0000, 0, 0x10_0000]);
//! # Ok::<(), mtd::phram::PhramError>(())
//! ```

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::sysfs::{self, MtdInfo, SysfsError};
use crate::types::MtdType;

/// The run-time parameter file of the phram driver (write-only).
pub const PARAM_PATH: &str = "/sys/module/phram/parameters/phram";

/// One phram region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phram {
    /// The MTD device name (no commas).
    pub name: String,
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Erase size in bytes (the driver's default, the page size, if `None`).
    pub erase_size: Option<u64>,
}

/// A phram description that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhramError {
    /// The text is not `name,start,len[,erasesize]`.
    #[error("phram: invalid region {text:?}: {reason} (expected name,start,len[,erasesize])")]
    Invalid {
        /// What was given.
        text: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Writing the parameter file failed.
    #[error("phram: cannot add {value:?} via {}: {source}", path.display())]
    Add {
        /// The parameter file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The error (ENOENT: no phram driver; EINVAL: refused).
        #[source]
        source: io::Error,
    },
    /// Listing the MTD devices failed.
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
}

/// Parses a number as the phram driver does: decimal, `0x` hex or `0`
/// octal, with an optional `ki`, `Mi` or `Gi` suffix.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.len().checked_sub(2).map(|i| s.split_at(i)) {
        Some((d, "ki")) if !d.is_empty() => (d, 10),
        Some((d, "Mi")) if !d.is_empty() => (d, 20),
        Some((d, "Gi")) if !d.is_empty() => (d, 30),
        _ => (s, 0),
    };
    let n = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(1 << shift)
}

impl Phram {
    /// Parses `name,start,len[,erasesize]`, as the driver takes it.
    pub fn parse(text: &str) -> Result<Self, PhramError> {
        let invalid = |reason| PhramError::Invalid {
            text: text.to_owned(),
            reason,
        };
        let parts: Vec<&str> = text.trim().split(',').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(invalid("wrong number of fields"));
        }
        let name = parts[0];
        if name.is_empty() || name.len() > 63 {
            return Err(invalid("the name must have 1 to 63 characters"));
        }
        let start = parse_size(parts[1]).ok_or_else(|| invalid("bad start"))?;
        let len = parse_size(parts[2]).ok_or_else(|| invalid("bad length"))?;
        if len == 0 || start.checked_add(len).is_none() {
            return Err(invalid("bad length"));
        }
        let erase_size = match parts.get(3) {
            None => None,
            Some(e) => {
                let e = parse_size(e)
                    .filter(|&e| e > 0)
                    .ok_or_else(|| invalid("bad erase size"))?;
                if len % e != 0 {
                    return Err(invalid("the length is not a multiple of the erase size"));
                }
                Some(e)
            }
        };
        Ok(Self {
            name: name.to_owned(),
            start,
            len,
            erase_size,
        })
    }

    /// The driver's parameter value: `name,0xSTART,0xLEN[,0xERASE]`.
    pub fn param(&self) -> String {
        self.to_string()
    }

    /// The kernel command line argument for a built-in driver
    /// (`phram.phram=...`; as a module, pass `phram=...` to modprobe).
    pub fn bootarg(&self) -> String {
        format!("phram.phram={self}")
    }

    /// The x86 command line argument keeping the region from the kernel:
    /// `memmap=LEN$START` (in a boot loader script the `$` may need
    /// escaping).
    pub fn memmap(&self) -> String {
        format!("memmap={:#x}${:#x}", self.len, self.start)
    }

    /// The `reg` property of a DT `reserved-memory` child node for this
    /// region, as big-endian cells for the parent's `#address-cells` and
    /// `#size-cells` (1 or 2 each).
    pub fn dt_reg(&self, address_cells: u32, size_cells: u32) -> Vec<u32> {
        let mut cells = Vec::new();
        for (value, n) in [(self.start, address_cells), (self.len, size_cells)] {
            if n >= 2 {
                cells.push((value >> 32) as u32);
            }
            cells.push(value as u32);
        }
        cells
    }

    /// The DT source of the `reserved-memory` child node, for a parent with
    /// `#address-cells = <2>` and `#size-cells = <2>`.
    pub fn dt_node(&self) -> String {
        let reg = self.dt_reg(2, 2);
        format!(
            "{name}@{start:x} {{\n\tcompatible = \"phram\";\n\treg = <{:#x} {:#x} {:#x} {:#x}>;\n\tlabel = \"{name}\";\n}};\n",
            reg[0],
            reg[1],
            reg[2],
            reg[3],
            name = self.name,
            start = self.start
        )
    }
}

impl FromStr for Phram {
    type Err = PhramError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Phram {
    /// `name,0xSTART,0xLEN[,0xERASE]`; parses back to the same region.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{:#x},{:#x}", self.name, self.start, self.len)?;
        if let Some(e) = self.erase_size {
            write!(f, ",{e:#x}")?;
        }
        Ok(())
    }
}

/// Adds a phram device at run time by writing its description to
/// [`PARAM_PATH`] (needs root and the phram driver, built in or loaded).
pub fn add(region: &Phram) -> Result<(), PhramError> {
    add_at(Path::new(PARAM_PATH), region)
}

/// [`add`] with another parameter file.
pub fn add_at(param: &Path, region: &Phram) -> Result<(), PhramError> {
    let value = region.param();
    fs::write(param, format!("{value}\n")).map_err(|source| PhramError::Add {
        path: param.to_owned(),
        value,
        source,
    })
}

/// The MTD devices that look like phram regions: type `ram` without a
/// parent device (mtdram has the same type; tell them apart by name, e.g.
/// with `names`). With `names`, only devices of those names.
pub fn list(names: Option<&[&str]>) -> Result<Vec<MtdInfo>, PhramError> {
    Ok(sysfs::list()?
        .into_iter()
        .filter(|d| d.mtd_type == MtdType::Ram)
        .filter(|d| names.is_none_or(|n| n.contains(&d.name.as_str())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn sizes_like_the_driver() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0x1000"), Some(4096));
        assert_eq!(parse_size("010"), Some(8));
        assert_eq!(parse_size("64ki"), Some(65536));
        assert_eq!(parse_size("1Mi"), Some(1 << 20));
        assert_eq!(parse_size("2Gi"), Some(2 << 30));
        assert_eq!(parse_size("0x10Mi"), Some(16 << 20));
        assert_eq!(parse_size("1M"), None);
        assert_eq!(parse_size("Mi"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn parse_and_render() {
        let p = Phram::parse("test,0x10000000,8Mi").expect("valid");
        assert_eq!(
            p,
            Phram {
                name: "test".into(),
                start: 0x1000_0000,
                len: 8 << 20,
                erase_size: None
            }
        );
        assert_eq!(p.to_string(), "test,0x10000000,0x800000");
        assert_eq!(p.to_string().parse::<Phram>().expect("round trip"), p);
        assert_eq!(p.dt_reg(1, 1), [0x1000_0000, 0x80_0000]);
        assert_eq!(
            p.dt_node(),
            "test@10000000 {\n\tcompatible = \"phram\";\n\treg = <0x0 0x10000000 0x0 0x800000>;\n\tlabel = \"test\";\n};\n"
        );
        let big = Phram::parse("hi,0x100000000,4096,4096").expect("valid");
        assert_eq!(big.dt_reg(2, 1), [1, 0, 4096]);
    }

    #[test]
    fn the_region_of_the_mips_vm_test() {
        // board-tests/tests/mtd.rs writes this string to the parameter file.
        let p = Phram::parse("limina-phram,192Mi,8Mi,128ki").expect("valid");
        assert_eq!(p.param(), "limina-phram,0xc000000,0x800000,0x20000");
    }

    #[test]
    fn invalid_regions() {
        for (text, reason) in [
            ("a,0", "wrong number of fields"),
            ("a,0,1,2,3", "wrong number of fields"),
            (",0,4096", "the name must have 1 to 63 characters"),
            ("a,x,4096", "bad start"),
            ("a,0,0", "bad length"),
            ("a,0xffffffffffffffff,2", "bad length"),
            ("a,0,4096,0", "bad erase size"),
            (
                "a,0,4096,3000",
                "the length is not a multiple of the erase size",
            ),
        ] {
            let err = Phram::parse(text).expect_err(text);
            assert!(
                matches!(&err, PhramError::Invalid { reason: r, .. } if *r == reason),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn add_writes_the_parameter() {
        let tmp = TempDir::new("phram");
        let param = tmp.path().join("phram");
        let p = Phram::parse("x,4096,8192").expect("valid");
        add_at(&param, &p).expect("writable");
        assert_eq!(
            fs::read_to_string(&param).expect("written"),
            "x,0x1000,0x2000\n"
        );
        let err = add_at(&tmp.path().join("no/such"), &p).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("phram: cannot add \"x,0x1000,0x2000\" via "),
            "{err}"
        );
    }
}
