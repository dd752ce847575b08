//! Guest initramfs images, assembled on the host without root.
//!
//! The image is a `newc` cpio archive (the format the kernel unpacks) built
//! from: a static busybox, an `/init` the harness writes, the kernel modules a
//! test asks for with their dependencies, and any files the test adds
//! (usually our statically linked binaries). Device nodes are written into
//! the archive directly, so no `mknod` or root is needed. Every ELF file is
//! checked against the guest's architecture before the image is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::elf::ElfIdent;
use crate::{Error, Machine, MachineAssets, ModuleTree};

/// The line `/init` prints when the guest shell is ready for commands.
pub(crate) const READY_MARKER: &str = "LIMINA-READY";
/// The prefix of a line `/init` prints when a boot step failed.
pub(crate) const INIT_ERROR_MARKER: &str = "LIMINA-INIT-ERROR:";

#[derive(Debug, Clone)]
enum Content {
    Dir,
    HostFile(PathBuf),
    Bytes(Vec<u8>),
    Symlink(String),
    CharDev(u32, u32),
}

#[derive(Debug, Clone)]
struct Entry {
    content: Content,
    mode: u32,
}

/// Builder of a guest initramfs.
#[derive(Debug, Clone)]
pub struct Initramfs {
    machine: Machine,
    entries: BTreeMap<String, Entry>,
    load_modules: Vec<(String, String)>,
    include_modules: Vec<String>,
    init_commands: Vec<String>,
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

impl Initramfs {
    /// An initramfs for `machine` holding only what every guest needs.
    pub fn new(machine: Machine) -> Initramfs {
        let mut fs = Initramfs {
            machine,
            entries: BTreeMap::new(),
            load_modules: Vec::new(),
            include_modules: Vec::new(),
            init_commands: Vec::new(),
        };
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "root",
            "mnt", "etc",
        ] {
            fs.dir(d);
        }
        // The kernel opens /dev/console for init before devtmpfs is mounted.
        fs.insert("dev/console", Content::CharDev(5, 1), 0o600);
        fs
    }

    /// The machine this image is for.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    fn insert(&mut self, path: &str, content: Content, mode: u32) {
        let path = clean(path);
        // Parents first, as directories.
        let mut parent = String::new();
        for comp in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, p)| p)
            .unwrap_or(&[])
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(comp);
            self.entries.entry(parent.clone()).or_insert(Entry {
                content: Content::Dir,
                mode: 0o755,
            });
        }
        self.entries.insert(path, Entry { content, mode });
    }

    /// Adds an empty directory.
    pub fn dir(&mut self, guest_path: &str) -> &mut Self {
        self.insert(guest_path, Content::Dir, 0o755);
        self
    }

    /// Adds a host file (read when the image is written).
    pub fn file(
        &mut self,
        guest_path: &str,
        host_path: impl Into<PathBuf>,
        mode: u32,
    ) -> &mut Self {
        self.insert(guest_path, Content::HostFile(host_path.into()), mode);
        self
    }

    /// Adds a file with the given contents.
    pub fn bytes(&mut self, guest_path: &str, data: impl Into<Vec<u8>>, mode: u32) -> &mut Self {
        self.insert(guest_path, Content::Bytes(data.into()), mode);
        self
    }

    /// Adds a dynamically linked program from the host together with the
    /// shared libraries `ldd` reports for it, at the same paths. Only for a
    /// guest of the host's architecture (the x86_64 machine): it lets tests
    /// run the reference tools (mtd-utils, kexec-tools) in the guest.
    pub fn host_program(
        &mut self,
        guest_path: &str,
        host_path: impl AsRef<Path>,
    ) -> Result<&mut Self, Error> {
        let host_path = host_path.as_ref();
        let out = std::process::Command::new("ldd")
            .arg(host_path)
            .output()
            .map_err(Error::io("ldd"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let lib = match line.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next(),
                None => line
                    .split_whitespace()
                    .next()
                    .filter(|p| p.starts_with('/')),
            };
            if let Some(lib) = lib.filter(|l| l.starts_with('/')) {
                let real = std::fs::canonicalize(lib).map_err(Error::io(lib))?;
                self.file(lib, real, 0o755);
            }
        }
        self.file(guest_path, host_path.to_path_buf(), 0o755);
        Ok(self)
    }

    /// Adds our multi-call binary as `/usr/local/bin/limina` and a symlink
    /// per applet in `/usr/local/bin`, which comes first in the guest's
    /// `PATH`, ahead of busybox's applets of the same name (`flashcp`, …).
    pub fn limina(&mut self, host_path: impl Into<PathBuf>, applets: &[&str]) -> &mut Self {
        self.file("/usr/local/bin/limina", host_path, 0o755);
        for a in applets {
            self.symlink(&format!("/usr/local/bin/{a}"), "limina");
        }
        self
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, guest_path: &str, target: &str) -> &mut Self {
        self.insert(guest_path, Content::Symlink(target.to_string()), 0o777);
        self
    }

    /// Includes a kernel module (and its dependencies) and loads it at boot
    /// with `params` (e.g. `"total_size=8192 erase_size=128"`). Machines with
    /// everything built in (MIPS) take parameters on the kernel command line
    /// instead, as `module.param=value`.
    pub fn module(&mut self, name: &str, params: &str) -> &mut Self {
        self.load_modules
            .push((name.to_string(), params.to_string()));
        self
    }

    /// Includes a kernel module and its dependencies without loading it, for
    /// a test to `modprobe` later.
    pub fn include_module(&mut self, name: &str) -> &mut Self {
        self.include_modules.push(name.to_string());
        self
    }

    /// A shell command `/init` runs after mounting and loading modules and
    /// before the shell starts; a failure stops the boot with an error.
    pub fn init_command(&mut self, command: &str) -> &mut Self {
        self.init_commands.push(command.to_string());
        self
    }

    fn init_script(&self) -> String {
        let mut s = String::from(
            "#!/bin/busybox sh\n\
             # Written by limina-board-tests.\n\
             /bin/busybox --install -s\n\
             export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TERM=dumb\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sysfs /sys\n\
             mount -t devtmpfs devtmpfs /dev\n\
             mkdir -p /dev/pts && mount -t devpts devpts /dev/pts\n\
             mount -t tmpfs tmpfs /tmp\n\
             mount -t tmpfs tmpfs /run\n\
             # Keep kernel chatter off the console the harness parses;\n\
             # panics (KERN_EMERG) still get through.\n\
             dmesg -n 1\n\
             hostname limina-test\n\
             fail() { echo \"",
        );
        s.push_str(INIT_ERROR_MARKER);
        s.push_str(" $*\"; exec sh; }\n");
        for (name, params) in &self.load_modules {
            s.push_str(&format!(
                "modprobe {name} {params} || fail \"modprobe {name} {params} exited $?\"\n"
            ));
        }
        for c in &self.init_commands {
            s.push_str(&format!(
                "{{ {c}\n}} || fail {:?}\n",
                format!("init command failed: {c}")
            ));
        }
        // With echo off, busybox's line editing falls back to plain reads, so
        // the console carries only command output; no prompt either.
        s.push_str("stty -echo\nexport PS1='' PS2=''\necho ");
        s.push_str(READY_MARKER);
        // The shell must never be PID 1 itself: if busybox's ash exits (seen
        // when a background job ends while a command line arrives), the
        // kernel would panic. Respawn it a few times, saying so on the
        // console; the next command line goes to the new shell.
        s.push_str(
            " \"$(uname -r)\"\n\
             n=0\n\
             while [ $n -lt 5 ]; do sh; echo \"LIMINA-SHELL-EXITED status=$?\"; n=$((n + 1)); done\n\
             exec sh\n",
        );
        s
    }

    /// Writes the archive to `out`, using `assets` for busybox and modules.
    pub fn write(&self, assets: &MachineAssets, out: &Path) -> Result<(), Error> {
        let mut fs = self.clone();
        fs.file("bin/busybox", &assets.busybox, 0o755);
        let init = fs.init_script();
        fs.bytes("init", init, 0o755);

        let wanted: Vec<&str> = self
            .load_modules
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.include_modules.iter().map(String::as_str))
            .collect();
        if !wanted.is_empty() {
            let (Some(root), Some(release)) = (&assets.modules, &assets.kernel_release) else {
                return Err(Error::ModuleMissing {
                    name: wanted.join(", "),
                    tree: PathBuf::from(format!(
                        "(the {} kernel has no module tree; everything is built in)",
                        self.machine
                    )),
                });
            };
            let tree = ModuleTree::open(root, release)?;
            let closure = tree.closure(&wanted)?;
            let base = format!("lib/modules/{release}");
            for rel in &closure {
                fs.file(&format!("{base}/{rel}"), tree.dir().join(rel), 0o644);
            }
            fs.bytes(
                &format!("{base}/modules.dep"),
                tree.dep_file_for(&closure),
                0o644,
            );
        }

        let expected = self.machine.elf_ident();
        let file = std::fs::File::create(out).map_err(Error::io(out))?;
        let mut w = std::io::BufWriter::new(file);
        for (ino, (path, entry)) in fs.entries.iter().enumerate() {
            let (kind, data): (u32, Vec<u8>) = match &entry.content {
                Content::Dir => (0o040000, Vec::new()),
                Content::HostFile(p) => {
                    let data = std::fs::read(p).map_err(Error::io(p))?;
                    if let Ok(id) = ElfIdent::parse(&data) {
                        // Modules are relocatable objects of the same
                        // class, byte order and machine as the kernel.
                        if id != expected {
                            return Err(Error::WrongArch {
                                path: p.clone(),
                                machine: self.machine.name(),
                                expected: expected.to_string(),
                                found: id.to_string(),
                            });
                        }
                    }
                    (0o100000, data)
                }
                Content::Bytes(b) => (0o100000, b.clone()),
                Content::Symlink(t) => (0o120000, t.as_bytes().to_vec()),
                Content::CharDev(..) => (0o020000, Vec::new()),
            };
            let mut b = cpio::newc::Builder::new(path)
                .ino(ino as u32 + 1)
                .mode(kind | (entry.mode & 0o7777))
                .uid(0)
                .gid(0)
                .nlink(if kind == 0o040000 { 2 } else { 1 })
                .mtime(0);
            if let Content::CharDev(major, minor) = entry.content {
                b = b.rdev_major(major).rdev_minor(minor);
            }
            let size = u32::try_from(data.len()).map_err(|_| Error::Io {
                path: PathBuf::from(path),
                source: std::io::Error::other("file larger than 4 GiB"),
            })?;
            let mut fw = b.write(&mut w, size);
            fw.write_all(&data).map_err(Error::io(out))?;
            fw.finish().map_err(Error::io(out))?;
        }
        cpio::newc::trailer(&mut w).map_err(Error::io(out))?;
        w.flush().map_err(Error::io(out))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("limina-bt-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    /// A fake machine asset set whose "busybox" is this test executable, so
    /// it has the right architecture on every target the tests run on.
    fn assets(dir: &Path) -> MachineAssets {
        let exe = std::env::current_exe().expect("current exe");
        let kernel = dir.join("kernel");
        std::fs::write(&kernel, b"not used").expect("write");
        MachineAssets {
            kernel,
            busybox: exe,
            modules: None,
            kernel_release: None,
        }
    }

    fn host_machine() -> Option<Machine> {
        if cfg!(target_arch = "x86_64") {
            Some(Machine::X86_64)
        } else if cfg!(all(target_arch = "mips", target_endian = "big")) {
            Some(Machine::Mips)
        } else if cfg!(target_arch = "aarch64") {
            Some(Machine::Aarch64)
        } else {
            None
        }
    }

    fn read_archive(path: &Path) -> Vec<(String, u32, u32, Vec<u8>)> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).expect("archive");
        let mut out = Vec::new();
        loop {
            let mut r = cpio::NewcReader::new(file).expect("newc entry");
            if r.entry().is_trailer() {
                break;
            }
            let e = r.entry();
            let (name, mode, rdev) = (e.name().to_string(), e.mode(), e.rdev_major());
            let mut data = Vec::new();
            r.read_to_end(&mut data).expect("data");
            out.push((name, mode, rdev, data));
            file = r.finish().expect("next");
        }
        out
    }

    #[test]
    fn archive_round_trips_through_a_newc_reader() {
        let Some(machine) = host_machine() else {
            return;
        };
        let dir = temp_dir("roundtrip");
        let mut fs = Initramfs::new(machine);
        fs.bytes("/etc/motd", "hello\n", 0o644)
            .symlink("/usr/bin/limina-link", "/bin/busybox")
            .bytes("/opt/deep/nested/file", vec![0u8; 5], 0o600);
        let out = dir.join("initramfs.cpio");
        fs.write(&assets(&dir), &out).expect("write");
        let entries = read_archive(&out);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        // Parents precede children, so the kernel can create them in order.
        for (i, n) in names.iter().enumerate() {
            if let Some((parent, _)) = n.rsplit_once('/') {
                let p = names
                    .iter()
                    .position(|x| *x == parent)
                    .expect("parent present");
                assert!(p < i, "{parent} after {n}");
            }
        }
        let get = |n: &str| entries.iter().find(|e| e.0 == n).expect(n);
        assert_eq!(get("etc/motd").3, b"hello\n");
        assert_eq!(get("etc/motd").1, 0o100644);
        assert_eq!(get("usr/bin/limina-link").1 & 0o170000, 0o120000);
        assert_eq!(get("usr/bin/limina-link").3, b"/bin/busybox");
        assert_eq!(get("dev/console").1, 0o020600);
        assert_eq!(get("dev/console").2, 5);
        assert_eq!(get("opt/deep/nested").1, 0o040755);
        let init = String::from_utf8(get("init").3.clone()).expect("utf-8");
        assert!(init.starts_with("#!/bin/busybox sh\n"));
        assert!(init.contains(READY_MARKER));
        assert_eq!(
            get("bin/busybox").3,
            std::fs::read(std::env::current_exe().expect("exe")).expect("read")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn wrong_architecture_binary_is_refused() {
        let Some(machine) = host_machine() else {
            return;
        };
        let other = if machine == Machine::Mips {
            Machine::X86_64
        } else {
            Machine::Mips
        };
        let dir = temp_dir("wrongarch");
        // Our own executable is for `machine`; an image for `other` must
        // refuse it, naming the file and both architectures.
        let fs = Initramfs::new(other);
        let err = fs
            .write(&assets(&dir), &dir.join("x.cpio"))
            .expect_err("wrong arch");
        match &err {
            Error::WrongArch { machine, .. } => assert_eq!(*machine, other.name()),
            e => panic!("unexpected error {e}"),
        }
        assert!(
            err.to_string().contains(&other.elf_ident().to_string()),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn modules_on_a_kernel_without_a_module_tree_are_an_error() {
        let Some(machine) = host_machine() else {
            return;
        };
        let dir = temp_dir("nomods");
        let mut fs = Initramfs::new(machine);
        fs.module("nandsim", "");
        let err = fs
            .write(&assets(&dir), &dir.join("x.cpio"))
            .expect_err("no tree");
        assert!(matches!(err, Error::ModuleMissing { .. }), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn init_script_loads_modules_in_order_and_fails_loudly() {
        let mut fs = Initramfs::new(Machine::X86_64);
        fs.module("mtdram", "total_size=1024").module("ubi", "");
        fs.init_command("echo hi > /tmp/x");
        let s = fs.init_script();
        let a = s.find("modprobe mtdram total_size=1024").expect("mtdram");
        let b = s.find("modprobe ubi").expect("ubi");
        assert!(a < b);
        assert!(s.contains(INIT_ERROR_MARKER));
        assert!(s.trim_end().ends_with("exec sh"));
        assert!(s.contains("while [ $n -lt 5 ]; do sh;"));
    }
}
