//! The kernel's interface table as far as ifwait needs it, kept up to date
//! from rtnetlink messages.
//!
//! Pure: it takes parsed `RouteNetlinkMessage`s, so the tests feed it
//! messages built in memory (or parsed from bytes) without a socket.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;

use crate::Condition;

#[derive(Debug, Clone)]
struct Link {
    name: String,
    flags: LinkFlags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Addr {
    ip: IpAddr,
    global: bool,
    usable: bool,
}

/// Links and addresses by interface index.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    links: HashMap<u32, Link>,
    addrs: HashMap<u32, Vec<Addr>>,
}

/// The state of one interface, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfState {
    /// The interface index, if the interface exists.
    pub index: Option<u32>,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_RUNNING`.
    pub running: bool,
    /// `IFF_LOWER_UP`.
    pub carrier: bool,
    /// Usable IPv4 addresses, with whether each is of global scope.
    pub ipv4: Vec<(IpAddr, bool)>,
    /// Usable (not tentative, not DAD-failed) IPv6 addresses, with whether
    /// each is of global scope.
    pub ipv6: Vec<(IpAddr, bool)>,
}

impl IfState {
    /// Whether the interface exists.
    pub fn present(&self) -> bool {
        self.index.is_some()
    }

    /// Whether `cond` holds.
    pub fn holds(&self, cond: Condition) -> bool {
        let any = |v: &[(IpAddr, bool)], global: bool| v.iter().any(|&(_, g)| g || !global);
        match cond {
            Condition::Present => self.present(),
            Condition::Up => self.up,
            Condition::Running => self.running,
            Condition::Carrier => self.carrier,
            Condition::Ipv4 { global } => any(&self.ipv4, global),
            Condition::Ipv6 { global } => any(&self.ipv6, global),
        }
    }
}

fn link_name(msg: &LinkMessage) -> Option<&str> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn addr_of(msg: &AddressMessage) -> Option<Addr> {
    // IFA_LOCAL is the interface's own address on point-to-point links,
    // where IFA_ADDRESS is the peer; elsewhere both are the same.
    let mut ip = None;
    let mut flags = AddressFlags::from_bits_truncate(u32::from(msg.header.flags.bits()));
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(l) => ip = Some(*l),
            AddressAttribute::Address(l) if ip.is_none() => ip = Some(*l),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    Some(Addr {
        ip: ip?,
        global: msg.header.scope == AddressScope::Universe,
        usable: !flags.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed),
    })
}

impl Table {
    /// Applies one message (a dump answer or an event).
    pub(crate) fn apply(&mut self, msg: &RouteNetlinkMessage) {
        match msg {
            RouteNetlinkMessage::NewLink(l) => {
                let entry = self.links.entry(l.header.index).or_insert_with(|| Link {
                    name: String::new(),
                    flags: LinkFlags::empty(),
                });
                // A NewLink always carries IFLA_IFNAME; a rename is a
                // NewLink with the new name for the same index.
                if let Some(name) = link_name(l) {
                    name.clone_into(&mut entry.name);
                }
                entry.flags = l.header.flags;
            }
            RouteNetlinkMessage::DelLink(l) => {
                self.links.remove(&l.header.index);
                self.addrs.remove(&l.header.index);
            }
            RouteNetlinkMessage::NewAddress(a) => {
                if let Some(addr) = addr_of(a) {
                    let list = self.addrs.entry(a.header.index).or_default();
                    list.retain(|x| x.ip != addr.ip);
                    list.push(addr);
                }
            }
            RouteNetlinkMessage::DelAddress(a) => {
                if let (Some(addr), Some(list)) = (addr_of(a), self.addrs.get_mut(&a.header.index))
                {
                    list.retain(|x| x.ip != addr.ip);
                }
            }
            _ => {}
        }
    }

    /// Forgets everything (before a re-dump after an overrun).
    pub(crate) fn clear(&mut self) {
        self.links.clear();
        self.addrs.clear();
    }

    /// The state of the interface called `name`.
    pub(crate) fn state(&self, name: &str) -> IfState {
        let Some((&index, link)) = self.links.iter().find(|(_, l)| l.name == name) else {
            return IfState::default();
        };
        let mut st = IfState {
            index: Some(index),
            up: link.flags.contains(LinkFlags::Up),
            running: link.flags.contains(LinkFlags::Running),
            carrier: link.flags.contains(LinkFlags::LowerUp),
            ..IfState::default()
        };
        for a in self.addrs.get(&index).into_iter().flatten() {
            if !a.usable {
                continue;
            }
            match a.ip {
                IpAddr::V4(_) => st.ipv4.push((a.ip, a.global)),
                IpAddr::V6(_) => st.ipv6.push((a.ip, a.global)),
            }
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::address::AddressHeaderFlags;
    use netlink_packet_route::AddressFamily;

    use super::*;

    fn link(index: u32, name: &str, flags: LinkFlags) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = flags;
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m
    }

    fn addr(index: u32, ip: &str, scope: AddressScope, flags: AddressFlags) -> AddressMessage {
        let ip: IpAddr = ip.parse().expect("test address");
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.family = if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.scope = scope;
        m.header.flags = AddressHeaderFlags::empty();
        m.attributes.push(AddressAttribute::Address(ip));
        m.attributes.push(AddressAttribute::Flags(flags));
        m
    }

    #[test]
    fn link_flags_rename_and_delete() {
        let mut t = Table::default();
        assert!(!t.state("veth0").present());
        t.apply(&RouteNetlinkMessage::NewLink(link(
            7,
            "veth0",
            LinkFlags::empty(),
        )));
        let s = t.state("veth0");
        assert!(s.holds(Condition::Present) && !s.holds(Condition::Up));
        t.apply(&RouteNetlinkMessage::NewLink(link(
            7,
            "veth0",
            LinkFlags::Up | LinkFlags::Running | LinkFlags::LowerUp,
        )));
        let s = t.state("veth0");
        assert!(s.up && s.running && s.carrier);
        // Renamed away: our name is gone, the new one is there.
        t.apply(&RouteNetlinkMessage::NewLink(link(7, "wan", LinkFlags::Up)));
        assert!(!t.state("veth0").present());
        assert_eq!(t.state("wan").index, Some(7));
        t.apply(&RouteNetlinkMessage::DelLink(link(7, "wan", LinkFlags::Up)));
        assert!(!t.state("wan").present());
    }

    #[test]
    fn addresses_scope_dad_and_delete() {
        let mut t = Table::default();
        t.apply(&RouteNetlinkMessage::NewLink(link(3, "lan", LinkFlags::Up)));
        let ll = "fe80::1";
        t.apply(&RouteNetlinkMessage::NewAddress(addr(
            3,
            ll,
            AddressScope::Link,
            AddressFlags::Tentative,
        )));
        let v6 = |g| Condition::Ipv6 { global: g };
        assert!(!t.state("lan").holds(v6(false)), "tentative does not count");
        t.apply(&RouteNetlinkMessage::NewAddress(addr(
            3,
            ll,
            AddressScope::Link,
            AddressFlags::Permanent,
        )));
        assert!(t.state("lan").holds(v6(false)));
        assert!(!t.state("lan").holds(v6(true)), "link-local is not global");
        t.apply(&RouteNetlinkMessage::NewAddress(addr(
            3,
            "192.0.2.1",
            AddressScope::Universe,
            AddressFlags::Permanent,
        )));
        assert!(t.state("lan").holds(Condition::Ipv4 { global: true }));
        t.apply(&RouteNetlinkMessage::DelAddress(addr(
            3,
            "192.0.2.1",
            AddressScope::Universe,
            AddressFlags::Permanent,
        )));
        assert!(!t.state("lan").holds(Condition::Ipv4 { global: false }));
    }

    /// An RTM_NEWLINK as the kernel sends it, commented per field, parsed by
    /// netlink-packet-route (checks that we use its parser the right way
    /// round, on both byte orders: netlink is host-endian).
    #[test]
    fn parse_a_newlink_from_bytes() {
        let mut b = Vec::new();
        let ne32 = |v: u32| v.to_ne_bytes();
        let ne16 = |v: u16| v.to_ne_bytes();
        b.extend(ne32(44)); // nlmsg_len: 16 + 16 + 12
        b.extend(ne16(16)); // nlmsg_type: RTM_NEWLINK
        b.extend(ne16(0)); // nlmsg_flags
        b.extend(ne32(0)); // nlmsg_seq: 0, an event
        b.extend(ne32(0)); // nlmsg_pid: 0, from the kernel
        b.push(0); // ifi_family: AF_UNSPEC
        b.push(0); // pad
        b.extend(ne16(1)); // ifi_type: ARPHRD_ETHER
        b.extend(9i32.to_ne_bytes()); // ifi_index: 9
        b.extend(ne32(0x1_0043)); // ifi_flags: UP|RUNNING|LOWER_UP
        b.extend(ne32(0)); // ifi_change
        b.extend(ne16(9)); // nla_len: 4 + "eth0\0" (5), padded to 12
        b.extend(ne16(3)); // nla_type: IFLA_IFNAME
        b.extend(b"eth0\0\0\0\0");
        let msg: NetlinkMessage<RouteNetlinkMessage> =
            NetlinkMessage::deserialize(&b).expect("valid RTM_NEWLINK");
        let NetlinkPayload::InnerMessage(inner) = msg.payload else {
            panic!("not an inner message: {msg:?}");
        };
        let mut t = Table::default();
        t.apply(&inner);
        let s = t.state("eth0");
        assert_eq!(s.index, Some(9));
        assert!(s.up && s.running && s.carrier);
    }
}
