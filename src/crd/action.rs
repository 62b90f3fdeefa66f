//! What a person asked of an Experiment through an Argo CD resource action
//! (`resource.customizations.actions.assay.dev_Experiment` in the install
//! kit): the action's name in an annotation the running hook reads at its
//! next look, and, once honoured, the record of it in the status.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Argo CD resource action (`resource.customizations.actions` in the
/// install kit) asked for this, through the annotations below.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualAction {
    pub action: Action,
    /// What the person gave as the reason (reject-now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the action was run, as the action stamped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
}

/// The actions a person can run on an Experiment from the Argo CD UI.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Promote now, whatever the evidence says so far.
    PromoteNow,
    /// Reject now, with the person's reason.
    RejectNow,
    /// Stop judging: no verdict, nothing written, the candidate stays proposed.
    Abort,
}

impl Action {
    /// The annotation an action sets, holding its name.
    pub const ANNOTATION: &str = "assay.dev/action";
    /// When the action ran (RFC 3339, set by the action).
    pub const AT_ANNOTATION: &str = "assay.dev/action-at";
    /// reject-now's reason.
    pub const REASON_ANNOTATION: &str = "assay.dev/action-reason";

    /// The action's name, as in the annotation and the Argo CD UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PromoteNow => "promote-now",
            Action::RejectNow => "reject-now",
            Action::Abort => "abort",
        }
    }

    /// The action an annotation value names.
    pub fn parse(s: &str) -> Option<Action> {
        [Action::PromoteNow, Action::RejectNow, Action::Abort]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}
