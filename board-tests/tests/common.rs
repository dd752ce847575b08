//! Helpers shared by the VM tests.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use limina_board_tests::Vm;

/// Runs a host tool that must succeed (`scripts/setup` installs them):
/// its standard output, or the test fails with the command, its status
/// and its standard error.
pub fn host_run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/setup installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// [`host_run`] of `program` with `args`; its standard output as text.
pub fn host_tool(program: &str, args: &[&str]) -> String {
    String::from_utf8_lossy(&host_run(Command::new(program).args(args))).into_owned()
}

/// SHA-256 of `data` in hex, by the host's `sha256sum` (what the guest's
/// `sha256sum` and `limina upgrade --status` are compared with).
pub fn sha256_hex(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .check("sha256sum on the host");
    let mut input = child.stdin.take().check_some("sha256sum's stdin");
    let data = data.to_vec();
    // Written from a thread so that a large input cannot block on a full pipe.
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().check("sha256sum");
    writer
        .join()
        .unwrap_or_else(|_| panic!("the sha256sum writer panicked"))
        .check("write to sha256sum");
    first_word(&String::from_utf8_lossy(&out.stdout))
}

/// SHA-256 of a host file in hex, as `sha256sum` prints it.
pub fn sha256_file(path: &Path) -> String {
    first_word(&host_tool("sha256sum", &[&path.display().to_string()]))
}

fn first_word(s: &str) -> String {
    s.split_whitespace()
        .next()
        .check_some("sha256sum output")
        .to_owned()
}

/// Like `expect`, but prints the error with `Display`: the harness's errors
/// carry the cause and the console log path there.
pub trait Check<T> {
    /// Unwraps, or fails the test with `step: error`.
    fn check(self, step: &str) -> T;
}

impl<T, E: Display> Check<T> for Result<T, E> {
    fn check(self, step: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{step}: {e}"),
        }
    }
}

/// `expect` for options, in the same style.
pub trait CheckSome<T> {
    /// Unwraps, or fails the test naming what was missing.
    fn check_some(self, what: &str) -> T;
}

impl<T> CheckSome<T> for Option<T> {
    fn check_some(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: missing"),
        }
    }
}

/// For `result.err()`: the error a test expects.
pub trait CheckErr<E> {
    /// Unwraps the expected error, or fails the test.
    fn check_err(self) -> E;
}

impl<E> CheckErr<E> for Option<E> {
    fn check_err(self) -> E {
        match self {
            Some(e) => e,
            None => panic!("expected an error, got success"),
        }
    }
}

/// What to divide busybox `time -v`'s "Maximum resident set size (kbytes)"
/// by to get KiB: busybox 1.35 converts `ru_maxrss` (already KiB) as if it
/// were pages, so it prints KiB × the page size in KiB. This is that page
/// size, read in the guest.
pub fn busybox_maxrss_divisor(vm: &mut Vm) -> u64 {
    vm.run_ok("grep -m1 KernelPageSize /proc/self/smaps")
        .check("page size")
        .split_whitespace()
        .nth(1)
        .check_some("KernelPageSize value")
        .parse()
        .check("page size number")
}

/// Runs `cmd` in the guest and checks that it fails with `expect` in its
/// output and leaves nothing loaded for kexec (`/sys/kernel/kexec_loaded`
/// is 0): bad input is refused before anything is loaded.
pub fn assert_refused_nothing_loaded(vm: &mut Vm, cmd: &str, expect: &str) {
    let (status, out) = vm.run(&format!("{cmd} 2>&1")).check(cmd);
    assert_ne!(status, 0, "{cmd} succeeded: {out}");
    assert!(out.contains(expect), "{cmd}: expected '{expect}' in: {out}");
    assert_eq!(
        vm.run_ok("cat /sys/kernel/kexec_loaded").check("loaded"),
        "0",
        "{cmd} left something loaded"
    );
}

/// Deterministic pseudo-random bytes (xorshift32), the same for a seed
/// on every run: test images and flash contents.
pub fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}
