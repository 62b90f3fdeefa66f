//! Issue 12: how a rendered base fails. A broken kustomization, a chart that
//! fails to template, a missing tool, a tool that hangs: each is one clear
//! line, exit 1, nothing on stdout, and no process of the tool left behind
//! (the hanging tool records its pids, and the tests wait for them to go).
//! `workload.from` naming nothing or two things is in the invalid corpus
//! (`tests/fixtures/invalid/from-*`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::adopt::{PRODUCTPAGE, generate_in, tools_dir};
use crate::cmp::{GitRepo, copy_dir};
use crate::invalid::place;
use crate::support::cmp_server::{AppRequest, CmpError, FakeCmpServer};
use crate::support::{assay_bin, repo_root, sample_dir};

/// Exit 1, nothing on stdout, one `assay: file:line:col: …` line; the line.
fn one_line_error(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {stderr}");
    assert!(stdout.is_empty(), "stdout not empty:\n{stdout}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    let line = stderr.trim_end().to_string();
    assert!(place(&line).is_some(), "no file:line:col in {line:?}");
    line
}

fn sample_spec(name: &str) -> String {
    std::fs::read_to_string(sample_dir(name).join("assay.yaml")).unwrap()
}

#[test]
fn r12_broken_kustomization() {
    let tools = tools_dir();
    let spec =
        sample_spec("bookinfo-kustomize").replace("path: overlays/prod", "path: overlays/broken");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir("bookinfo-kustomize"), dir.path());
    std::fs::create_dir_all(dir.path().join("overlays/broken")).unwrap();
    std::fs::write(
        dir.path().join("overlays/broken/kustomization.yaml"),
        "resources:\n  - ../../base\n  - missing-service.yaml\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("assay.yaml"), spec).unwrap();
    let out = run_in(dir.path(), tools.path(), &[]);
    let line = one_line_error(&out);
    assert!(line.starts_with("assay: assay.yaml:"), "{line}");
    for want in [
        "spec.source.kustomize",
        "`kubectl kustomize overlays/broken` failed (exit status 1)",
        "missing-service.yaml",
        "[kubectl: Client Version: v1.",
    ] {
        assert!(line.contains(want), "{want:?} not in {line}");
    }
}

/// An error in an `--input` stream names the stream: the file, or stdin.
#[test]
fn r12_an_input_stream_is_named_in_its_errors() {
    let empty = tempfile::tempdir().unwrap();
    let spec = sample_spec("bookinfo-kustomize");
    let stream = "apiVersion: v1\nkind: Service\n";
    let file = empty.path().join("rendered.yaml");
    std::fs::write(&file, stream).unwrap();
    let shown = file.display().to_string();
    let cases = [
        (None, vec!["--input", shown.as_str()], shown.clone()),
        (Some(stream), vec!["--input", "-"], "<stdin>".to_string()),
    ];
    for (stdin, args, name) in cases {
        let out = generate_in("bookinfo-kustomize", &spec, empty.path(), stdin, &args);
        let line = one_line_error(&out);
        assert_eq!(
            line,
            format!(
                "assay: {name}:1:1: document 1 (Service) has no metadata.name; Argo CD cannot apply it"
            )
        );
    }
}

/// An adopted Deployment that assay refuses is pointed at where the rendered
/// stream holds it: the stream's name, line and column, for YAML and for a
/// JSON stream (as `kustomize build -o json`-style tools print), not a place
/// in assay's own rewriting of the object.
#[test]
fn r12_a_refused_adopted_deployment_is_placed_in_the_stream() {
    let empty = tempfile::tempdir().unwrap();
    let spec = sample_spec("bookinfo-kustomize");
    let yaml = format!(
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
# the Deployment assay adopts
{PRODUCTPAGE}          securityContext:
            privileged: true
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: productpage
"
    );
    let json = concat!(
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}"#,
        "\n",
        r#"  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "productpage"},"#,
        "\n",
        r#"   "spec": {"selector": {"matchLabels": {"app": "productpage"}},"#,
        "\n",
        r#"            "template": {"metadata": {"labels": {"app": "productpage"}},"#,
        "\n",
        r#"                         "spec": {"containers": []}}}}"#,
        "\n",
    );
    let cases = [
        (
            "rendered.yaml",
            yaml.as_str(),
            "24:13: spec.template.spec.containers[0].securityContext.privileged: privileged containers are not allowed",
        ),
        (
            "rendered.json",
            json,
            "5:35: spec.template.spec.containers: the template Deployment has no containers",
        ),
    ];
    for (name, stream, want) in cases {
        let file = empty.path().join(name);
        std::fs::write(&file, stream).unwrap();
        let shown = file.display().to_string();
        let out = generate_in(
            "bookinfo-kustomize",
            &spec,
            empty.path(),
            None,
            &["--input", &shown],
        );
        let line = one_line_error(&out);
        let want = format!("assay: {shown}:{want}");
        assert!(line.starts_with(&want), "{line}\nwanted: {want}");
    }
}

#[test]
fn r12_chart_that_fails_to_template() {
    let tools = tools_dir();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir("bookinfo-helm"), dir.path());
    std::fs::write(
        dir.path().join("chart/templates/broken.yaml"),
        "{{ required \"productpage.owner is required\" .Values.productpage.owner }}\n",
    )
    .unwrap();
    let out = run_in(dir.path(), tools.path(), &[]);
    let line = one_line_error(&out);
    for want in [
        "spec.source.helm",
        "`helm template bookinfo chart --namespace bookinfo --include-crds --values values-prod.yaml --values $TMPDIR/assay-values.json` failed (exit status 1)",
        "productpage.owner is required",
        "[helm: v",
    ] {
        assert!(line.contains(want), "{want:?} not in {line}");
    }
}

#[test]
fn r12_missing_tool() {
    for (name, want) in [
        (
            "bookinfo-kustomize",
            "spec.source.kustomize: no kustomize (or kubectl) on PATH",
        ),
        ("bookinfo-helm", "spec.source.helm: no helm on PATH"),
    ] {
        let empty = tempfile::tempdir().unwrap();
        let out = generate_in(name, &sample_spec(name), empty.path(), None, &[]);
        let line = one_line_error(&out);
        assert!(
            line.contains(want) && line.contains("assay-tools"),
            "{name}: {line}"
        );
    }
}

/// A `kustomize` that forks a child, writes both pids to `pids`, and hangs.
fn hanging_kustomize(dir: &Path) -> std::path::PathBuf {
    let pids = dir.join("pids");
    let script = format!(
        "#!/bin/sh\necho starting >&2\nsleep 300 &\necho \"$$ $!\" > {}.tmp\nmv {0}.tmp {0}\nwait\n",
        pids.display()
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("kustomize"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        bin.join("kustomize"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    // sh, sleep and mv come from the host.
    pids
}

fn path_with(bin: &Path) -> String {
    format!("{}:/usr/bin:/bin", bin.display())
}

/// Waits until `pids` exists; its pids.
fn recorded(pids: &Path) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(pids) {
            return text
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
        }
        assert!(Instant::now() < deadline, "the tool never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Alive and not a zombie (a zombie has exited; only its parent's wait is left).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z'))
    })
}

/// Asserts every pid is gone within a few seconds.
fn all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| running(*p)) {
        assert!(Instant::now() < deadline, "stray processes: {pids:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run_in(dir: &Path, path: &Path, extra: &[(&str, &str)]) -> Output {
    Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("ARGOCD_APP_NAMESPACE", "bookinfo")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example.com/platform/env.git",
        )
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn r12_tool_that_hangs_past_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir("bookinfo-kustomize"), dir.path());
    let spec = sample_spec("bookinfo-kustomize").replace(
        "      path: overlays/prod\n",
        "      path: overlays/prod\n    timeout: 2s\n",
    );
    std::fs::write(dir.path().join("assay.yaml"), spec).unwrap();
    let pids = hanging_kustomize(dir.path());
    let out = Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path_with(&dir.path().join("bin")))
        .env("ARGOCD_APP_NAMESPACE", "bookinfo")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example.com/platform/env.git",
        )
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(
        line.contains("`kustomize build overlays/prod` did not finish within 2s; its process group was killed: starting"),
        "{line}"
    );
    all_gone(&recorded(&pids));
}

#[test]
fn r12_sigterm_takes_the_tool_with_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir("bookinfo-kustomize"), dir.path());
    let pids = hanging_kustomize(dir.path());
    // Where assay makes the tool's scratch directory.
    let tmp = tempfile::tempdir().unwrap();
    let child = Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path_with(&dir.path().join("bin")))
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tool = recorded(&pids);
    let scratch: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(
        scratch.len(),
        1,
        "one scratch directory while the tool runs"
    );
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "assay: stopped by SIGTERM before finishing; no output\n"
    );
    all_gone(&tool);
    // The scratch directory went with it.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn r12_cmp_deadline_stops_assay_and_its_tool() {
    let repo = GitRepo::new();
    copy_dir(
        &sample_dir("bookinfo-kustomize"),
        &repo.path().join("envs/app"),
    );
    repo.commit("app");
    let bin = tempfile::tempdir().unwrap();
    let pids = hanging_kustomize(bin.path());
    let server = FakeCmpServer::load_file(&repo_root().join("plugin-tools.yaml"))
        .with_tools(vec![bin.path().join("bin")])
        .with_deadline(Duration::from_secs(3));
    let err = server
        .render(&AppRequest::new(repo.path(), "envs/app"))
        .unwrap_err();
    assert!(matches!(err, CmpError::Timeout { .. }), "{err}");
    assert!(err.message().contains("stopped by SIGTERM"), "{err}");
    all_gone(&recorded(&pids));
}
