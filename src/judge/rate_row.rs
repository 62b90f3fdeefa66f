//! One rate objective at one look: its sequential test's boundaries, the
//! candidate's outcome, and the evidence row that shows both. Curtailment
//! lives here too: a candidate with more hits than the deadline could
//! allow at the traffic seen so far cannot pass any more.

use crate::crd::{Evidence, ExperimentSpec, LookRecord, Objective};

use super::criteria::{limit_text, num};
use super::data::Measurements;
use super::metrics::{self, Kind};
use super::rates::{self, RateLimit, Seen, Side};
use super::sequential::{self, Budget, Step};
use crate::crd::Finding;

/// Most projected looks: a long remaining window is projected with sparser
/// looks, which spend less of the early budget and so only raise the cap.
const MOST_PROJECTED: u64 = 240;

/// Where the test stands for one objective.
pub(super) struct RateJudged {
    pub row: Evidence,
    pub outcome: Finding,
    pub why: String,
}

/// Judges objective `o` (the `index`-th rate objective) at the last of
/// `looks`, which holds this look's counts.
pub(super) fn judge(
    spec: &ExperimentSpec,
    o: &Objective,
    kind: Kind,
    index: usize,
    looks: &[LookRecord],
    m: &Measurements,
    final_look: bool,
) -> RateJudged {
    let budget = Budget::new(spec.confidence);
    let w = &spec.window;
    let est = metrics::estimate(&o.metric, kind, &m.candidate, 0.0);
    let has_data = rates::count(o, kind, m).is_some();
    let seconds = looks.last().map_or(0, |l| l.seconds);
    let mut outcomes = Vec::new();
    let mut shown: Option<(Seen, Option<u64>, Option<u64>)> = None;
    for l in rates::limits(o, kind) {
        let (steps, seen) = rates::steps(
            looks,
            index,
            &o.metric,
            l,
            spec.margin,
            w.min_duration_seconds,
        );
        let (Some(bounds), Some(now)) = (
            sequential::bounds(&steps, budget, final_look)
                .last()
                .copied(),
            seen.last().copied(),
        ) else {
            continue;
        };
        let cap = if final_look {
            None
        } else {
            projected_cap(spec, &steps, seconds, budget)
        };
        let reject_at = match cap {
            Some(c) => bounds.reject_at.min(c + 1),
            None => bounds.reject_at,
        };
        let what = hits_word(o, l, rates::slow_above(o, &m.candidate));
        let counted = if l.relative {
            format!("{} of the {} errors of both versions", now.hits, now.trials)
        } else {
            format!("{} {what} in {} requests", now.hits, now.trials)
        };
        let (outcome, why) = if now.hits >= bounds.reject_at {
            (
                Finding::Fail,
                format!(
                    "{}: {counted}, shown over the limit (rejects at >= {reject_at})",
                    o.metric
                ),
            )
        } else if final_look && l.relative && now.trials == 0 {
            // No error in either version: the ratio cannot be shown. An
            // absolute limit on the same metric then decides alone (it
            // bounds the rates nobody saw); without one the objective is
            // unproven (docs/judging.md).
            if absolute_guard(spec, o) {
                (
                    Finding::Pass,
                    format!(
                        "{}: no errors in either version; the absolute limit decides",
                        o.metric
                    ),
                )
            } else {
                (
                    Finding::Inconclusive,
                    format!(
                        "{}: no errors in either version, so a limit relative to the baseline cannot be shown (pair it with an absolute limit)",
                        o.metric
                    ),
                )
            }
        } else if final_look {
            match bounds.promote_at {
                Some(c) if now.hits <= c => (
                    Finding::Pass,
                    format!("{}: {counted}, at most {c} allowed", o.metric),
                ),
                Some(c) => (
                    Finding::Inconclusive,
                    format!(
                        "{}: {counted} by the deadline, more than the {c} that show it under {}",
                        o.metric,
                        limit_text(o, None, None)
                    ),
                ),
                None => (
                    Finding::Inconclusive,
                    format!(
                        "{}: {counted} by the deadline: too few to show it under {} even with none",
                        o.metric,
                        limit_text(o, None, None)
                    ),
                ),
            }
        } else if cap.is_some_and(|c| now.hits > c) {
            (
                Finding::Fail,
                format!(
                    "{}: {counted}, more than the {} the deadline can allow at this traffic",
                    o.metric,
                    cap.unwrap_or(0)
                ),
            )
        } else if bounds.promote_at.is_some_and(|e| now.hits <= e) {
            (
                Finding::Pass,
                format!(
                    "{}: {counted}, shown under the limit (promotes at <= {})",
                    o.metric,
                    bounds.promote_at.unwrap_or(0)
                ),
            )
        } else {
            let promote = match bounds.promote_at {
                Some(e) => format!("promotes at <= {e}"),
                None if seconds < w.min_duration_seconds => {
                    format!("no promotion before {}s", w.min_duration_seconds)
                }
                None => "too few requests to promote yet".into(),
            };
            (
                Finding::Pending,
                format!(
                    "{}: {counted}, rejects at >= {reject_at}, {promote}",
                    o.metric
                ),
            )
        };
        if shown.is_none() {
            shown = Some((now, Some(reject_at), bounds.promote_at));
        }
        outcomes.push((outcome, why));
    }
    let (outcome, why) = if !has_data {
        (
            if final_look {
                Finding::Inconclusive
            } else {
                Finding::Pending
            },
            format!("{}: no data", o.metric),
        )
    } else {
        combine(outcomes)
    };
    let (seen, reject_at, promote_at) = shown.unwrap_or((Seen::default(), None, None));
    let row = Evidence {
        version: spec.candidate.version.clone(),
        metric: o.metric.clone(),
        value: est.value,
        limit: Some(limit_text(o, None, None)),
        samples: seen.trials.max(est.samples),
        bound: None,
        hits: has_data.then_some(seen.hits),
        reject_at: has_data.then_some(reject_at).flatten(),
        promote_at: has_data.then_some(promote_at).flatten(),
        result: outcome,
    };
    RateJudged { row, outcome, why }
}

/// Whether `o`'s metric also has an absolute upper limit in the spec.
fn absolute_guard(spec: &ExperimentSpec, o: &Objective) -> bool {
    spec.objectives
        .iter()
        .any(|a| a.metric == o.metric && !a.relative && a.upper_limit.is_some())
}

/// Fail if any limit fails; pass if all pass; else the first open one.
fn combine(outcomes: Vec<(Finding, String)>) -> (Finding, String) {
    let pick = |o: Finding| outcomes.iter().find(|(x, _)| *x == o).cloned();
    pick(Finding::Fail)
        .or_else(|| pick(Finding::Inconclusive))
        .or_else(|| pick(Finding::Pending))
        .or_else(|| {
            let all: Vec<String> = outcomes.iter().map(|(_, w)| w.clone()).collect();
            (!all.is_empty()).then(|| (Finding::Pass, all.join("; ")))
        })
        .unwrap_or((Finding::Pending, "no limit to test".into()))
}

/// The most hits the deadline could still promote with, if the traffic
/// goes on at the rate seen so far. A candidate is cut off when the deadline
/// could not allow its hits at that traffic; one whose traffic then grows
/// might have passed (a cost in power only, never in wrong promotions).
fn projected_cap(
    spec: &ExperimentSpec,
    steps: &[Step],
    seconds: u64,
    budget: Budget,
) -> Option<u64> {
    let w = &spec.window;
    let last = *steps.last()?;
    let remaining = w.duration_seconds.checked_sub(seconds).filter(|r| *r > 0)?;
    if seconds == 0 || last.trials == 0 {
        return None;
    }
    let interval = w
        .interval_seconds
        .max(remaining.div_ceil(MOST_PROJECTED))
        .max(1);
    let per_look = (last.trials as f64 / seconds as f64 * interval as f64).ceil() as u64;
    let more = remaining.div_ceil(interval);
    let mut all = steps.to_vec();
    for i in 1..=more {
        all.push(Step {
            trials: last.trials + per_look * i,
            null_step: last.null,
            may_promote: true,
            ..last
        });
    }
    sequential::bounds(&all, budget, true).last()?.promote_at
}

/// A baseline's row for a rate objective: not on trial, so it only fails
/// when shown over the limit at this look alone (the likelihood ratio
/// bound holds at any single look).
pub(super) fn baseline_row(
    spec: &ExperimentSpec,
    o: &Objective,
    kind: Kind,
    m: &Measurements,
) -> (Evidence, Finding) {
    let est = metrics::estimate(&o.metric, kind, &m.baseline, 0.0);
    let alpha = 1.0 - spec.confidence;
    let tally = rates::tally(o, kind, &m.baseline);
    let mut failed = false;
    if let Some((n, x)) = tally {
        for l in rates::limits(o, kind).into_iter().filter(|l| !l.relative) {
            let u = l.null();
            let hits = match l.side {
                Side::Upper => x.floor(),
                Side::Lower => (n - x).floor(),
            };
            let (over, far) = sequential::over_alternatives(u);
            let trials = n.ceil() as u64;
            failed |= hits as u64 >= sequential::over_count(trials, u, over, far, alpha);
        }
    }
    let outcome = match (tally, failed) {
        (None, _) => Finding::Pending,
        (_, true) => Finding::Fail,
        (_, false) => Finding::Pass,
    };
    let row = Evidence {
        version: spec.baseline.version.clone(),
        metric: o.metric.clone(),
        value: est.value,
        limit: Some(limit_text(o, None, None)),
        samples: est.samples,
        bound: None,
        hits: tally.map(|(_, x)| x.round() as u64),
        reject_at: None,
        promote_at: None,
        result: outcome,
    };
    (row, outcome)
}

/// What the hits of a limit are, in words; `slow_above`: the bucket
/// boundary a percentile objective counts slow requests above.
fn hits_word(o: &Objective, l: RateLimit, slow_above: Option<f64>) -> String {
    match (o.metric.as_str(), l.side) {
        (_, Side::Lower) => "misses".into(),
        ("error-rate", _) => "errors".into(),
        (m, _) if metrics::percentile(m).is_some() => match slow_above {
            Some(b) => format!("slower than {}ms", num(b)),
            None => "slow".into(),
        },
        _ => "hits".into(),
    }
}
