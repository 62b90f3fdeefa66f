//! From [`RawRelease`] to [`Release`]: every rule of the spec, every default in
//! one place, and an error that points at the offending value.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::yaml::Spanned as S;

use super::check::{Check, R};
use super::model::*;
use super::names::*;
use super::raw::*;
use super::validate_delivery::{loadgen, promotion, traffic};
use crate::yaml::Location;

/// Longest `metadata.name`: `<name>-loadgen-<10-char id>` must fit in 63.
pub const MAX_NAME_LEN: usize = 63 - "-loadgen-".len() - super::id::ID_LEN;
/// Validates `raw` (parsed from `file`) and fills in defaults.
pub fn release(file: &str, raw: &RawRelease) -> R<Release> {
    let c = Check { file };
    if raw.api_version.value != "assay.dev/v1alpha1" {
        return Err(c.at(
            &raw.api_version,
            "apiVersion",
            format!(
                "expected assay.dev/v1alpha1, got {:?}",
                raw.api_version.value
            ),
        ));
    }
    if raw.kind.value != "Release" {
        return Err(c.at(
            &raw.kind,
            "kind",
            format!("expected Release, got {:?}", raw.kind.value),
        ));
    }
    let name = &raw.metadata.value.name;
    if !is_dns1035_label(&name.value) || name.value.len() > MAX_NAME_LEN {
        return Err(c.at(name, "metadata.name", format!(
            "must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) of at most {MAX_NAME_LEN} characters, got {:?}",
            name.value
        )));
    }
    let name = name.value.clone();
    let namespace = raw
        .metadata
        .value
        .namespace
        .as_ref()
        .map(|n| c.label(n, "metadata.namespace"))
        .transpose()?;

    let spec = &raw.spec.value;
    let version = |v: &S<RawVersion>, path: &str| version(&c, &name, v, path);
    let baseline = version(&spec.baseline, "spec.baseline")?;
    let candidate = spec
        .candidate
        .as_ref()
        .map(|v| version(v, "spec.candidate"))
        .transpose()?;
    if let (Some(cand), Some(raw_cand)) = (&candidate, &spec.candidate)
        && cand.version == baseline.version
    {
        return Err(c.at(
            &raw_cand.value.version,
            "spec.candidate.version",
            format!(
                "must differ from spec.baseline.version, both are {:?}",
                cand.version
            ),
        ));
    }
    let queue = match &spec.queue {
        None => Vec::new(),
        Some(q) => q
            .iter()
            .enumerate()
            .map(|(i, v)| version(v, &format!("spec.queue[{i}]")))
            .collect::<R<_>>()?,
    };

    let mut places = Places {
        metadata: Location::of(&raw.metadata),
        spec: Location::of(&raw.spec),
        candidate: spec
            .candidate
            .as_ref()
            .map_or(Location::of(&raw.spec), Location::of),
        ..Places::default()
    };
    places.experiment = spec.experiment.as_ref().map_or(places.spec, Location::of);
    places.traffic = spec.traffic.as_ref().map_or(places.spec, Location::of);
    let workload = workload(&c, spec.workload.as_ref(), &mut places)?;
    let traffic = traffic(&c, spec.traffic.as_ref())?;
    // A weight towards a candidate with no pods is a share of failed requests.
    if let (Some(_), Some(0), Some(w)) =
        (&spec.candidate, workload.replicas, traffic.candidate_weight)
        && w > 0
    {
        let at = spec
            .workload
            .as_ref()
            .and_then(|w| w.replicas.as_ref())
            .map_or(places.spec, Location::of);
        return Err(c.err(at, "spec.workload.replicas", format!(
            "is 0, so the candidate has no pods for its {w}% of requests; use at least 1 or candidateWeight 0"
        )));
    }
    let experiment = super::validate_experiment::experiment(file, spec.experiment.as_ref())?;
    let loadgen = spec
        .loadgen
        .as_ref()
        .map(|l| loadgen(&c, l, traffic.router))
        .transpose()?;
    let promotion = promotion(&c, spec.promotion.as_ref(), places.spec)?;

    let rejected = spec
        .rejected
        .iter()
        .flatten()
        .map(|r| Rejected {
            version: r.version.clone(),
            image: r.image.clone(),
            experiment: r.experiment.clone(),
            reason: r.reason.clone(),
            date: r.date.clone(),
        })
        .collect();
    let mut exclude = Vec::new();
    for (i, g) in spec.exclude.iter().flatten().enumerate() {
        if g.value.is_empty() || g.value.contains('/') {
            return Err(c.at(
                g,
                &format!("spec.exclude[{i}]"),
                format!(
                    "expected a file-name glob in this directory (no '/'), got {:?}",
                    g.value
                ),
            ));
        }
        exclude.push(g.value.clone());
    }

    Ok(Release {
        id: super::id::experiment_id(raw),
        name,
        namespace,
        workload,
        baseline,
        candidate,
        traffic,
        experiment,
        loadgen,
        promotion,
        queue,
        rejected,
        exclude,
        places,
    })
}

fn version(c: &Check, name: &str, v: &S<RawVersion>, path: &str) -> R<Version> {
    let raw = &v.value;
    let version = c.label(&raw.version, &format!("{path}.version"))?;
    if name.len() + 1 + version.len() > 63 {
        return Err(c.at(
            &raw.version,
            &format!("{path}.version"),
            format!("{name}-{version} is longer than 63 characters; shorten the version"),
        ));
    }
    let image = c.image(&raw.image, &format!("{path}.image"))?;
    let env = c.keys(
        &raw.env,
        Location::of(v),
        &format!("{path}.env"),
        is_env_name,
        "environment variable name",
    )?;
    Ok(Version {
        version,
        image,
        env,
    })
}

fn workload(c: &Check, w: Option<&RawWorkload>, places: &mut Places) -> R<Workload> {
    let empty = RawWorkload::default();
    let w = w.unwrap_or(&empty);
    let template = match &w.template {
        None => None,
        Some(t) => {
            places.template = Location::of(t);
            Some(inside_dir(&t.value).map_err(|m| c.at(t, "spec.workload.template", m))?)
        }
    };
    let container = w
        .container
        .as_ref()
        .map(|v| c.label(v, "spec.workload.container"))
        .transpose()?;
    let replicas = w
        .replicas
        .as_ref()
        .map(|v| c.int(v, "spec.workload.replicas", 0, 1000))
        .transpose()?
        .map(|n| n as u32);
    let port = w
        .port
        .as_ref()
        .map(|v| c.int(v, "spec.workload.port", 1, 65535))
        .transpose()?
        .map(|n| n as u16);
    let service_account_name = match &w.service_account_name {
        Some(v) if !is_dns1123_subdomain(&v.value) => {
            return Err(c.at(
                v,
                "spec.workload.serviceAccountName",
                format!("must be a DNS-1123 subdomain, got {:?}", v.value),
            ));
        }
        v => v.as_ref().map(|v| v.value.clone()),
    };
    let at = places.spec;
    let pod_labels = c.keys(
        &w.pod_labels,
        at,
        "spec.workload.podLabels",
        is_qualified_name,
        "label key",
    )?;
    for (k, v) in &pod_labels {
        if k == "app" || k == "version" {
            return Err(c.err(
                at,
                &format!("spec.workload.podLabels.{k}"),
                "is set by assay from metadata.name and the version; remove it",
            ));
        }
        if !is_label_value(v) {
            return Err(c.err(
                at,
                &format!("spec.workload.podLabels.{k}"),
                format!("{v:?} is not a valid label value"),
            ));
        }
    }
    let pod_annotations = c.keys(
        &w.pod_annotations,
        at,
        "spec.workload.podAnnotations",
        is_qualified_name,
        "annotation key",
    )?;
    let progress_deadline = match &w.progress_deadline {
        None => None,
        d => Some(c.duration_min(
            d,
            "spec.workload.progressDeadline",
            Duration::ZERO,
            Duration::from_secs(1),
        )?),
    };
    let run_as_user = w
        .run_as_user
        .as_ref()
        .map(|v| c.int(v, "spec.workload.runAsUser", 1, i64::from(i32::MAX)))
        .transpose()?;
    Ok(Workload {
        template,
        container,
        replicas,
        port,
        service_account_name,
        pod_labels,
        pod_annotations,
        progress_deadline,
        run_as_user,
    })
}

/// A relative path that stays inside the app directory, normalised.
pub fn inside_dir(p: &str) -> Result<PathBuf, String> {
    let path = Path::new(p);
    if p.is_empty() || path.is_absolute() {
        return Err(format!(
            "must be a relative path inside the app directory, got {p:?}"
        ));
    }
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "must stay inside the app directory (no '..'), got {p:?}"
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!(
            "must name a file inside the app directory, got {p:?}"
        ));
    }
    if out == Path::new("assay.yaml") {
        return Err("must be a Deployment file, not assay.yaml itself".into());
    }
    Ok(out)
}
