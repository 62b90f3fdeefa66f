//! One function per subcommand: turn the parsed arguments into one library
//! call and its output (stdout text; progress and outcomes go to stderr).

use std::io::Write;
use std::path::PathBuf;

use assay::cmp::CmpEnv;
use assay::gitops::edit::{Proposal, Proposed};
use assay::gitops::local;
use assay::{generate, spec};

use crate::cli::{
    Args, CandidateAction, Command, ForgeArg, JudgeArgs, ModeArg, OutputArg, PromoteArgs,
    ScenarioArg, StatusArgs, VerdictArg, WritebackArgs,
};

/// Runs the subcommand; its stdout text on success.
pub fn run(args: Args) -> anyhow::Result<String> {
    let cwd = || PathBuf::from(".");
    Ok(match args.command {
        Command::Generate { dir } => {
            generate::generate(&dir.unwrap_or_else(cwd), &CmpEnv::from_process()?)?
        }
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
        Command::Candidate { action } => candidate(action)?,
        Command::Writeback(args) => writeback(args)?,
        Command::Judge(a) => judge(a)?,
        Command::Promote(a) => promote(a)?,
        Command::Demo { scenario, dir } => {
            use assay::demo::{self, Scenario};
            let scenario = match scenario {
                ScenarioArg::Good => Scenario::Good,
                ScenarioArg::Bad => Scenario::Bad,
                ScenarioArg::Both => Scenario::Both,
            };
            let mut out = std::io::stdout().lock();
            demo::run(scenario, dir.as_deref(), &mut |s: &str| {
                let _ = out.write_all(s.as_bytes());
            })?;
            String::new()
        }
        Command::Status(a) => status(a)?,
        Command::Crd => assay::experiment::crd_yaml(),
        Command::Schema => spec::json_schema(),
    })
}

/// `assay candidate`: edit the spec; say what happened on stderr.
fn candidate(action: CandidateAction) -> anyhow::Result<String> {
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
    eprintln!("assay: {message}");
    Ok(String::new())
}

/// `assay writeback`: what the hook runs, for operators and tests. Every
/// verdict that is in Git afterwards (written, already there, superseded) is
/// success; the outcome is said on stderr.
fn writeback(a: WritebackArgs) -> anyhow::Result<String> {
    use assay::gitops::{credentials::Credentials, edit::Verdict, repo::Remote, writeback};
    let deadline =
        spec::parse_duration(&a.deadline).map_err(|m| anyhow::anyhow!("--deadline: {m}"))?;
    let evidence = match &a.evidence {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("--evidence {}: {e}", f.display()))?,
        None => String::new(),
    };
    let verdict = match a.verdict {
        VerdictArg::Promote => Verdict::Promote,
        VerdictArg::Reject => Verdict::Reject {
            reason: a.reason.clone(),
            date: writeback::today(),
        },
    };
    let remote = Remote::new(&a.repo, Credentials::from_dir(&a.credentials)?);
    let mode = match a.mode {
        ModeArg::Push => spec::Mode::Push,
        ModeArg::PullRequest => spec::Mode::PullRequest,
    };
    let req = writeback::Request {
        branch: a.branch,
        path: a.path,
        experiment: a.experiment,
        verdict,
        evidence,
        author_name: a.author_name,
        author_email: a.author_email,
        deadline,
        mode,
        // `--mode` says exactly what happens, for a reject too.
        reject: mode,
        forge: match a.forge {
            ForgeArg::Auto => spec::Forge::Auto,
            ForgeArg::Github => spec::Forge::Github,
            ForgeArg::Gitlab => spec::Forge::Gitlab,
            ForgeArg::Gitea => spec::Forge::Gitea,
        },
        api_url: a.api_url,
    };
    let message = match writeback::write_back(&remote, &req, std::thread::sleep)? {
        writeback::Outcome::Written { commit, attempts } => {
            format!("verdict written: {commit} (attempt {attempts})")
        }
        writeback::Outcome::PullRequest {
            url, created: true, ..
        } => {
            format!("pull request opened: {url}")
        }
        writeback::Outcome::PullRequest {
            url,
            created: false,
            ..
        } => {
            format!("verdict already present: pull request {url} is open")
        }
        writeback::Outcome::AlreadyPresent { commit } => {
            format!("verdict already present: {commit}")
        }
        writeback::Outcome::Superseded { found: Some(id) } => {
            format!(
                "superseded: {} now holds experiment {id}; nothing written",
                req.path
            )
        }
        writeback::Outcome::Superseded { found: None } => format!(
            "superseded: {} holds no candidate; nothing written",
            req.path
        ),
    };
    eprintln!("assay: {message}");
    Ok(String::new())
}

/// `assay judge`: one look, printed as a table or JSON.
fn judge(a: JudgeArgs) -> anyhow::Result<String> {
    use assay::judge::{self, Prometheus, Source, report};
    let exp = judge::load_experiment(&a.experiment)?;
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref().map(|s| judge::parse_time(flag, s)).transpose()
    };
    let started_at = time("--started-at", &a.started_at)?;
    let at = time("--at", &a.at)?;
    let source = match (a.source.metrics, a.source.prometheus) {
        (Some(f), _) => Source::File(f),
        (None, url) => Source::Prometheus(Prometheus::new(
            url.as_deref().unwrap_or(&exp.spec.prometheus),
        )?),
    };
    let j = judge::once(&exp, &source, started_at, at)?;
    Ok(match a.output {
        OutputArg::Table => report::table(&j),
        OutputArg::Json => report::json(&j),
    })
}

/// `assay promote`: the hook. Progress on stderr; stdout stays empty.
fn promote(a: PromoteArgs) -> anyhow::Result<String> {
    use assay::promote::{self, Finished, Options};
    on_sigterm_stop();
    let started_at = a
        .started_at
        .as_deref()
        .map(|s| assay::judge::parse_time("--started-at", s))
        .transpose()?;
    let git_deadline = spec::parse_duration(&a.git_deadline)
        .map_err(|m| anyhow::anyhow!("--git-deadline: {m}"))?;
    let settle = spec::parse_duration(&a.settle).map_err(|m| anyhow::anyhow!("--settle: {m}"))?;
    let opts = Options {
        experiment: a.experiment,
        name: a.name,
        namespace: a.namespace,
        prometheus: a.source.prometheus,
        metrics: a.source.metrics,
        started_at,
        credentials: a.credentials,
        sync_failed: a.sync_failed,
        git_deadline,
        settle,
    };
    let log = |line: &str| eprintln!("assay: {line}");
    let message = match promote::run(&opts, &log)? {
        Finished::Delivered { verdict, .. } => format!("done: verdict {verdict} delivered"),
        Finished::Superseded { .. } => "done: superseded, nothing written".to_string(),
        Finished::Nothing(why) => format!("done: {why}"),
    };
    log(&message);
    Ok(String::new())
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
    let mut text = String::new();
    if opts.watch {
        let mut stdout = std::io::stdout();
        assay::status::run(&opts, &mut |s| {
            let _ = stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush());
        })?;
    } else {
        assay::status::run(&opts, &mut |s| text.push_str(s))?;
    }
    Ok(text)
}

/// For the hook: SIGTERM asks it to stop at the next safe point, so the
/// status can say so (generate's handler exits at once instead).
fn on_sigterm_stop() {
    extern "C" fn handler(_: libc::c_int) {
        assay::promote::STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler as *const () as libc::sighandler_t);
    }
}
