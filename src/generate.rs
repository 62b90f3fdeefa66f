//! `assay generate`: read the app directory as Argo CD extracted it, render,
//! and return the manifest stream. The only place on the generate path that
//! touches the file system; the caller prints the result in one write, so
//! stdout is either the whole stream or (on error) nothing.

use std::path::{Path, PathBuf};

use crate::cmp::{CmpEnv, CmpError, Settings};
use crate::render::{self, AppFiles, RenderError, SourceFile};
use crate::source::{self as base, SourceError, ToolEnv};
use crate::spec::{self, Release, Source};
use crate::yaml::{self, Location, SpecError, SpecErrorKind};

/// Why `generate` produced no manifests.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `assay.yaml`, the template or a manifest is invalid or unreadable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The spec cannot be rendered in this environment or with this template.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The Argo CD environment or parameters are invalid.
    #[error(transparent)]
    Cmp(#[from] CmpError),
    /// `spec.source`'s tool could not render the base.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The app directory or a file in it could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory, as the plugin sees it.
        path: String,
        /// The operating system's error.
        message: String,
    },
    /// Never expected (the baseline is always rendered), but an empty stream
    /// would make Argo CD prune the whole application, so it is an error.
    #[error("rendered no manifests; refusing to print an empty stream")]
    Empty,
}

fn io(path: &Path, e: std::io::Error) -> GenerateError {
    GenerateError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Passthrough files may be large (CRDs run to megabytes) but not unbounded:
/// Argo CD caps the whole response at 100 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// All passthrough files together, well under Argo CD's response cap.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Renders the app in `dir` for the Argo CD environment `env`.
pub fn generate(dir: &Path, env: &CmpEnv) -> Result<String, GenerateError> {
    generate_with(dir, env, None, &ToolEnv::from_process())
}

/// Name of the stdin stream in errors (`assay generate --input -`).
pub const STDIN_NAME: &str = "<stdin>";

/// Reads an already rendered stream (`--input`), named `name` in errors.
/// It stands for the directory's manifests, so it has their limit together.
pub fn read_stream(input: impl std::io::Read, name: &str) -> Result<SourceFile, GenerateError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    input
        .take(MAX_TOTAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| GenerateError::Io {
            path: name.to_string(),
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > MAX_TOTAL_BYTES {
        let message =
            format!("the rendered stream is larger than the {MAX_TOTAL_BYTES}-byte limit");
        return Err(
            SpecError::new(name, Location::START, "", SpecErrorKind::Invalid(message)).into(),
        );
    }
    Ok(SourceFile {
        name: name.to_string(),
        text: yaml::utf8(name, &bytes)?.to_owned(),
    })
}

/// [`generate`] with the base taken from `input` (an already rendered
/// stream, [`read_stream`]) instead of `spec.source`, and tools run with `tools`.
pub fn generate_with(
    dir: &Path,
    env: &CmpEnv,
    input: Option<SourceFile>,
    tools: &ToolEnv,
) -> Result<String, GenerateError> {
    let release = spec::load(&dir.join(spec::FILE_NAME), spec::FILE_NAME)?;
    let files = app_files(dir, spec::FILE_NAME, &release, env, input, tools)?;
    let docs = render::all(&release, env, &files)?;
    if docs.is_empty() {
        return Err(GenerateError::Empty);
    }
    Ok(render::to_yaml(&docs))
}

/// `assay discover` (the assay-tools plugin's discovery): the kind of
/// `spec.source` when it needs a tool, else nothing, so the plain plugin and
/// the tools plugin never both claim an app (samples/install/).
///
/// A spec that does not load still goes to the tools plugin when it looks
/// meant for it (a `kustomize:` or `helm:` key), so the Application that
/// names that plugin sees the spec's error rather than "no plugin matches".
pub fn discover(dir: &Path) -> String {
    let path = dir.join(spec::FILE_NAME);
    match spec::load(&path, spec::FILE_NAME) {
        Ok(rel) if !matches!(rel.source, Source::Directory(_)) => {
            base::kind(&rel).to_string() + "\n"
        }
        Ok(_) => String::new(),
        Err(_) => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tool_key = |l: &str| {
                let l = l.trim_start();
                l.starts_with("kustomize:") || l.starts_with("helm:")
            };
            match text.lines().any(tool_key) {
                true => "invalid\n".to_string(),
                false => String::new(),
            }
        }
    }
}

/// `assay parameters`: the announcement for the Argo CD UI. It shows what
/// `generate` would use: the spec's values where it sets them, else
/// parameters and plugin env. A broken spec or environment still announces
/// the parameters, so the UI stays usable while the user fixes them.
pub fn parameters(dir: &Path, env: Result<CmpEnv, CmpError>) -> String {
    let lower = env.map(|e| e.settings).unwrap_or_default();
    let from_spec = match spec::load(&dir.join(spec::FILE_NAME), spec::FILE_NAME) {
        Ok(rel) => Settings::of_spec(&rel),
        Err(_) => Settings::default(),
    };
    let effective = from_spec.over(&lower);
    crate::cmp::announcement(&effective, &from_spec).to_string() + "\n"
}

/// `assay validate`: the spec at `file` and the files it names, checked as
/// `generate` checks them (issue 16: the two must agree), without an Argo CD
/// environment: where `generate` would take a setting from it, any value
/// passes. Says what state the file is in.
pub fn validate(file: &Path) -> Result<String, GenerateError> {
    let display = file.display().to_string();
    let rel = spec::load(file, &display)?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let env = stand_in_env();
    let files = app_files(dir, &display, &rel, &env, None, &ToolEnv::from_process())?;
    render::all(&rel, &env, &files).map_err(|e| match e {
        // Rendering names the spec `assay.yaml`; here it is `file`.
        RenderError::Spec(mut e) => {
            if e.file == spec::FILE_NAME {
                e.file = display.clone();
            }
            GenerateError::Spec(e)
        }
    })?;
    let plan = crate::judge::plan::plan(&rel);
    if let Some((o, needed)) = plan.impossible() {
        let requests = plan.requests.unwrap_or(0);
        let needs = match needed {
            Some((d, n)) => format!(
                "it needs {n} (a duration of at least {}, or more load or a larger candidate weight)",
                crate::judge::plan::human(d)
            ),
            None => "it needs more traffic".into(),
        };
        return Err(SpecError::new(
            &display,
            rel.places.experiment,
            "spec.experiment.duration",
            SpecErrorKind::Invalid(format!(
                "{requests} candidate requests in the window cannot show even a candidate with no errors under the {} limit {} at confidence {}: {needs}",
                o.metric, o.limit, rel.experiment.confidence
            )),
        )
        .into());
    }
    let state = match &rel.candidate {
        Some(c) => format!("candidate {} under test, experiment {}", c.version, rel.id),
        None => "steady state".to_string(),
    };
    Ok(format!("{display}: valid ({state})\n{}\n", plan.hint()))
}

/// What `validate` renders with in place of Argo CD's environment: a
/// destination namespace (`default`, where Argo CD puts an Application that
/// names none), a repository and a Prometheus URL, which `generate` would
/// take from it when the spec sets none; the rest as when Argo CD sends
/// nothing. So a passthrough object placed in another namespace than the
/// Application's is compared with the generated ones as if in `default`.
fn stand_in_env() -> CmpEnv {
    CmpEnv {
        namespace: Some("default".into()),
        repo_url: Some("https://git.invalid/env.git".into()),
        settings: crate::cmp::Settings {
            prometheus_url: Some("http://prometheus.invalid".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The template and the base of the app in `dir`: the directory's files,
/// the stream `spec.source`'s tool renders, or `input` when given.
pub fn app_files(
    dir: &Path,
    spec_file: &str,
    rel: &Release,
    env: &CmpEnv,
    input: Option<SourceFile>,
    tools: &ToolEnv,
) -> Result<AppFiles, GenerateError> {
    let root = dir.canonicalize().map_err(|e| io(dir, e))?;
    let repo = repo_root(&root, env.source_path.as_deref());
    let mut files = read_files(dir, &root, &repo, spec_file, rel)?;
    let rendered = match input {
        Some(stream) => Some(stream),
        None => {
            let ns = rel.namespace.as_deref().or(env.namespace.as_deref());
            base::render(rel, spec_file, &root, &repo, ns, tools)?
        }
    };
    if let Some(stream) = rendered {
        // The stream stands for the directory's manifests: kustomization
        // and chart files beside assay.yaml are inputs, not output.
        files.passthrough = vec![stream];
    }
    Ok(files)
}

/// Reads the template and the passthrough manifests of `dir`. `source_path`
/// (Argo CD's `ARGOCD_APP_SOURCE_PATH`) locates the repository root above
/// it: like Argo CD's directory source, symlinks may point anywhere inside
/// the repository (`x.yaml -> ../common/x.yaml`), never outside it.
pub fn read_app(
    dir: &Path,
    spec_file: &str,
    rel: &Release,
    source_path: Option<&str>,
) -> Result<AppFiles, GenerateError> {
    let root = dir.canonicalize().map_err(|e| io(dir, e))?;
    let repo = repo_root(&root, source_path);
    read_files(dir, &root, &repo, spec_file, rel)
}

/// [`read_app`] with the directory canonical (`root`) and its repository
/// root (`repo`) already worked out.
fn read_files(
    dir: &Path,
    root: &Path,
    repo: &Path,
    spec_file: &str,
    rel: &Release,
) -> Result<AppFiles, GenerateError> {
    let template = match &rel.workload.template {
        None => None,
        Some(t) => {
            let display = t.to_string_lossy().into_owned();
            let path = inside(repo, root, &root.join(t)).map_err(|m| {
                SpecError::new(
                    spec_file,
                    rel.places.template,
                    "spec.workload.template",
                    SpecErrorKind::Invalid(m),
                )
            })?;
            let bytes = yaml::read_file(&path, &display)?;
            let text = yaml::check_text(&display, &bytes)?.to_string();
            Some(SourceFile {
                name: display,
                text,
            })
        }
    };
    let mut names = Vec::new();
    if let Source::Directory(d) = &rel.source {
        list(root, "", d.recursive, &mut names).map_err(|e| io(dir, e))?;
        names.retain(|name| {
            let file = name.rsplit('/').next().unwrap_or(name);
            let top = !name.contains('/');
            is_manifest_name(file, rel, top)
                && rel.workload.template.as_deref() != Some(Path::new(name))
                && (d.include.is_empty() || d.include.iter().any(|g| base::glob::matches(g, name)))
                && !d.exclude.iter().any(|g| base::glob::matches(g, name))
        });
    }
    names.sort();
    let mut passthrough = Vec::new();
    let mut total = 0;
    for name in names {
        let path = root.join(&name);
        if !path.is_file() {
            continue;
        }
        let path = inside(repo, root, &path)
            .map_err(|m| SpecError::new(&name, Location::START, "", SpecErrorKind::Invalid(m)))?;
        let len = path.metadata().map_err(|e| io(&path, e))?.len();
        total += len;
        let over = [(len, MAX_MANIFEST_BYTES), (total, MAX_TOTAL_BYTES)]
            .into_iter()
            .find(|(n, max)| n > max);
        if let Some((bytes, limit)) = over {
            let kind = SpecErrorKind::TooLarge { bytes, limit };
            return Err(SpecError::new(&name, Location::START, "", kind).into());
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let text = yaml::utf8(&name, &bytes)?.to_string();
        passthrough.push(SourceFile { name, text });
    }
    Ok(AppFiles {
        template,
        passthrough,
    })
}

/// Paths of the files under `dir` (relative, `/`-separated, after
/// `prefix`); subdirectories too when `recursive`, except hidden ones
/// (`.git`). Symlinked directories are not followed.
fn list(dir: &Path, prefix: &str, recursive: bool, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let rel = format!("{prefix}{name}");
        if recursive && !name.starts_with('.') && entry.file_type()?.is_dir() {
            list(&entry.path(), &format!("{rel}/"), true, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// `.yaml`, `.yml` and `.json` files, as Argo CD's directory source reads
/// them, except hidden files (`.argocd-source.yaml` is Argo CD's),
/// `spec.exclude` and, at the top (`top`), assay.yaml (the caller leaves
/// out the template).
fn is_manifest_name(name: &str, rel: &Release, top: bool) -> bool {
    let manifest = [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e));
    manifest
        && !name.starts_with('.')
        && (!top || name != spec::FILE_NAME)
        && !rel.exclude.iter().any(|g| base::glob::segment(g, name))
}

/// The repository root: `dir` (canonical) minus the trailing `source_path`
/// components, when they match; else `dir` itself.
fn repo_root(dir: &Path, source_path: Option<&str>) -> PathBuf {
    let parts: Vec<_> = Path::new(source_path.unwrap_or(""))
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    let mut root = dir.to_path_buf();
    for part in parts.iter().rev() {
        if root.file_name() != Some(part) || !root.pop() {
            return dir.to_path_buf();
        }
    }
    root
}

/// `path` (in the app directory `dir`) with symlinks resolved, if it stays
/// under `root`.
fn inside(root: &Path, dir: &Path, path: &Path) -> Result<PathBuf, String> {
    let shown = path.strip_prefix(dir).unwrap_or(path).display();
    let real = path.canonicalize().map_err(|e| format!("{shown}: {e}"))?;
    if !real.starts_with(root) {
        return Err(format!("{shown} resolves outside the repository"));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use crate::source::glob::segment as glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("argocd-*.yaml", "argocd-app.yaml"));
        assert!(glob_match("*", "x.json"));
        assert!(glob_match("a?c.yml", "abc.yml"));
        assert!(!glob_match("*.yaml", "x.json"));
        assert!(!glob_match("a*b", "a"));
    }

    /// A rendered stream has the directory's limit, and bad text a place.
    #[test]
    fn a_stream_past_the_limit_or_not_utf8_is_refused() {
        use std::io::Read;
        let big = std::io::repeat(b'a').take(super::MAX_TOTAL_BYTES + 1);
        let e = super::read_stream(big, "<stdin>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "<stdin>:1:1: the rendered stream is larger than the 67108864-byte limit"
        );
        let exact = std::io::repeat(b'a').take(super::MAX_TOTAL_BYTES);
        assert_eq!(
            super::read_stream(exact, "<stdin>").unwrap().text.len(),
            64 << 20
        );
        let e = super::read_stream(&b"kind: A\nname: \xff\n"[..], "s.yaml").unwrap_err();
        assert_eq!(e.to_string(), "s.yaml:2:7: file is not valid UTF-8");
    }
}
