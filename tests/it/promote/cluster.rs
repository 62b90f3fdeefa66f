//! The in-cluster hook against the fake Kubernetes API server (no real
//! kube-apiserver can run here): the Experiment, the loadgen Job and the
//! candidate Deployment live in the fake; Prometheus and git daemon are real.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::{NS, ago, finish, prometheus, stderr};
use crate::support::fake_kube::RbacAttrs;

use super::fixture::{Cluster, find};

/// The status' evidence row of `version` and `metric`.
fn evidence<'a>(status: &'a Value, version: &str, metric: &str) -> &'a Value {
    status["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == version && e["metric"] == metric)
        .unwrap_or_else(|| panic!("no {version} {metric} evidence in {status:#}"))
}

#[test]
fn the_hook_judges_records_and_commits() {
    let c = Cluster::new("env-cluster");
    c.loadgen_started(150, false);
    let out = c.judge_healthy();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1, "{err}");
    let sha = &commits[0].0;

    let s = c.status();
    assert_eq!(s["phase"], "Completed", "{s:#}");
    assert_eq!(s["verdict"], "promote");
    assert_eq!(s["commit"], sha.as_str());
    assert_eq!(s["iteration"], 1);
    // The window opened at the loadgen Job's start.
    let job = c.fake.list("batch/v1", "jobs", NS);
    assert_eq!(s["startedAt"], job[0]["status"]["startTime"]);
    let rate = evidence(&s, "v2", "error-rate");
    // 120 s of the window at 10 requests/s, give or take the second the
    // hook took to start.
    let samples = rate["samples"].as_u64().unwrap();
    assert!((1200..=1300).contains(&samples), "{rate}");
    assert_eq!(rate["result"], "pass");
    assert_eq!(s["looks"].as_array().map(Vec::len), Some(1), "{s:#}");
    assert_eq!(s["looks"][0]["counts"][0]["requests"], samples);
    assert_eq!(c.event_reasons(), ["Started", "Promoted", "Committed"]);

    // Status writes are JSON merge patches of the status subresource; the
    // only other patch is the progress annotation (Argo CD ignores
    // status-only updates), on the Experiment itself.
    let (patches, others): (Vec<_>, Vec<_>) = c
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .partition(|r| r.path.ends_with("/status"));
    assert!(!others.is_empty());
    for p in &others {
        assert_eq!(
            p.path,
            format!(
                "/apis/assay.dev/v1alpha1/namespaces/{NS}/experiments/{}",
                c.name
            )
        );
        let body = p.body.as_ref().unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let annotations = body["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(annotations.len(), 1, "{body}");
        assert!(annotations["assay.dev/progress"].is_string(), "{body}");
    }
    let exp = c
        .fake
        .get("assay.dev/v1alpha1", "experiments", NS, &c.name)
        .unwrap();
    assert_eq!(
        exp["metadata"]["annotations"]["assay.dev/progress"],
        "Completed/Promoted/Committed look 1"
    );
    assert!(patches.len() >= 3, "{patches:?}");
    for p in &patches {
        assert_eq!(
            p.path,
            format!(
                "/apis/assay.dev/v1alpha1/namespaces/{NS}/experiments/{}/status",
                c.name
            )
        );
        assert_eq!(
            p.content_type.as_deref(),
            Some("application/merge-patch+json")
        );
        assert!(p.body.as_ref().unwrap()["status"]["updatedAt"].is_string());
    }
    // The verdict is in the status before Git is touched.
    let verdict_first = patches
        .iter()
        .position(|p| p.body.as_ref().unwrap()["status"]["verdict"] == "promote")
        .unwrap();
    let commit_at = patches
        .iter()
        .position(|p| p.body.as_ref().unwrap()["status"]["commit"].is_string())
        .unwrap();
    assert!(verdict_first < commit_at);
    let events: Vec<_> = c
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let e = events[0].body.as_ref().unwrap();
    assert_eq!(e["regarding"]["kind"], "Experiment");
    assert_eq!(e["reportingController"], "assay.dev/promote");
    assert_eq!(e["reportingInstance"], "productpage-promote-x7k2p");
    c.assert_no_secret(&err);
}

#[test]
fn the_load_runs_in_the_hook_pod_and_the_window_opens_with_the_hook() {
    let c = Cluster::with_load("env-sidecar", false);
    // No loadgen Job: the hook pod carries fortio as a native sidecar.
    assert!(c.manifests.iter().all(|m| {
        !m["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .contains("loadgen")
    }));
    let hook = c
        .manifests
        .iter()
        .find(|m| m["metadata"]["name"] == "productpage-promote")
        .unwrap();
    let init = &hook["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(
        (init["name"].as_str(), init["restartPolicy"].as_str()),
        (Some("fortio"), Some("Always"))
    );
    let prom = prometheus(Some);
    let before = std::time::SystemTime::now();
    // Without a Job the window opens at the hook's start: the first look
    // comes after warmup + interval, so cut it short with a start in the past.
    let out = finish(
        c.hook(&["--prometheus", &prom.url(), "--started-at", &ago(150)]),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("promote: v2 meets every objective (early, at 12"),
        "{err}"
    );
    // The hook asked the cluster for no Job: it has nothing to look up.
    assert!(
        c.fake.requests().iter().all(|r| !r.path.contains("/jobs/")),
        "{:?}",
        c.fake.requests()
    );
    let s = c.status();
    assert!(
        s["decidedAt"].is_string() && s["deliveredAt"].is_string(),
        "{s:#}"
    );
    assert!(s["looks"][0]["at"].is_string(), "{s:#}");
    assert!(before.elapsed().unwrap() < Duration::from_secs(60));
}

#[test]
fn load_that_ended_early_closes_the_window() {
    let c = Cluster::new("env-early");
    // Started 100 s ago, done 20 s ago: the window ran from 70 s to 20 s ago.
    c.loadgen(100, Some(20), false);
    let prom = prometheus(Some);
    let out = finish(
        c.hook(&["--prometheus", &prom.url()]),
        Duration::from_secs(30),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("look 1 (50s of 300s, 4 queries): promote"),
        "{err}"
    );
    let s = c.status();
    let rate = evidence(&s, "v2", "error-rate");
    assert_eq!(rate["samples"], 500);
}

#[test]
fn a_recorded_verdict_is_resumed_without_judging() {
    let c = Cluster::new("env-resume");
    let evidence = json!([{"version": "v2", "metric": "error-rate", "value": 0.2,
        "limit": "<= 0.01", "samples": 1200, "bound": 0.22, "result": "fail"}]);
    let mut exp = c
        .fake
        .get("assay.dev/v1alpha1", "experiments", NS, &c.name)
        .unwrap();
    exp["status"] = json!({"phase": "Running", "verdict": "reject", "iteration": 3,
        "message": "v2 fails error-rate: 0.2 (bound 0.22) vs <= 0.01", "evidence": evidence});
    c.fake.put(exp);
    // Prometheus is unreachable: a hook that judged again would fail.
    let out = finish(
        c.hook(&["--prometheus", "http://127.0.0.1:1"]),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("resuming: the status already holds the verdict reject"),
        "{err}"
    );
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1);
    assert!(
        commits[0]
            .2
            .contains("| v2 | error-rate | 0.2 | <= 0.01 | 1200 | - | bound 0.22 | fail |"),
        "{}",
        commits[0].2
    );
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    assert_eq!(
        spec.rejected[0].reason.as_deref(),
        Some("v2 fails error-rate: 0.2 (bound 0.22) vs <= 0.01")
    );
    assert_eq!(c.status()["commit"], commits[0].0.as_str());
    assert!(
        c.fake.requests().iter().all(|r| !r.path.contains("/jobs/")),
        "no judging, no loadgen lookup"
    );
    // And once delivered, another run does nothing at all.
    let before = c.fake.requests().len();
    let again = finish(c.hook(&[]), Duration::from_secs(60));
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("the verdict is already delivered"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        c.fake.requests().len(),
        before + 1,
        "only the GET of the Experiment"
    );
    c.assert_no_secret(&err);
}

#[test]
fn a_failed_write_back_is_resumed_with_the_judged_reason() {
    let c = Cluster::new("env-git-down");
    c.reject_with_git_down();
    let s = c.status();
    assert_eq!(
        (s["phase"].as_str(), s["verdict"].as_str()),
        (Some("Failed"), Some("reject"))
    );
    let reason = s["reason"].as_str().unwrap().to_string();
    assert!(
        reason.starts_with("v2 fails error-rate: 24") && reason.contains("shown over the limit"),
        "{reason}"
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("the write-back failed")
    );

    // The Job retries once Git is back: the judged reason reaches Git.
    c.retry_with_git_back();
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    assert_eq!(spec.rejected[0].reason.as_deref(), Some(reason.as_str()));
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1);
    assert!(
        commits[0]
            .2
            .contains(&format!("Verdict: reject ({reason})")),
        "{}",
        commits[0].2
    );
    assert!(
        commits[0]
            .2
            .contains("| v2 | error-rate | 0.2 | <= 0.01 | 12"),
        "{}",
        commits[0].2
    );
}

#[test]
fn the_same_candidate_proposed_again_is_judged_anew() {
    let c = Cluster::new("env-again");
    c.loadgen_started(150, false);
    // The Experiment object kept the status of an earlier run whose verdict
    // was committed; since then the same candidate was proposed again.
    let mut exp = c
        .fake
        .get("assay.dev/v1alpha1", "experiments", NS, &c.name)
        .unwrap();
    exp["status"] = json!({"phase": "Completed", "verdict": "reject", "reason": "old",
        "commit": "0123456789abcdef0123456789abcdef01234567", "iteration": 4});
    c.fake.put(exp);
    let out = c.judge_healthy();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("judging it anew"), "{err}");
    let s = c.status();
    assert_eq!(
        (s["verdict"].as_str(), s["iteration"].as_u64()),
        (Some("promote"), Some(1))
    );
    assert_eq!(c.env.verdict_commits(&c.id).len(), 1);
}

#[test]
fn sync_failed_rejects_a_candidate_that_never_became_ready() {
    let c = Cluster::new("env-syncfail");
    c.candidate_deployment(true);
    let out = finish(c.hook(&["--sync-failed"]), Duration::from_secs(60));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1, "{err}");
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    assert!(spec.candidate.is_none());
    let reason = spec.rejected[0].reason.clone().unwrap();
    assert!(
        reason.starts_with(
            "the candidate Deployment productpage-v2 did not become ready: ProgressDeadlineExceeded"
        ),
        "{reason}"
    );
    assert_eq!(c.status()["verdict"], "reject");
    assert_eq!(c.event_reasons(), ["Rejected", "Committed"]);
    // Argo CD retries the sync and runs SyncFail again: nothing new.
    let again = finish(c.hook(&["--sync-failed"]), Duration::from_secs(60));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(c.env.verdict_commits(&c.id).len(), 1);
    assert_eq!(c.event_reasons().len(), 2);
}

#[test]
fn sync_failed_rejects_when_the_load_generator_failed() {
    let c = Cluster::new("env-loadgen-failed");
    c.candidate_deployment(false);
    c.loadgen_started(100, true);
    let out = finish(c.hook(&["--sync-failed"]), Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    let reason = spec.rejected[0].reason.clone().unwrap();
    assert!(reason.contains("failed: BackoffLimitExceeded"), "{reason}");
}

#[test]
fn sync_failed_leaves_other_failures_alone() {
    let c = Cluster::new("env-not-ours");
    c.candidate_deployment(false);
    c.loadgen_started(10, false);
    let head = c.env.repo.head("main");
    let out = finish(c.hook(&["--sync-failed"]), Duration::from_secs(60));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("not because of candidate v2: nothing to do"),
        "{err}"
    );
    assert_eq!(c.env.repo.head("main"), head);
    assert!(c.fake.requests().iter().all(|r| r.method == "GET"));
    assert!(c.status().is_null());
}

#[test]
fn sigterm_stops_the_hook_with_the_status_saying_so() {
    let c = Cluster::new("env-sigterm");
    c.stopped_by_sigterm();
    let s = c.status();
    assert_eq!(s["phase"], "Terminated", "{s:#}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("stopped by SIGTERM at look 1")
    );
    assert!(s["verdict"].is_null());
    assert!(c.env.verdict_commits(&c.id).is_empty());
}

/// Every call the hook makes is allowed by the Role `generate` renders, and
/// every permission in it is used: the Role is exactly the hook's needs.
#[test]
fn the_rendered_role_is_exactly_what_the_hooks_call() {
    let judged = Cluster::new("env-rbac");
    judged.loadgen_started(150, false);
    let out = judged.judge_healthy();
    assert!(out.status.success(), "{}", stderr(&out));
    let not_ours = Cluster::new("env-rbac-syncfail");
    not_ours.candidate_deployment(false);
    not_ours.loadgen_started(10, false);
    let out = finish(not_ours.hook(&["--sync-failed"]), Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));

    let calls: BTreeSet<(String, String, String, Option<String>)> = [&judged, &not_ours]
        .iter()
        .flat_map(|c| c.fake.rbac())
        .map(
            |RbacAttrs {
                 verb,
                 api_group,
                 resource,
                 name,
             }| (verb, api_group, resource, name),
        )
        .collect();
    let role = find(&judged.manifests, "Role");
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let strs = |k: &str| -> Vec<Option<String>> {
            match rule[k].as_array() {
                Some(a) => a
                    .iter()
                    .map(|v| Some(v.as_str().unwrap().to_string()))
                    .collect(),
                None => vec![None],
            }
        };
        for g in strs("apiGroups") {
            for r in strs("resources") {
                for v in strs("verbs") {
                    for n in strs("resourceNames") {
                        granted.insert((
                            v.clone().unwrap(),
                            g.clone().unwrap(),
                            r.clone().unwrap(),
                            n,
                        ));
                    }
                }
            }
        }
    }
    // A rule without resourceNames grants the collection call (name None).
    assert_eq!(calls, granted, "calls made vs the Role's grants");
}

/// Prometheus behind its own basic auth and TLS (issue 14 item 5): the hook
/// reads the credentials from the mounted Secret's files, judges and
/// commits, and the password reaches no output, status, Event, API request
/// or commit.
#[test]
fn the_hook_reads_prometheus_credentials_from_its_secret_and_keeps_them_out_of_the_status() {
    use crate::prometheus_auth::{PASSWORD, PASSWORD_HASH, USER};
    use crate::support::git_servers::make_certificates;
    use crate::support::prometheus::{OpenMetrics, Prometheus, Span, WebConfig, Workload};

    let c = Cluster::new("env-prom-auth");
    c.loadgen_started(150, false);
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let span = Span::around_now(3600, 600);
    let data = OpenMetrics::new()
        .workload(&Workload::new(NS, "productpage-v1", span))
        .workload(&Workload::new(NS, "productpage-v2", span));
    let prom = Prometheus::start_with(
        &data,
        Some(WebConfig {
            users: vec![(USER.into(), PASSWORD_HASH.into())],
            tls: Some((
                certs.path().join("server.pem"),
                certs.path().join("server.key"),
            )),
        }),
    );
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("username"), USER).unwrap();
    std::fs::write(secret.path().join("password"), PASSWORD).unwrap();
    std::fs::copy(certs.path().join("ca.pem"), secret.path().join("ca.crt")).unwrap();
    let mut hook = c.hook(&["--prometheus", &prom.url()]);
    hook.env("ASSAY_PROMETHEUS_AUTH", secret.path());
    let out = finish(hook, Duration::from_secs(60));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(c.env.verdict_commits(&c.id).len(), 1, "{err}");
    assert_eq!(c.status()["verdict"], "promote");
    c.assert_no_secret(&err);
    assert!(!err.contains(PASSWORD), "{err}");
    assert!(!c.status().to_string().contains(PASSWORD));
    for e in c.fake.list("events.k8s.io/v1", "events", NS) {
        assert!(!e.to_string().contains(PASSWORD), "{e}");
    }
    for r in c.fake.requests() {
        let body = r.body.map(|b| b.to_string()).unwrap_or_default();
        assert!(
            !body.contains(PASSWORD) && !r.path.contains(PASSWORD),
            "{body}"
        );
    }
    assert!(!prom.query_log().contains(PASSWORD));
}
