//! pppd `ip-up`, `ip-down`, `ipv6-up`, `ipv6-down`: the session.
//!
//! pppd runs `/etc/ppp/ip-up` with arguments
//! `interface tty speed local-address remote-address ipparam` and the
//! environment `IFNAME`, `IPLOCAL`, `IPREMOTE`, `DNS1`, `DNS2` (with
//! `usepeerdns`), `PEERNAME`; `ipv6-up` gets `LLLOCAL`/`LLREMOTE` and the
//! link-local addresses as arguments 4 and 5. The environment wins where
//! both are given.
//!
//! IPv4 keys: `ifname`, `ip`, `peer`, `dns` (space-separated), `dns1`,
//! `dns2`, `peername`. IPv6 keys: `ifname`, `ip6-local`, `ip6-peer`. Both
//! families share one service, so the `-down` scripts remove only their
//! family's keys ([`IPV4_KEYS`], [`IPV6_KEYS`]); the outputs disappear with
//! the last one.

use super::{AdapterError, Env};
use crate::OutputSet;

const CLIENT: &str = "pppd";

/// Keys an `ip-up` sets and an `ip-down` removes.
pub const IPV4_KEYS: &[&str] = &["ip", "peer", "dns", "dns1", "dns2", "peername"];
/// Keys an `ipv6-up` sets and an `ipv6-down` removes.
pub const IPV6_KEYS: &[&str] = &["ip6-local", "ip6-peer"];

/// Which script pppd ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// `ip-up`: IPCP is up.
    IpUp,
    /// `ip-down`: IPCP went down.
    IpDown,
    /// `ipv6-up`: IPV6CP is up.
    Ipv6Up,
    /// `ipv6-down`: IPV6CP went down.
    Ipv6Down,
}

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The service to publish under: `LIMINA_OUTPUTS_SERVICE`, else pppd's
    /// `ipparam` (argument 6), else `ppp-<interface>`.
    pub service: String,
    /// For the `-up` scripts, the keys to merge into the service's set.
    pub set: OutputSet,
}

/// Parses an invocation: the script kind, its arguments (without argv\[0\])
/// and the environment.
pub fn parse(
    script: Script,
    args: &[String],
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Session, AdapterError> {
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    // Arguments fill in what the environment lacks.
    let (local, remote) = match script {
        Script::IpUp | Script::IpDown => ("IPLOCAL", "IPREMOTE"),
        Script::Ipv6Up | Script::Ipv6Down => ("LLLOCAL", "LLREMOTE"),
    };
    for (i, name) in [(0, "IFNAME"), (3, local), (4, remote), (5, "IPPARAM")] {
        if let Some(a) = args.get(i) {
            if !vars.iter().any(|(k, v)| k == name && !v.trim().is_empty()) {
                vars.push((name.to_owned(), a.clone()));
            }
        }
    }
    let env = Env::new(CLIENT, vars);
    let ifname = env.ifname("IFNAME")?;
    let service = env
        .opt("LIMINA_OUTPUTS_SERVICE")
        .or(env.opt("IPPARAM"))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("ppp-{ifname}"));
    crate::check_service(&service)?;
    let mut set = OutputSet::new();
    match script {
        Script::IpUp => {
            set.set("ifname", ifname)?;
            set.set("ip", env.ipv4("IPLOCAL", env.req("IPLOCAL")?)?.to_string())?;
            set.set(
                "peer",
                env.ipv4("IPREMOTE", env.req("IPREMOTE")?)?.to_string(),
            )?;
            let mut dns = Vec::new();
            for (var, key) in [("DNS1", "dns1"), ("DNS2", "dns2")] {
                if let Some(v) = env.opt(var) {
                    let a = env.ipv4(var, v)?.to_string();
                    set.set(key, a.as_str())?;
                    dns.push(a);
                }
            }
            set.set("dns", dns.join(" "))?;
            if let Some(p) = env.opt("PEERNAME") {
                set.set("peername", p)?;
            }
        }
        Script::Ipv6Up => {
            set.set("ifname", ifname)?;
            set.set(
                "ip6-local",
                env.ipv6("LLLOCAL", env.req("LLLOCAL")?)?.to_string(),
            )?;
            set.set(
                "ip6-peer",
                env.ipv6("LLREMOTE", env.req("LLREMOTE")?)?.to_string(),
            )?;
        }
        Script::IpDown | Script::Ipv6Down => {}
    }
    Ok(Session { service, set })
}

/// Applies an invocation to the service's current set: the new set, or
/// `None` when nothing is left and the outputs should be removed.
pub fn merge(script: Script, current: Option<OutputSet>, session: &Session) -> Option<OutputSet> {
    let mut set = current.unwrap_or_default();
    let (own, other) = match script {
        Script::IpUp | Script::IpDown => (IPV4_KEYS, IPV6_KEYS),
        Script::Ipv6Up | Script::Ipv6Down => (IPV6_KEYS, IPV4_KEYS),
    };
    for key in own {
        set.remove(key);
    }
    for (key, entry) in session.set.entries() {
        if let crate::Entry::Value(v) = entry {
            set.set(key, v.as_str())
                .expect("keys and values were checked when parsed");
        }
    }
    let has_other = other.iter().any(|k| set.get(k).is_some());
    let has_own = own.iter().any(|k| set.get(k).is_some());
    if has_own || has_other {
        Some(set)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }
    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// pppd 2.4.9 with the rp-pppoe plugin and `usepeerdns ipparam wan`.
    const IP_UP_ARGS: &[&str] = &["ppp0", "", "0", "10.64.64.2", "10.64.64.1", "wan"];
    const IP_UP_ENV: &[(&str, &str)] = &[
        ("MACREMOTE", "02:00:00:00:00:01"),
        ("IFNAME", "ppp0"),
        ("CONNECT_TIME", "0"),
        ("BYTES_SENT", "0"),
        ("BYTES_RCVD", "0"),
        ("LINKNAME", ""),
        ("DEVICE", "veth-c"),
        ("SPEED", "0"),
        ("IPLOCAL", "10.64.64.2"),
        ("IPREMOTE", "10.64.64.1"),
        ("PEERNAME", "isp"),
        ("USEPEERDNS", "1"),
        ("DNS1", "10.64.64.1"),
        ("DNS2", "192.0.2.53"),
        ("PPPD_PID", "1234"),
        ("PPPLOGNAME", "root"),
    ];

    #[test]
    fn ip_up_ipv6_up_and_downs() {
        let up = parse(Script::IpUp, &strings(IP_UP_ARGS), env(IP_UP_ENV)).expect("valid");
        assert_eq!(up.service, "wan");
        assert_eq!(up.set.get("ip"), Some("10.64.64.2"));
        assert_eq!(up.set.get("peer"), Some("10.64.64.1"));
        assert_eq!(up.set.get("dns"), Some("10.64.64.1 192.0.2.53"));
        assert_eq!(up.set.get("dns2"), Some("192.0.2.53"));
        let set = merge(Script::IpUp, None, &up);

        let args6 = strings(&["ppp0", "", "0", "fe80::1", "fe80::2", "wan"]);
        let up6 = parse(Script::Ipv6Up, &args6, env(&[])).expect("valid from args alone");
        let set = merge(Script::Ipv6Up, set, &up6).expect("both");
        assert_eq!(set.get("ip6-local"), Some("fe80::1"));
        assert_eq!(set.get("ip"), Some("10.64.64.2"));

        let down = parse(Script::IpDown, &strings(IP_UP_ARGS), env(IP_UP_ENV)).expect("valid");
        let set = merge(Script::IpDown, Some(set), &down).expect("ipv6 left");
        assert_eq!(set.get("ip"), None);
        assert_eq!(set.get("ip6-peer"), Some("fe80::2"));
        let down6 = parse(Script::Ipv6Down, &args6, env(&[])).expect("valid");
        assert_eq!(merge(Script::Ipv6Down, Some(set), &down6), None);
    }

    #[test]
    fn service_names() {
        let mut args = strings(IP_UP_ARGS);
        args[5] = String::new();
        let s = parse(Script::IpUp, &args, env(IP_UP_ENV)).expect("valid");
        assert_eq!(s.service, "ppp-ppp0");
        let mut e = env(IP_UP_ENV);
        e.push(("LIMINA_OUTPUTS_SERVICE".into(), "uplink".into()));
        assert_eq!(
            parse(Script::IpUp, &args, e).expect("valid").service,
            "uplink"
        );
        args[5] = "../etc".into();
        assert!(parse(Script::IpUp, &args, env(IP_UP_ENV)).is_err());
    }

    #[test]
    fn bad_input_is_named() {
        let err = parse(Script::IpUp, &strings(&["ppp0"]), env(&[])).expect_err("no address");
        assert_eq!(err.to_string(), "pppd: missing IPLOCAL");
        let err = parse(
            Script::IpUp,
            &strings(IP_UP_ARGS),
            env(&[("DNS1", "dns.example")]),
        )
        .expect_err("bad dns");
        assert_eq!(
            err.to_string(),
            "pppd: bad DNS1 \"dns.example\": expected an IPv4 address"
        );
        let err = parse(Script::IpUp, &[], env(&[])).expect_err("no interface");
        assert_eq!(err.to_string(), "pppd: missing IFNAME");
    }
}
