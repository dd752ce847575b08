//! `limina-host upgrade HOST IMAGE`: stream a signed image to a router
//! over one ssh connection and run `limina upgrade -` there
//! (docs/upgrading.md).
//!
//! What goes down the connection is a *signed stream*: the `.minisig`
//! file, then the image (`limina-upgrade`'s `stream` module), the same
//! bytes as
//!
//! ```sh
//! cat firmware.bin.minisig firmware.bin | ssh root@router limina upgrade -
//! ```
//!
//! The router checks everything before it erases anything and prints its
//! own progress lines, which come back on ssh's stderr; this side prints
//! how much has been sent. The exit status is the router's (`limina
//! upgrade`: 0 written, 1 refused or failed, 2 bad usage), or ssh's 255
//! when the connection failed.

use std::fs::File;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};

/// `limina-host upgrade`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to: ssh's destination (`root@192.168.8.1`, a Host of
    /// ~/.ssh/config).
    pub host: String,
    /// The image (`output/<board>/images/firmware.bin`).
    pub image: PathBuf,
    /// Its signature (default IMAGE.minisig). Without one the image goes
    /// unsigned, and a router with a key refuses it.
    #[arg(short = 'x', value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// Check everything on the router and print its plan; write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Write an image signed for another board (`limina upgrade -f`).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// A line on the router for every erase, write and read-back.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The ssh command, split at spaces (e.g. "ssh -p 2222 -i key").
    #[arg(long, default_value = "ssh", value_name = "CMD")]
    pub ssh: String,
    /// The command run on the router, split at spaces.
    #[arg(long, default_value = "limina upgrade", value_name = "CMD")]
    pub remote: String,
}

/// Runs `limina-host upgrade`; the exit status is the router's.
///
/// # Errors
///
/// The image or signature cannot be read, ssh cannot be started, or the
/// connection broke while sending.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut image =
        File::open(&args.image).with_context(|| format!("cannot read {}", args.image.display()))?;
    let size = image
        .metadata()
        .with_context(|| format!("cannot read {}", args.image.display()))?
        .len();
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| limina_sign::signature_path(&args.image));
    let signature = match limina_sign::read_signature(&sig_path) {
        Ok(s) => Some(s.to_text()),
        Err(limina_sign::Error::Unsigned(_)) if args.signature.is_none() => {
            eprintln!(
                "limina-host upgrade: no {}: sending the image unsigned",
                sig_path.display()
            );
            None
        }
        Err(e) => bail!("{e}"),
    };

    let mut ssh = args.ssh.split_whitespace();
    let program = ssh.next().context("--ssh is empty")?;
    let mut command = Command::new(program);
    command
        .args(ssh)
        .arg(&args.host)
        .args(args.remote.split_whitespace());
    for (on, flag) in [
        (args.dry_run, "-n"),
        (args.force, "-f"),
        (args.verbose, "-v"),
    ] {
        if on {
            command.arg(flag);
        }
    }
    command.arg("-").stdin(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let mut stdin = child.stdin.take().context("ssh's stdin")?;

    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut sent = 0u64;
    let mut shown = u64::MAX;
    let mut send = || -> std::io::Result<()> {
        if let Some(text) = &signature {
            stdin.write_all(text.as_bytes())?;
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = image.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            stdin.write_all(&buf[..n])?;
            sent += n as u64;
            let tenth = sent * 10 / size.max(1);
            if tty || tenth != shown {
                shown = tenth;
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let line = format!(
                    "limina-host upgrade: sent {:.1}/{:.1} MiB ({:.1} MiB/s)",
                    sent as f64 / 1048576.0,
                    size as f64 / 1048576.0,
                    sent as f64 / 1048576.0 / secs
                );
                if tty {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        }
    };
    let sent_ok = send();
    if tty {
        eprintln!();
    }
    drop(stdin);
    let status = child.wait().context("waiting for ssh")?;
    if let Err(e) = sent_ok {
        // The router may have refused early and closed the pipe: its own
        // message (on ssh's stderr) says why.
        if status.success() {
            bail!("sending the image: {e}");
        }
        eprintln!("limina-host upgrade: the router stopped reading after {sent} bytes ({e})");
    }
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("limina-host upgrade: {program} was killed: {status}");
            ExitCode::from(1)
        }
    })
}
