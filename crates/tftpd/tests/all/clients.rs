//! Downloads with the real clients, compared byte for byte.

use limina_tftpd::Options;

use crate::util::{busybox_get, have, hpa_get, root, said, serve, Scratch, SIZES};

fn assert_same(got: &std::path::Path, want: &str, what: &str) {
    let got = std::fs::read(got).unwrap_or_else(|e| panic!("{what}: no output file: {e}"));
    let want = std::fs::read(root().join(want)).expect("fixture");
    assert!(
        got == want,
        "{what}: {} bytes received, {} expected, first difference at {:?}",
        got.len(),
        want.len(),
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
}

#[test]
fn tftp_hpa_whole_files() {
    if !have("tftp-hpa", "tftp_hpa_whole_files") {
        return;
    }
    let server = serve(Options::default());
    let tmp = Scratch::new("hpa-files");
    for (name, _) in SIZES {
        let out = tmp.0.join(name);
        let o = hpa_get(server.local_addr(), "octet", name, &out);
        assert!(said(&o).trim().is_empty(), "tftp-hpa {name}: {}", said(&o));
        assert_same(&out, name, &format!("tftp-hpa {name}"));
    }
}

#[test]
fn busybox_whole_files_at_512_and_1468() {
    if !have("busybox-tftp", "busybox_whole_files_at_512_and_1468") {
        return;
    }
    let server = serve(Options::default());
    let tmp = Scratch::new("bb-files");
    for blksize in [None, Some(512), Some(1468)] {
        for (name, _) in SIZES {
            let out = tmp.0.join(format!("{name}-{blksize:?}"));
            let o = busybox_get(server.local_addr(), name, &out, blksize);
            assert!(
                o.status.success(),
                "busybox {name} {blksize:?}: {}",
                said(&o)
            );
            assert_same(&out, name, &format!("busybox {name} blksize {blksize:?}"));
        }
    }
}

#[test]
fn busybox_odd_block_sizes() {
    if !have("busybox-tftp", "busybox_odd_block_sizes") {
        return;
    }
    // Small blocks (busybox refuses to ask for less than 24 bytes), and
    // requests above the server's maximum, which are lowered to it.
    let server = serve(Options {
        max_blksize: 1024,
        ..Options::default()
    });
    let tmp = Scratch::new("bb-odd");
    for blksize in [64, 1468, 65464] {
        let out = tmp.0.join(format!("f513-{blksize}"));
        let o = busybox_get(server.local_addr(), "f513", &out, Some(blksize));
        assert!(
            o.status.success(),
            "busybox blksize {blksize}: {}",
            said(&o)
        );
        assert_same(&out, "f513", &format!("busybox blksize {blksize}"));
    }
}

#[test]
fn tftp_hpa_netascii_round_trips() {
    if !have("tftp-hpa", "tftp_hpa_netascii_round_trips") {
        return;
    }
    // The server sends CR LF and CR NUL; tftp-hpa converts them back.
    let server = serve(Options::default());
    let tmp = Scratch::new("hpa-ascii");
    let out = tmp.0.join("text");
    let o = hpa_get(server.local_addr(), "netascii", "text", &out);
    assert!(
        said(&o).trim().is_empty(),
        "tftp-hpa netascii: {}",
        said(&o)
    );
    assert_same(&out, "text", "tftp-hpa netascii");
}

#[test]
fn traversal_refused_for_real_clients() {
    let hpa = have("tftp-hpa", "traversal_refused_for_real_clients");
    let bb = have("busybox-tftp", "traversal_refused_for_real_clients");
    if !hpa && !bb {
        return;
    }
    let server = serve(Options::default());
    let tmp = Scratch::new("traversal");
    // (name, error code, served file if served)
    let cases: [(&str, Option<u16>, Option<&str>); 9] = [
        ("../secret", Some(2), None),
        ("sub/../../secret", Some(2), None),
        ("./../secret", Some(2), None),
        ("escape", Some(2), None),
        ("abs", Some(2), None),
        ("sub", Some(2), None),
        // Absolute names are relative to the root, as in.tftpd -s.
        ("/etc/passwd", Some(1), None),
        ("/f513", None, Some("f513")),
        ("alias", None, Some("sub/inner")),
    ];
    for (i, (name, code, served)) in cases.iter().enumerate() {
        if hpa {
            let out = tmp.0.join(format!("hpa{i}"));
            let o = hpa_get(server.local_addr(), "octet", name, &out);
            match (code, served) {
                (Some(c), _) => {
                    assert!(
                        said(&o).contains(&format!("Error code {c}:")),
                        "tftp-hpa {name}: {}",
                        said(&o)
                    );
                    // tftp-hpa leaves an empty file behind.
                    let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                    assert_eq!(len, 0, "tftp-hpa {name}: data received");
                }
                (None, Some(f)) => assert_same(&out, f, &format!("tftp-hpa {name}")),
                (None, None) => unreachable!(),
            }
        }
        if bb {
            let out = tmp.0.join(format!("bb{i}"));
            let o = busybox_get(server.local_addr(), name, &out, Some(1468));
            match (code, served) {
                (Some(c), _) => {
                    assert!(!o.status.success(), "busybox {name} succeeded");
                    assert!(
                        said(&o).contains(&format!("server error: ({c})")),
                        "busybox {name}: {}",
                        said(&o)
                    );
                }
                (None, Some(f)) => {
                    assert!(o.status.success(), "busybox {name}: {}", said(&o));
                    assert_same(&out, f, &format!("busybox {name}"));
                }
                (None, None) => unreachable!(),
            }
        }
    }
}

#[test]
fn write_refused_for_tftp_hpa() {
    if !have("tftp-hpa", "write_refused_for_tftp_hpa") {
        return;
    }
    let server = serve(Options::default());
    let tmp = Scratch::new("hpa-put");
    let local = tmp.0.join("upload");
    std::fs::write(&local, b"should never land").expect("write");
    let o = std::process::Command::new("tftp")
        .arg(server.local_addr().ip().to_string())
        .arg(server.local_addr().port().to_string())
        .args(["-m", "octet", "-c", "put"])
        .arg(&local)
        .arg("uploaded")
        .output()
        .expect("run tftp");
    assert!(
        said(&o).contains("Error code 2:"),
        "tftp-hpa put: {}",
        said(&o)
    );
    assert!(!root().join("uploaded").exists(), "a file was written");
}

#[test]
fn eight_clients_at_once() {
    let hpa = have("tftp-hpa", "eight_clients_at_once");
    let bb = have("busybox-tftp", "eight_clients_at_once");
    if !hpa && !bb {
        return;
    }
    let server = serve(Options::default());
    let addr = server.local_addr();
    let tmp = Scratch::new("eight");
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let out = tmp.0.join(format!("c{i}"));
                // Half busybox at 1468, half tftp-hpa at 512, when both exist.
                let use_bb = bb && (i % 2 == 0 || !hpa);
                s.spawn(move || {
                    let o = if use_bb {
                        busybox_get(addr, "f40m", &out, Some(1468))
                    } else {
                        hpa_get(addr, "octet", "f40m", &out)
                    };
                    (use_bb, o, out)
                })
            })
            .collect();
        for h in handles {
            let (use_bb, o, out) = h.join().expect("client thread");
            let who = if use_bb { "busybox" } else { "tftp-hpa" };
            assert!(o.status.success(), "{who}: {}", said(&o));
            assert_same(&out, "f40m", &format!("concurrent {who}"));
        }
    });
    eprintln!("8 concurrent 40 MiB downloads: {:?}", start.elapsed());
}
