//! The `assay` binary: parse arguments, run one subcommand (`run.rs`),
//! print its output in one write or one error line. Exit codes, all here:
//! 0 success (for `promote`, any verdict); 1 the input or the environment is
//! wrong, or the hook could not do its job (the message says which); 2 bad
//! usage (clap); 143 stopped by SIGTERM (`generate`: at once, printing
//! nothing on stdout; `promote`: after the status says so).
//!
//! `main` is the C entry point (`no_main`), not std's: Argo CD runs
//! `assay generate` for every manifest request, and std's start-up work
//! (reading `/proc/self/maps` for the main thread's stack guard, an
//! alternate signal stack) is about 0.1 ms of a 1.5 ms run. Of that work
//! assay keeps what it relies on: fds 0-2 open (on `/dev/null` if
//! closed, so no file or socket opened later can become stdout), and
//! `SIGPIPE` ignored, so a closed pipe or socket is an error to handle
//! rather than a kill. (What it gives up: a stack overflow on the main
//! thread is a plain `SIGSEGV` instead of a message.) `std::env::args` still
//! works: glibc hands the arguments to std's initialiser.
#![no_main]

mod cli;
mod run;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use cli::Args;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    standard_fds_open();
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    on_sigterm();
    let code = match generate_args() {
        Some(dir) => run::generate(dir),
        None => run::run(Args::parse()),
    };
    let code = exit_code(code);
    // std's runtime would flush stdout at exit (`demo` prints through it).
    let _ = std::io::stdout().flush();
    code
}

/// Opens `/dev/null` on any of fds 0-2 that is closed, as std's runtime
/// does: one `poll` tells which.
fn standard_fds_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd; open(2) takes a C string.
    unsafe {
        if libc::poll(fds.as_mut_ptr(), 3, 0) < 0 {
            return;
        }
        for fd in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
            // The lowest free descriptor: this one.
            if libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) != fd.fd {
                return;
            }
        }
    }
}

/// `generate [DIR]`, what plugin.yaml runs on every manifest request, read
/// without building clap's parser for all subcommands; anything else (an
/// option, more arguments) goes to clap.
fn generate_args() -> Option<Option<PathBuf>> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != "generate" {
        return None;
    }
    let dir = args.next();
    // An empty or dash-led argument is clap's to judge (an error, `--help`).
    let plain = dir.as_ref().is_none_or(|d| {
        let bytes = d.as_encoded_bytes();
        !bytes.is_empty() && !bytes.starts_with(b"-")
    });
    (plain && args.next().is_none()).then(|| dir.map(PathBuf::from))
}

fn exit_code(result: anyhow::Result<String>) -> libc::c_int {
    match result {
        Ok(out) => print(&out),
        Err(e) => {
            eprintln!("assay: {e:#}");
            match e.downcast_ref::<assay::promote::PromoteError>() {
                Some(assay::promote::PromoteError::Stopped { .. }) => 143,
                _ => 1,
            }
        }
    }
}

/// Writes all of `out` at once; a closed pipe is not an error.
fn print(out: &str) -> libc::c_int {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("assay: writing output: {e}");
            1
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
