//! The load generator, fortio, in one of two places:
//! - `mode: sidecar` (default): a native sidecar (an init container with
//!   `restartPolicy: Always`, Kubernetes >= 1.29) of the PostSync hook pod. It
//!   starts when the hook does, so after every version is Healthy, and the
//!   kubelet stops it when the hook's container exits, at the verdict: a bad
//!   candidate gets load only until it is judged.
//! - `mode: job`: a sync-phase Job named from the experiment id, so a new
//!   experiment gets a new Job (Job templates are immutable) and the old one
//!   is pruned. Argo CD waits for it to complete before PostSync, so judging
//!   starts only once the load has run for warmup + duration.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

use super::{Ctx, EXPERIMENT_LABEL, order, security};
use crate::spec::{Loadgen, seconds};

/// fortio's image runs as root by default; any unprivileged uid works.
const NOBODY: i64 = 65534;

/// The fortio container, loading `l.url` (or the Service) for `run`
/// seconds, or until it is stopped when `run` is 0.
fn fortio(ctx: &Ctx, l: &Loadgen, run: u64) -> Container {
    let rel = ctx.rel;
    let url = l
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}/", rel.name, ctx.port));
    let mut args: Vec<String> = vec![
        "load".into(),
        "-t".into(),
        format!("{run}s"),
        "-qps".into(),
        format_qps(l.qps),
        "-c".into(),
        l.connections.to_string(),
        // The candidate may still be starting when load begins.
        "-allow-initial-errors".into(),
    ];
    for (k, v) in &l.headers {
        args.push("-H".into());
        args.push(format!("{k}: {v}"));
    }
    args.push(url);
    Container {
        name: "fortio".into(),
        image: Some(l.image.clone()),
        args: Some(args),
        resources: Some(resources("50m", "32Mi", "128Mi")),
        security_context: Some(security::container_context(true)),
        ..Default::default()
    }
}

/// fortio as a native sidecar of the hook pod: it runs until the hook's
/// container exits (`-t 0s`: no end of its own, which would only make the
/// kubelet restart it).
pub(crate) fn sidecar(ctx: &Ctx, l: &Loadgen) -> Container {
    Container {
        restart_policy: Some("Always".into()),
        ..fortio(ctx, l, 0)
    }
}

/// The fortio Job, running for warmup + duration against `l.url` or the Service.
pub(crate) fn job(ctx: &Ctx, l: &Loadgen) -> Job {
    let rel = ctx.rel;
    let run = seconds(rel.experiment.run_time());
    let labels = BTreeMap::from([
        // part-of, not name: selectors for the app's own pods (PDBs,
        // NetworkPolicies) must not match the experiment's helpers.
        ("app.kubernetes.io/part-of".to_string(), rel.name.clone()),
        (
            "app.kubernetes.io/component".to_string(),
            "loadgen".to_string(),
        ),
        (EXPERIMENT_LABEL.to_string(), rel.id.clone()),
        // A classic sidecar would keep the Job from ever completing; a native
        // one (Istio on Kubernetes >= 1.29) exits with it.
        ("sidecar.istio.io/inject".to_string(), l.sidecar.to_string()),
    ]);
    let mut metadata = ctx.experiment_meta(super::experiment::loadgen_name(ctx));
    Ctx::annotate(&mut metadata, order::WAVE, order::LOAD);
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            // Bounded by the experiment: the run plus five minutes of slack.
            active_deadline_seconds: Some((run + 300) as i64),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    // fortio never talks to the API server.
                    automount_service_account_token: Some(false),
                    security_context: Some(security::pod_context(Some(NOBODY))),
                    containers: vec![fortio(ctx, l, run)],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// `16` rather than `16.0`, as fortio's flag is usually written.
fn format_qps(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        q.to_string()
    }
}

/// Requests for cpu and memory, and a memory limit.
pub(crate) fn resources(cpu: &str, memory: &str, memory_limit: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(memory.into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity(memory_limit.into()),
        )])),
        ..Default::default()
    }
}
