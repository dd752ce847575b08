//! The Buildroot images of `configs/`: boot what `make qemu-mips_defconfig
//! && make` produced, exactly as `boards/qemu/mips-malta/readme.txt` says,
//! log in on the serial console, and check that the system came up under
//! s6-rc with its services and that `limina` applets run. Skipped, with the
//! reason printed, when the images have not been built (they need the
//! Buildroot downloads; see docs/getting-started.md).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use limina_board_tests::{timeout_scale, workspace_root};

/// The QEMU line tagged `# <defconfig>` in a board's readme.txt, with
/// `output/images/` pointing at `images`, split into arguments (double
/// quotes group, as the shell would).
fn qemu_line(readme: &Path, defconfig: &str, images: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let tag = format!(" # {defconfig}");
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("qemu-system-") && l.ends_with(&tag))
        .unwrap_or_else(|| panic!("{}: no QEMU line tagged{tag}", readme.display()));
    let line =
        line[..line.len() - tag.len()].replace("output/images/", &format!("{}/", images.display()));
    let (mut args, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    args.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    args.push(word);
    args
}

/// A serial console on QEMU's stdio.
struct Console {
    child: Child,
    input: ChildStdin,
    output: Receiver<u8>,
    seen: String,
}

impl Console {
    fn spawn(args: &[String]) -> Console {
        let mut child = Command::new(&args[0])
            .args(&args[1..])
            .args(["-snapshot", "-accel", "tcg"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
        let input = child.stdin.take().expect("stdin was piped");
        let mut stdout = child.stdout.take().expect("stdout was piped");
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            while let Ok(1) = stdout.read(&mut byte) {
                if tx.send(byte[0]).is_err() {
                    break;
                }
            }
        });
        Console {
            child,
            input,
            output,
            seen: String::new(),
        }
    }

    /// Read until `needle` appears; return everything read before it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout.mul_f64(timeout_scale());
        loop {
            if let Some(at) = self.seen.find(needle) {
                let before = self.seen[..at].to_string();
                self.seen.drain(..at + needle.len());
                return before;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(b) => self.seen.push(char::from(b)),
                Err(_) => panic!("no {needle:?} on the console; last output:\n{}", self.seen),
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.input, "{line}").expect("write to the console");
    }

    /// Run a shell command; return its output, asserting exit status 0.
    fn run_ok(&mut self, command: &str) -> String {
        self.send(&format!("{command}; echo \"@@status=$?@@\""));
        // Skip the echo of the command line itself, then read the output.
        self.wait_for("\n", Duration::from_secs(30));
        let out = self.wait_for("@@status=", Duration::from_secs(60));
        let status = self.wait_for("@@", Duration::from_secs(5));
        assert_eq!(
            status, "0",
            "{command}: exit status {status}, output:\n{out}"
        );
        out
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn images_dir(board: &str) -> PathBuf {
    std::env::var_os("LIMINA_BR_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("output"))
        .join(board)
        .join("images")
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_image_boots_to_s6_rc_and_runs_applets() {
    let images = images_dir("qemu-mips");
    if !images.join("vmlinux").exists() || !images.join("rootfs.ext4").exists() {
        eprintln!(
            "skipped: no Buildroot images in {} (make qemu-mips_defconfig && make)",
            images.display()
        );
        return;
    }
    let readme = workspace_root().join("boards/qemu/mips-malta/readme.txt");
    let mut console = Console::spawn(&qemu_line(&readme, "qemu-mips_defconfig", &images));

    console.wait_for("login:", Duration::from_secs(300));
    console.send("root");
    console.wait_for("# ", Duration::from_secs(30));

    let init = console.run_ok("readlink /sbin/init");
    assert!(
        init.contains("s6-linux-init/current/bin/init"),
        "init: {init}"
    );
    let up = console.run_ok("s6-rc -a list");
    for service in [
        "mount-fs",
        "getty",
        "syslogd",
        "syslogd-log",
        "dropbear",
        "dropbear-log",
    ] {
        assert!(
            up.lines().any(|l| l.trim() == service),
            "{service} not up:\n{up}"
        );
    }
    let logs = console.run_ok("ls /var/log");
    for dir in ["syslogd", "dropbear"] {
        assert!(
            logs.split_whitespace().any(|w| w == dir),
            "no /var/log/{dir}:\n{logs}"
        );
    }
    let applets = console.run_ok("limina --list");
    for applet in ["flashcp", "watchdog", "ifwait"] {
        assert!(
            applets.contains(applet),
            "{applet} missing from limina --list:\n{applets}"
        );
    }
    console.run_ok("logger -t board-test hello && sleep 1 && grep -r hello /var/log/syslogd");
    // An applet through its link, failing as mtd-utils does on a missing device.
    console.send("flashcp /dev/null /dev/mtd-none; echo \"@@status=$?@@\"");
    console.wait_for("@@status=", Duration::from_secs(30));
    let status = console.wait_for("@@", Duration::from_secs(5));
    assert_ne!(status, "0", "flashcp to a missing device succeeded");
}

#[test]
fn qemu_line_follows_the_readme() {
    // Compiled in: this test also runs where the repository is not (the
    // MIPS VM runs every test executable).
    let readme = std::env::temp_dir().join(format!("limina-readme-{}.txt", std::process::id()));
    std::fs::write(
        &readme,
        include_str!("../../boards/qemu/mips-malta/readme.txt"),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let args = qemu_line(&readme, "qemu-mips_defconfig", Path::new("/img"));
    let _ = std::fs::remove_file(&readme);
    assert_eq!(args[0], "qemu-system-mips");
    assert!(args.windows(2).any(|w| w == ["-kernel", "/img/vmlinux"]));
    assert!(args
        .iter()
        .any(|a| a == "rootwait root=/dev/sda console=ttyS0"));
}
