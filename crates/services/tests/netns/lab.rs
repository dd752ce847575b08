//! The scenario's three network namespaces (`isp`, `router`, `client`),
//! the veth pairs between them, and every process started in them; all of
//! it is removed on drop, even when an assertion fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What the non-router commands run with: Debian's tools only.
pub const SYSTEM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The namespaces and the daemons started in them.
pub struct Lab {
    /// The WAN peer (Debian's dnsmasq as DHCP and DNS server).
    pub isp: String,
    /// Where the rendered services run.
    pub router: String,
    /// A LAN host (busybox udhcpc).
    pub client: String,
    children: Vec<(String, Child)>,
}

/// The device names in the namespaces.
pub mod dev {
    /// The isp's end of the WAN cable.
    pub const ISP: &str = "isp0";
    /// The router's WAN device (`[link.wan] device`).
    pub const WAN: &str = "wan0";
    /// The router's LAN port (`[link.lan-port] device`, member of br-lan).
    pub const LAN_PORT: &str = "lanp0";
    /// The client's end of the LAN cable.
    pub const CLIENT: &str = "lan0";
}

/// The isp's address on the WAN cable: the lease's router, DNS and NTP server.
pub const ISP_ADDR: &str = "10.77.0.1";

impl Lab {
    /// Creates the namespaces and cables: isp0 (10.77.0.1/24, up) — wan0
    /// (down, left to the router's services), lanp0 (down) — lan0 (up).
    pub fn new() -> Self {
        let id = std::process::id();
        let lab = Self {
            isp: format!("lsvc-isp-{id}"),
            router: format!("lsvc-rtr-{id}"),
            client: format!("lsvc-cli-{id}"),
            children: Vec::new(),
        };
        // Temporary names in the initial namespace, unique per test process.
        let script = format!(
            "set -e
             for ns in {isp} {rtr} {cli}; do ip netns add $ns; ip -n $ns link set lo up; done
             ip link add ls{id}a type veth peer name ls{id}b
             ip link set ls{id}a netns {isp} name {isp_dev}
             ip link set ls{id}b netns {rtr} name {wan}
             ip link add ls{id}c type veth peer name ls{id}d
             ip link set ls{id}c netns {rtr} name {lan_port}
             ip link set ls{id}d netns {cli} name {client_dev}
             ip -n {isp} addr add {isp_addr}/24 dev {isp_dev}
             ip -n {isp} link set {isp_dev} up
             ip -n {cli} link set {client_dev} up",
            isp = lab.isp,
            rtr = lab.router,
            cli = lab.client,
            isp_dev = dev::ISP,
            wan = dev::WAN,
            lan_port = dev::LAN_PORT,
            client_dev = dev::CLIENT,
            isp_addr = ISP_ADDR,
        );
        let out = run(Command::new("sh").args(["-c", &script]));
        assert!(
            out.status.success(),
            "creating the namespaces: {}",
            stderr(&out)
        );
        lab
    }

    /// `ip netns exec NS` with Debian's PATH: add the program and arguments.
    pub fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).env("PATH", SYSTEM_PATH);
        c
    }

    /// `ip -n NS ARGS...`, which must succeed; its stdout.
    pub fn ip(&self, ns: &str, args: &[&str]) -> String {
        let out = run(Command::new("ip").arg("-n").arg(ns).args(args));
        assert!(
            out.status.success(),
            "ip -n {ns} {}: {}",
            args.join(" "),
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `cmd` as daemon `name` (stdin from /dev/null unless the
    /// caller set it); killed on drop.
    pub fn spawn(&mut self, name: &str, mut cmd: Command) {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    /// The daemon `name`, to talk to it (stdin) or to check it is alive.
    pub fn child(&mut self, name: &str) -> &mut Child {
        self.children
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("no daemon {name}"))
    }

    /// Kills daemon `name` (SIGKILL) and reaps it.
    pub fn kill(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut c) = self.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for daemon `name` to exit by itself within `secs`, and
    /// returns whether it succeeded.
    pub fn wait_exit(&mut self, name: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let status = self.child(name).try_wait().expect("try_wait on a child");
            if let Some(status) = status {
                if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
                    self.children.remove(i);
                }
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not exit within {secs}s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever is still in our namespaces was started by this test
        // (helpers of the services, a straggling client): end it by pid.
        for ns in [&self.router, &self.client, &self.isp] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs a command to completion (it must start).
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// A command's stderr, for messages.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// The program `name` on Debian's PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    SYSTEM_PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
