//! `spec.source` and `spec.workload.from` exactly as written (issue 12): how
//! the app directory's other manifests are produced, and which Deployment of
//! them becomes the template. Kept apart from [`super::raw`] only for size.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned as S;

/// How the manifests beside `assay.yaml` are produced: exactly one of
/// `directory` (the default), `kustomize` or `helm`.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSource {
    /// Plain manifests read from the directory, as Argo CD's directory source reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawDirectory>")]
    pub directory: Option<S<RawDirectory>>,
    /// `kustomize build` of a kustomization in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawKustomize>")]
    pub kustomize: Option<S<RawKustomize>>,
    /// `helm template` of a chart in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RawHelm>")]
    pub helm: Option<S<RawHelm>>,
    /// Longest a tool may run, e.g. `40s` (default `45s`: under the repo-server's 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<S<String>>,
}

/// The directory source's options, as Argo CD's `directory` has them.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDirectory {
    /// Read manifests in subdirectories too (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Only paths (relative to this directory) matching one of these globs; `*` stops at `/`, `**` does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub include: Option<Vec<S<String>>>,
    /// Paths (relative to this directory) matching one of these globs are not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub exclude: Option<Vec<S<String>>>,
}

/// `kustomize build PATH` (or `kubectl kustomize PATH`).
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawKustomize {
    /// The kustomization directory, relative to this one; may use `..` inside the repository (default `.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub path: Option<S<String>>,
    /// Let kustomize inflate `helmCharts` with helm (`--enable-helm`; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_helm: Option<bool>,
    /// Allow resources and bases outside the kustomization's directory (`--load-restrictor LoadRestrictionsNone`; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_restrictor_none: Option<bool>,
}

/// `helm template RELEASE CHART` of a chart in the repository.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHelm {
    /// The chart directory, relative to this one; may use `..` inside the repository.
    #[schemars(with = "String")]
    pub chart: S<String>,
    /// Helm's release name (default: `metadata.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub release_name: Option<S<String>>,
    /// Values files, relative to this directory, in order (`--values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub values_files: Option<Vec<S<String>>>,
    /// Values given inline, applied after the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Value>,
    /// `--namespace` (default: `metadata.namespace`, else the Application's destination namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<S<String>>,
    /// Run `helm dependency build` first, for a local chart with dependencies (default false; needs network unless vendored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_build: Option<bool>,
    /// Also render the chart's `crds/` (`--include-crds`; default true, as Argo CD does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_crds: Option<bool>,
}

/// Names the Deployment of the rendered base that becomes the template.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFrom {
    /// Must be `Deployment`.
    #[schemars(with = "String")]
    pub kind: S<String>,
    /// `metadata.name` of that Deployment in the rendered base.
    #[schemars(with = "String")]
    pub name: S<String>,
}
