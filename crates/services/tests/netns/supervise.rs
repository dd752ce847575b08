//! Running a rendered s6-rc source tree without s6-rc (Debian ships s6 and
//! execline, not s6-rc): what `s6-rc-compile` + `s6-rc -u change` would do,
//! done by hand with Debian's s6.
//!
//! - Every longrun becomes a service directory of one scan directory
//!   (`run`, `finish`, `notification-fd`), with a `down` file so that
//!   nothing starts before its dependencies; its logger (the s6-rc
//!   `consumer-for` service) becomes `SERVICE/log/`, the same pipeline s6-rc
//!   would make: s6-svscan joins the two with a pipe.
//! - `s6-svscan` runs inside the router namespace; every service inherits it.
//! - Services are brought up in dependency order as s6-rc does: a oneshot
//!   runs its `up` (an execline command line) through `execlineb`, a
//!   longrun gets `s6-svc -u` and, when it has a `notification-fd`, counts
//!   as up only once `s6-svwait -U` says it is ready.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::{run, stderr, SYSTEM_PATH};

/// A service of the source tree (loggers are part of their producer).
#[derive(Debug, Clone)]
pub struct Def {
    /// Oneshot or longrun.
    pub oneshot: bool,
    /// A longrun with `notification-fd`: up means ready.
    pub readiness: bool,
    /// The atomic services it depends on (bundles expanded).
    pub deps: BTreeSet<String>,
    /// Its logger's name, for a longrun with `producer-for`.
    pub logger: Option<String>,
}

/// The atomic services of an s6-rc source directory.
pub struct Source {
    /// `OUTDIR/s6-rc`.
    pub dir: PathBuf,
    /// Services by name.
    pub services: BTreeMap<String, Def>,
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

impl Source {
    /// Reads `dir` (an s6-rc source directory).
    pub fn load(dir: &Path) -> Self {
        let mut types = BTreeMap::new();
        for name in names(dir) {
            let ty = read(&dir.join(&name).join("type"))
                .unwrap_or_else(|| panic!("{name}: no type file"));
            types.insert(name, ty);
        }
        let expand = |n: &str| -> Vec<String> {
            match types.get(n).map(String::as_str) {
                Some("bundle") => names(&dir.join(n).join("contents.d")),
                Some(_) => vec![n.to_string()],
                None => panic!("dependency on {n}, which is not in the tree"),
            }
        };
        let mut services = BTreeMap::new();
        for (name, ty) in &types {
            let sdir = dir.join(name);
            if ty == "bundle" || sdir.join("consumer-for").exists() {
                continue;
            }
            assert!(
                ty == "oneshot" || ty == "longrun",
                "{name}: unknown type {ty:?}"
            );
            let deps = names(&sdir.join("dependencies.d"))
                .iter()
                .flat_map(|d| expand(d))
                .collect();
            services.insert(
                name.clone(),
                Def {
                    oneshot: ty == "oneshot",
                    readiness: sdir.join("notification-fd").exists(),
                    deps,
                    logger: read(&sdir.join("producer-for")),
                },
            );
        }
        Self {
            dir: dir.to_path_buf(),
            services,
        }
    }

    /// The longruns' names.
    pub fn longruns(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|(_, d)| !d.oneshot)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every service after its dependencies (Kahn; ties by name).
    pub fn order(&self) -> Vec<String> {
        let mut done: Vec<String> = Vec::new();
        let mut left: BTreeSet<&String> = self.services.keys().collect();
        while !left.is_empty() {
            let next = left
                .iter()
                .find(|n| {
                    self.services[n.as_str()]
                        .deps
                        .iter()
                        .all(|d| done.contains(d))
                })
                .map(|n| (*n).clone())
                .unwrap_or_else(|| panic!("dependency cycle or missing dependency among {left:?}"));
            left.remove(&next);
            done.push(next);
        }
        done
    }

    /// Makes the scan directory `scan` from the longruns (each with a
    /// `down` file) and their loggers.
    pub fn make_scandir(&self, scan: &Path) {
        use std::os::unix::fs::PermissionsExt as _;
        let copy = |from: &Path, to: &Path| {
            std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
            let mode = std::fs::metadata(from)
                .expect("a copied file")
                .permissions()
                .mode();
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        for (name, def) in self.services.iter().filter(|(_, d)| !d.oneshot) {
            let src = self.dir.join(name);
            let dst = scan.join(name);
            std::fs::create_dir_all(&dst).expect("service dir");
            for f in ["run", "finish", "notification-fd"] {
                if src.join(f).exists() {
                    copy(&src.join(f), &dst.join(f));
                }
            }
            std::fs::write(dst.join("down"), "").expect("down file");
            if let Some(logger) = &def.logger {
                let lsrc = self.dir.join(logger);
                assert_eq!(
                    read(&lsrc.join("consumer-for")).as_deref(),
                    Some(name.as_str()),
                    "{logger}: consumer-for"
                );
                std::fs::create_dir_all(dst.join("log")).expect("log dir");
                for f in ["run", "finish", "notification-fd"] {
                    if lsrc.join(f).exists() {
                        copy(&lsrc.join(f), &dst.join("log").join(f));
                    }
                }
            }
        }
    }
}

/// `s6-svstat` of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Running.
    pub up: bool,
    /// Reported ready.
    pub ready: bool,
    /// Its pid (0 when down).
    pub pid: u32,
}

/// s6-svscan on a scan directory inside the router namespace.
pub struct Supervisor {
    /// The scan directory.
    pub scan: PathBuf,
    child: Child,
}

impl Supervisor {
    /// Starts `s6-svscan SCAN` in namespace `ns` (its output to `log`),
    /// and waits until it supervises every service of `names`.
    pub fn start(ns: &str, scan: &Path, log: &Path, names: &[String]) -> Self {
        let log = std::fs::File::create(log).expect("svscan log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "s6-svscan"])
            .arg(scan)
            .env("PATH", SYSTEM_PATH)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("s6-svscan starts");
        let sup = Self {
            scan: scan.to_path_buf(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for n in names {
            loop {
                let ok = Command::new("s6-svok")
                    .arg(scan.join(n))
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "s6-svscan does not supervise {n} after 10s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        sup
    }

    /// s6-svscan's pid: a process in the router namespace (for
    /// `/proc/PID/net/...`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The service directory of `name` (`name/log` for its logger).
    pub fn dir(&self, name: &str) -> PathBuf {
        self.scan.join(name)
    }

    /// `s6-svc FLAGS SERVICEDIR`, which must succeed.
    pub fn svc(&self, flags: &str, name: &str) {
        let out = run(Command::new("s6-svc").arg(flags).arg(self.dir(name)));
        assert!(
            out.status.success(),
            "s6-svc {flags} {name}: {}",
            stderr(&out)
        );
    }

    /// `s6-svstat` of `name`.
    pub fn stat(&self, name: &str) -> Stat {
        let out = run(Command::new("s6-svstat")
            .args(["-o", "up,ready,pid"])
            .arg(self.dir(name)));
        assert!(out.status.success(), "s6-svstat {name}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(f.len(), 3, "s6-svstat -o up,ready,pid {name}: {text:?}");
        Stat {
            up: f[0] == "true",
            ready: f[1] == "true",
            pid: f[2].parse().unwrap_or(0),
        }
    }

    /// Brings every service of `src` up in dependency order, as
    /// `s6-rc -u change` would, each within `secs`. Returns how long each
    /// took.
    pub fn up_all(&self, src: &Source, ns: &str, secs: u64) -> Vec<(String, Duration)> {
        let mut took = Vec::new();
        for name in src.order() {
            let def = &src.services[&name];
            let t0 = Instant::now();
            if def.oneshot {
                let up = src.dir.join(&name).join("up");
                let out = run(Command::new("ip")
                    .args(["netns", "exec", ns, "execlineb", "-P"])
                    .arg(&up)
                    .env("PATH", SYSTEM_PATH));
                assert!(
                    out.status.success(),
                    "oneshot {name}: up failed ({}): {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    stderr(&out)
                );
            } else {
                self.svc("-u", &name);
                let wait = if def.readiness { "-U" } else { "-u" };
                let out = run(Command::new("s6-svwait")
                    .args([wait, "-t", &(secs * 1000).to_string()])
                    .arg(self.dir(&name)));
                assert!(
                    out.status.success(),
                    "longrun {name} not {} within {secs}s (s6-svwait {wait}: {}); s6-svstat: {:?}",
                    if def.readiness { "ready" } else { "up" },
                    out.status,
                    self.stat(&name)
                );
            }
            took.push((name, t0.elapsed()));
        }
        took
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Brings every service down (finish scripts run), then exits.
        let _ = Command::new("s6-svscanctl")
            .arg("-t")
            .arg(&self.scan)
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
