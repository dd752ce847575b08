//! The rendered tree: s6-rc source definitions, the scripts and config
//! files they call, `graph.dot` and `outputs.txt`.
//!
//! Everything is rendered in memory first and written into a temporary
//! sibling of OUTDIR that is renamed at the end, so a mistake in the
//! router file, or a failed write, leaves nothing behind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use askama::Template;

use crate::config::{Band, Protocol, Router, Transport};
use crate::error::RenderError;
use crate::graph::{log_name, pipeline_name, Graph, Kind, Origin, Service};
use crate::templates as t;
use crate::validate::Cidr;

/// Where the rendered tree will live on the device, and what the scripts
/// may rely on. Every path is absolute and made of plain characters
/// (letters, digits, `/ . _ + -`): scripts use them unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Where `OUTDIR/etc` is installed (`--etc-dir`); the oneshots' `up`
    /// and `down` call scripts under it.
    pub etc_dir: String,
    /// The outputs store, exported as `LIMINA_OUTPUTS_DIR` by every script
    /// (`--outputs-dir`).
    pub outputs_dir: String,
    /// Loggers write to `LOG_DIR/<service>` (`--log-dir`).
    pub log_dir: String,
    /// s6's scan directory, where s6-rc puts the live longruns
    /// (`--service-dir`): `watchdog --ready` and `watch-outputs -r` use it.
    pub service_dir: String,
    /// Files made at run time: rendered hostapd and pppd configs, dnsmasq's
    /// resolv and lease files (`--state-dir`).
    pub state_dir: String,
    /// Where the `limina` applets are, for the hooks other programs call by
    /// path (`udhcpc -s`, odhcp6c, pppd) (`--applet-dir`).
    pub applet_dir: String,
    /// `PATH` of every script (`--path`).
    pub path: String,
    /// Services outside the rendered tree (the image's own) that every
    /// rendered service and logger starts after (`--after NAME`), e.g. the
    /// one that mounts /proc, /run and the log directory.
    pub after: Vec<String>,
    /// `(DIR, SERVICE)` (`--mount DIR=SERVICE`): a service that reads a
    /// file under DIR (the `[secrets]` file) also starts after SERVICE,
    /// the one that mounts DIR.
    pub mounts: Vec<(String, String)>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            etc_dir: "/etc/limina/router".into(),
            outputs_dir: "/run/services/outputs".into(),
            log_dir: "/var/log".into(),
            service_dir: "/run/service".into(),
            state_dir: "/run/limina/router".into(),
            applet_dir: "/usr/bin".into(),
            path: "/usr/bin:/usr/sbin:/bin:/sbin".into(),
            after: Vec::new(),
            mounts: Vec::new(),
        }
    }
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its contents.
    pub contents: String,
    /// Mode 0755 rather than 0644.
    pub executable: bool,
}

/// A rendered tree: relative path → file. Directories are implied (an
/// empty directory never occurs: `dependencies.d` entries are files).
pub type Tree = BTreeMap<PathBuf, File>;

/// Single-quotes `s` for sh unless it is a plain word.
pub(crate) fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `s` as one word of a pppd options file: double-quoted, with the
/// backslash and the double quote escaped (inside quotes pppd reads `\s`
/// as a space, `\t` as a tab, `\123` as an octal byte, ...).
pub(crate) fn ppp_word(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A service name as s6-rc takes it: letters, digits, `-`, `_`, `.`, not
/// starting with a dot.
fn plain_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with('.')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn plain_path(p: &str) -> bool {
    p.starts_with('/')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
}

fn plain_path_list(p: &str) -> bool {
    !p.is_empty() && p.split(':').all(plain_path)
}

struct Out<'a> {
    tree: Tree,
    env: &'a t::Env,
    opts: &'a RenderOptions,
}

impl Out<'_> {
    fn put(&mut self, path: impl Into<PathBuf>, contents: impl Into<String>, executable: bool) {
        self.tree.insert(
            path.into(),
            File {
                contents: contents.into(),
                executable,
            },
        );
    }

    fn tpl(
        &mut self,
        path: impl Into<PathBuf>,
        tpl: &impl Template,
        executable: bool,
    ) -> Result<(), RenderError> {
        let path = path.into();
        let mut contents = tpl.render().map_err(|source| RenderError::Template {
            name: path.display().to_string(),
            source,
        })?;
        // askama drops a template's last newline.
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
        self.put(path, contents, executable);
        Ok(())
    }

    /// `etc/PATH` and the device path it will have.
    fn etc(&self, rel: &str) -> (PathBuf, String) {
        (
            PathBuf::from("etc").join(rel),
            format!("{}/{rel}", self.opts.etc_dir),
        )
    }

    fn exec(
        &mut self,
        path: impl Into<PathBuf>,
        origin: &str,
        lines: Vec<String>,
    ) -> Result<(), RenderError> {
        let tpl = t::ExecRun {
            env: self.env,
            origin: origin.to_string(),
            lines,
        };
        self.tpl(path, &tpl, true)
    }

    fn unpublish_finish(
        &mut self,
        svc: &str,
        origin: &str,
        lines: Vec<String>,
    ) -> Result<(), RenderError> {
        let tpl = t::UnpublishFinish {
            env: self.env,
            origin: origin.to_string(),
            service: svc.to_string(),
            lines,
        };
        self.tpl(format!("s6-rc/{svc}/finish"), &tpl, true)
    }
}

/// Renders `router` with `opts` in memory.
pub fn render(router: &Router, opts: &RenderOptions) -> Result<Tree, RenderError> {
    let bad = [
        ("--etc-dir", &opts.etc_dir),
        ("--outputs-dir", &opts.outputs_dir),
        ("--log-dir", &opts.log_dir),
        ("--service-dir", &opts.service_dir),
        ("--state-dir", &opts.state_dir),
        ("--applet-dir", &opts.applet_dir),
    ]
    .into_iter()
    .find(|(_, p)| !plain_path(p))
    .map(|(flag, p)| (flag, p.clone()))
    .or_else(|| (!plain_path_list(&opts.path)).then(|| ("--path", opts.path.clone())));
    if let Some((flag, value)) = bad {
        return Err(RenderError::Options { flag, value });
    }
    if let Some((d, _)) = opts.mounts.iter().find(|(d, _)| !plain_path(d)) {
        return Err(RenderError::Options {
            flag: "--mount",
            value: d.clone(),
        });
    }
    let names = opts.after.iter().map(|n| ("--after", n));
    let names = names.chain(opts.mounts.iter().map(|(_, n)| ("--mount", n)));
    if let Some((flag, n)) = names.into_iter().find(|(_, n)| !plain_name(n)) {
        return Err(RenderError::ServiceOption {
            flag,
            value: n.clone(),
        });
    }
    let env = t::Env {
        path: opts.path.clone(),
        outputs_dir: opts.outputs_dir.clone(),
        etc_dir: opts.etc_dir.clone(),
        state_dir: opts.state_dir.clone(),
        service_dir: opts.service_dir.clone(),
        applet_dir: opts.applet_dir.clone(),
    };
    let graph = Graph::build(router);
    let mut out = Out {
        tree: Tree::new(),
        env: &env,
        opts,
    };
    for svc in graph.services.values() {
        definition(&mut out, router, svc)?;
        scripts(&mut out, router, svc)?;
    }
    config_files(&mut out, router)?;
    out.put("graph.dot", graph.dot(), false);
    out.put("outputs.txt", graph.outputs_txt(), false);
    Ok(out.tree)
}

/// The s6-rc source definition of `svc` (and its logger), without the
/// scripts.
fn definition(out: &mut Out<'_>, r: &Router, svc: &Service) -> Result<(), RenderError> {
    let dir = PathBuf::from("s6-rc").join(&svc.name);
    out.put(dir.join("type"), format!("{}\n", svc.kind.as_str()), false);
    for d in &svc.dependencies {
        out.put(dir.join("dependencies.d").join(d), "", false);
    }
    if svc.kind != Kind::Bundle {
        for d in &out.opts.after {
            out.put(dir.join("dependencies.d").join(d), "", false);
        }
    }
    if svc.origin == Origin::Secrets {
        let file = r.secrets.as_ref().map(|s| s.get_ref().file.get_ref());
        for (mdir, mservice) in &out.opts.mounts {
            let under = file
                .is_some_and(|f| Path::new(f).starts_with(mdir) && Path::new(f) != Path::new(mdir));
            if under {
                out.put(dir.join("dependencies.d").join(mservice), "", false);
            }
        }
    }
    match svc.kind {
        Kind::Bundle => {
            for c in &svc.contents {
                out.put(dir.join("contents.d").join(c), "", false);
            }
        }
        Kind::Oneshot => {
            let (_, up) = out.etc(&format!("up/{}", svc.name));
            out.put(dir.join("up"), format!("{up}\n"), false);
            let (_, down) = out.etc(&format!("down/{}", svc.name));
            out.put(dir.join("down"), format!("{down}\n"), false);
        }
        Kind::Longrun => {
            if svc.readiness {
                out.put(dir.join("notification-fd"), "3\n", false);
            }
            let log = log_name(&svc.name);
            out.put(dir.join("producer-for"), format!("{log}\n"), false);
            let ldir = PathBuf::from("s6-rc").join(&log);
            out.put(ldir.join("type"), "longrun\n", false);
            out.put(ldir.join("consumer-for"), format!("{}\n", svc.name), false);
            out.put(
                ldir.join("pipeline-name"),
                format!("{}\n", pipeline_name(&svc.name)),
                false,
            );
            out.put(ldir.join("notification-fd"), "3\n", false);
            for d in &out.opts.after {
                out.put(ldir.join("dependencies.d").join(d), "", false);
            }
            let run = t::LogRun {
                log_dir: &out.opts.log_dir,
                service: &svc.name,
            };
            out.tpl(ldir.join("run"), &run, true)?;
        }
    }
    Ok(())
}

fn lookup<'a, T>(
    map: &'a BTreeMap<serde_spanned::Spanned<String>, serde_spanned::Spanned<T>>,
    name: &str,
) -> &'a T {
    map.iter()
        .find(|(k, _)| k.get_ref() == name)
        .map(|(_, v)| v.get_ref())
        .expect("the graph is built from the router's own tables")
}

/// The run/finish scripts of a longrun, the up/down scripts of a oneshot.
fn scripts(out: &mut Out<'_>, r: &Router, svc: &Service) -> Result<(), RenderError> {
    let name = svc.name.as_str();
    let run = format!("s6-rc/{name}/run");
    match &svc.origin {
        Origin::Bundle => {}
        Origin::Link(n) => {
            let l = lookup(&r.link, n);
            let tpl = t::IfaceRun {
                env: out.env,
                origin: format!("[link.{n}]"),
                service: name.to_string(),
                dev: l.device.get_ref().clone(),
                bridge: None,
                vlan: None,
                wait_present: true,
                mac: l.mac.as_ref().map(|m| m.get_ref().to_ascii_lowercase()),
                mtu: l.mtu.as_ref().map(|m| *m.get_ref()),
                master: r.bridge_of(n).and_then(|b| r.device(b)),
                publish_extra: "mtu=\"$(cat \"/sys/class/net/$dev/mtu\")\" mac=\"$(cat \"/sys/class/net/$dev/address\")\" ".into(),
            };
            out.tpl(&run, &tpl, true)?;
            out.unpublish_finish(name, &format!("[link.{n}]"), vec![])?;
        }
        Origin::Bridge(n) => {
            let b = lookup(&r.bridge, n);
            let tpl = t::IfaceRun {
                env: out.env,
                origin: format!("[bridge.{n}]"),
                service: name.to_string(),
                dev: r.device(n).unwrap_or_default(),
                bridge: Some(t::BridgeOpts {
                    stp: u8::from(b.stp),
                }),
                vlan: None,
                wait_present: false,
                mac: None,
                mtu: b.mtu.as_ref().map(|m| *m.get_ref()),
                master: None,
                publish_extra: String::new(),
            };
            out.tpl(&run, &tpl, true)?;
            out.unpublish_finish(name, &format!("[bridge.{n}]"), vec![])?;
        }
        Origin::Vlan(n) => {
            let v = lookup(&r.vlan, n);
            let tpl = t::IfaceRun {
                env: out.env,
                origin: format!("[vlan.{n}]"),
                service: name.to_string(),
                dev: r.device(n).unwrap_or_default(),
                bridge: None,
                vlan: Some(t::VlanOpts {
                    parent: r.device(v.parent.get_ref()).unwrap_or_default(),
                    id: *v.id.get_ref(),
                }),
                wait_present: false,
                mac: None,
                mtu: None,
                master: r.bridge_of(n).and_then(|b| r.device(b)),
                publish_extra: format!("id={} ", v.id.get_ref()),
            };
            out.tpl(&run, &tpl, true)?;
            out.unpublish_finish(name, &format!("[vlan.{n}]"), vec![])?;
        }
        Origin::Address(n) => {
            let a = lookup(&r.address, n);
            let dev = r.device(a.interface.get_ref()).unwrap_or_default();
            let addr = a.address.get_ref();
            let v4 = Cidr::parse(addr).is_some_and(|c| c.addr.is_ipv4());
            let origin = format!("[address.{n}]");
            oneshot(
                out,
                name,
                &origin,
                vec![format!(
                    "exec ip addr replace {addr}{} dev {dev}",
                    if v4 { " broadcast +" } else { "" }
                )],
                vec![
                    format!("ip addr del {addr} dev {dev} 2>/dev/null"),
                    "exit 0".into(),
                ],
            )?;
        }
        Origin::Route(n) => {
            let rt = lookup(&r.route, n);
            let dest = rt.destination.get_ref();
            let metric = rt.metric.as_ref().map_or(0, |m| *m.get_ref());
            let v6 = Cidr::parse(dest).is_some_and(|c| c.addr.is_ipv6());
            let family = if v6 { "-6" } else { "-4" };
            let origin = format!("[route.{n}]");
            match (&rt.via, &rt.gateway) {
                (Some(w), _) => {
                    let w = w.get_ref();
                    let rel = format!("route-{n}");
                    let (path, dev_path) = out.etc(&rel);
                    let tpl = t::RouteApply {
                        env: out.env,
                        origin: origin.clone(),
                        destination: dest.clone(),
                        wan: w.clone(),
                        family,
                        metric,
                    };
                    out.tpl(path, &tpl, true)?;
                    out.exec(
                        &run,
                        &origin,
                        vec![
                            format!("{dev_path}"),
                            format!("exec watch-outputs {w}/ifname {w}/router acquired-{w} -- {dev_path}"),
                        ],
                    )?;
                    out.exec(
                        format!("s6-rc/{name}/finish"),
                        &origin,
                        vec![format!("exec {dev_path} down")],
                    )?;
                }
                (None, gw) => {
                    let gw = gw.as_ref().map(|g| g.get_ref().clone()).unwrap_or_default();
                    oneshot(
                        out,
                        name,
                        &origin,
                        vec![format!(
                            "exec ip {family} route replace {dest} via {gw} metric {metric}"
                        )],
                        vec![
                            format!(
                                "ip {family} route del {dest} via {gw} metric {metric} 2>/dev/null"
                            ),
                            "exit 0".into(),
                        ],
                    )?;
                }
            }
        }
        Origin::Wan(n) => {
            let w = lookup(&r.wan, n);
            let dev = r.device(w.interface.get_ref()).unwrap_or_default();
            let origin = format!("[wan.{n}]");
            let mut finish = vec![];
            match w.protocol.get_ref() {
                Protocol::Dhcp => {
                    let tpl = t::WanDhcpRun {
                        env: out.env,
                        origin: origin.clone(),
                        service: n.clone(),
                        dev: dev.clone(),
                        hostname: r.system.get_ref().hostname.get_ref().clone(),
                    };
                    out.tpl(&run, &tpl, true)?;
                    let carrier = t::WanCarrier {
                        env: out.env,
                        origin: origin.clone(),
                        service: n.clone(),
                        dev,
                        dhcp: true,
                        ip: String::new(),
                        prefixlen: 0,
                        gateway: None,
                        dns: String::new(),
                    };
                    let (path, _) = out.etc(&format!("carrier/{n}"));
                    out.tpl(path, &carrier, true)?;
                    // The carrier watcher runs beside udhcpc.
                    finish = vec![
                        format!("pidfile={}/{n}.watch", out.opts.state_dir),
                        "if [ -f \"$pidfile\" ]; then".into(),
                        "\tkill \"$(cat \"$pidfile\")\" 2>/dev/null".into(),
                        "\trm -f \"$pidfile\"".into(),
                        "fi".into(),
                    ];
                }
                Protocol::Static => {
                    let cidr = w.address.as_ref().and_then(|a| Cidr::parse(a.get_ref()));
                    let tpl = t::WanStaticRun {
                        env: out.env,
                        origin: origin.clone(),
                        service: n.clone(),
                        dev: dev.clone(),
                    };
                    out.tpl(&run, &tpl, true)?;
                    let carrier = t::WanCarrier {
                        env: out.env,
                        origin: origin.clone(),
                        service: n.clone(),
                        dev,
                        dhcp: false,
                        ip: cidr.map(|c| c.addr.to_string()).unwrap_or_default(),
                        prefixlen: cidr.map_or(0, |c| c.len),
                        gateway: w.gateway.as_ref().map(|g| g.get_ref().clone()),
                        dns: w
                            .dns
                            .as_ref()
                            .map(|d| {
                                d.get_ref()
                                    .iter()
                                    .map(|s| s.get_ref().as_str())
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .unwrap_or_default(),
                    };
                    let (path, _) = out.etc(&format!("carrier/{n}"));
                    out.tpl(path, &carrier, true)?;
                }
                Protocol::Pppoe | Protocol::L2tp => {
                    let password_secret = w
                        .password
                        .as_ref()
                        .map(|p| p.get_ref().secret.get_ref().clone())
                        .unwrap_or_default();
                    let l2tp = *w.protocol.get_ref() == Protocol::L2tp;
                    if l2tp {
                        let server = w
                            .server
                            .as_ref()
                            .map(|s| s.get_ref().clone())
                            .unwrap_or_default();
                        let tpl = t::WanL2tpRun {
                            env: out.env,
                            origin: origin.clone(),
                            service: n.clone(),
                            over: w
                                .over
                                .as_ref()
                                .map(|o| o.get_ref().clone())
                                .unwrap_or_default(),
                            server: server.clone(),
                            ifname: Some(format!("ppp-{n}")).filter(|i| i.len() <= 15),
                            password_secret: password_secret.clone(),
                        };
                        out.tpl(&run, &tpl, true)?;
                        let conf = t::Xl2tpdConf {
                            service: n.clone(),
                            server,
                            options: format!("{}/ppp-{n}.options", out.opts.state_dir),
                        };
                        let (path, _) = out.etc(&format!("xl2tpd-{n}.conf"));
                        out.tpl(path, &conf, false)?;
                    } else {
                        let tpl = t::WanPppoeRun {
                            env: out.env,
                            origin: origin.clone(),
                            service: n.clone(),
                            dev: dev.clone(),
                            password_secret: password_secret.clone(),
                        };
                        out.tpl(&run, &tpl, true)?;
                    }
                    let ifname = format!("ppp-{n}");
                    let opts = t::PppOptions {
                        env: out.env,
                        service: n.clone(),
                        dev,
                        pppoe_service: w.service.as_ref().map(|s| ppp_word(s.get_ref())),
                        l2tp,
                        ifname: (ifname.len() <= 15).then_some(ifname),
                        username: ppp_word(
                            w.username.as_ref().map_or("", |u| u.get_ref().as_str()),
                        ),
                        password_secret,
                        // L2TP over Ethernet: IP 20 + UDP 8 + L2TP up to 16
                        // + PPP 2 bytes, rounded down as xl2tpd's examples do.
                        mtu: w
                            .mtu
                            .as_ref()
                            .map_or(if l2tp { 1400 } else { 1492 }, |m| *m.get_ref()),
                        ipv6: w.ipv6.is_some(),
                    };
                    let (path, _) = out.etc(&format!("ppp-{n}.options.in"));
                    out.tpl(path, &opts, false)?;
                }
            }
            out.unpublish_finish(name, &origin, finish)?;
        }
        Origin::WanServerRoute(n) => {
            let w = lookup(&r.wan, n);
            let over = w
                .over
                .as_ref()
                .map(|o| o.get_ref().clone())
                .unwrap_or_default();
            let server = w
                .server
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let origin = format!("[wan.{n}] server");
            let (path, dev_path) = out.etc(&format!("{n}-server-route"));
            // A host route: more specific than any default route, so the
            // tunnel's packets keep going out of {over} when the default
            // route moves into the tunnel.
            let tpl = t::RouteApply {
                env: out.env,
                origin: origin.clone(),
                destination: format!("{server}/32"),
                wan: over.clone(),
                family: "-4",
                metric: 0,
            };
            out.tpl(path, &tpl, true)?;
            out.exec(
                &run,
                &origin,
                vec![
                    dev_path.clone(),
                    format!(
                        "exec watch-outputs {over}/ifname {over}/router acquired-{over} -- {dev_path}"
                    ),
                ],
            )?;
            out.exec(
                format!("s6-rc/{name}/finish"),
                &origin,
                vec![format!("exec {dev_path} down")],
            )?;
        }
        Origin::WanAddress(n) => {
            let w = lookup(&r.wan, n);
            let metric = w
                .metric
                .as_ref()
                .map(|m| format!(" -m {}", m.get_ref()))
                .unwrap_or_default();
            let origin = format!("[wan.{n}]");
            out.exec(
                &run,
                &origin,
                vec![format!("exec acquire-wan-address -w{metric} -n 3 {n}")],
            )?;
            out.exec(
                format!("s6-rc/{name}/finish"),
                &origin,
                vec![format!("exec acquire-wan-address -x {n}")],
            )?;
        }
        Origin::WanV6(n) => {
            let w = lookup(&r.wan, n);
            let origin = format!("[wan.{n}.ipv6]");
            let v6 = w.ipv6.as_ref().map(|v| v.get_ref());
            let pd = match v6 {
                Some(v) if v.prefix_delegation => {
                    format!(
                        " -P {}",
                        v.prefix_length.as_ref().map_or(0, |l| *l.get_ref())
                    )
                }
                _ => String::new(),
            };
            let mut lines = vec![
                format!("LIMINA_OUTPUTS_SERVICE={name}"),
                "export LIMINA_OUTPUTS_SERVICE".into(),
                "LIMINA_READY_FD=3".into(),
                "export LIMINA_READY_FD".into(),
            ];
            match w.protocol.get_ref() {
                Protocol::Pppoe | Protocol::L2tp => {
                    lines.push(format!("dev=$(output {n} ifname) || exit 1"))
                }
                _ => lines.push(format!(
                    "dev={}",
                    r.device(w.interface.get_ref()).unwrap_or_default()
                )),
            }
            lines.push("# Forwarding is on: accept router advertisements all the same.".into());
            lines.push("sysctl -w \"net.ipv6.conf.$dev.accept_ra=2\" >/dev/null || exit 1".into());
            lines.push(
                "# A usable link-local address first: odhcp6c cannot send its first RS or bind its"
                    .into(),
            );
            lines.push("# DHCPv6 socket while it is tentative (DAD).".into());
            lines.push("ifwait \"$dev\" ipv6 || exit 1".into());
            lines.push(format!(
                "exec odhcp6c -e -s {}/odhcp6c-script{pd} \"$dev\"",
                out.opts.applet_dir
            ));
            out.exec(&run, &origin, lines)?;
            out.unpublish_finish(name, &origin, vec![])?;
        }
        Origin::WanV6Address(n) => {
            let origin = format!("[wan.{n}.ipv6]");
            out.exec(
                &run,
                &origin,
                vec![format!("exec acquire-wan-address -w -R -n 3 {n}-v6")],
            )?;
            out.exec(
                format!("s6-rc/{name}/finish"),
                &origin,
                vec![format!("exec acquire-wan-address -x {n}-v6")],
            )?;
        }
        Origin::Dnsmasq => {
            let devs: Vec<String> = r
                .lan
                .values()
                .filter_map(|l| r.device(l.get_ref().interface.get_ref()))
                .collect();
            let (_, conf) = out.etc("dnsmasq.conf");
            let lines = vec![
                format!("mkdir -p {} || exit 1", out.opts.state_dir),
                format!(
                    "output-publish dnsmasq interfaces={} || exit 1",
                    q(&devs.join(" "))
                ),
                format!("exec dnsmasq -k -C {conf}"),
            ];
            out.exec(&run, "[lan.*]", lines)?;
            out.unpublish_finish(name, "[lan.*]", vec![])?;
        }
        Origin::DnsmasqUpstream => {
            let wan = r
                .lan
                .values()
                .find_map(|l| l.get_ref().dns_from.as_ref().map(|d| d.get_ref().clone()))
                .unwrap_or_default();
            let (path, dev_path) = out.etc("dnsmasq-upstream");
            let tpl = t::DnsmasqUpstreamApply {
                env: out.env,
                origin: "[lan.*] dns_from".into(),
                wan: wan.clone(),
            };
            out.tpl(path, &tpl, true)?;
            let lines = vec![
                format!("mkdir -p {} || exit 1", out.opts.state_dir),
                format!("{dev_path} || exit 1"),
                "echo >&3".into(),
                "exec 3>&-".into(),
                format!("exec watch-outputs {wan}/dns -- {dev_path}"),
            ];
            out.exec(&run, "[lan.*] dns_from", lines)?;
        }
        Origin::LanPrefix(n) => {
            let l = lookup(&r.lan, n);
            let v6 = l.ipv6.as_ref().map(|v| v.get_ref());
            let from = v6
                .map(|v| v.prefix_from.get_ref().clone())
                .unwrap_or_default();
            let subnet = v6
                .and_then(|v| v.subnet.as_ref())
                .map_or(0, |s| *s.get_ref());
            let dev = r.device(l.interface.get_ref()).unwrap_or_default();
            let origin = format!("[lan.{n}] ipv6");
            out.exec(
                &run,
                &origin,
                vec![format!(
                    "exec acquire-delegated-prefix -w -i {dev} -s {subnet:x} -n 3 {from}-v6"
                )],
            )?;
            out.exec(
                format!("s6-rc/{name}/finish"),
                &origin,
                vec![format!(
                    "exec acquire-delegated-prefix -x -i {dev} {from}-v6"
                )],
            )?;
        }
        Origin::Hostapd(n) => {
            let w = lookup(&r.wifi, n);
            let origin = format!("[wifi.{n}]");
            let tpl = t::HostapdRun {
                env: out.env,
                origin: origin.clone(),
                name: n.clone(),
                dev: w.device.get_ref().clone(),
                secret: w.psk.get_ref().secret.get_ref().clone(),
                ssid_comment: comment_safe(w.ssid.get_ref()),
            };
            out.tpl(&run, &tpl, true)?;
            let fin = t::WatcherFinish {
                env: out.env,
                origin,
                pidfile: format!("{}/hostapd-{n}.watch", out.opts.state_dir),
            };
            out.tpl(format!("s6-rc/{name}/finish"), &fin, true)?;
        }
        Origin::Firewall => {
            let f = r.firewall.as_ref().map(|f| f.get_ref());
            let forward = f.is_some_and(|f| f.forward);
            let mut up = Vec::new();
            let mut down = vec!["nft delete table inet limina 2>/dev/null".to_string()];
            if forward {
                up.push("sysctl -w net.ipv4.ip_forward=1 >/dev/null || exit 1".to_string());
                up.push(
                    "sysctl -w net.ipv6.conf.all.forwarding=1 >/dev/null || exit 1".to_string(),
                );
                down.push("sysctl -w net.ipv4.ip_forward=0 >/dev/null".to_string());
                down.push("sysctl -w net.ipv6.conf.all.forwarding=0 >/dev/null".to_string());
            }
            if f.is_some_and(|f| f.nat) {
                down.push("nft delete table ip limina-nat 2>/dev/null".to_string());
            }
            let (_, nft) = out.etc("firewall.nft");
            up.push(format!("exec nft -f {nft}"));
            down.push("exit 0".into());
            oneshot(out, name, "[firewall]", up, down)?;
        }
        Origin::FirewallSets => {
            let f = r.firewall.as_ref().map(|f| f.get_ref());
            let wans: Vec<String> = f
                .map(|f| f.wan.iter().map(|w| w.get_ref().clone()).collect())
                .unwrap_or_default();
            let (path, dev_path) = out.etc("firewall-sets");
            let tpl = t::FirewallSetsApply {
                env: out.env,
                origin: "[firewall] wan".into(),
                wans: wans.clone(),
                nat: f.is_some_and(|f| f.nat),
            };
            out.tpl(path, &tpl, true)?;
            let watches: Vec<String> = wans.iter().map(|w| format!("{w}/ifname")).collect();
            out.exec(
                &run,
                "[firewall] wan",
                vec![
                    format!("{dev_path} || exit 1"),
                    "echo >&3".into(),
                    "exec 3>&-".into(),
                    format!("exec watch-outputs {} -- {dev_path}", watches.join(" ")),
                ],
            )?;
        }
        Origin::Ntp => {
            let n = r.ntp.as_ref().map(|n| n.get_ref());
            let from = n
                .and_then(|n| n.from_dhcp.as_ref())
                .map(|w| w.get_ref().clone());
            let servers: Vec<String> = n
                .map(|n| n.servers.iter().map(|s| q(s.get_ref())).collect())
                .unwrap_or_default();
            let serve = n.is_some_and(|n| n.serve);
            let tpl = t::NtpRun {
                env: out.env,
                origin: "[ntp]".into(),
                wait_for_servers: from.is_some() && servers.is_empty() && !serve,
                servers,
                from_dhcp_name: from.clone().unwrap_or_default(),
                from_dhcp: from,
                serve,
            };
            out.tpl(&run, &tpl, true)?;
            if r.ntp
                .as_ref()
                .is_some_and(|n| n.get_ref().from_dhcp.is_some())
            {
                let fin = t::WatcherFinish {
                    env: out.env,
                    origin: "[ntp]".into(),
                    pidfile: format!("{}/ntp.watch", out.opts.state_dir),
                };
                out.tpl(format!("s6-rc/{name}/finish"), &fin, true)?;
            }
        }
        Origin::Secrets => {
            let file = r
                .secrets
                .as_ref()
                .map(|s| s.get_ref().file.get_ref().clone())
                .unwrap_or_default();
            out.exec(
                &run,
                "[secrets]",
                vec![format!(
                    "exec output-publish secrets -f {} --watch -n 3",
                    q(&file)
                )],
            )?;
            out.unpublish_finish(name, "[secrets]", vec![])?;
        }
        Origin::Watchdog => {
            let w = r.watchdog.as_ref().map(|w| w.get_ref());
            let mut cmd = String::from("exec watchdog");
            if let Some(h) = w.and_then(|w| w.head_start.as_ref()) {
                let _ = write!(cmd, " -H {}", h.get_ref());
            }
            if let Some(tm) = w.and_then(|w| w.timeout.as_ref()) {
                let _ = write!(cmd, " -t {}", tm.get_ref());
            }
            for s in w.map(|w| w.services.as_slice()).unwrap_or_default() {
                // A WAN service is ready once the ISP answered: with the
                // cable out at boot it never is, and the ratchet would
                // reset the router every few minutes. Watch that it runs;
                // every other service must be ready.
                let s = s.get_ref();
                let wan_side = r.wan.keys().any(|w| {
                    let w = w.get_ref();
                    [
                        w.clone(),
                        format!("{w}-address"),
                        format!("{w}-v6"),
                        format!("{w}-v6-address"),
                        format!("{w}-server-route"),
                    ]
                    .iter()
                    .any(|n| n == s)
                });
                let check = if wan_side { "--service" } else { "--ready" };
                let _ = write!(cmd, " {check} {}/{s}", out.opts.service_dir);
            }
            out.exec(&run, "[watchdog]", vec![cmd])?;
        }
        Origin::Mount(n) => {
            let m = lookup(&r.mount, n);
            let origin = format!("[mount.{n}]");
            let at = m.at.get_ref();
            let rel = format!("mount-{n}-apply");
            let (path, dev_path) = out.etc(&rel);
            let fstype = m
                .fstype
                .as_ref()
                .map(|f| f.get_ref().clone())
                .filter(|f| f != "auto");
            let tpl = t::MountApply {
                env: out.env,
                origin: origin.clone(),
                service: name.to_string(),
                label: q(m.label.get_ref()),
                label_comment: comment_safe(m.label.get_ref()),
                at: q(at),
                fstype,
                options: m.options.as_ref().map(|o| o.get_ref().clone()),
            };
            out.tpl(path, &tpl, true)?;
            out.exec(
                &run,
                &origin,
                vec![format!(
                    "exec uevent-wait --subsystem block --action add --coldplug -- {dev_path}"
                )],
            )?;
            out.unpublish_finish(name, &origin, vec![format!("umount {} 2>/dev/null", q(at))])?;
        }
    }
    Ok(())
}

fn comment_safe(s: &str) -> String {
    format!("{s:?}")
}

fn oneshot(
    out: &mut Out<'_>,
    name: &str,
    origin: &str,
    up: Vec<String>,
    down: Vec<String>,
) -> Result<(), RenderError> {
    let (path, _) = out.etc(&format!("up/{name}"));
    let tpl = t::Script {
        env: out.env,
        origin: origin.to_string(),
        lines: up,
    };
    out.tpl(path, &tpl, true)?;
    let (path, _) = out.etc(&format!("down/{name}"));
    let tpl = t::Script {
        env: out.env,
        origin: origin.to_string(),
        lines: down,
    };
    out.tpl(path, &tpl, true)
}

/// The static config files under `etc/`.
fn config_files(out: &mut Out<'_>, r: &Router) -> Result<(), RenderError> {
    out.put(
        "etc/hostname",
        format!("{}\n", r.system.get_ref().hostname.get_ref()),
        false,
    );
    if let Some(f) = &r.firewall {
        let f = f.get_ref();
        let mut lans: Vec<String> = f
            .lan
            .iter()
            .filter_map(|l| r.device(l.get_ref()))
            .map(|d| format!("\"{d}\""))
            .collect();
        lans.sort();
        lans.dedup();
        let input_wan = f
            .input_wan
            .iter()
            .map(|p| {
                let p = p.get_ref();
                let proto = match p.protocol {
                    Transport::Tcp => "tcp",
                    Transport::Udp => "udp",
                };
                format!("{proto} dport {}", p.port.get_ref())
            })
            .collect();
        let tpl = t::FirewallNft {
            lan_devices: lans.join(", "),
            dhcpv6_client: r.wan.values().any(|w| w.get_ref().ipv6.is_some()),
            input_wan,
            forward: f.forward,
            nat: f.nat,
        };
        out.tpl("etc/firewall.nft", &tpl, false)?;
    }
    if !r.lan.is_empty() {
        let mut lans = Vec::new();
        let mut enable_ra = false;
        let mut resolv_file = None;
        for (n, l) in &r.lan {
            let l = l.get_ref();
            let dev = r.device(l.interface.get_ref()).unwrap_or_default();
            let cidr = r.ipv4_address(l.interface.get_ref()).map(|(_, c)| c);
            let lease = l
                .lease_time
                .as_ref()
                .map_or("12h", |t| t.get_ref().as_str());
            let subnet = cidr
                .map(|c| format!("{}/{}", c.network(), c.len))
                .unwrap_or_default();
            let range = match (&l.dhcp_range, cidr.and_then(|c| c.netmask4())) {
                (Some(rg), Some(mask)) => {
                    let rg = rg.get_ref();
                    match (rg.first(), rg.get(1)) {
                        (Some(a), Some(b)) => {
                            Some(format!("{},{},{mask},{lease}", a.get_ref(), b.get_ref()))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            let hosts = l
                .static_leases
                .iter()
                .map(|s| {
                    let s = s.get_ref();
                    let mut h = format!(
                        "{},{}",
                        s.mac.get_ref().to_ascii_lowercase(),
                        s.ip.get_ref()
                    );
                    if let Some(name) = &s.name {
                        let _ = write!(h, ",{}", name.get_ref());
                    }
                    h
                })
                .collect();
            let v6_range = l.ipv6.as_ref().map(|v| {
                let v = v.get_ref();
                enable_ra |= v.ra;
                match (v.ra, v.dhcpv6) {
                    (true, true) => format!("::1000,::ffff,constructor:{dev},slaac,64,{lease}"),
                    (false, true) => format!("::1000,::ffff,constructor:{dev},64,{lease}"),
                    _ => format!("::,constructor:{dev},ra-stateless,64"),
                }
            });
            if l.dns_from.is_some() {
                resolv_file = Some(format!("{}/resolv.conf.dnsmasq", out.opts.state_dir));
            }
            lans.push(t::DnsmasqLan {
                name: n.get_ref().clone(),
                dev,
                domain: l.domain.as_ref().map(|d| d.get_ref().clone()),
                subnet,
                range,
                hosts,
                v6_range,
            });
        }
        let tpl = t::DnsmasqConf {
            resolv_file,
            lease_file: format!("{}/dnsmasq.leases", out.opts.state_dir),
            lans,
            enable_ra,
        };
        out.tpl("etc/dnsmasq.conf", &tpl, false)?;
    }
    for (n, w) in &r.wifi {
        let n = n.get_ref();
        let w = w.get_ref();
        let five = *w.band.get_ref() == Band::G5;
        let tpl = t::HostapdConf {
            name: n.clone(),
            dev: w.device.get_ref().clone(),
            bridge: w.bridge.as_ref().and_then(|b| r.device(b.get_ref())),
            ssid_hex: w
                .ssid
                .get_ref()
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect(),
            country: w.country.get_ref().clone(),
            hw_mode: if five { "a" } else { "g" },
            channel: w
                .channel
                .as_ref()
                .map_or(if five { 36 } else { 6 }, |c| *c.get_ref()),
            five_ghz: five,
            secret: w.psk.get_ref().secret.get_ref().clone(),
        };
        out.tpl(format!("etc/hostapd-{n}.conf.in"), &tpl, false)?;
    }
    if let Some(s) = &r.ssh {
        let s = s.get_ref();
        let mut keys = String::new();
        for k in &s.authorized_keys {
            let _ = writeln!(keys, "{}", k.get_ref());
        }
        out.put("etc/ssh/authorized_keys", keys, false);
        let port = s.port.as_ref().map_or(22, |p| *p.get_ref());
        let args = if s.password_auth {
            format!("-p {port}\n")
        } else {
            format!("-p {port} -s -g\n")
        };
        out.put("etc/ssh/dropbear-args", args, false);
    }
    Ok(())
}

/// Reads `router_file`, renders it and writes the tree to `outdir`
/// atomically: into a temporary sibling, renamed at the end. An existing
/// `outdir` is an error unless `force`, which replaces it.
pub fn render_to(
    router_file: &Path,
    outdir: &Path,
    opts: &RenderOptions,
    force: bool,
) -> Result<Tree, RenderError> {
    let router = crate::load(router_file)?;
    if outdir.exists() && !force {
        return Err(RenderError::Exists {
            path: outdir.to_path_buf(),
        });
    }
    let tree = render(&router, opts)?;
    write_tree(&tree, outdir)?;
    Ok(tree)
}

/// Writes `tree` to `outdir` through a temporary sibling (replacing an
/// existing `outdir`).
pub fn write_tree(tree: &Tree, outdir: &Path) -> Result<(), RenderError> {
    use std::os::unix::fs::PermissionsExt as _;
    let name = outdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = outdir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Write { path, source }
    };
    let result = (|| {
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(werr(&tmp))?;
        for (rel, f) in tree {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(werr(d))?;
            }
            std::fs::write(&p, &f.contents).map_err(werr(&p))?;
            let mode = if f.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .map_err(werr(&p))?;
        }
        if outdir.exists() {
            let old = parent.join(format!(".{name}.old-{}", std::process::id()));
            std::fs::rename(outdir, &old).map_err(werr(outdir))?;
            std::fs::rename(&tmp, outdir).map_err(werr(outdir))?;
            std::fs::remove_dir_all(&old).map_err(werr(&old))?;
        } else {
            std::fs::rename(&tmp, outdir).map_err(werr(outdir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
