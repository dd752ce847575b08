//! `acquire-wan-address` and `acquire-delegated-prefix` against the host
//! kernel, in a network namespace the test creates (a veth pair: `wan0`,
//! `lan0`). Outputs are published by hand with the library; the applets
//! run in the namespace; `ip -j` in the namespace is the judge.
//!
//! Needs root and `ip`; skipped with the reason printed otherwise.

use std::process::{Child, Command, Stdio};

use limina_outputs::{OutputSet, Store};

use crate::util::{applet_dir, run, wait_for, Scratch};

struct Ns {
    name: String,
    children: Vec<Child>,
}

impl Ns {
    fn new(tag: &str) -> Self {
        let ns = Self {
            name: format!("lo-{tag}-{}", std::process::id()),
            children: Vec::new(),
        };
        let script = format!(
            "set -e
             ip netns add {n}
             ip -n {n} link add wan0 type veth peer name lan0
             ip -n {n} link set wan0 up; ip -n {n} link set lan0 up; ip -n {n} link set lo up
             ip -n {n} addr add 198.51.100.7/24 dev wan0",
            n = ns.name
        );
        let (code, _, err) = run(Command::new("sh").args(["-c", &script]));
        assert_eq!(code, 0, "creating the namespace: {err}");
        ns
    }

    fn exec(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// `ip -j ARGS` in the namespace, as one string.
    fn ip(&self, args: &str) -> String {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name, "-j"])
            .args(args.split_whitespace());
        let (code, out, err) = run(&mut c);
        assert_eq!(code, 0, "ip {args}: {err}");
        out
    }
}

impl Drop for Ns {
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

fn skip_reason() -> Option<&'static str> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("not root");
    }
    if Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Some("`ip netns` unusable");
    }
    None
}

fn set(pairs: &[(&str, &str)]) -> OutputSet {
    let mut s = OutputSet::new();
    for (k, v) in pairs {
        s.set(k, *v).expect("valid");
    }
    s
}

/// `"local":"A","prefixlen":L` in `ip -j addr` output.
fn has_addr(json: &str, addr: &str, len: u8) -> bool {
    json.contains(&format!("\"local\":\"{addr}\",\"prefixlen\":{len}"))
}

fn lease(ip: &str) -> OutputSet {
    set(&[
        ("ifname", "wan0"),
        ("ip", ip),
        ("prefixlen", "24"),
        ("router", "192.0.2.1"),
        ("address/a/address", "2001:db8:0:1::50"),
        ("address/a/len", "64"),
    ])
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and netns: use --features netns-tests"
)]
fn wan_address_applied_changed_and_removed() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED wan_address_applied_changed_and_removed: {reason}");
        return;
    }
    let tmp = Scratch::new("acquire-wan");
    let bin = applet_dir(&tmp.0, &["acquire-wan-address"]);
    let base = tmp.0.join("outputs");
    let store = Store::new(&base);
    let mut ns = Ns::new("acqwan");
    let acquire = bin.join("acquire-wan-address");

    // Once: the lease's addresses and default route are added; the
    // address that was there before stays.
    store.publish("wan", &lease("192.0.2.50")).expect("publish");
    // `-n 1`: readiness on stdout once everything is in place.
    let (code, out, err) = run(ns
        .exec(&acquire)
        .arg("-d")
        .arg(&base)
        .args(["-n", "1", "wan"]));
    assert_eq!((code, out.as_str()), (0, "\n"), "{err}");
    assert!(
        err.contains("added address 192.0.2.50/24 dev wan0"),
        "{err}"
    );
    let addrs = ns.ip("addr show dev wan0");
    assert!(has_addr(&addrs, "192.0.2.50", 24), "{addrs}");
    assert!(has_addr(&addrs, "2001:db8:0:1::50", 64), "{addrs}");
    assert!(has_addr(&addrs, "198.51.100.7", 24), "{addrs}");
    let routes = ns.ip("route show default");
    assert!(
        routes.contains("\"gateway\":\"192.0.2.1\",\"dev\":\"wan0\",\"protocol\":\"76\""),
        "{routes}"
    );
    assert_eq!(store.get("acquired-wan", "source").expect("record"), "wan");
    // Running again changes nothing.
    let (code, _, err) = run(ns.exec(&acquire).arg("-d").arg(&base).arg("wan"));
    assert_eq!((code, err.as_str()), (0, ""));

    // This kernel keeps IFA_PROTO: our address is marked in the record.
    let id =
        limina_outputs::acquire::Item::address("wan0", "192.0.2.50".parse().expect("ip"), 24, None)
            .id();
    assert_eq!(
        store
            .get("acquired-wan", &format!("address/{id}/marked"))
            .expect("marked"),
        "1"
    );
    // An administrator removes our address and adds it again by hand: it
    // is theirs now (no protocol on it) and must survive our next change.
    let (code, _, err) = run(Command::new("sh").arg("-c").arg(format!(
        "ip -n {n} addr del 192.0.2.50/24 dev wan0 && ip -n {n} addr add 192.0.2.50/24 dev wan0",
        n = ns.name
    )));
    assert_eq!(code, 0, "{err}");

    // Watching: a new lease replaces our address and leaves the foreign one.
    let mut watch = ns.exec(&acquire);
    watch
        .arg("-d")
        .arg(&base)
        .args(["-w", "wan"])
        .stderr(Stdio::null());
    ns.children.push(watch.spawn().expect("watcher starts"));
    let mut next = lease("192.0.2.60");
    next.remove("address/a");
    store.publish("wan", &next).expect("publish");
    let addrs = wait_for(20, "the new lease applied", || {
        let a = ns.ip("addr show dev wan0");
        (has_addr(&a, "192.0.2.60", 24) && !has_addr(&a, "2001:db8:0:1::50", 64)).then_some(a)
    });
    assert!(
        has_addr(&addrs, "192.0.2.50", 24),
        "re-added by hand: {addrs}"
    );
    assert!(has_addr(&addrs, "198.51.100.7", 24), "{addrs}");
    let (code, _, err) = run(Command::new("ip").args([
        "-n",
        &ns.name,
        "addr",
        "del",
        "192.0.2.50/24",
        "dev",
        "wan0",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(ns.ip("route show default").contains("192.0.2.1"));

    // A lease for the address somebody else configured: not ours, so it
    // survives the lease going away; our address and route go.
    store
        .publish(
            "wan",
            &set(&[
                ("ifname", "wan0"),
                ("ip", "198.51.100.7"),
                ("prefixlen", "24"),
            ]),
        )
        .expect("publish");
    wait_for(20, "the old lease removed", || {
        let a = ns.ip("addr show dev wan0");
        (!has_addr(&a, "192.0.2.60", 24)).then_some(())
    });
    store.remove("wan").expect("remove");
    wait_for(20, "the record to go", || {
        store.read("acquired-wan").is_err().then_some(())
    });
    let addrs = ns.ip("addr show dev wan0");
    assert!(
        has_addr(&addrs, "198.51.100.7", 24),
        "foreign address kept: {addrs}"
    );
    assert_eq!(ns.ip("route show default").trim(), "[]");

    // Garbage outputs: an error naming the key; nothing changes.
    store
        .publish("wan", &set(&[("ifname", "wan0"), ("ip", "192.0.2.999")]))
        .expect("publish");
    let before = ns.ip("addr show dev wan0");
    let (code, out, err) = run(ns
        .exec(&acquire)
        .arg("-d")
        .arg(&base)
        .args(["-n", "1", "wan"]));
    assert_eq!((code, out.as_str()), (1, ""), "not ready: {err}");
    assert!(
        err.contains("key \"ip\": bad value \"192.0.2.999\""),
        "{err}"
    );
    assert_eq!(ns.ip("addr show dev wan0"), before);
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root and netns: use --features netns-tests"
)]
fn delegated_prefix_gives_lan_address() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED delegated_prefix_gives_lan_address: {reason}");
        return;
    }
    let tmp = Scratch::new("acquire-pd");
    let bin = applet_dir(&tmp.0, &["acquire-delegated-prefix"]);
    let base = tmp.0.join("outputs");
    let store = Store::new(&base);
    let ns = Ns::new("acqpd");
    let acquire = bin.join("acquire-delegated-prefix");
    let apply = |extra: &[&str]| {
        run(ns
            .exec(&acquire)
            .arg("-d")
            .arg(&base)
            .args(["-i", "lan0", "-s", "3"])
            .args(extra)
            .arg("wan6"))
    };
    // A foreign address in the same /64 that we will use.
    let (code, _, err) = run(Command::new("ip").args([
        "-n",
        &ns.name,
        "addr",
        "add",
        "2001:db8:1200:3::99/64",
        "dev",
        "lan0",
    ]));
    assert_eq!(code, 0, "{err}");

    store
        .publish(
            "wan6",
            &set(&[
                ("ifname", "wan0"),
                ("prefix/p/prefix", "2001:db8:1200::"),
                ("prefix/p/len", "56"),
            ]),
        )
        .expect("publish");
    let (code, _, err) = apply(&[]);
    assert_eq!(code, 0, "{err}");
    let a = ns.ip("addr show dev lan0");
    assert!(has_addr(&a, "2001:db8:1200:3::1", 64), "{a}");
    assert_eq!(
        store
            .get(
                "delegated-wan6-lan0",
                &format!("address/{}/address", {
                    limina_outputs::acquire::Item::address(
                        "lan0",
                        "2001:db8:1200:3::1".parse().expect("ip"),
                        64,
                        None,
                    )
                    .id()
                })
            )
            .expect("recorded"),
        "2001:db8:1200:3::1"
    );

    // A new prefix: the old LAN address goes, the new one comes.
    store
        .publish(
            "wan6",
            &set(&[
                ("ifname", "wan0"),
                ("prefix/q/prefix", "2001:db8:3400::"),
                ("prefix/q/len", "48"),
            ]),
        )
        .expect("publish");
    let (code, _, err) = apply(&[]);
    assert_eq!(code, 0, "{err}");
    let a = ns.ip("addr show dev lan0");
    assert!(has_addr(&a, "2001:db8:3400:3::1", 64), "{a}");
    assert!(!has_addr(&a, "2001:db8:1200:3::1", 64), "{a}");
    assert!(has_addr(&a, "2001:db8:1200:3::99", 64), "foreign kept: {a}");

    // A subnet that does not fit: error, nothing changed.
    let (code, _, err) = run(ns
        .exec(&acquire)
        .arg("-d")
        .arg(&base)
        .args(["-i", "lan0", "-s", "10000", "wan6"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("subnet 0x10000 does not fit in 2001:db8:3400::/48 (at most 0xffff)"),
        "{err}"
    );
    assert!(has_addr(
        &ns.ip("addr show dev lan0"),
        "2001:db8:3400:3::1",
        64
    ));

    // -x: what we added goes, the foreign address and the record too.
    let (code, _, err) = apply(&["-x"]);
    assert_eq!(code, 0, "{err}");
    let a = ns.ip("addr show dev lan0");
    assert!(!has_addr(&a, "2001:db8:3400:3::1", 64), "{a}");
    assert!(has_addr(&a, "2001:db8:1200:3::99", 64), "{a}");
    assert!(store.read("delegated-wan6-lan0").is_err());
}
