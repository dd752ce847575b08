//! A booted guest and the commands a test runs in it.
//!
//! Commands go to the guest shell over the serial console, one line, then a
//! second line that prints a marker with the exit status:
//! `echo "@@LIMINA-RC-<n>:"$?"@@"`. Everything between the previous marker
//! and this one is the command's output. The echoed form of that line (should
//! the terminal echo) cannot match, because it has `"$?"` where the output has
//! digits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use base64::Engine;

use crate::console::{Console, WaitError};
use crate::initramfs::{INIT_ERROR_MARKER, READY_MARKER};
use crate::{Error, Initramfs, Machine, MachineAssets};

/// `LIMINA_TIMEOUT_SCALE` (default 1): multiplies every timeout, for slow
/// machines, as Buildroot's `timeout_multiplier` does.
pub fn timeout_scale() -> f64 {
    std::env::var("LIMINA_TIMEOUT_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

/// Per-step timeouts, before [`timeout_scale`] is applied.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From starting QEMU to the guest shell being ready.
    pub boot: Duration,
    /// For one command, unless a call gives its own.
    pub command: Duration,
    /// From `poweroff` to QEMU exiting.
    pub poweroff: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            boot: Duration::from_secs(90),
            command: Duration::from_secs(60),
            poweroff: Duration::from_secs(30),
        }
    }
}

fn scaled(d: Duration) -> Duration {
    d.mul_f64(timeout_scale())
}

/// Everything needed to boot one guest.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The machine.
    pub machine: Machine,
    /// A name for the work directory and log (`<machine>-<name>`).
    pub name: String,
    /// The initramfs to build and boot.
    pub initramfs: Initramfs,
    /// Extra kernel command-line arguments.
    pub append: Vec<String>,
    /// Extra QEMU arguments (devices, drives, networks).
    pub qemu_args: Vec<String>,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Step timeouts.
    pub timeouts: Timeouts,
    /// Let the guest reboot (watchdog tests, [`Vm::reboot_hard`]) instead
    /// of QEMU exiting.
    pub allow_reboot: bool,
    /// Give QEMU a monitor on a Unix socket in the work directory, for
    /// [`Vm::system_reset`].
    pub monitor: bool,
    /// Use this kernel instead of the machine's asset.
    pub kernel: Option<PathBuf>,
    /// Use this QEMU executable instead of the machine's.
    pub qemu_binary: Option<String>,
    /// Where the assets are (default: [`crate::vm_assets_dir`]).
    pub assets_dir: Option<PathBuf>,
}

impl VmConfig {
    /// A configuration with the machine's defaults.
    pub fn new(machine: Machine, name: &str) -> Result<VmConfig, Error> {
        Ok(VmConfig {
            machine,
            name: name.to_string(),
            initramfs: Initramfs::new(machine),
            append: Vec::new(),
            qemu_args: Vec::new(),
            memory_mib: machine.default_memory_mib(),
            timeouts: Timeouts::default(),
            allow_reboot: false,
            monitor: false,
            kernel: None,
            qemu_binary: None,
            assets_dir: None,
        })
    }
}

/// Finds an executable in `PATH`.
fn which(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// A running guest.
pub struct Vm {
    machine: Machine,
    child: Child,
    stdin: ChildStdin,
    console: Console,
    timeouts: Timeouts,
    work_dir: PathBuf,
    next_id: u64,
    kernel_release: String,
    allow_reboot: bool,
    monitor: Option<PathBuf>,
    boots: u32,
}

impl Vm {
    /// Builds the initramfs, starts QEMU and waits for the guest shell.
    pub fn boot(cfg: VmConfig) -> Result<Vm, Error> {
        let machine = cfg.machine;
        let qemu = cfg
            .qemu_binary
            .clone()
            .unwrap_or_else(|| machine.qemu_binary().to_string());
        let qemu_path = which(&qemu).ok_or_else(|| Error::QemuNotFound {
            binary: qemu.clone(),
        })?;
        let assets_dir = cfg.assets_dir.clone().unwrap_or_else(crate::vm_assets_dir);
        let mut assets = MachineAssets::find_in(machine, &assets_dir)?;
        if let Some(k) = &cfg.kernel {
            if !k.is_file() {
                return Err(Error::AssetMissing {
                    what: "kernel",
                    machine: machine.name(),
                    path: k.clone(),
                    hint: format!("scripts/vm-assets {}", machine.name()),
                });
            }
            assets.kernel = k.clone();
        }

        let work_dir = crate::assets::build_dir().join("board-tests").join(format!(
            "{}-{}",
            machine.name(),
            cfg.name
        ));
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir).map_err(Error::io(&work_dir))?;
        let initrd = work_dir.join("initramfs.cpio");
        cfg.initramfs.write(&assets, &initrd)?;
        let size_mib = std::fs::metadata(&initrd)
            .map_err(Error::io(&initrd))?
            .len()
            .div_ceil(1 << 20);
        // The kernel keeps the archive and its unpacked copy in RAM at once.
        if size_mib * 3 > u64::from(cfg.memory_mib) {
            return Err(Error::InitramfsTooBig {
                path: initrd,
                size_mib,
                memory_mib: cfg.memory_mib,
            });
        }

        let mut append = vec![
            format!("console={}", machine.console()),
            "rdinit=/init".to_string(),
            // Reboot at once on panic; with -no-reboot QEMU then exits.
            "panic=-1".to_string(),
            "loglevel=4".to_string(),
        ];
        append.extend(cfg.append.iter().cloned());
        let mut args = machine.qemu_args(cfg.memory_mib);
        let monitor = cfg.monitor.then(|| work_dir.join("monitor.sock"));
        if let Some(sock) = &monitor {
            if let Some(i) = args.iter().position(|a| a == "-monitor") {
                args[i + 1] = format!("unix:{},server=on,wait=off", sock.display());
            }
        }
        args.extend([
            "-kernel".to_string(),
            assets.kernel.display().to_string(),
            "-initrd".to_string(),
            initrd.display().to_string(),
            "-append".to_string(),
            append.join(" "),
        ]);
        if !cfg.allow_reboot {
            args.push("-no-reboot".to_string());
        }
        args.extend(cfg.qemu_args.iter().cloned());

        let log_path = work_dir.join("console.log");
        let header = format!("{} {}", qemu_path.display(), shell_words(&args));
        let console = Console::create(&log_path, &header).map_err(Error::io(&log_path))?;
        let mut child = Command::new(&qemu_path)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                binary: qemu.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(Error::Spawn {
                binary: qemu,
                source: std::io::Error::other("no pipes to QEMU"),
            });
        };
        console.attach(stdout);
        console.attach(stderr);

        let mut vm = Vm {
            machine,
            child,
            stdin,
            console,
            timeouts: cfg.timeouts,
            work_dir,
            next_id: 0,
            kernel_release: String::new(),
            allow_reboot: cfg.allow_reboot,
            monitor,
            boots: 0,
        };
        let release = vm.wait_console(
            &format!("the {machine} guest to boot to its shell"),
            scaled(cfg.timeouts.boot),
            Vm::ready_matcher,
        )?;
        vm.after_ready(release)?;
        Ok(vm)
    }

    fn ready_matcher(s: &str) -> Option<(usize, Result<String, String>)> {
        if let Some(i) = s.find(INIT_ERROR_MARKER) {
            let line = s[i..].lines().next().unwrap_or_default();
            if s[i..].contains('\n') {
                return Some((i + line.len(), Err(line.to_string())));
            }
        }
        let i = s.find(READY_MARKER)?;
        let rest = &s[i + READY_MARKER.len()..];
        let nl = rest.find('\n')?;
        Some((
            i + READY_MARKER.len() + nl + 1,
            Ok(rest[..nl].trim().to_string()),
        ))
    }

    fn after_ready(&mut self, release: Result<String, String>) -> Result<(), Error> {
        match release {
            Ok(r) => {
                self.kernel_release = r;
                self.boots += 1;
            }
            Err(line) => {
                let step = line
                    .trim_start_matches(INIT_ERROR_MARKER)
                    .trim()
                    .to_string();
                let err = Error::GuestInit {
                    step,
                    console_log: self.console.log_path().to_path_buf(),
                };
                self.kill();
                return Err(err);
            }
        }
        // The shell's banner and job-control warning come before the first
        // command; one empty command consumes them.
        self.run(":")?;
        Ok(())
    }

    /// Waits for a guest init to reach its shell again, after something
    /// (kexec, a watchdog reset) started a new kernel from the same kind of
    /// initramfs.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let what = format!("the {} guest to boot to its shell again", self.machine);
        let release = self.wait_console(&what, scaled(timeout), Vm::ready_matcher)?;
        self.after_ready(release)
    }

    /// Cuts the power: the guest kernel resets the machine at once
    /// (`echo b > /proc/sysrq-trigger`: no sync, no unmount, no process
    /// told), then waits for the fresh `/init` to reach its shell. Guest
    /// RAM outside the kernel's reach survives, as QEMU does not clear it
    /// on reset: see [`crate::PersistentFlash`]. Needs `allow_reboot`.
    pub fn reboot_hard(&mut self) -> Result<(), Error> {
        self.need_reboot("reboot_hard")?;
        self.send_line("echo b > /proc/sysrq-trigger")?;
        self.wait_reboot("sysrq-b")
    }

    /// Cuts the power from outside: QEMU's monitor `system_reset`, whatever
    /// the guest is doing, then waits for the fresh `/init`'s shell. Needs
    /// `monitor` and `allow_reboot` in the [`VmConfig`].
    pub fn system_reset(&mut self) -> Result<(), Error> {
        self.need_reboot("system_reset")?;
        let Some(socket) = self.monitor.clone() else {
            return Err(Error::Config {
                reason: "system_reset needs VmConfig::monitor".to_string(),
            });
        };
        monitor_command(&socket, "system_reset", scaled(Duration::from_secs(20)))?;
        self.wait_reboot("the monitor's system_reset")
    }

    /// Runs a command that is to reset the guest before it finishes (one
    /// that ends in `echo b > /proc/sysrq-trigger`, say), and waits for the
    /// fresh `/init`'s shell. Returns what the command printed before the
    /// reset (with whatever the firmware and kernel printed while booting
    /// again). A command that finishes instead is an error,
    /// [`Error::NoReset`]. Needs `allow_reboot`.
    pub fn run_until_reset(&mut self, command: &str, timeout: Duration) -> Result<String, Error> {
        self.need_reboot("run_until_reset")?;
        self.next_id += 1;
        let marker = format!("@@LIMINA-RC-{}:", self.next_id);
        self.send(&format!("{command}\necho \"{marker}\"$?\"@@\"\n"))?;
        let what = format!(
            "guest command `{command}` to reset the {} guest and the guest to boot to its shell again",
            self.machine
        );
        enum End {
            Finished(i32, String),
            Reset(String, Result<String, String>),
        }
        let end = self.wait_console(&what, scaled(timeout) + scaled(self.timeouts.boot), |s| {
            if let Some(i) = s.find(&marker) {
                let rest = &s[i + marker.len()..];
                if let Some(end) = rest.find("@@\n") {
                    if let Ok(status) = rest[..end].parse::<i32>() {
                        return Some((
                            i + marker.len() + end + 3,
                            End::Finished(status, s[..i].trim_end().to_string()),
                        ));
                    }
                }
            }
            let (end, release) = Vm::ready_matcher(s)?;
            Some((end, End::Reset(s[..end].to_string(), release)))
        })?;
        match end {
            End::Finished(status, output) => Err(Error::NoReset {
                command: command.to_string(),
                status,
                output,
            }),
            End::Reset(output, release) => {
                self.after_ready(release)?;
                Ok(output)
            }
        }
    }

    fn need_reboot(&self, what: &str) -> Result<(), Error> {
        if self.allow_reboot {
            Ok(())
        } else {
            Err(Error::Config {
                reason: format!(
                    "{what} needs VmConfig::allow_reboot (without it QEMU runs with -no-reboot and exits)"
                ),
            })
        }
    }

    fn wait_reboot(&mut self, how: &str) -> Result<(), Error> {
        let what = format!(
            "the {} guest to boot to its shell again after {how}",
            self.machine
        );
        let release = self.wait_console(&what, scaled(self.timeouts.boot), Vm::ready_matcher)?;
        self.after_ready(release)
    }

    /// How many times the guest's `/init` reached its shell (1 after
    /// [`Vm::boot`], one more per reboot).
    pub fn boots(&self) -> u32 {
        self.boots
    }

    /// The machine.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// `uname -r` of the guest kernel.
    pub fn kernel_release(&self) -> &str {
        &self.kernel_release
    }

    /// The console log (kept after the test).
    pub fn console_log(&self) -> &Path {
        self.console.log_path()
    }

    /// The test's work directory on the host.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    fn wait_console<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        matcher: impl FnMut(&str) -> Option<(usize, T)>,
    ) -> Result<T, Error> {
        match self.console.wait(timeout, matcher) {
            Ok(v) => Ok(v),
            Err(e) => {
                let console_log = self.console.log_path().to_path_buf();
                let err = match e {
                    WaitError::Timeout { tail } => Error::Timeout {
                        what: what.to_string(),
                        after: timeout,
                        console_log,
                        tail,
                    },
                    WaitError::Panic { line } => Error::GuestPanic {
                        what: what.to_string(),
                        line,
                        console_log,
                    },
                    WaitError::Closed { tail } => {
                        let status = match self.child.wait() {
                            Ok(s) => s.to_string(),
                            Err(e) => format!("status unknown: {e}"),
                        };
                        Error::QemuExited {
                            what: what.to_string(),
                            status,
                            console_log,
                            tail,
                        }
                    }
                };
                self.kill();
                Err(err)
            }
        }
    }

    /// Waits for `needle` on the console (e.g. a message after a reboot).
    pub fn wait_for_console(&mut self, needle: &str, timeout: Duration) -> Result<String, Error> {
        let what = format!("{needle:?} on the console");
        self.wait_console(&what, scaled(timeout), |s| {
            s.find(needle)
                .map(|i| (i + needle.len(), s[..i + needle.len()].to_string()))
        })
    }

    fn send(&mut self, text: &str) -> Result<(), Error> {
        let log = self.console.log_path().to_path_buf();
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|_| self.stdin.flush())
            .map_err(|source| Error::QemuExited {
                what: format!("sending {:?}", text.trim_end()),
                status: format!("stdin closed: {source}"),
                console_log: log,
                tail: self.console.tail(20),
            })
    }

    /// Sends a command line without waiting for it (for commands that do
    /// not return, like `kexec -e`).
    pub fn send_line(&mut self, command: &str) -> Result<(), Error> {
        self.send(&format!("{command}\n"))
    }

    /// Runs a shell command in the guest; returns its exit status and its
    /// output (stdout and stderr together, without the final newline).
    pub fn run_timeout(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<(i32, String), Error> {
        self.next_id += 1;
        let marker = format!("@@LIMINA-RC-{}:", self.next_id);
        self.send(&format!("{command}\necho \"{marker}\"$?\"@@\"\n"))?;
        let what = format!("guest command `{command}`");
        self.wait_console(&what, scaled(timeout), |s| {
            let i = s.find(&marker)?;
            let rest = &s[i + marker.len()..];
            let end = rest.find("@@\n")?;
            let status = rest[..end].parse::<i32>().ok()?;
            let mut output = s[..i].to_string();
            if output.ends_with('\n') {
                output.pop();
            }
            Some((i + marker.len() + end + 3, (status, output)))
        })
    }

    /// [`Vm::run_timeout`] with the default command timeout.
    pub fn run(&mut self, command: &str) -> Result<(i32, String), Error> {
        self.run_timeout(command, self.timeouts.command)
    }

    /// Runs a command that must succeed; returns its output.
    pub fn run_ok(&mut self, command: &str) -> Result<String, Error> {
        let (status, output) = self.run(command)?;
        if status != 0 {
            return Err(Error::CommandFailed {
                command: command.to_string(),
                status,
                output,
            });
        }
        Ok(output)
    }

    /// Copies a file out of the guest (base64 over the console).
    pub fn read_file(&mut self, guest_path: &str) -> Result<Vec<u8>, Error> {
        let out = self.run_ok(&format!("base64 {guest_path}"))?;
        let text: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Error::Transfer {
                guest_path: guest_path.to_string(),
                reason: e.to_string(),
            })
    }

    /// Powers the guest off and waits for QEMU to exit.
    pub fn poweroff(mut self) -> Result<(), Error> {
        self.send("poweroff -f\n")?;
        let timeout = scaled(self.timeouts.poweroff);
        if !self.console.wait_closed(timeout) {
            let err = Error::Timeout {
                what: "QEMU to exit after poweroff".to_string(),
                after: timeout,
                console_log: self.console.log_path().to_path_buf(),
                tail: self.console.tail(20),
            };
            self.kill();
            return Err(err);
        }
        let _ = self.child.wait();
        Ok(())
    }

    /// Kills QEMU at once.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Sends one command to QEMU's human monitor on `socket` and waits for the
/// prompt after it (the command has run).
fn monitor_command(socket: &Path, command: &str, timeout: Duration) -> Result<(), Error> {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    let err = |reason: String| Error::Monitor {
        socket: socket.to_path_buf(),
        command: command.to_string(),
        reason,
    };
    let mut s = UnixStream::connect(socket).map_err(|e| err(format!("connect: {e}")))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| err(e.to_string()))?;
    s.write_all(format!("{command}\n").as_bytes())
        .map_err(|e| err(format!("write: {e}")))?;
    // The banner ends in a prompt, and so does the command's answer.
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while String::from_utf8_lossy(&seen).matches("(qemu)").count() < 2 {
        match s.read(&mut buf) {
            Ok(0) => return Err(err("the monitor closed the connection".to_string())),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => {
                return Err(err(format!(
                    "no prompt after the command within {:.0}s ({e}); got {:?}",
                    timeout.as_secs_f64(),
                    String::from_utf8_lossy(&seen)
                )))
            }
        }
    }
    Ok(())
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "\"'$\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
