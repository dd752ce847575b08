//! Power cuts during a UBI A/B upgrade (`limina upgrade --ubi`), on real
//! kernels (issue 14): on NOR-like and on NAND flash, between our
//! operations and inside the kernel's own writes. The results are in
//! docs/upgrading.md ("Power cuts on UBI, measured").
//!
//! UBI cannot attach to a `phram` device: phram leaves the MTD's
//! `writebufsize` at 0 and UBI refuses it ("bad write buffer size 0 for 1
//! min. I/O unit"; phram.c is the same in Linux 6.1 and 6.18). So UBI
//! runs on a simulator whose contents die with the kernel, and a power
//! cut is made of two parts: at the cut a real-time shell copies the
//! whole flash, raw, into a `phram` device ([`PersistentFlash`]) -- the
//! flash as it is at that instant, with nothing else running -- and
//! resets the guest at once (sysrq-b: the kernel, its caches, every
//! process and UBI's state in RAM are gone). The fresh boot writes the
//! copy back onto its fresh simulator, our `ubinfo` scans it raw,
//! `ubiattach` attaches it, and `limina upgrade --status --ubi` and the
//! kernel's own sysfs and volume nodes say what the boot would find.
//!
//! The flashes ([`Flash`]): `mtdram` (8 MiB, 128 KiB erase blocks, write
//! size 1: a LEB is 130944 bytes), copied with `dd`; and `nandsim`, a
//! large-page NAND (2048-byte pages, 64-byte OOB, 512-byte sub-pages,
//! 128 KiB blocks: the VID header at 512, data from 2048, a 129024-byte
//! LEB; read from the kernel, not assumed), in an 8 MiB partition of a
//! 128 MiB chip. NAND is copied with every page's OOB and without ECC
//! (`nanddump -n -o`: mtd-utils' on x86_64, busybox's on MIPS) and
//! written back the same way, skipping pages whose data and OOB are all
//! 0xff so that erased pages stay erased (mtd-utils' `nandwrite --noecc
//! --oob --skip-all-ffs` on x86_64; on MIPS, whose busybox `nandwrite`
//! cannot write OOB, [`NANDRESTORE_C`], built here by Debian's cross
//! compiler). Every NAND restore is dumped again and compared with its
//! snapshot: the test fails unless they are identical raw, page for
//! page with OOB -- what UBI reads through ECC is then what it would
//! have read before the cut.
//!
//! The cuts: after each progress line of the upgrade (the line comes
//! before the step it announces; our inspector's count of rootfs_b's
//! LEBs on the flash shows where the cut landed), and on nandsim also
//! UBI's own power-cut emulator at the k-th header write of the kernel
//! ([`emulated_cuts`]), which lands inside the update ioctl, between the
//! data LEBs, in the volume-table change clearing the update marker, and
//! inside the rename ioctl, between the volume table's two copies --
//! where no line of ours can cut. Neither simulator tears a write, and
//! the emulator cuts only before a header write, so a cut in the middle
//! of a page or between a LEB's pages is not made here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use limina_board_tests::{guest_limina, Machine, PersistentFlash, Vm, VmConfig};

use crate::common::{bytes, host_run, sha256_hex, Check, CheckSome};

/// The erase block of both flashes (mtdram: the MIPS kernel's built-in
/// `CONFIG_MTDRAM_*` and the x86_64 module's parameters; nandsim: its id
/// bytes), and of the phram devices holding the snapshots.
const ES: u32 = 128 * 1024;
/// The size of both flashes (without NAND's OOB).
const FLASH: u64 = 8 << 20;
/// Each volume's size in LEBs.
const VOL_LEBS: u64 = 20;
/// nandsim's page and OOB sizes for the id bytes below.
const NAND_PAGE: u64 = 2048;
/// See [`NAND_PAGE`].
const NAND_OOB: u64 = 64;
/// nandsim's parameters: the id bytes of a 128 MiB 3.3 V large-page chip
/// (0xf1 in the kernel's `nand_ids.c`; the fourth byte 0x15: 2048-byte
/// pages, 64-byte OOB, 128 KiB blocks), split into a first partition of
/// 64 blocks (8 MiB), which UBI gets, and the rest, which nothing touches:
/// two raw copies of the partition with OOB fit the 32 MiB that survives
/// the reset. (`overridesize=6` would make the chip itself 8 MiB, but
/// nandsim 6.1 then fails its own address cycles and reports every block
/// bad.)
const NANDSIM_PARAMS: [(&str, &str); 5] = [
    ("first_id_byte", "0x20"),
    ("second_id_byte", "0xf1"),
    ("third_id_byte", "0x00"),
    ("fourth_id_byte", "0x15"),
    ("parts", "64"),
];
/// Where UBI's debugfs knobs are for ubi0.
const UBI_DEBUGFS: &str = "/sys/kernel/debug/ubi/ubi0";
/// In the long runs of alike header writes (the erasures inside the
/// update ioctl, the data LEBs), cut at every this many; every one at and
/// around a change of stage (see [`emulated_cuts`]).
const SAMPLE_STEP: u32 = 4;

/// A raw NAND writer for the big-endian MIPS guest, whose busybox
/// `nandwrite` cannot write OOB: `nandwrite --noecc --oob
/// --skip-all-ffs` of mtd-utils, with one difference: a page is skipped
/// only when its data *and* its OOB are all 0xff (mtd-utils looks at the
/// data only). Reads the image (per page: data, then OOB, as `nanddump
/// -n -o` writes it) from stdin; the device must be erased.
const NANDRESTORE_C: &str = r#"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <mtd/mtd-user.h>

static long full_read(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

int main(int argc, char **argv)
{
	struct mtd_info_user mi;
	unsigned long long off = 0, written = 0, skipped = 0;
	unsigned char *buf;
	size_t rec, i;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: nandrestore MTD_DEVICE < IMAGE\n");
		return 255;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || ioctl(fd, MEMGETINFO, &mi) != 0) {
		perror(argv[1]);
		return 1;
	}
	if (mi.type != MTD_NANDFLASH && mi.type != MTD_MLCNANDFLASH) {
		fprintf(stderr, "nandrestore: %s is not NAND\n", argv[1]);
		return 1;
	}
	rec = (size_t)mi.writesize + mi.oobsize;
	buf = malloc(rec);
	if (!buf)
		return 1;
	for (;;) {
		long n = full_read(0, buf, rec);
		if (n < 0) {
			perror("nandrestore: read");
			return 1;
		}
		if (n == 0)
			break;
		if ((size_t)n != rec || off >= mi.size) {
			fprintf(stderr, "nandrestore: the image does not match the device at page %llu\n",
				off / mi.writesize);
			return 1;
		}
		for (i = 0; i < rec && buf[i] == 0xff; i++)
			;
		if (i < rec) {
			struct mtd_write_req req;
			memset(&req, 0, sizeof(req));
			req.start = off;
			req.len = mi.writesize;
			req.ooblen = mi.oobsize;
			req.usr_data = (uint64_t)(uintptr_t)buf;
			req.usr_oob = (uint64_t)(uintptr_t)(buf + mi.writesize);
			req.mode = MTD_OPS_RAW;
			if (ioctl(fd, MEMWRITE, &req) != 0) {
				fprintf(stderr, "nandrestore: MEMWRITE at %#llx: ", off);
				perror(NULL);
				return 1;
			}
			written++;
		} else {
			skipped++;
		}
		off += mi.writesize;
	}
	printf("nandrestore: %llu pages written, %llu erased pages skipped\n", written, skipped);
	return 0;
}
"#;

/// The flash UBI runs on, and how its contents cross the reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flash {
    /// `mtdram`: NOR-like, write size 1; copied with `dd`.
    Mtdram,
    /// `nandsim`: large-page NAND; copied with its OOB, raw.
    Nandsim,
}

impl Flash {
    fn name(self) -> &'static str {
        match self {
            Flash::Mtdram => "mtdram",
            Flash::Nandsim => "nandsim",
        }
    }

    /// The length of a raw copy: NAND's with every page's OOB.
    fn snapshot_len(self) -> u64 {
        match self {
            Flash::Mtdram => FLASH,
            Flash::Nandsim => FLASH / NAND_PAGE * (NAND_PAGE + NAND_OOB),
        }
    }
}

/// The flash, the snapshot devices, and the commands that copy between
/// them on one guest.
struct Rig {
    machine: Machine,
    flash: Flash,
    /// `/dev/mtdN` of the flash UBI runs on.
    mtd: String,
    /// The phram device the cut's snapshot goes to.
    snap: String,
    /// The phram device with the flash before an upgrade (nandsim only).
    base: Option<String>,
    /// Restores that were compared with their snapshot, all equal.
    compared: u32,
}

impl Rig {
    /// The MTD number of the flash.
    fn num(&self) -> &str {
        self.mtd.trim_start_matches("/dev/mtd")
    }

    /// A shell command writing the flash's raw contents (NAND: each page,
    /// then its OOB, without ECC) to stdout.
    fn dump(&self) -> String {
        let mtd = &self.mtd;
        match (self.flash, self.machine) {
            (Flash::Mtdram, _) => format!("dd if={mtd} bs=128k 2>/dev/null"),
            // mtd-utils (Debian's).
            (Flash::Nandsim, Machine::X86_64) => format!("nanddump -q -n -o {mtd}"),
            // busybox's.
            (Flash::Nandsim, _) => format!("nanddump -n -o {mtd}"),
        }
    }

    /// A shell command writing a raw copy made by [`Rig::dump`] from
    /// `from` back onto the erased flash; NAND pages that are all 0xff
    /// are left alone, so erased pages stay erased.
    fn restore(&self, from: &str) -> String {
        let mtd = &self.mtd;
        match (self.flash, self.machine) {
            (Flash::Mtdram, _) => format!("dd if={from} of={mtd} bs=128k 2>/dev/null"),
            // From stdin: mtd-utils' nandwrite sizes a named input with
            // fstat, which says 0 for a device node, so given the phram
            // node it writes nothing and exits 0 (the raw comparison
            // below caught it).
            (Flash::Nandsim, Machine::X86_64) => {
                format!("nandwrite -q --noecc --oob --skip-all-ffs {mtd} - < {from}")
            }
            (Flash::Nandsim, _) => format!("nandrestore {mtd} < {from} >/dev/null"),
        }
    }

    /// Writes the snapshot in `from` onto the fresh (erased) flash, and
    /// checks that the flash now reads back raw, page by page with OOB,
    /// as the snapshot.
    fn restore_and_compare(&mut self, vm: &mut Vm, from: &str) {
        vm.run_ok(&self.restore(from)).check("restore the snapshot");
        if self.flash == Flash::Nandsim {
            let out = vm
                .run_ok(&format!(
                    "{} | sha256sum; head -c {} {from} | sha256sum",
                    self.dump(),
                    self.flash.snapshot_len()
                ))
                .check("compare the restored flash with the snapshot");
            let sums: Vec<&str> = out
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            if sums.len() != 2 || sums[0] != sums[1] {
                // Which pages differ, and how.
                let rec = NAND_PAGE + NAND_OOB;
                let diff = vm
                    .run(&format!(
                        "{} > /tmp/restored; head -c {} {from} > /tmp/snapshot; \
                         cmp -l /tmp/snapshot /tmp/restored | \
                         awk '{{p = int(($1 - 1) / {rec}); o = ($1 - 1) % {rec}; \
                         print \"page\", p, (o < {NAND_PAGE} ? \"data\" : \"oob\")}}' | uniq -c | head -40; \
                         rm -f /tmp/restored /tmp/snapshot",
                        self.dump(),
                        self.flash.snapshot_len()
                    ))
                    .map(|(_, o)| o)
                    .unwrap_or_else(|e| e.to_string());
                panic!(
                    "{}: the restored NAND does not read back raw as the snapshot: {out}\n\
                     bytes differing (count, page, part):\n{diff}",
                    self.machine
                );
            }
            self.compared += 1;
        }
    }

    /// A shell command that copies the flash into the snapshot device at
    /// real-time priority (on the guest's one CPU nothing else runs, UBI's
    /// background thread included, so the copy is of one instant) and
    /// resets the guest at once.
    fn snapshot_and_reset(&self) -> String {
        format!(
            "chrt -f 50 sh -c '{} > {}'; echo b > /proc/sysrq-trigger",
            self.dump(),
            self.snap
        )
    }

    /// Erases the whole flash (NAND restores need erased pages).
    fn erase(&self, vm: &mut Vm) {
        vm.run_ok(&format!("flash_erase -q {} 0 0", self.mtd))
            .check("flash_erase");
    }
}

/// `mksquashfs`' image of one incompressible file of `len` bytes, with
/// fixed times, as the build makes a root file system image.
fn squashfs(dir: &Path, name: &str, len: usize, seed: u32) -> Vec<u8> {
    let work = dir.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("root")).check("image dir");
    std::fs::write(work.join("root/data"), bytes(len, seed)).check("data");
    host_run(
        Command::new("mksquashfs")
            .arg(work.join("root"))
            .arg(work.join("rootfs.squashfs"))
            .args(["-noappend", "-no-fragments", "-all-root", "-quiet"])
            .args(["-no-progress", "-mkfs-time", "0", "-all-time", "0"]),
    );
    std::fs::read(work.join("rootfs.squashfs")).check("squashfs")
}

/// [`NANDRESTORE_C`] built static for the big-endian MIPS guest by
/// Debian's cross compiler (`scripts/setup` installs it).
fn nandrestore(dir: &Path) -> PathBuf {
    let src = dir.join("nandrestore.c");
    let bin = dir.join("nandrestore");
    std::fs::write(&src, NANDRESTORE_C).check("nandrestore.c");
    let out = Command::new("mips-linux-gnu-gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .check("mips-linux-gnu-gcc (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "mips-linux-gnu-gcc nandrestore.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// `/dev/mtdN` of the MTD device whose name `matches`.
fn mtd_dev(vm: &mut Vm, what: &str, matches: impl Fn(&str) -> bool) -> String {
    let proc_mtd = vm.run_ok("cat /proc/mtd").check("/proc/mtd");
    let line = proc_mtd
        .lines()
        .find(|l| {
            l.split_once(" \"")
                .is_some_and(|(_, n)| matches(n.trim_end_matches('"')))
        })
        .unwrap_or_else(|| panic!("no MTD device {what} in:\n{proc_mtd}"));
    format!("/dev/{}", line.split(':').next().check_some("mtd name"))
}

/// What the kernel and `--status` say after a reattach.
#[derive(Debug)]
struct Seen {
    /// sha256 of the volume named rootfs, read by `head -c LEN` of its
    /// node (None: unreadable, marked, or not exactly one rootfs).
    rootfs: Option<String>,
    /// The same for rootfs_b, or its state ("upd_marker", "unreadable").
    rootfs_b: String,
    /// LEBs of rootfs_b on the raw flash before the attach (our
    /// inspector).
    lebs_b: Option<u64>,
    /// Why there is no bootable rootfs, when there is none.
    trouble: Option<String>,
}

/// Restores the snapshot onto the fresh boot's flash, reattaches it as
/// ubi0 and reads what the boot would find: exactly one volume named
/// rootfs, not marked, readable; and `--status` agreeing with the
/// kernel's volume nodes.
fn reattach_and_look(vm: &mut Vm, rig: &mut Rig, len: usize) -> Seen {
    let snap = rig.snap.clone();
    rig.restore_and_compare(vm, &snap);
    // The raw flash first: the inspector's count of rootfs_b's LEBs.
    let (_, info) = vm
        .run(&format!("ubinfo {} 2>&1", rig.mtd))
        .check("ubinfo raw");
    let lebs_b = info
        .lines()
        .find(|l| l.contains("\"rootfs_b\":"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|f| f.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    vm.run_ok(&format!("ubiattach -m {} -d 0", rig.num()))
        .check("ubiattach after the cut");
    let names = vm
        .run_ok("cat /sys/class/ubi/ubi0/ubi0_*/name")
        .check("volume names");
    let count = |n: &str| names.lines().filter(|l| *l == n).count();
    if count("rootfs") != 1 || count("rootfs_b") != 1 {
        return Seen {
            rootfs: None,
            rootfs_b: "?".to_string(),
            lebs_b,
            trouble: Some(format!("volume names after the cut: {names:?}")),
        };
    }
    let node = |vm: &mut Vm, name: &str| -> (String, bool) {
        let out = vm
            .run_ok(&format!(
                "for d in /sys/class/ubi/ubi0/ubi0_*; do if [ \"$(cat $d/name)\" = {name} ]; then \
                 echo ${{d##*/}} $(cat $d/upd_marker); fi; done"
            ))
            .check("volume by name");
        let (n, marker) = out.split_once(' ').check_some("node and marker");
        (format!("/dev/{n}"), marker == "1")
    };
    let read = |vm: &mut Vm, dev: &str| -> Option<String> {
        let (rc, out) = vm
            .run(&format!(
                "head -c {len} {dev} > /tmp/vol && [ $(wc -c < /tmp/vol) -eq {len} ] && sha256sum < /tmp/vol"
            ))
            .check("read a volume");
        (rc == 0).then(|| out.split_whitespace().next().unwrap_or("").to_string())
    };
    let (a, a_marker) = node(vm, "rootfs");
    let mut trouble = None;
    let rootfs = if a_marker {
        trouble = Some(format!("the active volume {a} has its update marker set"));
        None
    } else {
        read(vm, &a)
    };
    let (b, b_marker) = node(vm, "rootfs_b");
    let rootfs_b = if b_marker {
        assert!(
            read(vm, &b).is_none(),
            "a volume with its update marker set was readable"
        );
        "upd_marker".to_string()
    } else {
        read(vm, &b).unwrap_or_else(|| "unreadable".to_string())
    };
    // --status says the same.
    let st = vm.run_ok("limina upgrade --status --ubi 0").check("status");
    match &rootfs {
        Some(sha) => {
            assert!(
                st.contains(&format!(
                    "active rootfs ({a}): valid, {len} bytes, sha256 {sha}"
                )),
                "{st}"
            );
            assert!(st.contains(&format!("boots: volume {}", &a[10..])), "{st}");
        }
        None => assert!(st.contains("boots: nothing"), "{st}"),
    }
    if b_marker {
        assert!(
            st.contains("inactive rootfs_b") && st.contains("upd_marker"),
            "{st}"
        );
    }
    Seen {
        rootfs,
        rootfs_b,
        lebs_b,
        trouble,
    }
}

/// One progress line of `limina upgrade -v --ubi 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `update volume I: W/T bytes`.
    Update(u64, u64),
    /// `verify volume I`.
    Verify,
    /// `rename: ...` (the ioctl comes next).
    Rename,
    /// `renamed: ...` (the ioctl returned).
    Renamed,
}

fn parse_line(l: &str) -> Option<Line> {
    let rest = l.trim().strip_prefix("upgrade: ubi0 ")?;
    if rest.starts_with("verify ") {
        Some(Line::Verify)
    } else if rest.starts_with("rename: ") {
        Some(Line::Rename)
    } else if rest.starts_with("renamed: ") {
        Some(Line::Renamed)
    } else {
        let (_, wt) = rest.strip_prefix("update volume ")?.split_once(": ")?;
        let (w, t) = wt.strip_suffix(" bytes")?.split_once('/')?;
        Some(Line::Update(w.parse().ok()?, t.parse().ok()?))
    }
}

/// The outcome of one cut.
struct Row {
    /// "between operations" or "k-th UBI header write".
    kind: &'static str,
    point: String,
    outcome: String,
    inactive: String,
    precise: bool,
}

impl Row {
    fn new(kind: &'static str, point: String, seen: &Seen, sha_old: &str, sha_new: &str) -> Row {
        let name = |s: &str| {
            if s == sha_old {
                "old".to_string()
            } else if s == sha_new {
                "new".to_string()
            } else {
                s.to_string()
            }
        };
        let outcome = match (&seen.rootfs, &seen.trouble) {
            (Some(s), None) if s == sha_old || s == sha_new => name(s),
            (s, t) => format!("NEITHER ({s:?}; {t:?})"),
        };
        Row {
            kind,
            point,
            outcome,
            inactive: name(&seen.rootfs_b),
            precise: false,
        }
    }
}

/// Where an upgrade stopped when UBI's emulated power cut hit, from its
/// output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Inside `UBI_IOCVOLUP` (setting the update marker, unmapping the
    /// volume's LEBs): no data handed over yet.
    UpdateIoctl,
    /// Writing the data (and, in the last write(2), clearing the marker).
    UpdateData,
    /// Inside `UBI_IOCRNVOL`.
    Rename,
    /// The upgrade returned; the cut hit the kernel's background work
    /// (erasing the PEBs the rename or the update let go).
    Returned,
}

impl Stage {
    fn from_output(rc: i32, out: &str) -> Stage {
        let lines: Vec<Line> = out.lines().filter_map(parse_line).collect();
        if rc == 0 {
            assert!(
                out.contains("upgrade: done: ubi0: rootfs is volume"),
                "{out}"
            );
            Stage::Returned
        } else if out.contains("renaming") {
            assert!(lines.contains(&Line::Rename), "{out}");
            Stage::Rename
        } else if out.contains("updating volume") {
            if lines.iter().any(|l| matches!(l, Line::Update(..))) {
                Stage::UpdateData
            } else {
                Stage::UpdateIoctl
            }
        } else {
            panic!("an emulated power cut stopped the upgrade where it should not: {out}");
        }
    }

    fn describe(self, out: &str) -> String {
        match self {
            Stage::UpdateIoctl => {
                "inside UBI_IOCVOLUP (update marker set, old LEBs unmapped)".to_string()
            }
            Stage::UpdateData => {
                let last = out
                    .lines()
                    .filter_map(parse_line)
                    .filter_map(|l| match l {
                        Line::Update(w, t) => Some((w, t)),
                        _ => None,
                    })
                    .next_back()
                    .unwrap_or((0, 0));
                format!(
                    "in the write(2) after {} of {} bytes handed over",
                    last.0, last.1
                )
            }
            Stage::Rename => "inside UBI_IOCRNVOL (the volume table's two copies)".to_string(),
            Stage::Returned => "after the upgrade returned (background erase)".to_string(),
        }
    }

    /// What a cut here may leave: the active image and rootfs_b.
    fn allows(self, outcome: &str, inactive: &str) -> bool {
        match self {
            // The marker is set from the first header write on (the
            // emulator cannot cut that one); a cut in the volume table's
            // copy 1 when the marker is cleared leaves copy 0, cleared,
            // in force: rootfs_b complete.
            Stage::UpdateIoctl | Stage::UpdateData => {
                outcome == "old" && (inactive == "upd_marker" || inactive == "new")
            }
            Stage::Rename => {
                (outcome == "old" && inactive == "new") || (outcome == "new" && inactive == "old")
            }
            Stage::Returned => outcome == "new" && inactive == "old",
        }
    }
}

/// The test on one machine and flash: format, make the volumes, cut the
/// power after every progress line of an upgrade (each a reboot),
/// classify, rerun; bad inputs; on nandsim, UBI's own power-cut emulator
/// at the k-th header write ([`emulated_cuts`]). Prints the table.
fn ubi_power_cuts(machine: Machine, flash: Flash) {
    let started = std::time::Instant::now();
    let dir = limina_board_tests::build_dir()
        .join("board-tests")
        .join(format!("{machine}-upgrade-ubi-{}-images", flash.name()));
    std::fs::create_dir_all(&dir).check("image dir");
    let old = squashfs(&dir, "old", 1_200_000, 1);
    let new = squashfs(&dir, "new", 1_200_000, 2);
    // Larger than the volume whatever the LEB size (less than ES).
    let big = squashfs(&dir, "big", (VOL_LEBS * u64::from(ES)) as usize + 20_000, 3);
    assert_eq!(old.len(), new.len(), "same-size images");
    let len = old.len();
    let (sha_old, sha_new) = (sha256_hex(&old), sha256_hex(&new));

    // Keys for the bad-input cases.
    use limina_sign::SecretKey;
    let key = SecretKey::generate().check("keygen");
    let other_key = SecretKey::generate().check("keygen");
    let sign = |k: &SecretKey, data: &[u8], board: &str| -> String {
        k.sign(
            data,
            &format!("timestamp:1\tfile:rootfs.squashfs\tboard:{board}"),
        )
        .check("sign")
        .to_text()
    };

    let mut cfg = VmConfig::new(machine, &format!("upgrade-ubi-{}", flash.name())).check("config");
    // The flash is loaded before the phram devices are added: mtd0 on
    // x86_64 (on MIPS mtdram and nandsim are built in; found by name).
    match (flash, machine) {
        (Flash::Mtdram, Machine::X86_64) => {
            cfg.initramfs.module(
                "mtdram",
                &format!("total_size={} erase_size={}", FLASH >> 10, ES >> 10),
            );
        }
        (Flash::Mtdram, _) => {}
        (Flash::Nandsim, Machine::X86_64) => {
            let params: Vec<String> = NANDSIM_PARAMS
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            cfg.initramfs.module("nandsim", &params.join(" "));
        }
        (Flash::Nandsim, _) => cfg.append.extend(
            NANDSIM_PARAMS
                .iter()
                .map(|(k, v)| format!("nandsim.{k}={v}")),
        ),
    }
    let mut persistent = PersistentFlash::new(ES).device("snap", flash.snapshot_len());
    if flash == Flash::Nandsim {
        persistent = persistent.device("base", flash.snapshot_len());
    }
    persistent.apply(&mut cfg).check("persistent flash");
    let limina = guest_limina(machine).check("guest limina");
    cfg.initramfs.limina(
        &limina,
        &[
            "ubiformat",
            "ubiattach",
            "ubidetach",
            "ubimkvol",
            "ubiupdatevol",
            "ubinfo",
            "flash_erase",
        ],
    );
    if machine == Machine::X86_64 {
        cfg.initramfs.module("ubi", "");
        cfg.initramfs
            .host_program("/usr/bin/chrt", "/usr/bin/chrt")
            .check("chrt");
    }
    if flash == Flash::Nandsim {
        if machine == Machine::X86_64 {
            for p in ["nanddump", "nandwrite"] {
                cfg.initramfs
                    .host_program(&format!("/usr/sbin/{p}"), format!("/usr/sbin/{p}"))
                    .check(p);
            }
        } else {
            cfg.initramfs
                .file("/usr/bin/nandrestore", nandrestore(&dir), 0o755);
        }
    }
    cfg.initramfs
        .bytes("/img/old.sqfs", old.clone(), 0o644)
        .bytes("/img/new.sqfs", new.clone(), 0o644)
        .bytes("/img/test.pub", key.public_key().to_text(), 0o644)
        .bytes("/img/wrongkey.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/wrongkey.sqfs.minisig",
            sign(&other_key, &new, "mti,malta"),
            0o644,
        )
        .bytes("/img/otherboard.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/otherboard.sqfs.minisig",
            sign(&key, &new, "glinet,gl-ar750"),
            0o644,
        )
        .bytes(
            "/img/big.sqfs.minisig",
            sign(&key, &big, "mti,malta"),
            0o644,
        )
        .bytes("/img/good.sqfs", new.clone(), 0o644)
        .bytes(
            "/img/good.sqfs.minisig",
            sign(&key, &new, "mti,malta"),
            0o644,
        )
        .bytes("/img/big.sqfs", big, 0o644);
    let mut vm = Vm::boot(cfg).check("boot");
    let mtd = match flash {
        Flash::Mtdram => mtd_dev(&mut vm, "mtdram", |n| n == "mtdram test device"),
        Flash::Nandsim => mtd_dev(&mut vm, "nandsim", |n| n == "NAND simulator partition 0"),
    };
    let snap = mtd_dev(&mut vm, "snap", |n| n == "snap");
    let base = (flash == Flash::Nandsim).then(|| mtd_dev(&mut vm, "base", |n| n == "base"));
    let mut rig = Rig {
        machine,
        flash,
        mtd,
        snap,
        base,
        compared: 0,
    };
    let mtd = rig.mtd.clone();
    // The flash's geometry, from the kernel: what the snapshot's length
    // assumes.
    let sys = format!("/sys/class/mtd/{}", &mtd[5..]);
    let geometry = vm
        .run_ok(&format!(
            "cat {sys}/type {sys}/size {sys}/erasesize {sys}/writesize {sys}/subpagesize {sys}/oobsize"
        ))
        .check("mtd geometry");
    eprintln!("{machine}: {mtd} ({}) type, size, erasesize, writesize, subpagesize, oobsize: {geometry:?}", flash.name());
    let g: Vec<&str> = geometry.lines().collect();
    let want = match flash {
        Flash::Mtdram => ["ram", "8388608", "131072", "1"],
        Flash::Nandsim => ["nand", "8388608", "131072", "2048"],
    };
    assert_eq!(&g[..4], &want[..], "{machine}: {} geometry", flash.name());
    if flash == Flash::Nandsim {
        assert_eq!(g[5], NAND_OOB.to_string(), "OOB size");
    }
    let num = rig.num().to_string();
    vm.run_ok(&format!("ubiformat {mtd} -y")).check("ubiformat");
    let (rc, out) = vm
        .run(&format!("ubiattach -m {num} -d 0 2>&1 || {{ ubinfo {mtd} 2>&1 | head; dmesg | tail -15; false; }}"))
        .check("ubiattach");
    assert_eq!(rc, 0, "ubiattach after ubiformat:\n{out}");
    let ubi_geometry = vm
        .run_ok("cat /sys/class/ubi/ubi0/min_io_size /sys/class/ubi/ubi0/eraseblock_size; dmesg | grep -o 'VID header offset: .*' | tail -1")
        .check("ubi geometry");
    eprintln!("{machine}: ubi0 min_io_size, LEB size, headers: {ubi_geometry:?}");
    let leb: u64 = ubi_geometry
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .check_some("LEB size");
    let min_io = ubi_geometry
        .lines()
        .next()
        .unwrap_or("?")
        .trim()
        .to_string();
    // The LEB: the PEB less the headers, each at its own min. I/O unit
    // (NOR-like: 64 bytes each; NAND: the EC header's page, the VID
    // header in a sub-page of it, data from the next page).
    assert!(
        leb < u64::from(ES) && leb * VOL_LEBS >= len as u64,
        "LEB size {leb}"
    );
    vm.run_ok(&format!(
        "ubimkvol /dev/ubi0 -N rootfs -S {VOL_LEBS} -n 0 && ubimkvol /dev/ubi0 -N rootfs_b -S {VOL_LEBS} -n 1"
    ))
    .check("ubimkvol");
    let restore =
        "ubiupdatevol /dev/ubi0_0 /img/old.sqfs && ubiupdatevol /dev/ubi0_1 /img/old.sqfs";
    let upgrade = "limina upgrade -v -f --ubi 0 /img/new.sqfs";

    // The lines of an uncut run.
    vm.run_ok(restore).check("load the old image");
    let out = vm.run_ok(&format!("{upgrade} 2>&1")).check("uncut upgrade");
    assert!(
        out.contains("upgrade: done: ubi0: rootfs is volume 1"),
        "{out}"
    );
    let lines: Vec<Line> = out.lines().filter_map(parse_line).collect();
    assert!(
        lines
            .iter()
            .filter(|l| matches!(l, Line::Update(..)))
            .count()
            >= 5,
        "{out}"
    );
    let seen = {
        vm.run_until_reset(
            // After the kernel's background erasures.
            &format!("sleep 2; {}", rig.snapshot_and_reset()),
            Duration::from_secs(60),
        )
        .check("power cut after the uncut run");
        reattach_and_look(&mut vm, &mut rig, len)
    };
    assert_eq!(seen.rootfs.as_deref(), Some(sha_new.as_str()), "uncut: new");
    assert_eq!(seen.rootfs_b, sha_old, "uncut: the old image in rootfs_b");

    // On nandsim, whose test also cuts inside the kernel's writes, every
    // line but the partial-update ones, of which the first, every
    // [`SAMPLE_STEP`]-th and the last (mtdram cuts after every one).
    let partial: Vec<usize> = (0..lines.len())
        .filter(|&i| matches!(lines[i], Line::Update(w, t) if w < t))
        .collect();
    let cut_after = |i: usize| {
        flash == Flash::Mtdram
            || match partial.iter().position(|&p| p == i) {
                None => true,
                Some(n) => n % SAMPLE_STEP as usize == 0 || n + 1 == partial.len(),
            }
    };
    let mut rows = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        if !cut_after(k) {
            continue;
        }
        let k = k + 1;
        vm.run_ok(restore).check("load the old image");
        // As in upgrade.rs: a SCHED_FIFO reader of the progress lines
        // resets the machine at the k-th; on the guest's one CPU it
        // preempts the (SCHED_OTHER) upgrade as its write(2) of the line
        // returns, before the step the line announces; it copies the
        // flash out and resets with nothing else running.
        let cut = format!(
            "chrt -f 50 sh -c 'chrt -o 0 {upgrade} 2>&1 >/dev/null | {{ n=0; while IFS= read -r l; do \
             case \"$l\" in \"upgrade: ubi0 \"*) n=$((n + 1)); \
             if [ $n -eq {k} ]; then {} > {}; \\
             echo b > /proc/sysrq-trigger; fi;; esac; done; }}'",
            rig.dump(),
            rig.snap
        );
        vm.run_until_reset(&cut, Duration::from_secs(120))
            .check(&format!("cut after line {k}"));
        let seen = reattach_and_look(&mut vm, &mut rig, len);
        // What the line promises.
        let (point, want, want_b, want_lebs) = match line {
            Line::Update(w, t) if w < t => (
                format!("update, {w} of {t} bytes handed over"),
                "old",
                "upd_marker",
                Some(w / leb),
            ),
            Line::Update(_, t) => (format!("update complete ({t} bytes)"), "old", "new", None),
            Line::Verify => ("before the read-back".to_string(), "old", "new", None),
            Line::Rename => (
                "after the read-back, before the rename ioctl".to_string(),
                "old",
                "new",
                None,
            ),
            Line::Renamed => ("after the rename ioctl".to_string(), "new", "old", None),
        };
        let mut row = Row::new(
            "between operations",
            match want_lebs {
                Some(n) => format!("after the line: {point} ({n} LEBs)"),
                None => format!("after the line: {point}"),
            },
            &seen,
            &sha_old,
            &sha_new,
        );
        row.precise = row.outcome == want
            && row.inactive == want_b
            && want_lebs.is_none_or(|n| seen.lebs_b == Some(n));
        eprintln!(
            "{machine} {} cut after line {k} ({point}): rootfs {}, rootfs_b {}, \
             rootfs_b LEBs on flash {:?} (expected {want_lebs:?})",
            flash.name(),
            row.outcome,
            row.inactive,
            seen.lebs_b
        );
        rows.push(row);
        rerun(&mut vm, upgrade, len, &sha_new);
    }

    // Bad inputs, with the key configured: the volumes and the raw flash
    // are unchanged.
    vm.run_ok(restore).check("load the old image");
    let flash_sha = |vm: &mut Vm| {
        vm.run_ok(&format!("{} | sha256sum", rig.dump()))
            .check("flash sha256")
    };
    let before = (
        vm.run_ok("limina upgrade --status --ubi 0").check("status"),
        flash_sha(&mut vm),
    );
    let has_dt = vm
        .run("test -e /proc/device-tree/compatible")
        .check("device tree")
        .0
        == 0;
    let other_board = if has_dt {
        "the image is for board \"glinet,gl-ar750\""
    } else {
        "this system has no device tree naming its board"
    };
    let mut bad = String::new();
    for (args, expect) in [
        ("/img/new.sqfs", "refused: unsigned"),
        ("/img/wrongkey.sqfs", "refused: signature"),
        ("-f /img/wrongkey.sqfs", "refused: signature"),
        ("/img/otherboard.sqfs", other_board),
        ("-f /img/big.sqfs", "the image is larger than"),
    ] {
        let cmd = format!("limina upgrade -k /img/test.pub --ubi 0 {args}");
        let (rc, out) = vm.run(&format!("{cmd} 2>&1")).check(&cmd);
        bad.push_str(&format!("{cmd}: exit {rc}: {out}\n"));
        assert_eq!(rc, 1, "{cmd}: {out}");
        assert!(out.contains(expect), "{cmd}: expected {expect:?} in {out}");
        assert!(out.contains("nothing was written"), "{cmd}: {out}");
        let now = (
            vm.run_ok("limina upgrade --status --ubi 0").check("status"),
            flash_sha(&mut vm),
        );
        assert_eq!(now, before, "{cmd} changed the volumes or the flash");
    }
    // The good image, signed for this board (without a device tree only
    // with -f: the signature is checked all the same).
    let good = if has_dt {
        "limina upgrade -k /img/test.pub --ubi 0 /img/good.sqfs"
    } else {
        "limina upgrade -k /img/test.pub -f --ubi 0 /img/good.sqfs"
    };
    let out = vm.run_ok(&format!("{good} 2>&1")).check(good);
    assert!(
        out.contains("signed by key") && out.contains("upgrade: done: ubi0: rootfs is volume"),
        "{out}"
    );
    bad.push_str(&format!("{good}: exit 0: {out}\n"));
    let st = vm.run_ok("limina upgrade --status --ubi 0").check("status");
    assert!(
        st.lines().next().is_some_and(|l| l.contains(&sha_new)),
        "{st}"
    );

    let mut emulated = None;
    if flash == Flash::Nandsim {
        let (summary, cut_rows) =
            emulated_cuts(&mut vm, &mut rig, upgrade, len, (&sha_old, &sha_new));
        rows.extend(cut_rows);
        emulated = Some(summary);
    }
    let boots = vm.boots();
    vm.poweroff().check("poweroff");

    let mut table = format!(
        "\npower cuts during `limina upgrade -v -f --ubi 0` ({machine}; UBI on an 8 MiB {} \
         (128 KiB PEBs, min. I/O unit {min_io}), {leb}-byte LEBs; rootfs and rootfs_b {VOL_LEBS} LEBs each; \
         image {len} bytes; {boots} boots, {:.0} s{}):\n\n\
         | machine | flash | cut kind | cut point | rootfs boots | rootfs_b | as predicted |\n\
         |---------|-------|----------|-----------|--------------|----------|--------------|\n",
        flash.name(),
        started.elapsed().as_secs_f64(),
        if rig.compared > 0 {
            format!(
                "; {} restores compared raw with their snapshot, all equal",
                rig.compared
            )
        } else {
            String::new()
        },
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            machine.name(),
            flash.name(),
            r.kind,
            r.point,
            r.outcome,
            r.inactive,
            if r.precise { "yes" } else { "NO" }
        ));
    }
    for kind in ["between operations", "k-th UBI header write"] {
        let of: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        if of.is_empty() {
            continue;
        }
        let count = |o: &str| of.iter().filter(|r| r.outcome == o).count();
        table.push_str(&format!(
            "\n{machine} {} {kind}: {} cuts: old {}, new {}, neither {}; {} as predicted",
            flash.name(),
            of.len(),
            count("old"),
            count("new"),
            of.iter()
                .filter(|r| r.outcome.starts_with("NEITHER"))
                .count(),
            of.iter().filter(|r| r.precise).count()
        ));
    }
    if let Some(e) = &emulated {
        table.push_str(&format!("\n{e}"));
    }
    println!("{table}\n");
    println!(
        "{machine} {}: bad inputs, each refused with the volumes and the flash unchanged; then the good one:\n{bad}",
        flash.name()
    );
    std::fs::write(dir.join("table.md"), &table).check("table");
    let neither: Vec<String> = rows
        .iter()
        .filter(|r| r.outcome.starts_with("NEITHER"))
        .map(|r| format!("{} {}: {}", r.kind, r.point, r.outcome))
        .collect();
    assert!(
        neither.is_empty(),
        "{machine}: no bootable rootfs after: {neither:#?}"
    );
    assert!(
        rows.iter().all(|r| r.precise),
        "{machine}: a cut did not land where predicted (that point went untested)"
    );
}

/// Runs the upgrade again after a cut: it completes, and the new image is
/// `rootfs`.
fn rerun(vm: &mut Vm, upgrade: &str, len: usize, sha_new: &str) {
    let out = vm
        .run_ok(&format!("{upgrade} 2>&1"))
        .check("rerun after the cut");
    assert!(out.contains("upgrade: done: "), "{out}");
    let st = vm
        .run_ok("limina upgrade --status --ubi 0")
        .check("status after the rerun");
    assert!(
        st.contains(&format!("valid, {len} bytes, sha256 {sha_new}"))
            && st.lines().next().is_some_and(|l| l.contains(sha_new)),
        "after the rerun: {st}"
    );
}

/// Cuts inside the kernel's own writes. UBI's power-cut emulator
/// (drivers/mtd/ubi/debug.c, `ubi_dbg_power_cut`, and io.c of Debian's
/// 6.1, which both test kernels are) counts the EC and VID header writes
/// (`tst_emulate_power_cut` = 3: both); the first counted write arms the
/// counter at `tst_emulate_power_cut_min` (= max = k) and passes, and the
/// (k+1)-th is dropped: UBI goes read-only, so neither it nor anything after it
/// (data, later headers, erasures) reaches the flash. Each cut starts
/// from the same flash (the `base` snapshot: both volumes holding the old
/// image), and ends as the line cuts do: raw snapshot, sysrq-b, restore,
/// reattach, look, rerun. k runs from 1 until an upgrade and its
/// background work finish uncut; in a run of cuts at one stage (the
/// update ioctl's erasures, the data LEBs) every [`SAMPLE_STEP`]-th,
/// and every k between two samples that left different things (stage,
/// active image, rootfs_b), so each change (the marker set, the marker
/// cleared, the rename's two volume-table copies, the background
/// erasures around them) is cut at every write. Returns a summary.
fn emulated_cuts(
    vm: &mut Vm,
    rig: &mut Rig,
    upgrade: &str,
    len: usize,
    (sha_old, sha_new): (&str, &str),
) -> (String, Vec<Row>) {
    let machine = rig.machine;
    let (mtd, num) = (rig.mtd.clone(), rig.num().to_string());
    let base = rig.base.clone().check_some("base snapshot device");
    let mut rows = Vec::new();
    let debugfs =
        "grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug";
    // The base: a fresh UBI with the old image in both volumes.
    vm.run_ok(&format!(
        "ubidetach -d 0 && ubiformat {mtd} -y -q && ubiattach -m {num} -d 0 && \
         ubimkvol /dev/ubi0 -N rootfs -S {VOL_LEBS} -n 0 && ubimkvol /dev/ubi0 -N rootfs_b -S {VOL_LEBS} -n 1 && \
         ubiupdatevol /dev/ubi0_0 /img/old.sqfs && ubiupdatevol /dev/ubi0_1 /img/old.sqfs && \
         ubidetach -d 0 && {} > {base}",
        rig.dump()
    ))
    .check("the base flash");
    // k -> where the cut landed (None: nowhere, the upgrade ran uncut).
    let mut stages: BTreeMap<u32, Option<Stage>> = BTreeMap::new();
    // k -> what the cut left, to compare cuts by.
    let mut looks: BTreeMap<u32, String> = BTreeMap::new();
    let mut k: u32 = 1;
    loop {
        // The same flash every time; the background thread idle (the
        // base has nothing left to erase) before the emulator is armed.
        rig.erase(vm);
        rig.restore_and_compare(vm, &base);
        vm.run_ok(&format!(
            "ubiattach -m {num} -d 0 >/dev/null && {debugfs} && sleep 1"
        ))
        .check("attach the base");
        vm.run_ok(&format!(
            "echo {k} > {UBI_DEBUGFS}/tst_emulate_power_cut_min && \
             echo {k} > {UBI_DEBUGFS}/tst_emulate_power_cut_max && \
             echo 3 > {UBI_DEBUGFS}/tst_emulate_power_cut"
        ))
        .check("arm the power-cut emulator");
        let (rc, out) = vm
            .run(&format!("{upgrade} 2>&1"))
            .check("upgrade under the emulator");
        // Let the background thread finish its erasures.
        let cuts: u32 = vm
            .run_ok("sleep 2; dmesg | grep -c 'emulating a power cut' || true")
            .check("dmesg")
            .trim()
            .parse()
            .check("count of emulated cuts");
        if cuts == 0 {
            assert_eq!(rc, 0, "no cut, yet the upgrade failed: {out}");
            let st = vm.run_ok("limina upgrade --status --ubi 0").check("status");
            assert!(
                st.lines().next().is_some_and(|l| l.contains(sha_new)),
                "{st}"
            );
            vm.run_ok("ubidetach -d 0").check("ubidetach");
            eprintln!("{machine} nandsim: the emulator armed at k = {k} never cut");
            stages.insert(k, None);
            looks.insert(k, "uncut".to_string());
        } else {
            assert_eq!(cuts, 1, "one emulated cut per boot");
            let stage = Stage::from_output(rc, &out);
            let point = format!("header write {}: {}", k + 1, stage.describe(&out));
            vm.run_until_reset(&rig.snapshot_and_reset(), Duration::from_secs(60))
                .check(&format!("power cut at header write {}", k + 1));
            let seen = reattach_and_look(vm, rig, len);
            let mut row = Row::new(
                "k-th UBI header write",
                point.clone(),
                &seen,
                sha_old,
                sha_new,
            );
            row.precise = stage.allows(&row.outcome, &row.inactive);
            eprintln!(
                "{machine} nandsim emulated cut, {point}: rootfs {}, rootfs_b {}, rootfs_b LEBs on flash {:?}",
                row.outcome, row.inactive, seen.lebs_b
            );
            looks.insert(k, format!("{stage:?} {} {}", row.outcome, row.inactive));
            rows.push((k, row));
            if seen.trouble.is_none() {
                rerun(vm, upgrade, len, sha_new);
            }
            vm.run_ok("ubidetach -d 0").check("ubidetach");
            stages.insert(k, Some(stage));
        }
        // The next k: every k between two cuts that left different
        // things (stage, active image, rootfs_b); else on from the last,
        // sampled in a run of alike cuts inside the update.
        let done: Vec<(u32, &String)> = looks.iter().map(|(k, l)| (*k, l)).collect();
        let gap = done
            .windows(2)
            .find(|w| w[1].0 > w[0].0 + 1 && w[1].1 != w[0].1)
            .map(|w| w[0].0 + 1);
        k = match (gap, stages.iter().next_back()) {
            (Some(j), _) => j,
            (None, Some((_, None))) => break,
            (None, Some((last, Some(stage)))) => {
                let run = done.len() < 2 || done[done.len() - 2].1 == done[done.len() - 1].1;
                let sampled = run && matches!(stage, Stage::UpdateIoctl | Stage::UpdateData);
                last + if sampled { SAMPLE_STEP } else { 1 }
            }
            (None, None) => unreachable!("a k was just done"),
        };
        assert!(k < 200, "more than 200 header writes in one upgrade");
    }
    let uncut_at = *stages.keys().last().check_some("k");
    rows.sort_by_key(|(k, _)| *k);
    let stages: Vec<(u32, Stage)> = stages
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
    let count = |s: Stage| stages.iter().filter(|(_, t)| *t == s).count();
    let summary = format!(
        "{machine} nandsim emulated cuts: header writes 2..{uncut_at} of the upgrade cut at {} of them \
         (update ioctl {}, update data {}, rename {}, after return {}); the upgrade with the emulator at k = {uncut_at} ran uncut",
        stages.len(),
        count(Stage::UpdateIoctl),
        count(Stage::UpdateData),
        count(Stage::Rename),
        count(Stage::Returned),
    );
    (summary, rows.into_iter().map(|(_, r)| r).collect())
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_power_cuts_x86_64() {
    ubi_power_cuts(Machine::X86_64, Flash::Mtdram);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_power_cuts_big_endian_mips() {
    ubi_power_cuts(Machine::Mips, Flash::Mtdram);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_nand_power_cuts_x86_64() {
    ubi_power_cuts(Machine::X86_64, Flash::Nandsim);
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ubi_nand_power_cuts_big_endian_mips() {
    ubi_power_cuts(Machine::Mips, Flash::Nandsim);
}
