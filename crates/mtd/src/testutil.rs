//! Test helpers: a temporary directory removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under [`std::env::temp_dir`], removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/mtd-rs-<label>-<pid>-<n>`, unique per process and call.
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("mtd-rs-{label}-{}-{n}", std::process::id()));
        // A leftover from a killed run with a recycled pid would hold stale files.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        Self(path)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
