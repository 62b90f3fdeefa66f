//! One request's copy of the repository (ARGOCD.md §2.1): a fresh
//! `_cmp_server/<uuid>/` holding the whole repo, files 0644 and dirs 0755
//! unless `preserveFileMode`, symlinks only inside the tree; and the
//! `discover.fileName` glob over its app dir (§1.4).

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use super::{AppRequest, CmpError};

/// One request's directory, deleted afterwards like the real one (§2.1).
pub(super) struct Workspace {
    root: PathBuf,
    pub(super) app_dir: PathBuf,
}

impl Workspace {
    /// Copies `req.repo` to `<tmpdir>/_cmp_server/<uuid>/`; `preserve` is
    /// the plugin's `preserveFileMode`.
    pub(super) fn create(
        tmpdir: &Path,
        req: &AppRequest,
        preserve: bool,
    ) -> Result<Self, CmpError> {
        let setup = |message: String| CmpError::Setup { message };
        let root = tmpdir.join("_cmp_server").join(uuid_v4());
        let work = Workspace {
            app_dir: root.join(&req.app_path),
            root,
        };
        if Path::new(&req.app_path).is_absolute() || !lexically_inside(&work.app_dir, &work.root) {
            return Err(setup(format!(
                "illegal appPath {:?}: outside the repo",
                req.app_path
            )));
        }
        copy_tree(&req.repo, &work.root, &work.root, preserve).map_err(setup)?;
        if !work.app_dir.is_dir() {
            return Err(setup(format!(
                "app path {} is not a directory",
                req.app_path
            )));
        }
        Ok(work)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn uuid_v4() -> String {
    let random = || RandomState::new().build_hasher().finish();
    let (a, b) = (random(), random());
    let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xffff, a & 0xfff);
    let (b1, b2) = (0x8000 | ((b >> 48) & 0x3fff), b & 0xffff_ffff_ffff);
    format!("{a1:08x}-{a2:04x}-4{a3:03x}-{b1:04x}-{b2:012x}")
}

/// Copies `src` into `dst` like the repo-server's tar and the server's untar:
/// modes 0644/0755 unless `preserveFileMode`; symlinks only inside the tree.
fn copy_tree(src: &Path, dst: &Path, top: &Path, preserve: bool) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let mode = |m: &fs::Metadata, default| {
        if preserve {
            m.permissions().mode()
        } else {
            default
        }
    };
    fs::create_dir_all(dst).map_err(|e| err(dst, e))?;
    for entry in fs::read_dir(src).map_err(|e| err(src, e))? {
        let entry = entry.map_err(|e| err(src, e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from).map_err(|e| err(&from, e))?;
        if meta.is_dir() {
            copy_tree(&from, &to, top, preserve)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(mode(&meta, 0o755)))
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).map_err(|e| err(&from, e))?;
            if !lexically_inside(&dst.join(&target), top) {
                return Err(format!("illegal filepath in symlink: {}", to.display()));
            }
            symlink(&target, &to)
        } else {
            fs::copy(&from, &to).map_err(|e| err(&from, e))?;
            fs::set_permissions(&to, fs::Permissions::from_mode(mode(&meta, 0o644)))
        }
        .map_err(|e| err(&to, e))?;
    }
    Ok(())
}

fn lexically_inside(path: &Path, top: &Path) -> bool {
    let mut parts: Vec<Component> = vec![];
    for c in path.components() {
        match c {
            Component::ParentDir => drop(parts.pop()),
            Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(top)
}

/// Whether `filepath.Glob(join(appDir, pattern))` is non-empty. Only `*` and
/// `?` wildcards are imitated (no `[...]` classes, no `\` escapes).
pub(super) fn glob_matches_any(app_dir: &Path, pattern: &str) -> bool {
    assert!(
        !pattern.contains(['[', '\\']),
        "the fake's glob knows only * and ?: {pattern}"
    );
    let mut found = vec![app_dir.to_path_buf()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let mut next = vec![];
        for base in &found {
            if !part.contains(['*', '?']) {
                next.extend(Some(base.join(part)).filter(|p| fs::symlink_metadata(p).is_ok()));
            } else if let Ok(entries) = fs::read_dir(base) {
                let names = entries.flatten().map(|e| e.path());
                let matching =
                    |p: &PathBuf| wildcard(part.as_bytes(), p.file_name().unwrap().as_bytes());
                next.extend(names.filter(matching));
            }
        }
        found = next;
    }
    !pattern.is_empty() && !found.is_empty()
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, _) => s.is_empty(),
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}
