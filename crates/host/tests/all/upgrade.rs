//! `limina-host upgrade` as users run it, with a stand-in for ssh (a
//! script that records its arguments and what it was sent): the signed
//! stream is the .minisig then the image, the flags reach the router's
//! command, and the router's exit status comes back. The real journey
//! (dropbear on the qemu-mips image, `limina upgrade -` writing phram
//! slots) is board-tests' `buildroot::upgrade_over_ssh_*`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use super::{on_build_machine, scratch};

/// A fake ssh in `dir`: records "$@" (one per line) and stdin, then
/// reads nothing more and exits with $FAKE_SSH_EXIT.
fn fake_ssh(dir: &Path, read_stdin: bool) -> String {
    let path = dir.join("fake-ssh");
    let read = if read_stdin {
        "cat > \"$d/stdin\""
    } else {
        ": > \"$d/stdin\""
    };
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$d/args\"\n{read}\necho router-says >&2\nexit \"${{FAKE_SSH_EXIT:-0}}\"\n"
        ),
    )
    .expect("write fake ssh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn upgrade(dir: &Path, args: &[&str], exit: u8) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .arg("upgrade")
        .args(args)
        .current_dir(dir)
        .env("FAKE_SSH_EXIT", exit.to_string())
        .output()
        .expect("run limina-host")
}

fn keys(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .args(["sign", "keygen", "-W", "-p", "k.pub", "-s", "k.key"])
        .current_dir(dir)
        .output()
        .expect("keygen");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .args([
            "sign",
            "sign",
            "-s",
            "k.key",
            "-t",
            "timestamp:1\tboard:mti,malta",
            "firmware.bin",
        ])
        .current_dir(dir)
        .output()
        .expect("sign");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn sends_the_signature_then_the_image_and_returns_the_routers_status() {
    if !on_build_machine("upgrade::sends_the_signature_then_the_image") {
        return;
    }
    let dir = scratch("upgrade");
    let image: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("firmware.bin"), &image).expect("image");
    keys(&dir);
    let ssh = fake_ssh(&dir, true);
    let out = upgrade(
        &dir,
        &["--ssh", &ssh, "-n", "-f", "root@router", "firmware.bin"],
        0,
    );
    assert!(out.status.success(), "{out:?}");
    let args = std::fs::read_to_string(dir.join("args")).expect("args");
    assert_eq!(args, "root@router\nlimina\nupgrade\n-n\n-f\n-\n");
    let sent = std::fs::read(dir.join("stdin")).expect("stdin");
    let sig = std::fs::read(dir.join("firmware.bin.minisig")).expect("sig");
    assert_eq!(sent, [sig.as_slice(), image.as_slice()].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("router-says"), "{err}");
    assert!(err.contains("sent 0.3/0.3 MiB"), "{err}");

    // The router's exit status is ours.
    let out = upgrade(&dir, &["--ssh", &ssh, "root@router", "firmware.bin"], 1);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // ssh's own failure (255) too.
    let out = upgrade(&dir, &["--ssh", &ssh, "root@router", "firmware.bin"], 255);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
}

#[test]
fn a_router_that_stops_reading_is_reported_with_its_status() {
    if !on_build_machine("upgrade::a_router_that_stops_reading") {
        return;
    }
    let dir = scratch("upgrade-refused");
    // Larger than a pipe buffer, so the write fails once ssh is gone.
    std::fs::write(dir.join("firmware.bin"), vec![0x27u8; 4 << 20]).expect("image");
    let ssh = fake_ssh(&dir, false);
    let out = upgrade(
        &dir,
        &[
            "--ssh",
            &ssh,
            "--remote",
            "limina upgrade --single",
            "r",
            "firmware.bin",
        ],
        1,
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no firmware.bin.minisig: sending the image unsigned"),
        "{err}"
    );
    assert!(err.contains("the router stopped reading after"), "{err}");
    let args = std::fs::read_to_string(dir.join("args")).expect("args");
    assert_eq!(args, "r\nlimina\nupgrade\n--single\n-\n");
    // A missing image is this side's error: 2, and ssh never runs.
    std::fs::remove_file(dir.join("args")).expect("rm");
    let out = upgrade(&dir, &["--ssh", &ssh, "r", "missing.bin"], 0);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!dir.join("args").exists());
}
