//! Delivering a recorded verdict: the write-back, then where it went
//! (commit or pull request) in the status and an Event. The reason and the
//! evidence come from what was recorded, so a restarted hook delivers
//! exactly what was judged. Once the verdict is in Git, Argo CD is asked to
//! refresh the Application so it acts on it in seconds, not minutes.

use super::status::{Status, StatusWriter};
use super::{Finished, Options, PromoteError};
use crate::argocd::{self, Target};
use crate::crd::{Phase, Verdict};
use crate::gitops::credentials;
use crate::gitops::repo::Remote;
use crate::gitops::writeback::{self, Outcome};

/// What was judged, as recorded in the status.
pub(super) struct Recorded<'a> {
    pub verdict: Verdict,
    pub reason: &'a str,
    /// The evidence table for the commit body.
    pub evidence: String,
}

/// Writes the recorded verdict to Git and records where it went.
pub(super) fn deliver(
    rec: &StatusWriter,
    remote: &Remote,
    opts: &Options,
    what: Recorded,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let Recorded {
        verdict,
        reason,
        evidence,
    } = what;
    let spec = &rec.experiment.spec;
    let wb = &spec.write_back;
    let Some(edit) = writeback::edit_for(verdict, reason) else {
        return Ok(Finished::Nothing("the experiment was superseded".into()));
    };
    let req = writeback::Request {
        branch: wb.repo.branch.clone(),
        path: wb.repo.path.clone(),
        experiment: spec.id.clone(),
        verdict: edit,
        evidence,
        author_name: wb.author.name.clone(),
        author_email: wb.author.email.clone(),
        deadline: opts.git_deadline,
        mode: wb.repo.mode,
        reject: wb.reject,
        forge: wb.repo.forge,
        api_url: wb.repo.api_url.clone(),
    };
    // Backoff waits end early on SIGTERM; an attempt in flight completes
    // (it is all-or-nothing), and a re-run resumes.
    let sleep = |d| {
        rec.runtime.sleep(d);
    };
    // While the branch head still names the proposing commit.
    rec.commit_statuses.prepare(log);
    let outcome = match writeback::write_back(remote, &req, rec.runtime, sleep) {
        Ok(o) => o,
        Err(e) => {
            let message = format!("verdict {verdict} recorded, but the write-back failed: {e}");
            // Best effort: the error itself is what the Job reports.
            let _ = rec.status(&Status {
                phase: Some(Phase::Failed),
                message: Some(message.clone()),
                ..Status::default()
            });
            rec.event(true, "WriteBack", "Failed", &message);
            return Err(e.into());
        }
    };
    let mut status = Status {
        phase: Some(Phase::Completed),
        ..Status::default()
    };
    let (reason_word, note) = match &outcome {
        Outcome::Written { commit, .. } | Outcome::AlreadyPresent { commit } => {
            status.commit = Some(commit.clone());
            status.delivered_at = Some(crate::judge::now().to_string());
            (
                "Committed",
                format!("verdict {verdict} committed as {commit}"),
            )
        }
        Outcome::PullRequest {
            url,
            push_refused: Some(refused),
            ..
        } => {
            status.pull_request = Some(url.clone());
            status.delivered_at = Some(crate::judge::now().to_string());
            let note = format!(
                "verdict {verdict} could not be pushed directly ({refused}): proposed in {url} instead"
            );
            rec.event(true, "WriteBack", "PushRefused", &note);
            ("PullRequestOpened", note)
        }
        Outcome::PullRequest { url, .. } => {
            status.pull_request = Some(url.clone());
            status.delivered_at = Some(crate::judge::now().to_string());
            (
                "PullRequestOpened",
                format!("verdict {verdict} proposed in {url}"),
            )
        }
        Outcome::Superseded { found } => {
            status.verdict = Some(Verdict::Superseded);
            let what = found.clone().unwrap_or_else(|| "no experiment".into());
            (
                "Superseded",
                format!("verdict {verdict} not written: the env repo now holds {what}"),
            )
        }
    };
    let (commit, pull_request) = (status.commit.clone(), status.pull_request.clone());
    let judged = status.verdict.unwrap_or(verdict);
    let summary = match judged {
        Verdict::Superseded => note.as_str(),
        _ => reason,
    };
    rec.commit_statuses.verdict(
        judged,
        summary,
        commit.as_deref(),
        pull_request.as_deref(),
        log,
    );
    status.message = Some(format!("{note} ({reason})"));
    rec.status(&status)?;
    rec.event(false, "WriteBack", reason_word, &note);
    log(&note);
    if let Outcome::Superseded { found } = outcome {
        return Ok(Finished::Superseded { found });
    }
    refresh_argocd(rec, opts, log);
    match (&outcome, verdict) {
        (Outcome::Written { .. } | Outcome::AlreadyPresent { .. }, Verdict::Promote) => {
            super::next::propose_next(rec, remote, opts, log)?;
        }
        (Outcome::PullRequest { .. }, Verdict::Promote)
            if !spec.write_back.next_environments.is_empty() =>
        {
            log(
                "next environments are proposed once the verdict is in Git: a pull request is not (docs/soak.md)",
            );
        }
        _ => {}
    }
    Ok(Finished::Delivered {
        verdict,
        reason: reason.to_string(),
        outcome,
    })
}

/// Asks Argo CD to refresh the Application, so the verdict is synced as soon
/// as the hook ends. Optional and best effort: without a server URL or an
/// `argocdToken` it is skipped, and a failure is one log line, never the
/// hook's failure. The token reaches only the request header.
fn refresh_argocd(rec: &StatusWriter, opts: &Options, log: &dyn Fn(&str)) {
    let spec = &rec.experiment.spec;
    let Some(server) = spec.write_back.argocd_server.as_deref() else {
        log(
            "Argo CD refresh skipped: no server set (spec.promotion.argocd.server, the argocd-server parameter or ARGOCD_SERVER plugin env)",
        );
        return;
    };
    let token = match credentials::argocd_token(&opts.credentials) {
        Ok(Some(t)) => t,
        Ok(None) => {
            log(&format!(
                "Argo CD refresh skipped: no {} in the credentials Secret",
                credentials::ARGOCD_TOKEN
            ));
            return;
        }
        Err(e) => {
            log(&format!("Argo CD refresh skipped: {e}"));
            return;
        }
    };
    let target = Target {
        server,
        app: &spec.application.name,
        app_namespace: spec.application.namespace.as_deref(),
    };
    let asked = crate::judge::now().to_string();
    let requested = match rec.runtime.block_on(argocd::refresh(&target, &token)) {
        Ok(()) => {
            log(&format!(
                "Argo CD refreshed application {}",
                spec.application.name
            ));
            true
        }
        Err(e) => {
            log(&format!(
                "warning: {e}; Argo CD will notice the verdict when it next polls the repository"
            ));
            // Argo CD answers only once the refresh is done: a request
            // that timed out after reaching it stands.
            matches!(e.kind, argocd::RefreshErrorKind::Timeout(_))
        }
    };
    if requested {
        // The timeline's last step; the verdict is delivered whatever this does.
        let _ = rec.status(&Status {
            refreshed_at: Some(asked),
            ..Status::default()
        });
    }
}
