//! The Argo CD resource actions (`promote-now`, `reject-now`, `abort`), as
//! the running hook honours them. An action only sets the annotation
//! `assay.dev/action` (with `-at` and `-reason`); the hook reads it at the
//! top of each look, before measuring, and acts on it like a verdict of its
//! own: recorded in the status first (with `status.manual` saying which
//! action, and the conditions saying `PromotedByHand` / `RejectedByHand`),
//! then delivered the usual way. `abort` records no verdict and writes
//! nothing to Git: the candidate stays proposed. A verdict already recorded
//! is never changed: once there is one, the annotation is only reported as
//! ignored.

use std::collections::BTreeMap;

use super::deliver::{Recorded, deliver};
use super::status::{Status, StatusWriter};
use super::{Finished, Options, PromoteError};
use crate::crd::{Action, ManualAction, Phase, Verdict};
use crate::gitops::repo::Remote;
use crate::judge::{self, report};

/// The action the annotations ask for, if any; a value that names no
/// action is reported and otherwise left alone.
fn from_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    log: &dyn Fn(&str),
) -> Option<ManualAction> {
    let annotations = annotations?;
    let value = annotations.get(Action::ANNOTATION)?;
    let Some(action) = Action::parse(value.trim()) else {
        log(&format!(
            "warning: ignoring {}={value:?}: not promote-now, reject-now or abort",
            Action::ANNOTATION
        ));
        return None;
    };
    let text = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Some(ManualAction {
        action,
        reason: text(Action::REASON_ANNOTATION),
        requested_at: text(Action::AT_ANNOTATION),
    })
}

/// What a person asked for since the hook last looked: the Experiment is
/// read again (a failed read is a warning; the next look reads again).
pub(super) fn requested(rec: &StatusWriter, log: &dyn Fn(&str)) -> Option<ManualAction> {
    let cluster = rec.cluster?;
    let name = rec.experiment.metadata.name.as_deref().unwrap_or_default();
    match rec.runtime.block_on(cluster.experiment(name)) {
        Ok(exp) => from_annotations(exp.metadata.annotations.as_ref(), log),
        Err(e) => {
            log(&format!(
                "warning: cannot read the Experiment's actions: {e}"
            ));
            None
        }
    }
}

/// On resuming a recorded verdict: an action asked for since is reported,
/// never applied.
pub(super) fn ignored(rec: &StatusWriter, verdict: Verdict, log: &dyn Fn(&str)) {
    let asked = from_annotations(rec.experiment.metadata.annotations.as_ref(), log);
    let applied = rec.current().manual.map(|m| m.action);
    if let Some(m) = asked.filter(|m| Some(m.action) != applied) {
        let note = format!(
            "action {} ignored: the verdict {verdict} is already recorded and is never changed",
            m.action.as_str()
        );
        log(&note);
        rec.event(true, "Judge", "ActionIgnored", &note);
    }
}

/// Acts on `manual` at look `iteration` (the looks made so far).
pub(super) fn act(
    rec: &StatusWriter,
    remote: &Remote,
    opts: &Options,
    manual: ManualAction,
    iteration: u32,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let by = format!(
        "by hand (Argo CD action {}{})",
        manual.action.as_str(),
        manual
            .requested_at
            .as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default()
    );
    let why = manual
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let verdict = match manual.action {
        Action::PromoteNow => Verdict::Promote,
        Action::RejectNow => Verdict::Reject,
        Action::Abort => {
            let message = format!(
                "aborted {by} after look {iteration}{why}; no verdict, the candidate stays proposed"
            );
            log(&message);
            rec.status(&Status {
                phase: Some(Phase::Aborted),
                message: Some(message.clone()),
                manual: Some(manual),
                ..Status::default()
            })?;
            rec.event(true, "Judge", "Aborted", &message);
            return Ok(Finished::Nothing(message));
        }
    };
    let promoted = verdict == Verdict::Promote;
    let reason = format!(
        "{} {by}{why}",
        if promoted { "promoted" } else { "rejected" }
    );
    let window = format!("none: decided by hand after look {iteration}");
    log(&format!("verdict {verdict}: {reason}"));
    rec.status(&Status {
        phase: Some(Phase::Running),
        verdict: Some(verdict),
        reason: Some(reason.clone()),
        window: Some(window.clone()),
        message: Some(reason.clone()),
        decided_at: Some(judge::now().to_string()),
        manual: Some(manual),
        ..Status::default()
    })?;
    let word = if promoted {
        "PromotedByHand"
    } else {
        "RejectedByHand"
    };
    rec.event(!promoted, "Judge", word, &reason);
    let evidence = rec.current().evidence;
    let recorded = Recorded {
        verdict,
        reason: &reason,
        evidence: report::markdown_of(verdict.as_str(), &reason, &window, &evidence),
    };
    deliver(rec, remote, opts, recorded, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_annotations_name_the_action() {
        let quiet = |_: &str| {};
        assert_eq!(from_annotations(None, &quiet), None);
        assert_eq!(
            from_annotations(Some(&annotations(&[("team", "shop")])), &quiet),
            None
        );
        let asked = annotations(&[
            (Action::ANNOTATION, "reject-now"),
            (Action::REASON_ANNOTATION, " p99 doubles "),
            (Action::AT_ANNOTATION, "2026-12-04T07:00:00Z"),
        ]);
        assert_eq!(
            from_annotations(Some(&asked), &quiet),
            Some(ManualAction {
                action: Action::RejectNow,
                reason: Some("p99 doubles".into()),
                requested_at: Some("2026-12-04T07:00:00Z".into()),
            })
        );
        let said = std::cell::RefCell::new(Vec::new());
        let log = |l: &str| said.borrow_mut().push(l.to_string());
        let odd = annotations(&[(Action::ANNOTATION, "promote-later")]);
        assert_eq!(from_annotations(Some(&odd), &log), None);
        assert_eq!(
            said.borrow().as_slice(),
            [
                "warning: ignoring assay.dev/action=\"promote-later\": not promote-now, reject-now or abort"
            ]
        );
    }
}
