//! limina-services on the example routers and on broken files: golden
//! renderings, one expected message per bad file, and the rendered files
//! fed to the real tools (shellcheck, busybox ash, nft, dnsmasq,
//! s6-rc-compile where installed; the structural check of the s6-rc tree
//! always).
//!
//! `LIMINA_UPDATE_GOLDEN=1 cargo test -p limina-services` rewrites the
//! golden trees; review the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use limina_services::render::{render, write_tree, File, Tree};
use limina_services::{load, parse, render_to, RenderError, RenderOptions};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo() -> PathBuf {
    crate_dir().join("../..")
}

/// The files of the repository are there (not in a guest running the
/// cross-compiled test executable).
fn have_sources(test: &str) -> bool {
    if crate_dir().join("tests/golden").is_dir() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: {} is not here (test executable copied away)",
        crate_dir().display()
    );
    false
}

/// Tools of the build machine run only there (not under qemu-user).
fn on_build_machine(test: &str) -> bool {
    if std::env::var_os("LIMINA_EXPECT_ENDIAN").is_none() {
        return true;
    }
    eprintln!("SKIPPED {test}: cross-target run (LIMINA_EXPECT_ENDIAN is set)");
    false
}

/// Whether `tool` runs; with LIMINA_REQUIRE_TOOLS set a missing tool fails.
fn have_tool(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("LIMINA_REQUIRE_TOOLS").is_none(),
            "{test}: {tool} is not installed (scripts/setup installs it)"
        );
        eprintln!("SKIPPED {test}: {tool} is not installed");
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "limina-services-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The routers rendered: golden name and file.
const EXAMPLES: &[(&str, &str)] = &[
    ("qemu", "boards/qemu/router.toml"),
    ("gl-ar750", "boards/glinet/gl-ar750/router.toml"),
    // Every table and protocol the examples leave out.
    (
        "everything",
        "crates/services/tests/routers/everything.toml",
    ),
];

fn rendered(file: &str) -> Tree {
    let router = load(&repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    render(&router, &RenderOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every file under `dir`, relative, with its contents and exec bit.
fn read_tree(dir: &Path) -> Tree {
    use std::os::unix::fs::PermissionsExt as _;
    fn walk(base: &Path, dir: &Path, out: &mut Tree) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let contents =
                    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let mode = std::fs::metadata(&p)
                    .expect("metadata")
                    .permissions()
                    .mode();
                let rel = p.strip_prefix(base).expect("under base").to_path_buf();
                out.insert(
                    rel,
                    File {
                        contents,
                        executable: mode & 0o111 != 0,
                    },
                );
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn golden_renderings() {
    if !have_sources("golden_renderings") {
        return;
    }
    let update = std::env::var_os("LIMINA_UPDATE_GOLDEN").is_some();
    for (name, file) in EXAMPLES {
        let tree = rendered(file);
        let golden = crate_dir().join("tests/golden").join(name);
        if update {
            write_tree(&tree, &golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            eprintln!("rewrote {}", golden.display());
            continue;
        }
        let want = read_tree(&golden);
        let got_paths: Vec<_> = tree.keys().collect();
        let want_paths: Vec<_> = want.keys().collect();
        assert_eq!(
            got_paths,
            want_paths,
            "{name}: the files differ from {}",
            golden.display()
        );
        for (p, f) in &tree {
            let w = &want[p];
            assert_eq!(
                f.contents,
                w.contents,
                "{name}: {} differs from the golden file",
                p.display()
            );
            assert_eq!(
                f.executable,
                w.executable,
                "{name}: {} exec bit",
                p.display()
            );
        }
        eprintln!("{name}: {} files match {}", tree.len(), golden.display());
    }
}

#[test]
fn bad_files_give_their_messages() {
    if !have_sources("bad_files_give_their_messages") {
        return;
    }
    let dir = crate_dir().join("tests/bad");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/bad")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(p).expect("read");
        let expected_path = p.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (every bad file has its expected message)",
                expected_path.display()
            )
        });
        let err = match parse(&text, &name) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(err, expected.trim_end(), "{name}");
        for line in err.lines() {
            assert!(
                line.starts_with(&format!("{name}:")),
                "{name}: {line:?} has no position"
            );
        }
        n += 1;
    }
    assert!(n >= 20, "only {n} bad files");
    eprintln!("{n} bad files give their expected messages");
}

#[test]
fn a_bad_file_writes_nothing() {
    if !have_sources("a_bad_file_writes_nothing") {
        return;
    }
    let dir = scratch("bad");
    let out = dir.join("out");
    let err = render_to(
        &crate_dir().join("tests/bad/cycle.toml"),
        &out,
        &RenderOptions::default(),
        false,
    )
    .expect_err("a cycle is refused");
    assert!(matches!(err, RenderError::Load(_)), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("scratch").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // Nor with --force over an existing tree: the old tree stays.
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("keep"), "x").expect("write");
    render_to(
        &crate_dir().join("tests/bad/cycle.toml"),
        &out,
        &RenderOptions::default(),
        true,
    )
    .expect_err("refused");
    assert_eq!(
        std::fs::read_to_string(out.join("keep")).expect("kept"),
        "x"
    );
    assert_eq!(std::fs::read_dir(&dir).expect("scratch").count(), 1);
}

#[test]
fn an_existing_outdir_needs_force() {
    if !have_sources("an_existing_outdir_needs_force") {
        return;
    }
    let dir = scratch("force");
    let out = dir.join("out");
    let file = repo().join(EXAMPLES[0].1);
    render_to(&file, &out, &RenderOptions::default(), false).expect("first render");
    let err = render_to(&file, &out, &RenderOptions::default(), false).expect_err("exists");
    assert!(err.to_string().contains("exists"), "{err}");
    std::fs::write(out.join("stale"), "x").expect("write");
    render_to(&file, &out, &RenderOptions::default(), true).expect("forced");
    assert!(
        !out.join("stale").exists(),
        "--force replaces the whole tree"
    );
    assert_eq!(read_tree(&out), rendered(EXAMPLES[0].1));
}

#[test]
fn render_options_reach_the_scripts() {
    if !have_sources("render_options_reach_the_scripts") {
        return;
    }
    let router = load(&repo().join(EXAMPLES[1].1)).expect("load");
    let opts = RenderOptions {
        etc_dir: "/tmp/x/etc".into(),
        outputs_dir: "/tmp/x/outputs".into(),
        log_dir: "/tmp/x/log".into(),
        service_dir: "/tmp/x/service".into(),
        state_dir: "/tmp/x/state".into(),
        applet_dir: "/tmp/x/bin".into(),
        path: "/tmp/x/bin:/usr/bin:/bin".into(),
        ..RenderOptions::default()
    };
    let tree = render(&router, &opts).expect("render");
    let all: String = tree.values().map(|f| f.contents.as_str()).collect();
    for default in [
        "/etc/limina",
        "/run/services/outputs",
        "/var/log",
        "/run/service/",
        "/run/limina",
        "/usr/bin/",
    ] {
        assert!(
            !all.contains(default),
            "{default} left in a script rendered with other options"
        );
    }
    let wan = &tree[Path::new("s6-rc/wan/run")].contents;
    assert!(wan.contains("LIMINA_OUTPUTS_DIR=/tmp/x/outputs\n"), "{wan}");
    assert!(wan.contains("-s /tmp/x/bin/udhcpc-script"), "{wan}");
    assert_eq!(
        tree[Path::new("s6-rc/firewall/up")].contents,
        "/tmp/x/etc/up/firewall\n"
    );
    let bad = RenderOptions {
        etc_dir: "/etc/my router".into(),
        ..RenderOptions::default()
    };
    let e = render(&router, &bad).expect_err("a blank in a path");
    assert_eq!(e.to_string(), "render: --etc-dir \"/etc/my router\": not an absolute path of letters, digits and / . _ + -");
}

/// `after` puts the image's base services before every rendered service
/// and logger (never a bundle); `mounts` puts the mount of the secrets
/// file's directory before `secrets` only; bad names are refused.
#[test]
fn after_and_mounts_become_dependencies() {
    if !have_sources("after_and_mounts_become_dependencies") {
        return;
    }
    let router = load(&repo().join(EXAMPLES[1].1)).expect("load");
    let opts = RenderOptions {
        after: vec!["mount-fs".into()],
        mounts: vec![
            ("/data".into(), "mount-data".into()),
            ("/mnt".into(), "mount-mnt".into()),
        ],
        ..RenderOptions::default()
    };
    let tree = render(&router, &opts).expect("render");
    let mut defs = 0;
    for (path, file) in &tree {
        let Ok(rest) = path.strip_prefix("s6-rc") else {
            continue;
        };
        let mut parts = rest.components();
        let (Some(name), Some(last), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if last.as_os_str() != "type" {
            continue;
        }
        let deps = Path::new("s6-rc").join(name).join("dependencies.d");
        let has = |d: &str| tree.contains_key(&deps.join(d));
        let bundle = file.contents == "bundle\n";
        assert_eq!(
            has("mount-fs"),
            !bundle,
            "{}",
            name.as_os_str().to_string_lossy()
        );
        assert_eq!(has("mount-data"), name.as_os_str() == "secrets");
        assert!(!has("mount-mnt"));
        defs += 1;
    }
    assert!(defs > 20, "only {defs} definitions");
    for (opts, message) in [
        (
            RenderOptions {
                after: vec!["mount fs".into()],
                ..RenderOptions::default()
            },
            "render: --after \"mount fs\": not a service name of letters, digits and - _ .",
        ),
        (
            RenderOptions {
                mounts: vec![("data".into(), "mount-data".into())],
                ..RenderOptions::default()
            },
            "render: --mount \"data\": not an absolute path of letters, digits and / . _ + -",
        ),
    ] {
        let e = render(&router, &opts).expect_err("a bad option");
        assert_eq!(e.to_string(), message);
    }
}

/// Each example rendered into a scratch directory.
fn rendered_dirs(test: &str) -> Vec<(String, PathBuf)> {
    EXAMPLES
        .iter()
        .map(|(name, file)| {
            let out = scratch(test).join(name);
            render_to(&repo().join(file), &out, &RenderOptions::default(), false)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            (name.to_string(), out)
        })
        .collect()
}

fn shell_scripts(tree: &Path) -> Vec<PathBuf> {
    read_tree(tree)
        .into_iter()
        .filter(|(_, f)| f.contents.starts_with("#!/bin/sh\n"))
        .map(|(p, f)| {
            assert!(
                f.executable,
                "{} is a script but not executable",
                p.display()
            );
            tree.join(p)
        })
        .collect()
}

#[test]
fn scripts_pass_shellcheck_and_busybox_ash() {
    if !have_sources("scripts_pass_shellcheck") || !on_build_machine("scripts_pass_shellcheck") {
        return;
    }
    let shellcheck = have_tool("shellcheck", "scripts_pass_shellcheck");
    let busybox = have_tool("busybox", "scripts_pass_busybox_ash");
    for (name, dir) in rendered_dirs("sh") {
        let scripts = shell_scripts(&dir);
        assert!(scripts.len() > 20, "{name}: only {} scripts", scripts.len());
        if shellcheck {
            let out = Command::new("shellcheck")
                .args(["-s", "sh"])
                .args(&scripts)
                .output()
                .expect("shellcheck");
            assert!(
                out.status.success(),
                "{name}: shellcheck:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        if busybox {
            for s in &scripts {
                let out = Command::new("busybox")
                    .args(["sh", "-n"])
                    .arg(s)
                    .output()
                    .expect("busybox sh");
                assert!(
                    out.status.success(),
                    "{}: {}",
                    s.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        eprintln!(
            "{name}: {} scripts checked by{}{}",
            scripts.len(),
            if shellcheck { " shellcheck -s sh" } else { "" },
            if busybox { " busybox sh -n" } else { "" }
        );
    }
}

#[test]
fn firewall_ruleset_passes_nft_check() {
    if !have_sources("firewall_ruleset_passes_nft_check")
        || !on_build_machine("firewall_ruleset_passes_nft_check")
    {
        return;
    }
    if !have_tool("nft", "firewall_ruleset_passes_nft_check") {
        return;
    }
    for (name, dir) in rendered_dirs("nft") {
        let ruleset = dir.join("etc/firewall.nft");
        let out = Command::new("nft")
            .arg("-c")
            .arg("-f")
            .arg(&ruleset)
            .output()
            .expect("nft");
        if !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Operation not permitted")
        {
            eprintln!("SKIPPED {name}: nft -c needs CAP_NET_ADMIN");
            continue;
        }
        assert!(
            out.status.success(),
            "{name}: nft -c -f {}: {}",
            ruleset.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{name}: nft -c -f firewall.nft ok");
    }
}

#[test]
fn dnsmasq_accepts_its_config() {
    if !have_sources("dnsmasq_accepts_its_config")
        || !on_build_machine("dnsmasq_accepts_its_config")
    {
        return;
    }
    if !have_tool("dnsmasq", "dnsmasq_accepts_its_config") {
        return;
    }
    for (name, dir) in rendered_dirs("dnsmasq") {
        let conf = dir.join("etc/dnsmasq.conf");
        let out = Command::new("dnsmasq")
            .arg("--test")
            .arg("-C")
            .arg(&conf)
            .output()
            .expect("dnsmasq");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("syntax check OK"),
            "{name}: {text}"
        );
        eprintln!("{name}: dnsmasq --test ok");
    }
}

/// s6-rc-compile from `S6_RC_COMPILE` or PATH.
fn s6_rc_compile() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("S6_RC_COMPILE") {
        return Some(PathBuf::from(p));
    }
    let out = Command::new("sh")
        .args(["-c", "command -v s6-rc-compile"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn s6_rc_trees_hold() {
    if !have_sources("s6_rc_trees_hold") {
        return;
    }
    for (name, dir) in rendered_dirs("s6rc") {
        let src = dir.join("s6-rc");
        let problems = limina_services::s6rc::check_source_tree(&src).expect("read tree");
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        eprintln!("{name}: structural check of s6-rc/ ok");
        if !on_build_machine("s6-rc-compile") {
            continue;
        }
        match s6_rc_compile() {
            Some(compile) => {
                let db = dir.join("compiled");
                let out = Command::new(&compile).arg(&db).arg(&src).output().expect("s6-rc-compile");
                assert!(
                    out.status.success(),
                    "{name}: {} {} {}: {}",
                    compile.display(),
                    db.display(),
                    src.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                eprintln!("{name}: {} ok", compile.display());
            }
            None => eprintln!("{name}: s6-rc-compile not installed (set S6_RC_COMPILE): only the structural check ran"),
        }
    }
}

#[test]
fn the_structural_check_finds_mistakes() {
    let dir = scratch("structural");
    let put = |p: &str, s: &str| {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, s).expect("write");
    };
    put("a/type", "longrun\n");
    put("a/run", "#!/bin/sh\n");
    put("a/producer-for", "a-log\n");
    put("a/dependencies.d/nope", "");
    put("a-log/type", "longrun\n");
    put("a-log/consumer-for", "b\n");
    put("b/type", "daemon\n");
    put("c/type", "oneshot\n");
    let problems = limina_services::s6rc::check_source_tree(&dir).expect("read");
    assert_eq!(
        problems,
        [
            "a-log: consumer-for b, which is not producer-for a-log",
            "a-log: longrun without run",
            "a: dependencies.d/nope names no service",
            "a: producer-for a-log, which is not consumer-for a",
            "a: run is not executable",
            "b: type \"daemon\" is not longrun, oneshot or bundle",
            "c: oneshot without up",
        ]
    );
}

#[test]
fn graph_has_every_service_and_dependency() {
    if !have_sources("graph_has_every_service_and_dependency") {
        return;
    }
    let router = load(&repo().join(EXAMPLES[1].1)).expect("load");
    let g = limina_services::graph::Graph::build(&router);
    let dot = g.dot();
    for s in g.services.values().filter(|s| s.name != "router") {
        assert!(
            dot.contains(&format!("  \"{}\" [", s.name)),
            "{} not drawn",
            s.name
        );
        for d in &s.dependencies {
            assert!(
                dot.contains(&format!("  \"{}\" -> \"{d}\";", s.name)),
                "{} -> {d} not drawn",
                s.name
            );
        }
    }
    assert_eq!(g.services["wan-address"].dependencies, ["wan"]);
    assert_eq!(g.services["link-lan-port"].dependencies, ["bridge-lan"]);
    assert_eq!(
        g.services["lan-lan-prefix"].dependencies,
        ["bridge-lan", "wan-v6"]
    );
    assert!(g.cycles(&router).is_empty());
}

/// The DHCP wan's carrier script (`etc/carrier/wan`, run by `ifwait
/// --supervise`) under the shells it meets (Debian's sh, busybox ash):
/// it signals only on a change from the state it recorded, never "up" at
/// start, and never before the target catches both USR1 and USR2 (they
/// would kill a udhcpc that has not set up its signal pipe yet). The
/// targets are a `sleep` (catches nothing) and a shell trapping both.
#[test]
fn dhcp_carrier_script_signals_only_a_ready_udhcpc() {
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};
    if !have_sources("dhcp_carrier_script") || !on_build_machine("dhcp_carrier_script") {
        return;
    }
    let dir = scratch("carrier");
    let opts = RenderOptions {
        state_dir: dir.join("state").to_str().expect("UTF-8").into(),
        ..RenderOptions::default()
    };
    std::fs::create_dir_all(dir.join("state")).expect("state dir");
    let router = load(&repo().join(EXAMPLES[0].1)).expect("load");
    let tree = render(&router, &opts).expect("render");
    write_tree(&tree, &dir.join("tree")).expect("write");
    let script = dir.join("tree/etc/carrier/wan");
    let state = dir.join("state/wan.carrier");
    let got = dir.join("got");

    let mut shells = vec![vec!["sh"]];
    if have_tool("busybox", "dhcp_carrier_script (busybox ash)") {
        shells.push(vec!["busybox", "sh"]);
    }
    let kill = |c: &mut Child| {
        let _ = c.kill();
        let _ = c.wait();
    };
    for shell in shells {
        let run = |ifwait_state: &str, pid: u32| {
            Command::new(shell[0])
                .args(&shell[1..])
                .arg(&script)
                .arg(pid.to_string())
                .env("IFWAIT_STATE", ifwait_state)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the carrier script")
        };
        // Catches nothing yet (udhcpc before udhcp_sp_setup): no signal,
        // the script waits.
        let mut bare = Command::new("sleep").arg("30").spawn().expect("sleep");
        std::fs::write(&state, "up\n").expect("state");
        let mut waiting = run("down", bare.id());
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            waiting.try_wait().expect("try_wait").is_none(),
            "{shell:?}: the script did not wait for the handlers"
        );
        assert!(
            bare.try_wait().expect("try_wait").is_none(),
            "{shell:?}: the script signalled a process that does not catch USR2"
        );
        kill(&mut waiting);
        kill(&mut bare);

        // A target that catches both: each signal it gets is recorded.
        let _ = std::fs::remove_file(&got);
        let trap = format!(
            "trap 'echo USR1 >>{0}' USR1; trap 'echo USR2 >>{0}' USR2; : >{0}.ready; while :; do sleep 0.05; done",
            got.display()
        );
        let mut target = Command::new("sh")
            .args(["-c", &trap])
            .spawn()
            .expect("trapping sh");
        let ready = Instant::now() + Duration::from_secs(10);
        while !dir.join("got.ready").exists() {
            assert!(Instant::now() < ready, "the trapping shell did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let step = |last: Option<&str>, now: &str, want: &str| {
            match last {
                Some(l) => std::fs::write(&state, format!("{l}\n")).expect("state"),
                None => {
                    let _ = std::fs::remove_file(&state);
                }
            }
            let _ = std::fs::remove_file(&got);
            let out = run(now, target.id()).wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{shell:?}: {last:?} -> {now}: {out:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
            let signals = std::fs::read_to_string(&got).unwrap_or_default();
            assert_eq!(signals, want, "{shell:?}: {last:?} -> {now}: signals");
            assert_eq!(
                std::fs::read_to_string(&state).expect("state after").trim(),
                now,
                "{shell:?}: recorded state"
            );
        };
        step(None, "up", "");
        step(None, "down", "USR2\n");
        step(Some("up"), "down", "USR2\n");
        step(Some("down"), "up", "USR1\n");
        step(Some("up"), "up", "");
        step(Some("down"), "down", "");
        kill(&mut target);
        let _ = std::fs::remove_file(dir.join("got.ready"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
