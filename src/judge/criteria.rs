//! The verdict rules. Iter8's are the base (ITER8.md §3.1: a version is
//! feasible when every objective holds; canary promotes a feasible
//! candidate; A/B picks the feasible version with the better reward; missing
//! data is infeasible). On top of them:
//!
//! - nothing is decided before every judged version has `minRequests`;
//! - rate objectives are decided on a one-sided Wilson bound: *pass* when
//!   the bound at `confidence` is inside the limit, *fail* when the opposite
//!   bound is outside it;
//! - latency and custom objectives are decided on the estimate, with the
//!   sample count shown;
//! - promotion happens only at the end of the window (the deadline), in one
//!   look at `confidence`, so P(promoting a candidate whose true rate breaks
//!   the limit) ≤ 1 − confidence however often the hook looked before;
//! - early *rejection* is allowed at any look, on bounds widened for the
//!   number of looks (Bonferroni over `duration / interval`), so repeated
//!   looks do not inflate wrong rejections either;
//! - A/B rewards must differ significantly (two-proportion or Welch z-test,
//!   one-sided at `confidence`); a tie keeps the baseline;
//! - at the deadline, a candidate not proven is rejected as inconclusive.

use crate::experiment::{Evidence, ExperimentSpec, Objective, Reward};
use crate::spec::{MetricKind, Pattern, Prefer};

use super::data::{Measurements, VersionData};
use super::metrics::{self, Estimate, Shape};
use super::stats;

/// What the judge concluded at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The candidate met every objective (and won, in A/B).
    Promote,
    /// The candidate failed, lost, or was not proven by the deadline.
    Reject,
    /// Not decided yet: keep collecting.
    Continue,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Reject => "reject",
            Verdict::Continue => "continue",
        }
    }
}

/// A verdict with its reason and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub verdict: Verdict,
    /// One line a person reads in the status, the commit and the Event.
    pub reason: String,
    /// Per version and metric: value, limit, samples, bound, result.
    pub evidence: Vec<Evidence>,
}

/// One row's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Pending,
    Inconclusive,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Pending => "pending",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// The looks one experiment plans: one per interval of the window.
pub fn planned_looks(spec: &ExperimentSpec) -> u32 {
    let n = spec.window.duration_seconds / spec.window.interval_seconds.max(1);
    n.clamp(1, u64::from(u32::MAX)) as u32
}

/// Judges one look. `final_look`: the window has reached its deadline, so
/// this is the last chance and an unproven candidate is rejected.
pub fn assess(spec: &ExperimentSpec, m: &Measurements, final_look: bool) -> Assessment {
    assess_with(spec, m, final_look, planned_looks(spec))
}

/// [`assess`] with early rejection spread over `looks` looks in all (a
/// restarted hook has made some already, and must not get a fresh budget).
pub fn assess_with(
    spec: &ExperimentSpec,
    m: &Measurements,
    final_look: bool,
    looks: u32,
) -> Assessment {
    let z_pass = stats::z(spec.confidence);
    let looks = looks.max(1);
    let z_fail = if final_look {
        z_pass
    } else {
        stats::z(1.0 - (1.0 - spec.confidence) / looks as f64)
    };
    let judged: Vec<(&str, &VersionData)> = match spec.pattern {
        Pattern::Slo => vec![(&spec.candidate.version, &m.candidate)],
        _ => vec![
            (&spec.baseline.version, &m.baseline),
            (&spec.candidate.version, &m.candidate),
        ],
    };
    let mut evidence = Vec::new();
    let mut candidate_rows: Vec<(String, Outcome, String)> = Vec::new();
    let mut baseline_feasible = true;
    for o in &spec.objectives {
        let kind = metrics::Kind::of(&o.metric, spec);
        let base = metrics::estimate(&o.metric, kind, &m.baseline, z_pass);
        for &(version, data) in &judged {
            let is_candidate = version == spec.candidate.version;
            if o.relative && !is_candidate {
                // The baseline is the reference of a relative limit.
                evidence.push(reference_row(o, version, &base));
                continue;
            }
            let enough = data.requests.unwrap_or(0.0) >= spec.min_requests as f64;
            let judge = Judge {
                kind,
                enough,
                final_look,
                z_pass,
                z_fail,
            };
            let (row, outcome, why) = objective_row(o, version, data, &base, &judge);
            evidence.push(row);
            if is_candidate {
                candidate_rows.push((o.metric.clone(), outcome, why));
            } else if outcome == Outcome::Fail {
                // Only a proven failure makes the baseline infeasible: one
                // merely unproven still has to be beaten on the reward.
                baseline_feasible = false;
            }
        }
    }
    let short: Vec<String> = judged
        .iter()
        .filter(|(_, d)| d.requests.unwrap_or(0.0) < spec.min_requests as f64)
        .map(|(v, d)| match d.requests {
            Some(n) => format!(
                "{v} has {} of {} requests",
                n.round() as u64,
                spec.min_requests
            ),
            None => format!("{v} has no data (no series)"),
        })
        .collect();

    let mut reward_rows = Vec::new();
    let reward_winner = match spec.pattern {
        Pattern::Ab => spec.rewards.first().map(|r| {
            let (rows, w) = compare_reward(spec, r, m, z_pass, final_look);
            reward_rows = rows;
            w
        }),
        _ => None,
    };
    evidence.extend(reward_rows);

    let failed: Vec<&(String, Outcome, String)> = candidate_rows
        .iter()
        .filter(|r| r.1 == Outcome::Fail)
        .collect();
    let cand = &spec.candidate.version;
    let (verdict, reason) = if !short.is_empty() {
        if final_look {
            (
                Verdict::Reject,
                format!(
                    "inconclusive: too few requests by the deadline: {}",
                    short.join(", ")
                ),
            )
        } else {
            (
                Verdict::Continue,
                format!("collecting: {}", short.join(", ")),
            )
        }
    } else if !failed.is_empty() {
        let what: Vec<String> = failed.iter().map(|r| r.2.clone()).collect();
        (Verdict::Reject, format!("{cand} fails {}", what.join("; ")))
    } else if !final_look {
        let open = candidate_rows
            .iter()
            .filter(|r| r.1 != Outcome::Pass)
            .count();
        (
            Verdict::Continue,
            format!(
                "window open: {} of {} objectives pass so far",
                candidate_rows.len() - open,
                candidate_rows.len()
            ),
        )
    } else if let Some(r) = candidate_rows.iter().find(|r| r.1 != Outcome::Pass) {
        (Verdict::Reject, format!("inconclusive: {cand} {}", r.2))
    } else {
        match (spec.pattern, reward_winner) {
            (Pattern::Ab, _) if !baseline_feasible => (
                Verdict::Promote,
                format!(
                    "{cand} meets every objective and {} does not",
                    spec.baseline.version
                ),
            ),
            (Pattern::Ab, Some(RewardWinner::Candidate(why))) => (Verdict::Promote, why),
            (Pattern::Ab, Some(RewardWinner::Baseline(why))) => (Verdict::Reject, why),
            (Pattern::Ab, Some(RewardWinner::Tie(why)))
            | (Pattern::Ab, Some(RewardWinner::Unknown(why))) => {
                (Verdict::Reject, format!("inconclusive: {why}"))
            }
            _ => (Verdict::Promote, format!("{cand} meets every objective")),
        }
    };
    Assessment {
        verdict,
        reason,
        evidence,
    }
}

/// How one objective row is decided.
struct Judge {
    kind: metrics::Kind,
    /// The version has `minRequests`.
    enough: bool,
    final_look: bool,
    z_pass: f64,
    z_fail: f64,
}

/// The baseline's row of a relative objective: the reference, not judged.
fn reference_row(o: &Objective, version: &str, base: &Estimate) -> Evidence {
    Evidence {
        version: version.to_string(),
        metric: o.metric.clone(),
        value: base.value,
        limit: Some("reference".into()),
        samples: base.samples,
        bound: None,
        result: "reference".into(),
    }
}

/// What a relative limit multiplies: for a proportion, the baseline's bound
/// on the same side (so a baseline with no errors yet is not a limit of
/// zero, and its own uncertainty counts in the candidate's favour), else the
/// baseline's estimate. `(for lower limits, for upper limits)`.
fn scales(o: &Objective, base: &Estimate, kind: metrics::Kind) -> (Option<f64>, Option<f64>) {
    if !o.relative {
        return (Some(1.0), Some(1.0));
    }
    match (base.value, base.bounds) {
        (Some(_), Some((lo, hi))) if kind.proportion => (Some(lo), Some(hi)),
        (Some(v), _) => (Some(v), Some(v)),
        (None, _) => (None, None),
    }
}

fn objective_row(
    o: &Objective,
    version: &str,
    data: &VersionData,
    base: &Estimate,
    j: &Judge,
) -> (Evidence, Outcome, String) {
    let final_look = j.final_look;
    let est = metrics::estimate(&o.metric, j.kind, data, j.z_pass);
    let (scale_lo, scale_hi) = scales(o, base, j.kind);
    let lower = o.lower_limit.zip(scale_lo).map(|(l, s)| l * s);
    let upper = o.upper_limit.zip(scale_hi).map(|(u, s)| u * s);
    let scale = if o.relative {
        scale_hi.or(scale_lo)
    } else {
        Some(1.0)
    };
    let limit_text = limit_text(o, lower, upper);
    let kind = if j.kind.proportion {
        MetricKind::Rate
    } else {
        j.kind.unit
    };
    let (outcome, why) = match (est.value, scale) {
        (None, _) => (
            if final_look {
                Outcome::Inconclusive
            } else {
                Outcome::Pending
            },
            format!("{}: no data", o.metric),
        ),
        (Some(_), None) => (
            if final_look {
                Outcome::Inconclusive
            } else {
                Outcome::Pending
            },
            format!("{}: no baseline value to compare with", o.metric),
        ),
        (Some(v), Some(_)) => {
            let outcome = if !j.enough {
                Outcome::Pending
            } else {
                decide(kind, &est, v, lower, upper, final_look, || {
                    metrics::estimate(&o.metric, j.kind, data, j.z_fail).bounds
                })
            };
            let shown = match (kind, est.bounds) {
                (MetricKind::Rate, Some((lo, hi))) if upper.is_some() => {
                    format!(
                        "{}: {} (bound {}) vs {limit_text}",
                        o.metric,
                        num(v),
                        num(hi.max(lo))
                    )
                }
                _ => format!("{}: {} vs {limit_text}", o.metric, num(v)),
            };
            (outcome, shown)
        }
    };
    let bound = match (kind, est.bounds) {
        (MetricKind::Count, _) | (_, None) => None,
        (_, Some((lo, hi))) => Some(if upper.is_some() || lower.is_none() {
            hi
        } else {
            lo
        }),
    };
    let row = Evidence {
        version: version.to_string(),
        metric: o.metric.clone(),
        value: est.value,
        limit: Some(limit_text),
        samples: est.samples,
        bound,
        result: outcome.as_str().to_string(),
    };
    (row, outcome, why)
}

/// One objective at one look; see the module doc for the rules.
fn decide(
    kind: MetricKind,
    est: &Estimate,
    v: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    final_look: bool,
    fail_bounds: impl FnOnce() -> Option<(f64, f64)>,
) -> Outcome {
    let within =
        |x_lo: f64, x_hi: f64| upper.is_none_or(|u| x_hi <= u) && lower.is_none_or(|l| x_lo >= l);
    let outside =
        |x_lo: f64, x_hi: f64| upper.is_some_and(|u| x_lo > u) || lower.is_some_and(|l| x_hi < l);
    match kind {
        MetricKind::Count => {
            // Counts only grow as the window does: above an upper limit is final.
            if upper.is_some_and(|u| v > u) {
                Outcome::Fail
            } else if within(v, v) {
                Outcome::Pass
            } else if final_look {
                Outcome::Fail
            } else {
                Outcome::Pending
            }
        }
        MetricKind::Rate if est.bounds.is_some() => {
            let (lo, hi) = est.bounds.unwrap_or((v, v));
            if within(lo, hi) {
                Outcome::Pass
            } else if final_look {
                if outside(lo, hi) {
                    Outcome::Fail
                } else {
                    Outcome::Inconclusive
                }
            } else if fail_bounds().is_some_and(|(flo, fhi)| outside(flo, fhi)) {
                Outcome::Fail
            } else {
                Outcome::Pending
            }
        }
        _ => {
            // On the estimate; early only when the widened bound is outside.
            if within(v, v) {
                Outcome::Pass
            } else if final_look || fail_bounds().is_some_and(|(flo, fhi)| outside(flo, fhi)) {
                Outcome::Fail
            } else {
                Outcome::Pending
            }
        }
    }
}

/// `<= 0.01`, or for a relative limit `<= 1.2x baseline (120)` with the
/// absolute limit it came to (`lower`/`upper`, when the baseline had data).
fn limit_text(o: &Objective, lower: Option<f64>, upper: Option<f64>) -> String {
    let side = |ratio: f64, absolute: Option<f64>| {
        if !o.relative {
            return num(ratio);
        }
        match absolute {
            Some(a) => format!("{}x baseline ({})", num(ratio), num(a)),
            None => format!("{}x baseline", num(ratio)),
        }
    };
    match (o.lower_limit, o.upper_limit) {
        (Some(l), Some(u)) => format!(">= {} and <= {}", side(l, lower), side(u, upper)),
        (Some(l), None) => format!(">= {}", side(l, lower)),
        (None, Some(u)) => format!("<= {}", side(u, upper)),
        (None, None) => "none".into(),
    }
}

/// A number as people read it in a table: up to 4 significant digits.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() >= 1000.0 {
        return format!("{}", (x * 10.0).round() / 10.0);
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

enum RewardWinner {
    Candidate(String),
    Baseline(String),
    Tie(String),
    Unknown(String),
}

/// The first reward decides (as in Iter8); it must differ significantly.
fn compare_reward(
    spec: &ExperimentSpec,
    r: &Reward,
    m: &Measurements,
    z: f64,
    final_look: bool,
) -> (Vec<Evidence>, RewardWinner) {
    let kind = metrics::Kind::of(&r.metric, spec);
    let b = metrics::estimate(&r.metric, kind, &m.baseline, z);
    let c = metrics::estimate(&r.metric, kind, &m.candidate, z);
    let sign = match r.prefer {
        Prefer::High => 1.0,
        Prefer::Low => -1.0,
    };
    // z of "candidate better than baseline", when a test applies.
    let stat = match (b.shape, c.shape) {
        (Shape::Proportion { hits: hb, n: nb }, Shape::Proportion { hits: hc, n: nc }) => {
            stats::two_proportion_z(hc, nc, hb, nb).map(|t| t * sign)
        }
        (
            Shape::Mean {
                variance: Some(vb),
                n: nb,
            },
            Shape::Mean {
                variance: Some(vc),
                n: nc,
            },
        ) => match (b.value, c.value) {
            (Some(mb), Some(mc)) => stats::two_mean_z(mc, vc, nc, mb, vb, nb).map(|t| t * sign),
            _ => None,
        },
        _ => None,
    };
    let quantile_order = match (b.shape, b.bounds, c.bounds) {
        (Shape::Quantile, Some((blo, bhi)), Some((clo, chi))) => Some(if sign > 0.0 {
            (clo > bhi, blo > chi)
        } else {
            (chi < blo, bhi < clo)
        }),
        _ => None,
    };
    let (cand, base) = (&spec.candidate.version, &spec.baseline.version);
    let shown = |v: Option<f64>| v.map(num).unwrap_or_else(|| "no data".into());
    let values = format!("{} {cand} vs {} {base}", shown(c.value), shown(b.value));
    let winner = match (b.value, c.value, stat, quantile_order) {
        (None, _, _, _) | (_, None, _, _) => {
            RewardWinner::Unknown(format!("{}: no data", r.metric))
        }
        (_, _, Some(t), _) if t >= z => RewardWinner::Candidate(format!(
            "{cand} is better on {} ({values}, z = {:.2})",
            r.metric, t
        )),
        (_, _, Some(t), _) if t <= -z => RewardWinner::Baseline(format!(
            "{base} is better on {} ({values}, z = {:.2})",
            r.metric, -t
        )),
        (_, _, Some(t), _) => RewardWinner::Tie(format!(
            "no significant difference in {} ({values}, z = {:.2})",
            r.metric, t
        )),
        (_, _, None, Some((true, _))) => {
            RewardWinner::Candidate(format!("{cand} is better on {} ({values})", r.metric))
        }
        (_, _, None, Some((_, true))) => {
            RewardWinner::Baseline(format!("{base} is better on {} ({values})", r.metric))
        }
        (_, _, None, Some(_)) => RewardWinner::Tie(format!(
            "no significant difference in {} ({values})",
            r.metric
        )),
        (_, _, None, None) => RewardWinner::Unknown(format!(
            "{} has no significance test (use a rate or a latency metric as reward)",
            r.metric
        )),
    };
    let result = |is_cand: bool| {
        let s = match (&winner, is_cand) {
            (RewardWinner::Candidate(_), true) | (RewardWinner::Baseline(_), false) => "better",
            (RewardWinner::Candidate(_), false) | (RewardWinner::Baseline(_), true) => "worse",
            (RewardWinner::Tie(_), _) if final_look => "tie",
            _ => "pending",
        };
        s.to_string()
    };
    let prefer = match r.prefer {
        Prefer::High => "prefer high",
        Prefer::Low => "prefer low",
    };
    let row = |version: &str, e: &Estimate, is_cand: bool| Evidence {
        version: version.to_string(),
        metric: r.metric.clone(),
        value: e.value,
        limit: Some(prefer.to_string()),
        samples: e.samples,
        bound: e.bounds.map(|(lo, hi)| if sign > 0.0 { lo } else { hi }),
        result: result(is_cand),
    };
    let rows = vec![row(base, &b, false), row(cand, &c, true)];
    (rows, winner)
}
