//! `assay.yaml` + the Argo CD environment → Kubernetes manifests. A pure
//! function: files arrive already read, the environment already parsed; no
//! network, clock or environment reads happen here, so the same input always
//! gives byte-identical output (Argo CD caches and diffs it).

mod adopt;
mod experiment;
mod hook;
mod loadgen;
mod passthrough;
mod routing;
mod security;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

use crate::cmp::{self, CmpEnv, Settings};
use crate::spec::{LoadgenMode, Mode, Release, Version};
use crate::yaml::{Location, SpecError, SpecErrorKind};

/// Label on every object that exists only for one experiment.
pub const EXPERIMENT_LABEL: &str = "assay.dev/experiment";

/// When Argo CD applies what, within one sync. Versions (wave 0) become
/// Available before routing (wave 1) sends them requests, and the load
/// (wave 2) starts once routing is in place. Versions and their Services are
/// pruned last, after routing has moved away from them.
pub(crate) mod order {
    /// Annotation that orders objects within one sync.
    pub const WAVE: &str = "argocd.argoproj.io/sync-wave";
    /// Wave of routing objects: after the versions (wave 0) are Available.
    pub const ROUTING: &str = "1";
    /// Wave of the load generator: after routing is in place.
    pub const LOAD: &str = "2";
    /// Annotation carrying Argo CD sync options.
    pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
    /// Prune only after the rest, so a removed version serves until routing has left it.
    pub const PRUNE_LAST: &str = "PruneLast=true";
}

/// A file from the app directory, already read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name relative to the app directory, as errors show it.
    pub name: String,
    /// The whole file, already checked to be UTF-8 and within the size limits.
    pub text: String,
}

/// The app directory's files other than `assay.yaml`.
#[derive(Debug, Clone, Default)]
pub struct AppFiles {
    /// The Deployment file named by `spec.workload.template`, if any.
    pub template: Option<SourceFile>,
    /// Other manifests, in the order they are emitted (sorted by name).
    pub passthrough: Vec<SourceFile>,
}

/// One document of the output stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// An object assay generated.
    Object(Value),
    /// A user's manifest, emitted as written.
    Raw(String),
}

/// Why rendering failed; always a place in `assay.yaml` or a file it names.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec does not fit the template, the manifests or the Argo CD environment.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// What rendering resolved once: settings from spec, parameters and env.
pub(crate) struct Ctx<'a> {
    /// The validated spec.
    pub rel: &'a Release,
    /// The Argo CD environment and plugin settings.
    pub env: &'a CmpEnv,
    /// `metadata.namespace`, else the Application's destination namespace.
    pub namespace: Option<String>,
    /// The port the workload serves on.
    pub port: u16,
    /// The spec's settings over parameters over plugin env.
    pub settings: Settings,
    /// Percentage of traffic to the candidate.
    pub weight: u8,
    /// How the verdict reaches Git.
    pub mode: Mode,
    /// The base's Service that assay's replaces (`workload.from`).
    pub adopted_service: Option<adopt::AdoptedService>,
    /// A HorizontalPodAutoscaler of the base scales the baseline: its
    /// Deployment leaves `replicas` unset, so Argo CD does not fight it.
    pub autoscaled: bool,
}

impl Ctx<'_> {
    /// `<name>-<version>`: the Deployment (and per-version Service) of a version.
    pub fn workload_name(&self, v: &Version) -> String {
        format!("{}-{}", self.rel.name, v.version)
    }

    /// Object metadata with the release's namespace and the standard labels.
    pub fn meta(&self, name: impl Into<String>, extra: &[(&str, &str)]) -> ObjectMeta {
        let mut labels = BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), self.rel.name.clone()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "assay".to_string(),
            ),
        ]);
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ObjectMeta {
            name: Some(name.into()),
            namespace: self.namespace.clone(),
            labels: Some(labels),
            ..Default::default()
        }
    }

    /// Adds an annotation to `meta`.
    pub fn annotate(meta: &mut ObjectMeta, key: &str, value: &str) {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
    }

    /// Metadata of an object that exists only for the current experiment.
    pub fn experiment_meta(&self, name: impl Into<String>) -> ObjectMeta {
        self.meta(name, &[(EXPERIMENT_LABEL, &self.rel.id)])
    }

    /// An `Invalid` error in `assay.yaml`, for rules that need the template or the environment.
    pub fn spec_error(&self, at: Location, path: &str, message: impl Into<String>) -> RenderError {
        RenderError::Spec(SpecError::new(
            crate::spec::FILE_NAME,
            at,
            path,
            SpecErrorKind::Invalid(message.into()),
        ))
    }
}

/// Serialises a typed object for the output stream.
pub(crate) fn object<T: Serialize>(value: &T) -> Document {
    // Kubernetes types and plain maps always serialise.
    Document::Object(serde_json::to_value(value).expect("serialisable manifest"))
}

/// Every manifest for `rel` in `env`, in a fixed order: RBAC, Services,
/// Deployments, routing, experiment, hooks, then the passthrough files.
pub fn all(rel: &Release, env: &CmpEnv, files: &AppFiles) -> Result<Vec<Document>, RenderError> {
    let (template, adopted) = match &rel.workload.from {
        Some(from) => {
            let (t, a) = adopt::adopt(rel, from, &files.passthrough)?;
            (Some(t), Some(a))
        }
        None => {
            let t = files.template.as_ref().map(workload::parse_template);
            (t.transpose()?, None)
        }
    };
    let port = workload::port(rel, template.as_ref());
    let settings = Settings::of_spec(rel).over(&env.settings);
    let ctx = Ctx {
        rel,
        env,
        namespace: rel.namespace.clone().or_else(|| env.namespace.clone()),
        port,
        weight: settings
            .candidate_weight
            .unwrap_or(cmp::DEFAULT_CANDIDATE_WEIGHT),
        mode: settings
            .promotion_mode
            .unwrap_or(cmp::DEFAULT_PROMOTION_MODE),
        settings,
        adopted_service: adopted.as_ref().and_then(|a| a.service.clone()),
        autoscaled: adopted.as_ref().is_some_and(|a| a.autoscaled),
    };
    let mut docs = Vec::new();
    let experiment = match &rel.candidate {
        Some(cand) => Some(experiment::experiment(&ctx, cand)?),
        None => None,
    };
    if let (Some(cand), Some(exp)) = (&rel.candidate, &experiment) {
        docs.extend(hook::rbac(&ctx, cand, exp)?);
    }
    docs.extend(routing::services(&ctx));
    for (v, is_candidate) in versions(rel) {
        docs.push(object(&workload::deployment(
            &ctx,
            v,
            is_candidate,
            template.as_ref(),
        )?));
    }
    docs.extend(routing::routes(&ctx));
    if let Some(exp) = experiment {
        let name = exp.metadata.name.clone().unwrap_or_default();
        docs.push(object(&exp));
        if let Some(l) = rel.loadgen.as_ref().filter(|l| l.mode == LoadgenMode::Job) {
            docs.push(object(&loadgen::job(&ctx, l)));
        }
        docs.push(object(&hook::job(&ctx, &name, hook::HookKind::PostSync)));
        docs.push(object(&hook::job(&ctx, &name, hook::HookKind::SyncFail)));
    }
    let generated: std::collections::HashSet<_> = docs
        .iter()
        .filter_map(|d| match d {
            Document::Object(o) => Some(passthrough::identity(o, ctx.namespace.as_deref())),
            Document::Raw(_) => None,
        })
        .collect();
    let (texts, placed) = match adopted {
        Some(a) => (a.docs, a.placed),
        None => {
            let (mut texts, mut placed) = (Vec::new(), Vec::new());
            for f in &files.passthrough {
                let (t, p) = passthrough::documents(f)?;
                texts.extend(t);
                placed.extend(p);
            }
            (texts, placed)
        }
    };
    // Two objects with one identity: Argo CD would apply one of them and warn.
    let collides = |p: &&passthrough::Placed| {
        generated.contains(&passthrough::identity(&p.object, ctx.namespace.as_deref()))
    };
    if let Some(p) = placed.iter().find(collides) {
        let (_, kind, _, name) = passthrough::identity(&p.object, ctx.namespace.as_deref());
        return Err(RenderError::Spec(SpecError::new(
            &p.file,
            p.at,
            "",
            SpecErrorKind::Invalid(format!(
                "{kind} {name} is generated by assay from assay.yaml; remove it from this file or exclude the file"
            )),
        )));
    }
    docs.extend(texts);
    Ok(docs)
}

/// Baseline first, then the candidate if any.
fn versions(rel: &Release) -> impl Iterator<Item = (&Version, bool)> {
    std::iter::once((&rel.baseline, false)).chain(rel.candidate.iter().map(|c| (c, true)))
}

/// The YAML stream Argo CD reads: documents separated by `---`, strings that
/// YAML 1.1 would misread (`on`, `no`, `0755`) quoted.
pub fn to_yaml(docs: &[Document]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        match d {
            Document::Object(v) => crate::yaml::append(&mut out, v),
            Document::Raw(text) => out.push_str(text),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Checks a template file the way rendering will use it (for `assay validate`).
pub fn check_template(file: &SourceFile) -> Result<(), RenderError> {
    workload::parse_template(file).map(|_| ())
}
