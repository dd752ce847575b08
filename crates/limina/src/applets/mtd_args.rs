//! What the flash applets share: naming devices and parsing numbers the way
//! mtd-utils does.

use mtd::{DeviceSpec, Mtd, MtdFlash, OpenMode};

/// Opens DEVICE as mtd-utils names it: `/dev/mtdN`, `mtdN`, `N`,
/// `mtd:NAME`, or any other path to an MTD character node.
///
/// A read-only device opened for writing is opened read-only instead, so
/// that the writer can refuse it with a clear message rather than the
/// kernel's `EACCES`.
pub fn open(device: &str, mode: OpenMode) -> Result<MtdFlash, mtd::Error> {
    let mtd = match DeviceSpec::parse(device) {
        Ok(spec) => {
            let ro = Mtd::open(&spec, OpenMode::ReadOnly)?;
            if mode == OpenMode::ReadWrite && ro.info()?.writable() {
                drop(ro);
                Mtd::open(&spec, mode)?
            } else {
                ro
            }
        }
        Err(e) if !device.starts_with('/') => return Err(e.into()),
        Err(_) => {
            let ro = Mtd::open_path(device, OpenMode::ReadOnly)?;
            if mode == OpenMode::ReadWrite && ro.info()?.writable() {
                drop(ro);
                Mtd::open_path(device, mode)?
            } else {
                ro
            }
        }
    };
    Ok(MtdFlash::new(mtd)?)
}

/// Parses a number as mtd-utils does (`strtoull(s, NULL, 0)`): decimal,
/// `0x` hex, or `0` octal.
pub fn number(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_strtoull() {
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("131072"), Some(131_072));
        assert_eq!(number("0x20000"), Some(0x20000));
        assert_eq!(number("010"), Some(8));
        assert_eq!(number("-1"), None);
        assert_eq!(number("12k"), None);
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let err = open("mtd:no-such-partition", OpenMode::ReadOnly).expect_err("absent");
        assert!(
            err.to_string()
                .starts_with("mtd: no device named \"no-such-partition\""),
            "{err}"
        );
        let err = open("/dev/null", OpenMode::ReadOnly).expect_err("not mtd");
        assert!(
            err.to_string().contains("not an MTD character device"),
            "{err}"
        );
        assert!(open("nonsense", OpenMode::ReadOnly).is_err());
    }
}
