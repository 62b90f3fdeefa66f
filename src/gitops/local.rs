//! CI's side: edit an `assay.yaml` in a working copy. The file is replaced
//! atomically (write a sibling, then rename) and only when the edit changed
//! it, so a failed or refused edit leaves the file exactly as it was. A
//! symbolic link is followed to its target, as git does, and the target is
//! edited; a link that leads out of the repository is refused.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::edit::{self, EditError, Proposal, Proposed};

/// Why a local edit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// Named `error`, not `source`: thiserror would take a `source` field for
    /// the cause, and `{:#}` would print it twice.
    #[error("{path}: {error}")]
    Edit { path: String, error: EditError },
    #[error("--env {0:?}: expected KEY=VALUE")]
    Env(String),
}

/// `KEY=VALUE` pairs, in order; a repeated key keeps its last value.
pub fn parse_env(pairs: &[String]) -> Result<IndexMap<String, String>, LocalError> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(LocalError::Env(p.clone())),
        })
        .collect()
}

fn read(path: &Path) -> Result<String, LocalError> {
    std::fs::read_to_string(path).map_err(|e| LocalError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Replaces `path` with `text` atomically.
fn write(path: &Path, text: &str) -> Result<(), LocalError> {
    let io = |e: std::io::Error| LocalError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The file an edit of `path` must write: `path` itself, or the target of
/// the symbolic link at `path` when that lies inside the git working tree
/// holding the link. Replacing the link with a regular file would leave the
/// linked file, which others read, unedited.
fn follow(path: &Path) -> Result<PathBuf, LocalError> {
    let io = |message: String| LocalError::Io {
        path: path.display().to_string(),
        message,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        _ => return Ok(path.to_path_buf()),
    }
    let target = path.canonicalize().map_err(|e| {
        io(format!(
            "symbolic link to {}: {e}",
            std::fs::read_link(path).unwrap_or_default().display()
        ))
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| io(e.to_string()))?;
    let root = dir.ancestors().find(|d| d.join(".git").exists());
    match root {
        Some(root) if !target.starts_with(root) => Err(io(format!(
            "a symbolic link to {}, outside the repository {}; assay edits only files inside it",
            target.display(),
            root.display()
        ))),
        _ => Ok(target),
    }
}

/// `assay candidate set`: propose `p` in the spec at `path`.
pub fn set_candidate(path: &Path, p: &Proposal, force: bool) -> Result<Proposed, LocalError> {
    let path = &follow(path)?;
    let text = read(path)?;
    let (new, outcome) =
        edit::set_candidate(&text, p, force).map_err(|error| LocalError::Edit {
            path: path.display().to_string(),
            error,
        })?;
    if new != text {
        write(path, &new)?;
    }
    Ok(outcome)
}

/// `assay candidate clear`: drop the candidate from the spec at `path`.
/// Returns whether the file changed.
pub fn clear_candidate(path: &Path) -> Result<bool, LocalError> {
    let path = &follow(path)?;
    let text = read(path)?;
    let new = edit::clear_candidate(&text).map_err(|error| LocalError::Edit {
        path: path.display().to_string(),
        error,
    })?;
    if new == text {
        return Ok(false);
    }
    write(path, &new)?;
    Ok(true)
}
