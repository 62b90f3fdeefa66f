//! The Experiment's `status.conditions`, after the Kubernetes API
//! conventions (`metav1.Condition`: type, status, CamelCase reason, message,
//! lastTransitionTime, observedGeneration), for `kubectl wait
//! --for=condition=Judged`, kube-state-metrics and the Argo CD health check.
//! They are not written on their own: [`derive`] computes them from the
//! rest of the status every time the hook writes it, so both hooks and every
//! path through them agree on what each state means.
//!
//! - `Progressing`: True while the hook judges or delivers; False once it
//!   stopped (Completed, Superseded, Aborted, Failed, Terminated).
//! - `Judged`: True with the verdict (Promoted, Rejected, PromotedByHand,
//!   RejectedByHand); False when there will be none (Superseded, Aborted);
//!   Unknown (Pending) before.
//! - `Delivered`: True once the verdict is in Git (Committed,
//!   PullRequestOpened); False when it will not be (Superseded, Aborted) or
//!   could not be yet (WriteBackFailed); Unknown (Pending) before.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Action, ExperimentStatus, Phase, Verdict};

/// One condition, shaped as `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    pub status: ConditionStatus,
    /// CamelCase, for machines: why the condition is in this status.
    pub reason: String,
    /// For people.
    pub message: String,
    /// When `status` last changed (a new reason alone keeps the time).
    pub last_transition_time: String,
    /// The `metadata.generation` the hook read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The three conditions, always all present once the hook has written.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionType {
    /// The hook is judging or delivering.
    Progressing,
    /// A verdict is recorded.
    Judged,
    /// The verdict is in Git.
    Delivered,
}

/// As in Kubernetes: a condition may be unknown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// The conditions `status` implies. `previous` (as last written) keeps each
/// condition's transition time while its status stays; `now` stamps the
/// others.
pub fn derive(
    status: &ExperimentStatus,
    previous: &[Condition],
    generation: Option<i64>,
    now: &str,
) -> Vec<Condition> {
    use ConditionStatus::{False, True, Unknown};
    let message = status.message.clone().unwrap_or_default();
    let by_hand = status.manual.as_ref().map(|m| m.action);
    let verdict = status.verdict;
    let aborted = status.phase == Some(Phase::Aborted);
    let decided = matches!(verdict, Some(Verdict::Promote | Verdict::Reject));

    let progressing = match status.phase {
        Some(Phase::Running) if decided => (True, "Delivering"),
        Some(Phase::Running) | None => (True, "Judging"),
        Some(Phase::Completed) if verdict == Some(Verdict::Superseded) => (False, "Superseded"),
        Some(Phase::Completed) => (False, "Completed"),
        Some(Phase::Failed) => (False, "Failed"),
        Some(Phase::Terminated) => (False, "Terminated"),
        Some(Phase::Aborted) => (False, "Aborted"),
    };
    let judged = match (verdict, by_hand) {
        (Some(Verdict::Promote), Some(Action::PromoteNow)) => (True, "PromotedByHand"),
        (Some(Verdict::Reject), Some(Action::RejectNow)) => (True, "RejectedByHand"),
        (Some(Verdict::Promote), _) => (True, "Promoted"),
        (Some(Verdict::Reject), _) => (True, "Rejected"),
        (Some(Verdict::Superseded), _) => (False, "Superseded"),
        (None, _) if aborted => (False, "Aborted"),
        (None, _) => (Unknown, "Pending"),
    };
    let judged_message = match verdict {
        Some(_) => status.reason.clone().unwrap_or_else(|| message.clone()),
        None => message.clone(),
    };
    let delivered = if verdict == Some(Verdict::Superseded) {
        (False, "Superseded")
    } else if status.pull_request.is_some() {
        (True, "PullRequestOpened")
    } else if status.commit.is_some() {
        (True, "Committed")
    } else if aborted {
        (False, "Aborted")
    } else if decided && status.phase == Some(Phase::Failed) {
        (False, "WriteBackFailed")
    } else {
        (Unknown, "Pending")
    };
    let delivered_message = match (&status.pull_request, &status.commit) {
        (Some(pr), _) if delivered.0 == True => pr.clone(),
        (None, Some(c)) if delivered.0 == True => c.clone(),
        _ => message.clone(),
    };
    [
        (ConditionType::Progressing, progressing, message),
        (ConditionType::Judged, judged, judged_message),
        (ConditionType::Delivered, delivered, delivered_message),
    ]
    .into_iter()
    .map(|(kind, (status, reason), message)| {
        let since = previous
            .iter()
            .find(|c| c.kind == kind && c.status == status)
            .map(|c| c.last_transition_time.clone());
        Condition {
            kind,
            status,
            reason: reason.to_string(),
            message,
            last_transition_time: since.unwrap_or_else(|| now.to_string()),
            observed_generation: generation,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ManualAction;

    fn shape(s: &ExperimentStatus) -> Vec<(ConditionType, ConditionStatus, String)> {
        derive(s, &[], Some(2), "t0")
            .into_iter()
            .map(|c| (c.kind, c.status, c.reason))
            .collect()
    }

    fn reasons(s: &ExperimentStatus) -> [String; 3] {
        let v = shape(s);
        [v[0].2.clone(), v[1].2.clone(), v[2].2.clone()]
    }

    #[test]
    fn each_state_has_its_conditions() {
        let running = ExperimentStatus {
            phase: Some(Phase::Running),
            ..Default::default()
        };
        assert_eq!(reasons(&running), ["Judging", "Pending", "Pending"]);
        let recorded = ExperimentStatus {
            verdict: Some(Verdict::Reject),
            ..running.clone()
        };
        assert_eq!(reasons(&recorded), ["Delivering", "Rejected", "Pending"]);
        let failed = ExperimentStatus {
            phase: Some(Phase::Failed),
            ..recorded.clone()
        };
        assert_eq!(reasons(&failed), ["Failed", "Rejected", "WriteBackFailed"]);
        let committed = ExperimentStatus {
            phase: Some(Phase::Completed),
            commit: Some("abc".into()),
            ..recorded.clone()
        };
        assert_eq!(reasons(&committed), ["Completed", "Rejected", "Committed"]);
        let by_hand = ExperimentStatus {
            verdict: Some(Verdict::Promote),
            pull_request: Some("https://forge/pr/1".into()),
            manual: Some(ManualAction {
                action: Action::PromoteNow,
                reason: None,
                requested_at: None,
            }),
            ..committed.clone()
        };
        assert_eq!(
            reasons(&by_hand),
            ["Completed", "PromotedByHand", "PullRequestOpened"]
        );
        let superseded = ExperimentStatus {
            phase: Some(Phase::Completed),
            verdict: Some(Verdict::Superseded),
            ..Default::default()
        };
        assert_eq!(
            reasons(&superseded),
            ["Superseded", "Superseded", "Superseded"]
        );
        let aborted = ExperimentStatus {
            phase: Some(Phase::Aborted),
            ..Default::default()
        };
        assert_eq!(reasons(&aborted), ["Aborted", "Aborted", "Aborted"]);
        let terminated = ExperimentStatus {
            phase: Some(Phase::Terminated),
            ..Default::default()
        };
        assert_eq!(
            shape(&terminated)[0],
            (
                ConditionType::Progressing,
                ConditionStatus::False,
                "Terminated".into()
            )
        );
    }

    #[test]
    fn the_transition_time_moves_only_with_the_status() {
        let judging = ExperimentStatus {
            phase: Some(Phase::Running),
            ..Default::default()
        };
        let first = derive(&judging, &[], Some(1), "t0");
        let recorded = ExperimentStatus {
            verdict: Some(Verdict::Promote),
            ..judging
        };
        let second = derive(&recorded, &first, Some(1), "t1");
        // Progressing: still True (Judging -> Delivering): time kept.
        assert_eq!(second[0].reason, "Delivering");
        assert_eq!(second[0].last_transition_time, "t0");
        // Judged: Unknown -> True: time moves.
        assert_eq!(second[1].last_transition_time, "t1");
        assert_eq!(second[2].last_transition_time, "t0");
        assert!(second.iter().all(|c| c.observed_generation == Some(1)));
    }
}
