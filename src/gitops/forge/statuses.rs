//! Commit statuses: the verdict shown on the commit that proposed the
//! candidate, in the forge's UI, on its pull requests and CI dashboards.
//! One context per release, `assay/<release>`, set `pending` while the hook
//! judges and `success` / `failure` at the verdict, with a one-line summary
//! and a link to the verdict's pull request or commit.
//!
//! Which commit proposed the candidate: the oldest commit of the branch's
//! first-parent line whose `assay.yaml` still holds this experiment, the
//! newest commit being the branch head ([`proposing_commit`]). It is found
//! in a shallow fetch, cheaply: only commits that changed the file's blob
//! have it parsed again (tree lookups by path otherwise), and the history is
//! deepened only when the whole fetched line holds the experiment.
//!
//! The request shapes per forge live beside their pull requests
//! (`github.rs`, `gitlab.rs`, `gitea.rs`); this module says what a status
//! means and finds where it goes.

use git2::{ErrorCode, Oid};

use super::{Forge, ForgeError, ForgeKind, github, gitlab};
use crate::gitops::repo::Snapshot;

/// What the status says about the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitState {
    /// The hook is judging.
    Pending,
    /// Promoted.
    Success,
    /// Rejected.
    Failure,
    /// Superseded by a newer candidate: no verdict will come.
    Superseded,
}

/// One status to set on one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus<'a> {
    pub sha: &'a str,
    pub state: CommitState,
    /// `assay/<release>`: one status per release on a commit, replaced by each update.
    pub context: &'a str,
    /// One line; cut to [`DESCRIPTION_LIMIT`] characters.
    pub description: &'a str,
    /// Where the status links to: the pull request or verdict commit.
    pub target_url: Option<&'a str>,
}

/// GitHub refuses a longer description (422, "description is too long
/// (maximum is 140 characters)"); the others take more, but one line is the point.
pub const DESCRIPTION_LIMIT: usize = 140;

/// `text` on one line, at most [`DESCRIPTION_LIMIT`] characters (an ellipsis marks a cut).
pub fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= DESCRIPTION_LIMIT {
        return line;
    }
    let cut: String = line.chars().take(DESCRIPTION_LIMIT - 1).collect();
    format!("{}…", cut.trim_end())
}

impl Forge<'_> {
    /// Sets `status` on its commit. Setting the same state again is not an
    /// error (GitLab refuses a transition to the state a status already has).
    pub fn set_status(&self, status: &CommitStatus) -> Result<(), ForgeError> {
        let description = one_line(status.description);
        let status = CommitStatus {
            description: &description,
            ..status.clone()
        };
        self.runtime.block_on(async {
            match self.repo.kind {
                ForgeKind::Github | ForgeKind::Gitea => {
                    github::set_status(&self.api, &self.repo, &status).await
                }
                ForgeKind::Gitlab => match gitlab::set_status(&self.api, &self.repo, &status).await
                {
                    Err(e) if gitlab::same_state(&e) => Ok(()),
                    other => other,
                },
            }
        })
    }

    /// Where a person sees `sha` in a browser, from the Git URL of the repository.
    pub fn commit_url(&self, git_url: &str, sha: &str) -> Option<String> {
        let web = super::url::web_base(git_url, &self.repo)?;
        Some(match self.repo.kind {
            ForgeKind::Gitlab => format!("{web}/-/commit/{sha}"),
            ForgeKind::Github | ForgeKind::Gitea => format!("{web}/commit/{sha}"),
        })
    }
}

/// The body GitHub and Gitea both take: `{state, target_url, description, context}`.
#[derive(serde::Serialize)]
pub(super) struct NewStatus<'a> {
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_url: Option<&'a str>,
    description: &'a str,
    context: &'a str,
}

impl<'a> NewStatus<'a> {
    pub(super) fn new(state: &'a str, status: &CommitStatus<'a>) -> NewStatus<'a> {
        NewStatus {
            state,
            target_url: status.target_url,
            description: status.description,
            context: status.context,
        }
    }
}

/// What the first-parent line of `snap`, newest first, says about the
/// experiment: the commit that proposed it, or that the fetched history is
/// too short to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposer {
    /// This commit holds the experiment and its parent does not (or it has none).
    Found(Oid),
    /// Every fetched commit holds it: fetch deeper.
    Deeper,
    /// The head does not hold it (superseded, or another experiment).
    NotHeld,
}

/// The commit that proposed the experiment at `path`: walks the first-parent
/// line from the head; `holds(text)` says whether a version of the file
/// holds this experiment, and is asked once per distinct blob. `depth` is
/// how many commits were fetched: a line that long may be cut short.
pub fn proposing_commit(
    snap: &Snapshot,
    path: &str,
    depth: usize,
    holds: impl Fn(&str) -> bool,
) -> Result<Proposer, git2::Error> {
    let repo = snap.lock();
    let mut commit = repo.find_commit(snap.head)?;
    let mut last: Option<(Option<Oid>, bool)> = None;
    let mut newest_holding: Option<Oid> = None;
    for seen in 1.. {
        let blob = match commit.tree()?.get_path(std::path::Path::new(path)) {
            Ok(entry) => Some(entry.id()),
            Err(e) if e.code() == ErrorCode::NotFound => None,
            Err(e) => return Err(e),
        };
        let held = match last {
            Some((b, held)) if b == blob => held,
            _ => match blob {
                None => false,
                Some(id) => {
                    let blob = repo.find_blob(id)?;
                    std::str::from_utf8(blob.content()).is_ok_and(&holds)
                }
            },
        };
        last = Some((blob, held));
        match (held, newest_holding) {
            (false, None) => return Ok(Proposer::NotHeld),
            (false, Some(child)) => return Ok(Proposer::Found(child)),
            (true, _) => newest_holding = Some(commit.id()),
        }
        // A shallow history's last commit has no parent object here.
        match commit.parent(0) {
            Ok(parent) => commit = parent,
            Err(_) if seen >= depth && depth > 0 => return Ok(Proposer::Deeper),
            Err(_) => break,
        }
    }
    Ok(newest_holding.map_or(Proposer::NotHeld, Proposer::Found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_one_short_line() {
        assert_eq!(one_line("promote:\n  all  good"), "promote: all good");
        let long = "x".repeat(300);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), DESCRIPTION_LIMIT);
        assert!(cut.ends_with('…'));
    }
}
