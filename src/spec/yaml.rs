//! Reading one YAML document into a typed value, with the guards a file from
//! Git needs before it reaches a parser: a size cap, UTF-8, non-empty, an alias
//! budget, and YAML 1.2 booleans (so `on`/`no` stay strings, as in Kubernetes).
//! Every failure comes back as a [`SpecError`] with a place and a field path.

use serde::de::DeserializeOwned;

use super::error::{Location, SpecError, SpecErrorKind};

/// Larger than any hand-written spec or Deployment by two orders of magnitude;
/// a bigger file is a mistake (or an attack) and is refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

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

/// The 1-based line and column of byte offset `at` in `text`.
pub fn location_at(text: &str, at: usize) -> Location {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[col_start..].chars().count() as u32 + 1;
    Location { line, column }
}

/// The parser options every assay input uses.
pub(crate) fn options() -> serde_saphyr::Options {
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
        budget: Some(budget),
    }
}

/// [`from_str`] for a document that is usually valid (the spec on every
/// `generate`). Only an error needs the field path, so it first reads
/// without tracking it (less work, and none of the tracking wrappers' code
/// is touched), and reads again with it only to report an error. Both
/// readings see the same events and build the same value. (Not for types as
/// large as a Deployment: the second set of deserializers would add
/// megabytes of code.)
pub fn from_str_quick<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, SpecError> {
    let untracked = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        T::deserialize(de)
    });
    match untracked {
        Ok(value) => Ok(value),
        Err(_) => from_str(file, text),
    }
}

/// Parses exactly one YAML document of `file` into `T`.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, SpecError> {
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

/// One significant line: its number, indentation and text after it.
struct Line<'a> {
    number: u32,
    indent: usize,
    text: &'a str,
}

/// Where the block mapping at `path` (`spec.experiment.objectives[1]`)
/// starts, found by indentation. `None` for flow style or anything this
/// simple reader does not follow; the caller then keeps the parser's place.
pub fn mapping_start(text: &str, path: &str) -> Option<Location> {
    let mut lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim_start_matches(' ');
            let significant = !t.is_empty() && !t.starts_with('#') && t != "---";
            significant.then(|| Line {
                number: i as u32 + 1,
                indent: l.len() - t.len(),
                text: t,
            })
        })
        .collect();
    let (mut lo, mut hi) = (0, lines.len());
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let indent = lines.get(lo)?.indent;
        let at = (lo..hi).find(|&j| {
            let l = &lines[j];
            l.indent == indent
                && [
                    format!("{key}:"),
                    format!("\"{key}\":"),
                    format!("'{key}':"),
                ]
                .iter()
                .any(|k| l.text.starts_with(k.as_str()))
        })?;
        let value = lines[at].text.split_once(':').map_or("", |(_, v)| v.trim());
        if !value.is_empty() && !value.starts_with('#') {
            return None;
        }
        lo = at + 1;
        // A block sequence may sit at its key's own indentation.
        let item = |l: &Line| l.text == "-" || l.text.starts_with("- ");
        let sequence = lines.get(lo).is_some_and(|l| l.indent == indent && item(l));
        hi = (lo..hi)
            .find(|&j| {
                lines[j].indent < indent
                    || (lines[j].indent == indent && !(sequence && item(&lines[j])))
            })
            .unwrap_or(hi);
        if let Some(i) = index {
            let item_indent = lines.get(lo)?.indent;
            let items: Vec<usize> = (lo..hi)
                .filter(|&j| lines[j].indent == item_indent && item(&lines[j]))
                .collect();
            let start = *items.get(i)?;
            let end = items.get(i + 1).copied().unwrap_or(hi);
            let item = &mut lines[start];
            let body = item.text.trim_start_matches('-').trim_start_matches(' ');
            item.indent += item.text.len() - body.len();
            item.text = body;
            (lo, hi) = if body.is_empty() {
                (start + 1, end)
            } else {
                (start, end)
            };
        }
    }
    let first = lines.get(lo).filter(|_| lo < hi)?;
    Some(Location {
        line: first.number,
        column: first.indent as u32 + 1,
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
pub(crate) fn clean_message(full: &str) -> String {
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

/// Where the field at `path` (`spec.template.spec.containers[0].image`) is
/// written: its key in the block mapping that holds it.
pub fn field_location(text: &str, path: &str) -> Option<Location> {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (p, k),
        None => ("", path),
    };
    let key = key.split('[').next().unwrap_or(key);
    let at = mapping_start(text, parent)?;
    let column = at.column as usize - 1;
    for (i, line) in text.lines().enumerate().skip(at.line as usize - 1) {
        let body: String = line.chars().skip(column).collect();
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if i + 1 > at.line as usize && indent < column && !line.trim().is_empty() {
            break;
        }
        if body.starts_with(&format!("{key}:")) {
            return Some(Location {
                line: i as u32 + 1,
                column: at.column,
            });
        }
    }
    None
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
    fn unknown_field_is_named() {
        let e = from_str::<Doc>("a.yaml", "top:\n  wieght: 1\n").unwrap_err();
        assert_eq!(e.location, Location { line: 2, column: 3 });
        assert!(e.to_string().contains("unknown field `wieght`"), "{e}");
    }

    #[test]
    fn finds_the_mapping_that_lacks_a_field() {
        let text = "# c\napiVersion: x\nspec:\n  traffic:\n    router: istio\n  objectives:\n  - metric: a\n  -\n    metric: b\n";
        assert_eq!(
            mapping_start(text, ""),
            Some(Location { line: 2, column: 1 })
        );
        assert_eq!(
            mapping_start(text, "spec"),
            Some(Location { line: 4, column: 3 })
        );
        assert_eq!(
            mapping_start(text, "spec.traffic"),
            Some(Location { line: 5, column: 5 })
        );
        assert_eq!(
            mapping_start(text, "spec.objectives[0]"),
            Some(Location { line: 7, column: 5 })
        );
        assert_eq!(
            mapping_start(text, "spec.objectives[1]"),
            Some(Location { line: 9, column: 5 })
        );
        assert_eq!(mapping_start("a: {b: 1}\n", "a"), None);
    }

    #[test]
    fn finds_a_field_by_path() {
        let text = "metadata:\n  name: web\nspec:\n  containers:\n    - name: a\n      image: x\n";
        assert_eq!(
            field_location(text, "spec.containers[0].image"),
            Some(Location { line: 6, column: 7 })
        );
        assert_eq!(
            field_location(text, "spec.containers[0].name"),
            Some(Location { line: 5, column: 7 })
        );
        assert_eq!(
            field_location(text, "metadata.name"),
            Some(Location { line: 2, column: 3 })
        );
    }

    #[test]
    fn location_counts_characters() {
        assert_eq!(location_at("ab\ncé", 6), Location { line: 2, column: 3 });
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
