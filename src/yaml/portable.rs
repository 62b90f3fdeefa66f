//! Text that passes through to Argo CD byte for byte must mean the same to
//! its YAML 1.1 reader (Argo CD splits and reads manifests with go-yaml) as
//! to assay's YAML 1.2 reader. They differ on a few characters: NEL, LS and
//! PS (U+0085, U+2028, U+2029) are line breaks to YAML 1.1 only, and a
//! byte-order mark is only an encoding mark at the very start. Leading marks
//! are dropped (the stream is UTF-8 either way); the rest is refused with
//! its place, or escaped where the text is JSON.

use super::error::{SpecError, SpecErrorKind};
use super::locate::location_at;

/// The characters the two readers disagree on, and how a message names them.
const DISAGREED: &[(char, &str, &str)] = &[
    ('\u{85}', "U+0085 (next line)", "\\u0085"),
    ('\u{2028}', "U+2028 (line separator)", "\\u2028"),
    ('\u{2029}', "U+2029 (paragraph separator)", "\\u2029"),
    ('\u{feff}', "U+FEFF (byte-order mark)", "\\ufeff"),
];

/// `text` without its leading byte-order marks; an error at the first
/// character a YAML 1.1 reader would read differently from assay.
pub fn yaml_text<'a>(file: &str, text: &'a str) -> Result<&'a str, SpecError> {
    let body = without_bom(text);
    let skipped = text.len() - body.len();
    let found = body
        .char_indices()
        .find_map(|(i, c)| Some((i, DISAGREED.iter().find(|d| d.0 == c)?)));
    let Some((i, (c, name, escape))) = found else {
        return Ok(body);
    };
    let message = match c {
        '\u{feff}' => format!("{name} after the start of the file; remove it"),
        _ => format!(
            "{name} is a line break to YAML 1.1 readers such as Argo CD's, but not to YAML 1.2; \
             remove it, or write it as {escape} in a double-quoted string"
        ),
    };
    let at = location_at(text, skipped + i);
    Err(SpecError::new(
        file,
        at,
        "",
        SpecErrorKind::Invalid(message),
    ))
}

/// `text` without its leading byte-order marks: what the YAML and JSON
/// readers read, and what their places count from.
pub fn without_bom(text: &str) -> &str {
    text.trim_start_matches('\u{feff}')
}

/// JSON text (as serde_json writes it) with every character YAML 1.1 reads
/// differently written as an escape. In JSON they can only stand inside
/// strings, where the escape means the same character.
pub fn escape_json(json: String) -> String {
    if !json.contains(|c| DISAGREED.iter().any(|d| d.0 == c)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match DISAGREED.iter().find(|d| d.0 == c) {
            Some(d) => out.push_str(d.2),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Location;

    #[test]
    fn leading_byte_order_marks_are_dropped() {
        assert_eq!(
            yaml_text("m.yaml", "\u{feff}\u{feff}kind: A\n").unwrap(),
            "kind: A\n"
        );
        assert_eq!(yaml_text("m.yaml", "kind: A\n").unwrap(), "kind: A\n");
    }

    #[test]
    fn yaml_1_1_line_breaks_are_refused_with_their_place() {
        let e = yaml_text("m.yaml", "kind: A\ndata:\n  x: a\u{2028}b\n").unwrap_err();
        assert_eq!(e.location, Location { line: 3, column: 7 });
        assert!(e.to_string().contains("U+2028"), "{e}");
        let e = yaml_text("m.yaml", "\u{feff}a: 1\n---\n\u{feff}b: 2\n").unwrap_err();
        assert_eq!(e.location, Location { line: 3, column: 1 });
        assert!(yaml_text("m.yaml", "# \u{85}\n").is_err());
    }

    #[test]
    fn json_strings_get_escapes() {
        let v = serde_json::json!({"a": "x\u{2029}y\u{85}"});
        let out = escape_json(v.to_string());
        assert_eq!(out, r#"{"a":"x\u2029y\u0085"}"#);
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v);
    }
}
