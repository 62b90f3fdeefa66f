//! Shared helpers for the integration tests: where the binary and the samples
//! are, and small builders for app directories.

#![allow(dead_code)]

pub mod cmp_server;

use std::path::PathBuf;

/// The `assay` binary cargo built for this test run.
pub fn assay_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_assay"))
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
