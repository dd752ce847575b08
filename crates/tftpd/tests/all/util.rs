//! Fixtures, the real clients, and a hand-written raw client.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use limina_tftpd::{Options, Server, ServerHandle};

/// Sizes of the whole-file tests: around one 512-byte block, and 40 MiB
/// (81920 blocks at 512: the block number wraps past 65535).
pub const SIZES: [(&str, usize); 5] = [
    ("f0", 0),
    ("f511", 511),
    ("f512", 512),
    ("f513", 513),
    ("f40m", 40 << 20),
];

/// The wraparound file: 65537 blocks of 8 bytes and a short one, made of
/// `pattern(size, 99)`.
pub const WRAP: (&str, usize) = ("wrap", 65537 * 8 + 3);

/// Deterministic bytes (xorshift64), different for each `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The served tree, shared by all tests of a run, and built once:
///
/// ```text
/// base/secret               outside the root
/// base/root/f0 .. f40m      SIZES
/// base/root/text            LF and CR bytes, for netascii
/// base/root/sub/inner       a file in a subdirectory
/// base/root/escape  -> ../secret       (symlink out of the root)
/// base/root/abs     -> base/secret     (absolute symlink out of the root)
/// base/root/alias   -> sub/inner       (symlink inside the root)
/// ```
pub fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        // Trees of earlier runs (40 MiB each) whose process is gone.
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("tftpd-tree-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let base = tmp.join(format!("tftpd-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        for (i, (name, size)) in SIZES.iter().enumerate() {
            std::fs::write(root.join(name), pattern(*size, i as u64)).expect("write");
        }
        std::fs::write(root.join(WRAP.0), pattern(WRAP.1, 99)).expect("write");
        std::fs::write(root.join("text"), b"line one\nline two\r\nbare\rcr\n\n").expect("write");
        std::fs::write(root.join("sub/inner"), b"inner file\n").expect("write");
        std::fs::write(base.join("secret"), b"secret outside the root\n").expect("write");
        std::os::unix::fs::symlink("../secret", root.join("escape")).expect("symlink");
        std::os::unix::fs::symlink(base.join("secret"), root.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("sub/inner", root.join("alias")).expect("symlink");
        base
    })
}

/// The served directory.
pub fn root() -> PathBuf {
    tree().join("root")
}

/// A scratch directory for one test's downloads, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tftpd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir scratch");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Serves `root()` on 127.0.0.1 with `options`.
pub fn serve(options: Options) -> ServerHandle {
    Server::bind("127.0.0.1:0", root(), options)
        .expect("bind")
        .spawn()
        .expect("spawn")
}

/// Whether this is a run on the build machine. limina-tftpd is a host
/// tool: its tests need the host's TFTP clients, the example binary and
/// about 400 MiB of scratch space, none of which a cross-target run has
/// (`scripts/cross-test` under qemu-user and the MIPS VM, both of which
/// set `LIMINA_EXPECT_ENDIAN`). Its byte-order-sensitive code, the packet
/// format, is covered by the library's unit tests, which do run there.
pub fn on_build_machine(test: &str) -> bool {
    if std::env::var_os("LIMINA_EXPECT_ENDIAN").is_none() {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: cross-target run (LIMINA_EXPECT_ENDIAN is set); host-only test"
    );
    false
}

/// Whether `tool` ("tftp-hpa" or "busybox-tftp") is there. When it is
/// not: with `LIMINA_REQUIRE_TOOLS` set (CI) the test fails; otherwise it
/// says SKIPPED on stderr and the caller returns.
pub fn have(tool: &str, test: &str) -> bool {
    if !on_build_machine(test) {
        return false;
    }
    let ok = match tool {
        "tftp-hpa" => Command::new("tftp")
            .arg("-V")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("tftp-hpa"))
            .unwrap_or(false),
        "busybox-tftp" => Command::new("busybox")
            .arg("--list")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l == "tftp")
            })
            .unwrap_or(false),
        "in.tftpd" => Command::new("in.tftpd").arg("-V").output().is_ok(),
        other => panic!("unknown tool {other}"),
    };
    if ok {
        return true;
    }
    let why = format!("{tool} is not installed (scripts/setup installs it)");
    if std::env::var_os("LIMINA_REQUIRE_TOOLS").is_some() {
        panic!("{test}: {why}, and LIMINA_REQUIRE_TOOLS is set");
    }
    // Straight to the process's stderr: the test harness would swallow
    // eprintln! output of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// `tftp HOST PORT -m MODE -c get REMOTE LOCAL` (tftp-hpa never
/// negotiates options: always 512-byte blocks). tftp-hpa exits 0 even
/// after an ERROR packet, so callers look at stderr/stdout and the file.
pub fn hpa_get(server: SocketAddr, mode: &str, remote: &str, local: &Path) -> Output {
    run(Command::new("tftp")
        .arg(server.ip().to_string())
        .arg(server.port().to_string())
        .args(["-m", mode, "-c", "get", remote])
        .arg(local))
}

/// `busybox tftp -g -r REMOTE -l LOCAL [-b BLKSIZE] HOST PORT`.
pub fn busybox_get(server: SocketAddr, remote: &str, local: &Path, blksize: Option<u16>) -> Output {
    let mut cmd = Command::new("busybox");
    cmd.args(["tftp", "-g", "-r", remote, "-l"]).arg(local);
    if let Some(b) = blksize {
        cmd.args(["-b", &b.to_string()]);
    }
    run(cmd
        .arg(server.ip().to_string())
        .arg(server.port().to_string()))
}

/// stdout and stderr of a client, for asserts on its error messages.
pub fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A packet as the raw client understands it (its own parser, not the
/// server's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    Data(u16, Vec<u8>),
    Oack(Vec<(String, String)>),
    Error(u16, String),
    Other(Vec<u8>),
}

/// A client speaking UDP directly, to do what real clients will not:
/// withhold or repeat ACKs, ask for odd options, watch block numbers.
pub struct Raw {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    /// The server's transfer port, learnt from its first reply.
    pub tid: Option<SocketAddr>,
}

impl Raw {
    pub fn new(server: SocketAddr) -> Raw {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind raw client");
        Raw {
            sock,
            server,
            tid: None,
        }
    }

    /// Sends a request: opcode 1 (RRQ) or 2 (WRQ), name, mode, options.
    pub fn request(&self, opcode: u16, name: &str, mode: &str, options: &[(&str, &str)]) {
        let mut p = opcode.to_be_bytes().to_vec();
        for s in [name, mode] {
            p.extend_from_slice(s.as_bytes());
            p.push(0);
        }
        for (k, v) in options {
            p.extend_from_slice(k.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        self.sock.send_to(&p, self.server).expect("send request");
    }

    /// ACKs `block` to the transfer port.
    pub fn ack(&self, block: u16) {
        let mut p = vec![0, 4];
        p.extend_from_slice(&block.to_be_bytes());
        self.sock
            .send_to(&p, self.tid.expect("ack before any reply"))
            .expect("send ack");
    }

    /// The next packet within `timeout`, or None. Remembers the TID.
    pub fn recv(&mut self, timeout: Duration) -> Option<Pkt> {
        self.sock
            .set_read_timeout(Some(timeout))
            .expect("set timeout");
        let mut buf = vec![0u8; 65536];
        let (len, from) = match self.sock.recv_from(&mut buf) {
            Ok(v) => v,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(e) => panic!("raw client receive: {e}"),
        };
        assert_ne!(from, self.server, "replies must come from a new port");
        match self.tid {
            None => self.tid = Some(from),
            Some(t) => assert_eq!(t, from, "the transfer port changed"),
        }
        let b = &buf[..len];
        let op = u16::from_be_bytes([b[0], b[1]]);
        Some(match op {
            3 => Pkt::Data(u16::from_be_bytes([b[2], b[3]]), b[4..].to_vec()),
            5 => Pkt::Error(
                u16::from_be_bytes([b[2], b[3]]),
                String::from_utf8_lossy(&b[4..len - 1]).into_owned(),
            ),
            6 => {
                let fields: Vec<String> = b[2..len - 1]
                    .split(|&c| c == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                Pkt::Oack(
                    fields
                        .chunks(2)
                        .map(|kv| (kv[0].clone(), kv[1].clone()))
                        .collect(),
                )
            }
            _ => Pkt::Other(b.to_vec()),
        })
    }

    /// Like `recv`, but a packet must come.
    pub fn expect(&mut self, timeout: Duration) -> Pkt {
        self.recv(timeout)
            .unwrap_or_else(|| panic!("no packet within {timeout:?}"))
    }

    /// Receives DATA from `first` on, ACKing each block, until a short
    /// block; returns the bytes.
    pub fn fetch_rest(&mut self, mut block: u16, blksize: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            match self.expect(Duration::from_secs(5)) {
                Pkt::Data(b, d) if b == block => {
                    self.ack(b);
                    out.extend_from_slice(&d);
                    if d.len() < blksize {
                        return out;
                    }
                    block = block.wrapping_add(1);
                }
                // A retransmission of the previous block: ACK it again.
                Pkt::Data(b, _) if b == block.wrapping_sub(1) => self.ack(b),
                other => panic!("expected DATA {block}, got {other:?}"),
            }
        }
    }
}
