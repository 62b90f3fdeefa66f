//! `assay.yaml` exactly as written: every field optional where the spec has a
//! default, unknown fields refused, and values that validation may reject kept
//! with their position (`S<T>`). [`super::validate`] turns this into the
//! defaulted [`super::Release`]. The JSON Schema (`assay schema`) is derived
//! from these types, so editors see the same shape the parser accepts.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned as S;

/// A map of strings that keeps the user's order (env order matters to
/// Kubernetes `$(VAR)` references).
pub type StringMap = IndexMap<String, String>;

/// The whole file.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    title = "assay Release",
    description = "assay.yaml: one application's baseline, candidate and how to judge it"
)]
pub struct RawRelease {
    /// Must be `assay.dev/v1alpha1`.
    #[schemars(with = "String")]
    pub api_version: S<String>,
    /// Must be `Release`.
    #[schemars(with = "String")]
    pub kind: S<String>,
    #[schemars(with = "RawMetadata")]
    pub metadata: S<RawMetadata>,
    #[schemars(with = "RawSpec")]
    pub spec: S<RawSpec>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetadata {
    /// Prefix of every generated object: a DNS-1035 label of at most 44 characters.
    #[schemars(with = "String")]
    pub name: S<String>,
    /// Namespace the objects are deployed to; default: the Application's destination namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<S<String>>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<RawWorkload>,
    #[schemars(with = "RawVersion")]
    pub baseline: S<RawVersion>,
    /// Present while a candidate is under test; absent in steady state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawVersion>")]
    pub candidate: Option<S<RawVersion>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawTraffic>")]
    pub traffic: Option<S<RawTraffic>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawExperiment>")]
    pub experiment: Option<S<RawExperiment>>,
    /// Optional load generator (fortio); absent means real traffic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLoadgen>")]
    pub loadgen: Option<S<RawLoadgen>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<RawPromotion>,
    /// Candidates waiting their turn (`promotion.onNewCandidate: queue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<RawVersion>>")]
    pub queue: Option<Vec<S<RawVersion>>>,
    /// Candidates that failed, newest last; CI refuses to propose them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<RawRejected>>,
    /// File-name globs (`*`, `?`) in this directory that are not rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub exclude: Option<Vec<S<String>>>,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWorkload {
    /// A Deployment file in this directory used as the template of every version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub template: Option<S<String>>,
    /// Container that receives image and env (default: the first one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub container: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub replicas: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u16>")]
    pub port: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub service_account_name: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_labels: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<StringMap>,
    /// Pod user id (and group, fsGroup) for images that do not run as a numeric non-root user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub run_as_user: Option<S<i64>>,
    /// How long a version may take to become available (default: the template's, else 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub progress_deadline: Option<S<String>>,
}

/// One version of the application.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawVersion {
    /// Label value and name suffix (`<name>-<version>`): a DNS-1123 label.
    #[schemars(with = "String")]
    pub version: S<String>,
    #[schemars(with = "String")]
    pub image: S<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<StringMap>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Router {
    Istio,
    GatewayApi,
    #[default]
    None,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTraffic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Router>,
    /// Percentage of requests sent to the candidate (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u8>")]
    pub candidate_weight: Option<S<i64>>,
    /// Extra hosts of the Istio VirtualService (the Service name is always one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub hosts: Option<Vec<S<String>>>,
    /// Istio gateways the VirtualService binds to (Istio's default: `mesh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub gateways: Option<Vec<S<String>>>,
    /// Gateway API parents of the HTTPRoute (default: the Service, GAMMA mesh routing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<RawParentRef>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawParentRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[schemars(with = "String")]
    pub name: S<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Candidate against baseline on objectives.
    #[default]
    Canary,
    /// Candidate against baseline on rewards, within objectives.
    Ab,
    /// Candidate alone against absolute objectives.
    Slo,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExperiment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub warmup: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub duration: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub interval: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u64>")]
    pub min_requests: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub confidence: Option<S<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub prometheus: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<RawObjective>>")]
    pub objectives: Option<Vec<S<RawObjective>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<RawReward>>")]
    pub rewards: Option<Vec<S<RawReward>>>,
    /// Custom PromQL metrics by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<IndexMap<String, RawMetric>>")]
    pub metrics: Option<IndexMap<String, S<RawMetric>>>,
}

/// A limit: a number, a percentage (`1%`) or a duration (`300ms`) for latency.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum RawLimit {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawObjective {
    #[schemars(with = "String")]
    pub metric: S<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLimit>")]
    pub upper_limit: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLimit>")]
    pub lower_limit: Option<S<String>>,
    /// Limits are ratios to the baseline's value (1.1 = at most 10% above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Prefer {
    High,
    Low,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawReward {
    #[schemars(with = "String")]
    pub metric: S<String>,
    pub prefer: Prefer,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetric {
    /// PromQL with `{{version}}`, `{{workload}}`, `{{namespace}}`, `{{window}}`.
    #[schemars(with = "String")]
    pub query: S<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLoadgen {
    /// Default: `http://<name>:<port>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub url: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub qps: Option<S<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub connections: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub image: Option<S<String>>,
    /// Inject the Istio sidecar so in-mesh load follows the weights (needs native sidecars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    PullRequest,
    Push,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnNewCandidate {
    #[default]
    Preempt,
    Queue,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    /// From the repository URL's host (github.com, gitlab.*, gitea.*).
    #[default]
    Auto,
    Github,
    Gitlab,
    Gitea,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPromotion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub credentials_secret: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_new_candidate: Option<OnNewCandidate>,
    /// Paths (relative to this file) of other assay.yaml files that receive the winner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub next: Option<Vec<S<String>>>,
    /// Branch to write to (default: the Application's target revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub branch: Option<S<String>>,
    /// Repository to write to (default: the Application's source repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub repo: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<Forge>,
    /// Forge API base URL, for GitHub Enterprise and self-hosted forges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub api_url: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<RawAuthor>,
    /// How many rejected candidates to remember (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub max_rejected: Option<S<i64>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAuthor {
    pub name: String,
    pub email: String,
}

/// A candidate that failed, as the promote hook records it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRejected {
    pub version: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}
