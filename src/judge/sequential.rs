//! The sequential test behind every rate objective: at each look it says how
//! many hits (errors, slow requests, misses) reject the candidate and how few
//! promote it, so that promoting a candidate whose true rate is at or above
//! the limit stays at most α = 1 − confidence **whatever the number and
//! timing of the looks**. No I/O; `docs/judging.md` has the reasoning with
//! references, and this comment the proof.
//!
//! # The model
//! A test sees looks k = 1..K. Look k adds `m_k` trials (requests, or for a
//! relative limit the errors of both versions), each a hit with probability
//! `q_k`; `X_k` counts hits since the window opened. The null hypothesis is
//! "the candidate is at the limit": `q_k = null_step` of look k. The trial
//! counts `m_k` are taken as given (they come from the traffic, not from the
//! outcomes), so everything below holds conditionally on them.
//!
//! # The rule at look k
//! - **reject, shown over**: `X_k ≥ r_k`, the smallest count whose likelihood
//!   ratio of the alternative (a mixture: ¾ at twice the limit, ¼ at five
//!   times) against the limit reaches 1/α; under the null this ratio is a
//!   martingale, so by Ville's inequality a candidate at or under the limit
//!   is ever rejected this way with probability at most α;
//! - **promote early** (only once the bake time has passed): `X_k ≤ e_k`, where
//!   `e_k` is the largest count whose likelihood ratio of "under the limit by
//!   the margin" against the limit reaches 2/α, *and* which keeps the spent
//!   early-promotion probability `P₀(promoted at a look ≤ k)`, computed
//!   exactly, at most α/2;
//! - **at the deadline**: promote iff `X_K ≤ c_K`, the largest count with
//!   `P₀(promoted early) + P₀(not stopped before K, X_K ≤ c_K) ≤ α`.
//!
//! # Why wrong promotion is at most α
//! Every path that is promoted either entered the early-promotion region at
//! some look before leaving through the rejection region (probability
//! `P₀(promoted early)` in the recursion below, whether or not the other
//! objectives let the promotion happen then), or never entered either region
//! and ended at or under `c_K`. The two events are disjoint and the
//! recursion computes both exactly, so P₀(promote) ≤ α by the choice of
//! `e_k` and `c_K`. Boundaries of past looks are fixed when they are used;
//! a look that was not recorded (a hook killed before writing its status)
//! promoted nothing, so leaving it out changes no promotion. Rejections
//! that the recursion does not model (curtailment, another objective) only
//! remove promotions. Promotion is monotone in the true rate (couple the
//! requests: a higher rate has at least as many hits at every look), so a
//! candidate above the limit is promoted even less often than one at it.
//!
//! # The recursion
//! `f_k(x) = P₀(not stopped before k, X_k = x)` is `f_{k−1}` convolved with
//! Binomial(`m_k`, `q_k`), with the rejection (`x ≥ r_k`) and early-promotion
//! (`x ≤ e_k`) mass removed after each look. Binomial terms below 10⁻²⁰ of
//! the largest are not computed; [`SLACK`] of α is held back to cover them.

use std::cell::RefCell;
use std::collections::HashMap;

use statrs::function::gamma::ln_gamma;

/// Part of α held back for the probability terms the recursion skips
/// (each below 10⁻²⁰ of its distribution's largest term).
pub const SLACK: f64 = 1e-9;

/// Terms of a distribution smaller than this share of its largest are dropped.
const TINY: f64 = 1e-20;

/// One look as the test sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Trials since the window opened (never fewer than at the look before).
    pub trials: u64,
    /// Per-trial hit probability at the limit, for this look's new trials.
    pub null_step: f64,
    /// The same for all trials so far (what the likelihood ratios use).
    pub null: f64,
    /// The "shown over" alternatives, twice and five times the limit, for
    /// all trials so far.
    pub over: f64,
    pub far: f64,
    /// The "under by the margin" alternative for all trials so far.
    pub under: f64,
    /// The bake time has passed: this look may promote early.
    pub may_promote: bool,
}

impl Step {
    /// A look of an absolute limit `u`: every trial is a hit with
    /// probability `u` at the limit, and the alternatives are fixed
    /// multiples of it (capped below 1).
    pub fn absolute(trials: u64, u: f64, margin: f64, may_promote: bool) -> Step {
        let (over, far) = over_alternatives(u);
        Step {
            trials,
            null_step: u,
            null: u,
            over,
            far,
            under: u * (1.0 - margin),
            may_promote,
        }
    }
}

/// The "shown over" alternatives of limit `u`: twice and five times it,
/// kept below 1.
pub fn over_alternatives(u: f64) -> (f64, f64) {
    (
        (2.0 * u).min((1.0 + u) / 2.0),
        (5.0 * u).min((1.0 + 3.0 * u) / 4.0),
    )
}

/// What one look's boundaries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Reject at this many hits or more (shown over the limit).
    pub reject_at: u64,
    /// Promote at this many hits or fewer; `None`: this look cannot promote.
    pub promote_at: Option<u64>,
}

/// The test's error budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// α: wrong promotions and (by Ville) wrong "shown over" rejections.
    pub alpha: f64,
    /// Part of α that early promotions may spend (α/2).
    pub early: f64,
}

impl Budget {
    pub fn new(confidence: f64) -> Budget {
        let alpha = 1.0 - confidence;
        Budget {
            alpha,
            early: alpha / 2.0,
        }
    }
}

/// Schedules longer than this are not memoised (the simulation's have 12
/// or 24 looks; the hook's grow with every look and are never asked twice).
const MEMO_STEPS: usize = 64;

/// Entries kept: at most 1,024 × 64 steps × 56 bytes, under 4 MB.
const MEMO_ENTRIES: usize = 1024;

thread_local! {
    /// Boundaries already computed, by their inputs. The hook never asks
    /// twice, but the simulation and `assay plan` ask for the same traffic
    /// schedule thousands of times; bounded so it cannot grow without end.
    static MEMO: RefCell<HashMap<Vec<u64>, Vec<Bounds>>> = RefCell::new(HashMap::new());
}

/// Boundaries of every look in `steps`; the last look is the deadline when
/// `last_is_final` (its `promote_at` is then `c_K`).
pub fn bounds(steps: &[Step], budget: Budget, last_is_final: bool) -> Vec<Bounds> {
    if steps.len() > MEMO_STEPS {
        return compute(steps, budget, last_is_final);
    }
    let mut key = Vec::with_capacity(3 + 7 * steps.len());
    key.extend([
        budget.alpha.to_bits(),
        budget.early.to_bits(),
        u64::from(last_is_final),
    ]);
    for s in steps {
        key.extend([
            s.trials,
            s.null_step.to_bits(),
            s.null.to_bits(),
            s.over.to_bits(),
            s.far.to_bits(),
            s.under.to_bits(),
            u64::from(s.may_promote),
        ]);
    }
    if let Some(hit) = MEMO.with(|m| m.borrow().get(&key).cloned()) {
        return hit;
    }
    let out = compute(steps, budget, last_is_final);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_ENTRIES {
            m.clear();
        }
        m.insert(key, out.clone());
    });
    out
}

fn compute(steps: &[Step], budget: Budget, last_is_final: bool) -> Vec<Bounds> {
    let mut out = Vec::with_capacity(steps.len());
    let mut dp = Mass::start();
    let mut spent = 0.0;
    let mut before = 0u64;
    for (i, s) in steps.iter().enumerate() {
        let trials = s.trials.max(before);
        dp.add(trials - before, s.null_step);
        before = trials;
        let reject_at = over_count(trials, s.null, s.over, s.far, budget.alpha);
        dp.cut_from(reject_at);
        let last = i + 1 == steps.len();
        let promote_at = if last && last_is_final {
            dp.largest_within(budget.alpha - SLACK - spent)
        } else if s.may_promote {
            under_count(trials, s.null, s.under, budget.early).and_then(|lr| {
                let room = budget.early - spent;
                dp.largest_within(room).map(|cap| cap.min(lr))
            })
        } else {
            None
        };
        if let Some(e) = promote_at {
            spent += dp.take_through(e);
        }
        out.push(Bounds {
            reject_at,
            promote_at,
        });
    }
    out
}

/// How a run of looks ends under one true rate, for planning and checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Operating {
    /// Probability of promotion (early or at the deadline).
    pub promote: f64,
    /// Per look: the probability of stopping there (either way).
    pub stop: Vec<f64>,
}

/// Exact operating characteristics of fixed `bounds` when each look's new
/// trials hit with probability `rate[k]`.
pub fn operating(steps: &[Step], bounds: &[Bounds], rate: &[f64]) -> Operating {
    let mut dp = Mass::start();
    let mut before = 0u64;
    let (mut promote, mut stop) = (0.0, Vec::with_capacity(steps.len()));
    for ((s, b), &p) in steps.iter().zip(bounds).zip(rate) {
        let trials = s.trials.max(before);
        dp.add(trials - before, p);
        before = trials;
        let rejected = dp.cut_from(b.reject_at);
        let promoted = b.promote_at.map(|e| dp.take_through(e)).unwrap_or(0.0);
        promote += promoted;
        stop.push(rejected + promoted);
    }
    Operating { promote, stop }
}

/// Weights of the "shown over" alternatives: most on twice the limit,
/// some on five times, which cuts a far-off candidate off a look sooner.
pub const OVER_MIX: [f64; 2] = [0.75, 0.25];

/// The smallest hit count at `trials` whose likelihood ratio of the
/// mixture `OVER_MIX` of `over` (2×) and `far` (5×) against `null` reaches
/// 1/α. A mixture of martingales is a martingale, so Ville's inequality
/// bounds it as it bounds one.
pub fn over_count(trials: u64, null: f64, over: f64, far: f64, alpha: f64) -> u64 {
    if !(null > 0.0 && null < over && over < 1.0) {
        // A limit of 0 or 1 leaves nothing to test against: any hit is over.
        return if null <= 0.0 { 1 } else { trials + 1 };
    }
    let far = far.clamp(over, (1.0 + over) / 2.0);
    let parts = [(OVER_MIX[0], over), (OVER_MIX[1], far)];
    let log_mix = |x: f64| {
        let terms: Vec<f64> = parts
            .iter()
            .map(|&(w, p)| {
                w.ln() + x * (p / null).ln() + (trials as f64 - x) * ((1.0 - p) / (1.0 - null)).ln()
            })
            .collect();
        let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    };
    let goal = (1.0 / alpha).ln();
    // Each weighted part alone bounds the count from above; step down from there.
    let mut x = parts
        .iter()
        .map(|&(w, p)| {
            let hit = (p / null).ln();
            let miss = ((1.0 - p) / (1.0 - null)).ln();
            ((goal - w.ln() - trials as f64 * miss) / (hit - miss))
                .ceil()
                .max(0.0)
        })
        .fold(f64::INFINITY, f64::min);
    while x > 0.0 && log_mix(x - 1.0) >= goal {
        x -= 1.0;
    }
    (x as u64).min(trials + 1)
}

/// The largest hit count whose likelihood ratio of `under` against `null`
/// at `trials` reaches 1/`alpha`; `None` when even no hits are not enough.
pub fn under_count(trials: u64, null: f64, under: f64, alpha: f64) -> Option<u64> {
    if !(0.0 < under && under < null && null < 1.0) {
        return None;
    }
    let hit = (under / null).ln();
    let miss = ((1.0 - under) / (1.0 - null)).ln();
    let x = (trials as f64 * miss - (1.0 / alpha).ln()) / (miss - hit);
    (x >= 0.0).then(|| x.floor() as u64)
}

/// `f(x)` over a window of counts: the probability of having `x` hits and
/// not having stopped yet.
struct Mass {
    /// The count at `p[0]`.
    low: u64,
    p: Vec<f64>,
}

impl Mass {
    fn start() -> Mass {
        Mass {
            low: 0,
            p: vec![1.0],
        }
    }

    /// Adds `m` trials, each a hit with probability `q`.
    fn add(&mut self, m: u64, q: f64) {
        if m == 0 || self.p.is_empty() {
            return;
        }
        let (first, pmf) = binomial(m, q);
        let mut out = vec![0.0; self.p.len() + pmf.len() - 1];
        for (i, &a) in self.p.iter().enumerate() {
            if a == 0.0 {
                continue;
            }
            for (j, &b) in pmf.iter().enumerate() {
                out[i + j] += a * b;
            }
        }
        self.low += first;
        self.p = out;
        self.trim();
    }

    /// Removes and returns the mass at counts `≥ x`.
    fn cut_from(&mut self, x: u64) -> f64 {
        if x <= self.low {
            let all = self.p.iter().sum();
            self.p.clear();
            return all;
        }
        let keep = ((x - self.low) as usize).min(self.p.len());
        let gone = self.p[keep..].iter().sum();
        self.p.truncate(keep);
        gone
    }

    /// Removes and returns the mass at counts `≤ x`.
    fn take_through(&mut self, x: u64) -> f64 {
        if x < self.low {
            return 0.0;
        }
        let upto = ((x - self.low + 1) as usize).min(self.p.len());
        let gone = self.p[..upto].iter().sum();
        self.p.drain(..upto);
        self.low += upto as u64;
        gone
    }

    /// The largest `x` whose mass at counts `≤ x` is at most `room`.
    fn largest_within(&self, room: f64) -> Option<u64> {
        if room < 0.0 {
            return None;
        }
        let mut sum = 0.0;
        let mut best = self.low.checked_sub(1);
        for (i, &v) in self.p.iter().enumerate() {
            sum += v;
            if sum > room {
                return best;
            }
            best = Some(self.low + i as u64);
        }
        best
    }

    /// Drops negligible terms at both ends.
    fn trim(&mut self) {
        let max = self.p.iter().cloned().fold(0.0, f64::max);
        let floor = max * TINY;
        let start = self
            .p
            .iter()
            .position(|&v| v > floor)
            .unwrap_or(self.p.len());
        let end = self
            .p
            .iter()
            .rposition(|&v| v > floor)
            .map_or(start, |e| e + 1);
        self.p.truncate(end);
        self.p.drain(..start);
        self.low += start as u64;
    }
}

/// Binomial(m, q) from its first non-negligible count: `(first, pmf)`.
fn binomial(m: u64, q: f64) -> (u64, Vec<f64>) {
    if q <= 0.0 {
        return (0, vec![1.0]);
    }
    if q >= 1.0 {
        return (m, vec![1.0]);
    }
    let n = m as f64;
    let mode = ((n + 1.0) * q).floor().min(n);
    let ln_at = |x: f64| {
        ln_gamma(n + 1.0) - ln_gamma(x + 1.0) - ln_gamma(n - x + 1.0)
            + x * q.ln()
            + (n - x) * (1.0 - q).ln()
    };
    let top = ln_at(mode).exp();
    let odds = q / (1.0 - q);
    let mut up = vec![top];
    let mut x = mode;
    let mut v = top;
    while x < n {
        v *= (n - x) / (x + 1.0) * odds;
        x += 1.0;
        if v < top * TINY {
            break;
        }
        up.push(v);
    }
    let mut down = Vec::new();
    let (mut x, mut v) = (mode, top);
    while x > 0.0 {
        v *= x / (n - x + 1.0) / odds;
        x -= 1.0;
        if v < top * TINY {
            break;
        }
        down.push(v);
    }
    let first = mode as u64 - down.len() as u64;
    down.reverse();
    down.extend(up);
    (first, down)
}

#[cfg(test)]
mod tests;
