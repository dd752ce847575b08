//! `verify-image`: check an image's minisign signature before it is
//! written to flash (docs/signing.md).
//!
//! ```text
//! verify-image -p PUBKEY FILE [-x SIG]
//! ```
//!
//! The image is read once through a fixed buffer (limina-sign verifies
//! streaming), so a 16 MiB image costs no more memory than a small one.
//! Quiet on success; the error on one line otherwise (no signature,
//! another key's signature with both key ids, a changed or truncated
//! image, a truncated or garbled signature file, a forged trusted
//! comment). Exit codes: 0 the signature holds, 1 it does not or a file
//! could not be read, 2 bad usage.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str = "\
usage: verify-image -p PUBKEY FILE [-x SIG]

  -p PUBKEY  the minisign public key (/etc/limina/signing.pub on the device)
  -x SIG     the signature file (default: FILE.minisig)";

const TOOL: Tool = Tool {
    name: "verify-image",
    usage: USAGE,
    family: Family::Limina,
    strip: &[],
};

struct Opts {
    public: PathBuf,
    file: PathBuf,
    signature: Option<PathBuf>,
}

fn parse(args: Vec<String>) -> Result<Parsed<Opts>, String> {
    let mut public = None;
    let mut signature = None;
    let mut file = None;
    let mut it = args.into_iter().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-p" => public = Some(PathBuf::from(value("-p")?)),
            "-x" => signature = Some(PathBuf::from(value("-x")?)),
            "-h" | "--help" => return Ok(Parsed::Help),
            "--version" => return Ok(Parsed::Version),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s:?}")),
            _ if file.is_some() => return Err(format!("one FILE only, not also {arg:?}")),
            _ => file = Some(PathBuf::from(arg)),
        }
    }
    Ok(Parsed::Run(Opts {
        public: public.ok_or("the public key is needed: -p PUBKEY")?,
        file: file.ok_or("FILE is missing")?,
        signature,
    }))
}

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, |o| {
        let key = limina_sign::read_public_key(&o.public)?;
        limina_sign::verify_file(&key, &o.file, o.signature.as_deref())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        std::iter::once("verify-image")
            .chain(a.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn flags_as_minisign_names_them() {
        let Ok(Parsed::Run(o)) = parse(args(&["-p", "k.pub", "fw.bin", "-x", "fw.sig"])) else {
            panic!("parse");
        };
        assert_eq!(o.public, PathBuf::from("k.pub"));
        assert_eq!(o.file, PathBuf::from("fw.bin"));
        assert_eq!(o.signature, Some(PathBuf::from("fw.sig")));
        let e = |a: &[&str]| parse(args(a)).err().unwrap_or_default();
        assert_eq!(e(&["fw.bin"]), "the public key is needed: -p PUBKEY");
        assert_eq!(e(&["-p", "k.pub"]), "FILE is missing");
        assert_eq!(e(&["-p"]), "-p needs a value");
        assert_eq!(e(&["-p", "k", "a", "b"]), "one FILE only, not also \"b\"");
        assert_eq!(e(&["-q"]), "unknown option \"-q\"");
    }
}
