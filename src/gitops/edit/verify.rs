//! The check every edit passes before its text is handed back: the edited
//! text must parse to exactly the intended spec (key order included), pass
//! full validation, and differ from the original only in the `spec` entries
//! the edit meant to change. A text edit that went wrong in any way is caught
//! here and refused, so the caller never writes it.

use serde_json::Value;

use super::error::{Action, EditError};
use super::layout::{Text, Tree};
use super::splice::same;
use crate::spec::{self, raw::RawRelease};

/// How the edited text is named in its errors: its line numbers are the
/// edited file's, not the original's.
const EDITED: &str = "assay.yaml (edited)";

/// `raw` as a location-free value (`Spanned` serialises as its value).
pub(super) fn value_of(raw: &RawRelease, action: Action) -> Result<Value, EditError> {
    serde_json::to_value(raw).map_err(|_| EditError::Unverified {
        action,
        path: String::new(),
    })
}

/// Checks `lf` (the edited [`Text::lf`] of `original`) against `want` and
/// returns it with the file's own line ends.
pub(super) fn finish(
    original: &Text,
    lf: &str,
    want: &Value,
    touched: &[&str],
    action: Action,
) -> Result<String, EditError> {
    let out = original.restore(lf);
    let raw = spec::parse_raw(EDITED, out.as_bytes()).map_err(|cause| EditError::Broken {
        action,
        cause: Box::new(cause),
    })?;
    let got = value_of(&raw, action)?;
    let want = canonical(want, action)?;
    if !same(&got, &want) {
        return Err(EditError::Unverified {
            action,
            path: first_difference(&want, &got, ""),
        });
    }
    spec::parse(EDITED, out.as_bytes()).map_err(|cause| EditError::Invalid {
        action,
        cause: Box::new(cause),
    })?;
    untouched(&original.lf, lf, touched, action)?;
    Ok(out)
}

/// `want` in the shape the parser produces (struct fields in declaration
/// order, maps in their own order), by reading it back as a spec: JSON is
/// YAML, so the same parser gives the same shape.
fn canonical(want: &Value, action: Action) -> Result<Value, EditError> {
    let unverified = |path: String| EditError::Unverified { action, path };
    let json = serde_json::to_string(want).map_err(|_| unverified(String::new()))?;
    let raw =
        spec::parse_raw("intended", json.as_bytes()).map_err(|e| unverified(e.path.clone()))?;
    value_of(&raw, action)
}

/// The dotted path of the first place `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if same(p, q) => {}
                    (Some(p), Some(q)) => return first_difference(p, q, &join(k)),
                    _ => return join(k),
                }
            }
            format!(
                "{} (key order)",
                if path.is_empty() {
                    "the top level"
                } else {
                    path
                }
            )
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| !same(p, q))
            .map_or(path.to_string(), |(i, (p, q))| {
                first_difference(p, q, &format!("{path}[{i}]"))
            }),
        _ => path.to_string(),
    }
}

/// Refuses when anything but the `touched` entries of `spec` changed (runs
/// of blank lines count as one, since removing an entry may merge two).
fn untouched(before: &str, after: &str, touched: &[&str], action: Action) -> Result<(), EditError> {
    let a = outside(before, touched)?;
    let b = outside(after, touched)?;
    let differs = a.iter().zip(&b).find(|(x, y)| x.1 != y.1);
    match (differs, a.len() == b.len()) {
        (None, true) => Ok(()),
        (Some((_, (line, _))), _) => Err(EditError::Disturbed {
            action,
            line: *line,
        }),
        (None, false) => Err(EditError::Disturbed {
            action,
            line: b.get(a.len()).or(b.last()).map_or(1, |l| l.0),
        }),
    }
}

/// The lines of `text` outside the `touched` entries of `spec`, numbered.
fn outside<'a>(text: &'a str, touched: &[&str]) -> Result<Vec<(usize, &'a str)>, EditError> {
    let tree = Tree::parse(text)?;
    let cut: Vec<_> = tree
        .slots
        .iter()
        .filter(|s| touched.contains(&s.key.as_str()))
        .map(|s| s.line..s.end)
        .collect();
    let mut kept: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = at;
        at += line.len();
        if cut.iter().any(|r| r.contains(&start)) {
            continue;
        }
        let blank = line.trim().is_empty();
        if blank && kept.last().is_some_and(|l| l.1.trim().is_empty()) {
            continue;
        }
        kept.push((i + 1, line));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_difference() {
        let a = json!({"spec": {"baseline": {"env": {"A": "1", "B": "2"}}, "queue": [1, 2]}});
        let b = json!({"spec": {"baseline": {"env": {"B": "2", "A": "1"}}, "queue": [1, 2]}});
        assert_eq!(
            first_difference(&a, &b, ""),
            "spec.baseline.env (key order)"
        );
        let c = json!({"spec": {"baseline": {"env": {"A": "1", "B": "2"}}, "queue": [1, 3]}});
        assert_eq!(first_difference(&a, &c, ""), "spec.queue[1]");
    }

    #[test]
    fn only_touched_entries_may_change() {
        let before = "spec:\n  baseline: {version: v1, image: x}\n\n  candidate: {version: v2, image: y}\n\n  traffic: {}\n";
        let after = "spec:\n  baseline: {version: v1, image: x}\n\n  traffic: {}\n";
        assert!(untouched(before, after, &["candidate"], Action::Clear).is_ok());
        let after = "spec:\n  baseline: {version: v1, image: x}\n\n  traffic: {router: istio}\n";
        assert_eq!(
            untouched(before, after, &["candidate"], Action::Clear),
            Err(EditError::Disturbed {
                action: Action::Clear,
                line: 4
            })
        );
    }
}
