//! Helpers shared by the tests that drive the reference tools.

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty `limina-kexec-TAG-PID` directory under the temp dir.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("limina-kexec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    /// A file in it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a reference tool; fails the test with its stderr if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}
