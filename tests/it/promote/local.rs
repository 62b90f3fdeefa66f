//! `assay promote --experiment FILE`: no cluster, everything else real (git
//! daemon, Prometheus), on the Experiment `assay generate` renders after CI
//! proposed a candidate with `assay candidate set`.

use std::process::Stdio;
use std::time::Duration;

use super::{Env, ago, finish, id_of, prometheus, promote, stderr, wait, wait_for_text};

const NO_CREDENTIALS: &str = "/nonexistent/assay-credentials";

fn local(env: &Env, exp: &std::path::Path, prom: &str, started: &str) -> std::process::Command {
    let exp = exp.to_str().unwrap();
    let _ = env;
    promote(
        &[
            "--experiment",
            exp,
            "--prometheus",
            prom,
            "--started-at",
            started,
            "--credentials",
            NO_CREDENTIALS,
        ],
        &[],
    )
}

#[test]
fn a_good_candidate_becomes_the_baseline_in_git() {
    let env = Env::new("env-promote");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(Some);
    // The load started 150 s ago: 120 s of the 300 s window are in, past
    // the 75 s bake time, and 1,200 clean requests show the candidate
    // under the limit, so the hook promotes at its first look.
    let out = finish(
        local(&env, &exp, &prom.url(), &ago(150)),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("look 1 (12")
            && err.contains("promote: v2 meets every objective (early, at 12"),
        "{err}"
    );
    let commits = env.verdict_commits(&id);
    assert_eq!(commits.len(), 1, "{commits:?}");
    let (sha, subject, body) = &commits[0];
    assert!(
        err.contains(&format!("verdict promote committed as {sha}")),
        "{err}"
    );
    assert!(subject.contains("promote"), "{subject}");
    assert!(body.contains("Assay-Verdict: promote"), "{body}");
    assert!(
        body.contains("| v2 | error-rate | 0 | <= 0.01 | 12")
            && body.contains(" | 0 | reject >= 2"),
        "{body}"
    );
    assert!(
        body.contains("| v2 | mean-latency | 20 | <= 300 | 12"),
        "{body}"
    );
    let spec = assay::spec::parse("assay.yaml", env.spec().as_bytes()).unwrap();
    assert_eq!(spec.baseline.version, "v2");
    assert_eq!(spec.baseline.image, "iter8/productpage:v2");
    assert!(spec.candidate.is_none());

    // A re-run (a retried hook pod) finds the verdict and writes nothing.
    let again = finish(
        local(&env, &exp, &prom.url(), &ago(150)),
        Duration::from_secs(60),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    // Its first poll of the env repo finds the verdict already there.
    assert!(
        stderr(&again).contains(&format!("the verdict is already in the env repo: {sha}")),
        "{}",
        stderr(&again)
    );
    assert_eq!(env.verdict_commits(&id).len(), 1);
}

#[test]
fn a_failing_candidate_is_recorded_as_rejected() {
    let env = Env::new("env-reject");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(|w| Some(w.error_fraction(0.2)));
    let out = finish(
        local(&env, &exp, &prom.url(), &ago(150)),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = env.verdict_commits(&id);
    assert_eq!(commits.len(), 1, "{err}");
    assert!(commits[0].2.contains("Assay-Verdict: reject"));
    assert!(
        commits[0]
            .2
            .contains("| v2 | error-rate | 0.2 | <= 0.01 | 12"),
        "{}",
        commits[0].2
    );
    let spec = assay::spec::parse("assay.yaml", env.spec().as_bytes()).unwrap();
    assert_eq!(spec.baseline.version, "v1");
    assert!(spec.candidate.is_none());
    assert_eq!(spec.rejected.len(), 1);
    let r = &spec.rejected[0];
    assert_eq!(
        (r.version.as_str(), r.experiment.as_deref()),
        ("v2", Some(id.as_str()))
    );
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .starts_with("v2 fails error-rate: 24"),
        "{r:?}"
    );
}

#[test]
fn a_new_candidate_mid_run_supersedes_without_a_commit() {
    let env = Env::new("env-superseded");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(Some);
    let log = env.tmp.path().join("promote.log");
    // Window opened 30 s ago; the deadline is 90 s away.
    let mut cmd = local(&env, &exp, &prom.url(), &ago(60));
    cmd.stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = cmd.spawn().unwrap();
    wait_for_text(&log, Duration::from_secs(30), "the first look", |t| {
        t.contains("look 1 ")
    });
    env.propose("v3", "iter8/productpage:v3");
    let new_id = id_of(&env.spec());
    let ci_head = env.repo.head("main");
    let out = wait(child, Duration::from_secs(60));
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "superseded: the env repo now holds experiment {new_id}"
        )),
        "{err}"
    );
    assert!(env.verdict_commits(&id).is_empty());
    assert_eq!(env.repo.head("main"), ci_head);
}

/// Issue 10: verdicts do not wait for the deadline. The window opened 30 s
/// ago (two scrapes on the 15 s grid: Prometheus needs two samples for an
/// `increase`) and its deadline is 4.5 minutes away; a candidate at five
/// times the limit (15 errors in its first 300 requests) is rejected at the
/// first look, and the hook is done long before the deadline.
#[test]
fn a_bad_candidate_is_rejected_at_the_first_look_long_before_the_deadline() {
    let env = Env::new("env-first-look");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(|w| Some(w.error_fraction(0.05)));
    let started = std::time::Instant::now();
    let out = finish(
        local(&env, &exp, &prom.url(), &ago(60)),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("look 1 ("), "{err}");
    assert!(!err.contains("look 2 ("), "{err}");
    assert!(err.contains("reject: v2 fails error-rate: "), "{err}");
    assert!(err.contains("shown over the limit"), "{err}");
    // The deadline was 270 s away when the hook started.
    assert!(started.elapsed() < Duration::from_secs(60));
    let commits = env.verdict_commits(&id);
    assert_eq!(commits.len(), 1, "{err}");
    assert!(commits[0].2.contains("Assay-Verdict: reject"));
}

/// A clean candidate is promoted at the first look after the bake time
/// (75 s), with the deadline still about 4 minutes away.
#[test]
fn a_clean_candidate_is_promoted_once_the_bake_time_has_passed() {
    let env = Env::new("env-bake");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(Some);
    let started = std::time::Instant::now();
    // The window opened 80 s ago: past the bake time, with 800 clean
    // requests (0.00722 x 800 - 5.28 = 0.5: no error allowed, none seen).
    let out = finish(
        local(&env, &exp, &prom.url(), &ago(110)),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("look 1 (8") && err.contains("promote: v2 meets every objective (early, at 8"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(env.verdict_commits(&id).len(), 1, "{err}");
}
