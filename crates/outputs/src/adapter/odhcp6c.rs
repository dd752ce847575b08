//! `odhcp6c -s SCRIPT`: DHCPv6 and RA state, from the script's environment.
//!
//! odhcp6c calls `SCRIPT <interface> <state>` with lists in upper-case
//! variables, entries separated by spaces, fields by commas:
//!
//! | variable       | entry                                   | table          |
//! |----------------|-----------------------------------------|----------------|
//! | `ADDRESSES`    | `addr/len,preferred,valid[,class=…]`    | `address/<id>` |
//! | `PREFIXES`     | `prefix/len,preferred,valid[,excluded=…][,class=…]` | `prefix/<id>` |
//! | `RA_ADDRESSES` | `addr/len,preferred,valid`              | `ra-address/<id>` |
//! | `RA_ROUTES`    | `target/len,gateway,valid,metric`       | `route/<id>`   |
//! | `RDNSS`, `RA_DNS` | `addr`                               | `dns`, `ra-dns` (lists) |
//!
//! Row ids are [`stable_id`] of `addr/len` (routes: of
//! `target/len via gateway`), so a renewed address keeps its id and a new
//! one shows up as a new row. Scalars: `ifname`, `domains`, `ra-domains`,
//! `ra-mtu`, `ra-hoplimit`, `ra-reachable`, `ra-retransmit`, `server`.

use super::{stable_id, AdapterError, Env};
use crate::OutputSet;

/// What the script should do for a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `bound`, `informed`, `updated`, `rebound`, `ra-updated`: publish.
    State(OutputSet),
    /// `unbound`, `stopped`: the lease is gone; remove the outputs.
    Remove,
    /// `started`: nothing known yet.
    Nothing,
}

const CLIENT: &str = "odhcp6c";

/// The outputs service when `LIMINA_OUTPUTS_SERVICE` does not say:
/// `dhcpv6-<interface>`.
pub fn default_service(interface: &str) -> String {
    format!("dhcpv6-{interface}")
}

/// Parses one invocation: `<interface> <state>` and the environment.
pub fn parse(
    interface: &str,
    state: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Event, AdapterError> {
    match state {
        "started" => Ok(Event::Nothing),
        "unbound" | "stopped" => Ok(Event::Remove),
        "bound" | "informed" | "updated" | "rebound" | "ra-updated" => {
            let mut vars: Vec<(String, String)> = env.into_iter().collect();
            vars.push(("INTERFACE".to_owned(), interface.to_owned()));
            parse_state(&Env::new(CLIENT, vars)).map(Event::State)
        }
        other => Err(AdapterError::UnknownEvent {
            client: CLIENT,
            event: other.to_owned(),
        }),
    }
}

fn parse_state(env: &Env) -> Result<OutputSet, AdapterError> {
    let mut set = OutputSet::new();
    set.set("ifname", env.ifname("INTERFACE")?)?;
    for (var, table, field) in [
        ("ADDRESSES", "address", "address"),
        ("PREFIXES", "prefix", "prefix"),
        ("RA_ADDRESSES", "ra-address", "address"),
    ] {
        for entry in env.opt(var).unwrap_or("").split_whitespace() {
            let (id, row) = address_row(env, var, field, entry)?;
            set.set_table_at(table, &id, row)?;
        }
    }
    for entry in env.opt("RA_ROUTES").unwrap_or("").split_whitespace() {
        let (id, row) = route_row(env, entry)?;
        set.set_table_at("route", &id, row)?;
    }
    set.set("dns", env.ipv6_list("RDNSS")?.join(" "))?;
    let ra_dns = env.ipv6_list("RA_DNS")?;
    if !ra_dns.is_empty() {
        set.set("ra-dns", ra_dns.join(" "))?;
    }
    if let Some(s) = env.opt("SERVER") {
        set.set("server", env.ipv6("SERVER", s)?.to_string())?;
    }
    for (var, key) in [("DOMAINS", "domains"), ("RA_DOMAINS", "ra-domains")] {
        if let Some(v) = env.opt(var) {
            set.set(key, v.split_whitespace().collect::<Vec<_>>().join(" "))?;
        }
    }
    for (var, key) in [
        ("RA_MTU", "ra-mtu"),
        ("RA_HOPLIMIT", "ra-hoplimit"),
        ("RA_REACHABLE", "ra-reachable"),
        ("RA_RETRANSMIT", "ra-retransmit"),
    ] {
        if let Some(v) = env.opt(var) {
            set.set(key, env.number(var, v)?.to_string())?;
        }
    }
    Ok(set)
}

/// `addr/len,preferred,valid[,key=value…]`.
fn address_row(
    env: &Env,
    var: &str,
    field: &str,
    entry: &str,
) -> Result<(String, OutputSet), AdapterError> {
    let bad = || env.invalid(var, entry, "addr/len,preferred,valid");
    let mut fields = entry.split(',');
    let (addr, len) = fields
        .next()
        .and_then(|a| a.split_once('/'))
        .ok_or_else(bad)?;
    let addr = env.ipv6(var, addr)?;
    let len = env.number(var, len)?;
    if len > 128 {
        return Err(bad());
    }
    let preferred = env.number(var, fields.next().ok_or_else(bad)?)?;
    let valid = env.number(var, fields.next().ok_or_else(bad)?)?;
    let mut row = OutputSet::new();
    row.set(field, addr.to_string())?;
    row.set("len", len.to_string())?;
    row.set("preferred", preferred.to_string())?;
    row.set("valid", valid.to_string())?;
    for extra in fields {
        if let Some((k, v)) = extra.split_once('=') {
            if matches!(k, "class" | "excluded") && !v.is_empty() {
                row.set(k, v)?;
            }
        }
    }
    Ok((stable_id(&format!("{addr}/{len}")), row))
}

/// `target/len,gateway,valid,metric`; odhcp6c leaves the gateway empty for
/// an on-link route (the RA's prefix): recorded as `::`.
fn route_row(env: &Env, entry: &str) -> Result<(String, OutputSet), AdapterError> {
    let bad = || env.invalid("RA_ROUTES", entry, "target/len,gateway,valid,metric");
    let f: Vec<&str> = entry.split(',').collect();
    if f.len() < 4 {
        return Err(bad());
    }
    let (target, len) = f[0].split_once('/').ok_or_else(bad)?;
    let target = env.ipv6("RA_ROUTES", target)?;
    let len = env.number("RA_ROUTES", len)?;
    if len > 128 {
        return Err(bad());
    }
    let gateway = if f[1].is_empty() {
        std::net::Ipv6Addr::UNSPECIFIED
    } else {
        env.ipv6("RA_ROUTES", f[1])?
    };
    let mut row = OutputSet::new();
    row.set("target", target.to_string())?;
    row.set("len", len.to_string())?;
    row.set("gateway", gateway.to_string())?;
    row.set("valid", env.number("RA_ROUTES", f[2])?.to_string())?;
    row.set("metric", env.number("RA_ROUTES", f[3])?.to_string())?;
    Ok((stable_id(&format!("{target}/{len} via {gateway}")), row))
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

    /// The shape odhcp6c 2023 exports on `bound` (OpenWrt's
    /// `dhcpv6.script` reads the same variables).
    const BOUND: &[(&str, &str)] = &[
        ("ADDRESSES", "2001:db8:0:1::1a2/128,3600,7200 "),
        ("PREFIXES", "2001:db8:100::/56,3600,7200,class=wan 2001:db8:200::/60,1800,3600,excluded=2001:db8:200::/64"),
        ("RDNSS", "2001:db8::53 2001:db8::54"),
        ("DOMAINS", "example.net"),
        ("RA_ADDRESSES", "2001:db8:0:1:5054:ff:fe12:3456/64,14400,86400"),
        ("RA_ROUTES", "::/0,fe80::1,1800,512 2001:db8:0:1::/64,::,86400,256"),
        ("RA_DNS", "fe80::1"),
        ("RA_DOMAINS", ""),
        ("RA_HOPLIMIT", "64"),
        ("RA_MTU", "1492"),
        ("RA_REACHABLE", "0"),
        ("RA_RETRANSMIT", "0"),
        ("SERVER", "fe80::1"),
        ("PASSTHRU", "0017002020010db8000000000000000000000053"),
    ];

    #[test]
    fn bound_state() {
        let Event::State(set) = parse("wan", "bound", env(BOUND)).expect("valid") else {
            panic!("not a state")
        };
        let id = stable_id("2001:db8:0:1::1a2/128");
        assert_eq!(
            set.get(&format!("address/{id}/address")),
            Some("2001:db8:0:1::1a2")
        );
        assert_eq!(set.get(&format!("address/{id}/len")), Some("128"));
        assert_eq!(set.get(&format!("address/{id}/valid")), Some("7200"));
        let p = set.table("prefix").expect("prefixes");
        assert_eq!(p.entries().count(), 2);
        let id = stable_id("2001:db8:200::/60");
        assert_eq!(
            set.get(&format!("prefix/{id}/excluded")),
            Some("2001:db8:200::/64")
        );
        assert_eq!(
            set.get(&format!("prefix/{}/class", stable_id("2001:db8:100::/56"))),
            Some("wan")
        );
        let id = stable_id("::/0 via fe80::1");
        assert_eq!(set.get(&format!("route/{id}/metric")), Some("512"));
        assert_eq!(set.table("route").expect("routes").entries().count(), 2);
        assert_eq!(set.table("ra-address").expect("ra").entries().count(), 1);
        assert_eq!(set.get("dns"), Some("2001:db8::53 2001:db8::54"));
        assert_eq!(set.get("ra-dns"), Some("fe80::1"));
        assert_eq!(set.get("ra-mtu"), Some("1492"));
        assert_eq!(set.get("ra-domains"), None);
        assert_eq!(set.get("ifname"), Some("wan"));
    }

    #[test]
    fn ids_follow_content_not_lifetimes() {
        let a = parse(
            "wan",
            "bound",
            env(&[("PREFIXES", "2001:db8:100::/56,3600,7200")]),
        )
        .expect("valid");
        let b = parse(
            "wan",
            "updated",
            env(&[("PREFIXES", "2001:db8:100::/56,10,20 2001:db8:300::/56,1,2")]),
        )
        .expect("valid");
        let (Event::State(a), Event::State(b)) = (a, b) else {
            panic!("states")
        };
        let ids = |s: &OutputSet| -> Vec<String> {
            s.table("prefix")
                .expect("prefix")
                .entries()
                .map(|(k, _)| k.to_owned())
                .collect()
        };
        assert_eq!(ids(&a).len(), 1);
        assert!(ids(&b).contains(&ids(&a)[0]), "kept its id");
        assert_eq!(ids(&b).len(), 2);
    }

    /// What odhcp6c f19dd37 (Buildroot 2026.02.3's) exported on `bound`
    /// in the netns test (limina-services tests/netns_v6.rs): addresses and
    /// prefixes carry t1,t2; the on-link route has no gateway.
    #[test]
    fn bound_state_f19dd37() {
        let Event::State(set) = parse(
            "wan0",
            "bound",
            env(&[
                ("ADDRESSES", "2001:db8:77::195/128,300,600,150,240 "),
                ("PREFIXES", "2001:db8:8800:ff00::/56,300,600,150,240 "),
                (
                    "RA_ROUTES",
                    "2001:db8:77::/64,,86400,256 ::/0,fe80::1,600,512 ",
                ),
            ]),
        )
        .expect("valid") else {
            panic!("not a state")
        };
        let id = stable_id("2001:db8:8800:ff00::/56");
        assert_eq!(set.get(&format!("prefix/{id}/len")), Some("56"));
        assert_eq!(set.get(&format!("prefix/{id}/valid")), Some("600"));
        let id = stable_id("2001:db8:77::/64 via ::");
        assert_eq!(set.get(&format!("route/{id}/gateway")), Some("::"));
        assert_eq!(set.table("route").expect("routes").entries().count(), 2);
    }

    #[test]
    fn states() {
        assert_eq!(parse("wan", "started", env(&[])), Ok(Event::Nothing));
        assert_eq!(parse("wan", "unbound", env(&[])), Ok(Event::Remove));
        assert_eq!(parse("wan", "stopped", env(&[])), Ok(Event::Remove));
        assert!(parse("wan", "exploded", env(&[])).is_err());
    }

    #[test]
    fn bad_input_is_named() {
        for (vars, message) in [
            (
                &[("ADDRESSES", "2001:db8::1/64,1")][..],
                "odhcp6c: bad ADDRESSES \"2001:db8::1/64,1\"",
            ),
            (
                &[("ADDRESSES", "2001:db8::zz/64,1,2")],
                "odhcp6c: bad ADDRESSES \"2001:db8::zz\"",
            ),
            (
                &[("PREFIXES", "2001:db8::/129,1,2")],
                "odhcp6c: bad PREFIXES",
            ),
            (
                &[("RDNSS", "10.0.0.1")],
                "odhcp6c: bad RDNSS \"10.0.0.1\": expected an IPv6 address",
            ),
            (
                &[("RA_ROUTES", "::/0,fe80::1,1800")],
                "odhcp6c: bad RA_ROUTES",
            ),
            (&[("RA_MTU", "big")], "odhcp6c: bad RA_MTU \"big\""),
        ] {
            let err = parse("wan", "bound", env(vars)).expect_err("bad input");
            assert!(err.to_string().starts_with(message), "{err} vs {message}");
        }
        let err = parse("", "bound", env(&[])).expect_err("no interface");
        assert_eq!(err.to_string(), "odhcp6c: missing INTERFACE");
    }
}
