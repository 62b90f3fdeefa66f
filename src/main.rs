//! The `assay` binary: parse arguments, run one subcommand (`run.rs`),
//! print its output in one write or one error line. Exit codes, all here:
//! 0 success (for `promote`, any verdict); 1 the input or the environment is
//! wrong, or the hook could not do its job (the message says which); 2 bad
//! usage (clap); 143 stopped by SIGTERM (`generate`: at once, or once a
//! running tool is killed, printing nothing on stdout; `promote`: after the
//! status says so).

mod cli;
mod run;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    // The commands that may run kustomize or helm (or print manifests)
    // stop at once and take the tool's process group with them.
    if let cli::Command::Generate { .. }
    | cli::Command::Parameters { .. }
    | cli::Command::Validate { .. } = args.command
    {
        on_sigterm();
    }
    let format = args.log_format();
    let result = run::run(args);
    if assay::source::tools::stopped() {
        // Whatever the run made of it, SIGTERM means no output.
        let _ = std::io::stderr().write_all(STOPPED);
        return ExitCode::from(143);
    }
    match result {
        Ok(out) => print(&out),
        Err(e) => {
            eprintln!("{}", assay::log::error_line(format, &format!("{e:#}")));
            match e.downcast_ref::<assay::promote::PromoteError>() {
                Some(assay::promote::PromoteError::Stopped { .. }) => ExitCode::from(143),
                _ => ExitCode::FAILURE,
            }
        }
    }
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

/// What `generate` says when SIGTERM stopped it.
const STOPPED: &[u8] = b"assay: stopped by SIGTERM before finishing; no output\n";

/// Argo CD stops a slow plugin with SIGTERM to its process group (ARGOCD.md
/// §2.4). Say so on stderr and exit 143: at once, or, while kustomize or
/// helm runs, as soon as its process group is killed and its scratch
/// directory removed (the hook instead watches SIGTERM on its runtime, see
/// `assay::runtime`). Nothing is half-written: output is printed in one
/// write only after rendering succeeded, and never once SIGTERM arrived.
fn on_sigterm() {
    extern "C" fn handler(_: libc::c_int) {
        // A running kustomize or helm is in its own process group, which
        // the signal to ours did not reach: take it down. While a tool
        // runs, its wait ends and the run unwinds (main says "stopped").
        // SAFETY: errno is the interrupted thread's, and this runs on it.
        let errno = unsafe { *libc::__errno_location() };
        if assay::source::tools::stop_running() {
            // The interrupted code may be about to read errno, which
            // kill(2) may set.
            // SAFETY: as above.
            unsafe { *libc::__errno_location() = errno };
            return;
        }
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, STOPPED.as_ptr().cast(), STOPPED.len());
            libc::_exit(143);
        }
    }
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGTERM, handler as *const () as libc::sighandler_t);
    }
}
