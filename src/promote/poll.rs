//! Does Git still hold this experiment? Polled every look, cheaply: an
//! ls-remote of the branch, and only when its head moved a shallow fetch of
//! the one file, whose experiment id is recomputed from its text.

use git2::Oid;

use crate::gitops::repo::{GitError, Remote};
use crate::gitops::writeback;
use crate::spec;

/// The env repo as the hook watches it.
pub struct RepoPoll<'a> {
    pub remote: &'a Remote,
    pub branch: &'a str,
    pub path: &'a str,
    pub id: &'a str,
    seen: Option<Oid>,
}

/// What the file at the branch head says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Still this experiment (or unchanged since the last look).
    Ours,
    /// Another experiment, or none (`None`: no candidate, or no file).
    Other(Option<String>),
    /// This experiment's verdict commit is already on the branch (a re-run
    /// after a successful write-back).
    Delivered(String),
}

impl<'a> RepoPoll<'a> {
    pub fn new(remote: &'a Remote, branch: &'a str, path: &'a str, id: &'a str) -> RepoPoll<'a> {
        RepoPoll {
            remote,
            branch,
            path,
            id,
            seen: None,
        }
    }

    /// One poll. A file that does not parse is not taken as a supersession:
    /// the write-back re-checks and refuses to edit it anyway.
    pub fn check(&mut self) -> Result<Held, GitError> {
        let head = self.remote.head(self.branch)?;
        if head.is_some() && head == self.seen {
            return Ok(Held::Ours);
        }
        let Some(_) = head else {
            return Ok(Held::Other(None));
        };
        let snap = self.remote.fetch(self.branch, 1)?;
        let text = snap.read(self.path).map_err(|e| GitError {
            url: self.remote.shown(),
            kind: crate::gitops::repo::GitErrorKind::Other(e.message().to_string()),
        })?;
        self.seen = head;
        let held = match text.map(|t| spec::parse_raw(self.path, t.as_bytes())) {
            None => Held::Other(None),
            Some(Ok(raw)) if raw.spec.value.candidate.is_none() => Held::Other(None),
            Some(Ok(raw)) => {
                let id = spec::experiment_id(&raw);
                if id == self.id {
                    Held::Ours
                } else {
                    Held::Other(Some(id))
                }
            }
            Some(Err(_)) => Held::Ours,
        };
        if held == Held::Ours {
            return Ok(held);
        }
        // Gone from the file: superseded, unless our own verdict took it.
        let history = self.remote.fetch(self.branch, writeback::HISTORY_DEPTH)?;
        Ok(match history.find_trailer(&writeback::trailer(self.id)) {
            Some((oid, _)) => Held::Delivered(oid.to_string()),
            None => held,
        })
    }
}
