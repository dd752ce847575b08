//! The rtnetlink requests of [`Acquirer`](super::Acquirer): add and remove
//! addresses and routes, list an interface's addresses.
//!
//! Messages are built and parsed by netlink-packet-route, the socket is
//! netlink-sys's (the same pair as `limina-ifwait`); nothing here shells
//! out to `ip`.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use super::{Item, PROTO};

/// An rtnetlink failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtnlError {
    /// A socket operation failed.
    #[error("acquire: netlink {what}: {source}")]
    Socket {
        /// The operation.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The kernel refused a request.
    #[error("acquire: kernel refused {what}: {source}")]
    Refused {
        /// The request.
        what: String,
        /// The errno.
        source: std::io::Error,
    },
    /// The interface does not exist.
    #[error("acquire: no interface {0:?}")]
    NoInterface(String),
    /// The kernel sent a message netlink-packet-route cannot parse.
    #[error("acquire: cannot parse a netlink message: {0}")]
    Decode(String),
}

/// An address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelAddress {
    /// `IFA_LOCAL` (or `IFA_ADDRESS` when there is no local).
    pub address: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// `IFA_PROTO`, if the kernel reports one.
    pub proto: Option<u8>,
}

/// What [`Rtnl::remove`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted.
    Deleted,
    /// Already gone (with its interface, or by another hand).
    Gone,
    /// Present but carrying another marker: somebody else's now, left alone.
    NotOurs,
}

/// A blocking rtnetlink socket for requests.
#[derive(Debug)]
pub struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// Opens the socket.
    pub fn new() -> Result<Self, RtnlError> {
        let s = |what| move |source| RtnlError::Socket { what, source };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(s("socket"))?;
        socket.bind_auto().map_err(s("bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(s("connect"))?;
        Ok(Self {
            socket,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// The index of interface `ifname`.
    pub fn ifindex(&self, ifname: &str) -> Result<u32, RtnlError> {
        nix::net::if_::if_nametoindex(ifname).map_err(|_| RtnlError::NoInterface(ifname.to_owned()))
    }

    /// Adds `item` exclusively: `Ok(Some(marked))` if we created it, where
    /// `marked` tells whether the kernel shows our [`PROTO`] on it (always
    /// for routes; for addresses only on kernels with `IFA_PROTO`);
    /// `Ok(None)` if it already existed (then it is not ours).
    pub fn add(&mut self, item: &Item) -> Result<Option<bool>, RtnlError> {
        let index = self.ifindex(item.ifname())?;
        let msg = match item {
            Item::Address { .. } => RouteNetlinkMessage::NewAddress(address_message(item, index)),
            Item::Route { .. } => RouteNetlinkMessage::NewRoute(route_message(item, index)),
        };
        match self.request(msg, NLM_F_CREATE | NLM_F_EXCL, &item.to_string()) {
            Ok(()) => {}
            Err(RtnlError::Refused { source, .. })
                if source.raw_os_error() == Some(nix::libc::EEXIST) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
        match item {
            Item::Address { .. } => Ok(Some(
                self.find_address(index, item)?
                    .is_some_and(|k| k.proto == Some(PROTO)),
            )),
            Item::Route { .. } => Ok(Some(true)),
        }
    }

    fn find_address(
        &mut self,
        index: u32,
        item: &Item,
    ) -> Result<Option<KernelAddress>, RtnlError> {
        let Item::Address { address, len, .. } = item else {
            return Ok(None);
        };
        Ok(self
            .addresses(index)?
            .into_iter()
            .find(|k| k.address == *address && k.len == *len))
    }

    /// Removes `item`, which we added (`marked`: the kernel showed our
    /// [`PROTO`] on it then). An address that now carries another protocol,
    /// or none although ours was marked, was removed and re-added by
    /// somebody else: it is left alone ([`Removal::NotOurs`]). Routes are
    /// deleted with our protocol, which the kernel matches.
    pub fn remove(&mut self, item: &Item, marked: bool) -> Result<Removal, RtnlError> {
        let index = match self.ifindex(item.ifname()) {
            Ok(i) => i,
            // The interface went away, and what was on it with it.
            Err(RtnlError::NoInterface(_)) => return Ok(Removal::Gone),
            Err(e) => return Err(e),
        };
        let msg = match item {
            Item::Address { .. } => {
                match self.find_address(index, item)? {
                    None => return Ok(Removal::Gone),
                    Some(k) if k.proto.is_some_and(|p| p != PROTO) => return Ok(Removal::NotOurs),
                    Some(k) if marked && k.proto.is_none() => return Ok(Removal::NotOurs),
                    Some(_) => {}
                }
                RouteNetlinkMessage::DelAddress(address_message(item, index))
            }
            Item::Route { .. } => RouteNetlinkMessage::DelRoute(route_message(item, index)),
        };
        match self.request(msg, 0, &item.to_string()) {
            Ok(()) => Ok(Removal::Deleted),
            Err(RtnlError::Refused { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(nix::libc::ESRCH | nix::libc::EADDRNOTAVAIL | nix::libc::ENODEV)
                ) =>
            {
                Ok(Removal::Gone)
            }
            Err(e) => Err(e),
        }
    }

    /// The addresses on interface `index`.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<KernelAddress>, RtnlError> {
        let replies = self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            let mut local = None;
            let mut address = None;
            let mut proto = None;
            for attr in &a.attributes {
                match attr {
                    AddressAttribute::Local(l) => local = Some(*l),
                    AddressAttribute::Address(x) => address = Some(*x),
                    AddressAttribute::Protocol(p) => proto = Some(u8::from(*p)),
                    _ => {}
                }
            }
            if let Some(address) = local.or(address) {
                out.push(KernelAddress {
                    address,
                    len: a.header.prefix_len,
                    proto,
                });
            }
        }
        Ok(out)
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, RtnlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|source| RtnlError::Socket {
                what: "send",
                source,
            })?;
        Ok(self.seq)
    }

    /// Receives messages of request `seq` and hands each to `f`; returns
    /// when `f` says the request is complete.
    fn receive(
        &mut self,
        seq: u32,
        mut f: impl FnMut(NetlinkPayload<RouteNetlinkMessage>) -> Result<bool, RtnlError>,
    ) -> Result<(), RtnlError> {
        loop {
            let n = match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(RtnlError::Socket {
                        what: "recv",
                        source,
                    })
                }
            };
            let mut off = 0;
            while off < n {
                let msg: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&self.buf[off..n])
                        .map_err(|e| RtnlError::Decode(e.to_string()))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number == seq && f(msg.payload)? {
                    return Ok(());
                }
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
    }

    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<(), RtnlError> {
        let seq = self.send(msg, NLM_F_ACK | flags)?;
        let mut result = Ok(());
        self.receive(seq, |payload| match payload {
            NetlinkPayload::Error(e) => {
                if let Some(code) = e.code {
                    result = Err(RtnlError::Refused {
                        what: what.to_owned(),
                        source: std::io::Error::from_raw_os_error(-code.get()),
                    });
                }
                Ok(true)
            }
            _ => Ok(false),
        })?;
        result
    }

    fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, RtnlError> {
        let seq = self.send(msg, NLM_F_DUMP)?;
        let mut out = Vec::new();
        self.receive(seq, |payload| match payload {
            NetlinkPayload::InnerMessage(m) => {
                out.push(m);
                Ok(false)
            }
            NetlinkPayload::Done(_) => Ok(true),
            NetlinkPayload::Error(e) => match e.code {
                Some(code) => Err(RtnlError::Refused {
                    what: "dump".to_owned(),
                    source: std::io::Error::from_raw_os_error(-code.get()),
                }),
                None => Ok(true),
            },
            _ => Ok(false),
        })?;
        Ok(out)
    }
}

fn family(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// `RTM_NEWADDR`/`RTM_DELADDR` for an [`Item::Address`], as `ip addr add`
/// builds it: `IFA_LOCAL` the address, `IFA_ADDRESS` the peer (or the
/// address), a broadcast for IPv4 subnets, and our `IFA_PROTO`.
pub(crate) fn address_message(item: &Item, index: u32) -> AddressMessage {
    let mut m = AddressMessage::default();
    if let Item::Address {
        address, len, peer, ..
    } = item
    {
        m.header.family = family(address);
        m.header.prefix_len = *len;
        m.header.index = index;
        m.header.scope = AddressScope::Universe;
        m.attributes.push(AddressAttribute::Local(*address));
        m.attributes
            .push(AddressAttribute::Address(peer.unwrap_or(*address)));
        if let (IpAddr::V4(a), None) = (address, peer) {
            if *len < 31 {
                let host = u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
                m.attributes
                    .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                        u32::from(*a) | host,
                    )));
            }
        }
        m.attributes.push(AddressAttribute::Protocol(PROTO.into()));
    }
    m
}

/// `RTM_NEWROUTE`/`RTM_DELROUTE` for an [`Item::Route`] in the main table,
/// with our protocol (which the kernel matches on delete).
pub(crate) fn route_message(item: &Item, index: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    if let Item::Route {
        target,
        len,
        gateway,
        metric,
        ..
    } = item
    {
        m.header.address_family = family(target);
        m.header.destination_prefix_length = *len;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::from(PROTO);
        m.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        m.header.kind = RouteType::Unicast;
        if *len > 0 {
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(*target)));
        }
        if let Some(g) = gateway {
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(*g)));
        }
        m.attributes.push(RouteAttribute::Oif(index));
        m.attributes.push(RouteAttribute::Priority(*metric));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    /// What we build survives netlink-packet-route's serializer and parser
    /// on this byte order, and carries the marker (so that the kernel gets
    /// what we meant on big-endian MIPS too).
    #[test]
    fn messages_round_trip_with_marker() {
        let a = Item::address("eth0", "192.0.2.50".parse().expect("ip"), 24, None);
        let m = address_message(&a, 7);
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        // ifa_index is host-endian in the header.
        assert_eq!(&buf[4..8], &7u32.to_ne_bytes());
        let back = AddressMessage::parse(&buf[..]).expect("parses");
        assert_eq!(back, m);
        assert!(back.attributes.contains(&AddressAttribute::Broadcast(
            "192.0.2.255".parse().expect("ip")
        )));
        assert!(back
            .attributes
            .contains(&AddressAttribute::Protocol(PROTO.into())));

        let r = Item::Route {
            ifname: "ppp0".into(),
            target: "0.0.0.0".parse().expect("ip"),
            len: 0,
            gateway: None,
            metric: 300,
        };
        let m = route_message(&r, 9);
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        let back = RouteMessage::parse(&buf[..]).expect("parses");
        assert_eq!(back.header.protocol, RouteProtocol::Other(PROTO));
        assert_eq!(back.header.scope, RouteScope::Link);
        assert!(back.attributes.contains(&RouteAttribute::Oif(9)));
        assert!(back.attributes.contains(&RouteAttribute::Priority(300)));
    }
}
