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
//! parameter announcements; §1.4 `discover.fileName`.
//!
//! Not imitated: gRPC and tarballs (§2.6), caching (§2.5), git credentials
//! (§2.2 item 9), `discover.find.*`, `[...]` classes in discovery globs, and
//! YAML 1.1: Argo CD reads manifests with go-yaml v2, the fake with
//! serde-saphyr (YAML 1.2), so a plain `on` or `0755` parses differently
//! (serde-saphyr's serializer quotes such strings by default).
//! Stricter than Argo CD on purpose: zero manifests is an error here, while
//! Argo CD only logs a warning and then prunes the whole application.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{assay_bin, repo_root};

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

/// A `{command, args}` block of `plugin.yaml`; argv is `command` + `args`, no shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCommand {
    pub command: Vec<String>,
    pub args: Vec<String>,
}

/// The parts of `plugin.yaml` the fake uses (unknown fields are ignored, as in Argo CD).
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub name: String,
    pub init: Option<PluginCommand>,
    pub generate: PluginCommand,
    pub discover_file_name: Option<String>,
    pub dynamic_parameters: Option<PluginCommand>,
    pub static_parameters: Vec<Value>,
    pub preserve_file_mode: bool,
}

impl PluginConfig {
    /// Parses and validates `plugin.yaml` as §1.1 does (errors are fatal at start).
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let invalid = |what: &str| Err(format!("invalid plugin configuration file. {what}"));
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return invalid("metadata.name should be non-empty.");
        }
        if doc["kind"] != "ConfigManagementPlugin" {
            return invalid("kind should be ConfigManagementPlugin");
        }
        let spec = &doc["spec"];
        let generate = command_at(spec, "/generate")?.filter(|g| !g.command.is_empty());
        let Some(generate) = generate else {
            return invalid("spec.generate command should be non-empty");
        };
        assert!(
            spec.pointer("/discover/find").is_none_or(Value::is_null),
            "FakeCmpServer imitates only discover.fileName, not discover.find"
        );
        let file_name = spec.pointer("/discover/fileName").and_then(Value::as_str);
        Ok(PluginConfig {
            name: name.to_string(),
            init: command_at(spec, "/init")?,
            generate,
            discover_file_name: file_name.filter(|s| !s.is_empty()).map(str::to_string),
            dynamic_parameters: command_at(spec, "/parameters/dynamic")?,
            static_parameters: match spec.pointer("/parameters/static") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(items)) => items.clone(),
                Some(_) => return invalid("spec.parameters.static must be a list"),
            },
            preserve_file_mode: spec["preserveFileMode"].as_bool().unwrap_or(false),
        })
    }
}

fn command_at(spec: &Value, pointer: &str) -> Result<Option<PluginCommand>, String> {
    let Some(block) = spec.pointer(pointer).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list = |key: &str| match &block[key] {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("spec{pointer}.{key} must be a list of strings")),
        _ => Err(format!("spec{pointer}.{key} must be a list of strings")),
    };
    Ok(Some(PluginCommand {
        command: list("command")?,
        args: list("args")?,
    }))
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
        AppRequest {
            repo: repo.to_path_buf(),
            app_path: app_path.to_string(),
            app_name: "bookinfo".into(),
            namespace: "bookinfo".into(),
            project: "default".into(),
            revision: String::from_utf8(out.stdout).unwrap().trim().to_string(),
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
}

impl FakeCmpServer {
    /// Starts with the repository's own `plugin.yaml`; panics if it is invalid.
    pub fn load() -> Self {
        let path = repo_root().join("plugin.yaml");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config = PluginConfig::parse(&text).unwrap_or_else(|e| panic!("plugin.yaml: {e}"));
        let workdir = tempfile::tempdir().expect("temp dir");
        FakeCmpServer {
            config,
            deadline: DEFAULT_DEADLINE,
            workdir,
        }
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
    pub fn discover_matches(&self, req: &AppRequest) -> bool {
        let Some(pattern) = &self.config.discover_file_name else {
            return true;
        };
        let work = self.workspace(req).unwrap_or_else(|e| panic!("{e}"));
        glob_matches_any(&work.app_dir, pattern)
    }

    /// The environment of init/generate: sidecar env, then §2.2 items 1–8.
    pub fn generate_env(&self, req: &AppRequest) -> Vec<(OsString, OsString)> {
        let short = |n: usize| req.revision.get(..n).unwrap_or(&req.revision);
        let app = [
            ("ARGOCD_APP_NAME", req.app_name.as_str()),
            ("ARGOCD_APP_NAMESPACE", &req.namespace),
            ("ARGOCD_APP_PROJECT_NAME", &req.project),
            ("ARGOCD_APP_REVISION", &req.revision),
            ("ARGOCD_APP_REVISION_SHORT", short(7)),
            ("ARGOCD_APP_REVISION_SHORT_8", short(8)),
            ("ARGOCD_APP_SOURCE_REPO_URL", &req.repo_url),
            ("ARGOCD_APP_SOURCE_PATH", &req.app_path),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", &req.target_revision),
            ("KUBE_VERSION", &req.kube_version),
            ("KUBE_API_VERSIONS", &req.kube_api_versions),
        ];
        with_plugin_env(&app, req)
    }

    /// The reduced environment of GetParametersAnnouncement (§2.2, last paragraph).
    pub fn parameters_env(&self, req: &AppRequest) -> Vec<(OsString, OsString)> {
        let app = [
            ("ARGOCD_APP_NAME", req.app_name.as_str()),
            ("ARGOCD_APP_SOURCE_REPO_URL", &req.repo_url),
            ("ARGOCD_APP_SOURCE_PATH", &req.app_path),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", &req.target_revision),
        ];
        with_plugin_env(&app, req)
    }

    fn workspace(&self, req: &AppRequest) -> Result<Workspace, CmpError> {
        let setup = |message: String| CmpError::Setup { message };
        let root = self.workdir.path().join("_cmp_server").join(uuid_v4());
        let work = Workspace {
            app_dir: root.join(&req.app_path),
            root,
        };
        if Path::new(&req.app_path).is_absolute() || !lexically_inside(&work.app_dir, &work.root) {
            return Err(setup(format!(
                "illegal appPath {:?}: outside the repo",
                req.app_path
            )));
        }
        let preserve = self.config.preserve_file_mode;
        copy_tree(&req.repo, &work.root, &work.root, preserve).map_err(setup)?;
        if !work.app_dir.is_dir() {
            return Err(setup(format!(
                "app path {} is not a directory",
                req.app_path
            )));
        }
        Ok(work)
    }
}

/// One request's directory, deleted afterwards like the real one (§2.1).
struct Workspace {
    root: PathBuf,
    app_dir: PathBuf,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn uuid_v4() -> String {
    let random = || RandomState::new().build_hasher().finish();
    let (a, b) = (random(), random());
    let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xffff, a & 0xfff);
    let (b1, b2) = (0x8000 | ((b >> 48) & 0x3fff), b & 0xffff_ffff_ffff);
    format!("{a1:08x}-{a2:04x}-4{a3:03x}-{b1:04x}-{b2:012x}")
}

/// Copies `src` into `dst` like the repo-server's tar and the server's untar:
/// modes 0644/0755 unless `preserveFileMode`; symlinks only inside the tree.
fn copy_tree(src: &Path, dst: &Path, top: &Path, preserve: bool) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let mode = |m: &fs::Metadata, default| {
        if preserve {
            m.permissions().mode()
        } else {
            default
        }
    };
    fs::create_dir_all(dst).map_err(|e| err(dst, e))?;
    for entry in fs::read_dir(src).map_err(|e| err(src, e))? {
        let entry = entry.map_err(|e| err(src, e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from).map_err(|e| err(&from, e))?;
        if meta.is_dir() {
            copy_tree(&from, &to, top, preserve)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(mode(&meta, 0o755)))
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).map_err(|e| err(&from, e))?;
            if !lexically_inside(&dst.join(&target), top) {
                return Err(format!("illegal filepath in symlink: {}", to.display()));
            }
            symlink(&target, &to)
        } else {
            fs::copy(&from, &to).map_err(|e| err(&from, e))?;
            fs::set_permissions(&to, fs::Permissions::from_mode(mode(&meta, 0o644)))
        }
        .map_err(|e| err(&to, e))?;
    }
    Ok(())
}

fn lexically_inside(path: &Path, top: &Path) -> bool {
    let mut parts: Vec<Component> = vec![];
    for c in path.components() {
        match c {
            Component::ParentDir => drop(parts.pop()),
            Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(top)
}

/// Sidecar env (the harness's without `ARGOCD_*`/`PARAM_*`, `PATH` led by
/// the directory of the `assay` under test), then `app` (§2.2 items 1–6, or
/// the reduced set), then `ARGOCD_ENV_*` expanded against `app` only, then
/// the parameters; later duplicates win, as with Go's exec.
fn with_plugin_env(app: &[(&str, &str)], req: &AppRequest) -> Vec<(OsString, OsString)> {
    let mut path = assay_bin()
        .parent()
        .expect("binary dir")
        .as_os_str()
        .to_owned();
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let inherited = std::env::vars_os().filter(|(k, _)| {
        let k = k.as_bytes();
        !(k.starts_with(b"ARGOCD_") || k.starts_with(b"PARAM_") || k == b"PATH")
    });
    let mut env: Vec<(OsString, OsString)> = inherited.collect();
    env.push(("PATH".into(), path));
    let mut request: Vec<(String, String)> = app
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if req.parameters.is_some() || !req.plugin_env.is_empty() {
        for (name, value) in &req.plugin_env {
            let expanded = os_expand(value, |var| match var {
                "$" => "$".to_string(), // Argo CD's Env.Envsubst: `$$` escapes `$`
                _ => app
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map_or("", |(_, v)| v)
                    .to_string(),
            });
            request.push((format!("ARGOCD_ENV_{name}"), expanded));
        }
        request.extend(parameter_env(
            req.parameters.as_ref().unwrap_or(&Value::Null),
        ));
    }
    env.extend(request.into_iter().map(|(k, v)| (k.into(), v.into())));
    env
}

/// Go's `os.Expand`, byte for byte: `$NAME`, `${NAME}`, one-char special
/// names (`$1`, `$$`, `$*`…), bad syntax (`${}`, an unclosed `${`) eaten, and a
/// `$` followed by anything else (or ending the string) kept.
pub fn os_expand(s: &str, mapping: impl Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut j) = (0, 0);
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            let buf = out.get_or_insert_with(Vec::new);
            buf.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&s[j + 1..]);
            if name.is_empty() && w == 0 {
                buf.push(b'$');
            } else if !name.is_empty() {
                buf.extend_from_slice(mapping(name).as_bytes());
            } // else: bad syntax, eaten
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    let Some(mut buf) = out else {
        return s.to_string();
    };
    buf.extend_from_slice(&b[i.min(b.len())..]);
    String::from_utf8(buf).expect("split only at ASCII bytes")
}

fn shell_name(s: &str) -> (&str, usize) {
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => ("", 2),
            Some(p) => (&s[1..p + 1], p + 2),
            None => ("", 1),
        };
    }
    if special(b[0]) {
        return (&s[..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

/// §2.2 item 8: `ARGOCD_APP_PARAMETERS` as Go marshals it (keys sorted, `<>&`
/// escaped; `null` when there are none, an empty list arriving as nil through
/// protobuf), then the `PARAM_*` vars (map entries in key order; Go's is random).
pub fn parameter_env(params: &Value) -> Vec<(String, String)> {
    let list = match params {
        Value::Null => &[][..],
        Value::Array(items) => items.as_slice(),
        other => panic!("plugin parameters must be a JSON list, got {other}"),
    };
    let (mut canonical, mut vars) = (vec![], vec![]);
    for p in list {
        let name = p["name"].as_str().unwrap_or_default();
        let base = format!("PARAM_{}", escape_param(name));
        let string = p["string"].as_str();
        let strings = |v: &Value| serde_json::from_value::<BTreeMap<String, String>>(v.clone());
        let map = p.get("map").map(|m| strings(m).unwrap_or_default());
        let list = |v: &Value| serde_json::from_value::<Vec<String>>(v.clone());
        let array = p.get("array").map(|a| list(a).unwrap_or_default());
        vars.extend(string.map(|s| (base.clone(), s.to_string())));
        for (k, v) in map.iter().flatten() {
            vars.push((format!("{base}_{}", escape_param(k)), v.clone()));
        }
        for (i, v) in array.iter().flatten().enumerate() {
            vars.push((format!("{base}_{i}"), v.clone()));
        }
        let mut obj = Map::new(); // keys inserted in Go's (sorted) order
        if let Some(a) = array {
            obj.insert("array".into(), a.into());
        }
        if let Some(m) = map {
            obj.insert("map".into(), serde_json::to_value(m).unwrap());
        }
        obj.insert("name".into(), name.into());
        if let Some(s) = string {
            obj.insert("string".into(), s.into());
        }
        canonical.push(Value::Object(obj));
    }
    let json = match canonical.is_empty() {
        true => "null".to_string(),
        false => go_escape(serde_json::to_string(&canonical).unwrap()),
    };
    let mut env = vec![("ARGOCD_APP_PARAMETERS".to_string(), json)];
    env.extend(vars);
    env
}

/// Go's encoding/json escapes these even inside strings; serde_json does not.
fn go_escape(json: String) -> String {
    let escapes = [('<', "\\u003c"), ('>', "\\u003e"), ('&', "\\u0026")];
    let separators = [('\u{2028}', "\\u2028"), ('\u{2029}', "\\u2029")];
    escapes
        .into_iter()
        .chain(separators)
        .fold(json, |s, (c, e)| s.replace(c, e))
}

/// Upper-case, then every char outside `[A-Z0-9_]` becomes `_` (ASCII
/// upper-casing only: Go's Unicode `ToUpper` is not imitated).
pub fn escape_param(s: &str) -> String {
    let keep = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| if keep(c) { c } else { '_' })
        .collect()
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

/// §1.3: stdout must be a JSON array of ParameterAnnouncement objects.
fn parse_announcements(stdout: &str) -> Result<Vec<Value>, CmpError> {
    let value: Value = serde_json::from_str(stdout)
        .map_err(|e| output_err(format!("error unmarshaling parameters announcement: {e}")))?;
    let Value::Array(items) = value else {
        return Err(output_err(format!(
            "parameters announcement is not a JSON array: {stdout}"
        )));
    };
    let strings =
        |v: &Value, keys: &[&str]| keys.iter().all(|k| v[k].is_null() || v[k].is_string());
    let keys = [
        "name",
        "title",
        "tooltip",
        "itemType",
        "collectionType",
        "string",
    ];
    if let Some(bad) = items.iter().find(|i| !i.is_object() || !strings(i, &keys)) {
        return Err(output_err(format!("not a ParameterAnnouncement: {bad}")));
    }
    Ok(items)
}

/// §2.3: YAMLOrJSONDecoder, then Argo CD's per-document checks and List flattening.
pub fn split_manifests(stdout: &str) -> Result<Vec<Value>, CmpError> {
    let unmarshal = |e: &dyn fmt::Display| output_err(format!("failed to unmarshal manifest: {e}"));
    let mut docs = vec![];
    if stdout.trim_start().starts_with('{') {
        for doc in serde_json::Deserializer::from_str(stdout).into_iter::<Value>() {
            docs.push(doc.map_err(|e| unmarshal(&e))?);
        }
    } else {
        for chunk in yaml_chunks(stdout) {
            let parsed = serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&chunk);
            docs.extend(parsed.map_err(|e| unmarshal(&e))?);
        }
    }
    let mut objects = vec![];
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let Value::Object(map) = &doc else {
            let what = if doc.is_array() { "array" } else { "scalar" };
            let go_type = "Go value of type map[string]interface {}";
            return Err(output_err(format!(
                "json: cannot unmarshal {what} into {go_type}: {doc}"
            )));
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        match (&doc["items"], kind.ends_with("List")) {
            (Value::Array(items), true) => {
                for item in items {
                    let mut item = item.clone();
                    if item.is_object() && item["apiVersion"].is_null() && item["kind"].is_null() {
                        // unstructured's decodeToList: typed list items inherit the type.
                        item["kind"] = kind.trim_end_matches("List").into();
                        item["apiVersion"] = doc["apiVersion"].clone();
                    }
                    objects.push(require_kind(item)?);
                }
            }
            (Value::Null, true) if map.contains_key("items") => {}
            _ => objects.push(require_kind(doc)?),
        }
    }
    Ok(objects)
}

fn require_kind(v: Value) -> Result<Value, CmpError> {
    match v["kind"].as_str().is_some_and(|k| !k.is_empty()) {
        true => Ok(v),
        false => Err(output_err(format!("Object 'Kind' is missing in '{v}'"))),
    }
}

/// k8s YAMLReader: a line `---` followed by nothing or a comment ends a document.
fn yaml_chunks(s: &str) -> Vec<String> {
    let mut chunks = vec![String::new()];
    for line in s.split_inclusive('\n') {
        let rest = line.strip_prefix("---").map(str::trim);
        if rest.is_some_and(|r| r.is_empty() || r.starts_with('#')) {
            chunks.push(String::new());
        } else {
            chunks.last_mut().unwrap().push_str(line);
        }
    }
    chunks.retain(|c| !c.trim().is_empty());
    chunks
}

/// Whether `filepath.Glob(join(appDir, pattern))` is non-empty. Only `*` and
/// `?` wildcards are imitated (no `[...]` classes, no `\` escapes).
fn glob_matches_any(app_dir: &Path, pattern: &str) -> bool {
    assert!(
        !pattern.contains(['[', '\\']),
        "the fake's glob knows only * and ?: {pattern}"
    );
    let mut found = vec![app_dir.to_path_buf()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let mut next = vec![];
        for base in &found {
            if !part.contains(['*', '?']) {
                next.extend(Some(base.join(part)).filter(|p| fs::symlink_metadata(p).is_ok()));
            } else if let Ok(entries) = fs::read_dir(base) {
                let names = entries.flatten().map(|e| e.path());
                let matching =
                    |p: &PathBuf| wildcard(part.as_bytes(), p.file_name().unwrap().as_bytes());
                next.extend(names.filter(matching));
            }
        }
        found = next;
    }
    !pattern.is_empty() && !found.is_empty()
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, _) => s.is_empty(),
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}
