//! A/B rewards: the first reward decides (as in Iter8), and only a
//! significant difference at the deadline (two-proportion or Welch z-test,
//! one-sided at `confidence`, or non-overlapping quantile bounds) picks the
//! candidate; a tie keeps the baseline. Rewards are compared once, at the
//! deadline, so the test's level holds without correcting for looks.

use crate::crd::{Evidence, ExperimentSpec, Finding, Reward};
use crate::spec::Prefer;

use super::criteria::num;
use super::data::Measurements;
use super::metrics::{self, Estimate, Shape};
use super::stats;

pub(super) enum RewardWinner {
    Candidate(String),
    Baseline(String),
    Tie(String),
    Unknown(String),
}

/// The first reward decides (as in Iter8); it must differ significantly.
pub(super) fn compare_reward(
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
    let result = |is_cand: bool| match (&winner, is_cand) {
        (RewardWinner::Candidate(_), true) | (RewardWinner::Baseline(_), false) => Finding::Better,
        (RewardWinner::Candidate(_), false) | (RewardWinner::Baseline(_), true) => Finding::Worse,
        (RewardWinner::Tie(_), _) if final_look => Finding::Tie,
        _ => Finding::Pending,
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
        hits: None,
        reject_at: None,
        promote_at: None,
        result: result(is_cand),
    };
    let rows = vec![row(base, &b, false), row(cand, &c, true)];
    (rows, winner)
}
