//! The example command (`examples/tftpd.rs`), as scripts/bench-tftpd runs
//! it: its port-0 start line, its log lines, its usage errors.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::util::{busybox_get, have, on_build_machine, root, said, Scratch};

/// `target/<profile>/examples/tftpd`, built by `cargo test`.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("examples/tftpd")
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn example_serves_and_logs_one_line_per_event() {
    if !have("busybox-tftp", "example_serves_and_logs_one_line_per_event") {
        return;
    }
    let mut child = Running(
        Command::new(example())
            .args(["--port", "0", "--address", "127.0.0.1"])
            .arg(root())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start examples/tftpd (built by cargo test)"),
    );
    let mut lines = BufReader::new(child.0.stderr.take().expect("stderr")).lines();
    let mut next = || lines.next().expect("a log line").expect("utf-8 log line");
    let first = next();
    let addr: SocketAddr = first
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    assert!(first.starts_with("tftpd: serving "), "{first}");

    let tmp = Scratch::new("cli");
    let out = tmp.0.join("f513");
    let o = busybox_get(addr, "f513", &out, Some(1468));
    assert!(o.status.success(), "{}", said(&o));
    let request = next();
    assert!(
        request.contains("read \"f513\" mode octet blksize=1468"),
        "{request}"
    );
    let done = next();
    assert!(done.contains("sent \"f513\": 513 bytes in "), "{done}");

    let o = busybox_get(addr, "../secret", &tmp.0.join("x"), None);
    assert!(!o.status.success());
    let _request = next();
    let refused = next();
    assert!(
        refused.contains("refused \"../secret\": path: '..' component refused (error 2)"),
        "{refused}"
    );
}

#[test]
fn example_usage_errors_exit_2() {
    if !on_build_machine("example_usage_errors_exit_2") {
        return;
    }
    for args in [
        &[][..],
        &["--port"][..],
        &["--bogus", "x"][..],
        &["a", "b"][..],
    ] {
        let o = Command::new(example()).args(args).output().expect("run");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("usage: tftpd"));
    }
    let o = Command::new(example())
        .args(["--port", "0", "/nonexistent-dir"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot serve /nonexistent-dir"));
}
