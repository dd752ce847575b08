//! `git-export` and `git-verify` against a repository made with the git
//! CLI: the export must be what `git archive | tar -x` gives (the reference
//! tool; `--no-same-permissions`: modes less the umask, as a checkout
//! gives them, also when the tests run as root), and the check must name
//! every difference.

use std::path::Path;
use std::process::{Command, Output};

use super::{on_build_machine, scratch};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.org", "-c", "user.name=t"])
        .args(args)
        .output()
        .expect("git is installed (scripts/setup)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_limina-host"))
        .args(args)
        .output()
        .expect("run limina-host")
}

/// A bare repository with two commits (tag v1 on the first): plain,
/// executable and nested files, a symlink in the tree and one pointing out
/// of it, and a file with bytes that are not text.
fn fixture() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch("git");
    let work = dir.join("work");
    std::fs::create_dir_all(work.join("sub/deep")).expect("mkdir");
    git(&dir, &["init", "-q", "work"]);
    std::fs::write(work.join("a.txt"), "hello\n").expect("write");
    std::fs::write(work.join("sub/deep/b.bin"), [0u8, 1, 2, 255, b'\n']).expect("write");
    std::fs::write(work.join("run.sh"), "#!/bin/sh\necho run\n").expect("write");
    std::os::unix::fs::symlink("sub/deep/b.bin", work.join("link")).expect("symlink");
    std::os::unix::fs::symlink("../outside", work.join("escape")).expect("symlink");
    std::fs::set_permissions(
        work.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1"]);
    std::fs::write(work.join("a.txt"), "hello again\n").expect("write");
    git(&work, &["commit", "-q", "-a", "-m", "two"]);
    let bare = dir.join("bare.git");
    git(&dir, &["clone", "-q", "--bare", "work", "bare.git"]);
    (dir, bare)
}

/// `find -printf` of a tree: type, permissions, path, link target, and
/// the content's checksum, for comparing two trees entry by entry.
fn listing(root: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -mindepth 1 -printf '%M %p %l\\n' | sort; find . -type f -exec md5sum {} + | sort")
        .current_dir(root)
        .output()
        .expect("find");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn export_equals_git_archive() {
    if !on_build_machine("export_equals_git_archive") {
        return;
    }
    let (dir, bare) = fixture();
    let b = bare.to_str().expect("utf-8 path");
    let ours = dir.join("ours");
    let out = host(&[
        "git-export",
        "--git-dir",
        b,
        "v1",
        ours.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = dir.join("ref");
    std::fs::create_dir_all(&reference).expect("mkdir");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git -C {b} archive v1 | tar -x --no-same-permissions -C {}",
            reference.display()
        ))
        .status()
        .expect("git archive");
    assert!(st.success());
    assert_eq!(listing(&ours), listing(&reference));
    // It prints the commit v1 resolves to, as `git rev-parse` does.
    let rev = Command::new("git")
        .args(["-C", b, "rev-parse", "v1^{commit}"])
        .output()
        .expect("git rev-parse");
    assert_eq!(out.stdout, rev.stdout);
}

#[test]
fn export_of_a_member_writes_that_file_only() {
    if !on_build_machine("export_of_a_member_writes_that_file_only") {
        return;
    }
    let (dir, bare) = fixture();
    let dest = dir.join("b.bin");
    let out = host(&[
        "git-export",
        "--git-dir",
        bare.to_str().expect("utf-8"),
        "--member",
        "sub/deep/b.bin",
        "v1",
        dest.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&dest).expect("read"), [0u8, 1, 2, 255, b'\n']);
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    if !on_build_machine("bad_input_is_named_and_nothing_is_written") {
        return;
    }
    let (dir, bare) = fixture();
    let b = bare.to_str().expect("utf-8");
    let dest = dir.join("none");
    let out = host(&[
        "git-export",
        "--git-dir",
        b,
        "v9",
        dest.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("v9: not a revision"));
    assert!(!dest.exists());
    let out = host(&[
        "git-export",
        "--git-dir",
        dir.to_str().expect("utf-8"),
        "v1",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a git repository"));
    // A non-empty destination is refused, not merged into.
    let full = dir.join("work");
    let out = host(&[
        "git-export",
        "--git-dir",
        b,
        "v1",
        full.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

#[test]
fn verify_names_every_difference() {
    if !on_build_machine("verify_names_every_difference") {
        return;
    }
    let (dir, bare) = fixture();
    let b = bare.to_str().expect("utf-8");
    let tree = dir.join("tree");
    let t = tree.to_str().expect("utf-8");
    assert!(host(&["git-export", "--git-dir", b, "v1", t])
        .status
        .success());
    std::fs::write(tree.join(".marker"), "x").expect("write");

    let ok = host(&["git-verify", "--git-dir", b, "--ignore", ".marker", "v1", t]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // The tree is v1, not HEAD: a.txt changed since.
    let head = host(&[
        "git-verify",
        "--git-dir",
        b,
        "--ignore",
        ".marker",
        "HEAD",
        t,
    ]);
    assert_eq!(head.status.code(), Some(1));
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.contains("a.txt: content differs"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");

    // One byte, a mode, an extra file, a missing one: each named.
    std::fs::write(tree.join("sub/deep/b.bin"), [0u8, 1, 2, 254, b'\n']).expect("write");
    std::fs::set_permissions(
        tree.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    std::fs::write(tree.join("sub/extra"), "x").expect("write");
    std::fs::remove_file(tree.join("link")).expect("rm");
    let bad = host(&["git-verify", "--git-dir", b, "--ignore", ".marker", "v1", t]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    for want in [
        "sub/deep/b.bin: content differs",
        "run.sh: a file here, an executable file in v1",
        "sub/extra: not in v1",
        "link: missing",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }

    // Only the paths asked: a.txt still matches v1.
    let some = host(&["git-verify", "--git-dir", b, "v1", t, "a.txt", "escape"]);
    assert_eq!(
        some.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&some.stdout)
    );
}
