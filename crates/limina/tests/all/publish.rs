//! `output-publish` and `output-unpublish` as shell services use them:
//! whole-set replacement, errors that publish nothing, a watched file.

#![cfg(feature = "outputs")]

use std::path::Path;
use std::process::{Child, Command, Stdio};

use limina_outputs::{OutputSet, Store, StoreError};

use crate::util::{applet, limina, read, run, wait_for, Scratch};

fn set(pairs: &[(&str, &str)]) -> OutputSet {
    let mut s = OutputSet::new();
    for (k, v) in pairs {
        s.set(k, *v).expect("valid");
    }
    s
}

fn publish(base: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = applet("output-publish", args);
    c.env("LIMINA_OUTPUTS_DIR", base);
    run(&mut c)
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs the built limina: use --features cli-tests"
)]
fn arguments_and_files_replace_the_whole_set() {
    let tmp = Scratch::new("publish");
    let base = tmp.join("outputs");
    let store = Store::new(&base);

    let (code, out, err) = publish(
        &base,
        &[
            "wan",
            "ifname=eth0",
            "address/1/address=192.0.2.1",
            "address/1/len=24",
            "note=a=b c",
        ],
    );
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "", ""),
        "quiet on success"
    );
    let first = set(&[
        ("ifname", "eth0"),
        ("address/1/address", "192.0.2.1"),
        ("address/1/len", "24"),
        ("note", "a=b c"),
    ]);
    assert_eq!(store.read("wan").expect("published"), first);

    // A new set replaces the old one: keys not given are gone.
    let (code, _, _) = publish(&base, &["wan", "ifname=eth1"]);
    assert_eq!(code, 0);
    assert_eq!(
        store.read("wan").expect("published"),
        set(&[("ifname", "eth1")])
    );

    // Errors: one line naming the argument, then the usage; nothing
    // published.
    for (args, want) in [
        (&["wan", "mtu"][..], "output-publish: outputs: argument \"mtu\": expected KEY=VALUE"),
        (&["wan", "a=1", "a/b=2"][..], "output-publish: outputs: argument \"a/b=2\": key \"a/b\" and \"a\""),
        (&["wan", "dns=1\n2"][..], "output-publish: outputs: argument \"dns=1\\n2\": value for key \"dns\" holds a newline"),
        (&["wan", "../k=1"][..], "output-publish: outputs: argument \"../k=1\": invalid key"),
        (&["wan"][..], "output-publish: nothing to publish"),
        (&["wan/x", "a=1"][..], "output-publish: outputs: invalid service name \"wan/x\""),
    ] {
        let (code, out, err) = publish(&base, args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        let mut lines = err.lines();
        let first_line = lines.next().unwrap_or_default();
        assert!(first_line.starts_with(want), "{args:?}: {err}");
        assert!(lines.next().is_some_and(|l| l.starts_with("usage: output-publish")), "{err}");
        assert_eq!(store.read("wan").expect("still there"), set(&[("ifname", "eth1")]));
    }

    // From a file: comments and blank lines skipped, values verbatim.
    let file = tmp.join("secrets");
    std::fs::write(
        &file,
        "# Wi-Fi\nwifi-psk=correct horse \n\nppp/password=s3cret\n",
    )
    .expect("write");
    let f = file.to_str().expect("UTF-8");
    let (code, _, err) = publish(&base, &["secrets", "-f", f]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        store.read("secrets").expect("published"),
        set(&[("wifi-psk", "correct horse "), ("ppp/password", "s3cret")])
    );
    // A malformed file: exit 1, the line named, the old set stays.
    std::fs::write(&file, "wifi-psk=new\nbroken\n").expect("write");
    let (code, _, err) = publish(&base, &["secrets", "-f", f]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        format!("output-publish: outputs: {f}:2: expected KEY=VALUE\n")
    );
    assert_eq!(
        store.get("secrets", "wifi-psk").expect("kept"),
        "correct horse "
    );
    // A missing file: exit 4.
    let (code, _, err) = publish(&base, &["secrets", "-f", &format!("{f}.missing")]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // -d wins over the environment.
    let other = tmp.join("other");
    let mut c = applet(
        "output-publish",
        &["-d", other.to_str().expect("UTF-8"), "lan", "ifname=br0"],
    );
    c.env("LIMINA_OUTPUTS_DIR", &base);
    assert_eq!(run(&mut c).0, 0);
    assert_eq!(
        Store::new(&other).get("lan", "ifname").expect("there"),
        "br0"
    );

    // Unpublish: gone, and again is fine.
    for _ in 0..2 {
        let mut c = applet("output-unpublish", &["wan"]);
        c.env("LIMINA_OUTPUTS_DIR", &base);
        let (code, out, err) = run(&mut c);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
        assert!(matches!(
            store.read("wan"),
            Err(StoreError::NoOutputs { .. })
        ));
    }
    let mut c = applet(
        "output-unpublish",
        &["-d", base.to_str().expect("UTF-8"), "a/b"],
    );
    assert_eq!(run(&mut c).0, 2);
    assert_eq!(
        store.get("secrets", "wifi-psk").expect("untouched"),
        "correct horse "
    );
}

/// `output-publish -f FILE --watch -n 3`, as the `secrets` service runs it.
struct Watching {
    child: Child,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs the built limina: use --features cli-tests"
)]
fn a_watched_file_is_republished_and_withdrawn() {
    let tmp = Scratch::new("publish-watch");
    let base = tmp.join("outputs");
    let store = Store::new(&base);
    // The file's directory does not exist yet.
    let dir = tmp.join("data");
    let file = dir.join("secrets");
    let ready = tmp.join("ready");
    let log = tmp.join("log");
    // Stale outputs of an earlier run are withdrawn while there is no file.
    store
        .publish("secrets", &set(&[("old", "1")]))
        .expect("publish");

    // fd 3 is the readiness pipe s6 would give (a file here).
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3>"$1"; exec "$2" output-publish -d "$3" -n 3 secrets -f "$4" --watch"#)
        .arg("sh")
        .args([&ready, &limina(), &base, &file])
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("starts");
    let _guard = Watching { child };

    wait_for(10, "stale outputs withdrawn", || {
        matches!(store.read("secrets"), Err(StoreError::NoOutputs { .. })).then_some(())
    });
    // Ready with the file missing: the state is settled (withdrawn), and a
    // router's first boot must not wait for a file nobody has written yet.
    wait_for(10, "readiness with no file", || {
        (read(&ready) == "\n").then_some(())
    });

    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(&file, "psk=one\n").expect("write");
    wait_for(10, "first publish", || {
        (store.read("secrets").ok()? == set(&[("psk", "one")])).then_some(())
    });

    // Replaced by rename, as editors do.
    let new = dir.join(".secrets.tmp");
    std::fs::write(&new, "psk=two\nntp=pool\n").expect("write");
    std::fs::rename(&new, &file).expect("rename");
    wait_for(10, "re-publish after rename", || {
        (store.read("secrets").ok()? == set(&[("psk", "two"), ("ntp", "pool")])).then_some(())
    });

    // Malformed: logged, the last good set stays; fixed: published.
    std::fs::write(&file, "psk=three\noops\n").expect("write");
    wait_for(10, "the error logged", || {
        read(&log)
            .contains("secrets:2: expected KEY=VALUE")
            .then_some(())
    });
    assert_eq!(store.get("secrets", "psk").expect("kept"), "two");
    std::fs::write(&file, "psk=three\n").expect("write");
    wait_for(10, "re-publish after fix", || {
        (store.get("secrets", "psk").ok()? == "three").then_some(())
    });

    // Removed: withdrawn; back: published again.
    std::fs::remove_file(&file).expect("rm");
    wait_for(10, "withdrawn", || {
        matches!(store.read("secrets"), Err(StoreError::NoOutputs { .. })).then_some(())
    });
    std::fs::write(&file, "psk=four\n").expect("write");
    wait_for(10, "published again", || {
        (store.get("secrets", "psk").ok()? == "four").then_some(())
    });
    assert_eq!(read(&ready), "\n", "readiness written once");
    let log = read(&log);
    assert!(
        log.lines().all(|l| l.starts_with("output-publish: ")),
        "one line per event: {log}"
    );
    assert!(
        log.contains("does not exist: outputs of secrets withdrawn"),
        "{log}"
    );
}
