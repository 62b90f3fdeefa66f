//! `spec.source`: how the manifests beside `assay.yaml` are produced when
//! they are not plain files (issue 12). `kustomize` runs `kustomize build`
//! (or `kubectl kustomize`), `helm` runs `helm template` (after `helm
//! dependency build` when asked); the tool's stdout becomes one rendered
//! stream that rendering treats like a passthrough file. Tools are found on
//! `PATH` and run by [`tools`]; which tool and version ran is named in every
//! failure, since the same chart renders differently under another helm.

pub mod glob;
pub mod tools;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::render::SourceFile;
use crate::spec::{Helm, Kustomize, Release, Source};
use crate::yaml::Location;
use tools::{Invocation, ToolError};

/// Why the rendered base could not be produced; rendered on one line as
/// `assay.yaml:10:3: spec.source.kustomize: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}:{}: {field}: {kind}", at.line, at.column)]
pub struct SourceError {
    /// The spec file, as the user named it.
    pub file: String,
    /// Where `spec.source` starts.
    pub at: Location,
    /// `spec.source.kustomize` or `spec.source.helm`.
    pub field: String,
    /// What went wrong (boxed: a tool's error carries its stderr).
    pub kind: Box<SourceErrorKind>,
}

/// What went wrong producing the rendered base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// No program to run.
    #[error("{0}")]
    Missing(String),
    /// A path of the spec leaves the repository or does not exist.
    #[error("{0}")]
    Path(String),
    /// The tool failed; `version` says which one ran.
    #[error("{error} [{version}]")]
    Tool {
        /// How it failed.
        error: ToolError,
        /// `kubectl v1.33.9, kustomize v5.6.0`, or why it is unknown.
        version: String,
    },
    /// Scratch space for the tool could not be made.
    #[error("cannot prepare a scratch directory: {0}")]
    Scratch(String),
}

/// What the tools see of the process environment: `PATH` (to find them and
/// their helpers), proxy settings (a chart's dependencies may need them),
/// and the cluster version Argo CD announces (helm's `Capabilities`).
#[derive(Debug, Clone, Default)]
pub struct ToolEnv {
    /// `PATH`.
    pub path: Option<OsString>,
    /// `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` as set (both spellings).
    pub proxies: Vec<(OsString, OsString)>,
    /// `KUBE_VERSION` (e.g. `1.33.4`), when Argo CD sends one.
    pub kube_version: Option<String>,
    /// `KUBE_API_VERSIONS`, comma-separated, when Argo CD sends them.
    pub api_versions: Option<String>,
}

impl ToolEnv {
    /// Reads the variables above from the process environment.
    pub fn from_process() -> ToolEnv {
        let proxies = [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "no_proxy",
        ]
        .iter()
        .filter_map(|k| Some((OsString::from(k), std::env::var_os(k)?)))
        .collect();
        let text = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        ToolEnv {
            path: std::env::var_os("PATH"),
            proxies,
            kube_version: text("KUBE_VERSION"),
            api_versions: text("KUBE_API_VERSIONS"),
        }
    }
}

/// The rendered base of `rel`, for a kustomize or helm source: the tool's
/// stdout, named ``output of `COMMAND` `` in errors. `None` for a directory source.
/// `app` is the app directory and `repo` the repository root (both
/// canonical); `namespace` the resolved destination namespace.
pub fn render(
    rel: &Release,
    spec_file: &str,
    app: &Path,
    repo: &Path,
    namespace: Option<&str>,
    env: &ToolEnv,
) -> Result<Option<SourceFile>, SourceError> {
    let field = match &rel.source {
        Source::Directory(_) => return Ok(None),
        Source::Kustomize(_) => "spec.source.kustomize",
        Source::Helm(_) => "spec.source.helm",
    };
    let err = |kind| SourceError {
        file: spec_file.to_string(),
        at: rel.places.source,
        field: field.to_string(),
        kind: Box::new(kind),
    };
    // Before the scratch directory, so SIGTERM cannot exit past its removal.
    let _stop = tools::StopGuard::begin();
    let scratch = tempfile::Builder::new()
        .prefix("assay-tool-")
        .tempdir()
        .map_err(|e| err(SourceErrorKind::Scratch(e.to_string())))?;
    let deadline = Instant::now() + rel.tool_timeout;
    let base = Base {
        app,
        repo,
        env,
        scratch: scratch.path(),
        deadline,
    };
    let steps = match &rel.source {
        Source::Kustomize(k) => base.kustomize(k),
        Source::Helm(h) => base.helm(rel, h, namespace),
        Source::Directory(_) => unreachable!("handled above"),
    }
    .map_err(err)?;
    let mut out = None;
    for step in steps {
        let text = step.run().map_err(|mut error| {
            // Say the budget the spec set, not what was left of it.
            if let ToolError::TimedOut { timeout, .. } = &mut error {
                *timeout = rel.tool_timeout;
            }
            let version = base.version(&step);
            err(SourceErrorKind::Tool { error, version })
        })?;
        out = Some(SourceFile {
            name: format!("output of `{}`", step.display()),
            text,
        });
    }
    Ok(out)
}

/// What every invocation shares.
struct Base<'a> {
    app: &'a Path,
    repo: &'a Path,
    env: &'a ToolEnv,
    scratch: &'a Path,
    deadline: Instant,
}

impl Base<'_> {
    /// The clean environment: `PATH`, a throwaway `HOME` (helm writes its
    /// cache and config there), `TMPDIR`, proxies. No credentials, no
    /// kubeconfig: templating never needs the cluster.
    fn env(&self) -> Vec<(OsString, OsString)> {
        let s = |p: &Path| p.as_os_str().to_owned();
        let mut env = vec![
            ("HOME".into(), s(self.scratch)),
            ("TMPDIR".into(), s(self.scratch)),
            ("HELM_CACHE_HOME".into(), s(&self.scratch.join("cache"))),
            ("HELM_CONFIG_HOME".into(), s(&self.scratch.join("config"))),
            ("HELM_DATA_HOME".into(), s(&self.scratch.join("data"))),
            ("KUBECONFIG".into(), s(&self.scratch.join("no-kubeconfig"))),
        ];
        if let Some(p) = &self.env.path {
            env.push(("PATH".into(), p.clone()));
        }
        env.extend(self.env.proxies.iter().cloned());
        env
    }

    fn invocation(&self, program: PathBuf, name: &str, args: Vec<OsString>) -> Invocation {
        Invocation {
            program,
            name: name.to_string(),
            args,
            dir: self.app.to_path_buf(),
            env: self.env(),
            // Each step gets what is left of the one budget.
            timeout: self
                .deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
            // The rendered base stands for the directory's manifests.
            max_stdout: crate::generate::MAX_TOTAL_BYTES as usize,
        }
    }

    fn find(&self, name: &str) -> Option<PathBuf> {
        tools::find(name, self.env.path.as_deref())
    }

    /// `rel` (relative to the app directory) if it exists inside the repository.
    fn inside(&self, rel: &Path, what: &str) -> Result<OsString, SourceErrorKind> {
        let shown = rel.display();
        let real = self
            .app
            .join(rel)
            .canonicalize()
            .map_err(|e| SourceErrorKind::Path(format!("{what} {shown}: {e}")))?;
        if !real.starts_with(self.repo) {
            return Err(SourceErrorKind::Path(format!(
                "{what} {shown} resolves outside the repository"
            )));
        }
        Ok(rel.as_os_str().to_owned())
    }

    /// `kustomize build PATH`, else `kubectl kustomize PATH`.
    fn kustomize(&self, k: &Kustomize) -> Result<Vec<Invocation>, SourceErrorKind> {
        let path = self.inside(&k.path, "the kustomization")?;
        let mut flags: Vec<OsString> = Vec::new();
        if k.enable_helm {
            flags.push("--enable-helm".into());
            let helm = self
                .find("helm")
                .ok_or_else(|| missing("helm", "enableHelm"))?;
            flags.extend(["--helm-command".into(), helm.into_os_string()]);
        }
        if k.load_restrictor_none {
            flags.extend(["--load-restrictor".into(), "LoadRestrictionsNone".into()]);
        }
        let (program, name, mut args): (_, _, Vec<OsString>) = match self.find("kustomize") {
            Some(p) => (p, "kustomize", vec!["build".into()]),
            None => match self.find("kubectl") {
                Some(p) => (p, "kubectl", vec!["kustomize".into()]),
                None => return Err(missing("kustomize (or kubectl)", "kustomize")),
            },
        };
        args.push(path);
        args.extend(flags);
        Ok(vec![self.invocation(program, name, args)])
    }

    /// `helm dependency build CHART` (if asked), then `helm template`.
    fn helm(
        &self,
        rel: &Release,
        h: &Helm,
        namespace: Option<&str>,
    ) -> Result<Vec<Invocation>, SourceErrorKind> {
        let helm = self.find("helm").ok_or_else(|| missing("helm", "helm"))?;
        let chart = self.inside(&h.chart, "the chart")?;
        let mut steps = Vec::new();
        if h.dependency_build {
            let args = vec!["dependency".into(), "build".into(), chart.clone()];
            steps.push(self.invocation(helm.clone(), "helm", args));
        }
        let mut args: Vec<OsString> = vec!["template".into(), (&h.release_name).into(), chart];
        let namespace = h
            .namespace
            .as_deref()
            .or(rel.namespace.as_deref())
            .or(namespace)
            .filter(|n| !n.is_empty());
        if let Some(ns) = namespace {
            args.extend(["--namespace".into(), ns.into()]);
        }
        if h.include_crds {
            args.push("--include-crds".into());
        }
        for f in &h.values_files {
            let f = self.inside(f, "the values file")?;
            args.extend(["--values".into(), f]);
        }
        if let Some(values) = &h.values {
            // JSON is YAML; a file keeps values out of argv and ps.
            let file = self.scratch.join("assay-values.json");
            std::fs::write(&file, values.to_string())
                .map_err(|e| SourceErrorKind::Scratch(e.to_string()))?;
            args.extend(["--values".into(), file.into_os_string()]);
        }
        if let Some(v) = &self.env.kube_version {
            args.extend(["--kube-version".into(), v.into()]);
        }
        if let Some(v) = &self.env.api_versions {
            args.extend(["--api-versions".into(), v.into()]);
        }
        steps.push(self.invocation(helm, "helm", args));
        Ok(steps)
    }

    /// The version of the tool `step` ran, on one line; asked only after a
    /// failure, so a successful render pays for one process, not two.
    fn version(&self, step: &Invocation) -> String {
        let args: &[&str] = match step.name.as_str() {
            "helm" => &["version", "--short"],
            "kubectl" => &["version", "--client"],
            _ => &["version"],
        };
        let mut probe = step.clone();
        probe.args = args.iter().map(OsString::from).collect();
        probe.timeout = Duration::from_secs(2);
        match probe.run() {
            Ok(v) => {
                let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                format!("{}: {v}", step.name)
            }
            Err(_) => format!("{}: version unknown", step.name),
        }
    }
}

fn missing(tool: &str, field: &str) -> SourceErrorKind {
    SourceErrorKind::Missing(format!(
        "no {tool} on PATH; {field} needs it: render this app with the assay-tools plugin \
         (image target `tools`, samples/install/), or put the tool on the sidecar's PATH"
    ))
}

/// The spec's name for the kind of source, for messages.
pub fn kind(rel: &Release) -> &'static str {
    match rel.source {
        Source::Directory(_) => "directory",
        Source::Kustomize(_) => "kustomize",
        Source::Helm(_) => "helm",
    }
}
