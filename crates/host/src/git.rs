//! `git-export` and `git-verify`: the source cache's use of git, on gix.
//!
//! `scripts/fill-dl` stands a git tree at a release tag in for a tarball it
//! cannot download; `git-export` writes that tree (what `git archive | tar
//! -x` gives: files with their executable bit, symlinks, empty directories
//! for submodules) and prints the commit it resolved. `git-verify` checks
//! that files in a directory are exactly those of a pinned commit, by their
//! git blob ids: how a tree assembled some other way (the OpenWrt files)
//! is held to the commit a package pins.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use gix::bstr::ByteSlice as _;
use gix::object::tree::EntryKind;

/// `limina-host git-export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The repository (a bare mirror or a work tree's `.git`).
    #[arg(long, value_name = "DIR")]
    pub git_dir: PathBuf,
    /// Write only this file of the commit's tree (e.g. a release tarball
    /// the repository holds) to DEST, instead of the whole tree.
    #[arg(long, value_name = "PATH")]
    pub member: Option<String>,
    /// A tag, branch or commit id.
    pub rev: String,
    /// Where the tree goes: a directory that does not exist yet or is empty
    /// (a file with `--member`).
    pub dest: PathBuf,
}

/// `limina-host git-verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The repository holding the pinned commit.
    #[arg(long, value_name = "DIR")]
    pub git_dir: PathBuf,
    /// Names in the directory that are not part of the tree (e.g. a marker
    /// file the source cache writes); repeatable.
    #[arg(long, value_name = "NAME")]
    pub ignore: Vec<String>,
    /// The commit the directory must match (a tag or commit id).
    pub rev: String,
    /// The directory to check.
    pub dir: PathBuf,
    /// Check only these paths (relative to DIR and to the tree's root);
    /// without any, the whole tree: every file of the commit must be in DIR
    /// with the same content and kind, and DIR must hold nothing else.
    pub paths: Vec<String>,
}

/// The kind of a tree entry as both git and a file system know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Executable,
    Symlink,
    Submodule,
    Directory,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Executable => "an executable file",
            Kind::Symlink => "a symlink",
            Kind::Submodule => "a submodule",
            Kind::Directory => "a directory",
        }
    }
}

/// One non-directory entry of a commit's tree.
struct Entry {
    kind: Kind,
    oid: gix::ObjectId,
}

/// Opens `git_dir` and resolves `rev` to a commit.
fn commit<'r>(repo: &'r gix::Repository, rev: &str) -> Result<gix::Commit<'r>> {
    let id = repo
        .rev_parse_single(rev)
        .with_context(|| format!("{rev}: not a revision of {}", repo.path().display()))?;
    id.object()
        .with_context(|| format!("{rev}: cannot read {id}"))?
        .peel_to_commit()
        .with_context(|| format!("{rev}: does not name a commit"))
}

fn open(git_dir: &Path) -> Result<gix::Repository> {
    gix::open(git_dir).with_context(|| format!("{}: not a git repository", git_dir.display()))
}

/// A tree path as a relative file-system path, refusing anything that
/// would leave the destination (`..`, absolute paths): a repository is
/// input, and may be hostile.
fn relative(path: &[u8]) -> Result<PathBuf> {
    let s = path
        .to_str()
        .with_context(|| format!("tree path {:?} is not UTF-8", path.as_bstr()))?;
    let p = PathBuf::from(s);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("tree path {s:?} is not a plain relative path");
    }
    Ok(p)
}

/// Every file, symlink and submodule of `commit`'s tree, by path; and the
/// directories.
fn entries(commit: &gix::Commit<'_>) -> Result<(BTreeMap<PathBuf, Entry>, Vec<PathBuf>)> {
    let tree = commit.tree().context("cannot read the commit's tree")?;
    let records = tree
        .traverse()
        .breadthfirst
        .files()
        .context("cannot walk the commit's tree")?;
    let mut files = BTreeMap::new();
    let mut dirs = Vec::new();
    for r in records {
        let path = relative(&r.filepath)?;
        let kind = match r.mode.kind() {
            EntryKind::Tree => {
                dirs.push(path);
                continue;
            }
            EntryKind::Blob => Kind::File,
            EntryKind::BlobExecutable => Kind::Executable,
            EntryKind::Link => Kind::Symlink,
            EntryKind::Commit => Kind::Submodule,
        };
        files.insert(path, Entry { kind, oid: r.oid });
    }
    Ok((files, dirs))
}

/// Runs `git-export`: prints the commit id on stdout.
pub fn export(args: &ExportArgs) -> Result<()> {
    let repo = open(&args.git_dir)?;
    let commit = commit(&repo, &args.rev)?;
    if let Some(member) = &args.member {
        let tree = commit.tree().context("cannot read the commit's tree")?;
        let entry = tree
            .lookup_entry_by_path(member)
            .with_context(|| format!("{member}: cannot look it up in {}", args.rev))?
            .with_context(|| format!("{member}: not in {} ({})", args.rev, commit.id))?;
        if !entry.mode().is_blob() {
            bail!("{member}: not a file in {}", args.rev);
        }
        let data = entry
            .object()
            .with_context(|| format!("{member}: cannot read it"))?;
        fs::write(&args.dest, &data.data)
            .with_context(|| format!("{}: cannot write", args.dest.display()))?;
    } else {
        let (files, dirs) = entries(&commit)?;
        if args.dest.exists()
            && fs::read_dir(&args.dest)
                .with_context(|| format!("{}: not a directory", args.dest.display()))?
                .next()
                .is_some()
        {
            bail!(
                "{}: not empty; export into a new directory",
                args.dest.display()
            );
        }
        fs::create_dir_all(&args.dest)
            .with_context(|| format!("{}: cannot create", args.dest.display()))?;
        for d in &dirs {
            let p = args.dest.join(d);
            fs::create_dir_all(&p).with_context(|| format!("{}: cannot create", p.display()))?;
        }
        for (path, e) in &files {
            let p = args.dest.join(path);
            if e.kind == Kind::Submodule {
                // As git archive: an empty directory where the submodule is.
                fs::create_dir_all(&p)
                    .with_context(|| format!("{}: cannot create", p.display()))?;
                continue;
            }
            let obj = repo
                .find_object(e.oid)
                .with_context(|| format!("{}: cannot read blob {}", path.display(), e.oid))?;
            match e.kind {
                Kind::Symlink => {
                    let target = link_target(&obj.data, path)?;
                    std::os::unix::fs::symlink(&target, &p)
                        .with_context(|| format!("{}: cannot create symlink", p.display()))?;
                }
                _ => {
                    fs::write(&p, &obj.data)
                        .with_context(|| format!("{}: cannot write", p.display()))?;
                    // Created as 0666 less the umask, as git and tar do; an
                    // executable gets x wherever it got r.
                    if e.kind == Kind::Executable {
                        let meta = fs::metadata(&p)
                            .with_context(|| format!("{}: cannot stat", p.display()))?;
                        let mode = meta.permissions().mode();
                        let exec = mode | ((mode & 0o444) >> 2);
                        fs::set_permissions(&p, fs::Permissions::from_mode(exec))
                            .with_context(|| format!("{}: cannot set its mode", p.display()))?;
                    }
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", commit.id).context("cannot write to stdout")?;
    Ok(())
}

/// A symlink's target as stored in the tree (any target is allowed, as in
/// a checkout: it is written, never followed).
fn link_target(data: &[u8], path: &Path) -> Result<PathBuf> {
    let s = data
        .to_str()
        .with_context(|| format!("{}: symlink target is not UTF-8", path.display()))?;
    Ok(PathBuf::from(s))
}

/// What `git-verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every checked path matches the commit.
    Matches(usize),
    /// These paths differ, one line each.
    Differs(Vec<String>),
}

/// The kind and blob id of one file-system entry, as git would store it.
fn on_disk(path: &Path) -> Result<Option<(Kind, gix::ObjectId)>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot stat", path.display())),
    };
    let (kind, data) = if meta.file_type().is_symlink() {
        let t =
            fs::read_link(path).with_context(|| format!("{}: cannot read link", path.display()))?;
        (Kind::Symlink, t.into_os_string().into_encoded_bytes())
    } else if meta.is_dir() {
        // A submodule's place (matched by kind alone), or a directory
        // where the commit has a file.
        return Ok(Some((
            Kind::Directory,
            gix::ObjectId::null(gix::hash::Kind::Sha1),
        )));
    } else {
        let kind = if meta.permissions().mode() & 0o111 != 0 {
            Kind::Executable
        } else {
            Kind::File
        };
        (
            kind,
            fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?,
        )
    };
    let oid = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::object::Kind::Blob, &data)
        .with_context(|| format!("{}: cannot hash", path.display()))?;
    Ok(Some((kind, oid)))
}

/// Runs `git-verify`.
pub fn verify(args: &VerifyArgs) -> Result<Outcome> {
    if !args.dir.is_dir() {
        bail!("{}: not a directory", args.dir.display());
    }
    let repo = open(&args.git_dir)?;
    let commit = commit(&repo, &args.rev)?;
    let (files, dirs) = entries(&commit)?;
    let mut problems = Vec::new();
    let wanted: Vec<PathBuf> = if args.paths.is_empty() {
        files.keys().cloned().collect()
    } else {
        args.paths
            .iter()
            .map(|p| relative(p.as_bytes()))
            .collect::<Result<_>>()?
    };
    for path in &wanted {
        let Some(e) = files.get(path) else {
            problems.push(format!(
                "{}: not in {} ({})",
                path.display(),
                args.rev,
                commit.id
            ));
            continue;
        };
        match on_disk(&args.dir.join(path))? {
            None => problems.push(format!("{}: missing", path.display())),
            Some((Kind::Directory, _)) if e.kind == Kind::Submodule => {}
            Some((kind, _)) if kind != e.kind => problems.push(format!(
                "{}: {} here, {} in {}",
                path.display(),
                kind.name(),
                e.kind.name(),
                args.rev
            )),
            Some((_, oid)) if oid != e.oid => problems.push(format!(
                "{}: content differs (blob {oid}, {} has {})",
                path.display(),
                args.rev,
                e.oid
            )),
            Some(_) => {}
        }
    }
    if args.paths.is_empty() {
        // Nothing may be in the directory that the commit does not have.
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let abs = args.dir.join(&rel);
            let mut names: Vec<_> = fs::read_dir(&abs)
                .with_context(|| format!("{}: cannot list", abs.display()))?
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("{}: cannot list", abs.display()))?;
            names.sort_by_key(std::fs::DirEntry::file_name);
            for d in names {
                let name = d.file_name();
                if rel.as_os_str().is_empty() && args.ignore.iter().any(|i| name == i.as_str()) {
                    continue;
                }
                let p = rel.join(&name);
                let is_dir = d
                    .file_type()
                    .with_context(|| format!("{}: cannot stat", p.display()))?
                    .is_dir();
                if files.contains_key(&p) {
                    continue;
                }
                if is_dir && dirs.contains(&p) {
                    stack.push(p);
                } else {
                    problems.push(format!(
                        "{}: not in {} ({})",
                        p.display(),
                        args.rev,
                        commit.id
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(Outcome::Matches(wanted.len()))
    } else {
        Ok(Outcome::Differs(problems))
    }
}
