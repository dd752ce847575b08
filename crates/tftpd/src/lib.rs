//! A read-only TFTP server for booting routers over the network.
//!
//! A boot loader such as U-Boot fetches a kernel, a device tree and a root
//! file system with `tftpboot` many times a day during development. This
//! crate serves one directory for that: RFC 1350 with option negotiation
//! (RFC 2347) for `blksize` (RFC 2348), `timeout` and `tsize` (RFC 2349)
//! and `windowsize` (RFC 7440).
//!
//! - Read-only: a write request gets ERROR 2 (access violation).
//! - Confined: names with a `..` component, and names that resolve
//!   through a symlink to outside the directory, get ERROR 2; a leading
//!   `/` is taken relative to the directory (as `in.tftpd --secure`
//!   does); a missing file gets ERROR 1.
//! - Many clients at once: each request is served by its own thread from
//!   its own ephemeral UDP port (the transfer ID of RFC 1350).
//! - Robust: retransmission on timeout with a retry limit, duplicate ACKs
//!   ignored (no Sorcerer's Apprentice), block numbers wrap to 0 after
//!   65535 as tftpd-hpa and U-Boot expect, octet and netascii modes.
//!
//! Each request logs one line through the [`log`] crate when it arrives,
//! and one when it is done (bytes, seconds), refused (why) or failed.
//!
//! # Example
//!
//! ```no_run
//! use limina_tftpd::{Options, Server};
//!
//! let server = Server::bind("0.0.0.0:69", "output/gl-ar750/images", Options::default())?;
//! server.serve()?;
//! # Ok::<(), limina_tftpd::Error>(())
//! ```
//!
//! In tests, [`Server::spawn`] runs the server on a thread and returns a
//! [`ServerHandle`] that stops it when dropped:
//!
//! ```
//! use limina_tftpd::{Options, Server};
//!
//! let dir = std::env::temp_dir();
//! let handle = Server::bind("127.0.0.1:0", &dir, Options::default())?.spawn()?;
//! println!("serving {} on {}", dir.display(), handle.local_addr());
//! handle.stop()?;
//! # Ok::<(), limina_tftpd::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod negotiate;
mod netascii;
mod packet;
mod path;
mod transfer;

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use negotiate::MAX_BLKSIZE;
pub use packet::{ErrorCode, PacketError};
pub use path::Refusal;
pub use transfer::TransferError;

/// Choices with defaults that suit a boot loader on a LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Time before a packet is sent again, unless the client negotiates
    /// `timeout`. Default 1 s, as tftpd-hpa.
    pub retransmit: Duration,
    /// Retransmissions of one packet before the transfer is given up.
    /// Default 5.
    pub retries: u32,
    /// The largest `blksize` granted; larger requests are lowered to it.
    /// Default [`MAX_BLKSIZE`] (65464), as tftpd-hpa. Set it to the path
    /// MTU minus 32 (1468 on Ethernet) for clients that request large
    /// blocks but cannot reassemble IP fragments.
    pub max_blksize: u16,
    /// The largest `windowsize` granted (RFC 7440); 1 refuses the option.
    /// Default 64.
    pub max_windowsize: u16,
    /// Transfers served at once; requests beyond get ERROR 0 "server
    /// busy". Default 64.
    pub max_transfers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retransmit: Duration::from_secs(1),
            retries: 5,
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            max_transfers: 64,
        }
    }
}

/// Errors of the server itself (a failed transfer is only logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound (port 69 needs root or
    /// `CAP_NET_BIND_SERVICE`).
    #[error("tftpd: cannot bind {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// The directory to serve cannot be resolved.
    #[error("tftpd: cannot serve {}: {source}", path.display())]
    Root {
        /// The directory as given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The path to serve is not a directory.
    #[error("tftpd: cannot serve {}: not a directory", path.display())]
    RootNotDirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// The listening socket failed.
    #[error("tftpd: listening socket: {what}: {source}")]
    Socket {
        /// The operation.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("tftpd: cannot start a thread: {0}")]
    Thread(#[source] io::Error),
    /// The server thread panicked.
    #[error("tftpd: the server thread panicked")]
    Panicked,
}

/// What every transfer thread reads.
pub(crate) struct Shared {
    /// The canonical directory served.
    pub root: PathBuf,
    /// The options.
    pub options: Options,
    /// The listening address's IP: transfer sockets bind to it, so replies
    /// come from the address the client sent to.
    pub local_ip: IpAddr,
}

/// A bound server; nothing is served until [`serve`](Server::serve),
/// [`serve_until`](Server::serve_until) or [`spawn`](Server::spawn).
pub struct Server {
    socket: UdpSocket,
    local: SocketAddr,
    shared: Shared,
}

/// How often the listening loop looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

impl Server {
    /// Binds `addr` (port 0 picks a free port) to serve the directory
    /// `root`, read-only.
    pub fn bind(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        root: impl AsRef<Path>,
        options: Options,
    ) -> Result<Server, Error> {
        let root = root.as_ref();
        let canonical = root.canonicalize().map_err(|source| Error::Root {
            path: root.to_owned(),
            source,
        })?;
        if !canonical.is_dir() {
            return Err(Error::RootNotDirectory {
                path: root.to_owned(),
            });
        }
        let socket = UdpSocket::bind(&addr).map_err(|source| Error::Bind {
            addr: format!("{addr:?}").trim_matches('"').to_owned(),
            source,
        })?;
        let local = socket.local_addr().map_err(|source| Error::Socket {
            what: "local address",
            source,
        })?;
        socket
            .set_read_timeout(Some(STOP_POLL))
            .map_err(|source| Error::Socket {
                what: "set timeout",
                source,
            })?;
        Ok(Server {
            socket,
            local,
            shared: Shared {
                root: canonical,
                options,
                local_ip: local.ip(),
            },
        })
    }

    /// The address the server listens on (with the port picked, if 0 was
    /// asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The directory served, canonicalized.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Serves until the listening socket fails.
    pub fn serve(&self) -> Result<(), Error> {
        self.serve_until(&AtomicBool::new(false))
    }

    /// Serves until `stop` is set (looked at every 200 ms), then stops the
    /// transfers in progress (their clients get ERROR 0) and returns when
    /// their threads have ended.
    pub fn serve_until(&self, stop: &AtomicBool) -> Result<(), Error> {
        log::info!(
            "tftpd: serving {} on {}",
            self.shared.root.display(),
            self.local
        );
        let active = AtomicUsize::new(0);
        let mut buf = vec![0u8; 65536];
        std::thread::scope(|scope| loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let (len, peer) = match self.socket.recv_from(&mut buf) {
                Ok(v) => v,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    continue
                }
                Err(source) => {
                    // Stop the transfers too, or the scope would wait for
                    // them while the caller believes the server is down.
                    stop.store(true, Ordering::Relaxed);
                    return Err(Error::Socket {
                        what: "receive",
                        source,
                    });
                }
            };
            if active.load(Ordering::Relaxed) >= self.shared.options.max_transfers {
                log::warn!(
                    "tftpd: {peer}: refused: {} transfers in progress",
                    self.shared.options.max_transfers
                );
                let _ = self
                    .socket
                    .send_to(&packet::error(ErrorCode::NotDefined, "Server busy"), peer);
                continue;
            }
            let request = buf[..len].to_vec();
            let (shared, active) = (&self.shared, &active);
            active.fetch_add(1, Ordering::Relaxed);
            let spawned = std::thread::Builder::new()
                .name(format!("tftpd {peer}"))
                .spawn_scoped(scope, move || {
                    transfer::handle(shared, stop, peer, &request);
                    active.fetch_sub(1, Ordering::Relaxed);
                });
            if let Err(e) = spawned {
                active.fetch_sub(1, Ordering::Relaxed);
                log::warn!("tftpd: {peer}: cannot start a transfer thread: {e}");
            }
        })
    }

    /// Runs [`serve_until`](Server::serve_until) on a new thread.
    pub fn spawn(self) -> Result<ServerHandle, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let local = self.local;
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tftpd".into())
            .spawn(move || self.serve_until(&flag))
            .map_err(Error::Thread)?;
        Ok(ServerHandle {
            local,
            stop,
            thread: Some(thread),
        })
    }
}

/// A server running on its own thread; dropping it stops the server and
/// waits for it.
pub struct ServerHandle {
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops the server, waits for its transfers to end and returns how
    /// it ended.
    pub fn stop(mut self) -> Result<(), Error> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
