//! `limina-host kconfig-check`: did every option of the config fragments
//! land in the kernel's `.config`, and if not, why.
//!
//! Kconfig drops what it cannot satisfy (a missing dependency, a symbol
//! this kernel does not have, a choice another option won) without an
//! error; a board then boots without UBI and nobody knows why. Buildroot
//! runs this right after configuring the kernel (br2-external/external.mk),
//! and the board tests run [`check`] on the kernels they boot.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::kconfig::dotconfig::{read_config, read_fragment, ConfigError};
use crate::kconfig::explain::{same, State};
use crate::kconfig::srcarch;
use crate::kconfig::tree::{Tree, TreeError};

/// Arguments of `kconfig-check`.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Args {
    /// The configured kernel source tree (its Kconfig files and .config).
    pub linux_dir: PathBuf,
    /// Config fragments: `CONFIG_X=value` and `# CONFIG_X is not set`
    /// lines, comments and empty lines.
    #[cfg_attr(feature = "cli", arg(required = true))]
    pub fragments: Vec<PathBuf>,
    /// The kernel's ARCH (x86_64, mips, arm64, ...). Default: $SRCARCH or
    /// $ARCH, then the one named in the .config header.
    #[cfg_attr(feature = "cli", arg(long))]
    pub arch: Option<String>,
    /// The .config to check (default: LINUX_DIR/.config).
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub config: Option<PathBuf>,
}

/// Why the check could not run (bad input: exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// LINUX_DIR has no top-level Kconfig.
    #[error("kconfig-check: {0}: not a Linux source tree (no Kconfig file)")]
    NotLinux(PathBuf),
    /// No `.config` to check.
    #[error("kconfig-check: {0}: no such file: configure the kernel first")]
    NoConfig(PathBuf),
    /// A fragment or the `.config` could not be read.
    #[error("kconfig-check: {0}")]
    Config(#[from] ConfigError),
    /// The Kconfig tree could not be read.
    #[error("kconfig-check: reading the Kconfig tree (ARCH={arch})")]
    Tree {
        /// The ARCH used.
        arch: String,
        /// Why.
        source: TreeError,
    },
}

/// One fragment option that is not in the `.config`.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The fragment's file name.
    pub fragment: String,
    /// Its line there.
    pub line: usize,
    /// The symbol, without `CONFIG_`.
    pub name: String,
    /// The value asked (`n` for not set).
    pub asked: String,
    /// The value in `.config` (`n` for not set).
    pub got: String,
    /// Why, in one line.
    pub why: String,
    /// Where the symbol is defined, and the chain of reasons below.
    pub details: Vec<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kconfig-check: {}:{}: CONFIG_{}={}: got {}: {}",
            self.fragment, self.line, self.name, self.asked, self.got, self.why
        )?;
        for d in &self.details {
            writeln!(f, "    {d}")?;
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Debug)]
pub struct Report {
    /// The options that did not land, in fragment order.
    pub problems: Vec<Problem>,
    /// The `.config` checked.
    pub config: PathBuf,
    /// The ARCH the tree was read for.
    pub arch: String,
    /// How many Kconfig files were read.
    pub files: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            write!(f, "{p}")?;
        }
        if !self.problems.is_empty() {
            writeln!(
                f,
                "kconfig-check: {} option(s) of the fragments are not in {} (ARCH={}, {} Kconfig files read)",
                self.problems.len(),
                self.config.display(),
                self.arch,
                self.files
            )?;
        }
        Ok(())
    }
}

/// Check the fragments against the `.config`.
pub fn check(args: &Args) -> Result<Report, CheckError> {
    let linux = &args.linux_dir;
    if !linux.join("Kconfig").is_file() {
        return Err(CheckError::NotLinux(linux.clone()));
    }
    let config_path = args.config.clone().unwrap_or_else(|| linux.join(".config"));
    if !config_path.is_file() {
        return Err(CheckError::NoConfig(config_path));
    }
    // Every fragment first: a bad line is bad input, whatever .config says.
    let mut fragments = Vec::new();
    for path in &args.fragments {
        fragments.push((path, read_fragment(path)?));
    }
    let config = read_config(&config_path)?;

    let (arch, src) = arch_vars(args.arch.as_deref(), &config_path);

    // Only the last request for a symbol counts, as in Kconfig.
    let mut asked = HashMap::new();
    for (_, settings) in &fragments {
        for s in settings {
            asked.insert(s.name.clone(), s.value.clone());
        }
    }
    let mut missing = Vec::new();
    for (path, settings) in &fragments {
        let fragment = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for s in settings {
            let got = config.get(&s.name);
            if !same(&s.value, got) && asked.get(&s.name) == Some(&s.value) {
                missing.push((fragment.clone(), s, got));
            }
        }
    }
    if missing.is_empty() {
        // Nothing to explain: the Kconfig tree (some 1500 files) is not
        // read. The common case in a build: a few milliseconds.
        return Ok(Report {
            problems: Vec::new(),
            config: config_path,
            arch,
            files: 0,
        });
    }

    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.insert("ARCH".into(), arch.clone());
    vars.insert("SRCARCH".into(), src);
    vars.insert("srctree".into(), ".".into());
    let tree = Tree::load(linux, &vars).map_err(|source| CheckError::Tree {
        arch: arch.clone(),
        source,
    })?;
    let state = State {
        tree: &tree,
        config: &config,
        asked,
    };
    let problems = missing
        .into_iter()
        .map(|(fragment, s, got)| {
            let (why, details) = state.explain(&s.name, &s.value);
            Problem {
                fragment,
                line: s.line,
                name: s.name.clone(),
                asked: s.value.clone(),
                got: got.map_or_else(|| "n".to_string(), Clone::clone),
                why,
                details,
            }
        })
        .collect();
    Ok(Report {
        problems,
        config: config_path,
        arch,
        files: tree.files,
    })
}

/// (ARCH, SRCARCH): the flag, the environment, the `.config` header
/// (`# Linux/mips 6.1.0 Kernel Configuration`), or the build machine's.
fn arch_vars(flag: Option<&str>, config: &Path) -> (String, String) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let from = |a: String| {
        let s = srcarch(&a).to_string();
        (a, s)
    };
    if let Some(a) = flag {
        return from(a.to_string());
    }
    match (env("ARCH"), env("SRCARCH")) {
        (Some(a), Some(s)) => return (a, s),
        (Some(a), None) => return from(a),
        (None, Some(s)) => return (s.clone(), s),
        (None, None) => {}
    }
    if let Some(a) = header_arch(config) {
        return from(a);
    }
    from(
        match std::env::consts::ARCH {
            "x86" => "i386",
            "aarch64" => "arm64",
            other => other,
        }
        .to_string(),
    )
}

/// The ARCH in the header Kconfig writes at the top of a `.config`.
fn header_arch(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    text.lines().take(5).find_map(|l| {
        let rest = l.strip_prefix("# Linux/")?;
        let arch = rest.split_whitespace().next()?;
        rest.ends_with("Kernel Configuration")
            .then(|| arch.to_string())
    })
}
