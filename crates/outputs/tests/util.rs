//! Shared helpers: finding the limina binary, scratch directories.

#![allow(dead_code, reason = "each test module uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The host-built multi-call binary: `$LIMINA_BIN`, else the workspace's
/// `target/debug/limina`.
pub fn limina_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LIMINA_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/limina")
}

/// A directory with applet symlinks to the limina binary, as on the device.
pub fn applet_dir(scratch: &Path, applets: &[&str]) -> PathBuf {
    let bin = limina_bin();
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build -p limina` first (or set LIMINA_BIN)",
        bin.display()
    );
    let dir = scratch.join("bin");
    std::fs::create_dir_all(&dir).expect("scratch bin dir");
    for a in applets {
        let link = dir.join(a);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&bin, &link).expect("applet symlink");
    }
    dir
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory under the temp dir, named after the test.
    pub fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("limina-outputs-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command, returning (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("command starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
