//! The `assay` binary: parse arguments, call one library function per
//! subcommand, print one error line. Exit codes: 0 success; 1 the input or the
//! environment is wrong (the message says where); 2 bad usage (clap); 143 when
//! stopped by SIGTERM (Argo CD's deadline), after printing nothing on stdout.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use assay::cmp::CmpEnv;
use assay::{generate, spec};
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
        Command::Crd => assay::experiment::crd_yaml(),
        Command::Schema => spec::json_schema(),
    })
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
