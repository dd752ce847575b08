//! The on-disk store: one directory per service, replaced as a whole.
//!
//! Layout under the base directory (default [`DEFAULT_BASE`]):
//!
//! ```text
//! wan -> .wan=18c3…-412-7       the published set (a symlink)
//! .wan=18c3…-412-7/ifname       one value per file, first line
//! .wan=18c3…-412-7/address/<id>/address
//! .wan=lock                     writers' flock(2)
//! ```
//!
//! A writer builds a complete new generation directory beside the old one,
//! then flips the `wan` symlink with `rename(2)`, which is atomic; only then
//! is the old generation deleted. A generation is never modified after it is
//! published. A reader resolves the link once, reads everything under that
//! generation, and checks the link again: if it still names the same
//! generation (names are never reused), nothing it read can have been
//! replaced or deleted, so the set is whole; otherwise it retries. See
//! `docs/decisions/0030-outputs-store-symlink-generations.md` for why this
//! and not `renameat2(RENAME_EXCHANGE)` or a lock that readers take.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};

use crate::name::{check_key, check_service, NameError};
use crate::set::{Entry, OutputSet};

/// Where outputs live unless told otherwise.
pub const DEFAULT_BASE: &str = "/run/services/outputs";
/// The environment variable that overrides [`DEFAULT_BASE`].
pub const BASE_ENV: &str = "LIMINA_OUTPUTS_DIR";

/// Mode of every directory in the store: group may read, others may not
/// (outputs can hold secrets such as PPP peer names or PSKs).
pub const DIR_MODE: u32 = 0o750;
/// Mode of every value file.
pub const FILE_MODE: u32 = 0o640;

/// How often a reader retries when writers keep replacing the set under it.
const READ_ATTEMPTS: u32 = 1000;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A service name, key or value that cannot be stored.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The service has published nothing (or was stopped).
    #[error("outputs: service {service:?} has no outputs in {}", base.display())]
    NoOutputs {
        /// The service asked for.
        service: String,
        /// The base directory searched.
        base: PathBuf,
    },
    /// The service has outputs but not this key.
    #[error("outputs: service {service:?} has no output {key:?}")]
    NoKey {
        /// The service asked for.
        service: String,
        /// The key asked for.
        key: String,
    },
    /// The key names a table, not a value.
    #[error("outputs: {service:?} output {key:?} is a table, not a value")]
    NotAValue {
        /// The service asked for.
        service: String,
        /// The key asked for.
        key: String,
    },
    /// Writers replaced the set faster than it could be read.
    #[error("outputs: service {service:?} changed {attempts} times while being read")]
    Unstable {
        /// The service asked for.
        service: String,
        /// How many reads were tried.
        attempts: u32,
    },
    /// A file system operation failed.
    #[error("outputs: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `read`, …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error from the kernel.
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The outputs of every service under one base directory.
///
/// ```
/// use limina_outputs::{OutputSet, Store};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("outputs-doc-{}", std::process::id()));
/// let store = Store::new(&dir);
/// let mut set = OutputSet::new();
/// set.set("ifname", "eth0")?;
/// set.set("ip", "192.0.2.10")?;
/// store.publish("wan", &set)?;
///
/// assert_eq!(store.get("wan", "ip")?, "192.0.2.10");
/// assert_eq!(store.read("wan")?, set);
///
/// store.remove("wan")?;
/// assert!(store.read("wan").is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    base: PathBuf,
}

impl Store {
    /// A store rooted at `base` (created on first publish).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    /// The store at `$LIMINA_OUTPUTS_DIR`, else at [`DEFAULT_BASE`].
    pub fn from_env() -> Self {
        match std::env::var_os(BASE_ENV) {
            Some(dir) if !dir.is_empty() => Self::new(dir),
            _ => Self::new(DEFAULT_BASE),
        }
    }

    /// The base directory.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The path of a service's outputs directory (through its symlink, so
    /// it stays valid across updates).
    pub fn service_dir(&self, service: &str) -> Result<PathBuf, NameError> {
        check_service(service)?;
        Ok(self.base.join(service))
    }

    /// The path of one value or table (through the service's symlink).
    pub fn path(&self, service: &str, key: &str) -> Result<PathBuf, NameError> {
        check_key(key)?;
        Ok(self.service_dir(service)?.join(key))
    }

    fn lock(&self, service: &str) -> Result<Flock<File>, StoreError> {
        let path = self.base.join(format!(".{service}=lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io_err("open lock", &path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StoreError::Io {
            op: "lock",
            path,
            source: errno.into(),
        })
    }

    fn ensure_base(&self) -> Result<(), StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&self.base)
            .map_err(io_err("create", &self.base))
    }

    /// Replaces the service's outputs with `set`, atomically.
    ///
    /// Readers see either the previous set or this one, never a mix. If
    /// anything fails before the switch, the previous set stays published
    /// and the half-written generation is removed.
    pub fn publish(&self, service: &str, set: &OutputSet) -> Result<(), StoreError> {
        check_service(service)?;
        self.ensure_base()?;
        let _lock = self.lock(service)?;
        self.publish_locked(service, set)
    }

    /// Read-modify-write under the writers' lock: `f` gets the current set
    /// (`None` if there is none) and returns the new one, or `None` to
    /// remove the outputs. For writers that each own part of a set, such as
    /// pppd's `ip-up` and `ipv6-up`, which may run at the same time.
    pub fn update(
        &self,
        service: &str,
        f: impl FnOnce(Option<OutputSet>) -> Option<OutputSet>,
    ) -> Result<(), StoreError> {
        check_service(service)?;
        self.ensure_base()?;
        let _lock = self.lock(service)?;
        let current = match self.read(service) {
            Ok(set) => Some(set),
            Err(StoreError::NoOutputs { .. }) => None,
            Err(e) => return Err(e),
        };
        match f(current) {
            Some(set) => self.publish_locked(service, &set),
            None => self.remove_locked(service).map(drop),
        }
    }

    fn publish_locked(&self, service: &str, set: &OutputSet) -> Result<(), StoreError> {
        let gen = generation_name(service);
        let gen_path = self.base.join(&gen);
        let written = write_generation(&gen_path, set);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&gen_path);
            return Err(e);
        }
        let tmp_link = self.base.join(format!(".{service}=link"));
        let _ = fs::remove_file(&tmp_link);
        let switched = std::os::unix::fs::symlink(&gen, &tmp_link)
            .map_err(io_err("create symlink", &tmp_link))
            .and_then(|()| {
                let link = self.base.join(service);
                fs::rename(&tmp_link, &link).map_err(io_err("replace", &link))
            });
        if let Err(e) = switched {
            let _ = fs::remove_file(&tmp_link);
            let _ = fs::remove_dir_all(&gen_path);
            return Err(e);
        }
        log::debug!("outputs: published {service} as {gen}");
        self.remove_generations(service, Some(&gen))
    }

    /// Removes the service's outputs (when it stops). Returns whether there
    /// were any. Readers that are mid-read see the old set or none.
    pub fn remove(&self, service: &str) -> Result<bool, StoreError> {
        check_service(service)?;
        if !self.base.is_dir() {
            return Ok(false);
        }
        let _lock = self.lock(service)?;
        self.remove_locked(service)
    }

    fn remove_locked(&self, service: &str) -> Result<bool, StoreError> {
        let link = self.base.join(service);
        let existed = match fs::remove_file(&link) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("remove", &link)(e)),
        };
        self.remove_generations(service, None)?;
        Ok(existed)
    }

    /// Deletes every generation of `service` except `keep` (also those a
    /// crashed writer left behind).
    fn remove_generations(&self, service: &str, keep: Option<&str>) -> Result<(), StoreError> {
        let prefix = format!(".{service}=");
        let lock_name = format!(".{service}=lock");
        let dir = fs::read_dir(&self.base).map_err(io_err("list", &self.base))?;
        for entry in dir {
            let entry = entry.map_err(io_err("list", &self.base))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(&prefix) || name == lock_name || Some(name) == keep {
                continue;
            }
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
        }
        Ok(())
    }

    fn current(&self, service: &str) -> Result<PathBuf, StoreError> {
        let link = self.base.join(service);
        match fs::read_link(&link) {
            Ok(target) => Ok(target),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Err(StoreError::NoOutputs {
                    service: service.to_owned(),
                    base: self.base.clone(),
                })
            }
            Err(e) => Err(io_err("read link", &link)(e)),
        }
    }

    /// Reads the service's whole set, consistently.
    pub fn read(&self, service: &str) -> Result<OutputSet, StoreError> {
        check_service(service)?;
        for _ in 0..READ_ATTEMPTS {
            let gen = self.current(service)?;
            let result = read_tree(&self.base.join(&gen));
            if self.current(service).ok().as_ref() != Some(&gen) {
                continue;
            }
            return result;
        }
        Err(StoreError::Unstable {
            service: service.to_owned(),
            attempts: READ_ATTEMPTS,
        })
    }

    /// Reads one value.
    pub fn get(&self, service: &str, key: &str) -> Result<String, StoreError> {
        check_service(service)?;
        check_key(key)?;
        for _ in 0..READ_ATTEMPTS {
            let gen = self.current(service)?;
            let path = self.base.join(&gen).join(key);
            let result = read_value(&path);
            if self.current(service).ok().as_ref() != Some(&gen) {
                continue;
            }
            return match result {
                Ok(v) => Ok(v),
                Err(e) if is_missing(&e) => Err(StoreError::NoKey {
                    service: service.to_owned(),
                    key: key.to_owned(),
                }),
                Err(e)
                    if e.kind() == io::ErrorKind::IsADirectory || e.raw_os_error() == Some(21) =>
                {
                    Err(StoreError::NotAValue {
                        service: service.to_owned(),
                        key: key.to_owned(),
                    })
                }
                Err(e) => Err(io_err("read", &path)(e)),
            };
        }
        Err(StoreError::Unstable {
            service: service.to_owned(),
            attempts: READ_ATTEMPTS,
        })
    }

    /// The services that have outputs, sorted.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        let dir = match fs::read_dir(&self.base) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", &self.base)(e)),
        };
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(io_err("list", &self.base))?;
            if let Some(name) = entry.file_name().to_str() {
                if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_symlink()) {
                    out.push(name.to_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn is_missing(e: &io::Error) -> bool {
    // ENOTDIR: a leading component of the key is a value, not a table.
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || e.raw_os_error() == Some(20)
}

/// A name no earlier generation had: time, pid and a process-wide counter.
fn generation_name(service: &str) -> String {
    // AtomicU32: 32-bit MIPS has no 64-bit atomics.
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{service}={nanos:x}-{}-{n}", std::process::id())
}

fn write_generation(path: &Path, set: &OutputSet) -> Result<(), StoreError> {
    // Created 0700 and opened up only when complete, so that nobody can hold
    // a half-written generation open.
    DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io_err("create", path))?;
    write_table(path, set)?;
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE)).map_err(io_err("chmod", path))
}

fn write_table(dir: &Path, set: &OutputSet) -> Result<(), StoreError> {
    for (name, entry) in set.entries() {
        let path = dir.join(name);
        match entry {
            Entry::Value(v) => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(FILE_MODE)
                    .open(&path)
                    .map_err(io_err("create", &path))?;
                // The umask may have cleared group bits.
                f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
                    .map_err(io_err("chmod", &path))?;
                let mut line = String::with_capacity(v.len() + 1);
                line.push_str(v);
                line.push('\n');
                f.write_all(line.as_bytes())
                    .map_err(io_err("write", &path))?;
            }
            Entry::Table(t) => {
                DirBuilder::new()
                    .mode(DIR_MODE)
                    .create(&path)
                    .map_err(io_err("create", &path))?;
                fs::set_permissions(&path, fs::Permissions::from_mode(DIR_MODE))
                    .map_err(io_err("chmod", &path))?;
                write_table(&path, t)?;
            }
        }
    }
    Ok(())
}

fn read_value(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut buf = String::new();
    f.read_to_string(&mut buf)?;
    let first = buf.split('\n').next().unwrap_or("");
    Ok(first.to_owned())
}

fn read_tree(dir: &Path) -> Result<OutputSet, StoreError> {
    let mut set = OutputSet::new();
    let entries = fs::read_dir(dir).map_err(io_err("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ty = entry.file_type().map_err(io_err("stat", &path))?;
        if ty.is_dir() {
            set.insert_raw(name.to_owned(), Entry::Table(read_tree(&path)?));
        } else if ty.is_file() {
            let v = read_value(&path).map_err(io_err("read", &path))?;
            set.insert_raw(name.to_owned(), Entry::Value(v));
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::MetadataExt;

    fn sample(n: u32) -> OutputSet {
        let mut s = OutputSet::new();
        s.set("ifname", "eth0").expect("valid");
        s.set("ip", format!("10.0.{}.{}", n / 256 % 256, n % 256))
            .expect("valid");
        s.set("address/a/len", n.to_string()).expect("valid");
        s
    }

    #[test]
    fn publish_read_remove() {
        let tmp = TempDir::new("store-basic");
        let store = Store::new(tmp.path().join("outputs"));
        assert!(matches!(
            store.read("wan"),
            Err(StoreError::NoOutputs { .. })
        ));
        store.publish("wan", &sample(1)).expect("publish");
        assert_eq!(store.read("wan").expect("read"), sample(1));
        assert_eq!(store.get("wan", "address/a/len").expect("get"), "1");
        assert!(matches!(
            store.get("wan", "nope"),
            Err(StoreError::NoKey { .. })
        ));
        assert!(matches!(
            store.get("wan", "ip/x"),
            Err(StoreError::NoKey { .. })
        ));
        assert!(matches!(
            store.get("wan", "address"),
            Err(StoreError::NotAValue { .. })
        ));
        assert!(matches!(
            store.get("lan", "ip"),
            Err(StoreError::NoOutputs { .. })
        ));
        store.publish("wan", &sample(2)).expect("publish again");
        assert_eq!(store.get("wan", "ip").expect("get"), "10.0.0.2");
        assert_eq!(store.services().expect("list"), vec!["wan".to_owned()]);
        assert!(store.remove("wan").expect("remove"));
        assert!(!store.remove("wan").expect("remove again"));
        assert!(matches!(
            store.read("wan"),
            Err(StoreError::NoOutputs { .. })
        ));
        // Only the writers' lock file remains.
        let left: Vec<_> = fs::read_dir(store.base())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(".wan=lock")]);
    }

    #[test]
    fn similar_service_names_do_not_collide() {
        let tmp = TempDir::new("store-names");
        let store = Store::new(tmp.path());
        store.publish("wan", &sample(1)).expect("publish");
        store.publish("wan.6", &sample(2)).expect("publish");
        store.publish("wan", &sample(3)).expect("publish");
        assert_eq!(store.get("wan.6", "ip").expect("get"), "10.0.0.2");
        store.remove("wan").expect("remove");
        assert_eq!(store.get("wan.6", "ip").expect("get"), "10.0.0.2");
    }

    #[test]
    fn permissions_are_group_readable_only() {
        let tmp = TempDir::new("store-perm");
        let store = Store::new(tmp.path().join("o"));
        store.publish("wan", &sample(1)).expect("publish");
        let dir = fs::metadata(store.service_dir("wan").expect("name")).expect("stat");
        assert_eq!(dir.mode() & 0o777, DIR_MODE);
        let table = fs::metadata(store.path("wan", "address/a").expect("name")).expect("stat");
        assert_eq!(table.mode() & 0o777, DIR_MODE);
        let file = fs::metadata(store.path("wan", "ip").expect("name")).expect("stat");
        assert_eq!(file.mode() & 0o777, FILE_MODE);
        let base = fs::metadata(store.base()).expect("stat");
        assert_eq!(base.mode() & 0o007, 0, "base must not be world-accessible");
    }

    #[test]
    fn failed_publish_keeps_previous_set() {
        let tmp = TempDir::new("store-fail");
        let store = Store::new(tmp.path());
        store.publish("wan", &sample(1)).expect("publish");
        // Make the base unwritable: the new generation cannot be created.
        // (Root ignores modes, so then this only checks the success path.)
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o500)).expect("chmod");
        let result = store.publish("wan", &sample(2));
        let privileged = fs::create_dir(tmp.path().join("probe")).is_ok();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        if privileged {
            result.expect("root can write anyway");
            assert_eq!(store.read("wan").expect("read"), sample(2));
        } else {
            let err = result.expect_err("base is read-only");
            assert!(err.to_string().starts_with("outputs: cannot "), "{err}");
            assert_eq!(store.read("wan").expect("read"), sample(1));
        }
    }

    #[test]
    fn update_merges_and_removes() {
        let tmp = TempDir::new("store-update");
        let store = Store::new(tmp.path());
        store
            .update("ppp", |cur| {
                assert!(cur.is_none());
                Some(sample(1))
            })
            .expect("update");
        store
            .update("ppp", |cur| {
                let mut s = cur.expect("published");
                s.set("extra", "x").expect("valid");
                Some(s)
            })
            .expect("update");
        assert_eq!(store.get("ppp", "extra").expect("get"), "x");
        assert_eq!(store.get("ppp", "ip").expect("get"), "10.0.0.1");
        store.update("ppp", |_| None).expect("update");
        assert!(matches!(
            store.read("ppp"),
            Err(StoreError::NoOutputs { .. })
        ));
    }

    /// Independent of privileges: the switch itself fails (something is
    /// in the way of the temporary link), after the generation was written.
    #[test]
    fn failed_switch_keeps_previous_set_and_cleans_up() {
        let tmp = TempDir::new("store-switch");
        let store = Store::new(tmp.path());
        store.publish("wan", &sample(1)).expect("publish");
        fs::create_dir_all(tmp.path().join(".wan=link/blocker")).expect("mkdir");
        let err = store
            .publish("wan", &sample(2))
            .expect_err("link path blocked");
        assert!(
            err.to_string()
                .starts_with("outputs: cannot create symlink"),
            "{err}"
        );
        assert_eq!(store.read("wan").expect("read"), sample(1));
        let gens = fs::read_dir(tmp.path())
            .expect("list")
            .filter(|e| {
                let n = e.as_ref().expect("entry").file_name();
                let n = n.to_string_lossy();
                n.starts_with(".wan=") && n != ".wan=lock" && n != ".wan=link"
            })
            .count();
        assert_eq!(gens, 1, "the failed generation was removed");
    }

    #[test]
    fn crashed_writer_leftovers_are_cleaned() {
        let tmp = TempDir::new("store-crash");
        let store = Store::new(tmp.path());
        fs::create_dir(tmp.path().join(".wan=dead-1-0")).expect("mkdir");
        fs::write(tmp.path().join(".wan=dead-1-0/ip"), "x\n").expect("write");
        store.publish("wan", &sample(1)).expect("publish");
        assert!(!tmp.path().join(".wan=dead-1-0").exists());
    }

    /// The atomicity property: a reader looping while a writer rewrites the
    /// set 10,000 times never sees values from two different sets, nor a
    /// set with keys missing.
    #[test]
    fn concurrent_reader_never_sees_a_torn_set() {
        const WRITES: u32 = 10_000;
        let tmp = TempDir::new("store-torn");
        let store = Store::new(tmp.path());
        let set_for = |n: u32| {
            let mut s = OutputSet::new();
            // Three levels, kept small: this runs 10,000 times inside the
            // big-endian MIPS VM too (TCG, one CPU shared with the reader).
            for key in ["a", "t/x/c", "z"] {
                s.set(key, n.to_string()).expect("valid");
            }
            s
        };
        store.publish("svc", &set_for(0)).expect("publish");
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reads = 0u32;
                let mut last = 0u32;
                while !done.load(Ordering::Acquire) {
                    let set = store.read("svc").expect("a consistent read");
                    let values = set.flatten();
                    assert_eq!(values.len(), 3, "torn set: {values:?}");
                    let n: u32 = values[0].1.parse().expect("a number");
                    assert!(
                        values.iter().all(|(_, v)| *v == values[0].1),
                        "torn set: {values:?}"
                    );
                    assert!(n >= last, "went back from {last} to {n}");
                    last = n;
                    let one: u32 = store
                        .get("svc", "t/x/c")
                        .expect("get")
                        .parse()
                        .expect("number");
                    assert!(one >= n);
                    reads += 1;
                }
                reads
            });
            for n in 1..=WRITES {
                store.publish("svc", &set_for(n)).expect("publish");
            }
            done.store(true, Ordering::Release);
            let reads = reader.join().expect("reader passed");
            eprintln!("{WRITES} writes, {reads} whole-set reads, none torn");
        });
        assert_eq!(store.read("svc").expect("read"), set_for(WRITES));
    }
}
