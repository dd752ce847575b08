//! The services a router file becomes, and how they depend on each other.
//!
//! This is the model the renderer walks and `router graph` draws: one
//! [`Service`] per s6-rc service (loggers left out: every longrun gets one,
//! so they add nothing to the picture), with the outputs it publishes and
//! the outputs of others it reads. Dependencies order start-up; outputs
//! carry what changes later (a new lease, a new prefix), so nothing waits
//! by sleeping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::config::{Protocol, Router};
use crate::error::{Diagnostic, Positions};

/// How s6-rc runs a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A supervised process (`run`).
    Longrun,
    /// A state change (`up`/`down`).
    Oneshot,
    /// A set of services.
    Bundle,
}

impl Kind {
    /// The word s6-rc's `type` file holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Longrun => "longrun",
            Kind::Oneshot => "oneshot",
            Kind::Bundle => "bundle",
        }
    }
}

/// Where a service came from in the router file; the renderer picks the
/// scripts by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `[link.NAME]`.
    Link(String),
    /// `[bridge.NAME]`.
    Bridge(String),
    /// `[vlan.NAME]`.
    Vlan(String),
    /// `[address.NAME]`.
    Address(String),
    /// `[route.NAME]`.
    Route(String),
    /// `[wan.NAME]`: the client.
    Wan(String),
    /// `[wan.NAME]`: `acquire-wan-address` of the client's outputs.
    WanAddress(String),
    /// `[wan.NAME]` l2tp: the host route to the server via the `over` wan.
    WanServerRoute(String),
    /// `[wan.NAME.ipv6]`: odhcp6c.
    WanV6(String),
    /// `[wan.NAME.ipv6]`: `acquire-wan-address -R` of odhcp6c's outputs.
    WanV6Address(String),
    /// `[lan.*]`: the one dnsmasq.
    Dnsmasq,
    /// `[lan.*] dns_from`: dnsmasq's resolv file from a wan's `dns`.
    DnsmasqUpstream,
    /// `[lan.NAME] ipv6`: `acquire-delegated-prefix`.
    LanPrefix(String),
    /// `[wifi.NAME]`: hostapd.
    Hostapd(String),
    /// `[firewall]`: the ruleset.
    Firewall,
    /// `[firewall]`: the wan interface sets.
    FirewallSets,
    /// `[ntp]`.
    Ntp,
    /// `[secrets]`.
    Secrets,
    /// `[watchdog]`.
    Watchdog,
    /// `[mount.NAME]`.
    Mount(String),
    /// The bundle `router`.
    Bundle,
}

/// An output another service reads: `SERVICE/KEY`, or the whole set when
/// `key` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutputRef {
    /// The publishing service name (in the outputs store).
    pub service: String,
    /// The key, or the whole set.
    pub key: Option<String>,
}

impl OutputRef {
    fn key(service: &str, key: &str) -> Self {
        OutputRef {
            service: service.to_string(),
            key: Some(key.to_string()),
        }
    }
    fn all(service: &str) -> Self {
        OutputRef {
            service: service.to_string(),
            key: None,
        }
    }
}

impl std::fmt::Display for OutputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{}/{k}", self.service),
            None => write!(f, "{}", self.service),
        }
    }
}

/// One s6-rc service.
#[derive(Debug, Clone)]
pub struct Service {
    /// The s6-rc name.
    pub name: String,
    /// longrun, oneshot or bundle.
    pub kind: Kind,
    /// Services that must be up (and ready) first.
    pub dependencies: Vec<String>,
    /// A longrun that writes a newline on fd 3 once it is ready
    /// (`notification-fd`); without it s6 counts it ready once started.
    pub readiness: bool,
    /// The name it publishes outputs under (its own name, or a state
    /// service of `acquire-*`), if any.
    pub publishes_as: Option<String>,
    /// The output keys it publishes (`prefix/<id>/…` for tables).
    pub publishes: Vec<String>,
    /// The outputs of others it reads.
    pub reads: Vec<OutputRef>,
    /// A bundle's contents.
    pub contents: Vec<String>,
    /// Services whose readiness it checks (the watchdog).
    pub watches: Vec<String>,
    /// Where it came from.
    pub origin: Origin,
    /// The router file span it came from (for error messages).
    pub span: Range<usize>,
}

impl Service {
    fn new(name: impl Into<String>, kind: Kind, origin: Origin, span: Range<usize>) -> Self {
        Service {
            name: name.into(),
            kind,
            dependencies: Vec::new(),
            readiness: false,
            publishes_as: None,
            publishes: Vec::new(),
            reads: Vec::new(),
            contents: Vec::new(),
            watches: Vec::new(),
            origin,
            span,
        }
    }
    fn deps(mut self, d: impl IntoIterator<Item = String>) -> Self {
        self.dependencies.extend(d);
        self
    }
    fn ready(mut self) -> Self {
        self.readiness = true;
        self
    }
    fn publishes(mut self, as_: &str, keys: &[&str]) -> Self {
        self.publishes_as = Some(as_.to_string());
        self.publishes = keys.iter().map(|k| k.to_string()).collect();
        self
    }
    fn reads(mut self, r: impl IntoIterator<Item = OutputRef>) -> Self {
        self.reads.extend(r);
        self
    }
}

/// The keys `udhcpc-script` publishes.
pub const DHCP_KEYS: &[&str] = &[
    "ifname",
    "ip",
    "mask",
    "prefixlen",
    "router",
    "routers",
    "dns",
    "lease",
    "serverid",
    "broadcast",
    "domain",
    "hostname",
    "ntp",
];
/// The keys `ppp-ip-up` and `ppp-ipv6-up` publish.
pub const PPP_KEYS: &[&str] = &[
    "ifname",
    "ip",
    "peer",
    "dns",
    "dns1",
    "dns2",
    "peername",
    "ip6-local",
    "ip6-peer",
];
/// The keys `odhcp6c-script` publishes.
pub const DHCPV6_KEYS: &[&str] = &[
    "address/<id>/{address,len,preferred,valid}",
    "prefix/<id>/{prefix,len,preferred,valid}",
    "route/<id>/{target,len,gateway,valid,metric}",
    "dns",
    "domains",
    "ra-mtu",
    "server",
];

/// The whole service graph of a router, in name order.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Every service, the bundle `router` included.
    pub services: BTreeMap<String, Service>,
    /// Names made twice, with the span of the second.
    clashes: Vec<(String, Range<usize>)>,
}

/// The name of the bundle holding everything.
pub const BUNDLE: &str = "router";

impl Graph {
    /// Builds the services of a router whose references hold (see
    /// [`crate::parse`], which checks them first).
    pub fn build(r: &Router) -> Graph {
        let mut v: Vec<Service> = Vec::new();
        for (n, l) in &r.link {
            let n = n.get_ref();
            let deps = r.bridge_of(n).map(|b| format!("bridge-{b}"));
            v.push(
                Service::new(
                    format!("link-{n}"),
                    Kind::Longrun,
                    Origin::Link(n.clone()),
                    l.span(),
                )
                .deps(deps)
                .ready()
                .publishes(&format!("link-{n}"), &["ifname", "mtu", "mac"]),
            );
        }
        for (n, b) in &r.bridge {
            let n = n.get_ref();
            v.push(
                Service::new(
                    format!("bridge-{n}"),
                    Kind::Longrun,
                    Origin::Bridge(n.clone()),
                    b.span(),
                )
                .ready()
                .publishes(&format!("bridge-{n}"), &["ifname"]),
            );
        }
        for (n, vl) in &r.vlan {
            let n = n.get_ref();
            let mut deps: Vec<String> = r
                .iface_service(vl.get_ref().parent.get_ref())
                .into_iter()
                .collect();
            deps.extend(r.bridge_of(n).map(|b| format!("bridge-{b}")));
            v.push(
                Service::new(
                    format!("vlan-{n}"),
                    Kind::Longrun,
                    Origin::Vlan(n.clone()),
                    vl.span(),
                )
                .deps(deps)
                .ready()
                .publishes(&format!("vlan-{n}"), &["ifname", "id"]),
            );
        }
        for (n, a) in &r.address {
            let n = n.get_ref();
            v.push(
                Service::new(
                    format!("address-{n}"),
                    Kind::Oneshot,
                    Origin::Address(n.clone()),
                    a.span(),
                )
                .deps(r.iface_service(a.get_ref().interface.get_ref())),
            );
        }
        for (n, rt) in &r.route {
            let n = n.get_ref();
            let rt_ = rt.get_ref();
            let s = match (&rt_.via, &rt_.gateway) {
                (Some(w), _) => {
                    let w = w.get_ref();
                    Service::new(
                        format!("route-{n}"),
                        Kind::Longrun,
                        Origin::Route(n.clone()),
                        rt.span(),
                    )
                    .deps([format!("{w}-address")])
                    .reads([
                        OutputRef::key(w, "ifname"),
                        OutputRef::key(w, "router"),
                        OutputRef::all(&format!("acquired-{w}")),
                    ])
                }
                (None, gw) => {
                    let dep = gw.as_ref().and_then(|g| {
                        let ip: std::net::IpAddr = g.get_ref().parse().ok()?;
                        r.address.iter().find_map(|(k, a)| {
                            crate::validate::Cidr::parse(a.get_ref().address.get_ref())
                                .filter(|c| c.contains(ip))
                                .map(|_| format!("address-{}", k.get_ref()))
                        })
                    });
                    Service::new(
                        format!("route-{n}"),
                        Kind::Oneshot,
                        Origin::Route(n.clone()),
                        rt.span(),
                    )
                    .deps(dep)
                }
            };
            v.push(s);
        }
        for (n, w) in &r.wan {
            let n = n.get_ref();
            let w_ = w.get_ref();
            let link = r.iface_service(w_.interface.get_ref());
            let client =
                Service::new(n.clone(), Kind::Longrun, Origin::Wan(n.clone()), w.span()).ready();
            let client = match w_.protocol.get_ref() {
                Protocol::Dhcp => client.deps(link.clone()).publishes(n, DHCP_KEYS),
                Protocol::Pppoe => client.deps(link.clone()).publishes(n, PPP_KEYS),
                Protocol::Static => client
                    .deps(link.clone())
                    .publishes(n, &["ifname", "ip", "prefixlen", "router", "dns"]),
                // The tunnel needs the over wan's address, and its route
                // to the server that stays when the default route moves.
                Protocol::L2tp => client
                    .deps(w_.over.iter().flat_map(|o| {
                        [
                            format!("{}-address", o.get_ref()),
                            format!("{n}-server-route"),
                        ]
                    }))
                    .publishes(n, PPP_KEYS),
            };
            v.push(client);
            if let (Protocol::L2tp, Some(o)) = (w_.protocol.get_ref(), &w_.over) {
                let o = o.get_ref();
                v.push(
                    Service::new(
                        format!("{n}-server-route"),
                        Kind::Longrun,
                        Origin::WanServerRoute(n.clone()),
                        w.span(),
                    )
                    .deps([format!("{o}-address")])
                    .reads([
                        OutputRef::key(o, "ifname"),
                        OutputRef::key(o, "router"),
                        OutputRef::all(&format!("acquired-{o}")),
                    ]),
                );
            }
            v.push(
                Service::new(
                    format!("{n}-address"),
                    Kind::Longrun,
                    Origin::WanAddress(n.clone()),
                    w.span(),
                )
                .deps([n.clone()])
                .ready()
                .publishes(
                    &format!("acquired-{n}"),
                    &["source", "address/…", "route/…"],
                )
                .reads([OutputRef::all(n)]),
            );
            if w_.ipv6.is_some() {
                let v6 = format!("{n}-v6");
                // DHCPv6 runs on the device; over PPP on the session's.
                let dep = match w_.protocol.get_ref() {
                    Protocol::Pppoe | Protocol::L2tp => Some(n.clone()),
                    _ => link.clone(),
                };
                v.push(
                    Service::new(
                        v6.clone(),
                        Kind::Longrun,
                        Origin::WanV6(n.clone()),
                        w.span(),
                    )
                    .deps(dep)
                    .ready()
                    .publishes(&v6, DHCPV6_KEYS),
                );
                v.push(
                    Service::new(
                        format!("{v6}-address"),
                        Kind::Longrun,
                        Origin::WanV6Address(n.clone()),
                        w.span(),
                    )
                    .deps([v6.clone()])
                    .ready()
                    .publishes(&format!("acquired-{v6}"), &["source", "address/…"])
                    .reads([OutputRef::all(&v6)]),
                );
            }
        }
        if !r.lan.is_empty() {
            let span = r.lan.values().next().map_or(0..0, |l| l.span());
            let mut deps = Vec::new();
            let mut upstream = None;
            for l in r.lan.values() {
                let l = l.get_ref();
                let iface = l.interface.get_ref();
                deps.extend(r.iface_service(iface));
                deps.extend(r.ipv4_address(iface).map(|(a, _)| format!("address-{a}")));
                if let Some(d) = &l.dns_from {
                    upstream = Some(d.get_ref().clone());
                }
            }
            if let Some(w) = &upstream {
                deps.push("dnsmasq-upstream".into());
                v.push(
                    Service::new(
                        "dnsmasq-upstream",
                        Kind::Longrun,
                        Origin::DnsmasqUpstream,
                        span.clone(),
                    )
                    .ready()
                    .reads([OutputRef::key(w, "dns")]),
                );
            }
            v.push(
                Service::new("dnsmasq", Kind::Longrun, Origin::Dnsmasq, span)
                    .deps(deps)
                    .publishes("dnsmasq", &["interfaces"]),
            );
            for (n, l) in &r.lan {
                let n = n.get_ref();
                let l_ = l.get_ref();
                if let Some(v6) = &l_.ipv6 {
                    let from = format!("{}-v6", v6.get_ref().prefix_from.get_ref());
                    let dev = r.device(l_.interface.get_ref()).unwrap_or_default();
                    v.push(
                        Service::new(
                            format!("lan-{n}-prefix"),
                            Kind::Longrun,
                            Origin::LanPrefix(n.clone()),
                            l.span(),
                        )
                        .deps(
                            [from.clone()]
                                .into_iter()
                                .chain(r.iface_service(l_.interface.get_ref())),
                        )
                        .ready()
                        .publishes(&format!("delegated-{from}-{dev}"), &["source", "address/…"])
                        .reads([OutputRef::all(&from)]),
                    );
                }
            }
        }
        for (n, w) in &r.wifi {
            let n = n.get_ref();
            let w_ = w.get_ref();
            let secret = w_.psk.get_ref().secret.get_ref();
            v.push(
                Service::new(
                    format!("hostapd-{n}"),
                    Kind::Longrun,
                    Origin::Hostapd(n.clone()),
                    w.span(),
                )
                .deps(
                    ["secrets".to_string()].into_iter().chain(
                        w_.bridge
                            .as_ref()
                            .map(|b| format!("bridge-{}", b.get_ref())),
                    ),
                )
                .reads([OutputRef::key("secrets", secret)]),
            );
        }
        if let Some(f) = &r.firewall {
            v.push(Service::new(
                "firewall",
                Kind::Oneshot,
                Origin::Firewall,
                f.span(),
            ));
            // Without wans there is no set to fill.
            if !f.get_ref().wan.is_empty() {
                v.push(
                    Service::new(
                        "firewall-sets",
                        Kind::Longrun,
                        Origin::FirewallSets,
                        f.span(),
                    )
                    .deps(["firewall".to_string()])
                    .ready()
                    .reads(
                        f.get_ref()
                            .wan
                            .iter()
                            .map(|w| OutputRef::key(w.get_ref(), "ifname")),
                    ),
                );
            }
        }
        if let Some(n) = &r.ntp {
            let from = n.get_ref().from_dhcp.as_ref().map(|w| w.get_ref().clone());
            v.push(
                Service::new("ntp", Kind::Longrun, Origin::Ntp, n.span())
                    .reads(from.iter().map(|w| OutputRef::key(w, "ntp"))),
            );
        }
        if let Some(s) = &r.secrets {
            let mut keys: Vec<String> = r
                .wifi
                .values()
                .map(|w| w.get_ref().psk.get_ref().secret.get_ref().clone())
                .chain(r.wan.values().filter_map(|w| {
                    w.get_ref()
                        .password
                        .as_ref()
                        .map(|p| p.get_ref().secret.get_ref().clone())
                }))
                .collect();
            keys.sort();
            keys.dedup();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            v.push(
                Service::new("secrets", Kind::Longrun, Origin::Secrets, s.span())
                    .ready()
                    .publishes("secrets", &keys),
            );
        }
        if let Some(w) = &r.watchdog {
            let mut wd = Service::new("watchdog", Kind::Longrun, Origin::Watchdog, w.span());
            wd.watches = w
                .get_ref()
                .services
                .iter()
                .map(|s| s.get_ref().clone())
                .collect();
            v.push(wd);
        }
        for (n, m) in &r.mount {
            let n = n.get_ref();
            v.push(
                Service::new(
                    format!("mount-{n}"),
                    Kind::Longrun,
                    Origin::Mount(n.clone()),
                    m.span(),
                )
                .publishes(&format!("mount-{n}"), &["device", "at"]),
            );
        }
        // The pppoe password is read by the wan client.
        for (n, w) in &r.wan {
            if let Some(p) = &w.get_ref().password {
                if let Some(s) = v.iter_mut().find(|s| &s.name == n.get_ref()) {
                    s.dependencies.push("secrets".into());
                    s.reads
                        .push(OutputRef::key("secrets", p.get_ref().secret.get_ref()));
                }
            }
        }

        let mut bundle = Service::new(BUNDLE, Kind::Bundle, Origin::Bundle, 0..0);
        for s in &v {
            match s.kind {
                Kind::Longrun => bundle.contents.push(pipeline_name(&s.name)),
                Kind::Oneshot => bundle.contents.push(s.name.clone()),
                Kind::Bundle => {}
            }
        }
        bundle.contents.sort();
        let mut services: BTreeMap<String, Service> = BTreeMap::new();
        let mut clashes = Vec::new();
        for mut s in v.into_iter().chain([bundle]) {
            s.dependencies.sort();
            s.dependencies.dedup();
            if let Some(first) = services.get(&s.name) {
                // Point at the table whose name the user chose: a wan's.
                let (other, at) = match (&first.origin, &s.origin) {
                    (Origin::Wan(_), _) => (&s.origin, first.span.clone()),
                    _ => (&first.origin, s.span.clone()),
                };
                clashes.push((
                    format!(
                        "service name {:?} is also made by {}; rename one of them",
                        s.name,
                        origin_table(other)
                    ),
                    at,
                ));
            } else {
                services.insert(s.name.clone(), s);
            }
        }
        Graph { services, clashes }
    }

    /// Services defined twice (a wan named like another service, or
    /// like a logger or pipeline), and `[watchdog] services` naming no
    /// longrun.
    pub(crate) fn check_names(&self, r: &Router, pos: &Positions<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut reserved: BTreeMap<String, &str> = BTreeMap::new();
        for s in self.services.values().filter(|s| s.kind == Kind::Longrun) {
            reserved.insert(log_name(&s.name), &s.name);
            reserved.insert(pipeline_name(&s.name), &s.name);
        }
        let mut clashes: Vec<(String, Range<usize>)> = self.clashes.clone();
        for s in self.services.values() {
            if let Some(owner) = reserved.get(&s.name) {
                clashes.push((format!("service name {:?} is also the logger or pipeline of {owner}; rename one of them", s.name), s.span.clone()));
            }
        }
        for (message, span) in clashes {
            out.push(pos.at(span, message));
        }
        if let Some(wd) = &r.watchdog {
            for s in &wd.get_ref().services {
                match self.services.get(s.get_ref()) {
                    Some(svc) if svc.kind == Kind::Longrun => {}
                    Some(_) => out.push(pos.at(
                        s.span(),
                        format!("[watchdog] services: {:?} is not a longrun", s.get_ref()),
                    )),
                    None => out.push(pos.at(
                        s.span(),
                        format!("[watchdog] services: no service named {:?}", s.get_ref()),
                    )),
                }
            }
        }
        out
    }

    /// Dependency cycles, each as `a -> b -> a`: among the services, and
    /// among devices (a vlan on a bridge it is a member of).
    pub fn cycles(&self, r: &Router) -> Vec<(Vec<String>, Range<usize>)> {
        let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in self.services.values() {
            if s.kind != Kind::Bundle {
                edges
                    .entry(s.name.clone())
                    .or_default()
                    .extend(s.dependencies.iter().cloned());
            }
        }
        let mut found = find_cycles(&edges);
        // Layering: a bridge sits on its members, a vlan on its parent.
        let mut layers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, b) in &r.bridge {
            layers
                .entry(format!("bridge-{}", n.get_ref()))
                .or_default()
                .extend(
                    b.get_ref()
                        .members
                        .iter()
                        .filter_map(|m| r.iface_service(m.get_ref())),
                );
        }
        for (n, v) in &r.vlan {
            layers
                .entry(format!("vlan-{}", n.get_ref()))
                .or_default()
                .extend(r.iface_service(v.get_ref().parent.get_ref()));
        }
        found.extend(find_cycles(&layers));
        found.sort();
        found.dedup();
        found
            .into_iter()
            .map(|c| {
                let span = c
                    .first()
                    .and_then(|n| self.services.get(n))
                    .map_or(0..0, |s| s.span.clone());
                (c, span)
            })
            .collect()
    }

    /// The graph in graphviz's dot language: solid edges are
    /// dependencies, dashed ones outputs read (labelled with the key),
    /// dotted red ones the watchdog's readiness checks.
    pub fn dot(&self) -> String {
        let mut s = String::from(
            "digraph router {\n  rankdir=RL;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        let publisher: BTreeMap<&str, &str> = self
            .services
            .values()
            .filter_map(|s| Some((s.publishes_as.as_deref()?, s.name.as_str())))
            .collect();
        for svc in self.services.values().filter(|s| s.kind != Kind::Bundle) {
            let shape = match svc.kind {
                Kind::Longrun => "box, style=rounded",
                _ => "box",
            };
            let mut label = format!("{}\\n{}", svc.name, svc.kind.as_str());
            if let Some(p) = &svc.publishes_as {
                if p != &svc.name {
                    let _ = write!(label, " → {p}");
                }
            }
            let _ = writeln!(s, "  \"{}\" [shape={shape}, label=\"{label}\"];", svc.name);
        }
        for svc in self.services.values().filter(|s| s.kind != Kind::Bundle) {
            for d in &svc.dependencies {
                let _ = writeln!(s, "  \"{}\" -> \"{d}\";", svc.name);
            }
            for w in &svc.watches {
                let _ = writeln!(
                    s,
                    "  \"{}\" -> \"{w}\" [style=dotted, color=red3, label=\"ready\"];",
                    svc.name
                );
            }
            for r in &svc.reads {
                if let Some(p) = publisher.get(r.service.as_str()) {
                    let label = r.key.as_deref().unwrap_or("*");
                    let _ = writeln!(
                        s,
                        "  \"{}\" -> \"{p}\" [style=dashed, color=gray40, label=\"{label}\"];",
                        svc.name
                    );
                }
            }
        }
        s.push_str("}\n");
        s
    }

    /// Who publishes what and who reads it, one block per publisher.
    pub fn outputs_txt(&self) -> String {
        let mut s = String::from("# Outputs of the rendered services (in $LIMINA_OUTPUTS_DIR): publisher, keys, readers.\n");
        for svc in self.services.values() {
            let Some(as_) = &svc.publishes_as else {
                continue;
            };
            let _ = writeln!(s, "\n{as_} (published by {})", svc.name);
            let _ = writeln!(s, "  keys: {}", svc.publishes.join(" "));
            let readers: Vec<String> =
                self.services
                    .values()
                    .flat_map(|o| {
                        o.reads.iter().filter(|r| &r.service == as_).map(move |r| {
                            format!("{} ({})", o.name, r.key.as_deref().unwrap_or("all"))
                        })
                    })
                    .collect();
            if !readers.is_empty() {
                let _ = writeln!(s, "  read by: {}", readers.join(", "));
            }
        }
        s
    }
}

/// The table a service comes from, for messages.
fn origin_table(o: &Origin) -> String {
    match o {
        Origin::Link(n) => format!("[link.{n}]"),
        Origin::Bridge(n) => format!("[bridge.{n}]"),
        Origin::Vlan(n) => format!("[vlan.{n}]"),
        Origin::Address(n) => format!("[address.{n}]"),
        Origin::Route(n) => format!("[route.{n}]"),
        Origin::Wan(n) | Origin::WanAddress(n) | Origin::WanServerRoute(n) => {
            format!("[wan.{n}]")
        }
        Origin::WanV6(n) | Origin::WanV6Address(n) => format!("[wan.{n}.ipv6]"),
        Origin::Dnsmasq | Origin::DnsmasqUpstream => "[lan.*]".into(),
        Origin::LanPrefix(n) => format!("[lan.{n}] ipv6"),
        Origin::Hostapd(n) => format!("[wifi.{n}]"),
        Origin::Firewall | Origin::FirewallSets => "[firewall]".into(),
        Origin::Ntp => "[ntp]".into(),
        Origin::Secrets => "[secrets]".into(),
        Origin::Watchdog => "[watchdog]".into(),
        Origin::Mount(n) => format!("[mount.{n}]"),
        Origin::Bundle => "the bundle".into(),
    }
}

/// The logger of longrun `name`.
pub fn log_name(name: &str) -> String {
    format!("{name}-log")
}

/// The pipeline of longrun `name` and its logger.
pub fn pipeline_name(name: &str) -> String {
    format!("{name}-pipeline")
}

/// Every elementary cycle reachable by depth-first search, each rotated to
/// start at its smallest name and closed (`a b a`).
fn find_cycles(edges: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: &str,
        edges: &BTreeMap<String, Vec<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        marks.insert(n.to_string(), Mark::Active);
        stack.push(n.to_string());
        for d in edges.get(n).into_iter().flatten() {
            match marks.get(d.as_str()).copied().unwrap_or(Mark::New) {
                Mark::New => visit(d, edges, marks, stack, out),
                Mark::Active => {
                    if let Some(i) = stack.iter().position(|x| x == d) {
                        let mut cyc: Vec<String> = stack[i..].to_vec();
                        if let Some(min) = cyc
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, x)| *x)
                            .map(|(i, _)| i)
                        {
                            cyc.rotate_left(min);
                        }
                        if let Some(first) = cyc.first().cloned() {
                            cyc.push(first);
                        }
                        out.push(cyc);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::new();
    for n in edges.keys() {
        if marks.get(n.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            visit(n, edges, &mut marks, &mut Vec::new(), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cycle_once_rotated() {
        let mut e = BTreeMap::new();
        e.insert("b".to_string(), vec!["a".to_string()]);
        e.insert("a".to_string(), vec!["c".to_string()]);
        e.insert("c".to_string(), vec!["b".to_string()]);
        e.insert("d".to_string(), vec!["a".to_string()]);
        assert_eq!(find_cycles(&e), vec![vec!["a", "c", "b", "a"]]);
    }

    #[test]
    fn no_cycle_in_a_tree() {
        let mut e = BTreeMap::new();
        e.insert("a".to_string(), vec!["b".to_string(), "c".to_string()]);
        e.insert("b".to_string(), vec!["c".to_string()]);
        assert!(find_cycles(&e).is_empty());
    }
}
