//! Mapping a requested file name to a file under the served root.
//!
//! Two checks, because either alone has a hole: the name is refused if any
//! component is `..` (cheap, and the answer a user can understand), and the
//! joined path is canonicalized, which resolves every symlink, and must
//! still lie under the canonical root (catches a symlink inside the root
//! that points out of it). A leading `/` is taken relative to the root, as
//! `in.tftpd --secure` does after its chroot: boot loaders are often set up
//! with `/uImage`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::packet::ErrorCode;

/// Why a requested name is not served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The name has a `..` component.
    #[error("path: '..' component refused")]
    Traversal,
    /// The name resolves (through a symlink) to a path outside the root.
    #[error("path: resolves outside the root, to {0}")]
    OutsideRoot(PathBuf),
    /// Nothing by that name.
    #[error("path: no such file")]
    NotFound,
    /// A directory, device, FIFO or socket: only regular files are served.
    #[error("path: not a regular file")]
    NotRegular,
    /// The file exists but cannot be read.
    #[error("path: permission denied")]
    PermissionDenied,
    /// Any other error looking the name up.
    #[error("path: {0}")]
    Io(#[source] io::Error),
}

impl Refusal {
    /// The ERROR code and message the client gets. The message never
    /// contains host paths.
    pub(crate) fn reply(&self) -> (ErrorCode, &'static str) {
        match self {
            Refusal::Traversal => (ErrorCode::AccessViolation, "Access violation: '..' refused"),
            Refusal::OutsideRoot(_) => (
                ErrorCode::AccessViolation,
                "Access violation: outside the served directory",
            ),
            Refusal::NotFound => (ErrorCode::FileNotFound, "File not found"),
            Refusal::NotRegular => (ErrorCode::AccessViolation, "Not a regular file"),
            Refusal::PermissionDenied => (ErrorCode::AccessViolation, "Permission denied"),
            Refusal::Io(_) => (ErrorCode::NotDefined, "Cannot open file"),
        }
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => Refusal::NotFound,
            io::ErrorKind::PermissionDenied => Refusal::PermissionDenied,
            // A component of the name is a file.
            io::ErrorKind::NotADirectory => Refusal::NotFound,
            _ => Refusal::Io(e),
        }
    }
}

/// Resolves `name` under `root`, which must already be canonical.
/// Returns the canonical path of a regular file.
pub(crate) fn resolve(root: &Path, name: &[u8]) -> Result<PathBuf, Refusal> {
    let mut rel = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(name)).components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::ParentDir => return Err(Refusal::Traversal),
            // A leading `/` (relative to the root) and `.` change nothing.
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let full = root.join(&rel).canonicalize()?;
    if !full.starts_with(root) {
        return Err(Refusal::OutsideRoot(full));
    }
    if !full.metadata()?.is_file() {
        return Err(Refusal::NotRegular);
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree() -> Tmp {
        let base = std::env::temp_dir().join(format!("tftpd-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root/sub")).expect("mkdir");
        std::fs::write(base.join("root/a"), b"a").expect("write");
        std::fs::write(base.join("root/sub/b"), b"b").expect("write");
        std::fs::write(base.join("secret"), b"s").expect("write");
        std::os::unix::fs::symlink("../secret", base.join("root/out")).expect("symlink");
        std::os::unix::fs::symlink("sub/b", base.join("root/in")).expect("symlink");
        Tmp(base.canonicalize().expect("canonicalize"))
    }

    #[test]
    fn resolves_and_refuses() {
        let t = tree();
        let root = t.0.join("root");
        let ok = |n: &str| resolve(&root, n.as_bytes());
        assert_eq!(ok("a").expect("a"), root.join("a"));
        assert_eq!(ok("/a").expect("/a"), root.join("a"));
        assert_eq!(ok("//sub/./b").expect("sub/b"), root.join("sub/b"));
        assert_eq!(ok("in").expect("in"), root.join("sub/b"));
        assert!(matches!(ok("../secret"), Err(Refusal::Traversal)));
        assert!(matches!(ok("sub/../a"), Err(Refusal::Traversal)));
        assert!(matches!(ok("out"), Err(Refusal::OutsideRoot(_))));
        assert!(matches!(ok("/etc/passwd"), Err(Refusal::NotFound)));
        assert!(matches!(ok("a/x"), Err(Refusal::NotFound)));
        assert!(matches!(ok("sub"), Err(Refusal::NotRegular)));
        assert!(matches!(ok(""), Err(Refusal::NotRegular)));
    }
}
