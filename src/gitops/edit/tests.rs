//! The edits on hostile files: every fixture in `tests/fixtures/edit/` gets
//! every edit, pinned as an insta snapshot of the edited text (in
//! `src/gitops/snapshots/`, CR shown as `␍`) and checked semantically against
//! the parsed spec; then refusals, idempotence, anchors, and property tests
//! (a proposal promoted through any generated layout; no panic on any input).

use proptest::prelude::*;

use super::*;
use crate::spec::{Rejected, Release, Version};

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
        snapshot_path => "../snapshots",
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

fn reject() -> Verdict {
    Verdict::Reject {
        reason: REASON.into(),
        date: DATE.into(),
    }
}

/// Every edit on fixture `name`, snapshotted and checked.
fn every_edit(name: &str) {
    let text = fixture(name);
    let before = release(&text);

    // set: a proposal full of values YAML 1.1 would misread.
    let prop = p(
        "v9",
        "registry.example.com/new:9",
        &[("on", "yes"), ("AT", "12:30"), ("NOTE", "a: b #c")],
    );
    let (out, outcome) = set_candidate(&text, &prop, false).unwrap();
    same_form(&text, &out);
    let after = release(&out);
    match outcome {
        Proposed::Candidate => assert_eq!(after.candidate, Some(version(&prop))),
        Proposed::Queued { position } => {
            assert_eq!(after.candidate, before.candidate);
            assert_eq!(after.queue.len(), position);
            assert_eq!(after.queue.last(), Some(&version(&prop)));
            assert_eq!(after.queue[..position - 1], before.queue[..]);
        }
        Proposed::Unchanged => panic!("{name}: v9 is new"),
    }
    assert_eq!(after.baseline, before.baseline);
    assert_eq!(rest(&after), rest(&before));
    snap(&format!("{name}__set"), &out);

    // clear
    let out = clear_candidate(&text).unwrap();
    same_form(&text, &out);
    let after = release(&out);
    assert_eq!(after.candidate, None);
    assert_eq!(
        (&after.baseline, &after.queue),
        (&before.baseline, &before.queue)
    );
    assert_eq!(rest(&after), rest(&before));
    if before.candidate.is_some() {
        snap(&format!("{name}__clear"), &out);
    } else {
        assert_eq!(out, text);
    }

    let Some(candidate) = before.candidate.clone() else {
        for v in [Verdict::Promote, reject()] {
            let a = apply_verdict(&text, &before.id, &v).unwrap();
            assert_eq!(a, Applied::Superseded { found: None });
        }
        return;
    };

    // promote
    let (out, next) = changed(apply_verdict(&text, &before.id, &Verdict::Promote));
    same_form(&text, &out);
    let after = release(&out);
    assert_eq!(after.baseline, candidate);
    assert_eq!(after.candidate.as_ref(), before.queue.first());
    assert_eq!(after.queue[..], before.queue[before.queue.len().min(1)..]);
    assert_eq!(after.rejected, before.rejected);
    assert_eq!(next, before.promotion.next);
    assert_eq!(rest(&after), rest(&before));
    snap(&format!("{name}__promote"), &out);

    // reject
    let (out, next) = changed(apply_verdict(&text, &before.id, &reject()));
    same_form(&text, &out);
    let after = release(&out);
    assert_eq!(after.baseline, before.baseline);
    assert_eq!(after.candidate.as_ref(), before.queue.first());
    let record = Rejected {
        version: candidate.version.clone(),
        image: candidate.image.clone(),
        experiment: Some(before.id.clone()),
        reason: Some(REASON.into()),
        date: Some(DATE.into()),
    };
    let mut all = before.rejected.clone();
    all.push(record);
    let keep = before.promotion.max_rejected as usize;
    assert_eq!(after.rejected[..], all[all.len().saturating_sub(keep)..]);
    assert!(next.is_empty());
    assert_eq!(rest(&after), rest(&before));
    snap(&format!("{name}__reject"), &out);
}

macro_rules! fixtures {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                every_edit(stringify!($name));
            }
        )*
    };
}

mod fixture {
    use super::every_edit;

    fixtures!(
        comments, crlf, flow, indent3, indent4, markers, quoted, unicode
    );
}

const BASE: &str = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v1\n    image: web:1\n";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn set_adds_the_candidate_right_after_the_baseline() {
    let text = with("  traffic:\n    router: istio\n");
    let (out, o) = set_candidate(&text, &p("v2", "web:2", &[]), false).unwrap();
    assert_eq!(o, Proposed::Candidate);
    assert_eq!(
        out,
        with("  candidate:\n    version: v2\n    image: web:2\n  traffic:\n    router: istio\n")
    );
}

#[test]
fn set_preempts_the_candidate_keeping_its_key_comment() {
    let text = with("  candidate: # CI\n    version: v2 # old\n    image: web:2\n  traffic: {}\n");
    let (out, o) = set_candidate(&text, &p("v3", "web:3", &[("A", "b")]), false).unwrap();
    assert_eq!(o, Proposed::Candidate);
    assert_eq!(
        out,
        with(
            "  candidate: # CI\n    version: v3\n    image: web:3\n    env:\n      A: b\n  traffic: {}\n"
        )
    );
}

#[test]
fn set_replaces_an_explicit_null_candidate_in_place() {
    for (null, kept) in [
        ("candidate: ~ # none", "candidate: # none"),
        ("candidate:", "candidate:"),
    ] {
        let text = with(&format!("  {null}\n  traffic: {{}}"));
        let (out, _) = set_candidate(&text, &p("v2", "web:2", &[]), false).unwrap();
        assert_eq!(
            out,
            with(&format!(
                "  {kept}\n    version: v2\n    image: web:2\n  traffic: {{}}"
            ))
        );
    }
}

#[test]
fn set_queues_twice_then_is_unchanged() {
    let text = fixture("comments");
    let (once, o) = set_candidate(&text, &p("v5", "checkout:5", &[]), false).unwrap();
    assert_eq!(o, Proposed::Queued { position: 3 });
    let (twice, o) = set_candidate(&once, &p("v6", "checkout:6", &[("X", "1")]), false).unwrap();
    assert_eq!(o, Proposed::Queued { position: 4 });
    snap("queue_twice", &twice);
    let queued: Vec<_> = release(&twice)
        .queue
        .iter()
        .map(|v| v.version.clone())
        .collect();
    assert_eq!(queued, ["v3", "v4", "v5", "v6"]);
    // The same version again, queued or under test, whatever its image.
    for v in ["v6", "v3", "v2"] {
        let (again, o) = set_candidate(&twice, &p(v, "other:1", &[]), false).unwrap();
        assert_eq!((again.as_str(), o), (twice.as_str(), Proposed::Unchanged));
    }
}

#[test]
fn set_creates_the_queue_after_the_candidate() {
    let text = with(
        "  candidate: {version: v2, image: web:2}\n\n  promotion:\n    onNewCandidate: queue\n",
    );
    let (out, o) = set_candidate(&text, &p("v3", "web:3", &[]), false).unwrap();
    assert_eq!(o, Proposed::Queued { position: 1 });
    assert_eq!(
        out,
        with(
            "  candidate: {version: v2, image: web:2}\n\n  queue:\n    - version: v3\n      image: web:3\n\n  promotion:\n    onNewCandidate: queue\n"
        )
    );
}

#[test]
fn set_the_same_proposal_twice_is_unchanged() {
    let text = fixture("crlf");
    let prop = p("v7", "api:7", &[("LOG", "info"), ("on", "off")]);
    let (once, o) = set_candidate(&text, &prop, false).unwrap();
    assert_eq!(o, Proposed::Candidate);
    let (twice, o) = set_candidate(&once, &prop, false).unwrap();
    assert_eq!((twice, o), (once.clone(), Proposed::Unchanged));
    // Env order is part of the proposal.
    let swapped = p("v7", "api:7", &[("on", "off"), ("LOG", "info")]);
    let (_, o) = set_candidate(&once, &swapped, false).unwrap();
    assert_eq!(o, Proposed::Candidate);
}

#[test]
fn set_refuses_a_rejected_version_or_image_unless_forced() {
    let text = fixture("comments");
    let e = set_candidate(&text, &p("v0", "new:1", &[]), false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "v0 was rejected in experiment 0a1b2c3d4e (error-rate 0.05 > 0.01); pass --force to propose it again"
    );
    let e = set_candidate(
        &text,
        &p("v7", "registry.example.com/checkout:0.9", &[]),
        false,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "image registry.example.com/checkout:0.9 was rejected as v0 in experiment 0a1b2c3d4e (error-rate 0.05 > 0.01); pass --force to propose it again"
    );
    let (out, o) = set_candidate(&text, &p("v0", "new:1", &[]), true).unwrap();
    assert_eq!(o, Proposed::Queued { position: 3 });
    snap("force_rejected", &out);
    // The record stays: forcing is not forgetting.
    assert_eq!(release(&out).rejected, release(&text).rejected);
}

#[test]
fn set_refuses_the_baseline_version() {
    let e = set_candidate(BASE, &p("v1", "web:9", &[]), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "v1 is already the baseline; a candidate needs a different version"
    );
}

#[test]
fn set_refuses_an_invalid_proposal_naming_the_field() {
    let e = set_candidate(BASE, &p("V2!", "web:2", &[]), false).unwrap_err();
    assert!(matches!(e, EditError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("spec.candidate.version"), "{e}");
}

#[test]
fn clear_without_a_candidate_returns_the_text_as_is() {
    let text = fixture("markers");
    assert_eq!(clear_candidate(&text).unwrap(), text);
    let text = with("  candidate: ~\n");
    assert_eq!(clear_candidate(&text).unwrap(), text);
}

#[test]
fn clear_drops_only_the_candidate() {
    let text = fixture("indent3");
    let out = clear_candidate(&text).unwrap();
    assert_eq!(
        out,
        text.replace(
            "   candidate:\n      version: v2\n      image: search:2\n",
            ""
        )
    );
    assert_eq!(release(&out).queue, release(&text).queue);
}

#[test]
fn promote_moves_env_in_either_direction() {
    // Candidate without env, baseline with: env goes.
    let text = fixture("indent3");
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert!(release(&out).baseline.env.is_empty());
    // Baseline without env, candidate with: env comes, as a block.
    let text = fixture("crlf");
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert!(out.contains("    image: api:2\r\n    env:\r\n      LOG: debug\r\n"));
    // Neither: only version and image change, comments stay.
    let text = with("  candidate: # next\n    version: v2 # new\n    image: \"web:2\"\n");
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert_eq!(
        out,
        "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v2\n    image: web:2\n"
    );
}

#[test]
fn promote_edits_env_key_by_key_when_order_allows() {
    let text = with(
        "    env:\n      A: '1' # kept\n      B: \"2\" # changes\n      C: '3'\n  candidate:\n    version: v2\n    image: web:2\n    env: {A: '1', B: '20', D: '4'}\n",
    );
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert_eq!(
        out,
        "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v2\n    image: web:2\n    env:\n      A: '1' # kept\n      B: \"20\" # changes\n      D: '4'\n"
    );
    // A new order cannot be reached key by key: env is written again.
    let text = with(
        "    env:\n      A: '1'\n      B: '2'\n  candidate:\n    version: v2\n    image: web:2\n    env: {B: '2', A: '1'}\n",
    );
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert!(
        out.ends_with("    env:\n      B: '2'\n      A: '1'\n"),
        "{out}"
    );
    let env: Vec<_> = release(&out).baseline.env.into_keys().collect();
    assert_eq!(env, ["B", "A"]);
}

#[test]
fn promote_to_an_empty_env_writes_it_inline() {
    let text = with(
        "    env: # settings\n      A: b\n  candidate:\n    version: v2\n    image: web:2\n    env: {}\n",
    );
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    assert!(
        out.ends_with("  baseline:\n    version: v2\n    image: web:2\n    env: {}\n"),
        "{out}"
    );
}

#[test]
fn reject_twice_keeps_the_newest_two() {
    let text = fixture("comments");
    let first = release(&text);
    let (once, _) = changed(apply_verdict(&text, &first.id, &reject()));
    let second = release(&once);
    assert_eq!(
        second.candidate.as_ref().map(|c| c.version.as_str()),
        Some("v3")
    );
    let (twice, _) = changed(apply_verdict(&once, &second.id, &reject()));
    let rejected: Vec<_> = release(&twice)
        .rejected
        .iter()
        .map(|r| r.version.clone())
        .collect();
    assert_eq!(rejected, ["v2", "v3"]);
    snap("reject_twice", &twice);
}

#[test]
fn reject_creates_the_list_at_the_end_of_spec() {
    let text = with("  candidate: {version: v2, image: web:2}\n  traffic: {router: istio}\n");
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(
        &text,
        &id,
        &Verdict::Reject {
            reason: "p95-latency 812ms > 500ms\nsecond line".into(),
            date: "2026-05-01".into(),
        },
    ));
    let experiment = render::scalar(&id, render::Quote::Plain);
    assert_eq!(
        out,
        with(&format!(
            "  traffic: {{router: istio}}\n  rejected:\n    - version: v2\n      image: web:2\n      experiment: {experiment}\n      reason: \"p95-latency 812ms > 500ms\\nsecond line\"\n      date: '2026-05-01'\n"
        ))
    );
}

#[test]
fn an_untouched_queue_stays_as_written() {
    let text = with("  candidate: {version: v2, image: web:2}\n  queue: []\n  rejected: []\n");
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &reject()));
    let record = format!(
        "{{version: v2, image: web:2, experiment: {}, reason: {}, date: '{DATE}'}}",
        render::scalar(&id, render::Quote::Plain),
        REASON
    );
    assert_eq!(out, with(&format!("  queue: []\n  rejected: [{record}]\n")));
}

#[test]
fn comments_trailing_an_entry_stay_with_it() {
    let text = with("    # env: {DEBUG: '1'}\n  traffic: {}\n");
    let (out, _) = set_candidate(&text, &p("v2", "web:2", &[]), false).unwrap();
    assert_eq!(
        out,
        with(
            "    # env: {DEBUG: '1'}\n  candidate:\n    version: v2\n    image: web:2\n  traffic: {}\n"
        )
    );
}

#[test]
fn a_verdict_for_another_experiment_is_superseded() {
    let text = fixture("comments");
    let id = release(&text).id;
    for v in [Verdict::Promote, reject()] {
        let a = apply_verdict(&text, "0000000000", &v).unwrap();
        assert_eq!(
            a,
            Applied::Superseded {
                found: Some(id.clone())
            }
        );
    }
    let a = apply_verdict(&fixture("markers"), &id, &Verdict::Promote).unwrap();
    assert_eq!(a, Applied::Superseded { found: None });
}

#[test]
fn the_same_verdict_twice_is_superseded_the_second_time() {
    for name in ["crlf", "comments"] {
        let text = fixture(name);
        let id = release(&text).id;
        for v in [Verdict::Promote, reject()] {
            let (once, _) = changed(apply_verdict(&text, &id, &v));
            let again = apply_verdict(&once, &id, &v).unwrap();
            let found = release(&once).candidate.map(|_| release(&once).id);
            assert_eq!(again, Applied::Superseded { found });
        }
    }
}

#[test]
fn the_queue_skips_versions_equal_to_the_new_baseline() {
    let text = with(
        "  candidate: {version: v2, image: web:2}\n  queue:\n    - {version: v2, image: web:2b}\n    - {version: v3, image: web:3}\n",
    );
    let id = release(&text).id;
    let (out, _) = changed(apply_verdict(&text, &id, &Verdict::Promote));
    let r = release(&out);
    assert_eq!(r.candidate.map(|c| c.version), Some("v3".into()));
    assert!(r.queue.is_empty());
    assert!(!out.contains("queue"));
}

#[test]
fn receive_winner_follows_set_candidate() {
    let winner = p("v2", "cart:2", &[("MODE", "on")]);
    let text = fixture("markers");
    let (out, o) = receive_winner(&text, &winner).unwrap();
    assert_eq!(o, Proposed::Candidate);
    snap("receive_winner", &out);
    assert_eq!(release(&out).candidate, Some(version(&winner)));
    // Already the candidate there, or already its baseline: unchanged.
    assert_eq!(
        receive_winner(&out, &winner).unwrap(),
        (out.clone(), Proposed::Unchanged)
    );
    let promoted = changed(apply_verdict(&out, &release(&out).id, &Verdict::Promote)).0;
    assert_eq!(
        receive_winner(&promoted, &winner).unwrap(),
        (promoted.clone(), Proposed::Unchanged)
    );
    // Rejected there: refused (no force for a promoter).
    let e = receive_winner(&fixture("comments"), &p("v0", "x:0", &[])).unwrap_err();
    assert!(matches!(e, EditError::Rejected(_)), "{e:?}");
}

#[test]
fn anchors_in_what_changes_are_refused_when_used_elsewhere() {
    let text = with(
        "  candidate:\n    version: v2\n    image: web:2\n    env: &shared {A: b}\n  loadgen:\n    headers: *shared\n",
    );
    let id = release(&text).id;
    let want = EditError::AnchorInUse {
        anchor: "shared".into(),
        section: "spec.candidate".into(),
    };
    assert_eq!(clear_candidate(&text), Err(want.clone()));
    assert_eq!(
        apply_verdict(&text, &id, &Verdict::Promote),
        Err(want.clone())
    );
    assert_eq!(
        set_candidate(&text, &p("v3", "web:3", &[]), false),
        Err(want.clone())
    );
    assert!(
        want.to_string()
            .starts_with("spec.candidate defines the anchor &shared")
    );
    // The baseline's own anchor, used elsewhere, may not change either.
    let text = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v1\n    image: web:1\n    env: &e {A: b}\n  candidate: {version: v2, image: web:2}\n  loadgen:\n    headers: *e\n";
    let id = release(text).id;
    assert_eq!(
        apply_verdict(text, &id, &Verdict::Promote),
        Err(EditError::AnchorInUse {
            anchor: "e".into(),
            section: "spec.baseline.env".into()
        })
    );
    // Rejecting leaves the baseline alone, so that is fine.
    assert!(apply_verdict(text, &id, &reject()).is_ok());
}

#[test]
fn aliases_and_merge_keys_in_the_candidate_are_expanded() {
    let text = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline: &base\n    version: v1\n    image: web:1\n    env: &env {A: b}\n  candidate:\n    <<: *base\n    version: v2\n  queue:\n    - {version: v3, image: web:3, env: *env}\n  promotion: {onNewCandidate: queue}\n";
    let before = release(text);
    let (out, _) = changed(apply_verdict(text, &before.id, &Verdict::Promote));
    snap("merge_promote", &out);
    let after = release(&out);
    assert_eq!(Some(after.baseline), before.candidate);
    assert_eq!(after.candidate.as_ref(), before.queue.first());
    // The queue head's alias into the baseline's env is expanded as it
    // becomes the candidate; the baseline keeps its anchor.
    assert!(out.contains("env: &env {A: b}"));
}

#[test]
fn refuses_layouts_it_cannot_edit_faithfully() {
    let flow = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\nspec: {baseline: {version: v1, image: web:1}}\n";
    let e = set_candidate(flow, &p("v2", "web:2", &[]), false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 4: cannot edit this layout: `spec` is not a block mapping; write it as `spec:` followed by indented keys"
    );
    let mixed = BASE.replacen('\n', "\r\n", 2);
    assert_eq!(
        set_candidate(&mixed, &p("v2", "web:2", &[]), false),
        Err(EditError::LineEnds)
    );
    let broken = "spec: [\n";
    assert!(matches!(
        set_candidate(broken, &p("v2", "web:2", &[]), false),
        Err(EditError::Spec(_))
    ));
}

#[test]
fn values_any_yaml_reader_could_misread_are_quoted() {
    let tricky = [
        "on", "No", "y", "~", "null", "0755", "1e3", "12:30", "1_000", ".inf", "a: b", "x #y",
        " lead", "trail ", "", "'", "\"", "\\", "- x", "[a]", "{b}", "*c", "&d", "!e", "%f", "@g",
        "`h", "|", ">", "a\nb", "tab\t", "é🎉", "\u{85}", "\u{2028}",
    ];
    let env: Vec<(String, String)> = tricky
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.to_string()))
        .collect();
    let prop = Proposal {
        version: "v2".into(),
        image: "web:2".into(),
        env: env.into_iter().collect(),
    };
    let (out, _) = set_candidate(BASE, &prop, false).unwrap();
    snap("tricky_values", &out);
    assert_eq!(release(&out).candidate, Some(version(&prop)));
}

// --- properties -----------------------------------------------------------

/// One generated layout of a valid spec.
#[derive(Debug, Clone)]
struct Layout {
    bom: bool,
    indent: usize,
    seq_indented: bool,
    crlf: bool,
    final_newline: bool,
    comments: bool,
    baseline_flow: bool,
    baseline_env: Vec<(String, String)>,
    candidate: Option<(Proposal, bool)>,
    queue_mode: bool,
    rejected: usize,
}

fn quote(s: &str, plain: bool) -> String {
    if plain
        && !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
            .contains(&s.to_ascii_lowercase().as_str())
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn flow_version(v: &Proposal) -> String {
    let env: Vec<_> = v
        .env
        .iter()
        .map(|(k, x)| format!("{}: {}", quote(k, true), quote(x, false)))
        .collect();
    let env = if env.is_empty() {
        String::new()
    } else {
        format!(", env: {{{}}}", env.join(", "))
    };
    format!(
        "{{version: {}, image: {}{env}}}",
        v.version,
        quote(&v.image, false)
    )
}

fn block_version(v: &Proposal, pad: &str, i: &str, comments: bool) -> String {
    let c = if comments { " # note" } else { "" };
    let mut s = format!(
        "{pad}{i}version: {}{c}\n{pad}{i}image: {}\n",
        v.version,
        quote(&v.image, true)
    );
    if !v.env.is_empty() {
        s.push_str(&format!("{pad}{i}env:{c}\n"));
        for (k, x) in &v.env {
            s.push_str(&format!(
                "{pad}{i}{i}{}: {}\n",
                quote(k, true),
                quote(x, true)
            ));
        }
    }
    s
}

impl Layout {
    fn text(&self) -> String {
        let i = " ".repeat(self.indent);
        let c = |s: &str| {
            if self.comments {
                format!(" # {s} ✓")
            } else {
                String::new()
            }
        };
        let mut t = format!(
            "# generated{}\napiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n{i}name: app{}\nspec:{}\n",
            c("top"),
            c("name"),
            c("spec")
        );
        let baseline = Proposal {
            version: "base".into(),
            image: "img/base:1".into(),
            env: self.baseline_env.iter().cloned().collect(),
        };
        if self.comments {
            t.push_str(&format!("{i}# the baseline\n"));
        }
        if self.baseline_flow {
            t.push_str(&format!(
                "{i}baseline: {}{}\n",
                flow_version(&baseline),
                c("live")
            ));
        } else {
            t.push_str(&format!(
                "{i}baseline:{}\n{}",
                c("live"),
                block_version(&baseline, &i, &i, self.comments)
            ));
        }
        if let Some((cand, flow)) = &self.candidate {
            if *flow {
                t.push_str(&format!("{i}candidate: {}\n", flow_version(cand)));
            } else {
                t.push_str(&format!(
                    "{i}candidate:{}\n{}",
                    c("test"),
                    block_version(cand, &i, &i, self.comments)
                ));
            }
        }
        if self.comments {
            t.push('\n');
        }
        let mode = if self.queue_mode { "queue" } else { "preempt" };
        t.push_str(&format!(
            "{i}promotion:\n{i}{i}onNewCandidate: {mode}{}\n",
            c("mode")
        ));
        if self.rejected > 0 {
            t.push_str(&format!("{i}rejected:\n"));
            let dash = if self.seq_indented {
                format!("{i}{i}")
            } else {
                i.clone()
            };
            for n in 0..self.rejected {
                t.push_str(&format!(
                    "{dash}- version: r{n}{}\n{dash}  image: rej/{n}\n",
                    c("bad")
                ));
            }
        }
        if !self.final_newline {
            t.pop();
        }
        if self.bom {
            t.insert(0, '\u{feff}');
        }
        if self.crlf {
            t.replace('\n', "\r\n")
        } else {
            t
        }
    }
}

fn env_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z_][A-Z0-9_]{0,6}",
        Just("on".to_string()),
        Just("yes".to_string()),
        Just("y".to_string()),
        Just("null".to_string()),
        Just("No".to_string()),
    ]
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,10}",
        "[a-z0-9 :#'\"-]{0,8}",
        prop::sample::select(vec![
            "on", "no", "0755", "1e3", "~", "12:30", "a: b", "#x", "a #b", " lead", "trail ", "",
            "'", "\"", "\\", "- x", "[x]", "{y}", "*a", "&b", "!t", "%p", "a\nb", "\t", "é🎉",
            "\u{85}", "\u{2028}", "null", "- ", "? ", ": ",
        ])
        .prop_map(String::from),
    ]
}

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((env_key(), env_value()), 0..4).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|(k, _)| seen.insert(k.clone()));
        v
    })
}

fn proposal(prefix: &'static str) -> impl Strategy<Value = Proposal> {
    ("[0-9]{1,3}", "[a-z]{1,6}(:[a-z0-9.]{1,4})?", env()).prop_map(move |(n, image, env)| {
        Proposal {
            version: format!("{prefix}{n}"),
            image: format!("img/{image}é"),
            env: env.into_iter().collect(),
        }
    })
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        (
            2usize..=4,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            env(),
            prop::option::of((proposal("c"), any::<bool>())),
        ),
        (any::<bool>(), 0usize..3, any::<bool>()),
    )
        .prop_map(
            |(
                (indent, seq_indented, crlf, final_newline, comments),
                (baseline_flow, baseline_env, candidate),
                (queue_mode, rejected, bom),
            )| Layout {
                bom,
                indent,
                seq_indented,
                crlf,
                final_newline,
                comments,
                baseline_flow,
                baseline_env,
                candidate,
                queue_mode,
                rejected,
            },
        )
}

/// `PROPTEST_CASES` overrides the default of 96 for a longer search.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(96)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A proposal set on any layout and promoted becomes the baseline, in a
    /// valid file with the input's line ends; promoting twice is superseded.
    #[test]
    fn a_promoted_proposal_becomes_the_baseline(l in layout(), prop in proposal("v")) {
        let text = l.text();
        let before = release(&text);
        let (mut out, outcome) = set_candidate(&text, &prop, false).unwrap();
        same_form(&text, &out);
        if let Proposed::Queued { position } = outcome {
            // Queue mode with a candidate under test: promote it first.
            prop_assert_eq!(position, 1);
            let id = release(&out).id;
            out = changed(apply_verdict(&out, &id, &Verdict::Promote)).0;
            prop_assert_eq!(Some(release(&out).baseline), before.candidate);
        }
        let proposed = release(&out);
        prop_assert_eq!(proposed.candidate.as_ref(), Some(&version(&prop)));
        let (promoted, _) = changed(apply_verdict(&out, &proposed.id, &Verdict::Promote));
        same_form(&text, &promoted);
        let after = release(&promoted);
        prop_assert_eq!(&after.baseline, &version(&prop));
        prop_assert_eq!(after.candidate, None);
        prop_assert_eq!(after.rejected, before.rejected);
        let again = apply_verdict(&promoted, &proposed.id, &Verdict::Promote).unwrap();
        prop_assert_eq!(again, Applied::Superseded { found: None });
    }

    /// Setting a candidate where there is none and clearing it again gives
    /// back the very same bytes.
    #[test]
    fn set_then_clear_gives_the_text_back(mut l in layout(), prop in proposal("v")) {
        l.candidate = None;
        let text = l.text();
        let (out, _) = set_candidate(&text, &prop, false).unwrap();
        prop_assert_eq!(clear_candidate(&out).unwrap(), text);
    }

    /// No input makes an edit panic: arbitrary text, and fixtures with bytes
    /// cut out or pasted in.
    #[test]
    fn no_input_panics(
        noise in "\\PC{0,40}",
        which in 0usize..8,
        at in any::<prop::sample::Index>(),
        cut in 0usize..12,
    ) {
        let names = ["comments", "crlf", "flow", "indent3", "indent4", "markers", "quoted", "unicode"];
        let base = fixture(names[which]);
        let mut i = at.index(base.len() + 1);
        while !base.is_char_boundary(i) {
            i -= 1;
        }
        let mut j = (i + cut).min(base.len());
        while !base.is_char_boundary(j) {
            j -= 1;
        }
        let texts = [noise.clone(), format!("{}{noise}{}", &base[..i], &base[j..])];
        for text in &texts {
            let prop = p("v9", "x:9", &[("on", "y")]);
            let _ = set_candidate(text, &prop, false);
            let _ = receive_winner(text, &prop);
            let _ = clear_candidate(text);
            let _ = apply_verdict(text, "0000000000", &Verdict::Promote);
            if let Ok(r) = spec::parse_raw("x", text.as_bytes()) {
                let id = spec::experiment_id(&r);
                let _ = apply_verdict(text, &id, &Verdict::Promote);
                let _ = apply_verdict(text, &id, &reject());
            }
        }
    }
}
