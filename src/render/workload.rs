//! The Deployment of each version, `<name>-<version>`: from the template file
//! when there is one, else from inline fields. A version's pod template is the
//! same whether it runs as candidate or baseline, so promotion changes only
//! labels on the Deployment object and never restarts its pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use serde::Deserialize;
use serde_json::Value;

use crate::yaml::Spanned as S;

use super::{Ctx, EXPERIMENT_LABEL, RenderError, SourceFile, order, security};
use crate::spec::{Release, Router, Version, seconds};
use crate::yaml::{self, Location, SpecError, SpecErrorKind};

/// Port when neither the spec nor the template names one.
pub const DEFAULT_PORT: u16 = 8080;

/// The two fields that say what a manifest is, with their places.
#[derive(serde::Deserialize)]
struct TemplateHead {
    #[serde(rename = "apiVersion")]
    api_version: Option<S<String>>,
    kind: Option<S<String>>,
}

/// The template file read once: what it says it is, with places, and the
/// Deployment's own fields (`status` and anything else are ignored, as a
/// Deployment's reader ignores what it does not know).
#[derive(serde::Deserialize)]
struct TemplateFile {
    #[serde(rename = "apiVersion")]
    api_version: Option<S<String>>,
    kind: Option<S<String>>,
    metadata: Option<ObjectMeta>,
    spec: Option<DeploymentSpec>,
}

/// A parsed template and where it came from (for errors).
pub(crate) struct Template {
    /// Its text, for errors that point into it: the template file, or the
    /// adopted Deployment's document alone at its places in the base.
    origin: SourceFile,
    /// The parsed Deployment.
    pub deployment: Deployment,
}

impl Template {
    /// An error at the template's field `path`.
    fn error(&self, path: &str, message: impl Into<String>) -> RenderError {
        template_error(&self.origin, path, message)
    }
}

fn template_error(file: &SourceFile, path: &str, message: impl Into<String>) -> RenderError {
    // Point at the offending field when the file is in block style; else at
    // the first line that names it (JSON quotes the key); else at the start
    // of the document (an adopted one is preceded by blank lines).
    let key = path.rsplit('.').next().unwrap_or(path);
    let key = key.split('[').next().unwrap_or(key);
    let text = &file.text;
    let named = || {
        let i = text
            .find(&format!("{key}:"))
            .or_else(|| text.find(&format!("\"{key}\":")))
            .unwrap_or(text.len() - text.trim_start().len());
        yaml::location_at(text, i)
    };
    let at = yaml::field_location(text, path).unwrap_or_else(named);
    RenderError::Spec(SpecError::new(
        &file.name,
        at,
        path,
        SpecErrorKind::Invalid(message.into()),
    ))
}

/// Parses the template file as one `apps/v1` Deployment.
pub(crate) fn parse_template(file: &SourceFile) -> Result<Template, RenderError> {
    yaml::check_text(&file.name, file.text.as_bytes())?;
    read_template(file)
}

/// [`parse_template`] of text already guarded (a template file, or the
/// adopted document, which was guarded as part of its stream).
fn read_template(file: &SourceFile) -> Result<Template, RenderError> {
    let deployment = read_deployment(file)?;
    if let Err((path, message)) = usable(&deployment) {
        return Err(template_error(file, path, message));
    }
    Ok(Template {
        origin: file.clone(),
        deployment,
    })
}

/// The base's Deployment `object` as the template; `alone` is its document
/// at its places in the base. Read from the value, as the base already
/// holds it; one that does not read or is not usable is read again from
/// `alone` as a template file is, so that the error says the same and
/// points into the base.
pub(crate) fn adopted_template(alone: SourceFile, object: Value) -> Result<Template, RenderError> {
    match Deployment::deserialize(&object) {
        Ok(deployment) if usable(&deployment).is_ok() => Ok(Template {
            origin: alone,
            deployment,
        }),
        _ => read_template(&alone),
    }
}

/// Refuses a Deployment with nothing to run: no spec or no containers.
fn usable(deployment: &Deployment) -> Result<(), (&'static str, &'static str)> {
    let Some(spec) = &deployment.spec else {
        return Err(("spec", "the template Deployment has no spec"));
    };
    let containers = spec
        .template
        .spec
        .as_ref()
        .map_or(0, |s| s.containers.len());
    match containers {
        0 => Err((
            "spec.template.spec.containers",
            "the template Deployment has no containers",
        )),
        _ => Ok(()),
    }
}

/// The template's text as a Deployment, read once. A file that is not a
/// Deployment (a Service, say) fails in types first ("missing field
/// `selector`"); then its head is read again to say so in words.
fn read_deployment(file: &SourceFile) -> Result<Deployment, RenderError> {
    let text = &file.text;
    match yaml::from_str::<TemplateFile>(&file.name, text) {
        Ok(t) => {
            check_head(file, &t.api_version, &t.kind)?;
            Ok(Deployment {
                metadata: t.metadata.unwrap_or_default(),
                spec: t.spec,
                status: None,
            })
        }
        Err(e) => {
            if let Ok(head) = yaml::from_str::<TemplateHead>(&file.name, text) {
                check_head(file, &head.api_version, &head.kind)?;
            }
            Err(e.into())
        }
    }
}

/// Refuses a template that is not an `apps/v1` Deployment, in words.
fn check_head(
    file: &SourceFile,
    api_version: &Option<S<String>>,
    kind: &Option<S<String>>,
) -> Result<(), RenderError> {
    let wrong = |v: &Option<S<String>>, field: &str, want: &str| -> Result<(), RenderError> {
        match v {
            Some(s) if s.value == want => Ok(()),
            Some(s) => Err(RenderError::Spec(SpecError::new(
                &file.name,
                Location::of(s),
                field,
                SpecErrorKind::Invalid(format!(
                    "the template must be an apps/v1 Deployment, got {field} {:?}",
                    s.value
                )),
            ))),
            None => Err(template_error(
                file,
                field,
                format!("the template must be an apps/v1 Deployment; {field} is missing"),
            )),
        }
    };
    wrong(api_version, "apiVersion", "apps/v1")?;
    wrong(kind, "kind", "Deployment")
}

/// The port the workload serves on: the spec's, else the template container's
/// first port, else 8080.
pub(crate) fn port(rel: &Release, template: Option<&Template>) -> u16 {
    rel.workload.port.unwrap_or_else(|| {
        template
            .and_then(|t| {
                let pod = t.deployment.spec.as_ref()?.template.spec.as_ref()?;
                let c = pick(pod, rel.workload.container.as_deref()).ok()?;
                let p = c.ports.as_ref()?.first()?.container_port;
                u16::try_from(p).ok()
            })
            .unwrap_or(DEFAULT_PORT)
    })
}

/// The container that receives image and env: by name, else the first.
fn pick<'a>(pod: &'a PodSpec, name: Option<&str>) -> Result<&'a Container, String> {
    match name {
        None => pod
            .containers
            .first()
            .ok_or_else(|| "no containers".to_string()),
        Some(n) => pod.containers.iter().find(|c| c.name == n).ok_or_else(|| {
            let names: Vec<_> = pod.containers.iter().map(|c| c.name.as_str()).collect();
            format!(
                "the template has no container {n:?}; it has {}",
                names.join(", ")
            )
        }),
    }
}

/// The Deployment of version `v`: the template's whole Deployment (strategy,
/// minReadySeconds, metadata…) with assay's name, selector, image, env,
/// replicas and progress deadline, or one built from the inline fields.
pub(crate) fn deployment(
    ctx: &Ctx,
    v: &Version,
    is_candidate: bool,
    template: Option<&Template>,
) -> Result<Deployment, RenderError> {
    let rel = ctx.rel;
    let w = &rel.workload;
    let name = ctx.workload_name(v);
    let selector = BTreeMap::from([
        ("app".to_string(), rel.name.clone()),
        ("version".to_string(), v.version.clone()),
    ]);

    let (base_meta, mut spec) = match template {
        Some(t) => (
            t.deployment.metadata.clone(),
            t.deployment.spec.clone().unwrap_or_default(),
        ),
        None => (
            ObjectMeta::default(),
            DeploymentSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(inline_pod(ctx)),
                },
                ..Default::default()
            },
        ),
    };
    let mut pod_meta = spec.template.metadata.take().unwrap_or_default();
    let mut pod = spec.template.spec.take().unwrap_or_default();
    let index = match template {
        Some(_) => {
            let chosen = pick(&pod, w.container.as_deref())
                .map_err(|m| ctx.spec_error(rel.places.template, "spec.workload.container", m))?
                .name
                .clone();
            pod.containers
                .iter()
                .position(|c| c.name == chosen)
                .unwrap_or(0)
        }
        None => 0,
    };
    let c = &mut pod.containers[index];
    c.image = Some(v.image.clone());
    apply_env(c, v);
    let ports = c.ports.get_or_insert_with(Vec::new);
    if !ports
        .iter()
        .any(|p| p.container_port == i32::from(ctx.port))
    {
        let name =
            (!ports.iter().any(|p| p.name.as_deref() == Some("http"))).then(|| "http".to_string());
        ports.push(ContainerPort {
            name,
            container_port: i32::from(ctx.port),
            protocol: Some("TCP".into()),
            ..Default::default()
        });
    }
    if let Some(sa) = &w.service_account_name {
        pod.service_account_name = Some(sa.clone());
    }
    if let Some(uid) = w.run_as_user {
        let sc = pod.security_context.get_or_insert_with(Default::default);
        sc.run_as_user = Some(uid);
        sc.run_as_group.get_or_insert(uid);
        sc.fs_group.get_or_insert(uid);
    }
    if let Err(v) = security::harden(&mut pod, &pod_meta, "spec.template.spec") {
        return Err(match template {
            Some(t) => t.error(&v.path, v.message),
            None => ctx.spec_error(rel.places.spec, &v.path, v.message),
        });
    }

    let labels = pod_meta.labels.get_or_insert_with(BTreeMap::new);
    labels.extend(w.pod_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.extend(selector.clone());
    if rel.traffic.router == Router::Istio {
        labels.insert("sidecar.istio.io/inject".into(), "true".into());
    }
    if !w.pod_annotations.is_empty() {
        let ann = pod_meta.annotations.get_or_insert_with(BTreeMap::new);
        ann.extend(
            w.pod_annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    pod_meta.name = None;
    pod_meta.namespace = None;

    let mut meta = if is_candidate {
        ctx.experiment_meta(&name)
    } else {
        ctx.meta(&name, &[])
    };
    // The template's own labels and annotations first; assay's win.
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for (k, val) in base_meta.labels.into_iter().flatten() {
        labels.entry(k).or_insert(val);
    }
    labels.extend(selector.clone());
    if !is_candidate {
        labels.remove(EXPERIMENT_LABEL);
    }
    meta.annotations = base_meta.annotations;
    Ctx::annotate(&mut meta, order::SYNC_OPTIONS, order::PRUNE_LAST);
    let deadline = w
        .progress_deadline
        .map(|d| seconds(d).min(i32::MAX as u64) as i32);
    spec.replicas = Some(w.replicas.map(|r| r as i32).or(spec.replicas).unwrap_or(1));
    if ctx.autoscaled && !is_candidate {
        // The base's HPA owns the baseline's replicas (issue 12).
        spec.replicas = None;
    }
    spec.selector = LabelSelector {
        match_labels: Some(selector),
        ..Default::default()
    };
    spec.template = PodTemplateSpec {
        metadata: Some(pod_meta),
        spec: Some(pod),
    };
    spec.progress_deadline_seconds = Some(
        deadline
            .or(spec.progress_deadline_seconds)
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE),
    );
    Ok(Deployment {
        metadata: meta,
        spec: Some(spec),
        status: None,
    })
}

/// Ten minutes, as Kubernetes' own default: a candidate that is not
/// Available by then turns Degraded, and the SyncFail hook rejects it.
const DEFAULT_PROGRESS_DEADLINE: i32 = 600;

/// A one-container pod from the inline workload fields.
fn inline_pod(ctx: &Ctx) -> PodSpec {
    let w = &ctx.rel.workload;
    PodSpec {
        containers: vec![Container {
            name: w.container.clone().unwrap_or_else(|| ctx.rel.name.clone()),
            security_context: Some(security::container_context(false)),
            ..Default::default()
        }],
        security_context: Some(security::pod_context(None)),
        ..Default::default()
    }
}

/// Version env over the template's: same names replaced in place, new ones appended.
fn apply_env(c: &mut Container, v: &Version) {
    if v.env.is_empty() {
        return;
    }
    let env = c.env.get_or_insert_with(Vec::new);
    for (k, val) in &v.env {
        let var = EnvVar {
            name: k.clone(),
            value: Some(val.clone()),
            value_from: None,
        };
        match env.iter_mut().find(|e| &e.name == k) {
            Some(e) => *e = var,
            None => env.push(var),
        }
    }
}
