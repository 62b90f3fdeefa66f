//! Verdicts: promote, reject, the queue advancing, superseded verdicts, and
//! a `promotion.next` environment receiving the winner.

use super::*;

/// `text` with its candidate promoted; panics unless that changes it.
fn promoted(text: &str) -> String {
    changed(apply_verdict(
        text,
        &release(text).id,
        &VerdictEdit::Promote,
    ))
    .0
}

#[test]
fn promote_moves_env_in_either_direction() {
    // Candidate without env, baseline with: env goes.
    let text = fixture("indent3");
    let out = promoted(&text);
    assert!(release(&out).baseline.env.is_empty());
    // Baseline without env, candidate with: env comes, as a block.
    let text = fixture("crlf");
    let out = promoted(&text);
    assert!(out.contains("    image: api:2\r\n    env:\r\n      LOG: debug\r\n"));
    // Neither: only version and image change, comments stay.
    let text = with("  candidate: # next\n    version: v2 # new\n    image: \"web:2\"\n");
    let out = promoted(&text);
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
    let out = promoted(&text);
    assert_eq!(
        out,
        "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v2\n    image: web:2\n    env:\n      A: '1' # kept\n      B: \"20\" # changes\n      D: '4'\n"
    );
    // A new order cannot be reached key by key: env is written again.
    let text = with(
        "    env:\n      A: '1'\n      B: '2'\n  candidate:\n    version: v2\n    image: web:2\n    env: {B: '2', A: '1'}\n",
    );
    let out = promoted(&text);
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
    let out = promoted(&text);
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
        &VerdictEdit::Reject {
            reason: "p95-latency 812ms > 500ms\nsecond line".into(),
            date: "2026-05-01".into(),
        },
    ));
    let experiment = write::scalar(&id, write::Quote::Plain);
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
        write::scalar(&id, write::Quote::Plain),
        REASON
    );
    assert_eq!(out, with(&format!("  queue: []\n  rejected: [{record}]\n")));
}

#[test]
fn a_verdict_for_another_experiment_is_superseded() {
    let text = fixture("comments");
    let id = release(&text).id;
    for v in [VerdictEdit::Promote, reject()] {
        let a = apply_verdict(&text, "0000000000", &v).unwrap();
        assert_eq!(
            a,
            Applied::Superseded {
                found: Some(id.clone())
            }
        );
    }
    let a = apply_verdict(&fixture("markers"), &id, &VerdictEdit::Promote).unwrap();
    assert_eq!(a, Applied::Superseded { found: None });
}

#[test]
fn the_same_verdict_twice_is_superseded_the_second_time() {
    for name in ["crlf", "comments"] {
        let text = fixture(name);
        let id = release(&text).id;
        for v in [VerdictEdit::Promote, reject()] {
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
    let out = promoted(&text);
    let r = release(&out);
    assert_eq!(r.candidate.map(|c| c.version), Some("v3".into()));
    assert!(r.queue.is_empty());
    assert!(!out.contains("queue"));
}

#[test]
fn receive_winner_follows_set_candidate() {
    let winner = p("v2", "cart:2", &[("MODE", "on")]);
    let text = fixture("markers");
    let (out, o) = receive_winner(&text, &winner, false).unwrap();
    assert_eq!(o, Proposed::Candidate);
    snap("receive_winner", &out);
    assert_eq!(release(&out).candidate, Some(version(&winner)));
    // Already the candidate there, or already its baseline: unchanged.
    assert_eq!(
        receive_winner(&out, &winner, false).unwrap(),
        (out.clone(), Proposed::Unchanged)
    );
    let promoted = promoted(&out);
    assert_eq!(
        receive_winner(&promoted, &winner, false).unwrap(),
        (promoted.clone(), Proposed::Unchanged)
    );
    // Rejected there: refused (no force for a promoter).
    let e = receive_winner(&fixture("comments"), &p("v0", "x:0", &[]), false).unwrap_err();
    assert!(matches!(e, EditError::Rejected(_)), "{e:?}");
}
