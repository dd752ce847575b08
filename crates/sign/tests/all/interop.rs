//! Both directions against Debian's minisign 0.11: its signatures (prehashed
//! and legacy) verify here, ours verify with `minisign -V`, and each side's
//! keys (unencrypted and password-protected) sign for the other.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use limina_sign::{
    read_public_key, read_secret_key, read_signature, sign_file, verify_file, Algorithm, SecretKey,
};

use super::{image, scratch};

/// Whether minisign can run here: not in a cross-target run; a missing
/// minisign fails the test when LIMINA_REQUIRE_TOOLS is set (CI).
fn have_minisign(test: &str) -> bool {
    if std::env::var_os("LIMINA_EXPECT_ENDIAN").is_some() {
        eprintln!("SKIPPED {test}: cross-target run (LIMINA_EXPECT_ENDIAN is set)");
        return false;
    }
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

/// Runs minisign with `stdin` (passwords) as its input.
fn minisign(args: &[&str], dir: &Path, stdin: &str) -> Output {
    let mut child = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run minisign");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("minisign")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn minisigns_signatures_verify_here() {
    if !have_minisign("minisigns_signatures_verify_here") {
        return;
    }
    let dir = scratch("from-minisign");
    ok(
        &minisign(&["-G", "-W", "-p", "k.pub", "-s", "k.key"], &dir, ""),
        "keygen",
    );
    // 1 MiB and a bit: more than one read chunk, not a multiple of one.
    std::fs::write(dir.join("fw.bin"), image((1 << 20) + 17)).expect("write");
    ok(
        &minisign(&["-S", "-s", "k.key", "-m", "fw.bin"], &dir, ""),
        "sign",
    );
    ok(
        &minisign(
            &[
                "-S",
                "-l",
                "-s",
                "k.key",
                "-m",
                "fw.bin",
                "-x",
                "legacy.sig",
                "-t",
                "old style",
            ],
            &dir,
            "",
        ),
        "sign -l",
    );
    let key = read_public_key(&dir.join("k.pub")).expect("minisign's public key");
    let v = verify_file(&key, &dir.join("fw.bin"), None).expect("prehashed");
    assert_eq!(v.algorithm, Algorithm::Prehashed);
    assert!(
        v.trusted_comment.starts_with("timestamp:")
            && v.trusted_comment.ends_with("\tfile:fw.bin\thashed"),
        "{}",
        v.trusted_comment
    );
    let v = verify_file(&key, &dir.join("fw.bin"), Some(&dir.join("legacy.sig"))).expect("legacy");
    assert_eq!(v.algorithm, Algorithm::Legacy);
    assert_eq!(v.trusted_comment, "old style");

    // minisign's unencrypted secret key signs here, and minisign checks it.
    let secret = read_secret_key(&dir.join("k.key"), None).expect("minisign's secret key");
    assert_eq!(secret.public_key(), key);
    std::fs::write(dir.join("other.bin"), image(3000)).expect("write");
    sign_file(&secret, &dir.join("other.bin"), None, "signed by limina").expect("sign");
    let out = minisign(&["-V", "-p", "k.pub", "-m", "other.bin"], &dir, "");
    ok(&out, "minisign -V of our signature with minisign's key");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Trusted comment: signed by limina"));
}

#[test]
fn our_signatures_and_keys_work_with_minisign() {
    if !have_minisign("our_signatures_and_keys_work_with_minisign") {
        return;
    }
    let dir = scratch("to-minisign");
    let secret = SecretKey::generate().expect("generate");
    std::fs::write(dir.join("ours.pub"), secret.public_key().to_text()).expect("pub");
    std::fs::write(dir.join("ours.key"), secret.to_text()).expect("key");
    std::fs::write(dir.join("fw.bin"), image(100_000)).expect("write");
    let sig = sign_file(
        &secret,
        &dir.join("fw.bin"),
        None,
        "timestamp:1\tfile:fw.bin\thashed",
    )
    .expect("sign");
    assert_eq!(sig.algorithm(), Algorithm::Prehashed);
    // -H: minisign accepts only a prehashed signature.
    let out = minisign(&["-V", "-H", "-p", "ours.pub", "-m", "fw.bin"], &dir, "");
    ok(&out, "minisign -V -H");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Signature and comment signature verified\nTrusted comment: timestamp:1\tfile:fw.bin\thashed\n"
    );
    // A legacy signature of ours too.
    let legacy = secret
        .sign_legacy(&image(100_000), "legacy")
        .expect("sign legacy");
    std::fs::write(dir.join("fw.legacy"), legacy.to_text()).expect("write");
    ok(
        &minisign(
            &["-V", "-p", "ours.pub", "-m", "fw.bin", "-x", "fw.legacy"],
            &dir,
            "",
        ),
        "minisign -V of a legacy signature",
    );
    // minisign signs with our unencrypted secret key; we verify.
    ok(
        &minisign(
            &["-S", "-s", "ours.key", "-m", "fw.bin", "-x", "theirs.sig"],
            &dir,
            "",
        ),
        "minisign -S with our key",
    );
    let sig = read_signature(&dir.join("theirs.sig")).expect("their signature");
    assert_eq!(sig.key_id(), secret.key_id());
    verify_file(
        &secret.public_key(),
        &dir.join("fw.bin"),
        Some(&dir.join("theirs.sig")),
    )
    .expect("verify");
    // And minisign refuses our signature of another file, as we do.
    std::fs::write(dir.join("fw.bin"), image(100_001)).expect("write");
    let out = minisign(&["-V", "-p", "ours.pub", "-m", "fw.bin"], &dir, "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Signature verification failed\n"
    );
}

/// Password-protected keys cost scrypt with 1 GiB each way: one test, so
/// they do not run side by side.
#[cfg(feature = "encrypted-keys")]
#[test]
fn encrypted_keys_both_ways() {
    if !have_minisign("encrypted_keys_both_ways") {
        return;
    }
    let dir = scratch("encrypted");
    // minisign reads the password (twice) from stdin when it is no tty.
    ok(
        &minisign(
            &["-G", "-p", "k.pub", "-s", "k.key"],
            &dir,
            "correct horse\ncorrect horse\n",
        ),
        "keygen with a password",
    );
    let path = dir.join("k.key");
    let e = read_secret_key(&path, None).expect_err("no password");
    assert!(
        anyhow_like(&e).ends_with("the secret key is encrypted: a password is needed"),
        "{e}"
    );
    let e = read_secret_key(&path, Some(b"wrong")).expect_err("wrong password");
    assert!(
        anyhow_like(&e)
            .ends_with("wrong password for that key, or a damaged key file (checksum mismatch)"),
        "{e}"
    );
    let theirs = read_secret_key(&path, Some(b"correct horse")).expect("decrypt");
    assert_eq!(
        theirs.public_key(),
        read_public_key(&dir.join("k.pub")).expect("pub")
    );

    // Ours, encrypted: minisign decrypts it and signs.
    let ours = SecretKey::generate().expect("generate");
    std::fs::write(
        dir.join("ours.key"),
        ours.to_text_encrypted(b"pw 2").expect("encrypt"),
    )
    .expect("write");
    std::fs::write(dir.join("ours.pub"), ours.public_key().to_text()).expect("write");
    std::fs::write(dir.join("fw.bin"), image(5000)).expect("write");
    ok(
        &minisign(
            &["-S", "-s", "ours.key", "-p", "ours.pub", "-m", "fw.bin"],
            &dir,
            "pw 2\n",
        ),
        "minisign -S with our encrypted key",
    );
    verify_file(&ours.public_key(), &dir.join("fw.bin"), None).expect("verify");
}

/// The error and its causes on one line, as the CLIs print them.
#[cfg(feature = "encrypted-keys")]
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}
