//! Protocol behaviour the real clients cannot show: lost and duplicate
//! ACKs, retry limits, block-number wraparound, option corner cases.

use std::time::{Duration, Instant};

use limina_tftpd::Options;

use crate::util::{on_build_machine, pattern, root, serve, Pkt, Raw, WRAP};

const T: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join(name)).expect("fixture")
}

fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn lost_ack_is_recovered_by_retransmission() {
    if !on_build_machine("lost_ack_is_recovered_by_retransmission") {
        return;
    }
    let server = serve(Options {
        retransmit: Duration::from_millis(300),
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(1, "f513", "octet", &[]);
    let first = c.expect(T);
    assert!(
        matches!(&first, Pkt::Data(1, d) if d.len() == 512),
        "{first:?}"
    );
    // The ACK of block 1 is "lost": the server must send block 1 again
    // after its timeout, not earlier.
    let t0 = Instant::now();
    let again = c.expect(T);
    let waited = t0.elapsed();
    assert_eq!(again, first, "retransmission differs");
    assert!(
        waited >= Duration::from_millis(250),
        "retransmitted after {waited:?}, before the 300 ms timeout"
    );
    c.ack(1);
    let rest = c.fetch_rest(2, 512);
    let mut got = match first {
        Pkt::Data(_, d) => d,
        _ => unreachable!(),
    };
    got.extend_from_slice(&rest);
    assert_eq!(got, fixture("f513"));
}

#[test]
fn lost_ack_of_the_oack_is_recovered() {
    if !on_build_machine("lost_ack_of_the_oack_is_recovered") {
        return;
    }
    let server = serve(Options {
        retransmit: Duration::from_millis(200),
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(1, "f511", "octet", &[("blksize", "100"), ("tsize", "0")]);
    let want = Pkt::Oack(opts(&[("blksize", "100"), ("tsize", "511")]));
    assert_eq!(c.expect(T), want);
    // No ACK 0: the OACK comes again.
    assert_eq!(c.expect(T), want);
    c.ack(0);
    assert_eq!(c.fetch_rest(1, 100), fixture("f511"));
}

#[test]
fn duplicate_ack_does_not_trigger_a_resend() {
    if !on_build_machine("duplicate_ack_does_not_trigger_a_resend") {
        return;
    }
    let server = serve(Options {
        retransmit: Duration::from_secs(2),
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(1, "f40m", "octet", &[]);
    assert!(matches!(c.expect(T), Pkt::Data(1, _)));
    c.ack(1);
    assert!(matches!(c.expect(T), Pkt::Data(2, _)));
    // The ACK of block 1 arrives twice more (delayed duplicates): a server
    // with the Sorcerer's Apprentice bug answers each with block 2.
    c.ack(1);
    c.ack(1);
    let extra = c.recv(Duration::from_millis(700));
    assert_eq!(extra, None, "duplicate ACK answered");
    c.ack(2);
    assert!(matches!(c.expect(T), Pkt::Data(3, _)));
    // And the duplicate does not postpone the retransmission either: ACK 2
    // again every 500 ms; block 3 must come again after ~2 s anyway.
    let t0 = Instant::now();
    let resent = loop {
        c.ack(2);
        if let Some(p) = c.recv(Duration::from_millis(500)) {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "block 3 never resent"
        );
    };
    assert!(matches!(resent, Pkt::Data(3, _)), "{resent:?}");
}

#[test]
fn gives_up_after_the_retry_limit() {
    if !on_build_machine("gives_up_after_the_retry_limit") {
        return;
    }
    let server = serve(Options {
        retransmit: Duration::from_millis(100),
        retries: 3,
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(1, "f513", "octet", &[]);
    let mut n = 0;
    while let Some(p) = c.recv(Duration::from_millis(600)) {
        assert!(matches!(p, Pkt::Data(1, _)), "{p:?}");
        n += 1;
    }
    assert_eq!(n, 4, "one send and three retransmissions");
}

#[test]
fn block_numbers_wrap_to_zero() {
    if !on_build_machine("block_numbers_wrap_to_zero") {
        return;
    }
    // 65536 blocks of 8 bytes and 3 more: blocks 1..=65535, then 0, 1.
    let (name, size) = WRAP;
    let server = serve(Options::default());
    let mut c = Raw::new(server.local_addr());
    c.request(1, name, "octet", &[("blksize", "8")]);
    assert_eq!(c.expect(T), Pkt::Oack(opts(&[("blksize", "8")])));
    c.ack(0);
    let mut got = Vec::with_capacity(size);
    let mut seen = Vec::new();
    let mut block: u16 = 1;
    loop {
        match c.expect(T) {
            Pkt::Data(b, d) => {
                assert_eq!(b, block, "after {} bytes", got.len());
                if !(2..=65534).contains(&b) {
                    seen.push(b);
                }
                c.ack(b);
                got.extend_from_slice(&d);
                if d.len() < 8 {
                    break;
                }
                block = block.wrapping_add(1);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, [1, 65535, 0, 1]);
    assert_eq!(got.len(), size);
    assert!(got == pattern(size, 99), "content differs");
}

#[test]
fn blksize_negotiation() {
    if !on_build_machine("blksize_negotiation") {
        return;
    }
    let server = serve(Options::default());
    let addr = server.local_addr();
    // (requested, OACK reply, block size in use)
    let cases: [(&str, Option<&str>, usize); 5] = [
        ("512", Some("512"), 512),
        ("1468", Some("1468"), 1468),
        // Above RFC 2348's maximum: lowered to 65464, as tftpd-hpa.
        ("70000", Some("65464"), 65464),
        // Below the minimum of 8: ignored, the transfer runs at 512.
        ("7", None, 512),
        ("junk", None, 512),
    ];
    for (asked, granted, used) in cases {
        let mut c = Raw::new(addr);
        c.request(1, "f40m", "octet", &[("blksize", asked)]);
        if let Some(g) = granted {
            assert_eq!(c.expect(T), Pkt::Oack(opts(&[("blksize", g)])), "{asked}");
            c.ack(0);
        }
        match c.expect(T) {
            Pkt::Data(1, d) => assert_eq!(d.len(), used, "blksize {asked}"),
            other => panic!("blksize {asked}: {other:?}"),
        }
        c.ack(1);
        match c.expect(T) {
            Pkt::Data(2, d) => {
                assert_eq!(d, fixture("f40m")[used..2 * used].to_vec(), "block 2")
            }
            other => panic!("blksize {asked}: {other:?}"),
        }
    }
}

#[test]
fn timeout_and_tsize_and_unknown_options() {
    if !on_build_machine("timeout_and_tsize_and_unknown_options") {
        return;
    }
    // A 3 s default, so that a resend after ~1 s shows the client's
    // timeout is used.
    let server = serve(Options {
        retransmit: Duration::from_secs(3),
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(
        1,
        "f40m",
        "octet",
        &[("tsize", "0"), ("timeout", "1"), ("frobnicate", "1")],
    );
    assert_eq!(
        c.expect(T),
        Pkt::Oack(opts(&[("tsize", "41943040"), ("timeout", "1")]))
    );
    c.ack(0);
    assert!(matches!(c.expect(T), Pkt::Data(1, _)));
    // No ACK: the negotiated 1 s timeout, not the 3 s default, paces the
    // resend.
    let t0 = Instant::now();
    assert!(matches!(c.expect(T), Pkt::Data(1, _)));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
}

#[test]
fn windowsize_sends_a_window_per_ack() {
    if !on_build_machine("windowsize_sends_a_window_per_ack") {
        return;
    }
    // A 3 s default, so that a resend after ~1 s shows the client's
    // timeout is used.
    let server = serve(Options {
        retransmit: Duration::from_secs(3),
        ..Options::default()
    });
    let mut c = Raw::new(server.local_addr());
    c.request(
        1,
        "f40m",
        "octet",
        &[("windowsize", "4"), ("blksize", "1024")],
    );
    assert_eq!(
        c.expect(T),
        Pkt::Oack(opts(&[("windowsize", "4"), ("blksize", "1024")]))
    );
    c.ack(0);
    let want = fixture("f40m");
    for b in 1..=4u16 {
        let o = usize::from(b - 1) * 1024;
        assert_eq!(c.expect(T), Pkt::Data(b, want[o..o + 1024].to_vec()));
    }
    assert_eq!(
        c.recv(Duration::from_millis(300)),
        None,
        "more than a window"
    );
    // ACK 2 (blocks 3 and 4 "lost"): the next window starts at 3.
    c.ack(2);
    for b in 3..=6u16 {
        assert!(matches!(c.expect(T), Pkt::Data(n, _) if n == b));
    }
}

#[test]
fn netascii_on_the_wire() {
    if !on_build_machine("netascii_on_the_wire") {
        return;
    }
    let server = serve(Options::default());
    let mut c = Raw::new(server.local_addr());
    // tsize is not answered in netascii: the converted size is unknown.
    c.request(1, "text", "NetASCII", &[("tsize", "0")]);
    match c.expect(T) {
        Pkt::Data(1, d) => assert_eq!(d, b"line one\r\nline two\r\0\r\nbare\r\0cr\r\n\r\n"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_carry_the_right_error() {
    if !on_build_machine("refusals_carry_the_right_error") {
        return;
    }
    let server = serve(Options::default());
    let cases: [(u16, &str, &str, u16); 8] = [
        (2, "uploaded-raw", "octet", 2),
        (1, "../secret", "octet", 2),
        (1, "sub/../../secret", "octet", 2),
        (1, "escape", "octet", 2),
        (1, "abs", "octet", 2),
        (1, "no-such-file", "octet", 1),
        (1, "/etc/passwd", "octet", 1),
        (1, "f513", "mail", 4),
    ];
    for (op, name, mode, code) in cases {
        let mut c = Raw::new(server.local_addr());
        c.request(op, name, mode, &[]);
        match c.expect(T) {
            Pkt::Error(got, _) => assert_eq!(got, code, "opcode {op} {name} {mode}"),
            other => panic!("opcode {op} {name}: {other:?}"),
        }
        assert_eq!(c.recv(Duration::from_millis(200)), None, "after the error");
    }
    assert!(!root().join("uploaded-raw").exists(), "a write landed");
}

#[test]
fn two_transfers_interleave_and_strangers_get_unknown_tid() {
    if !on_build_machine("two_transfers_interleave_and_strangers_get_unknown_tid") {
        return;
    }
    let server = serve(Options::default());
    let mut a = Raw::new(server.local_addr());
    let mut b = Raw::new(server.local_addr());
    a.request(1, "f513", "octet", &[]);
    assert!(matches!(a.expect(T), Pkt::Data(1, _)));
    // A is waiting for an ACK; B is served meanwhile.
    b.request(1, "f511", "octet", &[]);
    assert_eq!(b.fetch_rest(1, 512), fixture("f511"));
    // A packet to A's transfer port from B's port: ERROR 5 to B, A goes on.
    b.tid = a.tid;
    b.ack(1);
    assert!(matches!(b.expect(T), Pkt::Error(5, _)));
    a.ack(1);
    assert_eq!(a.fetch_rest(2, 512), fixture("f513")[512..].to_vec());
}
