//! Parsing `/proc/mtd`.
//!
//! `/proc/mtd` is the oldest MTD listing and what people (and many shell
//! scripts on routers) look at. The kernel writes it in `mtd_proc_show()`
//! (`drivers/mtd/mtdcore.c`) as a fixed header and one line per device:
//!
//! ```text
//! dev:    size   erasesize  name
//! mtd0: 00800000 00020000 "mtdram test device"
//! ```
//!
//! i.e. `mtd%d: %8.8llx %8.8x "%s"`: size and erase size in hex, at least
//! eight digits (more for devices of 4 GiB and more), the name in double
//! quotes and not escaped. [`crate::sysfs`] carries more (and typed)
//! information and is what this crate uses; this parser exists for
//! cross-checks and for systems that have `/proc` but not sysfs.
//!
//! The name is everything between the first and the last double quote of the
//! line, so names containing quotes or spaces parse correctly. A name
//! containing a newline cannot be told apart from a broken line and is
//! rejected.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the kernel publishes the listing.
pub const PROC_MTD: &str = "/proc/mtd";

/// The header line, as the kernel prints it.
const HEADER: &str = "dev:    size   erasesize  name";

/// One line of `/proc/mtd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcMtdEntry {
    /// N in `mtdN`.
    pub index: u32,
    /// Total size in bytes.
    pub size: u64,
    /// Erase block size in bytes.
    pub erase_size: u32,
    /// The name, without the quotes.
    pub name: String,
}

/// A failure to read or parse `/proc/mtd`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcError {
    /// The file exists but could not be read.
    #[error("mtd: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The first line is not the `dev: size erasesize name` header.
    #[error("mtd: /proc/mtd does not start with the {HEADER:?} header (first line: {line:?})")]
    BadHeader {
        /// The first line found (empty for empty input).
        line: String,
    },
    /// A device line is malformed.
    #[error("mtd: /proc/mtd line {line_no}: {reason} in {line:?}")]
    BadLine {
        /// 1-based line number, the header being line 1.
        line_no: usize,
        /// The offending line.
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads and parses [`PROC_MTD`].
///
/// A kernel without MTD support has no `/proc/mtd`: that is an empty list,
/// not an error.
pub fn read_proc_mtd() -> Result<Vec<ProcMtdEntry>, ProcError> {
    read_proc_mtd_at(Path::new(PROC_MTD))
}

/// Reads and parses a file in `/proc/mtd` format at `path`; a missing file
/// is an empty list.
pub fn read_proc_mtd_at(path: &Path) -> Result<Vec<ProcMtdEntry>, ProcError> {
    match fs::read_to_string(path) {
        Ok(text) => parse_proc_mtd(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            log::debug!("{} does not exist: no MTD devices", path.display());
            Ok(Vec::new())
        }
        Err(source) => Err(ProcError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Parses the text of `/proc/mtd`, returning the devices sorted by index.
///
/// The header is required (the kernel always prints it, even with no
/// devices); blank lines are ignored.
pub fn parse_proc_mtd(text: &str) -> Result<Vec<ProcMtdEntry>, ProcError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header
        .split_ascii_whitespace()
        .eq(HEADER.split_ascii_whitespace())
    {
        return Err(ProcError::BadHeader {
            line: header.to_owned(),
        });
    }
    let mut entries = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = parse_line(line).map_err(|reason| ProcError::BadLine {
            line_no: i + 2,
            line: line.to_owned(),
            reason,
        })?;
        entries.push(entry);
    }
    entries.sort_by_key(|e| e.index);
    Ok(entries)
}

fn parse_line(line: &str) -> Result<ProcMtdEntry, &'static str> {
    let (dev, rest) = line.split_once(':').ok_or("no \"mtdN:\" prefix")?;
    let index = dev
        .strip_prefix("mtd")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or("no \"mtdN:\" prefix")?
        .parse::<u32>()
        .map_err(|_| "device index out of range")?;

    let rest = rest.trim_start();
    let (size, rest) = rest.split_once(' ').ok_or("missing erase size")?;
    let rest = rest.trim_start();
    let (erase_size, name) = rest.split_once(' ').ok_or("missing name")?;
    let size = parse_hex_u64(size).ok_or("size is not a hex number")?;
    let erase_size =
        u32::try_from(parse_hex_u64(erase_size).ok_or("erase size is not a hex number")?)
            .map_err(|_| "erase size out of range")?;

    let name = name.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .ok_or("name is not in double quotes")?;
    Ok(ProcMtdEntry {
        index,
        size,
        erase_size,
        name: name.to_owned(),
    })
}

fn parse_hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// The format's own example: `modprobe mtdram total_size=8192` (KiB;
    /// 128 KiB erase blocks).
    const MTDRAM: &str = "dev:    size   erasesize  name\n\
                          mtd0: 00800000 00020000 \"mtdram test device\"\n";

    /// Captured in an x86_64 QEMU guest (Debian kernel 6.1) after
    /// `insmod mtdram.ko` (defaults: 4 MiB, 128 KiB blocks) and
    /// `insmod nandsim.ko parts=64,128` (128 MiB, 16 KiB blocks, split into
    /// 64 and 128 blocks and the rest).
    const MTDRAM_NANDSIM: &str = "dev:    size   erasesize  name\n\
                                  mtd0: 00400000 00020000 \"mtdram test device\"\n\
                                  mtd1: 00100000 00004000 \"NAND simulator partition 0\"\n\
                                  mtd2: 00200000 00004000 \"NAND simulator partition 1\"\n\
                                  mtd3: 07d00000 00004000 \"NAND simulator partition 2\"\n";

    /// A GL-AR750 (16 MiB SPI NOR, ath79) running OpenWrt.
    const GL_AR750: &str = "dev:    size   erasesize  name\n\
                            mtd0: 00040000 00010000 \"u-boot\"\n\
                            mtd1: 00010000 00010000 \"u-boot-env\"\n\
                            mtd2: 00010000 00010000 \"art\"\n\
                            mtd3: 00f80000 00010000 \"firmware\"\n\
                            mtd4: 00250000 00010000 \"kernel\"\n\
                            mtd5: 00d30000 00010000 \"rootfs\"\n\
                            mtd6: 008a0000 00010000 \"rootfs_data\"\n";

    /// A kernel with MTD support and no devices prints only the header.
    const NO_DEVICES: &str = "dev:    size   erasesize  name\n";

    fn entry(index: u32, size: u64, erase_size: u32, name: &str) -> ProcMtdEntry {
        ProcMtdEntry {
            index,
            size,
            erase_size,
            name: name.to_owned(),
        }
    }

    #[test]
    fn parses_mtdram() {
        let entries = parse_proc_mtd(MTDRAM).expect("real format");
        assert_eq!(
            entries,
            [entry(0, 8 << 20, 128 << 10, "mtdram test device")]
        );
    }

    #[test]
    fn parses_mtdram_and_nandsim() {
        let entries = parse_proc_mtd(MTDRAM_NANDSIM).expect("real format");
        assert_eq!(
            entries,
            [
                entry(0, 4 << 20, 128 << 10, "mtdram test device"),
                entry(1, 64 * 16384, 16 << 10, "NAND simulator partition 0"),
                entry(2, 128 * 16384, 16 << 10, "NAND simulator partition 1"),
                entry(
                    3,
                    (128 << 20) - 192 * 16384,
                    16 << 10,
                    "NAND simulator partition 2"
                ),
            ]
        );
    }

    #[test]
    fn parses_router_layout() {
        let entries = parse_proc_mtd(GL_AR750).expect("real format");
        assert_eq!(entries.len(), 7);
        assert_eq!(entries[3], entry(3, 0xf8_0000, 0x1_0000, "firmware"));
        assert_eq!(entries[6].name, "rootfs_data");
    }

    #[test]
    fn header_only_is_no_devices() {
        assert!(parse_proc_mtd(NO_DEVICES).expect("real format").is_empty());
    }

    #[test]
    fn sizes_wider_than_eight_digits() {
        // %8.8llx grows past eight digits for devices of 4 GiB and more.
        let text = format!("{NO_DEVICES}mtd0: 200000000 00080000 \"big\"\n");
        let entries = parse_proc_mtd(&text).expect("valid");
        assert_eq!(entries, [entry(0, 8 << 30, 512 << 10, "big")]);
    }

    #[test]
    fn names_with_quotes_spaces_and_colons() {
        let text = format!("{NO_DEVICES}mtd7: 00010000 00010000 \"a \"quoted\": name \"\n");
        let entries = parse_proc_mtd(&text).expect("valid");
        assert_eq!(entries[0].name, "a \"quoted\": name ");
        let text = format!("{NO_DEVICES}mtd7: 00010000 00010000 \"\"\n");
        assert_eq!(parse_proc_mtd(&text).expect("valid")[0].name, "");
    }

    #[test]
    fn sorted_by_index_and_blank_lines_ignored() {
        let text = format!(
            "{NO_DEVICES}mtd10: 00010000 00010000 \"b\"\n\nmtd2: 00010000 00010000 \"a\"\n\n"
        );
        let entries = parse_proc_mtd(&text).expect("valid");
        let idx: Vec<u32> = entries.iter().map(|e| e.index).collect();
        assert_eq!(idx, [2, 10]);
    }

    #[test]
    fn crlf_is_tolerated() {
        let text = "dev:    size   erasesize  name\r\nmtd0: 00010000 00010000 \"x\"\r\n";
        assert_eq!(parse_proc_mtd(text).expect("valid")[0].name, "x");
    }

    #[test]
    fn bad_header() {
        for text in [
            "",
            "\n",
            "mtd0: 00010000 00010000 \"x\"\n",
            "dev: size name\n",
        ] {
            let err = parse_proc_mtd(text).expect_err("header is required");
            assert!(
                matches!(err, ProcError::BadHeader { .. }),
                "{text:?}: {err:?}"
            );
            assert!(
                err.to_string().starts_with("mtd: /proc/mtd does not start"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_lines_name_line_number_and_reason() {
        let cases = [
            ("mtdx: 00010000 00010000 \"x\"", "no \"mtdN:\" prefix"),
            ("ubi0: 00010000 00010000 \"x\"", "no \"mtdN:\" prefix"),
            ("mtd0 00010000 00010000 \"x\"", "no \"mtdN:\" prefix"),
            (
                "mtd99999999999: 00010000 00010000 \"x\"",
                "device index out of range",
            ),
            ("mtd0: 00010000", "missing erase size"),
            ("mtd0: 00010000 00010000", "missing name"),
            ("mtd0: 0001000g 00010000 \"x\"", "size is not a hex number"),
            (
                "mtd0: 00010000 +0010000 \"x\"",
                "erase size is not a hex number",
            ),
            ("mtd0: 00010000 100000000 \"x\"", "erase size out of range"),
            ("mtd0: 00010000 00010000 x", "name is not in double quotes"),
            (
                "mtd0: 00010000 00010000 \"x",
                "name is not in double quotes",
            ),
            ("mtd0: 00010000 00010000 \"", "name is not in double quotes"),
        ];
        for (line, want) in cases {
            let text = format!("{NO_DEVICES}mtd9: 00010000 00010000 \"ok\"\n{line}\n");
            match parse_proc_mtd(&text) {
                Err(ProcError::BadLine {
                    line_no,
                    line: got,
                    reason,
                }) => {
                    assert_eq!(line_no, 3, "{line}");
                    assert_eq!(got, line);
                    assert_eq!(reason, want, "{line}");
                }
                other => panic!("{line:?}: unexpected {other:?}"),
            }
        }
        let err = parse_proc_mtd(&format!("{NO_DEVICES}garbage\n")).expect_err("bad line");
        assert_eq!(
            err.to_string(),
            "mtd: /proc/mtd line 2: no \"mtdN:\" prefix in \"garbage\""
        );
    }

    #[test]
    fn missing_file_is_no_devices() {
        let tmp = TempDir::new("noproc");
        let entries = read_proc_mtd_at(&tmp.path().join("mtd")).expect("missing is empty");
        assert!(entries.is_empty());
    }

    #[test]
    fn reads_a_file() {
        let tmp = TempDir::new("proc");
        let path = tmp.path().join("mtd");
        fs::write(&path, MTDRAM_NANDSIM).expect("temp dir");
        assert_eq!(read_proc_mtd_at(&path).expect("valid").len(), 4);
    }
}
