//! `limina-host tftpd`: serves a build's images read-only over TFTP for
//! U-Boot's `tftpboot` (the [`limina_tftpd`] server), and says what to type
//! at the U-Boot prompt.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};

/// `limina-host tftpd`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:69", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The largest block size granted (RFC 2348; clients asking more get
    /// this).
    #[arg(long, default_value_t = 65464, value_name = "BYTES")]
    pub max_blksize: u16,
    /// Retransmission timeout when the client does not ask one.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub retransmit_ms: u64,
    /// The directory served (e.g. a board's `output/images`): nothing
    /// outside it is ever sent, and nothing is written.
    pub dir: PathBuf,
}

/// Prints each log record as one line on stderr.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{}", r.args());
        }
    }
    fn flush(&self) {}
}

/// Runs the server until killed.
pub fn run(args: &Args) -> Result<()> {
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let options = limina_tftpd::Options {
        max_blksize: args.max_blksize,
        retransmit: Duration::from_millis(args.retransmit_ms),
        ..Default::default()
    };
    let server = limina_tftpd::Server::bind(args.listen, &args.dir, options)
        .with_context(|| format!("cannot serve {} on {}", args.dir.display(), args.listen))?;
    if args.dir.join("boot.scr").is_file() {
        let ip = match args.listen.ip() {
            ip if ip.is_unspecified() => "<this host's address>".to_string(),
            ip => ip.to_string(),
        };
        eprintln!(
            "tftpd: at the U-Boot prompt: setenv serverip {ip}; dhcp or setenv ipaddr <board address>; \
             tftpboot ${{loadaddr}} boot.scr && source ${{loadaddr}}"
        );
    }
    server.serve().context("the TFTP server stopped")
}
