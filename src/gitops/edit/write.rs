//! Writing values as YAML text for the edited parts of `assay.yaml`. Scalars
//! stay plain only when every YAML reader reads them back as the same string:
//! YAML 1.2 (assay, Kubernetes' sigs.k8s.io/yaml is 1.1-ish) and YAML 1.1
//! (`on`, `no`, `y`, `0755`, `12:30`, `1_000`, timestamps) alike, because the
//! same file is read by people's editors, linters and scripts. Which scalars
//! those are is [`crate::yaml::scalar`]'s table, shared with the stream writer. Collections
//! follow the file's own indentation ([`Style`]), in block style unless the
//! value they replace was written in flow style.

use serde_json::{Map, Value};

use crate::yaml::scalar::{needs_escape, plain_ok};

/// How a scalar was quoted in the file; a replacement keeps it where it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quote {
    Plain,
    Single,
    Double,
}

impl Quote {
    /// The style of the scalar written as `text`.
    pub(super) fn of(text: &str) -> Quote {
        match text.as_bytes().first() {
            Some(b'"') => Quote::Double,
            Some(b'\'') => Quote::Single,
            _ => Quote::Plain,
        }
    }
}

/// The file's indentation habits, detected once per edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Style {
    /// Columns a nested mapping is indented by (the file's `spec:` children).
    pub step: usize,
    /// Columns a block sequence's `-` is indented from its key (0 or `step`).
    pub seq_offset: usize,
    /// Spaces between `-` and an item's content (`- a` is 1, `-   a` is 3).
    pub dash_gap: usize,
}

/// `s` as a scalar, in `prefer`'s style when that style can hold it.
pub(super) fn scalar(s: &str, prefer: Quote) -> String {
    if s.chars().any(needs_escape) {
        return double(s);
    }
    match prefer {
        Quote::Double => double(s),
        Quote::Single => single(s),
        Quote::Plain if plain_ok(s) => s.to_string(),
        Quote::Plain => single(s),
    }
}

fn single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn double(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping key: the same rules as a value (`on:` would be a boolean key).
pub(super) fn key(k: &str) -> String {
    scalar(k, Quote::Plain)
}

/// `v` on one line: a scalar, or a flow collection (`{a: b}`, `[a, b]`).
pub(super) fn inline(v: &Value, prefer: Quote) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s, prefer),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| inline(i, Quote::Plain)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", key(k), inline(v, Quote::Plain)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// Whether `v` needs lines of its own (a non-empty collection); an empty one
/// can only be written inline (`{}`, `[]`).
pub(super) fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// The lines of `v` as the block value of a key indented by `indent`, each
/// ending in `\n`. Scalars and empty collections give no lines.
pub(super) fn block_under(v: &Value, indent: usize, style: Style) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) => map_lines(m, indent + style.step, style, &mut out),
        Value::Array(a) => seq_lines(a, indent + style.seq_offset, style, &mut out),
        _ => {}
    }
    out
}

/// `key: value` at `indent`, as whole lines.
pub(super) fn entry(k: &str, v: &Value, indent: usize, style: Style) -> String {
    let pad = " ".repeat(indent);
    if is_block(v) {
        format!("{pad}{}:\n{}", key(k), block_under(v, indent, style))
    } else {
        format!("{pad}{}: {}\n", key(k), inline(v, Quote::Plain))
    }
}

fn map_lines(m: &Map<String, Value>, indent: usize, style: Style, out: &mut String) {
    for (k, v) in m {
        out.push_str(&entry(k, v, indent, style));
    }
}

/// Items of a block sequence whose `-` sits at `dash`.
pub(super) fn seq_lines(items: &[Value], dash: usize, style: Style, out: &mut String) {
    let content = dash + 1 + style.dash_gap;
    for item in items {
        if is_block(item) {
            // Render the item's lines at the content column, then put the
            // dash into the first line's indentation.
            let mut lines = String::new();
            match item {
                Value::Object(m) => map_lines(m, content, style, &mut lines),
                Value::Array(a) => seq_lines(a, content, style, &mut lines),
                _ => {}
            }
            out.push_str(&" ".repeat(dash));
            out.push('-');
            out.push_str(&" ".repeat(style.dash_gap));
            out.push_str(&lines[content..]);
        } else {
            out.push_str(&format!(
                "{}-{}{}\n",
                " ".repeat(dash),
                " ".repeat(style.dash_gap),
                inline(item, Quote::Plain)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_yaml_1_1_or_1_2_would_misread() {
        for s in crate::yaml::scalar::MISREAD {
            let out = scalar(s, Quote::Plain);
            assert!(
                out.starts_with('\'') || out.starts_with('"'),
                "{s:?} -> {out}"
            );
        }
        for s in crate::yaml::scalar::PLAIN {
            assert_eq!(scalar(s, Quote::Plain), *s);
        }
    }

    #[test]
    fn escapes_what_only_double_quotes_can_hold() {
        assert_eq!(scalar("a\nb", Quote::Plain), "\"a\\nb\"");
        assert_eq!(scalar("tab\there", Quote::Single), "\"tab\\there\"");
        assert_eq!(scalar("nel\u{85}", Quote::Plain), "\"nel\\u0085\"");
        assert_eq!(scalar("it's", Quote::Single), "'it''s'");
        assert_eq!(scalar("say \"hi\"", Quote::Double), "\"say \\\"hi\\\"\"");
        assert_eq!(scalar("web:2", Quote::Double), "\"web:2\"");
    }

    #[test]
    fn renders_blocks_in_the_file_style() {
        let style = Style {
            step: 3,
            seq_offset: 0,
            dash_gap: 1,
        };
        let v = json!({"version": "v2", "image": "web:2", "env": {"on": "yes", "E": ""}});
        assert_eq!(
            entry("candidate", &v, 3, style),
            "   candidate:\n      version: v2\n      image: web:2\n      env:\n         'on': 'yes'\n         E: ''\n"
        );
        let list = json!([{"version": "v3", "image": "x", "env": {"A": "b"}}, "plain"]);
        assert_eq!(
            entry("queue", &list, 2, style),
            "  queue:\n  - version: v3\n    image: x\n    env:\n       A: b\n  - plain\n"
        );
        assert_eq!(
            inline(&v, Quote::Plain),
            "{version: v2, image: web:2, env: {'on': 'yes', E: ''}}"
        );
        assert_eq!(entry("env", &json!({}), 4, style), "    env: {}\n");
    }
}
