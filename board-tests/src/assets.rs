//! Where the harness finds kernels, busybox and our cross-built binaries.
//!
//! `scripts/vm-assets` links each machine's kernel and userland into
//! `$LIMINA_BUILD_DIR/vm-assets/<machine>/`, from caches outside the work
//! tree; `scripts/cross-test` puts our binaries for each target into
//! `$LIMINA_BUILD_DIR/guest-bins/<rust-target>/`. Tests only read these.

use std::path::{Path, PathBuf};

use crate::{Error, Machine};

/// The workspace root (the directory holding `board-tests/`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// `$LIMINA_BUILD_DIR`, or `build/` in the workspace.
pub fn build_dir() -> PathBuf {
    match std::env::var_os("LIMINA_BUILD_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("build"),
    }
}

/// The directory `scripts/vm-assets` fills.
pub fn vm_assets_dir() -> PathBuf {
    build_dir().join("vm-assets")
}

/// Our binaries built for `target` (test executables under `tests/`).
pub fn guest_bins_dir(target: &str) -> PathBuf {
    build_dir().join("guest-bins").join(target)
}

/// Our static release `limina` for `machine`'s guest, built by
/// `scripts/guest-bins` (or `scripts/cross-test`).
pub fn guest_limina(machine: Machine) -> Result<PathBuf, Error> {
    let target = machine.rust_target();
    let path = guest_bins_dir(target).join("limina");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::AssetMissing {
            what: "limina binary",
            machine: machine.name(),
            path,
            hint: format!("scripts/guest-bins {target}"),
        })
    }
}

/// The kernel and userland of one machine.
#[derive(Debug, Clone)]
pub struct MachineAssets {
    /// The kernel image QEMU boots.
    pub kernel: PathBuf,
    /// A static busybox for the guest.
    pub busybox: PathBuf,
    /// The module tree (`lib/modules/<release>` below it), for modular kernels.
    pub modules: Option<PathBuf>,
    /// The kernel release (`uname -r`), for modular kernels.
    pub kernel_release: Option<String>,
}

impl MachineAssets {
    /// Finds the assets of `machine` under [`vm_assets_dir`].
    pub fn find(machine: Machine) -> Result<MachineAssets, Error> {
        MachineAssets::find_in(machine, &vm_assets_dir())
    }

    /// Finds the assets of `machine` under `dir/<machine>/`.
    pub fn find_in(machine: Machine, dir: &Path) -> Result<MachineAssets, Error> {
        let m = dir.join(machine.name());
        let hint = format!("scripts/vm-assets {}", machine.name());
        let need = |what: &'static str, path: PathBuf| {
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::AssetMissing {
                    what,
                    machine: machine.name(),
                    path,
                    hint: hint.clone(),
                })
            }
        };
        let kernel = need("kernel", m.join("kernel"))?;
        let busybox = need("busybox", m.join("busybox"))?;
        let modules = m.join("modules");
        let (modules, kernel_release) = if modules.is_dir() {
            let rel_path = m.join("kernel-release");
            let rel = std::fs::read_to_string(&rel_path).map_err(Error::io(&rel_path))?;
            (Some(modules), Some(rel.trim().to_string()))
        } else {
            (None, None)
        };
        Ok(MachineAssets {
            kernel,
            busybox,
            modules,
            kernel_release,
        })
    }
}
