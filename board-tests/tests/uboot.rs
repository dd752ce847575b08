//! The TFTP developer loop end to end: a real U-Boot under QEMU loads the
//! board's `boot.scr` from our TFTP server (crates/tftpd), the script loads
//! an LZMA uImage of the kernel (and the DTB, where the kernel takes one)
//! and the root file system, and `bootm` boots; the test then checks, in the
//! booted kernel's shell, that the root file system is what the server sent.
//!
//! - Big-endian malta (the GL-AR750's flow): U-Boot built from Debian's
//!   `u-boot` source (scripts/build-uboot), the board-tests malta kernel,
//!   a squashfs kept in RAM, reserved with `memmap=`, made the MTD device
//!   mtd0 by phram and mounted from `/dev/mtdblock0`.
//! - aarch64 `-M virt`: Debian's `u-boot-qemu` (qemu_arm64) and Debian's
//!   arm64 kernel, which has no phram (nor squashfs or brd built in): the
//!   script loads the kernel, the machine's DTB and a cpio initramfs.
//!
//! The network: QEMU and the server run in a network and PID namespace of
//! their own (`unshare`), joined by a tap device; the server listens on
//! 10.0.2.2:69 of the tap, the guest is 10.0.2.15. QEMU's user networking
//! does not do: slirp answers TFTP to 10.0.2.2:69 itself (its built-in
//! server; without `tftp=` it sends "Access violation", seen with
//! qemu_arm64's U-Boot), and any other host address would need port 69 on
//! the host itself, shared with whatever else runs there (tftpd-hpa). The
//! PID namespace ends the server with QEMU, however the test ends. Root is
//! needed, as for the other namespace tests.
//!
//! The console from `tftpboot` to the kernel's shell is saved as
//! `transcript.txt` in the test's work directory
//! (`$LIMINA_BUILD_DIR/board-tests/uboot-<board>/`) and printed on stderr
//! (`--nocapture` shows it).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use limina_board_tests::{
    build_dir, timeout_scale, workspace_root, Initramfs, Machine, MachineAssets,
};

use crate::common::{host_tool, sha256_file, Check, CheckSome};

/// What the guest's /init prints when its shell is ready.
const READY: &str = "LIMINA-READY";

/// The squashfs guest's /init (the harness's own initramfs /init installs
/// busybox's links into /bin, which a read-only root cannot take).
const SQUASHFS_INIT: &str = "#!/bin/busybox sh\n\
/bin/busybox mount -t tmpfs tmpfs /tmp\n\
/bin/busybox mkdir -p /tmp/bin\n\
/bin/busybox --install -s /tmp/bin\n\
export PATH=/tmp/bin:/bin HOME=/ TERM=dumb\n\
mount -t proc proc /proc\n\
mount -t sysfs sysfs /sys\n\
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev\n\
stty -echo\n\
export PS1='' PS2=''\n\
echo LIMINA-READY \"$(uname -r)\"\n\
n=0\n\
while [ $n -lt 5 ]; do sh; n=$((n + 1)); done\n\
exec sh\n";

/// Sets up the namespace's network, starts the TFTP server on the tap and
/// then becomes QEMU: `sh -c SCRIPT sh TFTPD DIR LOG QEMU ARGS...`.
const NETNS_SCRIPT: &str = "set -e\n\
ip link set lo up\n\
ip tuntap add dev tap0 mode tap\n\
ip addr add 10.0.2.2/24 dev tap0\n\
ip link set tap0 up\n\
\"$1\" --address 10.0.2.2 --port 69 \"$2\" 2>\"$3\" &\n\
i=0\n\
until grep -q 'serving' \"$3\"; do\n\
  i=$((i + 1))\n\
  if [ $i -gt 100 ]; then echo 'tftpd did not start:' >&2; cat \"$3\" >&2; exit 1; fi\n\
  sleep 0.1\n\
done\n\
shift 3\n\
exec \"$@\"\n";

fn scaled(secs: u64) -> Duration {
    Duration::from_secs(secs).mul_f64(timeout_scale())
}

/// `scripts/vm-assets uboot` links the U-Boot images here.
fn uboot_image(name: &str) -> PathBuf {
    let p = build_dir().join("vm-assets/uboot").join(name);
    assert!(
        p.is_file(),
        "{}: missing: run scripts/vm-assets uboot",
        p.display()
    );
    p
}

/// The TFTP server: `$LIMINA_TFTPD`, or crates/tftpd's example next to this
/// test executable (`scripts/vm-assets uboot` builds it).
fn tftpd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LIMINA_TFTPD") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().check("current_exe");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .check_some("target directory")
        .join("examples/tftpd");
    assert!(
        p.is_file(),
        "{}: missing: run `cargo build -p limina-tftpd --example tftpd` \
         (scripts/vm-assets uboot does) or set LIMINA_TFTPD",
        p.display()
    );
    p
}

/// Load address and entry point of a 32-bit big-endian ELF kernel: the
/// physical address of its lowest PT_LOAD segment (where `objcopy -O
/// binary` starts) and `e_entry`.
fn elf32_be_load_entry(elf: &[u8]) -> (u32, u32) {
    let u16_at = |o: usize| u16::from_be_bytes([elf[o], elf[o + 1]]);
    let u32_at = |o: usize| u32::from_be_bytes([elf[o], elf[o + 1], elf[o + 2], elf[o + 3]]);
    assert!(
        elf.len() > 52 && elf[..4] == *b"\x7fELF" && elf[4] == 1 && elf[5] == 2,
        "not a 32-bit big-endian ELF"
    );
    let entry = u32_at(24);
    let (phoff, phentsize, phnum) = (u32_at(28) as usize, u16_at(42) as usize, u16_at(44));
    let load = (0..usize::from(phnum))
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| u32_at(ph) == 1) // PT_LOAD
        .map(|ph| u32_at(ph + 12)) // p_paddr
        .min()
        .check_some("a PT_LOAD segment");
    (load, entry)
}

/// Compresses `input` to the LZMA (alone) format U-Boot's bootm reads.
fn lzma(input: &Path, output: &Path) {
    let out = Command::new("xz")
        .args(["--format=lzma", "-6", "-c"])
        .arg(input)
        .output()
        .check("xz");
    assert!(out.status.success(), "xz --format=lzma failed");
    std::fs::write(output, out.stdout).check("write lzma");
}

fn mkimage_script(board_dir: &str, arch: &str, tftp: &Path) {
    let cmd = workspace_root()
        .join("boards/qemu")
        .join(board_dir)
        .join("boot.cmd");
    mkimage_script_file(&cmd, arch, tftp);
}

/// The boot script of the initramfs flow on aarch64 virt with Debian's
/// kernel (phram is a module there, so the board's phram-root script
/// cannot serve it): kernel, QEMU's dumped tree and a uImage ramdisk.
const AARCH64_INITRAMFS_SCRIPT: &str = "\
setenv kernel_addr 0x48000000
setenv initrd_addr 0x4c000000
setenv fdt_addr 0x4f000000
echo \"== loading uImage, virt.dtb and initrd.uImage from ${serverip}\"
if tftpboot ${kernel_addr} uImage && tftpboot ${fdt_addr} virt.dtb && tftpboot ${initrd_addr} initrd.uImage; then
\tsetenv bootargs console=ttyAMA0 rdinit=/init ${extra_bootargs}
\techo \"== bootargs: ${bootargs}\"
\tbootm ${kernel_addr} ${initrd_addr} ${fdt_addr}
else
\techo \"== boot.scr: a TFTP transfer failed, not booting\"
fi
";

fn mkimage_script_file(cmd: &Path, arch: &str, tftp: &Path) {
    host_tool(
        "mkimage",
        &[
            "-A",
            arch,
            "-O",
            "linux",
            "-T",
            "script",
            "-C",
            "none",
            "-n",
            "boot.scr",
            "-d",
            &cmd.display().to_string(),
            &tftp.join("boot.scr").display().to_string(),
        ],
    );
}

/// A fresh work directory with an empty TFTP root in it.
fn work_dir(name: &str) -> (PathBuf, PathBuf) {
    let work = build_dir()
        .join("board-tests")
        .join(format!("uboot-{name}"));
    let _ = std::fs::remove_dir_all(&work);
    let tftp = work.join("tftp");
    std::fs::create_dir_all(&tftp).check("work dir");
    (work, tftp)
}

struct Text {
    text: String,
    open: u32,
}

/// QEMU running U-Boot, in its namespace with the TFTP server, driven over
/// the serial console.
struct Board {
    child: Child,
    stdin: ChildStdin,
    shared: Arc<(Mutex<Text>, Condvar)>,
    cursor: usize,
    log: PathBuf,
    next_id: u32,
}

impl Board {
    fn start(tftp_root: &Path, work: &Path, qemu: &str, qemu_args: &[String]) -> Board {
        let log = work.join("console.log");
        let tftpd_log = work.join("tftpd.log");
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--pid", "--fork", "--kill-child", "--", "sh", "-c"])
            .arg(NETNS_SCRIPT)
            .arg("sh")
            .arg(tftpd_binary())
            .arg(tftp_root)
            .arg(&tftpd_log)
            .arg(qemu)
            .args(qemu_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut file = std::fs::File::create(&log).check("console log");
        let _ = writeln!(file, "# {cmd:?}");
        let mut child = cmd.spawn().check("unshare (util-linux)");
        let stdin = child.stdin.take().check_some("QEMU stdin");
        let shared = Arc::new((
            Mutex::new(Text {
                text: String::new(),
                open: 2,
            }),
            Condvar::new(),
        ));
        let file = Arc::new(Mutex::new(file));
        let sources: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().check_some("QEMU stdout")),
            Box::new(child.stderr.take().check_some("QEMU stderr")),
        ];
        for mut source in sources {
            let shared = Arc::clone(&shared);
            let file = Arc::clone(&file);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    let n = source.read(&mut buf).unwrap_or(0);
                    if let Ok(mut f) = file.lock() {
                        let _ = f.write_all(&buf[..n]);
                    }
                    let (m, cv) = &*shared;
                    let mut t = m.lock().unwrap_or_else(|e| e.into_inner());
                    t.text
                        .push_str(&String::from_utf8_lossy(&buf[..n]).replace('\r', ""));
                    if n == 0 {
                        t.open -= 1;
                    }
                    cv.notify_all();
                    if n == 0 {
                        break;
                    }
                }
            });
        }
        Board {
            child,
            stdin,
            shared,
            cursor: 0,
            log,
            next_id: 0,
        }
    }

    /// Waits for `needle` after the cursor; returns the text up to and
    /// including it and moves the cursor past it. A kernel panic, QEMU
    /// exiting or the timeout fail the test with the console's tail.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut t = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let new = &t.text[self.cursor..];
            if let Some(i) = new.find(needle) {
                let found = new[..i + needle.len()].to_string();
                self.cursor += i + needle.len();
                return found;
            }
            let tail = || {
                let lines: Vec<&str> = t.text.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            };
            let why = if new.contains("Kernel panic - not syncing") {
                "the guest kernel panicked"
            } else if t.open == 0 {
                "QEMU exited"
            } else if Instant::now() >= deadline {
                "timeout"
            } else {
                t = cv
                    .wait_timeout(t, deadline.saturating_duration_since(Instant::now()))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            };
            panic!(
                "waiting for {needle:?}: {why} (console log {}):\n{}",
                self.log.display(),
                tail()
            );
        }
    }

    /// The whole console so far.
    fn text(&self) -> String {
        let t = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
        t.text.clone()
    }

    fn send(&mut self, line: &str) {
        self.send_raw(&format!("{line}\n"));
    }

    fn send_raw(&mut self, text: &str) {
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|_| self.stdin.flush())
            .check("write to QEMU's serial console");
    }

    /// Types a U-Boot command at its prompt (already shown) and waits for
    /// the next prompt; returns the command's output. U-Boot reads the
    /// console while it works (to see Ctrl-C) and drops what it reads, so
    /// nothing is typed before the prompt.
    fn uboot(&mut self, prompt: &str, command: &str, timeout: Duration) -> String {
        self.send(command);
        self.wait_for(prompt, timeout)
    }

    /// Runs a command in the booted guest's shell; returns its exit status
    /// and output (the harness's protocol: a marker line with `$?`).
    fn run(&mut self, command: &str) -> (i32, String) {
        self.next_id += 1;
        let marker = format!("@@UBOOT-RC-{}:", self.next_id);
        self.send(&format!("{command}\necho \"{marker}\"$?\"@@\""));
        let out = self.wait_for(&marker, scaled(60));
        let rest = self.wait_for("@@\n", scaled(10));
        let status = rest.trim_end_matches("@@\n").parse().check("exit status");
        let out = out.trim_end_matches(&marker).trim_end_matches('\n');
        (status, out.to_string())
    }

    fn run_ok(&mut self, command: &str) -> String {
        let (status, out) = self.run(command);
        assert_eq!(status, 0, "`{command}` failed in the guest: {out}");
        out
    }

    fn poweroff(mut self) {
        self.send("poweroff -f");
        let (m, cv) = &*self.shared;
        let t = m.lock().unwrap_or_else(|e| e.into_inner());
        let (t, _) = cv
            .wait_timeout_while(t, scaled(30), |t| t.open > 0)
            .unwrap_or_else(|e| e.into_inner());
        let exited = t.open == 0;
        drop(t);
        if !exited {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        assert!(exited, "QEMU did not exit after poweroff");
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// With `board` at its U-Boot prompt, has it load and run `boot.scr`
/// from the TFTP server and waits for the kernel's shell. Saves and prints
/// the console from `tftpboot` to the shell; returns the board and the
/// console transcript and the seconds from typing `tftpboot` to the shell.
fn tftpboot_to_shell(
    mut board: Board,
    name: &str,
    work: &Path,
    prompt: &str,
    extra_bootargs: &str,
) -> (Board, String, f64) {
    let t = scaled(60);
    // In step with U-Boot: the output of this echo, then its prompt.
    board.send("echo UBOOT-SYNC");
    board.wait_for(&format!("UBOOT-SYNC\n{prompt}"), t);
    board.uboot(prompt, "setenv ipaddr 10.0.2.15", t);
    board.uboot(prompt, "setenv serverip 10.0.2.2", t);
    board.uboot(prompt, "setenv netmask 255.255.255.0", t);
    board.uboot(
        prompt,
        &format!("setenv extra_bootargs {extra_bootargs}"),
        t,
    );
    let from = board.text().len();
    let start = Instant::now();
    let out = board.uboot(prompt, "tftpboot ${loadaddr} boot.scr", t);
    assert!(out.contains("Bytes transferred = "), "tftpboot: {out}");
    board.send("source ${loadaddr}");
    board.wait_for(READY, scaled(300));
    let secs = start.elapsed().as_secs_f64();
    board.wait_for("\n", scaled(10));
    let text = board.text();
    let transcript = format!("{prompt}{}", &text[from..]);
    std::fs::write(work.join("transcript.txt"), &transcript).check("transcript");
    eprintln!(
        "---- {name}: console from tftpboot to the kernel's shell ({secs:.1} s) ----\n\
         {transcript}----"
    );
    // Every file came from our server (its log: one line per transfer).
    let log = std::fs::read_to_string(work.join("tftpd.log")).check("tftpd.log");
    for file in std::fs::read_dir(work.join("tftp")).check("tftp dir") {
        let name = file.check("tftp dir entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            log.contains(&format!("sent \"{name}\"")),
            "tftpd did not send {name}:\n{log}"
        );
    }
    eprintln!("---- {name}: tftpd.log ----\n{log}----");
    // Consume the shell's banner before the first command.
    board.run(":");
    (board, transcript, secs)
}

/// QEMU malta (big-endian) running our U-Boot, on the tap network.
fn start_malta(tftp: &Path, work: &Path) -> Board {
    let args: Vec<String> = [
        "-M",
        "malta",
        "-cpu",
        "24Kf",
        "-m",
        "256",
        "-accel",
        "tcg",
        "-vga",
        "none",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-bios",
        &uboot_image("mips-malta-u-boot.bin").display().to_string(),
        "-nic",
        "tap,ifname=tap0,script=no,downscript=no,model=pcnet",
    ]
    .map(String::from)
    .to_vec();
    Board::start(tftp, work, "qemu-system-mips", &args)
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_tftpboot_mips_malta_be_squashfs_on_phram() {
    let (work, tftp) = work_dir("mips-malta");
    let assets = MachineAssets::find(Machine::Mips).check("mips assets");

    // The kernel: an LZMA uImage of vmlinux, load and entry from the ELF.
    let elf = std::fs::read(&assets.kernel).check("vmlinux");
    let (load, entry) = elf32_be_load_entry(&elf);
    let bin = work.join("vmlinux.bin");
    host_tool(
        "mips-linux-gnu-objcopy",
        &[
            "-O",
            "binary",
            &assets.kernel.display().to_string(),
            &bin.display().to_string(),
        ],
    );
    let lz = work.join("vmlinux.bin.lzma");
    lzma(&bin, &lz);
    host_tool(
        "mkimage",
        &[
            "-A",
            "mips",
            "-O",
            "linux",
            "-T",
            "kernel",
            "-C",
            "lzma",
            "-a",
            &format!("{load:#x}"),
            "-e",
            &format!("{entry:#x}"),
            "-n",
            "Linux malta-be",
            "-d",
            &lz.display().to_string(),
            &tftp.join("uImage").display().to_string(),
        ],
    );

    // The rootfs: a squashfs of the static big-endian busybox and /init.
    let root = work.join("rootfs");
    for d in ["bin", "dev", "proc", "sys", "tmp", "root", "etc", "mnt"] {
        std::fs::create_dir_all(root.join(d)).check("rootfs dir");
    }
    std::fs::copy(&assets.busybox, root.join("bin/busybox")).check("busybox");
    std::fs::write(root.join("init"), SQUASHFS_INIT).check("init");
    std::fs::set_permissions(root.join("init"), std::fs::Permissions::from_mode(0o755))
        .check("chmod /init");
    let squashfs = tftp.join("rootfs.squashfs");
    host_tool(
        "mksquashfs",
        &[
            &root.display().to_string(),
            &squashfs.display().to_string(),
            "-comp",
            "xz",
            "-all-root",
            "-noappend",
            "-quiet",
            "-p",
            "/dev/console c 600 0 0 5 1",
        ],
    );
    let squashfs_len = std::fs::metadata(&squashfs).check("squashfs").len();
    let squashfs_sum = sha256_file(&squashfs);
    mkimage_script("mips-malta", "mips", &tftp);

    let mut board = start_malta(&tftp, &work);
    // malta_defconfig has no autoboot: U-Boot comes up at its prompt.
    let banner = board.wait_for("malta # ", scaled(120));
    assert!(
        banner.contains("eth0: pcnet#0"),
        "no PCnet in U-Boot: {banner}"
    );
    let (mut board, transcript, secs) = tftpboot_to_shell(
        board,
        "mips-malta",
        &work,
        "malta # ",
        "init=/init panic=-1",
    );
    for step in [
        "Filename 'uImage'",
        "Filename 'rootfs.squashfs'",
        "MIPS Linux Kernel Image (lzma compressed)",
        "Uncompressing Kernel Image",
        "VFS: Mounted root (squashfs filesystem) readonly on device 31:0",
    ] {
        assert!(transcript.contains(step), "{step:?} not in the transcript");
    }

    // phram made the reserved RAM mtd0, sized as the script rounded it.
    let size = squashfs_len.div_ceil(1 << 20) << 20;
    let mtd = board.run_ok("cat /proc/mtd");
    assert!(
        mtd.contains(&format!("mtd0: {size:08x} ")) && mtd.contains("\"rootfs\""),
        "{mtd}"
    );
    let cmdline = board.run_ok("cat /proc/cmdline");
    assert!(
        cmdline.contains(&format!("memmap={size:#x}$0x0c000000"))
            && cmdline.contains("root=/dev/mtdblock0"),
        "{cmdline}"
    );
    // / is the squashfs on mtdblock0 (block major 31, minor 0) ...
    let mounts = board.run_ok("cat /proc/self/mountinfo");
    let root_line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .check_some("the / line of mountinfo");
    let f: Vec<&str> = root_line.split_whitespace().collect();
    assert_eq!(f[2], "31:0", "/ is not on mtdblock0: {root_line}");
    assert!(root_line.contains(" - squashfs "), "{root_line}");
    // ... holding, byte for byte, the image the server sent.
    let sum = board.run_ok(&format!(
        "head -c {squashfs_len} /dev/mtdblock0 | sha256sum"
    ));
    assert!(
        sum.starts_with(&squashfs_sum),
        "mtdblock0 {sum} != rootfs.squashfs {squashfs_sum}"
    );
    // The kernel keeps its hands off the reserved range: with most of the
    // RAM filled and the page cache dropped, the device still reads back
    // the image (without memmap= the page allocator hands that RAM out).
    board.run_ok("mount -t tmpfs -o size=220m tmpfs /mnt");
    let (_, fill) = board.run("dd if=/dev/zero of=/mnt/fill bs=1M count=200 2>&1");
    board.run_ok("sync && echo 3 > /proc/sys/vm/drop_caches");
    let sum = board.run_ok(&format!(
        "head -c {squashfs_len} /dev/mtdblock0 | sha256sum"
    ));
    assert!(
        sum.starts_with(&squashfs_sum),
        "after filling RAM ({fill}): mtdblock0 {sum} != rootfs.squashfs {squashfs_sum}"
    );
    board.run_ok("rm /mnt/fill");
    assert_eq!(board.run_ok("uname -m"), "mips");
    eprintln!("mips-malta: tftpboot to shell {secs:.1} s; /proc/mtd:\n{mtd}\n{root_line}");
    board.poweroff();
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_tftpboot_aarch64_virt_initramfs() {
    let (work, tftp) = work_dir("aarch64-virt");
    let assets = MachineAssets::find(Machine::Aarch64).check("aarch64 assets");

    // Debian's arm64 kernel is a flat Image: LZMA uImage at 0x40400000
    // (2 MiB aligned, text_offset 0).
    let lz = work.join("Image.lzma");
    lzma(&assets.kernel, &lz);
    host_tool(
        "mkimage",
        &[
            "-A",
            "arm64",
            "-O",
            "linux",
            "-T",
            "kernel",
            "-C",
            "lzma",
            "-a",
            "0x40400000",
            "-e",
            "0x40400000",
            "-n",
            "Linux arm64",
            "-d",
            &lz.display().to_string(),
            &tftp.join("uImage").display().to_string(),
        ],
    );
    // The initramfs (the harness's, with its /init) as a uImage ramdisk.
    let cpio = work.join("initramfs.cpio");
    Initramfs::new(Machine::Aarch64)
        .write(&assets, &cpio)
        .check("initramfs");
    host_tool(
        "mkimage",
        &[
            "-A",
            "arm64",
            "-O",
            "linux",
            "-T",
            "ramdisk",
            "-C",
            "none",
            "-n",
            "initramfs",
            "-d",
            &cpio.display().to_string(),
            &tftp.join("initrd.uImage").display().to_string(),
        ],
    );
    let script = work.join("boot.cmd");
    std::fs::write(&script, AARCH64_INITRAMFS_SCRIPT).check("boot.cmd");
    mkimage_script_file(&script, "arm64", &tftp);

    let uboot = uboot_image("aarch64-virt-u-boot.bin").display().to_string();
    let machine_args = [
        "-M",
        "virt",
        "-cpu",
        "cortex-a53",
        "-m",
        "512",
        "-accel",
        "tcg",
        "-bios",
        &uboot,
    ];
    // The machine's device tree, as QEMU generates it for this command
    // line: -bios included, since with firmware QEMU leaves out the pl061
    // GPIO (a tree dumped without it makes the kernel fault probing it).
    let dtb = tftp.join("virt.dtb");
    let mut dump: Vec<String> = machine_args.map(String::from).to_vec();
    dump[1] = format!("virt,dumpdtb={}", dtb.display());
    dump.extend(["-display", "none", "-nic", "none"].map(String::from));
    let dump: Vec<&str> = dump.iter().map(String::as_str).collect();
    host_tool("qemu-system-aarch64", &dump);

    let mut args: Vec<String> = machine_args.map(String::from).to_vec();
    args.extend(
        [
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-nic",
            "tap,ifname=tap0,script=no,downscript=no,model=virtio-net-pci",
        ]
        .map(String::from),
    );
    let mut board = Board::start(&tftp, &work, "qemu-system-aarch64", &args);
    // Debian's build autoboots (distro boot) after 2 s: any key stops it.
    board.wait_for("Hit any key to stop autoboot", scaled(120));
    board.send_raw(" ");
    let (mut board, transcript, secs) =
        tftpboot_to_shell(board, "aarch64-virt", &work, "=> ", "panic=-1 earlycon");
    for step in [
        "Filename 'uImage'",
        "Filename 'virt.dtb'",
        "Filename 'initrd.uImage'",
        "AArch64 Linux Kernel Image (lzma compressed)",
        "Booting using the fdt blob at 0x4f000000",
    ] {
        assert!(transcript.contains(step), "{step:?} not in the transcript");
    }

    let cmdline = board.run_ok("cat /proc/cmdline");
    assert!(cmdline.contains("console=ttyAMA0"), "{cmdline}");
    // The kernel runs from the uImage's address and the initramfs /init.
    let iomem = board.run_ok("grep -m1 'Kernel code' /proc/iomem");
    assert!(iomem.trim_start().starts_with("40"), "{iomem}");
    let model = board.run_ok("cat /sys/firmware/devicetree/base/compatible | tr '\\0' ' '");
    assert!(model.contains("linux,dummy-virt"), "{model}");
    assert_eq!(board.run_ok("uname -m"), "aarch64");
    eprintln!("aarch64-virt: tftpboot to shell {secs:.1} s");
    board.poweroff();
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_boot_scr_stops_before_bootm_when_a_file_is_missing() {
    // Only boot.scr is served: its first tftpboot fails (the server
    // answers "File not found") and the script must not reach bootm.
    let (work, tftp) = work_dir("mips-malta-missing-file");
    mkimage_script("mips-malta", "mips", &tftp);
    let mut board = start_malta(&tftp, &work);
    let prompt = "malta # ";
    board.wait_for(prompt, scaled(120));
    for c in [
        "setenv ipaddr 10.0.2.15",
        "setenv serverip 10.0.2.2",
        "tftpboot ${loadaddr} boot.scr",
    ] {
        board.uboot(prompt, c, scaled(60));
    }
    let out = board.uboot(prompt, "source ${loadaddr}", scaled(120));
    assert!(out.contains("TFTP error: 'File not found'"), "{out}");
    assert!(
        out.contains("== boot.scr: a TFTP transfer failed, not booting"),
        "{out}"
    );
    assert!(!out.contains("## Booting kernel"), "{out}");
    let log = std::fs::read_to_string(work.join("tftpd.log")).check("tftpd.log");
    assert!(log.contains("refused \"uImage\""), "{log}");
}

/// The qemu-mips Buildroot build's own tftpboot images (`uImage`,
/// `boot.scr`, `rootfs.squashfs` in `images/`, made by the board's
/// post-image.sh and host-uboot-tools), booted by U-Boot from our TFTP
/// server: the firmware comes up on its phram root and s6-rc brings the
/// default bundle up. Skipped (with a message) when the board is not built.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_tftpboot_buildroot_qemu_mips_image() {
    let files = ["uImage", "boot.scr", "rootfs.squashfs"];
    let Some(images) = crate::buildroot::built_images("qemu-mips", &files) else {
        return;
    };
    let (work, tftp) = work_dir("buildroot-qemu-mips");
    for f in files {
        std::fs::copy(images.join(f), tftp.join(f)).check("copy the board's image");
    }
    let squashfs = tftp.join("rootfs.squashfs");
    let squashfs_len = std::fs::metadata(&squashfs).check("squashfs").len();
    let squashfs_sum = sha256_file(&squashfs);
    // The images are what U-Boot expects: mkimage describes them.
    let info = host_tool(
        "mkimage",
        &["-l", &tftp.join("uImage").display().to_string()],
    );
    assert!(
        info.contains("MIPS Linux Kernel Image (lzma compressed)"),
        "uImage: {info}"
    );
    let info = host_tool(
        "mkimage",
        &["-l", &tftp.join("boot.scr").display().to_string()],
    );
    assert!(info.contains("Script"), "boot.scr: {info}");

    let mut board = start_malta(&tftp, &work);
    board.wait_for("malta # ", scaled(120));
    let t = scaled(60);
    board.send("echo UBOOT-SYNC");
    board.wait_for("UBOOT-SYNC\nmalta # ", t);
    for cmd in [
        "setenv ipaddr 10.0.2.15",
        "setenv serverip 10.0.2.2",
        "setenv netmask 255.255.255.0",
        "setenv extra_bootargs panic=-1",
    ] {
        board.uboot("malta # ", cmd, t);
    }
    let from = board.text().len();
    let start = Instant::now();
    let out = board.uboot("malta # ", "tftpboot ${loadaddr} boot.scr", t);
    assert!(out.contains("Bytes transferred = "), "tftpboot: {out}");
    board.send("source ${loadaddr}");
    board.wait_for("login:", scaled(400));
    let secs = start.elapsed().as_secs_f64();
    let transcript = format!("malta # {}", &board.text()[from..]);
    std::fs::write(work.join("transcript.txt"), &transcript).check("transcript");
    for step in [
        "Filename 'uImage'",
        "Filename 'rootfs.squashfs'",
        "MIPS Linux Kernel Image (lzma compressed)",
        "Uncompressing Kernel Image",
        "VFS: Mounted root (squashfs filesystem) readonly on device 31:0",
    ] {
        assert!(transcript.contains(step), "{step:?} not in the transcript");
    }
    board.send("root");
    board.wait_for("# ", scaled(30));
    // No echo, no kernel messages: the harness's marker protocol.
    board.send("stty -echo; dmesg -n 1; export PS1=''");
    board.run(":");
    // The boot's s6-rc change prints to the console while services come
    // up: wait for the base services before reading command output. (Not
    // for the whole default bundle: on this network the router's wan gets
    // no lease, and eth1 of its LAN is not there; and `s6-rc` itself
    // waits for the boot's change, which holds its lock: s6-svstat.)
    board.run_ok(
        "for i in $(seq 50); do s6-svstat -o up /run/service/dropbear 2>/dev/null | grep -qx true && break; sleep 1; done",
    );

    let cmdline = board.run_ok("cat /proc/cmdline");
    assert!(
        cmdline.contains("root=/dev/mtdblock0") && cmdline.contains("memmap="),
        "{cmdline}"
    );
    let mounts = board.run_ok("cat /proc/self/mountinfo");
    let root_line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .check_some("the / line of mountinfo");
    assert_eq!(
        root_line.split_whitespace().nth(2),
        Some("31:0"),
        "/ is not on mtdblock0: {root_line}"
    );
    let sum = board.run_ok(&format!(
        "head -c {squashfs_len} /dev/mtdblock0 | sha256sum"
    ));
    assert!(
        sum.contains(&format!("{squashfs_sum}  -")),
        "mtdblock0 {sum} != rootfs.squashfs {squashfs_sum}"
    );
    // The firmware itself: s6-linux-init, and the default bundle up.
    let init = board.run_ok("readlink /sbin/init");
    assert!(init.contains("s6-linux-init"), "init: {init}");
    for service in ["getty", "syslogd", "dropbear", "dnsmasq", "firewall-sets"] {
        let up = board.run_ok(&format!("s6-svstat -o up /run/service/{service}"));
        assert!(up.contains("true"), "{service} not up: {up}");
    }
    eprintln!(
        "buildroot qemu-mips: tftpboot to login {secs:.1} s; root {root_line}\n\
         ---- transcript in {} ----",
        work.join("transcript.txt").display()
    );
    // Dropping the board stops QEMU (the image's own poweroff is tested by
    // the buildroot:: tests).
    drop(board);
}

/// The qemu-aarch64 build's own tftpboot set (`uImage`, `boot.scr`,
/// `rootfs.squashfs`, boards/qemu/aarch64-virt): Debian's `qemu_arm64`
/// U-Boot TFTP-loads them from our server; the script puts the rootfs in
/// a `/reserved-memory` node with compatible `phram` in a copy of QEMU's
/// device tree (arm64 refuses to ioremap RAM, so `phram.phram=` cannot be
/// used), and the kernel mounts it from `mtdblock0`, then s6-linux-init
/// brings the image up.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_tftpboot_buildroot_qemu_aarch64_image() {
    tftpboot_buildroot_virt_image(&VirtBoard {
        board: "qemu-aarch64",
        qemu: "qemu-system-aarch64",
        cpu: "cortex-a53",
        uboot: "aarch64-virt-u-boot.bin",
        kernel: "AArch64 Linux Kernel Image (lzma compressed)",
        machine: "aarch64",
    });
}

/// The qemu-armv7 build's tftpboot set: the same boot script as aarch64
/// (boards/qemu/aarch64-virt/boot.cmd, compiled for arm), the zImage in an
/// uncompressed uImage at 0x41000000, Debian's `qemu_arm` U-Boot.
#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn uboot_tftpboot_buildroot_qemu_armv7_image() {
    tftpboot_buildroot_virt_image(&VirtBoard {
        board: "qemu-armv7",
        qemu: "qemu-system-arm",
        cpu: "cortex-a15",
        uboot: "armv7-virt-u-boot.bin",
        kernel: "ARM Linux Kernel Image (uncompressed)",
        machine: "armv7l",
    });
}

/// A `-M virt` board's Buildroot tftpboot run.
struct VirtBoard {
    /// The Buildroot board (output directory name).
    board: &'static str,
    qemu: &'static str,
    cpu: &'static str,
    /// The U-Boot binary in vm-assets/uboot.
    uboot: &'static str,
    /// What `mkimage -l` and U-Boot's bootm say of the uImage.
    kernel: &'static str,
    /// `uname -m` on the booted image.
    machine: &'static str,
}

/// TFTP-boot a virt board's own build (`uImage`, `boot.scr`,
/// `rootfs.squashfs`) from our server through Debian's U-Boot to a login,
/// then check that / is the phram `mtdblock0` the script reserved and that
/// s6-linux-init brought the services up.
fn tftpboot_buildroot_virt_image(v: &VirtBoard) {
    let files = ["uImage", "boot.scr", "rootfs.squashfs"];
    let Some(images) = crate::buildroot::built_images(v.board, &files) else {
        return;
    };
    let (work, tftp) = work_dir(&format!("buildroot-{}", v.board));
    for f in files {
        std::fs::copy(images.join(f), tftp.join(f)).check("copy the board's image");
    }
    let squashfs = tftp.join("rootfs.squashfs");
    let squashfs_len = std::fs::metadata(&squashfs).check("squashfs").len();
    let squashfs_sum = sha256_file(&squashfs);
    let info = host_tool(
        "mkimage",
        &["-l", &tftp.join("uImage").display().to_string()],
    );
    assert!(info.contains(v.kernel), "uImage: {info}");

    let uboot = uboot_image(v.uboot).display().to_string();
    let args: Vec<String> = [
        "-M",
        "virt",
        "-cpu",
        v.cpu,
        "-m",
        "512",
        "-accel",
        "tcg",
        "-bios",
        &uboot,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-nic",
        "tap,ifname=tap0,script=no,downscript=no,model=virtio-net-pci",
    ]
    .map(String::from)
    .to_vec();
    let mut board = Board::start(&tftp, &work, v.qemu, &args);
    // Debian's build autoboots (distro boot) after 2 s: any key stops it.
    board.wait_for("Hit any key to stop autoboot", scaled(120));
    board.send_raw(" ");
    let prompt = "=> ";
    let t = scaled(60);
    board.send("echo UBOOT-SYNC");
    board.wait_for(&format!("UBOOT-SYNC\n{prompt}"), t);
    for cmd in [
        "setenv ipaddr 10.0.2.15",
        "setenv serverip 10.0.2.2",
        "setenv netmask 255.255.255.0",
        "setenv extra_bootargs panic=-1",
    ] {
        board.uboot(prompt, cmd, t);
    }
    let from = board.text().len();
    let start = Instant::now();
    let out = board.uboot(prompt, "tftpboot ${loadaddr} boot.scr", t);
    assert!(out.contains("Bytes transferred = "), "tftpboot: {out}");
    board.send("source ${loadaddr}");
    board.wait_for("login:", scaled(400));
    let secs = start.elapsed().as_secs_f64();
    let transcript = format!("{prompt}{}", &board.text()[from..]);
    std::fs::write(work.join("transcript.txt"), &transcript).check("transcript");
    for step in [
        "Filename 'uImage'",
        "Filename 'rootfs.squashfs'",
        "compatible = \"phram\"",
        v.kernel,
        "VFS: Mounted root (squashfs filesystem) readonly on device 31:0",
    ] {
        assert!(transcript.contains(step), "{step:?} not in the transcript");
    }
    board.send("root");
    board.wait_for("# ", scaled(30));
    board.send("stty -echo; dmesg -n 1; export PS1=''");
    board.run(":");
    board.run_ok(
        "for i in $(seq 50); do s6-svstat -o up /run/service/dropbear 2>/dev/null | grep -qx true && break; sleep 1; done",
    );
    let cmdline = board.run_ok("cat /proc/cmdline");
    assert!(cmdline.contains("root=/dev/mtdblock0"), "{cmdline}");
    let mtd = board.run_ok("cat /proc/mtd");
    assert!(mtd.contains("mtd0:") && mtd.contains("\"rootfs\""), "{mtd}");
    // The region is the one the script reserved, and the kernel kept it.
    let node = board.run_ok("ls /sys/firmware/devicetree/base/reserved-memory/");
    assert!(node.contains("rootfs"), "{node}");
    let mounts = board.run_ok("cat /proc/self/mountinfo");
    let root_line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .check_some("the / line of mountinfo");
    assert_eq!(
        root_line.split_whitespace().nth(2),
        Some("31:0"),
        "/ is not on mtdblock0: {root_line}"
    );
    // Fill most of RAM: the kernel must not hand the rootfs's pages out.
    board.run_ok("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null; sync");
    let sum = board.run_ok(&format!(
        "head -c {squashfs_len} /dev/mtdblock0 | sha256sum"
    ));
    assert!(
        sum.contains(&format!("{squashfs_sum}  -")),
        "mtdblock0 {sum} != rootfs.squashfs {squashfs_sum}"
    );
    board.run_ok("rm /tmp/fill");
    let init = board.run_ok("readlink /sbin/init");
    assert!(init.contains("s6-linux-init"), "init: {init}");
    for service in ["getty", "syslogd", "dropbear"] {
        let up = board.run_ok(&format!("s6-svstat -o up /run/service/{service}"));
        assert!(up.contains("true"), "{service} not up: {up}");
    }
    assert_eq!(board.run_ok("uname -m"), v.machine);
    eprintln!(
        "buildroot {}: tftpboot to login {secs:.1} s; root {root_line}\n\
         ---- transcript in {} ----",
        v.board,
        work.join("transcript.txt").display()
    );
    drop(board);
}
