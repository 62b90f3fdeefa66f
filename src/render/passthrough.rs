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
use crate::spec::{Location, SpecError, SpecErrorKind, yaml};

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

/// Limits sized for real manifests (CRDs run to megabytes, files to
/// thousands of documents) that still stop alias bombs.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = 100_000;
    budget.max_nodes = 5_000_000;
    budget.max_events = 20_000_000;
    budget
}

/// The documents of `f` for the output stream, and the objects in it. A
/// plain YAML file is read without the general parser ([`plain`]), else
/// checked on the parser's events ([`super::heads`]); anything else, and
/// every error, comes from [`exact`]. The places of objects checked fast are
/// not known: on a collision, the caller asks [`exact`] again for the place.
pub(crate) fn documents(f: &SourceFile) -> Result<(Vec<Document>, Vec<Placed>), RenderError> {
    if f.name.ends_with(".json") {
        return json(f);
    }
    let objects = match plain(f) {
        Some(objects) => objects,
        None => match super::heads::heads(&f.text, &budget()) {
            Some(heads) => heads,
            None => return exact(f),
        },
    };
    let placed = objects
        .into_iter()
        .map(|object| Placed {
            object,
            file: f.name.clone(),
            at: Location::START,
        })
        .collect();
    Ok(as_written(f, placed))
}

/// The file's text as one document of the stream, unless it holds no object.
fn as_written(f: &SourceFile, placed: Vec<Placed>) -> (Vec<Document>, Vec<Placed>) {
    match placed.is_empty() {
        true => (vec![], vec![]),
        false => (vec![Document::Raw(f.text.clone())], placed),
    }
}

/// The objects of a plain block YAML file ([`crate::spec::plain`]) when each
/// passes the check [`super::heads`] makes: a mapping with a non-empty text
/// `kind`, and text where it has `apiVersion`, `metadata.name` or
/// `metadata.namespace`. `None` leaves the file to the slower readings.
fn plain(f: &SourceFile) -> Option<Vec<Value>> {
    let docs = crate::spec::plain::documents(&f.text)?;
    let text = |v: Option<&Value>| v.is_none_or(|v| v.as_str().is_some());
    let checked = |d: &Value| {
        let kind = d.get("kind").and_then(Value::as_str);
        let meta = d.get("metadata");
        kind.is_some_and(|k| !k.is_empty())
            && text(d.get("apiVersion"))
            && meta.is_none_or(|m| m.is_object() && text(m.get("name")) && text(m.get("namespace")))
    };
    docs.iter().all(checked).then_some(docs)
}

/// [`documents`] with every document read into a value, and the place of each.
pub(crate) fn exact(f: &SourceFile) -> Result<(Vec<Document>, Vec<Placed>), RenderError> {
    if f.name.ends_with(".json") {
        return json(f);
    }
    let options = serde_saphyr::options! { budget: Some(budget()) };
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(&f.text, options).map_err(|e| {
            let at = e.location().map_or(Location::START, Location::from_saphyr);
            let message = yaml::clean_message(&e.to_string());
            error(&f.name, at, format!("not valid YAML: {message}"))
        })?;
    let starts = document_starts(&f.text);
    let mut placed = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        if !d.is_null() {
            let at = starts.get(i).copied().unwrap_or(Location::START);
            check_kind(&f.name, &d, at, i + 1)?;
            placed.push(Placed {
                object: d,
                file: f.name.clone(),
                at,
            });
        }
    }
    Ok(as_written(f, placed))
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

/// Where each `---`-separated document starts, for errors.
fn document_starts(text: &str) -> Vec<Location> {
    let mut starts = vec![Location::START];
    let mut line = 0u32;
    for l in text.lines() {
        line += 1;
        if (l == "---" || l.starts_with("--- ")) && line > 1 {
            starts.push(Location {
                line: line + 1,
                column: 1,
            });
        }
    }
    if text
        .lines()
        .next()
        .is_some_and(|l| l == "---" || l.starts_with("--- "))
    {
        starts[0] = Location { line: 2, column: 1 };
    }
    starts
}
