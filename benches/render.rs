//! In-process cost of each stage of `assay generate` on samples/bookinfo with
//! the candidate proposed (the input of benches/generate.sh):
//!
//!     cargo bench --bench render
//!
//! `parse` is the spec (YAML + validation + experiment id); `read_app` the
//! file reads; `render_all` builds the documents (the template
//! parsed, the 5 passthrough files checked: 22 objects in the stream);
//! `to_yaml` serialises them; `generate` is all of it, as the binary calls it.
//! `parse_raw`, `render_template_only` and `render_without_passthrough` break
//! the stages down. The whole-process numbers (exec, dynamic loading, page
//! faults) are benches/generate.sh's.

use std::path::{Path, PathBuf};

use assay::cmp::CmpEnv;
use assay::generate;
use assay::render;
use assay::spec::{self, Release};

/// Same as `BOOKINFO_CANDIDATE` in tests/it/support/mod.rs.
const BOOKINFO_CANDIDATE: &str = "  candidate:\n    version: v2\n    image: iter8/productpage:demo\n    env:\n      color: green\n      reward_min: \"10\"\n      reward_max: \"20\"\n";

fn main() {
    divan::main();
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/bookinfo")
}

/// `samples/bookinfo/assay.yaml` with the candidate inserted before `traffic:`.
fn spec_text() -> String {
    let text = std::fs::read_to_string(sample().join(spec::FILE_NAME)).unwrap();
    let at = text
        .find("  traffic:\n")
        .expect("sample has a traffic block");
    format!("{}{}{}", &text[..at], BOOKINFO_CANDIDATE, &text[at..])
}

/// A copy of samples/bookinfo with the candidate, as generate.sh prepares it.
fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(spec::FILE_NAME), spec_text()).unwrap();
    dir
}

/// What Argo CD sets for the sample Application.
fn env() -> CmpEnv {
    CmpEnv::from_vars(
        [
            ("ARGOCD_APP_NAME", "bookinfo"),
            ("ARGOCD_APP_NAMESPACE", "bookinfo"),
            (
                "ARGOCD_APP_SOURCE_REPO_URL",
                "https://github.com/YOUR_ORG/bookinfo-env.git",
            ),
            ("ARGOCD_APP_SOURCE_PATH", "samples/bookinfo"),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap()
}

fn release() -> Release {
    spec::parse(spec::FILE_NAME, spec_text().as_bytes()).unwrap()
}

#[divan::bench]
fn parse(bencher: divan::Bencher) {
    let text = spec_text();
    bencher.bench(|| spec::parse(spec::FILE_NAME, divan::black_box(text.as_bytes())).unwrap());
}

#[divan::bench]
fn read_app(bencher: divan::Bencher) {
    let dir = app_dir();
    let rel = release();
    bencher.bench(|| {
        generate::read_app(divan::black_box(dir.path()), "assay.yaml", &rel, None).unwrap()
    });
}

#[divan::bench]
fn render_all(bencher: divan::Bencher) {
    let dir = app_dir();
    let (rel, env) = (release(), env());
    let files = generate::read_app(dir.path(), "assay.yaml", &rel, None).unwrap();
    let docs = render::all(&rel, &env, &files).unwrap();
    let stream = render::to_yaml(&docs);
    let objects = stream.lines().filter(|l| *l == "---").count();
    assert_eq!(objects, 22, "bookinfo with a candidate renders 22 objects");
    bencher.bench(|| render::all(divan::black_box(&rel), &env, &files).unwrap());
}

#[divan::bench]
fn to_yaml(bencher: divan::Bencher) {
    let dir = app_dir();
    let (rel, env) = (release(), env());
    let files = generate::read_app(dir.path(), "assay.yaml", &rel, None).unwrap();
    let docs = render::all(&rel, &env, &files).unwrap();
    bencher.bench(|| render::to_yaml(divan::black_box(&docs)));
}

#[divan::bench]
fn generate(bencher: divan::Bencher) {
    let dir = app_dir();
    let env = env();
    bencher.bench(|| generate::generate(divan::black_box(dir.path()), &env).unwrap());
}

/// Breakdown of `parse`: YAML into the raw spec types, without validation.
#[divan::bench]
fn parse_raw(bencher: divan::Bencher) {
    let text = spec_text();
    bencher.bench(|| spec::parse_raw(spec::FILE_NAME, divan::black_box(text.as_bytes())).unwrap());
}

/// Breakdown of `render_all`: parsing the Deployment template alone.
#[divan::bench]
fn render_template_only(bencher: divan::Bencher) {
    let dir = app_dir();
    let rel = release();
    let files = generate::read_app(dir.path(), "assay.yaml", &rel, None).unwrap();
    let template = files.template.expect("bookinfo has a template");
    bencher.bench(|| render::check_template(divan::black_box(&template)).unwrap());
}

/// Breakdown of `render_all`: the generated objects without the 5 passthrough
/// files (which are parsed to check every document has a `kind`).
#[divan::bench]
fn render_without_passthrough(bencher: divan::Bencher) {
    let dir = app_dir();
    let (rel, env) = (release(), env());
    let files = render::AppFiles {
        passthrough: Vec::new(),
        ..generate::read_app(dir.path(), "assay.yaml", &rel, None).unwrap()
    };
    bencher.bench(|| render::all(divan::black_box(&rel), &env, &files).unwrap());
}
