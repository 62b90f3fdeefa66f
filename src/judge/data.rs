//! What a metrics provider delivers: per version, the raw aggregates over the
//! window (requests, errors, latency histogram, custom values). The judge
//! derives every metric from these, so Prometheus and the file provider are
//! judged by exactly the same code.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One version's aggregates over the window. `None` means the provider had
/// no data at all (no series), which is never read as zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionData {
    /// Requests served in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
    /// Requests answered with a 5xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<f64>,
    /// The request-duration histogram, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Custom metrics by name, and overrides of built-in ones.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub metrics: IndexMap<String, f64>,
}

/// A latency histogram over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Latency {
    /// Sum of all durations, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Cumulative counts keyed by upper bound (`le`), `+Inf` included.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub buckets: IndexMap<String, f64>,
}

impl Latency {
    /// Buckets sorted by bound, `+Inf` last; `None` when a bound is not a number.
    pub fn sorted(&self) -> Option<Vec<(f64, f64)>> {
        let mut out = Vec::with_capacity(self.buckets.len());
        for (le, count) in &self.buckets {
            out.push((parse_le(le)?, *count));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        match out.last() {
            Some((le, _)) if le.is_infinite() => Some(out),
            _ => None,
        }
    }

    /// Observations in the histogram (its `+Inf` bucket).
    pub fn count(&self) -> Option<f64> {
        self.sorted().and_then(|b| b.last().map(|l| l.1))
    }
}

/// A Prometheus `le` label value as a number (`+Inf` included).
pub fn parse_le(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => le.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Both versions' aggregates, as one provider call returned them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    pub baseline: VersionData,
    pub candidate: VersionData,
    /// How many queries the provider made (the benchmark reports it).
    pub queries: u32,
}
