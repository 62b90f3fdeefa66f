//! `spec.workload.from` (issue 12): the named Deployment is taken out of the
//! rendered base and becomes the template of every version. What pointed at
//! it is settled here, as a platform engineer migrating a chart would expect
//! (docs/adopt.md):
//! - the Service that selects its pods is *adopted*: when it is named like
//!   the release, assay's Service replaces it, keeping its labels,
//!   annotations (ServiceMonitors keep matching) and its other ports;
//!   under another name, or of another type than ClusterIP, it is refused;
//! - a HorizontalPodAutoscaler of it is re-targeted to the baseline's
//!   Deployment, which then leaves `replicas` to it;
//! - PodDisruptionBudgets and monitors select pods or Services by label and
//!   pass through unchanged: the versions' pods keep the template's labels.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;
use serde_json::Value;

use super::passthrough::{self, Placed};
use super::workload::{self, Template};
use super::{Document, RenderError, SourceFile};
use crate::spec::{FromRef, Release};
use crate::yaml::{Location, SpecError, SpecErrorKind};

/// What the adopted Service hands on to assay's.
#[derive(Debug, Clone, Default)]
pub(crate) struct AdoptedService {
    /// Its labels (assay's own win).
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its ports other than the one assay serves on, as written.
    pub ports: Vec<ServicePort>,
}

/// The base with the Deployment taken out.
pub(crate) struct Adopted {
    /// The rest of the base, in order.
    pub docs: Vec<Document>,
    /// The objects in `docs`, for the collision check.
    pub placed: Vec<Placed>,
    /// The Service assay's replaces, if any.
    pub service: Option<AdoptedService>,
    /// A HorizontalPodAutoscaler now scales the baseline.
    pub autoscaled: bool,
}

fn at_error(file: &str, at: Location, path: &str, message: String) -> RenderError {
    RenderError::Spec(SpecError::new(
        file,
        at,
        path,
        SpecErrorKind::Invalid(message),
    ))
}

fn is(o: &Value, group: &str, kind: &str) -> bool {
    let api = o["apiVersion"].as_str().unwrap_or_default();
    let g = api.rsplit_once('/').map_or("", |(g, _)| g);
    g == group && o["kind"] == kind
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

/// Takes `from` out of `files` (already read or rendered), settling what
/// targets it: the Deployment as a template, and the rest of the base.
pub(crate) fn adopt(
    rel: &Release,
    from: &FromRef,
    files: &[SourceFile],
) -> Result<(Template, Adopted), RenderError> {
    let mut parsed = Vec::new();
    for f in files {
        parsed.push((f, passthrough::documents(f)?));
    }
    let found: Vec<(usize, usize, &Placed)> = parsed
        .iter()
        .enumerate()
        .flat_map(|(fi, (_, (_, placed)))| {
            placed.iter().enumerate().map(move |(di, p)| (fi, di, p))
        })
        .filter(|(_, _, p)| is(&p.object, "apps", "Deployment") && name(&p.object) == from.name)
        .collect();
    let spec_error = |m: String| {
        at_error(
            crate::spec::FILE_NAME,
            rel.places.from,
            "spec.workload.from",
            m,
        )
    };
    let chosen = match found.as_slice() {
        [(fi, di, _)] => (*fi, *di),
        [] => {
            let others: Vec<String> = parsed
                .iter()
                .flat_map(|(_, (_, placed))| placed)
                .filter(|p| is(&p.object, "apps", "Deployment"))
                .map(|p| name(&p.object).to_string())
                .collect();
            let has = match others.is_empty() {
                true => "it has no Deployment".to_string(),
                false => format!("it has {}", others.join(", ")),
            };
            let sources: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            return Err(spec_error(format!(
                "no Deployment {:?} in the rendered base ({}); {has}",
                from.name,
                sources.join(", ")
            )));
        }
        many => {
            let places: Vec<String> = many
                .iter()
                .map(|(_, _, p)| format!("{}:{}:{}", p.file, p.at.line, p.at.column))
                .collect();
            return Err(spec_error(format!(
                "{} Deployments named {:?} in the rendered base ({}); it must hold exactly one",
                many.len(),
                from.name,
                places.join(", ")
            )));
        }
    };
    let (file, (_, placed)) = &mut parsed[chosen.0];
    let alone = placed[chosen.1].alone(file);
    // Taken, not copied: the loop below skips it by its place.
    let chosen_object = std::mem::take(&mut placed[chosen.1].object);
    let template = workload::adopted_template(alone, chosen_object)?;
    let pod_labels = template
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let port = workload::port(rel, Some(&template));
    let baseline = format!("{}-{}", rel.name, rel.baseline.version);

    let (mut docs, mut kept, mut service, mut autoscaled) = (Vec::new(), Vec::new(), None, false);
    for (fi, (file, (texts, placed))) in parsed.into_iter().enumerate() {
        let touched = |(di, p): (usize, &Placed)| {
            (fi, di) == chosen || selects(&p.object, &pod_labels) || scales(&p.object, &from.name)
        };
        if !placed.iter().enumerate().any(touched) {
            docs.extend(texts);
            kept.extend(placed);
            continue;
        }
        // This file changes: its objects are written one by one, as written
        // but for the one re-targeted.
        for (di, mut p) in placed.into_iter().enumerate() {
            if (fi, di) == chosen {
                continue;
            }
            if selects(&p.object, &pod_labels) {
                service = Some(adopt_service(rel, file, &p, &from.name, port)?);
                continue;
            }
            if scales(&p.object, &from.name) {
                p.object["spec"]["scaleTargetRef"]["name"] = Value::String(baseline.clone());
                autoscaled = true;
                docs.push(Document::Object(p.object.clone()));
            } else {
                docs.push(passthrough::document(file, &p));
            }
            kept.push(p);
        }
    }
    Ok((
        template,
        Adopted {
            docs,
            placed: kept,
            service,
            autoscaled,
        },
    ))
}

/// A core Service, not headless, whose selector is non-empty and within
/// `pod_labels` (a headless Service addresses pods one by one: left alone).
fn selects(o: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    if o["spec"]["clusterIP"] == "None" {
        return false;
    }
    let Some(sel) = o["spec"]["selector"].as_object().filter(|s| !s.is_empty()) else {
        return false;
    };
    is(o, "", "Service")
        && sel
            .iter()
            .all(|(k, v)| pod_labels.get(k).map(String::as_str) == v.as_str())
}

/// An HPA whose target is the Deployment `name`.
fn scales(o: &Value, name: &str) -> bool {
    let t = &o["spec"]["scaleTargetRef"];
    o["kind"] == "HorizontalPodAutoscaler" && t["kind"] == "Deployment" && t["name"] == name
}

fn adopt_service(
    rel: &Release,
    file: &SourceFile,
    p: &Placed,
    deployment: &str,
    port: u16,
) -> Result<AdoptedService, RenderError> {
    let o = &p.object;
    let svc = name(o);
    let refuse = |m: String| at_error(&file.name, p.at, "", m);
    if svc != rel.name {
        return Err(refuse(format!(
            "Service {svc} selects the pods of Deployment {deployment}, which spec.workload.from takes out; \
             assay's Service is named after metadata.name ({}): set metadata.name to {svc} so it replaces this one, \
             or remove this Service from the base",
            rel.name
        )));
    }
    let kind = o["spec"]["type"].as_str().unwrap_or("ClusterIP");
    if kind != "ClusterIP" {
        return Err(refuse(format!(
            "Service {svc} is of type {kind}; assay replaces it with a ClusterIP Service, \
             so expose the app through a Gateway or Ingress, or keep a {kind} Service under another name \
             with a selector assay's pods match"
        )));
    }
    let text = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect()
    };
    let ports: Vec<ServicePort> =
        serde_json::from_value(o["spec"]["ports"].clone()).unwrap_or_default();
    Ok(AdoptedService {
        labels: text(&o["metadata"]["labels"]),
        annotations: text(&o["metadata"]["annotations"]),
        ports: ports
            .into_iter()
            .filter(|sp| sp.port != i32::from(port) && sp.name.as_deref() != Some("http"))
            .collect(),
    })
}
