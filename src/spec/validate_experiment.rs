//! Rules of `spec.experiment`: window, confidence, and objectives, rewards and
//! custom metrics that are consistent with the chosen pattern. Missing data is
//! never a pass, so an experiment that could never reach a verdict (no
//! objectives in a canary, no reward in an A/B test) is refused here.

use std::time::Duration;

use crate::yaml::Spanned as S;
use indexmap::IndexMap;

use super::check::{Check, R};
use super::duration;
use super::model::*;
use super::raw::{RawJudging, RawObjective};
use super::rules;
use crate::yaml::{Location, SpecError, SpecErrorKind};

/// Placeholders a custom query may use; the hook substitutes them per version.
pub const PLACEHOLDERS: &[&str] = &["version", "workload", "namespace", "window"];

/// `spec.experiment`, with every default; refuses experiments that could never fail or win.
pub(super) fn experiment(file: &str, e: Option<&S<RawJudging>>) -> R<Judging> {
    let c = Check { file };
    let at = |v: &S<String>, path: &str, msg: String| c.at(v, path, msg);
    let err = |l: Location, path: &str, msg: String| c.err(l, path, msg);
    let Some(es) = e else {
        return Ok(Judging {
            pattern: Pattern::Canary,
            warmup: Duration::from_secs(30),
            duration: Duration::from_secs(300),
            interval: Duration::from_secs(10),
            min_duration: Duration::from_secs(75),
            margin: 0.5,
            min_requests: 100,
            expected_request_rate: None,
            confidence: 0.95,
            prometheus: None,
            prometheus_secret: None,
            objectives: default_objectives(),
            rewards: vec![],
            metrics: IndexMap::new(),
        });
    };
    let e = &es.value;
    let section = Location::of(es);
    let secs = Duration::from_secs;
    let warmup = c.duration(&e.warmup, "spec.experiment.warmup", secs(30))?;
    let total = c.duration_min(&e.duration, "spec.experiment.duration", secs(300), secs(1))?;
    let interval = c.duration_min(&e.interval, "spec.experiment.interval", secs(10), secs(1))?;
    if let Err(msg) = rules::within_duration(interval.as_secs(), total.as_secs()) {
        return Err(match &e.interval {
            Some(v) => at(v, "spec.experiment.interval", msg),
            None => err(
                section,
                "spec.experiment.interval",
                format!("the default 10s {msg}"),
            ),
        });
    }
    let min_duration = match &e.min_duration {
        None => Duration::from_secs(total.as_secs() / 4),
        Some(v) => {
            let d =
                duration::parse(&v.value).map_err(|m| at(v, "spec.experiment.minDuration", m))?;
            rules::within_duration(d.as_secs(), total.as_secs())
                .map_err(|m| at(v, "spec.experiment.minDuration", m))?;
            d
        }
    };
    let margin = match &e.margin {
        None => 0.5,
        Some(v) => {
            rules::margin(v.value)
                .map_err(|m| err(Location::of(v), "spec.experiment.margin", m))?;
            v.value
        }
    };
    let expected_request_rate = match &e.expected_request_rate {
        None => None,
        Some(v) if !(v.value > 0.0 && v.value <= 1e9) => {
            return Err(err(
                Location::of(v),
                "spec.experiment.expectedRequestRate",
                format!(
                    "must be a number of requests per second, more than 0 and at most 1000000000, got {}",
                    v.value
                ),
            ));
        }
        Some(v) => Some(v.value),
    };
    let min_requests = match &e.min_requests {
        None => 100,
        Some(v) => c.int(v, "spec.experiment.minRequests", 0, 1_000_000_000)? as u64,
    };
    let confidence = match &e.confidence {
        None => 0.95,
        Some(v) => {
            rules::confidence(v.value)
                .map_err(|m| err(Location::of(v), "spec.experiment.confidence", m))?;
            v.value
        }
    };
    let (prometheus, prometheus_secret) = match &e.prometheus {
        None => (None, None),
        Some(p) => {
            let (path, secret_path) = match p.value.secret {
                None => ("spec.experiment.prometheus", ""),
                Some(_) => (
                    "spec.experiment.prometheus.url",
                    "spec.experiment.prometheus.secret",
                ),
            };
            if !super::names::is_http_url(&p.value.url) {
                return Err(c.at(
                    p,
                    path,
                    format!("expected an http:// or https:// URL, got {:?}", p.value.url),
                ));
            }
            if let Some(name) = p
                .value
                .secret
                .as_ref()
                .filter(|n| !super::names::is_dns1123_subdomain(n))
            {
                return Err(c.at(
                    p,
                    secret_path,
                    format!("must be a Secret name (DNS-1123 subdomain), got {name:?}"),
                ));
            }
            (Some(p.value.url.clone()), p.value.secret.clone())
        }
    };

    let mut metrics = IndexMap::new();
    for (name, m) in e.metrics.iter().flatten() {
        let path = format!("spec.experiment.metrics.{name}");
        let here = Location::of(m);
        if !super::names::is_dns1123_label(name) {
            return Err(err(
                here,
                &path,
                format!("metric names are DNS-1123 labels, got {name:?}"),
            ));
        }
        if BUILTIN_METRICS.contains(&name.as_str()) {
            return Err(err(
                here,
                &path,
                format!("{name} is a built-in metric; choose another name"),
            ));
        }
        let q = &m.value.query;
        check_query(&q.value).map_err(|msg| at(q, &format!("{path}.query"), msg))?;
        metrics.insert(
            name.clone(),
            Custom {
                query: q.value.clone(),
                kind: m.value.kind.unwrap_or_default(),
            },
        );
    }
    let known = |m: &str| BUILTIN_METRICS.contains(&m) || metrics.contains_key(m);
    let unknown = |m: &S<String>, path: &str| {
        at(
            m,
            path,
            format!(
                "unknown metric {:?}; built-in metrics are {} (or define it under spec.experiment.metrics)",
                m.value,
                BUILTIN_METRICS.join(", ")
            ),
        )
    };

    let pattern = e.pattern.unwrap_or_default();
    let mut objectives: Vec<Objective> = Vec::new();
    for (i, o) in e.objectives.iter().flatten().enumerate() {
        let path = format!("spec.experiment.objectives[{i}]");
        let obj = objective(file, &o.value, &path, known, unknown, pattern)?;
        if objectives
            .iter()
            .any(|p| p.metric == obj.metric && p.relative == obj.relative)
        {
            return Err(at(
                &o.value.metric,
                &format!("{path}.metric"),
                format!(
                    "duplicate objective for {}; put both limits in one entry",
                    obj.metric
                ),
            ));
        }
        objectives.push(obj);
    }
    if e.objectives.is_none() {
        objectives = default_objectives();
    }
    let mut rewards: Vec<Reward> = Vec::new();
    for (i, r) in e.rewards.iter().flatten().enumerate() {
        let path = format!("spec.experiment.rewards[{i}].metric");
        if pattern != Pattern::Ab {
            return Err(at(
                &r.value.metric,
                &path,
                "rewards are only used with pattern ab".into(),
            ));
        }
        if !known(&r.value.metric.value) {
            return Err(unknown(&r.value.metric, &path));
        }
        if rewards.iter().any(|p| p.metric == r.value.metric.value) {
            return Err(at(
                &r.value.metric,
                &path,
                format!("duplicate reward for {}", r.value.metric.value),
            ));
        }
        rewards.push(Reward {
            metric: r.value.metric.value.clone(),
            prefer: r.value.prefer,
        });
    }
    rules::judged_by(pattern, objectives.len(), rewards.len()).map_err(|m| {
        let field = match pattern {
            Pattern::Ab => "spec.experiment.rewards",
            Pattern::Canary | Pattern::Slo => "spec.experiment.objectives",
        };
        err(section, field, m)
    })?;
    Ok(Judging {
        pattern,
        warmup,
        duration: total,
        interval,
        min_duration,
        margin,
        min_requests,
        expected_request_rate,
        confidence,
        prometheus,
        prometheus_secret,
        objectives,
        rewards,
        metrics,
    })
}

/// Iter8's tutorial objectives: what a canary should at least not make worse.
fn default_objectives() -> Vec<Objective> {
    vec![Objective {
        metric: "error-rate".into(),
        upper_limit: Some(0.01),
        lower_limit: None,
        relative: false,
    }]
}

fn objective(
    file: &str,
    o: &RawObjective,
    path: &str,
    known: impl Fn(&str) -> bool,
    unknown: impl Fn(&S<String>, &str) -> SpecError,
    pattern: Pattern,
) -> R<Objective> {
    let err = |v: &S<String>, p: &str, msg: String| {
        SpecError::new(file, Location::of(v), p, SpecErrorKind::Invalid(msg))
    };
    let metric = &o.metric.value;
    if !known(metric) {
        return Err(unknown(&o.metric, &format!("{path}.metric")));
    }
    let relative = o.relative.unwrap_or(false);
    if relative && pattern == Pattern::Slo {
        return Err(err(
            &o.metric,
            &format!("{path}.relative"),
            "pattern slo judges the candidate alone; relative limits need a baseline".into(),
        ));
    }
    let kind = if relative {
        MetricKind::Custom
    } else {
        MetricKind::of(metric)
    };
    let limit = |v: &Option<S<String>>, field: &str| -> R<Option<f64>> {
        let Some(v) = v else { return Ok(None) };
        let p = format!("{path}.{field}");
        let x = parse_limit(&v.value, kind).map_err(|m| err(v, &p, m))?;
        if relative && x <= 0.0 {
            return Err(err(
                v,
                &p,
                format!(
                    "a relative limit is a ratio to the baseline and must be positive, got {x}"
                ),
            ));
        }
        Ok(Some(x))
    };
    let upper_limit = limit(&o.upper_limit, "upperLimit")?;
    let lower_limit = limit(&o.lower_limit, "lowerLimit")?;
    rules::limits(lower_limit, upper_limit).map_err(|m| match &o.lower_limit {
        // Both are set: the lower one is out of place.
        Some(v) if upper_limit.is_some() => err(v, &format!("{path}.lowerLimit"), m),
        _ => err(&o.metric, path, m),
    })?;
    Ok(Objective {
        metric: metric.clone(),
        upper_limit,
        lower_limit,
        relative,
    })
}

/// A limit in the metric's own unit: fractions for rates (`0.01` or `1%`),
/// milliseconds for latency (`300` or `300ms`, `1s`), plain numbers otherwise.
pub fn parse_limit(text: &str, kind: MetricKind) -> Result<f64, String> {
    let t = text.trim();
    let number = |s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("expected a number, got {text:?}"))
    };
    let x = match kind {
        MetricKind::Rate => match t.strip_suffix('%') {
            Some(p) => number(p.trim())? / 100.0,
            None => number(t)?,
        },
        MetricKind::Latency if t.ends_with(|c: char| c.is_ascii_alphabetic()) => duration::parse(t)
            .map(|d| d.as_secs_f64() * 1000.0)
            .map_err(|_| format!("expected milliseconds or a duration like 300ms, got {text:?}"))?,
        _ => number(t)?,
    };
    if x < 0.0 {
        return Err(format!("must not be negative, got {text:?}"));
    }
    if kind == MetricKind::Rate && x > 1.0 {
        return Err(format!(
            "a rate is a fraction between 0 and 1 (or a percentage), got {text:?}"
        ));
    }
    Ok(x)
}

/// A custom query must name its version, or both versions would read the same series.
fn check_query(q: &str) -> Result<(), String> {
    if q.trim().is_empty() {
        return Err("expected a PromQL query".into());
    }
    let mut rest = q;
    let mut versioned = false;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("unclosed {{ placeholder".into());
        };
        let name = after[..j].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{{{name}}}}}; use {}",
                PLACEHOLDERS.map_join()
            ));
        }
        versioned |= name == "version" || name == "workload";
        rest = &after[j + 2..];
    }
    if !versioned {
        return Err("must select one version with {{version}} or {{workload}}".into());
    }
    Ok(())
}

trait MapJoin {
    fn map_join(&self) -> String;
}

impl MapJoin for [&str] {
    fn map_join(&self) -> String {
        self.iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_metric_units() {
        assert_eq!(parse_limit("300ms", MetricKind::Latency).unwrap(), 300.0);
        assert_eq!(parse_limit("1s", MetricKind::Latency).unwrap(), 1000.0);
        assert_eq!(parse_limit("250", MetricKind::Latency).unwrap(), 250.0);
        assert_eq!(parse_limit("1%", MetricKind::Rate).unwrap(), 0.01);
        assert!(parse_limit("2", MetricKind::Rate).is_err());
        assert!(parse_limit("fast", MetricKind::Latency).is_err());
        assert!(parse_limit("-1", MetricKind::Count).is_err());
    }

    #[test]
    fn queries_need_a_version() {
        assert!(check_query("sum(rate(x{v=\"{{version}}\"}[{{window}}]))").is_ok());
        assert!(
            check_query("sum(rate(x[{{window}}]))")
                .unwrap_err()
                .contains("{{version}}")
        );
        assert!(
            check_query("x{{{foo}}}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
    }
}
