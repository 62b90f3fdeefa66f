//! The `Experiment` custom resource (`assay.dev/v1alpha1`): the contract
//! between `generate`, which writes its spec from `assay.yaml` and the Argo CD
//! environment, and the promote hook, which reads the spec and owns the status.
//! The spec holds everything the hook needs, so the hook never re-reads the
//! plugin environment. Limits are in the metric's unit: fractions for rates,
//! milliseconds for latency.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Forge, Mode, Pattern, Prefer};

/// What the hook judges and where it writes the verdict.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "assay.dev",
    version = "v1alpha1",
    kind = "Experiment",
    namespaced,
    status = "ExperimentStatus",
    shortname = "aexp",
    category = "assay",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Verdict","type":"string","jsonPath":".status.verdict"}"#,
    printcolumn = r#"{"name":"Candidate","type":"string","jsonPath":".spec.candidate.version"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentSpec {
    /// Content hash of the experiment-relevant parts of assay.yaml.
    pub id: String,
    /// `metadata.name` of the Release.
    pub release: String,
    /// The Argo CD Application that rendered it.
    pub application: ApplicationRef,
    pub pattern: Pattern,
    pub baseline: VersionRef,
    pub candidate: VersionRef,
    pub window: Window,
    /// Requests per version before any verdict.
    pub min_requests: u64,
    pub confidence: f64,
    pub prometheus: String,
    pub objectives: Vec<Objective>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewards: Vec<Reward>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<CustomMetric>,
    /// The load generator Job, whose start opens the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadgen: Option<LoadgenRef>,
    pub write_back: WriteBack,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRef {
    pub name: String,
    /// Set when the Application lives outside Argo CD's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionRef {
    pub version: String,
    pub image: String,
    /// The Deployment running it, as Istio's `destination_workload` names it.
    pub workload: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub warmup_seconds: u64,
    pub duration_seconds: u64,
    pub interval_seconds: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_limit: Option<f64>,
    /// Limits are ratios to the baseline's value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relative: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    pub metric: String,
    pub prefer: Prefer,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomMetric {
    pub name: String,
    pub query: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadgenRef {
    pub job: String,
}

/// Where and how the verdict is committed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteBack {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `HEAD` means the remote's default branch.
    pub branch: String,
    /// Path of assay.yaml inside the repository.
    pub path: String,
    pub mode: Mode,
    /// Secret in the Experiment's namespace, mounted into the hook.
    pub credentials_secret: String,
    pub forge: Forge,
    #[serde(default, rename = "apiURL", skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    pub author: Author,
    /// Repository paths of other assay.yaml files that receive the winner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// The CRD as YAML, as `samples/install/crd.yaml` holds it.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    // A CRD is plain data; serialising it cannot fail.
    serde_saphyr::to_string(&Experiment::crd()).expect("serialisable CRD")
}

/// Written only by the promote hook. Never holds credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// Pending, Running, Completed, Failed or Terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// promote, reject or superseded, once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// The verdict commit, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
}

/// One metric of one version, as judged.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub version: String,
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    pub samples: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// pass, fail or pending.
    pub result: String,
}
