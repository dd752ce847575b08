//! Letting go of start-up code once the daemon is in its loop.
//!
//! `limina` is a multi-call binary of a few MiB. Start-up (argument and
//! config parsing, opening the device, the first checks) touches code and
//! read-only data all over it, and the kernel maps every cached page of a
//! file within 64 KiB of each fault (fault-around), so after start-up the
//! daemon maps about 1.2 MiB of the binary it will never use again.
//! [`release_startup_pages`] drops those mappings — the user-space
//! analogue of the kernel freeing its `__init` memory — and the loop faults
//! back in only what it uses. The pages stay in the page cache (shared with
//! every other `limina`), but this process no longer pins them: on a
//! squashfs root the kernel can reclaim them.

use std::path::Path;

/// The `[start, end)` address ranges, in a `/proc/self/smaps` text, of the
/// read-only mappings of `exe` (`r-xp` text, `r--p` read-only data) that
/// hold no private copy of any page (`Anonymous: 0 kB`).
///
/// Such a mapping is byte-for-byte the file: dropping its page-table
/// entries loses nothing, a later access reads the same bytes back. A
/// mapping with private pages — RELRO after relocation, for one — is never
/// included, nor is anything writable.
pub fn releasable_ranges(smaps: &str, exe: &Path) -> Vec<(u64, u64)> {
    let exe = exe.to_string_lossy();
    let mut out = Vec::new();
    // The mapping being read: (start, end, releasable so far).
    let mut current: Option<(u64, u64, bool)> = None;
    let mut finish = |c: Option<(u64, u64, bool)>, anonymous_seen: bool| {
        if let Some((s, e, true)) = c {
            if anonymous_seen {
                out.push((s, e));
            }
        }
    };
    let mut anonymous_seen = false;
    for line in smaps.lines() {
        if let Some(header) = parse_header(line) {
            finish(current.take(), anonymous_seen);
            anonymous_seen = false;
            let (start, end, perms, path) = header;
            let wanted = (perms == "r-xp" || perms == "r--p") && path == exe && start < end;
            current = Some((start, end, wanted));
        } else if let Some(v) = line.strip_prefix("Anonymous:") {
            anonymous_seen = true;
            if v.split_whitespace().next() != Some("0") {
                if let Some(c) = current.as_mut() {
                    c.2 = false;
                }
            }
        }
    }
    finish(current, anonymous_seen);
    out
}

/// A mapping line: `start-end perms offset dev inode [path]`.
fn parse_header(line: &str) -> Option<(u64, u64, &str, &str)> {
    let mut f = line.split_whitespace();
    let (a, b) = f.next()?.split_once('-')?;
    let start = u64::from_str_radix(a, 16).ok()?;
    let end = u64::from_str_radix(b, 16).ok()?;
    let perms = f.next()?;
    if perms.len() != 4 {
        return None;
    }
    // offset, dev, inode, then the path (which may contain spaces).
    let path = line
        .splitn(6, char::is_whitespace)
        .nth(5)
        .unwrap_or("")
        .trim_start();
    Some((start, end, perms, path))
}

/// Drops this process's mappings of its executable's unmodified read-only
/// pages (see the module docs). Returns the bytes released. Call it once,
/// after start-up; whatever is needed later faults in again.
///
/// Errors: reading `/proc/self/smaps` or `/proc/self/exe`, or `madvise`.
///
/// Exercised against real kernels only (the daemon calls it in the x86_64
/// and big-endian MIPS VM tests): qemu-user cannot emulate `MADV_DONTNEED`
/// on a guest's file mappings faithfully (32-bit ARM guests crash), so
/// there is no unit test that calls it.
pub fn release_startup_pages() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for (start, end) in releasable_ranges(&smaps, &exe) {
        // Addresses of this process always fit its usize.
        let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
            continue;
        };
        crate::sys::dont_need(start, end).map_err(std::io::Error::from)?;
        released += end - start;
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d5c0a00000-55d5c0a6e000 r--p 00000000 00:1a 1234 /usr/bin/limina
Rss:                  64 kB
Anonymous:             0 kB
55d5c0a6e000-55d5c0d9c000 r-xp 0006e000 00:1a 1234 /usr/bin/limina
Rss:                 596 kB
Anonymous:             0 kB
55d5c0d9c000-55d5c0e3a000 r--p 0039c000 00:1a 1234 /usr/bin/limina
Rss:                 236 kB
Anonymous:            12 kB
55d5c0e3a000-55d5c0e3c000 rw-p 0043a000 00:1a 1234 /usr/bin/limina
Rss:                   8 kB
Anonymous:             8 kB
7f00aa000000-7f00aa100000 r-xp 00000000 00:1a 99 /lib/ld-musl-mips-sf.so.1
Anonymous:             0 kB
7f00ab000000-7f00ab001000 r-xp 00000000 00:1a 77 /opt/my dir/limina
Rss:                   4 kB
Anonymous:             0 kB
7f00ab001000-7f00ab002000 r--p 00000000 00:1a 77 /opt/my dir/limina
Rss:                   4 kB
7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_unmodified_read_only_mappings_of_the_executable() {
        assert_eq!(
            releasable_ranges(SMAPS, Path::new("/usr/bin/limina")),
            [
                (0x55d5_c0a0_0000, 0x55d5_c0a6_e000),
                (0x55d5_c0a6_e000, 0x55d5_c0d9_c000),
            ]
        );
        // A mapping whose Anonymous line is missing is not taken on trust.
        assert_eq!(
            releasable_ranges(SMAPS, Path::new("/opt/my dir/limina")),
            [(0x7f00_ab00_0000, 0x7f00_ab00_1000)]
        );
        assert!(releasable_ranges(SMAPS, Path::new("/bin/sh")).is_empty());
        assert!(releasable_ranges("garbage\n\n1-2 r-xp", Path::new("/x")).is_empty());
    }
}
