//! Rules of how an experiment is delivered: the traffic split, the load
//! generator and the write-back target. Each refuses options that the chosen
//! router or mode would silently ignore.

use std::path::Path;

use crate::yaml::Spanned as S;

use super::check::{Check, R};
use super::model::*;
use super::names::*;
use super::raw::*;
use crate::yaml::Location;

/// `spec.traffic`: the router, the weight and the router-specific options.
pub(super) fn traffic(c: &Check, t: Option<&S<RawTraffic>>) -> R<Traffic> {
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

/// `spec.loadgen`: refuses in-mesh load that would bypass the router's weights.
pub(super) fn loadgen(c: &Check, ls: &S<RawLoadgen>, router: Router) -> R<Loadgen> {
    let (l, at) = (&ls.value, Location::of(ls));
    let sidecar = l.sidecar.unwrap_or(false);
    // Weights are applied by the client's sidecar (or a gateway). Load sent
    // straight to the Service from a pod without one is split by kube-proxy.
    if router != Router::None && l.url.is_none() && !sidecar {
        return Err(c.err(at, "spec.loadgen.url", format!(
            "with router {} the load must pass a gateway or a sidecar to follow the weights: \
             point url at an ingress gateway, or set sidecar: true (needs Istio native sidecars, so the pod can finish)",
            router_name(router)
        )));
    }
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
        sidecar,
        qps,
        connections,
        headers,
        image,
        mode: l.mode.unwrap_or_default(),
    })
}

/// `spec.promotion`: the write-back target and its defaults.
pub(super) fn promotion(c: &Check, p: Option<&RawPromotion>, at: Location) -> R<Promotion> {
    let Some(p) = p else {
        return Ok(Promotion {
            mode: None,
            credentials_secret: "assay-git".into(),
            on_new_candidate: OnNewCandidate::Preempt,
            next: vec![],
            next_environments: vec![],
            branch: None,
            repo: None,
            forge: ForgeChoice::Auto,
            api_url: None,
            reject: Mode::Push,
            argocd_server: None,
            author: default_author(),
            max_rejected: 20,
            commit_status: true,
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
    let mut next_environments = Vec::new();
    for (i, n) in p.next.iter().flatten().enumerate() {
        let field = format!("spec.promotion.next[{i}]");
        match &n.value {
            RawNext::Path(path) if spec_path(path) => next.push(path.clone()),
            RawNext::Path(path) => {
                return Err(c.at(
                    n,
                    &field,
                    format!(
                        "expected a relative path to another assay.yaml in this repository, got {path:?}"
                    ),
                ));
            }
            RawNext::Env(e) => next_environments.push(next_env(c, n, &field, e)?),
        }
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
    let argocd_server = p
        .argocd
        .as_ref()
        .and_then(|a| a.server.as_ref())
        .map(|u| c.url(u, "spec.promotion.argocd.server"))
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
        next_environments,
        branch,
        repo,
        forge: p.forge.unwrap_or_default(),
        api_url,
        reject: p.reject.unwrap_or(Mode::Push),
        argocd_server,
        author,
        max_rejected,
        commit_status: p.commit_status.unwrap_or(true),
    })
}

fn default_author() -> Author {
    Author {
        name: "assay".into(),
        email: "assay@assay.dev".into(),
    }
}

/// A relative path to a YAML file.
fn spec_path(p: &str) -> bool {
    !p.is_empty() && !Path::new(p).is_absolute() && (p.ends_with(".yaml") || p.ends_with(".yml"))
}

/// One `{repo, branch, path, ...}` entry of `spec.promotion.next`. Its fields
/// carry no positions of their own: errors point at the entry.
fn next_env(c: &Check, at: &S<RawNext>, field: &str, e: &RawNextEnv) -> R<NextEnv> {
    let bad = |name: &str, msg: String| c.at(at, &format!("{field}.{name}"), msg);
    if e.repo.is_none() && e.branch.is_none() {
        return Err(bad(
            "repo",
            "set repo or branch (or write a path for another assay.yaml in this repository)".into(),
        ));
    }
    if let Some(r) = &e.repo
        && (r.trim().is_empty() || r.chars().any(char::is_whitespace))
    {
        return Err(bad("repo", format!("expected a repository URL, got {r:?}")));
    }
    if let Some(b) = &e.branch
        && !is_branch_name(b)
    {
        return Err(bad("branch", format!("expected a branch name, got {b:?}")));
    }
    let path = e.path.clone().unwrap_or_else(|| super::FILE_NAME.into());
    if !spec_path(&path) || path.split('/').any(|p| p == "..") {
        return Err(bad(
            "path",
            format!("expected the path of an assay.yaml from the repository root, got {path:?}"),
        ));
    }
    if let Some(s) = &e.credentials_secret
        && !is_dns1123_subdomain(s)
    {
        return Err(bad(
            "credentialsSecret",
            format!("must be a Secret name (DNS-1123 subdomain), got {s:?}"),
        ));
    }
    if let Some(u) = &e.api_url
        && !is_http_url(u)
    {
        return Err(bad(
            "apiUrl",
            format!("expected an http:// or https:// URL, got {u:?}"),
        ));
    }
    let after = match &e.after {
        None => None,
        Some(a) => Some(super::duration::parse(a).map_err(|m| bad("after", m))?),
    };
    if after.is_some() && e.mode != Some(Mode::PullRequest) {
        return Err(bad(
            "after",
            "a soak needs mode: pull-request: the hook cannot wait without holding up Argo CD's sync of the verdict, so the pull request says when it may be merged (docs/soak.md)".into(),
        ));
    }
    Ok(NextEnv {
        repo: e.repo.clone(),
        branch: e.branch.clone(),
        path,
        mode: e.mode,
        credentials_secret: e.credentials_secret.clone(),
        forge: e.forge.unwrap_or_default(),
        api_url: e.api_url.clone(),
        after,
        force: e.force.unwrap_or(false),
    })
}
