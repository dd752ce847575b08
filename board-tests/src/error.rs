//! The harness's errors. Each names the cause a developer has to act on
//! (a missing file and the script that makes it, the step that timed out and
//! where the console log is) instead of leaving a hung or silent test.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can end a board test early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The QEMU system emulator for the machine is not installed.
    #[error("board-tests: {binary} not found in PATH (install it with scripts/setup)")]
    QemuNotFound {
        /// The executable that was looked for.
        binary: String,
    },
    /// A kernel, busybox or module tree the machine needs is missing.
    #[error("board-tests: {what} for {machine} not found at {} (make it with `{hint}`)", path.display())]
    AssetMissing {
        /// Which asset (e.g. "kernel").
        what: &'static str,
        /// The machine it is for.
        machine: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The command that produces it.
        hint: String,
    },
    /// A binary or module put into a guest is for another architecture.
    #[error("board-tests: {} is {found}, but the {machine} guest needs {expected}", path.display())]
    WrongArch {
        /// The offending file.
        path: PathBuf,
        /// The guest machine.
        machine: &'static str,
        /// What the guest runs.
        expected: String,
        /// What the file is.
        found: String,
    },
    /// A kernel module was asked for that the module tree does not have.
    #[error("board-tests: kernel module {name:?} not in {} (modules.dep)", tree.display())]
    ModuleMissing {
        /// The module name asked for.
        name: String,
        /// The module tree searched.
        tree: PathBuf,
    },
    /// The initramfs would not fit the guest's memory (the kernel would fail
    /// to unpack it and boot into confusion).
    #[error("board-tests: initramfs {} is {size_mib} MiB, too big for a {memory_mib} MiB guest (strip the binaries, or raise VmConfig::memory_mib)", path.display())]
    InitramfsTooBig {
        /// The archive.
        path: PathBuf,
        /// Its size.
        size_mib: u64,
        /// The guest's memory.
        memory_mib: u32,
    },
    /// A file could not be read or written on the host.
    #[error("board-tests: {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU could not be started.
    #[error("board-tests: cannot start {binary}: {source}")]
    Spawn {
        /// The QEMU executable.
        binary: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A step did not finish within its timeout; QEMU was killed.
    #[error("board-tests: timed out after {:.1}s waiting for {what} (console log: {}){}", after.as_secs_f64(), console_log.display(), fmt_tail(tail))]
    Timeout {
        /// The step that was waiting.
        what: String,
        /// How long it waited.
        after: Duration,
        /// The kept console log.
        console_log: PathBuf,
        /// The last console lines.
        tail: String,
    },
    /// The guest kernel panicked.
    #[error("board-tests: guest kernel panic while waiting for {what}: {line} (console log: {})", console_log.display())]
    GuestPanic {
        /// The step that was waiting.
        what: String,
        /// The panic line from the console.
        line: String,
        /// The kept console log.
        console_log: PathBuf,
    },
    /// QEMU exited while a step was still waiting for the guest.
    #[error("board-tests: QEMU exited ({status}) while waiting for {what} (console log: {}){}", console_log.display(), fmt_tail(tail))]
    QemuExited {
        /// The step that was waiting.
        what: String,
        /// QEMU's exit status, as text.
        status: String,
        /// The kept console log.
        console_log: PathBuf,
        /// The last console lines (QEMU's own errors land here too).
        tail: String,
    },
    /// A step of the guest's `/init` failed (a module did not load, an init
    /// command exited non-zero); the boot stopped there.
    #[error("board-tests: guest boot step failed: {step} (console log: {})", console_log.display())]
    GuestInit {
        /// What `/init` reported.
        step: String,
        /// The kept console log.
        console_log: PathBuf,
    },
    /// A guest command exited non-zero where success was required.
    #[error("board-tests: guest command `{command}` exited with {status}; output:\n{output}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed (stdout and stderr together).
        output: String,
    },
    /// A test asked for something its VM configuration does not allow
    /// (a reboot without `allow_reboot`, a monitor command without
    /// `monitor`, a flash layout that does not fit).
    #[error("board-tests: bad VM configuration: {reason}")]
    Config {
        /// What is wrong and what to set.
        reason: String,
    },
    /// A command that was to end in a reset of the guest finished instead.
    #[error("board-tests: guest command `{command}` exited with {status} instead of resetting the guest; output:\n{output}")]
    NoReset {
        /// The command line.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed.
        output: String,
    },
    /// The QEMU monitor did not take a command.
    #[error("board-tests: QEMU monitor {} refused `{command}`: {reason}", socket.display())]
    Monitor {
        /// The monitor's socket.
        socket: PathBuf,
        /// The monitor command.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// Data copied out of the guest did not decode.
    #[error("board-tests: copying {guest_path} out of the guest: {reason}")]
    Transfer {
        /// The guest file.
        guest_path: String,
        /// What went wrong.
        reason: String,
    },
}

fn fmt_tail(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; last console output:\n{tail}")
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
