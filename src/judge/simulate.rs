//! Seeded simulation of the hook's decision loop without any server: each
//! run draws per-look request and hit counts for both versions, judges every
//! look through [`super::criteria::assess`] with the record of the looks
//! before, exactly as the hook does, and records the verdict and the look
//! it came at. It measures both mistakes (promoting a candidate at or over
//! the limit, rejecting one under it) and how much of the window a verdict
//! takes, for the four kinds of judging README's table reports.

use k8s_openapi::jiff::Timestamp;

use crate::crd::{
    ApplicationRef, Author, CustomMetric, EnvRepo, ExperimentSpec, LookRecord, Objective, Reward,
    VersionRef, WindowSpec, WriteBack,
};
use crate::spec::{ForgeChoice, MetricType, Mode, Pattern, Prefer};

use super::criteria::{Decision, assess};
use super::data::{Latency, Measurements, VersionData};
use super::window::Look;

/// What is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Canary, error-rate at most `limit`.
    Absolute,
    /// Canary, error-rate at most 1.5× the baseline's (which runs at `limit`
    /// / 1.5, so the candidate's limit is `limit`).
    Relative,
    /// Canary, p95-latency at most 500 ms: at most `limit` (5 %) of requests slower.
    Percentile,
    /// A/B: error-rate at most `limit`, and a conversion reward where the
    /// candidate converts 12 % against the baseline's 10 %.
    Ab,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Absolute => "canary, error-rate <= 1%",
            Kind::Relative => "canary, error-rate <= 1.5x baseline",
            Kind::Percentile => "canary, p95-latency <= 500ms",
            Kind::Ab => "A/B, error-rate <= 1% + reward",
        }
    }

    /// The share of requests the limit allows.
    pub fn limit(self) -> f64 {
        match self {
            Kind::Percentile => 0.05,
            _ => 0.01,
        }
    }
}

/// One simulated situation.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub kind: Kind,
    /// The candidate's true rate as a multiple of its limit.
    pub factor: f64,
    pub confidence: f64,
    /// Requests the candidate receives per look (the baseline four times as many).
    pub requests_per_look: u64,
    /// Looks in the window (duration / interval).
    pub looks: u32,
}

/// What `runs` experiments ended with.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub runs: u32,
    pub promoted: u32,
    pub rejected: u32,
    /// Rejections before the deadline.
    pub rejected_early: u32,
    /// Looks used, summed over runs (divide by runs × looks for the share).
    pub looks_used: u64,
}

impl Tally {
    pub fn promote_rate(&self) -> f64 {
        f64::from(self.promoted) / f64::from(self.runs.max(1))
    }

    /// Mean share of the window used before the verdict.
    pub fn window_used(&self, looks: u32) -> f64 {
        self.looks_used as f64 / (f64::from(self.runs.max(1)) * f64::from(looks.max(1)))
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

/// The ExperimentSpec a scenario judges.
pub fn spec(s: &Scenario) -> ExperimentSpec {
    let version = |v: &str| VersionRef {
        version: v.into(),
        image: format!("example/app:{v}"),
        workload: format!("app-{v}"),
    };
    let error_rate = |limit: f64, relative: bool| Objective {
        metric: "error-rate".into(),
        upper_limit: Some(limit),
        lower_limit: None,
        relative,
    };
    let (pattern, objectives, rewards, metrics) = match s.kind {
        Kind::Absolute => (
            Pattern::Canary,
            vec![error_rate(0.01, false)],
            vec![],
            vec![],
        ),
        Kind::Relative => (Pattern::Canary, vec![error_rate(1.5, true)], vec![], vec![]),
        Kind::Percentile => (
            Pattern::Canary,
            vec![Objective {
                metric: "p95-latency".into(),
                upper_limit: Some(500.0),
                lower_limit: None,
                relative: false,
            }],
            vec![],
            vec![],
        ),
        Kind::Ab => (
            Pattern::Ab,
            vec![error_rate(0.01, false)],
            vec![Reward {
                metric: "conversion".into(),
                prefer: Prefer::High,
            }],
            vec![CustomMetric {
                name: "conversion".into(),
                query: "sum(conversions{version=\"{{version}}\"})".into(),
                kind: MetricType::Proportion,
            }],
        ),
    };
    ExperimentSpec {
        id: "simulation".into(),
        release: "app".into(),
        application: ApplicationRef {
            name: "app".into(),
            namespace: None,
        },
        pattern,
        baseline: version("v1"),
        candidate: version("v2"),
        window: WindowSpec {
            warmup_seconds: 0,
            duration_seconds: 10 * u64::from(s.looks),
            interval_seconds: 10,
            min_duration_seconds: 10 * u64::from(s.looks) / 4,
        },
        min_requests: 100,
        confidence: s.confidence,
        margin: 0.5,
        prometheus: "http://prometheus.invalid".into(),
        objectives,
        rewards,
        metrics,
        loadgen: None,
        write_back: WriteBack {
            repo: EnvRepo {
                url: "git://example.invalid/env".into(),
                branch: "main".into(),
                path: "assay.yaml".into(),
                mode: Mode::Push,
                credentials_secret: "assay-git".into(),
                forge: ForgeChoice::Auto,
                api_url: None,
            },
            reject: Mode::Push,
            argocd_server: None,
            author: Author {
                name: "assay".into(),
                email: "assay@assay.dev".into(),
            },
            next: vec![],
            next_environments: vec![],
        },
    }
}

/// One version's running totals.
#[derive(Default, Clone, Copy)]
struct Totals {
    requests: u64,
    hits: u64,
    converted: u64,
}

impl Totals {
    fn data(&self, kind: Kind) -> VersionData {
        let n = self.requests as f64;
        let mut d = VersionData {
            requests: Some(n),
            errors: Some(0.0),
            ..VersionData::default()
        };
        match kind {
            Kind::Percentile => {
                let fast = n - self.hits as f64;
                d.latency = Some(Latency {
                    sum: Some(fast * 100.0 + self.hits as f64 * 900.0),
                    buckets: [("250", fast), ("500", fast), ("1000", n), ("+Inf", n)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                });
            }
            _ => d.errors = Some(self.hits as f64),
        }
        if kind == Kind::Ab && n > 0.0 {
            d.metrics
                .insert("conversion".into(), self.converted as f64 / n);
        }
        d
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
    let limit = s.kind.limit();
    let candidate_rate = limit * s.factor;
    let baseline_rate = match s.kind {
        Kind::Relative => limit / 1.5,
        _ => limit / 2.0,
    };
    for _ in 0..runs {
        let (mut base, mut cand) = (Totals::default(), Totals::default());
        let mut looks: Vec<LookRecord> = Vec::new();
        for k in 1..=s.looks {
            let (nc, nb) = (s.requests_per_look, 4 * s.requests_per_look);
            cand.requests += nc;
            base.requests += nb;
            cand.hits += rng.binomial(nc, candidate_rate.min(1.0));
            base.hits += rng.binomial(nb, baseline_rate);
            if s.kind == Kind::Ab {
                cand.converted += rng.binomial(nc, 0.12);
                base.converted += rng.binomial(nb, 0.10);
            }
            let m = Measurements {
                baseline: base.data(s.kind),
                candidate: cand.data(s.kind),
                queries: 0,
            };
            let look = Look {
                end: Timestamp::UNIX_EPOCH,
                seconds: 10 * u64::from(k),
                is_final: k == s.looks,
            };
            let a = assess(&spec, &looks, &m, &look);
            looks.push(a.record);
            let done = match a.decision {
                Decision::Continue => false,
                Decision::Promote => {
                    t.promoted += 1;
                    true
                }
                Decision::Reject => {
                    t.rejected += 1;
                    if !look.is_final {
                        t.rejected_early += 1;
                    }
                    true
                }
            };
            if done {
                t.looks_used += u64::from(k);
                break;
            }
        }
    }
    t
}

/// The true rates README's table reports, as multiples of the limit.
pub const FACTORS: [f64; 8] = [0.0, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0];

/// Every scenario of the table: each kind, at 1,200 and 12,000 candidate
/// requests over 12 looks, at every factor, 95 % confidence.
pub fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for kind in [Kind::Absolute, Kind::Relative, Kind::Percentile, Kind::Ab] {
        for per_look in [100u64, 1000] {
            for factor in FACTORS {
                out.push(Scenario {
                    kind,
                    factor,
                    confidence: 0.95,
                    requests_per_look: per_look,
                    looks: 12,
                });
            }
        }
    }
    out
}

/// The Markdown table of every scenario, `runs` experiments each.
pub fn table(runs: u32, seed: u64) -> String {
    let mut out = String::from(
        "| judging | candidate requests | true rate | promoted | wrong promotions | wrong rejections | window used |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, s) in scenarios().iter().enumerate() {
        let t = run(s, runs, seed.wrapping_add(i as u64));
        let promoted = 100.0 * t.promote_rate();
        let (wrong_promotions, wrong_rejections) = if s.factor >= 1.0 {
            (format!("{promoted:.1}%"), "-".to_string())
        } else {
            ("-".to_string(), format!("{:.1}%", 100.0 - promoted))
        };
        out.push_str(&format!(
            "| {} | {} | {}x | {promoted:.1}% | {wrong_promotions} | {wrong_rejections} | {:.2} |\n",
            s.kind.name(),
            s.requests_per_look * u64::from(s.looks),
            s.factor,
            t.window_used(s.looks)
        ));
    }
    out
}
