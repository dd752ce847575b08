//! Kernel modules for a guest: find a module and everything it depends on.
//!
//! Debian's kernel package ships no `modules.dep`; `scripts/vm-assets` runs
//! `busybox depmod` once per kernel. The initramfs gets only the modules a
//! test asks for, their dependencies, and a `modules.dep` listing just those,
//! so that `modprobe` works in the guest without the 400 MB tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Error;

/// A parsed `lib/modules/<release>/modules.dep`.
#[derive(Debug, Clone)]
pub struct ModuleTree {
    /// The directory holding `modules.dep`.
    dir: PathBuf,
    /// Module name (as `modprobe` spells it, `-` for `_`) to its relative
    /// path and the relative paths of its direct dependencies.
    by_name: BTreeMap<String, (String, Vec<String>)>,
}

/// `modprobe` treats `-` and `_` in module names alike.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn name_of(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let stem = file.split(".ko").next().unwrap_or(file);
    normalize(stem)
}

impl ModuleTree {
    /// Reads `root/lib/modules/<release>/modules.dep`.
    pub fn open(root: &Path, release: &str) -> Result<ModuleTree, Error> {
        let dir = root.join("lib/modules").join(release);
        let dep = dir.join("modules.dep");
        let text = std::fs::read_to_string(&dep).map_err(Error::io(&dep))?;
        Ok(ModuleTree::parse(dir, &text))
    }

    /// Parses the text of a `modules.dep` (`path: dep dep …` per line).
    pub fn parse(dir: PathBuf, text: &str) -> ModuleTree {
        let mut by_name = BTreeMap::new();
        for line in text.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let path = path.trim();
            if path.is_empty() {
                continue;
            }
            let deps = deps.split_whitespace().map(str::to_string).collect();
            by_name.insert(name_of(path), (path.to_string(), deps));
        }
        ModuleTree { dir, by_name }
    }

    /// The directory holding `modules.dep`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The relative paths of `names` and all their dependencies, each once,
    /// dependencies before the modules that need them.
    pub fn closure(&self, names: &[&str]) -> Result<Vec<String>, Error> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in names {
            let key = normalize(name);
            let Some((path, _)) = self.by_name.get(&key) else {
                return Err(Error::ModuleMissing {
                    name: (*name).to_string(),
                    tree: self.dir.clone(),
                });
            };
            self.visit(path, &mut seen, &mut order);
        }
        Ok(order)
    }

    fn visit(&self, path: &str, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(path.to_string()) {
            return;
        }
        if let Some((_, deps)) = self.by_name.get(&name_of(path)) {
            for d in deps {
                self.visit(d, seen, order);
            }
        }
        order.push(path.to_string());
    }

    /// The `modules.dep` text for exactly `paths` (a closure).
    pub fn dep_file_for(&self, paths: &[String]) -> String {
        let mut out = String::new();
        for p in paths {
            let deps = self
                .by_name
                .get(&name_of(p))
                .map(|(_, d)| d.join(" "))
                .unwrap_or_default();
            out.push_str(p);
            out.push(':');
            if !deps.is_empty() {
                out.push(' ');
                out.push_str(&deps);
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as `busybox depmod` writes them for Debian's 6.1 amd64 kernel.
    const DEP: &str = "\
kernel/drivers/mtd/mtd.ko:
kernel/lib/crc16.ko:
kernel/drivers/mtd/ubi/ubi.ko: kernel/drivers/mtd/mtd.ko
kernel/fs/ubifs/ubifs.ko: kernel/drivers/mtd/ubi/ubi.ko kernel/drivers/mtd/mtd.ko kernel/lib/crc16.ko
kernel/drivers/mtd/nand/raw/nandsim.ko: kernel/drivers/mtd/nand/raw/nand.ko kernel/drivers/mtd/nand/nandcore.ko kernel/drivers/mtd/mtd.ko kernel/lib/bch.ko
kernel/drivers/mtd/nand/raw/nand.ko: kernel/drivers/mtd/nand/nandcore.ko kernel/drivers/mtd/mtd.ko kernel/lib/bch.ko
kernel/drivers/mtd/nand/nandcore.ko: kernel/drivers/mtd/mtd.ko
kernel/lib/bch.ko:
kernel/drivers/net/ppp/pppox.ko: kernel/drivers/net/ppp/ppp_generic.ko kernel/lib/crc-ccitt.ko
";

    fn tree() -> ModuleTree {
        ModuleTree::parse(PathBuf::from("/m"), DEP)
    }

    #[test]
    fn closure_puts_dependencies_first_and_once() {
        let c = tree()
            .closure(&["ubifs", "nandsim"])
            .expect("known modules");
        assert_eq!(
            c,
            [
                "kernel/drivers/mtd/mtd.ko",
                "kernel/drivers/mtd/ubi/ubi.ko",
                "kernel/lib/crc16.ko",
                "kernel/fs/ubifs/ubifs.ko",
                "kernel/drivers/mtd/nand/nandcore.ko",
                "kernel/lib/bch.ko",
                "kernel/drivers/mtd/nand/raw/nand.ko",
                "kernel/drivers/mtd/nand/raw/nandsim.ko",
            ]
        );
        let pos = |p: &str| c.iter().position(|x| x == p).expect("present");
        assert!(pos("kernel/drivers/mtd/mtd.ko") < pos("kernel/drivers/mtd/ubi/ubi.ko"));
        assert!(pos("kernel/drivers/mtd/ubi/ubi.ko") < pos("kernel/fs/ubifs/ubifs.ko"));
        assert!(
            pos("kernel/drivers/mtd/nand/nandcore.ko") < pos("kernel/drivers/mtd/nand/raw/nand.ko")
        );
        assert!(pos("kernel/lib/bch.ko") < pos("kernel/drivers/mtd/nand/raw/nandsim.ko"));
    }

    #[test]
    fn dash_and_underscore_are_the_same_name() {
        let t = ModuleTree::parse(PathBuf::from("/m"), "kernel/x/ppp_generic.ko:\n");
        assert_eq!(
            t.closure(&["ppp-generic"]).expect("found"),
            ["kernel/x/ppp_generic.ko"]
        );
    }

    #[test]
    fn unknown_module_names_the_module_and_tree() {
        let err = tree().closure(&["no_such_mod"]).expect_err("unknown");
        let msg = err.to_string();
        assert!(msg.contains("no_such_mod") && msg.contains("/m"), "{msg}");
    }

    #[test]
    fn dep_file_lists_only_the_closure() {
        let t = tree();
        let c = t.closure(&["ubi"]).expect("known");
        assert_eq!(
            t.dep_file_for(&c),
            "kernel/drivers/mtd/mtd.ko:\nkernel/drivers/mtd/ubi/ubi.ko: kernel/drivers/mtd/mtd.ko\n"
        );
    }
}
