//! limina-sign against the real minisign (Debian's `minisign` package) and
//! the refusals an upgrade relies on, each with its message.
//!
//! `interop` runs the `minisign` binary, which a cross-target run cannot
//! (`scripts/cross-test` sets `LIMINA_EXPECT_ENDIAN`): there those tests
//! say SKIPPED; `refusals` runs everywhere.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "all/interop.rs"]
mod interop;
#[path = "all/refusals.rs"]
mod refusals;

/// A fresh directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "limina-sign-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Some bytes that look like an image: not all alike, so a flipped byte
/// anywhere matters.
fn image(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
