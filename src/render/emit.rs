//! YAML text of a generated object, the common shapes without the general
//! serializer: block mappings and sequences of plain keys and scalars.
//!
//! It writes exactly what `serde_saphyr::to_string` writes for the same value
//! and gives up (`None`) on anything it is not certain about: floats, nulls,
//! nested sequences, keys or strings outside a conservative plain set, long
//! strings (which the serializer may fold), anything needing escapes. The
//! caller then uses `serde_saphyr::to_string`. A test compares the two on
//! every shape this handles.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Longer strings are left to the serializer (it folds long lines).
const MAX_SCALAR: usize = 64;

/// The YAML text of `v`, a mapping, or `None` to use the serializer.
pub(crate) fn to_yaml(v: &Value) -> Option<String> {
    let mut out = String::with_capacity(1024);
    map(v.as_object()?, 0, false, &mut out)?;
    Some(out)
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A block mapping whose keys sit at column `at`; the first key follows a
/// `- ` already written when `inline`.
fn map(m: &Map<String, Value>, at: usize, inline: bool, out: &mut String) -> Option<()> {
    for (i, (k, v)) in m.iter().enumerate() {
        if !(inline && i == 0) {
            indent(out, at);
        }
        if !plain(k, false) {
            return None;
        }
        out.push_str(k);
        out.push(':');
        match v {
            Value::Object(o) if !o.is_empty() => {
                out.push('\n');
                map(o, at + 2, false, out)?;
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                seq(a, at, out)?;
            }
            _ => {
                out.push(' ');
                scalar(v, out)?;
            }
        }
    }
    Some(())
}

/// A block sequence whose `- ` sit at column `at`.
fn seq(a: &[Value], at: usize, out: &mut String) -> Option<()> {
    for v in a {
        indent(out, at);
        out.push_str("- ");
        match v {
            Value::Object(o) if !o.is_empty() => map(o, at + 2, true, out)?,
            Value::Array(a) if !a.is_empty() => return None,
            _ => scalar(v, out)?,
        }
    }
    Some(())
}

/// A scalar (or empty collection) and its line end.
fn scalar(v: &Value, out: &mut String) -> Option<()> {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => write!(out, "{n}").ok()?,
        Value::Number(n) => float(n.as_f64()?, out)?,
        Value::String(s) if plain(s, true) => out.push_str(s),
        Value::String(s) if quoted(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Object(o) if o.is_empty() => out.push_str("{}"),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        _ => return None,
    }
    out.push('\n');
    Some(())
}

/// A float in the range where the serializer's shortest digits are written
/// without an exponent (as Rust's `Display` writes them), with `.0` added
/// to an integral value so it stays a float: `0.95`, `300.0`, `0.001`.
/// Values that need more than 15 significant digits are left to the
/// serializer: there two shortest forms can tie, and its float formatter
/// (zmij) may round the tie the other way (`0.5000076293945312`).
fn float(f: f64, out: &mut String) -> Option<()> {
    if !(f == 0.0 || (1e-3..1e9).contains(&f.abs())) {
        return None;
    }
    let text = f.to_string();
    let significant = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count();
    if significant > 15 {
        return None;
    }
    out.push_str(&text);
    if !text.contains('.') {
        out.push_str(".0");
    }
    Some(())
}

/// Words some YAML reader resolves to a boolean, null or special float.
fn is_word(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity",
    ];
    WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// Certainly written plain, as a value (`:` allowed inside) or a key: short,
/// of letters, digits and `-._/=@+` (and `:` not at the end, for values),
/// starting with a letter, `/`, `-` and a letter, or a digit in a string that
/// cannot be read as a number, date or time.
fn plain(s: &str, value: bool) -> bool {
    let b = s.as_bytes();
    let allowed =
        |c: u8| c.is_ascii_alphanumeric() || b"-._/=@+".contains(&c) || (value && c == b':');
    if b.is_empty() || b.len() > MAX_SCALAR || !b.iter().all(|&c| allowed(c)) || s.ends_with(':') {
        return false;
    }
    match b[0] {
        b'a'..=b'z' | b'A'..=b'Z' => !is_word(s),
        b'/' => true,
        // `-t`, `--flag`: a dash (or two) and a letter; never `---`.
        b'-' => {
            let word = s.strip_prefix("--").unwrap_or(&s[1..]);
            word.starts_with(|c: char| c.is_ascii_alphabetic()) && !is_word(word)
        }
        // Not a number in any base, float, date, time or sexagesimal: only
        // letters and digits, not `0…`, and a letter no number syntax uses.
        b'1'..=b'9' => {
            b.iter().all(u8::is_ascii_alphanumeric)
                && b.iter()
                    .any(|c| c.is_ascii_alphabetic() && !b"eExXoObB".contains(c))
        }
        _ => false,
    }
}

/// Certainly written double-quoted, and with nothing to escape: digits only
/// (a number otherwise), a boolean word, or text with `: ` in it.
fn quoted(s: &str) -> bool {
    let printable = s
        .bytes()
        .all(|c| (b' '..=b'~').contains(&c) && c != b'"' && c != b'\\');
    let digits = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let boolean = matches!(s, "true" | "false");
    let colon = s.contains(": ") && !s.starts_with(' ') && !s.ends_with(' ');
    printable && s.len() <= MAX_SCALAR && (digits || boolean || colon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Strings the fast path writes, and strings it must leave (or may).
    const GOOD: &[&str] = &[
        "a",
        "web",
        "app.kubernetes.io/name",
        "/health",
        "-t",
        "--sync-failed",
        "--x",
        "150s",
        "10m",
        "64Mi",
        "92402bb3c9",
        "0",
        "9080",
        "true",
        "false",
        "Host: example.com",
        "a:b",
        "http://x.y/z",
        "PruneLast=true",
        "a@b",
        "x+y",
        "v1",
        "1a",
        "a-b_c.d",
    ];
    const BAD: &[&str] = &[
        "-inf",
        "0x1c",
        "1e5",
        "on",
        "No",
        "null",
        "~",
        "",
        "b:",
        "2024-01-01",
        "1:30",
        "a b",
        " a",
        "a#b",
        "a #b",
        "#a",
        "'q'",
        "\"q\"",
        "x\ny",
        "é",
        "-",
        "--",
        "--1",
        "---x",
        "--on",
        "--- a",
        "<<",
        "=",
        "@a",
        "1.5",
        "+1",
        ".inf",
        "07",
        "1_000",
        "x,y",
        "[a]",
        "a]",
        "Host: ",
        "key: \"v\"",
        "a-very-long-string-that-goes-beyond-the-sixty-four-character-limit-for-plain",
    ];

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            30 => prop::sample::select(GOOD),
            1 => prop::sample::select(BAD),
        ]
        .prop_map(str::to_string)
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            6 => word().prop_map(Value::String),
            2 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => prop_oneof![
                (-1e10f64..1e10).prop_map(Value::from),
                (0.0f64..2.0).prop_map(Value::from),
                (0u32..100_000).prop_map(|n| Value::from(f64::from(n) / 1000.0)),
                prop::sample::select(&[
                    0.0, -0.0, 1e-3, 1e-4, 1e-7, 1e9, 1e16, 1e21, 300.0, 0.01, 0.95,
                    // Ties between two shortest forms, which zmij and Rust round apart.
                    0.5 + 1.0 / 131_072.0, 188_043_021.0 + 229.0 / 512.0,
                ][..])
                    .prop_map(Value::from),
            ],
            1 => Just(Value::Object(Map::new())),
            1 => Just(Value::Array(vec![])),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Value::Array),
                prop::collection::vec((word(), inner), 1..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn writes_what_the_serializer_writes(kv in prop::collection::vec((word(), value()), 1..5)) {
            let v = Value::Object(kv.into_iter().collect());
            if let Some(fast) = to_yaml(&v) {
                prop_assert_eq!(fast, serde_saphyr::to_string(&v).unwrap());
            }
        }
    }

    /// Every string alone, as a key, a value and an item, including the ones left.
    #[test]
    fn each_string_in_each_place() {
        for s in GOOD.iter().chain(BAD) {
            let places = [
                serde_json::json!({ *s: "a" }),
                serde_json::json!({ "a": *s }),
                serde_json::json!({ "a": [*s] }),
            ];
            for v in places {
                if let Some(fast) = to_yaml(&v) {
                    assert_eq!(fast, serde_saphyr::to_string(&v).unwrap(), "{s:?}");
                }
            }
        }
        for s in GOOD {
            assert!(to_yaml(&serde_json::json!({ "a": *s })).is_some(), "{s:?}");
        }
    }

    #[test]
    fn takes_the_common_shapes() {
        let v = serde_json::json!({
            "metadata": {"name": "web-92402bb3c9", "labels": {"a": "9080", "b": "true"}},
            "spec": {"containers": [{"args": ["-t", "150s", "Host: x.example", "--sync-failed"], "ports": [{"containerPort": 8080}], "emptyDir": {}}]},
            "objectives": [{"upperLimit": 300.0}, {"upperLimit": 0.01}, {"confidence": 0.95}],
        });
        assert_eq!(to_yaml(&v), Some(serde_saphyr::to_string(&v).unwrap()));
        // A tie between two shortest forms is the serializer's to round.
        for tie in [0.5 + 1.0 / 131_072.0, 188_043_021.0 + 229.0 / 512.0] {
            assert_eq!(to_yaml(&serde_json::json!({ "a": tie })), None);
        }
    }
}
