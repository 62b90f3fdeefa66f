//! The `assay` binary: parse arguments, call one library function per
//! subcommand, print one error line. Exit codes: 0 success; 1 the input or the
//! environment is wrong (the message says where); 2 bad usage (clap); 143 when
//! stopped by SIGTERM (Argo CD's deadline), after printing nothing on stdout.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use assay::cmp::{self, CmpEnv};
use assay::spec;
use cli::{Args, Command};

fn main() -> ExitCode {
    on_sigterm();
    let args = Args::parse();
    match run(args) {
        Ok(out) => print(&out),
        Err(e) => {
            eprintln!("assay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<String> {
    let cwd = || PathBuf::from(".");
    match args.command {
        Command::Generate { dir } => {
            let env = CmpEnv::from_process()?;
            Ok(assay::generate::generate(&dir.unwrap_or_else(cwd), &env)?)
        }
        Command::Parameters { dir } => parameters(&dir.unwrap_or_else(cwd)),
        Command::Validate { file } => {
            validate(&file.unwrap_or_else(|| PathBuf::from(spec::FILE_NAME)))
        }
        Command::Crd => {
            use kube::CustomResourceExt;
            Ok(
                serde_saphyr::to_string(&assay::experiment::Experiment::crd())
                    .context("serialising the CRD")?,
            )
        }
        Command::Schema => {
            let schema = schemars::schema_for!(spec::raw::RawRelease);
            Ok(serde_json::to_string_pretty(&schema)? + "\n")
        }
    }
}

/// The announcement shows what `generate` would use: the spec's values where it
/// sets them, else parameters and plugin env. A broken spec still announces
/// the parameters, so the UI stays usable while the user fixes the file.
fn parameters(dir: &Path) -> anyhow::Result<String> {
    let env = CmpEnv::from_process()?;
    let mut current = env.settings.clone();
    if let Ok(rel) = spec::load(&dir.join(spec::FILE_NAME), spec::FILE_NAME) {
        current.candidate_weight = rel.traffic.candidate_weight.or(current.candidate_weight);
        current.prometheus_url = rel.experiment.prometheus.or(current.prometheus_url);
        current.promotion_mode = rel.promotion.mode.or(current.promotion_mode);
    }
    Ok(cmp::announcement(&current).to_string() + "\n")
}

fn validate(file: &Path) -> anyhow::Result<String> {
    let display = file.display().to_string();
    let rel = spec::load(file, &display)?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let files = assay::generate::read_app(dir, &rel, None)?;
    if let Some(t) = &files.template {
        assay::render::check_template(t)?;
    }
    let state = match &rel.candidate {
        Some(c) => format!("candidate {} under test, experiment {}", c.version, rel.id),
        None => "steady state".to_string(),
    };
    Ok(format!("{display}: valid ({state})\n"))
}

/// Writes all of `out` at once; a closed pipe is not an error.
fn print(out: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assay: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Argo CD stops a slow plugin with SIGTERM to its process group (ARGOCD.md
/// §2.4). Say so on stderr and exit 143 at once: nothing is half-written,
/// because output is printed in one write only after rendering succeeded.
fn on_sigterm() {
    extern "C" fn handler(_: libc::c_int) {
        const MSG: &[u8] = b"assay: stopped by SIGTERM before finishing; no output\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(143);
        }
    }
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGTERM, handler as *const () as libc::sighandler_t);
    }
}
