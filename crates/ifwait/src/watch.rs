//! The rtnetlink socket: subscribe, dump, follow.
//!
//! Race-freedom comes from the order: join the multicast groups first,
//! then ask for a dump. Any change that happens during or after the dump
//! is queued on the socket as an event and applied after (or between) the
//! dump's parts, in the order the kernel sent them, so the table can never
//! miss the transition we wait for. If the socket's receive buffer
//! overflows (`ENOBUFS`), events were lost: the table is dropped and
//! dumped again.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::state::Table;
use crate::{validate_ifname, Condition, Error, IfState};

// The multicast groups joined: links, and IPv4/IPv6 addresses.
use crate::uapi::{RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK};

/// A live view of one interface, following the kernel's rtnetlink events.
///
/// ```no_run
/// use std::time::Duration;
/// use limina_ifwait::{Condition, IfWatch};
///
/// let mut w = IfWatch::new("eth0", false)?;
/// if w.wait_for(Condition::Running, Some(Duration::from_secs(30)))? {
///     println!("eth0 is running");
/// } else {
///     println!("timed out");
/// }
/// # Ok::<(), limina_ifwait::Error>(())
/// ```
#[derive(Debug)]
pub struct IfWatch {
    socket: Socket,
    ifname: String,
    addresses: bool,
    table: Table,
    seq: u32,
    buf: Vec<u8>,
}

impl IfWatch {
    /// Subscribes to link events (and address events if `addresses`),
    /// then loads the current state with a dump.
    pub fn new(ifname: &str, addresses: bool) -> Result<IfWatch, Error> {
        validate_ifname(ifname)?;
        let nl = |what: &'static str| move |source: std::io::Error| Error::Netlink { what, source };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(nl("socket"))?;
        socket.bind_auto().map_err(nl("bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(nl("connect"))?;
        socket
            .add_membership(RTNLGRP_LINK)
            .map_err(nl("join RTNLGRP_LINK"))?;
        if addresses {
            socket
                .add_membership(RTNLGRP_IPV4_IFADDR)
                .map_err(nl("join RTNLGRP_IPV4_IFADDR"))?;
            socket
                .add_membership(RTNLGRP_IPV6_IFADDR)
                .map_err(nl("join RTNLGRP_IPV6_IFADDR"))?;
        }
        socket
            .set_non_blocking(true)
            .map_err(nl("set non-blocking"))?;
        let mut w = IfWatch {
            socket,
            ifname: ifname.to_owned(),
            addresses,
            table: Table::default(),
            seq: 0,
            buf: vec![0; 64 * 1024],
        };
        w.dump_all()?;
        Ok(w)
    }

    /// The interface's current state, as far as the events read so far tell.
    pub fn state(&self) -> IfState {
        self.table.state(&self.ifname)
    }

    /// The interface name watched.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Waits until `cond` holds (`Ok(true)`) or `timeout` passes
    /// (`Ok(false)`); `None` waits forever.
    pub fn wait_for(&mut self, cond: Condition, timeout: Option<Duration>) -> Result<bool, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.state().holds(cond) {
                return Ok(true);
            }
            if !self.next_events(deadline)? {
                return Ok(false);
            }
        }
    }

    /// Sleeps until events arrive or `deadline` passes; applies all queued
    /// events. Returns `false` on timeout.
    pub fn next_events(&mut self, deadline: Option<Instant>) -> Result<bool, Error> {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so that we never wake just before the deadline.
                PollTimeout::try_from(left + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(deadline.is_none_or(|d| Instant::now() < d)),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(true),
            Err(e) => {
                return Err(Error::Netlink {
                    what: "poll",
                    source: e.into(),
                })
            }
        }
        self.drain(None)?;
        Ok(true)
    }

    /// Reads and applies every queued message; with `until = Some(seq)`,
    /// keeps reading (blocking in poll) until the dump `seq` is done.
    fn drain(&mut self, until: Option<u32>) -> Result<(), Error> {
        loop {
            let n = match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if until.is_none() {
                        return Ok(());
                    }
                    let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                        Err(e) => {
                            return Err(Error::Netlink {
                                what: "poll",
                                source: e.into(),
                            })
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {
                    log::warn!("ifwait: netlink receive buffer overflowed; dumping again");
                    self.table.clear();
                    return self.dump_all();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Netlink {
                        what: "recv",
                        source,
                    })
                }
            };
            if self.apply_buffer(n, until)? {
                return Ok(());
            }
        }
    }

    /// Applies the messages in `buf[..n]`; `true` if the dump `until` ended.
    fn apply_buffer(&mut self, n: usize, until: Option<u32>) -> Result<bool, Error> {
        let mut off = 0;
        let mut done = false;
        while off < n {
            let bytes = &self.buf[off..n];
            let msg: NetlinkMessage<RouteNetlinkMessage> =
                NetlinkMessage::deserialize(bytes).map_err(|e| Error::Decode(e.to_string()))?;
            let len = msg.header.length as usize;
            let ours = until == Some(msg.header.sequence_number);
            match msg.payload {
                NetlinkPayload::InnerMessage(m) => self.table.apply(&m),
                NetlinkPayload::Done(_) if ours => done = true,
                NetlinkPayload::Error(e) if ours => {
                    if let Some(code) = e.code {
                        return Err(Error::Netlink {
                            what: "dump",
                            source: std::io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
        }
        Ok(done)
    }

    fn dump_all(&mut self) -> Result<(), Error> {
        self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        if self.addresses {
            self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
        }
        Ok(())
    }

    fn dump(&mut self, request: RouteNetlinkMessage) -> Result<(), Error> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(request));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0).map_err(|source| Error::Netlink {
            what: "send dump request",
            source,
        })?;
        self.drain(Some(self.seq))
    }
}
