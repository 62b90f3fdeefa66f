//! The data a test Prometheus is loaded with: [`OpenMetrics`] text that
//! promtool can backfill, with Istio's standard metrics generated from
//! [`Workload`]s (and custom counters and gauges), plus the exact numbers
//! Prometheus must compute from it ([`Workload::expected`]; why they are
//! exact, and for which query times: the doc of [`super`]).
//!
//! # The series
//!
//! Every series is a straight line sampled on a grid: a [`Span`] from `start`
//! to `end` (unix seconds, `end - start` a multiple of `step`, default 15 s)
//! has samples at `start`, `start + step`, …, `end`, and a counter with rate
//! `r` has the value `r * (t - start)` at `t` (0 at `start`; whole numbers
//! only if `r * step` is one, which Prometheus does not mind). For a
//! [`Workload`] with `rps` requests per second, error fraction `e` and
//! latencies `(ms, weight)`:
//!
//! - `istio_requests_total{response_code="200"}` grows at `rps * (1 - e)`,
//!   `{response_code="503"}` at `rps * e`; a code whose rate is 0 has no
//!   series at all, as Envoy only exports codes it has seen (so a 5xx query
//!   for an error-free workload is empty, not 0);
//! - `istio_request_duration_milliseconds` (per code too): `_count` grows
//!   like the requests, `_sum` at `rate * Σ wᵢ·msᵢ / Σ wᵢ`, `_bucket{le}` at
//!   `rate * (Σ of wᵢ with msᵢ ≤ le) / Σ wᵢ`, over Istio's default buckets
//!   ([`ISTIO_BUCKETS`], written the way Envoy writes them: `le="0.5"`,
//!   `le="1"`, …, `le="3600000"`, `le="+Inf"`);
//! - labels `reporter` (each of [`Workload::reporters`], by default both
//!   `source` and `destination` as with sidecars on both ends, so a query
//!   that forgets `reporter=` counts twice), `destination_workload`,
//!   `destination_workload_namespace`, any [`Workload::label`] and
//!   `response_code`.
//!
//! Scenarios: a good candidate is the default (10 rps, no errors, 20 ms);
//! high error rate `.error_fraction(0.2)`; high latency
//! `.latencies(&[(20.0, 0.5), (3000.0, 0.5)])`; too few requests
//! `.rps(0.01)` or a short span; a missing series: add no workload.
//!
//! # What promtool (2.42) demands of the text
//!
//! Found by trying: the last line must be `# EOF`; every sample needs a
//! timestamp (seconds); within one series the timestamps must increase, and
//! a sample out of order or repeated is dropped *silently*. It does not check
//! that families are contiguous or that counters end in `_total`, but
//! OpenMetrics requires both, so [`OpenMetrics::text`] writes each family
//! (`# TYPE istio_requests counter`, samples `istio_requests_total`) as one
//! block, series by series, each series' points in time order, a histogram
//! point as its buckets (ascending `le`), `_count`, `_sum`.

use std::fmt::Write as _;
use std::time::SystemTime;

/// The default sample interval: Istio's usual scrape interval.
pub const DEFAULT_STEP: i64 = 15;
/// Istio's default `istio_request_duration_milliseconds` buckets (`+Inf`
/// comes on top).
pub const ISTIO_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Now in unix seconds, to the millisecond Prometheus resolves `time` to.
pub fn now() -> f64 {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    ms as f64 / 1000.0
}

/// The sample grid of a series: where the samples sit decides whether a
/// query is exact (see the doc of [`super`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Span {
    /// Istio's usual 15 s scrape interval.
    pub fn new(start: i64, end: i64) -> Span {
        Span::with_step(start, end, DEFAULT_STEP)
    }

    /// Panics off the grid: a last sample short of `end` would silently
    /// move where queries stop being exact.
    pub fn with_step(start: i64, end: i64, step: i64) -> Span {
        assert!(
            step > 0 && end > start && (end - start) % step == 0,
            "a span needs end > start on the step grid: {start}..{end} step {step}"
        );
        Span { start, end, step }
    }

    /// From `past` seconds before now to `future` seconds after it, widened
    /// to multiples of [`DEFAULT_STEP`]: data the code under test can query
    /// at wall-clock now and get exact numbers.
    pub fn around_now(past: i64, future: i64) -> Span {
        let now = now().floor() as i64;
        let step = DEFAULT_STEP;
        Span::new(
            (now - past).div_euclid(step) * step,
            (now + future + step - 1).div_euclid(step) * step,
        )
    }

    /// The sample times.
    pub fn times(&self) -> impl Iterator<Item = i64> + use<> {
        (self.start..=self.end).step_by(self.step as usize)
    }

    /// The seconds of straight-line growth that `increase(x[window])` at `at`
    /// sees, exactly (see the doc of [`super`]); panics where Prometheus is
    /// not exact or returns nothing, so no test asserts a number by accident.
    pub fn increase_seconds(&self, at: f64, window: f64) -> f64 {
        let (start, end, step) = (self.start as f64, self.end as f64, self.step as f64);
        assert!(
            (start..=end).contains(&at),
            "at {at} is outside {self:?}: increase() would not be exact there"
        );
        let from = at - window;
        let last = start + ((at - start) / step).floor() * step;
        let first = if from <= start {
            start
        } else {
            start + ((from - start) / step).ceil() * step
        };
        assert!(
            last - first >= step,
            "fewer than two samples of {self:?} in [{from}, {at}]: Prometheus returns nothing"
        );
        at - from.max(start)
    }
}

/// One Istio workload's traffic, as the proxies would report it.
#[derive(Clone, Debug)]
pub struct Workload {
    namespace: String,
    name: String,
    span: Span,
    rps: f64,
    error_fraction: f64,
    latencies: Vec<(f64, f64)>,
    reporters: Vec<String>,
    labels: Vec<(String, String)>,
}

/// What a window of a [`Workload`] adds up to, per reporter, summed over
/// response codes: the numbers the judge's queries must come out with.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub requests: f64,
    /// 5xx (all of them 503).
    pub errors: f64,
    pub duration_sum: f64,
    pub duration_count: f64,
    /// `(le, count)` in ascending `le`, `le` as written (`"0.5"`, `"+Inf"`).
    pub buckets: Vec<(String, f64)>,
}

impl Workload {
    /// A healthy workload (10 rps, no errors, every request 20 ms): the good
    /// candidate, to be spoiled with the setters below.
    pub fn new(namespace: &str, name: &str, span: Span) -> Workload {
        Workload {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            span,
            rps: 10.0,
            error_fraction: 0.0,
            latencies: vec![(20.0, 1.0)],
            reporters: vec!["source".into(), "destination".into()],
            labels: Vec::new(),
        }
    }

    /// Requests per second, both codes together; `.rps(0.01)` is the
    /// candidate with too little traffic to judge.
    pub fn rps(mut self, rps: f64) -> Workload {
        assert!(rps >= 0.0, "rps must not be negative");
        self.rps = rps;
        self
    }

    /// The share of requests answered 503; the rest get 200.
    pub fn error_fraction(mut self, fraction: f64) -> Workload {
        assert!((0.0..=1.0).contains(&fraction), "fraction in [0, 1]");
        self.error_fraction = fraction;
        self
    }

    /// Every request's latency, as `(milliseconds, weight)`: the share
    /// `weight / Σ weights` of the requests (of either code) takes `ms`.
    pub fn latencies(mut self, latencies: &[(f64, f64)]) -> Workload {
        assert!(
            !latencies.is_empty() && latencies.iter().all(|&(ms, w)| ms >= 0.0 && w >= 0.0),
            "latencies need at least one (ms >= 0, weight >= 0)"
        );
        assert!(latencies.iter().any(|&(_, w)| w > 0.0), "all weights 0");
        self.latencies = latencies.to_vec();
        self
    }

    /// Which `reporter` values get (identical) series.
    pub fn reporters(mut self, reporters: &[&str]) -> Workload {
        self.reporters = reporters.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// One more label on every series (`destination_service_name`, …).
    pub fn label(mut self, name: &str, value: &str) -> Workload {
        self.labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The exact results of the Istio queries over `[at - window, at]`;
    /// panics where they would not be exact ([`Span::increase_seconds`]).
    pub fn expected(&self, at: f64, window: f64) -> Expected {
        let seconds = self.span.increase_seconds(at, window);
        let requests = self.rps * seconds;
        Expected {
            requests,
            errors: self.code_rates()[1].1 * seconds,
            duration_sum: requests * self.mean_latency(),
            duration_count: requests,
            buckets: bucket_labels()
                .into_iter()
                .zip(self.bucket_fractions())
                .map(|(le, fraction)| (le, requests * fraction))
                .collect(),
        }
    }

    fn code_rates(&self) -> [(&'static str, f64); 2] {
        let errors = self.rps * self.error_fraction;
        [("200", self.rps - errors), ("503", errors)]
    }

    fn total_weight(&self) -> f64 {
        self.latencies.iter().map(|&(_, w)| w).sum()
    }

    fn mean_latency(&self) -> f64 {
        self.latencies.iter().map(|&(ms, w)| ms * w).sum::<f64>() / self.total_weight()
    }

    /// The share of requests at or under each bucket bound, `+Inf` last.
    fn bucket_fractions(&self) -> Vec<f64> {
        let total = self.total_weight();
        let under = |le: f64| {
            let weights = self.latencies.iter().filter(|&&(ms, _)| ms <= le);
            weights.map(|&(_, w)| w).sum::<f64>() / total
        };
        ISTIO_BUCKETS
            .iter()
            .map(|&le| under(le))
            .chain([1.0])
            .collect()
    }
}

fn bucket_labels() -> Vec<String> {
    ISTIO_BUCKETS
        .iter()
        .map(|le| le.to_string())
        .chain(["+Inf".to_owned()])
        .collect()
}

/// An OpenMetrics text for promtool to backfill: Istio's families from
/// [`Workload`]s plus any custom counters and gauges.
#[derive(Clone, Debug, Default)]
pub struct OpenMetrics {
    families: Vec<Family>,
}

#[derive(Clone, Debug)]
struct Family {
    name: String,
    kind: &'static str,
    series: Vec<Series>,
}

#[derive(Clone, Debug)]
struct Series {
    labels: Vec<(String, String)>,
    points: Vec<(i64, Point)>,
}

#[derive(Clone, Debug)]
enum Point {
    Value(f64),
    Histogram {
        /// Cumulative, one per [`bucket_labels`].
        buckets: Vec<f64>,
        count: f64,
        sum: f64,
    },
}

impl OpenMetrics {
    /// Empty: a workload never added is the "missing series" case.
    pub fn new() -> OpenMetrics {
        OpenMetrics::default()
    }

    /// Adds the workload's `istio_requests_total` and
    /// `istio_request_duration_milliseconds` series.
    pub fn workload(mut self, w: &Workload) -> OpenMetrics {
        let fractions = w.bucket_fractions();
        let mean = w.mean_latency();
        for reporter in &w.reporters {
            for (code, rate) in w.code_rates() {
                if rate <= 0.0 {
                    continue; // Envoy never exports a code it has not seen
                }
                let mut labels = vec![
                    ("reporter".to_owned(), reporter.clone()),
                    ("destination_workload".to_owned(), w.name.clone()),
                    (
                        "destination_workload_namespace".to_owned(),
                        w.namespace.clone(),
                    ),
                ];
                labels.extend(w.labels.iter().cloned());
                labels.push(("response_code".to_owned(), code.to_owned()));
                // Each line as `slope * x`, x the seconds since the start:
                // one rounding per value, so the series never decrease.
                let x = |t: i64| (t - w.span.start) as f64;
                let requests = w.span.times().map(|t| (t, Point::Value(rate * x(t))));
                self.add(
                    "istio_requests",
                    "counter",
                    labels.clone(),
                    requests.collect(),
                );
                let durations = w.span.times().map(|t| {
                    let buckets = fractions.iter().map(|&f| (rate * f) * x(t)).collect();
                    let point = Point::Histogram {
                        buckets,
                        count: rate * x(t),
                        sum: (rate * mean) * x(t),
                    };
                    (t, point)
                });
                self.add(
                    "istio_request_duration_milliseconds",
                    "histogram",
                    labels,
                    durations.collect(),
                );
            }
        }
        self
    }

    /// A counter family `family` (samples `<family>_total`) growing at
    /// `rate_per_second` from 0 at `span.start`: exact under `increase()`
    /// like the Istio counters (expected: `rate * span.increase_seconds(…)`).
    pub fn custom_counter(
        self,
        family: &str,
        labels: &[(&str, &str)],
        span: Span,
        rate_per_second: f64,
    ) -> OpenMetrics {
        self.custom_counter_with(family, labels, span, |t| {
            rate_per_second * (t - span.start) as f64
        })
    }

    /// A counter with any non-decreasing `value(t)` (t in unix seconds), for
    /// shapes a constant rate cannot give; exactness is then up to you.
    pub fn custom_counter_with(
        mut self,
        family: &str,
        labels: &[(&str, &str)],
        span: Span,
        value: impl Fn(i64) -> f64,
    ) -> OpenMetrics {
        let values: Vec<(i64, f64)> = span.times().map(|t| (t, value(t))).collect();
        assert!(
            values[0].1 >= 0.0 && values.windows(2).all(|w| w[0].1 <= w[1].1),
            "counter {family} must be non-negative and never decrease"
        );
        let points = values.into_iter().map(|(t, v)| (t, Point::Value(v)));
        self.add(family, "counter", owned(labels), points.collect());
        self
    }

    /// A gauge family with `value(t)` at every sample time.
    pub fn custom_gauge(
        mut self,
        family: &str,
        labels: &[(&str, &str)],
        span: Span,
        value: impl Fn(i64) -> f64,
    ) -> OpenMetrics {
        let points = span.times().map(|t| (t, Point::Value(value(t))));
        self.add(family, "gauge", owned(labels), points.collect());
        self
    }

    fn add(
        &mut self,
        family: &str,
        kind: &'static str,
        labels: Vec<(String, String)>,
        points: Vec<(i64, Point)>,
    ) {
        assert!(
            !family.ends_with("_total"),
            "{family}: name the family without `_total`, the samples get it"
        );
        let at = match self.families.iter().position(|f| f.name == family) {
            Some(at) => at,
            None => {
                let name = family.to_owned();
                self.families.push(Family {
                    name,
                    kind,
                    series: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let f = &mut self.families[at];
        assert_eq!(f.kind, kind, "{family} is already a {}", f.kind);
        // promtool would silently drop the second copy's samples.
        assert!(
            f.series.iter().all(|s| s.labels != labels),
            "{family}{labels:?} added twice"
        );
        f.series.push(Series { labels, points });
    }

    /// The OpenMetrics text (module doc: the order promtool and the format
    /// demand).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let les = bucket_labels();
        for family in &self.families {
            let name = &family.name;
            writeln!(out, "# TYPE {name} {}", family.kind).unwrap();
            for series in &family.series {
                let labels = render_labels(&series.labels, None);
                for (t, point) in &series.points {
                    match point {
                        Point::Value(v) if family.kind == "counter" => {
                            writeln!(out, "{name}_total{labels} {v} {t}").unwrap();
                        }
                        Point::Value(v) => writeln!(out, "{name}{labels} {v} {t}").unwrap(),
                        Point::Histogram {
                            buckets,
                            count,
                            sum,
                        } => {
                            for (le, n) in les.iter().zip(buckets) {
                                let with_le = render_labels(&series.labels, Some(le));
                                writeln!(out, "{name}_bucket{with_le} {n} {t}").unwrap();
                            }
                            writeln!(out, "{name}_count{labels} {count} {t}").unwrap();
                            writeln!(out, "{name}_sum{labels} {sum} {t}").unwrap();
                        }
                    }
                }
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

fn owned(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn render_labels(labels: &[(String, String)], le: Option<&str>) -> String {
    let pairs = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(le.map(|le| ("le", le)));
    let body: Vec<String> = pairs
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    if body.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", body.join(","))
    }
}
