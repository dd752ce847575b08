//! Every applet answers `--help` and `--version`, through the dispatcher,
//! whether called as `limina APPLET` or through its symlink.

use std::process::Command;

use crate::util::{applet, applet_dir, limina, run, Scratch};

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs the built limina: use --features cli-tests"
)]
fn every_applet_answers_help_and_version() {
    let (code, list, _) = run(Command::new(limina()).arg("--list"));
    assert_eq!(code, 0);
    let names: Vec<&str> = list.lines().collect();
    assert!(!names.is_empty(), "limina --list is empty");
    for want in ["output-publish", "output-unpublish", "uevent-wait"] {
        assert!(
            !cfg!(all(feature = "outputs", feature = "hotplug")) || names.contains(&want),
            "{want} missing from --list: {names:?}"
        );
    }
    let tmp = Scratch::new("help");
    let bin = applet_dir(&tmp, &names);
    let version = format!("(limina) {}\n", env!("CARGO_PKG_VERSION"));
    for name in &names {
        let via_link = || {
            let mut c = Command::new(bin.join(name));
            c.env_clear();
            c
        };
        for mut cmd in [applet(name, &["--help"]), {
            let mut c = via_link();
            c.arg("--help");
            c
        }] {
            let (code, out, err) = run(&mut cmd);
            assert_eq!((code, err.as_str()), (0, ""), "{name} --help: {out}");
            assert!(
                out.starts_with(&format!("{name}: ")) && out.contains(&format!("{name} ")),
                "{name} --help does not name it: {out:?}"
            );
        }
        for mut cmd in [applet(name, &["--version"]), {
            let mut c = via_link();
            c.arg("--version");
            c
        }] {
            let (code, out, err) = run(&mut cmd);
            assert_eq!((code, err.as_str()), (0, ""), "{name} --version");
            assert_eq!(out, format!("{name} {version}"), "{name} --version");
        }
    }
}

/// Only a lone `--help` is the dispatcher's: elsewhere it is an operand
/// (here `output`'s DEFAULT).
#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs the built limina: use --features cli-tests"
)]
#[cfg(feature = "outputs")]
fn help_elsewhere_is_an_operand() {
    let tmp = Scratch::new("help-operand");
    let base = tmp.join("outputs");
    let base = base.to_str().expect("UTF-8 temp dir");
    let (code, out, err) = run(&mut applet("output", &["-d", base, "wan", "ip", "--help"]));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "--help\n", ""));
    let (code, out, _) = run(&mut applet("output-path", &["--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("usage: output-path"), "{out}");
}
