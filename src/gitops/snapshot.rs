//! One fetched branch head in a private temporary repository, and what the
//! write-back does with it without a checkout: read a file (following
//! symbolic links as a checkout would), build a commit in memory, find an
//! earlier verdict by its trailer.

use std::sync::{Arc, Mutex, MutexGuard};

use git2::{ErrorCode, Oid, Repository, Signature};

/// One fetched branch head, in a private temporary repository.
pub struct Snapshot {
    /// Shared with the watchdog's thread during a push.
    pub(super) repo: Arc<Mutex<Repository>>,
    pub(super) _dir: tempfile::TempDir,
    /// The branch as the remote names it (resolved from `HEAD` if asked).
    pub branch: String,
    /// The commit the branch pointed at when fetched.
    pub head: Oid,
}

impl Snapshot {
    pub(super) fn lock(&self) -> MutexGuard<'_, Repository> {
        self.repo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The text of `path` at the fetched head, if it exists and is UTF-8.
    /// Symbolic links are followed, as a checkout would (see [`Self::resolve`]).
    pub fn read(&self, path: &str) -> Result<Option<String>, git2::Error> {
        let Some(path) = self.resolve(path)? else {
            return Ok(None);
        };
        let repo = self.lock();
        let tree = repo.find_commit(self.head)?.tree()?;
        let entry = match tree.get_path(std::path::Path::new(&path)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let blob = repo.find_blob(entry.id())?;
        Ok(std::str::from_utf8(blob.content()).ok().map(str::to_string))
    }

    /// The text of `path` in the fetched `commit` (not necessarily the
    /// head), that commit's message and its commit time (Unix seconds):
    /// what an earlier commit wrote, and when.
    pub fn read_at(
        &self,
        commit: Oid,
        path: &str,
    ) -> Result<(Option<String>, String, i64), git2::Error> {
        let repo = self.lock();
        let c = repo.find_commit(commit)?;
        let message = c.message().unwrap_or_default().to_string();
        let time = c.time().seconds();
        let Some(path) = resolve_in(&repo, commit, path)? else {
            return Ok((None, message, time));
        };
        let text = match c.tree()?.get_path(std::path::Path::new(&path)) {
            Ok(entry) => {
                let blob = repo.find_blob(entry.id())?;
                std::str::from_utf8(blob.content()).ok().map(str::to_string)
            }
            Err(e) if e.code() == ErrorCode::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok((text, message, time))
    }

    /// `path` with every symbolic link in it followed: the file a checkout
    /// of the head would open there, as a path in the repository. `Ok(None)`
    /// when it does not exist; an error for a link that leads outside the
    /// repository (absolute, or up past its root) or a loop.
    pub fn resolve(&self, path: &str) -> Result<Option<String>, git2::Error> {
        resolve_in(&self.lock(), self.head, path)
    }

    /// A commit on top of the head that writes `files` (path, text), made in
    /// memory. Not on any branch until pushed. A path that is a symbolic link
    /// writes its target, never replaces the link.
    pub fn commit(
        &self,
        files: &[(String, String)],
        message: &str,
        author: &Signature<'_>,
    ) -> Result<Oid, git2::Error> {
        let repo = self.lock();
        let parent = repo.find_commit(self.head)?;
        let mut tree = parent.tree()?.id();
        for (path, text) in files {
            let blob = repo.blob(text.as_bytes())?;
            let path = resolve_in(&repo, self.head, path)?.unwrap_or_else(|| path.clone());
            let parts = components(&path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            tree = write_path(&repo, Some(tree), &parts, blob)?;
        }
        let tree = repo.find_tree(tree)?;
        repo.commit(None, author, author, message, &tree, &[&parent])
    }

    /// The newest fetched commit whose message has the trailer `line`
    /// (e.g. `Assay-Experiment: 1a2b3c4d5e`), with its subject.
    pub fn find_trailer(&self, line: &str) -> Option<(Oid, String)> {
        self.find_trailers(&[line])
    }

    /// The newest fetched commit whose message has every one of `lines`,
    /// with its subject.
    pub fn find_trailers(&self, lines: &[&str]) -> Option<(Oid, String)> {
        let repo = self.lock();
        let mut walk = repo.revwalk().ok()?;
        walk.push(self.head).ok()?;
        for oid in walk.flatten() {
            // A shallow history ends where the fetched commits end.
            let Ok(commit) = repo.find_commit(oid) else {
                break;
            };
            let message = commit.message().unwrap_or_default();
            if lines
                .iter()
                .all(|line| message.lines().any(|l| l.trim() == *line))
            {
                return Some((
                    oid,
                    String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                        .into_owned(),
                ));
            }
        }
        None
    }
}

/// [`Snapshot::resolve`] in `repo` at `head`.
fn resolve_in(repo: &Repository, head: Oid, path: &str) -> Result<Option<String>, git2::Error> {
    let tree = repo.find_commit(head)?.tree()?;
    let mut todo: Vec<String> = components(path).into_iter().rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        done.push(part);
        let here = done.join("/");
        let entry = match tree.get_path(std::path::Path::new(&here)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if entry.filemode() != 0o120000 {
            continue;
        }
        hops += 1;
        let blob = repo.find_blob(entry.id())?;
        let target = String::from_utf8_lossy(blob.content()).into_owned();
        let outside = || {
            git2::Error::from_str(&format!(
                "{here} is a symbolic link to {target}, outside the repository; assay edits only files inside it"
            ))
        };
        if hops > 40 {
            return Err(git2::Error::from_str(&format!(
                "{path}: too many levels of symbolic links"
            )));
        }
        if target.starts_with('/') {
            return Err(outside());
        }
        done.pop();
        let mut joined = done.clone();
        for c in target.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    if joined.pop().is_none() {
                        return Err(outside());
                    }
                }
                c => joined.push(c.to_string()),
            }
        }
        // Re-walk the target: its own parts may be links too.
        todo.extend(joined.into_iter().rev());
        done.clear();
    }
    Ok(Some(done.join("/")))
}

/// A tree like `base` with `blob` at `parts`, sharing every other entry.
fn write_path(
    repo: &Repository,
    base: Option<Oid>,
    parts: &[&str],
    blob: Oid,
) -> Result<Oid, git2::Error> {
    let base = base.map(|t| repo.find_tree(t)).transpose()?;
    let mut builder = repo.treebuilder(base.as_ref())?;
    match parts {
        [] => Err(git2::Error::from_str("empty path")),
        [name] => {
            let mode = base
                .as_ref()
                .and_then(|t| t.get_name(name))
                .map_or(0o100644, |e| e.filemode());
            builder.insert(name, blob, mode)?;
            builder.write()
        }
        [dir, rest @ ..] => {
            let sub = base
                .as_ref()
                .and_then(|t| t.get_name(dir))
                .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
                .map(|e| e.id());
            let sub = write_path(repo, sub, rest, blob)?;
            builder.insert(dir, sub, 0o040000)?;
            builder.write()
        }
    }
}

/// The non-empty parts of a repository path.
fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}
