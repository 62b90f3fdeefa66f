//! The Prometheus harness itself (`support::prometheus`): the judge's Istio
//! queries, run by a real Prometheus over backfilled data, come out exactly
//! as the builder says, on and off the sample grid.

use std::collections::BTreeMap;

use crate::support::prometheus::{
    Expected, ISTIO_BUCKETS, OpenMetrics, Prometheus, Span, Workload, now,
};

const WINDOW: f64 = 300.0;
const SELECTOR: &str = r#"reporter="source",destination_workload=~"productpage-v1|productpage-v2",destination_workload_namespace="bookinfo""#;

fn requests_query(extra: &str) -> String {
    format!(
        "sum by (destination_workload) (increase(istio_requests_total{{{SELECTOR}{extra}}}[300s]))"
    )
}

fn duration_sum_query() -> String {
    format!(
        "sum by (destination_workload) (increase(istio_request_duration_milliseconds_sum{{{SELECTOR}}}[300s]))"
    )
}

fn buckets_query() -> String {
    format!(
        "sum by (destination_workload, le) (increase(istio_request_duration_milliseconds_bucket{{{SELECTOR}}}[300s]))"
    )
}

/// A good candidate and a bad one (errors and slow), over the last hour and
/// the next ten minutes.
fn two_workloads(span: Span) -> (Workload, Workload) {
    let v1 = Workload::new("bookinfo", "productpage-v1", span)
        .rps(10.0)
        .latencies(&[(20.0, 9.0), (80.0, 1.0)]);
    let v2 = Workload::new("bookinfo", "productpage-v2", span)
        .rps(4.0)
        .error_fraction(0.25)
        .latencies(&[(30.0, 1.0), (3000.0, 1.0)]);
    (v1, v2)
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(f64::MIN_POSITIVE);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}

/// `label value -> sample value` of a query whose result is keyed by `label`.
fn by(prom: &Prometheus, query: &str, at: f64, label: &str) -> BTreeMap<String, f64> {
    let samples = prom.query(query, at);
    let map: BTreeMap<_, _> = samples
        .iter()
        .map(|s| (s.labels[label].clone(), s.value))
        .collect();
    assert_eq!(map.len(), samples.len(), "{query}: {samples:?}");
    map
}

fn assert_istio_queries(prom: &Prometheus, workloads: &[&Workload], names: &[&str], at: f64) {
    let requests = by(prom, &requests_query(""), at, "destination_workload");
    let errors = by(
        prom,
        &requests_query(r#",response_code=~"5..""#),
        at,
        "destination_workload",
    );
    let sums = by(prom, &duration_sum_query(), at, "destination_workload");
    let buckets = prom.query(&buckets_query(), at);
    assert_eq!(requests.len(), workloads.len(), "{requests:?}");
    assert_eq!(sums.len(), workloads.len(), "{sums:?}");
    assert_eq!(
        buckets.len(),
        workloads.len() * (ISTIO_BUCKETS.len() + 1),
        "{buckets:?}"
    );
    for (w, name) in workloads.iter().zip(names) {
        let expected = w.expected(at, WINDOW);
        assert_close(
            requests[*name],
            expected.requests,
            &format!("{name} requests"),
        );
        assert_close(sums[*name], expected.duration_sum, &format!("{name} sum"));
        match errors.get(*name) {
            Some(&e) => assert_close(e, expected.errors, &format!("{name} errors")),
            // No 5xx series at all, as with Istio: the judge must read 0.
            None => assert_eq!(expected.errors, 0.0, "{name}: no 5xx series"),
        }
        for (le, count) in &expected.buckets {
            let got = buckets
                .iter()
                .find(|s| s.labels["destination_workload"] == *name && s.labels["le"] == *le)
                .unwrap_or_else(|| panic!("{name}: no bucket le={le} in {buckets:?}"));
            assert_close(got.value, *count, &format!("{name} bucket le={le}"));
        }
    }
}

#[test]
fn istio_queries_are_exact_on_the_grid() {
    let span = Span::around_now(3600, 600);
    let (v1, v2) = two_workloads(span);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&v1).workload(&v2));
    let at = (span.end - 600) as f64;
    assert_istio_queries(
        &prom,
        &[&v1, &v2],
        &["productpage-v1", "productpage-v2"],
        at,
    );

    // The numbers themselves, so a builder bug cannot hide behind itself:
    // 300 s × 10 rps, 4 rps × 25 % errors, latency means 26 ms and 1515 ms.
    let v1e = v1.expected(at, WINDOW);
    let v2e = v2.expected(at, WINDOW);
    assert_close(v1e.requests, 3000.0, "v1 requests");
    assert_close(v1e.duration_sum, 3000.0 * 26.0, "v1 sum");
    assert_close(v2e.requests, 1200.0, "v2 requests");
    assert_close(v2e.errors, 300.0, "v2 errors");
    assert_close(v2e.duration_sum, 1200.0 * 1515.0, "v2 sum");
    let bucket = |e: &Expected, le: &str| e.buckets.iter().find(|(l, _)| l == le).unwrap().1;
    assert_eq!(bucket(&v1e, "10"), 0.0);
    assert_close(bucket(&v1e, "25"), 2700.0, "v1 le=25");
    assert_close(bucket(&v1e, "100"), 3000.0, "v1 le=100");
    assert_close(bucket(&v2e, "2500"), 600.0, "v2 le=2500");
    assert_close(bucket(&v2e, "5000"), 1200.0, "v2 le=5000");
    assert_close(bucket(&v2e, "+Inf"), 1200.0, "v2 le=+Inf");
}

#[test]
fn istio_queries_are_exact_at_wall_clock_now() {
    // Off the grid: the first and last sample sit inside the window and
    // Prometheus extrapolates, which on straight lines is exact too.
    let span = Span::around_now(3600, 600);
    let (v1, v2) = two_workloads(span);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&v1).workload(&v2));
    let mut at = now();
    if (at * 1000.0) as i64 % (span.step * 1000) == 0 {
        at += 0.007; // make sure this test is about the off-grid case
    }
    assert_istio_queries(
        &prom,
        &[&v1, &v2],
        &["productpage-v1", "productpage-v2"],
        at,
    );
}

#[test]
fn a_workload_without_series_gives_empty_results() {
    let span = Span::around_now(3600, 600);
    let (v1, _) = two_workloads(span);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&v1));
    let at = (span.end - 600) as f64;
    for query in [
        requests_query(""),
        requests_query(r#",response_code=~"5..""#),
        duration_sum_query(),
        buckets_query(),
    ] {
        let only_v2 = query.replace("productpage-v1|productpage-v2", "productpage-v2");
        assert_eq!(prom.query(&only_v2, at), Vec::new(), "{only_v2}");
    }
    // v1 is there, but has no 5xx series either.
    let samples = prom.query(&requests_query(r#",response_code=~"5..""#), at);
    assert_eq!(samples, Vec::new());
    assert_eq!(prom.query(&requests_query(""), at).len(), 1);
}

#[test]
fn a_young_workload_counts_only_its_own_seconds() {
    // Started 120 s before the query with little traffic: the window reaches
    // before the first sample, and Prometheus stops at the counter's zero.
    let at = (Span::around_now(0, 600).end - 600) as f64;
    let span = Span::new(at as i64 - 120, at as i64 + 600);
    let young = Workload::new("bookinfo", "productpage-v2", span)
        .rps(0.05)
        .reporters(&["source"]);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&young));
    let expected = young.expected(at, WINDOW);
    assert_close(expected.requests, 6.0, "builder");
    let requests = by(&prom, &requests_query(""), at, "destination_workload");
    assert_close(requests["productpage-v2"], 6.0, "prometheus");
}

#[test]
fn the_module_doc_worked_example_holds() {
    // Fixed timestamps in 2001: retention counts back from the newest block,
    // so history far from now is served too.
    let span = Span::new(1_000_000_200, 1_000_003_800);
    let w = Workload::new("bookinfo", "productpage-v1", span)
        .error_fraction(0.1)
        .latencies(&[(20.0, 3.0), (200.0, 1.0)]);
    let at = 1_000_003_600.0;
    let e = w.expected(at, WINDOW);
    assert_eq!(
        (e.requests, e.errors, e.duration_sum),
        (3000.0, 300.0, 195000.0)
    );
    let buckets: Vec<f64> = e.buckets.iter().map(|(_, n)| *n).collect();
    let mut want = vec![0.0; 4];
    want.extend([2250.0; 3]);
    want.extend([3000.0; 13]);
    assert_eq!(buckets, want);
    let prom = Prometheus::start(&OpenMetrics::new().workload(&w));
    let v1_only = |q: String| q.replace("productpage-v1|productpage-v2", "productpage-v1");
    let got = |q: String| prom.query(&v1_only(q), at)[0].value;
    assert_close(got(requests_query("")), 3000.0, "requests");
    assert_close(
        got(requests_query(r#",response_code="503""#)),
        300.0,
        "errors",
    );
    assert_close(got(duration_sum_query()), 195000.0, "sum");
}

#[test]
fn custom_counter_and_gauge_are_served() {
    let span = Span::around_now(3600, 600);
    let labels = [("app", "shop"), ("version", "v2")];
    let data = OpenMetrics::new()
        .custom_counter("shop_conversions", &labels, span, 0.5)
        .custom_gauge("shop_cart_items", &labels, span, |t| ((t / 15) % 7) as f64);
    let prom = Prometheus::start(&data);
    let at = (span.end - 600) as f64;

    let increase = prom.query(
        r#"increase(shop_conversions_total{app="shop",version="v2"}[300s])"#,
        at,
    );
    assert_eq!(increase.len(), 1, "{increase:?}");
    let expected = 0.5 * span.increase_seconds(at, WINDOW);
    assert_close(increase[0].value, expected, "conversions");
    assert_close(expected, 150.0, "builder");

    // An instant gauge query answers the newest sample at or before `at`.
    let t = at as i64;
    for query_at in [at, at + 7.0] {
        let gauge = prom.query(r#"shop_cart_items{app="shop"}"#, query_at);
        assert_eq!(gauge.len(), 1, "{gauge:?}");
        assert_eq!(gauge[0].value, ((t / 15) % 7) as f64, "at {query_at}");
        assert_eq!(gauge[0].labels["version"], "v2");
    }
    assert!(
        prom.url().starts_with("http://127.0.0.1:"),
        "{}",
        prom.url()
    );
}

#[test]
#[should_panic(expected = "promtool tsdb create-blocks-from openmetrics failed")]
fn promtool_rejecting_the_text_fails_with_its_output() {
    let span = Span::around_now(60, 60);
    let data = OpenMetrics::new().custom_gauge("bad", &[("not-a-label", "x")], span, |_| 1.0);
    Prometheus::start(&data);
}
