//! The `Experiment` object: everything the promote hook needs, resolved from
//! the spec and the Argo CD environment so the hook never has to guess.

use std::path::{Component, Path, PathBuf};

use super::{Ctx, RenderError};
use crate::crd::{
    ApplicationRef, Author, CustomMetric, EnvRepo, Experiment, ExperimentSpec, LoadgenRef,
    NextEnvironment, VersionRef, WindowSpec, WriteBack,
};
use crate::spec::names::is_branch_name;
use crate::spec::{FILE_NAME, LoadgenMode, Version, seconds};

/// `<name>-<id>`.
pub(crate) fn name(ctx: &Ctx) -> String {
    format!("{}-{}", ctx.rel.name, ctx.rel.id)
}

/// `<name>-loadgen-<id>`.
pub(crate) fn loadgen_name(ctx: &Ctx) -> String {
    format!("{}-loadgen-{}", ctx.rel.name, ctx.rel.id)
}

/// The Experiment for `cand`; an error when the hook would lack a Prometheus URL, a
/// repository or a branch to write to.
pub(crate) fn experiment(ctx: &Ctx, cand: &Version) -> Result<Experiment, RenderError> {
    let rel = ctx.rel;
    let e = &rel.experiment;
    let p = &rel.promotion;
    let prometheus = ctx.settings.prometheus_url.clone().ok_or_else(|| {
        ctx.spec_error(rel.places.experiment, "spec.experiment.prometheus",
            "not set: the promote hook needs a Prometheus URL; set it here, or the prometheus-url parameter, or the PROMETHEUS_URL plugin env")
    })?;
    let repo_url = p
        .repo
        .clone()
        .or_else(|| ctx.env.repo_url.clone())
        .ok_or_else(|| {
            ctx.spec_error(
                rel.places.candidate,
                "spec.promotion.repo",
                "not set, and Argo CD gave no ARGOCD_APP_SOURCE_REPO_URL to write the verdict to",
            )
        })?;
    let branch = branch(ctx)?;
    let dir = normalise(ctx.env.source_path.as_deref().unwrap_or("")).ok_or_else(|| {
        ctx.spec_error(
            rel.places.candidate,
            "spec",
            "ARGOCD_APP_SOURCE_PATH leaves the repository",
        )
    })?;
    let mut next = Vec::new();
    for (i, n) in p.next.iter().enumerate() {
        let joined = normalise(&format!("{}/{n}", dir.display())).ok_or_else(|| {
            ctx.spec_error(
                rel.places.spec,
                &format!("spec.promotion.next[{i}]"),
                format!("{n:?} leaves the repository"),
            )
        })?;
        next.push(slash(&joined));
    }
    let next_environments = p
        .next_environments
        .iter()
        .map(|n| {
            let same_repo = n.repo.is_none() || n.repo.as_ref() == Some(&repo_url);
            NextEnvironment {
                repo: EnvRepo {
                    url: n.repo.clone().unwrap_or_else(|| repo_url.clone()),
                    branch: n.branch.clone().unwrap_or_else(|| {
                        if same_repo {
                            branch.clone()
                        } else {
                            "HEAD".into()
                        }
                    }),
                    path: n.path.clone(),
                    mode: n.mode.unwrap_or(ctx.mode),
                    credentials_secret: n
                        .credentials_secret
                        .clone()
                        .unwrap_or_else(|| p.credentials_secret.clone()),
                    forge: n.forge,
                    api_url: n.api_url.clone(),
                },
                after_seconds: n.after.map(seconds),
                force: n.force,
            }
        })
        .collect();
    let version_ref = |v: &Version| VersionRef {
        version: v.version.clone(),
        image: v.image.clone(),
        workload: ctx.workload_name(v),
    };
    let spec = ExperimentSpec {
        id: rel.id.clone(),
        release: rel.name.clone(),
        application: ApplicationRef {
            name: ctx.env.app_name.clone().unwrap_or_else(|| rel.name.clone()),
            namespace: ctx.env.app_namespace.clone(),
        },
        pattern: e.pattern,
        baseline: version_ref(&rel.baseline),
        candidate: version_ref(cand),
        window: WindowSpec {
            warmup_seconds: seconds(e.warmup),
            duration_seconds: seconds(e.duration),
            interval_seconds: seconds(e.interval),
            min_duration_seconds: seconds(e.min_duration),
        },
        min_requests: e.min_requests,
        confidence: e.confidence,
        margin: e.margin,
        prometheus,
        objectives: e.objectives.clone(),
        rewards: e.rewards.clone(),
        metrics: e
            .metrics
            .iter()
            .map(|(n, m)| CustomMetric {
                name: n.clone(),
                query: m.query.clone(),
                kind: m.kind,
            })
            .collect(),
        // A sidecar's load starts with the hook: nothing to look up.
        loadgen: rel
            .loadgen
            .as_ref()
            .filter(|l| l.mode == LoadgenMode::Job)
            .map(|_| LoadgenRef {
                job: loadgen_name(ctx),
            }),
        write_back: WriteBack {
            repo: EnvRepo {
                url: repo_url,
                branch,
                path: slash(&dir.join(FILE_NAME)),
                mode: ctx.mode,
                credentials_secret: p.credentials_secret.clone(),
                forge: p.forge,
                api_url: p.api_url.clone(),
            },
            reject: p.reject,
            argocd_server: ctx.settings.argocd_server.clone(),
            author: Author {
                name: p.author.name.clone(),
                email: p.author.email.clone(),
            },
            next,
            next_environments,
        },
    };
    let mut exp = Experiment::new(&name(ctx), spec);
    exp.metadata = ctx.experiment_meta(name(ctx));
    Ok(exp)
}

/// The branch the verdict is committed to: the spec's, else the one the
/// Application tracks. A commit SHA, tag or version range is not a branch,
/// so it cannot be guessed from; `HEAD` means the remote's default branch.
fn branch(ctx: &Ctx) -> Result<String, RenderError> {
    if let Some(b) = &ctx.rel.promotion.branch {
        return Ok(b.clone());
    }
    let rev = ctx.env.target_revision.as_deref().unwrap_or("HEAD");
    let rev = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    let sha = rev.len() >= 7 && rev.len() <= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit());
    if rev == "HEAD" || (!sha && !rev.starts_with("refs/") && is_branch_name(rev)) {
        return Ok(rev.to_string());
    }
    Err(ctx.spec_error(
        ctx.rel.places.spec,
        "spec.promotion.branch",
        format!("not set, and the Application tracks {rev:?}, which is not a branch; set the branch verdicts are committed to"),
    ))
}

/// `a/./b/../c` → `a/c`; `None` when the path climbs above its root.
fn normalise(p: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(p.trim_start_matches('/')).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

/// A repository path with `/` separators.
fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_inside_the_repository() {
        assert_eq!(
            normalise("./envs/dev/../prod").unwrap(),
            PathBuf::from("envs/prod")
        );
        assert_eq!(normalise("").unwrap(), PathBuf::new());
        assert!(normalise("envs/../..").is_none());
    }
}
