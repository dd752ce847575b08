//! What the UBI applets share: a getopt-style parser for mtd-utils' flags
//! (`-p 128KiB`, `-p128KiB`, `--peb-size=128KiB`, `--peb-size 128KiB`,
//! grouped flags `-vy`), sizes with `KiB`/`MiB`/`GiB`, and the exit codes.
//!
//! mtd-utils' UBI tools exit with 255 (`return -1` from `main`) on every
//! error, usage errors included, and 0 on success; so do ours
//! (`Family::UbiUtils` in the applet skeleton, docs/cli.md).

use std::ffi::OsString;
use std::process::ExitCode;

use ubi::device::UbiDevice;

use crate::applet::{Family, Tool};

/// One option: short letter, long name, whether it takes a value.
pub struct Opt {
    /// `-x`.
    pub short: char,
    /// `--name`.
    pub long: &'static str,
    /// Takes a value.
    pub value: bool,
}

/// Parsed arguments: options in order, then positionals.
pub struct Parsed {
    /// `(short letter, value)` in command-line order.
    pub opts: Vec<(char, Option<String>)>,
    /// Non-option arguments.
    pub free: Vec<String>,
}

impl Parsed {
    /// The last value given for `short`.
    pub fn value(&self, short: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(c, _)| *c == short)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether flag `short` was given.
    pub fn flag(&self, short: char) -> bool {
        self.opts.iter().any(|(c, _)| *c == short)
    }
}

/// Parses `args` (without argv\[0\]) against `spec`.
pub fn parse(args: &[String], spec: &[Opt]) -> Result<Parsed, String> {
    let mut out = Parsed {
        opts: Vec::new(),
        free: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            out.free.extend(it.by_ref().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let opt = spec
                .iter()
                .find(|o| o.long == name)
                .ok_or_else(|| format!("unknown option --{name}"))?;
            let value = if opt.value {
                Some(match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("option --{name} needs a value"))?,
                })
            } else if inline.is_some() {
                return Err(format!("option --{name} takes no value"));
            } else {
                None
            };
            out.opts.push((opt.short, value));
        } else if arg.len() > 1 && arg.starts_with('-') {
            for (i, c) in arg[1..].char_indices() {
                let opt = spec
                    .iter()
                    .find(|o| o.short == c)
                    .ok_or_else(|| format!("unknown option -{c}"))?;
                if opt.value {
                    let rest = &arg[1 + i + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        it.next()
                            .cloned()
                            .ok_or_else(|| format!("option -{c} needs a value"))?
                    } else {
                        rest.to_owned()
                    };
                    out.opts.push((c, Some(value)));
                    break;
                }
                out.opts.push((c, None));
            }
        } else {
            out.free.push(arg.clone());
        }
    }
    Ok(out)
}

/// Parses a size like mtd-utils' `util_get_bytes`.
pub fn bytes(flag: &str, s: &str) -> Result<u64, String> {
    ubi::ini::parse_bytes(s)
        .ok_or_else(|| format!("bad {flag} value {s:?}: expected bytes, KiB, MiB or GiB"))
}

/// Parses a plain number (decimal, `0x` hex, `0` octal).
pub fn number(flag: &str, s: &str) -> Result<u64, String> {
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    };
    v.ok_or_else(|| format!("bad {flag} value {s:?}: expected a number"))
}

/// Narrows a number for a flag.
pub fn narrow<T: TryFrom<u64>>(flag: &str, v: u64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{flag} value {v} is too large"))
}

/// The arguments as UTF-8, argv\[0\] dropped.
pub fn utf8(args: Vec<OsString>) -> Result<Vec<String>, String> {
    Ok(super::utf8(args)?.into_iter().skip(1).collect())
}

/// Runs an applet body: prints `NAME: error` on stderr and exits 255 on
/// failure (through the applet skeleton, `crate::applet::Tool::finish`),
/// or prints the usage on stdout for `Ok(Some(usage))`.
pub fn run(
    name: &'static str,
    body: impl FnOnce() -> Result<Option<&'static str>, String>,
) -> ExitCode {
    let tool = Tool {
        name,
        usage: "",
        family: Family::UbiUtils,
        strip: &[],
    };
    let result = body().map_err(anyhow::Error::msg).map(|usage| {
        if let Some(usage) = usage {
            print!("{usage}");
        }
    });
    tool.finish(result)
}

/// The MTD device number of `/dev/mtdN` (or `mtdN`, or `N`).
pub fn mtd_number(s: &str) -> Result<u32, String> {
    let n = s.rsplit('/').next().unwrap_or(s);
    let n = n.strip_prefix("mtd").unwrap_or(n);
    n.parse()
        .map_err(|_| format!("cannot tell the MTD device number of {s:?} (expected /dev/mtdN)"))
}

/// The single positional argument of the volume applets: a UBI device node.
pub fn device_node(p: &Parsed) -> Result<&str, String> {
    match p.free.as_slice() {
        [node] => Ok(node),
        _ => Err("give exactly one UBI device node, e.g. /dev/ubi0 (use -h for help)".into()),
    }
}

/// The volume chosen on `dev` with `-n ID` or `-N NAME` (exactly one).
pub fn volume_id(p: &Parsed, dev: &UbiDevice) -> Result<u32, String> {
    match (p.value('n'), p.value('N')) {
        (Some(n), None) => narrow("-n", number("-n", n)?),
        (None, Some(name)) => dev.volume_id(name).map_err(|e| e.to_string()),
        _ => Err("give the volume with either -n or -N (use -h for help)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Opt] = &[
        Opt {
            short: 'p',
            long: "peb-size",
            value: true,
        },
        Opt {
            short: 'v',
            long: "verbose",
            value: false,
        },
        Opt {
            short: 'y',
            long: "yes",
            value: false,
        },
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn getopt_forms() {
        for form in [
            &["-p", "4"][..],
            &["-p4"],
            &["--peb-size=4"],
            &["--peb-size", "4"],
        ] {
            let p = parse(&args(form), SPEC).expect("valid");
            assert_eq!(p.value('p'), Some("4"), "{form:?}");
        }
        let p = parse(&args(&["-vy", "file", "--", "-p"]), SPEC).expect("valid");
        assert!(p.flag('v') && p.flag('y'));
        assert_eq!(p.free, ["file", "-p"]);
        assert!(parse(&args(&["-q"]), SPEC).is_err());
        assert!(parse(&args(&["-p"]), SPEC).is_err());
    }

    #[test]
    fn mtd_numbers() {
        assert_eq!(mtd_number("/dev/mtd3"), Ok(3));
        assert_eq!(mtd_number("4"), Ok(4));
        assert!(mtd_number("/dev/sda").is_err());
    }
}
