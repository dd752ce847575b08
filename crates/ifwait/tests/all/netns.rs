use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use limina_ifwait::{Condition, IfState, IfWatch, Supervisor};
use nix::sched::{setns, CloneFlags};

/// A network namespace, deleted on drop. The calling thread joins it.
struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace and moves this thread into it; `None` (after
    /// printing why) when this is not possible (not root, no iproute2).
    fn enter() -> Option<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "limina-ifwait-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "skipped: `ip netns add` failed (root needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return None;
            }
            Err(e) => {
                eprintln!("skipped: cannot run ip (iproute2): {e}");
                return None;
            }
        }
        let ns = Netns { name };
        let f = std::fs::File::open(format!("/run/netns/{}", ns.name))
            .expect("ip netns add creates /run/netns/NAME");
        // Only this thread (the test's own) moves; the namespace holds
        // nothing but what the test creates.
        setns(f.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns as root");
        Some(ns)
    }

    /// Runs `ip -n NS ARGS...`, panicking on failure.
    fn ip(&self, args: &str) {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]).args(args.split_whitespace());
        let out = cmd.output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `ip` commands from another thread after `delay`.
    fn later(&self, delay: Duration, cmds: &[&str]) -> thread::JoinHandle<()> {
        let name = self.name.clone();
        let cmds: Vec<String> = cmds.iter().map(|s| (*s).to_owned()).collect();
        thread::spawn(move || {
            thread::sleep(delay);
            let ns = Netns { name };
            for c in &cmds {
                ns.ip(c);
            }
            // Not ours to delete.
            std::mem::forget(ns);
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

const LONG: Option<Duration> = Some(Duration::from_secs(10));

fn wait_until(w: &mut IfWatch, pred: impl Fn(&IfState) -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !pred(&w.state()) {
        if !w.next_events(Some(deadline)).expect("netlink") {
            return false;
        }
    }
    true
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and `ip netns`: run with --features netns-tests"
)]
fn each_condition_on_a_veth_created_after_the_wait_starts() {
    let Some(ns) = Netns::enter() else { return };
    let mut w = IfWatch::new("va", true).expect("netlink socket");
    assert!(!w.state().present());
    let t = ns.later(
        Duration::from_millis(200),
        &["link add va type veth peer name vb"],
    );
    assert!(w.wait_for(Condition::Present, LONG).expect("wait"));
    t.join().expect("ip thread");
    assert!(!w.state().up);

    let t = ns.later(Duration::from_millis(100), &["link set va up"]);
    assert!(w.wait_for(Condition::Up, LONG).expect("wait"));
    t.join().expect("ip thread");
    // The peer is down: no carrier yet.
    assert!(!w.state().carrier);
    let t = ns.later(Duration::from_millis(100), &["link set vb up"]);
    assert!(w.wait_for(Condition::Carrier, LONG).expect("wait"));
    assert!(w.wait_for(Condition::Running, LONG).expect("wait"));
    t.join().expect("ip thread");

    let t = ns.later(
        Duration::from_millis(100),
        &["addr add 192.0.2.1/24 dev va scope link"],
    );
    assert!(w
        .wait_for(Condition::Ipv4 { global: false }, LONG)
        .expect("wait"));
    t.join().expect("ip thread");
    assert!(
        !w.state().holds(Condition::Ipv4 { global: true }),
        "link scope"
    );
    let t = ns.later(
        Duration::from_millis(100),
        &["addr add 198.51.100.1/24 dev va"],
    );
    assert!(w
        .wait_for(Condition::Ipv4 { global: true }, LONG)
        .expect("wait"));
    t.join().expect("ip thread");

    // IPv6: the link-local address appears once DAD is done (about 1 s on
    // a fresh veth); nodad makes the global one usable at once.
    assert!(w
        .wait_for(Condition::Ipv6 { global: false }, LONG)
        .expect("wait"));
    assert!(!w.state().holds(Condition::Ipv6 { global: true }));
    let t = ns.later(
        Duration::from_millis(100),
        &["addr add 2001:db8::1/64 dev va nodad"],
    );
    assert!(w
        .wait_for(Condition::Ipv6 { global: true }, LONG)
        .expect("wait"));
    t.join().expect("ip thread");

    // Address removal is seen too.
    ns.ip("addr del 198.51.100.1/24 dev va");
    assert!(wait_until(
        &mut w,
        |s| !s.holds(Condition::Ipv4 { global: true }),
        Duration::from_secs(5)
    ));
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and `ip netns`: run with --features netns-tests"
)]
fn timeout_is_prompt_and_reports_false() {
    let Some(_ns) = Netns::enter() else { return };
    let mut w = IfWatch::new("nothere", false).expect("netlink socket");
    let t = Instant::now();
    let held = w
        .wait_for(Condition::Up, Some(Duration::from_millis(300)))
        .expect("wait");
    let took = t.elapsed();
    assert!(!held);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1000),
        "{took:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and `ip netns`: run with --features netns-tests"
)]
fn an_interface_already_in_the_state_is_seen_by_the_dump() {
    let Some(ns) = Netns::enter() else { return };
    ns.ip("link add va type veth peer name vb");
    ns.ip("link set va up");
    ns.ip("link set vb up");
    let mut w = IfWatch::new("va", false).expect("netlink socket");
    let t = Instant::now();
    assert!(w
        .wait_for(Condition::Running, Some(Duration::from_secs(2)))
        .expect("wait"));
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and `ip netns`: run with --features netns-tests"
)]
fn rename_and_delete() {
    let Some(ns) = Netns::enter() else { return };
    ns.ip("link add va type veth peer name vb");
    let mut w = IfWatch::new("va", false).expect("netlink socket");
    assert!(w.state().present());
    ns.ip("link set va name wan0");
    assert!(wait_until(&mut w, |s| !s.present(), Duration::from_secs(5)));
    // Renamed back: present again, same index.
    ns.ip("link set wan0 name va");
    assert!(w.wait_for(Condition::Present, LONG).expect("wait"));
    ns.ip("link del va");
    assert!(wait_until(&mut w, |s| !s.present(), Duration::from_secs(5)));
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and `ip netns`: run with --features netns-tests"
)]
fn supervise_debounces_a_flapping_link() {
    let Some(ns) = Netns::enter() else { return };
    ns.ip("link add va type veth peer name vb");
    ns.ip("link set vb up");
    let mut w = IfWatch::new("va", false).expect("netlink socket");
    let mut sup = Supervisor::new(Duration::from_millis(300));
    let script = ns.later(
        Duration::from_millis(500),
        &[
            // Up for good...
            "link set va up",
        ],
    );
    let flap = {
        let name = ns.name.clone();
        thread::spawn(move || {
            let ns = Netns { name };
            thread::sleep(Duration::from_millis(1500));
            // ...then three quick flaps, each far shorter than the debounce...
            for _ in 0..3 {
                ns.ip("link set va down");
                ns.ip("link set va up");
            }
            thread::sleep(Duration::from_millis(1000));
            // ...then down for good.
            ns.ip("link set va down");
            std::mem::forget(ns);
        })
    };
    let mut transitions = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Some(v) = sup.observe(w.state().holds(Condition::Running), Instant::now()) {
            transitions.push(v);
        }
        let wake = sup.deadline().map_or(end, |d| d.min(end));
        w.next_events(Some(wake)).expect("netlink");
    }
    script.join().expect("ip thread");
    flap.join().expect("ip thread");
    assert_eq!(transitions, [false, true, false], "initial, up, down");
}
