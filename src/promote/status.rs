//! Where the hook records what it does: the Experiment's status and Events
//! in a cluster, or only the progress lines when run locally with
//! `--experiment FILE`. Status is written as JSON merge patches of the
//! fields that changed, each with the conditions and observedGeneration the
//! whole status then implies (`crd::derive_conditions`): the writer keeps
//! the status as last written, being its only writer. Nothing here ever
//! carries credentials.

use std::cell::RefCell;

use crate::runtime::Runtime;
use serde_json::{Value, json};

use super::commit_status::CommitStatuses;
use crate::cluster::{Cluster, ClusterError};
use crate::crd::{Experiment, ExperimentStatus, Phase, derive_conditions};
use crate::gitops::repo::Remote;

/// The status fields the hook writes: the CRD's status type itself, whose
/// unset fields are left out of the merge patch (so they stay as they are).
pub type Status = ExperimentStatus;

/// `s` as a merge patch, stamped with the time of writing.
fn patch(s: &Status, now: &str) -> Value {
    let stamped = Status {
        updated_at: Some(now.to_string()),
        ..s.clone()
    };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_value(stamped).unwrap_or_else(|_| json!({}))
}

/// `patch` applied to `base` as the API server applies a merge patch.
fn merged(base: &Status, patch: &Value) -> Status {
    let mut v = serde_json::to_value(base).unwrap_or_else(|_| json!({}));
    if let (Some(into), Some(from)) = (v.as_object_mut(), patch.as_object()) {
        for (k, x) in from {
            if x.is_null() {
                into.remove(k);
            } else {
                into.insert(k.clone(), x.clone());
            }
        }
    }
    serde_json::from_value(v).unwrap_or_else(|_| base.clone())
}

/// The cluster side of one hook run, or nothing (local runs).
pub struct StatusWriter<'a> {
    pub cluster: Option<&'a Cluster>,
    pub runtime: &'a Runtime,
    pub experiment: &'a Experiment,
    /// The verdict on the forge, beside the status.
    pub commit_statuses: CommitStatuses<'a>,
    /// The hook's progress lines, for what fails here without stopping it.
    pub log: &'a dyn Fn(&str),
    /// The status as last written (or read, before the first write).
    current: RefCell<Status>,
    /// The progress annotation as last written.
    progress: RefCell<Option<String>>,
}

/// Argo CD 3 ignores updates of `/status` alone (the default
/// `resource.customizations.ignoreResourceUpdates.all`) unless the health
/// status changes, and the Experiment is always Healthy: without a change
/// elsewhere, the health message it shows lags behind the hook. The hook
/// therefore also writes this annotation, which changes with every look and
/// condition.
pub const PROGRESS_ANNOTATION: &str = "assay.dev/progress";

/// The annotation's value: the conditions' reasons and the look.
fn progress(s: &Status) -> String {
    let reasons: Vec<&str> = s.conditions.iter().map(|c| c.reason.as_str()).collect();
    format!("{} look {}", reasons.join("/"), s.iteration.unwrap_or(0))
}

impl<'a> StatusWriter<'a> {
    /// The writer of one hook run; `commit_status`: whether to set commit
    /// statuses on the forge too (they still need a token).
    pub fn new(
        cluster: Option<&'a Cluster>,
        runtime: &'a Runtime,
        experiment: &'a Experiment,
        remote: &'a Remote,
        commit_status: bool,
        log: &'a dyn Fn(&str),
    ) -> StatusWriter<'a> {
        StatusWriter {
            cluster,
            runtime,
            experiment,
            commit_statuses: CommitStatuses::new(remote, runtime, experiment, commit_status),
            log,
            current: RefCell::new(experiment.status.clone().unwrap_or_default()),
            progress: RefCell::new(None),
        }
    }

    /// The status as last written.
    pub fn current(&self) -> Status {
        self.current.borrow().clone()
    }

    /// `s` as a patch with the conditions it implies, and the status after it.
    fn with_conditions(&self, s: &Value, now: &str) -> (Value, Status) {
        let before = self.current.borrow().clone();
        let mut after = merged(&before, s);
        let generation = self.experiment.metadata.generation;
        after.conditions = derive_conditions(&after, &before.conditions, generation, now);
        after.observed_generation = generation;
        let mut body = s.clone();
        body["conditions"] = serde_json::to_value(&after.conditions).unwrap_or(Value::Null);
        if let Some(g) = generation {
            body["observedGeneration"] = json!(g);
        }
        (body, after)
    }

    /// Writes the status; a failure here stops the hook (the verdict must
    /// be recorded before Git is touched).
    pub fn status(&self, s: &Status) -> Result<(), ClusterError> {
        let now = crate::judge::now().to_string();
        let (body, after) = self.with_conditions(&patch(s, &now), &now);
        let Some(c) = self.cluster else {
            *self.current.borrow_mut() = after;
            return Ok(());
        };
        let name = self.experiment.metadata.name.as_deref().unwrap_or_default();
        // One retry for a server error or no answer (kube itself retries 429/503/504).
        let written = match self.runtime.block_on(c.patch_status(name, &body)) {
            Ok(()) => Ok(()),
            Err(first) if first.is_transient() => {
                // Cut short by SIGTERM: the retry then goes at once.
                self.runtime.sleep(std::time::Duration::from_millis(500));
                self.runtime
                    .block_on(c.patch_status(name, &body))
                    .map_err(|_| first)
            }
            Err(e) => Err(e),
        };
        if written.is_ok() {
            self.nudge(c, name, &after);
            *self.current.borrow_mut() = after;
        }
        written
    }

    /// Writes [`PROGRESS_ANNOTATION`] when it changed. Best effort: a
    /// failure only delays what Argo CD shows, and is one warning.
    fn nudge(&self, c: &Cluster, name: &str, status: &Status) {
        let value = progress(status);
        if self.progress.borrow().as_deref() == Some(value.as_str()) {
            return;
        }
        match self
            .runtime
            .block_on(c.annotate(name, PROGRESS_ANNOTATION, &value))
        {
            Ok(()) => *self.progress.borrow_mut() = Some(value),
            Err(e) => (self.log)(&format!("warning: {e}")),
        }
    }

    /// Clears a delivered verdict, for an experiment proposed again.
    pub fn reset(&self) -> Result<(), ClusterError> {
        let Some(c) = self.cluster else {
            return Ok(());
        };
        let name = self.experiment.metadata.name.as_deref().unwrap_or_default();
        let now = crate::judge::now().to_string();
        let cleared = json!({
            "phase": Phase::Running, "verdict": null, "reason": null, "window": null,
            "commit": null, "pullRequest": null, "evidence": null, "iteration": null, "looks": null,
            "decidedAt": null, "deliveredAt": null, "refreshedAt": null, "manual": null,
            "startedAt": null, "next": null, "message": "proposed again: judging anew",
            "updatedAt": now,
        });
        let (body, after) = self.with_conditions(&cleared, &now);
        self.runtime.block_on(c.patch_status(name, &body))?;
        self.nudge(c, name, &after);
        *self.current.borrow_mut() = after;
        Ok(())
    }

    /// Records an Event; failures are logged as warnings but never stop the hook.
    pub fn event(&self, warning: bool, action: &str, reason: &str, note: &str) {
        let Some(c) = self.cluster else {
            return;
        };
        if let Err(e) =
            self.runtime
                .block_on(c.event(self.experiment, warning, action, reason, note))
        {
            (self.log)(&format!("warning: {e}"));
        }
    }
}
