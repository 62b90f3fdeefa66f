//! Proposing a promoted winner in a next environment that lives in another
//! repository or branch (`promotion.next` entries with `repo`/`branch`).
//!
//! The winner is read from this environment's verdict commit itself (the
//! baseline it wrote), so nothing is proposed before the verdict is in Git,
//! and a reject, which writes no winner, proposes nothing. The proposal is the
//! edit `assay candidate set` makes ([`edit::receive_winner`]: queue rules,
//! refusal of a candidate that environment rejected), written as one commit
//! with trailers naming the source experiment, pushed as a fast-forward or
//! opened as a pull request. It is done at most once: a commit carrying the
//! trailers on the branch, or the open pull request from its branch, means it
//! is already there. Git transfers and retries are the write-back's
//! ([`writeback::retrying`]); this module only decides what to write.

use std::time::{Duration, Instant};

use super::edit::{self, EditError, Proposal, Proposed};
use super::forge::Forge;
use super::repo::{Remote, Snapshot};
use super::writeback::{self, HISTORY_DEPTH, WriteBackError};
use crate::runtime::Runtime;
use crate::spec::{self, ForgeChoice, Mode};

/// A promotion found in this environment's history: the verdict commit and
/// the winner it made the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// The experiment whose verdict it is.
    pub experiment: String,
    /// The branch it is on, as the remote names it (`HEAD` resolved).
    pub branch: String,
    /// The verdict commit.
    pub commit: String,
    /// When it was committed (Unix seconds): the winner serves from about then.
    pub committed_at: i64,
    /// `metadata.name` of the release.
    pub name: String,
    /// The winner, as the verdict commit's baseline.
    pub winner: Proposal,
}

/// Finds this experiment's verdict commit on `branch` and, if it promoted,
/// the winner it wrote into `path`. `None`: no verdict commit (not written
/// yet, or beyond [`HISTORY_DEPTH`]), or the verdict was not a promotion.
pub fn promoted(
    remote: &Remote,
    branch: &str,
    path: &str,
    experiment: &str,
) -> Result<Option<Promoted>, WriteBackError> {
    let snap = remote.fetch(branch, HISTORY_DEPTH)?;
    let Some((oid, _)) = snap.find_trailer(&writeback::trailer(experiment)) else {
        return Ok(None);
    };
    let file = |message: String| WriteBackError::File {
        path: path.to_string(),
        message,
    };
    let (text, message, committed_at) = snap
        .read_at(oid, path)
        .map_err(|e| file(e.message().into()))?;
    if !message
        .lines()
        .any(|l| l.trim() == "Assay-Verdict: promote")
    {
        return Ok(None);
    }
    let text = text.ok_or_else(|| file(format!("not in verdict commit {oid}")))?;
    let raw = spec::parse_raw(path, text.as_bytes()).map_err(|e| file(e.to_string()))?;
    let b = raw.spec.value.baseline.value;
    Ok(Some(Promoted {
        experiment: experiment.to_string(),
        branch: snap.branch.clone(),
        commit: oid.to_string(),
        committed_at,
        name: raw.metadata.value.name.value,
        winner: Proposal {
            version: b.version.value,
            image: b.image.value,
            env: b.env.unwrap_or_default(),
        },
    }))
}

/// Where and how one next environment receives the winner.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its branch (`HEAD`: the remote's default branch).
    pub branch: String,
    /// Its assay.yaml, from the repository root.
    pub path: String,
    /// A commit on the branch, or a pull request.
    pub mode: Mode,
    pub forge: ForgeChoice,
    pub api_url: Option<String>,
    /// Propose even a candidate it rejected before.
    pub force: bool,
    /// The soak: the pull request may be merged at this time (RFC 3339).
    pub not_before: Option<String>,
    /// This environment, as the commit message names it (no credentials).
    pub source: String,
    pub author_name: String,
    pub author_email: String,
    /// Give up retrying after this long.
    pub deadline: Duration,
}

/// What one proposal did; every one of these is success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The proposal commit was pushed to the branch.
    Committed { commit: String },
    /// A pull request carries it; `created` is false when it was open already.
    PullRequest { url: String, created: bool },
    /// A commit with these trailers is already on the branch.
    AlreadyPresent { commit: String },
    /// Nothing to write: the winner is already its candidate, queued, or its baseline.
    Unchanged,
    /// That environment rejected this candidate, and the entry has no `force`.
    Refused { reason: String },
}

/// The trailers that mark the proposal of `from` in the file at `path`.
pub fn trailers(from: &Promoted, path: &str) -> [String; 2] {
    [
        format!("Assay-Source-Experiment: {}", from.experiment),
        format!("Assay-Next-Path: {path}"),
    ]
}

/// Proposes `from.winner` in the next environment at `remote`, once, with
/// forge requests on `runtime`. `sleep` is injected so tests can run the
/// backoff without waiting (and the hook can cut it short on SIGTERM).
pub fn propose(
    remote: &Remote,
    target: &Target,
    from: &Promoted,
    runtime: &Runtime,
    mut sleep: impl FnMut(Duration),
) -> Result<Outcome, WriteBackError> {
    let forge = match target.mode {
        Mode::Push => None,
        Mode::PullRequest => Some(writeback::forge_for(
            remote,
            target.forge,
            target.api_url.as_deref(),
            runtime,
        )?),
    };
    let start = Instant::now();
    let remote = &remote.until(start + target.deadline);
    if let Some(f) = &forge {
        f.until(start + target.deadline);
    }
    let once = |_| try_once(remote, target, from, forge.as_ref());
    let (outcome, _) = writeback::retrying(start, target.deadline, &mut sleep, once)?;
    Ok(outcome)
}

fn try_once(
    remote: &Remote,
    target: &Target,
    from: &Promoted,
    forge: Option<&Forge>,
) -> Result<Outcome, WriteBackError> {
    let snap = remote.fetch(&target.branch, HISTORY_DEPTH)?;
    let [experiment, path_line] = trailers(from, &target.path);
    if let Some((oid, _)) = snap.find_trailers(&[&experiment, &path_line]) {
        return Ok(Outcome::AlreadyPresent {
            commit: oid.to_string(),
        });
    }
    let pr_branch = pr_branch(from, &target.path);
    if let Some(f) = forge
        && let Some(pr) = f.find_open(&pr_branch, &snap.branch)?
    {
        return Ok(Outcome::PullRequest {
            url: pr.url,
            created: false,
        });
    }
    let file = |message: String| WriteBackError::File {
        path: target.path.clone(),
        message,
    };
    let text = snap
        .read(&target.path)
        .map_err(|e| file(e.message().into()))?
        .ok_or_else(|| file(format!("does not exist on {}", snap.branch)))?;
    let edited = match edit::receive_winner(&text, &from.winner, target.force) {
        Ok((_, Proposed::Unchanged)) => return Ok(Outcome::Unchanged),
        Ok((text, _)) => text,
        Err(e @ (EditError::Rejected(_) | EditError::RejectedImage(_))) => {
            return Ok(Outcome::Refused {
                reason: e.to_string(),
            });
        }
        Err(error) => {
            return Err(WriteBackError::Edit {
                path: target.path.clone(),
                error,
            });
        }
    };
    let message = message(target, from);
    let author = git2::Signature::now(&target.author_name, &target.author_email)?;
    let commit = snap.commit(&[(target.path.clone(), edited)], &message, &author)?;
    let Some(f) = forge else {
        remote.push(&snap, commit, &snap.branch, false)?;
        return Ok(Outcome::Committed {
            commit: commit.to_string(),
        });
    };
    push_and_open(remote, f, &snap, commit, &pr_branch, &message)
}

/// The branch is this proposal's alone: rebuilding it is safe.
fn push_and_open(
    remote: &Remote,
    f: &Forge,
    snap: &Snapshot,
    commit: git2::Oid,
    pr_branch: &str,
    message: &str,
) -> Result<Outcome, WriteBackError> {
    remote.push(snap, commit, pr_branch, true)?;
    let (title, body) = message.split_once("\n\n").unwrap_or((message, ""));
    let (pr, created) = f.open(pr_branch, &snap.branch, title, body)?;
    Ok(Outcome::PullRequest {
        url: pr.url,
        created,
    })
}

/// `assay/next-<experiment>-<path as a name>`: one per source experiment and file.
pub fn pr_branch(from: &Promoted, path: &str) -> String {
    let slug: String = path
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("assay/next-{}-{slug}", from.experiment)
}

/// `assay: propose productpage v2 (promoted in <source>)`, why, then the trailers.
fn message(target: &Target, from: &Promoted) -> String {
    let w = &from.winner;
    let mut m = format!(
        "assay: propose {} {} (promoted in {})\n\n",
        from.name, w.version, target.source
    );
    m.push_str(&format!(
        "{} {} ({}) won experiment {} in {}: verdict commit {}.\n\n",
        from.name, w.version, w.image, from.experiment, target.source, from.commit
    ));
    if let Some(t) = &target.not_before {
        m.push_str(&format!(
            "Soak: merge no earlier than {t}, so the winner has served in {} that long.\n\n",
            target.source
        ));
    }
    let [experiment, path] = trailers(from, &target.path);
    m.push_str(&format!(
        "{experiment}\nAssay-Source-Commit: {}\n{path}\n",
        from.commit
    ));
    if let Some(t) = &target.not_before {
        m.push_str(&format!("Assay-Not-Before: {t}\n"));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Promoted {
        Promoted {
            experiment: "abc123".into(),
            branch: "main".into(),
            commit: "f00d".into(),
            committed_at: 0,
            name: "web".into(),
            winner: Proposal {
                version: "v2".into(),
                image: "web:2".into(),
                env: Default::default(),
            },
        }
    }

    #[test]
    fn pull_request_branches_are_per_experiment_and_file() {
        assert_eq!(
            pr_branch(&from(), "envs/prod/assay.yaml"),
            "assay/next-abc123-envs-prod-assay"
        );
        assert_ne!(
            pr_branch(&from(), "a/assay.yaml"),
            pr_branch(&from(), "b/assay.yaml")
        );
    }

    #[test]
    fn the_message_carries_the_trailers_the_check_looks_for() {
        let target = Target {
            branch: "main".into(),
            path: "assay.yaml".into(),
            mode: Mode::Push,
            forge: ForgeChoice::Auto,
            api_url: None,
            force: false,
            not_before: Some("2026-01-02T00:00:00Z".into()),
            source: "git://dev main assay.yaml".into(),
            author_name: "assay".into(),
            author_email: "assay@assay.dev".into(),
            deadline: Duration::from_secs(1),
        };
        let m = message(&target, &from());
        assert!(m.starts_with("assay: propose web v2 (promoted in git://dev main assay.yaml)\n\n"));
        for t in trailers(&from(), "assay.yaml") {
            assert!(m.lines().any(|l| l == t), "{m}");
        }
        assert!(m.contains("Assay-Source-Commit: f00d\n"), "{m}");
        assert!(
            m.contains("Assay-Not-Before: 2026-01-02T00:00:00Z\n"),
            "{m}"
        );
    }
}
