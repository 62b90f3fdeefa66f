//! `FakeCmpServer`: a test-only imitation of Argo CD's `argocd-cmp-server`
//! sidecar, written from `/work/shared/reference/ARGOCD.md` (the contract as
//! read from Argo CD's Go source). It is not Argo CD and was never checked
//! against a real sidecar: where the two disagree, Argo CD is right.
//!
//! Imitated (sections of ARGOCD.md): §1.1 loading and validating
//! `plugin.yaml`; §2.1 a fresh `_cmp_server/<uuid>/` holding the whole repo
//! (with `.git`), files 0644, dirs 0755; §2.2 the environment in Argo CD's
//! order, with Go `os.Expand` of plugin env values; §2.3 the error text of a
//! failed command and the YAML-or-JSON split of stdout; §2.4 a process group
//! per command, a deadline, SIGTERM then SIGKILL 5 s later; §1.3 dynamic
//! parameter announcements; §1.4 `discover.fileName` and `discover.find.command`.
//!
//! Not imitated: gRPC and tarballs (§2.6), caching (§2.5), git credentials
//! (§2.2 item 9), `discover.find.glob`, `[...]` classes in discovery globs, and
//! YAML 1.1: Argo CD reads manifests with go-yaml v2, the fake with
//! serde-saphyr (YAML 1.2), so a plain `on` or `0755` parses differently
//! (serde-saphyr's serializer quotes such strings by default).
//! Stricter than Argo CD on purpose: zero manifests is an error here, while
//! Argo CD only logs a warning and then prunes the whole application.
//!
//! Layout: this file holds the server, the request, the errors and the
//! running of commands (§2.4); `config` reads `plugin.yaml`, `workspace`
//! copies the repo, `env` builds the environment and `decode` reads stdout.

mod config;
mod decode;
mod env;
mod workspace;

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::repo_root;
use decode::{parse_announcements, split_manifests};
use workspace::{Workspace, glob_matches_any};

pub use config::{PluginCommand, PluginConfig};

/// The callers' repo-server timeout (controller and argocd-server, §2.4).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// The server cuts this off the caller's deadline (`cmpTimeoutBuffer`).
const TIMEOUT_BUFFER: Duration = Duration::from_millis(100);
/// Between SIGTERM and SIGKILL of the command's process group (§2.4).
const KILL_GRACE: Duration = Duration::from_secs(5);
/// A plausible `KUBE_API_VERSIONS` (sorted, §2.2 item 6).
const API_VERSIONS: &str = "apps/v1,apps/v1/Deployment,batch/v1,batch/v1/Job,\
    gateway.networking.k8s.io/v1,gateway.networking.k8s.io/v1/HTTPRoute,networking.istio.io/v1,\
    networking.istio.io/v1/DestinationRule,networking.istio.io/v1/VirtualService,\
    rbac.authorization.k8s.io/v1,rbac.authorization.k8s.io/v1/Role,v1,v1/Service";

/// Why the fake sidecar refused a request; `message()` is what Argo CD shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmpError {
    /// The request could not be prepared or the command not started.
    Setup { message: String },
    /// The command exited non-zero: Argo CD's `CmdError` text (§2.3).
    Failed { message: String },
    /// The deadline passed and the process group was terminated (§2.4).
    Timeout { message: String },
    /// stdout is not what Argo CD accepts: not a manifest stream (§2.3), no
    /// manifests at all, or not a JSON array of announcements (§1.3).
    Output { message: String },
}

impl CmpError {
    /// The error text, as Argo CD would surface it.
    pub fn message(&self) -> &str {
        match self {
            CmpError::Setup { message }
            | CmpError::Failed { message }
            | CmpError::Timeout { message }
            | CmpError::Output { message } => message,
        }
    }
}

impl fmt::Display for CmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CmpError {}

fn output_err(message: String) -> CmpError {
    CmpError::Output { message }
}

/// One request from the repo-server: the repository, the app path in it and
/// the Application fields that reach the plugin's environment (§2.2).
#[derive(Debug, Clone)]
pub struct AppRequest {
    /// The source repository (a real git repo); copied whole, `.git` included.
    pub repo: PathBuf,
    /// `spec.source.path`, relative to the repo root.
    pub app_path: String,
    /// Application name, or `<app-namespace>_<name>` outside the control-plane namespace.
    pub app_name: String,
    /// Destination namespace (may be empty).
    pub namespace: String,
    pub project: String,
    /// Resolved commit SHA.
    pub revision: String,
    pub repo_url: String,
    pub target_revision: String,
    pub kube_version: String,
    pub kube_api_versions: String,
    /// `spec.source.plugin.env`, names verbatim (without `ARGOCD_ENV_`).
    pub plugin_env: Vec<(String, String)>,
    /// `spec.source.plugin.parameters`, a JSON list of `{name, string|array|map}`.
    /// The Application has a `plugin` section iff this is `Some` or `plugin_env`
    /// is non-empty; `Some(Value::Null)` is a `plugin` section without parameters.
    pub parameters: Option<Value>,
}

impl AppRequest {
    /// A request for `app_path` at the repo's HEAD (resolved as the repo-server
    /// does) from Application `bookinfo` of project `default`, destination
    /// namespace `bookinfo`, target revision `main`, on Kubernetes 1.33.
    pub fn new(repo: &Path, app_path: &str) -> Self {
        let out = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["rev-parse", "HEAD"])
            .output();
        let out = out.expect("run git");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "git rev-parse HEAD in {}: {stderr}",
            repo.display()
        );
        let revision = String::from_utf8(out.stdout).unwrap();
        Self::at_revision(repo, app_path, revision.trim())
    }

    /// [`AppRequest::new`] at a given `revision`, without asking git.
    fn at_revision(repo: &Path, app_path: &str, revision: &str) -> Self {
        AppRequest {
            repo: repo.to_path_buf(),
            app_path: app_path.to_string(),
            app_name: "bookinfo".into(),
            namespace: "bookinfo".into(),
            project: "default".into(),
            revision: revision.to_string(),
            repo_url: "https://git.example.com/platform/env.git".into(),
            target_revision: "main".into(),
            kube_version: "1.33.4".into(),
            kube_api_versions: API_VERSIONS.into(),
            plugin_env: vec![],
            parameters: None,
        }
    }
}

/// A successful generate: the raw streams and the manifests Argo CD would see.
#[derive(Debug, Clone)]
pub struct Generated {
    /// stdout with one trailing `\n` trimmed, as the server keeps it.
    pub stdout: String,
    /// stderr (Argo CD only logs it on success).
    pub stderr: String,
    pub manifests: Vec<Value>,
}

/// The fake `argocd-cmp-server`: see the module doc for what it imitates.
pub struct FakeCmpServer {
    config: PluginConfig,
    deadline: Duration,
    /// Stands for `$TMPDIR`; requests get `<workdir>/_cmp_server/<uuid>/`.
    workdir: tempfile::TempDir,
    /// Extra `PATH` directories of the sidecar (see `with_tools`).
    tool_dirs: Vec<PathBuf>,
}

impl FakeCmpServer {
    /// Starts with the repository's own `plugin.yaml`; panics if it is invalid.
    pub fn load() -> Self {
        Self::load_file(&repo_root().join("plugin.yaml"))
    }

    /// Starts with the plugin config at `path` (e.g. `plugin-tools.yaml`).
    pub fn load_file(path: &Path) -> Self {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config = PluginConfig::parse(&text).unwrap_or_else(|e| panic!("plugin.yaml: {e}"));
        let workdir = tempfile::tempdir().expect("temp dir");
        FakeCmpServer {
            config,
            deadline: DEFAULT_DEADLINE,
            workdir,
            tool_dirs: vec![],
        }
    }

    /// Puts `dirs` on the sidecar's `PATH` after assay's own directory, as
    /// an image with kustomize and helm in it would have them.
    pub fn with_tools(mut self, dirs: Vec<PathBuf>) -> Self {
        self.tool_dirs = dirs;
        self
    }

    /// Sets the caller's deadline (init and generate share it; default 60 s).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    /// GenerateManifest: the manifests, or the error Argo CD would show.
    pub fn render(&self, req: &AppRequest) -> Result<Vec<Value>, CmpError> {
        self.generate(req).map(|g| g.manifests)
    }

    /// GenerateManifest, keeping stdout and stderr.
    pub fn generate(&self, req: &AppRequest) -> Result<Generated, CmpError> {
        let deadline = Instant::now() + self.deadline.saturating_sub(TIMEOUT_BUFFER);
        let work = self.workspace(req)?;
        let env = self.generate_env(req);
        if let Some(init) = &self.config.init {
            run(init, &work.app_dir, &env, deadline)?; // stdout discarded
        }
        let (stdout, stderr) = run(&self.config.generate, &work.app_dir, &env, deadline)?;
        let manifests = split_manifests(&stdout)?;
        if manifests.is_empty() {
            // Argo CD would only warn "Plugin command returned zero output",
            // then sync zero objects, which prunes the whole app.
            let stderr = stderr.trim();
            let why = "Argo CD would prune every object of the app";
            return Err(output_err(format!(
                "zero manifests: {why} (stderr: {stderr})"
            )));
        }
        Ok(Generated {
            stdout,
            stderr,
            manifests,
        })
    }

    /// GetParametersAnnouncement: dynamic announcements, then static ones (§1.3).
    pub fn parameters(&self, req: &AppRequest) -> Result<Vec<Value>, CmpError> {
        let mut out = vec![];
        if let Some(dynamic) = &self.config.dynamic_parameters {
            let deadline = Instant::now() + self.deadline.saturating_sub(TIMEOUT_BUFFER);
            let work = self.workspace(req)?;
            let (stdout, _) = run(dynamic, &work.app_dir, &self.parameters_env(req), deadline)?;
            out = parse_announcements(&stdout)?;
        }
        out.extend(self.config.static_parameters.iter().cloned());
        Ok(out)
    }

    /// MatchRepository with `discover.fileName`, a glob joined to the app dir.
    /// Without discover config a named plugin is used directly: `true`.
    /// With `discover.find.command` instead (§1.2): it runs in the app dir
    /// with the generate env; a match is exit 0 and stdout non-empty after one
    /// trailing `\n` is trimmed.
    pub fn discover_matches(&self, req: &AppRequest) -> bool {
        let work = self.workspace(req).unwrap_or_else(|e| panic!("{e}"));
        if let Some(pattern) = &self.config.discover_file_name {
            return glob_matches_any(&work.app_dir, pattern);
        }
        let Some(find) = &self.config.discover_command else {
            return true;
        };
        let deadline = Instant::now() + self.deadline.saturating_sub(TIMEOUT_BUFFER);
        let env = self.generate_env(req);
        run(find, &work.app_dir, &env, deadline).is_ok_and(|(stdout, _)| !stdout.is_empty())
    }

    /// The environment of init/generate: sidecar env, then §2.2 items 1–8.
    pub fn generate_env(&self, req: &AppRequest) -> Vec<(OsString, OsString)> {
        let mut env = env::generate_env(req);
        if !self.tool_dirs.is_empty() {
            for (_, v) in env.iter_mut().filter(|(k, _)| k == "PATH") {
                let mut dirs: Vec<PathBuf> = std::env::split_paths(v).collect();
                for (i, d) in self.tool_dirs.iter().enumerate() {
                    dirs.insert((i + 1).min(dirs.len()), d.clone());
                }
                *v = std::env::join_paths(dirs).expect("PATH dirs");
            }
        }
        env
    }

    /// The reduced environment of GetParametersAnnouncement (§2.2, last paragraph).
    pub fn parameters_env(&self, req: &AppRequest) -> Vec<(OsString, OsString)> {
        env::parameters_env(req)
    }

    fn workspace(&self, req: &AppRequest) -> Result<Workspace, CmpError> {
        let preserve = self.config.preserve_file_mode;
        Workspace::create(self.workdir.path(), req, preserve)
    }
}

/// Runs one command as `runCommand` does: own process group, null stdin,
/// `PATH` lookup in the server's env, the deadline as a safety net. Returns
/// (stdout minus one trailing `\n`, stderr) or the error Argo CD would report.
fn run(
    cmd: &PluginCommand,
    dir: &Path,
    env: &[(OsString, OsString)],
    deadline: Instant,
) -> Result<(String, String), CmpError> {
    let argv: Vec<&String> = cmd.command.iter().chain(&cmd.args).collect();
    let joined = argv
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program = match argv[0].contains('/') {
        true => Some(PathBuf::from(argv[0])),
        false => std::env::split_paths(&path.unwrap_or_default())
            .map(|d| d.join(argv[0]))
            .find(|p| {
                fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }),
    };
    let not_found = || format!("exec: \"{}\": executable file not found in $PATH", argv[0]);
    let program = program.ok_or_else(|| CmpError::Setup {
        message: not_found(),
    })?;
    let spawned = Command::new(&program)
        .arg0(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let start_err = |e| CmpError::Setup {
        message: format!("fork/exec {}: {e}", program.display()),
    };
    let mut child = spawned.map_err(start_err)?;
    let readers = [drain(child.stdout.take()), drain(child.stderr.take())];
    let mut timed_out = false;
    let status = wait_until(&mut child, &readers, deadline).unwrap_or_else(|| {
        // §2.4: SIGTERM to the group, SIGKILL 5 s later.
        timed_out = true;
        let group = format!("-{}", child.id());
        let kill = |signal: &str| {
            let args = [signal, "--", &group];
            let _ = Command::new("kill")
                .args(args)
                .stderr(Stdio::null())
                .status();
        };
        kill("-TERM");
        let status = wait_until(&mut child, &readers, Instant::now() + KILL_GRACE);
        kill("-KILL"); // stragglers in the group, as Go does after 5 s
        status.unwrap_or_else(|| child.wait().expect("wait"))
    });
    let [stdout, stderr] = readers.map(|r| r.join().expect("pipe reader"));
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    if timed_out || !status.success() {
        let mut message = format!("`{joined}` failed {}", exit_cause(status));
        if !stderr.trim().is_empty() {
            message = format!("{message}: {}", stderr.trim());
        }
        return Err(match timed_out {
            true => CmpError::Timeout {
                message: format!("deadline exceeded: {message}"),
            },
            false => CmpError::Failed { message },
        });
    }
    let mut stdout = String::from_utf8(stdout)
        .map_err(|e| output_err(format!("`{joined}` printed non-UTF-8 output: {e}")))?;
    if stdout.ends_with('\n') {
        stdout.pop();
    }
    Ok((stdout, stderr))
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    let mut pipe = pipe.expect("piped");
    thread::spawn(move || {
        let mut buf = vec![];
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Polls until the child exited and its pipes closed, or `deadline` passes.
fn wait_until(
    child: &mut Child,
    pipes: &[JoinHandle<Vec<u8>>],
    deadline: Instant,
) -> Option<ExitStatus> {
    loop {
        let status = child.try_wait().expect("try_wait");
        if let Some(status) = status.filter(|_| pipes.iter().all(JoinHandle::is_finished)) {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Go's `*exec.ExitError` text.
fn exit_cause(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(15)) => "signal: terminated".into(),
        (None, Some(9)) => "signal: killed".into(),
        (None, signal) => format!("signal: {}", signal.unwrap_or_default()),
    }
}
