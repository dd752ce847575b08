//! `uevent-wait` against the kernel: interfaces created and deleted in a
//! network namespace of the test's own, whose uevents the kernel sends only
//! to uevent sockets in that namespace (and whose `/sys/class/net`, as
//! `ip netns exec` mounts it, holds only its own interfaces).
//!
//! The device is a `dummy` where the kernel has the driver; the build
//! machines' kernel has none, so there it is a `veth` pair (`ue0` and its
//! peer `ue1`), subsystem `net` all the same. Needs root and `ip`; without
//! root the test prints why and checks nothing.

#![cfg(feature = "hotplug")]

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::util::{is_root, limina, read, run, wait_for, Scratch};

/// A namespace and the uevent-wait processes in it; removed on drop, even
/// when an assertion fails.
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn new() -> Self {
        let name = format!("lim-ue-{}", std::process::id());
        let (code, _, err) = run(Command::new("ip").args(["netns", "add", &name]));
        assert_eq!(code, 0, "ip netns add: {err}");
        Self {
            name,
            children: Vec::new(),
        }
    }

    fn ip(&self, args: &[&str]) -> (i32, String, String) {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// `uevent-wait ARGS -- sh -c 'echo LINE >> LOG'` in the namespace,
    /// stderr to ERR.
    fn spawn(&mut self, args: &[&str], line: &str, log: &Path, err: &Path) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(limina())
            .arg("uevent-wait")
            .args(args)
            .args(["--", "sh", "-c", &format!("echo \"{line}\" >> \"$0\"")])
            .arg(log)
            .stderr(Stdio::from(
                std::fs::File::create(err).expect("stderr file"),
            ))
            .spawn()
            .expect("uevent-wait starts");
        self.children.push(child);
    }

    /// How many sockets in the namespace listen to the kernel's uevents
    /// (protocol 15, group 1, bound): the listeners are ready.
    fn uevent_listeners(&self) -> usize {
        let (_, table, _) =
            run(Command::new("ip").args(["netns", "exec", &self.name, "cat", "/proc/net/netlink"]));
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // sk Eth Pid Groups ...
                f.get(1) == Some(&"15") && f.get(2) != Some(&"0") && f.get(3) == Some(&"00000001")
            })
            .count()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn lines(path: &Path) -> Vec<String> {
    read(path).lines().map(String::from).collect()
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and a network namespace: use --features netns-tests"
)]
fn interfaces_coming_and_going() {
    if !is_root() {
        eprintln!("skipped: not root");
        return;
    }
    let tmp = Scratch::new("uevent");
    let mut ns = Netns::new();
    let (all, all_err) = (tmp.join("all.log"), tmp.join("all.err"));
    let (rm, rm_err) = (tmp.join("remove.log"), tmp.join("remove.err"));
    // Every net device, with the ones already there.
    ns.spawn(
        &["--subsystem", "net", "--coldplug"],
        "$ACTION $INTERFACE $SUBSYSTEM $DEVPATH",
        &all,
        &all_err,
    );
    // Only ue0 going away.
    ns.spawn(
        &["--action", "remove", "--match", "INTERFACE=ue0"],
        "$ACTION $INTERFACE $DEVPATH $SEQNUM",
        &rm,
        &rm_err,
    );
    wait_for(10, "both listening", || {
        (ns.uevent_listeners() == 2).then_some(())
    });
    wait_for(10, "coldplug of lo", || {
        (lines(&all) == ["add lo net /devices/virtual/net/lo"]).then_some(())
    });

    let names: &[&str] = if ns.ip(&["link", "add", "ue0", "type", "dummy"]).0 == 0 {
        &["ue0"]
    } else {
        let (code, _, err) = ns.ip(&["link", "add", "ue0", "type", "veth", "peer", "name", "ue1"]);
        assert_eq!(code, 0, "ip link add veth: {err}");
        &["ue0", "ue1"]
    };
    let expect = |action: &str| -> Vec<String> {
        names
            .iter()
            .map(|n| format!("{action} {n} net /devices/virtual/net/{n}"))
            .collect()
    };
    let added = wait_for(10, "add events", || {
        let mut l = lines(&all);
        (l.len() == 1 + names.len()).then(|| l.split_off(1))
    });
    let mut sorted = added.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expect("add"),
        "one add per device, no queues events"
    );

    let (code, _, err) = ns.ip(&["link", "del", "ue0"]);
    assert_eq!(code, 0, "ip link del: {err}");
    let removed = wait_for(10, "remove events", || {
        let mut l = lines(&all);
        (l.len() == 1 + 2 * names.len()).then(|| l.split_off(1 + names.len()))
    });
    let mut sorted = removed.clone();
    sorted.sort();
    assert_eq!(sorted, expect("remove"));

    // The filtered listener: one line per removal of ue0, with SEQNUM from
    // the kernel. A second round proves it has read (and skipped) every
    // event in between: the socket delivers in order.
    let first = wait_for(10, "remove of ue0", || lines(&rm).first().cloned());
    assert!(
        first.starts_with("remove ue0 /devices/virtual/net/ue0 ")
            && first
                .rsplit(' ')
                .next()
                .is_some_and(|s| s.parse::<u64>().is_ok()),
        "{first}"
    );
    ns.ip(&["link", "add", "ue0", "type", "veth", "peer", "name", "ue1"]);
    if names.len() == 1 {
        // The dummy kernel: same again with a dummy.
        ns.ip(&["link", "del", "ue0"]);
        ns.ip(&["link", "add", "ue0", "type", "dummy"]);
    }
    ns.ip(&["link", "del", "ue0"]);
    let rm_lines = wait_for(10, "second remove of ue0", || {
        let l = lines(&rm);
        (l.len() >= 2).then_some(l)
    });
    assert!(
        rm_lines.iter().all(|l| l.starts_with("remove ue0 ")),
        "only ue0's removals: {rm_lines:?}"
    );

    // One stderr line per command run.
    let log = read(&all_err);
    assert_eq!(log.lines().count(), lines(&all).len(), "{log}");
    assert!(
        log.lines().next().is_some_and(
            |l| l == "uevent-wait: add /devices/virtual/net/lo (net): sh: exit status: 0"
        ),
        "{log}"
    );
}
