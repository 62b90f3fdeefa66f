//! Delivering a verdict to the env repository: fetch the branch, check that
//! `assay.yaml` there still holds this experiment, apply the verdict (and
//! hand the winner to `promotion.next` environments) as one commit, and push
//! it as a fast-forward of what was fetched. When another writer got there
//! first, re-fetch, re-check and re-apply, with jittered exponential backoff
//! under an overall deadline. Every outcome is idempotent: a commit carrying
//! this experiment's trailer means the work is already done.

use crate::crd::Verdict;
use crate::runtime::Runtime;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use super::edit::{self, Applied, Proposal, Proposed, VerdictEdit};
use super::forge::{Forge, ForgeError, ForgeRepo};
use super::repo::{GitError, GitErrorKind, Remote, Snapshot};
use crate::spec::{ForgeChoice, Mode};

/// History searched for an earlier verdict commit of this experiment.
pub const HISTORY_DEPTH: i32 = 200;

/// Who commits, and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// Branch to write (`HEAD`: the remote's default branch).
    pub branch: String,
    /// Path of the `assay.yaml` in the repository.
    pub path: String,
    /// The experiment id the verdict belongs to.
    pub experiment: String,
    pub verdict: VerdictEdit,
    /// Markdown evidence for the commit body (and pull request).
    pub evidence: String,
    pub author_name: String,
    pub author_email: String,
    /// Give up retrying after this long.
    pub deadline: Duration,
    /// Push to the branch, or open a pull request from `assay/<name>-<id>`.
    pub mode: Mode,
    /// In pull-request mode, how a reject goes: `Push` straight to the
    /// branch (falling back to a pull request if the server refuses it), or
    /// `PullRequest` like a promotion.
    pub reject: Mode,
    /// Which forge hosts the repository (pull-request mode).
    pub forge: ForgeChoice,
    /// The forge's API base URL, for GitHub Enterprise and self-hosted forges.
    pub api_url: Option<String>,
}

/// What happened; every one of these is success for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The verdict commit was pushed.
    Written { commit: String, attempts: u32 },
    /// The verdict is on `assay/<name>-<id>` with a pull request open;
    /// `created` is false when it was already open. `push_refused` holds the
    /// server's answer when a reject was to be pushed directly and the
    /// server refused it (branch protection), so a pull request was opened
    /// instead.
    PullRequest {
        url: String,
        created: bool,
        push_refused: Option<String>,
    },
    /// A commit with this experiment's trailer is already on the branch.
    AlreadyPresent { commit: String },
    /// The file no longer holds this experiment: nothing to write.
    Superseded { found: Option<String> },
}

/// Why the verdict could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteBackError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// `error`, not `source`: see [`super::local::LocalError::Edit`].
    #[error("{path}: {error}")]
    Edit {
        path: String,
        error: edit::EditError,
    },
    #[error(transparent)]
    Forge(#[from] ForgeError),
    #[error(
        "pull-request mode needs an API token: put `token` (or username and password) in the credentials Secret"
    )]
    NoToken,
    /// A direct reject was refused and no pull request could be opened.
    #[error("{refused}; and no pull request could be opened instead: {forge}")]
    PushRefused { refused: String, forge: String },
    #[error("gave up after {attempts} attempts in {seconds}s: {last}")]
    Deadline {
        attempts: u32,
        seconds: u64,
        last: String,
    },
}

impl WriteBackError {
    /// Failures that another attempt, after a re-fetch, may get past.
    fn retryable(&self) -> bool {
        match self {
            WriteBackError::Git(e) => e.is_retryable(),
            WriteBackError::Forge(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl From<git2::Error> for WriteBackError {
    fn from(e: git2::Error) -> Self {
        WriteBackError::Git(GitError {
            url: String::new(),
            kind: GitErrorKind::Other(e.message().to_string()),
        })
    }
}

/// The trailer that marks this experiment's verdict commit.
pub fn trailer(experiment: &str) -> String {
    format!("Assay-Experiment: {experiment}")
}

impl Outcome {
    /// One line saying where the verdict went; `path` is the spec's path.
    pub fn summary(&self, path: &str) -> String {
        match self {
            Outcome::Written { commit, attempts } => {
                format!("verdict written: {commit} (attempt {attempts})")
            }
            Outcome::PullRequest {
                url, created: true, ..
            } => format!("pull request opened: {url}"),
            Outcome::PullRequest {
                url,
                created: false,
                ..
            } => format!("verdict already present: pull request {url} is open"),
            Outcome::AlreadyPresent { commit } => format!("verdict already present: {commit}"),
            Outcome::Superseded { found: Some(id) } => {
                format!("superseded: {path} now holds experiment {id}; nothing written")
            }
            Outcome::Superseded { found: None } => {
                format!("superseded: {path} holds no candidate; nothing written")
            }
        }
    }
}

/// The edit a verdict makes to `assay.yaml`; `reason` is recorded with a
/// rejection. Nothing for a superseded experiment: there is nothing to write.
pub fn edit_for(verdict: Verdict, reason: &str) -> Option<VerdictEdit> {
    match verdict {
        Verdict::Promote => Some(VerdictEdit::Promote),
        Verdict::Reject => Some(VerdictEdit::Reject {
            reason: reason.to_string(),
            date: today(),
        }),
        Verdict::Superseded => None,
    }
}

/// Runs the write-back until it is done, superseded, or the deadline passes,
/// with forge requests on `runtime`. `sleep` is injected so tests can run the
/// backoff without waiting (and the hook can cut it short on SIGTERM).
pub fn write_back(
    remote: &Remote,
    req: &Request,
    runtime: &Runtime,
    sleep: impl FnMut(Duration),
) -> Result<Outcome, WriteBackError> {
    write_back_with(remote, req, runtime, sleep, |_| {})
}

/// [`write_back`], calling `before_push(attempt)` between building the
/// commit and pushing it: the moment another writer can race us, which
/// tests use to make that race happen deterministically.
pub fn write_back_with(
    remote: &Remote,
    req: &Request,
    runtime: &Runtime,
    mut sleep: impl FnMut(Duration),
    mut before_push: impl FnMut(u32),
) -> Result<Outcome, WriteBackError> {
    let forge_setup = || forge_for(remote, req.forge, req.api_url.as_deref(), runtime);
    // A direct reject needs the forge only to find an earlier pull request
    // and to fall back to one: without it, the push alone is tried.
    let (forge, forge_error) = match req.mode {
        Mode::Push => (None, None),
        Mode::PullRequest if direct_reject(req) => match forge_setup() {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Mode::PullRequest => (Some(forge_setup()?), None),
    };
    let start = Instant::now();
    // Every transfer ends by the deadline: a stalled one is abandoned.
    let remote = &remote.until(start + req.deadline);
    if let Some(f) = &forge {
        f.until(start + req.deadline);
    }
    // The fetched repository, kept across attempts: a retry fetches only
    // what the other writer added.
    let mut cache: Option<Snapshot> = None;
    let once = |attempt: u32| {
        let forge = ForgeSide {
            forge: forge.as_ref(),
            error: forge_error.as_deref(),
        };
        try_once(remote, req, forge, &mut cache, &mut || before_push(attempt))
    };
    match retrying(start, req.deadline, &mut sleep, once)? {
        (Outcome::Written { commit, .. }, attempts) => Ok(Outcome::Written { commit, attempts }),
        (other, _) => Ok(other),
    }
}

/// Calls `attempt(n)` (n = 1, 2, ...) until it succeeds or fails for good:
/// a retryable failure is tried again after a backoff wait, while the
/// deadline (counted from `start`) allows. Returns the value and the attempts.
pub(crate) fn retrying<T>(
    start: Instant,
    deadline: Duration,
    sleep: &mut dyn FnMut(Duration),
    mut attempt: impl FnMut(u32) -> Result<T, WriteBackError>,
) -> Result<(T, u32), WriteBackError> {
    let mut n = 0;
    loop {
        n += 1;
        match attempt(n) {
            Ok(v) => return Ok((v, n)),
            Err(e) if e.retryable() => {
                let wait = backoff(n);
                if start.elapsed() + wait > deadline {
                    return Err(WriteBackError::Deadline {
                        attempts: n,
                        seconds: start.elapsed().as_secs(),
                        last: e.to_string(),
                    });
                }
                sleep(wait);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The forge client for `remote`, authenticated with its credentials' token.
pub(crate) fn forge_for<'rt>(
    remote: &Remote,
    forge: ForgeChoice,
    api_url: Option<&str>,
    runtime: &'rt Runtime,
) -> Result<Forge<'rt>, WriteBackError> {
    let repo = ForgeRepo::from_url(remote.url(), forge, api_url)?;
    let token = remote
        .credentials()
        .api_token()
        .ok_or(WriteBackError::NoToken)?;
    Ok(Forge::new(repo, token, runtime)?)
}

/// 200 ms doubling to 5 s, each wait drawn from its upper half so that
/// writers who collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (200u64 << attempt.min(5).saturating_sub(1)).min(5_000);
    Duration::from_millis(ceiling / 2 + jitter() % (ceiling / 2 + 1))
}

/// Cheap randomness for jitter: the clock's nanoseconds mixed with the pid.
fn jitter() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32);
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
}

/// A reject pushed straight to the branch in pull-request mode.
fn direct_reject(req: &Request) -> bool {
    req.mode == Mode::PullRequest
        && req.reject == Mode::Push
        && matches!(req.verdict, VerdictEdit::Reject { .. })
}

/// The forge client, or why there is none (a direct reject goes without).
#[derive(Clone, Copy)]
struct ForgeSide<'a> {
    forge: Option<&'a Forge<'a>>,
    error: Option<&'a str>,
}

fn try_once(
    remote: &Remote,
    req: &Request,
    forge2: ForgeSide,
    cache: &mut Option<Snapshot>,
    before_push: &mut dyn FnMut(),
) -> Result<Outcome, WriteBackError> {
    let forge = forge2.forge;
    let snap = match cache.take() {
        Some(old) => remote.refresh(old, 1)?,
        None => remote.fetch(&req.branch, 1)?,
    };
    let snap = &*cache.insert(snap);
    let file = |message: String| WriteBackError::File {
        path: req.path.clone(),
        message,
    };
    // A symbolic link is followed to its target, as a checkout would.
    let target = snap
        .resolve(&req.path)
        .map_err(|e| file(e.message().into()))?;
    let Some(text) = target
        .as_deref()
        .map(|p| snap.read(p))
        .transpose()?
        .flatten()
    else {
        return already_or_superseded(remote, req, None);
    };
    let (name, winner) = name_and_candidate(&text);
    let pr_branch = format!("assay/{name}-{}", req.experiment);
    // An open pull request for this experiment: the verdict is delivered.
    let open = match forge.map(|f| f.find_open(&pr_branch, &snap.branch)) {
        None => None,
        Some(Ok(found)) => found,
        // A direct reject does not wait for the forge: the push decides,
        // and only a refused push needs the forge again.
        Some(Err(_)) if direct_reject(req) => None,
        Some(Err(e)) => return Err(e.into()),
    };
    if let Some(pr) = open {
        return Ok(Outcome::PullRequest {
            url: pr.url,
            created: false,
            push_refused: None,
        });
    }
    let applied = edit::apply_verdict(&text, &req.experiment, &req.verdict).map_err(|error| {
        WriteBackError::Edit {
            path: req.path.clone(),
            error,
        }
    })?;
    let (new_text, next) = match applied {
        Applied::Superseded { found } => return already_or_superseded(remote, req, found),
        Applied::Changed { text, next } => (text, next),
    };
    let mut files = vec![(req.path.clone(), new_text)];
    if let (VerdictEdit::Promote, Some(winner)) = (&req.verdict, &winner) {
        for n in &next {
            let path = beside(&req.path, n)
                .ok_or_else(|| file(format!("promotion.next {n:?} leaves the repository")))?;
            let Some(other) = snap.read(&path).map_err(|e| file(e.message().into()))? else {
                return Err(file(format!(
                    "promotion.next {path} does not exist on {}",
                    snap.branch
                )));
            };
            match edit::receive_winner(&other, winner, false).map_err(|error| {
                WriteBackError::Edit {
                    path: path.clone(),
                    error,
                }
            })? {
                (_, Proposed::Unchanged) => {}
                (text, _) => files.push((path, text)),
            }
        }
    }
    let message = message(req, &name, winner.as_ref());
    let author = git2::Signature::now(&req.author_name, &req.author_email)?;
    let commit = snap.commit(&files, &message, &author)?;
    before_push();
    let direct = forge.is_none() || direct_reject(req);
    let push_refused = if direct {
        match remote.push(snap, commit, &snap.branch, false) {
            Ok(()) => {
                return Ok(Outcome::Written {
                    commit: commit.to_string(),
                    attempts: 1,
                });
            }
            // Refused (a protected branch, a pre-receive hook): a person
            // must let it in, so propose it, unless this is push mode.
            Err(e) if req.mode == Mode::PullRequest && refused(&e) => Some(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let Some(f) = forge else {
        return Err(WriteBackError::PushRefused {
            refused: push_refused.unwrap_or_default(),
            forge: forge2.error.unwrap_or("no forge client").to_string(),
        });
    };
    // The branch is this experiment's alone: rebuilding it is safe.
    remote.push(snap, commit, &pr_branch, true)?;
    let (title, body) = message.split_once("\n\n").unwrap_or((&message, ""));
    let (pr, created) = f.open(&pr_branch, &snap.branch, title, body)?;
    Ok(Outcome::PullRequest {
        url: pr.url,
        created,
        push_refused,
    })
}

/// The server refused the update itself (not a race, not a fault).
pub(crate) fn refused(e: &GitError) -> bool {
    matches!(e.kind, GitErrorKind::Rejected(_))
}

/// The file no longer holds the experiment: either our verdict is already on
/// the branch (a re-run after a crash), or Git moved on without it.
fn already_or_superseded(
    remote: &Remote,
    req: &Request,
    found: Option<String>,
) -> Result<Outcome, WriteBackError> {
    let deep: Snapshot = remote.fetch(&req.branch, HISTORY_DEPTH)?;
    Ok(match deep.find_trailer(&trailer(&req.experiment)) {
        Some((oid, _)) => Outcome::AlreadyPresent {
            commit: oid.to_string(),
        },
        None => Outcome::Superseded { found },
    })
}

/// What the verdict needs from the file before it is edited, read in one
/// parse: `metadata.name` (branch names, subjects) and the candidate (the
/// winner handed to `promotion.next`).
fn name_and_candidate(text: &str) -> (String, Option<Proposal>) {
    let Ok(raw) = crate::spec::parse_raw("assay.yaml", text.as_bytes()) else {
        return ("release".into(), None);
    };
    let candidate = raw.spec.value.candidate.map(|c| c.value).map(|c| Proposal {
        version: c.version.value,
        image: c.image.value,
        env: c.env.unwrap_or_default(),
    });
    (raw.metadata.value.name.value, candidate)
}

/// `assay: promote productpage v2`, the evidence, then the trailers.
fn message(req: &Request, name: &str, winner: Option<&Proposal>) -> String {
    let (verb, verdict) = match req.verdict {
        VerdictEdit::Promote => ("promote", "promote"),
        VerdictEdit::Reject { .. } => ("reject", "reject"),
    };
    let version = winner
        .map(|w| format!(" {}", w.version))
        .unwrap_or_default();
    let mut m = format!("assay: {verb} {name}{version}\n\n");
    if let VerdictEdit::Reject { reason, .. } = &req.verdict {
        m.push_str(&format!("Reason: {reason}\n\n"));
    }
    if !req.evidence.trim().is_empty() {
        m.push_str(req.evidence.trim_end());
        m.push_str("\n\n");
    }
    m.push_str(&format!(
        "{}\nAssay-Verdict: {verdict}\n",
        trailer(&req.experiment)
    ));
    m
}

/// `next` (relative to the directory of `path`) as a repository path.
fn beside(path: &str, next: &str) -> Option<String> {
    let mut out = PathBuf::new();
    let dir = Path::new(path).parent().unwrap_or(Path::new(""));
    for c in dir.join(next).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_paths_resolve_inside_the_repository() {
        assert_eq!(
            beside("envs/dev/assay.yaml", "../prod/assay.yaml").as_deref(),
            Some("envs/prod/assay.yaml")
        );
        assert_eq!(
            beside("assay.yaml", "prod/assay.yaml").as_deref(),
            Some("prod/assay.yaml")
        );
        assert_eq!(beside("assay.yaml", "../x.yaml"), None);
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        for attempt in 1..20 {
            let b = backoff(attempt);
            assert!(b <= Duration::from_secs(5), "{b:?}");
            assert!(b >= Duration::from_millis(100), "{b:?}");
        }
    }
}

/// Today's date in UTC as `YYYY-MM-DD`, for the `rejected` record.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_date(secs / 86_400)
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_date(0), "1970-01-01");
        assert_eq!(super::civil_date(20_413), "2025-11-21");
        assert_eq!(super::civil_date(11_016), "2000-02-29");
    }
}
