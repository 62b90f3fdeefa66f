//! One function per subcommand: turn the parsed arguments into one library
//! call and its output (stdout text; progress and outcomes go to stderr).

use std::io::Write;
use std::path::PathBuf;

use assay::cmp::CmpEnv;
use assay::gitops::edit::{Proposal, Proposed};
use assay::gitops::local;
use assay::{generate, spec};

use assay::log::Log;
use assay::runtime::Runtime;

use crate::cli::{
    Args, CandidateAction, Command, JudgeArgs, OutputArg, PromoteArgs, SourceArgs, StatusArgs,
    WritebackArgs,
};

/// Runs the subcommand; its stdout text on success.
pub fn run(args: Args) -> anyhow::Result<String> {
    let cwd = || PathBuf::from(".");
    let log = Log::stderr(args.log_format());
    Ok(match args.command {
        Command::Generate { dir, input } => {
            let input = match input {
                None => None,
                Some(p) if p.as_os_str() == "-" => Some(generate::read_stream(
                    std::io::stdin().lock(),
                    generate::STDIN_NAME,
                )?),
                Some(p) => {
                    let file = std::fs::File::open(&p)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    Some(generate::read_stream(file, &p.display().to_string())?)
                }
            };
            let dir = dir.unwrap_or_else(cwd);
            let tools = assay::source::ToolEnv::from_process();
            generate::generate_with(&dir, &CmpEnv::from_process()?, input, &tools)?
        }
        Command::Discover { dir } => generate::discover(&dir.unwrap_or_else(cwd)),
        Command::Parameters { dir } => {
            generate::parameters(&dir.unwrap_or_else(cwd), CmpEnv::from_process())
        }
        Command::Validate { file } => {
            generate::validate(&file.unwrap_or_else(|| PathBuf::from(spec::FILE_NAME)))?
        }
        Command::Plan { file, output } => {
            let file = file.unwrap_or_else(|| PathBuf::from(spec::FILE_NAME));
            let display = file.display().to_string();
            let rel = spec::load(&file, &display)?;
            let plan = assay::judge::plan::plan(&rel);
            match output {
                OutputArg::Table => plan.text(&display),
                OutputArg::Json => serde_json::to_string_pretty(&plan)? + "\n",
            }
        }
        Command::Candidate { action, .. } => candidate(action, &log)?,
        Command::Writeback(args) => writeback(args, &log)?,
        Command::Judge(a) => judge(a)?,
        Command::Promote(a) => promote(a, &log)?,
        Command::Demo { scenario, dir } => {
            let runtime = Runtime::new()?;
            let mut out = std::io::stdout().lock();
            assay::demo::run(scenario, dir.as_deref(), &runtime, &mut |s: &str| {
                let _ = out.write_all(s.as_bytes());
            })?;
            String::new()
        }
        Command::Status(a) => status(a)?,
        Command::Crd => assay::crd::crd_yaml(),
        Command::Schema => spec::json_schema(),
    })
}

/// `assay candidate`: edit the spec; say what happened on stderr.
fn candidate(action: CandidateAction, log: &Log) -> anyhow::Result<String> {
    let message = match action {
        CandidateAction::Set {
            file,
            version,
            image,
            env,
            force,
        } => {
            let p = Proposal {
                version: version.clone(),
                image,
                env: local::parse_env(&env)?,
            };
            match local::set_candidate(&file, &p, force)? {
                Proposed::Candidate => format!("{}: {version} is the candidate", file.display()),
                Proposed::Queued { position } => format!(
                    "{}: {version} queued at position {position}",
                    file.display()
                ),
                Proposed::Unchanged => format!(
                    "{}: {version} is already proposed; nothing changed",
                    file.display()
                ),
            }
        }
        CandidateAction::Clear { file } => match local::clear_candidate(&file)? {
            true => format!("{}: candidate withdrawn", file.display()),
            false => format!("{}: no candidate; nothing changed", file.display()),
        },
    };
    log(&message);
    Ok(String::new())
}

/// `assay writeback`: what the hook runs, for operators and tests. Every
/// verdict that is in Git afterwards (written, already there, superseded) is
/// success; the outcome is said on stderr.
fn writeback(a: WritebackArgs, log: &Log) -> anyhow::Result<String> {
    use assay::gitops::{credentials::Credentials, repo::Remote, writeback};
    let evidence = match &a.evidence {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("--evidence {}: {e}", f.display()))?,
        None => String::new(),
    };
    let verdict = writeback::edit_for(a.verdict, &a.reason)
        .ok_or_else(|| anyhow::anyhow!("--verdict: promote or reject"))?;
    let remote = Remote::new(&a.repo, Credentials::from_dir(&a.credentials)?);
    let req = writeback::Request {
        branch: a.branch,
        path: a.path,
        experiment: a.experiment,
        verdict,
        evidence,
        author_name: a.author_name,
        author_email: a.author_email,
        deadline: a.deadline,
        mode: a.mode,
        // `--mode` says exactly what happens, for a reject too.
        reject: a.mode,
        forge: a.forge,
        api_url: a.api_url,
    };
    let runtime = Runtime::new()?;
    let outcome = writeback::write_back(&remote, &req, &runtime, std::thread::sleep)?;
    log(&outcome.summary(&req.path));
    Ok(String::new())
}

/// `assay judge`: one look, printed as a table or JSON.
fn judge(a: JudgeArgs) -> anyhow::Result<String> {
    use assay::judge::{self, Prometheus, Source, report};
    let exp = judge::load_experiment(&a.experiment)?;
    let auth = prometheus_auth(&a.source)?;
    let source = match (a.source.metrics, a.source.prometheus) {
        (Some(f), _) => Source::File(f),
        (None, url) => Source::Prometheus(Prometheus::with_auth(
            url.as_deref().unwrap_or(&exp.spec.prometheus),
            &auth,
        )?),
    };
    let j = judge::once(&exp, &source, a.started_at, a.at, &Runtime::new()?)?;
    Ok(match a.output {
        OutputArg::Table => report::table(&j),
        OutputArg::Json => report::json(&j),
    })
}

/// `assay promote`: the hook. Progress on stderr; stdout stays empty.
fn promote(a: PromoteArgs, log: &Log) -> anyhow::Result<String> {
    use assay::promote::{self, Options};
    // First: from here on SIGTERM ends the hook's next wait, not the process.
    let runtime = Runtime::watching_sigterm()?;
    let prometheus_auth = prometheus_auth(&a.source)?;
    let opts = Options {
        experiment: a.experiment,
        name: a.name,
        namespace: a.namespace,
        prometheus: a.source.prometheus,
        prometheus_auth,
        metrics: a.source.metrics,
        started_at: a.started_at,
        credentials: a.credentials,
        sync_failed: a.sync_failed,
        commit_status: a.commit_status,
        git_deadline: a.git_deadline,
        settle: a.settle,
    };
    let finished = promote::run(&opts, &runtime, log)?;
    log(&format!("done: {finished}"));
    Ok(String::new())
}

/// Prometheus credentials: the directory, then flags, then the secret
/// values' environment variables (never flags: argv is visible).
fn prometheus_auth(a: &SourceArgs) -> anyhow::Result<assay::judge::PrometheusAuth> {
    use assay::secret::Secret;
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    };
    let over = assay::judge::Overrides {
        token: env("ASSAY_PROMETHEUS_TOKEN"),
        username: a.prometheus_username.clone(),
        password: env("ASSAY_PROMETHEUS_PASSWORD"),
        headers: a.prometheus_headers.clone(),
        ca: a.prometheus_ca.clone(),
    };
    Ok(assay::judge::PrometheusAuth::load(
        &a.prometheus_auth,
        &over,
    )?)
}

/// `assay status`: one print, or with `--watch` one print per change as it comes.
fn status(a: StatusArgs) -> anyhow::Result<String> {
    let opts = assay::status::Options {
        name: a.name,
        namespace: a.namespace,
        format: a.output,
        watch: a.watch,
        interval: a.interval,
    };
    let runtime = Runtime::new()?;
    let mut text = String::new();
    if opts.watch {
        let mut stdout = std::io::stdout();
        assay::status::run(&opts, &runtime, &mut |s| {
            let _ = stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush());
        })?;
    } else {
        assay::status::run(&opts, &runtime, &mut |s| text.push_str(s))?;
    }
    Ok(text)
}
