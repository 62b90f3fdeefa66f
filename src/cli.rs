//! Command-line arguments. Each subcommand maps to one library call in
//! `main.rs`; Argo CD reaches the same settings through `ARGOCD_ENV_*`.

use std::path::PathBuf;
use std::time::Duration;

use assay::crd::Verdict;
use assay::demo::Scenario;
use assay::log::LogFormat;
use assay::spec::{ForgeChoice, Mode};
use clap::{Parser, Subcommand};
use k8s_openapi::jiff::Timestamp;

/// GitOps-native progressive delivery for Argo CD.
#[derive(Debug, Parser)]
#[command(name = "assay", version, about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

impl Args {
    /// How the command writes its stderr lines. `generate` and friends
    /// always write text: Argo CD shows their errors to people.
    pub fn log_format(&self) -> LogFormat {
        match &self.command {
            Command::Promote(a) => a.log.log_format,
            Command::Judge(a) => a.log.log_format,
            Command::Writeback(a) => a.log.log_format,
            Command::Candidate { log, .. } => log.log_format,
            _ => LogFormat::Text,
        }
    }
}

/// `--log-format`, on the commands that log.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LogArgs {
    /// Progress and error lines on stderr: text for people, or one JSON
    /// object per line (level, message, experiment, look, verdict).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "ASSAY_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render assay.yaml in DIR into manifests (the Argo CD plugin's generate command).
    Generate {
        /// The app directory (default: the working directory, as Argo CD runs it).
        dir: Option<PathBuf>,
        /// Take the manifests beside assay.yaml from this already rendered
        /// stream (`-`: stdin) instead of spec.source, for any other pipeline.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Plugin discovery: print the kind of spec.source of DIR's assay.yaml
    /// when it needs tools (kustomize, helm), else nothing.
    #[command(hide = true)]
    Discover {
        /// The app directory (default: the working directory).
        dir: Option<PathBuf>,
    },
    /// Print the plugin's parameter announcement for the Argo CD UI (JSON).
    Parameters {
        /// The app directory (default: the working directory).
        dir: Option<PathBuf>,
    },
    /// Check an assay.yaml (and the template it names) without rendering.
    Validate {
        /// The spec file (default: ./assay.yaml).
        file: Option<PathBuf>,
    },
    /// What the experiment's traffic can prove: P(promote) and time to a
    /// verdict per rate objective, and the duration 90% power needs.
    Plan {
        /// The spec file (default: ./assay.yaml).
        file: Option<PathBuf>,
        /// Text for people, or JSON.
        #[arg(long, value_enum, default_value = "table")]
        output: OutputArg,
    },
    /// Propose or withdraw a candidate in assay.yaml (what CI runs).
    Candidate {
        #[command(subcommand)]
        action: CandidateAction,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Write a verdict to the env repository, exactly as the promote hook does.
    Writeback(WritebackArgs),
    /// Judge an experiment once, without side effects.
    Judge(JudgeArgs),
    /// The PostSync hook: judge the experiment and commit the verdict.
    Promote(PromoteArgs),
    /// Run the whole loop on this machine: propose, render, judge, write back.
    Demo {
        /// Which candidate to run: good, bad, or both in turn.
        #[arg(long, value_enum, default_value = "both")]
        scenario: Scenario,
        /// Keep the env repository and files here (default: a temp dir, removed).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show Experiments from the cluster: phase, look, verdict, counts per
    /// objective, commit or pull request, and how long the candidate has served.
    Status(StatusArgs),
    /// Print the Experiment CustomResourceDefinition (YAML).
    Crd,
    /// Print the JSON Schema of assay.yaml, for editors.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum CandidateAction {
    /// Propose a candidate: it replaces the current one, or joins the queue
    /// with `promotion.onNewCandidate: queue`.
    Set {
        /// The spec to edit.
        #[arg(long, default_value = "assay.yaml")]
        file: PathBuf,
        /// Version label of the candidate (a DNS-1123 label, e.g. v2).
        #[arg(long)]
        version: String,
        /// Container image of the candidate.
        #[arg(long)]
        image: String,
        /// Environment variable of the candidate, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Propose it even if it was rejected before.
        #[arg(long)]
        force: bool,
    },
    /// Withdraw the candidate.
    Clear {
        /// The spec to edit.
        #[arg(long, default_value = "assay.yaml")]
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct WritebackArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// The env repository (git://, ssh://, https://, file://).
    #[arg(long)]
    pub repo: String,
    /// Branch to write to (HEAD: the remote's default branch).
    #[arg(long, default_value = "HEAD")]
    pub branch: String,
    /// Path of assay.yaml in the repository.
    #[arg(long)]
    pub path: String,
    /// The experiment id the verdict is for.
    #[arg(long)]
    pub experiment: String,
    #[arg(long, value_enum)]
    pub verdict: Verdict,
    /// Why the candidate is rejected (recorded under `rejected`).
    #[arg(long, default_value = "rejected by assay writeback")]
    pub reason: String,
    /// How the verdict reaches the branch.
    #[arg(long, value_enum, default_value = "push")]
    pub mode: Mode,
    /// The forge hosting the repository, for pull requests (auto: from the URL).
    #[arg(long, value_enum, default_value = "auto")]
    pub forge: ForgeChoice,
    /// The forge's API base URL (GitHub Enterprise, self-hosted GitLab or Gitea).
    #[arg(long)]
    pub api_url: Option<String>,
    /// The mounted credentials Secret (a missing directory means anonymous).
    #[arg(long, default_value = assay::gitops::credentials::DEFAULT_DIR)]
    pub credentials: PathBuf,
    /// Markdown evidence for the commit body.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Give up retrying after this long.
    #[arg(long, default_value = "5m", value_parser = duration)]
    pub deadline: Duration,
    #[arg(long, default_value = "assay")]
    pub author_name: String,
    #[arg(long, default_value = "assay@assay.dev")]
    pub author_email: String,
}

/// `assay judge`.
#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// The Experiment (alone, or in `assay generate` output).
    #[arg(long)]
    pub experiment: PathBuf,
    #[command(flatten)]
    pub source: SourceArgs,
    /// When the load started (RFC 3339; default: warmup + duration before --at).
    #[arg(long, value_parser = time)]
    pub started_at: Option<Timestamp>,
    /// The moment judged (RFC 3339; default: now).
    #[arg(long, value_parser = time)]
    pub at: Option<Timestamp>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputArg,
}

/// `--output`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputArg {
    Table,
    Json,
}

/// `assay promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// Run locally on this Experiment, with no cluster.
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// The Experiment's name in the cluster (set by the hook Job).
    #[arg(long, env = "ASSAY_EXPERIMENT", hide_env_values = true)]
    pub name: Option<String>,
    /// The Experiment's namespace (set by the hook Job).
    #[arg(long, env = "ASSAY_NAMESPACE", hide_env_values = true)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// When the load started (RFC 3339; default: the loadgen Job's start, else now).
    #[arg(long, value_parser = time)]
    pub started_at: Option<Timestamp>,
    /// The mounted credentials Secret (a missing directory means anonymous).
    #[arg(long, default_value = assay::gitops::credentials::DEFAULT_DIR)]
    pub credentials: PathBuf,
    /// Show the verdict as a commit status on the commit that proposed the
    /// candidate (needs a forge API token; the hook Job sets false for
    /// `promotion.commitStatus: false`).
    #[arg(long, env = "ASSAY_COMMIT_STATUS", default_value_t = true, action = clap::ArgAction::Set)]
    pub commit_status: bool,
    /// The SyncFail hook: reject the candidate if it is why the sync failed.
    #[arg(long)]
    pub sync_failed: bool,
    /// Give up retrying the write-back after this long.
    #[arg(long, default_value = "5m", value_parser = duration)]
    pub git_deadline: Duration,
    /// Wait this long after the deadline before the final look, so the
    /// window's last scrapes are in Prometheus (0s for replayed data).
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub settle: Duration,
}

/// `assay status`. The cluster comes from `KUBECONFIG` (else
/// `~/.kube/config`), or the pod's ServiceAccount inside a cluster.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One Experiment (default: every Experiment in the namespace).
    pub name: Option<String>,
    /// The namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Text for people, or data for scripts.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: assay::status::Format,
    /// Keep polling and print again whenever something shown changes
    /// (JSON: one line per change; YAML: one document per change).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// How often --watch polls.
    #[arg(long, default_value = "2s", requires = "watch", value_parser = interval)]
    pub interval: Duration,
}

/// Where `judge` and `promote` get measurements.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Prometheus to query (default: the Experiment's).
    #[arg(long, conflicts_with = "metrics")]
    pub prometheus: Option<String>,
    /// Per-version aggregates in JSON instead of Prometheus (offline replay, demo).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Prometheus credentials as files, as the hook mounts its Secret:
    /// token, username + password, headers, ca.crt (a missing directory
    /// means none). Secret values also come from ASSAY_PROMETHEUS_TOKEN and
    /// ASSAY_PROMETHEUS_PASSWORD, never from flags.
    #[arg(long, env = "ASSAY_PROMETHEUS_AUTH", default_value = assay::judge::PROMETHEUS_AUTH_DIR)]
    pub prometheus_auth: PathBuf,
    /// Basic-auth user for Prometheus (the password: ASSAY_PROMETHEUS_PASSWORD).
    #[arg(long, env = "ASSAY_PROMETHEUS_USERNAME")]
    pub prometheus_username: Option<String>,
    /// A header for every Prometheus query, `Name: value` (e.g.
    /// `X-Scope-OrgID: team-a`); repeatable. Argv is visible: put secret
    /// headers in the credentials directory.
    #[arg(
        long = "prometheus-header",
        value_name = "NAME: VALUE",
        env = "ASSAY_PROMETHEUS_HEADERS",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub prometheus_headers: Vec<String>,
    /// PEM roots to trust for Prometheus instead of the system's.
    #[arg(long, env = "ASSAY_PROMETHEUS_CA")]
    pub prometheus_ca: Option<PathBuf>,
}

/// A duration flag, written as in assay.yaml (`90s`, `5m`, `1h30m`).
fn duration(s: &str) -> Result<Duration, String> {
    assay::spec::parse_duration(s)
}

/// A polling interval: a duration of more than zero.
fn interval(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be more than 0s".into()),
        d => Ok(d),
    }
}

/// A time flag: RFC 3339.
fn time(s: &str) -> Result<Timestamp, String> {
    s.parse()
        .map_err(|e| format!("expected an RFC 3339 time like 2026-11-22T10:00:00Z: {e}"))
}
