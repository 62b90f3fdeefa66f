//! `assay demo`: the whole loop on one machine, with no cluster and no
//! Prometheus. An env repo (a bare Git repository in a temp dir) is seeded
//! with samples/bookinfo; then, for a good and a bad candidate in turn, CI
//! proposes it (`assay candidate set`), Argo CD renders it (`assay
//! generate`), the PostSync hook judges it from a metrics file and writes the
//! verdict back (`assay promote`), and the Git log and diff show the result.
//! Every step calls the same code the real commands run.

use crate::runtime::Runtime;
use std::fmt::Write as _;
use std::path::Path;

use git2::{Repository, Signature};
use k8s_openapi::jiff::SignedDuration;

use crate::cmp::CmpEnv;
use crate::gitops::credentials::Credentials;
use crate::gitops::edit::{self, Proposal};
use crate::gitops::repo::Remote;
use crate::judge::data::{Latency, VersionData};
use crate::judge::file::MetricsFile;
use crate::promote::{self, Finished, Options};
use crate::{generate, judge};

/// samples/bookinfo, as the binary carries it (the demo must run anywhere).
const SAMPLE: &[(&str, &str)] = &[
    (
        "argocd-app.yaml",
        include_str!("../samples/bookinfo/argocd-app.yaml"),
    ),
    ("assay.yaml", include_str!("../samples/bookinfo/assay.yaml")),
    (
        "bookinfo-gateway.yaml",
        include_str!("../samples/bookinfo/bookinfo-gateway.yaml"),
    ),
    (
        "details.yaml",
        include_str!("../samples/bookinfo/details.yaml"),
    ),
    (
        "productpage-deployment.yaml",
        include_str!("../samples/bookinfo/productpage-deployment.yaml"),
    ),
    (
        "productpage-serviceaccount.yaml",
        include_str!("../samples/bookinfo/productpage-serviceaccount.yaml"),
    ),
    (
        "ratings.yaml",
        include_str!("../samples/bookinfo/ratings.yaml"),
    ),
    (
        "reviews.yaml",
        include_str!("../samples/bookinfo/reviews.yaml"),
    ),
];

/// Where the app lives in the demo's env repo.
const APP: &str = "bookinfo";

/// Which candidates the demo runs (`--scenario`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Good,
    Bad,
    Both,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("demo: {0}")]
pub struct DemoError(String);

fn fail(what: &str) -> impl Fn(&dyn std::fmt::Display) -> DemoError + '_ {
    move |e| DemoError(format!("{what}: {e}"))
}

/// Runs the demo in `dir` (a fresh temp dir when `None`), printing to `out`.
pub fn run(
    scenario: Scenario,
    dir: Option<&Path>,
    runtime: &Runtime,
    out: &mut dyn FnMut(&str),
) -> Result<(), DemoError> {
    let tmp = tempfile::Builder::new()
        .prefix("assay-demo-")
        .tempdir()
        .map_err(|e| fail("temp dir")(&e))?;
    let root = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&root).map_err(|e| fail("demo dir")(&e))?;
    let bare = root.join("env.git");
    seed(&bare)?;
    let url = format!("file://{}", bare.display());
    out(&format!(
        "assay demo: the whole loop on one machine (no cluster, no Prometheus)\n\
         env repo {url}: samples/bookinfo under {APP}/, baseline v1, no candidate\n"
    ));
    let runs: &[(&str, &str, bool)] = match scenario {
        Scenario::Good => &[("v2", "iter8/productpage:v2", true)],
        Scenario::Bad => &[("v2", "iter8/productpage:v2", false)],
        Scenario::Both => &[
            ("v2", "iter8/productpage:v2", true),
            ("v3", "iter8/productpage:v3", false),
        ],
    };
    for (i, (version, image, good)) in runs.iter().enumerate() {
        let quality = if *good { "a good" } else { "a bad" };
        out(&format!(
            "\n== {}. {quality} candidate: {version} ==\n",
            i + 1
        ));
        let candidate = (*version, *image, *good);
        step(&root, &bare, &url, candidate, runtime, out)?;
    }
    if dir.is_some() {
        out(&format!("\nkept: {}\n", root.display()));
    }
    Ok(())
}

/// One candidate (`version`, `image`, whether it is good) through the loop.
fn step(
    root: &Path,
    bare: &Path,
    url: &str,
    (version, image, good): (&str, &str, bool),
    runtime: &Runtime,
    out: &mut dyn FnMut(&str),
) -> Result<(), DemoError> {
    let path = format!("{APP}/assay.yaml");
    let before = head(bare)?;

    // CI: `assay candidate set`, committed and pushed.
    out(&format!(
        "$ assay candidate set --version {version} --image {image}   # CI\n"
    ));
    let remote = Remote::new(url, Credentials::Anonymous);
    let snap = remote.fetch("main", 0).map_err(|e| fail("fetch")(&e))?;
    let text = snap
        .read(&path)
        .map_err(|e| fail("read")(&e))?
        .unwrap_or_default();
    let p = Proposal {
        version: version.into(),
        image: image.into(),
        env: [(
            "color".to_string(),
            if good { "green" } else { "orange" }.to_string(),
        )]
        .into_iter()
        .collect(),
    };
    let (edited, _) =
        edit::set_candidate(&text, &p, false).map_err(|e| fail("candidate set")(&e))?;
    let ci = Signature::now("CI", "ci@example.com").map_err(|e| fail("signature")(&e))?;
    let commit = snap
        .commit(
            &[(path.clone(), edited)],
            &format!("CI: propose {version}"),
            &ci,
        )
        .map_err(|e| fail("commit")(&e))?;
    remote
        .push(&snap, commit, "main", false)
        .map_err(|e| fail("push")(&e))?;
    out(&format!("  pushed {}\n", short(&commit.to_string())));

    // Argo CD: the repo-server runs `assay generate` in the app directory.
    out("$ assay generate   # Argo CD's repo-server, via the plugin\n");
    let app = root.join(format!("render-{version}"));
    std::fs::create_dir_all(&app).map_err(|e| fail("app dir")(&e))?;
    let snap = remote.fetch("main", 0).map_err(|e| fail("fetch")(&e))?;
    for (name, _) in SAMPLE {
        let text = snap
            .read(&format!("{APP}/{name}"))
            .map_err(|e| fail("read")(&e))?
            .unwrap_or_default();
        std::fs::write(app.join(name), text).map_err(|e| fail("write")(&e))?;
    }
    let env = CmpEnv::from_vars(
        [
            ("ARGOCD_APP_NAME", "bookinfo"),
            ("ARGOCD_APP_NAMESPACE", "bookinfo"),
            ("ARGOCD_APP_SOURCE_REPO_URL", url),
            ("ARGOCD_APP_SOURCE_PATH", APP),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .map_err(|e| fail("plugin environment")(&e))?;
    let manifests = generate::generate(&app, &env).map_err(|e| fail("generate")(&e))?;
    let rendered = app.join("rendered.yaml");
    std::fs::write(&rendered, &manifests).map_err(|e| fail("write")(&e))?;
    let exp = judge::load_experiment(&rendered).map_err(|e| fail("experiment")(&e))?;
    let kinds: Vec<&str> = manifests
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    out(&format!(
        "  {} objects, among them Experiment {} and the PostSync hook Job\n",
        kinds.len(),
        exp.metadata.name.as_deref().unwrap_or_default()
    ));

    // The PostSync hook, judging from a metrics file; the load ran already.
    let metrics = root.join(format!("metrics-{version}.json"));
    let data = metrics_file(&exp.spec.baseline.version, version, good);
    std::fs::write(
        &metrics,
        serde_json::to_string_pretty(&data).unwrap_or_default(),
    )
    .map_err(|e| fail("write")(&e))?;
    out(&format!(
        "$ assay promote --experiment {} --metrics {}   # the PostSync hook\n",
        rendered.display(),
        metrics.display()
    ));
    let run_time = exp.spec.window.warmup_seconds + exp.spec.window.duration_seconds;
    let opts = Options {
        experiment: Some(rendered),
        name: None,
        namespace: None,
        prometheus: None,
        prometheus_auth: crate::judge::PrometheusAuth::none(),
        metrics: Some(metrics),
        started_at: Some(judge::now() - SignedDuration::from_secs(run_time as i64)),
        credentials: root.join("no-credentials"),
        sync_failed: false,
        commit_status: false,
        git_deadline: std::time::Duration::from_secs(60),
        settle: std::time::Duration::ZERO,
    };
    let lines = std::cell::RefCell::new(String::new());
    let log = |l: &str| {
        let _ = writeln!(lines.borrow_mut(), "  {l}");
    };
    let log = crate::log::Log::new(crate::log::LogFormat::Text, log);
    let finished = promote::run(&opts, runtime, &log).map_err(|e| fail("promote")(&e))?;
    out(&lines.borrow());
    if let Finished::Delivered {
        verdict, reason, ..
    } = &finished
    {
        out(&format!("  verdict: {verdict} ({reason})\n"));
    }

    out("$ git log --oneline\n");
    out(&log_lines(bare)?);
    out(&format!("$ git diff {} -- {path}\n", short(&before)));
    out(&diff(bare, &before, &path)?);
    Ok(())
}

/// Aggregates a healthy version (or a failing one) would show.
fn metrics_file(baseline: &str, candidate: &str, good: bool) -> MetricsFile {
    let version = |requests: f64, errors: f64, slow: bool| VersionData {
        requests: Some(requests),
        errors: Some(errors),
        latency: Some(Latency {
            sum: Some(requests * if slow { 480.0 } else { 42.0 }),
            buckets: [
                ("50", if slow { 0.1 } else { 0.8 }),
                ("100", if slow { 0.2 } else { 0.99 }),
                ("250", if slow { 0.4 } else { 1.0 }),
                ("1000", 1.0),
                ("+Inf", 1.0),
            ]
            .into_iter()
            .map(|(le, share)| (le.to_string(), (share * requests).round()))
            .collect(),
        }),
        metrics: Default::default(),
    };
    let candidate_data = if good {
        version(1920.0, 1.0, false)
    } else {
        version(1920.0, 96.0, true)
    };
    MetricsFile {
        versions: [
            (baseline.to_string(), version(7680.0, 4.0, false)),
            (candidate.to_string(), candidate_data),
        ]
        .into_iter()
        .collect(),
    }
}

/// A bare repository whose `main` holds samples/bookinfo under `APP/`, in
/// push mode (no forge here to open a pull request on).
fn seed(bare: &Path) -> Result<(), DemoError> {
    let repo = Repository::init_bare(bare).map_err(|e| fail("init")(&e))?;
    let mut app = repo.treebuilder(None).map_err(|e| fail("tree")(&e))?;
    for (name, text) in SAMPLE {
        let text = if *name == "assay.yaml" {
            text.replace("mode: pull-request", "mode: push")
        } else {
            text.to_string()
        };
        let blob = repo.blob(text.as_bytes()).map_err(|e| fail("blob")(&e))?;
        app.insert(name, blob, 0o100644)
            .map_err(|e| fail("tree")(&e))?;
    }
    let app = app.write().map_err(|e| fail("tree")(&e))?;
    let mut top = repo.treebuilder(None).map_err(|e| fail("tree")(&e))?;
    top.insert(APP, app, 0o040000)
        .map_err(|e| fail("tree")(&e))?;
    let tree = repo
        .find_tree(top.write().map_err(|e| fail("tree")(&e))?)
        .map_err(|e| fail("tree")(&e))?;
    let who = Signature::now("platform team", "platform@example.com")
        .map_err(|e| fail("signature")(&e))?;
    repo.commit(
        Some("refs/heads/main"),
        &who,
        &who,
        "bookinfo: steady state on v1",
        &tree,
        &[],
    )
    .map_err(|e| fail("commit")(&e))?;
    repo.set_head("refs/heads/main")
        .map_err(|e| fail("head")(&e))?;
    Ok(())
}

fn head(bare: &Path) -> Result<String, DemoError> {
    let repo = Repository::open_bare(bare).map_err(|e| fail("open")(&e))?;
    let oid = repo
        .refname_to_id("refs/heads/main")
        .map_err(|e| fail("head")(&e))?;
    Ok(oid.to_string())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn log_lines(bare: &Path) -> Result<String, DemoError> {
    let repo = Repository::open_bare(bare).map_err(|e| fail("open")(&e))?;
    let mut walk = repo.revwalk().map_err(|e| fail("log")(&e))?;
    walk.push_ref("refs/heads/main")
        .map_err(|e| fail("log")(&e))?;
    let mut s = String::new();
    for oid in walk.flatten() {
        let c = repo.find_commit(oid).map_err(|e| fail("log")(&e))?;
        let _ = writeln!(
            s,
            "  {} {} ({})",
            short(&oid.to_string()),
            String::from_utf8_lossy(c.summary_bytes().unwrap_or_default()),
            String::from_utf8_lossy(c.author().name_bytes())
        );
    }
    Ok(s)
}

fn diff(bare: &Path, from: &str, path: &str) -> Result<String, DemoError> {
    let repo = Repository::open_bare(bare).map_err(|e| fail("open")(&e))?;
    let tree = |sha: &str| -> Result<git2::Tree<'_>, DemoError> {
        let oid = git2::Oid::from_str(sha).map_err(|e| fail("diff")(&e))?;
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| fail("diff")(&e))
    };
    let old = tree(from)?;
    let new = tree(&head(bare)?)?;
    let mut opts = git2::DiffOptions::new();
    opts.pathspec(path);
    let d = repo
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
        .map_err(|e| fail("diff")(&e))?;
    let mut s = String::new();
    d.print(git2::DiffFormat::Patch, |_, _, line| {
        let origin = line.origin();
        let text = String::from_utf8_lossy(line.content());
        match origin {
            '+' | '-' | ' ' => s.push_str(&format!("  {origin}{text}")),
            _ => {
                for l in text.lines() {
                    s.push_str(&format!("  {l}\n"));
                }
            }
        }
        true
    })
    .map_err(|e| fail("diff")(&e))?;
    Ok(s)
}
