//! What an upgrade must refuse, each with its own message: no signature,
//! another key's, a changed, truncated or extended image, a truncated or
//! garbled signature file, a forged trusted comment; and, property-style,
//! any flipped bit of image or signature.

use std::path::{Path, PathBuf};

use limina_sign::{
    read_public_key, sign_file, signature_path, verify_file, Error, PublicKey, SecretKey,
    Signature, VerifyError,
};
use proptest::prelude::*;

use super::{image, scratch};

/// A signed image in a fresh directory: (dir, key, image path).
fn signed(name: &str, len: usize) -> (PathBuf, SecretKey, PathBuf) {
    let dir = scratch(name);
    let key = SecretKey::generate().expect("generate");
    let fw = dir.join("firmware.bin");
    std::fs::write(&fw, image(len)).expect("write image");
    sign_file(
        &key,
        &fw,
        None,
        "timestamp:1700000000\tfile:firmware.bin\thashed",
    )
    .expect("sign");
    (dir, key, fw)
}

/// The error and its causes on one line, as `verify-image` prints them.
fn message(e: &Error) -> String {
    let mut line = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

fn refused(key: &PublicKey, fw: &Path, sig: Option<&Path>) -> String {
    message(&verify_file(key, fw, sig).expect_err("must be refused"))
}

#[test]
fn a_good_image_passes() {
    let (_dir, key, fw) = signed("good", 70_000);
    let v = verify_file(&key.public_key(), &fw, None).expect("verify");
    assert_eq!(v.length, 70_000);
    assert_eq!(
        v.trusted_comment,
        "timestamp:1700000000\tfile:firmware.bin\thashed"
    );
}

#[test]
fn an_unsigned_image_is_refused() {
    let (_dir, key, fw) = signed("unsigned", 1000);
    std::fs::remove_file(signature_path(&fw)).expect("rm sig");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!("unsigned: no signature file {}.minisig", fw.display())
    );
}

#[test]
fn another_keys_signature_is_refused_naming_both_keys() {
    let (dir, key, fw) = signed("wrong-key", 1000);
    let other = SecretKey::generate().expect("generate");
    std::fs::write(dir.join("other.pub"), other.public_key().to_text()).expect("write");
    let other_pub = read_public_key(&dir.join("other.pub")).expect("read");
    assert_eq!(
        refused(&other_pub, &fw, None),
        format!(
            "{}: key id mismatch: signed by key {}, but the public key is {}",
            fw.display(),
            key.key_id(),
            other.key_id()
        )
    );
}

#[test]
fn a_flipped_byte_a_truncated_and_an_extended_image_are_refused() {
    let (_dir, key, fw) = signed("flip", 200_000);
    let good = std::fs::read(&fw).expect("read");
    let bad = format!(
        "{}: bad signature: the file is not what was signed (changed, truncated or extended)",
        fw.display()
    );
    let mut flipped = good.clone();
    flipped[123_456] ^= 0x01;
    std::fs::write(&fw, &flipped).expect("write");
    assert_eq!(refused(&key.public_key(), &fw, None), bad);
    std::fs::write(&fw, &good[..good.len() - 4096]).expect("write");
    assert_eq!(refused(&key.public_key(), &fw, None), bad);
    std::fs::write(&fw, [good.as_slice(), b"\0"].concat()).expect("write");
    assert_eq!(refused(&key.public_key(), &fw, None), bad);
    std::fs::write(&fw, &good).expect("write");
    verify_file(&key.public_key(), &fw, None).expect("restored");
}

#[test]
fn a_truncated_or_garbled_signature_file_is_refused() {
    let (_dir, key, fw) = signed("bad-sig", 1000);
    let sig = signature_path(&fw);
    let text = std::fs::read_to_string(&sig).expect("read sig");
    let s = sig.display();
    // Cut in the signature line, and after the trusted comment.
    let line2 = text.find('\n').expect("line 1") + 20;
    std::fs::write(&sig, &text[..line2]).expect("write");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!(
            "signature file {s}: truncated signature file: the signature is missing or cut short"
        )
    );
    let line4 = text
        .rfind("\n")
        .and_then(|end| text[..end].rfind('\n'))
        .expect("line 4");
    std::fs::write(&sig, &text[..line4 + 1]).expect("write");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!("signature file {s}: truncated signature file: the global signature is missing or cut short")
    );
    std::fs::write(&sig, "").expect("write");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!("signature file {s}: truncated signature file: the untrusted comment is missing or cut short")
    );
    // A base64 character replaced in the middle of the signature line.
    let mut garbled = text.clone().into_bytes();
    garbled[line2] = b'*';
    std::fs::write(&sig, &garbled).expect("write");
    let e = refused(&key.public_key(), &fw, None);
    assert!(
        e.starts_with(&format!(
            "signature file {s}: not a minisign signature: line 2: the signature is not base64"
        )),
        "{e}"
    );
    // Not a signature at all.
    std::fs::write(&sig, "#!/bin/sh\necho hi\n").expect("write");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!("signature file {s}: not a minisign signature: line 1: does not start with \"untrusted comment: \"")
    );
}

#[test]
fn a_forged_trusted_comment_is_refused() {
    let (_dir, key, fw) = signed("forged", 1000);
    let sig = signature_path(&fw);
    let text = std::fs::read_to_string(&sig).expect("read sig");
    // An attacker moves an old image's timestamp forward.
    std::fs::write(
        &sig,
        text.replace("timestamp:1700000000", "timestamp:1900000000"),
    )
    .expect("write");
    assert_eq!(
        refused(&key.public_key(), &fw, None),
        format!(
            "{}: trusted comment forged: its signature does not verify",
            fw.display()
        )
    );
    // The untrusted comment is signed by nothing: changing it is fine.
    std::fs::write(&sig, text.replace("signature from", "made by")).expect("write");
    verify_file(&key.public_key(), &fw, None).expect("untrusted comment is free");
}

#[test]
fn a_public_key_that_is_not_one_is_named() {
    let dir = scratch("bad-pub");
    let key = SecretKey::generate().expect("generate");
    let p = dir.join("signing.pub");
    std::fs::write(&p, key.to_text()).expect("write");
    assert_eq!(
        message(&read_public_key(&p).expect_err("secret key")),
        format!(
            "public key {}: not a minisign public key: this is a secret key: give the public key (.pub)",
            p.display()
        )
    );
    std::fs::write(&p, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9 me@host\n").expect("write");
    let e = message(&read_public_key(&p).expect_err("ssh key"));
    assert!(
        e.contains("not a minisign public key: the key line is not base64"),
        "{e}"
    );
}

/// One prehashed and one legacy signature of a small image, made once.
fn fixture() -> (PublicKey, Vec<u8>, Signature, Signature) {
    let key = SecretKey::from_parts(limina_sign::KeyId(*b"proptest"), &[7; 32]);
    let data = image(4096);
    let hashed = key.sign(data.as_slice(), "p").expect("sign");
    let legacy = key.sign_legacy(&data, "l").expect("sign legacy");
    (key.public_key(), data, hashed, legacy)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any one flipped bit of the image is refused, prehashed and legacy.
    #[test]
    fn any_flipped_bit_of_the_image_is_refused(at in 0usize..4096, bit in 0u8..8) {
        let (key, mut data, hashed, legacy) = fixture();
        data[at] ^= 1 << bit;
        for sig in [&hashed, &legacy] {
            prop_assert!(matches!(
                key.verify(sig, data.as_slice()),
                Err(VerifyError::BadSignature)
            ));
        }
    }

    /// Any one flipped bit of the signature file is refused: as a parse
    /// error, a key id mismatch, a bad signature or a forged comment, never
    /// accepted.
    #[test]
    fn any_flipped_bit_of_the_signature_file_is_refused(pick in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (key, data, hashed, _) = fixture();
        let mut text = hashed.to_text().into_bytes();
        // Only the signed parts: the untrusted comment is free to change,
        // and a flipped bit that keeps the base64 decoding the same (its
        // padding bits) is no change of the signature.
        let start = text.iter().position(|&b| b == b'\n').expect("line 1") + 1;
        let at = start + pick.index(text.len() - start);
        text[at] ^= 1 << bit;
        let result = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| Signature::from_text(t).ok())
            .map(|sig| (key.verify(&sig, data.as_slice()), sig));
        if let Some((Ok(_), sig)) = result {
            // Accepted only if it decodes to the very same signature.
            prop_assert_eq!(sig, hashed);
        }
    }
}
