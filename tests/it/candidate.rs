//! `assay candidate set` through the binary: a refused proposal says why in
//! exactly one line, and a symlinked `assay.yaml` is edited through the link
//! (inside the repository) or refused (outside it).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{assay_bin, bookinfo_with_candidate, sample_dir};

fn set(file: &Path, version: &str) -> Output {
    Command::new(assay_bin())
        .args(["candidate", "set", "--file"])
        .arg(file)
        .args(["--version", version, "--image", "iter8/productpage:v3"])
        .output()
        .unwrap()
}

fn steady() -> String {
    std::fs::read_to_string(sample_dir("bookinfo").join("assay.yaml")).unwrap()
}

/// A working tree: `<dir>/.git` marks it as git does.
fn work_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("envs")).unwrap();
    dir
}

#[test]
fn a_refused_proposal_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("assay.yaml");
    std::fs::write(&file, steady()).unwrap();
    let out = set(&file, "v1");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "assay: {}: v1 is already the baseline; a candidate needs a different version\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), steady());
}

#[test]
fn a_symlinked_spec_is_edited_through_the_link() {
    let repo = work_tree();
    let target = repo.path().join("envs/shared.yaml");
    std::fs::write(&target, steady()).unwrap();
    let link = repo.path().join("envs/assay.yaml");
    std::os::unix::fs::symlink("shared.yaml", &link).unwrap();
    let out = set(&link, "v3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("shared.yaml"));
    let spec = assay::spec::parse("assay.yaml", &std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(spec.candidate.unwrap().version, "v3");
}

#[test]
fn a_link_out_of_the_repository_is_refused() {
    let repo = work_tree();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("assay.yaml");
    std::fs::write(&target, bookinfo_with_candidate()).unwrap();
    let link = repo.path().join("envs/assay.yaml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = set(&link, "v3");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside the repository"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        bookinfo_with_candidate()
    );
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
}
