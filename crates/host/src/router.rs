//! `limina-host router`: check a router file, render it into an s6-rc
//! source tree, or print its service graph (see docs/router.md).

use std::io::Write as _;
use std::path::PathBuf;

use limina_services::{RenderError, RenderOptions};

/// `limina-host router`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the router file.
    #[command(subcommand)]
    pub command: Command,
}

/// The router subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check FILE: print each mistake as FILE:LINE:COLUMN: message and
    /// exit 1; silent and 0 when it is fine.
    Check {
        /// The router file.
        file: PathBuf,
    },
    /// Render FILE into OUTDIR: s6-rc/ (source definitions), etc/ (what
    /// goes under --etc-dir), graph.dot and outputs.txt. Nothing is
    /// written when FILE has mistakes.
    Render(Box<RenderArgs>),
    /// Print FILE's service graph in graphviz's dot language.
    Graph {
        /// The router file.
        file: PathBuf,
    },
}

/// `limina-host router render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The router file.
    pub file: PathBuf,
    /// The directory to create.
    pub outdir: PathBuf,
    /// Replace OUTDIR if it exists.
    #[arg(long)]
    pub force: bool,
    /// Where OUTDIR/etc is installed on the device.
    #[arg(long, default_value = "/etc/limina/router", value_name = "DIR")]
    pub etc_dir: String,
    /// The outputs store (LIMINA_OUTPUTS_DIR of every script).
    #[arg(long, default_value = "/run/services/outputs", value_name = "DIR")]
    pub outputs_dir: String,
    /// Loggers write to DIR/<service>.
    #[arg(long, default_value = "/var/log", value_name = "DIR")]
    pub log_dir: String,
    /// s6's scan directory of the live services.
    #[arg(long, default_value = "/run/service", value_name = "DIR")]
    pub service_dir: String,
    /// Files made at run time (rendered configs, leases).
    #[arg(long, default_value = "/run/limina/router", value_name = "DIR")]
    pub state_dir: String,
    /// Where the limina applets are (hooks called by path).
    #[arg(long, default_value = "/usr/bin", value_name = "DIR")]
    pub applet_dir: String,
    /// PATH of every script.
    #[arg(
        long,
        default_value = "/usr/bin:/usr/sbin:/bin:/sbin",
        value_name = "PATH"
    )]
    pub path: String,
    /// A service of the image every rendered service starts after
    /// (repeatable), e.g. mount-fs.
    #[arg(long, value_name = "SERVICE")]
    pub after: Vec<String>,
    /// DIR=SERVICE: a service reading a file under DIR (the secrets file)
    /// starts after SERVICE, which mounts DIR (repeatable).
    #[arg(long, value_name = "DIR=SERVICE", value_parser = dir_service)]
    pub mount: Vec<(String, String)>,
}

/// `DIR=SERVICE` of `--mount`.
fn dir_service(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(d, n)| !d.is_empty() && !n.is_empty())
        .map(|(d, n)| (d.to_string(), n.to_string()))
        .ok_or_else(|| format!("{s:?} is not DIR=SERVICE"))
}

/// Runs a router subcommand; the error is what to print (one line per
/// mistake).
pub fn run(args: &Args) -> Result<(), String> {
    match &args.command {
        Command::Check { file } => limina_services::load(file)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Command::Graph { file } => {
            let router = limina_services::load(file).map_err(|e| e.to_string())?;
            let dot = limina_services::graph::Graph::build(&router).dot();
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(dot.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("limina-host: router graph: stdout: {e}")),
            }
        }
        Command::Render(a) => {
            let opts = RenderOptions {
                etc_dir: a.etc_dir.clone(),
                outputs_dir: a.outputs_dir.clone(),
                log_dir: a.log_dir.clone(),
                service_dir: a.service_dir.clone(),
                state_dir: a.state_dir.clone(),
                applet_dir: a.applet_dir.clone(),
                path: a.path.clone(),
                after: a.after.clone(),
                mounts: a.mount.clone(),
            };
            limina_services::render_to(&a.file, &a.outdir, &opts, a.force)
                .map(|_| ())
                .map_err(|e| match e {
                    RenderError::Load(l) => l.to_string(),
                    other => format!("limina-host: router {}", error_chain(&other)),
                })
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}
