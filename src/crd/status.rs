//! The Experiment's status: written only by the promote hook, read by
//! `kubectl`, Argo CD's health check and actions, and `assay status`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, ManualAction};

/// Written only by the promote hook. Never holds credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// Where the hook is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Set once decided, and never changed after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Human-readable detail of the phase or verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the verdict was reached: written with it and never changed, so
    /// a restarted hook delivers exactly what was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The window the verdict measured, as text (`<start> to <end> (<n>s)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How many times the metrics have been evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// When the load started: the window opens a warmup later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the hook last wrote the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The measurements behind the verdict, per version and metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Every look made so far with its counts: the sequential test's
    /// boundaries depend on the looks already made, so a restarted hook
    /// carries on from them instead of starting afresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub looks: Vec<LookRecord>,
    /// When the verdict was reached: with `startedAt`, the look times and
    /// `deliveredAt`, the timeline of how long the candidate served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// When the verdict commit or pull request was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// When Argo CD was asked to refresh the Application after delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<String>,
    /// The verdict commit, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The pull request carrying the verdict, in `pull-request` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// What each next environment in another repository or branch received.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<NextStatus>,
    /// Set when the verdict (or the abort) came from an Argo CD action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualAction>,
    /// Progressing, Judged and Delivered, derived from the fields above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the hook acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One next environment's proposal, as the hook last saw it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextStatus {
    /// `<repository> <branch> <path>`, credentials removed from the URL.
    pub environment: String,
    /// What happened there.
    pub outcome: NextOutcome,
    /// The proposal commit, when pushed to the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The pull request carrying the proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// Detail: why it failed, was refused or left unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What became of one next environment's proposal.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NextOutcome {
    /// The winner is proposed there (commit or pull request), by this run or an earlier one.
    Proposed,
    /// Nothing to write: the winner already is its candidate, queued, or its baseline.
    Unchanged,
    /// That environment rejected this candidate before (set `force` to propose it again).
    Refused,
    /// Not proposed yet: a re-run of the hook retries it.
    Failed,
}

/// One metric of one version, as judged.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The version measured.
    pub version: String,
    /// The metric measured.
    pub metric: String,
    /// Measured value in the metric's unit; absent when Prometheus returned no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The limit it was judged against, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Requests the value is based on.
    pub samples: u64,
    /// Confidence bound on the value, at the spec's `confidence`, for
    /// metrics judged on their estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// Rate objectives: the requests counted against the limit (errors,
    /// slow requests, or misses of a lower limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
    /// Rate objectives: at this look, this many hits or more reject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_at: Option<u64>,
    /// Rate objectives: at this look, this many hits or fewer promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_at: Option<u64>,
    /// What this row says about the candidate.
    pub result: Finding,
}

/// Where the promote hook is, as `kubectl get` and the health check show it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Judging, or delivering a verdict already recorded.
    Running,
    /// The verdict (or supersession) is delivered.
    Completed,
    /// The hook gave up (e.g. the write-back was refused); a re-run resumes.
    Failed,
    /// Stopped by SIGTERM; a re-run resumes.
    Terminated,
    /// Stopped by the `abort` action: no verdict, nothing written, the
    /// candidate stays proposed. A re-run aborts again while the
    /// annotation is there.
    Aborted,
}

/// The experiment's outcome. Recorded before Git is touched and never
/// changed after, so a restarted hook delivers exactly what was judged.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The candidate becomes the baseline.
    Promote,
    /// The candidate is dropped and recorded under `rejected`.
    Reject,
    /// Git moved on to another candidate before a verdict: nothing is written.
    #[value(skip)]
    Superseded,
}

impl Verdict {
    /// The word used in the status, commit trailers and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Reject => "reject",
            Verdict::Superseded => "superseded",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one evidence row says about the candidate.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Finding {
    /// Objective: within its limit (proven, for rate objectives).
    Pass,
    /// Objective: over its limit, or not proven by the deadline.
    Fail,
    /// Not decided at this look; rewards: no winner yet.
    Pending,
    /// Objective: cannot be decided from the data (too few requests).
    Inconclusive,
    /// The baseline's row of a relative limit: what the candidate is held to.
    Reference,
    /// Reward: this version wins.
    Better,
    /// Reward: this version loses.
    Worse,
    /// Reward: no difference at the deadline.
    Tie,
}

impl Finding {
    /// The word used in the status and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Pass => "pass",
            Finding::Fail => "fail",
            Finding::Pending => "pending",
            Finding::Inconclusive => "inconclusive",
            Finding::Reference => "reference",
            Finding::Better => "better",
            Finding::Worse => "worse",
            Finding::Tie => "tie",
        }
    }
}

/// One look of the hook, as the sequential test needs it again.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookRecord {
    /// When the look was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Seconds of the window the look measured.
    pub seconds: u64,
    /// Per rate objective, in the spec's order: counts since the window opened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<RateCount>,
}

/// Counts of one rate objective, rounded against the candidate (requests
/// down, hits up).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateCount {
    /// The objective's metric.
    pub metric: String,
    /// The candidate's requests.
    pub requests: u64,
    /// The candidate's hits (errors, slow requests).
    pub hits: u64,
    /// For a lower limit: the candidate's misses, rounded up on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misses: Option<u64>,
    /// The baseline's, for a relative limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_requests: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_hits: Option<u64>,
}
