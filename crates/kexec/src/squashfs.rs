//! The squashfs superblock: the one check of a root file system image
//! before it is booted, shared by [`crate::uimage::Firmware::split`] and
//! [`crate::trial`].
//!
//! Only the fields a loader needs are read (`fs/squashfs/squashfs_fs.h`,
//! little-endian on every architecture): the magic `hsqs`, the version
//! (Linux reads 4.0 only) and `bytes_used`, the length of the file system
//! from the superblock on. An image shorter than `bytes_used` would boot
//! and fail at the first read of the missing part, so it is refused here.

/// The squashfs magic, `hsqs` (`SQUASHFS_MAGIC` stored little-endian).
pub const MAGIC: &[u8; 4] = b"hsqs";
/// Size of a squashfs 4.0 superblock.
pub const SUPERBLOCK_LEN: usize = 96;

/// Why bytes are not a whole squashfs 4.0 image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `hsqs` superblock (or fewer than 96 bytes).
    #[error("not a squashfs image (no 'hsqs' superblock)")]
    NotSquashfs,
    /// A squashfs of another major version.
    #[error("squashfs version {major}.{minor}, the kernel reads 4.0")]
    Version {
        /// `s_major`.
        major: u16,
        /// `s_minor`.
        minor: u16,
    },
    /// `bytes_used` is below the superblock's own size.
    #[error("the squashfs says it uses {used} bytes (and a superblock alone is 96)")]
    BadLength {
        /// `bytes_used`.
        used: u64,
    },
    /// The image is shorter than `bytes_used`.
    #[error("truncated squashfs: the superblock says it uses {used} bytes, {available} follow")]
    Truncated {
        /// `bytes_used`.
        used: u64,
        /// Bytes there are from the superblock on.
        available: u64,
    },
}

/// The fields of a squashfs 4.0 superblock a loader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Superblock {
    /// `s_major`, always 4 here.
    pub major: u16,
    /// `s_minor`.
    pub minor: u16,
    /// `bytes_used`: the image's length from the superblock on.
    pub bytes_used: u64,
    /// `block_size`.
    pub block_size: u32,
}

fn le<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&data[at..at + N]);
    b
}

impl Superblock {
    /// Parse the superblock at the start of `data` and check that it is
    /// version 4 and that `data` holds all `bytes_used` bytes.
    ///
    /// Errors: [`Error::NotSquashfs`], [`Error::Version`],
    /// [`Error::BadLength`], [`Error::Truncated`].
    pub fn parse(data: &[u8]) -> Result<Superblock, Error> {
        if data.len() < SUPERBLOCK_LEN || &data[..4] != MAGIC {
            return Err(Error::NotSquashfs);
        }
        let major = u16::from_le_bytes(le(data, 28));
        let minor = u16::from_le_bytes(le(data, 30));
        if major != 4 {
            return Err(Error::Version { major, minor });
        }
        let bytes_used = u64::from_le_bytes(le(data, 40));
        if bytes_used < SUPERBLOCK_LEN as u64 {
            return Err(Error::BadLength { used: bytes_used });
        }
        if bytes_used > data.len() as u64 {
            return Err(Error::Truncated {
                used: bytes_used,
                available: data.len() as u64,
            });
        }
        Ok(Superblock {
            major,
            minor,
            bytes_used,
            block_size: u32::from_le_bytes(le(data, 12)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A superblock: magic, `block_size` at 12, version at 28/30,
    /// `bytes_used` at 40; the rest zero.
    fn image(major: u16, used: u64, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[..4].copy_from_slice(b"hsqs");
        d[12..16].copy_from_slice(&131_072u32.to_le_bytes());
        d[28..30].copy_from_slice(&major.to_le_bytes());
        d[40..48].copy_from_slice(&used.to_le_bytes());
        d
    }

    #[test]
    fn checks() {
        let sb = Superblock::parse(&image(4, 4000, 4096)).expect("ok");
        assert_eq!((sb.major, sb.bytes_used, sb.block_size), (4, 4000, 131_072));
        assert_eq!(Superblock::parse(b"070701..."), Err(Error::NotSquashfs));
        assert_eq!(
            Superblock::parse(&image(3, 4000, 4096)),
            Err(Error::Version { major: 3, minor: 0 })
        );
        assert_eq!(
            Superblock::parse(&image(4, 8192, 4096)),
            Err(Error::Truncated {
                used: 8192,
                available: 4096
            })
        );
        assert_eq!(
            Superblock::parse(&image(4, 0, 4096)),
            Err(Error::BadLength { used: 0 })
        );
        for n in 0..96 {
            assert_eq!(
                Superblock::parse(&image(4, 96, 96)[..n]),
                Err(Error::NotSquashfs)
            );
        }
    }
}
