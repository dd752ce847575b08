//! One request, from its first datagram to the last ACK, on its own socket.
//!
//! RFC 1350 identifies a transfer by its two ports (the TIDs): the server
//! answers each request from a fresh ephemeral port, so the listening port
//! stays free for new requests and packets of different transfers cannot
//! be confused.
//!
//! Sending follows RFC 1350 (lock-step) or, with a negotiated windowsize,
//! RFC 7440 (a window of blocks per ACK). Two rules matter for robustness:
//!
//! - A duplicate or old ACK is ignored, never answered with a resend: that
//!   resend would be duplicated again by the client, doubling every packet
//!   for the rest of the transfer (the "Sorcerer's Apprentice" bug, RFC
//!   1123 section 4.2.3.1). Only a timeout triggers a retransmission, or,
//!   with a window, an ACK that moves the window but stops short of its
//!   end (RFC 7440: the blocks after it were lost).
//! - Block numbers are 16 bits and wrap from 65535 to 0 (tftpd-hpa's
//!   default "rollover"), which U-Boot and tftp-hpa expect for files over
//!   32 MiB at 512-byte blocks. Internally blocks are counted in 64 bits.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::negotiate::{negotiate, Negotiated};
use crate::netascii::Netascii;
use crate::packet::{self, ErrorCode, Packet, Request};
use crate::path::{resolve, Refusal};
use crate::Shared;

/// Why a transfer stopped before its last ACK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The client stopped answering.
    #[error("transfer: no ACK of block {block} after {retries} retransmissions")]
    Timeout {
        /// The block (counted from 1, not wrapped) that was not acknowledged;
        /// 0 is the OACK.
        block: u64,
        /// Retransmissions sent.
        retries: u32,
    },
    /// The client sent an ERROR packet.
    #[error("transfer: client sent error {code}: {message}")]
    Peer {
        /// The client's error code.
        code: ErrorCode,
        /// The client's message.
        message: String,
    },
    /// Reading the file or using the socket failed.
    #[error("transfer: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The server is shutting down.
    #[error("transfer: server stopping")]
    Stopped,
}

/// The longest a wait blocks before looking at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Handles one request datagram `req` from `peer`, logging one line for the
/// request and one for its outcome.
pub(crate) fn handle(shared: &Shared, stop: &AtomicBool, peer: SocketAddr, req: &[u8]) {
    let local = match shared.local_ip {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() && peer.is_ipv6() => {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        }
        ip => ip,
    };
    let sock = match UdpSocket::bind(SocketAddr::new(local, 0)) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("tftpd: {peer}: cannot open a transfer socket: {e}");
            return;
        }
    };
    let t = Transfer {
        sock,
        peer,
        stop,
        buf: vec![0; 65536],
        read_timeout: None,
    };
    let request = match packet::parse(req) {
        Ok(Packet::Read(r)) => r,
        Ok(Packet::Write(r)) => {
            let name = display_name(&r.filename);
            log::warn!("tftpd: {peer}: refused write of {name}: the server is read-only");
            t.send_error(
                ErrorCode::AccessViolation,
                "Access violation: read-only server",
            );
            return;
        }
        // Stray DATA/ACK/ERROR/OACK to the listening port: a late packet of
        // a finished transfer, most likely. Not worth a reply.
        Ok(_) => return,
        Err(e) => {
            log::warn!("tftpd: {peer}: refused malformed request: {e}");
            t.send_error(ErrorCode::IllegalOperation, "Malformed request");
            return;
        }
    };
    let name = display_name(&request.filename);
    log::info!(
        "tftpd: {peer}: read {name} mode {}{}",
        request.mode,
        request
            .options
            .iter()
            .map(|(k, v)| format!(" {k}={v}"))
            .collect::<String>()
    );
    let start = Instant::now();
    match t.serve(shared, &request) {
        Ok(Served::Done { bytes, blksize }) => {
            let secs = start.elapsed().as_secs_f64();
            log::info!(
                "tftpd: {peer}: sent {name}: {bytes} bytes in {secs:.3} s ({:.2} MB/s, blksize {blksize})",
                bytes as f64 / secs.max(1e-9) / 1e6
            );
        }
        Ok(Served::Refused(why)) => log::warn!("tftpd: {peer}: refused {name}: {why}"),
        Err(e) => log::warn!("tftpd: {peer}: failed {name}: {e}"),
    }
}

/// The file name for logs: quoted, non-UTF-8 bytes replaced.
fn display_name(name: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(name))
}

enum Served {
    Done { bytes: u64, blksize: u16 },
    Refused(String),
}

/// The file, raw or converted to netascii.
enum Source {
    Octet(File),
    Netascii(Netascii<File>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Octet(f) => f.read(buf),
            Source::Netascii(n) => n.read(buf),
        }
    }
}

/// What one wait for an ACK ended with.
enum Wait {
    Ack(u16),
    TimedOut,
}

struct Transfer<'a> {
    sock: UdpSocket,
    peer: SocketAddr,
    stop: &'a AtomicBool,
    buf: Vec<u8>,
    /// The socket's read timeout as last set: setting it costs a system
    /// call, so it is only changed when the wait needs another value.
    read_timeout: Option<Duration>,
}

impl Transfer<'_> {
    /// Sends an ERROR; the transfer ends with it, so a failed send only
    /// means the client learns of it by timing out.
    fn send_error(&self, code: ErrorCode, message: &str) {
        let _ = self.sock.send_to(&packet::error(code, message), self.peer);
    }

    fn send(&self, pkt: &[u8]) -> Result<(), TransferError> {
        self.sock
            .send_to(pkt, self.peer)
            .map(drop)
            .map_err(|source| TransferError::Io {
                what: "send",
                source,
            })
    }

    fn serve(mut self, shared: &Shared, req: &Request) -> Result<Served, TransferError> {
        let netascii = match req.mode.as_str() {
            "octet" => false,
            "netascii" => true,
            other => {
                self.send_error(ErrorCode::IllegalOperation, "Unknown transfer mode");
                return Ok(Served::Refused(format!("mode {other:?} is not supported")));
            }
        };
        let opened = resolve(&shared.root, &req.filename)
            .and_then(|p| File::open(&p).map_err(Refusal::from))
            .and_then(|f| Ok((f.metadata()?.len(), f)));
        let (size, file) = match opened {
            Ok(v) => v,
            Err(why) => {
                let (code, msg) = why.reply();
                self.send_error(code, msg);
                return Ok(Served::Refused(format!("{why} (error {code})")));
            }
        };
        let n = negotiate(&req.options, &shared.options, (!netascii).then_some(size));
        let mut source = if netascii {
            Source::Netascii(Netascii::new(file))
        } else {
            Source::Octet(file)
        };
        let res = self.run(&n, &mut source, shared.options.retries);
        match &res {
            Err(TransferError::Io { what: "read", .. }) => {
                self.send_error(ErrorCode::NotDefined, "Read error")
            }
            Err(TransferError::Stopped) => {
                self.send_error(ErrorCode::NotDefined, "Server shutting down")
            }
            _ => {}
        }
        res.map(|bytes| Served::Done {
            bytes,
            blksize: n.blksize,
        })
    }

    /// Sends the OACK if there is one, then the file. Returns the bytes sent.
    fn run(
        &mut self,
        n: &Negotiated,
        src: &mut Source,
        retries: u32,
    ) -> Result<u64, TransferError> {
        if !n.reply.is_empty() {
            let oack = packet::oack(&n.reply);
            self.send(&oack)?;
            let mut deadline = Instant::now() + n.timeout;
            let mut tries = 0;
            loop {
                match self.wait(deadline)? {
                    Wait::Ack(0) => break,
                    Wait::Ack(_) => continue,
                    Wait::TimedOut if tries < retries => {
                        tries += 1;
                        self.send(&oack)?;
                        deadline = Instant::now() + n.timeout;
                    }
                    Wait::TimedOut => {
                        return Err(TransferError::Timeout {
                            block: 0,
                            retries: tries,
                        })
                    }
                }
            }
        }
        let blksize = usize::from(n.blksize);
        let windowsize = usize::from(n.windowsize);
        // Encoded DATA packets of blocks `base..base + window.len()`.
        let mut window: VecDeque<Vec<u8>> = VecDeque::with_capacity(windowsize);
        let mut base: u64 = 1;
        let mut next: u64 = 1;
        let mut read_all = false;
        let mut bytes = 0u64;
        let mut tries = 0;
        // A finished packet buffer, reused for the next block.
        let mut spare: Vec<u8> = Vec::with_capacity(blksize + 4);
        // When the oldest unacknowledged block is sent again. Ignored ACKs
        // do not move it: a client that re-ACKs faster than our timeout
        // would otherwise postpone the retransmission for ever.
        let mut deadline = Instant::now();
        loop {
            while window.len() < windowsize && !read_all {
                let mut pkt = std::mem::take(&mut spare);
                pkt.clear();
                pkt.extend_from_slice(&packet::data_header(next as u16));
                pkt.resize(4 + blksize, 0);
                let got = read_full(src, &mut pkt[4..]).map_err(|source| TransferError::Io {
                    what: "read",
                    source,
                })?;
                pkt.truncate(4 + got);
                read_all = got < blksize;
                bytes += got as u64;
                self.send(&pkt)?;
                window.push_back(pkt);
                next += 1;
                deadline = Instant::now() + n.timeout;
            }
            if window.is_empty() {
                return Ok(bytes);
            }
            match self.wait(deadline)? {
                Wait::Ack(block) => {
                    // Position of the acknowledged block in the window; an
                    // ACK of anything before the window is a duplicate.
                    let ahead = usize::from(block.wrapping_sub(base as u16));
                    if ahead < window.len() {
                        for _ in 0..=ahead {
                            if let Some(p) = window.pop_front() {
                                spare = p;
                            }
                        }
                        base += ahead as u64 + 1;
                        tries = 0;
                        // RFC 7440: an ACK short of the window's end says
                        // the rest was lost; send it again from there.
                        if !window.is_empty() {
                            for pkt in &window {
                                self.send(pkt)?;
                            }
                            deadline = Instant::now() + n.timeout;
                        }
                    }
                }
                Wait::TimedOut if tries < retries => {
                    tries += 1;
                    for pkt in &window {
                        self.send(pkt)?;
                    }
                    deadline = Instant::now() + n.timeout;
                }
                Wait::TimedOut => {
                    return Err(TransferError::Timeout {
                        block: base,
                        retries: tries,
                    })
                }
            }
        }
    }

    /// Waits until `deadline` for an ACK from the peer. Packets from other
    /// ports get an "unknown transfer ID" error.
    fn wait(&mut self, deadline: Instant) -> Result<Wait, TransferError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(TransferError::Stopped);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Wait::TimedOut);
            }
            let io = |source| TransferError::Io {
                what: "receive",
                source,
            };
            let slice = left.min(STOP_POLL);
            if self.read_timeout != Some(slice) {
                self.sock.set_read_timeout(Some(slice)).map_err(io)?;
                self.read_timeout = Some(slice);
            }
            let (len, from) = match self.sock.recv_from(&mut self.buf) {
                Ok(v) => v,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionRefused
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(io(e)),
            };
            if from != self.peer {
                let _ = self.sock.send_to(
                    &packet::error(ErrorCode::UnknownTid, "Unknown transfer ID"),
                    from,
                );
                continue;
            }
            match packet::parse(&self.buf[..len]) {
                Ok(Packet::Ack(block)) => return Ok(Wait::Ack(block)),
                Ok(Packet::Error { code, message }) => {
                    return Err(TransferError::Peer { code, message })
                }
                // Anything else from the client is ignored; the
                // retransmission timer keeps running.
                _ => {}
            }
        }
    }
}

/// Reads until `buf` is full or the end of the file.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
