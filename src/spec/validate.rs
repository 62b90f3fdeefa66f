//! From [`RawRelease`] to [`Release`]: every rule of the spec, every default in
//! one place, and an error that points at the offending value.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_saphyr::Spanned as S;

use super::duration;
use super::error::{Location, SpecError, SpecErrorKind};
use super::model::*;
use super::names::*;
use super::raw::*;

/// Longest `metadata.name`: `<name>-loadgen-<10-char id>` must fit in 63.
pub const MAX_NAME_LEN: usize = 63 - "-loadgen-".len() - super::id::ID_LEN;

struct Check<'a> {
    file: &'a str,
}

type R<T> = Result<T, SpecError>;

impl Check<'_> {
    fn err(&self, at: Location, path: &str, msg: impl Into<String>) -> SpecError {
        SpecError::new(self.file, at, path, SpecErrorKind::Invalid(msg.into()))
    }

    fn at<T>(&self, v: &S<T>, path: &str, msg: impl Into<String>) -> SpecError {
        self.err(Location::of(v), path, msg)
    }

    fn label(&self, v: &S<String>, path: &str) -> R<String> {
        if !is_dns1123_label(&v.value) {
            return Err(self.at(v, path, format!(
                "must be a DNS-1123 label (lowercase letters, digits and '-', at most 63), got {:?}",
                v.value
            )));
        }
        Ok(v.value.clone())
    }

    fn int(&self, v: &S<i64>, path: &str, min: i64, max: i64) -> R<i64> {
        if v.value < min || v.value > max {
            return Err(self.at(
                v,
                path,
                format!("must be between {min} and {max}, got {}", v.value),
            ));
        }
        Ok(v.value)
    }

    fn duration(&self, v: &Option<S<String>>, path: &str, default: Duration) -> R<Duration> {
        match v {
            None => Ok(default),
            Some(s) => duration::parse(&s.value).map_err(|m| self.at(s, path, m)),
        }
    }

    fn url(&self, v: &S<String>, path: &str) -> R<String> {
        if !is_http_url(&v.value) {
            return Err(self.at(
                v,
                path,
                format!("expected an http:// or https:// URL, got {:?}", v.value),
            ));
        }
        Ok(v.value.clone())
    }

    fn image(&self, v: &S<String>, path: &str) -> R<String> {
        if v.value.is_empty() || v.value.chars().any(char::is_whitespace) {
            return Err(self.at(
                v,
                path,
                format!("expected a container image reference, got {:?}", v.value),
            ));
        }
        Ok(v.value.clone())
    }

    /// Maps keyed by Kubernetes-checked names; `S` is the enclosing map.
    fn keys(
        &self,
        map: &Option<StringMap>,
        at: Location,
        path: &str,
        ok: fn(&str) -> bool,
        what: &str,
    ) -> R<IndexMap<String, String>> {
        let map = map.clone().unwrap_or_default();
        if let Some(k) = map.keys().find(|k| !ok(k)) {
            return Err(self.err(
                at,
                &format!("{path}.{k}"),
                format!("{k:?} is not a valid {what}"),
            ));
        }
        Ok(map)
    }
}

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
    let name = &raw.metadata.name;
    if !is_dns1035_label(&name.value) || name.value.len() > MAX_NAME_LEN {
        return Err(c.at(name, "metadata.name", format!(
            "must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) of at most {MAX_NAME_LEN} characters, got {:?}",
            name.value
        )));
    }
    let name = name.value.clone();
    let namespace = raw
        .metadata
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
        spec: Location::of(&raw.spec),
        candidate: spec
            .candidate
            .as_ref()
            .map_or(Location::of(&raw.spec), Location::of),
        ..Places::default()
    };
    places.experiment = spec
        .experiment
        .as_ref()
        .map_or(places.candidate, Location::of);
    places.traffic = spec.traffic.as_ref().map_or(places.spec, Location::of);
    let workload = workload(&c, spec.workload.as_ref(), &mut places)?;
    let traffic = traffic(&c, spec.traffic.as_ref())?;
    let experiment = super::validate_experiment::experiment(file, spec.experiment.as_ref())?;
    let loadgen = spec
        .loadgen
        .as_ref()
        .map(|l| loadgen(&c, l, places.spec))
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
    let empty = RawWorkload {
        template: None,
        container: None,
        replicas: None,
        port: None,
        service_account_name: None,
        pod_labels: None,
        pod_annotations: None,
        progress_deadline: None,
    };
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
    let progress_deadline = c.duration(
        &w.progress_deadline,
        "spec.workload.progressDeadline",
        Duration::from_secs(600),
    )?;
    if progress_deadline < Duration::from_secs(1) {
        let v = w
            .progress_deadline
            .as_ref()
            .expect("a zero deadline was written");
        return Err(c.at(v, "spec.workload.progressDeadline", "must be at least 1s"));
    }
    Ok(Workload {
        template,
        container,
        replicas,
        port,
        service_account_name,
        pod_labels,
        pod_annotations,
        progress_deadline,
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

fn traffic(c: &Check, t: Option<&S<RawTraffic>>) -> R<Traffic> {
    let Some(ts) = t else {
        return Ok(Traffic {
            router: Router::None,
            candidate_weight: None,
            hosts: vec![],
            gateways: vec![],
            parent_refs: vec![],
        });
    };
    let t = &ts.value;
    let router = t.router.unwrap_or_default();
    let candidate_weight = match &t.candidate_weight {
        Some(w) if router == Router::None => {
            return Err(c.at(w, "spec.traffic.candidateWeight", "needs router istio or gateway-api; with router none the Service spreads requests by replica count"));
        }
        w => w
            .as_ref()
            .map(|w| c.int(w, "spec.traffic.candidateWeight", 0, 100))
            .transpose()?
            .map(|n| n as u8),
    };
    let strings = |list: &Option<Vec<S<String>>>,
                   field: &str,
                   only: Router,
                   ok: fn(&str) -> bool,
                   what: &str|
     -> R<Vec<String>> {
        let mut out = Vec::new();
        for (i, v) in list.iter().flatten().enumerate() {
            let path = format!("spec.traffic.{field}[{i}]");
            if router != only {
                return Err(c.at(
                    v,
                    &path,
                    format!("is only used with router {}", router_name(only)),
                ));
            }
            if !ok(&v.value) {
                return Err(c.at(v, &path, format!("expected {what}, got {:?}", v.value)));
            }
            out.push(v.value.clone());
        }
        Ok(out)
    };
    let hosts = strings(&t.hosts, "hosts", Router::Istio, is_host, "a host name")?;
    let gateways = strings(
        &t.gateways,
        "gateways",
        Router::Istio,
        is_gateway_ref,
        "a gateway as name or namespace/name",
    )?;
    let mut parent_refs = Vec::new();
    for (i, p) in t.parent_refs.iter().flatten().enumerate() {
        let path = format!("spec.traffic.parentRefs[{i}].name");
        if router != Router::GatewayApi {
            return Err(c.at(
                &p.name,
                &path,
                "parentRefs are only used with router gateway-api",
            ));
        }
        if !is_dns1123_subdomain(&p.name.value) {
            return Err(c.at(
                &p.name,
                &path,
                format!("must be a DNS-1123 subdomain, got {:?}", p.name.value),
            ));
        }
        parent_refs.push(p.clone());
    }
    Ok(Traffic {
        router,
        candidate_weight,
        hosts,
        gateways,
        parent_refs,
    })
}

fn router_name(r: Router) -> &'static str {
    match r {
        Router::Istio => "istio",
        Router::GatewayApi => "gateway-api",
        Router::None => "none",
    }
}

fn is_host(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    s == "*" || is_dns1123_subdomain(s)
}

fn is_gateway_ref(s: &str) -> bool {
    match s.split_once('/') {
        Some((ns, n)) => is_dns1123_label(ns) && is_dns1123_subdomain(n),
        None => is_dns1123_subdomain(s),
    }
}

fn loadgen(c: &Check, l: &RawLoadgen, at: Location) -> R<Loadgen> {
    let url = l
        .url
        .as_ref()
        .map(|u| c.url(u, "spec.loadgen.url"))
        .transpose()?;
    let qps = match &l.qps {
        None => 8.0,
        Some(q) if !(q.value > 0.0 && q.value <= 10_000.0) => {
            return Err(c.at(
                q,
                "spec.loadgen.qps",
                format!("must be more than 0 and at most 10000, got {}", q.value),
            ));
        }
        Some(q) => q.value,
    };
    let connections = l
        .connections
        .as_ref()
        .map(|v| c.int(v, "spec.loadgen.connections", 1, 1000))
        .transpose()?
        .unwrap_or(4) as u32;
    let headers = c.keys(
        &l.headers,
        at,
        "spec.loadgen.headers",
        is_header_name,
        "HTTP header name",
    )?;
    let image = l
        .image
        .as_ref()
        .map(|i| c.image(i, "spec.loadgen.image"))
        .transpose()?
        .unwrap_or_else(|| DEFAULT_LOADGEN_IMAGE.to_string());
    Ok(Loadgen {
        url,
        qps,
        connections,
        headers,
        image,
    })
}

fn promotion(c: &Check, p: Option<&RawPromotion>, at: Location) -> R<Promotion> {
    let Some(p) = p else {
        return Ok(Promotion {
            mode: None,
            credentials_secret: "assay-git".into(),
            on_new_candidate: OnNewCandidate::Preempt,
            next: vec![],
            branch: None,
            repo: None,
            forge: Forge::Auto,
            api_url: None,
            author: default_author(),
            max_rejected: 20,
        });
    };
    let credentials_secret = match &p.credentials_secret {
        Some(s) if !is_dns1123_subdomain(&s.value) => {
            return Err(c.at(
                s,
                "spec.promotion.credentialsSecret",
                format!(
                    "must be a Secret name (DNS-1123 subdomain), got {:?}",
                    s.value
                ),
            ));
        }
        Some(s) => s.value.clone(),
        None => "assay-git".into(),
    };
    let mut next = Vec::new();
    for (i, n) in p.next.iter().flatten().enumerate() {
        let ok = !n.value.is_empty()
            && !Path::new(&n.value).is_absolute()
            && (n.value.ends_with(".yaml") || n.value.ends_with(".yml"));
        if !ok {
            return Err(c.at(
                n,
                &format!("spec.promotion.next[{i}]"),
                format!(
                    "expected a relative path to another assay.yaml in this repository, got {:?}",
                    n.value
                ),
            ));
        }
        next.push(n.value.clone());
    }
    let branch = match &p.branch {
        Some(b) if !is_branch_name(&b.value) => {
            return Err(c.at(
                b,
                "spec.promotion.branch",
                format!("expected a branch name, got {:?}", b.value),
            ));
        }
        b => b.as_ref().map(|b| b.value.clone()),
    };
    let repo = match &p.repo {
        Some(r) if r.value.trim().is_empty() || r.value.chars().any(char::is_whitespace) => {
            return Err(c.at(
                r,
                "spec.promotion.repo",
                format!("expected a repository URL, got {:?}", r.value),
            ));
        }
        r => r.as_ref().map(|r| r.value.clone()),
    };
    let api_url = p
        .api_url
        .as_ref()
        .map(|u| c.url(u, "spec.promotion.apiUrl"))
        .transpose()?;
    let author = match &p.author {
        None => default_author(),
        Some(a)
            if a.name.trim().is_empty()
                || !a.email.contains('@')
                || a.email.contains(['<', '>', '\n']) =>
        {
            return Err(c.err(
                at,
                "spec.promotion.author",
                "needs a non-empty name and an email address",
            ));
        }
        Some(a) => Author {
            name: a.name.clone(),
            email: a.email.clone(),
        },
    };
    let max_rejected = p
        .max_rejected
        .as_ref()
        .map(|v| c.int(v, "spec.promotion.maxRejected", 1, 1000))
        .transpose()?
        .unwrap_or(20) as u32;
    Ok(Promotion {
        mode: p.mode,
        credentials_secret,
        on_new_candidate: p.on_new_candidate.unwrap_or_default(),
        next,
        branch,
        repo,
        forge: p.forge.unwrap_or_default(),
        api_url,
        author,
        max_rejected,
    })
}

fn default_author() -> Author {
    Author {
        name: "assay".into(),
        email: "assay@assay.dev".into(),
    }
}

/// Enough of git-check-ref-format to catch typos.
fn is_branch_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '/'])
        && !s.ends_with(['/', '.'])
        && !s.contains("..")
        && !s.contains("//")
        && !s.ends_with(".lock")
        && !s
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || "~^:?*[\\".contains(ch))
}
