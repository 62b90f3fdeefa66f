//! `assay judge` against a real Prometheus (Debian's package, backfilled by
//! promtool with Istio's metrics for `productpage-v1` and `-v2`), on the
//! Experiment `assay generate` renders from samples/bookinfo with a
//! candidate, with the sample's own traffic shape (48 qps, 20 % to the
//! candidate: 9.6 and 38.4 requests/s): each scenario asserts the exact
//! verdict and evidence numbers.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::prometheus::{OpenMetrics, Prometheus, Span, Workload};
use crate::support::{app_copy, assay_bin, bookinfo_with_candidate, generate_ok, sample_dir};

/// 2026-01-01T00:00:00Z: the data covers 15 minutes from here, every 15 s.
const T0: i64 = 1_767_225_600;
/// The judged moment: T0 + 10 min, on the sample grid.
const AT: &str = "2026-01-01T00:10:00Z";
/// Warmup (30 s) plus duration (5 min) before AT: the window is [AT-300s, AT].
const STARTED: &str = "2026-01-01T00:04:30Z";
const NS: &str = "bookinfo";

fn span() -> Span {
    Span::new(T0, T0 + 900)
}

/// The sample's traffic: 48 qps through the gateway, 20 % to the candidate.
fn workload(version: &str) -> Workload {
    let rps = if version == "v2" { 9.6 } else { 38.4 };
    Workload::new(NS, &format!("productpage-{version}"), span()).rps(rps)
}

/// The Experiment rendered from `spec` (bookinfo with a candidate by default).
pub fn experiment(spec: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let text = spec
        .map(str::to_string)
        .unwrap_or_else(bookinfo_with_candidate);
    let dir = app_copy(&sample_dir("bookinfo"), Some(&text));
    let out = generate_ok(dir.path(), &[]);
    let path = dir.path().join("rendered.yaml");
    std::fs::write(&path, out).unwrap();
    (dir, path)
}

fn judge(exp: &Path, prom: &Prometheus, at: &str) -> Value {
    let out = Command::new(assay_bin())
        .args(["judge", "--experiment"])
        .arg(exp)
        .args([
            "--prometheus",
            &prom.url(),
            "--started-at",
            STARTED,
            "--at",
            at,
        ])
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "judge failed: {}\nprometheus log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        prom.log()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn row<'a>(j: &'a Value, version: &str, metric: &str) -> &'a Value {
    j["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == version && e["metric"] == metric)
        .unwrap_or_else(|| panic!("no {version} {metric} row in {j:#}"))
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1.0),
        "{got} != {want}"
    );
}

fn run(data: OpenMetrics, spec: Option<&str>) -> Value {
    let prom = Prometheus::start(&data);
    let (_dir, exp) = experiment(spec);
    judge(&exp, &prom, AT)
}

#[test]
fn a_good_candidate_is_promoted() {
    let j = run(
        OpenMetrics::new()
            .workload(&workload("v1"))
            .workload(&workload("v2")),
        None,
    );
    assert_eq!(j["verdict"], "promote", "{j:#}");
    assert_eq!(j["reason"], "v2 meets every objective");
    assert_eq!(j["window"]["seconds"], 300);
    assert_eq!(j["window"]["final"], true);
    // requests, 5xx, latency sum, latency buckets: one query each for both versions.
    assert_eq!(j["queries"], 4);
    let rate = row(&j, "v2", "error-rate");
    assert_eq!(
        (
            rate["value"].as_f64(),
            rate["samples"].as_u64(),
            rate["hits"].as_u64()
        ),
        (Some(0.0), Some(2880), Some(0))
    );
    // One look at the deadline is the exact binomial test: P(Bin(2880,
    // 1%) <= 19) = 0.0406 <= 5% < P(<= 20) = 0.0617.
    assert_eq!(
        (rate["rejectAt"].as_u64(), rate["promoteAt"].as_u64()),
        (Some(47), Some(19))
    );
    assert_eq!(rate["limit"], "<= 0.01");
    assert_eq!(rate["result"], "pass");
    let lat = row(&j, "v2", "mean-latency");
    close(&lat["value"], 20.0);
    assert_eq!(
        (lat["samples"].as_u64(), lat["result"].as_str()),
        (Some(2880), Some("pass"))
    );
}

#[test]
fn a_good_candidate_is_promoted_after_the_bake_time() {
    let prom = Prometheus::start(
        &OpenMetrics::new()
            .workload(&workload("v1"))
            .workload(&workload("v2")),
    );
    let (_dir, exp) = experiment(None);
    // 100 s into the window, past the 75 s bake time: 960 clean requests
    // are under the limit by the margin (0.00722 x 960 - 5.28 = 1.65).
    let j = judge(&exp, &prom, "2026-01-01T00:06:40Z");
    assert_eq!(j["verdict"], "promote", "{j:#}");
    assert_eq!(
        j["reason"],
        "v2 meets every objective (early, at 100s of 300s)"
    );
    let rate = row(&j, "v2", "error-rate");
    assert_eq!(
        (
            rate["samples"].as_u64(),
            rate["hits"].as_u64(),
            rate["promoteAt"].as_u64()
        ),
        (Some(960), Some(0), Some(1))
    );
    // 60 s in, before the bake time, the same evidence waits.
    let j = judge(&exp, &prom, "2026-01-01T00:06:00Z");
    assert_eq!(j["verdict"], "continue", "{j:#}");
    assert_eq!(j["window"]["seconds"], 60);
    assert_eq!(row(&j, "v2", "error-rate")["samples"], 576);
}

#[test]
fn a_high_error_rate_is_rejected() {
    let v2 = workload("v2").error_fraction(0.05);
    let j = run(
        OpenMetrics::new().workload(&workload("v1")).workload(&v2),
        None,
    );
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(
        j["reason"],
        "v2 fails error-rate: 144 errors in 2880 requests, shown over the limit (rejects at >= 47)"
    );
    let rate = row(&j, "v2", "error-rate");
    close(&rate["value"], 0.05);
    assert_eq!(
        (
            rate["samples"].as_u64(),
            rate["hits"].as_u64(),
            rate["result"].as_str()
        ),
        (Some(2880), Some(144), Some("fail"))
    );
    assert_eq!(row(&j, "v1", "error-rate")["result"], "pass");
}

#[test]
fn a_high_error_rate_is_rejected_at_the_first_look() {
    let v2 = workload("v2").error_fraction(0.05);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&workload("v1")).workload(&v2));
    let (_dir, exp) = experiment(None);
    // 30 s in: 288 requests, 14.4 errors (rounded up: 15) are over the limit.
    let j = judge(&exp, &prom, "2026-01-01T00:05:30Z");
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(
        j["reason"],
        "v2 fails error-rate: 15 errors in 288 requests, shown over the limit (rejects at >= 9)"
    );
}

#[test]
fn a_high_latency_is_rejected() {
    let v2 = workload("v2").latencies(&[(20.0, 1.0), (3000.0, 1.0)]);
    let j = run(
        OpenMetrics::new().workload(&workload("v1")).workload(&v2),
        None,
    );
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(j["reason"], "v2 fails mean-latency: 1510 vs <= 300");
    let lat = row(&j, "v2", "mean-latency");
    close(&lat["value"], 1510.0);
    assert_eq!(
        (lat["samples"].as_u64(), lat["result"].as_str()),
        (Some(2880), Some("fail"))
    );
}

#[test]
fn too_few_requests_are_inconclusive() {
    let v2 = workload("v2").rps(0.5);
    let j = run(
        OpenMetrics::new().workload(&workload("v1")).workload(&v2),
        None,
    );
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(
        j["reason"],
        "inconclusive: too few requests by the deadline: mean-latency: v2 has 150 of 200 requests"
    );
    let rate = row(&j, "v2", "error-rate");
    assert_eq!(
        (rate["samples"].as_u64(), rate["result"].as_str()),
        (Some(150), Some("inconclusive"))
    );
}

#[test]
fn a_missing_series_is_never_a_pass() {
    let j = run(OpenMetrics::new().workload(&workload("v1")), None);
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(
        j["reason"],
        "inconclusive: too few requests by the deadline: mean-latency: v2 has no data (no series)"
    );
    let rate = row(&j, "v2", "error-rate");
    assert!(rate["value"].is_null(), "{rate}");
    assert_eq!(
        (rate["samples"].as_u64(), rate["result"].as_str()),
        (Some(0), Some("inconclusive"))
    );
}

#[test]
fn before_the_deadline_the_verdict_is_continue() {
    let v2 = workload("v2").error_fraction(0.005);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&workload("v1")).workload(&v2));
    let (_dir, exp) = experiment(None);
    // 150 s into the 300 s window: 1,440 requests, 7.2 errors (8 rounded
    // up): neither shown over nor under yet.
    let j = judge(&exp, &prom, "2026-01-01T00:07:30Z");
    assert_eq!(j["verdict"], "continue", "{j:#}");
    assert_eq!(j["window"]["seconds"], 150);
    assert_eq!(j["window"]["final"], false);
    let rate = row(&j, "v2", "error-rate");
    assert_eq!(
        (rate["samples"].as_u64(), rate["hits"].as_u64()),
        (Some(1440), Some(8))
    );
    assert_eq!(rate["result"], "pending");
}

/// bookinfo as an A/B test of the conversion rate (conversions per request).
fn ab_spec() -> String {
    let objectives = "    objectives:\n      - {metric: mean-latency, upperLimit: 300ms}\n      - {metric: error-rate, upperLimit: 0.01}\n";
    let ab = format!(
        "{objectives}    rewards:\n      - {{metric: conversion, prefer: high}}\n    metrics:\n      conversion:\n        type: proportion\n        query: >-\n          sum(increase(shop_conversions_total{{version=\"{{{{version}}}}\"}}[{{{{window}}}}]))\n          / sum(increase(istio_requests_total{{reporter=\"source\",destination_workload=\"{{{{workload}}}}\",destination_workload_namespace=\"{{{{namespace}}}}\"}}[{{{{window}}}}]))\n"
    );
    let text = bookinfo_with_candidate();
    assert!(text.contains(objectives) && text.contains("pattern: canary"));
    text.replace(objectives, &ab)
        .replace("pattern: canary", "pattern: ab")
}

/// An even split (10 requests/s each), as A/B tests run.
fn conversions(v1_per_second: f64, v2_per_second: f64) -> OpenMetrics {
    let even = |v: &str| Workload::new(NS, &format!("productpage-{v}"), span());
    OpenMetrics::new()
        .workload(&even("v1"))
        .workload(&even("v2"))
        .custom_counter(
            "shop_conversions",
            &[("version", "v1")],
            span(),
            v1_per_second,
        )
        .custom_counter(
            "shop_conversions",
            &[("version", "v2")],
            span(),
            v2_per_second,
        )
}

#[test]
fn ab_keeps_a_better_baseline() {
    let j = run(conversions(2.0, 1.0), Some(&ab_spec()));
    assert_eq!(j["verdict"], "reject", "{j:#}");
    let reason = j["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("v1 is better on conversion (0.1 v2 vs 0.2 v1, z = 10."),
        "{reason}"
    );
    // Four built-in queries plus the custom one per version.
    assert_eq!(j["queries"], 6);
    let (b, c) = (row(&j, "v1", "conversion"), row(&j, "v2", "conversion"));
    close(&b["value"], 0.2);
    close(&c["value"], 0.1);
    assert_eq!(
        (b["result"].as_str(), c["result"].as_str()),
        (Some("better"), Some("worse"))
    );
    assert_eq!(
        (b["samples"].as_u64(), c["limit"].as_str()),
        (Some(3000), Some("prefer high"))
    );
}

#[test]
fn ab_tie_keeps_the_baseline_as_inconclusive() {
    let j = run(conversions(1.5, 1.5), Some(&ab_spec()));
    assert_eq!(j["verdict"], "reject", "{j:#}");
    assert_eq!(
        j["reason"],
        "inconclusive: no significant difference in conversion (0.15 v2 vs 0.15 v1, z = 0.00)"
    );
    assert_eq!(row(&j, "v2", "conversion")["result"], "tie");
}

#[test]
fn ab_promotes_a_significantly_better_candidate() {
    let j = run(conversions(1.0, 2.0), Some(&ab_spec()));
    assert_eq!(j["verdict"], "promote", "{j:#}");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .starts_with("v2 is better on conversion")
    );
}

#[test]
fn the_table_is_for_people() {
    let prom = Prometheus::start(
        &OpenMetrics::new()
            .workload(&workload("v1"))
            .workload(&workload("v2")),
    );
    let (_dir, exp) = experiment(None);
    let out = Command::new(assay_bin())
        .args(["judge", "--experiment"])
        .arg(&exp)
        .args([
            "--prometheus",
            &prom.url(),
            "--started-at",
            STARTED,
            "--at",
            AT,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.contains(
            "VERSION  METRIC        VALUE  LIMIT    SAMPLES  HITS  DECISION                     RESULT"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "v2       error-rate    0      <= 0.01  2880     0     reject >= 47, promote <= 19  pass"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("verdict: promote (v2 meets every objective)\n"),
        "{text}"
    );
}

#[test]
fn prometheus_down_is_one_clear_error() {
    let (_dir, exp) = experiment(None);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(assay_bin())
        .args(["judge", "--experiment"])
        .arg(&exp)
        .args([
            "--prometheus",
            &format!("http://user:s3cret@127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "assay: prometheus http://user:***@127.0.0.1:{port}: cannot connect"
        )),
        "{err}"
    );
    assert!(!err.contains("s3cret"));
    assert!(out.stdout.is_empty());
}
