//! The app directory's other manifests, passed through as Argo CD's directory
//! source would apply them. YAML is emitted byte for byte (Argo CD's own YAML
//! 1.1 reader then interprets it exactly as it would have without assay);
//! JSON is re-emitted one object per document, because a JSON stream is not
//! YAML. Each document is checked for a `kind` here, so a broken file fails
//! generation with its name and line instead of failing the sync later.

use serde_json::Value;

use super::{Document, RenderError, SourceFile};
use crate::spec::{Location, SpecError, SpecErrorKind, yaml};

fn error(f: &SourceFile, at: Location, message: String) -> RenderError {
    RenderError::Spec(SpecError::new(
        &f.name,
        at,
        "",
        SpecErrorKind::Invalid(message),
    ))
}

pub(crate) fn documents(f: &SourceFile) -> Result<Vec<Document>, RenderError> {
    if f.name.ends_with(".json") {
        return json(f);
    }
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&f.text).map_err(|e| {
        let at = e.location().map_or(Location::START, Location::from_saphyr);
        let message = yaml::clean_message(&e.to_string());
        error(f, at, format!("not valid YAML: {message}"))
    })?;
    let starts = document_starts(&f.text);
    for (i, d) in docs.iter().enumerate() {
        if !d.is_null() {
            let at = starts.get(i).copied().unwrap_or(Location::START);
            check_kind(f, d, at, i + 1)?;
        }
    }
    if docs.iter().all(Value::is_null) {
        return Ok(vec![]);
    }
    Ok(vec![Document::Raw(f.text.clone())])
}

fn json(f: &SourceFile) -> Result<Vec<Document>, RenderError> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(&f.text).into_iter::<Value>();
    for (i, d) in stream.enumerate() {
        let d = d.map_err(|e| {
            let at = Location {
                line: e.line() as u32,
                column: e.column().max(1) as u32,
            };
            error(f, at, format!("not valid JSON: {e}"))
        })?;
        check_kind(f, &d, Location::START, i + 1)?;
        // A JSON object's text is also valid YAML; one object per document.
        out.push(Document::Raw(d.to_string()));
    }
    Ok(out)
}

fn check_kind(f: &SourceFile, d: &Value, at: Location, n: usize) -> Result<(), RenderError> {
    let kind = d
        .as_object()
        .and_then(|o| o.get("kind"))
        .and_then(Value::as_str);
    match kind {
        Some(k) if !k.is_empty() => Ok(()),
        _ => Err(error(
            f,
            at,
            format!(
                "document {n} is not a Kubernetes object (no kind); exclude the file with spec.exclude"
            ),
        )),
    }
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
