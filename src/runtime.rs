//! The one async runtime of a command that talks to servers (`promote`,
//! `judge`, `writeback`, `demo`), built once at the CLI edge and handed down,
//! and for the hook its SIGTERM watch. The hook is synchronous where libgit2
//! is and asynchronous where HTTP is; a single current-thread runtime drives
//! every request, so there is one place that owns threads, timers and signals.
//!
//! SIGTERM is Kubernetes asking the hook pod to stop. The hook must not die
//! mid-status-write: it stops at the next wait (a look's sleep, a request in
//! flight, a write-back backoff), says so in the status and exits 143; a
//! re-run resumes. Work that is all-or-nothing (a push) is let finish.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::Mutex;

/// A current-thread tokio runtime, optionally watching SIGTERM.
pub struct Runtime {
    rt: tokio::runtime::Runtime,
    /// The SIGTERM stream; `None` when not watched (the default disposition
    /// stays: the process dies at once).
    term: Option<Mutex<Signal>>,
    /// Set once SIGTERM has been seen, so every later wait ends at once.
    stopped: AtomicBool,
}

impl Runtime {
    /// A runtime for commands that may simply die on SIGTERM.
    pub fn new() -> io::Result<Runtime> {
        Ok(Runtime {
            rt: build()?,
            term: None,
            stopped: AtomicBool::new(false),
        })
    }

    /// A runtime for the hook: SIGTERM no longer kills the process but ends
    /// the next wait; registered here, before any work, so none is missed.
    pub fn watching_sigterm() -> io::Result<Runtime> {
        let rt = build()?;
        let term = {
            let _in_runtime = rt.enter();
            signal(SignalKind::terminate())?
        };
        Ok(Runtime {
            rt,
            term: Some(Mutex::new(term)),
            stopped: AtomicBool::new(false),
        })
    }

    /// Runs `f` to completion on this runtime (from synchronous code).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Resolves once SIGTERM has been received; never, when not watched.
    pub async fn stopped(&self) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        match &self.term {
            Some(term) => {
                term.lock().await.recv().await;
                self.stopped.store(true, Ordering::SeqCst);
            }
            None => std::future::pending().await,
        }
    }

    /// Whether SIGTERM has arrived, without waiting (the driver is given
    /// one brief turn to read a signal that is already pending).
    pub fn is_stopped(&self) -> bool {
        !self.sleep(Duration::from_millis(1)) || self.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`, or until SIGTERM: false when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        if self.stopped.load(Ordering::SeqCst) {
            return false;
        }
        self.block_on(async {
            tokio::select! {
                biased;
                () = self.stopped() => false,
                () = tokio::time::sleep(d) => true,
            }
        })
    }

    /// `f`, abandoned on SIGTERM (`None`).
    pub fn unless_stopped<F: Future>(&self, f: F) -> Option<F::Output> {
        self.block_on(async {
            tokio::select! {
                biased;
                () = self.stopped() => None,
                v = f => Some(v),
            }
        })
    }
}

fn build() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwatched_runtime_sleeps_the_whole_time() {
        let rt = Runtime::new().unwrap();
        assert!(rt.sleep(Duration::from_millis(5)));
        assert!(!rt.is_stopped());
        assert_eq!(rt.unless_stopped(async { 7 }), Some(7));
    }

    // nextest runs each test in a process of its own; under `cargo test` the
    // signal lands in the shared process, where this runtime's handler takes it.
    #[test]
    fn sigterm_ends_the_hooks_waits() {
        let rt = Runtime::watching_sigterm().unwrap();
        assert!(!rt.is_stopped());
        // SAFETY: raising a signal this process handles.
        unsafe { libc::raise(libc::SIGTERM) };
        assert!(!rt.sleep(Duration::from_secs(600)));
        assert!(rt.is_stopped());
        let never = std::future::pending::<()>();
        assert_eq!(rt.unless_stopped(never), None);
    }
}
