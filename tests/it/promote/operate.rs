//! What people and tools read and press while the hook runs: the
//! conditions and observedGeneration it writes with every status (asserted
//! as the sequence of merge patches the fake API server received), and the
//! Argo CD actions (`promote-now`, `reject-now`, `abort`), whose annotation
//! the hook honours at its next look and records.

use std::time::Duration;

use serde_json::{Value, json};

use super::fixture::Cluster;
use super::{NS, finish, prometheus, stderr, wait};

const EXPERIMENTS: &str = "experiments";
const API: &str = "assay.dev/v1alpha1";

/// (Progressing, Judged, Delivered) as `status/reason` of one status.
fn shape(status: &Value) -> [String; 3] {
    ["Progressing", "Judged", "Delivered"].map(|kind| {
        let c = status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .unwrap_or_else(|| panic!("no {kind} condition in {status:#}"));
        format!(
            "{}/{}",
            c["status"].as_str().unwrap(),
            c["reason"].as_str().unwrap()
        )
    })
}

/// The status of every merge patch the hook sent, in order.
fn patches(c: &Cluster) -> Vec<Value> {
    c.fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/status"))
        .map(|r| r.body.unwrap()["status"].clone())
        .collect()
}

/// The distinct condition shapes the patches went through.
fn transitions(c: &Cluster) -> Vec<[String; 3]> {
    let mut seen: Vec<[String; 3]> = Vec::new();
    for p in patches(c) {
        let s = shape(&p);
        if seen.last() != Some(&s) {
            seen.push(s);
        }
    }
    seen
}

fn s(a: &str, b: &str, c: &str) -> [String; 3] {
    [a.into(), b.into(), c.into()]
}

/// Every patch carries all three conditions in the shape of
/// `metav1.Condition`, the Experiment's generation, and transition times
/// that move only when a condition's status does.
fn conditions_are_well_formed(c: &Cluster) {
    let generation =
        c.fake.get(API, EXPERIMENTS, NS, &c.name).unwrap()["metadata"]["generation"].clone();
    assert_eq!(generation, 1);
    let mut last: Option<Value> = None;
    for p in patches(c) {
        assert_eq!(p["observedGeneration"], generation, "{p:#}");
        let cs = p["conditions"].as_array().unwrap();
        assert_eq!(cs.len(), 3, "{p:#}");
        for cond in cs {
            let mut keys: Vec<&String> = cond.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "lastTransitionTime",
                    "message",
                    "observedGeneration",
                    "reason",
                    "status",
                    "type"
                ],
                "{cond}"
            );
            assert!(
                cond["lastTransitionTime"]
                    .as_str()
                    .unwrap()
                    .parse::<k8s_openapi::jiff::Timestamp>()
                    .is_ok()
            );
            let reason = cond["reason"].as_str().unwrap();
            assert!(
                reason.chars().next().unwrap().is_ascii_uppercase()
                    && reason.chars().all(|ch| ch.is_ascii_alphanumeric()),
                "reason {reason} is not CamelCase"
            );
            if let Some(before) = last.as_ref().and_then(|l| {
                l["conditions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["type"] == cond["type"])
                    .cloned()
            }) && before["status"] == cond["status"]
            {
                assert_eq!(before["lastTransitionTime"], cond["lastTransitionTime"]);
            }
        }
        last = Some(p);
    }
    // What the API server holds is the last patch's.
    let stored = c.status();
    assert_eq!(shape(&stored), shape(last.as_ref().unwrap()));
}

#[test]
fn conditions_of_a_promotion() {
    let c = Cluster::new("env-cond-promote");
    c.loadgen_started(150, false);
    let out = c.judge_healthy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        transitions(&c),
        [
            s("True/Judging", "Unknown/Pending", "Unknown/Pending"),
            s("True/Delivering", "True/Promoted", "Unknown/Pending"),
            s("False/Completed", "True/Promoted", "True/Committed"),
        ]
    );
    conditions_are_well_formed(&c);
    let st = c.status();
    let delivered = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Delivered")
        .unwrap()
        .clone();
    assert_eq!(delivered["message"], st["commit"]);
}

#[test]
fn conditions_of_a_rejection_and_a_failed_write_back() {
    let c = Cluster::new("env-cond-reject");
    c.reject_with_git_down();
    assert_eq!(
        transitions(&c),
        [
            s("True/Judging", "Unknown/Pending", "Unknown/Pending"),
            s("True/Delivering", "True/Rejected", "Unknown/Pending"),
            s("False/Failed", "True/Rejected", "False/WriteBackFailed"),
        ]
    );
    conditions_are_well_formed(&c);
    c.retry_with_git_back();
    assert_eq!(
        shape(&c.status()),
        s("False/Completed", "True/Rejected", "True/Committed")
    );
    conditions_are_well_formed(&c);
}

#[test]
fn conditions_of_a_supersession() {
    let c = Cluster::new("env-cond-superseded");
    c.loadgen_started(60, false);
    // CI proposed another candidate before the hook's first look.
    c.env.propose("v3", "iter8/productpage:v3");
    let out = c.judge_healthy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        transitions(&c),
        [
            s("True/Judging", "Unknown/Pending", "Unknown/Pending"),
            s("False/Superseded", "False/Superseded", "False/Superseded"),
        ]
    );
    conditions_are_well_formed(&c);
}

#[test]
fn conditions_when_stopped_by_sigterm() {
    let c = Cluster::new("env-cond-sigterm");
    c.stopped_by_sigterm();
    assert_eq!(
        transitions(&c),
        [
            s("True/Judging", "Unknown/Pending", "Unknown/Pending"),
            s("False/Terminated", "Unknown/Pending", "Unknown/Pending"),
        ]
    );
    conditions_are_well_formed(&c);
}

/// Runs `action` the way the kit's Lua does (the annotations it sets) on
/// the Experiment while the hook judges; returns the hook's output and the
/// look it had made when the annotation was set.
fn press(c: &Cluster, action: &str, reason: Option<&str>) -> (std::process::Output, u64) {
    c.loadgen_started(60, false);
    let prom = prometheus(Some);
    let child = c.judging(&prom.url());
    let looked = c.status()["iteration"].as_u64().unwrap();
    let key = (API, EXPERIMENTS, NS, c.name.as_str());
    c.fake
        .annotate(key, "assay.dev/action-at", Some("2026-12-04T07:40:00Z"));
    if let Some(r) = reason {
        c.fake.annotate(key, "assay.dev/action-reason", Some(r));
    }
    c.fake.annotate(key, "assay.dev/action", Some(action));
    (wait(child, Duration::from_secs(40)), looked)
}

#[test]
fn promote_now_is_honoured_at_the_next_look_and_recorded() {
    let c = Cluster::new("env-promote-now");
    let (out, looked) = press(&c, "promote-now", None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let st = c.status();
    assert_eq!(st["verdict"], "promote", "{st:#}");
    // Decided before another measurement: the look count did not move.
    assert_eq!(st["iteration"].as_u64(), Some(looked));
    assert_eq!(
        st["manual"],
        json!({"action": "promote-now", "requestedAt": "2026-12-04T07:40:00Z"})
    );
    assert_eq!(
        st["reason"],
        "promoted by hand (Argo CD action promote-now at 2026-12-04T07:40:00Z)"
    );
    assert_eq!(
        transitions(&c).last().unwrap(),
        &s("False/Completed", "True/PromotedByHand", "True/Committed")
    );
    conditions_are_well_formed(&c);
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1, "{err}");
    assert!(
        commits[0].2.contains("Assay-Verdict: promote"),
        "{}",
        commits[0].2
    );
    assert!(
        commits[0].2.contains("by hand (Argo CD action promote-now"),
        "{}",
        commits[0].2
    );
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    assert_eq!(spec.baseline.version, "v2");
    assert!(c.event_reasons().contains(&"PromotedByHand".to_string()));
    c.assert_no_secret(&err);
}

#[test]
fn reject_now_records_the_persons_reason() {
    let c = Cluster::new("env-reject-now");
    let (out, looked) = press(&c, "reject-now", Some("p99 doubles under real traffic"));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let st = c.status();
    assert_eq!(st["verdict"], "reject", "{st:#}");
    assert_eq!(st["iteration"].as_u64(), Some(looked));
    assert_eq!(st["manual"]["action"], "reject-now");
    assert_eq!(st["manual"]["reason"], "p99 doubles under real traffic");
    assert_eq!(
        transitions(&c).last().unwrap(),
        &s("False/Completed", "True/RejectedByHand", "True/Committed")
    );
    let spec = assay::spec::parse("assay.yaml", c.env.spec().as_bytes()).unwrap();
    assert!(spec.candidate.is_none());
    assert_eq!(
        spec.rejected[0].reason.as_deref(),
        Some(
            "rejected by hand (Argo CD action reject-now at 2026-12-04T07:40:00Z): p99 doubles under real traffic"
        )
    );
    assert!(c.event_reasons().contains(&"RejectedByHand".to_string()));
}

#[test]
fn abort_stops_judging_and_leaves_the_candidate_proposed() {
    let c = Cluster::new("env-abort");
    let before = c.env.spec();
    let (out, _) = press(&c, "abort", None);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("aborted by hand (Argo CD action abort"),
        "{err}"
    );
    let st = c.status();
    assert_eq!(st["phase"], "Aborted", "{st:#}");
    assert!(st["verdict"].is_null());
    assert_eq!(st["manual"]["action"], "abort");
    assert_eq!(
        transitions(&c).last().unwrap(),
        &s("False/Aborted", "False/Aborted", "False/Aborted")
    );
    conditions_are_well_formed(&c);
    assert!(c.env.verdict_commits(&c.id).is_empty());
    assert_eq!(c.env.spec(), before, "the candidate stays proposed");
    assert!(c.event_reasons().contains(&"Aborted".to_string()));
}

#[test]
fn an_action_never_changes_a_recorded_verdict() {
    let c = Cluster::new("env-action-late");
    let mut exp = c.fake.get(API, EXPERIMENTS, NS, &c.name).unwrap();
    exp["status"] = json!({"phase": "Running", "verdict": "reject", "iteration": 3,
        "reason": "v2 fails error-rate", "message": "v2 fails error-rate"});
    exp["metadata"]["annotations"] = json!({"assay.dev/action": "promote-now"});
    c.fake.put(exp);
    let out = finish(
        c.hook(&["--prometheus", "http://127.0.0.1:1"]),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "action promote-now ignored: the verdict reject is already recorded and is never changed"
        ),
        "{err}"
    );
    let st = c.status();
    assert_eq!(st["verdict"], "reject");
    assert!(st["manual"].is_null());
    assert_eq!(
        shape(&st),
        s("False/Completed", "True/Rejected", "True/Committed")
    );
    let commits = c.env.verdict_commits(&c.id);
    assert_eq!(commits.len(), 1);
    assert!(
        commits[0].2.contains("Assay-Verdict: reject"),
        "{}",
        commits[0].2
    );
    assert!(c.event_reasons().contains(&"ActionIgnored".to_string()));
}
