//! Trial upgrades (`limina upgrade --trial`, docs/upgrading-trial.md) on
//! the qemu-mips Buildroot image itself, booted as its readme says: the
//! image's own kernel, s6-rc runlevel, `upgrade-commit` service and
//! `limina`, and its flash: the second IDE disk, which the kernel makes
//! the MTD device "flash" and splits into `data`, `firmware` and
//! `firmware-b` (boards/qemu/mips-malta/readme.txt). The flash is a copy
//! of the build's `data.img` written through, so that after QEMU quits
//! the host reads both slots from the file: the flash checksum.
//!
//! - healthy: the slots hold an older image; the build's `firmware.bin`
//!   goes over ssh (`limina-host upgrade --remote 'limina upgrade
//!   --trial'`), the running system kexecs into it, its runlevel brings up
//!   the health condition and `upgrade-commit` writes both slots; checked
//!   in the new system, then on the host, then after a power cycle;
//! - unhealthy: images made here from the build's own pieces whose WAN
//!   never comes up (its `wan` service never becomes ready), signed with
//!   the build's key: the trial ends in a reset, by the runlevel's trial
//!   timeout or, in the second, by the image's own watchdog service; both
//!   slots still hold the image they held, and the old system boots from
//!   them (cold: see `unhealthy_trial` for why).
//!
//! Skipped, with the reason printed, when the images have not been built
//! (and the unhealthy test when the build's signing key is not on this
//! machine).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use limina_board_tests::{build_dir, workspace_root};

use crate::buildroot::{
    built_images, free_port, guest_uptime, limina_host, login, mips_firmware as firmware,
    older_mips_firmware, qemu_line, slot_sha, ssh_banner, Console,
};
use crate::common::{host_tool, sha256_hex};

const MIB: usize = 1 << 20;
/// The slots in data.img (mtdparts= of the readme's QEMU line).
const SLOTS: [(&str, usize); 2] = [("firmware", 16 * MIB), ("firmware-b", 32 * MIB)];
const SLOT_LEN: usize = 16 * MIB;
const FILES: [&str; 6] = [
    "vmlinux",
    "rootfs.squashfs",
    "data.img",
    "uImage",
    "firmware.bin",
    "firmware.bin.minisig",
];

/// A slot as the writer leaves it after writing `image` into an erased
/// slot (or over a shorter image): the image, then erased flash.
fn slot_holding(image: &[u8]) -> Vec<u8> {
    let mut s = image.to_vec();
    s.resize(SLOT_LEN, 0xff);
    s
}

/// The sha256 of each slot of the flash file.
fn slot_shas(flash: &Path) -> Vec<String> {
    let data = std::fs::read(flash).unwrap_or_else(|e| panic!("{}: {e}", flash.display()));
    SLOTS
        .iter()
        .map(|&(_, at)| sha256_hex(&data[at..at + SLOT_LEN]))
        .collect()
}

/// The build's signing key (docs/signing.md), when this machine has it.
fn build_key() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("limina/signing/limina.key")).filter(|k| k.is_file())
}

/// The running image, booted from the readme's QEMU line with the flash
/// a file of its own, reachable over ssh with a key made for the test.
struct Guest {
    console: Console,
    args: Vec<String>,
    ssh: String,
}

impl Guest {
    /// Copies the build's data.img to `work/flash.img` with `slot_image`
    /// written into both slots (erased around it), then boots.
    fn boot(images: &Path, work: &Path, slot_image: &[u8]) -> (Guest, PathBuf) {
        let mut flash = std::fs::read(images.join("data.img")).expect("data.img");
        assert_eq!(
            flash.len(),
            48 * MIB,
            "data.img is not the 48 MiB flash of boards/qemu/mips-malta/readme.txt (a build from before the firmware slots: make again)"
        );
        for (_, at) in SLOTS {
            flash[at..at + SLOT_LEN].copy_from_slice(&slot_holding(slot_image));
        }
        let flash_path = work.join("flash.img");
        std::fs::write(&flash_path, &flash).expect("flash.img");

        let readme = workspace_root().join("boards/qemu/mips-malta/readme.txt");
        let mut args = qemu_line(&readme, "qemu-mips_defconfig", images);
        // Written through (Console runs QEMU with -snapshot).
        let drive = args
            .iter_mut()
            .find(|a| a.contains("/data.img,"))
            .expect("the readme's QEMU line has the flash disk");
        *drive = drive.replace(
            &format!("file={}", images.join("data.img").display()),
            &format!("file={},snapshot=off", flash_path.display()),
        );
        assert!(
            !args.iter().any(|a| a == "-no-reboot"),
            "the readme's QEMU line must let the guest reset"
        );
        let port = free_port();
        let user_net = args
            .iter_mut()
            .find(|a| a.starts_with("user,"))
            .expect("a user-network argument");
        user_net.push_str(&format!(",hostfwd=tcp:127.0.0.1:{port}-:22"));

        let key = work.join("id_ed25519");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(work.join("id_ed25519.pub"));
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

        let mut console = Console::spawn(&args);
        login(&mut console);
        console.run_ok(&format!(
            "mount -t tmpfs -o mode=0700 tmpfs /root/.ssh && echo '{}' > /root/.ssh/authorized_keys",
            public.trim()
        ));
        console.run_ok(
            "for i in $(seq 60); do ip -4 addr show dev eth0 | grep -q 10.0.2.15 && break; sleep 1; done",
        );
        let banner = ssh_banner(port, Duration::from_secs(60));
        assert!(banner.starts_with("SSH-2.0-dropbear"), "{banner}");
        // ServerAlive: the connection dies with the old kernel; ssh notices
        // within 15 s instead of waiting forever.
        let ssh = format!(
            "ssh -i {} -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o BatchMode=yes -o LogLevel=ERROR -o ServerAliveInterval=5 -o ServerAliveCountMax=3",
            key.display()
        );
        (Guest { console, args, ssh }, flash_path)
    }

    /// `limina-host upgrade --remote 'limina upgrade --trial'` of `image`
    /// (and `image.minisig`), started; its stderr goes to `log`.
    fn start_trial(&self, image: &Path, log: &Path) -> Child {
        let log = std::fs::File::create(log).expect("trial log");
        Command::new(limina_host())
            .arg("upgrade")
            .args(["--ssh", &self.ssh])
            .args(["--remote", "limina upgrade --trial"])
            .arg("root@127.0.0.1")
            .arg(image)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("limina-host upgrade")
    }
}

/// What the old side printed before the jump (its stderr came back over
/// ssh), and how ssh ended.
fn finish_trial(mut child: Child, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for limina-host") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let err = std::fs::read_to_string(log).unwrap_or_default();
    eprintln!("limina-host upgrade --trial ended with {status:?}; its stderr:\n{err}");
    err
}

/// The old side's checks passed and it jumped: the console shows the new
/// kernel's command line with the trial marker and the runlevel's trial
/// line. Returns the seconds from `started` to each.
fn wait_for_trial_kernel(console: &mut Console, started: Instant) -> (f64, f64) {
    let before = console.wait_for("Kernel command line:", Duration::from_secs(180));
    assert!(before.contains("Linux version"), "no new kernel:\n{before}");
    let kernel = started.elapsed().as_secs_f64();
    let cmdline = console.wait_for("\n", Duration::from_secs(10));
    assert!(
        cmdline.contains("limina.trial=1")
            && cmdline.contains("phram.phram=rootfs,")
            && cmdline.contains("mtdparts=flash:"),
        "the new kernel's command line: {cmdline}"
    );
    eprintln!("new kernel's command line:{cmdline}");
    console.wait_for(
        "limina-init: trial boot: waiting up to",
        Duration::from_secs(180),
    );
    (kernel, started.elapsed().as_secs_f64())
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_trial_upgrade_of_a_healthy_image_commits_itself_to_both_slots() {
    let Some(images) = built_images("qemu-mips", &FILES) else {
        return;
    };
    let work = build_dir().join("board-tests/qemu-mips-trial-healthy");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let new = std::fs::read(images.join("firmware.bin")).expect("firmware.bin");
    let new_sha = sha256_hex(&new);

    // An older image in both slots: the same kernel, another (smaller)
    // root file system.
    let old = older_mips_firmware(&images, &work);
    assert!(old.len() < new.len());
    let old_sha = sha256_hex(&old);

    let (mut guest, flash) = Guest::boot(&images, &work, &old);
    let mtd = guest.console.run_ok("cat /proc/mtd");
    for name in ["data", "firmware", "firmware-b"] {
        assert!(
            mtd.contains(&format!("00020000 \"{name}\"")),
            "no {name} with 128 KiB erase blocks:\n{mtd}"
        );
    }
    let status = guest.console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), old_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), old_sha, "{status}");
    let running_cmdline = guest.console.run_ok("cat /proc/cmdline");
    assert!(!running_cmdline.contains("limina.trial=1"));

    // The image's watchdog service holds /dev/watchdog: --trial refuses
    // (nothing loaded) until it is stopped.
    let log = work.join("refused.log");
    let child = guest.start_trial(&images.join("firmware.bin"), &log);
    let err = finish_trial(child, &log);
    assert!(
        err.contains("the watchdog service holds it") && err.contains("nothing was loaded"),
        "{err}"
    );
    assert_eq!(
        guest.console.run_ok("cat /sys/kernel/kexec_loaded").trim(),
        "0"
    );
    guest.console.run_ok("s6-rc -d change watchdog");
    // The old kernel's last messages (the kexec) on the console too, for
    // the log; the new kernel has its own default level.
    guest.console.run_ok("dmesg -n 7");

    let log = work.join("trial.log");
    let started = Instant::now();
    let child = guest.start_trial(&images.join("firmware.bin"), &log);
    let (to_kernel, to_runlevel) = wait_for_trial_kernel(&mut guest.console, started);
    let before = guest.console.wait_for(
        "limina-init: trial boot: healthy and committed",
        Duration::from_secs(400),
    );
    let to_committed = started.elapsed().as_secs_f64();
    assert!(!before.contains("not healthy"), "{before}");
    let err = finish_trial(child, &log);
    assert!(err.contains("signed by key"), "{err}");
    assert!(err.contains("board mti,malta"), "{err}");
    assert!(err.contains("go to phram limina-upgrade"), "{err}");

    // The new system's console.
    guest.console.send("");
    login(&mut guest.console);
    let to_login = started.elapsed().as_secs_f64();
    let uptime = guest_uptime(&mut guest.console);
    let cmdline = guest.console.run_ok("cat /proc/cmdline");
    assert!(cmdline.contains("limina.trial=1"), "{cmdline}");
    let mtd = guest.console.run_ok("cat /proc/mtd");
    assert!(
        mtd.contains("\"limina-upgrade\"") && mtd.contains("\"rootfs\""),
        "{mtd}"
    );
    // root= names the phram device holding the image's squashfs (the
    // limina-upgrade region registers first).
    let root = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("root="))
        .expect("root= on the command line");
    let rootfs_mtd = mtd
        .lines()
        .find(|l| l.ends_with("\"rootfs\""))
        .and_then(|l| l.split(':').next())
        .expect("rootfs line");
    assert_eq!(
        root,
        format!("/dev/{}", rootfs_mtd.replace("mtd", "mtdblock")),
        "{mtd}"
    );
    let up = guest.console.run_ok("s6-rc -a list");
    assert!(up.lines().any(|l| l.trim() == "upgrade-commit"), "{up}");
    let status = guest.console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), new_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), new_sha, "{status}");
    assert!(status.contains("boots: primary"), "{status}");
    let commit_log = guest
        .console
        .run_ok("grep -h 'upgrade:' /run/uncaught-logs/current 2>/dev/null || true");
    eprintln!("the commit, as logged in the new system:\n{commit_log}");
    // The image's watchdog service took the watchdog over.
    let held = guest
        .console
        .run_ok("s6-svstat -o up,ready /run/service/watchdog");
    eprintln!("watchdog service: {held}");
    guest.console.run_ok("sync");
    drop(guest.console);

    // The flash checksum: the host reads both slots from the file.
    let want = sha256_hex(&slot_holding(&new));
    let got = slot_shas(&flash);
    assert_eq!(
        got,
        [want.clone(), want.clone()],
        "the slots in {}",
        flash.display()
    );
    eprintln!(
        "trial upgrade (healthy), host wall time from the command: new kernel {to_kernel:.1} s, \
         runlevel {to_runlevel:.1} s, committed {to_committed:.1} s, logged in {to_login:.1} s \
         (the new kernel's uptime then {uptime:.1} s); slots on the host: sha256 {want} \
         (firmware.bin {new_sha}, {} bytes, padded with 0xff to 16 MiB)",
        new.len()
    );

    // A power cycle: the slots are still the new image.
    let mut console = Console::spawn(&guest.args);
    login(&mut console);
    let status = console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), new_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), new_sha, "{status}");
    drop(console);
}

/// How the unhealthy image is broken. Either way its `wan` service, part
/// of the health condition (the `default` bundle), never becomes ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Broken {
    /// `udhcpc` replaced by a `sleep`: the service runs, never ready. The
    /// image's watchdog service checks only that it runs, so the
    /// runlevel's trial timeout (120 s) resets the machine.
    NeverReady,
    /// `udhcpc` replaced by `exit 1`: the service restarts every second,
    /// down most of the time, which the image's watchdog service checks
    /// (`--service /run/service/wan`); the trial timeout is raised to
    /// 900 s (`/etc/limina-init/trial-timeout`, as
    /// BR2_PACKAGE_LIMINA_INIT_TRIAL_TIMEOUT sets it), so the reset is
    /// the watchdog's once its head start (120 s) is over.
    CrashLoop,
    /// `dropbear` (in the health condition, not watched by the image's
    /// watchdog service) starts, becomes ready, and is killed 3 s later,
    /// again and again: s6-rc calls it up, so only upgrade-commit's settle
    /// check (BR2_PACKAGE_LIMINA_INIT_TRIAL_SETTLE) can refuse it; the
    /// runlevel then resets the machine.
    DaemonDies,
}

/// The build's root file system broken as `broken` says, as a firmware
/// image signed with the build's key.
fn unhealthy_image(images: &Path, work: &Path, key: &Path, broken: Broken) -> PathBuf {
    let root = work.join("root");
    let _ = std::fs::remove_dir_all(&root);
    host_tool(
        "unsquashfs",
        &[
            "-q",
            "-n",
            "-d",
            &root.display().to_string(),
            &images.join("rootfs.squashfs").display().to_string(),
        ],
    );
    if broken == Broken::DaemonDies {
        let run = root.join("etc/s6-rc/compiled/servicedirs/dropbear/run.user");
        let script = std::fs::read_to_string(&run).expect("the dropbear service's run script");
        let line = "exec dropbear -F -E \"$@\"";
        assert!(
            script.contains(line),
            "no {line:?} in {}:\n{script}",
            run.display()
        );
        let instead = format!(
            "# board-tests: a daemon that dies 3 s after it starts\n(sleep 3; kill $$) &\n{line}"
        );
        std::fs::write(&run, script.replace(line, &instead)).expect("write run.user");
    } else {
        let run = root.join("etc/s6-rc/compiled/servicedirs/wan/run.user");
        let script = std::fs::read_to_string(&run).expect("the wan service's run script");
        let line = script
            .lines()
            .find(|l| l.starts_with("exec udhcpc "))
            .unwrap_or_else(|| panic!("no udhcpc line in {}:\n{script}", run.display()))
            .to_string();
        let instead = match broken {
            Broken::CrashLoop => "# board-tests: a WAN client that fails at once\nexit 1",
            _ => "# board-tests: a WAN that never gets a lease\nexec sleep 86400",
        };
        std::fs::write(&run, script.replace(&line, instead)).expect("write run.user");
    }
    if broken == Broken::CrashLoop {
        std::fs::write(root.join("etc/limina-init/trial-timeout"), "900\n").expect("trial-timeout");
    }
    std::fs::write(root.join("etc/limina-unhealthy"), "board-tests\n").expect("marker");
    let fs = work.join("rootfs.squashfs");
    let info = host_tool(
        "unsquashfs",
        &["-s", &images.join("rootfs.squashfs").display().to_string()],
    );
    let comp = info
        .lines()
        .find_map(|l| l.strip_prefix("Compression "))
        .expect("compression")
        .trim()
        .to_string();
    let block = info
        .lines()
        .find_map(|l| l.strip_prefix("Block size "))
        .expect("block size")
        .trim()
        .to_string();
    host_tool(
        "mksquashfs",
        &[
            &root.display().to_string(),
            &fs.display().to_string(),
            "-noappend",
            "-comp",
            &comp,
            "-b",
            &block,
            "-quiet",
            "-no-progress",
        ],
    );
    let uimage = std::fs::read(images.join("uImage")).expect("uImage");
    let image = work.join("firmware.bin");
    std::fs::write(
        &image,
        firmware(&uimage, &std::fs::read(&fs).expect("squashfs")),
    )
    .expect("firmware.bin");
    let out = Command::new(limina_host())
        .args(["sign", "sign", "-s"])
        .arg(key)
        .args(["-t", "timestamp:1\tfile:firmware.bin\tboard:mti,malta"])
        .arg(&image)
        .output()
        .expect("limina-host sign");
    assert!(out.status.success(), "{out:?}");
    image
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_trial_upgrade_of_an_unhealthy_image_resets_and_the_slots_keep_the_old_one() {
    unhealthy_trial("unhealthy", Broken::NeverReady);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_trial_upgrade_whose_wan_fails_is_reset_by_the_images_watchdog_service() {
    unhealthy_trial("watchdog", Broken::CrashLoop);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn qemu_mips_trial_upgrade_whose_daemon_dies_after_starting_is_not_committed() {
    unhealthy_trial("daemon-dies", Broken::DaemonDies);
}

/// A trial of an image broken as `broken` says: it must end in the reset
/// `broken` names, with both slots unchanged. The reset is seen as the
/// kernel's banner again in the same QEMU; the old system is then booted
/// cold from the same flash file rather than waited for, because after a
/// warm reset of malta under TCG this kernel needs 40 s to minutes before
/// init (`qemu_mips_data_survives_a_reboot`).
fn unhealthy_trial(name: &str, broken: Broken) {
    let Some(images) = built_images("qemu-mips", &FILES) else {
        return;
    };
    let Some(key) = build_key() else {
        eprintln!("skipped: no build key in ~/.config/limina/signing to sign the unhealthy image");
        return;
    };
    let work = build_dir().join(format!("board-tests/qemu-mips-trial-{name}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let unhealthy = unhealthy_image(&images, &work, &key, broken);
    // The slots hold the build's image, which is also what QEMU boots.
    let current = std::fs::read(images.join("firmware.bin")).expect("firmware.bin");
    let current_sha = sha256_hex(&current);
    let (mut guest, flash) = Guest::boot(&images, &work, &current);
    let before_shas = slot_shas(&flash);
    guest.console.run_ok("s6-rc -d change watchdog");
    guest.console.run_ok("dmesg -n 7");

    let log = work.join("trial.log");
    let started = Instant::now();
    let child = guest.start_trial(&unhealthy, &log);
    let (to_kernel, to_runlevel) = wait_for_trial_kernel(&mut guest.console, started);
    let err = finish_trial(child, &log);
    assert!(err.contains("go to phram limina-upgrade"), "{err}");
    // The reset: the runlevel's `reboot -f` at the trial timeout, or the
    // image's watchdog service stopping to feed softdog; then the kernel
    // starts again in the same QEMU.
    let trial = guest
        .console
        .wait_for("Linux version", Duration::from_secs(900));
    let to_reset = started.elapsed().as_secs_f64();
    assert!(
        !trial.contains("healthy and committed"),
        "the unhealthy image committed itself:\n{trial}"
    );
    let runlevel = trial.contains("limina-init: trial boot: not healthy or not committed");
    let softdog = trial.contains("softdog: Initiating system reboot");
    let by = match (broken, runlevel, softdog) {
        (Broken::NeverReady, true, false) => "the runlevel's reboot -f (trial timeout)",
        (Broken::DaemonDies, true, false) => {
            assert!(
                trial.contains("upgrade-commit: not healthy: down or restarted within")
                    && trial.contains(" dropbear("),
                "the settle check did not name dropbear:\n{trial}"
            );
            "the runlevel's reboot -f (upgrade-commit's settle check)"
        }
        (Broken::CrashLoop, false, true) => {
            "softdog (the image's watchdog service stopped feeding it)"
        }
        _ => panic!(
            "{broken:?}: the reset was not the expected one (runlevel's line: {runlevel}, \
             softdog's: {softdog}):\n{trial}"
        ),
    };
    eprintln!("the trial kernel's last console lines:\n{}", {
        let lines: Vec<&str> = trial.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    });
    // QEMU's warm reset of malta leaves this kernel minutes in
    // inflate_fast before init (see qemu_mips_data_survives_a_reboot):
    // the kernel banner after the reset is the proof of the reset; the
    // old system is then booted cold from the same flash.
    drop(guest.console);
    assert_eq!(
        slot_shas(&flash),
        before_shas,
        "the unhealthy trial changed the slots"
    );
    assert_eq!(before_shas[0], sha256_hex(&slot_holding(&current)));

    let mut console = Console::spawn(&guest.args);
    login(&mut console);
    let status = console.run_ok("limina upgrade --status");
    assert_eq!(slot_sha(&status, "primary"), current_sha, "{status}");
    assert_eq!(slot_sha(&status, "fallback"), current_sha, "{status}");
    assert!(status.contains("boots: primary"), "{status}");
    console.run_ok("! test -e /etc/limina-unhealthy && ! grep -qw limina.trial=1 /proc/cmdline");
    drop(console);
    eprintln!(
        "trial upgrade ({broken:?}), host wall time from the command: new kernel {to_kernel:.1} s, \
         runlevel {to_runlevel:.1} s, reset {to_reset:.1} s, by {by}; slots unchanged: sha256 {} \
         (firmware.bin {current_sha})",
        before_shas[0]
    );
}
