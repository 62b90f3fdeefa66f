//! Reading YAML, with the guards a file from Git needs before it reaches a
//! parser: a size cap, UTF-8, non-empty, budgets against alias bombs and node
//! storms, and YAML 1.2 booleans for typed reading (so `on`/`no` stay
//! strings, as in Kubernetes). One typed document ([`from_str`]) or a stream
//! of documents as values ([`documents`]); every failure comes back as a
//! [`SpecError`] with a place (and, for typed reading, a field path).

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{Location, SpecError, SpecErrorKind};
use super::locate::{location_at, mapping_start};

/// Larger than any hand-written spec or Deployment by two orders of magnitude;
/// a bigger file is a mistake (or an attack) and is refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a file, refusing more than [`MAX_FILE_BYTES`] without reading it all.
pub fn read_file(path: &Path, display: &str) -> Result<Vec<u8>, SpecError> {
    let io = |e: std::io::Error| {
        SpecError::new(
            display,
            Location::START,
            "",
            SpecErrorKind::Io(e.to_string()),
        )
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        let kind = SpecErrorKind::TooLarge {
            bytes: len,
            limit: MAX_FILE_BYTES,
        };
        return Err(SpecError::new(display, Location::START, "", kind));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

/// Guards `bytes` and returns them as text, or the error for `file`.
pub fn check_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, SpecError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let kind = SpecErrorKind::TooLarge {
            bytes: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        };
        return Err(SpecError::new(file, Location::START, "", kind));
    }
    let text = utf8(file, bytes)?;
    if text.lines().all(is_blank_or_comment) {
        return Err(SpecError::new(
            file,
            Location::START,
            "",
            SpecErrorKind::Empty,
        ));
    }
    Ok(text)
}

/// `bytes` as text, or an error at the first byte that is not UTF-8.
pub fn utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, SpecError> {
    std::str::from_utf8(bytes).map_err(|e| {
        // The prefix up to the error is valid UTF-8 by construction.
        let prefix = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        SpecError::new(
            file,
            location_at(prefix, prefix.len()),
            "",
            SpecErrorKind::NotUtf8,
        )
    })
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
}

/// The parser options for one typed document (the spec, the template).
///
/// In every reading, comments are not emitted as events: assay reads none,
/// and a parser that emits them must hold a run of them while it looks for
/// what follows (its default cap of 32 refused ordinary files, issue 16) and
/// spends about a tenth of its time on them (docs/benchmarks.md). They are
/// still scanned, so a comment where YAML allows none is still an error.
fn options() -> serde_saphyr::Options {
    // A spec has tens of nodes; these caps stop alias bombs and node storms
    // in well under a millisecond instead of after gigabytes of expansion.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 200_000;
    budget.max_nodes = 100_000;
    budget.max_documents = 1;
    serde_saphyr::options! {
        strict_booleans: true,
        emit_comments: false,
        budget: Some(budget),
    }
}

/// Nesting a manifest may have: a CRD's schema nests two YAML levels per
/// property level, and real CRDs go past serde-saphyr's default of 64
/// (issue 16). Still a guard for the parser's and the reader's stacks.
pub const MAX_MANIFEST_DEPTH: usize = 128;

/// The parser options for a stream of manifests: limits sized for real
/// manifests (CRDs run to megabytes, files to thousands of documents) that
/// still stop alias bombs.
fn stream_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_MANIFEST_DEPTH;
    budget.max_documents = 100_000;
    budget.max_nodes = 5_000_000;
    budget.max_events = 20_000_000;
    serde_saphyr::options! {
        emit_comments: false,
        budget: Some(budget),
    }
}

/// A document of a stream, read as a value, and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The document. The parser leaves out empty, comment-only and null
    /// (`~`, `null`) documents.
    pub value: Value,
    /// Where the document starts: its first line after a `---` or `...`.
    pub at: Location,
    /// Its bytes in the stream, from its `---` line (if any) to the next
    /// marker: enough to read it again alone, at its own places
    /// ([`document_alone`]), or to pass it on as written. `None` in a
    /// stream the line scan cannot follow (then `at` is the stream's start).
    pub span: Option<Range<usize>>,
}

/// Every document of the stream `text` (a manifest file), as values. The
/// error names `file` and says "not valid YAML: …" at the parser's place.
pub fn documents(file: &str, text: &str) -> Result<Vec<Placed>, SpecError> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple_with_options(text, stream_options())
        .map_err(|e| {
            let at = e.location().map_or(Location::START, Location::from_saphyr);
            let message = clean_message(&e.to_string());
            SpecError::new(
                file,
                at,
                "",
                SpecErrorKind::Invalid(format!("not valid YAML: {message}")),
            )
        })?;
    // Where the scan and the parser disagree, no document gets a span,
    // rather than another's.
    let spans = document_spans(text).filter(|s| s.len() == docs.len());
    let mut spans = spans.into_iter().flatten();
    Ok(docs
        .into_iter()
        .map(|value| {
            let (at, span) = spans
                .next()
                .map_or((Location::START, None), |(at, span)| (at, Some(span)));
            Placed { value, at, span }
        })
        .collect())
}

/// A `---` line, with or without something after the marker.
fn is_start_marker(line: &str) -> bool {
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

/// A `...` line: the document ends; the next starts with or without `---`.
fn is_end_marker(line: &str) -> bool {
    line == "..." || line.starts_with("... ") || line.starts_with("...\t")
}

/// Where each document of the stream starts (its first line after the
/// marker, for errors) and its bytes (from its `---` to the next marker).
/// Like the parser, it leaves out documents with nothing but markers,
/// comments, directives and blank lines, so the two lists line up. `None`
/// for a stream with a lone CR: a line break to YAML, not to this scan.
fn document_spans(text: &str) -> Option<Vec<(Location, Range<usize>)>> {
    if text
        .split('\r')
        .skip(1)
        .any(|after| !after.starts_with('\n'))
    {
        return None;
    }
    let mut spans = Vec::new();
    let (mut start, mut at) = (0, Location::START);
    let mut offset = 0;
    let mut close = |start: usize, end: usize, at: Location| {
        if !is_empty_document(&text[start..end]) {
            spans.push((at, start..end));
        }
    };
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let line = l.trim_end_matches(['\n', '\r']);
        let next = Location {
            line: i as u32 + 2,
            column: 1,
        };
        if is_start_marker(line) {
            close(start, offset, at);
            (start, at) = (offset, next);
        } else if is_end_marker(line) {
            close(start, offset + l.len(), at);
            (start, at) = (offset + l.len(), next);
        }
        offset += l.len();
    }
    close(start, text.len(), at);
    Some(spans)
}

/// Nothing but markers, comments, directives, blank lines and at most a
/// null (`~`, `null`), which the parser also leaves out.
fn is_empty_document(text: &str) -> bool {
    let mut content = text
        .lines()
        .filter(|l| !(l.starts_with('%') || is_end_marker(l)))
        .map(|l| if is_start_marker(l) { &l[3..] } else { l })
        .filter(|body| !is_blank_or_comment(body));
    let null = |body: &str| matches!(body.trim(), "~" | "null" | "Null" | "NULL");
    match (content.next(), content.next()) {
        (None, _) => true,
        (Some(l), None) => null(l),
        _ => false,
    }
}

/// Document `span` of `text` alone, at its own lines and columns: what
/// comes before it is blanked to as many line breaks (and spaces on its
/// first line), what follows is cut. A reader's places in the result are
/// the stream's, so an error in one document of a rendered stream points
/// into that stream.
pub fn document_alone(text: &str, span: Range<usize>) -> String {
    let at = location_at(text, span.start);
    let mut alone = String::with_capacity(at.line as usize + at.column as usize + span.len());
    alone.extend(std::iter::repeat_n('\n', at.line as usize - 1));
    alone.extend(std::iter::repeat_n(' ', at.column as usize - 1));
    alone.push_str(&text[span]);
    alone
}

/// Parses exactly one YAML document of `file` into `T`.
///
/// The field path of an error (`spec.traffic.weight`) costs a wrapper
/// around every value read, a second copy of the deserializer for every
/// type (3.3 MB of code for the spec and the Deployment), and only matters
/// when there is an error. So a document is read plainly, and only a
/// document that fails is read again, by the same parser with the same
/// options, tracking the path for the message.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, SpecError> {
    match serde_saphyr::from_str_with_options(text, options()) {
        Ok(value) => Ok(value),
        Err(_) => from_str_with_path(file, text),
    }
}

/// [`from_str`] tracking the field path, for the error.
fn from_str_with_path<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, SpecError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let path = clean_path(&path);
        let message = clean_message(&e.to_string());
        let parser_location = e.location().map(Location::from_saphyr);
        // The parser reports a missing field where the mapping ended; the
        // reader needs the mapping that lacks it.
        let location = if message.starts_with("missing field") {
            mapping_start(text, &path).or(parser_location)
        } else {
            parser_location
        };
        SpecError::new(
            file,
            location.unwrap_or(Location::START),
            path,
            SpecErrorKind::Syntax(message),
        )
    })
}

/// serde_path_to_error names `Spanned` wrappers `.value` and unknown keys `?`;
/// neither means anything to the person reading the error.
fn clean_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split('.')
        .filter(|seg| *seg != "value" && *seg != "?")
        .collect::<Vec<_>>()
        .join(".")
}

/// The first line of the parser's message, without its own position prefix
/// (we print ours), and with the library's jargon translated.
fn clean_message(full: &str) -> String {
    let first = full.lines().next().unwrap_or(full).trim();
    let mut msg = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some(i) = rest.find(": ")
    {
        msg = &rest[i + 2..];
    }
    if let Some(i) = msg.find(" at line ") {
        msg = &msg[..i];
    }
    if let Some(key) = msg.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!("duplicate key `{key}`");
    }
    if let Some(what) = msg.strip_prefix("budget breached: ") {
        return budget_message(what);
    }
    let translated = match msg {
        "invalid u32" | "invalid u16" | "invalid u64" | "invalid i64" | "invalid u8" => {
            "expected a whole number"
        }
        "invalid floating point" => "expected a number",
        "expected string scalar" => "expected a string",
        "expected mapping start" => "expected a mapping",
        "expected sequence start" => "expected a list",
        "unexpected end of input" => "unexpected end of input, expected a mapping",
        other => other,
    };
    translated.to_string()
}

/// serde-saphyr names a breached limit by its Rust debug form.
fn budget_message(what: &str) -> String {
    let name = what.split([' ', '{']).next().unwrap_or(what);
    match name {
        "Documents" => "expected one YAML document, found another (remove the extra ---)".into(),
        n if n.contains("Alias") || n.contains("Anchor") || n == "Nodes" || n == "Events" => {
            "too large once aliases are expanded: refusing a possible alias bomb".into()
        }
        "Depth" => "nested too deeply".into(),
        _ => format!("exceeds a parser limit ({name})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Doc {
        #[allow(dead_code)]
        top: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        #[allow(dead_code)]
        weight: Option<serde_saphyr::Spanned<u32>>,
    }

    #[test]
    fn type_error_names_place_and_path() {
        let e = from_str::<Doc>("a.yaml", "top:\n  weight: abc\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.yaml:2:11: top.weight: expected a whole number"
        );
    }

    #[test]
    fn a_document_alone_keeps_the_streams_places() {
        let stream = "---\na: 1\r\n--- \n# second\ntop:\n  weight: abc\n";
        let docs = documents("m.yaml", stream).unwrap();
        let spans: Vec<_> = docs.iter().map(|d| (d.at, d.span.clone())).collect();
        assert_eq!(
            spans,
            [
                (Location { line: 2, column: 1 }, Some(0..10)),
                (Location { line: 4, column: 1 }, Some(10..43)),
            ]
        );
        let alone = document_alone(stream, docs[1].span.clone().unwrap());
        assert_eq!(alone, "\n\n--- \n# second\ntop:\n  weight: abc\n");
        let e = from_str::<Doc>("m.yaml", &alone).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.yaml:6:11: top.weight: expected a whole number"
        );
        // A document that starts inside a line (a JSON stream) is shifted
        // by spaces.
        assert_eq!(document_alone("{}\n  {\"a\": 1}", 5..13), "\n  {\"a\": 1}");
    }

    /// The parser leaves out empty documents; the spans must too, or a
    /// document would get its neighbour's text.
    #[test]
    fn spans_skip_empty_documents_as_the_parser_does() {
        let cases: [(&str, &[&str]); 8] = [
            ("---\na: 1\n---\n", &["---\na: 1\n"]),
            ("---\n---\na: 1\n", &["---\na: 1\n"]),
            ("a: 1\n---\n---\nb: 2\n", &["a: 1\n", "---\nb: 2\n"]),
            ("a: 1\n---\n# c\n---\nb: 2\n", &["a: 1\n", "---\nb: 2\n"]),
            ("a: 1\n...\nb: 2\n", &["a: 1\n...\n", "b: 2\n"]),
            ("a: 1\n...\n---\nb: 2\n", &["a: 1\n...\n", "---\nb: 2\n"]),
            ("%YAML 1.2\n---\na: 1\n--- \n\n", &["---\na: 1\n"]),
            (
                "a: 1\n--- ~\n---\nnull\n---\nb: 2\n",
                &["a: 1\n", "---\nb: 2\n"],
            ),
        ];
        for (stream, want) in cases {
            let docs = documents("m.yaml", stream).unwrap();
            let texts: Vec<&str> = docs
                .iter()
                .map(|d| &stream[d.span.clone().expect(stream)])
                .collect();
            assert_eq!(texts, want, "{stream:?}");
        }
        let docs = documents("m.yaml", "a: 1\n...\nb: 2\n").unwrap();
        assert_eq!(docs[1].at, Location { line: 3, column: 1 });
        // A lone CR breaks lines for YAML only: no spans at all.
        let docs = documents("m.yaml", "a: 1\r---\rb: 2\n").unwrap();
        assert!(docs.iter().all(|d| d.span.is_none()), "{docs:?}");
    }

    #[test]
    fn unknown_field_is_named() {
        let e = from_str::<Doc>("a.yaml", "top:\n  wieght: 1\n").unwrap_err();
        assert_eq!(e.location, Location { line: 2, column: 3 });
        assert!(e.to_string().contains("unknown field `wieght`"), "{e}");
    }

    /// Issue 16: a long comment block between a key and its value, or
    /// between entries, is valid YAML and is read, in a typed document and
    /// in a stream alike, however long: comments are not held.
    #[test]
    fn long_comment_blocks_are_read() {
        let comments = "  # a comment line\n".repeat(200_000);
        let text = format!("top:\n{comments}  weight: 3\n{comments}");
        from_str::<Doc>("a.yaml", &text).unwrap();
        let stream = format!("kind: A\nmetadata:\n{comments}  name: a\n---\n{comments}kind: B\n");
        assert_eq!(documents("m.yaml", &stream).unwrap().len(), 2);
    }

    /// Comments are not read, but still scanned: one where YAML allows
    /// none is an error.
    #[test]
    fn a_comment_without_a_space_before_it_is_still_an_error() {
        let e = from_str::<Doc>("a.yaml", "top:\n  weight: \"3\"#no\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.yaml:2:14: top: comments must be separated from other tokens by whitespace"
        );
    }

    #[test]
    fn non_utf8_points_at_the_bad_byte() {
        let e = check_text("a.yaml", b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(e.to_string(), "a.yaml:2:4: file is not valid UTF-8");
    }

    #[test]
    fn comment_only_file_is_empty() {
        let e = check_text("a.yaml", b"# nothing\n---\n").unwrap_err();
        assert_eq!(e.kind, SpecErrorKind::Empty);
    }
}
