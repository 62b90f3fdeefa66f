//! Judging an experiment: measure both versions over the window (Prometheus
//! or a file), derive every metric, apply the criteria, and say why. Used the
//! same way by `assay judge` (one look, no side effects) and by the promote
//! hook (a look every interval).

pub mod criteria;
pub mod data;
mod estimate;
pub mod file;
pub mod metrics;
pub mod plan;
pub mod prometheus;
pub mod prometheus_auth;
mod rate_row;
pub mod rates;
pub mod report;
mod reward;
pub mod sequential;
pub mod simulate;
pub mod stats;
pub mod window;

use crate::runtime::Runtime;
use std::path::{Path, PathBuf};

use k8s_openapi::jiff::Timestamp;

pub use criteria::{Assessment, Decision, assess};
pub use data::{Measurements, VersionData};
pub use prometheus::Prometheus;
pub use prometheus_auth::{Overrides, PROMETHEUS_AUTH_DIR, PrometheusAuth};
pub use window::{Look, Window};

use crate::crd::{Experiment, LookRecord};

/// Why a look could not be made.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// Prometheus could not be asked or answered nonsense; the URL is redacted.
    #[error("prometheus {url}: {message}")]
    Prometheus { url: String, message: String },
    /// A file given on the command line is unreadable or malformed.
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    /// A file given on the command line is not YAML (with its place).
    #[error(transparent)]
    Yaml(#[from] crate::yaml::SpecError),
    /// The Experiment asks for something the hook cannot do.
    #[error("experiment {name}: {message}")]
    Experiment { name: String, message: String },
}

/// Where measurements come from.
pub enum Source {
    Prometheus(Prometheus),
    File(PathBuf),
}

impl Source {
    /// Measures the look; the file provider ignores time (it is a snapshot).
    pub async fn measure(&self, exp: &Experiment, look: &Look) -> Result<Measurements, JudgeError> {
        match self {
            Source::Prometheus(p) => {
                let ns = exp.metadata.namespace.as_deref().unwrap_or("default");
                p.measure(&exp.spec, ns, look.end, look.seconds).await
            }
            Source::File(path) => file::read(path, &exp.spec),
        }
    }
}

/// One look's result with its context, as reports print it.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub experiment: String,
    pub baseline: String,
    pub candidate: String,
    pub window: Window,
    pub look: Look,
    pub queries: u32,
    pub assessment: Assessment,
}

impl Judgement {
    /// Judges `look`, the look after `earlier` (the looks already made).
    pub fn new(
        exp: &Experiment,
        window: Window,
        look: Look,
        earlier: &[LookRecord],
        m: &Measurements,
    ) -> Judgement {
        Judgement {
            experiment: exp.spec.id.clone(),
            baseline: exp.spec.baseline.version.clone(),
            candidate: exp.spec.candidate.version.clone(),
            window,
            look,
            queries: m.queries,
            assessment: criteria::assess(&exp.spec, earlier, m, &look),
        }
    }
}

/// One look without side effects (`assay judge`): the window ends at `at`
/// (default now) and starts at `started_at` (default: one warmup plus
/// duration before `at`, so the look is the final one).
pub fn once(
    exp: &Experiment,
    source: &Source,
    started_at: Option<Timestamp>,
    at: Option<Timestamp>,
    runtime: &Runtime,
) -> Result<Judgement, JudgeError> {
    let at = at.unwrap_or_else(now);
    let window = match started_at {
        Some(t) => Window::new(t, &exp.spec.window),
        None => Window::ending_at(at, &exp.spec.window),
    };
    let look = window.look(at);
    let m = runtime.block_on(source.measure(exp, &look))?;
    Ok(Judgement::new(exp, window, look, &[], &m))
}

/// Reads an Experiment from a file holding it alone or in a manifest stream
/// (`assay generate` output works as is).
pub fn load_experiment(path: &Path) -> Result<Experiment, JudgeError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| JudgeError::Input {
        path: shown.clone(),
        message: format!("cannot read: {e}"),
    })?;
    parse_experiment(&shown, &text)
}

/// [`load_experiment`] on text.
pub fn parse_experiment(shown: &str, text: &str) -> Result<Experiment, JudgeError> {
    let input = |message: String| JudgeError::Input {
        path: shown.to_string(),
        message,
    };
    let docs = crate::yaml::documents(shown, text)?;
    let doc = docs
        .into_iter()
        .map(|d| d.value)
        .find(|d| {
            d.get("kind").and_then(|k| k.as_str()) == Some("Experiment")
                && d.get("apiVersion").and_then(|k| k.as_str()) == Some("assay.dev/v1alpha1")
        })
        .ok_or_else(|| input("no Experiment (assay.dev/v1alpha1) in it".into()))?;
    let exp: Experiment = serde_path_to_error::deserialize(doc)
        .map_err(|e| input(format!("{}: {}", e.path(), e.inner())))?;
    checked(exp)
}

/// The Experiment if its spec holds what the judge relies on.
pub fn checked(exp: Experiment) -> Result<Experiment, JudgeError> {
    exp.spec.check().map_err(|message| JudgeError::Experiment {
        name: exp.metadata.name.clone().unwrap_or_default(),
        message,
    })?;
    Ok(exp)
}

/// Now, to the second: what windows and reports are shown in.
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

#[cfg(test)]
mod tests;
