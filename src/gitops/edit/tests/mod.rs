//! The edits on hostile files: every fixture in `tests/fixtures/edit/` gets
//! every edit, pinned as an insta snapshot of the edited text (in
//! `src/gitops/snapshots/`, CR shown as `␍`) and checked semantically against
//! the parsed spec (`fixtures`); then proposals (`set`), verdicts
//! (`verdicts`), anchors, refused layouts and quoting (`yaml`), and property
//! tests (`props`: a proposal promoted through any generated layout; no panic
//! on any input). The helpers shared by all of them live here.

mod fixtures;
mod props;
mod set;
mod verdicts;
mod yaml;

use super::*;
use crate::spec::{Release, Version};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/edit/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn snap(name: &str, text: &str) {
    let shown = text.replace('\r', "␍");
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("edit__{name}"), shown);
    });
}

fn release(text: &str) -> Release {
    spec::parse("assay.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn p(version: &str, image: &str, env: &[(&str, &str)]) -> Proposal {
    Proposal {
        version: version.into(),
        image: image.into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn version(p: &Proposal) -> Version {
    Version {
        version: p.version.clone(),
        image: p.image.clone(),
        env: p.env.clone(),
    }
}

/// Everything no edit here may change.
fn rest(r: &Release) -> Release {
    let mut r = r.clone();
    r.baseline = Version {
        version: String::new(),
        image: String::new(),
        env: Default::default(),
    };
    r.candidate = None;
    r.queue.clear();
    r.rejected.clear();
    r.id.clear();
    r.places = Default::default();
    r
}

/// The output keeps the input's line ends, BOM and final newline (or its lack).
fn same_form(input: &str, output: &str) {
    let crlf = input.contains("\r\n");
    for (i, _) in output.match_indices('\n') {
        assert_eq!(output[..i].ends_with('\r'), crlf, "line end at byte {i}");
    }
    assert_eq!(input.ends_with('\n'), output.ends_with('\n'));
    assert_eq!(
        input.starts_with('\u{feff}'),
        output.starts_with('\u{feff}')
    );
}

fn changed(a: Result<Applied, EditError>) -> (String, Vec<String>) {
    match a {
        Ok(Applied::Changed { text, next }) => (text, next),
        other => panic!("expected a change, got {other:?}"),
    }
}

const REASON: &str = "error-rate 0.05 > 0.01";
const DATE: &str = "2026-05-01T10:00:00Z";

fn reject() -> VerdictEdit {
    VerdictEdit::Reject {
        reason: REASON.into(),
        date: DATE.into(),
    }
}

const BASE: &str = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v1\n    image: web:1\n";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}
