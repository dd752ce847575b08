//! Shared helpers: scratch directories, deterministic data, and building
//! an image the way a `ubinize` command line would.

use std::path::{Path, PathBuf};

use ubi::image::{Geometry, ImageError, Params, Plan};

/// A fresh scratch directory for `name` under cargo's target tmp dir (or
/// the system temp dir when that is not there, e.g. inside a VM).
pub fn scratch(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let base = if base.is_dir() {
        base.to_owned()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("limina-ubi-{name}"));
    std::fs::create_dir_all(&dir).expect("scratch dir is creatable");
    dir
}

/// `prog` from `PATH`, if installed.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// `len` pseudo-random bytes (xorshift), the same for the same seed.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Builds the image for `ubinize FLAGS DIR/NAME.ini` with our builder,
/// resolving `image=` paths relative to `dir` as ubinize run in `dir` does.
pub fn ubinize_ours(dir: &Path, name: &str, flags: &str) -> Result<Vec<u8>, String> {
    let mut p = Params::new(0, 0, 0);
    let mut ec = 0;
    let mut words = flags.split_whitespace();
    while let Some(flag) = words.next() {
        let v = words.next().expect("every flag takes a value");
        let n = ubi::ini::parse_bytes(v).expect("numeric flag value");
        match flag {
            "-p" => p.peb_size = n as u32,
            "-m" => p.min_io_size = n as u32,
            "-s" => p.subpage_size = Some(n as u32),
            "-O" => p.vid_hdr_offset = Some(n as u32),
            "-e" => ec = n,
            "-x" => p.ubi_version = n as u8,
            "-Q" => p.image_seq = n as u32,
            other => panic!("flag {other} not handled by the test"),
        }
    }
    let text = std::fs::read_to_string(dir.join(format!("{name}.ini"))).expect("ini written");
    let mut specs = ubi::ini::parse(&text).map_err(|e| e.to_string())?;
    for s in &mut specs {
        s.image = s.image.take().map(|i| dir.join(i));
    }
    let g = Geometry::new(&p).map_err(|e| e.to_string())?;
    let plan = Plan::new(g, ec, &specs, None).map_err(|e: ImageError| e.to_string())?;
    let mut out = Vec::new();
    plan.write(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}
