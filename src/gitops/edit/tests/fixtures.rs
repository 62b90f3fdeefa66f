//! Every edit on every fixture in `tests/fixtures/edit/`, snapshotted and
//! checked against the parsed spec.

use super::*;
use crate::spec::Rejected;

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
        for v in [VerdictEdit::Promote, reject()] {
            let a = apply_verdict(&text, &before.id, &v).unwrap();
            assert_eq!(a, Applied::Superseded { found: None });
        }
        return;
    };

    // promote
    let (out, next) = changed(apply_verdict(&text, &before.id, &VerdictEdit::Promote));
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

fixtures!(
    comments, crlf, flow, indent3, indent4, markers, quoted, unicode
);
