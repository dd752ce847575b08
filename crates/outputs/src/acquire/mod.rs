//! Subscribers that apply outputs to the kernel: `acquire-wan-address` and
//! `acquire-delegated-prefix`.
//!
//! A *plan* turns a service's outputs into the addresses and routes they
//! call for ([`plan_wan`], [`plan_delegated_prefix`]); an [`Acquirer`]
//! makes the kernel match the plan over rtnetlink, adding what is missing
//! and removing what it added earlier and the outputs no longer call for.
//!
//! Only what *we* created is ever removed (decision record
//! `docs/decisions/0033-outputs-acquire-ownership.md`):
//!
//! - An add is exclusive (`NLM_F_EXCL`). If the address or route already
//!   exists, somebody else made it (pppd puts the session address on
//!   `ppp0` itself) and it is not recorded as ours.
//! - What we created is recorded as the outputs of a *state service*
//!   (`acquired-<service>` by default), so it survives our restarts, and
//!   other services can read what was applied.
//! - Addresses carry `IFA_PROTO` [`PROTO`] and routes `rtm_protocol`
//!   [`PROTO`]. The kernel matches a route delete on the protocol, so a
//!   foreign route to the same destination is never removed; for
//!   addresses (whose delete ignores the protocol) we look first and leave
//!   an address whose protocol is not ours, or that lost the marker the
//!   kernel showed when we added it (removed and re-added by hand).
//!
//! ```
//! use limina_outputs::acquire::{plan_delegated_prefix, plan_wan, Item, WanOptions};
//! use limina_outputs::OutputSet;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut lease = OutputSet::new();
//! lease.set("ifname", "eth1")?;
//! lease.set("ip", "192.0.2.50")?;
//! lease.set("prefixlen", "24")?;
//! lease.set("router", "192.0.2.1")?;
//! let items = plan_wan("wan", &lease, &WanOptions::default())?;
//! assert_eq!(items[0].to_string(), "address 192.0.2.50/24 dev eth1");
//! assert_eq!(items[1].to_string(), "route 0.0.0.0/0 via 192.0.2.1 dev eth1 metric 0");
//!
//! let mut dhcpv6 = OutputSet::new();
//! dhcpv6.set("prefix/a1/prefix", "2001:db8:1200::")?;
//! dhcpv6.set("prefix/a1/len", "56")?;
//! let lan = plan_delegated_prefix("wan6", &dhcpv6, "br-lan", 3)?;
//! assert_eq!(lan, vec![Item::address("br-lan", "2001:db8:1200:3::1".parse()?, 64, None)]);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::adapter::stable_id;
use crate::store::{Store, StoreError};
use crate::{NameError, OutputSet};

mod rtnl;

pub use rtnl::{KernelAddress, Removal, Rtnl, RtnlError};

/// The marker on what we add: `IFA_PROTO` of addresses and `rtm_protocol`
/// of routes (`ip route` shows `proto 76`). Not used by the kernel
/// (1–3 for addresses; 0–4, 8–18, 42, 99, 186–192 for routes).
pub const PROTO: u8 = 76;

/// One thing to have in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// An interface address.
    Address {
        /// The interface.
        ifname: String,
        /// The local address.
        address: IpAddr,
        /// The prefix length.
        len: u8,
        /// The peer of a point-to-point link, if any.
        peer: Option<IpAddr>,
    },
    /// A route in the main table.
    Route {
        /// The interface.
        ifname: String,
        /// The destination network.
        target: IpAddr,
        /// The destination prefix length (0: default route).
        len: u8,
        /// The next hop; `None` for a route straight out of the interface.
        gateway: Option<IpAddr>,
        /// The metric.
        metric: u32,
    },
}

impl Item {
    /// An [`Item::Address`].
    pub fn address(ifname: &str, address: IpAddr, len: u8, peer: Option<IpAddr>) -> Self {
        Item::Address {
            ifname: ifname.to_owned(),
            address,
            len,
            peer,
        }
    }

    /// The interface the item is on.
    pub fn ifname(&self) -> &str {
        match self {
            Item::Address { ifname, .. } | Item::Route { ifname, .. } => ifname,
        }
    }

    /// The id of the item in the state record: derived from its content.
    pub fn id(&self) -> String {
        stable_id(&self.to_string())
    }

    /// The item as a row of the state record.
    fn to_row(&self) -> Result<(&'static str, OutputSet), NameError> {
        let mut row = OutputSet::new();
        row.set("ifname", self.ifname())?;
        match self {
            Item::Address {
                address, len, peer, ..
            } => {
                row.set("address", address.to_string())?;
                row.set("len", len.to_string())?;
                if let Some(p) = peer {
                    row.set("peer", p.to_string())?;
                }
                Ok(("address", row))
            }
            Item::Route {
                target,
                len,
                gateway,
                metric,
                ..
            } => {
                row.set("target", target.to_string())?;
                row.set("len", len.to_string())?;
                if let Some(g) = gateway {
                    row.set("gateway", g.to_string())?;
                }
                row.set("metric", metric.to_string())?;
                Ok(("route", row))
            }
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Address {
                ifname,
                address,
                len,
                peer,
            } => {
                write!(f, "address {address}")?;
                if let Some(p) = peer {
                    write!(f, " peer {p}")?;
                }
                write!(f, "/{len} dev {ifname}")
            }
            Item::Route {
                ifname,
                target,
                len,
                gateway,
                metric,
            } => {
                write!(f, "route {target}/{len}")?;
                if let Some(g) = gateway {
                    write!(f, " via {g}")?;
                }
                write!(f, " dev {ifname} metric {metric}")
            }
        }
    }
}

/// Outputs that cannot be turned into addresses: nothing is applied.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// A value is not what the key calls for.
    #[error("acquire: service {service:?} key {key:?}: bad value {value:?}: expected {expected}")]
    Value {
        /// The service read.
        service: String,
        /// The key.
        key: String,
        /// What it held.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// A key needed by the others is absent.
    #[error("acquire: service {service:?} has no {key:?} (needed for {needed_by})")]
    Missing {
        /// The service read.
        service: String,
        /// The key.
        key: &'static str,
        /// What needs it.
        needed_by: &'static str,
    },
    /// The subnet number does not fit in the delegated prefix.
    #[error("acquire: subnet {subnet:#x} does not fit in {prefix}/{len} (at most {max:#x})")]
    Subnet {
        /// The subnet number asked for.
        subnet: u64,
        /// The delegated prefix.
        prefix: Ipv6Addr,
        /// Its length.
        len: u8,
        /// The largest subnet number it has.
        max: u64,
    },
}

struct Reader<'a> {
    service: &'a str,
    set: &'a OutputSet,
}

impl Reader<'_> {
    fn bad(&self, key: &str, value: &str, expected: &'static str) -> PlanError {
        PlanError::Value {
            service: self.service.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            expected,
        }
    }

    fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<T>, PlanError> {
        match self.set.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(key, v, expected)),
        }
    }

    fn len(&self, key: &str, max: u8) -> Result<Option<u8>, PlanError> {
        match self.parse::<u8>(key, "a prefix length")? {
            Some(l) if l > max => Err(self.bad(key, &l.to_string(), "a prefix length")),
            l => Ok(l),
        }
    }

    /// The rows of a table (`address/<id>/…`), sorted by id.
    fn rows(&self, table: &str) -> Vec<String> {
        self.set
            .table(table)
            .map(|t| t.entries().map(|(id, _)| format!("{table}/{id}")).collect())
            .unwrap_or_default()
    }
}

/// What [`plan_wan`] applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WanOptions {
    /// Apply to this interface instead of the outputs' `ifname`.
    pub ifname: Option<String>,
    /// Do not add default (or RA) routes, only addresses.
    pub no_routes: bool,
    /// Metric of the routes added.
    pub metric: u32,
}

/// The addresses and routes a WAN service's outputs call for.
///
/// - IPv4 (udhcpc, pppd): `ip` with `prefixlen` (or `mask`), or with
///   `peer` for a point-to-point link (then `/32 peer`, as pppd does).
/// - IPv6 (odhcp6c): each row of `address/<id>/{address,len}`.
/// - Routes, unless [`WanOptions::no_routes`]: a default route via
///   `router` (DHCP), or straight out of the interface when there is a
///   `peer` and no `router` (PPP); each row of `route/<id>/{target,len,
///   gateway}` (routes learned from router advertisements).
///
/// The interface is [`WanOptions::ifname`] or the `ifname` output. No
/// outputs at all (an empty set) plan nothing; a malformed value is an
/// error and nothing is planned.
pub fn plan_wan(service: &str, set: &OutputSet, opts: &WanOptions) -> Result<Vec<Item>, PlanError> {
    let r = Reader { service, set };
    let mut items = Vec::new();
    let ifname = || -> Result<String, PlanError> {
        match (&opts.ifname, set.get("ifname")) {
            (Some(i), _) => Ok(i.clone()),
            (None, Some(i)) => Ok(i.to_owned()),
            (None, None) => Err(PlanError::Missing {
                service: service.to_owned(),
                key: "ifname",
                needed_by: "addresses",
            }),
        }
    };
    if let Some(ip) = r.parse::<Ipv4Addr>("ip", "an IPv4 address")? {
        let peer = r.parse::<Ipv4Addr>("peer", "an IPv4 address")?;
        let len = match (
            r.len("prefixlen", 32)?,
            r.parse::<Ipv4Addr>("mask", "a netmask")?,
        ) {
            (Some(l), _) => l,
            (None, Some(m)) => {
                let bits = u32::from(m);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(r.bad("mask", &m.to_string(), "a contiguous netmask"));
                }
                u8::try_from(bits.leading_ones()).unwrap_or(32)
            }
            (None, None) if peer.is_some() => 32,
            (None, None) => {
                return Err(PlanError::Missing {
                    service: service.to_owned(),
                    key: "prefixlen",
                    needed_by: "the address",
                })
            }
        };
        let ifname = ifname()?;
        items.push(Item::address(
            &ifname,
            ip.into(),
            len,
            peer.map(IpAddr::from),
        ));
        if !opts.no_routes {
            let router = r.parse::<Ipv4Addr>("router", "an IPv4 address")?;
            if router.is_some() || peer.is_some() {
                items.push(Item::Route {
                    ifname,
                    target: Ipv4Addr::UNSPECIFIED.into(),
                    len: 0,
                    gateway: router.map(IpAddr::from),
                    metric: opts.metric,
                });
            }
        }
    }
    for row in r.rows("address") {
        let key = format!("{row}/address");
        let Some(a) = r.parse::<Ipv6Addr>(&key, "an IPv6 address")? else {
            continue;
        };
        let len = r.len(&format!("{row}/len"), 128)?.unwrap_or(128);
        items.push(Item::address(&ifname()?, a.into(), len, None));
    }
    if !opts.no_routes {
        for row in r.rows("route") {
            let Some(target) = r.parse::<Ipv6Addr>(&format!("{row}/target"), "an IPv6 address")?
            else {
                continue;
            };
            let len = r.len(&format!("{row}/len"), 128)?.unwrap_or(128);
            let gateway = r
                .parse::<Ipv6Addr>(&format!("{row}/gateway"), "an IPv6 address")?
                .filter(|g| !g.is_unspecified());
            items.push(Item::Route {
                ifname: ifname()?,
                target: target.into(),
                len,
                gateway: gateway.map(IpAddr::from),
                metric: opts.metric,
            });
        }
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// The LAN address for each delegated prefix: subnet `subnet` of the
/// prefix as a /64, host `::1`, on `lan_ifname`.
///
/// `prefix/<id>/{prefix,len}` rows (odhcp6c); 2001:db8:1200::/56 with
/// subnet 3 gives 2001:db8:1200:3::1/64. A prefix longer than /64 cannot
/// be split into /64s and is skipped with a warning; a subnet number that
/// does not fit in a prefix is an error.
pub fn plan_delegated_prefix(
    service: &str,
    set: &OutputSet,
    lan_ifname: &str,
    subnet: u64,
) -> Result<Vec<Item>, PlanError> {
    let r = Reader { service, set };
    let mut items = Vec::new();
    for row in r.rows("prefix") {
        let Some(prefix) = r.parse::<Ipv6Addr>(&format!("{row}/prefix"), "an IPv6 prefix")? else {
            continue;
        };
        let len = r
            .len(&format!("{row}/len"), 128)?
            .ok_or(PlanError::Missing {
                service: service.to_owned(),
                key: "prefix/<id>/len",
                needed_by: "the delegated prefix",
            })?;
        if len > 64 {
            log::warn!("acquire: {service}: {prefix}/{len} is longer than /64: skipped");
            continue;
        }
        let bits = u32::from(64 - len);
        let max = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        if subnet > max {
            return Err(PlanError::Subnet {
                subnet,
                prefix,
                len,
                max,
            });
        }
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        };
        let net = u128::from(prefix) & mask;
        let lan = net | (u128::from(subnet) << 64) | 1;
        items.push(Item::address(
            lan_ifname,
            Ipv6Addr::from(lan).into(),
            64,
            None,
        ));
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// What we added, each with whether the kernel showed our marker
/// ([`PROTO`]) on it right after the add.
pub type Record = BTreeMap<Item, bool>;

/// Reads a state record back; rows that do not parse (written by something
/// else) are skipped with a warning.
pub fn record_items(record: &OutputSet) -> Record {
    let mut items = Record::new();
    for (table, parse) in [
        (
            "address",
            parse_address_row as fn(&OutputSet) -> Option<Item>,
        ),
        ("route", parse_route_row),
    ] {
        for (id, entry) in record
            .table(table)
            .map(|t| t.entries())
            .into_iter()
            .flatten()
        {
            match entry {
                crate::Entry::Table(row) => match parse(row) {
                    Some(item) => {
                        items.insert(item, row.get("marked") == Some("1"));
                    }
                    None => log::warn!("acquire: unreadable record row {table}/{id}: ignored"),
                },
                crate::Entry::Value(_) => {}
            }
        }
    }
    items
}

fn parse_address_row(row: &OutputSet) -> Option<Item> {
    Some(Item::Address {
        ifname: row.get("ifname")?.to_owned(),
        address: row.get("address")?.parse().ok()?,
        len: row.get("len")?.parse().ok()?,
        peer: match row.get("peer") {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        },
    })
}

fn parse_route_row(row: &OutputSet) -> Option<Item> {
    Some(Item::Route {
        ifname: row.get("ifname")?.to_owned(),
        target: row.get("target")?.parse().ok()?,
        len: row.get("len")?.parse().ok()?,
        gateway: match row.get("gateway") {
            Some(g) => Some(g.parse().ok()?),
            None => None,
        },
        metric: row.get("metric")?.parse().ok()?,
    })
}

/// The state record for `items`, applied on behalf of `source`: rows as in
/// [`Item`], plus `marked` = `1` where the kernel showed our marker.
pub fn record_set(source: &str, items: &Record) -> Result<OutputSet, NameError> {
    let mut set = OutputSet::new();
    set.set("source", source)?;
    for (item, marked) in items {
        let (table, mut row) = item.to_row()?;
        if *marked {
            row.set("marked", "1")?;
        }
        set.set_table_at(table, &item.id(), row)?;
    }
    Ok(set)
}

/// Errors of [`Acquirer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// The outputs do not make a plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Reading the outputs or writing the record failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record could not be built.
    #[error(transparent)]
    Name(#[from] NameError),
    /// rtnetlink failed as a whole (socket); per-item failures are in
    /// [`Report::failed`].
    #[error(transparent)]
    Rtnl(#[from] RtnlError),
}

/// What one [`Acquirer::sync`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Items we added.
    pub added: Vec<Item>,
    /// Items of ours we removed (or found already gone).
    pub removed: Vec<Item>,
    /// Items planned but already present and not ours: left alone.
    pub foreign: Vec<Item>,
    /// Items we had added that now carry another marker (somebody removed
    /// and re-added them): forgotten, left alone.
    pub disowned: Vec<Item>,
    /// Items that could not be applied or removed, with the reason; they
    /// are retried at the next sync.
    pub failed: Vec<(Item, String)>,
    /// Items of ours that are in the kernel after the sync.
    pub ours: Vec<Item>,
}

impl Report {
    /// Whether the plan is fully in place (nothing failed).
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Makes the kernel match a plan, removing only what it added.
#[derive(Debug)]
pub struct Acquirer {
    store: Store,
    state: String,
    rtnl: Rtnl,
}

impl Acquirer {
    /// An acquirer recording what it applies as the outputs of service
    /// `state` in `store`.
    pub fn new(store: Store, state: &str) -> Result<Self, AcquireError> {
        crate::check_service(state)?;
        Ok(Self {
            store,
            state: state.to_owned(),
            rtnl: Rtnl::new()?,
        })
    }

    /// What is recorded as ours.
    pub fn recorded(&self) -> Result<Record, StoreError> {
        match self.store.read(&self.state) {
            Ok(set) => Ok(record_items(&set)),
            Err(StoreError::NoOutputs { .. }) => Ok(Record::new()),
            Err(e) => Err(e),
        }
    }

    /// Brings the kernel to `plan`: removes recorded items not in the
    /// plan, adds planned items that are missing, records what is ours,
    /// and logs one line per change. Per-item failures do not stop the
    /// others; they are in the report and retried on the next call.
    pub fn sync(&mut self, source: &str, plan: &[Item]) -> Result<Report, AcquireError> {
        let recorded = self.recorded()?;
        let mut report = Report::default();
        let mut ours = Record::new();
        for (item, marked) in recorded.iter().filter(|(i, _)| !plan.contains(i)) {
            match self.rtnl.remove(item, *marked) {
                Ok(Removal::Deleted | Removal::Gone) => {
                    log::info!("acquire: {source}: removed {item}");
                    report.removed.push(item.clone());
                }
                Ok(Removal::NotOurs) => {
                    log::info!("acquire: {source}: {item} is no longer ours: left alone");
                    report.disowned.push(item.clone());
                }
                Err(e) => {
                    log::warn!("acquire: {source}: cannot remove {item}: {e}");
                    report.failed.push((item.clone(), e.to_string()));
                    // Still ours: keep it in the record to retry.
                    ours.insert(item.clone(), *marked);
                }
            }
        }
        for item in plan {
            let was_ours = recorded.get(item).copied();
            match self.rtnl.add(item) {
                Ok(Some(marked)) => {
                    log::info!("acquire: {source}: added {item}");
                    report.added.push(item.clone());
                    ours.insert(item.clone(), marked);
                }
                Ok(None) => match was_ours {
                    Some(marked) => {
                        ours.insert(item.clone(), marked);
                    }
                    None => {
                        log::info!(
                            "acquire: {source}: {item} already present and not ours: left alone"
                        );
                        report.foreign.push(item.clone());
                    }
                },
                Err(e) => {
                    log::warn!("acquire: {source}: cannot add {item}: {e}");
                    report.failed.push((item.clone(), e.to_string()));
                    // Ours if it was (its interface may have gone for a
                    // moment, e.g. ppp0 before ip-down ran): keep it in the
                    // record, so that it is removed when the outputs drop
                    // it, and re-added as ours when the interface is back.
                    if let Some(marked) = was_ours {
                        ours.insert(item.clone(), marked);
                    }
                }
            }
        }
        if ours.is_empty() {
            if !recorded.is_empty() {
                self.store.remove(&self.state)?;
            }
        } else if ours != recorded {
            self.store
                .publish(&self.state, &record_set(source, &ours)?)?;
        }
        report.ours = ours.into_keys().collect();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> OutputSet {
        let mut s = OutputSet::new();
        for (k, v) in pairs {
            s.set(k, *v).expect("valid");
        }
        s
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn dhcp_lease_plans_address_and_default_route() {
        let lease = set(&[
            ("ifname", "eth1"),
            ("ip", "192.0.2.50"),
            ("mask", "255.255.255.0"),
            ("router", "192.0.2.1"),
        ]);
        let items = plan_wan("wan", &lease, &WanOptions::default()).expect("plan");
        assert_eq!(
            items,
            vec![
                Item::address("eth1", ip("192.0.2.50"), 24, None),
                Item::Route {
                    ifname: "eth1".into(),
                    target: ip("0.0.0.0"),
                    len: 0,
                    gateway: Some(ip("192.0.2.1")),
                    metric: 0
                }
            ]
        );
        let only = WanOptions {
            ifname: Some("eth9".into()),
            no_routes: true,
            metric: 5,
        };
        assert_eq!(
            plan_wan("wan", &lease, &only).expect("plan"),
            vec![Item::address("eth9", ip("192.0.2.50"), 24, None)]
        );
    }

    #[test]
    fn ppp_session_plans_peer_address_and_interface_route() {
        let session = set(&[
            ("ifname", "ppp0"),
            ("ip", "10.64.64.2"),
            ("peer", "10.64.64.1"),
        ]);
        let items = plan_wan("wan", &session, &WanOptions::default()).expect("plan");
        assert_eq!(
            items.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "address 10.64.64.2 peer 10.64.64.1/32 dev ppp0",
                "route 0.0.0.0/0 dev ppp0 metric 0"
            ]
        );
    }

    #[test]
    fn dhcpv6_rows_plan_addresses_and_routes() {
        let s = set(&[
            ("ifname", "eth1"),
            ("address/b/address", "2001:db8::b"),
            ("address/b/len", "128"),
            ("address/a/address", "2001:db8::a"),
            ("address/a/len", "64"),
            ("route/r/target", "::"),
            ("route/r/len", "0"),
            ("route/r/gateway", "fe80::1"),
        ]);
        let items = plan_wan("wan6", &s, &WanOptions::default()).expect("plan");
        assert_eq!(
            items.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "address 2001:db8::a/64 dev eth1",
                "address 2001:db8::b/128 dev eth1",
                "route ::/0 via fe80::1 dev eth1 metric 0"
            ]
        );
        assert!(plan_wan("wan6", &OutputSet::new(), &WanOptions::default())
            .expect("empty")
            .is_empty());
    }

    #[test]
    fn bad_outputs_are_errors_naming_the_key() {
        for (pairs, needle) in [
            (
                &[("ifname", "e"), ("ip", "300.1.1.1"), ("prefixlen", "24")][..],
                "\"ip\"",
            ),
            (
                &[("ifname", "e"), ("ip", "192.0.2.1"), ("prefixlen", "33")][..],
                "\"prefixlen\"",
            ),
            (
                &[
                    ("ifname", "e"),
                    ("ip", "192.0.2.1"),
                    ("mask", "255.0.255.0"),
                ][..],
                "\"mask\"",
            ),
            (&[("ifname", "e"), ("ip", "192.0.2.1")][..], "\"prefixlen\""),
            (
                &[("ip", "192.0.2.1"), ("prefixlen", "24")][..],
                "\"ifname\"",
            ),
            (
                &[("ifname", "e"), ("address/x/address", "nope")][..],
                "\"address/x/address\"",
            ),
        ] {
            let err =
                plan_wan("wan", &set(pairs), &WanOptions::default()).expect_err("bad outputs");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
            assert!(err.to_string().contains("\"wan\""), "{err}");
        }
    }

    #[test]
    fn delegated_prefix_gives_lan_subnet() {
        let s = set(&[
            ("prefix/p/prefix", "2001:db8:1200::"),
            ("prefix/p/len", "56"),
            ("prefix/q/prefix", "2001:db8:ff00:ab00::"),
            ("prefix/q/len", "60"),
            ("prefix/z/prefix", "2001:db8:9::"),
            ("prefix/z/len", "80"),
        ]);
        let items = plan_delegated_prefix("wan6", &s, "br-lan", 5).expect("plan");
        assert_eq!(
            items,
            vec![
                Item::address("br-lan", ip("2001:db8:1200:5::1"), 64, None),
                Item::address("br-lan", ip("2001:db8:ff00:ab05::1"), 64, None),
            ]
        );
        // Host bits in the published prefix are masked off.
        let s = set(&[
            ("prefix/p/prefix", "2001:db8:1200:ff::"),
            ("prefix/p/len", "56"),
        ]);
        assert_eq!(
            plan_delegated_prefix("wan6", &s, "lan", 1).expect("plan"),
            vec![Item::address("lan", ip("2001:db8:1200:1::1"), 64, None)]
        );
        let s = set(&[
            ("prefix/p/prefix", "2001:db8:1200::"),
            ("prefix/p/len", "60"),
        ]);
        let err = plan_delegated_prefix("wan6", &s, "lan", 16).expect_err("too big");
        assert_eq!(
            err.to_string(),
            "acquire: subnet 0x10 does not fit in 2001:db8:1200::/60 (at most 0xf)"
        );
        let s = set(&[
            ("prefix/p/prefix", "2001:db8:1200::"),
            ("prefix/p/len", "64"),
        ]);
        assert_eq!(
            plan_delegated_prefix("wan6", &s, "lan", 0).expect("plan"),
            vec![Item::address("lan", ip("2001:db8:1200::1"), 64, None)]
        );
    }

    #[test]
    fn record_round_trips() {
        let items = [
            Item::address("ppp0", ip("10.0.0.2"), 32, Some(ip("10.0.0.1"))),
            Item::address("br-lan", ip("2001:db8:1::1"), 64, None),
            Item::Route {
                ifname: "ppp0".into(),
                target: ip("0.0.0.0"),
                len: 0,
                gateway: None,
                metric: 7,
            },
        ];
        let record: Record = items
            .iter()
            .enumerate()
            .map(|(n, i)| (i.clone(), n != 1))
            .collect();
        let set = record_set("wan", &record).expect("record");
        assert_eq!(set.get("source"), Some("wan"));
        assert_eq!(
            set.get(&format!("address/{}/marked", items[0].id())),
            Some("1")
        );
        assert_eq!(set.get(&format!("address/{}/marked", items[1].id())), None);
        assert_eq!(record_items(&set), record);
        // Ids follow the content: the same address again, the same id.
        let again = Item::address("ppp0", ip("10.0.0.2"), 32, Some(ip("10.0.0.1")));
        assert_eq!(items[0].id(), again.id());
        assert_ne!(items[0].id(), items[1].id());
    }
}
