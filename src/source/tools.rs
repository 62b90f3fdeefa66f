//! Runs the tools `spec.source` names (kustomize, helm, kubectl): no shell,
//! a clean environment, null stdin, its own process group, and a deadline.
//! A tool that overruns it, or an `assay generate` stopped by SIGTERM (how
//! argocd-cmp-server stops a slow plugin), takes its whole process group
//! with it, so a hung `helm` or a `kustomize` that forked helm leaves no
//! process behind. Owns no policy: which tool and which arguments is
//! [`super`]'s business.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Process group of the tool running now, for [`stop_running`]: 0 when
/// nothing needs cleaning up, [`BUSY`] while a [`StopGuard`] lives or a tool
/// is being started or reaped.
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// [`RUNNING_GROUP`] when work is under way but no tool group is known.
const BUSY: i32 = -1;

/// Set once SIGTERM arrived; the running tool's wait then ends in [`ToolError::Stopped`].
static STOPPED: AtomicBool = AtomicBool::new(false);

/// For the binary's SIGTERM handler (async-signal-safe: atomics and
/// kill(2)). Kills the running tool's process group, which is not assay's
/// and did not receive argocd-cmp-server's signal, and says whether the
/// caller should return and let the run unwind (a tool was running or being
/// started: its wait ends in [`ToolError::Stopped`], and the scratch
/// directory is removed on the way out) or exit at once (no tool: nothing
/// to clean up, nothing waits).
#[must_use]
pub fn stop_running() -> bool {
    STOPPED.store(true, Ordering::SeqCst);
    let group = RUNNING_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes plain integers.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    group != 0
}

/// Whether SIGTERM arrived ([`stop_running`]): the command stops with no output.
pub fn stopped() -> bool {
    STOPPED.load(Ordering::SeqCst)
}

/// While it lives, SIGTERM stops the work through [`ToolError::Stopped`]
/// instead of exiting the process at once, so what the work created (the
/// scratch directory tools run in) is removed on the way out. Create it
/// before what it protects, so it is dropped after.
pub struct StopGuard {
    /// The state before it, restored when it goes (guards may nest).
    outer: i32,
}

impl StopGuard {
    /// Marks the work as under way.
    pub fn begin() -> Self {
        StopGuard {
            outer: RUNNING_GROUP.swap(BUSY, Ordering::SeqCst),
        }
    }
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        RUNNING_GROUP.store(self.outer, Ordering::SeqCst);
    }
}

/// Why a tool produced no manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The program could not be started.
    #[error("`{command}` could not start: {message}")]
    Spawn {
        /// The command line, as shown to the user.
        command: String,
        /// The operating system's error.
        message: String,
    },
    /// The tool exited unsuccessfully; `stderr` is its last words on one line.
    #[error("`{command}` failed ({status}){}", stderr_suffix(stderr))]
    Failed {
        /// The command line, as shown to the user.
        command: String,
        /// `exit status N` or `killed by signal N`.
        status: String,
        /// Its stderr, whitespace collapsed onto one line and shortened.
        stderr: String,
    },
    /// The deadline passed; the tool's process group was killed.
    #[error("`{command}` did not finish within {}s; its process group was killed{}", timeout.as_secs(), stderr_suffix(stderr))]
    TimedOut {
        /// The command line, as shown to the user.
        command: String,
        /// The deadline it overran.
        timeout: Duration,
        /// What it had written to stderr by then, on one line.
        stderr: String,
    },
    /// The tool printed more than the limit; its process group was killed.
    #[error("`{command}` printed more than {limit} bytes; its process group was killed")]
    TooLarge {
        /// The command line, as shown to the user.
        command: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// SIGTERM arrived while the tool ran; its process group was killed.
    #[error("`{command}` was stopped by SIGTERM; its process group was killed")]
    Stopped {
        /// The command line, as shown to the user.
        command: String,
    },
    /// The tool printed something that is not UTF-8.
    #[error("`{command}` printed output that is not UTF-8")]
    NotUtf8 {
        /// The command line, as shown to the user.
        command: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    match stderr.is_empty() {
        true => String::new(),
        false => format!(": {stderr}"),
    }
}

/// Longest stderr kept in an error: Argo CD shows the message in one
/// Application condition, and a chart's error is in its first lines.
const MAX_STDERR: usize = 2000;

/// One line of `bytes`: whitespace runs collapsed, at most [`MAX_STDERR`] characters.
fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > MAX_STDERR {
        out = out.chars().take(MAX_STDERR).collect::<String>() + " …";
    }
    out
}

/// The first executable file called `name` in the `PATH` directories
/// `path`, as an absolute path: the tool runs in the app directory, where a
/// relative `PATH` entry (`.ci/bin`) would name something else.
pub fn find(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|d| !d.as_os_str().is_empty())
        .filter_map(|d| std::path::absolute(d.join(name)).ok())
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A tool invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The program, already found on `PATH`.
    pub program: PathBuf,
    /// Shown in errors and used as `argv[0]` (`kubectl`, `helm`).
    pub name: String,
    /// Arguments, without the program.
    pub args: Vec<OsString>,
    /// Working directory.
    pub dir: PathBuf,
    /// The whole environment of the tool: nothing else is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// When to give up and kill the process group.
    pub timeout: Duration,
    /// The most stdout that is read; a tool that prints more is stopped.
    pub max_stdout: usize,
}

impl Invocation {
    /// The command line as errors show it: program name and arguments,
    /// paths as given (relative to the app directory), the scratch
    /// directory as `$TMPDIR` so messages do not change from run to run.
    pub fn display(&self) -> String {
        let tmp = self
            .env
            .iter()
            .find(|(k, _)| k == "TMPDIR")
            .map(|(_, v)| v.to_string_lossy().into_owned());
        std::iter::once(self.name.clone())
            .chain(self.args.iter().map(|a| {
                let a = a.to_string_lossy().into_owned();
                match &tmp {
                    Some(t) if a.starts_with(t.as_str()) => format!("$TMPDIR{}", &a[t.len()..]),
                    _ => a,
                }
            }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the tool to completion; its stdout on success.
    pub fn run(&self) -> Result<String, ToolError> {
        let command = self.display();
        let started = Instant::now();
        // From here SIGTERM leaves the stopping to this thread (stop_running).
        let outer = RUNNING_GROUP.swap(BUSY, Ordering::SeqCst);
        if stopped() {
            RUNNING_GROUP.store(outer, Ordering::SeqCst);
            return Err(ToolError::Stopped { command });
        }
        let mut tool = Command::new(&self.program);
        tool.arg0(&self.name)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if !is_current_dir(&self.dir) {
            tool.current_dir(&self.dir);
        }
        let spawned = tool.spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                RUNNING_GROUP.store(outer, Ordering::SeqCst);
                return Err(ToolError::Spawn {
                    command,
                    message: e.to_string(),
                });
            }
        };
        let group = child.id() as i32;
        RUNNING_GROUP.store(group, Ordering::SeqCst);
        // SIGTERM while it was being started found no group to kill.
        if stopped() {
            // SAFETY: kill(2) with plain integers.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let mut pipes = Pipes::new(child.stdout.take(), child.stderr.take(), self.max_stdout);
        let deadline = started + self.timeout;
        // Both pipes closed: every process that held them is gone or done.
        // Otherwise the wait gave up: SIGTERM, too much output or the
        // deadline, in the order the errors below are checked.
        let mut gave_up = !pipes.read_until(deadline);
        // The tool may still run with its pipes closed; give it what is left.
        while !gave_up && !stopped() && !exited(group) {
            match Instant::now() >= deadline {
                true => gave_up = true,
                false => thread::sleep(Duration::from_micros(100)),
            }
        }
        // Stragglers of the group (a forked helm, a plugin) go with it. The
        // leader is not reaped yet, so the group id cannot have been reused.
        // SAFETY: kill(2) with plain integers.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        // Killed, not yet reaped: nothing for stop_running to kill now.
        RUNNING_GROUP.store(BUSY, Ordering::SeqCst);
        let exit = child.wait();
        RUNNING_GROUP.store(outer, Ordering::SeqCst);
        // A grandchild that left the group may hold a pipe: wait a moment, not forever.
        pipes.read_until(Instant::now() + Duration::from_secs(1));
        let Pipes {
            read: [stdout, stderr],
            overflowed,
            ..
        } = pipes;
        if stopped() {
            return Err(ToolError::Stopped { command });
        }
        if overflowed {
            return Err(ToolError::TooLarge {
                command,
                limit: self.max_stdout,
            });
        }
        if gave_up {
            return Err(ToolError::TimedOut {
                command,
                timeout: self.timeout,
                stderr: one_line(&stderr),
            });
        }
        let status = exit.map_err(|e| ToolError::Spawn {
            command: command.clone(),
            message: e.to_string(),
        })?;
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            let status = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                (None, None) => "unknown status".into(),
            };
            return Err(ToolError::Failed {
                command,
                status,
                stderr: one_line(&stderr),
            });
        }
        String::from_utf8(stdout).map_err(|_| ToolError::NotUtf8 { command })
    }
}

/// Whether `dir` (canonical, as [`super`] passes it) is already the
/// working directory, which the tool then inherits. Argo CD runs the plugin
/// in the app directory, where the tools run too. Setting a directory
/// anyway would cost a fork: std starts a process with posix_spawn (vfork)
/// unless it must change directory, and a static binary cannot look up the
/// glibc call that does that, so std forks instead, copying assay's page
/// tables; with the page faults that follow, that cost 0.2 ms per tool run
/// (docs/benchmarks-adopt.md).
fn is_current_dir(dir: &Path) -> bool {
    std::env::current_dir().is_ok_and(|here| here == dir)
}

/// Whether process `pid` has exited, without reaping it (so its process
/// group id stays reserved until [`Invocation::run`] kills the group).
fn exited(pid: i32) -> bool {
    // SAFETY: waitid(2) writes only into the zeroed siginfo we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// The tool's stdout and stderr, read together as they arrive, so that
/// neither fills up while the other waits; on one thread with poll(2),
/// because a thread per pipe (a 2 MiB stack and a malloc arena each) cost
/// 0.2 ms per tool run (docs/benchmarks-adopt.md).
struct Pipes {
    /// stdout and stderr, while open.
    open: [Option<File>; 2],
    /// What each has written so far, up to its limit.
    read: [Vec<u8>; 2],
    /// The most stdout kept: past it the tool is stopped.
    max_stdout: usize,
    /// stdout went past `max_stdout`; it was closed.
    overflowed: bool,
}

/// The most stderr kept: an error shows its first [`MAX_STDERR`]
/// characters, and a tool that floods it must not fill assay's memory.
const MAX_STDERR_BYTES: usize = 64 * 1024;

impl Pipes {
    fn new(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>, max_stdout: usize) -> Self {
        Pipes {
            open: [
                stdout.map(|p| File::from(OwnedFd::from(p))),
                stderr.map(|p| File::from(OwnedFd::from(p))),
            ],
            read: [Vec::new(), Vec::new()],
            max_stdout,
            overflowed: false,
        }
    }

    /// Reads until both pipes close (true), or until `until` passes,
    /// SIGTERM arrives or stdout overflows (false). Waits in slices: after
    /// SIGTERM a process that left the group may still hold a pipe, and the
    /// stop must not wait out the deadline.
    fn read_until(&mut self, until: Instant) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            // Which pipes are polled, in `fds` order.
            let mut which = [0usize; 2];
            let mut fds = [libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            }; 2];
            let mut n = 0;
            for (i, f) in self.open.iter().enumerate() {
                if let Some(f) = f {
                    (which[n], fds[n].fd) = (i, f.as_raw_fd());
                    n += 1;
                }
            }
            if n == 0 {
                return true;
            }
            let now = Instant::now();
            if stopped() || now >= until || self.overflowed {
                return false;
            }
            let slice = until.duration_since(now).min(Duration::from_millis(50));
            let ms = slice.as_millis().max(1) as libc::c_int;
            // SAFETY: poll(2) writes only into the array we own, at most `n` entries of it.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, ms) };
            if ready < 0 && std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
                // Not a signal (SIGTERM ends the wait above): do not spin on it.
                thread::sleep(slice);
            }
            for (&i, p) in which.iter().zip(&fds[..n]) {
                let Some(mut f) = self.open[i].as_ref().filter(|_| p.revents != 0) else {
                    continue;
                };
                // Ready, so one read does not block. End of file, or an
                // error (a pipe gives one only when it is unusable): closed.
                match f.read(&mut chunk) {
                    Ok(0) => self.open[i] = None,
                    Ok(n) => self.keep(i, &chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => self.open[i] = None,
                }
            }
        }
    }

    /// Keeps what pipe `i` wrote, within its limit: stderr's first
    /// [`MAX_STDERR_BYTES`] (the rest is read and dropped, so the tool does
    /// not block on it); stdout whole, or closed once past `max_stdout`.
    fn keep(&mut self, i: usize, bytes: &[u8]) {
        let max = [self.max_stdout, MAX_STDERR_BYTES][i];
        let room = max.saturating_sub(self.read[i].len());
        self.read[i].extend_from_slice(&bytes[..bytes.len().min(room)]);
        if i == 0 && bytes.len() > room {
            self.open[0] = None;
            self.overflowed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, dir: &Path, timeout: Duration) -> Invocation {
        Invocation {
            program: PathBuf::from("/bin/sh"),
            name: "sh".into(),
            args: vec!["-c".into(), script.into()],
            dir: dir.to_path_buf(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            timeout,
            max_stdout: 1 << 20,
        }
    }

    /// Both pipes are read as they fill: a tool that writes more than a
    /// pipe holds to each, stderr first, blocks on neither; stdout is kept
    /// whole, stderr up to its limit.
    #[test]
    fn both_pipes_are_read_whole_together() {
        let script =
            "head -c 300000 /dev/zero | tr '\\0' e >&2; head -c 500000 /dev/zero | tr '\\0' o";
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipes = Pipes::new(child.stdout.take(), child.stderr.take(), 1 << 20);
        assert!(pipes.read_until(Instant::now() + Duration::from_secs(60)));
        assert!(child.wait().unwrap().success());
        let [out, err] = pipes.read;
        assert_eq!((out.len(), err.len()), (500_000, MAX_STDERR_BYTES));
        assert!(out.iter().all(|&b| b == b'o') && err.iter().all(|&b| b == b'e'));
    }

    /// A failing tool's stderr reaches its error, on one line and shortened.
    #[test]
    fn a_failure_carries_its_stderr() {
        let script = "head -c 300000 /dev/zero | tr '\\0' e >&2; exit 3";
        let here = std::env::current_dir().unwrap();
        let err = sh(script, &here, Duration::from_secs(60))
            .run()
            .unwrap_err();
        let ToolError::Failed { status, stderr, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(status, "exit status 3");
        assert_eq!(stderr, format!("{} …", "e".repeat(MAX_STDERR)));
    }

    /// The tool runs in its directory, whether or not that is assay's.
    #[test]
    fn the_tool_runs_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().canonicalize().unwrap();
        let here = std::env::current_dir().unwrap();
        assert!(is_current_dir(&here));
        assert!(!is_current_dir(&there));
        for d in [&there, &here] {
            let out = sh("pwd -P", d, Duration::from_secs(60)).run().unwrap();
            assert_eq!(out.trim_end(), d.to_str().unwrap());
        }
    }

    /// A tool that outlives its deadline with its pipes open is killed,
    /// and what it wrote to stderr is kept.
    #[test]
    fn the_deadline_kills_a_tool_that_keeps_its_pipes_open() {
        let here = std::env::current_dir().unwrap();
        let err = sh(
            "echo starting >&2; exec sleep 60",
            &here,
            Duration::from_secs(2),
        )
        .run()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sh -c echo starting >&2; exec sleep 60` did not finish within 2s; its process group was killed: starting"
        );
    }

    /// A tool that prints without end is stopped at the limit, with its
    /// whole process group.
    #[test]
    fn a_tool_that_prints_too_much_is_stopped() {
        let here = std::env::current_dir().unwrap();
        let mut tool = sh("yes manifest", &here, Duration::from_secs(60));
        tool.max_stdout = 100_000;
        let err = tool.run().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sh -c yes manifest` printed more than 100000 bytes; its process group was killed"
        );
    }
}
