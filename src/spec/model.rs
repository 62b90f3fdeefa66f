//! The validated, defaulted Release: what rendering and promotion work from.
//! Every value here has passed validation; fields whose default depends on the
//! Argo CD environment (Prometheus URL, promotion mode, candidate weight) stay
//! `Option` and are resolved against it at render time.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

pub use super::raw::{
    ForgeChoice, LoadgenMode, MetricType, Mode, OnNewCandidate, Pattern, Prefer,
    RawParentRef as ParentRef, Router,
};
pub use crate::yaml::Location;

/// One application's release state, from `assay.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// `metadata.name`: prefix of every generated object.
    pub name: String,
    /// `None`: the Application's destination namespace, resolved at render time.
    pub namespace: Option<String>,
    /// How the other manifests of the app directory are produced.
    pub source: Source,
    /// Longest any one tool of `source` may run.
    pub tool_timeout: Duration,
    /// How each version's Deployment is built.
    pub workload: Workload,
    /// The version serving in steady state.
    pub baseline: Version,
    /// The version under test; `None` in steady state, when no experiment is rendered.
    pub candidate: Option<Version>,
    /// How requests are split between the versions.
    pub traffic: Traffic,
    /// How the candidate is judged; defaulted even in steady state.
    pub experiment: Judging,
    /// The load generator; `None` means real traffic only.
    pub loadgen: Option<Loadgen>,
    /// Where and how the verdict is written back.
    pub promotion: Promotion,
    /// Candidates waiting their turn (`onNewCandidate: queue`).
    pub queue: Vec<Version>,
    /// Candidates that failed, newest last, as the hook recorded them.
    pub rejected: Vec<Rejected>,
    /// File-name globs of app-directory files that are not passed through.
    pub exclude: Vec<String>,
    /// Content hash of the experiment-relevant parts of the file (see `id`).
    pub id: String,
    /// Where sections start, for errors found only at render time.
    pub places: Places,
}

/// Positions of sections in `assay.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Places {
    /// The `metadata` mapping.
    pub metadata: Location,
    /// The `spec` mapping: the fallback for errors about absent sections.
    pub spec: Location,
    /// `spec.candidate`, else `spec`.
    pub candidate: Location,
    /// `spec.experiment`, else `spec`.
    pub experiment: Location,
    /// `spec.traffic`, else `spec`.
    pub traffic: Location,
    /// The `spec.workload.template` value; meaningless without a template.
    pub template: Location,
    /// `spec.source`, else `spec`.
    pub source: Location,
    /// `spec.workload.from`; meaningless without it.
    pub from: Location,
}

/// How each version's Deployment is built; `None` falls back to the template, then to defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The Deployment of the rendered base used as the template; never with `template`.
    pub from: Option<FromRef>,
    /// Relative to the app directory, already checked not to escape it.
    pub template: Option<PathBuf>,
    /// Container that receives image and env; `None`: the template's first, or `<name>` inline.
    pub container: Option<String>,
    /// Replicas per version (0–1000); `None`: the template's, else 1.
    pub replicas: Option<u32>,
    /// Service and route port; `None`: the template container's first port, else 8080.
    pub port: Option<u16>,
    /// `None` keeps the template's ServiceAccount.
    pub service_account_name: Option<String>,
    /// Extra labels on every version's pods; never `app` or `version`.
    pub pod_labels: IndexMap<String, String>,
    /// Extra annotations on every version's pods.
    pub pod_annotations: IndexMap<String, String>,
    /// Unset: the template's, else Kubernetes' default of 10 minutes.
    pub progress_deadline: Option<Duration>,
    /// For images whose `USER` is not a numeric non-root uid.
    pub run_as_user: Option<i64>,
}

/// A Deployment of the rendered base, by name (`spec.workload.from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromRef {
    /// Its `metadata.name` (validation has checked the kind is
    /// `Deployment`, the only kind assay can run versions of).
    pub name: String,
}

/// How the manifests beside `assay.yaml` are produced (`spec.source`).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The directory's own files (Argo CD's directory source).
    Directory(Directory),
    /// `kustomize build` (or `kubectl kustomize`).
    Kustomize(Kustomize),
    /// `helm template` of a chart in the repository.
    Helm(Helm),
}

/// Which files of the app directory are read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Directory {
    /// Subdirectories too.
    pub recursive: bool,
    /// Path globs a file must match (empty: every manifest).
    pub include: Vec<String>,
    /// Path globs of files not read.
    pub exclude: Vec<String>,
}

/// A kustomization to build.
#[derive(Debug, Clone, PartialEq)]
pub struct Kustomize {
    /// Relative to the app directory, normalised; may start with `..` (checked against the repository at render time).
    pub path: PathBuf,
    /// `--enable-helm`.
    pub enable_helm: bool,
    /// `--load-restrictor LoadRestrictionsNone`.
    pub load_restrictor_none: bool,
}

/// A local chart to template.
#[derive(Debug, Clone, PartialEq)]
pub struct Helm {
    /// Relative to the app directory, normalised; may start with `..`.
    pub chart: PathBuf,
    /// Helm's release name: the spec's, else `metadata.name`.
    pub release_name: String,
    /// Relative to the app directory, in order.
    pub values_files: Vec<PathBuf>,
    /// Inline values, applied after the files.
    pub values: Option<serde_json::Value>,
    /// `None`: `metadata.namespace`, else the destination namespace (at render time).
    pub namespace: Option<String>,
    /// Run `helm dependency build` first.
    pub dependency_build: bool,
    /// `--include-crds`.
    pub include_crds: bool,
}

/// One version of the application: what CI proposes and promotion moves to the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// A DNS-1123 label: the `version` pod label and the Deployment suffix (`<name>-<version>`).
    pub version: String,
    /// Container image reference.
    pub image: String,
    /// Env of the chosen container, in the user's order (for `$(VAR)` references).
    pub env: IndexMap<String, String>,
}

/// How requests are split; options the router would ignore have been refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// What splits the traffic.
    pub router: Router,
    /// 0–100, only with a router; `None`: the parameter, plugin env, else 10 (at render time).
    pub candidate_weight: Option<u8>,
    /// Extra VirtualService hosts (Istio only).
    pub hosts: Vec<String>,
    /// Istio gateways (`name` or `namespace/name`); empty means Istio's `mesh`.
    pub gateways: Vec<String>,
    /// HTTPRoute parents (Gateway API only); empty means the Service (GAMMA mesh routing).
    pub parent_refs: Vec<ParentRef>,
}

/// How the candidate is judged, with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Judging {
    /// Which comparison decides the verdict.
    pub pattern: Pattern,
    /// Load before measuring starts (default 30s).
    pub warmup: Duration,
    /// Length of the measurement window, at least 1s (default 5m).
    pub duration: Duration,
    /// How often metrics are evaluated: between 1s and `duration` (default 10s).
    pub interval: Duration,
    /// Bake time before any promotion, at most `duration` (default a quarter of it).
    pub min_duration: Duration,
    /// Strictly between 0 and 1 (default 0.5): see `docs/judging.md`.
    pub margin: f64,
    /// Requests per version before an estimate-judged metric counts (default 100).
    pub min_requests: u64,
    /// Real traffic to the service, requests per second, for planning.
    pub expected_request_rate: Option<f64>,
    /// Strictly between 0.5 and 1 (default 0.95).
    pub confidence: f64,
    /// `None`: the parameter or plugin env at render time; a candidate needs one.
    pub prometheus: Option<String>,
    /// Secret with Prometheus credentials, mounted into the hook (none: no auth).
    pub prometheus_secret: Option<String>,
    /// Never empty for canary and slo; default: `error-rate` at most 0.01.
    pub objectives: Vec<Objective>,
    /// Non-empty exactly when the pattern is ab.
    pub rewards: Vec<Reward>,
    /// Custom metrics by name, in the user's order.
    pub metrics: IndexMap<String, Custom>,
}

impl Judging {
    /// Warmup plus duration: how long load runs and the window lasts.
    pub fn run_time(&self) -> Duration {
        self.warmup + self.duration
    }
}

/// A custom PromQL metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Custom {
    /// PromQL with placeholders (see `PLACEHOLDERS`).
    pub query: String,
    /// How its value is judged and compared.
    pub kind: MetricType,
}

/// Built-in Istio metrics, per version; latency ones are in milliseconds.
pub const BUILTIN_METRICS: &[&str] = &[
    "request-count",
    "error-count",
    "error-rate",
    "mean-latency",
    "p50-latency",
    "p90-latency",
    "p95-latency",
    "p99-latency",
];

/// What unit a metric's limits are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A count of requests.
    Count,
    /// A fraction in [0, 1]; limits may be written as `1%`.
    Rate,
    /// Milliseconds; limits may be written as durations (`300ms`).
    Latency,
    /// A custom metric: plain numbers only.
    Custom,
}

impl MetricKind {
    /// The kind of a metric by name: built-ins by their unit, anything else `Custom`.
    pub fn of(metric: &str) -> MetricKind {
        match metric {
            "request-count" | "error-count" => MetricKind::Count,
            "error-rate" => MetricKind::Rate,
            m if m.ends_with("-latency") && BUILTIN_METRICS.contains(&m) => MetricKind::Latency,
            _ => MetricKind::Custom,
        }
    }
}

// Objective and Reward are also the Experiment's wire form (crate::crd), so
// the hook judges exactly what validation accepted.

/// A limit on one metric; at least one of `upperLimit` and `lowerLimit` is set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// A built-in metric (`error-rate`, `mean-latency`, `p99-latency`, …) or a name in `metrics`.
    pub metric: String,
    /// Highest acceptable value, in the metric's unit (a ratio to the baseline when `relative`); absent: no upper limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_limit: Option<f64>,
    /// Lowest acceptable value; never above `upperLimit`; absent: no lower limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_limit: Option<f64>,
    /// Limits are ratios to the baseline's value; never with pattern slo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relative: bool,
}

/// A metric an `ab` experiment optimises to pick the winner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    /// A built-in metric or a name in `metrics`.
    pub metric: String,
    /// `high` or `low`: which values win.
    pub prefer: Prefer,
}

/// The fortio load generator, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Loadgen {
    /// `None`: `http://<name>:<port>/`, built at render time (with a router, needs `sidecar`).
    pub url: Option<String>,
    /// Inject the Istio sidecar into the load generator (native sidecars only).
    pub sidecar: bool,
    /// Total requests per second across all connections, in (0, 10000] (default 8).
    pub qps: f64,
    /// Concurrent connections, 1–1000 (default 4).
    pub connections: u32,
    /// Sent with every request, in the user's order.
    pub headers: IndexMap<String, String>,
    /// fortio image (default `DEFAULT_LOADGEN_IMAGE`).
    pub image: String,
    /// In the hook pod (default) or a sync-phase Job.
    pub mode: LoadgenMode,
}

/// fortio, pinned. Changing it changes the loadgen Job's immutable template:
/// bump `RENDER_EPOCH` (spec/id.rs) with it.
pub const DEFAULT_LOADGEN_IMAGE: &str = "fortio/fortio:1.69.5";

/// How and where the verdict is written back to Git, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    /// `None`: the parameter, plugin env, else pull-request (at render time).
    pub mode: Option<Mode>,
    /// Secret with the Git credentials, mounted into the hook (default `assay-git`).
    pub credentials_secret: String,
    /// What a new candidate does to a running experiment (default preempt).
    pub on_new_candidate: OnNewCandidate,
    /// Paths, relative to this file, of other `assay.yaml` files that receive
    /// the winner in the verdict commit.
    pub next: Vec<String>,
    /// Environments in other repositories or branches that receive the
    /// winner after the verdict is in Git, in the order written.
    pub next_environments: Vec<NextEnv>,
    /// `None`: the Application's target revision, which must then be a branch.
    pub branch: Option<String>,
    /// `None`: the Application's source repository.
    pub repo: Option<String>,
    /// Where pull requests are opened (default auto: from the repository URL's host).
    pub forge: ForgeChoice,
    /// Forge API base URL, for GitHub Enterprise and self-hosted forges.
    pub api_url: Option<String>,
    /// How a reject reaches Git in pull-request mode (default push: at once).
    pub reject: Mode,
    /// Argo CD API server to ask for a refresh; `None`: the parameter or
    /// plugin env (at render time), else no refresh.
    pub argocd_server: Option<String>,
    /// Author of verdict commits (default `assay <assay@assay.dev>`).
    pub author: Author,
    /// Longest `rejected` list kept, 1–1000 (default 20).
    pub max_rejected: u32,
    /// Commit statuses on the forge (default true; they need an API token).
    pub commit_status: bool,
}

/// A Git commit author.
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    /// Non-empty display name.
    pub name: String,
    /// Contains `@`; no `<`, `>` or line breaks.
    pub email: String,
}

/// A candidate that failed, as the hook recorded it (its shape is checked, its values are not).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The rejected candidate's version.
    pub version: String,
    /// The rejected candidate's image.
    pub image: String,
    /// The experiment that rejected it.
    pub experiment: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// When it was rejected.
    pub date: Option<String>,
}

/// A `promotion.next` environment in another repository or branch, with
/// what can be defaulted from the spec alone applied; the rest (this
/// environment's repository, branch and mode) is filled in at render time.
#[derive(Debug, Clone, PartialEq)]
pub struct NextEnv {
    /// `None`: this environment's repository.
    pub repo: Option<String>,
    /// `None`: this branch in this repository, else the remote's default branch.
    pub branch: Option<String>,
    /// Path of its assay.yaml from the repository root (default `assay.yaml`).
    pub path: String,
    /// `None`: this environment's mode.
    pub mode: Option<Mode>,
    /// `None`: this environment's Secret.
    pub credentials_secret: Option<String>,
    /// Where pull requests are opened (default auto).
    pub forge: ForgeChoice,
    /// Forge API base URL.
    pub api_url: Option<String>,
    /// The soak: how long the winner should serve here first.
    pub after: Option<std::time::Duration>,
    /// Propose even a candidate that environment has rejected.
    pub force: bool,
}
