//! When the experiment measures: from its start (the load generator's start,
//! or the hook's) plus warmup, for `duration`. Every look measures from the
//! window's start to the look (never past the deadline, so a late hook judges
//! the experiment's own window and not the traffic after it).

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::crd::WindowSpec;

/// The experiment's measurement window in absolute time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the load started.
    pub started_at: Timestamp,
    /// `started_at` + warmup: measuring starts here.
    pub start: Timestamp,
    /// `start` + duration: the last look, when an unproven candidate is rejected.
    pub deadline: Timestamp,
}

/// Where one look measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// The instant queried: the look, or the deadline if that came first.
    pub end: Timestamp,
    /// Whole seconds from the window's start to `end`; 0 while warming up.
    pub seconds: u64,
    /// The deadline has passed: this look decides.
    pub is_final: bool,
}

impl Window {
    /// The window of a load that started at `started_at`; times past
    /// jiff's range saturate (the spec's values are capped by `check`).
    pub fn new(started_at: Timestamp, spec: &WindowSpec) -> Window {
        // Whole seconds, as looks are taken (`judge::now`): a fractional
        // start would leave the last look a fraction short of final.
        let started_at = Timestamp::from_second(started_at.as_second()).unwrap_or(started_at);
        let start = add(started_at, spec.warmup_seconds);
        Window {
            started_at,
            start,
            deadline: add(start, spec.duration_seconds),
        }
    }

    /// The window that ends at `at` (what `assay judge` assumes without `--started-at`).
    pub fn ending_at(at: Timestamp, spec: &WindowSpec) -> Window {
        let back = secs(spec.warmup_seconds.saturating_add(spec.duration_seconds));
        Window::new(at.checked_sub(back).unwrap_or(Timestamp::MIN), spec)
    }

    /// The look at `at`.
    pub fn look(&self, at: Timestamp) -> Look {
        let end = at.min(self.deadline);
        let seconds = end.duration_since(self.start).as_secs().max(0) as u64;
        Look {
            end,
            seconds,
            is_final: at >= self.deadline,
        }
    }
}

fn add(t: Timestamp, s: u64) -> Timestamp {
    t.checked_add(secs(s)).unwrap_or(Timestamp::MAX)
}

fn secs(s: u64) -> SignedDuration {
    SignedDuration::from_secs(s.min(i64::MAX as u64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WindowSpec {
        WindowSpec {
            warmup_seconds: 30,
            duration_seconds: 120,
            interval_seconds: 10,
            min_duration_seconds: 30,
        }
    }

    #[test]
    fn looks_clamp_to_the_deadline() {
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let w = Window::new(t0, &spec());
        assert_eq!(w.look(t0).seconds, 0);
        let mid = w.look(t0 + secs(90));
        assert_eq!((mid.seconds, mid.is_final), (60, false));
        let late = w.look(t0 + secs(3600));
        assert_eq!(
            (late.seconds, late.is_final, late.end),
            (120, true, w.deadline)
        );
    }

    #[test]
    fn a_fractional_start_still_reaches_a_final_look() {
        // Looks are taken at whole seconds (judge::now); the benchmark found
        // a hook spinning for up to a second when the deadline was not.
        let t0: Timestamp = "2026-11-22T10:00:00.7Z".parse().unwrap();
        let w = Window::new(t0, &spec());
        let whole: Timestamp = "2026-11-22T10:02:30Z".parse().unwrap();
        assert_eq!(w.deadline, whole);
        assert!(w.look(whole).is_final);
    }

    #[test]
    fn ending_at_puts_the_deadline_at_the_look() {
        let at: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let w = Window::ending_at(at, &spec());
        assert_eq!(w.deadline, at);
        assert!(w.look(at).is_final);
    }
}
