//! Seeded simulation of the hook's decision loop without any server: each
//! run draws per-interval request and error counts for both versions, looks
//! after every interval exactly as the hook does (early rejection allowed,
//! promotion only at the deadline), and records the verdict. It measures how
//! often a candidate whose true error rate is at or above the limit gets
//! promoted, which the criteria promise stays at or below 1 − confidence.

use crate::experiment::{
    ApplicationRef, Author, ExperimentSpec, Objective, VersionRef, Window, WriteBack,
};
use crate::spec::{Forge, Mode, Pattern};

use super::criteria::{Verdict, assess};
use super::data::{Measurements, VersionData};

/// One simulated situation.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The candidate's true error rate.
    pub true_rate: f64,
    /// The objective: error-rate at most this.
    pub limit: f64,
    pub confidence: f64,
    /// Requests each version receives per interval.
    pub requests_per_look: u64,
    /// Intervals in the window (duration / interval).
    pub looks: u32,
    pub min_requests: u64,
}

/// What 1,000 (or `runs`) experiments ended with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub runs: u32,
    pub promoted: u32,
    pub rejected: u32,
    /// Rejections before the deadline.
    pub rejected_early: u32,
}

impl Tally {
    pub fn promote_rate(&self) -> f64 {
        f64::from(self.promoted) / f64::from(self.runs.max(1))
    }
}

/// SplitMix64: small, seedable and good enough for Bernoulli draws.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Binomial(n, p), exactly, by geometric jumps between successes.
    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let log_q = (1.0 - p).ln();
        let (mut at, mut hits) = (0u64, 0u64);
        loop {
            let gap = (self.next_f64().ln() / log_q).floor() as u64 + 1;
            at = at.saturating_add(gap);
            if at > n {
                return hits;
            }
            hits += 1;
        }
    }
}

/// The ExperimentSpec the scenario judges (canary, one error-rate objective).
pub fn spec(s: &Scenario) -> ExperimentSpec {
    let version = |v: &str| VersionRef {
        version: v.into(),
        image: format!("example/app:{v}"),
        workload: format!("app-{v}"),
    };
    ExperimentSpec {
        id: "simulation".into(),
        release: "app".into(),
        application: ApplicationRef {
            name: "app".into(),
            namespace: None,
        },
        pattern: Pattern::Canary,
        baseline: version("v1"),
        candidate: version("v2"),
        window: Window {
            warmup_seconds: 0,
            duration_seconds: 10 * u64::from(s.looks),
            interval_seconds: 10,
        },
        min_requests: s.min_requests,
        confidence: s.confidence,
        prometheus: "http://prometheus.invalid".into(),
        objectives: vec![Objective {
            metric: "error-rate".into(),
            upper_limit: Some(s.limit),
            lower_limit: None,
            relative: false,
        }],
        rewards: vec![],
        metrics: vec![],
        loadgen: None,
        write_back: WriteBack {
            repo_url: "git://example.invalid/env".into(),
            branch: "main".into(),
            path: "assay.yaml".into(),
            mode: Mode::Push,
            credentials_secret: "assay-git".into(),
            forge: Forge::Auto,
            api_url: None,
            author: Author {
                name: "assay".into(),
                email: "assay@assay.dev".into(),
            },
            next: vec![],
        },
    }
}

/// Runs `runs` seeded experiments of the scenario.
pub fn run(s: &Scenario, runs: u32, seed: u64) -> Tally {
    let spec = spec(s);
    let mut rng = Rng(seed);
    let mut t = Tally {
        runs,
        ..Tally::default()
    };
    for _ in 0..runs {
        let (mut n, mut base_err, mut cand_err) = (0u64, 0u64, 0u64);
        for look in 1..=s.looks {
            n += s.requests_per_look;
            base_err += rng.binomial(s.requests_per_look, s.limit / 2.0);
            cand_err += rng.binomial(s.requests_per_look, s.true_rate);
            let data = |errors: u64| VersionData {
                requests: Some(n as f64),
                errors: Some(errors as f64),
                ..VersionData::default()
            };
            let m = Measurements {
                baseline: data(base_err),
                candidate: data(cand_err),
                queries: 0,
            };
            let is_final = look == s.looks;
            match assess(&spec, &m, is_final).verdict {
                Verdict::Continue => continue,
                Verdict::Promote => t.promoted += 1,
                Verdict::Reject => {
                    t.rejected += 1;
                    if !is_final {
                        t.rejected_early += 1;
                    }
                }
            }
            break;
        }
    }
    t
}

/// The scenarios README's table reports: true rates from half the limit to
/// double it, at two traffic levels, for a 1% limit at 95% confidence.
pub fn scenarios() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for (traffic, per_look) in [("1,200 req", 100u64), ("12,000 req", 1000)] {
        for (label, factor) in [
            ("half the limit", 0.5),
            ("just under (0.9x)", 0.9),
            ("at the limit", 1.0),
            ("just over (1.1x)", 1.1),
            ("double", 2.0),
        ] {
            out.push((
                format!("{traffic}, {label}"),
                Scenario {
                    true_rate: 0.01 * factor,
                    limit: 0.01,
                    confidence: 0.95,
                    requests_per_look: per_look,
                    looks: 12,
                    min_requests: 200,
                },
            ));
        }
    }
    out
}

/// The Markdown table of every scenario, `runs` experiments each.
pub fn table(runs: u32, seed: u64) -> String {
    let mut out = String::from(
        "| scenario (candidate error rate vs 1% limit) | promoted | rejected | of which early | wrong promotions |\n|---|---:|---:|---:|---|\n",
    );
    for (i, (name, s)) in scenarios().iter().enumerate() {
        let t = run(s, runs, seed.wrapping_add(i as u64));
        let wrong = if s.true_rate >= s.limit {
            format!(
                "{:.1}% (≤ {:.0}% allowed)",
                100.0 * t.promote_rate(),
                100.0 * (1.0 - s.confidence)
            )
        } else {
            "n/a (promotion is right)".into()
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {wrong} |\n",
            t.promoted, t.rejected, t.rejected_early
        ));
    }
    out
}
