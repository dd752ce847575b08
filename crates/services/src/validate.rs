//! What the router file's values mean, checked all at once.
//!
//! serde stops at the first syntax or type error; the checks here go on
//! after a mistake, so one run lists every bad value and every reference
//! to something that is not there. The service graph's cycles are checked
//! afterwards in [`crate::graph`], on a file whose references all hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use serde_spanned::Spanned;

use crate::config::{Protocol, Router, Wan};
use crate::error::{Diagnostic, Positions};

/// An address with a prefix length, as written in `[address]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `ADDR/LEN`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: u8 = l.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Cidr { addr, len })
    }

    /// Whether `ip` lies in this address's subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// The IPv4 netmask (for dnsmasq's dhcp-range).
    pub fn netmask4(&self) -> Option<Ipv4Addr> {
        self.addr
            .is_ipv4()
            .then(|| Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0)))
    }
}

/// Whether `s` is a name of a table: `[a-z0-9][a-z0-9-]{0,30}`.
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 31
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Whether `s` can be a kernel interface name (IFNAMSIZ, no `/`, `:` or
/// blanks; letters, digits, `.`, `_`, `-`).
pub fn is_device(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn is_domain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_hostname)
}

fn is_secret_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

fn is_lease_time(s: &str) -> bool {
    if s == "infinite" {
        return true;
    }
    let digits = s.trim_end_matches(['s', 'm', 'h', 'd', 'w']);
    !digits.is_empty() && s.len() - digits.len() <= 1 && digits.bytes().all(|c| c.is_ascii_digit())
}

/// A text that goes into a config file or a shell word as it is: one line
/// of printable characters.
fn is_plain(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// What a name in the file refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    /// `[link.NAME]`.
    Link,
    /// `[bridge.NAME]`.
    Bridge,
    /// `[vlan.NAME]`.
    Vlan,
}

impl Iface {
    /// The service prefix (`link-`, `bridge-`, `vlan-`).
    pub fn service(self, name: &str) -> String {
        match self {
            Iface::Link => format!("link-{name}"),
            Iface::Bridge => format!("bridge-{name}"),
            Iface::Vlan => format!("vlan-{name}"),
        }
    }
}

impl Router {
    /// What the interface name `name` is, if any.
    pub fn iface(&self, name: &str) -> Option<Iface> {
        if self.link.keys().any(|k| k.get_ref() == name) {
            Some(Iface::Link)
        } else if self.bridge.keys().any(|k| k.get_ref() == name) {
            Some(Iface::Bridge)
        } else if self.vlan.keys().any(|k| k.get_ref() == name) {
            Some(Iface::Vlan)
        } else {
            None
        }
    }

    /// The kernel device name of a link, bridge or vlan (defaults applied).
    pub fn device(&self, name: &str) -> Option<String> {
        self.device_depth(name, 0)
    }

    fn device_depth(&self, name: &str, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        if let Some((_, l)) = self.link.iter().find(|(k, _)| k.get_ref() == name) {
            return Some(l.get_ref().device.get_ref().clone());
        }
        if let Some((_, b)) = self.bridge.iter().find(|(k, _)| k.get_ref() == name) {
            return Some(
                b.get_ref()
                    .device
                    .as_ref()
                    .map_or_else(|| format!("br-{name}"), |d| d.get_ref().clone()),
            );
        }
        let (_, v) = self.vlan.iter().find(|(k, _)| k.get_ref() == name)?;
        let v = v.get_ref();
        match &v.device {
            Some(d) => Some(d.get_ref().clone()),
            None => Some(format!(
                "{}.{}",
                self.device_depth(v.parent.get_ref(), depth + 1)?,
                v.id.get_ref()
            )),
        }
    }

    /// The service that brings up interface `name`.
    pub fn iface_service(&self, name: &str) -> Option<String> {
        self.iface(name).map(|k| k.service(name))
    }

    /// The static IPv4 `[address]` on interface `name`, with its table name.
    pub fn ipv4_address(&self, name: &str) -> Option<(&str, Cidr)> {
        self.address.iter().find_map(|(k, a)| {
            let a = a.get_ref();
            let c = Cidr::parse(a.address.get_ref())?;
            (a.interface.get_ref() == name && c.addr.is_ipv4()).then_some((k.get_ref().as_str(), c))
        })
    }

    /// The bridge a link or vlan is a member of.
    pub fn bridge_of(&self, member: &str) -> Option<&str> {
        self.bridge.iter().find_map(|(k, b)| {
            b.get_ref()
                .members
                .iter()
                .any(|m| m.get_ref() == member)
                .then_some(k.get_ref().as_str())
        })
    }

    /// The names of the `[wan]` tables.
    pub fn wan_names(&self) -> impl Iterator<Item = &str> {
        self.wan.keys().map(|k| k.get_ref().as_str())
    }
}

struct Checker<'a> {
    pos: &'a Positions<'a>,
    out: Vec<Diagnostic>,
}

/// How a missing `password` key is named in "needs" errors.
const PASSWORD_KEY: &str = "password = { secret = \"...\" }";

impl Checker<'_> {
    /// One error at `span` naming every missing key (`Some(key)`), if any:
    /// `WHAT needs a and b`.
    fn needs(&mut self, span: Range<usize>, what: &str, missing: &[Option<&str>]) {
        let missing: Vec<&str> = missing.iter().flatten().copied().collect();
        if !missing.is_empty() {
            self.err(span, format!("{what} needs {}", missing.join(" and ")));
        }
    }

    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.out.push(self.pos.at(span, message));
    }

    fn value(&mut self, v: &Spanned<String>, ok: bool, what: &str, table: &str, key: &str) {
        if !ok {
            self.err(
                v.span(),
                format!("{table} {key}: {:?} is not {what}", v.get_ref()),
            );
        }
    }
}

/// Checks what serde cannot: values, references, duplicates, subnets.
pub(crate) fn check(r: &Router, pos: &Positions<'_>) -> Vec<Diagnostic> {
    let mut c = Checker {
        pos,
        out: Vec::new(),
    };

    // Names of every table kind.
    let kinds = [
        ("link", r.link.keys().collect::<Vec<_>>()),
        ("bridge", r.bridge.keys().collect()),
        ("vlan", r.vlan.keys().collect()),
        ("address", r.address.keys().collect()),
        ("route", r.route.keys().collect()),
        ("wan", r.wan.keys().collect()),
        ("lan", r.lan.keys().collect()),
        ("wifi", r.wifi.keys().collect()),
        ("mount", r.mount.keys().collect()),
    ];
    for (kind, names) in &kinds {
        for n in names {
            if !is_name(n.get_ref()) {
                c.err(
                    n.span(),
                    format!(
                        "[{kind}.{}]: invalid name {:?}: lower-case letters, digits and '-', at most 31, not starting with '-'",
                        n.get_ref(),
                        n.get_ref()
                    ),
                );
            }
        }
    }
    // A link, bridge and vlan share one name space (members, interface = ...).
    let mut iface_names: BTreeMap<&str, &str> = BTreeMap::new();
    for (kind, names) in kinds.iter().take(3) {
        for n in names {
            if let Some(first) = iface_names.insert(n.get_ref(), kind) {
                c.err(
                    n.span(),
                    format!(
                        "[{kind}.{}]: the name is also used by [{first}.{}]",
                        n.get_ref(),
                        n.get_ref()
                    ),
                );
            }
        }
    }

    let sys = r.system.get_ref();
    c.value(
        &sys.hostname,
        is_hostname(sys.hostname.get_ref()),
        "a host name",
        "[system]",
        "hostname",
    );

    // Devices: valid and not claimed twice.
    let mut devices: Vec<(String, Range<usize>, String)> = Vec::new();
    for (n, l) in &r.link {
        let l = l.get_ref();
        let t = format!("[link.{}]", n.get_ref());
        c.value(
            &l.device,
            is_device(l.device.get_ref()),
            "an interface name",
            &t,
            "device",
        );
        devices.push((l.device.get_ref().clone(), l.device.span(), t.clone()));
        if let Some(m) = &l.mac {
            c.value(
                m,
                is_mac(m.get_ref()),
                "a MAC address (xx:xx:xx:xx:xx:xx)",
                &t,
                "mac",
            );
        }
        if let Some(m) = &l.mtu {
            mtu(&mut c, m, &t);
        }
    }
    for (n, b) in &r.bridge {
        let b = b.get_ref();
        let t = format!("[bridge.{}]", n.get_ref());
        match &b.device {
            Some(d) => {
                c.value(d, is_device(d.get_ref()), "an interface name", &t, "device");
                devices.push((d.get_ref().clone(), d.span(), t.clone()));
            }
            None => {
                let d = format!("br-{}", n.get_ref());
                if !is_device(&d) {
                    c.err(
                        n.span(),
                        format!(
                            "{t}: the default device {d:?} is longer than 15 bytes: set device"
                        ),
                    );
                }
                devices.push((d, n.span(), t.clone()));
            }
        }
        if let Some(m) = &b.mtu {
            mtu(&mut c, m, &t);
        }
        for m in &b.members {
            match r.iface(m.get_ref()) {
                Some(Iface::Link | Iface::Vlan) => {
                    if r.bridge_of(m.get_ref()) != Some(n.get_ref()) {
                        c.err(
                            m.span(),
                            format!(
                                "{t} members: {:?} is already a member of another bridge",
                                m.get_ref()
                            ),
                        );
                    }
                }
                _ => c.err(
                    m.span(),
                    format!("{t} members: no [link] or [vlan] named {:?}", m.get_ref()),
                ),
            }
        }
    }
    for (n, v) in &r.vlan {
        let v = v.get_ref();
        let t = format!("[vlan.{}]", n.get_ref());
        match r.iface(v.parent.get_ref()) {
            Some(Iface::Link | Iface::Bridge) => {}
            _ => c.err(
                v.parent.span(),
                format!(
                    "{t} parent: no [link] or [bridge] named {:?}",
                    v.parent.get_ref()
                ),
            ),
        }
        if !(1..=4094).contains(v.id.get_ref()) {
            c.err(
                v.id.span(),
                format!("{t} id: {} is not a VLAN id (1..4094)", v.id.get_ref()),
            );
        }
        match &v.device {
            Some(d) => {
                c.value(d, is_device(d.get_ref()), "an interface name", &t, "device");
                devices.push((d.get_ref().clone(), d.span(), t.clone()));
            }
            None => {
                if let Some(d) = r.device(n.get_ref()) {
                    if !is_device(&d) {
                        c.err(n.span(), format!("{t}: the default device {d:?} is not a valid interface name: set device"));
                    }
                    devices.push((d, n.span(), t.clone()));
                }
            }
        }
    }
    for (n, w) in &r.wifi {
        let w = w.get_ref();
        let t = format!("[wifi.{}]", n.get_ref());
        c.value(
            &w.device,
            is_device(w.device.get_ref()),
            "an interface name",
            &t,
            "device",
        );
        devices.push((w.device.get_ref().clone(), w.device.span(), t.clone()));
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (d, span, t) in &devices {
        if let Some(first) = seen.insert(d, t) {
            c.err(
                span.clone(),
                format!("{t}: device {d:?} is also used by {first}"),
            );
        }
    }

    for (n, a) in &r.address {
        let a = a.get_ref();
        let t = format!("[address.{}]", n.get_ref());
        iface_ref(&mut c, r, &a.interface, &t, "interface");
        c.value(
            &a.address,
            Cidr::parse(a.address.get_ref()).is_some(),
            "an address with prefix length (CIDR)",
            &t,
            "address",
        );
    }

    for (n, rt) in &r.route {
        let rt = rt.get_ref();
        let t = format!("[route.{}]", n.get_ref());
        c.value(
            &rt.destination,
            Cidr::parse(rt.destination.get_ref()).is_some(),
            "a CIDR",
            &t,
            "destination",
        );
        match (&rt.gateway, &rt.via) {
            (Some(_), Some(v)) => {
                c.err(v.span(), format!("{t}: gateway and via exclude each other"))
            }
            (None, None) => c.err(n.span(), format!("{t}: needs gateway or via")),
            (Some(g), None) => match g.get_ref().parse::<IpAddr>() {
                Err(_) => c.value(g, false, "an IP address", &t, "gateway"),
                Ok(ip) => {
                    let on_link = r.address.values().any(|a| {
                        Cidr::parse(a.get_ref().address.get_ref()).is_some_and(|c| c.contains(ip))
                    });
                    if !on_link {
                        c.err(
                            g.span(),
                            format!("{t} gateway: {ip} is in no [address] subnet (for a gateway learned from a wan use via)"),
                        );
                    }
                }
            },
            (None, Some(v)) => {
                wan_ref(&mut c, r, v, &t, "via");
            }
        }
    }

    let secrets_defined = r.secrets.is_some();
    for (n, w) in &r.wan {
        let wn = n.get_ref();
        let w = w.get_ref();
        let t = format!("[wan.{wn}]");
        match r.iface(w.interface.get_ref()) {
            Some(Iface::Link | Iface::Vlan) => {
                if let Some(b) = r.bridge_of(w.interface.get_ref()) {
                    c.err(
                        w.interface.span(),
                        format!(
                            "{t} interface: {:?} is a member of [bridge.{b}]",
                            w.interface.get_ref()
                        ),
                    );
                }
            }
            _ => c.err(
                w.interface.span(),
                format!(
                    "{t} interface: no [link] or [vlan] named {:?}",
                    w.interface.get_ref()
                ),
            ),
        }
        let proto = *w.protocol.get_ref();
        let only = |c: &mut Checker<'_>,
                    present: Option<Range<usize>>,
                    key: &str,
                    allowed: &[Protocol]| {
            if let Some(span) = present {
                if !allowed.contains(&proto) {
                    let names: Vec<&str> = allowed.iter().map(|p| p.as_str()).collect();
                    c.err(
                        span,
                        format!("{t} {key}: only for protocol {}", names.join(" or ")),
                    );
                }
            }
        };
        only(
            &mut c,
            w.address.as_ref().map(Spanned::span),
            "address",
            &[Protocol::Static],
        );
        only(
            &mut c,
            w.gateway.as_ref().map(Spanned::span),
            "gateway",
            &[Protocol::Static],
        );
        only(
            &mut c,
            w.dns.as_ref().map(Spanned::span),
            "dns",
            &[Protocol::Static],
        );
        only(
            &mut c,
            w.username.as_ref().map(Spanned::span),
            "username",
            &[Protocol::Pppoe, Protocol::L2tp],
        );
        only(
            &mut c,
            w.password.as_ref().map(Spanned::span),
            "password",
            &[Protocol::Pppoe, Protocol::L2tp],
        );
        only(
            &mut c,
            w.mtu.as_ref().map(Spanned::span),
            "mtu",
            &[Protocol::Pppoe, Protocol::L2tp],
        );
        only(
            &mut c,
            w.service.as_ref().map(Spanned::span),
            "service",
            &[Protocol::Pppoe],
        );
        only(
            &mut c,
            w.server.as_ref().map(Spanned::span),
            "server",
            &[Protocol::L2tp],
        );
        only(
            &mut c,
            w.over.as_ref().map(Spanned::span),
            "over",
            &[Protocol::L2tp],
        );
        match proto {
            Protocol::Dhcp => {}
            Protocol::Static => match &w.address {
                None => c.err(
                    w.protocol.span(),
                    format!("{t}: protocol static needs address"),
                ),
                Some(a) => match Cidr::parse(a.get_ref()) {
                    Some(cidr) if cidr.addr.is_ipv4() => {
                        if let Some(g) = &w.gateway {
                            match g.get_ref().parse::<IpAddr>() {
                                Ok(ip) if cidr.contains(ip) => {}
                                Ok(ip) => c.err(
                                    g.span(),
                                    format!(
                                        "{t} gateway: {ip} is outside {}/{}",
                                        cidr.network(),
                                        cidr.len
                                    ),
                                ),
                                Err(_) => c.value(g, false, "an IP address", &t, "gateway"),
                            }
                        }
                    }
                    _ => c.value(
                        a,
                        false,
                        "an IPv4 address with prefix length (CIDR)",
                        &t,
                        "address",
                    ),
                },
            },
            Protocol::Pppoe => {
                c.needs(
                    w.protocol.span(),
                    &format!("{t}: protocol pppoe"),
                    &[
                        w.username.is_none().then_some("username"),
                        w.password.is_none().then_some(PASSWORD_KEY),
                    ],
                );
                if let Some(m) = &w.mtu {
                    mtu(&mut c, m, &t);
                }
            }
            Protocol::L2tp => {
                c.needs(
                    w.protocol.span(),
                    &format!("{t}: protocol l2tp"),
                    &[
                        w.server.is_none().then_some("server"),
                        w.over.is_none().then_some("over"),
                        w.username.is_none().then_some("username"),
                        w.password.is_none().then_some(PASSWORD_KEY),
                    ],
                );
                if let Some(s) = &w.server {
                    // Host names are not resolved: the host route to the
                    // server needs its address before the tunnel is up.
                    c.value(
                        s,
                        s.get_ref().parse::<Ipv4Addr>().is_ok(),
                        "an IPv4 address",
                        &t,
                        "server",
                    );
                }
                if let Some(o) = &w.over {
                    l2tp_over(&mut c, r, wn, w, o, &t);
                }
                if let Some(m) = &w.mtu {
                    mtu(&mut c, m, &t);
                }
            }
        }
        for s in [&w.username, &w.service, &w.server].into_iter().flatten() {
            c.value(
                s,
                is_plain(s.get_ref()) && !s.get_ref().contains('"'),
                "a plain one-line text without '\"'",
                &t,
                "value",
            );
        }
        if let Some(dns) = &w.dns {
            for d in dns.get_ref() {
                c.value(
                    d,
                    d.get_ref().parse::<IpAddr>().is_ok(),
                    "an IP address",
                    &t,
                    "dns",
                );
            }
        }
        if let Some(p) = &w.password {
            secret_ref(&mut c, secrets_defined, &p.get_ref().secret, &t, "password");
        }
        if let Some(v6) = &w.ipv6 {
            if let Some(l) = &v6.get_ref().prefix_length {
                if !(1..=64).contains(l.get_ref()) {
                    c.err(
                        l.span(),
                        format!("{t} ipv6 prefix_length: {} is not 1..64", l.get_ref()),
                    );
                }
            }
        }
    }

    let mut dns_from: Option<&Spanned<String>> = None;
    for (n, l) in &r.lan {
        let l = l.get_ref();
        let t = format!("[lan.{}]", n.get_ref());
        if iface_ref(&mut c, r, &l.interface, &t, "interface") {
            if r.bridge_of(l.interface.get_ref()).is_some() {
                c.err(
                    l.interface.span(),
                    format!(
                        "{t} interface: {:?} is a bridge member; serve the bridge",
                        l.interface.get_ref()
                    ),
                );
            }
            let v4 = r.ipv4_address(l.interface.get_ref());
            match v4 {
                None => c.err(
                    l.interface.span(),
                    format!(
                        "{t} interface: {:?} has no static IPv4 [address]",
                        l.interface.get_ref()
                    ),
                ),
                Some((an, cidr)) => {
                    if let Some(range) = &l.dhcp_range {
                        if range.get_ref().len() != 2 {
                            c.err(
                                range.span(),
                                format!("{t} dhcp_range: expected two addresses, first and last"),
                            );
                        }
                        let mut ends = Vec::new();
                        for a in range.get_ref() {
                            match a.get_ref().parse::<Ipv4Addr>() {
                                Err(_) => c.value(a, false, "an IPv4 address", &t, "dhcp_range"),
                                Ok(ip) if !cidr.contains(IpAddr::V4(ip)) => c.err(
                                    a.span(),
                                    format!(
                                        "{t} dhcp_range: {ip} is outside {}/{} of [address.{an}]",
                                        cidr.network(),
                                        cidr.len
                                    ),
                                ),
                                Ok(ip) => ends.push(ip),
                            }
                        }
                        if let [a, b] = ends[..] {
                            if a > b {
                                c.err(range.span(), format!("{t} dhcp_range: {a} is after {b}"));
                            }
                        }
                    }
                    for s in &l.static_leases {
                        let s = s.get_ref();
                        c.value(
                            &s.mac,
                            is_mac(s.mac.get_ref()),
                            "a MAC address (xx:xx:xx:xx:xx:xx)",
                            &t,
                            "static_leases mac",
                        );
                        match s.ip.get_ref().parse::<Ipv4Addr>() {
                            Ok(ip) if cidr.contains(IpAddr::V4(ip)) => {}
                            Ok(ip) => c.err(
                                s.ip.span(),
                                format!(
                                    "{t} static_leases ip: {ip} is outside {}/{} of [address.{an}]",
                                    cidr.network(),
                                    cidr.len
                                ),
                            ),
                            Err(_) => {
                                c.value(&s.ip, false, "an IPv4 address", &t, "static_leases ip")
                            }
                        }
                        if let Some(h) = &s.name {
                            c.value(
                                h,
                                is_hostname(h.get_ref()),
                                "a host name",
                                &t,
                                "static_leases name",
                            );
                        }
                    }
                }
            }
        }
        if let Some(lt) = &l.lease_time {
            c.value(
                lt,
                is_lease_time(lt.get_ref()),
                "a lease time (e.g. 12h, 30m, infinite)",
                &t,
                "lease_time",
            );
        }
        if let Some(d) = &l.domain {
            c.value(d, is_domain(d.get_ref()), "a domain name", &t, "domain");
        }
        if let Some(d) = &l.dns_from {
            if wan_ref(&mut c, r, d, &t, "dns_from") {
                match dns_from {
                    Some(first) if first.get_ref() != d.get_ref() => c.err(
                        d.span(),
                        format!(
                            "{t} dns_from: {:?} differs from {:?} of another [lan]: one dnsmasq has one upstream",
                            d.get_ref(),
                            first.get_ref()
                        ),
                    ),
                    _ => dns_from = Some(d),
                }
            }
        }
        if let Some(v6) = &l.ipv6 {
            let v6 = v6.get_ref();
            if wan_ref(&mut c, r, &v6.prefix_from, &t, "ipv6 prefix_from") {
                let pd = r
                    .wan
                    .iter()
                    .find(|(k, _)| k.get_ref() == v6.prefix_from.get_ref())
                    .and_then(|(_, w)| w.get_ref().ipv6.as_ref())
                    .is_some_and(|i| i.get_ref().prefix_delegation);
                if !pd {
                    c.err(
                        v6.prefix_from.span(),
                        format!(
                            "{t} ipv6 prefix_from: [wan.{}] has no ipv6 with prefix_delegation = true",
                            v6.prefix_from.get_ref()
                        ),
                    );
                }
            }
            if let Some(s) = &v6.subnet {
                if *s.get_ref() > 0xffff {
                    c.err(
                        s.span(),
                        format!("{t} ipv6 subnet: {} does not fit in 16 bits", s.get_ref()),
                    );
                }
            }
            if !v6.ra && !v6.dhcpv6 {
                c.err(
                    l.interface.span(),
                    format!("{t} ipv6: ra and dhcpv6 are both off"),
                );
            }
        }
    }

    for (n, w) in &r.wifi {
        let w = w.get_ref();
        let t = format!("[wifi.{}]", n.get_ref());
        if let Some(b) = &w.bridge {
            if r.iface(b.get_ref()) != Some(Iface::Bridge) {
                c.err(
                    b.span(),
                    format!("{t} bridge: no [bridge] named {:?}", b.get_ref()),
                );
            }
        }
        let ssid = w.ssid.get_ref();
        c.value(
            &w.ssid,
            !ssid.is_empty() && ssid.len() <= 32 && is_plain(ssid),
            "an SSID (1..32 bytes, one line)",
            &t,
            "ssid",
        );
        let cc = w.country.get_ref();
        c.value(
            &w.country,
            cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()),
            "a country code (ISO 3166 alpha-2, upper case)",
            &t,
            "country",
        );
        secret_ref(&mut c, secrets_defined, &w.psk.get_ref().secret, &t, "psk");
        if let Some(ch) = &w.channel {
            let ok = match w.band.get_ref() {
                crate::config::Band::G2 => (1..=14).contains(ch.get_ref()),
                crate::config::Band::G5 => (32..=177).contains(ch.get_ref()),
            };
            if !ok {
                c.err(
                    ch.span(),
                    format!(
                        "{t} channel: {} is not a channel of this band",
                        ch.get_ref()
                    ),
                );
            }
        }
    }

    if let Some(f) = &r.firewall {
        let f = f.get_ref();
        for w in &f.wan {
            wan_ref(&mut c, r, w, "[firewall]", "wan");
        }
        for l in &f.lan {
            iface_ref(&mut c, r, l, "[firewall]", "lan");
        }
        for p in &f.input_wan {
            let port = &p.get_ref().port;
            if !(1..=65535).contains(port.get_ref()) {
                c.err(
                    port.span(),
                    format!(
                        "[firewall] input_wan port: {} is not 1..65535",
                        port.get_ref()
                    ),
                );
            }
        }
    }
    if let Some(n) = &r.ntp {
        let n = n.get_ref();
        for s in &n.servers {
            c.value(
                s,
                is_domain(s.get_ref()) || s.get_ref().parse::<IpAddr>().is_ok(),
                "a host name or address",
                "[ntp]",
                "servers",
            );
        }
        if let Some(w) = &n.from_dhcp {
            wan_ref(&mut c, r, w, "[ntp]", "from_dhcp");
        }
        if n.servers.is_empty() && n.from_dhcp.is_none() && !n.serve {
            c.err(
                r.ntp.as_ref().map_or(0..0, Spanned::span),
                "[ntp]: needs servers or from_dhcp",
            );
        }
    }
    if let Some(s) = &r.ssh {
        let s = s.get_ref();
        for k in &s.authorized_keys {
            c.value(
                k,
                is_plain(k.get_ref())
                    && k.get_ref()
                        .starts_with(|ch: char| ch.is_ascii_alphanumeric()),
                "a one-line public key",
                "[ssh]",
                "authorized_keys",
            );
        }
        if let Some(p) = &s.port {
            if !(1..=65535).contains(p.get_ref()) {
                c.err(
                    p.span(),
                    format!("[ssh] port: {} is not 1..65535", p.get_ref()),
                );
            }
        }
    }
    if let Some(s) = &r.secrets {
        let f = &s.get_ref().file;
        c.value(
            f,
            f.get_ref().starts_with('/') && is_plain(f.get_ref()),
            "an absolute path",
            "[secrets]",
            "file",
        );
    }
    for (n, m) in &r.mount {
        let m = m.get_ref();
        let t = format!("[mount.{}]", n.get_ref());
        c.value(
            &m.label,
            !m.label.get_ref().is_empty() && is_plain(m.label.get_ref()),
            "a file system label",
            &t,
            "label",
        );
        c.value(
            &m.at,
            m.at.get_ref().starts_with('/') && is_plain(m.at.get_ref()),
            "an absolute path",
            &t,
            "at",
        );
        for (key, v) in [("fstype", &m.fstype), ("options", &m.options)] {
            let Some(v) = v else { continue };
            c.value(
                v,
                !v.get_ref().is_empty()
                    && v.get_ref().bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b',' | b'=' | b'_' | b'-' | b'.')
                    }),
                "a word of letters, digits and , = _ - .",
                &t,
                key,
            );
        }
    }
    c.out
}

fn mtu(c: &mut Checker<'_>, m: &Spanned<u32>, t: &str) {
    if !(68..=65535).contains(m.get_ref()) {
        c.err(
            m.span(),
            format!("{t} mtu: {} is not 68..65535", m.get_ref()),
        );
    }
}

fn iface_ref(c: &mut Checker<'_>, r: &Router, name: &Spanned<String>, t: &str, key: &str) -> bool {
    let ok = r.iface(name.get_ref()).is_some();
    if !ok {
        c.err(
            name.span(),
            format!(
                "{t} {key}: no [link], [bridge] or [vlan] named {:?}",
                name.get_ref()
            ),
        );
    }
    ok
}

/// `over` of l2tp wan `name`: another wan, on the same interface, whose
/// lease (dhcp) or address (static) carries the tunnel.
fn l2tp_over(
    c: &mut Checker<'_>,
    r: &Router,
    name: &str,
    w: &Wan,
    over: &Spanned<String>,
    t: &str,
) {
    let o = over.get_ref();
    if o == name {
        c.err(
            over.span(),
            format!("{t} over: names this wan itself; name the wan that carries the tunnel"),
        );
        return;
    }
    if !wan_ref(c, r, over, t, "over") {
        return;
    }
    let Some(carrier) = r
        .wan
        .iter()
        .find(|(k, _)| k.get_ref() == o)
        .map(|(_, v)| v.get_ref())
    else {
        return;
    };
    let p = *carrier.protocol.get_ref();
    if !matches!(p, Protocol::Dhcp | Protocol::Static) {
        c.err(
            over.span(),
            format!(
                "{t} over: [wan.{o}] has protocol {}; the tunnel runs over a dhcp or static wan",
                p.as_str()
            ),
        );
    }
    if carrier.interface.get_ref() != w.interface.get_ref() {
        c.err(
            w.interface.span(),
            format!(
                "{t} interface: {:?} is not the interface of [wan.{o}] ({:?}), which carries the tunnel",
                w.interface.get_ref(),
                carrier.interface.get_ref()
            ),
        );
    }
}

fn wan_ref(c: &mut Checker<'_>, r: &Router, name: &Spanned<String>, t: &str, key: &str) -> bool {
    let ok = r.wan_names().any(|w| w == name.get_ref());
    if !ok {
        c.err(
            name.span(),
            format!("{t} {key}: no [wan] named {:?}", name.get_ref()),
        );
    }
    ok
}

fn secret_ref(c: &mut Checker<'_>, defined: bool, name: &Spanned<String>, t: &str, key: &str) {
    if !is_secret_name(name.get_ref()) {
        c.value(
            name,
            false,
            "a secret name (letters, digits, _ and -)",
            t,
            key,
        );
    } else if !defined {
        c.err(
            name.span(),
            format!(
                "{t} {key}: secret {:?} needs a [secrets] file",
                name.get_ref()
            ),
        );
    }
}
