//! `uevent-wait`: run a command for each matching kernel uevent.
//!
//! ```text
//! uevent-wait [--subsystem S] [--action A] [--match KEY=VALUE]... [--coldplug] -- CMD [ARG...]
//! ```
//!
//! Hotplug for services (a USB stick to mount, a modem to dial) without
//! udev or mdev's global rules: the service itself listens on
//! `NETLINK_KOBJECT_UEVENT` (the kernel's multicast group 1) and, for each
//! event whose `SUBSYSTEM`, `ACTION` and every `--match` variable equal the
//! ones given, runs CMD (no shell) with the event's variables added to its
//! environment (`ACTION`, `DEVPATH`, `SUBSYSTEM`, `DEVNAME`, `DEVTYPE`,
//! `MAJOR`, `MINOR`, `INTERFACE`, `SEQNUM`, … as the kernel sent them) and
//! waits for it, then goes on listening. Each run is one line on stderr.
//! Only the kernel's own messages count (sender port 0); udev's re-broadcasts
//! (`libudev` magic, group 2) are ignored, so variables udev adds
//! (`ID_FS_LABEL`) are not there: look them up in CMD (`blkid`).
//!
//! `--coldplug` first runs CMD, as for an `add` event, for each device
//! already present: the `uevent` files under `/sys/class/S/*` (else
//! `/sys/bus/S/devices/*`; every class and bus without `--subsystem`),
//! parents before children. The socket is open before that walk, so a
//! device plugged in meanwhile is seen at least once (possibly twice: CMD
//! must be idempotent, as hotplug handlers are anyway).
//!
//! Runs until killed. Exit codes: 2 usage, 1 the netlink socket failed.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use netlink_sys::{protocols::NETLINK_KOBJECT_UEVENT, Socket, SocketAddr};

use crate::applet::{Family, Parsed, Tool};

pub(crate) const USAGE: &str = "usage: uevent-wait [--subsystem S] [--action A] \
[--match KEY=VALUE]... [--coldplug] -- CMD [ARG...]";

const TOOL: Tool = Tool {
    name: "uevent-wait",
    usage: USAGE,
    family: Family::Limina,
    strip: &[],
};

/// The kernel's multicast group for uevents (udev's is 2).
const KERNEL_GROUP: u32 = 1;

/// Receive buffer: a uevent is `ACTION@DEVPATH` (DEVPATH under PATH_MAX)
/// plus at most UEVENT_BUFFER_SIZE (2048) bytes of variables, so 16 KiB
/// never truncates one.
const MESSAGE_BUFFER: usize = 16 * 1024;

/// Socket receive buffer asked for, so that a burst of events (a USB hub
/// with its devices) waits while CMD runs; the kernel caps it at
/// `net.core.rmem_max`.
const SOCKET_BUFFER: usize = 1024 * 1024;

/// Where sysfs is mounted.
const SYSFS: &str = "/sys";

#[derive(Debug, PartialEq, Eq)]
struct Opts {
    subsystem: Option<String>,
    action: Option<String>,
    matches: Vec<(String, String)>,
    coldplug: bool,
    cmd: Vec<String>,
}

fn parse(args: Vec<String>) -> Result<Parsed<Opts>, String> {
    let mut subsystem = None;
    let mut action = None;
    let mut matches = Vec::new();
    let mut coldplug = false;
    let mut cmd = None;
    let mut it = args.into_iter().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--subsystem" => set_once(&mut subsystem, &flag, value()?)?,
            "--action" => set_once(&mut action, &flag, value()?)?,
            "--match" => {
                let v = value()?;
                match v.split_once('=') {
                    Some((k, val)) if !k.is_empty() => matches.push((k.to_owned(), val.to_owned())),
                    _ => return Err(format!("--match: {v:?} is not KEY=VALUE")),
                }
            }
            "--coldplug" if inline.is_none() => coldplug = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "--version" => return Ok(Parsed::Version),
            "--" => {
                cmd = Some(it.by_ref().collect::<Vec<_>>());
            }
            _ => {
                return Err(format!(
                    "unknown argument {arg:?} (the command goes after --)"
                ))
            }
        }
    }
    let cmd = match cmd {
        Some(c) if !c.is_empty() => c,
        _ => return Err("no command: give -- CMD [ARG...]".into()),
    };
    Ok(Parsed::Run(Opts {
        subsystem,
        action,
        matches,
        coldplug,
        cmd,
    }))
}

fn set_once(slot: &mut Option<String>, flag: &str, v: String) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("{flag} needs a non-empty value"));
    }
    if slot.replace(v).is_some() {
        return Err(format!("{flag} given twice"));
    }
    Ok(())
}

/// One uevent: its variables in the order the kernel sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Uevent {
    vars: Vec<(OsString, OsString)>,
}

impl Uevent {
    fn get(&self, key: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    fn is(&self, key: &str, value: &str) -> bool {
        self.get(key) == Some(OsStr::new(value))
    }

    fn matches(&self, opts: &Opts) -> bool {
        opts.subsystem
            .as_ref()
            .is_none_or(|s| self.is("SUBSYSTEM", s))
            && opts.action.as_ref().is_none_or(|a| self.is("ACTION", a))
            && opts.matches.iter().all(|(k, v)| self.is(k, v))
    }

    /// `add /devices/virtual/net/ue0 (net)`, for the log.
    fn describe(&self) -> String {
        let get = |k| self.get(k).unwrap_or_default().to_string_lossy();
        format!(
            "{} {} ({})",
            get("ACTION"),
            get("DEVPATH"),
            get("SUBSYSTEM")
        )
    }
}

/// What one netlink datagram was.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    /// A kernel uevent.
    Event(Uevent),
    /// udev's re-broadcast (`libudev\0` magic and a binary header).
    Libudev,
}

/// Parses a kernel uevent datagram: `ACTION@DEVPATH\0KEY=VALUE\0...`
/// (lib/kobject_uevent.c). The header's ACTION and DEVPATH are added as
/// variables if the kernel did not send them as such (it always does).
fn parse_message(msg: &[u8]) -> Result<Message, String> {
    if msg.starts_with(b"libudev\0") {
        return Ok(Message::Libudev);
    }
    let mut parts = msg.split(|&b| b == 0).filter(|p| !p.is_empty());
    let header = parts.next().ok_or("empty message")?;
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (action, devpath) = match header.iter().position(|&b| b == b'@') {
        Some(at) if at > 0 && header.get(at + 1) == Some(&b'/') => {
            (&header[..at], &header[at + 1..])
        }
        _ => return Err(format!("header {:?} is not ACTION@DEVPATH", lossy(header))),
    };
    let mut vars = Vec::new();
    for part in parts {
        match part.iter().position(|&b| b == b'=') {
            Some(eq) if eq > 0 => vars.push((
                OsString::from_vec(part[..eq].to_vec()),
                OsString::from_vec(part[eq + 1..].to_vec()),
            )),
            _ => return Err(format!("variable {:?} is not KEY=VALUE", lossy(part))),
        }
    }
    let mut event = Uevent { vars };
    for (key, value) in [("DEVPATH", devpath), ("ACTION", action)] {
        if event.get(key).is_none() {
            event
                .vars
                .insert(0, (key.into(), OsString::from_vec(value.to_vec())));
        }
    }
    Ok(Message::Event(event))
}

/// The devices already present, as `add` events built from their sysfs
/// `uevent` files, parents first.
fn coldplug(sys: &Path, subsystem: Option<&str>) -> Vec<Uevent> {
    let sys = sys.canonicalize().unwrap_or_else(|_| sys.to_owned());
    let mut lists: Vec<PathBuf> = Vec::new();
    match subsystem {
        Some(s) => {
            let class = sys.join("class").join(s);
            lists.push(if class.is_dir() {
                class
            } else {
                sys.join("bus").join(s).join("devices")
            });
        }
        None => {
            lists.extend(children(&sys.join("class")));
            lists.extend(
                children(&sys.join("bus"))
                    .into_iter()
                    .map(|b| b.join("devices")),
            );
        }
    }
    // Sorted by real path: a parent's path is a prefix of its children's.
    let devices: BTreeSet<PathBuf> = lists
        .iter()
        .flat_map(|l| children(l))
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    devices
        .into_iter()
        .filter_map(|dev| device_event(&sys, &dev))
        .collect()
}

fn children(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// The `add` event of one device directory, `None` if it has no readable
/// `uevent` file.
fn device_event(sys: &Path, dev: &Path) -> Option<Uevent> {
    let text = std::fs::read(dev.join("uevent")).ok()?;
    let devpath = Path::new("/").join(dev.strip_prefix(sys).ok()?);
    let mut vars = vec![
        (OsString::from("ACTION"), OsString::from("add")),
        (OsString::from("DEVPATH"), devpath.into_os_string()),
    ];
    if let Some(s) = std::fs::read_link(dev.join("subsystem"))
        .ok()
        .and_then(|l| l.file_name().map(OsStr::to_owned))
    {
        vars.push(("SUBSYSTEM".into(), s));
    }
    for line in text.split(|&b| b == b'\n') {
        if let Some(eq) = line.iter().position(|&b| b == b'=').filter(|&eq| eq > 0) {
            vars.push((
                OsString::from_vec(line[..eq].to_vec()),
                OsString::from_vec(line[eq + 1..].to_vec()),
            ));
        }
    }
    Some(Uevent { vars })
}

/// Runs CMD for one event, logging one line.
fn run_cmd(cmd: &[String], event: &Uevent) {
    let Some((program, args)) = cmd.split_first() else {
        return;
    };
    let status = Command::new(program)
        .args(args)
        .envs(event.vars.iter().map(|(k, v)| (k, v)))
        .status();
    match status {
        Ok(s) => eprintln!("uevent-wait: {}: {program}: {s}", event.describe()),
        Err(e) => eprintln!(
            "uevent-wait: {}: cannot run {program}: {e}",
            event.describe()
        ),
    }
}

fn open_socket() -> anyhow::Result<Socket> {
    let mut socket = Socket::new(NETLINK_KOBJECT_UEVENT)
        .context("cannot open a NETLINK_KOBJECT_UEVENT socket")?;
    socket
        .bind(&SocketAddr::new(0, KERNEL_GROUP))
        .context("cannot join the kernel's uevent group")?;
    // Best effort: capped by net.core.rmem_max, and a smaller buffer only
    // risks ENOBUFS (logged) in a burst.
    let _ = socket.set_rx_buf_sz(SOCKET_BUFFER);
    Ok(socket)
}

fn run(opts: Opts) -> anyhow::Result<()> {
    // Open before the coldplug walk, so that nothing falls between them.
    let socket = open_socket()?;
    if opts.coldplug {
        for event in coldplug(Path::new(SYSFS), opts.subsystem.as_deref()) {
            if event.matches(&opts) {
                run_cmd(&opts.cmd, &event);
            }
        }
    }
    let mut buf = Vec::with_capacity(MESSAGE_BUFFER);
    loop {
        buf.clear();
        let from = match socket.recv_from(&mut buf, 0) {
            Ok((_, from)) => from,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                eprintln!("uevent-wait: the kernel dropped events (socket buffer full)");
                continue;
            }
            Err(e) => return Err(e).context("cannot receive uevents"),
        };
        if from.port_number() != 0 {
            // Not from the kernel: a process sending to the group.
            continue;
        }
        match parse_message(&buf) {
            Ok(Message::Event(event)) if event.matches(&opts) => run_cmd(&opts.cmd, &event),
            Ok(_) => {}
            Err(e) => eprintln!("uevent-wait: ignoring a malformed uevent: {e}"),
        }
    }
}

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    TOOL.main(args, parse, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed<Opts>, String> {
        parse(
            std::iter::once("uevent-wait")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        )
    }

    #[test]
    fn command_lines() {
        let Ok(Parsed::Run(o)) = p(&[
            "--subsystem",
            "block",
            "--action=add",
            "--match",
            "DEVTYPE=partition",
            "--match=PARTN=1",
            "--coldplug",
            "--",
            "/etc/mount-usb",
            "--now",
        ]) else {
            panic!("valid")
        };
        assert_eq!(
            o,
            Opts {
                subsystem: Some("block".into()),
                action: Some("add".into()),
                matches: vec![
                    ("DEVTYPE".into(), "partition".into()),
                    ("PARTN".into(), "1".into())
                ],
                coldplug: true,
                cmd: vec!["/etc/mount-usb".into(), "--now".into()],
            }
        );
        assert!(matches!(p(&["--help"]), Ok(Parsed::Help)));
        for (args, want) in [
            (&["--subsystem", "net"][..], "no command"),
            (&["--"][..], "no command"),
            (&["--subsystem"][..], "--subsystem needs a value"),
            (
                &["--subsystem", "a", "--subsystem", "b", "--", "x"][..],
                "given twice",
            ),
            (&["--match", "DEVNAME", "--", "x"][..], "not KEY=VALUE"),
            (&["--match", "=x", "--", "x"][..], "not KEY=VALUE"),
            (&["cmd"][..], "unknown argument \"cmd\""),
            (&["--coldplug=yes", "--", "x"][..], "unknown argument"),
        ] {
            match p(args) {
                Err(e) => assert!(e.contains(want), "{args:?}: {e}"),
                Ok(_) => panic!("{args:?} accepted"),
            }
        }
    }

    fn vars(e: &Uevent) -> Vec<(String, String)> {
        e.vars
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect()
    }

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    /// Received from Linux 6.18 in a network namespace for
    /// `ip link add ue0 type veth peer name ue1` (and `del`), by a Python
    /// NETLINK_KOBJECT_UEVENT socket bound to group 1; sender port 0.
    const VETH_ADD: &[u8] = b"add@/devices/virtual/net/ue0\0\
ACTION=add\0DEVPATH=/devices/virtual/net/ue0\0SUBSYSTEM=net\0\
INTERFACE=ue0\0IFINDEX=3\0SEQNUM=1467\0";
    const QUEUE_REMOVE: &[u8] = b"remove@/devices/virtual/net/ue0/queues/tx-1\0\
ACTION=remove\0DEVPATH=/devices/virtual/net/ue0/queues/tx-1\0\
SUBSYSTEM=queues\0SEQNUM=1472\0";

    #[test]
    fn kernel_messages() {
        let Ok(Message::Event(add)) = parse_message(VETH_ADD) else {
            panic!("valid")
        };
        assert_eq!(
            vars(&add),
            pairs(&[
                ("ACTION", "add"),
                ("DEVPATH", "/devices/virtual/net/ue0"),
                ("SUBSYSTEM", "net"),
                ("INTERFACE", "ue0"),
                ("IFINDEX", "3"),
                ("SEQNUM", "1467"),
            ])
        );
        assert_eq!(add.describe(), "add /devices/virtual/net/ue0 (net)");
        let Ok(Message::Event(rm)) = parse_message(QUEUE_REMOVE) else {
            panic!("valid")
        };
        assert_eq!(rm.get("SUBSYSTEM"), Some(OsStr::new("queues")));
        assert_eq!(rm.get("ACTION"), Some(OsStr::new("remove")));

        // Without the variables, the header's ACTION and DEVPATH stand in;
        // values may hold '=' and bytes that are not UTF-8.
        let Ok(Message::Event(bare)) = parse_message(b"change@/devices/x\0A=b=c\0N=\xff\0") else {
            panic!("valid")
        };
        assert_eq!(
            vars(&bare),
            pairs(&[
                ("ACTION", "change"),
                ("DEVPATH", "/devices/x"),
                ("A", "b=c"),
                ("N", "\u{fffd}")
            ])
        );
    }

    #[test]
    fn udev_and_malformed_messages() {
        // udev's re-broadcast: "libudev\0", magic 0xfeedcafe (big endian),
        // header size 40, properties at 40, 11 bytes long, then the
        // filter hashes and bloom (zero here), then the properties.
        let mut udev = b"libudev\0".to_vec();
        udev.extend_from_slice(&0xfeed_cafe_u32.to_be_bytes());
        for field in [40_u32, 40, 11, 0, 0, 0, 0] {
            udev.extend_from_slice(&field.to_ne_bytes());
        }
        udev.extend_from_slice(b"ACTION=add\0");
        assert_eq!(parse_message(&udev), Ok(Message::Libudev));

        for (msg, want) in [
            (&b""[..], "empty message"),
            (&b"\0\0"[..], "empty message"),
            (&b"add/devices/x\0ACTION=add\0"[..], "not ACTION@DEVPATH"),
            (&b"@/devices/x\0"[..], "not ACTION@DEVPATH"),
            (&b"add@devices\0"[..], "not ACTION@DEVPATH"),
            (
                &b"add@/devices/x\0ACTION\0"[..],
                "\"ACTION\" is not KEY=VALUE",
            ),
            (&b"add@/devices/x\0=add\0"[..], "is not KEY=VALUE"),
        ] {
            match parse_message(msg) {
                Err(e) => assert!(e.contains(want), "{msg:?}: {e}"),
                Ok(m) => panic!("{msg:?} parsed as {m:?}"),
            }
        }
    }

    #[test]
    fn filters() {
        let Ok(Message::Event(add)) = parse_message(VETH_ADD) else {
            panic!("valid")
        };
        let opts = |subsystem: Option<&str>, action: Option<&str>, m: &[(&str, &str)]| Opts {
            subsystem: subsystem.map(Into::into),
            action: action.map(Into::into),
            matches: m.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            coldplug: false,
            cmd: vec!["true".into()],
        };
        assert!(add.matches(&opts(None, None, &[])));
        assert!(add.matches(&opts(Some("net"), Some("add"), &[("INTERFACE", "ue0")])));
        assert!(!add.matches(&opts(Some("block"), None, &[])));
        assert!(!add.matches(&opts(None, Some("remove"), &[])));
        assert!(!add.matches(&opts(None, None, &[("INTERFACE", "ue1")])));
        assert!(
            !add.matches(&opts(None, None, &[("DEVNAME", "")])),
            "absent is not empty"
        );
        assert!(!add.matches(&opts(None, None, &[("INTERFACE", "ue0"), ("IFINDEX", "4")])));
    }

    #[test]
    fn coldplug_reads_the_real_sysfs() {
        // Every Linux network namespace has `lo`; its sysfs `uevent` file
        // holds INTERFACE and IFINDEX, as the kernel's add event does.
        let events = coldplug(Path::new(SYSFS), Some("net"));
        let lo = events
            .iter()
            .find(|e| e.is("INTERFACE", "lo"))
            .unwrap_or_else(|| panic!("no lo in {events:?}"));
        assert_eq!(
            vars(lo)[..4],
            pairs(&[
                ("ACTION", "add"),
                ("DEVPATH", "/devices/virtual/net/lo"),
                ("SUBSYSTEM", "net"),
                ("INTERFACE", "lo"),
            ])[..]
        );
        assert!(lo.get("IFINDEX").is_some());
        assert!(events.iter().all(|e| e.is("SUBSYSTEM", "net")));
        // Without a subsystem: every class and bus, each device once,
        // parents before children.
        let all = coldplug(Path::new(SYSFS), None);
        let paths: Vec<_> = all.iter().filter_map(|e| e.get("DEVPATH")).collect();
        assert!(paths.contains(&OsStr::new("/devices/virtual/net/lo")));
        // Compared as paths, component by component (as the BTreeSet of
        // paths sorts them): "a/b" before "a-c", which a byte-wise compare
        // of the strings would put the other way round.
        assert!(
            paths.windows(2).all(|w| Path::new(w[0]) < Path::new(w[1])),
            "sorted, no duplicates: {paths:?}"
        );
    }
}
