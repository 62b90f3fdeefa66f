//! Proposals: `set_candidate` (adding, preempting, queueing, refusing) and
//! `clear_candidate`.

use super::*;

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
