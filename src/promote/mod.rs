//! The PostSync hook (DESIGN §4): load the Experiment, resume a verdict
//! already recorded, else judge every interval over the window until the
//! candidate is promoted, rejected or superseded; record the verdict and its
//! evidence in the status before touching Git; then write it back. The
//! SyncFail variant (`--sync-failed`) rejects a candidate that could not even
//! start. Every step is idempotent: a killed hook re-run resumes.

mod commit_status;
mod deliver;
mod manual;
mod next;
mod poll;
mod status;
mod syncfail;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::cluster::{Cluster, ClusterError};
use crate::crd::{Experiment, ExperimentStatus, LookRecord, Phase, Verdict};
use crate::gitops::credentials::{Credentials, CredentialsError};
use crate::gitops::repo::Remote;
use crate::gitops::writeback::{Outcome, WriteBackError};
use crate::judge::{self, JudgeError, Judgement, Prometheus, Source, Window, report};
use crate::log::Log;
use crate::runtime::Runtime;

use deliver::{Recorded, deliver};
use poll::{Held, RepoPoll};
pub use status::Status;
use status::StatusWriter;

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
    /// How to authenticate to Prometheus (the mounted Secret, flags, env).
    pub prometheus_auth: judge::PrometheusAuth,
    /// Judge from a metrics file instead of Prometheus (offline replay, demo).
    pub metrics: Option<PathBuf>,
    /// Start of the load, when neither the loadgen Job nor an earlier run says.
    pub started_at: Option<Timestamp>,
    /// The mounted Git credentials Secret.
    pub credentials: PathBuf,
    /// SyncFail hook: reject only if the candidate is why the sync failed.
    pub sync_failed: bool,
    /// Set commit statuses on the forge (when there is a token).
    pub commit_status: bool,
    /// How long the write-back may retry.
    pub git_deadline: Duration,
    /// How long after the deadline the final look waits, so the last
    /// scrapes are in Prometheus before it counts them.
    pub settle: Duration,
}

/// How the hook ended; every one of these exits 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// A verdict was judged (or resumed) and delivered.
    Delivered {
        verdict: Verdict,
        reason: String,
        outcome: Outcome,
    },
    /// Git no longer holds this experiment.
    Superseded { found: Option<String> },
    /// Nothing to do (a sync failure that is not the candidate's, a verdict already written).
    Nothing(String),
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finished::Delivered { verdict, .. } => write!(f, "verdict {verdict} delivered"),
            Finished::Superseded { .. } => f.write_str("superseded, nothing written"),
            Finished::Nothing(why) => f.write_str(why),
        }
    }
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
    /// Neither `--experiment` nor the Job's environment names an Experiment.
    #[error(
        "no --experiment FILE, and ASSAY_EXPERIMENT / ASSAY_NAMESPACE are not set (the hook Job sets them)"
    )]
    NoExperiment,
    /// `--sync-failed` reads the cluster; a file has no Deployment to read.
    #[error(
        "--sync-failed reads the candidate's Deployment and Job from the cluster; it cannot run with --experiment FILE"
    )]
    SyncFailedNeedsCluster,
    /// The verdict is delivered; some next environments are not proposed yet.
    #[error(
        "the verdict is delivered, but {count} next environment(s) are not proposed yet: {detail}; a re-run completes them"
    )]
    NextMissing { count: usize, detail: String },
    /// SIGTERM: the status says so; a re-run resumes.
    #[error("stopped by SIGTERM at look {iteration}; the status says so and a re-run resumes")]
    Stopped { iteration: u32 },
}

/// How soon the hook looks again while the candidate has no data yet.
const NO_DATA_RETRY: Duration = Duration::from_secs(5);

/// The most looks one experiment makes: a longer window is looked at less
/// often than its `interval` (1,000 looks keep `status.looks` near 100 KB).
const MAX_LOOKS: u64 = 1000;

/// How long measuring may keep failing at the final look before the hook
/// gives up (counted from this run's first final attempt).
const MEASURE_GRACE: Duration = Duration::from_secs(300);

/// Runs the hook on `runtime` (which should watch SIGTERM: the hook then
/// stops at its next wait and says so). `log` receives the progress lines
/// (stderr in the binary).
pub fn run(opts: &Options, runtime: &Runtime, logger: &Log) -> Result<Finished, PromoteError> {
    let log: &dyn Fn(&str) = &**logger;
    let (mut exp, cluster) = load(opts, runtime)?;
    logger.experiment(exp.metadata.name.as_deref().unwrap_or(&exp.spec.id));
    let creds = Credentials::from_dir(&opts.credentials)?;
    let remote = Remote::new(&exp.spec.write_back.repo.url, creds);
    let status = exp.status.clone().unwrap_or_default();
    if let Some(commit) = &status.commit {
        let rec = StatusWriter::new(
            cluster.as_ref(),
            runtime,
            &exp,
            &remote,
            opts.commit_status,
            log,
        );
        if status.verdict == Some(Verdict::Promote) {
            // Killed or failed after the verdict commit: complete what the
            // next environments are missing (each proposal happens once).
            next::propose_next(&rec, &remote, opts, log)?;
        }
        // Delivered, unless the same candidate was proposed again since
        // (the same content, so the same experiment id and name).
        let wb = &exp.spec.write_back;
        let held = RepoPoll::new(&remote, &wb.repo.branch, &wb.repo.path, &exp.spec.id).check();
        if !matches!(held, Ok(Held::Ours)) {
            return Ok(Finished::Nothing(format!(
                "the verdict is already delivered ({commit})"
            )));
        }
        log(&format!(
            "the env repo proposes this experiment again after verdict commit {commit}: judging it anew"
        ));
        rec.reset()?;
        exp.status = Some(ExperimentStatus::default());
    }
    let rec = StatusWriter::new(
        cluster.as_ref(),
        runtime,
        &exp,
        &remote,
        opts.commit_status,
        log,
    );
    let status = exp.status.clone().unwrap_or_default();
    if let Some(pr) = &status.pull_request {
        return Ok(Finished::Nothing(format!(
            "the verdict is already proposed in {pr}"
        )));
    }
    match status.verdict {
        Some(v @ (Verdict::Promote | Verdict::Reject)) => {
            logger.verdict(v.as_str());
            log(&format!(
                "resuming: the status already holds the verdict {v}"
            ));
            manual::ignored(&rec, v, log);
            let reason = status
                .reason
                .clone()
                .or(status.message.clone())
                .unwrap_or_default();
            let window = status.window.clone().unwrap_or_default();
            let recorded = Recorded {
                verdict: v,
                reason: &reason,
                evidence: report::markdown_of(v.as_str(), &reason, &window, &status.evidence),
            };
            return deliver(&rec, &remote, opts, recorded, log);
        }
        Some(Verdict::Superseded) => {
            return Ok(Finished::Nothing("the experiment was superseded".into()));
        }
        _ => {}
    }
    if opts.sync_failed {
        return syncfail::run(&rec, &remote, opts, log);
    }
    judge_loop(&rec, &remote, opts, logger)
}

/// The Experiment, from the file or the API (with the cluster connection),
/// checked for what the judge relies on.
fn load(opts: &Options, rt: &Runtime) -> Result<(Experiment, Option<Cluster>), PromoteError> {
    if let Some(path) = &opts.experiment {
        return Ok((judge::load_experiment(path)?, None));
    }
    let (Some(name), Some(ns)) = (&opts.name, &opts.namespace) else {
        return Err(PromoteError::NoExperiment);
    };
    let cluster = rt.block_on(Cluster::connect(ns))?;
    let exp = judge::checked(rt.block_on(cluster.experiment(name))?)?;
    Ok((exp, Some(cluster)))
}

/// Where measuring starts: `--started-at`, else the load generator's start,
/// else an earlier run's, else now; and when the load generator completed.
fn load_times(
    rec: &StatusWriter,
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

fn source(rec: &StatusWriter, opts: &Options) -> Result<Source, PromoteError> {
    Ok(match (&opts.metrics, &opts.prometheus) {
        (Some(f), _) => Source::File(f.clone()),
        (None, url) => Source::Prometheus(Prometheus::with_auth(
            url.as_deref().unwrap_or(&rec.experiment.spec.prometheus),
            &opts.prometheus_auth,
        )?),
    })
}

/// The window, closed early when the load ended before the deadline (and
/// at its very start when the load ended before it opened: nothing to wait for).
fn window(rec: &StatusWriter, opts: &Options) -> Result<Window, PromoteError> {
    let (started_at, load_done) = load_times(rec, opts)?;
    let mut window = Window::new(started_at, &rec.experiment.spec.window);
    if let Some(done) = load_done.filter(|d| *d < window.deadline) {
        window.deadline = done.max(window.start);
    }
    Ok(window)
}

fn judge_loop(
    rec: &StatusWriter,
    remote: &Remote,
    opts: &Options,
    logger: &Log,
) -> Result<Finished, PromoteError> {
    let log: &dyn Fn(&str) = &**logger;
    let exp = rec.experiment;
    let spec = &exp.spec;
    let source = source(rec, opts)?;
    let window = window(rec, opts)?;
    // At most MAX_LOOKS looks: the record of looks lives in the status
    // (an etcd object), and fewer looks never cost the test its guarantee.
    let interval = Duration::from_secs(
        spec.window
            .interval_seconds
            .max(spec.window.duration_seconds.div_ceil(MAX_LOOKS))
            .max(1),
    );
    let wb = &spec.write_back;
    let mut poll = RepoPoll::new(remote, &wb.repo.branch, &wb.repo.path, &spec.id);
    let mut iteration = exp.status.as_ref().and_then(|s| s.iteration).unwrap_or(0);
    // The sequential test builds on every look already made, by an
    // earlier (killed) run of the hook too.
    let mut looks = exp
        .status
        .as_ref()
        .map(|s| s.looks.clone())
        .unwrap_or_default();
    rec.status(&Status {
        phase: Some(Phase::Running),
        message: Some(format!(
            "judging {} against {}; window {} to {}",
            spec.candidate.version, spec.baseline.version, window.start, window.deadline
        )),
        started_at: Some(window.started_at.to_string()),
        ..Status::default()
    })?;
    let started = format!(
        "judging {} against {} until {}",
        spec.candidate.version, spec.baseline.version, window.deadline
    );
    rec.event(false, "Judge", "Started", &started);
    rec.commit_statuses.judging(&started, log);
    log(&format!(
        "experiment {}: {} vs {}, window {} to {}, a look every {}s",
        spec.id,
        spec.candidate.version,
        spec.baseline.version,
        window.start,
        window.deadline,
        interval.as_secs()
    ));
    let mut failing_since: Option<Instant> = None;
    let settle = SignedDuration::try_from(opts.settle).unwrap_or(SignedDuration::ZERO);
    loop {
        if let Some(stopped) = stop_requested(rec, iteration)? {
            return Err(stopped);
        }
        if let Some(asked) = manual::requested(rec, log) {
            return manual::act(rec, remote, opts, asked, iteration, log);
        }
        let now = judge::now();
        let look = window.look(now);
        // Before the deadline, poll Git so a superseded hook stops early. At
        // the final look the write-back re-checks the file itself, and the
        // poll's fetch would only double the Git time (benchmarked: 45% of
        // deadline-to-commit on a 20,000-file repository).
        let poll = if look.is_final {
            Ok(Held::Ours)
        } else {
            poll.check()
        };
        match poll {
            Ok(Held::Ours) => {}
            Ok(Held::Other(found)) => {
                logger.verdict(Verdict::Superseded.as_str());
                return superseded(rec, found, log);
            }
            Ok(Held::Delivered(commit)) => {
                let done = already_delivered(rec, commit, log)?;
                next::propose_next(rec, remote, opts, log)?;
                return Ok(done);
            }
            Err(e) => log(&format!("warning: cannot poll the env repo: {e}")),
        }
        if looks.len() as u64 >= MAX_LOOKS && !look.is_final {
            // A hook restarted over and over looks at once each time: past
            // MAX_LOOKS recorded looks, only the deadline's is left.
            sleep_until(rec.runtime, window.deadline, interval);
            continue;
        }
        if look.seconds == 0 && !look.is_final {
            // Until a whole second of the window has passed: looks are
            // taken at whole seconds, so waiting only for `start` would
            // spin (and poll Git) through the second it opens.
            log(&format!("warming up until {}", window.start));
            let first = window
                .start
                .saturating_add(SignedDuration::from_secs(1))
                .unwrap_or(window.start);
            sleep_until(rec.runtime, first, interval);
            continue;
        }
        if look.is_final && now < window.deadline.saturating_add(settle).unwrap_or(now) {
            // The last scrapes of the window are not in Prometheus yet.
            sleep_until(
                rec.runtime,
                window.deadline.saturating_add(settle).unwrap_or(now),
                interval,
            );
            continue;
        }
        let m = match measure(rec, &source, &look) {
            Some(Ok(m)) => m,
            None => continue, // SIGTERM: handled at the top of the loop.
            Some(Err(e)) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if look.is_final && since.elapsed() >= MEASURE_GRACE {
                    return Err(e.into());
                }
                log(&format!(
                    "warning: {e}; trying again in {}s",
                    interval.as_secs()
                ));
                rec.runtime.sleep(interval);
                continue;
            }
        };
        failing_since = None;
        iteration += 1;
        logger.look(iteration);
        let j = Judgement::new(exp, window, look, &looks, &m);
        let a = &j.assessment;
        if let Some(v) = a.decision.verdict() {
            logger.verdict(v.as_str());
        }
        looks.push(LookRecord {
            at: Some(now.to_string()),
            ..a.record.clone()
        });
        log(&format!(
            "look {iteration} ({}s of {}s, {} queries): {}: {}",
            look.seconds,
            spec.window.duration_seconds,
            m.queries,
            a.decision.as_str(),
            a.reason
        ));
        let verdict = a.decision.verdict();
        let measured = format!("{} to {} ({}s)", window.start, look.end, look.seconds);
        rec.status(&Status {
            phase: Some(Phase::Running),
            verdict,
            reason: verdict.map(|_| a.reason.clone()),
            window: verdict.map(|_| measured.clone()),
            message: Some(a.reason.clone()),
            decided_at: verdict.map(|_| now.to_string()),
            iteration: Some(iteration),
            evidence: a.evidence.clone(),
            looks: looks.clone(),
            ..Status::default()
        })?;
        if let Some(verdict) = verdict {
            let promoted = verdict == Verdict::Promote;
            let word = if promoted { "Promoted" } else { "Rejected" };
            rec.event(
                !promoted,
                "Judge",
                word,
                &format!(
                    "at look {iteration} ({}s of {}s): {}",
                    look.seconds, spec.window.duration_seconds, a.reason
                ),
            );
            let recorded = Recorded {
                verdict,
                reason: &a.reason,
                evidence: report::markdown(&j),
            };
            return deliver(rec, remote, opts, recorded, log);
        }
        // Early in the window Prometheus may not have two scrapes of it
        // yet (an `increase` needs two): look again sooner, so a bad
        // candidate is judged at the first look that has data.
        let waiting_for_data = a
            .evidence
            .iter()
            .any(|e| e.version == spec.candidate.version && e.value.is_none());
        let pause = if waiting_for_data {
            interval.min(NO_DATA_RETRY)
        } else {
            interval
        };
        let next = now
            .saturating_add(SignedDuration::from_secs(pause.as_secs() as i64))
            .unwrap_or(now)
            .min(window.deadline.max(now));
        sleep_until(rec.runtime, next, interval);
    }
}

/// One measurement, abandoned on SIGTERM (`None`).
fn measure(
    rec: &StatusWriter,
    source: &Source,
    look: &judge::Look,
) -> Option<Result<judge::Measurements, JudgeError>> {
    rec.runtime
        .unless_stopped(source.measure(rec.experiment, look))
}

fn stop_requested(
    rec: &StatusWriter,
    iteration: u32,
) -> Result<Option<PromoteError>, PromoteError> {
    if !rec.runtime.is_stopped() {
        return Ok(None);
    }
    let message = format!("stopped by SIGTERM at look {iteration}; a re-run resumes");
    rec.status(&Status {
        phase: Some(Phase::Terminated),
        message: Some(message.clone()),
        ..Status::default()
    })?;
    rec.event(true, "Judge", "Terminated", &message);
    Ok(Some(PromoteError::Stopped { iteration }))
}

fn superseded(
    rec: &StatusWriter,
    found: Option<String>,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let message = match &found {
        Some(id) => format!("superseded: the env repo now holds experiment {id}"),
        None => "superseded: the env repo no longer holds a candidate".to_string(),
    };
    log(&message);
    rec.commit_statuses
        .verdict(Verdict::Superseded, &message, None, None, log);
    rec.status(&Status {
        phase: Some(Phase::Completed),
        verdict: Some(Verdict::Superseded),
        message: Some(message.clone()),
        ..Status::default()
    })?;
    rec.event(false, "Judge", "Superseded", &message);
    Ok(Finished::Superseded { found })
}

fn already_delivered(
    rec: &StatusWriter,
    commit: String,
    log: &dyn Fn(&str),
) -> Result<Finished, PromoteError> {
    let why = format!("the verdict is already in the env repo: {commit}");
    log(&why);
    rec.status(&Status {
        phase: Some(Phase::Completed),
        commit: Some(commit),
        message: Some(why.clone()),
        ..Status::default()
    })?;
    Ok(Finished::Nothing(why))
}

/// Sleeps until `at`, at most `cap` (so the env repo is polled meanwhile),
/// or until SIGTERM (seen at the top of the loop).
fn sleep_until(runtime: &Runtime, at: Timestamp, cap: Duration) {
    let wait = at.duration_since(Timestamp::now());
    runtime.sleep(Duration::try_from(wait).unwrap_or(Duration::ZERO).min(cap));
}
