//! Test servers on 127.0.0.1, each a real process owned by the test that
//! starts it: the machinery behind [`super::git_servers`] and
//! [`super::prometheus`].
//!
//! Every server belongs to the test that starts it: its own free port, its
//! own temp dir for config, keys and logs, no state shared with other tests,
//! so nextest can run any number of them in parallel. Starting one:
//!
//! 1. asks the kernel for a free port (bind `127.0.0.1:0`, read the port,
//!    release it) and writes the server's config for that port;
//! 2. spawns the server in a new process group, stdout and stderr going to a
//!    log file in its temp dir ([`GitDaemon::log`] and friends show it);
//! 3. polls, with a deadline ([`READY_TIMEOUT`]) and no fixed sleeps, until
//!    the server's own log says it has bound the port (so a port another
//!    process grabbed in the meantime is never mistaken for ours) and the
//!    port answers (git daemon: TCP connect; sshd: the `SSH-2.0-` banner
//!    carrying this instance's token; lighttpd: an HTTP(S) response carrying
//!    this instance's `Server:` tag, over TLS verified with the throwaway CA;
//!    Prometheus: its "ready" log line and `GET /-/ready` answering 200);
//! 4. if the server exits because the port was taken after all, starts over
//!    with a new port (up to [`PORT_ATTEMPTS`] times); any other early exit
//!    or a missed deadline panics with the server's log.
//!
//! Stopping: dropping a server (also while a test panics) SIGKILLs its process
//! group and every process descended from it (sshd's per-connection children
//! start their own sessions, so the group alone would miss them), reaps it,
//! and waits until none of them holds a file or socket any more, so the port
//! refuses connections as soon as Drop returns. `kill()` does the same while
//! keeping the value, for "server down" tests; `restart()` brings the server
//! back on the same port (panicking if someone took it meanwhile), and
//! `stop()` asks politely (SIGTERM, up to 5 s) before killing. `kill()` and
//! `restart()` take `&self`: a server shared between threads can be killed
//! mid-race.
//!
//! If the test process itself dies (a nextest timeout, SIGKILL), Drop never
//! runs: every server is spawned from one long-lived spawner thread with
//! `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills the server when the test
//! process goes away (the signal follows the *thread* that forked, which is
//! why it is not the test's own thread).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to become ready before the test fails.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How many fresh ports to try when a server finds its port taken.
pub const PORT_ATTEMPTS: usize = 8;
/// How long `stop()` waits after SIGTERM before it kills.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Longest pause between two readiness polls.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(20);
/// Connect/read timeout of one readiness probe.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// TCP connect to `127.0.0.1:port` with the probe timeout.
pub(crate) fn connect(port: u16) -> Option<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    Some(stream)
}

/// Sends `request` (if any) and reads until EOF, the timeout, or `limit` bytes.
pub(crate) fn exchange(mut stream: TcpStream, request: &[u8], limit: usize) -> Vec<u8> {
    if !request.is_empty() && stream.write_all(request).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < limit {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    buf
}

/// Runs `cmd` with `input` on stdin, killing it after `timeout`; `None` on
/// timeout or if it cannot be started.
pub(crate) fn run_with_timeout(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut exited = false;
    wait_until(timeout, || {
        exited = !matches!(child.try_wait(), Ok(None));
        exited
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        let _ = writer.join();
        return None;
    }
    let _ = writer.join();
    child.wait_with_output().ok()
}

/// A free port on 127.0.0.1, as the kernel hands them out (then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Spawns `cmd` from the one long-lived spawner thread (see the module doc:
/// `PR_SET_PDEATHSIG` fires when the forking thread exits).
fn spawn_detached(cmd: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let jobs = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("test-servers-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        tx
    });
    let (tx, rx) = mpsc::channel();
    jobs.send((cmd, tx)).expect("spawner thread alive");
    rx.recv().expect("spawner thread replies")
}

/// Builds the command that runs a server on a given port (writing whatever
/// config that needs first).
type Launch = Box<dyn Fn(u16) -> Command + Send + Sync>;
/// Readiness: given the port and the server's log so far, is it serving?
type Probe = Box<dyn Fn(u16, &str) -> bool + Send + Sync>;

/// One server process: the machinery shared by the git servers and
/// Prometheus.
pub(crate) struct Server {
    name: &'static str,
    port: u16,
    log_path: PathBuf,
    child: Mutex<Option<Child>>,
    launch: Launch,
    probe: Probe,
}

enum StartError {
    /// The server exited saying its port is in use: try another one.
    PortTaken(String),
    /// Anything else: the message says what and holds the log.
    Failed(String),
}

impl Server {
    /// Starts the server on a free port (see the module doc), or panics with
    /// its log.
    pub(crate) fn start(
        name: &'static str,
        log_path: PathBuf,
        launch: Launch,
        probe: Probe,
    ) -> Server {
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match launch_and_wait(name, port, &log_path, &launch, &probe) {
                Ok(child) => {
                    return Server {
                        name,
                        port,
                        log_path,
                        child: Mutex::new(Some(child)),
                        launch,
                        probe,
                    };
                }
                Err(StartError::PortTaken(log)) => last_log = log,
                Err(StartError::Failed(message)) => panic!("{message}"),
            }
        }
        panic!(
            "{name}: every one of {PORT_ATTEMPTS} free ports was taken before it could bind; last log:\n{last_log}"
        )
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The server's stdout and stderr so far (since the last (re)start).
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The server's pid while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.slot().as_ref().map(Child::id)
    }

    /// SIGKILL the server and everything it started, and reap it. Idempotent.
    pub(crate) fn kill(&self) {
        if let Some(mut child) = self.slot().take() {
            kill_tree(&mut child, false);
        }
    }

    /// SIGTERM, up to [`STOP_GRACE`] to exit, then as [`Server::kill`].
    pub(crate) fn stop(&self) {
        if let Some(mut child) = self.slot().take() {
            kill_tree(&mut child, true);
        }
    }

    /// Starts the server again on the same port (killing it first if it
    /// still runs); panics if it cannot have that port back.
    pub(crate) fn restart(&self) {
        let mut slot = self.slot();
        if let Some(mut child) = slot.take() {
            kill_tree(&mut child, false);
        }
        let started = launch_and_wait(
            self.name,
            self.port,
            &self.log_path,
            &self.launch,
            &self.probe,
        );
        match started {
            Ok(child) => *slot = Some(child),
            Err(error) => {
                drop(slot); // no poisoned lock for Drop or a later restart
                match error {
                    StartError::PortTaken(log) => panic!(
                        "{}: cannot restart on port {}, it was taken meanwhile:\n{log}",
                        self.name, self.port
                    ),
                    StartError::Failed(message) => panic!("{message}"),
                }
            }
        }
    }

    /// The running child, if any (a panic elsewhere never locks it out).
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn launch_and_wait(
    name: &str,
    port: u16,
    log_path: &Path,
    launch: &Launch,
    probe: &Probe,
) -> Result<Child, StartError> {
    let log =
        File::create(log_path).map_err(|e| StartError::Failed(format!("{name}: log file: {e}")))?;
    let log2 = log
        .try_clone()
        .map_err(|e| StartError::Failed(format!("{name}: log file: {e}")))?;
    let mut cmd = launch(port);
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let what = format!("{cmd:?}");
    let mut child = spawn_detached(cmd)
        .map_err(|e| StartError::Failed(format!("{name}: cannot start {what}: {e}")))?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = fs::read_to_string(log_path).unwrap_or_default();
            return Err(if port_taken(&text) {
                StartError::PortTaken(text)
            } else {
                StartError::Failed(format!(
                    "{name} exited ({status}) before it was ready on port {port}; command: {what}\nlog:\n{text}"
                ))
            });
        }
        let text = fs::read_to_string(log_path).unwrap_or_default();
        if probe(port, &text) {
            return Ok(child);
        }
        if started.elapsed() >= READY_TIMEOUT {
            kill_tree(&mut child, false);
            let text = fs::read_to_string(log_path).unwrap_or_default();
            return Err(StartError::Failed(format!(
                "{name} not ready on port {port} after {READY_TIMEOUT:?}; command: {what}\nlog:\n{text}"
            )));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(MAX_POLL_PAUSE);
    }
}

fn port_taken(log: &str) -> bool {
    log.contains("Address already in use")
        || log.contains("unable to allocate any listen sockets")
        // Go (Prometheus): "listen tcp 127.0.0.1:P: bind: address already in use"
        || log.contains("bind: address already in use")
}

/// Kills `child`'s process group and every process descended from it, then
/// reaps `child`. With `graceful`, SIGTERM first and up to [`STOP_GRACE`] to
/// exit. Descendants are collected before anything dies (orphans are
/// reparented and could no longer be found) and frozen with SIGSTOP so none
/// can fork away in between.
fn kill_tree(child: &mut Child, graceful: bool) {
    let pid = child.id() as libc::pid_t;
    let mut tree = family(pid);
    if graceful {
        signal_all(pid, &tree, libc::SIGTERM);
        let mut exited = false;
        wait_until(STOP_GRACE, || {
            exited = exited || matches!(child.try_wait(), Ok(Some(_)));
            exited && !any_running(pid, &tree)
        });
        // Whatever is left is killed below (sshd sessions, for one, ignore
        // the listener's SIGTERM).
    }
    signal_all(pid, &tree, libc::SIGSTOP);
    for late in family(pid) {
        if tree.insert(late) {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(late, libc::SIGSTOP) };
        }
    }
    signal_all(pid, &tree, libc::SIGKILL);
    let _ = child.wait();
    // Signals are asynchronous: a child git-daemon forked for a connection
    // just before the SIGSTOP landed may hold the listening socket and still
    // be dying after the daemon is reaped. Wait until the group and every
    // known descendant have let go of their files (gone, or zombies).
    wait_until(STOP_GRACE, || !any_running(pid, &tree));
}

/// Polls `done` (pauses doubling from 100 µs to [`MAX_POLL_PAUSE`]) until it
/// holds or `timeout` passes.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    while !done() && Instant::now() < deadline {
        thread::sleep(pause);
        pause = (pause * 2).min(MAX_POLL_PAUSE);
    }
}

fn signal_all(group: libc::pid_t, pids: &HashSet<libc::pid_t>, signal: libc::c_int) {
    // SAFETY: plain kill(2) on our own child's group and its descendants.
    unsafe {
        libc::kill(-group, signal);
        for &pid in pids {
            libc::kill(pid, signal);
        }
    }
}

/// A process as `/proc/<pid>/stat` shows it.
struct Proc {
    pid: libc::pid_t,
    ppid: libc::pid_t,
    pgrp: libc::pid_t,
    /// Exited (a zombie, or being reaped): it holds no files any more.
    dead: bool,
}

fn processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let state = fields.next()?;
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            Some(Proc {
                pid,
                ppid,
                pgrp,
                dead: matches!(state, "Z" | "X" | "x"),
            })
        })
        .collect()
}

/// Everything `leader` started: the members of its process group and all
/// their descendants (sshd's connection children start sessions of their
/// own), without `leader` itself.
fn family(leader: libc::pid_t) -> HashSet<libc::pid_t> {
    let procs = processes();
    let mut children: HashMap<libc::pid_t, Vec<libc::pid_t>> = HashMap::new();
    for p in &procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found = HashSet::new();
    let mut todo: Vec<_> = procs
        .iter()
        .filter(|p| p.pgrp == leader)
        .map(|p| p.pid)
        .chain([leader])
        .collect();
    while let Some(pid) = todo.pop() {
        if pid != leader && !found.insert(pid) {
            continue;
        }
        todo.extend(children.get(&pid).into_iter().flatten().copied());
    }
    found
}

/// Is any process of `leader`'s group, or of `known`, still alive?
fn any_running(leader: libc::pid_t, known: &HashSet<libc::pid_t>) -> bool {
    processes()
        .iter()
        .any(|p| !p.dead && (p.pgrp == leader || known.contains(&p.pid)))
}
