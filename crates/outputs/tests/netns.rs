//! Real peers: Debian's dnsmasq serving DHCPv4 on one end of a veth pair,
//! busybox udhcpc in another network namespace calling our
//! `udhcpc-script`; the outputs must hold the lease dnsmasq recorded.
//!
//! Needs root, `ip`, `busybox` (with udhcpc) and `/usr/sbin/dnsmasq`;
//! skipped with the reason printed otherwise.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::util::{applet_dir, run, wait_for, Scratch};

/// Two namespaces joined by a veth pair, plus the daemons in them; all
/// removed on drop, even when an assertion fails.
struct Net {
    server: String,
    client: String,
    children: Vec<Child>,
}

impl Net {
    fn new() -> Self {
        let id = std::process::id();
        let net = Self {
            server: format!("lo-srv-{id}"),
            client: format!("lo-cli-{id}"),
            children: Vec::new(),
        };
        let script = format!(
            "set -e
             ip netns add {s}; ip netns add {c}
             ip link add lo-vs-{id} type veth peer name lo-vc-{id}
             ip link set lo-vs-{id} netns {s} name vs
             ip link set lo-vc-{id} netns {c} name vc
             ip -n {s} addr add 10.77.0.1/24 dev vs
             ip -n {s} link set vs up; ip -n {s} link set lo up
             ip -n {c} link set vc up; ip -n {c} link set lo up",
            s = net.server,
            c = net.client,
        );
        let (code, _, err) = run(Command::new("sh").args(["-c", &script]));
        assert_eq!(code, 0, "creating namespaces: {err}");
        net
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }

    fn spawn(&mut self, mut cmd: Command) {
        self.children.push(cmd.spawn().expect("daemon starts"));
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn skip_reason() -> Option<String> {
    if !nix_is_root() {
        return Some("not root".into());
    }
    if !Path::new("/usr/sbin/dnsmasq").is_file() {
        return Some("/usr/sbin/dnsmasq missing (apt-get install dnsmasq)".into());
    }
    let udhcpc = Command::new("busybox").arg("udhcpc").arg("--help").output();
    if udhcpc
        .map(|o| String::from_utf8_lossy(&o.stderr).contains("applet not found"))
        .unwrap_or(true)
    {
        return Some("busybox with udhcpc missing".into());
    }
    if Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Some("`ip netns` unusable".into());
    }
    None
}

/// Effective uid 0, from `/proc/self/status` (no libc dependency).
fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uids = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(uids.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `expiry mac ip hostname clientid` lines of dnsmasq's lease file.
fn leases(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(1)?.to_string(), f.get(2)?.to_string()))
        })
        .collect()
}

fn output(bin: &Path, base: &Path, key: &str) -> Option<String> {
    let (code, out, _) = run(Command::new(bin.join("output"))
        .arg("-d")
        .arg(base)
        .args(["wan", key]));
    (code == 0).then(|| out.trim_end().to_owned())
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root, netns and dnsmasq: use --features netns-tests"
)]
fn udhcpc_against_dnsmasq() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED udhcpc_against_dnsmasq: {reason}");
        return;
    }
    let tmp = Scratch::new("netns-dhcp");
    let bin = applet_dir(
        &tmp.0,
        &[
            "udhcpc-script",
            "output",
            "watch-outputs",
            "acquire-wan-address",
        ],
    );
    let base = tmp.0.join("outputs");
    let lease_file = tmp.0.join("dnsmasq.leases");
    let actions = tmp.0.join("actions");
    let mut net = Net::new();

    let mut dnsmasq = net.exec(&net.server);
    dnsmasq
        .args([
            "/usr/sbin/dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--port=0",
        ])
        .args([
            "--conf-file=/dev/null",
            "--interface=vs",
            "--bind-interfaces",
            "--user=root",
        ])
        .args([
            "--dhcp-range=10.77.0.50,10.77.0.150,255.255.255.0,2m",
            "--dhcp-authoritative",
        ])
        .args([
            "--dhcp-option=option:router,10.77.0.1",
            "--dhcp-option=option:dns-server,10.77.0.1,10.77.0.2",
        ])
        .arg(format!("--dhcp-leasefile={}", lease_file.display()))
        .arg(format!(
            "--pid-file={}",
            tmp.0.join("dnsmasq.pid").display()
        ))
        .stdout(Stdio::null());
    net.spawn(dnsmasq);

    // A subscriber: counts changes of the address.
    let mut watch = Command::new(bin.join("watch-outputs"));
    watch
        .arg("-d")
        .arg(&base)
        .args(["wan/ip", "--", "sh", "-c"])
        .arg(format!("echo x >> {}", actions.display()));
    net.spawn(watch);
    let action_count = || {
        std::fs::read_to_string(&actions)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };

    let mut udhcpc = net.exec(&net.client);
    udhcpc
        .args([
            "busybox", "udhcpc", "-f", "-i", "vc", "-t", "10", "-T", "1", "-s",
        ])
        .arg(bin.join("udhcpc-script"))
        .env("LIMINA_OUTPUTS_DIR", &base)
        .env("LIMINA_OUTPUTS_SERVICE", "wan")
        .stdout(Stdio::null());
    net.spawn(udhcpc);
    let udhcpc_pid = net.children.last().map(Child::id).expect("just spawned");

    let ip = wait_for(30, "a lease in the outputs", || output(&bin, &base, "ip"));
    let recorded = wait_for(10, "dnsmasq's lease file", || {
        let l = leases(&lease_file);
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].1, ip, "outputs hold the address dnsmasq leased");
    assert_eq!(output(&bin, &base, "router").as_deref(), Some("10.77.0.1"));
    assert_eq!(
        output(&bin, &base, "dns").as_deref(),
        Some("10.77.0.1 10.77.0.2")
    );
    assert_eq!(
        output(&bin, &base, "serverid").as_deref(),
        Some("10.77.0.1")
    );
    assert_eq!(output(&bin, &base, "prefixlen").as_deref(), Some("24"));
    assert_eq!(output(&bin, &base, "ifname").as_deref(), Some("vc"));
    let lease: u32 = output(&bin, &base, "lease")
        .and_then(|l| l.parse().ok())
        .expect("lease time");
    assert!((60..=120).contains(&lease), "lease {lease}");
    wait_for(10, "the watcher's first action", || {
        (action_count() == 1).then_some(())
    });

    // Our subscriber applies the lease (so that udhcpc can renew by
    // unicast): the address and the default route via dnsmasq's router.
    let mut acquire = net.exec(&net.client);
    acquire
        .arg(bin.join("acquire-wan-address"))
        .arg("-d")
        .arg(&base)
        .args(["-w", "wan"])
        .stderr(Stdio::null());
    net.spawn(acquire);
    let client_addrs = |net: &Net| {
        let (_, out, _) =
            run(Command::new("ip").args(["-n", &net.client, "-j", "addr", "show", "dev", "vc"]));
        out
    };
    wait_for(20, "acquire-wan-address to apply the lease", || {
        client_addrs(&net)
            .contains(&format!("\"local\":\"{ip}\",\"prefixlen\":24"))
            .then_some(())
    });
    let (_, routes, _) =
        run(Command::new("ip").args(["-n", &net.client, "route", "show", "default"]));
    assert!(
        routes.contains("default via 10.77.0.1 dev vc proto 76"),
        "{routes}"
    );

    // Renew (SIGUSR1): the script republishes (a new generation behind the
    // symlink) with the same address; the watcher stays quiet.
    let generation = || std::fs::read_link(base.join("wan")).ok();
    let before = generation();
    kill(udhcpc_pid, "USR1");
    wait_for(20, "the renewal to be published", || {
        (generation() != before).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(output(&bin, &base, "ip").as_deref(), Some(ip.as_str()));
    assert_eq!(
        action_count(),
        1,
        "a renewal with the same address must not trigger"
    );

    // Release (SIGUSR2): deconfig removes the outputs, dnsmasq frees the lease.
    kill(udhcpc_pid, "USR2");
    wait_for(20, "the outputs to disappear", || {
        output(&bin, &base, "ip").is_none().then_some(())
    });
    wait_for(20, "dnsmasq to drop the lease", || {
        leases(&lease_file).is_empty().then_some(())
    });
    wait_for(10, "the watcher's action on release", || {
        (action_count() == 2).then_some(())
    });
    wait_for(20, "acquire-wan-address to remove the address", || {
        (!client_addrs(&net).contains(&format!("\"local\":\"{ip}\""))).then_some(())
    });
    let (code, _, _) = run(Command::new(bin.join("output"))
        .arg("-d")
        .arg(&base)
        .args(["wan", "ip"]));
    assert_eq!(code, 3, "service has no outputs after release");

    // Renew from released: a new lease, outputs back, matching dnsmasq.
    kill(udhcpc_pid, "USR1");
    let ip2 = wait_for(30, "a new lease", || output(&bin, &base, "ip"));
    let recorded = wait_for(10, "the new lease in dnsmasq", || {
        let l = leases(&lease_file);
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(recorded[0].1, ip2);
    wait_for(10, "the watcher's action on the new lease", || {
        (action_count() == 3).then_some(())
    });
    eprintln!("leased {ip}, renewed, released, leased {ip2}: outputs matched dnsmasq throughout");
}

fn kill(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
