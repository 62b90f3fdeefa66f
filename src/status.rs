//! `assay status`: the Experiments of a namespace as an operator reads them —
//! phase, look, verdict (and whether it was given by hand), counts per
//! objective, where the verdict went, and how long the candidate has been
//! serving. Read-only: it gets or lists Experiments and nothing else, so a
//! Role with `get`/`list` on `experiments` is all it needs. The objects are
//! read as JSON, not as the CRD type, so an Experiment written by an older
//! or newer hook is shown as far as it can be rather than refused.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{self, ClusterError};
use crate::runtime::Runtime;

/// `--output`: text for people, or data for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Everything `assay status` is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// One Experiment; `None`: every Experiment in the namespace.
    pub name: Option<String>,
    /// `None`: the kubeconfig context's namespace (or the pod's).
    pub namespace: Option<String>,
    pub format: Format,
    /// Keep polling, and print again whenever something shown changed.
    pub watch: bool,
    /// How often `watch` polls.
    pub interval: Duration,
}

/// Why `assay status` could not show anything.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The named Experiment is not in the namespace.
    #[error("no experiment {name} in namespace {namespace}")]
    NotFound { name: String, namespace: String },
}

/// One Experiment, as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// How many looks the hook has made.
    pub look: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The Argo CD action that gave the verdict (or aborted), when by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
    /// The candidate's side of each objective, in the spec's order.
    pub objectives: Vec<ObjectiveRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// Seconds from the start of the load to the verdict's delivery (or now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The candidate's measurement of one objective at the last look.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveRow {
    pub metric: String,
    /// pass, fail, pending or inconclusive; pending before the first look.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Requests counted.
    pub samples: u64,
    /// Rate objectives: the requests counted against the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
}

fn experiments_api(client: kube::Client, namespace: &str) -> Api<DynamicObject> {
    // Read as JSON, so any hook version's objects show; the group, version
    // and plural are the CRD type's own.
    let resource = ApiResource::erase::<crate::crd::Experiment>(&());
    Api::namespaced_with(client, namespace, &resource)
}

/// Runs `assay status`; `out` receives each text to print (once, or at
/// every change with `watch`, which returns only on an error).
pub fn run(
    opts: &Options,
    runtime: &Runtime,
    out: &mut dyn FnMut(&str),
) -> Result<(), StatusError> {
    runtime.block_on(async {
        let (client, default_ns) = cluster::client().await?;
        let namespace = opts.namespace.clone().unwrap_or(default_ns);
        let api = experiments_api(client, &namespace);
        let mut shown: Option<String> = None;
        loop {
            let rows = match fetch(&api, opts, &namespace).await {
                Ok(rows) => rows,
                // A watch outlives a restarting API server; one look does not.
                Err(StatusError::Cluster(e)) if opts.watch && shown.is_some() => {
                    eprintln!("assay: warning: {e}; trying again");
                    tokio::time::sleep(opts.interval).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let text = render(&rows, opts, Timestamp::now());
            if opts.watch {
                // Serving time ticks every second: compare without it.
                let key = render(&rows, opts, Timestamp::UNIX_EPOCH);
                if shown.as_deref() != Some(key.as_str()) {
                    out(&text);
                    shown = Some(key);
                }
                tokio::time::sleep(opts.interval).await;
            } else {
                out(&text);
                return Ok(());
            }
        }
    })
}

/// The Experiments as JSON objects, by name.
async fn fetch(
    api: &Api<DynamicObject>,
    opts: &Options,
    namespace: &str,
) -> Result<Vec<Value>, StatusError> {
    let objects = match &opts.name {
        Some(name) => match api.get_opt(name).await {
            Ok(Some(o)) => vec![o],
            Ok(None) => {
                return Err(StatusError::NotFound {
                    name: name.clone(),
                    namespace: namespace.to_string(),
                });
            }
            Err(e) => return Err(cluster::error(format!("get experiment {name}"), e).into()),
        },
        None => {
            api.list(&ListParams::default())
                .await
                .map_err(|e| cluster::error("list experiments", e))?
                .items
        }
    };
    let mut values: Vec<Value> = objects
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    values.sort_by_key(|v| str_at(v, "/metadata/name"));
    Ok(values)
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn time_at(v: &Value, pointer: &str) -> Option<Timestamp> {
    str_at(v, pointer).and_then(|t| t.parse().ok())
}

/// What is shown of one Experiment (`obj` as the API returned it).
pub fn row(obj: &Value, now: Timestamp) -> Row {
    let status = obj.get("status").cloned().unwrap_or(Value::Null);
    let candidate = str_at(obj, "/spec/candidate/version");
    let evidence: Vec<&Value> = status["evidence"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| candidate.is_some() && e["version"].as_str() == candidate.as_deref())
                .collect()
        })
        .unwrap_or_default();
    let objectives = obj["spec"]["objectives"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|o| o["metric"].as_str())
                .map(|metric| {
                    let e = evidence.iter().find(|e| e["metric"] == metric);
                    ObjectiveRow {
                        metric: metric.to_string(),
                        result: e
                            .and_then(|e| e["result"].as_str())
                            .unwrap_or("pending")
                            .to_string(),
                        value: e.and_then(|e| e["value"].as_f64()),
                        limit: e.and_then(|e| e["limit"].as_str()).map(str::to_string),
                        samples: e.and_then(|e| e["samples"].as_u64()).unwrap_or(0),
                        hits: e.and_then(|e| e["hits"].as_u64()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let start =
        time_at(&status, "/startedAt").or_else(|| time_at(obj, "/metadata/creationTimestamp"));
    let end = time_at(&status, "/deliveredAt").unwrap_or(now);
    let serving_seconds = start.map(|s| end.duration_since(s).as_secs().max(0) as u64);
    let manual = str_at(&status, "/manual/action");
    Row {
        name: str_at(obj, "/metadata/name").unwrap_or_default(),
        namespace: str_at(obj, "/metadata/namespace").unwrap_or_default(),
        release: str_at(obj, "/spec/release"),
        baseline: str_at(obj, "/spec/baseline/version"),
        candidate,
        phase: str_at(&status, "/phase"),
        look: status["iteration"].as_u64().unwrap_or(0),
        verdict: str_at(&status, "/verdict"),
        manual,
        objectives,
        commit: str_at(&status, "/commit"),
        pull_request: str_at(&status, "/pullRequest"),
        serving_seconds,
        message: str_at(&status, "/message"),
    }
}

/// The rows in `opts.format`; with `watch`, JSON is one line per print and
/// YAML one document, so a reader can split the stream.
fn render(objects: &[Value], opts: &Options, now: Timestamp) -> String {
    let rows: Vec<Row> = objects.iter().map(|o| row(o, now)).collect();
    match opts.format {
        Format::Table => table(&rows),
        Format::Json => {
            // Plain data with string keys: serialising cannot fail.
            let one = opts.name.is_some() && rows.len() == 1;
            let v = if one {
                serde_json::to_value(&rows[0])
            } else {
                serde_json::to_value(&rows)
            }
            .unwrap_or(Value::Null);
            if opts.watch {
                format!("{v}\n")
            } else {
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            }
        }
        Format::Yaml => {
            let text = if opts.name.is_some() && rows.len() == 1 {
                serde_saphyr::to_string(&rows[0])
            } else {
                serde_saphyr::to_string(&rows)
            }
            .unwrap_or_default();
            if opts.watch {
                format!("---\n{text}")
            } else {
                text
            }
        }
    }
}

/// `1h02m`, `4m05s`, `12s`: the two largest units, as kubectl shows ages.
pub fn human(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no experiments\n".into();
    }
    let header = [
        "NAME",
        "PHASE",
        "LOOK",
        "VERDICT",
        "CANDIDATE",
        "SERVING",
        "OBJECTIVES",
        "DELIVERED",
    ];
    let dash = || "-".to_string();
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let verdict = match (&r.verdict, &r.manual) {
                (Some(v), Some(a)) => format!("{v} (by hand: {a})"),
                (Some(v), None) => v.clone(),
                (None, Some(a)) => format!("- ({a})"),
                (None, None) => dash(),
            };
            let objectives: Vec<String> = r
                .objectives
                .iter()
                .map(|o| match o.hits {
                    Some(h) => format!("{} {} {h}/{}", o.metric, o.result, o.samples),
                    None if o.samples > 0 => format!("{} {} n={}", o.metric, o.result, o.samples),
                    None => format!("{} {}", o.metric, o.result),
                })
                .collect();
            let candidate = match (&r.candidate, &r.baseline) {
                (Some(c), Some(b)) => format!("{c} vs {b}"),
                (Some(c), None) => c.clone(),
                _ => dash(),
            };
            let delivered = r
                .pull_request
                .clone()
                .or_else(|| r.commit.as_ref().map(|c| c.chars().take(12).collect()))
                .unwrap_or_else(dash);
            [
                r.name.clone(),
                r.phase.clone().unwrap_or_else(dash),
                r.look.to_string(),
                verdict,
                candidate,
                r.serving_seconds.map(human).unwrap_or_else(dash),
                if objectives.is_empty() {
                    dash()
                } else {
                    objectives.join(", ")
                },
                delivered,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(str::to_string));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_shows_the_two_largest_units() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(59), "59s");
        assert_eq!(human(245), "4m05s");
        assert_eq!(human(3720), "1h02m");
        assert_eq!(human(90_061), "1d01h");
    }
}
