//! `limina-host sign`: minisign-compatible key pairs and image signatures
//! on the build machine (docs/signing.md), on `limina-sign`.
//!
//! Subcommands: `keygen` (minisign -G), `pubkey` (-R), `sign` (-S),
//! `verify` (-V). The flags are minisign's (`-p`, `-s`, `-W`, `-t`, `-x`,
//! `-f`, `-q`), and so are the exit codes: 0 done, 1 the signature does
//! not verify (another key's, a changed file, a forged trusted comment), 2
//! anything else (a missing or malformed file, bad usage). Passwords of
//! encrypted secret keys are read from stdin, one line, as minisign reads
//! them when stdin is no terminal.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use limina_sign::{Error, SecretKey};

/// `limina-host sign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sign subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a key pair (minisign -G): the public key goes into the image's
    /// /etc, the secret key stays on the build machine.
    Keygen {
        /// Do not encrypt the secret key (minisign -W): for an unattended
        /// build machine. Without it the password is read from stdin.
        #[arg(short = 'W')]
        unencrypted: bool,
        /// The public key file to write.
        #[arg(short = 'p', value_name = "PUB")]
        public: PathBuf,
        /// The secret key file to write (mode 0600).
        #[arg(short = 's', value_name = "SEC")]
        secret: PathBuf,
        /// Overwrite existing key files.
        #[arg(short = 'f')]
        force: bool,
    },
    /// Write the public key of a secret key (minisign -R): what the
    /// build installs as the image's /etc/limina/signing.pub, so that it
    /// always matches the configured secret key.
    Pubkey {
        /// The secret key file.
        #[arg(short = 's', value_name = "SEC")]
        secret: PathBuf,
        /// The public key file to write.
        #[arg(short = 'p', value_name = "PUB")]
        public: PathBuf,
    },
    /// Sign FILE, prehashed (minisign -S): writes FILE.minisig.
    Sign {
        /// The secret key file.
        #[arg(short = 's', value_name = "SEC")]
        secret: PathBuf,
        /// The trusted comment (default: timestamp:NOW<tab>file:NAME<tab>hashed).
        #[arg(short = 't', value_name = "TRUSTED_COMMENT")]
        trusted_comment: Option<String>,
        /// The signature file (default: FILE.minisig).
        #[arg(short = 'x', value_name = "SIG")]
        signature: Option<PathBuf>,
        /// The file to sign.
        file: PathBuf,
    },
    /// Check FILE's signature (minisign -V); prints the trusted comment.
    Verify {
        /// The public key file.
        #[arg(short = 'p', value_name = "PUB")]
        public: PathBuf,
        /// The signature file (default: FILE.minisig).
        #[arg(short = 'x', value_name = "SIG")]
        signature: Option<PathBuf>,
        /// Print nothing on success.
        #[arg(short = 'q')]
        quiet: bool,
        /// The signed file.
        file: PathBuf,
    },
}

/// Runs a sign subcommand and gives its exit status; errors are printed
/// on one line, `limina-host: sign: ...`.
pub fn run(args: &Args) -> ExitCode {
    match run_inner(&args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("limina-host: sign: {e:#}");
            let failed = matches!(e.downcast_ref::<Error>(), Some(Error::Verify { .. }));
            ExitCode::from(if failed { 1 } else { 2 })
        }
    }
}

fn run_inner(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Keygen {
            unencrypted,
            public,
            secret,
            force,
        } => keygen(*unencrypted, public, secret, *force),
        Command::Pubkey { secret, public } => {
            let key = read_secret(secret)?;
            std::fs::write(public, key.public_key().to_text())
                .with_context(|| public.display().to_string())
        }
        Command::Sign {
            secret,
            trusted_comment,
            signature,
            file,
        } => {
            let key = read_secret(secret)?;
            let comment = match trusted_comment {
                Some(c) => c.clone(),
                None => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    limina_sign::default_trusted_comment(file, now)
                }
            };
            limina_sign::sign_file(&key, file, signature.as_deref(), &comment)?;
            Ok(())
        }
        Command::Verify {
            public,
            signature,
            quiet,
            file,
        } => {
            let key = limina_sign::read_public_key(public)?;
            let v = limina_sign::verify_file(&key, file, signature.as_deref())?;
            if !quiet {
                // minisign's words, on stdout.
                println!(
                    "Signature and comment signature verified\nTrusted comment: {}",
                    v.trusted_comment
                );
            }
            Ok(())
        }
    }
}

/// Reads one password line from stdin (a prompt on stderr when stdin is
/// a terminal; the password then echoes).
fn password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    if stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?
        == 0
    {
        bail!("no password on stdin (use -W for an unencrypted key)");
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn read_secret(path: &Path) -> anyhow::Result<SecretKey> {
    match limina_sign::read_secret_key(path, None) {
        Err(Error::SecretKey {
            source: limina_sign::SecretKeyError::PasswordNeeded,
            ..
        }) => {
            let pw = password("Password: ")?;
            Ok(limina_sign::read_secret_key(path, Some(pw.as_bytes()))?)
        }
        r => Ok(r?),
    }
}

fn keygen(unencrypted: bool, public: &Path, secret: &Path, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if !force {
        for p in [public, secret] {
            if p.exists() {
                bail!(
                    "{}: already exists; add -f to overwrite the key pair",
                    p.display()
                );
            }
        }
    }
    let key = SecretKey::generate()?;
    let text = if unencrypted {
        key.to_text()
    } else {
        let pw = password("Password: ")?;
        let again = password("Password (one more time): ")?;
        if pw != again {
            bail!("passwords don't match");
        }
        if pw.is_empty() {
            bail!("empty password (use -W for an unencrypted key)");
        }
        key.to_text_encrypted(pw.as_bytes())?
    };
    // The secret key is made 0600 before a byte of it is written.
    match std::fs::remove_file(secret) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| secret.display().to_string());
        }
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret)
        .with_context(|| secret.display().to_string())?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| secret.display().to_string())?;
    std::fs::write(public, key.public_key().to_text())
        .with_context(|| public.display().to_string())?;
    eprintln!(
        "limina-host: sign: key {}: public key {}, secret key {} (keep it secret, keep a copy)",
        key.key_id(),
        public.display(),
        secret.display()
    );
    Ok(())
}
