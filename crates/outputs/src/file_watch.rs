//! Waiting for one file to change, appear or go.
//!
//! Editors and `install`/`mv` replace a file by renaming a new one over it,
//! and a file that does not exist yet has no inode to watch, so the watch
//! is on the file's directory, filtered by the file's name (and, while the
//! directory itself is missing, on its nearest existing ancestor, re-armed
//! after every batch of events as [`watch`](crate::watch) does for the
//! store).
//!
//! Only events that end a change count: `IN_CLOSE_WRITE` (a writer closed
//! it), `IN_MOVED_TO`/`IN_MOVED_FROM` (renamed over, or away),
//! `IN_DELETE`. A plain `IN_CREATE` does not: `open(O_CREAT)` makes an
//! empty file that its writer is about to fill, and reading it then would
//! publish a half-written set; its `IN_CLOSE_WRITE` follows. A symlink,
//! which is complete when created, does count.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// Errors of watching a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileWatchError {
    /// The path has no file name (`/`, `..`).
    #[error("file watch: {} does not name a file", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// inotify failed.
    #[error("file watch: inotify on {}: {source}", path.display())]
    Inotify {
        /// The directory being watched.
        path: PathBuf,
        /// The error from the kernel.
        source: nix::Error,
    },
}

/// A watch on one file's content, through its directory.
///
/// ```
/// use std::time::Duration;
/// use limina_outputs::file_watch::FileWatch;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("file-watch-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("secrets");
/// let mut watch = FileWatch::new(&file)?;
/// std::fs::write(&file, "psk=x\n")?;
/// assert!(watch.wait_timeout(Some(Duration::from_secs(5)))?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct FileWatch {
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    inotify: Inotify,
    /// The watch on the directory, when it exists.
    dir_watch: Option<WatchDescriptor>,
    /// While the directory is missing: the watch on its nearest existing
    /// ancestor, and the name in it that leads to the directory.
    ancestor_watch: Option<(WatchDescriptor, OsString)>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// Starts watching `path`, which need not exist (nor its directory).
    /// Read the file after this returns, so that no change falls between
    /// the read and the watch.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, FileWatchError> {
        let path = path.into();
        let name = path
            .file_name()
            .map(OsString::from)
            .ok_or_else(|| FileWatchError::NotAFile { path: path.clone() })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(|source| {
                FileWatchError::Inotify {
                    path: dir.clone(),
                    source,
                }
            })?;
        let mut w = Self {
            path,
            dir,
            name,
            inotify,
            dir_watch: None,
            ancestor_watch: None,
        };
        w.arm()?;
        Ok(w)
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Watches the directory if it exists, else its nearest existing
    /// ancestor for the directory (re)appearing.
    fn arm(&mut self) -> Result<(), FileWatchError> {
        let dir_flags = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR;
        self.dir_watch = if self.dir.is_dir() {
            self.add(&self.dir, dir_flags)?
        } else {
            None
        };
        let ancestor = match self.dir_watch {
            Some(_) => None,
            None => self.add_ancestor()?,
        };
        if let Some((old, _)) = self.ancestor_watch.take() {
            if ancestor.as_ref().map(|(wd, _)| *wd) != Some(old) {
                // Gone with its directory already, or no longer needed.
                let _ = self.inotify.rm_watch(old);
            }
        }
        self.ancestor_watch = ancestor;
        Ok(())
    }

    fn add_ancestor(&self) -> Result<Option<(WatchDescriptor, OsString)>, FileWatchError> {
        let flags =
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ONLYDIR;
        let mut child: &Path = &self.dir;
        while let Some(parent) = child.parent() {
            let parent_dir = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if parent_dir.is_dir() {
                let Some(name) = child.file_name() else {
                    return Ok(None);
                };
                return Ok(self.add(parent_dir, flags)?.map(|wd| (wd, name.to_owned())));
            }
            child = parent;
        }
        Ok(None)
    }

    fn add(
        &self,
        path: &Path,
        flags: AddWatchFlags,
    ) -> Result<Option<WatchDescriptor>, FileWatchError> {
        match self.inotify.add_watch(path, flags) {
            Ok(wd) => Ok(Some(wd)),
            // Removed between the check and the watch: the ancestor's
            // event re-arms.
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(source) => Err(FileWatchError::Inotify {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Blocks until the file may have changed.
    pub fn wait(&mut self) -> Result<(), FileWatchError> {
        while !self.wait_timeout(None)? {}
        Ok(())
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`: `Ok(true)`
    /// when the file may have changed, `Ok(false)` on timeout.
    pub fn wait_timeout(&mut self, timeout: Option<Duration>) -> Result<bool, FileWatchError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, left) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(source) => return Err(self.inotify_err(source)),
            }
            let mut relevant = false;
            loop {
                let events = match self.inotify.read_events() {
                    Ok(events) if !events.is_empty() => events,
                    Ok(_) | Err(nix::errno::Errno::EAGAIN) => break,
                    Err(source) => return Err(self.inotify_err(source)),
                };
                for e in events {
                    relevant |= self.is_relevant(&e);
                }
            }
            self.arm()?;
            if relevant {
                return Ok(true);
            }
        }
    }

    fn is_relevant(&self, e: &nix::sys::inotify::InotifyEvent) -> bool {
        if let Some((wd, child)) = &self.ancestor_watch {
            if e.wd == *wd {
                // The directory (or a missing directory above it) appeared.
                return e.name.as_deref() == Some(child.as_os_str());
            }
        }
        if Some(e.wd) != self.dir_watch {
            return false;
        }
        if e.mask.intersects(
            AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF | AddWatchFlags::IN_IGNORED,
        ) {
            return true;
        }
        if e.name.as_deref() != Some(self.name.as_os_str()) {
            return false;
        }
        if e.mask.contains(AddWatchFlags::IN_CREATE) {
            // Complete only if it is a symlink; a new regular file gets
            // its IN_CLOSE_WRITE when written.
            return std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink());
        }
        true
    }

    fn inotify_err(&self, source: nix::Error) -> FileWatchError {
        FileWatchError::Inotify {
            path: self.dir.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    const SHORT: Option<Duration> = Some(Duration::from_millis(100));
    const LONG: Option<Duration> = Some(Duration::from_secs(5));

    #[test]
    fn writes_renames_and_removals_wake_others_do_not() {
        let tmp = TempDir::new("file-watch");
        let file = tmp.path().join("secrets");
        let mut w = FileWatch::new(&file).expect("watch");
        assert!(!w.wait_timeout(SHORT).expect("quiet"), "nothing yet");

        std::fs::write(&file, "a=1\n").expect("write");
        assert!(w.wait_timeout(LONG).expect("write seen"));

        std::fs::write(tmp.path().join("other"), "x").expect("other file");
        assert!(!w.wait_timeout(SHORT).expect("quiet"), "other files");

        let new = tmp.path().join(".secrets.new");
        std::fs::write(&new, "a=2\n").expect("write new");
        assert!(!w.wait_timeout(SHORT).expect("quiet"), "the temp file");
        std::fs::rename(&new, &file).expect("rename over");
        assert!(w.wait_timeout(LONG).expect("rename seen"));

        std::fs::remove_file(&file).expect("remove");
        assert!(w.wait_timeout(LONG).expect("removal seen"));
    }

    #[test]
    fn a_missing_directory_is_waited_for() {
        let tmp = TempDir::new("file-watch-dir");
        let dir = tmp.path().join("data");
        let file = dir.join("secrets");
        let mut w = FileWatch::new(&file).expect("watch");
        std::fs::create_dir(&dir).expect("mkdir");
        assert!(w.wait_timeout(LONG).expect("dir seen"));
        std::fs::write(tmp.path().join("unrelated"), "x").expect("write");
        assert!(!w.wait_timeout(SHORT).expect("quiet"), "beside the dir");
        std::fs::write(&file, "a=1\n").expect("write");
        assert!(w.wait_timeout(LONG).expect("write seen"));
        std::fs::remove_dir_all(&dir).expect("rm -r");
        assert!(w.wait_timeout(LONG).expect("removal seen"));
    }
}
