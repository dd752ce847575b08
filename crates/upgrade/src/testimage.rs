//! Firmware images for tests and examples (not part of the API: hidden
//! from the documentation and free to change).

/// A firmware image as Limina's build makes one: a uImage (MIPS, Linux,
/// kernel, no compression, `kernel` as its data, with valid header and
/// data CRCs), padded with `0xff` to a multiple of `erase_size`, then a
/// squashfs 4.0 superblock heading `rootfs_blocks` erase blocks of
/// filler (`bytes_used` covers them all, a multiple of 4096).
pub fn firmware(kernel: &[u8], rootfs_blocks: usize, erase_size: usize) -> Vec<u8> {
    firmware_seeded(kernel, rootfs_blocks, erase_size, 0)
}

/// [`firmware`] with the root file system's filler derived from `seed`,
/// so that two seeds give images differing in every root file system
/// block and nowhere else.
pub fn firmware_seeded(
    kernel: &[u8],
    rootfs_blocks: usize,
    erase_size: usize,
    seed: u8,
) -> Vec<u8> {
    let mut image = uimage(kernel, "Limina test");
    image.resize(image.len().next_multiple_of(erase_size), 0xff);
    let len = rootfs_blocks * erase_size;
    let mut fs: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect();
    fs[..96].fill(0);
    fs[..4].copy_from_slice(b"hsqs");
    fs[12..16].copy_from_slice(&131_072u32.to_le_bytes());
    fs[28..30].copy_from_slice(&4u16.to_le_bytes());
    fs[40..48].copy_from_slice(&(len as u64).to_le_bytes());
    image.extend_from_slice(&fs);
    image
}

/// A uImage of `data`, as `mkimage -A mips -O linux -T kernel -C none -n
/// NAME` makes it.
pub fn uimage(data: &[u8], name: &str) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[0..4].copy_from_slice(&0x2705_1956u32.to_be_bytes());
    h[8..12].copy_from_slice(&1_700_000_000u32.to_be_bytes());
    h[12..16].copy_from_slice(&(data.len() as u32).to_be_bytes());
    h[16..20].copy_from_slice(&0x8006_0000u32.to_be_bytes());
    h[20..24].copy_from_slice(&0x8006_0000u32.to_be_bytes());
    h[24..28].copy_from_slice(&crc32fast::hash(data).to_be_bytes());
    h[28] = 5; // Linux
    h[29] = 5; // MIPS
    h[30] = 2; // kernel
    let n = name.len().min(32);
    h[32..32 + n].copy_from_slice(&name.as_bytes()[..n]);
    let hcrc = crc32fast::hash(&h);
    h[4..8].copy_from_slice(&hcrc.to_be_bytes());
    h.extend_from_slice(data);
    h
}
