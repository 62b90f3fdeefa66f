//! `assay promote`, end to end: the env repo served by a real git daemon,
//! the candidate proposed with `assay candidate set`, the Experiment rendered
//! by `assay generate`, metrics from a real Prometheus (or a metrics file),
//! and, for the in-cluster hook, the fake Kubernetes API server.

mod cluster;
mod fixture;
mod local;
mod operate;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::git_servers::{BareRepo, GitDaemon};
use crate::support::prometheus::{OpenMetrics, Prometheus, Span, Workload};
use crate::support::{assay_bin, generate_ok, sample_dir};

/// Where the app lives in the env repo (Argo CD's source path).
pub const APP: &str = "samples/bookinfo";
pub const NS: &str = "bookinfo";

/// An env repo holding samples/bookinfo (in push mode), served by git daemon.
pub struct Env {
    pub repo: BareRepo,
    /// Serves `repo` for as long as the test runs.
    pub daemon: GitDaemon,
    pub url: String,
    /// Scratch space: the rendered manifests, logs.
    pub tmp: tempfile::TempDir,
}

impl Env {
    /// The sample's env repo, its load generator in the hook pod (the default).
    pub fn new(name: &str) -> Env {
        Env::with_load(name, false)
    }

    /// With `job`, the load generator is a sync-phase Job (`loadgen.mode: job`).
    pub fn with_load(name: &str, job: bool) -> Env {
        let repo = BareRepo::new(name);
        let mut files: Vec<(String, String)> = Vec::new();
        for entry in std::fs::read_dir(sample_dir("bookinfo")).unwrap() {
            let entry = entry.unwrap();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            // The team that owns this env repo lets the hook push verdicts.
            let text = if name == "assay.yaml" {
                assert!(text.contains("mode: pull-request") && text.contains("    qps: 48\n"));
                let text = text.replace("mode: pull-request", "mode: push");
                if job {
                    text.replace("    qps: 48\n", "    qps: 48\n    mode: job\n")
                } else {
                    text
                }
            } else {
                text
            };
            files.push((format!("{APP}/{name}"), text));
        }
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        repo.seed(&refs);
        let daemon = GitDaemon::start(&repo.root());
        let url = daemon.url(&repo);
        Env {
            repo,
            daemon,
            url,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn spec_path() -> String {
        format!("{APP}/assay.yaml")
    }

    /// The spec at the head of main.
    pub fn spec(&self) -> String {
        self.repo
            .file_at("main", &Env::spec_path())
            .expect("assay.yaml on main")
    }

    /// What CI does: `assay candidate set` on the file, then commit and push.
    pub fn propose(&self, version: &str, image: &str) {
        let file = self.tmp.path().join(format!("proposal-{version}.yaml"));
        std::fs::write(&file, self.spec()).unwrap();
        let out = Command::new(assay_bin())
            .args(["candidate", "set", "--file"])
            .arg(&file)
            .args([
                "--version",
                version,
                "--image",
                image,
                "--env",
                "color=green",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        self.repo.commit_as_other(
            "main",
            &Env::spec_path(),
            &text,
            &format!("CI: propose {version}"),
        );
    }

    /// `assay generate` on the app directory at main's head, as Argo CD's
    /// repo-server would run it for this repository; returns the manifests' path.
    pub fn render(&self) -> PathBuf {
        let dir = self.tmp.path().join("app");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(sample_dir("bookinfo")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let text = self.repo.file_at("main", &format!("{APP}/{name}")).unwrap();
            std::fs::write(dir.join(&name), text).unwrap();
        }
        let out = generate_ok(
            &dir,
            &[
                ("ARGOCD_APP_NAMESPACE", NS),
                ("ARGOCD_APP_SOURCE_REPO_URL", self.url.as_str()),
                ("ARGOCD_APP_SOURCE_PATH", APP),
            ],
        );
        let path = self.tmp.path().join("rendered.yaml");
        std::fs::write(&path, out).unwrap();
        path
    }

    /// Commits on main whose body carries `Assay-Experiment: <id>`.
    pub fn verdict_commits(&self, id: &str) -> Vec<(String, String, String)> {
        let trailer = format!("Assay-Experiment: {id}");
        self.repo
            .log("main")
            .into_iter()
            .filter(|(_, _, body)| body.lines().any(|l| l.trim() == trailer))
            .collect()
    }
}

/// The experiment id of the spec at main's head.
pub fn id_of(spec: &str) -> String {
    assay::spec::parse("assay.yaml", spec.as_bytes())
        .unwrap()
        .id
}

/// A Prometheus whose data runs from an hour ago to 10 minutes ahead, so a
/// window ending now is exact (see support::prometheus).
pub fn prometheus(v2: impl FnOnce(Workload) -> Option<Workload>) -> Prometheus {
    let span = Span::around_now(3600, 600);
    let mut data = OpenMetrics::new().workload(&Workload::new(NS, "productpage-v1", span));
    if let Some(w) = v2(Workload::new(NS, "productpage-v2", span)) {
        data = data.workload(&w);
    }
    Prometheus::start(&data)
}

/// RFC 3339 for `seconds` ago.
pub fn ago(seconds: u64) -> String {
    let t = std::time::SystemTime::now() - Duration::from_secs(seconds);
    let s = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    k8s_openapi::jiff::Timestamp::from_second(s)
        .unwrap()
        .to_string()
}

/// `assay promote` with a clean environment plus `env`.
pub fn promote(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(assay_bin());
    // The tests' Prometheus data is backfilled: nothing to wait for.
    cmd.args(["promote", "--settle", "0s"])
        .args(args)
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .envs(env.iter().copied());
    cmd
}

/// `assay promote --experiment FILE` against `prom`, the load started
/// 150 s ago (past the sample's bake time), run to completion (60 s at most).
pub fn promote_local(exp: &Path, prom: &str, credentials: &str, env: &[(&str, &str)]) -> Output {
    let started = ago(150);
    let args = [
        "--experiment",
        exp.to_str().unwrap(),
        "--prometheus",
        prom,
        "--started-at",
        &started,
        "--credentials",
        credentials,
    ];
    finish(promote(&args, env), Duration::from_secs(60))
}

/// Runs to completion; panics after `timeout`.
pub fn finish(mut cmd: Command, timeout: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, timeout)
}

pub fn wait(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "assay promote still running after {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `file` until `cond` holds on its text, for a child writing its stderr there.
pub fn wait_for_text(file: &Path, timeout: Duration, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if cond(&text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; so far:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
