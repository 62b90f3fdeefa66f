//! A fast check of a passthrough YAML file: the parser's events, without
//! building a value per document. Each document must be a mapping with a
//! `kind`; its identity (`apiVersion`, `kind`, `metadata.name`,
//! `metadata.namespace`) is kept for the collision check.
//!
//! [`heads`] answers only for the plain files manifests are: on anything
//! unusual (a parse error, anchors, aliases, tags, merge keys, complex or
//! repeated keys, scalars whose type is not certainly text, deep nesting, a
//! large file) it gives up with `None`, and the caller reads the file the
//! exact way ([`super::passthrough`]), which also gives every error its
//! message and place. So when it answers, it is with what the exact reading
//! would give: the same parser with the same options, every document checked.

use std::borrow::Cow;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

/// Files larger than this are left to the exact reading.
const MAX_BYTES: usize = 256 * 1024;
/// Deeper nesting is left to the exact reading (its limit is 64).
const MAX_DEPTH: usize = 32;

/// The parser options the exact reading gives the same budget.
fn parser_options(budget: &serde_saphyr::Budget) -> granit_parser::Options {
    let mut o = granit_parser::Options::default();
    o.emit_comments = true;
    o.max_buffered_comment_events = budget.max_buffered_comment_events;
    o.simple_key_max_lookahead = budget.simple_key_max_lookahead;
    o.flow_nesting_limit = budget.flow_nesting_limit;
    o.block_nesting_limit = o
        .block_nesting_limit
        .max(budget.max_depth.saturating_add(1));
    o
}

/// What a mapping is, for the fields kept.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Root,
    Metadata,
    Other,
}

enum Frame<'a> {
    Map {
        role: Role,
        keys: Vec<Cow<'a, str>>,
        /// The key whose value comes next; `None` when a key comes next.
        key: Option<Cow<'a, str>>,
    },
    Seq,
}

/// The identity object of every document of `text` (`null` documents
/// skipped), or `None` when the exact reading must decide.
pub(crate) fn heads(text: &str, budget: &serde_saphyr::Budget) -> Option<Vec<Value>> {
    if text.len() > MAX_BYTES {
        return None;
    }
    let mut parser = Parser::new_from_str_with_options(text, parser_options(budget));
    let mut stack: Vec<Frame> = Vec::new();
    let mut out = Vec::new();
    let mut head = Map::new();
    let mut meta = Map::new();
    for item in &mut parser {
        let (event, _) = item.ok()?;
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(..) => {
                if !stack.is_empty() {
                    return None;
                }
            }
            Event::Comment(..) => {}
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                match stack.last_mut() {
                    // A document that is one scalar: only `null` is skipped.
                    None => {
                        if !(style == ScalarStyle::Plain && is_null(&value)) {
                            return None;
                        }
                    }
                    Some(Frame::Seq) => {}
                    Some(Frame::Map { role, keys, key }) => match key.take() {
                        None => {
                            if !is_text(&value, style) || keys.contains(&value) {
                                return None;
                            }
                            keys.push(value.clone());
                            *key = Some(value);
                        }
                        Some(k) => {
                            let kept = match (*role, k.as_ref()) {
                                (Role::Root, "apiVersion" | "kind") => Some(&mut head),
                                (Role::Metadata, "name" | "namespace") => Some(&mut meta),
                                _ => None,
                            };
                            if let Some(fields) = kept {
                                if !is_text(&value, style) {
                                    return None;
                                }
                                fields.insert(k.into_owned(), Value::String(value.into_owned()));
                            }
                        }
                    },
                }
            }
            Event::MappingStart(_, anchor, tag) | Event::SequenceStart(_, anchor, tag)
                if anchor == 0 && tag.is_none() =>
            {
                let role = match stack.last() {
                    None => Role::Root,
                    Some(Frame::Map { key: None, .. }) => return None,
                    Some(Frame::Map {
                        role: Role::Root,
                        key: Some(k),
                        ..
                    }) if k == "metadata" => Role::Metadata,
                    Some(_) => Role::Other,
                };
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(if is_map {
                    Frame::Map {
                        role,
                        keys: Vec::new(),
                        key: None,
                    }
                } else if role == Role::Root {
                    return None;
                } else {
                    Frame::Seq
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop()?;
                match stack.last_mut() {
                    Some(Frame::Map { key, .. }) => {
                        key.take()?;
                    }
                    Some(Frame::Seq) => {}
                    None => {
                        let kind = head.get("kind").and_then(Value::as_str);
                        if kind.is_none_or(str::is_empty) {
                            return None;
                        }
                        let mut object = std::mem::take(&mut head);
                        if !meta.is_empty() {
                            object.insert(
                                "metadata".into(),
                                Value::Object(std::mem::take(&mut meta)),
                            );
                        }
                        out.push(Value::Object(object));
                    }
                }
            }
            _ => return None,
        }
    }
    stack.is_empty().then_some(out)
}

/// A plain scalar YAML reads as `null`.
fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// A scalar that every YAML schema reads as a string: quoted, or plain
/// starting with a letter and not a word some schema reads as a boolean,
/// `null` or a float.
fn is_text(s: &str, style: ScalarStyle) -> bool {
    match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => true,
        ScalarStyle::Plain => {
            const WORDS: &[&str] = &[
                "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
                "infinity",
            ];
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && !WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Option<Vec<Value>> {
        heads(text, &serde_saphyr::Budget::default())
    }

    #[test]
    fn keeps_identity() {
        let text = "# c\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: {x: y}\nspec:\n  ports:\n    - port: 80\n---\n---\nkind: ConfigMap\nmetadata: {name: 'b', namespace: \"n\"}\n";
        let got = run(text).unwrap();
        assert_eq!(
            got,
            vec![
                serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}),
                serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "b", "namespace": "n"}}),
            ]
        );
    }

    /// The sample's manifests are the plain files this is for.
    #[test]
    fn answers_for_the_sample_manifests() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/bookinfo");
        for name in [
            "bookinfo-gateway.yaml",
            "details.yaml",
            "productpage-serviceaccount.yaml",
            "ratings.yaml",
            "reviews.yaml",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            let heads = run(&text).unwrap_or_else(|| panic!("{name}: left to the exact reading"));
            assert!(!heads.is_empty(), "{name}");
        }
    }

    #[test]
    fn leaves_the_unusual_to_the_exact_reading() {
        for text in [
            "kind: A\nkind: B\n",
            "apiVersion: v1\n",
            "kind: ''\n",
            "kind: 12\n",
            "kind: true\n",
            "kind: A\nmetadata: &m {name: a}\nx: *m\n",
            "kind: A\n<<: {b: 1}\n",
            "kind: !!str A\n",
            "? [a]\n: b\nkind: A\n",
            "- kind: A\n",
            "just text\n",
            "kind: [\n",
            "metadata:\n  name: 123\nkind: A\n",
        ] {
            assert_eq!(run(text), None, "{text}");
        }
    }
}
