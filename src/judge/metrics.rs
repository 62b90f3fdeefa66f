//! From a version's aggregates to one metric's estimate: its value, the
//! requests behind it and, where the metric allows one, a confidence bound.
//! Built-in metrics follow Iter8's Istio definitions (ITER8.md §2.4): 5xx
//! responses are errors, latency is Istio's request-duration histogram.

use super::data::VersionData;
use super::stats;
use crate::spec::MetricKind;

/// One metric of one version, as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// `None`: the provider had no data for it (never read as a pass).
    pub value: Option<f64>,
    /// Requests of the version in the window.
    pub samples: u64,
    /// `(lower, upper)` at the asked-for confidence, for metrics that have one.
    pub bounds: Option<(f64, f64)>,
    /// What a two-version comparison may assume about the value.
    pub shape: Shape,
}

/// The statistical nature of a value, which decides the test A/B uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// An exact count: no uncertainty to bound.
    Count,
    /// `hits` of `n` requests.
    Proportion { hits: f64, n: f64 },
    /// A mean of `n` observations with an estimated variance.
    Mean { variance: Option<f64>, n: f64 },
    /// A histogram quantile, with rank bounds.
    Quantile,
    /// A custom value with nothing known about its spread.
    Opaque,
}

/// The quantile a built-in `pNN-latency` metric names.
pub fn percentile(metric: &str) -> Option<f64> {
    let digits = metric.strip_prefix('p')?.strip_suffix("-latency")?;
    let n: u8 = digits.parse().ok()?;
    (1..=99).contains(&n).then(|| f64::from(n) / 100.0)
}

/// How a metric's value behaves: built-ins by name, custom ones as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub unit: MetricKind,
    /// A share of the version's requests (error-rate, custom `type: proportion`).
    pub proportion: bool,
}

impl Kind {
    /// The kind of `metric` in `spec` (custom metrics as they are declared).
    pub fn of(metric: &str, spec: &crate::crd::ExperimentSpec) -> Kind {
        let declared = spec
            .metrics
            .iter()
            .any(|c| c.name == metric && c.kind == crate::spec::MetricType::Proportion);
        Kind::new(metric, declared)
    }

    /// The kind of `metric`, a custom one `declared_proportion` or not.
    pub fn new(metric: &str, declared_proportion: bool) -> Kind {
        let unit = MetricKind::of(metric);
        Kind {
            unit,
            proportion: unit == MetricKind::Rate
                || (unit == MetricKind::Custom && declared_proportion),
        }
    }
}

/// Estimates `metric` for one version with bounds at normal quantile `z`.
pub fn estimate(metric: &str, kind: Kind, d: &VersionData, z: f64) -> Estimate {
    let n = d.requests.filter(|n| n.is_finite() && *n >= 0.0);
    let samples = n.map(|n| n.round() as u64).unwrap_or(0);
    let missing = |shape| Estimate {
        value: None,
        samples,
        bounds: None,
        shape,
    };
    // An explicit value (file provider, custom PromQL) wins over derivation.
    if let Some(&v) = d.metrics.get(metric) {
        let shape = match (kind, n) {
            (
                Kind {
                    proportion: true, ..
                },
                Some(n),
            ) if (0.0..=1.0).contains(&v) && n > 0.0 => Shape::Proportion { hits: v * n, n },
            (
                Kind {
                    unit: MetricKind::Count,
                    ..
                },
                _,
            ) => Shape::Count,
            _ => Shape::Opaque,
        };
        let bounds = match shape {
            Shape::Proportion { hits, n } => Some(stats::wilson(hits, n, z)),
            Shape::Count => Some((v, v)),
            _ => None,
        };
        return Estimate {
            value: Some(v),
            samples,
            bounds,
            shape,
        };
    }
    match metric {
        "request-count" => match n {
            Some(n) => exact(n, samples),
            None => missing(Shape::Count),
        },
        "error-count" => match (n, d.errors) {
            (Some(_), Some(e)) => exact(e, samples),
            _ => missing(Shape::Count),
        },
        "error-rate" => match (n, d.errors) {
            (Some(n), Some(e)) if n > 0.0 => Estimate {
                value: Some(e / n),
                samples,
                bounds: Some(stats::wilson(e, n, z)),
                shape: Shape::Proportion { hits: e, n },
            },
            _ => missing(Shape::Proportion { hits: 0.0, n: 0.0 }),
        },
        "mean-latency" => mean_latency(d, samples, z),
        m => match percentile(m) {
            Some(q) => {
                let q = d
                    .latency
                    .as_ref()
                    .and_then(|l| l.sorted())
                    .and_then(|b| stats::quantile(&b, q, z));
                match q {
                    Some((v, lo, hi)) => Estimate {
                        value: Some(v),
                        samples,
                        bounds: Some((lo, hi)),
                        shape: Shape::Quantile,
                    },
                    None => missing(Shape::Quantile),
                }
            }
            None => missing(Shape::Opaque),
        },
    }
}

fn exact(v: f64, samples: u64) -> Estimate {
    Estimate {
        value: Some(v),
        samples,
        bounds: Some((v, v)),
        shape: Shape::Count,
    }
}

/// Sum over count of the duration histogram, bounded with the variance the
/// buckets imply (normal approximation of the mean).
fn mean_latency(d: &VersionData, samples: u64, z: f64) -> Estimate {
    let Some(lat) = &d.latency else {
        return Estimate {
            value: None,
            samples,
            bounds: None,
            shape: Shape::Mean {
                variance: None,
                n: 0.0,
            },
        };
    };
    let buckets = lat.sorted();
    let count = buckets
        .as_ref()
        .and_then(|b| b.last().map(|l| l.1))
        .or(d.requests)
        .unwrap_or(0.0);
    let value = lat.sum.filter(|_| count > 0.0).map(|s| s / count);
    let variance = match (&buckets, value) {
        (Some(b), Some(m)) => stats::bucket_variance(b, m),
        _ => None,
    };
    let bounds = match (value, variance) {
        (Some(m), Some(v)) => {
            let half = z * (v / count).sqrt();
            Some(((m - half).max(0.0), m + half))
        }
        _ => None,
    };
    Estimate {
        value,
        samples,
        bounds,
        shape: Shape::Mean { variance, n: count },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::data::Latency;

    fn k(metric: &str) -> Kind {
        let unit = MetricKind::of(metric);
        Kind {
            unit,
            proportion: unit == MetricKind::Rate,
        }
    }

    fn data() -> VersionData {
        VersionData {
            requests: Some(1000.0),
            errors: Some(5.0),
            latency: Some(Latency {
                sum: Some(50_000.0),
                buckets: [
                    ("25", 300.0),
                    ("50", 800.0),
                    ("100", 1000.0),
                    ("+Inf", 1000.0),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            }),
            metrics: Default::default(),
        }
    }

    #[test]
    fn built_ins_from_aggregates() {
        let d = data();
        let z = stats::z(0.95);
        assert_eq!(
            estimate("request-count", k("request-count"), &d, z).value,
            Some(1000.0)
        );
        assert_eq!(
            estimate("error-count", k("error-count"), &d, z).value,
            Some(5.0)
        );
        let rate = estimate("error-rate", k("error-rate"), &d, z);
        assert_eq!(rate.value, Some(0.005));
        assert_eq!(rate.samples, 1000);
        let (lo, hi) = rate.bounds.unwrap();
        assert!(lo < 0.005 && hi > 0.005);
        assert_eq!(
            estimate("mean-latency", k("mean-latency"), &d, z).value,
            Some(50.0)
        );
        assert_eq!(
            estimate("p50-latency", k("p50-latency"), &d, z).value,
            Some(35.0)
        );
        assert_eq!(
            estimate("p90-latency", k("p90-latency"), &d, z).value,
            Some(75.0)
        );
    }

    #[test]
    fn missing_data_stays_missing() {
        let d = VersionData::default();
        for m in [
            "request-count",
            "error-rate",
            "mean-latency",
            "p99-latency",
            "custom",
        ] {
            assert_eq!(estimate(m, k(m), &d, 1.64).value, None, "{m}");
        }
        let no_hist = VersionData {
            requests: Some(10.0),
            errors: Some(0.0),
            ..Default::default()
        };
        assert_eq!(
            estimate("p95-latency", k("p95-latency"), &no_hist, 1.64).value,
            None
        );
    }

    #[test]
    fn percentile_names() {
        assert_eq!(percentile("p95-latency"), Some(0.95));
        assert_eq!(percentile("p100-latency"), None);
        assert_eq!(percentile("mean-latency"), None);
    }
}
