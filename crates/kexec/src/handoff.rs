//! The device tree the next kernel gets: what of the running tree must be
//! renewed or dropped before it is handed over.
//!
//! The running tree (`/sys/firmware/fdt`) describes the *running* boot:
//! its `linux,initrd-*` name the old initramfs (long freed), crash-kernel
//! properties (`linux,elfcorehdr`, `linux,usable-memory-range`) would turn
//! the next kernel into a crash kernel, and reusing `rng-seed` or
//! `kaslr-seed` would give the next kernel the same "random" state as this
//! one. [`edit_dtb`] is the policy kexec-tools applies, in one place, for
//! `kexec -l` and for [`crate::trial`].

use std::io::Read;

use crate::dtb::{self, Fdt};
use crate::memory::Range;

/// Bytes of fresh randomness one hand-off needs: 64 for `rng-seed`, 8 for
/// `kaslr-seed`.
pub const SEED_LEN: usize = 72;

/// Fresh randomness for the next kernel: 64 bytes of `rng-seed`, then 8
/// of `kaslr-seed`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; SEED_LEN]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

/// Why the hand-off tree could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `/dev/urandom` could not be read.
    #[error("kexec: cannot read /dev/urandom: {source}")]
    Random {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The tree could not be edited.
    #[error(transparent)]
    Dtb(#[from] dtb::Error),
}

impl Seed {
    /// 72 bytes from `/dev/urandom`.
    ///
    /// Errors: [`Error::Random`].
    pub fn from_urandom() -> Result<Seed, Error> {
        let mut v = [0u8; SEED_LEN];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut v))
            .map_err(|source| Error::Random { source })?;
        Ok(Seed(v))
    }
}

/// Makes `fdt` the next kernel's tree: its initrd (or none: the running
/// tree's `linux,initrd-*` name the old one), command line (`None` keeps
/// the tree's `/chosen/bootargs`), fresh seeds (`rng-seed` always,
/// `kaslr-seed` where the tree has one), and no crash-kernel properties.
/// `/chosen` is created if missing.
///
/// Errors: [`dtb::Error`] for a tree that cannot take the values (a
/// command line with a NUL byte, an initrd beyond the root's cells).
pub fn edit_dtb(
    fdt: &mut Fdt,
    initrd: Option<Range>,
    cmdline: Option<&str>,
    seed: &Seed,
) -> Result<(), dtb::Error> {
    let chosen = fdt.node_or_create("/chosen")?;
    for stale in [
        "linux,initrd-start",
        "linux,initrd-end",
        "linux,elfcorehdr",
        "linux,usable-memory-range",
    ] {
        chosen.remove_prop(stale);
    }
    let has_kaslr_seed = chosen.prop("kaslr-seed").is_some();
    if let Some(r) = initrd {
        fdt.set_initrd(r.start, r.end)?;
    }
    if let Some(c) = cmdline {
        fdt.set_bootargs(c)?;
    }
    let (rng, kaslr) = seed.0.split_at(64);
    fdt.set_rng_seed(rng)?;
    if has_kaslr_seed {
        let mut k = [0u8; 8];
        k.copy_from_slice(kaslr);
        fdt.set_kaslr_seed(u64::from_be_bytes(k))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtb_edits() {
        let seed = Seed(std::array::from_fn(|i| i as u8));
        // No /chosen at all: created, as kexec-tools does.
        let mut f = Fdt::new();
        edit_dtb(&mut f, None, Some("console=ttyS0 m=1"), &seed).expect("edit");
        assert_eq!(
            f.bootargs().expect("str").as_deref(),
            Some("console=ttyS0 m=1")
        );
        let rng = f.prop("/chosen", "rng-seed").expect("node").expect("rng");
        assert_eq!(rng.value, seed.0[..64].to_vec());
        assert!(f.prop("/chosen", "kaslr-seed").expect("node").is_none());

        // The running tree's initrd and crash properties go; kaslr-seed is renewed.
        let mut f = Fdt::new();
        f.set_bootargs("old").expect("bootargs");
        f.set_initrd(0x4800_0000, 0x4900_0000).expect("initrd");
        f.set_kaslr_seed(0).expect("kaslr");
        f.node_mut("/chosen")
            .expect("chosen")
            .set_prop("linux,elfcorehdr", vec![0; 16]);
        edit_dtb(&mut f, None, None, &seed).expect("edit");
        let chosen = f.node("/chosen").expect("chosen");
        assert!(chosen.prop("linux,initrd-start").is_none());
        assert!(chosen.prop("linux,initrd-end").is_none());
        assert!(chosen.prop("linux,elfcorehdr").is_none());
        assert_eq!(f.bootargs().expect("str").as_deref(), Some("old"));
        assert_eq!(
            f.prop_u64("/chosen", "kaslr-seed").expect("u64"),
            Some(u64::from_be_bytes(std::array::from_fn(|i| seed.0[64 + i])))
        );

        // A new initrd, in the root's cells.
        edit_dtb(
            &mut f,
            Some(Range::new(0x4200_0000, 0x4210_0000)),
            None,
            &seed,
        )
        .expect("edit");
        assert_eq!(
            f.prop_u64("/chosen", "linux,initrd-start").expect("u64"),
            Some(0x4200_0000)
        );
        assert_eq!(
            f.prop_u64("/chosen", "linux,initrd-end").expect("u64"),
            Some(0x4210_0000)
        );
    }
}
