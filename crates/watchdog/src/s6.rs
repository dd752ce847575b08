//! Reading an s6 service's state from its `supervise/status` file, as
//! `s6-svstat` does, without running `s6-svstat`.
//!
//! Spawning `s6-svstat` once per feed interval would cost a fork and exec
//! per check on a board with 64 MiB of RAM; the file is small, written
//! atomically (rename) by `s6-supervise`, and its format is stable.
//!
//! # The format
//!
//! `s6_svstatus_pack()` in s6's `src/libs6/s6_svstatus_pack.c`; every
//! integer big-endian. s6 up to 2.11 writes 35 bytes, s6 2.12 and later
//! 43 (a process group id was added after the pid):
//!
//! | offset (≤ 2.11) | offset (≥ 2.12) | size | field |
//! |---|---|---|---|
//! | 0  | 0  | 12 | `stamp`: TAI64N time of the last up/down change |
//! | 12 | 12 | 12 | `readystamp`: TAI64N time it became ready |
//! | 24 | 24 | 8  | `pid`: the service's pid, 0 when down |
//! | –  | 32 | 8  | `pgid` |
//! | 32 | 40 | 2  | `wstat`: wait status of the last exit |
//! | 34 | 42 | 1  | flags: 1 paused, 2 finishing, 4 want up, 8 ready, 16 throttled |
//!
//! `s6-svstat` reports "up" when `pid` ≠ 0 and the finish script is not
//! running, and "ready" when additionally the ready flag is set.

use std::path::{Path, PathBuf};

/// Errors reading an s6 status file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S6Error {
    /// The file could not be read (no `s6-supervise` on that directory?).
    #[error("s6: cannot read {path}: {source}")]
    Read {
        /// The status file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file has a size no s6 version writes.
    #[error("s6: {path}: {len} bytes, expected 35 (s6 <= 2.11) or 43 (s6 >= 2.12)")]
    Size {
        /// The status file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// The parts of `s6_svstatus_t` a health check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceStatus {
    /// The service's pid, 0 when it is down.
    pub pid: u64,
    /// The wait status of its last exit.
    pub wstat: u16,
    /// The finish script is running.
    pub finishing: bool,
    /// s6 wants it up.
    pub want_up: bool,
    /// It signalled readiness (notification-fd).
    pub ready_flag: bool,
    /// s6 is throttling restarts.
    pub throttled: bool,
}

impl ServiceStatus {
    /// Parses the contents of a `supervise/status` file.
    ///
    /// Returns `None` for a length no s6 writes.
    pub fn parse(bytes: &[u8]) -> Option<ServiceStatus> {
        let (wstat_at, flags_at) = match bytes.len() {
            35 => (32, 34),
            43 => (40, 42),
            _ => return None,
        };
        let pid = u64::from_be_bytes(bytes.get(24..32)?.try_into().ok()?);
        let wstat = u16::from_be_bytes(bytes.get(wstat_at..wstat_at + 2)?.try_into().ok()?);
        let flags = *bytes.get(flags_at)?;
        Some(ServiceStatus {
            pid,
            wstat,
            finishing: flags & 2 != 0,
            want_up: flags & 4 != 0,
            ready_flag: flags & 8 != 0,
            throttled: flags & 16 != 0,
        })
    }

    /// Reads and parses `<service_dir>/supervise/status`.
    pub fn read(service_dir: &Path) -> Result<ServiceStatus, S6Error> {
        let path = service_dir.join("supervise/status");
        let bytes = std::fs::read(&path).map_err(|source| S6Error::Read {
            path: path.clone(),
            source,
        })?;
        ServiceStatus::parse(&bytes).ok_or(S6Error::Size {
            path,
            len: bytes.len(),
        })
    }

    /// Up, as `s6-svstat` says it: a pid, and not finishing.
    pub fn is_up(&self) -> bool {
        self.pid != 0 && !self.finishing
    }

    /// Up and ready, as `s6-svstat` says it.
    pub fn is_ready(&self) -> bool {
        self.is_up() && self.ready_flag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s6-supervise` 2.11.3 (Debian 12) on a service whose run script
    /// writes to its notification-fd then sleeps; `s6-svstat`: "up (pid
    /// 27847) 0 seconds, ready 0 seconds". Made by hand, see docs/watchdog.md.
    const UP_READY_2_11: &[u8] = include_bytes!("testdata/s6-status-up-ready-2.11.bin");
    /// The same after `s6-svc -d`; `s6-svstat`: "down (signal SIGTERM) 0
    /// seconds, normally up, ready 0 seconds".
    const DOWN_2_11: &[u8] = include_bytes!("testdata/s6-status-down-2.11.bin");

    #[test]
    fn up_and_ready_file_from_s6_2_11() {
        let st = ServiceStatus::parse(UP_READY_2_11).expect("35 bytes");
        assert_eq!(st.pid, 27847);
        assert!(st.is_up() && st.is_ready() && st.want_up);
    }

    #[test]
    fn down_file_from_s6_2_11() {
        let st = ServiceStatus::parse(DOWN_2_11).expect("35 bytes");
        assert_eq!(st.pid, 0);
        assert_eq!(st.wstat, 0x000f, "killed by SIGTERM");
        assert!(!st.is_up() && !st.is_ready());
        // s6 keeps the ready flag of the last run; down wins.
        assert!(st.ready_flag);
    }

    #[test]
    fn hex_vector_43_byte_layout_of_s6_2_12() {
        #[rustfmt::skip]
        let bytes: [u8; 43] = [
            0x40, 0, 0, 0, 0x6b, 0x07, 0x29, 0xd1, 0, 0, 0, 0, // stamp (TAI64N)
            0x40, 0, 0, 0, 0x6b, 0x07, 0x29, 0xd1, 0, 0, 0, 0, // readystamp
            0, 0, 0, 0, 0, 0, 0x01, 0x02,                      // pid 258
            0, 0, 0, 0, 0, 0, 0x01, 0x02,                      // pgid 258
            0x00, 0x00,                                        // wstat
            0x04,                                              // want up, not ready
        ];
        let st = ServiceStatus::parse(&bytes).expect("43 bytes");
        assert_eq!(st.pid, 258);
        assert!(st.is_up() && !st.is_ready());
        // Finishing: the pid is still there but s6-svstat says down.
        let mut finishing = bytes;
        finishing[42] |= 2;
        assert!(!ServiceStatus::parse(&finishing).expect("43").is_up());
    }

    #[test]
    fn other_sizes_are_rejected() {
        assert_eq!(ServiceStatus::parse(&[0; 34]), None);
        assert_eq!(ServiceStatus::parse(&[0; 36]), None);
    }
}
