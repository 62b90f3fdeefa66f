//! The app directory's other manifests, passed through as Argo CD's directory
//! source would apply them. YAML is emitted byte for byte (Argo CD's own YAML
//! 1.1 reader then interprets it exactly as it would have without assay);
//! JSON is re-emitted one object per document, because a JSON stream is not
//! YAML. Each document is checked for a `kind` here, so a broken file fails
//! generation with its name and line instead of failing the sync later, and
//! each object's identity is kept so collisions with generated objects can be
//! refused.

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
    if f.name.ends_with(".json") {
        return json(f);
    }
    let mut placed = Vec::new();
    for (i, d) in yaml::documents(&f.name, &f.text)?.into_iter().enumerate() {
        if !d.value.is_null() {
            check_kind(&f.name, &d.value, d.at, i + 1)?;
            placed.push(Placed {
                object: d.value,
                file: f.name.clone(),
                at: d.at,
            });
        }
    }
    // The file's text as one document of the stream, unless it holds no object.
    match placed.is_empty() {
        true => Ok((vec![], vec![])),
        false => Ok((vec![Document::Raw(f.text.clone())], placed)),
    }
}

fn json(f: &SourceFile) -> Result<(Vec<Document>, Vec<Placed>), RenderError> {
    let (mut out, mut placed) = (Vec::new(), Vec::new());
    let stream = serde_json::Deserializer::from_str(&f.text).into_iter::<Value>();
    for (i, d) in stream.enumerate() {
        let d = d.map_err(|e| {
            let at = Location {
                line: e.line() as u32,
                column: e.column().max(1) as u32,
            };
            error(&f.name, at, format!("not valid JSON: {e}"))
        })?;
        check_kind(&f.name, &d, Location::START, i + 1)?;
        // A JSON object's text is also valid YAML; one object per document.
        out.push(Document::Raw(d.to_string()));
        placed.push(Placed {
            object: d,
            file: f.name.clone(),
            at: Location::START,
        });
    }
    Ok((out, placed))
}

fn check_kind(file: &str, d: &Value, at: Location, n: usize) -> Result<(), RenderError> {
    let kind = d
        .as_object()
        .and_then(|o| o.get("kind"))
        .and_then(Value::as_str);
    match kind {
        Some(k) if !k.is_empty() => Ok(()),
        _ => Err(error(
            file,
            at,
            format!(
                "document {n} is not a Kubernetes object (no kind); exclude the file with spec.exclude"
            ),
        )),
    }
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
