//! The plain YAML reader (`src/spec/plain.rs`), which `generate` uses for the
//! template and the passthrough manifests, against the general parser it
//! stands in for. Random block YAML is written near the edges of what the
//! plain reader accepts: tricky scalars and keys, comments, indentless and
//! nested sequences, uneven indentation, documents, and then a random line
//! broken. Wherever the plain reader answers, the general reading must give
//! exactly the same values; and it must answer for most of the clean texts,
//! or it would be no faster.

use proptest::prelude::*;
use serde_json::Value;

use assay::spec::{plain, untyped};

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "a", "b", "name", "kind", "apiVersion", "app.kubernetes.io/name", "_x", "x-y", "Key2",
    // Not plain keys, or not text to every schema.
    "on", "yes", "Y", "null", "80", "a b", "'q'", "\"d\"", "a:b", "-x", "<<", "?",
];

#[rustfmt::skip]
const SCALARS: &[&str] = &[
    "x", "hello world", "hello  world", "128Mi", "100m", "30s", "9Ki", "0", "80", "8080",
    "true", "false", "null", "[]", "{}", "/healthz", "http://x:80/y", "a,b", "a]", "x:y",
    "'q'", "'a b'", "'#'", "\"d\"", "\"a'b\"", "''", "\"\"", "'\\'",
    // Outside the plain subset, or not text.
    "0755", "00", "1e3", "1E3", "1.5", ".5", "0x1F", "0xff", "0XA", "0o7", "0O7", "0b1", "0B1", "5e", "3E", "1_000", "12:30",
    "2024-01-01", "-1", "+1", ".inf", "-.inf", ".NaN", "~", "yes", "No", "ON", "True", "NULL",
    "y", "n", "'it''s'", "\"a\\nb\"", "\"a\\\"b\"", "'open", "[a]", "{a: b}", "a: b", "x:",
    "x #c", "x#c", "- x", "-", "&a x", "*a", "!t x", "!!str 1", "|", ">", "%x", "@x", "`x`",
    "? x", "123456789012345678901", "1234567890123456789", "caf\u{e9}", "a\tb", "'x' y",
];

/// A small deterministic generator, so a failing case is one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Mostly plain choices, with a given share of the tricky ones.
fn token<'a>(rng: &mut Rng, from: &[&'a str], plain: usize, tricky: usize) -> &'a str {
    if rng.chance(tricky) {
        rng.pick(from)
    } else {
        from[rng.below(plain)]
    }
}

struct Writer<'r> {
    rng: &'r mut Rng,
    out: String,
    tricky: usize,
}

impl Writer<'_> {
    fn line(&mut self, indent: usize, text: &str) {
        if self.rng.chance(5) {
            self.out.push_str(if self.rng.chance(50) {
                "\n"
            } else {
                "# note\n"
            });
        }
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(text);
        if self.rng.chance(5) {
            self.out.push_str("  # c");
        } else if self.rng.chance(3) {
            self.out.push(' ');
        }
        self.out.push('\n');
    }

    fn key(&mut self) -> String {
        token(self.rng, KEYS, 9, self.tricky / 3).to_string()
    }

    fn scalar(&mut self) -> String {
        token(self.rng, SCALARS, 28, self.tricky).to_string()
    }

    /// A mapping at `indent`; the first key follows `first` (`- `) if given.
    fn map(&mut self, indent: usize, depth: usize, first: Option<usize>) {
        let n = 1 + self.rng.below(4);
        let mut keys = Vec::new();
        for i in 0..n {
            let mut key = self.key();
            // Distinct keys; among tricky texts, some repeats for the reader to refuse.
            while keys.contains(&key) && !(self.tricky > 0 && self.rng.chance(10)) {
                key = format!("{key}{i}");
            }
            keys.push(key.clone());
            let (at, lead) = match (i, first) {
                (0, Some(dash)) => (dash, format!("-{}", " ".repeat(indent - dash - 1))),
                _ => (indent, String::new()),
            };
            match self.rng.below(if depth >= 4 { 1 } else { 4 }) {
                0 => {
                    let v = self.scalar();
                    self.line(at, &format!("{lead}{key}: {v}"));
                }
                1 => {
                    self.line(at, &format!("{lead}{key}:"));
                    let step = 1 + self.rng.below(4);
                    self.map(indent + step, depth + 1, None);
                }
                _ => {
                    self.line(at, &format!("{lead}{key}:"));
                    // Indentless or indented.
                    let step = if self.rng.chance(50) {
                        0
                    } else {
                        1 + self.rng.below(3)
                    };
                    self.seq(indent + step, depth + 1);
                }
            }
        }
    }

    fn seq(&mut self, indent: usize, depth: usize) {
        for _ in 0..1 + self.rng.below(3) {
            if depth < 4 && self.rng.chance(40) {
                let pad = 2 + usize::from(self.rng.chance(10)) * 2;
                self.map(indent + pad, depth + 1, Some(indent));
            } else {
                let v = self.scalar();
                self.line(indent, &format!("- {v}"));
            }
        }
    }
}

/// A stream of 1–3 documents, maybe with a random line then broken; and
/// whether it is clean (no tricky token, nothing broken).
fn text(seed: u64) -> (String, bool) {
    let mut rng = Rng(seed | 1);
    let tricky = [0, 2, 10][rng.below(3)];
    let docs = 1 + rng.below(3);
    let lead = rng.chance(30);
    let mut w = Writer {
        rng: &mut rng,
        out: String::new(),
        tricky,
    };
    for d in 0..docs {
        if d > 0 || lead {
            w.out.push_str("---\n");
        }
        if w.rng.chance(5) {
            w.out.push_str("# only a comment\n");
            continue;
        }
        w.map(0, 0, None);
    }
    let mut out = w.out;
    let broken = rng.chance(30);
    if broken {
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        let i = rng.below(lines.len());
        match rng.below(4) {
            0 => lines[i].insert(0, ' '),
            1 => lines[i] = lines[i].trim_start().to_string(),
            2 => {
                lines.remove(i);
            }
            _ => lines.insert(i, lines[i].clone()),
        }
        out = lines.join("\n") + "\n";
    }
    (out, tricky == 0 && !broken)
}

/// What `passthrough` reads a manifest file as: every document, `null` ones
/// (empty or comment-only) left out.
fn general_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(text).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[test]
fn the_plain_reading_agrees_with_the_general_parser_wherever_it_answers() {
    let (mut answered, mut clean, mut clean_answered) = (0, 0, 0);
    for seed in 0..4000u64 {
        let (text, is_clean) = text(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        clean += usize::from(is_clean);
        if let Some(docs) = plain::documents(&text) {
            let general = general_documents(&text);
            assert_eq!(general.as_ref(), Ok(&docs), "seed {seed}:\n{text}");
            answered += 1;
            clean_answered += usize::from(is_clean);
        }
        if let Some(doc) = plain::document(&text) {
            assert_eq!(untyped::general(&text), Some(doc), "seed {seed}:\n{text}");
        }
    }
    // Most clean texts are answered; a reader that gave up on all would pass
    // the check above and make nothing faster.
    assert!(answered > 1000, "answered {answered} of 4000");
    assert!(
        clean_answered * 100 > clean * 85,
        "answered {clean_answered} of {clean} clean texts"
    );
}

proptest! {
    /// Any text at all, mostly not YAML: an answer is always the parser's.
    #[test]
    fn an_answer_on_arbitrary_text_is_the_parsers(text in "([a-z:#'\" \\-\\[\\]{}|>&*!]{0,6}\n?){0,8}") {
        if let Some(docs) = plain::documents(&text) {
            prop_assert_eq!(general_documents(&text), Ok(docs), "{:?}", text);
        }
    }
}

/// The files `generate` reads in the sample are all answered by the plain
/// reader (so the sample measures the fast path), as the parser reads them.
#[test]
fn the_sample_manifests_are_read_plainly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/bookinfo");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "assay.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = plain::documents(&text).unwrap_or_else(|| panic!("{}", path.display()));
        assert_eq!(general_documents(&text), Ok(docs), "{}", path.display());
    }
}

/// Every spec in the repository (samples, render fixtures, edit fixtures,
/// the invalid ones): where the fast reading answers, the exact reading
/// gives the same `Release` (positions aside, which the fast one does not
/// keep) and never an error. The sample, with and without a candidate, is
/// answered.
#[test]
fn specs_read_fast_are_the_specs_read_exactly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = |p: &std::path::Path| p.extension().is_some_and(|e| e == "yaml");
    let mut files = crate::support::files_under(&root.join("samples"), &yaml);
    files.extend(crate::support::files_under(
        &root.join("tests/fixtures"),
        &yaml,
    ));
    let sample = root.join("samples/bookinfo/assay.yaml");
    let sample_text = std::fs::read_to_string(&sample).unwrap();
    let mut texts: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .filter(|(_, t)| t.contains("kind: Release"))
        .collect();
    let with_candidate = crate::support::bookinfo_with_candidate();
    texts.push(("sample with a candidate".into(), with_candidate.clone()));
    let (mut fast_count, mut invalid) = (0, 0);
    for (name, text) in &texts {
        let exact = assay::spec::parse("assay.yaml", text.as_bytes());
        invalid += usize::from(exact.is_err());
        if let Some(mut fast) = assay::spec::parse_fast("assay.yaml", text.as_bytes()) {
            let exact = exact.unwrap_or_else(|e| panic!("{name}: read fast, but invalid: {e}"));
            fast.places = exact.places;
            assert_eq!(fast, exact, "{name}");
            fast_count += 1;
        }
    }
    assert!(invalid > 30, "{invalid} invalid specs");
    assert!(fast_count > 10, "{fast_count} of {} read fast", texts.len());
    for text in [&sample_text, &with_candidate] {
        assert!(assay::spec::parse_fast("assay.yaml", text.as_bytes()).is_some());
    }
}

/// The sample spec with one value replaced by a tricky scalar, for every
/// value and every scalar: the fast reading gives what the exact one gives,
/// or leaves it (a value of the wrong type, a word some schema reads as a
/// boolean, a number where text is wanted…).
#[test]
fn each_value_of_the_sample_spec_replaced_reads_the_same_both_ways() {
    let text = crate::support::bookinfo_with_candidate();
    let lines: Vec<&str> = text.lines().collect();
    let (mut fast_count, mut cases) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        if value.trim().is_empty() || key.trim_start().starts_with('#') {
            continue;
        }
        for scalar in SCALARS
            .iter()
            .chain(&["2", "0.5", "1.0", "10", "65536", "01", "1.", "v3"])
        {
            let mut changed = lines.clone();
            let replaced = format!("{key}: {scalar}");
            changed[i] = &replaced;
            let changed = changed.join("\n") + "\n";
            cases += 1;
            if let Some(mut fast) = assay::spec::parse_fast("assay.yaml", changed.as_bytes()) {
                let exact = assay::spec::parse("assay.yaml", changed.as_bytes())
                    .unwrap_or_else(|e| panic!("line {}: {replaced:?}: read fast, but {e}", i + 1));
                fast.places = exact.places;
                assert_eq!(fast, exact, "line {}: {replaced:?}", i + 1);
                fast_count += 1;
            }
        }
    }
    // Most replacements are invalid for their field or outside the plain
    // subset; hundreds still go through the fast reading (440 of 3,384 today).
    assert!(fast_count > 300, "{fast_count} of {cases} read fast");
}

/// Texts the general reader refuses for its limits, not their syntax (found
/// by review): a long run of comments where a value is looked for, a key
/// beyond YAML's 1,024 characters, more nodes than a budget allows. The
/// plain reader must leave each of them to it, in a manifest, a template or
/// a spec alike.
#[test]
fn the_general_readers_limits_are_left_to_it() {
    let comments = "  # x\n".repeat(33);
    let key = "k".repeat(1025);
    let items = "1,".repeat(100_000);
    for text in [
        format!("kind: A\nb:\n{comments}  c: 1\n"),
        format!("kind: A\nb: # c\n{}  c: 1\n", "  # x\n\n".repeat(32)),
        format!("kind: A\nb:\n{comments}- c\n"),
        format!("kind: A\n{key}: v\n"),
        format!("kind: A\nb: {{{key}: v}}\n"),
        format!("kind: A\nb:\n- {key}: v\n"),
        format!("kind: A\nb: [{items}1]\n"),
    ] {
        let short = &text[..text.len().min(60)];
        // Refused by the general reading with the spec's budget (the node
        // cap is the spec's; the manifests' is larger).
        assert_eq!(untyped::general(&text), None, "{short:?}");
        assert_eq!(plain::documents(&text), None, "{short:?}");
        assert_eq!(plain::document(&text), None, "{short:?}");
    }
    // In assay.yaml: the spec fails to read exactly, and is not read fast.
    let spec = crate::support::bookinfo_with_candidate();
    let spec = spec.replace(
        "  loadgen:\n",
        &format!("  loadgen:\n{}", "    # x\n".repeat(33)),
    );
    assert!(assay::spec::parse("assay.yaml", spec.as_bytes()).is_err());
    assert!(assay::spec::parse_fast("assay.yaml", spec.as_bytes()).is_none());
}
