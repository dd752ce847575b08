//! The applets as shell scripts use them: output, exit codes, atomic files.

use std::process::Command;

use crate::util::{applet_dir, run, wait_for, Scratch};

fn cmd(bin: &std::path::Path, applet: &str, base: &std::path::Path) -> Command {
    let mut c = Command::new(bin.join(applet));
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LIMINA_OUTPUTS_DIR", base);
    c
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs target/debug/limina: use --features cli-tests"
)]
fn read_applets_and_exit_codes() {
    let tmp = Scratch::new("cli-read");
    let bin = applet_dir(
        &tmp.0,
        &[
            "udhcpc-script",
            "output",
            "output-path",
            "output-word",
            "output-render",
        ],
    );
    let base = tmp.0.join("outputs");
    let (code, _, err) = run(cmd(&bin, "udhcpc-script", &base).arg("bound").envs([
        ("interface", "eth1"),
        ("ip", "192.0.2.10"),
        ("subnet", "255.255.255.0"),
        ("router", "192.0.2.1"),
        ("dns", "192.0.2.1 198.51.100.53"),
        ("lease", "600"),
    ]));
    assert_eq!((code, err.as_str()), (0, ""), "quiet on success");

    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("output", &["dhcp-eth1", "ip"], 0, "192.0.2.10\n"),
        ("output", &["dhcp-eth1", "nope"], 1, ""),
        (
            "output",
            &["dhcp-eth1", "nope", "fallback"],
            0,
            "fallback\n",
        ),
        ("output", &["lan", "ip"], 3, ""),
        ("output", &["lan", "ip", ""], 0, "\n"),
        ("output", &["dhcp-eth1"], 2, ""),
        ("output", &["dhcp-eth1", "../x"], 2, ""),
        (
            "output-word",
            &["dhcp-eth1", "dns", "2"],
            0,
            "198.51.100.53\n",
        ),
        ("output-word", &["dhcp-eth1", "dns", "3"], 1, ""),
        (
            "output-word",
            &["dhcp-eth1", "dns", "3", "none"],
            0,
            "none\n",
        ),
        ("output-word", &["dhcp-eth1", "dns", "0"], 2, ""),
        ("output-path", &["dhcp-eth1", "ip"], 0, ""),
        ("output-path", &["dhcp-eth1", "nope"], 1, ""),
        ("output-path", &["lan"], 3, ""),
    ];
    for (applet, args, want_code, want_out) in cases {
        let (code, out, err) = run(cmd(&bin, applet, &base).args(*args));
        assert_eq!(code, *want_code, "{applet} {args:?}: {err}");
        if *applet == "output-path" && code == 0 {
            assert_eq!(out, format!("{}/dhcp-eth1/ip\n", base.display()));
        } else {
            assert_eq!(out, *want_out, "{applet} {args:?}");
        }
        if code == 0 {
            assert_eq!(err, "", "{applet} {args:?}: quiet on success");
        } else {
            assert!(err.starts_with(&format!("{applet}: ")), "{err}");
            if code != 2 {
                assert_eq!(err.lines().count(), 1, "one line for s6-log: {err}");
            }
        }
    }
    // -d wins over the environment.
    let (code, out, _) = run(cmd(&bin, "output", &tmp.0.join("elsewhere"))
        .args(["-d"])
        .arg(&base)
        .args(["dhcp-eth1", "router"]));
    assert_eq!((code, out.as_str()), (0, "192.0.2.1\n"));

    // Bad lease: error naming the variable, previous outputs intact.
    let (code, _, err) = run(cmd(&bin, "udhcpc-script", &base).arg("renew").envs([
        ("interface", "eth1"),
        ("ip", "192.0.2.300"),
        ("subnet", "255.255.255.0"),
    ]));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "udhcpc-script: udhcpc: bad ip \"192.0.2.300\": expected an IPv4 address\n"
    );
    let (_, out, _) = run(cmd(&bin, "output", &base).args(["dhcp-eth1", "ip"]));
    assert_eq!(out, "192.0.2.10\n");

    // Templates: rendered atomically; a missing key leaves the file alone.
    let tpl = tmp.0.join("t.conf.in");
    let conf = tmp.0.join("t.conf");
    std::fs::write(&tpl, "iface {{ output(\"dhcp-eth1\", \"ifname\") }}\nns {{ output(\"dhcp-eth1\", \"dns\") | word(1) | shell }}\n")
        .expect("write template");
    let (code, _, err) = run(cmd(&bin, "output-render", &base)
        .arg("-o")
        .arg(&conf)
        .arg(&tpl));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&conf).expect("rendered"),
        "iface eth1\nns '192.0.2.1'\n"
    );
    std::fs::write(&tpl, "x {{ output(\"wan6\", \"prefix\") }}\n").expect("write template");
    let (code, _, err) = run(cmd(&bin, "output-render", &base)
        .arg("-o")
        .arg(&conf)
        .arg(&tpl));
    assert_eq!(code, 1);
    assert!(
        err.contains("service \"wan6\" has no output \"prefix\""),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).expect("kept"),
        "iface eth1\nns '192.0.2.1'\n"
    );

    // deconfig removes the outputs.
    let (code, _, _) = run(cmd(&bin, "udhcpc-script", &base)
        .arg("deconfig")
        .env("interface", "eth1"));
    assert_eq!(code, 0);
    let (code, _, _) = run(cmd(&bin, "output", &base).args(["dhcp-eth1", "ip"]));
    assert_eq!(code, 3);
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs target/debug/limina: use --features cli-tests"
)]
fn ppp_scripts_and_readiness() {
    let tmp = Scratch::new("cli-ppp");
    let bin = applet_dir(
        &tmp.0,
        &[
            "ppp-ip-up",
            "ppp-ipv6-up",
            "ppp-ip-down",
            "ppp-ipv6-down",
            "output",
        ],
    );
    let base = tmp.0.join("outputs");
    let ready = tmp.0.join("ready");
    let args = ["ppp0", "/dev/ttyS0", "0", "10.64.64.2", "10.64.64.1", "wan"];
    // Readiness fd 1 (stdout), redirected to a file, shows the newline.
    let ready_file = std::fs::File::create(&ready).expect("ready file");
    let status = cmd(&bin, "ppp-ip-up", &base)
        .args(args)
        .envs([
            ("IFNAME", "ppp0"),
            ("DNS1", "192.0.2.53"),
            ("LIMINA_READY_FD", "1"),
        ])
        .stdout(ready_file)
        .status()
        .expect("runs");
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&ready).expect("ready"), "\n");
    let six = ["ppp0", "/dev/ttyS0", "0", "fe80::2", "fe80::1", "wan"];
    assert!(cmd(&bin, "ppp-ipv6-up", &base)
        .args(six)
        .status()
        .expect("runs")
        .success());
    for (key, want) in [
        ("ip", "10.64.64.2\n"),
        ("peer", "10.64.64.1\n"),
        ("dns", "192.0.2.53\n"),
        ("ip6-local", "fe80::2\n"),
    ] {
        let (code, out, err) = run(cmd(&bin, "output", &base).args(["wan", key]));
        assert_eq!((code, out.as_str()), (0, want), "{key}: {err}");
    }
    assert!(cmd(&bin, "ppp-ip-down", &base)
        .args(args)
        .status()
        .expect("runs")
        .success());
    let (code, _, _) = run(cmd(&bin, "output", &base).args(["wan", "ip"]));
    assert_eq!(code, 1, "IPv4 keys gone, service still there");
    assert!(cmd(&bin, "ppp-ipv6-down", &base)
        .args(six)
        .status()
        .expect("runs")
        .success());
    let (code, _, _) = run(cmd(&bin, "output", &base).args(["wan", "ip6-local"]));
    assert_eq!(code, 3, "last family down: outputs removed");
}

/// pppd runs its hooks with the notification fd closed: the ppp service's
/// run script starts `watch-outputs -n FD` beside pppd instead, which
/// notifies once the hook has published the session.
#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs target/debug/limina: use --features cli-tests"
)]
fn watch_outputs_signals_readiness_when_keys_appear() {
    let tmp = Scratch::new("cli-ready");
    let bin = applet_dir(&tmp.0, &["watch-outputs", "ppp-ip-up"]);
    let base = tmp.0.join("outputs");
    let ready = tmp.0.join("ready");
    // fd 1 redirected to a file stands for s6's notification pipe.
    let mut waiter = cmd(&bin, "watch-outputs", &base)
        .args(["-n", "1", "wan/ip", "wan/peer"])
        .stdout(std::fs::File::create(&ready).expect("ready file"))
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&ready).expect("ready"), "");
    assert!(
        waiter.try_wait().expect("status").is_none(),
        "still waiting"
    );
    let status = cmd(&bin, "ppp-ip-up", &base)
        .args(["ppp0", "/dev/ttyS0", "0", "10.64.64.2", "10.64.64.1", "wan"])
        .status()
        .expect("runs");
    assert!(status.success());
    let code = wait_for(10, "watch-outputs to exit", || {
        waiter.try_wait().expect("status")
    });
    assert!(code.success());
    assert_eq!(std::fs::read_to_string(&ready).expect("ready"), "\n");
    // Already there: notifies at once.
    let (code, out, err) = run(cmd(&bin, "watch-outputs", &base).args(["-n", "1", "wan/ip"]));
    assert_eq!((code, out.as_str()), (0, "\n"), "{err}");
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs target/debug/limina: use --features cli-tests"
)]
fn watch_outputs_acts_on_value_changes_only() {
    let tmp = Scratch::new("cli-watch");
    let bin = applet_dir(&tmp.0, &["watch-outputs", "udhcpc-script"]);
    let base = tmp.0.join("outputs");
    let log = tmp.0.join("actions");
    let lease = |ip: &str, lease: &str| {
        let (code, _, err) = run(cmd(&bin, "udhcpc-script", &base).arg("renew").envs([
            ("interface", "eth1"),
            ("ip", ip),
            ("subnet", "255.255.255.0"),
            ("lease", lease),
        ]));
        assert_eq!(code, 0, "{err}");
    };
    lease("192.0.2.10", "100");
    let mut watcher = cmd(&bin, "watch-outputs", &base)
        .args(["dhcp-eth1/ip", "--", "sh", "-c"])
        .arg(format!("echo changed >> {}", log.display()))
        .spawn()
        .expect("watch-outputs starts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let count = || {
        std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    lease("192.0.2.10", "200"); // same ip: no action
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(count(), 0, "unrelated change triggered");
    lease("192.0.2.11", "200");
    wait_for(10, "the first action", || (count() == 1).then_some(()));
    lease("192.0.2.11", "300");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(count(), 1);
    std::fs::remove_dir_all(&base).expect("wipe outputs");
    wait_for(10, "the action on removal", || (count() == 2).then_some(()));
    lease("192.0.2.12", "300");
    wait_for(10, "the action after re-creation", || {
        (count() == 3).then_some(())
    });
    let _ = watcher.kill();
    let _ = watcher.wait();

    // -1 with a signal action: SIGTERM ends a sleep.
    let mut victim = Command::new("sleep").arg("30").spawn().expect("sleep");
    let mut once = cmd(&bin, "watch-outputs", &base)
        .args([
            "-1",
            "-s",
            "TERM",
            "-p",
            &victim.id().to_string(),
            "dhcp-eth1",
        ])
        .spawn()
        .expect("watch-outputs starts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    lease("192.0.2.13", "300");
    let status = once.wait().expect("exits after one action");
    assert!(status.success());
    let victim_status = victim.wait().expect("victim reaped");
    assert!(!victim_status.success(), "victim got SIGTERM");
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs target/debug/limina: use --features cli-tests"
)]
fn watch_outputs_restarts_an_s6_service() {
    let have_s6 = ["s6-supervise", "s6-svc"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    if !have_s6 {
        eprintln!("SKIPPED watch_outputs_restarts_an_s6_service: s6 not installed");
        return;
    }
    let tmp = Scratch::new("cli-s6");
    let bin = applet_dir(&tmp.0, &["watch-outputs", "udhcpc-script"]);
    let base = tmp.0.join("outputs");
    let svc = tmp.0.join("svc");
    let starts = tmp.0.join("starts");
    std::fs::create_dir(&svc).expect("service dir");
    let run_script = svc.join("run");
    std::fs::write(
        &run_script,
        format!(
            "#!/bin/sh\necho started >> {}\nexec sleep 600\n",
            starts.display()
        ),
    )
    .expect("run script");
    std::fs::set_permissions(
        &run_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    struct Supervise(std::process::Child, std::path::PathBuf);
    impl Drop for Supervise {
        fn drop(&mut self) {
            // Down and exit: s6-supervise stops the service, then itself.
            let _ = Command::new("s6-svc").arg("-xd").arg(&self.1).status();
            let _ = self.0.wait();
        }
    }
    let _sup = Supervise(
        Command::new("s6-supervise")
            .arg(&svc)
            .spawn()
            .expect("s6-supervise starts"),
        svc.clone(),
    );
    let count = || {
        std::fs::read_to_string(&starts)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    wait_for(10, "the service's first start", || {
        (count() == 1).then_some(())
    });
    let publish = |ip: &str| {
        let (code, _, err) = run(cmd(&bin, "udhcpc-script", &base).arg("bound").envs([
            ("interface", "eth1"),
            ("ip", ip),
            ("subnet", "255.255.255.0"),
        ]));
        assert_eq!(code, 0, "{err}");
    };
    publish("192.0.2.10");
    let mut watcher = cmd(&bin, "watch-outputs", &base)
        .arg("-1")
        .arg("-r")
        .arg(&svc)
        .arg("dhcp-eth1/ip")
        .spawn()
        .expect("watch-outputs starts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    publish("192.0.2.10");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(count(), 1, "same address: no restart");
    publish("192.0.2.20");
    assert!(watcher.wait().expect("exits after the action").success());
    wait_for(10, "the restart", || (count() == 2).then_some(()));
}
