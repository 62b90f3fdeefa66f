//! YAML the splicer must respect: anchors and aliases, layouts it refuses,
//! and values that need quotes.

use super::*;

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
        apply_verdict(&text, &id, &VerdictEdit::Promote),
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
        apply_verdict(text, &id, &VerdictEdit::Promote),
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
    let (out, _) = changed(apply_verdict(text, &before.id, &VerdictEdit::Promote));
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
