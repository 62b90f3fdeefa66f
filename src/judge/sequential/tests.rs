//! The guarantee checked by exact computation: an independent recursion over
//! full binomial distributions (no trimming, no shared code with the
//! engine's `Mass`) evaluates the boundaries `bounds` returns.

use super::*;

fn steps(counts: &[u64], limit: f64, margin: f64, bake: usize) -> Vec<Step> {
    let mut total = 0;
    counts
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            total += m;
            Step::absolute(total, limit, margin, i >= bake)
        })
        .collect()
}

/// log C(n, x) p^x (1-p)^(n-x), computed directly.
fn pmf(n: u64, x: u64, p: f64) -> f64 {
    if p == 0.0 {
        return if x == 0 { 1.0 } else { 0.0 };
    }
    let (n, x) = (n as f64, x as f64);
    (ln_gamma(n + 1.0) - ln_gamma(x + 1.0) - ln_gamma(n - x + 1.0)
        + x * p.ln()
        + (n - x) * (1.0 - p).ln())
    .exp()
}

/// P(promote) of `bounds` when every trial hits with probability `p`,
/// over full arrays 0..reject_at (mass at or above is rejected).
fn promote_probability(steps: &[Step], bounds: &[Bounds], p: f64) -> f64 {
    let cap = bounds.iter().map(|b| b.reject_at).max().unwrap_or(1) as usize;
    let mut f = vec![0.0; cap + 1];
    f[0] = 1.0;
    let (mut before, mut promoted) = (0u64, 0.0);
    for (s, b) in steps.iter().zip(bounds) {
        let m = s.trials - before;
        before = s.trials;
        let table: Vec<f64> = (0..=m.min(cap as u64)).map(|y| pmf(m, y, p)).collect();
        let mut g = vec![0.0; cap + 1];
        for (x, &a) in f.iter().enumerate() {
            if a == 0.0 {
                continue;
            }
            for (y, &t) in table.iter().enumerate().take(cap - x + 1) {
                g[x + y] += a * t;
            }
        }
        for v in g.iter_mut().skip(b.reject_at as usize) {
            *v = 0.0;
        }
        if let Some(e) = b.promote_at {
            for v in g.iter_mut().take(e as usize + 1) {
                promoted += *v;
                *v = 0.0;
            }
        }
        f = g;
    }
    promoted
}

/// Uneven per-look counts around `per_look` (a fixed pseudo-random pattern,
/// with a look that saw no traffic at all).
fn uneven(per_look: u64, looks: usize) -> Vec<u64> {
    (0..looks)
        .map(|i| match i % 5 {
            0 => per_look,
            1 => per_look / 3,
            2 => 0,
            3 => per_look * 2,
            _ => per_look + per_look / 2,
        })
        .collect()
}

#[test]
fn wrong_promotion_at_the_limit_is_at_most_alpha_for_any_looks() {
    for limit in [0.001, 0.01, 0.05] {
        for confidence in [0.9, 0.95, 0.99] {
            let alpha = 1.0 - confidence;
            let budget = Budget::new(confidence);
            for per_look in [100u64, 1000] {
                let counts = uneven(per_look, 12);
                for k in 1..=counts.len() {
                    let s = steps(&counts[..k], limit, 0.5, 2);
                    let b = bounds(&s, budget, true);
                    let p = promote_probability(&s, &b, limit);
                    assert!(
                        p <= alpha,
                        "limit {limit}, confidence {confidence}, {per_look}/look, {k} looks: {p}"
                    );
                    // Above the limit it is rarer still.
                    let above = promote_probability(&s, &b, limit * 1.1);
                    assert!(above <= p + 1e-12, "{above} > {p}");
                }
            }
        }
    }
}

#[test]
fn the_engine_and_the_independent_recursion_agree() {
    let s = steps(&uneven(400, 9), 0.01, 0.5, 2);
    let b = bounds(&s, Budget::new(0.95), true);
    for p in [0.0, 0.001, 0.005, 0.01, 0.02] {
        let rates = vec![p; s.len()];
        let engine = operating(&s, &b, &rates).promote;
        let direct = promote_probability(&s, &b, p);
        assert!(
            (engine - direct).abs() < 1e-12,
            "p {p}: {engine} vs {direct}"
        );
    }
}

#[test]
fn one_look_at_the_deadline_is_the_exact_binomial_test() {
    // P(Bin(1200, 0.01) <= 6) = 0.0454 <= 0.05 < P(<= 7) = 0.0879.
    let s = steps(&[1200], 0.01, 0.5, 0);
    let b = bounds(&s, Budget::new(0.95), true);
    assert_eq!(b[0].promote_at, Some(6));
    // And at 12,000 requests: P(<= 101) = 0.0436 < 0.05 < P(<= 102) = 0.0530.
    let s = steps(&[12_000], 0.01, 0.5, 0);
    assert_eq!(bounds(&s, Budget::new(0.95), true)[0].promote_at, Some(101));
}

#[test]
fn likelihood_ratio_boundaries_match_the_closed_forms() {
    // u = 1%, alpha = 5%, against 2u alone: reject at X >= 4.26 + 0.01443 N
    // (a far alternative equal to the near one is that test);
    // promote (margin 0.5, alpha/2) at X <= 0.00722 N - 5.28.
    for n in [100u64, 384, 1200, 12_000] {
        let want = (4.2597 + 0.014431 * n as f64).ceil() as u64;
        assert_eq!(over_count(n, 0.01, 0.02, 0.02, 0.05), want, "n {n}");
    }
    // The mixture: 5 errors in 100 requests reach 20 (3/4 x 12.2 + 1/4 x 61.6).
    assert_eq!(over_count(100, 0.01, 0.02, 0.05, 0.05), 5);
    // At 12,000 the near alternative dominates: one error more than alone.
    assert_eq!(over_count(12_000, 0.01, 0.02, 0.05, 0.05), 178);
    assert_eq!(under_count(700, 0.01, 0.005, 0.025), None);
    assert_eq!(under_count(733, 0.01, 0.005, 0.025), Some(0));
    assert_eq!(under_count(12_000, 0.01, 0.005, 0.025), Some(81));
}

#[test]
fn early_promotion_never_spends_more_than_half_of_alpha() {
    let s = steps(&[5000; 12], 0.05, 0.5, 0);
    let mut b = bounds(&s, Budget::new(0.9), false);
    // Without the deadline, only early promotions remain.
    let p = promote_probability(&s, &b, 0.05);
    assert!(p <= 0.05, "{p}");
    b.last_mut().unwrap().promote_at = None;
    assert!(promote_probability(&s, &b, 0.05) <= 0.05);
}

#[test]
fn looking_often_costs_at_most_two_points_of_power() {
    // Fixed-sample exact test at 1,200 requests: P(Bin(1200, .005) <= 6).
    let fixed: f64 = (0..=6).map(|x| pmf(1200, x, 0.005)).sum();
    let s = steps(&[100; 12], 0.01, 0.5, 3);
    let b = bounds(&s, Budget::new(0.95), true);
    let seq = operating(&s, &b, &[0.005; 12]).promote;
    assert!(seq >= fixed - 0.02, "sequential {seq} vs fixed {fixed}");
}

#[test]
fn a_candidate_with_no_hits_is_promoted_once_the_evidence_suffices() {
    let s = steps(&[100; 12], 0.01, 0.5, 3);
    let b = bounds(&s, Budget::new(0.95), true);
    // 733 clean requests are needed: the 8th look.
    let first = b.iter().position(|b| b.promote_at.is_some()).unwrap();
    assert_eq!(first, 7);
    let o = operating(&s, &b, &[0.0; 12]);
    assert!((o.promote - 1.0).abs() < 1e-12);
    assert!((o.stop[7] - 1.0).abs() < 1e-12);
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let none = bounds(&[], Budget::new(0.95), true);
    assert!(none.is_empty());
    let s = steps(&[0, 0, 0], 0.01, 0.5, 0);
    let b = bounds(&s, Budget::new(0.95), true);
    assert_eq!(b[2].promote_at, None, "no trials cannot promote");
    let _ = bounds(&steps(&[10], 0.0, 0.5, 0), Budget::new(0.95), true);
    let _ = bounds(&steps(&[10], 1.0, 0.5, 0), Budget::new(0.95), true);
    let (first, p) = binomial(0, 0.3);
    assert_eq!((first, p.len()), (0, 1));
    assert!((p[0] - 1.0).abs() < 1e-12);
    // Nothing seen yet: no hit count can be reached, so none rejects.
    assert_eq!(over_count(0, 0.01, 0.02, 0.05, 0.05), 1);
}
