//! Objectives judged on their estimate, as Iter8 did: mean latency, custom
//! `type: value` metrics, counts, relative percentiles and relative lower
//! limits. Such a row needs `minRequests` before it counts; it passes when
//! the estimate is within the limit, and fails early only when a bound
//! widened for the number of looks (Bonferroni) is outside it. Unlike the
//! rate objectives, these carry no exact guarantee: the estimate of a mean
//! from histogram buckets has no distribution-free test, and a custom value
//! has nothing known about its spread.

use crate::crd::{Evidence, Objective};
use crate::spec::MetricKind;

use super::criteria::{limit_text, num};
use super::data::VersionData;
use super::metrics::{self, Estimate};
use crate::crd::Finding;

/// How one objective row is decided.
pub(super) struct Judge {
    pub kind: metrics::Kind,
    /// The version has `minRequests`.
    pub enough: bool,
    pub final_look: bool,
    pub z_pass: f64,
    pub z_fail: f64,
}

/// The baseline's row of a relative objective: the reference, not judged.
pub(super) fn reference_row(o: &Objective, version: &str, base: &Estimate) -> Evidence {
    Evidence {
        version: version.to_string(),
        metric: o.metric.clone(),
        value: base.value,
        limit: Some("reference".into()),
        samples: base.samples,
        bound: None,
        hits: None,
        reject_at: None,
        promote_at: None,
        result: Finding::Reference,
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

pub(super) fn objective_row(
    o: &Objective,
    version: &str,
    data: &VersionData,
    base: &Estimate,
    j: &Judge,
) -> (Evidence, Finding, String) {
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
                Finding::Inconclusive
            } else {
                Finding::Pending
            },
            format!("{}: no data", o.metric),
        ),
        (Some(_), None) => (
            if final_look {
                Finding::Inconclusive
            } else {
                Finding::Pending
            },
            format!("{}: no baseline value to compare with", o.metric),
        ),
        (Some(v), Some(_)) => {
            let outcome = if !j.enough {
                Finding::Pending
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
        hits: None,
        reject_at: None,
        promote_at: None,
        result: outcome,
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
) -> Finding {
    let within =
        |x_lo: f64, x_hi: f64| upper.is_none_or(|u| x_hi <= u) && lower.is_none_or(|l| x_lo >= l);
    let outside =
        |x_lo: f64, x_hi: f64| upper.is_some_and(|u| x_lo > u) || lower.is_some_and(|l| x_hi < l);
    match kind {
        MetricKind::Count => {
            // Counts only grow as the window does: above an upper limit is final.
            if upper.is_some_and(|u| v > u) {
                Finding::Fail
            } else if within(v, v) {
                Finding::Pass
            } else if final_look {
                Finding::Fail
            } else {
                Finding::Pending
            }
        }
        MetricKind::Rate if est.bounds.is_some() => {
            let (lo, hi) = est.bounds.unwrap_or((v, v));
            if within(lo, hi) {
                Finding::Pass
            } else if final_look {
                if outside(lo, hi) {
                    Finding::Fail
                } else {
                    Finding::Inconclusive
                }
            } else if fail_bounds().is_some_and(|(flo, fhi)| outside(flo, fhi)) {
                Finding::Fail
            } else {
                Finding::Pending
            }
        }
        _ => {
            // On the estimate; early only when the widened bound is outside.
            if within(v, v) {
                Finding::Pass
            } else if final_look || fail_bounds().is_some_and(|(flo, fhi)| outside(flo, fhi)) {
                Finding::Fail
            } else {
                Finding::Pending
            }
        }
    }
}
