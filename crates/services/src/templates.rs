//! The askama templates (`templates/`), one struct each. Values that go
//! into shell scripts unquoted are checked to be plain words first
//! (device and service names, paths of [`crate::RenderOptions`]); the rest
//! arrive here already quoted.

use askama::Template;

/// What every script starts with.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) path: String,
    pub(crate) outputs_dir: String,
    pub(crate) etc_dir: String,
    pub(crate) state_dir: String,
    pub(crate) service_dir: String,
    pub(crate) applet_dir: String,
}

#[derive(Template)]
#[template(path = "iface.run", escape = "none")]
pub(crate) struct IfaceRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) dev: String,
    pub(crate) bridge: Option<BridgeOpts>,
    pub(crate) vlan: Option<VlanOpts>,
    pub(crate) wait_present: bool,
    pub(crate) mac: Option<String>,
    pub(crate) mtu: Option<u32>,
    pub(crate) master: Option<String>,
    pub(crate) publish_extra: String,
}

pub(crate) struct BridgeOpts {
    pub(crate) stp: u8,
}

pub(crate) struct VlanOpts {
    pub(crate) parent: String,
    pub(crate) id: u32,
}

#[derive(Template)]
#[template(path = "unpublish.finish", escape = "none")]
pub(crate) struct UnpublishFinish<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "exec.run", escape = "none")]
pub(crate) struct ExecRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "log.run", escape = "none")]
pub(crate) struct LogRun<'a> {
    pub(crate) log_dir: &'a str,
    pub(crate) service: &'a str,
}

#[derive(Template)]
#[template(path = "wan-dhcp.run", escape = "none")]
pub(crate) struct WanDhcpRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) dev: String,
    pub(crate) hostname: String,
}

#[derive(Template)]
#[template(path = "wan-static.run", escape = "none")]
pub(crate) struct WanStaticRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) dev: String,
}

/// `etc/carrier/NAME`: what a DHCP or static wan does when its device's
/// carrier comes and goes (run by `ifwait --supervise`).
#[derive(Template)]
#[template(path = "wan-carrier", escape = "none")]
pub(crate) struct WanCarrier<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) dev: String,
    /// DHCP: signal udhcpc; else static: publish/withdraw the outputs.
    pub(crate) dhcp: bool,
    pub(crate) ip: String,
    pub(crate) prefixlen: u8,
    pub(crate) gateway: Option<String>,
    pub(crate) dns: String,
}

#[derive(Template)]
#[template(path = "wan-pppoe.run", escape = "none")]
pub(crate) struct WanPppoeRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) dev: String,
    /// The secret holding the password ("" for none): waited for.
    pub(crate) password_secret: String,
}

#[derive(Template)]
#[template(path = "wan-l2tp.run", escape = "none")]
pub(crate) struct WanL2tpRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    /// The wan whose lease carries the tunnel.
    pub(crate) over: String,
    /// The LNS's address.
    pub(crate) server: String,
    /// The session's interface name (`ifname` in pppd's options).
    pub(crate) ifname: Option<String>,
    /// The secret holding the password ("" for none): waited for.
    pub(crate) password_secret: String,
}

/// `etc/xl2tpd-NAME.conf`: the LAC.
#[derive(Template)]
#[template(path = "xl2tpd.conf", escape = "none")]
pub(crate) struct Xl2tpdConf {
    pub(crate) service: String,
    pub(crate) server: String,
    /// The rendered pppd options (state dir).
    pub(crate) options: String,
}

#[derive(Template)]
#[template(path = "ppp.options.in", escape = "none")]
pub(crate) struct PppOptions<'a> {
    pub(crate) env: &'a Env,
    pub(crate) service: String,
    pub(crate) dev: String,
    pub(crate) pppoe_service: Option<String>,
    /// Started by xl2tpd (no plugin, no persist) rather than on its own.
    pub(crate) l2tp: bool,
    pub(crate) ifname: Option<String>,
    pub(crate) username: String,
    pub(crate) password_secret: String,
    pub(crate) mtu: u32,
    pub(crate) ipv6: bool,
}

#[derive(Template)]
#[template(path = "route.apply", escape = "none")]
pub(crate) struct RouteApply<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) destination: String,
    pub(crate) wan: String,
    pub(crate) family: &'static str,
    pub(crate) metric: u32,
}

#[derive(Template)]
#[template(path = "exec.script", escape = "none")]
pub(crate) struct Script<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "firewall-sets.apply", escape = "none")]
pub(crate) struct FirewallSetsApply<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) wans: Vec<String>,
    pub(crate) nat: bool,
}

#[derive(Template)]
#[template(path = "dnsmasq-upstream.apply", escape = "none")]
pub(crate) struct DnsmasqUpstreamApply<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) wan: String,
}

#[derive(Template)]
#[template(path = "hostapd.run", escape = "none")]
pub(crate) struct HostapdRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) name: String,
    pub(crate) dev: String,
    pub(crate) secret: String,
    pub(crate) ssid_comment: String,
}

#[derive(Template)]
#[template(path = "watcher.finish", escape = "none")]
pub(crate) struct WatcherFinish<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) pidfile: String,
}

#[derive(Template)]
#[template(path = "hostapd.conf.in", escape = "none")]
pub(crate) struct HostapdConf {
    pub(crate) name: String,
    pub(crate) dev: String,
    pub(crate) bridge: Option<String>,
    pub(crate) ssid_hex: String,
    pub(crate) country: String,
    pub(crate) hw_mode: &'static str,
    pub(crate) channel: u32,
    pub(crate) five_ghz: bool,
    pub(crate) secret: String,
}

#[derive(Template)]
#[template(path = "ntp.run", escape = "none")]
pub(crate) struct NtpRun<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) servers: Vec<String>,
    pub(crate) from_dhcp: Option<String>,
    pub(crate) from_dhcp_name: String,
    pub(crate) wait_for_servers: bool,
    pub(crate) serve: bool,
}

#[derive(Template)]
#[template(path = "mount.apply", escape = "none")]
pub(crate) struct MountApply<'a> {
    pub(crate) env: &'a Env,
    pub(crate) origin: String,
    pub(crate) service: String,
    pub(crate) label: String,
    pub(crate) label_comment: String,
    pub(crate) at: String,
    pub(crate) fstype: Option<String>,
    pub(crate) options: Option<String>,
}

#[derive(Template)]
#[template(path = "firewall.nft", escape = "none")]
pub(crate) struct FirewallNft {
    pub(crate) lan_devices: String,
    pub(crate) dhcpv6_client: bool,
    pub(crate) input_wan: Vec<String>,
    pub(crate) forward: bool,
    pub(crate) nat: bool,
}

pub(crate) struct DnsmasqLan {
    pub(crate) name: String,
    pub(crate) dev: String,
    pub(crate) domain: Option<String>,
    pub(crate) subnet: String,
    pub(crate) range: Option<String>,
    pub(crate) hosts: Vec<String>,
    pub(crate) v6_range: Option<String>,
}

#[derive(Template)]
#[template(path = "dnsmasq.conf", escape = "none")]
pub(crate) struct DnsmasqConf {
    pub(crate) resolv_file: Option<String>,
    pub(crate) lease_file: String,
    pub(crate) lans: Vec<DnsmasqLan>,
    pub(crate) enable_ra: bool,
}
