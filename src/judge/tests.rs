//! The criteria on hand-made measurements: each rule of the module doc of
//! `criteria`, with the numbers worked out.

use super::criteria::{Verdict, assess};
use super::data::{Latency, Measurements, VersionData};
use super::simulate::{self, Scenario};
use crate::experiment::{CustomMetric, ExperimentSpec, Objective, Reward};
use crate::spec::{MetricType, Pattern, Prefer};

fn spec() -> ExperimentSpec {
    simulate::spec(&Scenario {
        true_rate: 0.0,
        limit: 0.01,
        confidence: 0.95,
        requests_per_look: 0,
        looks: 12,
        min_requests: 200,
    })
}

fn data(requests: f64, errors: f64) -> VersionData {
    VersionData {
        requests: Some(requests),
        errors: Some(errors),
        ..VersionData::default()
    }
}

fn both(b: VersionData, c: VersionData) -> Measurements {
    Measurements {
        baseline: b,
        candidate: c,
        queries: 0,
    }
}

fn latency(requests: f64, sum: f64, buckets: &[(&str, f64)]) -> VersionData {
    VersionData {
        requests: Some(requests),
        errors: Some(0.0),
        latency: Some(Latency {
            sum: Some(sum),
            buckets: buckets.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }),
        ..VersionData::default()
    }
}

#[test]
fn a_clean_candidate_is_promoted_only_at_the_deadline() {
    let m = both(data(5000.0, 10.0), data(5000.0, 5.0));
    let early = assess(&spec(), &m, false);
    assert_eq!(early.verdict, Verdict::Continue, "{}", early.reason);
    let last = assess(&spec(), &m, true);
    assert_eq!(last.verdict, Verdict::Promote, "{}", last.reason);
    let row = last.evidence.iter().find(|e| e.version == "v2").unwrap();
    assert_eq!(
        (row.value, row.samples, row.result.as_str()),
        (Some(0.001), 5000, "pass")
    );
    assert!(row.bound.unwrap() < 0.01 && row.bound.unwrap() > 0.001);
}

#[test]
fn a_clearly_bad_candidate_is_rejected_early() {
    let m = both(data(1000.0, 2.0), data(1000.0, 80.0));
    let a = assess(&spec(), &m, false);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reason.contains("v2 fails error-rate: 0.08"),
        "{}",
        a.reason
    );
}

#[test]
fn too_few_requests_decide_nothing_then_reject_as_inconclusive() {
    // 100% errors, but only 50 requests: no verdict before minRequests.
    let m = both(data(1000.0, 0.0), data(50.0, 50.0));
    assert_eq!(assess(&spec(), &m, false).verdict, Verdict::Continue);
    let a = assess(&spec(), &m, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert_eq!(
        a.reason,
        "inconclusive: too few requests by the deadline: v2 has 50 of 200 requests"
    );
}

#[test]
fn an_unproven_rate_is_inconclusive_at_the_deadline() {
    // 0.5% observed over 400 requests: the 95% Wilson bound is above 1%.
    let m = both(data(400.0, 0.0), data(400.0, 2.0));
    let a = assess(&spec(), &m, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reason
            .starts_with("inconclusive: v2 error-rate: 0.005 (bound 0.0"),
        "{}",
        a.reason
    );
    let row = a.evidence.iter().find(|e| e.version == "v2").unwrap();
    assert_eq!(row.result, "inconclusive");
}

#[test]
fn missing_data_is_never_a_pass() {
    let m = both(data(1000.0, 0.0), VersionData::default());
    let a = assess(&spec(), &m, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reason.contains("too few requests"), "{}", a.reason);
    let mut s = spec();
    s.objectives[0].metric = "p95-latency".into();
    s.objectives[0].upper_limit = Some(500.0);
    let no_histogram = both(data(1000.0, 0.0), data(1000.0, 0.0));
    let a = assess(&s, &no_histogram, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert_eq!(a.reason, "inconclusive: v2 p95-latency: no data");
}

#[test]
fn latency_is_judged_on_the_estimate() {
    let mut s = spec();
    s.objectives = vec![Objective {
        metric: "mean-latency".into(),
        upper_limit: Some(300.0),
        lower_limit: None,
        relative: false,
    }];
    let fast = latency(
        1000.0,
        100_000.0,
        &[("100", 600.0), ("250", 1000.0), ("+Inf", 1000.0)],
    );
    let slow = latency(
        1000.0,
        400_000.0,
        &[("250", 200.0), ("500", 1000.0), ("+Inf", 1000.0)],
    );
    let a = assess(&s, &both(fast.clone(), fast.clone()), true);
    assert_eq!(a.verdict, Verdict::Promote, "{}", a.reason);
    let a = assess(&s, &both(fast, slow), true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert_eq!(a.reason, "v2 fails mean-latency: 400 vs <= 300");
}

#[test]
fn relative_limits_scale_the_baseline() {
    let mut s = spec();
    s.objectives = vec![Objective {
        metric: "mean-latency".into(),
        upper_limit: Some(1.2),
        lower_limit: None,
        relative: true,
    }];
    let base = latency(1000.0, 100_000.0, &[("250", 1000.0), ("+Inf", 1000.0)]);
    let ok = latency(1000.0, 110_000.0, &[("250", 1000.0), ("+Inf", 1000.0)]);
    let bad = latency(1000.0, 130_000.0, &[("250", 1000.0), ("+Inf", 1000.0)]);
    assert_eq!(
        assess(&s, &both(base.clone(), ok), true).verdict,
        Verdict::Promote
    );
    let a = assess(&s, &both(base, bad), true);
    assert_eq!(
        a.reason,
        "v2 fails mean-latency: 130 vs <= 1.2x baseline (120)"
    );
}

fn ab(prefer: Prefer) -> ExperimentSpec {
    let mut s = spec();
    s.pattern = Pattern::Ab;
    s.metrics = vec![CustomMetric {
        name: "conversion".into(),
        query: "unused: the tests give values".into(),
        kind: MetricType::Proportion,
    }];
    s.rewards = vec![Reward {
        metric: "conversion".into(),
        prefer,
    }];
    s
}

fn converting(requests: f64, rate: f64) -> VersionData {
    let mut d = data(requests, 0.0);
    d.metrics.insert("conversion".into(), rate);
    d
}

#[test]
fn ab_needs_a_significant_difference() {
    let s = ab(Prefer::High);
    let better = both(converting(5000.0, 0.10), converting(5000.0, 0.13));
    let a = assess(&s, &better, true);
    assert_eq!(a.verdict, Verdict::Promote, "{}", a.reason);
    assert!(
        a.reason
            .starts_with("v2 is better on conversion (0.13 v2 vs 0.1 v1, z = ")
    );
    let worse = both(converting(5000.0, 0.13), converting(5000.0, 0.10));
    let a = assess(&s, &worse, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reason.starts_with("v1 is better on conversion"),
        "{}",
        a.reason
    );
    let tie = both(converting(5000.0, 0.100), converting(5000.0, 0.101));
    let a = assess(&s, &tie, true);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reason
            .starts_with("inconclusive: no significant difference in conversion"),
        "{}",
        a.reason
    );
    let rows: Vec<&str> = a
        .evidence
        .iter()
        .filter(|e| e.metric == "conversion")
        .map(|e| e.result.as_str())
        .collect();
    assert_eq!(rows, ["tie", "tie"]);
    // Prefer low flips the winner.
    assert_eq!(
        assess(&ab(Prefer::Low), &better, true).verdict,
        Verdict::Reject
    );
}

#[test]
fn ab_promotes_a_feasible_candidate_over_an_infeasible_baseline() {
    let s = ab(Prefer::High);
    let mut b = converting(5000.0, 0.2);
    b.errors = Some(500.0);
    let a = assess(&s, &both(b, converting(5000.0, 0.1)), true);
    assert_eq!(a.verdict, Verdict::Promote);
    assert_eq!(a.reason, "v2 meets every objective and v1 does not");
}

#[test]
fn ab_never_promotes_a_worse_reward_because_of_a_relative_objective() {
    // The baseline is the reference of a relative limit, not judged by it:
    // it stays feasible and wins on the reward.
    let mut s = ab(Prefer::High);
    s.objectives = vec![Objective {
        metric: "error-rate".into(),
        upper_limit: Some(1.1),
        lower_limit: None,
        relative: true,
    }];
    let mut b = converting(5000.0, 0.20);
    b.errors = Some(50.0);
    let mut c = converting(5000.0, 0.10);
    c.errors = Some(25.0);
    let a = assess(&s, &both(b, c), true);
    assert_eq!(a.verdict, Verdict::Reject, "{}", a.reason);
    assert!(
        a.reason.starts_with("v1 is better on conversion"),
        "{}",
        a.reason
    );
    let base_row = a
        .evidence
        .iter()
        .find(|e| e.version == "v1" && e.metric == "error-rate")
        .unwrap();
    assert_eq!(base_row.result, "reference");
}

#[test]
fn a_relative_rate_against_a_baseline_without_errors_can_pass() {
    let mut s = spec();
    s.objectives = vec![Objective {
        metric: "error-rate".into(),
        upper_limit: Some(1.1),
        lower_limit: None,
        relative: true,
    }];
    let a = assess(&s, &both(data(50_000.0, 0.0), data(50_000.0, 0.0)), true);
    assert_eq!(a.verdict, Verdict::Promote, "{}", a.reason);
    // A clearly worse candidate still fails against the baseline's bound.
    let a = assess(&s, &both(data(50_000.0, 0.0), data(50_000.0, 40.0)), true);
    assert_eq!(a.verdict, Verdict::Reject, "{}", a.reason);
    // 1.1 x the baseline's 95% upper bound for 0 of 50,000 (7.2732e-5).
    assert!(
        a.reason.ends_with("vs <= 1.1x baseline (0.00008001)"),
        "{}",
        a.reason
    );
}

#[test]
fn an_undeclared_custom_reward_has_no_significance_test() {
    let mut s = ab(Prefer::High);
    s.metrics[0].kind = MetricType::Value;
    let a = assess(
        &s,
        &both(converting(5000.0, 0.10), converting(5000.0, 0.13)),
        true,
    );
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reason.contains("conversion has no significance test"),
        "{}",
        a.reason
    );
}

#[test]
fn slo_judges_the_candidate_alone() {
    let mut s = spec();
    s.pattern = Pattern::Slo;
    let a = assess(&s, &both(VersionData::default(), data(5000.0, 5.0)), true);
    assert_eq!(a.verdict, Verdict::Promote, "{}", a.reason);
    assert!(a.evidence.iter().all(|e| e.version == "v2"));
}

#[test]
fn wrong_promotions_stay_within_one_minus_confidence() {
    // The simulation: 1,000 seeded experiments per scenario.
    // Same seeds as README's table (`cargo run --example simulate`).
    for (i, (name, s)) in simulate::scenarios().into_iter().enumerate() {
        let t = simulate::run(&s, 1000, 42 + i as u64);
        assert_eq!(
            t.promoted + t.rejected,
            1000,
            "{name}: every run ends with a verdict"
        );
        if s.true_rate >= s.limit {
            assert!(t.promote_rate() <= 1.0 - s.confidence, "{name}: {t:?}");
        } else {
            // Repeated looks do not inflate wrong early rejections either.
            let early = f64::from(t.rejected_early) / f64::from(t.runs);
            assert!(early <= 1.0 - s.confidence, "{name}: {t:?}");
        }
    }
}

#[test]
fn a_good_candidate_with_enough_traffic_is_usually_promoted() {
    let s = Scenario {
        true_rate: 0.005,
        limit: 0.01,
        confidence: 0.95,
        requests_per_look: 1000,
        looks: 12,
        min_requests: 200,
    };
    let t = simulate::run(&s, 1000, 7);
    assert!(t.promote_rate() > 0.95, "{t:?}");
}
