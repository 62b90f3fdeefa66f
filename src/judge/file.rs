//! The `file` provider: per-version aggregates in JSON, for replaying an
//! experiment offline, for the demo, and for tests without a Prometheus.
//!
//! ```json
//! {"versions": {
//!   "v1": {"requests": 4000, "errors": 4,
//!          "latency": {"sum": 480000, "buckets": {"100": 3000, "250": 3990, "+Inf": 4000}},
//!          "metrics": {"conversion": 0.031}},
//!   "v2": {"requests": 1000, "errors": 1}}}
//! ```
//! Versions are keyed by version name or workload name; a version that is
//! absent has no data (which is never a pass).

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::JudgeError;
use super::data::{Measurements, VersionData};
use crate::crd::{ExperimentSpec, VersionRef};

/// The file's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    pub versions: IndexMap<String, VersionData>,
}

/// Reads `path` and picks both versions' data.
pub fn read(path: &Path, spec: &ExperimentSpec) -> Result<Measurements, JudgeError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| JudgeError::Input {
        path: shown.clone(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&shown, &text, spec)
}

/// Parses the file text (errors say line, column and field).
pub fn parse(shown: &str, text: &str, spec: &ExperimentSpec) -> Result<Measurements, JudgeError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let file: MetricsFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        JudgeError::Input {
            path: format!("{shown}:{}:{}", inner.line(), inner.column()),
            message: format!("{}: {}", e.path(), strip_position(&inner.to_string())),
        }
    })?;
    let pick = |v: &VersionRef| {
        file.versions
            .get(&v.version)
            .or_else(|| file.versions.get(&v.workload))
            .cloned()
            .unwrap_or_default()
    };
    Ok(Measurements {
        baseline: pick(&spec.baseline),
        candidate: pick(&spec.candidate),
        queries: 0,
    })
}

/// serde_json appends " at line L column C"; the location is already in front.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
