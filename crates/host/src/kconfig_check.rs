//! `limina-host kconfig-check`: did every option of the config fragments
//! land in the kernel's `.config`, and if not, why.
//!
//! Kconfig drops what it cannot satisfy (a missing dependency, a symbol
//! this kernel does not have, a choice another option won) without an
//! error; a board then boots without UBI and nobody knows why. Buildroot
//! runs this right after configuring the kernel (br2-external/external.mk).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};

use crate::kconfig::dotconfig::{read_config, read_fragment};
use crate::kconfig::explain::{same, State};
use crate::kconfig::srcarch;
use crate::kconfig::tree::Tree;

/// Arguments of `kconfig-check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configured kernel source tree (its Kconfig files and .config).
    pub linux_dir: PathBuf,
    /// Config fragments: `CONFIG_X=value` and `# CONFIG_X is not set`
    /// lines, comments and empty lines.
    #[arg(required = true)]
    pub fragments: Vec<PathBuf>,
    /// The kernel's ARCH (x86_64, mips, arm64, ...). Default: $SRCARCH,
    /// then $ARCH, then the build machine's.
    #[arg(long)]
    pub arch: Option<String>,
    /// The .config to check (default: LINUX_DIR/.config).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every option is in the `.config`.
    Holds,
    /// This many are not (each reported on stderr).
    Mismatches(usize),
}

/// Run the check; the report goes to stderr.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let linux = &args.linux_dir;
    if !linux.join("Kconfig").is_file() {
        bail!(
            "{}: not a Linux source tree (no Kconfig file)",
            linux.display()
        );
    }
    let config_path = args.config.clone().unwrap_or_else(|| linux.join(".config"));
    if !config_path.is_file() {
        bail!(
            "{}: no such file: configure the kernel first",
            config_path.display()
        );
    }
    // Read every fragment first: a bad line is a usage error, whatever the
    // .config says.
    let mut fragments = Vec::new();
    for path in &args.fragments {
        fragments.push((path, read_fragment(path)?));
    }
    let config = read_config(&config_path)?;

    let (arch, src) = arch_vars(args.arch.as_deref());
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.insert("ARCH".into(), arch.clone());
    vars.insert("SRCARCH".into(), src.clone());
    vars.insert("srctree".into(), ".".into());
    let tree = Tree::load(linux, &vars).with_context(|| {
        format!(
            "reading the Kconfig tree of {} (ARCH={arch})",
            linux.display()
        )
    })?;

    let mut asked = HashMap::new();
    for (_, settings) in &fragments {
        for s in settings {
            asked.insert(s.name.clone(), s.value.clone());
        }
    }
    let state = State {
        tree: &tree,
        config: &config,
        asked,
    };
    let mut bad = 0;
    for (path, settings) in &fragments {
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for s in settings {
            let got = config.get(&s.name);
            if same(&s.value, got) {
                continue;
            }
            // A later line (or fragment) asking otherwise is what counts.
            if state.asked.get(&s.name) != Some(&s.value) {
                continue;
            }
            bad += 1;
            let (why, below) = state.explain(&s.name, &s.value);
            eprintln!(
                "kconfig-check: {file}:{}: CONFIG_{}={}: got {}: {why}",
                s.line,
                s.name,
                s.value,
                got.map_or("n", String::as_str)
            );
            for line in below {
                eprintln!("    {line}");
            }
        }
    }
    if bad == 0 {
        Ok(Outcome::Holds)
    } else {
        eprintln!(
            "kconfig-check: {bad} option(s) of the fragments are not in {} (ARCH={arch}, {} Kconfig files read)",
            config_path.display(),
            tree.files
        );
        Ok(Outcome::Mismatches(bad))
    }
}

/// (ARCH, SRCARCH) from the flag, the environment or the build machine.
fn arch_vars(flag: Option<&str>) -> (String, String) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(a) = flag {
        return (a.to_string(), srcarch(a).to_string());
    }
    match (env("ARCH"), env("SRCARCH")) {
        (Some(a), Some(s)) => (a, s),
        (Some(a), None) => {
            let s = srcarch(&a).to_string();
            (a, s)
        }
        (None, Some(s)) => (s.clone(), s),
        (None, None) => {
            let a = match std::env::consts::ARCH {
                "x86_64" => "x86_64",
                "x86" => "i386",
                "aarch64" => "arm64",
                "arm" => "arm",
                other => other,
            }
            .to_string();
            let s = srcarch(&a).to_string();
            (a, s)
        }
    }
}
