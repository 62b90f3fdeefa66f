//! The PostSync hook (DESIGN §4): load the Experiment, resume a verdict
//! already recorded, else judge every interval over the window until the
//! candidate is promoted, rejected or superseded; record the verdict and its
//! evidence in the status before touching Git; then write it back. The
//! SyncFail variant (`--sync-failed`) rejects a candidate that could not even
//! start. Every step is idempotent: a killed hook re-run resumes.

mod record;
mod syncfail;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use tokio::runtime::Runtime;

use crate::cluster::{Cluster, ClusterError};
use crate::experiment::Experiment;
use crate::gitops::credentials::{Credentials, CredentialsError};
use crate::gitops::edit::Verdict as EditVerdict;
use crate::gitops::repo::Remote;
use crate::gitops::writeback::{self, Outcome, WriteBackError};
use crate::judge::{self, JudgeError, Judgement, Prometheus, Source, Verdict, Window, report};

use record::Recorder;
pub use record::Status;
use watch::{Held, Watch};

/// Everything `assay promote` is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run locally from this file instead of loading the Experiment from the API.
    pub experiment: Option<PathBuf>,
    /// The Experiment's name and namespace in the cluster (`ASSAY_EXPERIMENT`, `ASSAY_NAMESPACE`).
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// Overrides the Experiment's Prometheus URL.
    pub prometheus: Option<String>,
    /// Judge from a metrics file instead of Prometheus (offline replay, demo).
    pub metrics: Option<PathBuf>,
    /// Start of the load, when neither the loadgen Job nor an earlier run says.
    pub started_at: Option<Timestamp>,
    /// The mounted Git credentials Secret.
    pub credentials: PathBuf,
    /// SyncFail hook: reject only if the candidate is why the sync failed.
    pub sync_failed: bool,
    /// How long the write-back may retry.
    pub git_deadline: Duration,
}

/// How the hook ended; every one of these exits 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// A verdict was judged (or resumed) and delivered.
    Delivered {
        verdict: String,
        reason: String,
        outcome: Outcome,
    },
    /// Git no longer holds this experiment.
    Superseded { found: Option<String> },
    /// Nothing to do (a sync failure that is not the candidate's, a verdict already written).
    Nothing(String),
}

/// Why the hook could not do its job (exit 1), or was stopped (exit 143).
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Judge(#[from] JudgeError),
    #[error(transparent)]
    WriteBack(#[from] WriteBackError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("{0}")]
    Setup(String),
    /// SIGTERM: the status says so; a re-run resumes.
    #[error("stopped by SIGTERM at look {iteration}; the status says so and a re-run resumes")]
    Stopped { iteration: u32 },
}

/// Set by the SIGTERM handler; checked between and during waits.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// How long measuring may keep failing after the deadline before the hook gives up.
const MEASURE_GRACE: Duration = Duration::from_secs(300);

/// Runs the hook. `log` receives the progress lines (stderr in the binary).
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> Result<Finished, PromoteError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PromoteError::Setup(format!("cannot start the async runtime: {e}")))?;
    let (exp, cluster) = load(opts, &runtime)?;
    let rec = Recorder {
        cluster: cluster.as_ref(),
        runtime: &runtime,
        experiment: &exp,
    };
    let creds = Credentials::from_dir(&opts.credentials)?;
    let remote = Remote::new(&exp.spec.write_back.repo_url, creds);
    let status = exp.status.clone().unwrap_or_default();
    if status.commit.is_some() || status.pull_request.is_some() {
        let done = status.commit.or(status.pull_request).unwrap_or_default();
        return Ok(Finished::Nothing(format!(
            "the verdict is already delivered ({done})"
        )));
    }
    match status.verdict.as_deref() {
        Some(v @ ("promote" | "reject")) => {
            log(&format!(
                "resuming: the status already holds the verdict {v}"
            ));
            let reason = status.message.clone().unwrap_or_default();
            let window = status.started_at.clone().unwrap_or_default();
            let evidence =
                report::markdown_of(v, &reason, &format!("from {window}"), &status.evidence);
            return deliver(&rec, &remote, opts, v, &reason, evidence, log);
        }
        Some("superseded") => {
            return Ok(Finished::Nothing("the experiment was superseded".into()));
        }
        _ => {}
    }
    if opts.sync_failed {
        return syncfail::run(&rec, &remote, opts, log);
    }
    judge_loop(&rec, &remote, opts, log)
}

/// The Experiment, from the file or the API (with the cluster connection).
fn load(opts: &Options, rt: &Runtime) -> Result<(Experiment, Option<Cluster>), PromoteError> {
    if let Some(path) = &opts.experiment {
        return Ok((judge::load_experiment(path)?, None));
    }
    let (Some(name), Some(ns)) = (&opts.name, &opts.namespace) else {
        return Err(PromoteError::Setup(
            "no --experiment FILE, and ASSAY_EXPERIMENT / ASSAY_NAMESPACE are not set (the hook Job sets them)"
                .into(),
        ));
    };
    let cluster = rt.block_on(Cluster::connect(ns))?;
    let exp = rt.block_on(cluster.experiment(name))?;
    Ok((exp, Some(cluster)))
}

/// Where measuring starts: `--started-at`, else the load generator's start,
/// else an earlier run's, else now; and when the load generator completed.
fn load_times(
    rec: &Recorder,
    opts: &Options,
) -> Result<(Timestamp, Option<Timestamp>), PromoteError> {
    let (job_start, job_done) = match (rec.cluster, &rec.experiment.spec.loadgen) {
        (Some(c), Some(lg)) => rec.runtime.block_on(c.job_times(&lg.job))?,
        _ => (None, None),
    };
    if let Some(t) = opts.started_at.or(job_start) {
        return Ok((t, job_done));
    }
    let earlier = rec
        .experiment
        .status
        .as_ref()
        .and_then(|s| s.started_at.as_deref())
        .and_then(|s| s.parse().ok());
    Ok((earlier.unwrap_or_else(judge::now), job_done))
}

fn source(rec: &Recorder, opts: &Options) -> Result<Source, PromoteError> {
    Ok(match (&opts.metrics, &opts.prometheus) {
        (Some(f), _) => Source::File(f.clone()),
        (None, Some(url)) => Source::Prometheus(Prometheus::new(url)?),
        (None, None) => Source::Prometheus(Prometheus::new(&rec.experiment.spec.prometheus)?),
    })
}

fn judge_loop(
    rec: &Recorder,
    remote: &Remote,
    opts: &Options,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let exp = rec.experiment;
    let spec = &exp.spec;
    let source = source(rec, opts)?;
    let (started_at, load_done) = load_times(rec, opts)?;
    let mut window = Window::new(started_at, &spec.window);
    // Load that ended early (the Job completed) makes waiting pointless: the
    // window closes when the load did.
    if let Some(done) = load_done.filter(|d| *d > window.start && *d < window.deadline) {
        window.deadline = done;
    }
    let interval = Duration::from_secs(spec.window.interval_seconds.max(1));
    let wb = &spec.write_back;
    let mut watch = Watch::new(remote, &wb.branch, &wb.path, &spec.id);
    let mut iteration = exp.status.as_ref().and_then(|s| s.iteration).unwrap_or(0);
    rec.status(&Status {
        phase: Some("Running"),
        message: Some(format!(
            "judging {} against {}; window {} to {}",
            spec.candidate.version, spec.baseline.version, window.start, window.deadline
        )),
        started_at: Some(window.started_at.to_string()),
        ..Status::default()
    })?;
    rec.event(
        false,
        "Judge",
        "Started",
        &format!(
            "judging {} against {} until {}",
            spec.candidate.version, spec.baseline.version, window.deadline
        ),
    );
    log(&format!(
        "experiment {}: {} vs {}, window {} to {}, a look every {}s",
        spec.id,
        spec.candidate.version,
        spec.baseline.version,
        window.start,
        window.deadline,
        interval.as_secs()
    ));
    loop {
        if let Some(stopped) = stop_requested(rec, iteration)? {
            return Err(stopped);
        }
        match watch.check() {
            Ok(Held::Ours) => {}
            Ok(Held::Other(found)) => return superseded(rec, found, log),
            Ok(Held::Delivered(commit)) => {
                let why = format!("the verdict is already in the env repo: {commit}");
                log(&why);
                rec.status(&Status {
                    phase: Some("Completed"),
                    commit: Some(commit),
                    message: Some(why.clone()),
                    ..Status::default()
                })?;
                return Ok(Finished::Nothing(why));
            }
            Err(e) => log(&format!("warning: cannot poll the env repo: {e}")),
        }
        let now = judge::now();
        let look = window.look(now);
        if look.seconds == 0 && !look.is_final {
            log(&format!("warming up until {}", window.start));
            sleep_until(window.start);
            continue;
        }
        let measured = rec.runtime.block_on(source.measure(exp, &look));
        let m = match measured {
            Ok(m) => m,
            Err(e) if !look.is_final || now < window.deadline + grace() => {
                log(&format!(
                    "warning: {e}; trying again in {}s",
                    interval.as_secs()
                ));
                sleep_for(interval);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        iteration += 1;
        let j = Judgement::new(exp, window, look, &m);
        let a = &j.assessment;
        log(&format!(
            "look {iteration} ({}s of {}s, {} queries): {}: {}",
            look.seconds,
            spec.window.duration_seconds,
            m.queries,
            a.verdict.as_str(),
            a.reason
        ));
        let decided = a.verdict != Verdict::Continue;
        rec.status(&Status {
            phase: Some("Running"),
            verdict: decided.then(|| a.verdict.as_str().to_string()),
            message: Some(a.reason.clone()),
            iteration: Some(iteration),
            evidence: Some(a.evidence.clone()),
            ..Status::default()
        })?;
        if decided {
            let reason = a.reason.clone();
            let v = a.verdict.as_str();
            rec.event(
                a.verdict == Verdict::Reject,
                "Judge",
                if a.verdict == Verdict::Promote {
                    "Promoted"
                } else {
                    "Rejected"
                },
                &reason,
            );
            return deliver(rec, remote, opts, v, &reason, report::markdown(&j), log);
        }
        let next = (now + k8s_openapi::jiff::SignedDuration::from_secs(interval.as_secs() as i64))
            .min(window.deadline.max(now));
        sleep_until(next);
    }
}

fn grace() -> k8s_openapi::jiff::SignedDuration {
    k8s_openapi::jiff::SignedDuration::from_secs(MEASURE_GRACE.as_secs() as i64)
}

fn stop_requested(rec: &Recorder, iteration: u32) -> Result<Option<PromoteError>, PromoteError> {
    if !STOP.load(Ordering::SeqCst) {
        return Ok(None);
    }
    let message = format!("stopped by SIGTERM at look {iteration}; a re-run resumes");
    rec.status(&Status {
        phase: Some("Terminated"),
        message: Some(message.clone()),
        ..Status::default()
    })?;
    rec.event(true, "Judge", "Terminated", &message);
    Ok(Some(PromoteError::Stopped { iteration }))
}

fn superseded(
    rec: &Recorder,
    found: Option<String>,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let message = match &found {
        Some(id) => format!("superseded: the env repo now holds experiment {id}"),
        None => "superseded: the env repo no longer holds a candidate".to_string(),
    };
    log(&message);
    rec.status(&Status {
        phase: Some("Completed"),
        verdict: Some("superseded".into()),
        message: Some(message.clone()),
        ..Status::default()
    })?;
    rec.event(false, "Judge", "Superseded", &message);
    Ok(Finished::Superseded { found })
}

/// Writes the recorded verdict to Git and records where it went.
fn deliver(
    rec: &Recorder,
    remote: &Remote,
    opts: &Options,
    verdict: &str,
    reason: &str,
    evidence: String,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let spec = &rec.experiment.spec;
    let wb = &spec.write_back;
    let edit = match verdict {
        "promote" => EditVerdict::Promote,
        _ => EditVerdict::Reject {
            reason: reason.to_string(),
            date: writeback::today(),
        },
    };
    let req = writeback::Request {
        branch: wb.branch.clone(),
        path: wb.path.clone(),
        experiment: spec.id.clone(),
        verdict: edit,
        evidence,
        author_name: wb.author.name.clone(),
        author_email: wb.author.email.clone(),
        deadline: opts.git_deadline,
        mode: wb.mode,
        forge: wb.forge,
        api_url: wb.api_url.clone(),
    };
    let outcome = match writeback::write_back(remote, &req, std::thread::sleep) {
        Ok(o) => o,
        Err(e) => {
            let message = format!("verdict {verdict} recorded, but the write-back failed: {e}");
            // Best effort: the error itself is what the Job reports.
            let _ = rec.status(&Status {
                phase: Some("Failed"),
                message: Some(message.clone()),
                ..Status::default()
            });
            rec.event(true, "WriteBack", "Failed", &message);
            return Err(e.into());
        }
    };
    let mut status = Status {
        phase: Some("Completed"),
        ..Status::default()
    };
    let (reason_word, note) = match &outcome {
        Outcome::Written { commit, .. } | Outcome::AlreadyPresent { commit } => {
            status.commit = Some(commit.clone());
            (
                "Committed",
                format!("verdict {verdict} committed as {commit}"),
            )
        }
        Outcome::PullRequest { url, .. } => {
            status.pull_request = Some(url.clone());
            (
                "PullRequestOpened",
                format!("verdict {verdict} proposed in {url}"),
            )
        }
        Outcome::Superseded { found } => {
            status.verdict = Some("superseded".into());
            let what = found.clone().unwrap_or_else(|| "no experiment".into());
            (
                "Superseded",
                format!("verdict {verdict} not written: the env repo now holds {what}"),
            )
        }
    };
    status.message = Some(format!("{note} ({reason})"));
    rec.status(&status)?;
    rec.event(false, "WriteBack", reason_word, &note);
    log(&note);
    if let Outcome::Superseded { found } = outcome {
        return Ok(Finished::Superseded { found });
    }
    Ok(Finished::Delivered {
        verdict: verdict.to_string(),
        reason: reason.to_string(),
        outcome,
    })
}

/// Sleeps until `at` (or SIGTERM), in slices so a stop is seen within 100 ms.
/// Returns false when stopped.
fn sleep_until(at: Timestamp) -> bool {
    let wait = at.duration_since(Timestamp::now());
    sleep_for(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn sleep_for(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if STOP.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    true
}
