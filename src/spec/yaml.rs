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
    let at_start = |kind| SpecError::new(file, Location::START, "", kind);
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(at_start(SpecErrorKind::TooLarge {
            bytes: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        }));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            let loc = location_at(prefix, prefix.len());
            return Err(SpecError::new(file, loc, "", SpecErrorKind::NotUtf8));
        }
    };
    if text.trim().is_empty() || text.lines().all(is_blank_or_comment) {
        return Err(at_start(SpecErrorKind::Empty));
    }
    Ok(text)
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
        budget: Some(budget),
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
        let location = e
            .location()
            .map(Location::from_saphyr)
            .unwrap_or(Location::START);
        SpecError::new(
            file,
            location,
            clean_path(&path),
            SpecErrorKind::Syntax(clean_message(&e.to_string())),
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
/// (we print ours), and with the type jargon of a few messages translated.
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
