//! The watchdog ratchet (`limina watchdog`) against real watchdog drivers:
//! QEMU's i6300esb on x86_64 (which really resets the VM and reports
//! `WDIOF_CARDRESET` afterwards) and the built-in softdog on big-endian
//! MIPS (where an ioctl-encoding bug would show).
//!
//! The guest's busybox shell runs its own `watchdog` applet in preference
//! to anything in PATH, hence `limina watchdog` everywhere.

use std::time::{Duration, Instant};

use limina_board_tests::{guest_bins_dir, guest_limina, Machine, Vm, VmConfig};

use crate::common::Check;

/// Short enough to keep the test quick, long enough for TCG.
const TIMEOUT: u64 = 5;
const INTERVAL: u64 = 1;
const HEAD_START: u64 = 5;

fn field(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// Starts `cmd` in the background, and returns its voluntary context
/// switches over 10 s and its Rss in KiB; then stops it with SIGTERM.
fn idle_cost(vm: &mut Vm, cmd: &str) -> (u64, u64) {
    vm.run_ok(&format!("{cmd} & echo $! > /tmp/ref.pid; sleep 1"))
        .check("start reference");
    let a = vm
        .run_ok("cat /proc/$(cat /tmp/ref.pid)/status")
        .check("status");
    std::thread::sleep(Duration::from_secs(10));
    let b = vm
        .run_ok("cat /proc/$(cat /tmp/ref.pid)/status")
        .check("status");
    let rollup = vm
        .run_ok("cat /proc/$(cat /tmp/ref.pid)/smaps_rollup")
        .check("smaps_rollup");
    vm.run_ok("kill $(cat /tmp/ref.pid); sleep 1")
        .check("stop reference");
    (
        field(&b, "voluntary_ctxt_switches:") - field(&a, "voluntary_ctxt_switches:"),
        field(&rollup, "Rss:"),
    )
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn i6300esb_healthy_feeds_then_failed_check_resets_and_reports_cardreset() {
    let mut cfg = VmConfig::new(Machine::X86_64, "watchdog-ratchet").check("config");
    cfg.qemu_args
        .extend(["-device".to_string(), "i6300esb".to_string()]);
    cfg.allow_reboot = true;
    cfg.initramfs.module("i6300esb", "").limina(
        guest_limina(Machine::X86_64).check("guest limina"),
        &["watchdog"],
    );
    let mut vm = Vm::boot(cfg).check("boot");

    // A fresh VM: no watchdog reset yet.
    let info = vm.run_ok("limina watchdog --info").check("info");
    assert!(info.contains("identity: i6300ESB timer"), "{info}");
    assert!(info.contains("bootstatus: 0x0000"), "{info}");

    // The reference: busybox's watchdog feeding every second, measured the
    // same way as ours below (wake-ups over 10 s, Rss), then stopped.
    let bb = idle_cost(&mut vm, "busybox watchdog -F -T 5 -t 1 /dev/watchdog");
    eprintln!(
        "busybox watchdog: {} wake-ups in ~10 s, Rss {} KiB",
        bb.0, bb.1
    );

    vm.run_ok("touch /tmp/healthy").check("touch");
    vm.run_ok(&format!(
        "limina watchdog -t {TIMEOUT} -i {INTERVAL} -H {HEAD_START} --file /tmp/healthy & \
         echo $! > /tmp/wd.pid"
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

    // One wake-up per interval: voluntary context switches over 10 s, and
    // the daemon's footprint.
    let status_a = vm
        .run_ok("cat /proc/$(cat /tmp/wd.pid)/status")
        .check("status");
    std::thread::sleep(Duration::from_secs(10));
    let status_b = vm
        .run_ok("cat /proc/$(cat /tmp/wd.pid)/status")
        .check("status");
    let switches =
        field(&status_b, "voluntary_ctxt_switches:") - field(&status_a, "voluntary_ctxt_switches:");
    // smaps_rollup walks the page tables; VmRSS in `status` lags on 6.1
    // (per-thread split RSS counters are only synced every 64 faults).
    let rollup = vm
        .run_ok("cat /proc/$(cat /tmp/wd.pid)/smaps_rollup")
        .check("smaps_rollup");
    let rss_kib = field(&rollup, "Rss:");
    let pss_kib = field(&rollup, "Pss:");
    let anon_kib = field(&rollup, "Anonymous:");
    eprintln!(
        "watchdog: {switches} voluntary wake-ups in ~10 s at a 1 s interval; \
         Rss {rss_kib} KiB (Pss {pss_kib}, anonymous {anon_kib})"
    );
    assert!((5..=14).contains(&switches), "{switches} wake-ups in ~10 s");
    // Most of Rss is the multi-call binary's text, mapped from the page
    // cache (fault-around maps 64 KiB per fault); what the daemon itself
    // allocates is the anonymous part. Measured: Rss 1724 KiB, anonymous
    // 108 KiB; busybox's watchdog: Rss 1576 KiB.
    assert!(anon_kib <= 256, "anonymous {anon_kib} KiB");
    assert!(
        rss_kib <= bb.1 + 512,
        "Rss {rss_kib} KiB vs busybox {} KiB",
        bb.1
    );

    // The watched file goes away: the daemon says why and stops feeding;
    // the i6300esb resets the VM within timeout + interval.
    vm.send_line("rm /tmp/healthy").check("rm");
    let failed_at = Instant::now();
    vm.wait_for_console(
        "check failed: file /tmp/healthy exists: does not exist",
        Duration::from_secs(10),
    )
    .check("failure logged");
    vm.wait_ready(Duration::from_secs(90)).check("second boot");
    // When did the reset happen? Now minus the new boot's uptime.
    // (Firmware time before the kernel counts as part of the delay: the
    // estimate errs on the long side.)
    let uptime: f64 = vm
        .run_ok("cut -d' ' -f1 /proc/uptime")
        .check("uptime")
        .parse()
        .check("uptime");
    let since_failure = failed_at.elapsed();
    let took = since_failure.saturating_sub(Duration::from_secs_f64(uptime));
    eprintln!("watchdog: reset {took:?} after the check failed");
    // The 6300ESB has a two-stage timer and Linux's driver loads both
    // stages with the timeout, so it resets 2 x timeout after the last
    // feed (measured on an idle host: 10.1 s for 5 s). Host-minus-uptime
    // only over-estimates (firmware time, a guest clock slowed by a busy
    // host: 17 s measured then), so only the lower bound is tight here;
    // the tight upper bound is checked with softdog on MIPS, where the new
    // kernel's banner shows on the console.
    assert!(
        took >= Duration::from_secs(TIMEOUT - 1),
        "reset after {took:?}: before the timeout"
    );
    assert!(
        since_failure <= Duration::from_secs(2 * TIMEOUT + INTERVAL + 60),
        "no reset within {since_failure:?}"
    );

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
    // A failed check: softdog restarts the machine within timeout +
    // interval of the last feed, measured on the host from the failure
    // message to the new kernel's banner (MIPS prints it at loglevel 4).
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
    // timeout 3 s after the last feed (≤ 1 s before the failure is
    // logged), plus TCG slack on a busy host.
    assert!(
        took <= Duration::from_secs(3 + 1 + 3),
        "reset took {took:?}"
    );
    vm.wait_ready(Duration::from_secs(90)).check("second boot");
    vm.poweroff().check("poweroff");
}
