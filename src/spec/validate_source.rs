//! Rules of `spec.source` and `spec.workload.from` (issue 12). Paths are
//! checked lexically here (relative, no `..` above the repository is
//! knowable only at render time, where `generate` checks it again).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned as S;

use super::check::{Check, R};
use super::model::{Directory, FromRef, Helm, Kustomize, Places, Source};
use super::names::{is_dns1123_label, is_dns1123_subdomain};
use super::raw_source::{RawFrom, RawSource};
use crate::yaml::Location;

/// Under the repo-server's default `repo.server.timeout.seconds` (60 s),
/// leaving assay time to render and report the tool's failure itself.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(45);

/// `spec.source`, defaulted to the plain directory, and the tool timeout.
pub(super) fn source(
    c: &Check,
    raw: Option<&S<RawSource>>,
    name: &str,
    places: &mut Places,
) -> R<(Source, Duration)> {
    let Some(raw) = raw else {
        return Ok((
            Source::Directory(Directory::default()),
            DEFAULT_TOOL_TIMEOUT,
        ));
    };
    places.source = Location::of(raw);
    let s = &raw.value;
    let timeout = c.duration_min(
        &s.timeout,
        "spec.source.timeout",
        DEFAULT_TOOL_TIMEOUT,
        Duration::from_secs(1),
    )?;
    let set = [
        s.directory.is_some(),
        s.kustomize.is_some(),
        s.helm.is_some(),
    ];
    if set.iter().filter(|b| **b).count() != 1 {
        return Err(c.at(
            raw,
            "spec.source",
            "expected exactly one of directory, kustomize or helm",
        ));
    }
    if let Some(d) = &s.directory {
        let d = &d.value;
        let globs = |v: &Option<Vec<S<String>>>, field: &str| -> R<Vec<String>> {
            let mut out = Vec::new();
            for (i, g) in v.iter().flatten().enumerate() {
                if g.value.is_empty() || g.value.starts_with('/') {
                    return Err(c.at(
                        g,
                        &format!("spec.source.directory.{field}[{i}]"),
                        format!("expected a relative path glob, got {:?}", g.value),
                    ));
                }
                out.push(g.value.clone());
            }
            Ok(out)
        };
        return Ok((
            Source::Directory(Directory {
                recursive: d.recursive.unwrap_or(false),
                include: globs(&d.include, "include")?,
                exclude: globs(&d.exclude, "exclude")?,
            }),
            timeout,
        ));
    }
    if let Some(k) = &s.kustomize {
        let path = match &k.value.path {
            None => PathBuf::from("."),
            Some(p) => repo_path(&p.value).map_err(|m| c.at(p, "spec.source.kustomize.path", m))?,
        };
        return Ok((
            Source::Kustomize(Kustomize {
                path,
                enable_helm: k.value.enable_helm.unwrap_or(false),
                load_restrictor_none: k.value.load_restrictor_none.unwrap_or(false),
            }),
            timeout,
        ));
    }
    let h = &s.helm.as_ref().expect("exactly one source is set").value;
    let chart =
        repo_path(&h.chart.value).map_err(|m| c.at(&h.chart, "spec.source.helm.chart", m))?;
    let release_name = match &h.release_name {
        None => name.to_string(),
        Some(r) if is_dns1123_label(&r.value) && r.value.len() <= 53 => r.value.clone(),
        Some(r) => {
            return Err(c.at(
                r,
                "spec.source.helm.releaseName",
                format!(
                    "must be a DNS-1123 label of at most 53 characters (helm's limit), got {:?}",
                    r.value
                ),
            ));
        }
    };
    let mut values_files = Vec::new();
    for (i, f) in h.values_files.iter().flatten().enumerate() {
        let path = format!("spec.source.helm.valuesFiles[{i}]");
        values_files.push(repo_path(&f.value).map_err(|m| c.at(f, &path, m))?);
    }
    let values = match &h.values {
        None | Some(serde_json::Value::Null) => None,
        Some(v @ serde_json::Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(c.at(
                raw,
                "spec.source.helm.values",
                "expected a mapping of chart values",
            ));
        }
    };
    let namespace = h
        .namespace
        .as_ref()
        .map(|n| c.label(n, "spec.source.helm.namespace"))
        .transpose()?;
    Ok((
        Source::Helm(Helm {
            chart,
            release_name,
            values_files,
            values,
            namespace,
            dependency_build: h.dependency_build.unwrap_or(false),
            include_crds: h.include_crds.unwrap_or(true),
        }),
        timeout,
    ))
}

/// `spec.workload.from`: a Deployment by name.
pub(super) fn from(c: &Check, raw: &S<RawFrom>) -> R<FromRef> {
    let f = &raw.value;
    if f.kind.value != "Deployment" {
        return Err(c.at(
            &f.kind,
            "spec.workload.from.kind",
            format!(
                "expected Deployment (the only kind assay runs versions of), got {:?}",
                f.kind.value
            ),
        ));
    }
    if !is_dns1123_subdomain(&f.name.value) {
        return Err(c.at(
            &f.name,
            "spec.workload.from.name",
            format!("must be a DNS-1123 subdomain, got {:?}", f.name.value),
        ));
    }
    Ok(FromRef {
        name: f.name.value.clone(),
    })
}

/// A relative path, normalised lexically; leading `..` are kept (a
/// kustomization beside the app directory is common) and checked against
/// the repository root at render time.
fn repo_path(p: &str) -> Result<PathBuf, String> {
    if p.is_empty() || Path::new(p).is_absolute() {
        return Err(format!(
            "must be a relative path in the repository, got {p:?}"
        ));
    }
    let mut out = PathBuf::new();
    for comp in Path::new(p).components() {
        match comp {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir if !out.as_os_str().is_empty() && !out.ends_with("..") => {
                out.pop();
            }
            Component::ParentDir => out.push(".."),
            _ => {
                return Err(format!(
                    "must be a relative path in the repository, got {p:?}"
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::repo_path;
    use std::path::Path;

    #[test]
    fn repo_paths_normalise() {
        assert_eq!(repo_path("./a/../b").unwrap(), Path::new("b"));
        assert_eq!(repo_path("../base").unwrap(), Path::new("../base"));
        assert_eq!(repo_path("a/../..").unwrap(), Path::new(".."));
        assert_eq!(repo_path(".").unwrap(), Path::new("."));
        assert!(repo_path("/etc").is_err());
        assert!(repo_path("").is_err());
    }
}
