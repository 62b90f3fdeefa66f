//! The validated, defaulted Release: what rendering and promotion work from.
//! Every value here has passed validation; fields whose default depends on the
//! Argo CD environment (Prometheus URL, promotion mode, candidate weight) stay
//! `Option` and are resolved against it at render time.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

pub use super::error::Location;
pub use super::raw::{
    Forge, Mode, OnNewCandidate, Pattern, Prefer, RawParentRef as ParentRef, Router,
};

/// One application's release state, from `assay.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: Option<String>,
    pub workload: Workload,
    pub baseline: Version,
    pub candidate: Option<Version>,
    pub traffic: Traffic,
    pub experiment: Experiment,
    pub loadgen: Option<Loadgen>,
    pub promotion: Promotion,
    pub queue: Vec<Version>,
    pub rejected: Vec<Rejected>,
    pub exclude: Vec<String>,
    /// Content hash of the experiment-relevant parts of the file (see `id`).
    pub id: String,
    /// Where sections start, for errors found only at render time.
    pub places: Places,
}

/// Positions of sections in `assay.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Places {
    pub metadata: Location,
    pub spec: Location,
    pub candidate: Location,
    pub experiment: Location,
    pub traffic: Location,
    pub template: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Relative to the app directory, already checked not to escape it.
    pub template: Option<PathBuf>,
    pub container: Option<String>,
    pub replicas: Option<u32>,
    pub port: Option<u16>,
    pub service_account_name: Option<String>,
    pub pod_labels: IndexMap<String, String>,
    pub pod_annotations: IndexMap<String, String>,
    /// Unset: the template's, else Kubernetes' default of 10 minutes.
    pub progress_deadline: Option<Duration>,
    /// For images whose `USER` is not a numeric non-root uid.
    pub run_as_user: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub version: String,
    pub image: String,
    pub env: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub router: Router,
    pub candidate_weight: Option<u8>,
    pub hosts: Vec<String>,
    pub gateways: Vec<String>,
    pub parent_refs: Vec<ParentRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub pattern: Pattern,
    pub warmup: Duration,
    pub duration: Duration,
    pub interval: Duration,
    pub min_requests: u64,
    pub confidence: f64,
    pub prometheus: Option<String>,
    pub objectives: Vec<Objective>,
    pub rewards: Vec<Reward>,
    pub metrics: IndexMap<String, String>,
}

impl Experiment {
    /// Warmup plus duration: how long load runs and the window lasts.
    pub fn run_time(&self) -> Duration {
        self.warmup + self.duration
    }
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
    pub fn of(metric: &str) -> MetricKind {
        match metric {
            "request-count" | "error-count" => MetricKind::Count,
            "error-rate" => MetricKind::Rate,
            m if m.ends_with("-latency") && BUILTIN_METRICS.contains(&m) => MetricKind::Latency,
            _ => MetricKind::Custom,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: String,
    pub upper_limit: Option<f64>,
    pub lower_limit: Option<f64>,
    pub relative: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reward {
    pub metric: String,
    pub prefer: Prefer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Loadgen {
    pub url: Option<String>,
    /// Inject the Istio sidecar into the load generator (native sidecars only).
    pub sidecar: bool,
    pub qps: f64,
    pub connections: u32,
    pub headers: IndexMap<String, String>,
    pub image: String,
}

/// fortio, pinned. Changing it changes the loadgen Job's immutable template:
/// bump `RENDER_EPOCH` (spec/id.rs) with it.
pub const DEFAULT_LOADGEN_IMAGE: &str = "fortio/fortio:1.69.5";

#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub mode: Option<Mode>,
    pub credentials_secret: String,
    pub on_new_candidate: OnNewCandidate,
    pub next: Vec<String>,
    pub branch: Option<String>,
    pub repo: Option<String>,
    pub forge: Forge,
    pub api_url: Option<String>,
    pub author: Author,
    pub max_rejected: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub version: String,
    pub image: String,
    pub experiment: Option<String>,
    pub reason: Option<String>,
    pub date: Option<String>,
}
