//! Naming MTD devices on command lines, the way mtd-utils and the kernel do.
//!
//! | written        | means                                        |
//! |----------------|----------------------------------------------|
//! | `/dev/mtd3`    | device 3                                     |
//! | `mtd3`         | device 3                                     |
//! | `3`            | device 3                                     |
//! | `mtd:firmware` | the device whose sysfs `name` is `firmware`  |
//!
//! Names are matched exactly (case and spaces included) against
//! [`MtdInfo::name`]. Two devices with the same name make the name ambiguous,
//! which is an error rather than a guess: writing the wrong partition can
//! brick a router.

use std::fmt;
use std::str::FromStr;

use crate::sysfs::MtdInfo;

/// Which MTD device a user means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// By index: `/dev/mtdN`, `mtdN` or `N`.
    Index(u32),
    /// By name: `mtd:NAME`.
    Name(String),
}

/// A device spec that cannot be parsed or matches no device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The text is not a device spec.
    #[error("mtd: invalid device {spec:?}: {reason} (expected /dev/mtdN, mtdN, N or mtd:NAME)")]
    Invalid {
        /// What was given.
        spec: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No device has this name.
    #[error("mtd: no device named {name:?} ({})", KnownNames(known))]
    NoSuchName {
        /// The name asked for.
        name: String,
        /// The names of the devices there are, by index.
        known: Vec<String>,
    },
    /// More than one device has this name.
    #[error("mtd: device name {name:?} is ambiguous: {}", MtdList(indexes))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The indexes of the devices that have it.
        indexes: Vec<u32>,
    },
    /// No device has this index.
    #[error("mtd: no device mtd{index} ({})", KnownIndexes(known))]
    NoSuchIndex {
        /// The index asked for.
        index: u32,
        /// The indexes of the devices there are.
        known: Vec<u32>,
    },
}

/// Formats `known: a, b` or `no MTD devices found`.
struct KnownNames<'a>(&'a [String]);

impl fmt::Display for KnownNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no MTD devices found");
        }
        f.write_str("known: ")?;
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Formats `mtd1, mtd4`.
struct MtdList<'a>(&'a [u32]);

impl fmt::Display for MtdList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, index) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "mtd{index}")?;
        }
        Ok(())
    }
}

/// Formats `known: mtd0, mtd1` or `no MTD devices found`.
struct KnownIndexes<'a>(&'a [u32]);

impl fmt::Display for KnownIndexes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("no MTD devices found")
        } else {
            write!(f, "known: {}", MtdList(self.0))
        }
    }
}

impl DeviceSpec {
    /// Parses `/dev/mtdN`, `mtdN`, `N` or `mtd:NAME`.
    ///
    /// `N` is decimal digits only (no sign, no spaces). `/dev/mtdNro` and
    /// `/dev/mtdblockN` are refused: they are other device nodes, not ways
    /// of naming an MTD device.
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let invalid = |reason| SpecError::Invalid {
            spec: spec.to_owned(),
            reason,
        };
        if let Some(name) = spec.strip_prefix("mtd:") {
            if name.is_empty() {
                return Err(invalid("empty name"));
            }
            return Ok(Self::Name(name.to_owned()));
        }
        let digits = spec
            .strip_prefix("/dev/mtd")
            .or_else(|| spec.strip_prefix("mtd"))
            .unwrap_or(spec);
        if digits.is_empty() {
            return Err(invalid("no device number"));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("not a device number"));
        }
        digits
            .parse()
            .map(Self::Index)
            .map_err(|_| invalid("device number out of range"))
    }

    /// Finds the device this spec names in `devices` (as returned by
    /// [`crate::sysfs::list`]).
    pub fn resolve<'a>(&self, devices: &'a [MtdInfo]) -> Result<&'a MtdInfo, SpecError> {
        match self {
            Self::Index(index) => {
                devices
                    .iter()
                    .find(|d| d.index == *index)
                    .ok_or_else(|| SpecError::NoSuchIndex {
                        index: *index,
                        known: devices.iter().map(|d| d.index).collect(),
                    })
            }
            Self::Name(name) => {
                let mut matching = devices.iter().filter(|d| d.name == *name);
                let first = matching.next().ok_or_else(|| SpecError::NoSuchName {
                    name: name.clone(),
                    known: devices.iter().map(|d| d.name.clone()).collect(),
                })?;
                if matching.next().is_some() {
                    return Err(SpecError::Ambiguous {
                        name: name.clone(),
                        indexes: devices
                            .iter()
                            .filter(|d| d.name == *name)
                            .map(|d| d.index)
                            .collect(),
                    });
                }
                Ok(first)
            }
        }
    }

    /// The index this spec names, resolving a name against `devices`.
    pub fn resolve_index(&self, devices: &[MtdInfo]) -> Result<u32, SpecError> {
        self.resolve(devices).map(|d| d.index)
    }
}

impl FromStr for DeviceSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DeviceSpec {
    /// `mtdN` or `mtd:NAME`; parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(index) => write!(f, "mtd{index}"),
            Self::Name(name) => write!(f, "mtd:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::{list_in, tests::fake_tree};

    #[test]
    fn parses_every_form() {
        assert_eq!(DeviceSpec::parse("/dev/mtd3"), Ok(DeviceSpec::Index(3)));
        assert_eq!(DeviceSpec::parse("mtd3"), Ok(DeviceSpec::Index(3)));
        assert_eq!(DeviceSpec::parse("3"), Ok(DeviceSpec::Index(3)));
        assert_eq!(DeviceSpec::parse("0"), Ok(DeviceSpec::Index(0)));
        assert_eq!(DeviceSpec::parse("mtd10"), Ok(DeviceSpec::Index(10)));
        assert_eq!(DeviceSpec::parse("007"), Ok(DeviceSpec::Index(7)));
        assert_eq!(
            DeviceSpec::parse("mtd4294967295"),
            Ok(DeviceSpec::Index(u32::MAX))
        );
        assert_eq!(
            DeviceSpec::parse("mtd:firmware"),
            Ok(DeviceSpec::Name("firmware".to_owned()))
        );
        // Everything after "mtd:" is the name, spaces and colons included.
        assert_eq!(
            DeviceSpec::parse("mtd:NAND simulator partition 0"),
            Ok(DeviceSpec::Name("NAND simulator partition 0".to_owned()))
        );
        assert_eq!(
            DeviceSpec::parse("mtd:a:b"),
            Ok(DeviceSpec::Name("a:b".to_owned()))
        );
        assert_eq!("mtd2".parse::<DeviceSpec>(), Ok(DeviceSpec::Index(2)));
    }

    #[test]
    fn rejects_what_is_not_a_spec() {
        let cases = [
            ("", "no device number"),
            ("mtd", "no device number"),
            ("/dev/mtd", "no device number"),
            ("mtd:", "empty name"),
            ("/dev/mtd3ro", "not a device number"),
            ("/dev/mtdblock3", "not a device number"),
            ("/dev/sda", "not a device number"),
            ("firmware", "not a device number"),
            ("+3", "not a device number"),
            ("-3", "not a device number"),
            (" 3", "not a device number"),
            ("3 ", "not a device number"),
            ("MTD3", "not a device number"),
            ("mtd4294967296", "device number out of range"),
        ];
        for (spec, want) in cases {
            match DeviceSpec::parse(spec) {
                Err(SpecError::Invalid { spec: got, reason }) => {
                    assert_eq!(got, spec);
                    assert_eq!(reason, want, "{spec:?}");
                }
                other => panic!("{spec:?}: unexpected {other:?}"),
            }
        }
        let err = DeviceSpec::parse("/dev/sda").expect_err("not mtd");
        assert_eq!(
            err.to_string(),
            "mtd: invalid device \"/dev/sda\": not a device number \
             (expected /dev/mtdN, mtdN, N or mtd:NAME)"
        );
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            DeviceSpec::Index(0),
            DeviceSpec::Index(u32::MAX),
            DeviceSpec::Name("firmware".to_owned()),
            DeviceSpec::Name("a:b c".to_owned()),
            DeviceSpec::Name("7".to_owned()),
        ] {
            assert_eq!(DeviceSpec::parse(&spec.to_string()), Ok(spec));
        }
        assert_eq!(DeviceSpec::Index(3).to_string(), "mtd3");
        assert_eq!(DeviceSpec::Name("art".to_owned()).to_string(), "mtd:art");
    }

    #[test]
    fn resolves_against_a_listing() {
        let tmp = fake_tree();
        let devices = list_in(tmp.path()).expect("fake tree");
        let firmware = DeviceSpec::parse("mtd:firmware")
            .and_then(|s| s.resolve(&devices).cloned())
            .expect("firmware exists");
        assert_eq!(firmware.index, 2);
        assert_eq!(
            DeviceSpec::parse("/dev/mtd10").and_then(|s| s.resolve_index(&devices)),
            Ok(10)
        );
        assert_eq!(
            DeviceSpec::Name("NAND simulator partition 0".to_owned()).resolve_index(&devices),
            Ok(10)
        );
    }

    #[test]
    fn unknown_name_lists_the_known_names() {
        let tmp = fake_tree();
        let devices = list_in(tmp.path()).expect("fake tree");
        let err = DeviceSpec::Name("foo".to_owned())
            .resolve(&devices)
            .expect_err("no such name");
        assert_eq!(
            err,
            SpecError::NoSuchName {
                name: "foo".to_owned(),
                known: vec![
                    "u-boot".to_owned(),
                    "art".to_owned(),
                    "firmware".to_owned(),
                    "NAND simulator partition 0".to_owned(),
                ],
            }
        );
        assert_eq!(
            err.to_string(),
            "mtd: no device named \"foo\" \
             (known: u-boot, art, firmware, NAND simulator partition 0)"
        );
        // Exact match only: no case folding, no trimming.
        for near in ["Firmware", "firmware ", "firm"] {
            assert!(DeviceSpec::Name(near.to_owned()).resolve(&devices).is_err());
        }
    }

    #[test]
    fn unknown_index_lists_the_known_indexes() {
        let tmp = fake_tree();
        let devices = list_in(tmp.path()).expect("fake tree");
        let err = DeviceSpec::Index(7)
            .resolve(&devices)
            .expect_err("no such index");
        assert_eq!(
            err.to_string(),
            "mtd: no device mtd7 (known: mtd0, mtd1, mtd2, mtd10)"
        );
    }

    #[test]
    fn nothing_resolves_without_devices() {
        let err = DeviceSpec::Name("firmware".to_owned())
            .resolve(&[])
            .expect_err("no devices");
        assert_eq!(
            err.to_string(),
            "mtd: no device named \"firmware\" (no MTD devices found)"
        );
        let err = DeviceSpec::Index(0).resolve(&[]).expect_err("no devices");
        assert_eq!(
            err.to_string(),
            "mtd: no device mtd0 (no MTD devices found)"
        );
    }

    #[test]
    fn duplicate_names_are_ambiguous() {
        let tmp = fake_tree();
        std::fs::write(tmp.path().join("mtd10").join("name"), "firmware\n").expect("temp dir");
        let devices = list_in(tmp.path()).expect("fake tree");
        let err = DeviceSpec::Name("firmware".to_owned())
            .resolve(&devices)
            .expect_err("two devices named firmware");
        assert_eq!(
            err,
            SpecError::Ambiguous {
                name: "firmware".to_owned(),
                indexes: vec![2, 10],
            }
        );
        assert_eq!(
            err.to_string(),
            "mtd: device name \"firmware\" is ambiguous: mtd2, mtd10"
        );
        // The index still picks one of them.
        assert_eq!(DeviceSpec::Index(10).resolve_index(&devices), Ok(10));
    }
}
