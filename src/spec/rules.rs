//! The experiment rules stated once. `assay.yaml` validation applies them
//! with the file position of each value; the hook applies them again to the
//! Experiment it reads (from the API or a file, perhaps edited by hand since
//! `generate` wrote it), with the CRD field path. Each rule says what was
//! expected and what was given; the caller names the field.

use super::Pattern;

/// Longest warmup or duration the hook accepts: 30 days.
pub const MAX_WINDOW_SECONDS: u64 = 30 * 24 * 3600;

/// A verdict's confidence: above a coin toss, below certainty.
pub fn confidence(v: f64) -> Result<(), String> {
    if v > 0.5 && v < 1.0 {
        return Ok(());
    }
    Err(format!(
        "must be more than 0.5 and less than 1 (e.g. 0.95), got {v}"
    ))
}

/// How far under a limit early promotion aims, as a share of the limit.
pub fn margin(v: f64) -> Result<(), String> {
    if v > 0.0 && v < 1.0 {
        return Ok(());
    }
    Err(format!(
        "must be more than 0 and less than 1 (e.g. 0.5: likely to promote at half a limit), got {v}"
    ))
}

/// An interval or bake time: a part of the window, so never longer than it.
pub fn within_duration(seconds: u64, duration_seconds: u64) -> Result<(), String> {
    if seconds <= duration_seconds {
        return Ok(());
    }
    Err(format!(
        "must not be longer than the duration ({duration_seconds}s)"
    ))
}

/// An objective's limits: at least one, finite, the lower not above the upper.
pub fn limits(lower: Option<f64>, upper: Option<f64>) -> Result<(), String> {
    match (lower, upper) {
        (None, None) => Err("needs upperLimit, lowerLimit or both".into()),
        (lo, hi) if [lo, hi].iter().flatten().any(|l| !l.is_finite()) => {
            Err("limits must be finite numbers".into())
        }
        (Some(lo), Some(hi)) if lo > hi => Err(format!("{lo} is above the upperLimit {hi}")),
        _ => Ok(()),
    }
}

/// What each pattern needs to reach a verdict at all.
pub fn judged_by(pattern: Pattern, objectives: usize, rewards: usize) -> Result<(), String> {
    match pattern {
        Pattern::Ab if rewards == 0 => {
            Err("pattern ab needs at least one reward to pick a winner".into())
        }
        Pattern::Canary | Pattern::Slo if objectives == 0 => {
            Err("needs at least one objective: with none, nothing could fail".into())
        }
        _ => Ok(()),
    }
}
