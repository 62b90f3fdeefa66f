//! The verdict rules. Iter8's are the base (ITER8.md §3.1: a version is
//! feasible when every objective holds; canary promotes a feasible
//! candidate; A/B picks the feasible version with the better reward; missing
//! data is infeasible). On top of them, at every look:
//!
//! - **rate objectives** (error-rate, custom `type: proportion`, absolute
//!   upper limits on percentiles, upper limits relative to the baseline's
//!   rate) are judged by the exact sequential test of [`super::sequential`]:
//!   reject when shown over the limit or when the deadline can no longer
//!   allow the hits seen, promote once shown under it by the margin after
//!   the bake time (`minDuration`), and at the deadline by an exact
//!   critical count. Wrong promotion stays at most 1 − `confidence` however
//!   many looks are made (docs/judging.md states the one exception: a
//!   relative limit with no error in either version), and no minimum
//!   sample is needed;
//! - **other objectives** (mean latency, custom values, counts) are judged on
//!   their estimate once the version has `minRequests` ([`super::estimate`]);
//! - the candidate is **rejected** at any look once an objective fails;
//!   **promoted** once every objective passes (before the deadline only
//!   after the bake time, and never early in A/B); and at the deadline
//!   rejected as inconclusive if any objective is still unproven;
//! - A/B rewards are compared once, at the deadline ([`super::reward`]).

use crate::crd::{Evidence, ExperimentSpec, Finding, LookRecord, Objective, Verdict};
use crate::spec::Pattern;

use super::data::Measurements;
use super::estimate::{self, Judge};
use super::metrics;
use super::rate_row;
use super::rates;
use super::reward::{self, RewardWinner};
use super::stats;
use super::window::Look;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The candidate met every objective (and won, in A/B).
    Promote,
    /// The candidate failed, lost, or was not proven by the deadline.
    Reject,
    /// Not decided yet: keep collecting.
    Continue,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        self.verdict().map_or("continue", Verdict::as_str)
    }

    /// The verdict this look reached, if any.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Decision::Promote => Some(Verdict::Promote),
            Decision::Reject => Some(Verdict::Reject),
            Decision::Continue => None,
        }
    }
}

/// A verdict with its reason and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub decision: Decision,
    /// One line a person reads in the status, the commit and the Event.
    pub reason: String,
    /// Per version and metric: value, limit, samples, counts, boundaries, result.
    pub evidence: Vec<Evidence>,
    /// This look's counts, for the record of looks the next look builds on.
    pub record: LookRecord,
}

/// The looks one experiment plans: one per interval of the window.
pub fn planned_looks(spec: &ExperimentSpec) -> u32 {
    let n = spec.window.duration_seconds / spec.window.interval_seconds.max(1);
    n.clamp(1, u64::from(u32::MAX)) as u32
}

/// Judges one look. `earlier`: the looks already made for this experiment
/// (from the status), oldest first; `look.is_final`: the window has reached
/// its deadline, so an unproven candidate is rejected.
pub fn assess(
    spec: &ExperimentSpec,
    earlier: &[LookRecord],
    m: &Measurements,
    look: &Look,
) -> Assessment {
    let final_look = look.is_final;
    let record = rates::record(spec, m, look.seconds);
    let mut looks = earlier.to_vec();
    looks.push(record.clone());
    // Early rejection on an estimate is spread over every look this
    // experiment makes, the ones an earlier (killed) run made included.
    let remaining = spec.window.duration_seconds.saturating_sub(look.seconds)
        / spec.window.interval_seconds.max(1);
    let planned = u64::from(planned_looks(spec)).max(looks.len() as u64 + remaining);
    let z_pass = stats::z(spec.confidence);
    let z_fail = if final_look {
        z_pass
    } else {
        stats::z(1.0 - (1.0 - spec.confidence) / planned.max(1) as f64)
    };
    let with_baseline = spec.pattern != Pattern::Slo;
    let mut evidence = Vec::new();
    let mut candidate_rows: Vec<(Finding, String)> = Vec::new();
    let mut short = Vec::new();
    let mut baseline_feasible = true;
    let mut rate_index = 0;
    for o in &spec.objectives {
        let kind = metrics::Kind::of(&o.metric, spec);
        if !rates::limits(o, kind).is_empty() {
            if with_baseline {
                if o.relative {
                    let base = metrics::estimate(&o.metric, kind, &m.baseline, z_pass);
                    evidence.push(estimate::reference_row(o, &spec.baseline.version, &base));
                } else {
                    let (row, outcome) = rate_row::baseline_row(spec, o, kind, m);
                    baseline_feasible &= outcome != Finding::Fail;
                    evidence.push(row);
                }
            }
            let r = rate_row::judge(spec, o, kind, rate_index, &looks, m, final_look);
            rate_index += 1;
            evidence.push(r.row);
            candidate_rows.push((r.outcome, r.why));
            continue;
        }
        let base = metrics::estimate(&o.metric, kind, &m.baseline, z_pass);
        let mut judged = vec![(&spec.candidate.version, &m.candidate, true)];
        if with_baseline {
            judged.insert(0, (&spec.baseline.version, &m.baseline, false));
        }
        for (version, data, is_candidate) in judged {
            if o.relative && !is_candidate {
                evidence.push(estimate::reference_row(o, version, &base));
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
            let (row, outcome, why) = estimate::objective_row(o, version, data, &base, &judge);
            evidence.push(row);
            if is_candidate {
                if !enough {
                    short.push(match data.requests {
                        Some(n) => format!(
                            "{}: {} has {} of {} requests",
                            o.metric,
                            version,
                            n.round() as u64,
                            spec.min_requests
                        ),
                        None => format!("{}: {version} has no data (no series)", o.metric),
                    });
                }
                candidate_rows.push((outcome, why));
            } else if outcome == Finding::Fail {
                // Only a proven failure makes the baseline infeasible: one
                // merely unproven still has to be beaten on the reward.
                baseline_feasible = false;
            }
        }
    }

    let reward_winner = match (spec.pattern, spec.rewards.first()) {
        (Pattern::Ab, Some(r)) => {
            let (rows, w) = reward::compare_reward(spec, r, m, z_pass, final_look);
            evidence.extend(rows);
            Some(w)
        }
        _ => None,
    };

    let cand = &spec.candidate.version;
    let failed: Vec<&str> = candidate_rows
        .iter()
        .filter(|r| r.0 == Finding::Fail)
        .map(|r| r.1.as_str())
        .collect();
    let open: Vec<&str> = candidate_rows
        .iter()
        .filter(|r| r.0 != Finding::Pass)
        .map(|r| r.1.as_str())
        .collect();
    let baked = look.seconds >= spec.window.min_duration_seconds;
    let (decision, reason) = if !failed.is_empty() {
        (
            Decision::Reject,
            format!("{cand} fails {}", failed.join("; ")),
        )
    } else if final_look && !short.is_empty() {
        (
            Decision::Reject,
            format!(
                "inconclusive: too few requests by the deadline: {}",
                short.join(", ")
            ),
        )
    } else if final_look && !open.is_empty() {
        (
            Decision::Reject,
            format!("inconclusive: {cand} {}", open[0]),
        )
    } else if !final_look && (!open.is_empty() || !baked || spec.pattern == Pattern::Ab) {
        let passing = candidate_rows.len() - open.len();
        let mut why = format!(
            "window open: {passing} of {} objectives pass so far",
            candidate_rows.len()
        );
        if !open.is_empty() {
            why.push_str(&format!("; {}", open.join("; ")));
        } else if !baked {
            why.push_str(&format!(
                "; no promotion before {}s",
                spec.window.min_duration_seconds
            ));
        } else {
            why.push_str("; A/B compares rewards at the deadline");
        }
        (Decision::Continue, why)
    } else {
        let early = if final_look {
            String::new()
        } else {
            format!(
                " (early, at {}s of {}s)",
                look.seconds, spec.window.duration_seconds
            )
        };
        match (spec.pattern, reward_winner) {
            (Pattern::Ab, _) if !baseline_feasible => (
                Decision::Promote,
                format!(
                    "{cand} meets every objective and {} does not",
                    spec.baseline.version
                ),
            ),
            (Pattern::Ab, Some(RewardWinner::Candidate(why))) => (Decision::Promote, why),
            (Pattern::Ab, Some(RewardWinner::Baseline(why))) => (Decision::Reject, why),
            (Pattern::Ab, Some(RewardWinner::Tie(why)))
            | (Pattern::Ab, Some(RewardWinner::Unknown(why))) => {
                (Decision::Reject, format!("inconclusive: {why}"))
            }
            _ => (
                Decision::Promote,
                format!("{cand} meets every objective{early}"),
            ),
        }
    };
    Assessment {
        decision,
        reason,
        evidence,
        record,
    }
}

/// `<= 0.01`, or for a relative limit `<= 1.2x baseline (120)` with the
/// absolute limit it came to (`lower`/`upper`, when the baseline had data).
pub(super) fn limit_text(o: &Objective, lower: Option<f64>, upper: Option<f64>) -> String {
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
