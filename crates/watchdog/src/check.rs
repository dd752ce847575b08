//! Health checks: what the ratchet asks before each feed.
//!
//! Each check answers pass or fail-with-reason and never blocks longer than
//! its own deadline: a check that hangs must not starve the watchdog by
//! accident (that would reboot a healthy board for the wrong reason and
//! log nothing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::s6::ServiceStatus;

/// One health check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// The s6 service in this directory is up (and ready, if `ready`), as
    /// `s6-svstat` would say; read from `supervise/status`.
    S6Service {
        /// The service directory (holding `supervise/`).
        dir: PathBuf,
        /// Require readiness too.
        ready: bool,
    },
    /// The network interface is up and running (`IFF_UP` and
    /// `IFF_RUNNING`: operstate `up` or `unknown`), read from sysfs.
    Interface {
        /// The interface name.
        name: String,
    },
    /// `/bin/sh -c COMMAND` exits 0 within the deadline.
    Command {
        /// The shell command.
        command: String,
        /// How long it may take; it is killed after that and the check fails.
        deadline: Duration,
    },
    /// The path exists.
    FileExists {
        /// The path.
        path: PathBuf,
    },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::S6Service { dir, ready: false } => write!(f, "service {} up", dir.display()),
            Check::S6Service { dir, ready: true } => {
                write!(f, "service {} ready", dir.display())
            }
            Check::Interface { name } => write!(f, "interface {name} running"),
            Check::Command { command, .. } => write!(f, "command {command:?}"),
            Check::FileExists { path } => write!(f, "file {} exists", path.display()),
        }
    }
}

/// `IFF_UP` from `<linux/if.h>`.
const IFF_UP: u32 = 0x1;

/// Stack of the thread that waits for a `--command` check's child.
const WAITER_STACK: usize = 64 * 1024;

impl Check {
    /// Runs the check; `Err(reason)` says why it failed.
    pub fn run(&self) -> Result<(), String> {
        match self {
            Check::S6Service { dir, ready } => {
                let st = ServiceStatus::read(dir).map_err(|e| e.to_string())?;
                if !st.is_up() {
                    Err(format!("down (last wait status {:#06x})", st.wstat))
                } else if *ready && !st.is_ready() {
                    Err("up but not ready".into())
                } else {
                    Ok(())
                }
            }
            Check::Interface { name } => interface_running(Path::new("/sys/class/net"), name),
            Check::Command { command, deadline } => run_command(command, *deadline),
            Check::FileExists { path } => match path.try_exists() {
                Ok(true) => Ok(()),
                Ok(false) => Err("does not exist".into()),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}

/// `IFF_RUNNING` as the kernel computes it for `SIOCGIFFLAGS`: administratively
/// up and operstate `up` or `unknown` (drivers without carrier reporting).
/// sysfs `flags` holds only `dev->flags`, without `IFF_RUNNING`, so operstate
/// is read instead.
fn interface_running(sys_class_net: &Path, name: &str) -> Result<(), String> {
    let dir = sys_class_net.join(name);
    let flags = std::fs::read_to_string(dir.join("flags"))
        .map_err(|e| format!("{}: {e}", dir.join("flags").display()))?;
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
        .map_err(|e| format!("bad flags {flags:?}: {e}"))?;
    if flags & IFF_UP == 0 {
        return Err("administratively down".into());
    }
    let oper = std::fs::read_to_string(dir.join("operstate"))
        .map_err(|e| format!("{}: {e}", dir.join("operstate").display()))?;
    match oper.trim() {
        "up" | "unknown" => Ok(()),
        other => Err(format!("up but not running (operstate {other})")),
    }
}

fn run_command(command: &str, deadline: Duration) -> Result<(), String> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    let pid = child.id();
    // A thread waits so that this one can sleep on the channel until the
    // deadline: no polling loop. It only calls waitpid(), so a small stack
    // does instead of std's default 2 MiB mapping.
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .stack_size(WAITER_STACK)
        .spawn(move || {
            let _ = tx.send(child.wait());
        });
    let waiter = match waiter {
        Ok(w) => w,
        Err(e) => {
            // The child would run unwatched: kill it instead.
            kill(pid);
            return Err(format!("cannot start a thread to wait for it: {e}"));
        }
    };
    let result = match rx.recv_timeout(deadline) {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("failed: {status}")),
        Ok(Err(e)) => Err(format!("wait: {e}")),
        Err(_) => {
            kill(pid);
            Err(format!("did not finish within {deadline:?}; killed"))
        }
    };
    let _ = waiter.join();
    result
}

/// SIGKILL to a command check's child.
fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn file_exists() {
        assert!(Check::FileExists { path: "/".into() }.run().is_ok());
        let e = Check::FileExists {
            path: "/nonexistent/limina".into(),
        }
        .run()
        .expect_err("missing");
        assert_eq!(e, "does not exist");
    }

    #[test]
    fn command_status_and_deadline() {
        let ok = |c: &str, d| {
            Check::Command {
                command: c.into(),
                deadline: Duration::from_millis(d),
            }
            .run()
        };
        if !Path::new("/bin/sh").exists() {
            eprintln!("skipped: no /bin/sh");
            return;
        }
        assert!(ok("true", 5000).is_ok());
        assert!(ok("exit 3", 5000).expect_err("fails").contains("3"));
        let t = Instant::now();
        let e = ok("exec sleep 10", 300).expect_err("times out");
        assert!(e.contains("did not finish"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "killed promptly");
    }

    #[test]
    fn interface_from_fake_sysfs() {
        let dir = std::env::temp_dir().join(format!("limina-wd-sysfs-{}", std::process::id()));
        let set = |name: &str, flags: &str, oper: &str| {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).expect("temp dir");
            std::fs::write(d.join("flags"), flags).expect("write");
            std::fs::write(d.join("operstate"), oper).expect("write");
        };
        set("eth0", "0x1003\n", "up\n");
        set("lo", "0x9\n", "unknown\n");
        set("wan", "0x1003\n", "down\n");
        set("lan", "0x1002\n", "down\n");
        assert_eq!(interface_running(&dir, "eth0"), Ok(()));
        assert_eq!(interface_running(&dir, "lo"), Ok(()));
        assert!(interface_running(&dir, "wan")
            .expect_err("no carrier")
            .contains("operstate down"));
        assert_eq!(
            interface_running(&dir, "lan"),
            Err("administratively down".into())
        );
        assert!(interface_running(&dir, "nope").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loopback_on_this_machine() {
        let Ok(flags) = std::fs::read_to_string("/sys/class/net/lo/flags") else {
            eprintln!("skipped: no /sys/class/net/lo");
            return;
        };
        // Up on a normal system; down in a bare initramfs (the MIPS VM).
        let up = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
            .expect("sysfs flags are hex")
            & IFF_UP
            != 0;
        let got = Check::Interface { name: "lo".into() }.run();
        if up {
            assert_eq!(got, Ok(()));
        } else {
            assert_eq!(got, Err("administratively down".into()));
        }
    }
}
