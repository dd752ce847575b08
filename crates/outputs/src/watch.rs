//! Waiting for outputs to change.
//!
//! Because a publish replaces a service's symlink in the base directory
//! (never a file inside a published generation), one inotify watch on the
//! base directory sees every update of every service. A second watch, on
//! the nearest existing ancestor, sees the base directory itself being
//! created, removed or replaced (e.g. `/run/services/outputs` made late in
//! boot, or a test wiping it); after every batch of events the watches are
//! re-armed on whatever exists now.
//!
//! Events only wake the watcher up: it then re-reads the watched values and
//! reports a change only if one of them differs, so writes to other
//! services or keys, or a re-publish of the same values, do not trigger.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
pub use nix::sys::signal::Signal;

use crate::store::{Store, StoreError};

/// Errors of watching.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// A key to watch is malformed.
    #[error("watch: invalid key {key:?}: expected SERVICE or SERVICE/KEY")]
    Key {
        /// The text given.
        key: String,
    },
    /// inotify failed.
    #[error("watch: inotify on {}: {source}", path.display())]
    Inotify {
        /// The directory being watched.
        path: PathBuf,
        /// The error from the kernel.
        source: nix::Error,
    },
    /// Reading the values failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to watch: one value, or a service's whole set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The service.
    pub service: String,
    /// The key, or `None` for the whole set.
    pub key: Option<String>,
}

impl FromStr for Watched {
    type Err = WatchError;

    /// `SERVICE` or `SERVICE/KEY` (`wan/address/<id>/address`).
    fn from_str(s: &str) -> Result<Self, WatchError> {
        let bad = || WatchError::Key { key: s.to_owned() };
        let (service, key) = match s.split_once('/') {
            Some((service, key)) => (service, Some(key)),
            None => (s, None),
        };
        crate::check_service(service).map_err(|_| bad())?;
        if let Some(k) = key {
            crate::check_key(k).map_err(|_| bad())?;
        }
        Ok(Self {
            service: service.to_owned(),
            key: key.map(str::to_owned),
        })
    }
}

/// A watched value as last read: `None` when absent.
pub type Value = Option<String>;

fn read_value(store: &Store, w: &Watched) -> Result<Value, StoreError> {
    let result = match &w.key {
        Some(key) => store.get(&w.service, key),
        // The whole set, canonically: sorted `key=value` lines.
        None => store.read(&w.service).map(|set| {
            set.flatten()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect()
        }),
    };
    match result {
        Ok(v) => Ok(Some(v)),
        Err(
            StoreError::NoOutputs { .. } | StoreError::NoKey { .. } | StoreError::NotAValue { .. },
        ) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Blocks until watched outputs change value.
///
/// ```
/// use limina_outputs::{watch::Watcher, OutputSet, Store};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("outputs-watch-doc-{}", std::process::id()));
/// let store = Store::new(&dir);
/// let mut w = Watcher::new(store.clone(), vec!["wan/ip".parse()?])?;
/// assert_eq!(w.values(), &[None]);
///
/// let mut set = OutputSet::new();
/// set.set("ip", "192.0.2.10")?;
/// store.publish("wan", &set)?;
/// let changed = w.wait_timeout(Some(Duration::from_secs(5)))?;
/// assert_eq!(changed, Some(&[Some("192.0.2.10".to_owned())][..]));
/// # store.remove("wan")?; std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct Watcher {
    store: Store,
    keys: Vec<Watched>,
    inotify: Inotify,
    values: Vec<Value>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("base", &self.store.base())
            .field("keys", &self.keys)
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts watching `keys` and reads their current values.
    pub fn new(store: Store, keys: Vec<Watched>) -> Result<Self, WatchError> {
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(|source| {
                WatchError::Inotify {
                    path: store.base().to_owned(),
                    source,
                }
            })?;
        let mut w = Self {
            store,
            keys,
            inotify,
            values: Vec::new(),
        };
        // Arm before reading, so that no change falls between the two.
        w.arm()?;
        w.values = w.read_all()?;
        Ok(w)
    }

    /// The keys watched.
    pub fn keys(&self) -> &[Watched] {
        &self.keys
    }

    /// The values as last read, in the order of [`keys`](Self::keys).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    fn read_all(&self) -> Result<Vec<Value>, StoreError> {
        self.keys
            .iter()
            .map(|k| read_value(&self.store, k))
            .collect()
    }

    /// (Re-)adds watches on the base directory and its nearest existing
    /// ancestor. Adding a watch twice only updates it; watches on removed
    /// directories are dropped by the kernel.
    fn arm(&self) -> Result<(), WatchError> {
        let base = self.store.base();
        let changes = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR;
        if base.is_dir() {
            self.add(base, changes)?;
        }
        let mut ancestor: &Path = base;
        while let Some(parent) = ancestor.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if parent.is_dir() {
                return self.add(parent, changes);
            }
            ancestor = parent;
        }
        Ok(())
    }

    fn add(&self, path: &Path, flags: AddWatchFlags) -> Result<(), WatchError> {
        match self.inotify.add_watch(path, flags) {
            Ok(_) => Ok(()),
            // Removed between the check and the watch: the next event
            // (on the ancestor) re-arms.
            Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(source) => Err(WatchError::Inotify {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Blocks until a watched value differs from the last one read; returns
    /// the new values.
    pub fn wait(&mut self) -> Result<&[Value], WatchError> {
        loop {
            if self.wait_timeout(None)?.is_some() {
                return Ok(&self.values);
            }
        }
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` (`Ok(None)`).
    pub fn wait_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<&[Value]>, WatchError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, left) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(source) => {
                    return Err(WatchError::Inotify {
                        path: self.store.base().to_owned(),
                        source,
                    })
                }
            }
            // Drain everything queued: one publish makes several events.
            loop {
                match self.inotify.read_events() {
                    Ok(events) if !events.is_empty() => continue,
                    Ok(_) | Err(nix::errno::Errno::EAGAIN) => break,
                    Err(source) => {
                        return Err(WatchError::Inotify {
                            path: self.store.base().to_owned(),
                            source,
                        })
                    }
                }
            }
            self.arm()?;
            let now = self.read_all()?;
            if now != self.values {
                log::debug!("watch: {:?} changed", self.keys);
                self.values = now;
                return Ok(Some(&self.values));
            }
        }
    }
}

/// What to do when watched outputs change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Restart an s6 service: `s6-svc -r DIR` (needs s6 in `PATH`).
    Restart(PathBuf),
    /// Send a signal to a process.
    Signal {
        /// The signal.
        signal: Signal,
        /// The process.
        target: PidSource,
    },
    /// Run a command (no shell) and wait for it.
    Command(Vec<std::ffi::OsString>),
}

/// Where the process to signal comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidSource {
    /// A fixed pid.
    Pid(i32),
    /// A pid file, read at each change (daemons restart).
    File(PathBuf),
}

/// Errors of running an [`Action`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The command could not be started.
    #[error("watch: cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error("watch: {program} failed: {status}")]
    Failed {
        /// The program.
        program: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },
    /// The pid file is unreadable or holds no pid.
    #[error("watch: no pid in {}: {reason}", path.display())]
    PidFile {
        /// The pid file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// kill(2) failed.
    #[error("watch: cannot send {signal} to pid {pid}: {source}")]
    Kill {
        /// The signal.
        signal: Signal,
        /// The pid.
        pid: i32,
        /// The error.
        source: nix::Error,
    },
}

/// Parses a signal name as kill(1) does: `HUP`, `SIGHUP` or a number.
pub fn parse_signal(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse().ok()
}

impl Action {
    /// Runs the action once.
    pub fn run(&self) -> Result<(), ActionError> {
        match self {
            Action::Restart(dir) => {
                let mut cmd = std::process::Command::new("s6-svc");
                cmd.arg("-r").arg(dir);
                run_command(cmd, "s6-svc")
            }
            Action::Command(argv) => {
                let Some((program, args)) = argv.split_first() else {
                    return Ok(());
                };
                let mut cmd = std::process::Command::new(program);
                cmd.args(args);
                run_command(cmd, &program.to_string_lossy())
            }
            Action::Signal { signal, target } => {
                let pid = match target {
                    PidSource::Pid(p) => *p,
                    PidSource::File(path) => {
                        let bad = |reason: String| ActionError::PidFile {
                            path: path.clone(),
                            reason,
                        };
                        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
                        let pid: i32 = text
                            .trim()
                            .parse()
                            .map_err(|_| bad(format!("{:?} is not a pid", text.trim())))?;
                        if pid <= 0 {
                            return Err(bad(format!("{pid} is not a pid")));
                        }
                        pid
                    }
                };
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), *signal).map_err(|source| {
                    ActionError::Kill {
                        signal: *signal,
                        pid,
                        source,
                    }
                })
            }
        }
    }
}

fn run_command(mut cmd: std::process::Command, program: &str) -> Result<(), ActionError> {
    let status = cmd.status().map_err(|source| ActionError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(ActionError::Failed {
            program: program.to_owned(),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use crate::OutputSet;

    const SHORT: Option<Duration> = Some(Duration::from_millis(300));
    const LONG: Option<Duration> = Some(Duration::from_secs(20));

    fn set(pairs: &[(&str, &str)]) -> OutputSet {
        let mut s = OutputSet::new();
        for (k, v) in pairs {
            s.set(k, *v).expect("valid");
        }
        s
    }

    #[test]
    fn signals_and_actions() {
        assert_eq!(parse_signal("hup"), Some(Signal::SIGHUP));
        assert_eq!(parse_signal("SIGUSR1"), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("NOPE"), None);
        let tmp = TempDir::new("watch-action");
        let marker = tmp.path().join("ran");
        Action::Command(vec!["mkdir".into(), marker.clone().into()])
            .run()
            .expect("runs");
        assert!(marker.is_dir());
        let err = Action::Command(vec!["false".into()])
            .run()
            .expect_err("fails");
        assert!(
            err.to_string()
                .starts_with("watch: false failed: exit status: 1"),
            "{err}"
        );
        let pidfile = tmp.path().join("pid");
        std::fs::write(&pidfile, "garbage\n").expect("write");
        let err = Action::Signal {
            signal: Signal::SIGHUP,
            target: PidSource::File(pidfile),
        }
        .run()
        .expect_err("bad pid file");
        assert!(
            err.to_string().contains("\"garbage\" is not a pid"),
            "{err}"
        );
        // SIGCHLD to ourselves is ignored by default: harmless.
        let me = i32::try_from(std::process::id()).expect("pid fits");
        Action::Signal {
            signal: Signal::SIGCHLD,
            target: PidSource::Pid(me),
        }
        .run()
        .expect("sent");
    }

    #[test]
    fn parses_keys() {
        let w: Watched = "wan/address/x/len".parse().expect("valid");
        assert_eq!(
            (w.service.as_str(), w.key.as_deref()),
            ("wan", Some("address/x/len"))
        );
        let w: Watched = "wan".parse().expect("valid");
        assert_eq!(w.key, None);
        assert!("".parse::<Watched>().is_err());
        assert!("wan/../x".parse::<Watched>().is_err());
    }

    #[test]
    fn triggers_on_value_change_only() {
        let tmp = TempDir::new("watch-value");
        let store = Store::new(tmp.path().join("outputs"));
        store
            .publish("wan", &set(&[("ip", "1"), ("lease", "10")]))
            .expect("publish");
        let mut w =
            Watcher::new(store.clone(), vec!["wan/ip".parse().expect("key")]).expect("watch");
        assert_eq!(w.values(), &[Some("1".to_owned())]);

        // Same ip, other key changed; another service: no trigger.
        store
            .publish("wan", &set(&[("ip", "1"), ("lease", "20")]))
            .expect("publish");
        store.publish("lan", &set(&[("ip", "2")])).expect("publish");
        assert_eq!(w.wait_timeout(SHORT).expect("waits"), None);

        store
            .publish("wan", &set(&[("ip", "3"), ("lease", "20")]))
            .expect("publish");
        assert_eq!(
            w.wait_timeout(LONG).expect("waits"),
            Some(&[Some("3".to_owned())][..])
        );

        store.remove("wan").expect("remove");
        assert_eq!(w.wait_timeout(LONG).expect("waits"), Some(&[None][..]));
    }

    #[test]
    fn copes_with_base_removed_and_recreated() {
        let tmp = TempDir::new("watch-recreate");
        let base = tmp.path().join("a/outputs");
        let store = Store::new(&base);
        let mut w = Watcher::new(store.clone(), vec!["wan".parse().expect("key")]).expect("watch");
        assert_eq!(w.values(), &[None]);
        // The base and its parent do not exist yet: the watch sits on tmp.
        store.publish("wan", &set(&[("ip", "1")])).expect("publish");
        assert_eq!(
            w.wait_timeout(LONG).expect("waits"),
            Some(&[Some("ip=1\n".to_owned())][..])
        );
        std::fs::remove_dir_all(tmp.path().join("a")).expect("wipe");
        assert_eq!(w.wait_timeout(LONG).expect("waits"), Some(&[None][..]));
        store.publish("wan", &set(&[("ip", "2")])).expect("publish");
        assert_eq!(
            w.wait_timeout(LONG).expect("waits"),
            Some(&[Some("ip=2\n".to_owned())][..])
        );
    }
}
