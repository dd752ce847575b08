//! `verify-image` as an upgrade script runs it: quiet and 0 for a good
//! image, one line and 1 for each refusal, 2 for bad usage.

#![cfg(feature = "sign")]

use std::path::Path;

use limina_sign::SecretKey;

use crate::util::{applet, run, Scratch};

fn verify(args: &[&Path]) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(|p| p.to_str().expect("utf-8")).collect();
    run(&mut applet("verify-image", &args))
}

#[test]
#[cfg_attr(
    not(feature = "cli-tests"),
    ignore = "runs the built limina: use --features cli-tests"
)]
fn each_refusal_has_its_line() {
    let tmp = Scratch::new("verify-image");
    let key = SecretKey::generate().expect("generate");
    let public = tmp.join("signing.pub");
    std::fs::write(&public, key.public_key().to_text()).expect("pub");
    let fw = tmp.join("firmware.bin");
    let image: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&fw, &image).expect("image");
    limina_sign::sign_file(&key, &fw, None, "timestamp:1\tfile:firmware.bin\thashed")
        .expect("sign");
    let sig = tmp.join("firmware.bin.minisig");
    let p = Path::new("-p");
    let x = Path::new("-x");

    assert_eq!(
        verify(&[p, &public, &fw]),
        (0, String::new(), String::new())
    );

    let refused = |args: &[&Path], line: String| {
        assert_eq!(
            verify(args),
            (1, String::new(), format!("verify-image: {line}\n"))
        );
    };
    let f = fw.display();
    // Another key.
    let other = SecretKey::generate().expect("generate");
    let other_pub = tmp.join("other.pub");
    std::fs::write(&other_pub, other.public_key().to_text()).expect("pub");
    refused(
        &[p, &other_pub, &fw],
        format!(
            "{f}: key id mismatch: signed by key {}, but the public key is {}",
            key.key_id(),
            other.key_id()
        ),
    );
    // One flipped byte, then a truncated image.
    let bad = format!(
        "{f}: bad signature: the file is not what was signed (changed, truncated or extended)"
    );
    let mut flipped = image.clone();
    flipped[150_000] ^= 0x80;
    std::fs::write(&fw, &flipped).expect("write");
    refused(&[p, &public, &fw], bad.clone());
    std::fs::write(&fw, &image[..image.len() / 2]).expect("write");
    refused(&[p, &public, &fw], bad);
    std::fs::write(&fw, &image).expect("write");
    // A forged trusted comment.
    let text = std::fs::read_to_string(&sig).expect("sig");
    let forged = tmp.join("forged.minisig");
    std::fs::write(&forged, text.replace("timestamp:1\t", "timestamp:2\t")).expect("write");
    refused(
        &[p, &public, &fw, x, &forged],
        format!("{f}: trusted comment forged: its signature does not verify"),
    );
    // A truncated signature file.
    let cut = tmp.join("cut.minisig");
    std::fs::write(&cut, &text[..text.len() - 30]).expect("write");
    refused(
        &[p, &public, &fw, x, &cut],
        format!(
            "signature file {}: truncated signature file: the global signature is missing or cut short",
            cut.display()
        ),
    );
    // Unsigned.
    std::fs::remove_file(&sig).expect("rm");
    refused(
        &[p, &public, &fw],
        format!("unsigned: no signature file {}", sig.display()),
    );
    // A missing public key.
    let none = tmp.join("none.pub");
    let (code, _, err) = verify(&[p, &none, &fw]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!("verify-image: {}: No such file", none.display())),
        "{err}"
    );
    // Bad usage.
    let (code, _, err) = verify(&[&fw]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("verify-image: the public key is needed: -p PUBKEY\nusage:"),
        "{err}"
    );
}
