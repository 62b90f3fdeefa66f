//! The `Experiment` custom resource (`assay.dev/v1alpha1`): the contract
//! between `generate`, which writes its spec from `assay.yaml` and the Argo CD
//! environment, and the promote hook, which reads the spec and owns the status.
//! The spec holds everything the hook needs, so the hook never re-reads the
//! plugin environment. Limits are in the metric's unit: fractions for rates,
//! milliseconds for latency.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{ForgeChoice, MetricType, Mode, Pattern, rules};
pub use crate::spec::{Objective, Reward};

mod action;
mod conditions;
mod status;
pub use action::{Action, ManualAction};
pub use conditions::{Condition, ConditionStatus, ConditionType, derive as derive_conditions};
pub use status::{
    Evidence, ExperimentStatus, Finding, LookRecord, NextOutcome, NextStatus, Phase, RateCount,
    Verdict,
};

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
    printcolumn = r#"{"name":"Judged","type":"string","jsonPath":".status.conditions[?(@.type==\"Judged\")].reason"}"#,
    printcolumn = r#"{"name":"Delivered","type":"string","jsonPath":".status.conditions[?(@.type==\"Delivered\")].reason"}"#,
    printcolumn = r#"{"name":"Look","type":"integer","jsonPath":".status.iteration"}"#,
    printcolumn = r#"{"name":"Candidate","type":"string","jsonPath":".spec.candidate.version"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#,
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
    /// `canary`, `ab` or `slo`: how the candidate is judged.
    pub pattern: Pattern,
    /// The version serving now.
    pub baseline: VersionRef,
    /// The version under test.
    pub candidate: VersionRef,
    /// When measuring starts and how long it lasts, counted from the start of the load.
    pub window: WindowSpec,
    /// Requests per version before a metric judged on its estimate (mean
    /// latency, custom values) counts; rate objectives need no minimum.
    pub min_requests: u64,
    /// Confidence a verdict needs, strictly between 0.5 and 1.
    #[schemars(range(min = 0.5, max = 1.0))]
    pub confidence: f64,
    /// How far under a rate limit, as a share of it, a candidate should be
    /// for early promotion to be likely (0.5: at half the limit).
    #[serde(default = "default_margin")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub margin: f64,
    /// http(s) URL of the Prometheus the hook queries.
    pub prometheus: String,
    /// Limits the candidate must stay within.
    pub objectives: Vec<Objective>,
    /// `ab` only: metrics whose better value picks the winner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewards: Vec<Reward>,
    /// Custom PromQL metrics that objectives and rewards may name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<CustomMetric>,
    /// The load generator Job, whose start opens the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadgen: Option<LoadgenRef>,
    /// Where and how the verdict is committed.
    pub write_back: WriteBack,
}

/// The Argo CD Application that rendered the experiment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRef {
    /// Application name, without the `<namespace>_` prefix.
    pub name: String,
    /// Set when the Application lives outside Argo CD's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One version as deployed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionRef {
    /// Version name: the `version` pod label.
    pub version: String,
    /// Container image of the version.
    pub image: String,
    /// The Deployment running it, as Istio's `destination_workload` names it.
    pub workload: String,
}

/// The measurement window, in whole seconds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowSpec {
    /// Load before measuring starts.
    #[schemars(range(max = 2_592_000))]
    pub warmup_seconds: u64,
    /// Length of the measurement after the warmup.
    #[schemars(range(min = 1, max = 2_592_000))]
    pub duration_seconds: u64,
    /// Time between two evaluations of the metrics.
    #[schemars(range(min = 1, max = 2_592_000))]
    pub interval_seconds: u64,
    /// Bake time: no promotion before this much of the window has passed.
    #[serde(default)]
    #[schemars(range(max = 2_592_000))]
    pub min_duration_seconds: u64,
}

/// The margin a spec without one gets.
pub fn default_margin() -> f64 {
    0.5
}

/// A custom metric: a PromQL query run once per version.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomMetric {
    /// The name objectives and rewards use.
    pub name: String,
    /// PromQL using `{{version}}` or `{{workload}}`, optionally `{{namespace}}` and `{{window}}`.
    pub query: String,
    /// `proportion`: a share of the version's requests; `value` otherwise.
    #[serde(default, rename = "type", skip_serializing_if = "is_value")]
    pub kind: MetricType,
}

fn is_value(k: &MetricType) -> bool {
    *k == MetricType::Value
}

/// The load generator of this experiment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadgenRef {
    /// Name of the Job (`<release>-loadgen-<id>`), in the Experiment's namespace.
    pub job: String,
}

/// Where and how the verdict is committed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteBack {
    /// The env repository the verdict is committed to.
    #[serde(flatten)]
    pub repo: EnvRepo,
    /// How a reject reaches Git in pull-request mode: `push` (at once, the
    /// default, also for Experiments rendered before this field) or
    /// `pull-request`.
    #[serde(default = "push")]
    pub reject: Mode,
    /// Argo CD API server asked to refresh the Application after the
    /// verdict; unset: no refresh.
    #[serde(
        default,
        rename = "argocdServer",
        skip_serializing_if = "Option::is_none"
    )]
    pub argocd_server: Option<String>,
    /// Author of the verdict commit.
    pub author: Author,
    /// Repository paths of other assay.yaml files that receive the winner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    /// Environments in other repositories or branches that receive the
    /// winner once the verdict is in Git.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_environments: Vec<NextEnvironment>,
}

/// An assay.yaml in a Git repository and how the hook writes to it: the
/// environment's own (for the verdict) and each next environment's (for the
/// winner) are reached the same way.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvRepo {
    /// The repository.
    #[serde(rename = "repoURL")]
    pub url: String,
    /// `HEAD` means the remote's default branch.
    pub branch: String,
    /// Path of the assay.yaml inside the repository.
    pub path: String,
    /// `pull-request` or `push`.
    pub mode: Mode,
    /// Secret with its credentials, in the Experiment's namespace, mounted into the hook.
    pub credentials_secret: String,
    /// `auto`, `github`, `gitlab` or `gitea`: where pull requests are opened.
    pub forge: ForgeChoice,
    /// Forge API base URL, for GitHub Enterprise and self-hosted forges.
    #[serde(default, rename = "apiURL", skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

/// A next environment, resolved: where the winner is proposed and how.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextEnvironment {
    /// Its repository.
    #[serde(flatten)]
    pub repo: EnvRepo,
    /// The soak: the pull request says it may be merged this long after the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 31_536_000))]
    pub after_seconds: Option<u64>,
    /// Propose even a candidate that environment has rejected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

fn push() -> Mode {
    Mode::Push
}

/// A Git commit author.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

pub use crate::spec::rules::MAX_WINDOW_SECONDS;

impl ExperimentSpec {
    /// What the hook relies on, checked with the rules `assay.yaml`
    /// validation applies ([`crate::spec::rules`]): `generate` only writes
    /// valid specs, but an Experiment read from the API or a file may have
    /// been edited. The error names the field.
    pub fn check(&self) -> Result<(), String> {
        let w = &self.window;
        fn at(field: &str) -> impl Fn(String) -> String + '_ {
            move |m| format!("spec.{field}: {m}")
        }
        rules::confidence(self.confidence).map_err(at("confidence"))?;
        rules::margin(self.margin).map_err(at("margin"))?;
        for (field, v, min) in [
            ("warmupSeconds", w.warmup_seconds, 0),
            ("durationSeconds", w.duration_seconds, 1),
            ("intervalSeconds", w.interval_seconds, 1),
        ] {
            if v < min || v > MAX_WINDOW_SECONDS {
                return Err(format!(
                    "spec.window.{field}: must be between {min} and {MAX_WINDOW_SECONDS}, got {v}"
                ));
            }
        }
        rules::within_duration(w.interval_seconds, w.duration_seconds)
            .map_err(at("window.intervalSeconds"))?;
        rules::within_duration(w.min_duration_seconds, w.duration_seconds)
            .map_err(at("window.minDurationSeconds"))?;
        for (i, o) in self.objectives.iter().enumerate() {
            rules::limits(o.lower_limit, o.upper_limit).map_err(at(&format!("objectives[{i}]")))?;
        }
        let field = match self.pattern {
            Pattern::Ab => "rewards",
            Pattern::Canary | Pattern::Slo => "objectives",
        };
        rules::judged_by(self.pattern, self.objectives.len(), self.rewards.len())
            .map_err(at(field))?;
        Ok(())
    }
}

/// The CRD as YAML, as `samples/install/crd.yaml` holds it.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let mut crd = Experiment::crd();
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            kubernetes_int_formats(schema);
        }
    }
    crate::yaml::to_string(&crd)
}

/// schemars names Rust's unsigned and narrow integers (`uint64`, `uint32`,
/// `int16`, …); Kubernetes knows only `int32` and `int64`, and since 1.34
/// warns for every other format when the CRD is applied. Each becomes the
/// smallest of the two that holds its range (`uint64` has no exact match and
/// becomes `int64`: our values are counts and seconds, far below 2^63).
fn kubernetes_int_formats(schema: &mut JSONSchemaProps) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaPropsOrArray as Items, JSONSchemaPropsOrBool as Extra,
    };
    if let Some(format) = schema.format.as_mut() {
        match format.as_str() {
            "int8" | "int16" | "uint8" | "uint16" => *format = "int32".into(),
            "uint32" | "uint64" | "uint" => *format = "int64".into(),
            _ => {}
        }
    }
    let maps = [
        schema.properties.as_mut(),
        schema.pattern_properties.as_mut(),
        schema.definitions.as_mut(),
    ];
    let lists = [
        schema.all_of.as_mut(),
        schema.any_of.as_mut(),
        schema.one_of.as_mut(),
    ];
    let mut nested: Vec<&mut JSONSchemaProps> = maps
        .into_iter()
        .flatten()
        .flat_map(|m| m.values_mut())
        .chain(lists.into_iter().flatten().flatten())
        .collect();
    nested.extend(schema.not.as_deref_mut());
    match schema.items.as_mut() {
        Some(Items::Schema(one)) => nested.push(one),
        Some(Items::Schemas(many)) => nested.extend(many.iter_mut()),
        None => {}
    }
    for extra in [
        schema.additional_properties.as_mut(),
        schema.additional_items.as_mut(),
    ] {
        if let Some(Extra::Schema(one)) = extra {
            nested.push(one);
        }
    }
    for child in nested {
        kubernetes_int_formats(child);
    }
}
