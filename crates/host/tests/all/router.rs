//! `limina-host router` as users run it: exit codes, messages on stderr,
//! nothing written for a bad file, the graph on stdout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{on_build_machine, scratch, write};

fn router(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .arg("router")
        .args(args)
        .output()
        .expect("run limina-host")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../boards/qemu/router.toml")
}

#[test]
fn check_is_silent_on_a_good_file_and_lists_every_mistake() {
    if !on_build_machine("router check") {
        return;
    }
    let out = router(&["check".as_ref(), example().as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty());

    let dir = scratch("router-check");
    let file = dir.join("router.toml");
    write(
        &file,
        "[system]\nhostname = \"r\"\n\n[link.wan]\ndevice = \"eth0\"\nmtu = 9\n\n[bridge.lan]\nmembers = [\"wan\", \"lan-prot\"]\n",
    );
    let out = router(&["check".as_ref(), file.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let f = file.display();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{f}:6:7: [link.wan] mtu: 9 is not 68..65535\n\
             {f}:9:19: [bridge.lan] members: no [link] or [vlan] named \"lan-prot\"\n"
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    if !on_build_machine("router usage") {
        return;
    }
    assert_eq!(router(&["check".as_ref()]).status.code(), Some(2));
    assert_eq!(router(&["frobnicate".as_ref()]).status.code(), Some(2));
    let out = router(&["check".as_ref(), "/nonexistent/router.toml".as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("/nonexistent/router.toml: "));
}

#[test]
fn render_writes_a_tree_once_and_nothing_for_a_bad_file() {
    if !on_build_machine("router render") {
        return;
    }
    let dir = scratch("router-render");
    let out_dir = dir.join("out");
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> =
            vec!["render".into(), example().into(), out_dir.clone().into()];
        v.extend(extra.iter().map(Into::into));
        v
    };
    let run =
        |a: Vec<std::ffi::OsString>| router(&a.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
    let out = run(args(&["--outputs-dir", "/tmp/outputs"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wan = std::fs::read_to_string(out_dir.join("s6-rc/wan/run")).expect("wan/run");
    assert!(wan.contains("LIMINA_OUTPUTS_DIR=/tmp/outputs\n"), "{wan}");
    assert!(out_dir.join("graph.dot").is_file() && out_dir.join("outputs.txt").is_file());

    let out = run(args(&[]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists (remove it or use --force)"));
    assert_eq!(run(args(&["--force"])).status.code(), Some(0));

    let bad = dir.join("bad.toml");
    write(
        &bad,
        "[system]\nhostname = \"r\"\n[link.wan]\ndevice = \"eth0\"\nmtuu = 1\n",
    );
    let bad_out = dir.join("bad-out");
    let out = router(&["render".as_ref(), bad.as_os_str(), bad_out.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}:5:1: unknown key \"mtuu\" in [link.wan], expected one of device, mtu, mac\n",
            bad.display()
        )
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("scratch")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        ["bad.toml", "out"],
        "a bad file leaves nothing behind"
    );
}

#[test]
fn graph_prints_dot() {
    if !on_build_machine("router graph") {
        return;
    }
    let out = router(&["graph".as_ref(), example().as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph router {\n"), "{dot}");
    assert!(dot.contains("  \"wan-address\" -> \"wan\";"), "{dot}");
    assert!(
        dot.contains("  \"link-lan-port\" -> \"bridge-lan\";"),
        "{dot}"
    );
}
