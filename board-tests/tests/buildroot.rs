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

use crate::common::{host_tool, sha256_hex};

/// The QEMU line tagged `# <defconfig>` in a board's readme.txt, with
/// `output/images/` pointing at `images`, split into arguments (double
/// quotes group, as the shell would).
pub(crate) fn qemu_line(readme: &Path, defconfig: &str, images: &Path) -> Vec<String> {
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
pub(crate) struct Console {
    child: Child,
    input: ChildStdin,
    output: Receiver<u8>,
    seen: String,
}

impl Console {
    pub(crate) fn spawn(args: &[String]) -> Console {
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
    pub(crate) fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
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

    pub(crate) fn send(&mut self, line: &str) {
        writeln!(self.input, "{line}").expect("write to the console");
    }

    /// Run a shell command; return its output, asserting exit status 0.
    pub(crate) fn run_ok(&mut self, command: &str) -> String {
        // The marker is split by quotes so that the echo of the command
        // line (wrapped or not) never contains it.
        self.send(&format!("{command}; echo \"@@sta\"\"tus=$?@@\""));
        let seen = self.wait_for("@@status=", Duration::from_secs(120));
        // Drop the echo of the command line itself: up to the end of the
        // line that ends the echoed marker.
        let out = match seen.rfind("tus=$?@@\"") {
            Some(i) => seen[i..].split_once('\n').map_or("", |(_, rest)| rest),
            None => seen.split_once('\n').map_or("", |(_, rest)| rest),
        }
        .to_string();
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

pub(crate) fn images_dir(board: &str) -> PathBuf {
    std::env::var_os("LIMINA_BR_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("output"))
        .join(board)
        .join("images")
}

/// The images a board test needs, or the reason to skip (printed).
pub(crate) fn built_images(board: &str, files: &[&str]) -> Option<PathBuf> {
    let images = images_dir(board);
    let absent: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| !images.join(f).exists())
        .collect();
    if absent.is_empty() {
        return Some(images);
    }
    eprintln!(
        "skipped: {} not built in {} (make {board}_defconfig && make, or set LIMINA_BR_OUTPUT)",
        absent.join(", "),
        images.display()
    );
    None
}

/// A free TCP port on the loopback interface, for QEMU's host forward.
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// The first line the SSH server at 127.0.0.1:port sends, retried while the
/// guest's forward is not answering yet.
pub(crate) fn ssh_banner(port: u16, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout.mul_f64(timeout_scale());
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let mut buf = [0u8; 256];
            if let Ok(n) = s.read(&mut buf) {
                if n > 0 {
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    return text.lines().next().unwrap_or_default().to_string();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no SSH banner on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Log in on the console as root, keep kernel messages off the console
/// (they would interleave with command output), and wait until s6-rc has
/// brought the whole default bundle up (the getty comes up before the
/// slower services).
pub(crate) fn login(console: &mut Console) {
    console.wait_for("login:", Duration::from_secs(300));
    console.send("root");
    console.wait_for("# ", Duration::from_secs(30));
    // A wide terminal: the shell's line editor wraps the echo of long
    // command lines at the serial console's default 80 columns.
    console.send("dmesg -n 1; stty cols 4096");
    console.wait_for("# ", Duration::from_secs(30));
    // s6-rc holds its lock while the boot's own change runs: retry until
    // it can take it (then the bundle is up), for at most two minutes.
    console.run_ok(
        "for i in $(seq 120); do s6-rc -u change default 2>/dev/null && break; sleep 1; done; \
         s6-rc -u change default",
    );
}

/// The boot and service checks every QEMU board's image passes: init is
/// s6-linux-init, every service of the compiled database's default bundle
/// is up, services log to their own directory, and the limina applets run.
fn check_system(console: &mut Console) {
    let init = console.run_ok("readlink /sbin/init");
    assert!(
        init.contains("s6-linux-init/current/bin/init"),
        "init: {init}"
    );
    // Everything the default bundle pulls in, from the live database,
    // against what s6-rc reports up.
    let wanted = console.run_ok("s6-rc-db -c /run/s6-rc/compiled all-dependencies default");
    let up = console.run_ok("s6-rc -a list");
    let wanted: Vec<&str> = wanted
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(wanted.len() >= 6, "default bundle too small: {wanted:?}");
    for service in &wanted {
        assert!(
            up.lines().any(|l| l.trim() == *service),
            "{service} (in the default bundle) is not up; up:\n{up}"
        );
    }
    for service in ["mount-fs", "getty", "syslogd", "syslogd-log", "dropbear"] {
        assert!(
            wanted.contains(&service),
            "{service} not in the default bundle"
        );
    }
    let logs = console.run_ok("cd /var/log && echo *; cd /");
    for dir in ["syslogd", "dropbear"] {
        assert!(
            logs.split_whitespace().any(|w| w == dir),
            "no /var/log/{dir}:\n{logs}"
        );
    }
    console.run_ok("logger -t board-test hello && sleep 1 && grep -r board-test /var/log/syslogd");

    let applets = console.run_ok("limina --list");
    for applet in ["flashcp", "mtdinfo", "watchdog", "ifwait", "ubiattach"] {
        assert!(
            applets.split_whitespace().any(|w| w == applet),
            "{applet} missing from limina --list:\n{applets}"
        );
    }
    // ifwait on the real NIC, which is up by now (lo is what mount-fs
    // raises; eth0 is raised here).
    console.run_ok("ip link set eth0 up && ifwait --timeout 20 eth0 up");
    // The watchdog applet reads the kernel's watchdog (softdog here) --
    // unless the router's watchdog service holds it (one opener at a
    // time): then that service must be up.
    let held = console.run_ok("s6-svstat -o up /run/service/watchdog 2>/dev/null || true");
    if held.trim() == "true" {
        let fd = console.run_ok("ls -l /proc/$(pidof watchdog)/fd | grep -c /dev/watchdog || true");
        assert_ne!(
            fd.trim(),
            "0",
            "the router's watchdog does not hold the device"
        );
    } else {
        let info = console.run_ok("watchdog --info -d /dev/watchdog0");
        assert!(!info.trim().is_empty(), "watchdog --info printed nothing");
    }
    // An applet through its link, failing as mtd-utils does on a missing device.
    console.send("flashcp /dev/null /dev/mtd-none; echo \"@@sta\"\"tus=$?@@\"");
    console.wait_for("@@status=", Duration::from_secs(30));
    let status = console.wait_for("@@", Duration::from_secs(5));
    assert_eq!(status, "1", "flashcp to a missing device: exit {status}");

    // The root file system is the read-only squashfs.
    let mounts = console.run_ok("cat /proc/mounts");
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .unwrap_or_else(|| panic!("no / in /proc/mounts:\n{mounts}"));
    assert!(
        root.contains(" ro,") || root.contains(" ro "),
        "root not read-only: {root}"
    );
    console.send("touch /limina-test; echo \"@@sta\"\"tus=$?@@\"");
    console.wait_for("@@status=", Duration::from_secs(30));
    let status = console.wait_for("@@", Duration::from_secs(5));
    assert_ne!(status, "0", "wrote to the root file system");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_image_boots_to_s6_rc_and_runs_applets() {
    qemu_board(
        "qemu-mips",
        "mips-malta",
        &["vmlinux", "rootfs.squashfs", "data.img"],
        |console| {
            // mtdinfo on the MTD device the kernel made of the data disk.
            let mtd = console.run_ok("mtdinfo -a");
            assert!(
                mtd.contains("Name:                           data"),
                "no MTD device \"data\":\n{mtd}"
            );
            assert!(
                mtd.contains("Eraseblock size:                131072 bytes"),
                "{mtd}"
            );
        },
    );
}

/// /data is UBI on the MTD device "data" (block2mtd on the second IDE
/// disk) and keeps what is written across a
/// reboot, dropbear's host key included.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_data_survives_a_reboot() {
    let Some(images) = built_images("qemu-mips", &["vmlinux", "rootfs.squashfs", "data.img"])
    else {
        return;
    };
    let readme = workspace_root().join("boards/qemu/mips-malta/readme.txt");
    let mut args = qemu_line(&readme, "qemu-mips_defconfig", &images);
    // The data disk is a copy written through (the console runs QEMU
    // with -snapshot, which would drop /data at the power cycle).
    let work = limina_board_tests::build_dir().join("board-tests/qemu-mips-reboot");
    std::fs::create_dir_all(&work).expect("work dir");
    let data = work.join("data.img");
    std::fs::copy(images.join("data.img"), &data).expect("copy data.img");
    let drive = args
        .iter_mut()
        .find(|a| a.contains("/data.img,"))
        .expect("the readme's QEMU line has the data disk");
    *drive = drive.replace(
        &format!("file={}", images.join("data.img").display()),
        &format!("file={},snapshot=off", data.display()),
    );
    let mut console = Console::spawn(&args);
    login(&mut console);
    console.run_ok("test -e /run/limina-init/data-persistent");
    let mounts = console.run_ok("grep ' /data ' /proc/mounts");
    assert!(mounts.contains("ubifs"), "/data: {mounts}");
    let marker = format!("{}", std::process::id());
    console.run_ok(&format!("echo {marker} > /data/board-test"));
    let key = console.run_ok("md5sum /data/dropbear/dropbear_ed25519_host_key");
    // `reboot` goes through s6-linux-init's shutdown (services stopped,
    // file systems unmounted) to the kernel's restart. No sync first: the
    // shutdown must write /data back itself.
    console.send("reboot");
    let shutdown = console.wait_for("reboot: Restarting system", Duration::from_secs(120));
    assert!(
        shutdown.contains("sending all processes the KILL signal"),
        "{shutdown}"
    );
    // Then a power cycle rather than QEMU's warm reset. After a warm reset
    // of malta under TCG (QEMU 7.2) that follows a full boot, the new kernel
    // needs 40 s to minutes from "Run /sbin/init" to s6-linux-init's first
    // line: its PC, sampled from QEMU's monitor, sits in zlib's inflate_fast
    // (squashfs), while `perf` on QEMU puts ~80% of QEMU's time in TCG's
    // translation-block maintenance (GTree lookups): writes into pages
    // that held the previous boot's translated code. A cold start on the
    // same disks takes seconds, and so does a warm reset after a boot to
    // /bin/sh alone.
    drop(console);
    let mut console = Console::spawn(&args);
    login(&mut console);
    assert_eq!(console.run_ok("cat /data/board-test").trim(), marker);
    assert_eq!(
        console.run_ok("md5sum /data/dropbear/dropbear_ed25519_host_key"),
        key,
        "dropbear's host key changed across the reboot"
    );
}

/// Boot a QEMU board's image as its readme says, with dropbear forwarded;
/// check its kernel config against the fragments, run the common checks,
/// then `extra`, then check the SSH banner.
fn qemu_board(board: &str, readme_dir: &str, files: &[&str], extra: impl FnOnce(&mut Console)) {
    let Some(images) = built_images(board, files) else {
        return;
    };
    kernel_config_holds_the_fragments(&images, &format!("qemu/{readme_dir}"));
    let readme = workspace_root().join(format!("boards/qemu/{readme_dir}/readme.txt"));
    let mut args = qemu_line(&readme, &format!("{board}_defconfig"), &images);
    // dropbear through QEMU's user network (-nic user,... or -netdev user,...).
    let port = free_port();
    let user_net = args
        .iter_mut()
        .find(|a| a.starts_with("user,"))
        .expect("a user-network argument");
    user_net.push_str(&format!(",hostfwd=tcp:127.0.0.1:{port}-:22"));
    let started = Instant::now();
    let mut console = Console::spawn(&args);
    login(&mut console);
    eprintln!(
        "{board}: login prompt {:.1} s after QEMU started",
        started.elapsed().as_secs_f64()
    );
    check_system(&mut console);
    extra(&mut console);
    // A board without the router services has no DHCP client running:
    // give eth0 QEMU user networking's address (the QEMU router's wan
    // service has it from QEMU's DHCP server by now).
    console.run_ok(
        "if [ -d /etc/limina/router ]; then for i in $(seq 60); do \
         ip -4 addr show dev eth0 | grep -q 10.0.2.15 && break; sleep 1; done; fi; \
         ip -4 addr show dev eth0 | grep -q 10.0.2.15 || ip addr add 10.0.2.15/24 dev eth0",
    );
    let banner = ssh_banner(port, Duration::from_secs(60));
    assert!(
        banner.starts_with("SSH-2.0-dropbear"),
        "SSH banner: {banner:?}"
    );
}

/// A virt board: the common checks only.
fn virt_board(board: &str, readme_dir: &str, kernel: &str) {
    qemu_board(board, readme_dir, &[kernel, "rootfs.squashfs"], |_| {});
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_aarch64_image_boots_to_s6_rc_and_runs_applets() {
    virt_board("qemu-aarch64", "aarch64-virt", "Image");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_armv7_image_boots_to_s6_rc_and_runs_applets() {
    virt_board("qemu-armv7", "armv7-virt", "zImage");
}

/// One partition of the GL-AR750's SPI NOR, as the device tree in the
/// built kernel describes it (offsets absolute).
#[derive(Clone, Debug)]
struct GlPartition {
    label: String,
    offset: u64,
    size: u64,
    /// The MTD number Linux gives it: partitions are registered in
    /// device-tree order, each followed at once by its own fixed
    /// sub-partitions (`add_mtd_partitions()`).
    mtd: u32,
    /// Its `compatible` ("fixed-partitions" for a firmware slot).
    compatible: String,
    /// Its sub-partitions.
    children: Vec<GlPartition>,
}

impl GlPartition {
    fn end(&self) -> u64 {
        self.offset + self.size
    }
}

/// The partitions under `node` of the flattened device tree `dtb`, read
/// with `fdtget` (`base`: the parent's offset; `mtd`: the next MTD number).
fn gl_ar750_partitions(dtb: &Path, node: &str, base: u64, mtd: &mut u32) -> Vec<GlPartition> {
    let dtb_arg = dtb.display().to_string();
    let mut parts = Vec::new();
    for child in host_tool("fdtget", &["-l", &dtb_arg, node]).lines() {
        let path = format!("{node}/{child}");
        let props = host_tool("fdtget", &["-p", &dtb_arg, &path]);
        let prop = |name: &str| {
            props.lines().any(|p| p == name).then(|| {
                host_tool("fdtget", &[&dtb_arg, &path, name])
                    .trim()
                    .to_owned()
            })
        };
        let reg = host_tool("fdtget", &["-tx", &dtb_arg, &path, "reg"]);
        let cells: Vec<u64> = reg
            .split_whitespace()
            .map(|c| {
                u64::from_str_radix(c, 16).unwrap_or_else(|e| panic!("{path} reg {reg:?}: {e}"))
            })
            .collect();
        assert_eq!(cells.len(), 2, "{path}: reg {reg:?} is not <offset size>");
        let index = *mtd;
        *mtd += 1;
        let compatible = prop("compatible").unwrap_or_default();
        let children = if compatible == "fixed-partitions" {
            gl_ar750_partitions(dtb, &path, base + cells[0], mtd)
        } else {
            Vec::new()
        };
        parts.push(GlPartition {
            label: prop("label").unwrap_or_else(|| panic!("{path}: no label")),
            offset: base + cells[0],
            size: cells[1],
            mtd: index,
            compatible,
            children,
        });
    }
    parts
}

/// Where the flattened device tree appended to a kernel starts: the last
/// FDT header whose `totalsize` reaches exactly to the end.
fn appended_dtb(kernel: &[u8]) -> Option<usize> {
    (0..kernel.len().saturating_sub(8)).rev().find(|&at| {
        kernel[at..at + 4] == [0xd0, 0x0d, 0xfe, 0xed]
            && u32::from_be_bytes([
                kernel[at + 4],
                kernel[at + 5],
                kernel[at + 6],
                kernel[at + 7],
            ]) as usize
                == kernel.len() - at
    })
}

/// The GL-AR750's images, checked with the reference tools and our own
/// reader: what can be proven without the board. The flash layout is read
/// (`fdtget`) from the device tree the kernel in `firmware.bin` carries
/// (its LZMA data unpacked by `xz`); `firmware.bin` must fit a slot's fixed
/// kernel and rootfs partitions, and, written into both slots of a 16 MiB
/// NOR image, be what the boot loader model of `limina upgrade` boots from
/// slot A, and from slot B once slot A's header block is erased. The boot
/// commands of the board's readme.txt must boot each slot with its own
/// root.
#[test]
fn gl_ar750_images_are_what_the_flash_layout_expects() {
    const FLASH: u64 = 16 << 20;
    const ERASE: u64 = 64 << 10;
    const NOR_BASE: u64 = 0x9f00_0000;
    let Some(images) = built_images(
        "gl-ar750",
        &[
            "firmware.bin",
            "uImage",
            "rootfs.squashfs",
            "qca9531_glinet_gl-ar750.dtb",
        ],
    ) else {
        return;
    };
    let firmware = std::fs::read(images.join("firmware.bin")).expect("read firmware.bin");
    let uimage_file = std::fs::read(images.join("uImage")).expect("read uImage");
    let rootfs = std::fs::read(images.join("rootfs.squashfs")).expect("read rootfs.squashfs");
    let listing = host_tool(
        "mkimage",
        &["-l", &images.join("uImage").display().to_string()],
    );
    for want in [
        "MIPS Linux Kernel Image (lzma compressed)",
        "Load Address: 80060000",
        "Entry Point:  80060000",
    ] {
        assert!(
            listing.contains(want),
            "mkimage -l: no {want:?}:\n{listing}"
        );
    }

    // firmware.bin starts with the uImage, its header and data CRCs good.
    assert!(
        firmware.starts_with(&uimage_file),
        "firmware.bin does not start with the uImage"
    );
    let uimage = kexec::uimage::UImage::parse(&firmware)
        .unwrap_or_else(|e| panic!("firmware.bin's uImage: {e}"));
    assert_eq!(uimage.len(), uimage_file.len(), "uImage length");

    // The device tree the kernel boots with: appended to vmlinux.bin in
    // the uImage's LZMA data.
    let work = limina_board_tests::build_dir().join("board-tests/gl-ar750-images");
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{}: {e}", work.display()));
    let lzma = work.join("kernel.lzma");
    std::fs::write(&lzma, uimage.data).unwrap_or_else(|e| panic!("{}: {e}", lzma.display()));
    let out = Command::new("xz")
        .args(["--format=lzma", "--decompress", "--stdout"])
        .arg(&lzma)
        .output()
        .unwrap_or_else(|e| panic!("xz: {e}"));
    assert!(
        out.status.success(),
        "xz -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kernel = out.stdout;
    let at = appended_dtb(&kernel).expect("no device tree appended to the kernel in firmware.bin");
    let built_dtb =
        std::fs::read(images.join("qca9531_glinet_gl-ar750.dtb")).expect("read the .dtb");
    assert_eq!(
        &kernel[at..],
        &built_dtb[..],
        "the device tree in firmware.bin's kernel is not the build's .dtb"
    );
    let dtb = work.join("appended.dtb");
    std::fs::write(&dtb, &kernel[at..]).unwrap_or_else(|e| panic!("{}: {e}", dtb.display()));
    let dtb_arg = dtb.display().to_string();

    // The partitions, as Linux will number them.
    let mut mtd = 0;
    let parts = gl_ar750_partitions(&dtb, "/ahb/spi@1f000000/flash@0/partitions", 0, &mut mtd);
    let mut labels: Vec<&str> = parts
        .iter()
        .flat_map(|p| std::iter::once(p).chain(&p.children))
        .map(|p| p.label.as_str())
        .collect();
    let count = labels.len();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(
        labels.len(),
        count,
        "partition labels repeat (limina upgrade opens slots by name): {parts:#?}"
    );
    for pair in parts.windows(2) {
        assert!(
            pair[0].end() <= pair[1].offset,
            "{} and {} overlap or are out of order",
            pair[0].label,
            pair[1].label
        );
    }
    let slot = |name: &str| {
        parts.iter().find(|p| p.label == name).unwrap_or_else(|| {
            panic!("no {name:?} partition (the upgrade applet's slot): {parts:#?}")
        })
    };
    // limina upgrade's default slots: mtd:firmware, mtd:firmware-b.
    let (a, b) = (slot("firmware"), slot("firmware-b"));
    assert_eq!(a.size, b.size, "the two slots differ in size");
    assert!(b.end() <= FLASH, "firmware-b ends past 16 MiB");
    for s in [a, b] {
        assert_eq!(s.offset % ERASE, 0, "{} not on an erase block", s.label);
        assert_eq!(s.size % ERASE, 0, "{} not whole erase blocks", s.label);
        assert_eq!(
            s.compatible, "fixed-partitions",
            "{}: its kernel and rootfs must be fixed partitions",
            s.label
        );
        assert_eq!(s.children.len(), 2, "{}: not kernel + rootfs", s.label);
        let (k, r) = (&s.children[0], &s.children[1]);
        assert_eq!(k.offset, s.offset, "{}: kernel not at its start", s.label);
        assert_eq!(
            r.offset,
            k.end(),
            "{}: rootfs not right after the kernel",
            s.label
        );
        assert_eq!(
            r.end(),
            s.end(),
            "{}: rootfs does not reach its end",
            s.label
        );
        assert_eq!(
            r.offset % ERASE,
            0,
            "{}: rootfs not on an erase block",
            s.label
        );
        assert_eq!(k.mtd, s.mtd + 1, "{}: kernel numbered apart", s.label);
        assert_eq!(r.mtd, s.mtd + 2, "{}: rootfs numbered apart", s.label);
    }
    let kernel_size = a.children[0].size;
    assert_eq!(
        kernel_size, b.children[0].size,
        "the slots split kernel and rootfs differently"
    );
    let (root_a, root_b) = (a.children[1].mtd, b.children[1].mtd);
    eprintln!(
        "gl-ar750 layout: firmware {:#x}+{:#x} (mtd{}, rootfs mtd{root_a}), firmware-b {:#x}+{:#x} (mtd{}, rootfs mtd{root_b}), kernel part {kernel_size:#x}",
        a.offset, a.size, a.mtd, b.offset, b.size, b.mtd
    );

    // firmware.bin fills one slot: uImage, 0xff, the squashfs at the
    // rootfs partition.
    let rootfs_size = a.children[1].size;
    assert!(
        firmware.len() as u64 <= a.size,
        "firmware.bin is {} bytes, a slot holds {}",
        firmware.len(),
        a.size
    );
    assert!(
        uimage.len() as u64 <= kernel_size,
        "the uImage ({} bytes) overflows the kernel partition ({kernel_size})",
        uimage.len()
    );
    let k = usize::try_from(kernel_size).expect("kernel partition size");
    assert!(
        firmware[uimage.len()..k].iter().all(|&b| b == 0xff),
        "firmware.bin is not 0xff between the uImage and the rootfs partition"
    );
    let split = kexec::uimage::Firmware::split(&firmware, 64 << 10)
        .unwrap_or_else(|e| panic!("Firmware::split: {e}"));
    assert_eq!(
        split.rootfs.start, k,
        "the squashfs is not at the rootfs partition"
    );
    assert_eq!(
        &firmware[split.rootfs.clone()],
        &rootfs[..split.rootfs.len()],
        "the squashfs in firmware.bin differs from rootfs.squashfs"
    );
    assert!(
        rootfs.len() as u64 <= rootfs_size,
        "rootfs.squashfs ({} bytes) overflows the rootfs partition ({rootfs_size})",
        rootfs.len()
    );

    // Both slots of a NOR image, as the boot loader and `limina upgrade
    // --status` see them.
    let mut nor = vec![0xffu8; FLASH as usize];
    for s in [a, b] {
        let at = s.offset as usize;
        nor[at..at + firmware.len()].copy_from_slice(&firmware);
    }
    let boots = |nor: &[u8]| {
        [a, b].into_iter().find(|s| {
            let range = s.offset as usize..s.end() as usize;
            kexec::uimage::Firmware::split(&nor[range], 64 << 10).is_ok()
        })
    };
    assert_eq!(boots(&nor).map(|s| s.label.as_str()), Some("firmware"));
    for s in [a, b] {
        let fw =
            kexec::uimage::Firmware::split(&nor[s.offset as usize..s.end() as usize], 64 << 10)
                .unwrap_or_else(|e| panic!("{}: {e}", s.label));
        assert!(
            s.offset + fw.rootfs.end as u64 <= s.children[1].end()
                && s.offset + fw.rootfs.start as u64 == s.children[1].offset,
            "{}: the squashfs is not its rootfs partition",
            s.label
        );
    }
    // An upgrade erases slot A's header block first.
    nor[a.offset as usize..(a.offset + ERASE) as usize].fill(0xff);
    assert_eq!(boots(&nor).map(|s| s.label.as_str()), Some("firmware-b"));

    // The kernel's own root is slot A's; the readme's boot commands give
    // each slot its root and boot it from its NOR address.
    let bootargs = host_tool("fdtget", &[&dtb_arg, "/chosen", "bootargs"]);
    assert!(
        bootargs.contains(&format!("root=/dev/mtdblock{root_a} ")),
        "/chosen bootargs {bootargs:?} does not name slot A's rootfs mtd{root_a}"
    );
    let readme_path = workspace_root().join("boards/glinet/gl-ar750/readme.txt");
    let readme = std::fs::read_to_string(&readme_path)
        .unwrap_or_else(|e| panic!("{}: {e}", readme_path.display()));
    for tool in ["setenv", "fw_setenv"] {
        let line = |var: &str| {
            readme
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with(&format!("{tool} {var} '")))
                .unwrap_or_else(|| panic!("readme.txt: no `{tool} {var} '...'`"))
        };
        for (var, root, s) in [("boot_a", root_a, a), ("boot_b", root_b, b)] {
            let l = line(var);
            for want in [
                format!("setenv bootargs root=/dev/mtdblock{root} rootfstype=squashfs;"),
                format!("bootm {:#x}'", NOR_BASE + s.offset),
            ] {
                assert!(l.contains(&want), "readme.txt: {l:?} has no {want:?}");
            }
        }
        assert!(
            line("bootargs").contains(&format!("root=/dev/mtdblock{root_a} ")),
            "readme.txt: {tool} bootargs must be slot A's (the vendor U-Boot boots 0x9f060000 with it)"
        );
        assert!(
            line("bootcmd").contains("'run boot_a || run boot_b'"),
            "readme.txt: {tool} bootcmd does not try slot A, then slot B"
        );
    }

    let files = host_tool(
        "unsquashfs",
        &[
            "-lls",
            "-d",
            "",
            &images.join("rootfs.squashfs").display().to_string(),
        ],
    );
    assert!(
        files.contains("/usr/bin/limina"),
        "no /usr/bin/limina in the rootfs"
    );
    for applet in ["flashcp", "ubiattach", "kexec", "trial-boot", "ifwait"] {
        assert!(
            files.contains(&format!("/usr/bin/{applet} -> limina")),
            "no /usr/bin/{applet} link to limina in the rootfs"
        );
    }
    let dts = host_tool("dtc", &["-I", "dtb", "-O", "dts", &dtb_arg]);
    assert!(
        // dtc writes a string list as one string with \0 separators.
        dts.contains("compatible = \"glinet,gl-ar750\\0"),
        "DTB does not name the board"
    );
    assert!(dts.contains("GL.iNet GL-AR750"), "DTB has no model");
    kernel_config_holds_the_fragments(&images, "glinet/gl-ar750");
}

/// The built kernel's .config (next to `images/` in the Buildroot output)
/// holds every option of the common and the board's fragment, as
/// `limina-host kconfig-check` judges it (the ARCH comes from the
/// .config's header).
fn kernel_config_holds_the_fragments(images: &Path, board_dir: &str) {
    let build = images.parent().expect("images/ has a parent").join("build");
    let linux = std::fs::read_dir(&build)
        .unwrap_or_else(|e| panic!("{}: {e}", build.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("linux-")
                && !name.starts_with("linux-headers")
                && p.join(".config").exists()
        })
        .unwrap_or_else(|| panic!("no configured kernel in {}", build.display()));
    let root = workspace_root();
    let args = limina_host::kconfig_check::Args {
        linux_dir: linux.clone(),
        fragments: vec![
            root.join("boards/common/linux.fragment"),
            root.join("boards").join(board_dir).join("linux.fragment"),
        ],
        arch: None,
        config: None,
    };
    let report = limina_host::kconfig_check::check(&args).unwrap_or_else(|e| {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        panic!("{}: {text}", linux.display())
    });
    assert!(
        report.problems.is_empty(),
        "kernel config of {} misses fragment options:\n{report}",
        linux.display()
    );
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
    assert!(args.iter().any(|a| a
        == "rootwait root=/dev/sda console=ttyS0 block2mtd.block2mtd=/dev/sdb,131072,flash \
            mtdparts=flash:16M(data),16M(firmware),16M(firmware-b)"));
    assert!(args.iter().any(|a| a.contains("/img/rootfs.squashfs")));
    assert!(args
        .iter()
        .any(|a| a.contains("/img/data.img") && a.contains("index=1")));
}

/// Seconds since the guest booted (`/proc/uptime`).
pub(crate) fn guest_uptime(console: &mut Console) -> f64 {
    let up = console.run_ok("cut -d' ' -f1 /proc/uptime");
    up.trim()
        .parse()
        .unwrap_or_else(|e| panic!("/proc/uptime {up:?}: {e}"))
}

/// The QEMU router (boards/qemu/router.toml, built into qemu-mips): its
/// WAN gets a lease from QEMU's user network and the services that
/// consume it follow (address, default route, the firewall's wan set); a
/// LAN client (a second QEMU, x86_64, on the router's socket network) gets
/// a lease from the router's dnsmasq and reaches the host through the
/// router's NAT; the WAN lease released withdraws the route and the set
/// element, a new lease restores them, and the LAN services are not
/// restarted meanwhile. Prints the timings.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_router_serves_its_lan_through_the_wan() {
    use limina_board_tests::{Machine, Vm, VmConfig};

    let Some(images) = built_images("qemu-mips", &["vmlinux", "rootfs.squashfs", "data.img"])
    else {
        return;
    };
    let readme = workspace_root().join("boards/qemu/mips-malta/readme.txt");
    let mut args = qemu_line(&readme, "qemu-mips_defconfig", &images);
    // A LAN of this test's own (another port than the readme's).
    let lan_port = free_port();
    let lan = format!("127.0.0.1:{lan_port}");
    for a in args.iter_mut() {
        if a.contains("listen=127.0.0.1:1234") {
            *a = a.replace("127.0.0.1:1234", &lan);
        }
    }
    assert!(
        args.iter().any(|a| a.contains(&lan)),
        "no LAN socket network in the readme's QEMU line: {args:?}"
    );
    let started = Instant::now();
    let mut router = Console::spawn(&args);
    login(&mut router);
    let all_up = guest_uptime(&mut router);
    eprintln!(
        "qemu-router: every service of the default bundle up {all_up:.1} s after the kernel started \
         ({:.1} s after QEMU started)",
        started.elapsed().as_secs_f64()
    );
    let up = router.run_ok("s6-rc -a list");
    for service in [
        "link-wan",
        "link-lan-port",
        "bridge-lan",
        "address-lan4",
        "wan",
        "wan-address",
        "dnsmasq",
        "firewall",
        "firewall-sets",
        "ntp",
        "secrets",
        "watchdog",
    ] {
        assert!(
            up.lines().any(|l| l.trim() == service),
            "router service {service} is not up:\n{up}"
        );
    }

    // The WAN: QEMU's DHCP server's lease, published and applied. (busybox
    // `ip route show default` lists every route: grep for it.)
    assert_eq!(router.run_ok("output wan ip").trim(), "10.0.2.15");
    assert_eq!(router.run_ok("output wan router").trim(), "10.0.2.2");
    let addrs = router.run_ok("ip -4 addr show dev eth0");
    assert!(addrs.contains("inet 10.0.2.15/24"), "{addrs}");
    let route = router.run_ok("ip route | grep ^default");
    assert!(route.contains("via 10.0.2.2 dev eth0"), "{route}");
    // firewall-sets applies the published WAN interface when it sees the
    // output change, a moment after `wan` is up: wait up to 10 s for it.
    let set = router.run_ok(
        "i=0; until nft list set inet limina wan_ifaces | grep -q eth0 || [ $i -ge 100 ]; \
         do sleep 0.1; i=$((i+1)); done; nft list set inet limina wan_ifaces",
    );
    assert!(set.contains("\"eth0\""), "{set}");
    let lan_addr = router.run_ok("ip -4 addr show dev br-lan");
    assert!(lan_addr.contains("inet 192.168.8.1/24"), "{lan_addr}");
    let members = router.run_ok("ls /sys/class/net/br-lan/brif");
    assert!(members.contains("eth1"), "br-lan members: {members}");

    // A LAN client: DHCP from the router's dnsmasq, then a TCP connection
    // to the host (10.0.2.2 in QEMU's user network) through the NAT.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let host_port = listener.local_addr().expect("local_addr").port();
    let accepted = std::thread::spawn(move || {
        listener.set_nonblocking(false).expect("blocking");
        let (mut s, peer) = listener.accept().expect("accept");
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut s), &mut line);
        (peer, line)
    });
    let machine = Machine::X86_64;
    let mut cfg = VmConfig::new(machine, "router-lan-client").expect("config");
    cfg.initramfs.module("e1000", "");
    cfg.qemu_args.extend(
        [
            "-netdev",
            &format!("socket,id=lan,connect={lan}"),
            "-device",
            "e1000,netdev=lan,mac=52:54:00:12:34:70",
        ]
        .map(String::from),
    );
    let mut client = Vm::boot(cfg).expect("boot the LAN client");
    client
        .run_ok(
            "ip link set eth0 up && \
             printf '#!/bin/sh\\n[ \"$1\" = bound ] && env > /tmp/lease\\nexit 0\\n' > /tmp/s && \
             chmod +x /tmp/s",
        )
        .expect("client setup");
    let t = Instant::now();
    let (status, out) = client
        .run_timeout(
            "udhcpc -i eth0 -n -q -t 20 -T 3 -s /tmp/s 2>&1",
            Duration::from_secs(240),
        )
        .expect("udhcpc");
    assert_eq!(status, 0, "the LAN client got no lease: {out}");
    eprintln!(
        "qemu-router: LAN client leased in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let lease = client.run_ok("cat /tmp/lease").expect("lease");
    let var = |k: &str| {
        lease
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in the lease:\n{lease}"))
            .to_string()
    };
    let ip = var("ip");
    let last: u8 = ip
        .strip_prefix("192.168.8.")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("lease {ip} not in 192.168.8.0/24"));
    assert!((100..=250).contains(&last), "lease {ip} outside the range");
    assert_eq!(var("router"), "192.168.8.1");
    assert_eq!(var("dns"), "192.168.8.1");
    client
        .run_ok(&format!(
            "ip addr add {ip}/24 dev eth0 && ip route add default via 192.168.8.1 && \
             echo hello-through-nat | nc 10.0.2.2 {host_port}"
        ))
        .expect("connect through the router");
    let (peer, line) = accepted.join().expect("accept thread");
    assert_eq!(line.trim(), "hello-through-nat");
    // QEMU's user network connects from the host's loopback: the router
    // forwarded and masqueraded the client's connection.
    assert!(peer.ip().is_loopback(), "{peer}");
    let dns = client
        .run("nslookup router.lan 192.168.8.1 2>&1")
        .expect("nslookup");
    eprintln!("qemu-router: LAN client's DNS answer: {dns:?}");

    // WAN down: the DHCP client releases its lease (SIGUSR2; it keeps
    // running, so the watchdog, which watches the wan service, is not
    // involved); the outputs go, and with them the address, the default
    // route and the firewall's wan interface.
    let dnsmasq_before = router.run_ok("s6-svstat -p /run/service/dnsmasq");
    let wan_before = router.run_ok("s6-svstat -p /run/service/wan");
    let bridge_before = router.run_ok("s6-svstat -p /run/service/bridge-lan");
    let timing = router.run_ok(
        "t0=$(cut -d' ' -f1 /proc/uptime); kill -USR2 $(pidof udhcpc); i=0; \
         while ip route | grep -q '^default' && [ $i -lt 3000 ]; do i=$((i+1)); done; \
         t1=$(cut -d' ' -f1 /proc/uptime); \
         while nft list set inet limina wan_ifaces | grep -q eth0 && [ $i -lt 6000 ]; do i=$((i+1)); done; \
         t2=$(cut -d' ' -f1 /proc/uptime); echo $t0 $t1 $t2",
    );
    let ts: Vec<f64> = timing
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(ts.len(), 3, "{timing}");
    let left = router.run_ok(
        "ip route | grep ^default; nft list set inet limina wan_ifaces | grep eth0; \
         output wan ip 2>/dev/null; true",
    );
    if !left.trim().is_empty() {
        let logs = router.run_ok(
            "tail -n 15 /var/log/wan/current /var/log/wan-address/current \
             /var/log/firewall-sets/current; ps",
        );
        panic!("after the release, still there:\n{left}\nlogs:\n{logs}");
    }
    let addrs = router.run_ok("ip -4 addr show dev eth0");
    assert!(!addrs.contains("10.0.2.15"), "address left: {addrs}");
    // WAN back: the client asks for a lease again (SIGUSR1).
    let back = router.run_ok(
        "t0=$(cut -d' ' -f1 /proc/uptime); kill -USR1 $(pidof udhcpc); \
         i=0; until ip route | grep -q '^default via 10.0.2.2' || [ $i -ge 3000 ]; do i=$((i+1)); done; \
         t1=$(cut -d' ' -f1 /proc/uptime); \
         until nft list set inet limina wan_ifaces | grep -q eth0 || [ $i -ge 6000 ]; do i=$((i+1)); done; \
         t2=$(cut -d' ' -f1 /proc/uptime); echo $t0 $t1 $t2",
    );
    let bs: Vec<f64> = back
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(bs.len(), 3, "{back}");
    let route = router.run_ok("ip route | grep ^default");
    assert!(
        route.contains("via 10.0.2.2 dev eth0"),
        "after the renewal: {route}"
    );
    let set = router.run_ok("nft list set inet limina wan_ifaces");
    assert!(set.contains("\"eth0\""), "after the renewal: {set}");
    assert_eq!(
        router.run_ok("s6-svstat -p /run/service/dnsmasq"),
        dnsmasq_before,
        "dnsmasq was restarted"
    );
    assert_eq!(
        router.run_ok("s6-svstat -p /run/service/wan"),
        wan_before,
        "the DHCP client was restarted"
    );
    assert_eq!(
        router.run_ok("s6-svstat -p /run/service/bridge-lan"),
        bridge_before,
        "bridge-lan was restarted"
    );
    eprintln!(
        "qemu-router: WAN down -> default route withdrawn {:.0} ms, wan set emptied {:.0} ms; \
         WAN up -> default route {:.0} ms (lease included), wan set {:.0} ms",
        (ts[1] - ts[0]) * 1000.0,
        (ts[2] - ts[0]) * 1000.0,
        (bs[1] - bs[0]) * 1000.0,
        (bs[2] - bs[0]) * 1000.0
    );
    client.kill();
}

/// `limina-host`: `$LIMINA_HOST`, or the workspace's debug build (built
/// here when missing).
pub(crate) fn limina_host() -> PathBuf {
    if let Some(p) = std::env::var_os("LIMINA_HOST") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .join("limina-host");
    if !p.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-q", "-p", "limina-host"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo build -p limina-host");
        assert!(st.success(), "cargo build -p limina-host: {st}");
    }
    p
}

/// A qemu-mips firmware image as the board's post-image.sh makes it: the
/// uImage, 0xff to the flash disk's 128 KiB erase block, the squashfs.
pub(crate) fn mips_firmware(uimage: &[u8], squashfs: &[u8]) -> Vec<u8> {
    let mut fw = uimage.to_vec();
    fw.resize(uimage.len().next_multiple_of(128 << 10), 0xff);
    fw.extend_from_slice(squashfs);
    fw
}

/// An older qemu-mips image for the slots: the build's kernel (`images`)
/// with another, smaller root file system made in `work`.
pub(crate) fn older_mips_firmware(images: &Path, work: &Path) -> Vec<u8> {
    let old_root = work.join("old-root");
    std::fs::create_dir_all(old_root.join("etc")).expect("old root");
    std::fs::write(old_root.join("etc/issue"), "the old image\n").expect("old issue");
    let old_fs = work.join("old.squashfs");
    host_tool(
        "mksquashfs",
        &[
            &old_root.display().to_string(),
            &old_fs.display().to_string(),
            "-noappend",
            "-all-root",
            "-quiet",
            "-no-progress",
        ],
    );
    let uimage = std::fs::read(images.join("uImage")).expect("uImage");
    mips_firmware(&uimage, &std::fs::read(&old_fs).expect("old squashfs"))
}

/// The sha256 `limina upgrade --status` prints for a slot (`-` when the
/// slot is not valid).
pub(crate) fn slot_sha(status: &str, slot: &str) -> String {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{slot} ")))
        .unwrap_or_else(|| panic!("no {slot} line in:\n{status}"));
    line.split_once("sha256 ")
        .and_then(|(_, rest)| rest.split(',').next())
        .unwrap_or("-")
        .to_string()
}

/// The upgrade journey on the qemu-mips image itself: the build's
/// `firmware.bin` and its signature (the build's key, `board:mti,malta`)
/// go over one ssh connection (`limina-host upgrade`, dropbear) to
/// `limina upgrade -` on the running image, which checks them against
/// the `/etc/limina/signing.pub` the build put in the image and the
/// running device tree, and writes the two firmware slots (`firmware`,
/// `firmware-b`, 16 MiB partitions of the board's block2mtd flash, see
/// its readme) holding an older image. Then every refusal, each with its line and
/// both slots unchanged, and a rerun that changes nothing. Prints the
/// timings.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_upgrade_over_ssh_checks_then_writes_both_slots() {
    let files = [
        "vmlinux",
        "rootfs.squashfs",
        "data.img",
        "firmware.bin",
        "firmware.bin.minisig",
    ];
    let Some(images) = built_images("qemu-mips", &files) else {
        return;
    };
    let work = limina_board_tests::build_dir().join("board-tests/qemu-mips-upgrade");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let firmware = std::fs::read(images.join("firmware.bin")).expect("firmware.bin");
    let new_sha = sha256_hex(&firmware);

    // An older image: the same kernel, another root file system.
    let old = older_mips_firmware(&images, &work);
    std::fs::write(work.join("old.bin"), &old).expect("old.bin");
    let old_sha = sha256_hex(&old);

    // An ssh key for root (the image's authorized_keys is the example's).
    let key = work.join("id_ed25519");
    host_tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &key.display().to_string(),
        ],
    );
    let public = std::fs::read_to_string(work.join("id_ed25519.pub")).expect("public key");

    let readme = workspace_root().join("boards/qemu/mips-malta/readme.txt");
    let mut args = qemu_line(&readme, "qemu-mips_defconfig", &images);
    let port = free_port();
    let user_net = args
        .iter_mut()
        .find(|a| a.starts_with("user,"))
        .expect("a user-network argument");
    user_net.push_str(&format!(",hostfwd=tcp:127.0.0.1:{port}-:22"));
    // The slots are partitions of data.img (Console runs QEMU with
    // -snapshot: the build's file is not written).
    let mut console = Console::spawn(&args);
    login(&mut console);
    let mtd = console.run_ok("cat /proc/mtd");
    assert!(
        mtd.contains("01000000 00020000 \"firmware\"")
            && mtd.contains("01000000 00020000 \"firmware-b\""),
        "{mtd}"
    );
    console.run_ok(&format!(
        "mount -t tmpfs -o mode=0700 tmpfs /root/.ssh && echo '{}' > /root/.ssh/authorized_keys",
        public.trim()
    ));
    console.run_ok(
        "for i in $(seq 60); do ip -4 addr show dev eth0 | grep -q 10.0.2.15 && break; sleep 1; done",
    );
    let banner = ssh_banner(port, Duration::from_secs(60));
    assert!(banner.starts_with("SSH-2.0-dropbear"), "{banner}");
    let ssh = format!(
        "ssh -i {} -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o LogLevel=ERROR",
        key.display()
    );
    let host = limina_host();
    let upgrade = |image: &Path, extra: &[&str]| {
        let started = Instant::now();
        let out = Command::new(&host)
            .arg("upgrade")
            .args(["--ssh", &ssh])
            .args(extra)
            .arg("root@127.0.0.1")
            .arg(image)
            .output()
            .expect("limina-host upgrade");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code(), err, started.elapsed().as_secs_f64())
    };

    // The old image into both slots, by hand, over the same connection.
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{ssh} root@127.0.0.1 'cat > /tmp/old.bin' < {}",
            work.join("old.bin").display()
        ))
        .status()
        .expect("ssh");
    assert!(st.success(), "copying old.bin: {st}");
    console.run_ok("flashcp /tmp/old.bin mtd:firmware && flashcp /tmp/old.bin mtd:firmware-b");
    let status = console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), old_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), old_sha, "{status}");

    // Refusals: each names its reason and leaves both slots as they were.
    let bad = |name: &str, data: &[u8], sig: Option<&[u8]>| {
        let p = work.join(name);
        std::fs::write(&p, data).expect("bad image");
        let s = work.join(format!("{name}.minisig"));
        let _ = std::fs::remove_file(&s);
        if let Some(sig) = sig {
            std::fs::write(&s, sig).expect("sig");
        }
        p
    };
    let good_sig = std::fs::read(images.join("firmware.bin.minisig")).expect("signature");
    let mut flipped = firmware.clone();
    let at = firmware.len() - 3000;
    flipped[at] ^= 0x01;
    let other_key = work.join("other");
    let out = Command::new(&host)
        .args(["sign", "keygen", "-W", "-p"])
        .arg(other_key.with_extension("pub"))
        .arg("-s")
        .arg(other_key.with_extension("key"))
        .output()
        .expect("keygen");
    assert!(out.status.success(), "{out:?}");
    let theirs = bad("theirs.bin", &firmware, None);
    let out = Command::new(&host)
        .args(["sign", "sign", "-s"])
        .arg(other_key.with_extension("key"))
        .args(["-t", "timestamp:1\tfile:firmware.bin\tboard:mti,malta"])
        .arg(&theirs)
        .output()
        .expect("sign");
    assert!(out.status.success(), "{out:?}");
    let mut cases = vec![
        (
            bad("unsigned.bin", &firmware, None),
            "unsigned: the image has no signature",
        ),
        (theirs, "key id mismatch"),
        (
            bad("flipped.bin", &flipped, Some(&good_sig)),
            "bad signature",
        ),
        (
            bad(
                "truncated.bin",
                &firmware[..firmware.len() / 2],
                Some(&good_sig),
            ),
            "not a firmware image",
        ),
        (
            bad("oversized.bin", &vec![0x27u8; 17 << 20], Some(&good_sig)),
            "larger than 16777216 bytes",
        ),
    ];
    // Another board's image, signed with the build's own key when this
    // machine has it (docs/signing.md: ~/.config/limina/signing).
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let build_key = config.map(|c| c.join("limina/signing/limina.key"));
    if let Some(build_key) = build_key.filter(|k| k.is_file()) {
        let p = bad("gl-ar750.bin", &firmware, None);
        let out = Command::new(&host)
            .args(["sign", "sign", "-s"])
            .arg(&build_key)
            .args([
                "-t",
                "timestamp:1\tfile:firmware.bin\tboard:glinet,gl-ar750",
            ])
            .arg(&p)
            .output()
            .expect("sign");
        assert!(out.status.success(), "{out:?}");
        cases.push((
            p,
            "the image is for board \"glinet,gl-ar750\", this board is mti,malta",
        ));
    } else {
        eprintln!("another board's image: not tried (no build key in ~/.config/limina/signing)");
    }
    for (image, want) in &cases {
        let (code, err, _) = upgrade(image, &[]);
        assert_eq!(code, Some(1), "{}: {err}", image.display());
        assert!(
            err.contains(want),
            "{}: want {want:?} in:\n{err}",
            image.display()
        );
        assert!(
            err.contains("nothing was written"),
            "{}:\n{err}",
            image.display()
        );
        let status = console.run_ok("limina upgrade --status");
        assert_eq!(
            slot_sha(&status, "primary"),
            old_sha,
            "after {}: {status}",
            image.display()
        );
        assert_eq!(
            slot_sha(&status, "fallback"),
            old_sha,
            "after {}: {status}",
            image.display()
        );
        eprintln!(
            "refused {}: {}",
            image.display(),
            err.lines().find(|l| l.contains(want)).unwrap_or("")
        );
    }

    // The real thing.
    let (code, err, secs) = upgrade(&images.join("firmware.bin"), &[]);
    assert_eq!(code, Some(0), "{err}");
    eprintln!(
        "upgrade over ssh: {secs:.1} s for {} bytes\n{err}",
        firmware.len()
    );
    assert!(err.contains("signed by key"), "{err}");
    assert!(err.contains("board mti,malta"), "{err}");
    let status = console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), new_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), new_sha, "{status}");
    assert!(status.contains("boots: primary"), "{status}");

    // Again: nothing to erase or write.
    let (code, err, secs) = upgrade(&images.join("firmware.bin"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("primary erased 0, written 0") && err.contains("fallback erased 0, written 0"),
        "{err}"
    );
    eprintln!("the same image again: {secs:.1} s");
}
