//! The Prometheus provider: instant queries (`/api/v1/query`) over the
//! window, at most four for the built-in metrics whatever the number of
//! objectives (requests, 5xx, latency sum, latency buckets, each grouped by
//! `destination_workload` so one query answers for both versions), plus one
//! per custom metric and version. Selection follows Iter8's Istio metrics:
//! `reporter="source"`, destination workload and namespace.

use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use super::JudgeError;
use super::data::{Latency, Measurements};
use super::metrics::percentile;
use super::prometheus_auth::PrometheusAuth;
use crate::crd::ExperimentSpec;
use crate::gitops::credentials::redact_url;
use crate::spec::MetricKind;

/// A Prometheus HTTP API client.
pub struct Prometheus {
    base: String,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    value: (f64, String),
}

/// Which built-in aggregates the objectives and rewards need.
#[derive(Debug, Default, Clone, Copy)]
struct Needs {
    errors: bool,
    latency_sum: bool,
    buckets: bool,
}

impl Prometheus {
    /// A client for the server at `url` (http or https, no trailing path
    /// needed), without credentials.
    pub fn new(url: &str) -> Result<Prometheus, JudgeError> {
        Prometheus::with_auth(url, &PrometheusAuth::none())
    }

    /// A client for the server at `url` that authenticates with `auth`.
    pub fn with_auth(url: &str, auth: &PrometheusAuth) -> Result<Prometheus, JudgeError> {
        let shown = redact_url(url);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(JudgeError::Prometheus {
                url: shown,
                message: "must be an http:// or https:// URL".into(),
            });
        }
        crate::tls::init();
        let builder = reqwest::Client::builder()
            .user_agent(concat!("assay/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            // Redirects only within the server's origin: elsewhere an
            // extra header (an API key) would travel along.
            .redirect(same_origin(url));
        let client = auth
            .apply(builder)
            .map_err(|message| JudgeError::Prometheus {
                url: shown.clone(),
                message,
            })?
            .build()
            .map_err(|e| JudgeError::Prometheus {
                url: shown.clone(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Prometheus {
            base: url.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// Both versions' aggregates over `seconds` ending at `end`.
    pub async fn measure(
        &self,
        spec: &ExperimentSpec,
        namespace: &str,
        end: Timestamp,
        seconds: u64,
    ) -> Result<Measurements, JudgeError> {
        let mut m = Measurements::default();
        if seconds == 0 {
            return Ok(m);
        }
        let (b, c) = (&spec.baseline.workload, &spec.candidate.workload);
        let selector = format!(
            r#"reporter="source",destination_workload=~"{}|{}",destination_workload_namespace="{}""#,
            regex_quote(b),
            regex_quote(c),
            namespace
        );
        let range = format!("[{seconds}s]");
        let by = |metric: &str, extra: &str, group: &str| {
            format!("sum by ({group}) (increase({metric}{{{selector}{extra}}}{range}))")
        };
        let needs = needs(spec);
        let requests = self
            .query(&by("istio_requests_total", "", "destination_workload"), end)
            .await?;
        m.queries += 1;
        let errors = if needs.errors {
            m.queries += 1;
            let q = by(
                "istio_requests_total",
                r#",response_code=~"5..""#,
                "destination_workload",
            );
            Some(self.query(&q, end).await?)
        } else {
            None
        };
        let sums = if needs.latency_sum {
            m.queries += 1;
            let q = by(
                "istio_request_duration_milliseconds_sum",
                "",
                "destination_workload",
            );
            Some(self.query(&q, end).await?)
        } else {
            None
        };
        let buckets = if needs.buckets {
            m.queries += 1;
            let q = by(
                "istio_request_duration_milliseconds_bucket",
                "",
                "destination_workload, le",
            );
            Some(self.query(&q, end).await?)
        } else {
            None
        };
        for (workload, data) in [(b, &mut m.baseline), (c, &mut m.candidate)] {
            let of = |s: &Sample| s.metric.get("destination_workload") == Some(workload);
            data.requests = requests.iter().find(|s| of(s)).and_then(value);
            // No 5xx series while requests exist means no 5xx (Iter8's `or on() vector(0)`).
            data.errors = errors.as_ref().and_then(|e| {
                e.iter()
                    .find(|s| of(s))
                    .and_then(value)
                    .or(data.requests.map(|_| 0.0))
            });
            if needs.latency_sum || needs.buckets {
                let sum = sums
                    .as_ref()
                    .and_then(|s| s.iter().find(|s| of(s)).and_then(value));
                let bucket_map: indexmap::IndexMap<String, f64> = buckets
                    .iter()
                    .flatten()
                    .filter(|s| of(s))
                    .filter_map(|s| Some((s.metric.get("le")?.clone(), value(s)?)))
                    .collect();
                if sum.is_some() || !bucket_map.is_empty() {
                    data.latency = Some(Latency {
                        sum,
                        buckets: bucket_map,
                    });
                }
            }
        }
        for custom in &spec.metrics {
            if !referenced(spec, &custom.name) {
                continue;
            }
            for (version, data) in [
                (&spec.baseline, &mut m.baseline),
                (&spec.candidate, &mut m.candidate),
            ] {
                let q = custom
                    .query
                    .replace("{{version}}", &version.version)
                    .replace("{{workload}}", &version.workload)
                    .replace("{{namespace}}", namespace)
                    .replace("{{window}}", &format!("{seconds}s"));
                m.queries += 1;
                let result = self.query(&q, end).await?;
                if result.len() > 1 {
                    return Err(JudgeError::Prometheus {
                        url: redact_url(&self.base),
                        message: format!(
                            "metric {}: the query returned {} series for {}; aggregate it to one (e.g. with sum())",
                            custom.name,
                            result.len(),
                            version.version
                        ),
                    });
                }
                if let Some(v) = result.first().and_then(value) {
                    data.metrics.insert(custom.name.clone(), v);
                }
            }
        }
        Ok(m)
    }

    async fn query(&self, promql: &str, at: Timestamp) -> Result<Vec<Sample>, JudgeError> {
        let fail = |message: String| JudgeError::Prometheus {
            url: redact_url(&self.base),
            message,
        };
        let time = format!("{:.3}", at.as_millisecond() as f64 / 1000.0);
        let resp = self
            .client
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", promql), ("time", time.as_str())])
            .send()
            .await
            .map_err(|e| fail(transport(&e)))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| fail(transport(&e)))?;
        let parsed: Response = serde_json::from_str(&body).map_err(|_| {
            fail(format!(
                "HTTP {status}: not a Prometheus API answer: {}",
                body.chars().take(200).collect::<String>()
            ))
        })?;
        if parsed.status != "success" {
            return Err(fail(format!(
                "HTTP {status}: {} (query: {promql})",
                parsed.error.unwrap_or_else(|| "error".into())
            )));
        }
        let data = parsed
            .data
            .ok_or_else(|| fail("answer without data".into()))?;
        match data.result_type.as_str() {
            "vector" => serde_json::from_value(data.result)
                .map_err(|e| fail(format!("malformed vector: {e} (query: {promql})"))),
            // `scalar(...)`: one value, no labels.
            "scalar" => {
                let value: (f64, String) = serde_json::from_value(data.result)
                    .map_err(|e| fail(format!("malformed scalar: {e} (query: {promql})")))?;
                Ok(vec![Sample {
                    metric: Default::default(),
                    value,
                }])
            }
            other => Err(fail(format!(
                "expected an instant vector or a scalar, got {other} (query: {promql})"
            ))),
        }
    }
}

fn same_origin(url: &str) -> reqwest::redirect::Policy {
    let origin = reqwest::Url::parse(url).ok().map(|u| u.origin());
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 || Some(attempt.url().origin()) != origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// A sample's value; NaN (0/0) and infinities (x/0) are no data.
fn value(s: &Sample) -> Option<f64> {
    s.value.1.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// reqwest's message without the URL it carries (which may hold credentials).
fn transport(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

fn regex_quote(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                vec!['\\', '\\', c]
            }
            c => vec![c],
        })
        .collect()
}

fn metric_names(spec: &ExperimentSpec) -> impl Iterator<Item = &str> {
    spec.objectives
        .iter()
        .map(|o| o.metric.as_str())
        .chain(spec.rewards.iter().map(|r| r.metric.as_str()))
}

fn referenced(spec: &ExperimentSpec, name: &str) -> bool {
    metric_names(spec).any(|m| m == name)
}

fn needs(spec: &ExperimentSpec) -> Needs {
    let mut n = Needs::default();
    for m in metric_names(spec) {
        match m {
            "error-count" | "error-rate" => n.errors = true,
            "mean-latency" => {
                n.latency_sum = true;
                n.buckets = true;
            }
            m if percentile(m).is_some() && MetricKind::of(m) == MetricKind::Latency => {
                n.buckets = true
            }
            _ => {}
        }
    }
    n
}
