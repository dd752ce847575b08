//! `limina-host sign` as users run it: keygen, sign and verify journeys,
//! minisign's exit codes (0, 1 a signature that does not hold, 2 other
//! errors), and both directions with Debian's minisign.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{on_build_machine, scratch};

/// Runs `limina-host sign ARGS` in `dir` with `stdin` as input.
fn sign(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_limina-host")).arg("sign"),
        dir,
        args,
        stdin,
    )
}

fn minisign(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run(&mut Command::new("minisign"), dir, args, stdin)
}

fn run(cmd: &mut Command, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    child.wait_with_output().expect("wait")
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// minisign is needed; with LIMINA_REQUIRE_TOOLS (CI) its absence fails.
fn have_minisign(test: &str) -> bool {
    let found = Command::new("minisign")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("LIMINA_REQUIRE_TOOLS").is_none(),
            "{test}: minisign is not installed (scripts/setup installs it)"
        );
        eprintln!("SKIPPED {test}: minisign is not installed");
    }
    found
}

#[test]
fn keygen_sign_verify_and_minisign_agrees() {
    if !on_build_machine("sign journey") || !have_minisign("sign journey") {
        return;
    }
    let dir = scratch("sign");
    let out = sign(&dir, &["keygen", "-W", "-p", "k.pub", "-s", "k.key"], "");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("k.key"))
            .expect("key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // A second keygen would lose the key: refused without -f.
    let out = sign(&dir, &["keygen", "-W", "-p", "k.pub", "-s", "k.key"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err(&out).contains("k.pub: already exists; add -f"),
        "{}",
        err(&out)
    );

    // The public key recreated from the secret key is the same file.
    let out = sign(&dir, &["pubkey", "-s", "k.key", "-p", "again.pub"], "");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert_eq!(
        std::fs::read(dir.join("again.pub")).expect("again.pub"),
        std::fs::read(dir.join("k.pub")).expect("k.pub")
    );

    std::fs::write(dir.join("firmware.bin"), vec![0x5a; 200_000]).expect("write");
    let out = sign(
        &dir,
        &["sign", "-s", "k.key", "-t", "build 42", "firmware.bin"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let out = sign(&dir, &["verify", "-p", "k.pub", "firmware.bin"], "");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Signature and comment signature verified\nTrusted comment: build 42\n"
    );
    let out = minisign(&dir, &["-V", "-H", "-p", "k.pub", "-m", "firmware.bin"], "");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));

    // minisign's signature (its default trusted comment) verifies here.
    let out = minisign(
        &dir,
        &["-S", "-s", "k.key", "-m", "firmware.bin", "-x", "m.sig"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let out = sign(
        &dir,
        &["verify", "-q", "-p", "k.pub", "-x", "m.sig", "firmware.bin"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(out.stdout.is_empty());

    // Changed file: 1, as minisign.
    std::fs::write(dir.join("firmware.bin"), vec![0x5b; 200_000]).expect("write");
    let out = sign(&dir, &["verify", "-p", "k.pub", "firmware.bin"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        err(&out),
        "limina-host: sign: firmware.bin: bad signature: the file is not what was signed (changed, truncated or extended)\n"
    );
    assert_eq!(
        minisign(&dir, &["-V", "-p", "k.pub", "-m", "firmware.bin"], "")
            .status
            .code(),
        Some(1)
    );
    // No signature: 2, as minisign.
    let out = sign(
        &dir,
        &["verify", "-p", "k.pub", "-x", "none.sig", "firmware.bin"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        err(&out),
        "limina-host: sign: unsigned: no signature file none.sig\n"
    );
    // Bad usage: 2.
    assert_eq!(
        sign(&dir, &["verify", "firmware.bin"], "").status.code(),
        Some(2)
    );
}

#[test]
fn encrypted_keys_take_the_password_from_stdin() {
    if !on_build_machine("sign encrypted") || !have_minisign("sign encrypted") {
        return;
    }
    let dir = scratch("sign-encrypted");
    let out = sign(&dir, &["keygen", "-p", "k.pub", "-s", "k.key"], "a\nb\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("passwords don't match"), "{}", err(&out));
    assert!(!dir.join("k.key").exists());
    let out = sign(
        &dir,
        &["keygen", "-p", "k.pub", "-s", "k.key"],
        "s3cret\ns3cret\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    std::fs::write(dir.join("fw.bin"), b"image").expect("write");
    // minisign decrypts our key and signs with it; we check its signature.
    let out = minisign(&dir, &["-S", "-s", "k.key", "-m", "fw.bin"], "s3cret\n");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let out = sign(&dir, &["verify", "-p", "k.pub", "fw.bin"], "");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let out = sign(&dir, &["sign", "-s", "k.key", "fw.bin"], "wrong\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err(&out).contains("wrong password for that key"),
        "{}",
        err(&out)
    );
}
