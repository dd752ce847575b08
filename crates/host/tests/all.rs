//! `limina-host` as users run it: the built binary on Kconfig trees.
//!
//! The small trees here are written per test (the cases of the Python
//! script boards/common/check-kconfig this tool replaced, and the rules it
//! did not know). `real_tree` runs the same cases on Debian's Linux 6.1
//! with `.config` files made by the kernel's own `make olddefconfig`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "all/git.rs"]
mod git;
#[cfg(feature = "real-kernel-tree")]
#[path = "all/real_tree.rs"]
mod real_tree;
#[path = "all/router.rs"]
mod router;
#[path = "all/sign.rs"]
mod sign;
#[path = "all/upgrade.rs"]
mod upgrade;

/// These tests run the built binary, which a cross-target run cannot
/// (`scripts/cross-test` under qemu-user and the MIPS VM set
/// `LIMINA_EXPECT_ENDIAN`): there they say SKIPPED and return. The rules
/// themselves are byte-order free; the unit tests run everywhere.
fn on_build_machine(test: &str) -> bool {
    if std::env::var_os("LIMINA_EXPECT_ENDIAN").is_none() {
        return true;
    }
    eprintln!("SKIPPED {test}: cross-target run (LIMINA_EXPECT_ENDIAN is set); host-only test");
    false
}

/// A fresh directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "limina-host-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Run `limina-host kconfig-check ARGS...`.
fn check(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .arg("kconfig-check")
        .args(args)
        .output()
        .expect("run limina-host")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The tree of scripts/check-br2's old kernel-config stage, plus the
/// rules the Python script did not evaluate.
const KCONFIG: &str = r#"
config MODULES
	bool "Loadable modules"
menuconfig MTD
	tristate "MTD"
if MTD
config MTD_UBI
	tristate "UBI"
	depends on MTD
	help
	  Unsorted block images.
endif
config UBIFS_FS
	tristate "UBIFS"
	depends on MTD_UBI
config USB_NET
	bool "USB networking"
config CRC32
	tristate
config NEEDS_CRC
	bool "needs crc"
	select CRC32
config KEXEC
	bool "kexec"
config LOG_BUF_SHIFT
	int "log buffer"
	range 12 25
	default 17
choice
	prompt "Kernel compression mode"
	default KERNEL_GZIP
config KERNEL_GZIP
	bool "Gzip"
config KERNEL_XZ
	bool "XZ"
endchoice
"#;

/// A tree with `KCONFIG` and this `.config`.
fn tree(name: &str, config: &str) -> PathBuf {
    let dir = scratch(name);
    let linux = dir.join("linux");
    std::fs::create_dir_all(&linux).expect("mkdir linux");
    write(&linux.join("Kconfig"), KCONFIG);
    write(&linux.join(".config"), config);
    linux
}

fn fragment(linux: &Path, name: &str, text: &str) -> PathBuf {
    let path = linux.parent().expect("tree has a parent").join(name);
    write(&path, text);
    path
}

const CONFIG: &str = "CONFIG_MODULES=y\nCONFIG_MTD=y\nCONFIG_MTD_UBI=y\n# CONFIG_USB_NET is not set\nCONFIG_CRC32=y\nCONFIG_NEEDS_CRC=y\nCONFIG_KEXEC=y\nCONFIG_LOG_BUF_SHIFT=17\nCONFIG_KERNEL_GZIP=y\n";

#[test]
fn a_fragment_the_config_satisfies_passes_quietly() {
    if !on_build_machine("a_fragment_the_config_satisfies_passes_quietly") {
        return;
    }
    let linux = tree("good", CONFIG);
    let good = fragment(
        &linux,
        "good.fragment",
        "# common\nCONFIG_MTD=y\nCONFIG_MTD_UBI=y\n\n# CONFIG_USB_NET is not set\nCONFIG_LOG_BUF_SHIFT=17\n",
    );
    let out = check(&[&linux, &good]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn exactly_the_dropped_options_are_named() {
    if !on_build_machine("exactly_the_dropped_options_are_named") {
        return;
    }
    // The old check-br2 stage: MTD_UBI holds, USB_NET and NO_SUCH do not.
    let linux = tree("bad", CONFIG);
    let bad = fragment(
        &linux,
        "bad.fragment",
        "CONFIG_MTD_UBI=y\nCONFIG_USB_NET=y\nCONFIG_NO_SUCH=y\n",
    );
    let out = check(&[&linux, &bad]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.fragment:2: CONFIG_USB_NET=y: got n: its dependencies hold"),
        "{err}"
    );
    assert!(
        err.contains(
            "bad.fragment:3: CONFIG_NO_SUCH=y: got n: no symbol NO_SUCH in this kernel's Kconfig"
        ),
        "{err}"
    );
    assert!(!err.contains("CONFIG_MTD_UBI"), "{err}");
    assert!(
        err.contains("2 option(s) of the fragments are not in"),
        "{err}"
    );
}

#[test]
fn a_missing_dependency_is_followed_to_the_symbol_to_set() {
    if !on_build_machine("a_missing_dependency_is_followed_to_the_symbol_to_set") {
        return;
    }
    let config = CONFIG.replace(
        "CONFIG_MTD=y\nCONFIG_MTD_UBI=y\n",
        "# CONFIG_MTD is not set\n",
    );
    let linux = tree("deps", &config);
    let f = fragment(&linux, "ubifs.fragment", "CONFIG_UBIFS_FS=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "kconfig-check: ubifs.fragment:1: CONFIG_UBIFS_FS=y: got n: depends on MTD_UBI [=n]"
    );
    assert_eq!(lines[1], "    UBIFS_FS is defined at Kconfig:13");
    // MTD_UBI's own `depends on MTD` and the enclosing `if MTD` are one.
    assert_eq!(lines[2], "    MTD_UBI [=n]: depends on MTD [=n]");
    assert_eq!(
        lines[3],
        "        MTD [=n]: can be set, its dependencies hold (add CONFIG_MTD=y to the fragment)"
    );
}

#[test]
fn a_symbol_with_a_typo_gets_a_suggestion() {
    if !on_build_machine("a_symbol_with_a_typo_gets_a_suggestion") {
        return;
    }
    let linux = tree("typo", CONFIG);
    let f = fragment(&linux, "typo.fragment", "CONFIG_MTD_UBII=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no symbol MTD_UBII in this kernel's Kconfig (did you mean MTD_UBI?)"),
        "{err}"
    );
}

#[test]
fn a_choice_lost_to_another_option_names_the_winner() {
    if !on_build_machine("a_choice_lost_to_another_option_names_the_winner") {
        return;
    }
    let linux = tree("choice", CONFIG);
    let f = fragment(&linux, "xz.fragment", "CONFIG_KERNEL_XZ=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CONFIG_KERNEL_XZ=y: got n: choice \"Kernel compression mode\" (Kconfig:29) took KERNEL_GZIP [=y]"),
        "{err}"
    );
}

#[test]
fn m_of_a_bool_and_m_without_modules() {
    if !on_build_machine("m_of_a_bool_and_m_without_modules") {
        return;
    }
    let linux = tree(
        "m",
        &CONFIG.replace("CONFIG_MODULES=y", "# CONFIG_MODULES is not set"),
    );
    let f = fragment(&linux, "m.fragment", "CONFIG_KEXEC=m\nCONFIG_MTD=m\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CONFIG_KEXEC=m: got y: KEXEC is a bool: it cannot be m"),
        "{err}"
    );
    assert!(
        err.contains("CONFIG_MTD=m: got y: m needs MODULES [=n]"),
        "{err}"
    );
    assert!(err.contains("MODULES [=n]: can be set"), "{err}");
}

#[test]
fn an_unset_option_that_is_selected_names_the_selector() {
    if !on_build_machine("an_unset_option_that_is_selected_names_the_selector") {
        return;
    }
    let linux = tree("select", CONFIG);
    let f = fragment(&linux, "crc.fragment", "# CONFIG_CRC32 is not set\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("crc.fragment:1: CONFIG_CRC32=n: got y: selected by NEEDS_CRC [=y]"),
        "{err}"
    );
}

#[test]
fn a_value_outside_its_range() {
    if !on_build_machine("a_value_outside_its_range") {
        return;
    }
    let linux = tree("range", CONFIG);
    let f = fragment(&linux, "range.fragment", "CONFIG_LOG_BUF_SHIFT=30\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CONFIG_LOG_BUF_SHIFT=30: got 17: 30 is outside its range 12 25"),
        "{err}"
    );
}

#[test]
fn the_last_fragment_asking_wins() {
    if !on_build_machine("the_last_fragment_asking_wins") {
        return;
    }
    // The board fragment overrides the common one: only the board's
    // request is checked.
    let linux = tree("override", CONFIG);
    let common = fragment(
        &linux,
        "common.fragment",
        "CONFIG_KERNEL_XZ=y\nCONFIG_USB_NET=y\n",
    );
    let board = fragment(&linux, "board.fragment", "# CONFIG_USB_NET is not set\n");
    let out = check(&[&linux, &common, &board]);
    let err = stderr(&out);
    assert!(!err.contains("USB_NET"), "{err}");
    assert!(err.contains("CONFIG_KERNEL_XZ=y"), "{err}");
}

#[test]
fn a_missing_linux_dir_is_a_usage_error() {
    if !on_build_machine("a_missing_linux_dir_is_a_usage_error") {
        return;
    }
    let dir = scratch("nolinux");
    let f = fragment(&dir.join("x"), "f.fragment", "CONFIG_A=y\n");
    let out = check(&[&dir.join("no-such-linux"), &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no-such-linux: not a Linux source tree (no Kconfig file)"),
        "{err}"
    );
}

#[test]
fn a_missing_config_is_a_usage_error() {
    if !on_build_machine("a_missing_config_is_a_usage_error") {
        return;
    }
    let linux = tree("noconfig", CONFIG);
    std::fs::remove_file(linux.join(".config")).expect("remove .config");
    let f = fragment(&linux, "f.fragment", "CONFIG_MTD=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(".config: no such file: configure the kernel first"),
        "{err}"
    );
}

#[test]
fn a_line_that_is_not_an_option_is_a_usage_error() {
    if !on_build_machine("a_line_that_is_not_an_option_is_a_usage_error") {
        return;
    }
    let linux = tree("badline", CONFIG);
    let f = fragment(&linux, "f.fragment", "CONFIG_MTD=y\nMTD_UBI=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("f.fragment:2: not a CONFIG_X=value line or a comment: \"MTD_UBI=y\""),
        "{err}"
    );
}

#[test]
fn a_missing_fragment_and_no_fragment_are_usage_errors() {
    if !on_build_machine("a_missing_fragment_and_no_fragment_are_usage_errors") {
        return;
    }
    let linux = tree("nofragment", CONFIG);
    let out = check(&[&linux, &linux.join("none.fragment")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("none.fragment: No such file"),
        "{}",
        stderr(&out)
    );
    let out = check(&[&linux]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("FRAGMENTS"), "{}", stderr(&out));
}

#[test]
fn a_kconfig_syntax_error_names_file_and_line() {
    if !on_build_machine("a_kconfig_syntax_error_names_file_and_line") {
        return;
    }
    let linux = tree("syntax", CONFIG);
    write(&linux.join("Kconfig"), "config A\n\tbool \"a\"\nendmenu\n");
    let f = fragment(&linux, "f.fragment", "CONFIG_A=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Kconfig:3: endmenu without its opening statement"),
        "{err}"
    );
}

#[test]
fn a_symbol_without_a_prompt_names_its_selectors() {
    if !on_build_machine("a_symbol_without_a_prompt_names_its_selectors") {
        return;
    }
    let config = CONFIG.replace(
        "CONFIG_CRC32=y\nCONFIG_NEEDS_CRC=y\n",
        "# CONFIG_NEEDS_CRC is not set\n",
    );
    let linux = tree("noprompt", &config);
    let f = fragment(&linux, "crc.fragment", "CONFIG_CRC32=y\n");
    let out = check(&[&linux, &f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "CONFIG_CRC32=y: got n: CRC32 has no prompt: only a select or a default sets it"
        ),
        "{err}"
    );
    assert!(err.contains("    selected by: NEEDS_CRC [=n]"), "{err}");
}
