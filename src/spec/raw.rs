//! `assay.yaml` exactly as written: every field optional where the spec has a
//! default, unknown fields refused, and values that validation may reject kept
//! with their position (`S<T>`). [`super::validate`] turns this into the
//! defaulted [`super::Release`]. The JSON Schema (`assay schema`) is derived
//! from these types, so editors see the same shape the parser accepts.

use crate::yaml::Spanned as S;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod next;
use super::raw_prometheus::PrometheusSchema;
pub use super::raw_prometheus::RawPrometheus;
use next::NextSchema;
pub use next::{RawNext, RawNextEnv};

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
    /// Name (and optionally namespace) of the generated objects.
    #[schemars(with = "RawMetadata")]
    pub metadata: S<RawMetadata>,
    /// The versions, and how a candidate is routed, judged and promoted.
    #[schemars(with = "RawSpec")]
    pub spec: S<RawSpec>,
}

/// Names the generated objects.
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

/// One application: its versions, traffic split, experiment and write-back.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSpec {
    /// How each version's Deployment is built: a template file, inline fields, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<RawWorkload>,
    /// The version serving in steady state; its Deployment is `<name>-<version>`.
    #[schemars(with = "RawVersion")]
    pub baseline: S<RawVersion>,
    /// Present while a candidate is under test; absent in steady state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawVersion>")]
    pub candidate: Option<S<RawVersion>>,
    /// How requests are split between baseline and candidate (default: router `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawTraffic>")]
    pub traffic: Option<S<RawTraffic>>,
    /// How the candidate is judged (default: canary on `error-rate` at most 1%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawJudging>")]
    pub experiment: Option<S<RawJudging>>,
    /// Optional load generator (fortio); absent means real traffic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLoadgen>")]
    pub loadgen: Option<S<RawLoadgen>>,
    /// How and where the promote hook commits the verdict.
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

/// The Deployment every version runs; unset fields come from the template, else defaults.
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
    /// Replicas per version, 0–1000 (default: the template's, else 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub replicas: Option<S<i64>>,
    /// Service and route port, 1–65535 (default: the template container's first port, else 8080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u16>")]
    pub port: Option<S<i64>>,
    /// ServiceAccount of the pods, a DNS-1123 subdomain (default: the template's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub service_account_name: Option<S<String>>,
    /// Labels added to every version's pods; `app` and `version` are set by assay and refused here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_labels: Option<StringMap>,
    /// Annotations added to every version's pods.
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
    /// Container image reference (no whitespace), e.g. `iter8/productpage:v1`.
    #[schemars(with = "String")]
    pub image: S<String>,
    /// Environment variables of the container, in the order written (for `$(VAR)` references).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<StringMap>,
}

/// How requests are split between the versions.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Router {
    /// DestinationRule subsets and VirtualService weights.
    Istio,
    /// An HTTPRoute with weighted backendRefs, one Service per version.
    GatewayApi,
    /// One Service over all versions: requests split by replica count, so no `candidateWeight`.
    #[default]
    None,
}

/// How requests are split between baseline and candidate; options the router ignores are refused.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTraffic {
    /// `istio`, `gateway-api` or `none` (default `none`).
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

/// A parent of the HTTPRoute, as in Gateway API's `parentRefs` (passed on as written).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawParentRef {
    /// API group of the parent (Gateway API's default: `gateway.networking.k8s.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the parent (Gateway API's default: `Gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the parent: a DNS-1123 subdomain.
    #[schemars(with = "String")]
    pub name: S<String>,
    /// Namespace of the parent (default: the route's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener of the parent to attach to (default: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Port of the parent to attach to (default: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// How the candidate is judged.
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

/// How the candidate is judged, and for how long.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawJudging {
    /// `canary`, `ab` or `slo` (default `canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    /// Load before measuring starts, e.g. `30s` or `1h30m` (units ms, s, m, h; default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub warmup: Option<S<String>>,
    /// Length of the measurement window, at least `1s` (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub duration: Option<S<String>>,
    /// How often the metrics are evaluated, between `1s` and `duration` (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub interval: Option<S<String>>,
    /// Bake time: no promotion before this much of the window, between `0s` and `duration` (default a quarter of `duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub min_duration: Option<S<String>>,
    /// Advanced: how far under a rate limit, as a share of it, early promotion should become likely, strictly between 0 and 1 (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub margin: Option<S<f64>>,
    /// Requests each version must serve before a metric judged on its estimate (mean latency, custom values) counts, 0–1000000000 (default 100); rate objectives need no minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u64>")]
    pub min_requests: Option<S<i64>>,
    /// Requests per second the service receives from real traffic, before the split: what `assay plan` sizes the experiment with (with the load generator's `qps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub expected_request_rate: Option<S<f64>>,
    /// Confidence a verdict needs, strictly between 0.5 and 1 (default 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub confidence: Option<S<f64>>,
    /// Prometheus for the hook: its URL, or `{url, secret}` naming a Secret with its credentials (`token`, `username` + `password`, `headers`, `ca.crt`); needed with a candidate (default URL: parameter, then plugin env).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<PrometheusSchema>")]
    pub prometheus: Option<S<RawPrometheus>>,
    /// One limit entry per metric; canary and slo need one (default: `error-rate` at most 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<RawObjective>>")]
    pub objectives: Option<Vec<S<RawObjective>>>,
    /// Metrics whose better value picks the winner: `ab` only, and required there.
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
    /// A plain number in the metric's unit: a fraction for rates, milliseconds for latency.
    Number(f64),
    /// A percentage for rates (`1%`) or a duration for latency (`300ms`).
    Text(String),
}

/// A limit on one metric that the candidate must stay within: `upperLimit`, `lowerLimit` or both.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawObjective {
    /// A built-in metric (`error-rate`, `mean-latency`, `p99-latency`, …) or a key of `metrics`.
    #[schemars(with = "String")]
    pub metric: S<String>,
    /// Highest acceptable value: a fraction or percentage for rates, ms or a duration for latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLimit>")]
    pub upper_limit: Option<S<String>>,
    /// Lowest acceptable value, in the same units; not above `upperLimit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawLimit>")]
    pub lower_limit: Option<S<String>>,
    /// Limits are ratios to the baseline's value (1.1 = at most 10% above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<bool>,
}

/// Which values of a reward metric are better.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Prefer {
    /// Higher values win (e.g. a conversion rate).
    High,
    /// Lower values win (e.g. latency).
    Low,
}

/// A metric an `ab` experiment optimises to pick the winner.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawReward {
    /// A built-in metric or a name under `metrics`; each metric at most once.
    #[schemars(with = "String")]
    pub metric: S<String>,
    /// `high` or `low`: which values win.
    pub prefer: Prefer,
}

/// A custom metric: one PromQL query, run once per version.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetric {
    /// PromQL with `{{version}}`, `{{workload}}`, `{{namespace}}`, `{{window}}`.
    #[schemars(with = "String")]
    pub query: S<String>,
    /// `value` (default) or `proportion`: a share of the version's requests.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MetricType>,
}

/// What a custom metric's value is, which decides how it can be tested.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A number with nothing known about its spread: judged on the estimate;
    /// as an A/B reward it cannot be tested for significance.
    #[default]
    Value,
    /// A share of the version's requests in [0, 1] (e.g. conversions per
    /// request): bounded like a rate, and tested with a two-proportion z-test.
    Proportion,
}

/// A fortio Job that sends load for warmup + duration, so the window sees traffic.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLoadgen {
    /// Default: `http://<name>:<port>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub url: Option<S<String>>,
    /// Total requests per second, more than 0 and at most 10000 (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub qps: Option<S<f64>>,
    /// Concurrent connections, 1–1000 (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub connections: Option<S<i64>>,
    /// HTTP headers sent with every request (e.g. `Host` for a gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<StringMap>,
    /// fortio image (default `fortio/fortio:1.69.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub image: Option<S<String>>,
    /// Inject the Istio sidecar so in-mesh load follows the weights (needs native sidecars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<bool>,
    /// `sidecar` (default): fortio runs inside the PostSync hook pod, from the hook's start to its verdict; `job`: a sync-phase Job, for clusters before Kubernetes 1.29.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<LoadgenMode>,
}

/// Where the load generator runs.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadgenMode {
    /// A native sidecar of the PostSync hook pod: load starts when judging
    /// can (every version Healthy) and stops with the verdict.
    #[default]
    Sidecar,
    /// A sync-phase Job running warmup + duration: PostSync waits for it to
    /// complete, so judging starts only after the load is over.
    Job,
}

/// How the verdict reaches Git (also `--mode`).
#[derive(
    Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Open a pull request, merged by a person or by CI.
    PullRequest,
    /// Commit straight to the branch.
    Push,
}

/// What a new candidate does while another is under test.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnNewCandidate {
    /// The new candidate replaces the one under test, whose experiment is superseded.
    #[default]
    Preempt,
    /// The new candidate waits in `queue`; every candidate is tested in turn.
    Queue,
}

/// The Git forge pull requests are opened on (also `--forge`).
#[derive(
    Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ForgeChoice {
    /// From the repository URL's host (github.com, gitlab.*, gitea.*).
    #[default]
    Auto,
    /// GitHub or GitHub Enterprise (set `apiUrl` for Enterprise).
    Github,
    /// GitLab, hosted or self-managed.
    Gitlab,
    /// Gitea.
    Gitea,
}

/// How and where the promote hook commits the verdict.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPromotion {
    /// `pull-request` or `push` (default: parameter, then plugin env, then `pull-request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Secret with the Git credentials, mounted into the hook (default `assay-git`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub credentials_secret: Option<S<String>>,
    /// `preempt` or `queue` (default `preempt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_new_candidate: Option<OnNewCandidate>,
    /// Environments that receive the winner as their candidate: a path
    /// (relative to this file) of another assay.yaml in this repository,
    /// written in the verdict commit; or `{repo, branch, path, ...}`, proposed
    /// after the verdict is in Git, as a commit or a pull request there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<NextSchema>>")]
    pub next: Option<Vec<S<RawNext>>>,
    /// Branch to write to (default: the Application's target revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub branch: Option<S<String>>,
    /// Repository to write to (default: the Application's source repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub repo: Option<S<String>>,
    /// `auto`, `github`, `gitlab` or `gitea` (default `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<ForgeChoice>,
    /// Forge API base URL, for GitHub Enterprise and self-hosted forges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub api_url: Option<S<String>>,
    /// How a reject reaches Git in pull-request mode: `push` (default: at
    /// once, so the candidate leaves the cluster without waiting for a
    /// review) or `pull-request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject: Option<Mode>,
    /// The Argo CD API server the hook asks to refresh the Application after
    /// the verdict (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<RawArgocd>,
    /// Author of verdict commits (default `assay <assay@assay.dev>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<RawAuthor>,
    /// How many rejected candidates to remember (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub max_rejected: Option<S<i64>>,
    /// Show the verdict as a commit status (`assay/<name>`) on the commit that proposed the candidate, when the credentials Secret holds a forge API token (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status: Option<bool>,
}

/// Where the Argo CD API is, so the hook can ask for a refresh.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawArgocd {
    /// Argo CD API server base URL, e.g. `https://argocd-server.argocd` (default:
    /// the argocd-server parameter, then the ARGOCD_SERVER plugin env).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub server: Option<S<String>>,
}

/// The author of verdict commits.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAuthor {
    /// Display name; must not be empty.
    pub name: String,
    /// Email address: contains `@`, no `<`, `>` or line breaks.
    pub email: String,
}

/// A candidate that failed, as the promote hook records it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRejected {
    /// The rejected candidate's version.
    pub version: String,
    /// The rejected candidate's image.
    pub image: String,
    /// The experiment that rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}
