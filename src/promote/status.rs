//! Where the hook records what it does: the Experiment's status and Events
//! in a cluster, or only the progress lines when run locally with
//! `--experiment FILE`. Status is written as JSON merge patches of the
//! fields that changed; nothing here ever carries credentials.

use crate::runtime::Runtime;
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError};
use crate::crd::{Experiment, ExperimentStatus};

/// The status fields the hook writes: the CRD's status type itself, whose
/// unset fields are left out of the merge patch (so they stay as they are).
pub type Status = ExperimentStatus;

/// `s` as a merge patch, stamped with the time of writing.
fn patch(s: &Status) -> Value {
    let stamped = Status {
        updated_at: Some(crate::judge::now().to_string()),
        ..s.clone()
    };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_value(stamped).unwrap_or_else(|_| json!({}))
}

/// The cluster side of one hook run, or nothing (local runs).
pub struct StatusWriter<'a> {
    pub cluster: Option<&'a Cluster>,
    pub runtime: &'a Runtime,
    pub experiment: &'a Experiment,
}

impl StatusWriter<'_> {
    /// Writes the status; a failure here stops the hook (the verdict must
    /// be recorded before Git is touched).
    pub fn status(&self, s: &Status) -> Result<(), ClusterError> {
        let Some(c) = self.cluster else {
            return Ok(());
        };
        let name = self.experiment.metadata.name.as_deref().unwrap_or_default();
        let body = patch(s);
        // One retry for a server error or no answer (kube itself retries 429/503/504).
        match self.runtime.block_on(c.patch_status(name, &body)) {
            Ok(()) => Ok(()),
            Err(first) if first.is_transient() => {
                std::thread::sleep(std::time::Duration::from_millis(500));
                self.runtime
                    .block_on(c.patch_status(name, &body))
                    .map_err(|_| first)
            }
            Err(e) => Err(e),
        }
    }

    /// Clears a delivered verdict, for an experiment proposed again.
    pub fn reset(&self) -> Result<(), ClusterError> {
        let Some(c) = self.cluster else {
            return Ok(());
        };
        let name = self.experiment.metadata.name.as_deref().unwrap_or_default();
        let cleared = json!({
            "phase": "Running", "verdict": null, "reason": null, "window": null,
            "commit": null, "pullRequest": null, "evidence": null, "iteration": null, "looks": null,
            "decidedAt": null, "deliveredAt": null, "refreshedAt": null,
            "startedAt": null, "message": "proposed again: judging anew",
            "updatedAt": crate::judge::now().to_string(),
        });
        self.runtime.block_on(c.patch_status(name, &cleared))
    }

    /// Records an Event; failures are reported on stderr but never stop the hook.
    pub fn event(&self, warning: bool, action: &str, reason: &str, note: &str) {
        let Some(c) = self.cluster else {
            return;
        };
        if let Err(e) =
            self.runtime
                .block_on(c.event(self.experiment, warning, action, reason, note))
        {
            eprintln!("assay: warning: {e}");
        }
    }
}
