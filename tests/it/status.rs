//! `assay status` against the fake Kubernetes API server, reached the way a
//! person reaches a cluster: a kubeconfig file named by `KUBECONFIG`, its
//! context's namespace the default. What is shown, and what is asked of the
//! API server (one list or get of experiments, with the kubeconfig's token).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::assay_bin;
use crate::support::fake_kube::{FakeKube, TOKEN};

const NS: &str = "bookinfo";

fn experiment(name: &str, namespace: &str, status: Value) -> Value {
    json!({
        "apiVersion": "assay.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "id": name.rsplit('-').next().unwrap(),
            "release": "productpage",
            "baseline": {"version": "v1", "image": "i:1", "workload": "productpage-v1"},
            "candidate": {"version": "v2", "image": "i:2", "workload": "productpage-v2"},
            "objectives": [{"metric": "error-rate", "upperLimit": 0.01},
                           {"metric": "mean-latency", "upperLimit": 300.0}],
        },
        "status": status,
    })
}

/// Judging at look 3, its load started 125 s before `now`.
fn judging(started_at: &str) -> Value {
    json!({
        "phase": "Running", "iteration": 3, "startedAt": started_at,
        "message": "look 3: pending",
        "evidence": [
            {"version": "v1", "metric": "error-rate", "value": 0.0, "samples": 1400, "hits": 0, "result": "reference"},
            {"version": "v2", "metric": "error-rate", "value": 0.0013, "limit": "< 0.01",
             "samples": 1500, "hits": 2, "result": "pass"},
            {"version": "v2", "metric": "mean-latency", "value": 41.5, "limit": "< 300",
             "samples": 1500, "result": "pending"},
        ],
    })
}

/// Promoted by hand and committed, ten minutes after its load started.
fn promoted_by_hand() -> Value {
    json!({
        "phase": "Completed", "iteration": 5, "verdict": "promote",
        "manual": {"action": "promote-now", "requestedAt": "2026-12-04T07:09:00Z"},
        "startedAt": "2026-12-04T07:00:00Z", "deliveredAt": "2026-12-04T07:10:00Z",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "message": "verdict promote committed",
    })
}

fn ago(seconds: u64) -> String {
    let now = k8s_openapi::jiff::Timestamp::now().as_second() - seconds as i64;
    k8s_openapi::jiff::Timestamp::from_second(now)
        .unwrap()
        .to_string()
}

fn cluster() -> FakeKube {
    let kube = FakeKube::start();
    kube.put(experiment("productpage-bbbb2222", NS, judging(&ago(125))));
    kube.put(experiment("productpage-aaaa1111", NS, promoted_by_hand()));
    kube.put(experiment(
        "elsewhere-cccc3333",
        "other",
        json!({"phase": "Running"}),
    ));
    kube
}

fn status(kubeconfig: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assay_bin());
    cmd.arg("status")
        .args(args)
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .env("KUBECONFIG", kubeconfig);
    cmd
}

fn ok(mut cmd: Command) -> String {
    let out: Output = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "assay status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every request carried the kubeconfig's token and was one of `allowed`
/// (method, path); at least one was made.
fn only_asked(kube: &FakeKube, allowed: &[(&str, &str)]) {
    let requests = kube.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(
            allowed.contains(&(r.method.as_str(), r.path.as_str())),
            "unexpected {} {}",
            r.method,
            r.path
        );
        assert_eq!(r.status, 200, "{} {}", r.method, r.path);
    }
}

#[test]
fn status_lists_the_experiments_of_the_kubeconfig_namespace() {
    let kube = cluster();
    let text = ok(status(&kube.kubeconfig_in(NS), &[]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "PHASE",
            "LOOK",
            "VERDICT",
            "CANDIDATE",
            "SERVING",
            "OBJECTIVES",
            "DELIVERED"
        ]
    );
    // By name; columns line up under the header.
    assert!(lines[1].starts_with("productpage-aaaa1111 "), "{text}");
    assert!(lines[2].starts_with("productpage-bbbb2222 "), "{text}");
    let column = |name: &str| lines[0].find(name).unwrap();
    assert_eq!(&lines[1][column("PHASE")..][..9], "Completed");
    assert_eq!(&lines[2][column("PHASE")..][..7], "Running");
    assert!(
        lines[1].contains("promote (by hand: promote-now)"),
        "{text}"
    );
    assert!(lines[1].contains("v2 vs v1"), "{text}");
    // Delivered: from the load's start to the commit, and the commit.
    assert_eq!(&lines[1][column("SERVING")..][..6], "10m00s");
    assert!(lines[1].ends_with(" 0123456789ab"), "{text}");
    assert!(
        lines[2].contains("error-rate pass 2/1500, mean-latency pending n=1500"),
        "{text}"
    );
    // Still serving: counted to now (125 s and the time the command took).
    let serving = lines[2][column("SERVING")..].split_whitespace().next();
    assert!(
        matches!(serving, Some("2m05s" | "2m06s" | "2m07s")),
        "{serving:?}"
    );
    assert!(!text.contains("elsewhere"), "another namespace: {text}");
    only_asked(
        &kube,
        &[(
            "GET",
            "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments",
        )],
    );
}

#[test]
fn status_of_one_experiment_as_json_and_yaml() {
    let kube = cluster();
    // The default context's namespace is `default`: -n names another.
    let kubeconfig = kube.kubeconfig();
    let name = "productpage-aaaa1111";
    let json_text = ok(status(&kubeconfig, &["-n", NS, name, "-o", "json"]));
    let v: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(
        v,
        json!({
            "name": name, "namespace": NS, "release": "productpage",
            "baseline": "v1", "candidate": "v2", "phase": "Completed", "look": 5,
            "verdict": "promote", "manual": "promote-now",
            "objectives": [
                {"metric": "error-rate", "result": "pending", "samples": 0},
                {"metric": "mean-latency", "result": "pending", "samples": 0},
            ],
            "commit": "0123456789abcdef0123456789abcdef01234567",
            "servingSeconds": 600, "message": "verdict promote committed",
        })
    );
    let yaml_text = ok(status(
        &kubeconfig,
        &["--namespace", NS, name, "--output", "yaml"],
    ));
    let y: Value = serde_saphyr::from_str(&yaml_text).unwrap();
    assert_eq!(y, v);
    only_asked(
        &kube,
        &[(
            "GET",
            "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments/productpage-aaaa1111",
        )],
    );
}

#[test]
fn status_of_a_missing_experiment_says_so_in_one_line() {
    let kube = cluster();
    let out = status(&kube.kubeconfig_in(NS), &["nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "assay: no experiment nope in namespace bookinfo\n"
    );
    let empty = ok(status(&kube.kubeconfig_in("nothing-here"), &[]));
    assert_eq!(empty, "no experiments\n");
}

#[test]
fn status_watch_prints_again_when_the_status_changes() {
    let kube = cluster();
    let mut child = status(
        &kube.kubeconfig_in(NS),
        &[
            "productpage-bbbb2222",
            "-o",
            "json",
            "--watch",
            "--interval",
            "50ms",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let first = next("the first look");
    assert_eq!(first["phase"], "Running");
    assert_eq!(first["look"], 3);
    // Several polls with nothing new print nothing.
    kube.wait_for(Duration::from_secs(20), "three more polls", |r| {
        r.len() >= 4
    });
    assert!(rx.try_recv().is_err(), "printed again without a change");
    let mut status = judging(&ago(125));
    status["phase"] = json!("Completed");
    status["iteration"] = json!(4);
    status["verdict"] = json!("reject");
    kube.put(experiment("productpage-bbbb2222", NS, status));
    let second = next("the change");
    assert_eq!(second["phase"], "Completed");
    assert_eq!(second["look"], 4);
    assert_eq!(second["verdict"], "reject");
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
}
