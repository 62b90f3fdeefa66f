//! Power planning (`assay plan`, and the hint `assay validate` prints): for
//! the traffic a spec declares, what the sequential test of each rate
//! objective will do — the chance of promoting a candidate with no errors,
//! with a tenth and with half of the limit, how long a verdict takes, and
//! the duration that gives 90 % power at half the limit. Computed exactly
//! with the judge's own boundaries, not simulated.

use serde::Serialize;

use crate::spec::{Release, Router};

use super::metrics::Kind;
use super::rates;
use super::sequential::{self, Bounds, Budget, Step};
use crate::crd::Objective;

/// Power the plan asks for at half a limit.
pub const TARGET_POWER: f64 = 0.9;

/// The longest duration the plan searches: the window's own cap.
const LONGEST: u64 = crate::crd::MAX_WINDOW_SECONDS;

/// Most looks one computation uses; longer windows are planned with
/// sparser looks (fewer looks never cost power).
const MOST_LOOKS: u64 = 240;

/// What the spec's traffic can prove.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Candidate requests per second; `None`: the spec declares no traffic.
    pub candidate_rate: Option<f64>,
    /// Where that rate comes from, in words.
    pub traffic: String,
    pub duration_seconds: u64,
    pub interval_seconds: u64,
    pub min_duration_seconds: u64,
    pub confidence: f64,
    /// Expected candidate requests in the window.
    pub requests: Option<u64>,
    pub objectives: Vec<ObjectivePlan>,
    /// Objectives the plan cannot size, with why.
    pub notes: Vec<String>,
}

/// One rate limit's operating characteristics.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectivePlan {
    pub metric: String,
    /// The share of requests the limit allows.
    pub limit: f64,
    /// P(promote) and mean seconds to a verdict, at 0, 0.1×, 0.5× and 5×
    /// the limit.
    pub at: Vec<Point>,
    /// Shortest duration with [`TARGET_POWER`] at half the limit.
    pub duration_for_power: Option<u64>,
    /// Shortest duration in which a candidate with no errors can be promoted.
    pub duration_to_promote: Option<u64>,
}

/// One true rate's outcome.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    /// The true rate as a multiple of the limit.
    pub factor: f64,
    pub promote: f64,
    /// Mean seconds of the window before the verdict.
    pub seconds: f64,
}

/// Plans `rel`'s experiment.
pub fn plan(rel: &Release) -> Plan {
    let e = &rel.experiment;
    let weight = match rel.traffic.router {
        Router::None => 50.0,
        _ => f64::from(rel.traffic.candidate_weight.unwrap_or(10)),
    };
    let qps = rel.loadgen.as_ref().map(|l| l.qps);
    let total = match (qps, e.expected_request_rate) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    let traffic = match (qps, e.expected_request_rate) {
        (Some(q), None) => format!("loadgen {q} qps x {weight}% to the candidate"),
        (None, Some(r)) => format!("expected {r} requests/s x {weight}% to the candidate"),
        (Some(q), Some(r)) => format!("(loadgen {q} + expected {r}) requests/s x {weight}%"),
        (None, None) => {
            "no traffic declared (loadgen, or spec.experiment.expectedRequestRate)".into()
        }
    };
    let candidate_rate = total.map(|t| t * weight / 100.0);
    let secs = |d: std::time::Duration| d.as_secs().max(1);
    let (duration, interval) = (secs(e.duration), secs(e.interval));
    let mut plan = Plan {
        candidate_rate,
        traffic,
        duration_seconds: duration,
        interval_seconds: interval,
        min_duration_seconds: e.min_duration.as_secs(),
        confidence: e.confidence,
        requests: candidate_rate.map(|r| (r * duration as f64).floor() as u64),
        objectives: vec![],
        notes: vec![],
    };
    let Some(rate) = candidate_rate else {
        return plan;
    };
    let bake_share = e.min_duration.as_secs() as f64 / duration as f64;
    let budget = Budget::new(e.confidence);
    for o in &e.objectives {
        // The same limits the judge tests sequentially (`rates::limits`).
        let declared = e
            .metrics
            .get(&o.metric)
            .is_some_and(|c| c.kind == crate::spec::MetricType::Proportion);
        let objective = Objective {
            metric: o.metric.clone(),
            upper_limit: o.upper_limit,
            lower_limit: o.lower_limit,
            relative: o.relative,
        };
        let mut limits = Vec::new();
        for l in rates::limits(&objective, Kind::new(&o.metric, declared)) {
            if l.relative {
                plan.notes.push(format!(
                    "{}: a limit relative to the baseline depends on the baseline's errors; not planned",
                    o.metric
                ));
            } else {
                limits.push(l.null());
            }
        }
        for u in limits {
            let schedule = |d: u64| Schedule::new(rate, d, interval, bake_share, u, e.margin);
            let s = schedule(duration);
            let at = [0.0, 0.1, 0.5, 5.0]
                .into_iter()
                .map(|f| s.point(budget, f))
                .collect();
            let power = |factor: f64| move |d: u64| schedule(d).point(budget, factor).promote;
            plan.objectives.push(ObjectivePlan {
                metric: o.metric.clone(),
                limit: u,
                at,
                duration_for_power: shortest(interval, TARGET_POWER, power(0.5)),
                duration_to_promote: shortest(interval, 0.5, power(0.0)),
            });
        }
    }
    plan
}

/// The looks of one planned window.
struct Schedule {
    steps: Vec<Step>,
    seconds: Vec<u64>,
    limit: f64,
}

impl Schedule {
    fn new(rate: f64, duration: u64, interval: u64, bake_share: f64, u: f64, margin: f64) -> Self {
        let spacing = interval.max(duration.div_ceil(MOST_LOOKS));
        let looks = duration.div_ceil(spacing).max(1);
        let bake = (bake_share * duration as f64).ceil() as u64;
        let mut steps = Vec::new();
        let mut seconds = Vec::new();
        for k in 1..=looks {
            let t = (k * spacing).min(duration);
            let trials = (rate * t as f64).floor() as u64;
            steps.push(Step::absolute(trials, u, margin, t >= bake));
            seconds.push(t);
        }
        Schedule {
            steps,
            seconds,
            limit: u,
        }
    }

    /// P(promote) and the mean time to a verdict at `factor` × the limit,
    /// with curtailment (more hits than the deadline allows) as the hook has it.
    fn point(&self, budget: Budget, factor: f64) -> Point {
        let mut b: Vec<Bounds> = sequential::bounds(&self.steps, budget, true);
        let cap = b.last().and_then(|l| l.promote_at);
        let last = b.len() - 1;
        for x in &mut b[..last] {
            x.reject_at = match cap {
                Some(c) => x.reject_at.min(c + 1),
                None => x.reject_at,
            };
        }
        let rate = vec![(self.limit * factor).min(1.0); self.steps.len()];
        let o = sequential::operating(&self.steps, &b, &rate);
        let end = *self.seconds.last().unwrap_or(&0) as f64;
        let stopped: f64 = o.stop.iter().sum();
        let mut seconds: f64 = o
            .stop
            .iter()
            .zip(&self.seconds)
            .map(|(p, t)| p * *t as f64)
            .sum();
        seconds += (1.0 - stopped).max(0.0) * end;
        Point {
            factor,
            promote: o.promote,
            seconds: (seconds * 10.0).round() / 10.0,
        }
    }
}

/// The shortest duration, in whole intervals, whose power reaches `target`.
fn shortest(interval: u64, target: f64, power: impl Fn(u64) -> f64) -> Option<u64> {
    let mut hi = interval;
    while power(hi) < target {
        if hi >= LONGEST {
            return None;
        }
        hi = (hi * 2).min(LONGEST);
    }
    let mut lo = hi / 2 / interval; // in intervals, known short (or 0)
    let mut top = hi / interval;
    while lo + 1 < top {
        let mid = (lo + top) / 2;
        if power(mid * interval) >= target {
            top = mid;
        } else {
            lo = mid;
        }
    }
    Some(top * interval)
}

impl Plan {
    /// The objective that could not promote even a candidate with no
    /// errors, with the duration and requests that would.
    pub fn impossible(&self) -> Option<(&ObjectivePlan, Option<(u64, u64)>)> {
        let o = self.objectives.iter().find(|o| o.at[0].promote < 0.5)?;
        let needed = o
            .duration_to_promote
            .zip(self.candidate_rate)
            .map(|(d, r)| (d, (r * d as f64).floor() as u64));
        Some((o, needed))
    }

    /// One line for `assay validate`.
    pub fn hint(&self) -> String {
        let Some(requests) = self.requests else {
            return format!("plan: {}", self.traffic);
        };
        let parts: Vec<String> = self
            .objectives
            .iter()
            .map(|o| {
                let half = o.at[2].promote;
                let need = o
                    .duration_for_power
                    .map(human)
                    .unwrap_or_else(|| "more than 30 days".into());
                format!(
                    "{} P(promote) at half the limit {:.0}%, 90% needs {need}",
                    o.metric,
                    100.0 * half
                )
            })
            .collect();
        format!(
            "plan: {requests} candidate requests in {}; {} (assay plan)",
            human(self.duration_seconds),
            if parts.is_empty() {
                "no rate objective to size".to_string()
            } else {
                parts.join("; ")
            }
        )
    }

    /// What `assay plan` prints.
    pub fn text(&self, file: &str) -> String {
        let mut out = format!(
            "{file}: window {} (a look every {}, no promotion before {}), confidence {}\ntraffic: {}",
            human(self.duration_seconds),
            human(self.interval_seconds),
            human(self.min_duration_seconds),
            self.confidence,
            self.traffic
        );
        match (self.candidate_rate, self.requests) {
            (Some(r), Some(n)) => {
                out.push_str(&format!(" = {r} candidate requests/s, {n} in the window\n"))
            }
            _ => out.push('\n'),
        }
        for o in &self.objectives {
            out.push_str(&format!(
                "\n{} (at most {} of requests):\n",
                o.metric, o.limit
            ));
            for p in &o.at {
                let rate = if p.factor == 0.0 {
                    "no errors".to_string()
                } else {
                    format!("{}x the limit", p.factor)
                };
                out.push_str(&format!(
                    "  {rate:<16} P(promote) {:>5.1}%   verdict after {} on average\n",
                    100.0 * p.promote,
                    human(p.seconds.round() as u64)
                ));
            }
            match o.duration_for_power {
                Some(d) => out.push_str(&format!(
                    "  90% power at half the limit needs duration >= {}{}\n",
                    human(d),
                    self.candidate_rate
                        .map(|r| format!(" ({} requests)", (r * d as f64).floor() as u64))
                        .unwrap_or_default()
                )),
                None => out.push_str("  90% power at half the limit needs more than 30 days\n"),
            }
        }
        for n in &self.notes {
            out.push_str(&format!("\n{n}\n"));
        }
        out
    }
}

/// Seconds as `1h2m3s`, `2m`, `45s`.
pub fn human(s: u64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}
