//! kconfig-check on Debian's Linux 6.1 (`linux-source-6.1`), x86_64.
//!
//! `tests/kernel-tree` extracts and configures the tree once (cached under
//! $LIMINA_CACHE, keyed on the package version). Each case appends its
//! fragments to the x86_64 defconfig and lets the kernel's own
//! `make olddefconfig` decide, as Buildroot's fragment merge does; then
//! the check must name every option that did not land, and why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::{check, scratch, stderr, write};

/// The configured tree (built by tests/kernel-tree on first use).
fn linux() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernel-tree");
        let out = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// A `.config` made by Kconfig from defconfig plus `fragments`, and the
/// fragment files; the case's directory holds both.
fn configure(name: &str, fragments: &[(&str, &str)]) -> (PathBuf, Vec<PathBuf>) {
    // olddefconfig reads the tree only, but runs conf through make: one at
    // a time keeps make's view of scripts/kconfig simple.
    static MAKE: Mutex<()> = Mutex::new(());
    let dir = scratch(name);
    let linux = linux();
    let mut config = std::fs::read_to_string(linux.join(".config")).expect("defconfig .config");
    let mut files = Vec::new();
    for (file, text) in fragments {
        let path = dir.join(file);
        write(&path, text);
        config.push_str(text);
        files.push(path);
    }
    let config_path = dir.join("config");
    write(&config_path, &config);
    let _guard = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(linux)
        .arg("ARCH=x86_64")
        .arg(format!("KCONFIG_CONFIG={}", config_path.display()))
        .arg("olddefconfig")
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make olddefconfig: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (config_path, files)
}

/// `kconfig-check --arch x86_64 --config CONFIG LINUX FRAGMENTS...`.
fn run(config: &Path, fragments: &[PathBuf]) -> (Option<i32>, String) {
    let mut args: Vec<&Path> = vec![
        Path::new("--arch"),
        Path::new("x86_64"),
        Path::new("--config"),
        config,
        linux(),
    ];
    args.extend(fragments.iter().map(PathBuf::as_path));
    let out = check(&args);
    (out.status.code(), stderr(&out))
}

#[test]
fn a_clean_fragment_passes() {
    let (config, f) = configure(
        "clean",
        &[(
            "ubi.fragment",
            "CONFIG_MTD=y\nCONFIG_MTD_UBI=y\nCONFIG_UBIFS_FS=y\n# CONFIG_KEXEC is not set\nCONFIG_LOG_BUF_SHIFT=16\n",
        )],
    );
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn a_dependency_two_levels_down_is_named() {
    // UBIFS needs UBI (drivers/mtd/ubi, inside `if MTD`), which needs MTD,
    // which x86_64's defconfig leaves off.
    let (config, f) = configure("two-levels", &[("ubifs.fragment", "CONFIG_UBIFS_FS=y\n")]);
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "kconfig-check: ubifs.fragment:1: CONFIG_UBIFS_FS=y: got n: depends on MISC_FILESYSTEMS [=y] && MTD_UBI [=n]",
        "{err}"
    );
    assert_eq!(
        lines[1], "    UBIFS_FS is defined at fs/ubifs/Kconfig:2",
        "{err}"
    );
    assert_eq!(lines[2], "    MTD_UBI [=n]: depends on MTD [=n]", "{err}");
    assert_eq!(
        lines[3],
        "        MTD [=n]: can be set, its dependencies hold (add CONFIG_MTD=y to the fragment)",
        "{err}"
    );
}

#[test]
fn a_typo_is_named_with_the_symbol_meant() {
    let (config, f) = configure(
        "typo",
        &[("typo.fragment", "CONFIG_MTD=y\nCONFIG_MTD_UBII=y\n")],
    );
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("typo.fragment:2: CONFIG_MTD_UBII=y: got n: no symbol MTD_UBII in this kernel's Kconfig (did you mean MTD_UBI?)"),
        "{err}"
    );
    assert!(err.contains("1 option(s)"), "{err}");
}

#[test]
fn a_choice_lost_to_another_fragment_names_the_winner() {
    // The common fragment wants XZ, the board's LZ4: Kconfig keeps the last.
    let (config, f) = configure(
        "choice",
        &[
            ("common.fragment", "CONFIG_KERNEL_XZ=y\n"),
            ("board.fragment", "CONFIG_KERNEL_LZ4=y\n"),
        ],
    );
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("common.fragment:1: CONFIG_KERNEL_XZ=y: got n: choice \"Kernel compression mode\" (init/Kconfig:"),
        "{err}"
    );
    assert!(
        err.contains("took KERNEL_LZ4 [=y], which the fragments set to y"),
        "{err}"
    );
    assert!(!err.contains("CONFIG_KERNEL_LZ4=y:"), "{err}");
}

#[test]
fn m_asked_of_a_bool_is_named() {
    let (config, f) = configure("bool-m", &[("kexec.fragment", "CONFIG_KEXEC=m\n")]);
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("kexec.fragment:1: CONFIG_KEXEC=m: got y: KEXEC is a bool: it cannot be m"),
        "{err}"
    );
    // The x86 definition, not ia64's (where the Python script looked).
    assert!(
        err.contains("KEXEC is defined at arch/x86/Kconfig:"),
        "{err}"
    );
}

#[test]
fn an_unset_asked_of_a_selected_symbol_names_the_selectors() {
    let (config, f) = configure(
        "selected",
        &[("crc.fragment", "# CONFIG_CRC32 is not set\n")],
    );
    let (code, err) = run(&config, &f);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("crc.fragment:1: CONFIG_CRC32=n: got y: selected by "),
        "{err}"
    );
}
