//! The app directory's other manifests, passed through as Argo CD's directory
//! source would apply them. YAML is emitted byte for byte (Argo CD's own YAML
//! 1.1 reader then interprets it exactly as it would have without assay);
//! JSON is re-emitted one object per document, because a JSON stream is not
//! YAML. Each document is checked for a `kind` here, so a broken file fails
//! generation with its name and line instead of failing the sync later, and
//! each object's identity is kept so collisions with generated objects can be
//! refused. What a YAML 1.1 reader would read differently is refused or
//! normalised first ([`yaml::yaml_text`]), and every object must have the
//! `apiVersion`, `kind` and `metadata.name` Argo CD needs to apply it.

use std::ops::Range;

use serde_json::Value;

use super::{Document, RenderError, SourceFile};
use crate::yaml::{self, Location, SpecError, SpecErrorKind};

/// A passthrough object: what identifies it, and where it is written.
pub(crate) struct Placed {
    /// The parsed object (for its identity).
    pub object: Value,
    /// The file it came from.
    pub file: String,
    /// Where its document starts.
    pub at: Location,
    /// Its document's bytes in the file's text (after a byte-order mark);
    /// `None` where the document scan could not follow the file.
    pub span: Option<Range<usize>>,
}

impl Placed {
    /// Its document alone, under its file's name and at the file's places
    /// ([`yaml::document_alone`]): what a reader of just this object (the
    /// adopted Deployment) points into. Without a span, the object as assay
    /// writes it, named so.
    pub fn alone(&self, f: &SourceFile) -> SourceFile {
        match &self.span {
            Some(span) => SourceFile {
                name: f.name.clone(),
                text: yaml::document_alone(yaml::without_bom(&f.text), span.clone()),
            },
            None => SourceFile {
                name: format!("{} (as assay writes it)", f.name),
                text: yaml::to_string(&self.object),
            },
        }
    }
}

fn error(file: &str, at: Location, message: String) -> RenderError {
    RenderError::Spec(SpecError::new(
        file,
        at,
        "",
        SpecErrorKind::Invalid(message),
    ))
}

/// The documents of `f` for the output stream, and the objects in it, each
/// with where it is written.
pub(crate) fn documents(f: &SourceFile) -> Result<(Vec<Document>, Vec<Placed>), RenderError> {
    if is_json(&f.name) {
        return json(f);
    }
    let text = yaml::yaml_text(&f.name, &f.text)?;
    let mut placed = Vec::new();
    for (i, d) in yaml::documents(&f.name, text)?.into_iter().enumerate() {
        if !d.value.is_null() {
            // Only on the error path: where a field is written in the file.
            let place = |path: &str| {
                let alone = yaml::document_alone(text, d.span.clone()?);
                yaml::field_location(&alone, path)
            };
            check_object(&f.name, &d.value, d.at, i + 1, &place)?;
            placed.push(Placed {
                object: d.value,
                file: f.name.clone(),
                at: d.at,
                span: d.span,
            });
        }
    }
    // The file's text as one document of the stream, unless it holds no object.
    let Some(first) = placed.first() else {
        return Ok((vec![], vec![]));
    };
    let raw = match first.span.as_ref() {
        // The stream writes its own `---` before the file: the file's own bare
        // marker ahead of its first object (after comments, if any) would make an
        // empty document, so it is left out.
        Some(span) if text[..span.start].lines().all(blank_or_comment) => {
            let (head, doc) = text.split_at(span.start);
            format!("{head}{}", without_bare_marker(doc))
        }
        _ => text.to_string(),
    };
    Ok((vec![Document::Raw(raw)], placed))
}

fn blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// `text` without its first line if that is a bare `---`, which the stream
/// writes itself.
fn without_bare_marker(text: &str) -> &str {
    let marker = text
        .split_inclusive('\n')
        .next()
        .filter(|l| l.trim_end() == "---");
    &text[marker.map_or(0, str::len)..]
}

fn is_json(file: &str) -> bool {
    file.ends_with(".json")
}

/// `p`'s document of `f` alone for the output stream, as [`documents`]
/// emits the whole file: a YAML document byte for byte (without a bare
/// `---` line, which the stream adds), a JSON object re-emitted (and a YAML
/// one the document scan could not follow written from its value). For a file
/// whose other objects change (adoption), so the untouched ones still reach
/// Argo CD as written.
pub(crate) fn document(f: &SourceFile, p: &Placed) -> Document {
    if is_json(&f.name) {
        return Document::Raw(yaml::escape_json(p.object.to_string()));
    }
    let Some(span) = p.span.clone() else {
        return Document::Object(p.object.clone());
    };
    Document::Raw(without_bare_marker(&yaml::without_bom(&f.text)[span]).to_string())
}

fn json(f: &SourceFile) -> Result<(Vec<Document>, Vec<Placed>), RenderError> {
    let (mut out, mut placed) = (Vec::new(), Vec::new());
    let text = yaml::without_bom(&f.text);
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for n in 1.. {
        let rest = &text[stream.byte_offset()..];
        let blank = rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
        let start = stream.byte_offset() + blank;
        let at = yaml::location_at(text, start);
        let Some(d) = stream.next() else {
            break;
        };
        let d = d.map_err(|e| {
            let at = Location {
                line: e.line() as u32,
                column: e.column().max(1) as u32,
            };
            error(&f.name, at, format!("not valid JSON: {e}"))
        })?;
        check_object(&f.name, &d, at, n, &|_| None)?;
        // A JSON object's text is also valid YAML; one object per document.
        out.push(Document::Raw(yaml::escape_json(d.to_string())));
        placed.push(Placed {
            object: d,
            file: f.name.clone(),
            at,
            span: Some(start..stream.byte_offset()),
        });
    }
    Ok((out, placed))
}

/// Refuses document `n` (at `at`) unless it is an object Argo CD can apply:
/// text `kind` and `apiVersion`, and a `metadata.name`. A hook may have a
/// `generateName` instead (Argo CD allows it for hooks only), and a `…List`
/// with `items` names its items instead. `place` finds a field in the file,
/// for a value that is there but not text (`name: on` to a YAML 1.1 reader).
fn check_object(
    file: &str,
    d: &Value,
    at: Location,
    n: usize,
    place: &dyn Fn(&str) -> Option<Location>,
) -> Result<(), RenderError> {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    // A scalar read as another type is shown with what to do; a mapping or
    // list is only named (its content is the manifest's data, not a typo).
    let not_text = |kind: &str, path: &str, v: Option<&Value>| {
        let v = v?;
        let what = match v {
            Value::Bool(_) | Value::Number(_) => {
                let fix = match is_json(file) {
                    true => "write it as a JSON string",
                    false => {
                        "quote it (YAML 1.1 readers such as Argo CD's read unquoted y, no, on, off and numbers as other types)"
                    }
                };
                format!("{path} {v}, which is not text; {fix}")
            }
            Value::Object(_) => format!("a mapping as {path}, where text belongs"),
            Value::Array(_) => format!("a list as {path}, where text belongs"),
            Value::String(_) | Value::Null => return None,
        };
        let message = format!("document {n} ({kind}) has {what}");
        Some(error(file, place(path).unwrap_or(at), message))
    };
    let Some(kind) = text(d.get("kind")).filter(|_| d.is_object()) else {
        return Err(error(
            file,
            at,
            format!(
                "document {n} is not a Kubernetes object (no kind); exclude the file with spec.exclude"
            ),
        ));
    };
    if let Some(e) = not_text(kind, "apiVersion", d.get("apiVersion")) {
        return Err(e);
    }
    if text(d.get("apiVersion")).is_none() {
        let message = format!("document {n} ({kind}) has no apiVersion; Argo CD cannot apply it");
        return Err(error(file, at, message));
    }
    let meta = d.get("metadata");
    let list = kind.ends_with("List") && d.get("items").is_some_and(Value::is_array);
    // A List's own metadata is not applied (Argo CD unpacks its items).
    let name = meta.and_then(|m| m.get("name"));
    if let Some(e) = not_text(kind, "metadata.name", name).filter(|_| !list) {
        return Err(e);
    }
    let hook = meta.and_then(|m| m.get("annotations")).is_some_and(|a| {
        a.get("argocd.argoproj.io/hook").is_some() || a.get("helm.sh/hook").is_some()
    });
    let generated = hook && text(meta.and_then(|m| m.get("generateName"))).is_some();
    if text(meta.and_then(|m| m.get("name"))).is_none() && !generated && !list {
        let message =
            format!("document {n} ({kind}) has no metadata.name; Argo CD cannot apply it");
        return Err(error(file, at, message));
    }
    Ok(())
}

/// (API group, kind, namespace, name) of an object; `namespace` fills in
/// where the object has none, as Argo CD does at sync.
pub(crate) fn identity(o: &Value, namespace: Option<&str>) -> (String, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let group = s(&o["apiVersion"])
        .rsplit_once('/')
        .map(|(g, _)| g.to_string())
        .unwrap_or_default();
    let ns = o["metadata"]["namespace"]
        .as_str()
        .or(namespace)
        .unwrap_or_default()
        .to_string();
    (group, s(&o["kind"]), ns, s(&o["metadata"]["name"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str, text: &str) -> String {
        let f = SourceFile {
            name: name.into(),
            text: text.into(),
        };
        match documents(&f) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{name} was accepted"),
        }
    }

    #[test]
    fn a_leading_marker_makes_no_empty_document() {
        let f = |text: &str| SourceFile {
            name: "m.yaml".into(),
            text: text.into(),
        };
        let cm = "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: a\n";
        for (text, raw) in [
            (format!("---\n{cm}"), cm.to_string()),
            (format!("---\r\n{cm}"), cm.to_string()),
            (format!("# head\n\n---\n{cm}"), format!("# head\n\n{cm}")),
            (format!("--- # a\n{cm}"), format!("--- # a\n{cm}")),
            (format!("{cm}---\n{cm}"), format!("{cm}---\n{cm}")),
        ] {
            let (docs, placed) = documents(&f(&text)).unwrap();
            assert_eq!(docs, [Document::Raw(raw)], "{text:?}");
            assert_eq!(placed.len(), text.matches("kind").count());
        }
    }

    /// Go's YAML reader (a libyaml port, as Argo CD's) does not check the
    /// indentation of a quoted scalar's continuation lines; serde-saphyr 2.2
    /// no longer does either, so such a file is passed through, not refused.
    #[test]
    fn an_under_indented_quoted_continuation_is_read() {
        let text =
            "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: a\ndata:\n  motd: \"one\n two\"\n";
        let f = SourceFile {
            name: "m.yaml".into(),
            text: text.into(),
        };
        let (_, placed) = documents(&f).unwrap();
        assert_eq!(placed[0].object["data"]["motd"], "one two");
    }

    #[test]
    fn a_value_that_is_not_text_is_named_at_its_place_with_its_fix() {
        let yaml = "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: ok\n---\nkind: ConfigMap\napiVersion: v1\nmetadata:\n  labels: {a: b}\n  name: no\n";
        let e = refused("m.yaml", yaml);
        assert!(
            e.starts_with("m.yaml:10:3: document 2 (ConfigMap) has metadata.name false, which is not text; quote it (YAML 1.1"),
            "{e}"
        );
        let mapping = "kind: Secret\napiVersion: v1\nmetadata:\n  name:\n  token: s3cret\n";
        let mapping = mapping.replace("  token", "    token");
        let e = refused("s.yaml", &mapping);
        assert!(
            e.ends_with("document 1 (Secret) has a mapping as metadata.name, where text belongs"),
            "{e}"
        );
        let json = r#"{"kind": "ConfigMap", "apiVersion": 1, "metadata": {"name": "ok"}}"#;
        let e = refused("m.json", json);
        assert!(
            e.ends_with("document 1 (ConfigMap) has apiVersion 1, which is not text; write it as a JSON string"),
            "{e}"
        );
    }
}
