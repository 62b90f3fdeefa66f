//! After a promotion is in this environment's Git: propose the winner in
//! each next environment that lives in another repository or branch
//! (`writeBack.nextEnvironments`), each with its own credentials, and record
//! every outcome in `status.next`.
//!
//! Safe to run any number of times, from any point: the winner is read from
//! the verdict commit (none yet, or a reject: nothing is proposed), and each
//! proposal is skipped when its trailers or its open pull request are already
//! there. A failure in one environment does not stop the others nor touch
//! the verdict; it fails the hook, so the Job runs it again and the re-run
//! completes only what is missing.

use std::path::{Path, PathBuf};

use super::status::{Status, StatusWriter};
use super::{Options, PromoteError};
use crate::crd::{NextEnvironment, NextOutcome, NextStatus, Phase};
use crate::gitops::credentials::{Credentials, redact_url};
use crate::gitops::propose::{self, Outcome, Promoted, Target};
use crate::gitops::repo::Remote;

/// Proposes the winner of this experiment's promotion in every next
/// environment; an error when any of them is still missing.
pub(super) fn propose_next(
    rec: &StatusWriter,
    remote: &Remote,
    opts: &Options,
    log: &dyn Fn(&str),
) -> Result<(), PromoteError> {
    let spec = &rec.experiment.spec;
    let wb = &spec.write_back;
    if wb.next_environments.is_empty() {
        return Ok(());
    }
    let Some(from) = propose::promoted(remote, &wb.repo.branch, &wb.repo.path, &spec.id)? else {
        log(&format!(
            "no promotion by experiment {} on {}: nothing to propose to the next environments",
            spec.id, wb.repo.branch
        ));
        return Ok(());
    };
    let source = environment(&wb.repo.url, &from.branch, &wb.repo.path);
    let mut list = Vec::new();
    for n in &wb.next_environments {
        let st = one(rec, n, &from, &source, opts);
        let shown = describe(&st);
        log(&format!("next environment {}: {shown}", st.environment));
        let warning = st.outcome == NextOutcome::Failed;
        rec.event(warning, "ProposeNext", outcome_word(st.outcome), &shown);
        list.push(st);
    }
    let missing: Vec<String> = list
        .iter()
        .filter(|s| s.outcome == NextOutcome::Failed)
        .map(|s| format!("{} ({})", s.environment, s.message.as_deref().unwrap_or("")))
        .collect();
    let mut status = Status {
        next: list,
        ..Status::default()
    };
    if missing.is_empty() {
        status.phase = Some(Phase::Completed);
        rec.status(&status)?;
        return Ok(());
    }
    let detail = missing.join("; ");
    status.phase = Some(Phase::Failed);
    status.message = Some(format!(
        "verdict promote committed as {}, but not yet proposed in: {detail}; a re-run of the hook completes it",
        from.commit
    ));
    rec.status(&status)?;
    Err(PromoteError::NextMissing {
        count: missing.len(),
        detail,
    })
}

/// An environment as status and logs name it: repository (credentials
/// redacted), branch and path.
fn environment(url: &str, branch: &str, path: &str) -> String {
    format!("{} {branch} {path}", redact_url(url))
}

/// One next environment, as its status entry.
fn one(
    rec: &StatusWriter,
    n: &NextEnvironment,
    from: &Promoted,
    source: &str,
    opts: &Options,
) -> NextStatus {
    let wb = &rec.experiment.spec.write_back;
    let mut st = NextStatus {
        environment: environment(&n.repo.url, &n.repo.branch, &n.repo.path),
        outcome: NextOutcome::Failed,
        commit: None,
        pull_request: None,
        message: None,
    };
    let dir = credentials_dir(
        &opts.credentials,
        &wb.repo.credentials_secret,
        &n.repo.credentials_secret,
    );
    let creds = match Credentials::from_dir(&dir) {
        Ok(c) => c,
        Err(e) => {
            st.message = Some(e.to_string());
            return st;
        }
    };
    let target = Target {
        branch: n.repo.branch.clone(),
        path: n.repo.path.clone(),
        mode: n.repo.mode,
        forge: n.repo.forge,
        api_url: n.repo.api_url.clone(),
        force: n.force,
        not_before: n.after_seconds.and_then(|s| {
            let at = from.committed_at.saturating_add(i64::try_from(s).ok()?);
            k8s_openapi::jiff::Timestamp::from_second(at)
                .ok()
                .map(|t| t.to_string())
        }),
        source: source.to_string(),
        author_name: wb.author.name.clone(),
        author_email: wb.author.email.clone(),
        deadline: opts.git_deadline,
    };
    let remote = Remote::new(&n.repo.url, creds);
    // Backoff waits end early on SIGTERM; the re-run completes the rest.
    let sleep = |d| {
        rec.runtime.sleep(d);
    };
    match propose::propose(&remote, &target, from, rec.runtime, sleep) {
        Ok(Outcome::Committed { commit } | Outcome::AlreadyPresent { commit }) => {
            st.outcome = NextOutcome::Proposed;
            st.commit = Some(commit);
        }
        Ok(Outcome::PullRequest { url, .. }) => {
            st.outcome = NextOutcome::Proposed;
            st.pull_request = Some(url);
        }
        Ok(Outcome::Unchanged) => {
            st.outcome = NextOutcome::Unchanged;
            st.message = Some(format!(
                "{} is already its candidate, queued or its baseline",
                from.winner.version
            ));
        }
        Ok(Outcome::Refused { reason }) => {
            st.outcome = NextOutcome::Refused;
            st.message = Some(format!(
                "{reason}; set force on the entry to propose it again"
            ));
        }
        Err(e) => st.message = Some(e.to_string()),
    }
    st
}

/// The mounted Secret of a next environment: this environment's own
/// directory when it shares the Secret, else `<parent>/next/<secret>`
/// (`render::hook::NEXT_CREDENTIALS_DIR` beside `CREDENTIALS_DIR`).
fn credentials_dir(own: &Path, own_secret: &str, secret: &str) -> PathBuf {
    if secret == own_secret {
        return own.to_path_buf();
    }
    own.parent()
        .unwrap_or(Path::new("."))
        .join("next")
        .join(secret)
}

fn outcome_word(o: NextOutcome) -> &'static str {
    match o {
        NextOutcome::Proposed => "Proposed",
        NextOutcome::Unchanged => "Unchanged",
        NextOutcome::Refused => "Refused",
        NextOutcome::Failed => "Failed",
    }
}

/// One line for the log and the Event.
fn describe(s: &NextStatus) -> String {
    match (s.outcome, &s.commit, &s.pull_request) {
        (NextOutcome::Proposed, Some(c), _) => format!("proposed in commit {c}"),
        (NextOutcome::Proposed, _, Some(pr)) => format!("proposed in {pr}"),
        (o, _, _) => format!(
            "{}: {}",
            outcome_word(o).to_lowercase(),
            s.message.as_deref().unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_its_own_is_read_beside_this_one() {
        let own = Path::new("/var/run/secrets/assay/git");
        assert_eq!(credentials_dir(own, "assay-git", "assay-git"), own);
        assert_eq!(
            credentials_dir(own, "assay-git", "prod-git"),
            // render::hook mounts it there.
            Path::new("/var/run/secrets/assay/next/prod-git")
        );
    }
}
