//! The watchdog ratchet (`limina watchdog`) against real watchdog drivers:
//! QEMU's i6300esb on x86_64 (which really resets the VM and reports
//! `WDIOF_CARDRESET` afterwards) and the built-in softdog on big-endian
//! MIPS (where an ioctl-encoding bug would show).
//!
//! The guest's busybox shell runs its own `watchdog` applet in preference
//! to anything in PATH, hence `limina watchdog` everywhere.
//!
//! The x86_64 test runs the daemon from our musl build (the firmware's
//! libc) and measures its memory against our glibc build and busybox's
//! `watchdog`; see docs/watchdog.md and decision 0023 for what the
//! numbers mean.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use limina_board_tests::{guest_bins_dir, guest_limina, Machine, Vm, VmConfig};

use crate::common::Check;

/// Short enough to keep the test quick, long enough for TCG.
const TIMEOUT: u64 = 5;
const INTERVAL: u64 = 1;
const HEAD_START: u64 = 5;

/// The bound on the daemon's resident memory.
const RSS_LIMIT_KIB: u64 = 1024;

/// `limina` built for the firmware's libc (musl), by
/// `scripts/guest-bins x86_64-unknown-linux-musl`.
fn musl_limina() -> PathBuf {
    let path = guest_bins_dir("x86_64-unknown-linux-musl").join("limina");
    assert!(
        path.is_file(),
        "{} missing: run scripts/guest-bins x86_64-unknown-linux-musl",
        path.display()
    );
    path
}

fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// A running daemon's idle cost: voluntary context switches over 10 s,
/// and its memory in KiB. `status` has the kernel's RSS counters
/// (`VmRSS` = `RssAnon` + `RssFile` + `RssShmem`), which on 6.1 may lag
/// by up to 64 page faults per thread (split RSS counting);
/// `smaps_rollup` walks the page tables and is exact.
#[derive(Debug)]
struct Footprint {
    wakeups: u64,
    vm_rss: u64,
    vm_hwm: u64,
    rss_anon: u64,
    rss_file: u64,
    rss: u64,
    pss: u64,
    anonymous: u64,
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} wake-ups in ~10 s; Rss {} KiB (Pss {}, anonymous {}); \
             status: VmRSS {} VmHWM {} RssAnon {} RssFile {}",
            self.wakeups,
            self.rss,
            self.pss,
            self.anonymous,
            self.vm_rss,
            self.vm_hwm,
            self.rss_anon,
            self.rss_file
        )
    }
}

/// Measures the daemon whose pid is in `pid_file` (already settled).
fn footprint(vm: &mut Vm, pid_file: &str) -> Footprint {
    let a = vm
        .run_ok(&format!("cat /proc/$(cat {pid_file})/status"))
        .check("status");
    std::thread::sleep(Duration::from_secs(10));
    let b = vm
        .run_ok(&format!("cat /proc/$(cat {pid_file})/status"))
        .check("status");
    let rollup = vm
        .run_ok(&format!("cat /proc/$(cat {pid_file})/smaps_rollup"))
        .check("smaps_rollup");
    Footprint {
        wakeups: field(&b, "voluntary_ctxt_switches:") - field(&a, "voluntary_ctxt_switches:"),
        vm_rss: field(&b, "VmRSS:"),
        vm_hwm: field(&b, "VmHWM:"),
        rss_anon: field(&b, "RssAnon:"),
        rss_file: field(&b, "RssFile:"),
        rss: field(&rollup, "Rss:"),
        pss: field(&rollup, "Pss:"),
        anonymous: field(&rollup, "Anonymous:"),
    }
}

/// Starts `cmd` in the background, measures it after 2 s, and stops it
/// with SIGTERM.
fn idle_cost(vm: &mut Vm, cmd: &str) -> Footprint {
    vm.run_ok(&format!("{cmd} & echo $! > /tmp/ref.pid; sleep 2"))
        .check("start reference");
    let f = footprint(vm, "/tmp/ref.pid");
    vm.run_ok("kill $(cat /tmp/ref.pid); sleep 1")
        .check("stop reference");
    f
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn i6300esb_healthy_feeds_then_failed_check_resets_and_reports_cardreset() {
    let mut cfg = VmConfig::new(Machine::X86_64, "watchdog-ratchet").check("config");
    // QEMU logs on stderr (the console) the moment the watchdog fires.
    cfg.qemu_args
        .extend(["-device", "i6300esb", "-trace", "watchdog_perform_action"].map(String::from));
    cfg.allow_reboot = true;
    cfg.initramfs
        .module("i6300esb", "")
        .limina(
            guest_limina(Machine::X86_64).check("guest limina"),
            &["watchdog"],
        )
        .file("/opt/musl/limina", musl_limina(), 0o755);
    let mut vm = Vm::boot(cfg).check("boot");

    // A fresh VM: no watchdog reset yet.
    let info = vm.run_ok("limina watchdog --info").check("info");
    assert!(info.contains("identity: i6300ESB timer"), "{info}");
    assert!(info.contains("bootstatus: 0x0000"), "{info}");

    // The references, measured the same way as the daemon below and then
    // stopped: busybox's watchdog, and ours linked with glibc (static).
    vm.run_ok("touch /tmp/healthy").check("touch");
    let bb = idle_cost(&mut vm, "busybox watchdog -F -T 5 -t 1 /dev/watchdog");
    eprintln!("busybox watchdog -t 1: {bb}");
    let glibc = idle_cost(
        &mut vm,
        &format!("limina watchdog -t {TIMEOUT} -i {INTERVAL} -H 0 --file /tmp/healthy"),
    );
    eprintln!("limina watchdog (glibc): {glibc}");

    // The pages the musl daemon actually uses. By default the kernel maps
    // up to 64 KiB of a file's cached pages around each page fault
    // (fault-around), so Rss counts whole 64 KiB windows of the multi-call
    // binary's text wherever the daemon touches one page of it; with
    // fault-around off, Rss counts only the touched pages.
    let fault_around = vm
        .run_ok(
            "mount -t debugfs none /sys/kernel/debug && \
             cat /sys/kernel/debug/fault_around_bytes && \
             echo 4096 > /sys/kernel/debug/fault_around_bytes",
        )
        .check("fault-around off");
    let used = idle_cost(
        &mut vm,
        &format!("/opt/musl/limina watchdog -t {TIMEOUT} -i {INTERVAL} -H 0 --file /tmp/healthy"),
    );
    eprintln!("limina watchdog (musl), pages used (no fault-around): {used}");
    vm.run_ok(&format!(
        "echo {fault_around} > /sys/kernel/debug/fault_around_bytes"
    ))
    .check("fault-around back");

    // The daemon as the firmware has it: linked with musl.
    vm.run_ok(&format!(
        "/opt/musl/limina watchdog -t {TIMEOUT} -i {INTERVAL} -H {HEAD_START} \
         --file /tmp/healthy & echo $! > /tmp/wd.pid"
    ))
    .check("start");
    // Healthy: no reset over three timeouts (the head start included).
    let t0 = vm.run_ok("cut -d. -f1 /proc/uptime").check("uptime");
    std::thread::sleep(Duration::from_secs(3 * TIMEOUT + 1));
    let t1 = vm.run_ok("cut -d. -f1 /proc/uptime").check("uptime");
    let (t0, t1): (u64, u64) = (t0.parse().check("t0"), t1.parse().check("t1"));
    assert!(
        t1 >= t0 + 3 * TIMEOUT,
        "the VM rebooted: uptime {t0} -> {t1}"
    );

    // One wake-up per interval, and the footprint, settled (past the head
    // start, checking every second).
    let musl = footprint(&mut vm, "/tmp/wd.pid");
    eprintln!("limina watchdog (musl): {musl}");
    assert!((5..=14).contains(&musl.wakeups), "{musl}");
    // What the daemon itself allocates (stack, heap, written data).
    assert!(musl.anonymous <= 128, "{musl}");
    // The 1 MiB, as `ps` shows it. After start-up the daemon
    // drops its mappings of the binary's unmodified read-only pages
    // (limina_watchdog::startup), so Rss is the loop's own pages, each
    // with the kernel's 64 KiB fault-around window: about 0.9 MiB, moving
    // by a few 64 KiB windows with the layout of the whole binary.
    assert!(
        musl.rss <= RSS_LIMIT_KIB,
        "Rss {} KiB > {RSS_LIMIT_KIB} KiB: {musl}",
        musl.rss
    );
    // The pages the loop really touches (fault-around off).
    assert!(used.rss <= RSS_LIMIT_KIB / 2, "{used}");
    assert!(
        musl.rss <= bb.rss + 256,
        "Rss {} KiB vs busybox's {} KiB: {musl}",
        musl.rss,
        bb.rss
    );

    // The watched file goes away: the daemon says why and stops feeding.
    vm.send_line("rm /tmp/healthy").check("rm");
    let removed_at = Instant::now();
    vm.wait_for_console(
        "check failed: file /tmp/healthy exists: does not exist",
        Duration::from_secs(10),
    )
    .check("failure logged");
    let failed_at = Instant::now();
    vm.wait_for_console("watchdog_perform_action", Duration::from_secs(60))
        .check("reset");
    let took = failed_at.elapsed();
    eprintln!(
        "i6300esb: reset {took:?} after the failure was logged, {:?} after `rm`",
        removed_at.elapsed()
    );
    // When the 6300ESB resets: Linux's driver (i6300esb.c,
    // esb_timer_set_heartbeat) loads each of the chip's two stages with
    // `timeout << 9` ticks of its ~1 kHz clock ("write that to two timers
    // => 2 * 512 = 1024"): stage 1 (an interrupt, which the driver leaves
    // disabled) and stage 2 (the reset) take the timeout together. QEMU
    // ticks every 2^15 PCI clocks of 30 ns (0.983 ms), so the reset comes
    // 1.0066 x timeout after the last feed: 5.03 s here, not 2 x timeout.
    let stages = Duration::from_nanos(2 * (TIMEOUT << 9) * (1 << 15) * 30);
    // The daemon ticks on a fixed grid: the last feed came one interval
    // before the failing tick, so the reset follows the message after
    // `stages - interval` (measured: 4.03 s). Never later than `stages`,
    // as the last feed preceded the message (250 ms for the host to see
    // QEMU's line); earlier only if the guest printed the message late.
    assert!(
        took <= stages + Duration::from_millis(250),
        "reset {took:?} after the failure was logged: the 6300ESB fires {stages:?} after the last feed"
    );
    assert!(
        took + Duration::from_secs(INTERVAL + 1) >= stages,
        "reset {took:?} after the failure was logged: sooner than the timeout allows"
    );
    vm.wait_ready(Duration::from_secs(90)).check("second boot");

    // The second boot: the driver reports the watchdog reset, and so does
    // the daemon at start-up.
    let info = vm.run_ok("limina watchdog --info 2>&1").check("info");
    assert!(info.contains("bootstatus: 0x0020"), "{info}");
    assert!(
        info.contains("the last reboot was a watchdog reset (WDIOF_CARDRESET"),
        "{info}"
    );
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn hand_off_keeps_feeding_across_exec_and_sigterm_stops_cleanly() {
    let mut cfg = VmConfig::new(Machine::X86_64, "watchdog-hand-off").check("config");
    cfg.qemu_args
        .extend(["-device".to_string(), "i6300esb".to_string()]);
    cfg.allow_reboot = true;
    cfg.initramfs.module("i6300esb", "").limina(
        guest_limina(Machine::X86_64).check("guest limina"),
        &["watchdog"],
    );
    let mut vm = Vm::boot(cfg).check("boot");
    vm.run_ok(&format!(
        "limina watchdog -t {TIMEOUT} -i {INTERVAL} -H 0 \
         --hand-off-exec 'exec limina watchdog -i {INTERVAL} -H 0 --file /tmp/successor' & \
         echo $! > /tmp/wd.pid"
    ))
    .check("start");
    vm.run_ok("touch /tmp/successor; sleep 2; kill -USR1 $(cat /tmp/wd.pid)")
        .check("hand off");
    std::thread::sleep(Duration::from_secs(1));
    // Same pid (exec), new command line, and the fd adopted: no second
    // open of the device (that would fail with EBUSY).
    let cmdline = vm
        .run_ok("tr '\\0' ' ' < /proc/$(cat /tmp/wd.pid)/cmdline")
        .check("cmdline");
    assert!(cmdline.contains("--file /tmp/successor"), "{cmdline}");
    let t0: u64 = vm
        .run_ok("cut -d. -f1 /proc/uptime")
        .check("uptime")
        .parse()
        .check("t0");
    std::thread::sleep(Duration::from_secs(3 * TIMEOUT));
    let t1: u64 = vm
        .run_ok("cut -d. -f1 /proc/uptime")
        .check("uptime")
        .parse()
        .check("t1");
    assert!(
        t1 >= t0 + 3 * TIMEOUT,
        "the VM rebooted: uptime {t0} -> {t1}"
    );
    // SIGTERM: magic close, the driver stops; no reset afterwards.
    vm.run_ok("kill $(cat /tmp/wd.pid); sleep 1; ! kill -0 $(cat /tmp/wd.pid) 2>/dev/null")
        .check("stop");
    std::thread::sleep(Duration::from_secs(2 * TIMEOUT));
    let t2: u64 = vm
        .run_ok("cut -d. -f1 /proc/uptime")
        .check("uptime")
        .parse()
        .check("t2");
    assert!(t2 >= t1 + 2 * TIMEOUT, "the VM rebooted after a clean stop");
    vm.poweroff().check("poweroff");
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn softdog_ioctls_on_big_endian_mips() {
    let limina = guest_bins_dir("mips-unknown-linux-gnu").join("limina");
    let mut cfg = VmConfig::new(Machine::Mips, "watchdog-softdog").check("config");
    cfg.allow_reboot = true;
    cfg.initramfs.limina(&limina, &["watchdog"]);
    let mut vm = Vm::boot(cfg).check("boot");
    // GETSUPPORT, GETBOOTSTATUS, KEEPALIVE, GETTIMEOUT, magic close.
    let info = vm.run_ok("limina watchdog --info").check("info");
    assert!(info.contains("identity: Software Watchdog"), "{info}");
    assert!(info.contains("timeout: 60"), "{info}");
    // SETTIMEOUT (the _IOWR one) round-trips through the big-endian kernel.
    let info = vm.run_ok("limina watchdog --info -t 7").check("info -t 7");
    assert!(info.contains("timeout: 7"), "{info}");
    // The daemon feeds; a clean stop does magic close (softdog has it).
    vm.run_ok(
        "limina watchdog -t 3 -i 1 -H 0 --file / & p=$!; sleep 5; kill -0 $p && kill $p; wait $p",
    )
    .check("daemon");
    // A failed check: softdog restarts the machine one timeout after the
    // last feed, measured on the host from the failure message to the new
    // kernel's banner (this kernel prints it at loglevel 4).
    let t = Instant::now();
    vm.run_ok("sleep 2").check("sleep");
    eprintln!(
        "softdog (mips): guest `sleep 2` took {:?} on the host",
        t.elapsed()
    );
    vm.run_ok("touch /tmp/ok; limina watchdog -t 3 -i 1 -H 2 --file /tmp/ok & sleep 4")
        .check("start");
    vm.send_line("rm /tmp/ok").check("rm");
    vm.wait_for_console("check failed: file /tmp/ok exists", Duration::from_secs(10))
        .check("failure logged");
    let failed_at = Instant::now();
    vm.wait_for_console("Linux version", Duration::from_secs(60))
        .check("reset");
    let took = failed_at.elapsed();
    eprintln!("softdog (mips): reset {took:?} after the failure was logged");
    // softdog resets in one stage, `timeout` after the last feed (an
    // hrtimer), and the last feed came one interval before the failure
    // was logged: the reset follows the message after timeout - interval
    // (2 s), never later than the timeout. The new kernel's banner is the
    // first thing it prints (no firmware on malta with -kernel); 1 s for
    // that and for TCG on a busy host.
    assert!(
        took <= Duration::from_secs(3 + 1),
        "reset took {took:?}: softdog fires 3 s after the last feed"
    );
    assert!(
        took + Duration::from_secs(1 + 1) >= Duration::from_secs(3),
        "reset after {took:?}: sooner than the timeout allows"
    );
    vm.wait_ready(Duration::from_secs(90)).check("second boot");
    vm.poweroff().check("poweroff");
}
