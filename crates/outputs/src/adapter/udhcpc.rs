//! busybox `udhcpc -s SCRIPT`: the lease, from the script's environment.
//!
//! udhcpc calls the script with one argument, the event, and the lease in
//! lower-case variables: `interface`, `ip`, `subnet` (dotted) and/or `mask`
//! (prefix length, newer busybox), `router`, `dns` (space-separated),
//! `domain`, `lease` (seconds), `serverid`, `broadcast`, `hostname`,
//! `ntpsrv`.
//!
//! Output keys of a lease: `ifname`, `ip`, `mask`, `prefixlen`, `router`
//! (the first), `routers` (all), `dns` (all, space-separated), and when
//! given `domain`, `lease`, `serverid`, `broadcast`, `hostname`, `ntp`.

use std::net::Ipv4Addr;

use super::{AdapterError, Env};
use crate::OutputSet;

/// What the script should do for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `bound` or `renew`: publish this lease.
    Lease(OutputSet),
    /// `deconfig`: the interface has no lease; remove the outputs.
    Deconfig,
    /// `leasefail`, `nak`: nothing changes (udhcpc sends `deconfig` when
    /// the lease is really gone).
    Nothing,
}

const CLIENT: &str = "udhcpc";

/// Parses one script invocation: the event argument and the environment.
pub fn parse(
    event: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Event, AdapterError> {
    match event {
        "deconfig" => Ok(Event::Deconfig),
        "leasefail" | "nak" => Ok(Event::Nothing),
        "bound" | "renew" => parse_lease(&Env::new(CLIENT, env)).map(Event::Lease),
        other => Err(AdapterError::UnknownEvent {
            client: CLIENT,
            event: other.to_owned(),
        }),
    }
}

/// The outputs service a lease is published under when
/// `LIMINA_OUTPUTS_SERVICE` does not say: `dhcp-<interface>`.
pub fn default_service(interface: &str) -> String {
    format!("dhcp-{interface}")
}

fn prefix_from_mask(mask: Ipv4Addr) -> Option<u32> {
    let bits = u32::from(mask);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len)
}

fn parse_lease(env: &Env) -> Result<OutputSet, AdapterError> {
    let ifname = env.ifname("interface")?;
    let ip = env.ipv4("ip", env.req("ip")?)?;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        return Err(env.invalid("ip", &ip.to_string(), "a unicast IPv4 address"));
    }
    let (mask, len) = match (env.opt("subnet"), env.opt("mask")) {
        (Some(subnet), _) => {
            let mask = env.ipv4("subnet", subnet)?;
            let len =
                prefix_from_mask(mask).ok_or_else(|| env.invalid("subnet", subnet, "a netmask"))?;
            (mask, len)
        }
        (None, Some(m)) => {
            // Newer busybox: a prefix length; older ones put the dotted mask.
            match m.parse::<u32>() {
                Ok(len) if len <= 32 => (
                    Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0)),
                    len,
                ),
                Ok(_) => return Err(env.invalid("mask", m, "a prefix length 0-32")),
                Err(_) => {
                    let mask = env.ipv4("mask", m)?;
                    (
                        mask,
                        prefix_from_mask(mask)
                            .ok_or_else(|| env.invalid("mask", m, "a netmask"))?,
                    )
                }
            }
        }
        (None, None) => {
            return Err(AdapterError::Missing {
                client: CLIENT,
                name: "subnet",
            })
        }
    };
    let routers = env.ipv4_list("router")?;
    let dns = env.ipv4_list("dns")?;
    let ntp = env.ipv4_list("ntpsrv")?;

    let mut set = OutputSet::new();
    set.set("ifname", ifname)?;
    set.set("ip", ip.to_string())?;
    set.set("mask", mask.to_string())?;
    set.set("prefixlen", len.to_string())?;
    if let Some(first) = routers.first() {
        set.set("router", first.as_str())?;
        set.set("routers", routers.join(" "))?;
    }
    set.set("dns", dns.join(" "))?;
    if !ntp.is_empty() {
        set.set("ntp", ntp.join(" "))?;
    }
    if let Some(lease) = env.opt("lease") {
        set.set("lease", env.number("lease", lease)?.to_string())?;
    }
    if let Some(s) = env.opt("serverid") {
        set.set("serverid", env.ipv4("serverid", s)?.to_string())?;
    }
    if let Some(b) = env.opt("broadcast") {
        set.set("broadcast", env.ipv4("broadcast", b)?.to_string())?;
    }
    for (var, key) in [("domain", "domain"), ("hostname", "hostname")] {
        if let Some(v) = env.opt(var) {
            set.set(key, v)?;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Recorded from busybox 1.36 udhcpc against dnsmasq 2.89 (`env` in the
    /// script), with unrelated variables (PATH, HOME…) kept in to show they
    /// are ignored.
    const BOUND: &[(&str, &str)] = &[
        ("PATH", "/sbin:/usr/sbin:/bin:/usr/bin"),
        ("interface", "veth-c"),
        ("ip", "10.77.0.57"),
        ("siaddr", "10.77.0.1"),
        ("subnet", "255.255.255.0"),
        ("mask", "24"),
        ("broadcast", "10.77.0.255"),
        ("router", "10.77.0.1"),
        ("dns", "10.77.0.1"),
        ("domain", "lan"),
        ("hostname", "client"),
        ("lease", "120"),
        ("serverid", "10.77.0.1"),
        ("opt53", "05"),
    ];

    #[test]
    fn bound_lease() {
        let Event::Lease(set) = parse("bound", env(BOUND)).expect("valid") else {
            panic!("not a lease")
        };
        let flat: Vec<(String, &str)> = set.flatten();
        let flat: Vec<(&str, &str)> = flat.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            flat,
            vec![
                ("broadcast", "10.77.0.255"),
                ("dns", "10.77.0.1"),
                ("domain", "lan"),
                ("hostname", "client"),
                ("ifname", "veth-c"),
                ("ip", "10.77.0.57"),
                ("lease", "120"),
                ("mask", "255.255.255.0"),
                ("prefixlen", "24"),
                ("router", "10.77.0.1"),
                ("routers", "10.77.0.1"),
                ("serverid", "10.77.0.1"),
            ]
        );
    }

    #[test]
    fn older_busybox_dotted_mask_and_lists() {
        let Event::Lease(set) = parse(
            "renew",
            env(&[
                ("interface", "eth0"),
                ("ip", "192.0.2.7"),
                ("mask", "255.255.252.0"),
                ("router", "192.0.2.1 192.0.2.2"),
                ("dns", "192.0.2.1  198.51.100.53 "),
            ]),
        )
        .expect("valid") else {
            panic!("not a lease")
        };
        assert_eq!(set.get("prefixlen"), Some("22"));
        assert_eq!(set.get("router"), Some("192.0.2.1"));
        assert_eq!(set.get("routers"), Some("192.0.2.1 192.0.2.2"));
        assert_eq!(set.get("dns"), Some("192.0.2.1 198.51.100.53"));
        assert_eq!(set.get("lease"), None);
    }

    #[test]
    fn events() {
        assert_eq!(
            parse("deconfig", env(&[("interface", "eth0")])),
            Ok(Event::Deconfig)
        );
        assert_eq!(parse("leasefail", env(&[])), Ok(Event::Nothing));
        assert_eq!(
            parse("nak", env(&[("message", "wrong server")])),
            Ok(Event::Nothing)
        );
        assert!(matches!(
            parse("bogus", env(&[])),
            Err(AdapterError::UnknownEvent { .. })
        ));
    }

    #[test]
    fn bad_input_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("ip", "10.0.0.2"), ("subnet", "255.0.0.0")],
                "udhcpc: missing interface",
            ),
            (
                &[("interface", "e"), ("subnet", "255.0.0.0")],
                "udhcpc: missing ip",
            ),
            (
                &[("interface", "e"), ("ip", "10.0.0.2")],
                "udhcpc: missing subnet",
            ),
            (
                &[
                    ("interface", "e"),
                    ("ip", "10.0.0.256"),
                    ("subnet", "255.0.0.0"),
                ],
                "udhcpc: bad ip \"10.0.0.256\": expected an IPv4 address",
            ),
            (
                &[
                    ("interface", "e"),
                    ("ip", "0.0.0.0"),
                    ("subnet", "255.0.0.0"),
                ],
                "udhcpc: bad ip \"0.0.0.0\": expected a unicast IPv4 address",
            ),
            (
                &[
                    ("interface", "e"),
                    ("ip", "10.0.0.2"),
                    ("subnet", "255.0.255.0"),
                ],
                "udhcpc: bad subnet \"255.0.255.0\": expected a netmask",
            ),
            (
                &[("interface", "e"), ("ip", "10.0.0.2"), ("mask", "33")],
                "udhcpc: bad mask \"33\": expected a prefix length 0-32",
            ),
            (
                &[
                    ("interface", "e"),
                    ("ip", "10.0.0.2"),
                    ("mask", "8"),
                    ("router", "10.0.0.1 garbage"),
                ],
                "udhcpc: bad router \"garbage\": expected an IPv4 address",
            ),
            (
                &[
                    ("interface", "e"),
                    ("ip", "10.0.0.2"),
                    ("mask", "8"),
                    ("lease", "-1"),
                ],
                "udhcpc: bad lease \"-1\": expected a decimal number",
            ),
            (
                &[("interface", "a/b"), ("ip", "10.0.0.2"), ("mask", "8")],
                "udhcpc: bad interface \"a/b\": expected a network interface name",
            ),
        ];
        for (vars, message) in cases {
            let err = parse("bound", env(vars)).expect_err("bad input");
            assert!(err.to_string().starts_with(message), "{err} vs {message}");
        }
    }

    #[test]
    fn masks() {
        assert_eq!(prefix_from_mask(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(
            prefix_from_mask(Ipv4Addr::new(255, 255, 255, 255)),
            Some(32)
        );
        assert_eq!(
            prefix_from_mask(Ipv4Addr::new(255, 255, 255, 128)),
            Some(25)
        );
        assert_eq!(prefix_from_mask(Ipv4Addr::new(255, 255, 0, 255)), None);
    }
}
