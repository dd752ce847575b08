//! The router file's schema, as serde reads it.
//!
//! Every table denies unknown keys, and every value that a later check may
//! complain about is [`Spanned`], so that the complaint can name the line
//! and column it came from. The types say only what TOML can say (a string,
//! an integer, one of a few words); what the values mean (a CIDR, a name
//! that exists elsewhere in the file) is checked by [`crate::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

/// A name of a table (`[link.NAME]`), with where it was written.
pub type Name = Spanned<String>;

/// The whole router file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// `[system]`: required.
    pub system: Spanned<System>,
    /// `[link.NAME]`: physical devices.
    #[serde(default)]
    pub link: BTreeMap<Name, Spanned<Link>>,
    /// `[bridge.NAME]`: bridges made by the router.
    #[serde(default)]
    pub bridge: BTreeMap<Name, Spanned<Bridge>>,
    /// `[vlan.NAME]`: 802.1Q devices on a link or bridge.
    #[serde(default)]
    pub vlan: BTreeMap<Name, Spanned<Vlan>>,
    /// `[address.NAME]`: static addresses.
    #[serde(default)]
    pub address: BTreeMap<Name, Spanned<Address>>,
    /// `[route.NAME]`: static routes.
    #[serde(default)]
    pub route: BTreeMap<Name, Spanned<Route>>,
    /// `[wan.NAME]`: upstream connections.
    #[serde(default)]
    pub wan: BTreeMap<Name, Spanned<Wan>>,
    /// `[lan.NAME]`: networks served by dnsmasq.
    #[serde(default)]
    pub lan: BTreeMap<Name, Spanned<Lan>>,
    /// `[wifi.NAME]`: access points (hostapd).
    #[serde(default)]
    pub wifi: BTreeMap<Name, Spanned<Wifi>>,
    /// `[firewall]`: the nftables ruleset.
    pub firewall: Option<Spanned<Firewall>>,
    /// `[ntp]`: busybox ntpd.
    pub ntp: Option<Spanned<Ntp>>,
    /// `[ssh]`: settings for the image's dropbear.
    pub ssh: Option<Spanned<Ssh>>,
    /// `[secrets]`: the file of secrets kept out of the image.
    pub secrets: Option<Spanned<Secrets>>,
    /// `[watchdog]`: the ratchet and what it watches.
    pub watchdog: Option<Spanned<Watchdog>>,
    /// `[mount.NAME]`: file systems mounted when their device appears.
    #[serde(default)]
    pub mount: BTreeMap<Name, Spanned<Mount>>,
}

/// `[system]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// The host name (also sent in DHCP requests).
    pub hostname: Spanned<String>,
}

/// `[link.NAME]`: a device that exists on its own (a NIC, a switch port).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The kernel's name for it, e.g. `eth0`.
    pub device: Spanned<String>,
    /// MTU to set.
    pub mtu: Option<Spanned<u32>>,
    /// MAC address to set, `xx:xx:xx:xx:xx:xx`.
    pub mac: Option<Spanned<String>>,
}

/// `[bridge.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// Device name; default `br-NAME`.
    pub device: Option<Spanned<String>>,
    /// Link or vlan names enslaved to the bridge.
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    /// MTU to set.
    pub mtu: Option<Spanned<u32>>,
    /// Spanning tree protocol; default off.
    #[serde(default)]
    pub stp: bool,
}

/// `[vlan.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// The link or bridge it sits on.
    pub parent: Spanned<String>,
    /// VLAN id, 1..4094.
    pub id: Spanned<u32>,
    /// Device name; default `<parent device>.<id>`.
    pub device: Option<Spanned<String>>,
}

/// `[address.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Link, bridge or vlan name.
    pub interface: Spanned<String>,
    /// IPv4 or IPv6 address with prefix length.
    pub address: Spanned<String>,
}

/// `[route.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination network (CIDR).
    pub destination: Spanned<String>,
    /// A static gateway (inside an `[address]` subnet).
    pub gateway: Option<Spanned<String>>,
    /// A wan name: the gateway is its `router` output, or out of its
    /// `ifname` when it has none (PPP).
    pub via: Option<Spanned<String>>,
    /// Route metric.
    pub metric: Option<Spanned<u32>>,
}

/// How a wan gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// busybox udhcpc.
    Dhcp,
    /// pppd with the kernel-mode PPPoE plugin.
    Pppoe,
    /// L2TP (accepted by the schema, not rendered yet).
    L2tp,
    /// Addresses written in the file.
    Static,
}

impl Protocol {
    /// The word used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Dhcp => "dhcp",
            Protocol::Pppoe => "pppoe",
            Protocol::L2tp => "l2tp",
            Protocol::Static => "static",
        }
    }
}

/// A value kept in the secrets file, `{ secret = "NAME" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The key in the secrets file (and the `secrets` service's outputs).
    pub secret: Spanned<String>,
}

/// `[wan.NAME]`: the keys of every protocol; which ones apply is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wan {
    /// Link or vlan name.
    pub interface: Spanned<String>,
    /// dhcp, pppoe, l2tp or static.
    pub protocol: Spanned<Protocol>,
    /// Metric of the default route.
    pub metric: Option<Spanned<u32>>,
    /// static: the address with prefix length.
    pub address: Option<Spanned<String>>,
    /// static: the default gateway.
    pub gateway: Option<Spanned<String>>,
    /// static: DNS servers.
    pub dns: Option<Spanned<Vec<Spanned<String>>>>,
    /// pppoe, l2tp: user name.
    pub username: Option<Spanned<String>>,
    /// pppoe, l2tp: password, from the secrets file.
    pub password: Option<Spanned<SecretRef>>,
    /// pppoe: MTU and MRU of the session.
    pub mtu: Option<Spanned<u32>>,
    /// pppoe: the access concentrator's service name.
    pub service: Option<Spanned<String>>,
    /// l2tp: the LNS.
    pub server: Option<Spanned<String>>,
    /// l2tp: the wan whose DHCP lease carries the tunnel.
    pub over: Option<Spanned<String>>,
    /// `[wan.NAME.ipv6]`: DHCPv6 with odhcp6c.
    pub ipv6: Option<Spanned<WanIpv6>>,
}

/// `[wan.NAME.ipv6]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WanIpv6 {
    /// Ask for a delegated prefix (IA_PD).
    #[serde(default)]
    pub prefix_delegation: bool,
    /// Prefix length hint, e.g. 56.
    pub prefix_length: Option<Spanned<u32>>,
}

/// `[lan.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lan {
    /// Link, bridge or vlan name, with a static IPv4 `[address]`.
    pub interface: Spanned<String>,
    /// First and last DHCP address.
    pub dhcp_range: Option<Spanned<Vec<Spanned<String>>>>,
    /// DHCP lease time, dnsmasq syntax (`12h`, `30m`, `infinite`).
    pub lease_time: Option<Spanned<String>>,
    /// Local domain.
    pub domain: Option<Spanned<String>>,
    /// Fixed leases.
    #[serde(default)]
    pub static_leases: Vec<Spanned<StaticLease>>,
    /// A wan name whose `dns` output is the upstream DNS.
    pub dns_from: Option<Spanned<String>>,
    /// IPv6 on this LAN from a delegated prefix.
    pub ipv6: Option<Spanned<LanIpv6>>,
}

/// One `static_leases` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticLease {
    /// Client MAC.
    pub mac: Spanned<String>,
    /// Its IPv4 address.
    pub ip: Spanned<String>,
    /// Its host name.
    pub name: Option<Spanned<String>>,
}

/// `ipv6 = { ... }` of a `[lan]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanIpv6 {
    /// The wan whose DHCPv6 prefix is delegated.
    pub prefix_from: Spanned<String>,
    /// Subnet number inside the prefix (hex digits as in the address).
    pub subnet: Option<Spanned<u32>>,
    /// Send router advertisements; default true.
    #[serde(default = "yes")]
    pub ra: bool,
    /// Hand out DHCPv6 addresses; default false.
    #[serde(default)]
    pub dhcpv6: bool,
}

fn yes() -> bool {
    true
}

/// Wi-Fi band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Band {
    /// 2.4 GHz.
    #[serde(rename = "2g")]
    G2,
    /// 5 GHz.
    #[serde(rename = "5g")]
    G5,
}

/// `[wifi.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wifi {
    /// The radio's device, e.g. `wlan0`.
    pub device: Spanned<String>,
    /// Bridge name to put it in.
    pub bridge: Option<Spanned<String>>,
    /// Network name, 1..32 bytes.
    pub ssid: Spanned<String>,
    /// WPA2 passphrase, from the secrets file.
    pub psk: Spanned<SecretRef>,
    /// ISO 3166 alpha-2 country code.
    pub country: Spanned<String>,
    /// 2g or 5g.
    pub band: Spanned<Band>,
    /// Channel; default 6 (2g) or 36 (5g).
    pub channel: Option<Spanned<u32>>,
}

/// `[firewall]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// Wan names: their `ifname` outputs fill `wan_ifaces`.
    #[serde(default)]
    pub wan: Vec<Spanned<String>>,
    /// Link, bridge or vlan names: `lan_ifaces`.
    #[serde(default)]
    pub lan: Vec<Spanned<String>>,
    /// Masquerade out of the wan zone; default true.
    #[serde(default = "yes")]
    pub nat: bool,
    /// Forward lan→wan and turn on IP forwarding; default true.
    #[serde(default = "yes")]
    pub forward: bool,
    /// Ports open on the wan side.
    #[serde(default)]
    pub input_wan: Vec<Spanned<Port>>,
}

/// Transport protocol of an open port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// One `input_wan` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// tcp or udp.
    pub protocol: Transport,
    /// Port number.
    pub port: Spanned<u32>,
}

/// `[ntp]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ntp {
    /// Server names.
    #[serde(default)]
    pub servers: Vec<Spanned<String>>,
    /// A wan whose `ntp` output adds servers.
    pub from_dhcp: Option<Spanned<String>>,
    /// Answer NTP requests too.
    #[serde(default)]
    pub serve: bool,
}

/// `[ssh]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// Lines of `authorized_keys`.
    #[serde(default)]
    pub authorized_keys: Vec<Spanned<String>>,
    /// Listening port; default 22.
    pub port: Option<Spanned<u32>>,
    /// Allow password logins; default false.
    #[serde(default)]
    pub password_auth: bool,
}

/// `[secrets]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Absolute path of the `KEY=VALUE` file on the device.
    pub file: Spanned<String>,
}

/// `[watchdog]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watchdog {
    /// Longrun services that must stay ready.
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Seconds of grace after boot; default 60 (the applet's).
    pub head_start: Option<Spanned<u32>>,
    /// Hardware timeout in seconds; default the driver's.
    pub timeout: Option<Spanned<u32>>,
}

/// `[mount.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// File system label to look for.
    pub label: Spanned<String>,
    /// Mount point (absolute).
    pub at: Spanned<String>,
    /// File system type; default auto.
    pub fstype: Option<Spanned<String>>,
    /// Mount options, e.g. `ro`.
    pub options: Option<Spanned<String>>,
}
