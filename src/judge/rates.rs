//! Rate objectives as sequential tests ([`super::sequential`]): which
//! objectives are rates, how a look's measurements become counts, and how
//! the counts of every look so far become the test's steps.
//!
//! - `error-rate` and custom `type: proportion` metrics with an absolute
//!   limit: hits are the candidate's errors (or, for a lower limit, its
//!   misses), trials its requests;
//! - `pNN-latency` with an absolute upper limit L: "the NN-th percentile is
//!   at most L" is "at most (100 − NN) % of requests are slower than L";
//!   hits are the requests above the largest bucket boundary at or under L
//!   (a boundary under L counts more requests as slow: never in the
//!   candidate's favour);
//! - an upper limit relative to the baseline (`r`× its rate): given both
//!   versions' errors in a look, the candidate's share of them is binomial
//!   with, at the limit, `θ = r·n_c / (r·n_c + n_b)` for the look's requests
//!   `n_c`, `n_b` (the Poisson model of errors), so the trials are the errors
//!   of both versions and the test is exact again.
//!
//! Counts are rounded against the candidate: its requests down and hits up,
//! the baseline's requests up and errors down; a count that shrinks between
//! looks (Prometheus extrapolates `increase()`) is held at its earlier value.

use crate::crd::{ExperimentSpec, LookRecord, Objective, RateCount};

use super::data::{Measurements, VersionData};
use super::metrics::{self, Kind};
use super::sequential::Step;

/// Which side of a rate a limit bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Hits at most `limit` of trials.
    Upper,
    /// Hits at least `limit` of trials: its misses are tested instead.
    Lower,
}

/// One limit of a rate objective, tested sequentially.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub side: Side,
    /// The limit: a share of requests, or for `relative` the ratio to the baseline's.
    pub limit: f64,
    pub relative: bool,
}

impl RateLimit {
    /// The share of trials that may be hits at the limit (for a lower
    /// limit, the share that may be misses); for `relative`, the ratio.
    pub fn null(&self) -> f64 {
        match self.side {
            Side::Upper => self.limit,
            Side::Lower => 1.0 - self.limit,
        }
    }
}

/// The limits of `o` that the sequential test judges (none: judged on the estimate).
pub fn limits(o: &Objective, kind: Kind) -> Vec<RateLimit> {
    let percentile = metrics::percentile(&o.metric);
    let mut out = Vec::new();
    if kind.proportion {
        if let Some(u) = o.upper_limit {
            out.push(RateLimit {
                side: Side::Upper,
                limit: u,
                relative: o.relative,
            });
        }
        if let (Some(l), false) = (o.lower_limit, o.relative) {
            out.push(RateLimit {
                side: Side::Lower,
                limit: l,
                relative: false,
            });
        }
    } else if let (Some(q), Some(_), None, false) =
        (percentile, o.upper_limit, o.lower_limit, o.relative)
    {
        out.push(RateLimit {
            side: Side::Upper,
            limit: 1.0 - q,
            relative: false,
        });
    }
    out
}

/// This look's counts for objective `o`; `None` when the version lacks data.
pub fn count(o: &Objective, kind: Kind, m: &Measurements) -> Option<RateCount> {
    let (requests, hits) = tally(o, kind, &m.candidate)?;
    let mut c = RateCount {
        metric: o.metric.clone(),
        requests: down(requests),
        hits: up(hits),
        misses: None,
        baseline_requests: None,
        baseline_hits: None,
    };
    c.hits = c.hits.min(c.requests);
    if o.lower_limit.is_some() && !o.relative {
        // Against the candidate on this side too: its misses rounded up.
        c.misses = Some(up(requests - hits).min(c.requests));
    }
    if o.relative {
        let (n, x) = tally(o, kind, &m.baseline)?;
        c.baseline_requests = Some(up(n));
        c.baseline_hits = Some(down(x).min(up(n)));
    }
    Some(c)
}

/// Sums of floating-point rates miss whole numbers by a few ulps; that is
/// no reason to round a count of 2880 down to 2879.
const FUZZ: f64 = 1e-6;

fn down(x: f64) -> u64 {
    (x + FUZZ).floor().max(0.0) as u64
}

fn up(x: f64) -> u64 {
    (x - FUZZ).ceil().max(0.0) as u64
}

/// `(requests, hits)` of one version, unrounded.
pub fn tally(o: &Objective, kind: Kind, d: &VersionData) -> Option<(f64, f64)> {
    let n = d.requests.filter(|n| n.is_finite() && *n >= 0.0)?;
    if let Some(&v) = d.metrics.get(&o.metric) {
        return (kind.proportion && (0.0..=1.0).contains(&v)).then_some((n, v * n));
    }
    if o.metric == "error-rate" {
        let e = d.errors.filter(|e| e.is_finite() && *e >= 0.0)?;
        return Some((n, e));
    }
    let (_, under, total) = slow_split(o, d)?;
    Some((total, (total - under).max(0.0)))
}

/// The boundary a percentile objective counts slow requests above, for
/// the evidence (the largest bucket at or under the limit).
pub fn slow_above(o: &Objective, d: &VersionData) -> Option<f64> {
    slow_split(o, d).map(|(le, _, _)| le)
}

/// `(boundary, requests at or under it, all requests)` of a percentile
/// objective: the boundary is the largest bucket at or under its limit
/// (0 when none is).
fn slow_split(o: &Objective, d: &VersionData) -> Option<(f64, f64, f64)> {
    let limit = o.upper_limit?;
    let buckets = d.latency.as_ref()?.sorted()?;
    let total = buckets.last()?.1;
    let (le, under) = buckets
        .iter()
        .rev()
        .find(|(le, _)| *le <= limit)
        .copied()
        .unwrap_or((0.0, 0.0));
    Some((le, under, total))
}

/// One look of one limit: the cumulative trials and hits the test sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    pub trials: u64,
    pub hits: u64,
}

/// The test's steps for every look in `looks` (the current one last), and
/// what each look saw. `index` is the objective's place among the rate
/// counts of a look; `bake` the seconds before promotion may happen.
pub fn steps(
    looks: &[LookRecord],
    index: usize,
    metric: &str,
    l: RateLimit,
    margin: f64,
    bake: u64,
) -> (Vec<Step>, Vec<Seen>) {
    let mut steps = Vec::with_capacity(looks.len());
    let mut seen = Vec::with_capacity(looks.len());
    let mut held = RateCount::default();
    let (mut nb, mut xb) = (0u64, 0u64);
    let mut before = Seen::default();
    for look in looks {
        // A record of another objective (an edited spec) is not this one's.
        let Some(c) = look.counts.get(index).filter(|c| c.metric == metric) else {
            continue;
        };
        // Held at their earlier values when Prometheus reports fewer.
        let prev = held.clone();
        held.requests = held.requests.max(c.requests);
        held.hits = held.hits.max(c.hits).min(held.requests);
        held.misses = match (held.misses, c.misses) {
            (Some(a), Some(b)) => Some(a.max(b).min(held.requests)),
            (a, b) => a.or(b),
        };
        let prev_nb = nb;
        nb = nb.max(c.baseline_requests.unwrap_or(0));
        xb = xb.max(c.baseline_hits.unwrap_or(0)).min(nb);
        let may_promote = look.seconds >= bake;
        let (now, step) = if l.relative {
            let r = l.limit;
            let theta = |rc: f64, n_c: f64, n_b: f64| {
                if n_c + n_b > 0.0 {
                    rc * n_c / (rc * n_c + n_b)
                } else {
                    0.5
                }
            };
            let (nc, dnc, dnb) = (
                held.requests as f64,
                (held.requests - prev.requests) as f64,
                (nb - prev_nb) as f64,
            );
            let null = theta(r, nc, nb as f64);
            let null_step = if dnc + dnb > 0.0 {
                theta(r, dnc, dnb)
            } else {
                null
            };
            let now = Seen {
                trials: (held.hits + xb).max(before.trials),
                hits: held.hits.max(before.hits),
            };
            let step = Step {
                trials: now.trials,
                null_step,
                null,
                over: theta(2.0 * r, nc, nb as f64),
                far: theta(5.0 * r, nc, nb as f64),
                under: theta(r * (1.0 - margin), nc, nb as f64),
                may_promote,
            };
            (now, step)
        } else {
            let u = l.null();
            let hits = match l.side {
                Side::Upper => held.hits,
                Side::Lower => held.misses.unwrap_or(held.requests - held.hits),
            };
            let now = Seen {
                trials: held.requests.max(before.trials),
                hits: hits.max(before.hits),
            };
            (now, Step::absolute(now.trials, u, margin, may_promote))
        };
        before = now;
        steps.push(step);
        seen.push(now);
    }
    (steps, seen)
}

/// The rate counts of one look, one per rate objective of `spec` in order
/// (an objective without data gets zero counts: no evidence either way).
pub fn record(spec: &ExperimentSpec, m: &Measurements, seconds: u64) -> LookRecord {
    let counts = rate_objectives(spec)
        .map(|(o, kind)| {
            count(o, kind, m).unwrap_or_else(|| RateCount {
                metric: o.metric.clone(),
                ..RateCount::default()
            })
        })
        .collect();
    LookRecord {
        at: None,
        seconds,
        counts,
    }
}

/// The objectives that have a sequentially tested limit, in order.
pub fn rate_objectives(spec: &ExperimentSpec) -> impl Iterator<Item = (&Objective, Kind)> {
    spec.objectives.iter().filter_map(|o| {
        let kind = Kind::of(&o.metric, spec);
        (!limits(o, kind).is_empty()).then_some((o, kind))
    })
}
