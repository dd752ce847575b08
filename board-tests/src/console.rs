//! The guest's serial console as the harness sees it.
//!
//! QEMU's serial port is its stdout; a reader thread appends everything to
//! the console log (kept on disk) and to an in-memory buffer, and wakes the
//! test thread. Waiting is always bounded: every wait has a deadline, and a
//! kernel panic or QEMU exiting ends it early with the reason, so a broken
//! guest can never hang the suite.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the kernel prints when it panics (always at KERN_EMERG).
const PANIC_MARKER: &str = "Kernel panic - not syncing";

#[derive(Default)]
struct State {
    text: String,
    /// Sources (stdout, stderr) still open.
    open: u32,
}

/// Why a wait ended without a match.
pub(crate) enum WaitError {
    Timeout { tail: String },
    Panic { line: String },
    Closed { tail: String },
}

/// The console text and the reader threads feeding it.
pub(crate) struct Console {
    shared: Arc<(Mutex<State>, Condvar)>,
    log: Arc<Mutex<File>>,
    log_path: PathBuf,
    cursor: usize,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A reader thread that panicked leaves the text intact.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Console {
    /// Creates the log file, starting with `header` (the QEMU command).
    pub(crate) fn create(log_path: &Path, header: &str) -> std::io::Result<Console> {
        let mut log = File::create(log_path)?;
        writeln!(log, "# {header}")?;
        Ok(Console {
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
            log: Arc::new(Mutex::new(log)),
            log_path: log_path.to_path_buf(),
            cursor: 0,
        })
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Starts a thread copying `source` into the console.
    pub(crate) fn attach(&self, mut source: impl Read + Send + 'static) {
        let shared = Arc::clone(&self.shared);
        let log = Arc::clone(&self.log);
        lock(&shared.0).open += 1;
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut pending: Vec<u8> = Vec::new();
            loop {
                let n = match source.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                if n > 0 {
                    if let Ok(mut f) = log.lock() {
                        let _ = f.write_all(&buf[..n]);
                        let _ = f.flush();
                    }
                    pending.extend_from_slice(&buf[..n]);
                }
                // Decode whole UTF-8 sequences only; keep a split one.
                let valid = match std::str::from_utf8(&pending) {
                    Ok(s) => s.len(),
                    Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
                    Err(_) => pending.len(),
                };
                let text = String::from_utf8_lossy(&pending[..valid]).replace('\r', "");
                pending.drain(..valid);
                let (m, cv) = &*shared;
                let mut st = lock(m);
                st.text.push_str(&text);
                if n == 0 {
                    st.open -= 1;
                }
                cv.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
    }

    /// The last `lines` lines of the console.
    pub(crate) fn tail(&self, lines: usize) -> String {
        tail_of(&lock(&self.shared.0).text, lines)
    }

    /// Waits until `matcher` finds something in the text after the cursor.
    /// `matcher` returns the end offset (relative to the cursor) to advance
    /// to, and a value. Panics anywhere after `panic_from` end the wait.
    pub(crate) fn wait<T>(
        &mut self,
        timeout: Duration,
        mut matcher: impl FnMut(&str) -> Option<(usize, T)>,
    ) -> Result<T, WaitError> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut st = lock(m);
        loop {
            let new = &st.text[self.cursor..];
            if let Some((end, value)) = matcher(new) {
                self.cursor += end;
                return Ok(value);
            }
            if let Some(pos) = new.find(PANIC_MARKER) {
                let line = new[pos..]
                    .lines()
                    .next()
                    .unwrap_or(PANIC_MARKER)
                    .to_string();
                return Err(WaitError::Panic { line });
            }
            if st.open == 0 {
                return Err(WaitError::Closed {
                    tail: tail_of(&st.text, 20),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::Timeout {
                    tail: tail_of(&st.text, 20),
                });
            }
            st = cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for both sources to close (QEMU exited), up to `timeout`.
    pub(crate) fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut st = lock(m);
        while st.open > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

fn tail_of(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(name: &str) -> Console {
        let p =
            std::env::temp_dir().join(format!("limina-console-{}-{name}.log", std::process::id()));
        Console::create(&p, "test").expect("log")
    }

    fn find(needle: &'static str) -> impl FnMut(&str) -> Option<(usize, ())> {
        move |s: &str| s.find(needle).map(|i| (i + needle.len(), ()))
    }

    #[test]
    fn finds_text_split_across_reads_and_strips_cr() {
        let mut c = console("split");
        let (r, mut w) = std::io::pipe().expect("pipe");
        c.attach(r);
        std::thread::spawn(move || {
            let _ = w.write_all(b"boot...\r\nLIMINA-RE");
            std::thread::sleep(Duration::from_millis(50));
            let _ = w.write_all(b"ADY 6.1\r\n");
        });
        c.wait(Duration::from_secs(10), find("LIMINA-READY"))
            .ok()
            .expect("found");
        assert!(!c.tail(5).contains('\r'));
    }

    #[test]
    fn times_out_with_the_tail() {
        let mut c = console("timeout");
        let (r, mut w) = std::io::pipe().expect("pipe");
        c.attach(r);
        w.write_all(b"still booting\n").expect("write");
        let start = Instant::now();
        match c.wait(Duration::from_millis(200), find("never")) {
            Err(WaitError::Timeout { tail }) => assert!(tail.contains("still booting")),
            _ => panic!("expected a timeout"),
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(w);
    }

    #[test]
    fn panic_and_close_end_the_wait() {
        let mut c = console("panic");
        let (r, mut w) = std::io::pipe().expect("pipe");
        c.attach(r);
        w.write_all(b"[ 1.0] Kernel panic - not syncing: sysrq triggered crash\n")
            .expect("write");
        match c.wait(Duration::from_secs(10), find("never")) {
            Err(WaitError::Panic { line }) => assert!(line.contains("sysrq triggered crash")),
            _ => panic!("expected a panic"),
        }
        let mut c = console("closed");
        let (r, w) = std::io::pipe().expect("pipe");
        c.attach(r);
        drop(w);
        assert!(matches!(
            c.wait(Duration::from_secs(10), find("never")),
            Err(WaitError::Closed { .. })
        ));
        assert!(c.wait_closed(Duration::from_secs(1)));
    }
}
