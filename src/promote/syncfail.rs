//! The SyncFail hook: when a sync-phase object turned Degraded, Argo CD
//! fails the sync and PostSync never runs. If that object is the candidate
//! (its Deployment passed its progress deadline) or the load generator (its
//! Job failed), the candidate is rejected with that reason; any other
//! failure is not the candidate's and is left alone. Re-runs (Argo CD
//! retries syncs) find the verdict in the status and only finish delivery.

use super::deliver::{Recorded, deliver};
use super::status::{Status, StatusWriter};
use super::{Finished, Options, PromoteError};
use crate::crd::{Phase, Verdict};
use crate::gitops::repo::Remote;
use crate::judge::report;

pub(super) fn run(
    rec: &StatusWriter,
    remote: &Remote,
    opts: &Options,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let Some(cluster) = rec.cluster else {
        return Err(PromoteError::SyncFailedNeedsCluster);
    };
    let spec = &rec.experiment.spec;
    let mut failure = rec
        .runtime
        .block_on(cluster.deployment_failure(&spec.candidate.workload))?;
    if failure.is_none()
        && let Some(lg) = &spec.loadgen
    {
        failure = rec.runtime.block_on(cluster.job_failure(&lg.job))?;
    }
    let Some(failure) = failure else {
        let why = format!(
            "the sync failed, but not because of candidate {}: nothing to do",
            spec.candidate.version
        );
        log(&why);
        return Ok(Finished::Nothing(why));
    };
    let reason = failure.reason;
    log(&format!("reject: {reason}"));
    let window = "none: the sync failed before measuring";
    rec.status(&Status {
        phase: Some(Phase::Running),
        verdict: Some(Verdict::Reject),
        reason: Some(reason.clone()),
        window: Some(window.into()),
        message: Some(reason.clone()),
        ..Status::default()
    })?;
    rec.event(true, "Judge", "Rejected", &reason);
    let recorded = Recorded {
        verdict: Verdict::Reject,
        reason: &reason,
        evidence: report::markdown_of("reject", &reason, window, &[]),
    };
    deliver(rec, remote, opts, recorded, log)
}
