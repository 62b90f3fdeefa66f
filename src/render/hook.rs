//! The hooks that deliver the verdict, and the least privilege they run with.
//! `<name>-promote` (PostSync) judges and writes back; `<name>-syncfail`
//! (SyncFail) rejects a candidate that could not even start, because when a
//! sync-phase object turns Degraded Argo CD fails the sync and PostSync never
//! runs. Both use one ServiceAccount whose Role names each object it may touch.
//! Names are fixed per application and recreated each sync (BeforeHookCreation).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, SecretVolumeSource, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Ctx, Document, EXPERIMENT_LABEL, RenderError, object, security};
use crate::crd::Experiment;
use crate::spec::{LoadgenMode, Version, seconds};

/// Where the hook reads Git credentials (DESIGN §4, issue "gitops").
pub const CREDENTIALS_DIR: &str = "/var/run/secrets/assay/git";

/// Where the hook reads the Prometheus credentials, when
/// `experiment.prometheus.secret` names a Secret (`judge::PrometheusAuth`).
pub const PROMETHEUS_CREDENTIALS_DIR: &str = crate::judge::PROMETHEUS_AUTH_DIR;
/// Where the hook reads the credentials of a next environment whose Secret
/// is not this environment's: `<dir>/<secret>` (see `promote::next`).
pub const NEXT_CREDENTIALS_DIR: &str = "/var/run/secrets/assay/next";

/// The uid of the assay image (Dockerfile `USER 999`).
const ASSAY_UID: i64 = 999;

/// When a hook Job runs, which decides its name and arguments.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookKind {
    /// After a successful sync: `assay promote` judges and writes the verdict.
    PostSync,
    /// After a failed sync: `assay promote --sync-failed` rejects the candidate.
    SyncFail,
}

/// `<name>-assay`: ServiceAccount, Role and RoleBinding of the hooks.
fn identity(ctx: &Ctx) -> String {
    format!("{}-assay", ctx.rel.name)
}

fn rule(group: &str, resource: &str, names: &[String], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(vec![resource.to_string()]),
        resource_names: (!names.is_empty()).then(|| names.to_vec()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

/// The hook's permissions: exactly the calls `assay promote` makes
/// (`cluster.rs`; the promote tests compare them with what it sends).
pub(crate) fn rules(ctx: &Ctx, cand: &Version, experiment: &str) -> Vec<PolicyRule> {
    let exp = vec![experiment.to_string()];
    let mut rules = vec![
        // patch: the hook's progress annotation, so Argo CD (which ignores
        // status-only updates) refreshes the Experiment's health message.
        rule("assay.dev", "experiments", &exp, &["get", "patch"]),
        rule("assay.dev", "experiments/status", &exp, &["patch"]),
        // --sync-failed: is the candidate Degraded?
        rule("apps", "deployments", &[ctx.workload_name(cand)], &["get"]),
    ];
    if ctx
        .rel
        .loadgen
        .as_ref()
        .is_some_and(|l| l.mode == LoadgenMode::Job)
    {
        rules.push(rule(
            "batch",
            "jobs",
            &[super::experiment::loadgen_name(ctx)],
            &["get"],
        ));
    }
    // One new event per step (events.k8s.io/v1), never updated. Kubernetes
    // cannot restrict `create` by name.
    rules.push(rule("events.k8s.io", "events", &[], &["create"]));
    rules
}

/// ServiceAccount, Role and RoleBinding of the hooks; needs a namespace for the binding.
pub(crate) fn rbac(
    ctx: &Ctx,
    cand: &Version,
    exp: &Experiment,
) -> Result<Vec<Document>, RenderError> {
    let namespace = ctx.namespace.clone().ok_or_else(|| {
        ctx.spec_error(ctx.rel.places.metadata, "metadata.namespace",
            "not set, and the Application has no destination namespace; the hook's RoleBinding needs one")
    })?;
    let name = identity(ctx);
    let exp_name = exp.metadata.name.clone().unwrap_or_default();
    let sa = ServiceAccount {
        metadata: ctx.experiment_meta(&name),
        ..Default::default()
    };
    let role = Role {
        metadata: ctx.experiment_meta(&name),
        rules: Some(rules(ctx, cand, &exp_name)),
    };
    let binding = RoleBinding {
        metadata: ctx.experiment_meta(&name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(namespace),
            api_group: None,
        }]),
    };
    Ok(vec![object(&sa), object(&role), object(&binding)])
}

/// The hook Job of `phase`, judging the Experiment named `experiment`.
pub(crate) fn job(ctx: &Ctx, experiment: &str, kind: HookKind) -> Job {
    let rel = ctx.rel;
    // The load generator runs inside the PostSync hook pod, from its start
    // to its verdict (see `loadgen`).
    let load = match kind {
        HookKind::PostSync => rel
            .loadgen
            .as_ref()
            .filter(|l| l.mode == LoadgenMode::Sidecar),
        HookKind::SyncFail => None,
    };
    let (suffix, hook, args, deadline) = match kind {
        // Long enough for warmup, the whole window and a slow write-back.
        HookKind::PostSync => (
            "promote",
            "PostSync",
            vec!["promote"],
            seconds(rel.experiment.run_time()) + 1800,
        ),
        HookKind::SyncFail => (
            "syncfail",
            "SyncFail",
            vec!["promote", "--sync-failed"],
            600,
        ),
    };
    let mut meta = ctx.experiment_meta(format!("{}-{suffix}", rel.name));
    meta.annotations = Some(BTreeMap::from([
        ("argocd.argoproj.io/hook".to_string(), hook.to_string()),
        (
            "argocd.argoproj.io/hook-delete-policy".to_string(),
            "BeforeHookCreation".to_string(),
        ),
    ]));
    let pod_labels = BTreeMap::from([
        // part-of, not name: selectors for the app's own pods (PDBs,
        // NetworkPolicies) must not match the experiment's helpers.
        ("app.kubernetes.io/part-of".to_string(), rel.name.clone()),
        (
            "app.kubernetes.io/component".to_string(),
            format!("{suffix}-hook"),
        ),
        (EXPERIMENT_LABEL.to_string(), rel.id.clone()),
        // The hook talks to Git, Prometheus and the API server directly; a
        // mesh sidecar is injected only for in-mesh load from the hook pod
        // (`loadgen.sidecar`), and must be a native one so the Job completes.
        (
            "sidecar.istio.io/inject".to_string(),
            load.is_some_and(|l| l.sidecar).to_string(),
        ),
    ]);
    let mut env = vec![
        EnvVar {
            name: "ASSAY_EXPERIMENT".into(),
            value: Some(experiment.to_string()),
            value_from: None,
        },
        EnvVar {
            name: "ASSAY_NAMESPACE".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.namespace".into(),
                    api_version: None,
                }),
                ..Default::default()
            }),
        },
        // libgit2 looks for configuration under HOME; the root filesystem is read-only.
        EnvVar {
            name: "HOME".into(),
            value: Some("/tmp".into()),
            value_from: None,
        },
    ];
    if !rel.promotion.commit_status {
        env.push(EnvVar {
            name: "ASSAY_COMMIT_STATUS".into(),
            value: Some("false".into()),
            value_from: None,
        });
    }
    if let Some(format) = ctx.env.log_format {
        let name = clap::ValueEnum::to_possible_value(&format)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        env.push(EnvVar {
            name: "ASSAY_LOG_FORMAT".into(),
            value: Some(name),
            value_from: None,
        });
    }
    let (git_mount, git_volume) = secret_files(
        "git-credentials",
        &rel.promotion.credentials_secret,
        CREDENTIALS_DIR,
    );
    let mut mounts = vec![
        git_mount,
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        },
    ];
    let mut volumes = vec![
        git_volume,
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    // Each next environment with a Secret of its own.
    let mut secrets: Vec<&str> = rel
        .promotion
        .next_environments
        .iter()
        .filter_map(|n| n.credentials_secret.as_deref())
        .filter(|s| *s != rel.promotion.credentials_secret)
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    let next = secrets.into_iter().enumerate().map(|(i, secret)| {
        let path = format!("{NEXT_CREDENTIALS_DIR}/{secret}");
        secret_files(&format!("next-credentials-{i}"), secret, &path)
    });
    let prometheus =
        rel.experiment.prometheus_secret.as_deref().map(|secret| {
            secret_files("prometheus-credentials", secret, PROMETHEUS_CREDENTIALS_DIR)
        });
    for (mount, volume) in next.chain(prometheus) {
        mounts.push(mount);
        volumes.push(volume);
    }
    Job {
        metadata: meta,
        spec: Some(JobSpec {
            // The hook is idempotent: a retried pod resumes from the status.
            backoff_limit: Some(3),
            active_deadline_seconds: Some(deadline as i64),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(identity(ctx)),
                    restart_policy: Some("Never".into()),
                    // Room for a Prometheus query in flight (30 s timeout) to
                    // end and the status to say Terminated before SIGKILL.
                    termination_grace_period_seconds: Some(60),
                    security_context: Some(security::pod_context(Some(ASSAY_UID))),
                    init_containers: load.map(|l| vec![super::loadgen::sidecar(ctx, l)]),
                    containers: vec![Container {
                        name: "assay".into(),
                        image: Some(ctx.env.image.clone()),
                        args: Some(args.into_iter().map(String::from).collect()),
                        env: Some(env),
                        volume_mounts: Some(mounts),
                        resources: Some(super::loadgen::resources("10m", "32Mi", "256Mi")),
                        security_context: Some(security::container_context(true)),
                        ..Default::default()
                    }],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// A Secret as files the hook reads (never env or args), read-only.
/// Optional: anonymous Git (git://, file://) needs no Secret, and a missing
/// one is the hook's one-line error (an empty directory) instead of a pod
/// stuck mounting.
fn secret_files(name: &str, secret: &str, path: &str) -> (VolumeMount, Volume) {
    let mount = VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    };
    let volume = Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            optional: Some(true),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    };
    (mount, volume)
}
