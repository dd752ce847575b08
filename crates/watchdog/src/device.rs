//! An open watchdog device: `/dev/watchdog`, `/dev/watchdogN`, or a file
//! descriptor handed down by a predecessor.
//!
//! Opening a watchdog starts it. From then on something must feed it, or
//! the board resets; closing it without the magic character leaves it
//! running on drivers that support magic close (and on every `nowayout`
//! kernel). That is why [`Watchdog`] has no `Drop` magic: stopping it is an
//! explicit [`Watchdog::magic_close`], and the normal end of this process
//! simply closes the fd.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::sys;

/// The environment variable naming the inherited watchdog fd in a
/// [hand-off](Watchdog::hand_off_to).
pub const HAND_OFF_ENV: &str = "LIMINA_WATCHDOG_FD";

/// `WDIOF_*` option and status bits (from `include/uapi/linux/watchdog.h`).
pub mod flags {
    /// The last reboot was caused by the watchdog ("card reset").
    pub const WDIOF_CARDRESET: u32 = crate::sys::WDIOF_CARDRESET;
    /// The timeout can be set.
    pub const WDIOF_SETTIMEOUT: u32 = crate::sys::WDIOF_SETTIMEOUT;
    /// Writing `'V'` before close stops the watchdog.
    pub const WDIOF_MAGICCLOSE: u32 = crate::sys::WDIOF_MAGICCLOSE;
    /// The driver answers keepalive pings.
    pub const WDIOF_KEEPALIVEPING: u32 = crate::sys::WDIOF_KEEPALIVEPING;
}

/// Errors of watchdog device access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The device node could not be opened.
    #[error("watchdog: cannot open {path}: {source}")]
    Open {
        /// The device path.
        path: PathBuf,
        /// The OS error (EBUSY: another process holds it).
        source: std::io::Error,
    },
    /// An ioctl failed.
    #[error("watchdog: {request} on {device} failed: {errno}")]
    Ioctl {
        /// The C name of the request.
        request: &'static str,
        /// Which device (path, or `fd N` for an inherited one).
        device: String,
        /// The errno.
        errno: Errno,
    },
    /// The hand-off variable does not name a usable fd.
    #[error("watchdog: {HAND_OFF_ENV}={value:?} is not an inherited watchdog fd: {reason}")]
    HandOff {
        /// The variable's value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Writing the magic close character failed.
    #[error("watchdog: magic close on {device} failed: {source}")]
    MagicClose {
        /// Which device.
        device: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What `WDIOC_GETSUPPORT` reports about a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// The `WDIOF_*` options the driver supports (see [`flags`]).
    pub options: u32,
    /// The firmware version of the card (0 for most drivers).
    pub firmware_version: u32,
    /// The driver's identity, e.g. `"i6300ESB timer"` or `"Software Watchdog"`.
    pub identity: String,
}

impl Support {
    /// Whether the driver supports magic close.
    pub fn magic_close(&self) -> bool {
        self.options & flags::WDIOF_MAGICCLOSE != 0
    }
}

/// An open, running watchdog.
///
/// ```no_run
/// use std::time::Duration;
/// use limina_watchdog::Watchdog;
///
/// let dog = Watchdog::open("/dev/watchdog")?;
/// if dog.last_reset_was_watchdog()? {
///     eprintln!("watchdog: the last reboot was a watchdog reset");
/// }
/// dog.set_timeout(Duration::from_secs(30))?;
/// dog.keepalive()?;
/// # Ok::<(), limina_watchdog::DeviceError>(())
/// ```
#[derive(Debug)]
pub struct Watchdog {
    fd: OwnedFd,
    name: String,
}

impl Watchdog {
    /// Opens (and thereby starts) the watchdog device at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Watchdog, DeviceError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| DeviceError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Watchdog {
            fd: file.into(),
            name: path.display().to_string(),
        })
    }

    /// Adopts the watchdog fd a predecessor handed down through
    /// [`HAND_OFF_ENV`], if the variable is set; `Ok(None)` if it is not.
    ///
    /// The variable is removed from this process's environment so that our
    /// own children do not see a stale number, and a second call returns
    /// `Ok(None)`. The fd must be open and answer `WDIOC_GETSUPPORT`.
    ///
    /// Call it at start-up, before anything in this process opens files:
    /// the returned [`Watchdog`] takes ownership of the fd number, which by
    /// the hand-off protocol was inherited for exactly this purpose (the
    /// same contract as systemd socket activation's `LISTEN_FDS`).
    pub fn from_env() -> Result<Option<Watchdog>, DeviceError> {
        let Some(value) = std::env::var_os(HAND_OFF_ENV) else {
            return Ok(None);
        };
        let value = value.to_string_lossy().into_owned();
        let bad = |reason: String| DeviceError::HandOff {
            value: value.clone(),
            reason,
        };
        let fd: RawFd = value
            .parse()
            .map_err(|e| bad(format!("not a number: {e}")))?;
        if fd < 3 {
            return Err(bad("fds 0-2 are stdio".into()));
        }
        let owned = sys::adopt_fd(fd).map_err(|e| bad(format!("not open: {e}")))?;
        let dog = Watchdog {
            fd: owned,
            name: format!("fd {fd}"),
        };
        // Callers adopt at start-up, before any thread reads the environment.
        std::env::remove_var(HAND_OFF_ENV);
        fcntl(dog.fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
            .map_err(|e| bad(format!("cannot set close-on-exec: {e}")))?;
        dog.support()
            .map_err(|e| bad(format!("not a watchdog: {e}")))?;
        Ok(Some(dog))
    }

    /// Prepares `cmd` to inherit this watchdog: the fd (a duplicate, without
    /// close-on-exec) and [`HAND_OFF_ENV`] naming it.
    ///
    /// The successor adopts it with [`Watchdog::from_env`] and must feed it
    /// within the timeout. Returns the duplicate, which the caller keeps
    /// open until `cmd` has been spawned or exec'd.
    pub fn hand_off_to(&self, cmd: &mut Command) -> Result<OwnedFd, DeviceError> {
        let dup = self.fd.try_clone().map_err(|e| DeviceError::HandOff {
            value: String::new(),
            reason: format!("dup: {e}"),
        })?;
        fcntl(dup.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).map_err(|e| {
            DeviceError::HandOff {
                value: dup.as_raw_fd().to_string(),
                reason: format!("cannot clear close-on-exec: {e}"),
            }
        })?;
        cmd.env(HAND_OFF_ENV, dup.as_raw_fd().to_string());
        Ok(dup)
    }

    fn ioctl_err(&self, request: &'static str) -> impl Fn(Errno) -> DeviceError + '_ {
        move |errno| DeviceError::Ioctl {
            request,
            device: self.name.clone(),
            errno,
        }
    }

    /// `WDIOC_GETSUPPORT`: the driver's options and identity.
    pub fn support(&self) -> Result<Support, DeviceError> {
        let info = sys::get_support(self.fd.as_fd()).map_err(self.ioctl_err("WDIOC_GETSUPPORT"))?;
        let end = info
            .identity
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(info.identity.len());
        Ok(Support {
            options: info.options,
            firmware_version: info.firmware_version,
            identity: String::from_utf8_lossy(&info.identity[..end]).into_owned(),
        })
    }

    /// `WDIOC_GETBOOTSTATUS`: the `WDIOF_*` bits describing the last reboot.
    pub fn boot_status(&self) -> Result<u32, DeviceError> {
        sys::get_boot_status(self.fd.as_fd()).map_err(self.ioctl_err("WDIOC_GETBOOTSTATUS"))
    }

    /// Whether the boot status has `WDIOF_CARDRESET`: the last reboot was
    /// a watchdog reset.
    pub fn last_reset_was_watchdog(&self) -> Result<bool, DeviceError> {
        Ok(self.boot_status()? & flags::WDIOF_CARDRESET != 0)
    }

    /// `WDIOC_SETTIMEOUT`, in whole seconds (rounded up); returns the
    /// timeout the driver actually chose.
    pub fn set_timeout(&self, timeout: Duration) -> Result<Duration, DeviceError> {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        let secs = i32::try_from(secs).unwrap_or(i32::MAX);
        let got =
            sys::set_timeout(self.fd.as_fd(), secs).map_err(self.ioctl_err("WDIOC_SETTIMEOUT"))?;
        Ok(Duration::from_secs(u64::try_from(got).unwrap_or(0)))
    }

    /// `WDIOC_GETTIMEOUT`.
    pub fn timeout(&self) -> Result<Duration, DeviceError> {
        let got = sys::get_timeout(self.fd.as_fd()).map_err(self.ioctl_err("WDIOC_GETTIMEOUT"))?;
        Ok(Duration::from_secs(u64::try_from(got).unwrap_or(0)))
    }

    /// `WDIOC_KEEPALIVE`: feeds the watchdog.
    pub fn keepalive(&self) -> Result<(), DeviceError> {
        sys::keepalive(self.fd.as_fd()).map_err(self.ioctl_err("WDIOC_KEEPALIVE"))
    }

    /// `WDIOC_SETOPTIONS` with `WDIOS_DISABLECARD` (`enable = false`) or
    /// `WDIOS_ENABLECARD`.
    pub fn set_enabled(&self, enable: bool) -> Result<(), DeviceError> {
        #[allow(clippy::cast_possible_wrap, reason = "1 and 2 fit an int")]
        let opt = if enable {
            sys::WDIOS_ENABLECARD as i32
        } else {
            sys::WDIOS_DISABLECARD as i32
        };
        sys::set_options(self.fd.as_fd(), opt).map_err(self.ioctl_err("WDIOC_SETOPTIONS"))
    }

    /// Stops the watchdog cleanly: writes the magic character `'V'` and
    /// closes the device. Only meaningful if [`Support::magic_close`]; on
    /// other drivers closing alone stops it (unless the kernel is built
    /// with `nowayout`, where nothing stops it).
    pub fn magic_close(self) -> Result<(), DeviceError> {
        let name = self.name;
        let mut file = File::from(self.fd);
        file.write_all(b"V")
            .map_err(|source| DeviceError::MagicClose {
                device: name,
                source,
            })
    }

    /// A readable name: the device path, or `fd N` for an inherited one.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl AsFd for Watchdog {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
