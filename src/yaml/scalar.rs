//! The one table of scalars that some YAML reader would not read back as
//! the text written: words YAML 1.1 or 1.2 resolve to booleans or null
//! (`on`, `no`, `y`, `~`), anything that starts like a number, timestamp or
//! sexagesimal (`0755`, `2026-05-01`, `12:30`), indicators, and the line
//! breaks only YAML 1.1 knows (NEL, LS, PS). The comment-preserving editor
//! (`gitops::edit`) writes scalars by it, and the stream writer
//! ([`super::to_string`]) is held to it by a test: whatever this table calls
//! ambiguous, the writer quotes.

/// Words that YAML 1.1 or 1.2 read as booleans or null, whatever their case.
pub const AMBIGUOUS_WORDS: &[&str] = &[
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~",
];

/// Characters only a double-quoted scalar can hold: control characters and
/// the line breaks YAML 1.1 knows beyond `\n` (NEL, LS, PS), and a BOM.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether `s` can be written without quotes and read back as this string by
/// YAML 1.1 and 1.2 readers, in block and in flow context. Deliberately
/// conservative: anything starting like a number, a timestamp, a sexagesimal
/// (`12:30`) or an indicator is quoted.
pub fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s
        || s.chars().any(needs_escape)
        || AMBIGUOUS_WORDS.contains(&s.to_ascii_lowercase().as_str())
    {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`.+=<~".contains(first) || first.is_ascii_digit() {
        return false;
    }
    !(s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains(['\t', ',', '[', ']', '{', '}']))
}

/// Scalars some YAML reader would misread if written plain: the table's
/// words in other cases, numbers, times, indicators (the tests of both
/// writers go through them).
#[cfg(test)]
pub(crate) const MISREAD: &[&str] = &[
    "on",
    "No",
    "y",
    "N",
    "TRUE",
    "off",
    "null",
    "~",
    "",
    " lead",
    "trail ",
    "0755",
    "1e3",
    "12:30",
    "1_000",
    "0x1f",
    "0X1F",
    "0O17",
    "0B101",
    "+.nan",
    "-.NaN",
    ".inf",
    "+1",
    "1.2.3",
    "2026-05-01",
    "a: b",
    "a #b",
    "-",
    "- x",
    "? x",
    "*a",
    "&b",
    "!t",
    "%p",
    "@a",
    "`b",
    "|",
    ">",
    "#",
    "<<",
    "=",
    "[x]",
    "{y}",
    "a,b",
    "end:",
    "'q'",
    "\"dq\"",
];

/// Scalars every YAML reader reads back as written, plain.
#[cfg(test)]
pub(crate) const PLAIN: &[&str] = &[
    "v1",
    "web:1",
    "iter8/productpage:demo",
    "a#b",
    "é",
    "🎉 party",
    "x-y",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything the table calls ambiguous is quoted by the stream writer
    /// too, in any case, so the two cannot drift apart.
    #[test]
    fn the_writer_quotes_what_the_table_calls_ambiguous() {
        let mut samples: Vec<String> = Vec::new();
        for w in AMBIGUOUS_WORDS {
            samples.push(w.to_string());
            samples.push(w.to_ascii_uppercase());
            let mut c = w.chars();
            if let Some(f) = c.next() {
                samples.push(f.to_ascii_uppercase().to_string() + c.as_str());
            }
        }
        // Numbers, times and dates, as the writer's resolver sees them.
        let numeric = |s: &&&str| s.starts_with(|c: char| c.is_ascii_digit() || "+.".contains(c));
        samples.extend(MISREAD.iter().filter(numeric).map(|s| s.to_string()));
        samples.extend(["a: b", ""].map(String::from));
        for s in samples {
            assert!(!plain_ok(&s), "{s:?} is in the table");
            let doc = serde_json::json!({ "v": s });
            let out = super::super::to_string(&doc);
            let written = out.trim_end().strip_prefix("v: ").unwrap_or_default();
            assert!(
                written.starts_with(['"', '\'']),
                "the writer leaves {s:?} plain: {out:?}"
            );
        }
    }

    #[test]
    fn plain_words_stay_plain() {
        for s in PLAIN {
            assert!(plain_ok(s), "{s:?}");
        }
        for s in MISREAD {
            assert!(!plain_ok(s), "{s:?}");
        }
        for s in ["nel\u{85}", "ls\u{2028}", "a\tb", " lead"] {
            assert!(!plain_ok(s), "{s:?}");
        }
    }
}
