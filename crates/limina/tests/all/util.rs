//! Shared helpers: the binary, applet symlinks, scratch directories.

#![allow(dead_code, reason = "each test module uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `limina` binary cargo built for these tests.
pub fn limina() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_limina"))
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory under the temp dir, named after the test.
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("limina-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Self(p)
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory of applet symlinks to the binary, as on the device.
pub fn applet_dir(scratch: &Scratch, applets: &[&str]) -> PathBuf {
    let dir = scratch.join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    for a in applets {
        let link = dir.join(a);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(limina(), &link).expect("applet symlink");
    }
    dir
}

/// Runs a command: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("command starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `limina APPLET ARGS...` with a clean environment.
pub fn applet(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(limina());
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .arg(name)
        .args(args);
    c
}

/// Polls `f` every 20 ms until it returns `Some`, for at most `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The file's text, empty if it does not exist.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether we run as root (the uid of /proc/self).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
