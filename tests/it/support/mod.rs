//! Shared helpers for the integration tests: where the binary and the samples
//! are, and small builders for app directories.

#![allow(dead_code)]

pub mod auth_proxy;
pub mod cmp_server;
pub mod fake_argocd;
pub mod fake_forge;
pub mod fake_kube;
pub mod fault_proxy;
pub mod git_servers;
pub mod prometheus;
pub mod redirect_server;
pub mod server;

use std::path::PathBuf;

/// The `assay` binary cargo built for this test run.
pub fn assay_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_assay"))
}

/// Every file under `dir` (recursively) that `keep` accepts, in no set order.
pub fn files_under(dir: &std::path::Path, keep: &dyn Fn(&std::path::Path) -> bool) -> Vec<PathBuf> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if keep(&path) {
                files.push(path);
            }
        }
    }
    files
}

/// The repository root (where `plugin.yaml` and `samples/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `samples/<name>` in the repository.
pub fn sample_dir(name: &str) -> PathBuf {
    repo_root().join("samples").join(name)
}

/// The candidate block CI would add to `samples/bookinfo/assay.yaml`,
/// inserted right after the baseline block (before `traffic:`).
pub const BOOKINFO_CANDIDATE: &str = "  candidate:\n    version: v2\n    image: iter8/productpage:demo\n    env:\n      color: green\n      reward_min: \"10\"\n      reward_max: \"20\"\n";

/// `samples/bookinfo/assay.yaml` with a candidate proposed.
pub fn bookinfo_with_candidate() -> String {
    let text = std::fs::read_to_string(sample_dir("bookinfo").join("assay.yaml")).unwrap();
    let at = text
        .find("  traffic:\n")
        .expect("sample has a traffic block");
    format!("{}{}{}", &text[..at], BOOKINFO_CANDIDATE, &text[at..])
}

/// The Argo CD environment the render tests use (ARGOCD.md §2.2).
pub const ARGOCD_ENV: &[(&str, &str)] = &[
    ("ARGOCD_APP_NAME", "bookinfo"),
    ("ARGOCD_APP_NAMESPACE", "bookinfo"),
    ("ARGOCD_APP_PROJECT_NAME", "default"),
    (
        "ARGOCD_APP_REVISION",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    (
        "ARGOCD_APP_SOURCE_REPO_URL",
        "https://github.com/YOUR_ORG/bookinfo-env.git",
    ),
    ("ARGOCD_APP_SOURCE_PATH", "samples/bookinfo"),
    ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
    ("ARGOCD_APP_PARAMETERS", "null"),
    ("KUBE_VERSION", "1.33.2"),
];

/// A copy of `samples/<name>` in a temp dir, with `assay.yaml` replaced by
/// `spec` when given.
pub fn app_copy(sample: &std::path::Path, spec: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    if let Some(s) = spec {
        std::fs::write(dir.path().join("assay.yaml"), s).unwrap();
    }
    dir
}

/// Runs `assay generate` in `dir` with [`ARGOCD_ENV`] (plus `extra`), and a
/// clean environment otherwise.
pub fn generate(dir: &std::path::Path, extra: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir)
        .env_clear()
        .envs(ARGOCD_ENV.iter().copied())
        .envs(extra.iter().copied())
        .output()
        .unwrap()
}

/// stdout of a successful `assay generate`, or a panic with its stderr.
pub fn generate_ok(dir: &std::path::Path, extra: &[(&str, &str)]) -> String {
    let out = generate(dir, extra);
    assert!(
        out.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
