//! A reader for the YAML that manifests are usually written in, without the
//! general parser: block mappings and block sequences, plain keys, simple
//! scalars, comments and `---`. The general parser (saphyr) spends about 250
//! instructions per byte on such files; this spends a tenth of that, and on
//! `generate` the spec, the template and the passthrough manifests are all
//! of the input.
//!
//! It answers only when it is certain what the general reading
//! ([`super::untyped`], or the typed reading through `plain_de`)
//! would give, and says `None` otherwise: the caller then reads the text the
//! general way, which also produces every error with its place. So anything
//! outside the subset below is `None`, never a guess:
//! - the text is ASCII without tabs, carriage returns or control characters,
//!   at most [`MAX_BYTES`], nested at most [`MAX_DEPTH`] deep, within the
//!   general reader's limits ([`MAX_COMMENT_RUN`], [`MAX_KEY`],
//!   [`MAX_NODES`]);
//! - lines are blank, comments, `---` alone, `key: value`, `key:` followed by
//!   a deeper block (or a sequence at the same indentation), or `- item`,
//!   where an item is a scalar or the first `key: value` of a mapping;
//! - keys are plain words (`[A-Za-z0-9_./-]`, starting with a letter or `_`)
//!   that no YAML schema reads as anything but text, never repeated;
//! - scalars are `'…'` without `'`, `"…"` without `"` or `\`, one-line flow
//!   sequences and mappings of plain words (`[a, b]`, `{a: b}`), or plain
//!   text starting with a letter, a digit or `/` that never holds `#`, `: `
//!   or a trailing `:` and never runs onto the next line. As a value
//!   (`value`) a plain scalar must be `true`, `false`, `null`, a decimal
//!   integer, text starting with a letter or `/` (not a word any schema
//!   reads as a boolean, null or float), or digits followed by letters
//!   (`128Mi`, `30s`); the typed reading asks for types itself.
//!
//! Anchors, aliases, tags, nested flow collections, block scalars,
//! multi-line or escaped scalars, complex keys and directives all fall
//! outside it.

use serde_json::{Map, Number, Value};

/// Larger texts are left to the general reading (and its budgets).
pub const MAX_BYTES: usize = 256 * 1024;
/// Deeper nesting is left to the general reading (its limit is 64).
pub const MAX_DEPTH: usize = 32;
/// Longer runs of comment lines are left to the general reading: the parser
/// buffers at most 32 comments while it looks for a value.
pub const MAX_COMMENT_RUN: usize = 24;
/// Longer keys are left to the general reading: YAML limits a simple key to
/// 1,024 characters.
pub const MAX_KEY: usize = 512;
/// Larger documents (nodes, plus comments) are left to the general reading,
/// well inside its smallest event and node budgets (`assay.yaml`: 200,000
/// events, 100,000 nodes).
pub const MAX_NODES: usize = 30_000;

/// A node as written: what [`documents`] turns into values, and what
/// [`super::plain_de`] reads typed, as the general reader would, from the
/// scalars' text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    /// A block or flow mapping, keys in order, none repeated.
    Map(Vec<(&'a str, Node<'a>)>),
    /// A block or flow sequence.
    Seq(Vec<Node<'a>>),
    /// A scalar: the text of a plain one, or the inside of a quoted one.
    Scalar { text: &'a str, quoted: bool },
    /// `key:` with nothing after it.
    Null,
}

/// One line with content: its indentation and the text after it.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

/// Every document of `text` that has content, in order; documents holding
/// only comments (or nothing) are left out, as the general reading yields
/// them as `null`. `None` when unsure.
pub fn documents(text: &str) -> Option<Vec<Value>> {
    let mut docs = Vec::new();
    for lines in split(text)? {
        if !lines.is_empty() {
            docs.push(value(&read(lines)?)?);
        }
    }
    Some(docs)
}

/// The one document of `text`; `None` when unsure, when it is empty, or
/// when `text` holds more than one document (even an empty one after it).
pub fn document(text: &str) -> Option<Value> {
    value(&tree(text)?)
}

/// [`document`] as written, before scalars are given types.
pub(crate) fn tree(text: &str) -> Option<Node<'_>> {
    let mut parts = split(text)?.into_iter();
    // A leading `---` starts the one document; the part before it is empty.
    let mut first = parts.next()?;
    if first.is_empty() {
        first = parts.next()?;
    }
    if parts.next().is_some() || first.is_empty() {
        return None;
    }
    read(first)
}

/// The lines with content, split into documents at `---`.
fn split(text: &str) -> Option<Vec<Vec<Line<'_>>>> {
    if text.len() > MAX_BYTES
        || !text
            .bytes()
            .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let mut docs = vec![Vec::new()];
    // Comment lines since the last content line (blank ones do not end a
    // run), counting a `#` on that line; and in all.
    let (mut run, mut comments) = (0, 0);
    for raw in text.lines() {
        let text = raw.trim_start_matches(' ');
        let indent = raw.len() - text.len();
        if text.starts_with('#') {
            run += 1;
            comments += 1;
            if run > MAX_COMMENT_RUN || comments > MAX_NODES {
                return None;
            }
        }
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        run = usize::from(text.contains('#'));
        if indent == 0 && text.starts_with("---") {
            if text != "---" {
                return None;
            }
            docs.push(Vec::new());
            continue;
        }
        // Directives and document ends are the general reading's.
        if indent == 0 && (text.starts_with('%') || text.starts_with("...")) {
            return None;
        }
        docs.last_mut()?.push(Line {
            indent,
            text: text.trim_end_matches(' '),
        });
    }
    Some(docs)
}

/// The value the general reading gives `node`: scalars typed as YAML's core
/// schema types them, `None` for any scalar some schema could read otherwise.
pub(crate) fn value(node: &Node) -> Option<Value> {
    Some(match node {
        Node::Map(entries) => {
            let mut out = Map::new();
            for (key, node) in entries {
                out.insert((*key).to_owned(), value(node)?);
            }
            Value::Object(out)
        }
        Node::Seq(items) => Value::Array(items.iter().map(value).collect::<Option<_>>()?),
        Node::Scalar { text, quoted: true } => Value::String((*text).to_owned()),
        Node::Scalar {
            text,
            quoted: false,
        } => typed(text)?,
        Node::Null => Value::Null,
    })
}

/// Nodes in `node`, keys included.
fn size(node: &Node) -> usize {
    match node {
        Node::Map(entries) => 1 + entries.iter().map(|(_, n)| 1 + size(n)).sum::<usize>(),
        Node::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Node::Scalar { .. } | Node::Null => 1,
    }
}

/// A document's lines as one node: a mapping at indentation 0.
fn read<'a>(mut lines: Vec<Line<'a>>) -> Option<Node<'a>> {
    if lines.first()?.indent != 0 {
        return None;
    }
    let mut reader = Reader {
        lines: &mut lines,
        at: 0,
    };
    let node = reader.map(0, 0)?;
    (reader.at == reader.lines.len() && size(&node) <= MAX_NODES).then_some(node)
}

struct Reader<'l, 'a> {
    lines: &'l mut [Line<'a>],
    at: usize,
}

impl<'a> Reader<'_, 'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.at).copied()
    }

    /// The block starting at the current line, at `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        match self.peek()? {
            l if is_item(l.text) => self.seq(indent, depth),
            _ => self.map(indent, depth),
        }
    }

    /// A block mapping whose keys sit at `indent`.
    fn map(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut out: Vec<(&'a str, Node<'a>)> = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent || (line.indent == indent && is_item(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = entry(line.text)?;
            self.at += 1;
            let value = if rest.is_empty() || rest.starts_with('#') {
                match self.peek() {
                    Some(next) if next.indent > indent => self.block(next.indent, depth + 1)?,
                    Some(next) if next.indent == indent && is_item(next.text) => {
                        self.seq(indent, depth + 1)?
                    }
                    _ => Node::Null,
                }
            } else {
                // A deeper line after it would continue it: the loop refuses that.
                scalar(rest)?
            };
            if out.iter().any(|(k, _)| *k == key) {
                return None;
            }
            out.push((key, value));
        }
        Some(Node::Map(out))
    }

    /// A block sequence whose `-` sit at `indent`.
    fn seq(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut out = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_item(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let item = line.text.strip_prefix('-')?;
            let content = item.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') || is_item(content) {
                return None;
            }
            let column = indent + 1 + (item.len() - content.len());
            if entry(content).is_some() {
                // `- key: value`: a mapping whose keys sit at the item's column.
                self.lines[self.at] = Line {
                    indent: column,
                    text: content,
                };
                out.push(self.map(column, depth + 1)?);
            } else {
                self.at += 1;
                out.push(scalar(content)?);
            }
        }
        Some(Node::Seq(out))
    }
}

/// `- …` or a lone `-`.
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` or `key:` with a plain key; `None` for anything else.
fn entry(text: &str) -> Option<(&str, &str)> {
    let end = text.find(':')?;
    let (key, rest) = (&text[..end], &text[end + 1..]);
    if !(rest.is_empty() || rest.starts_with(' ')) || !is_key(key) {
        return None;
    }
    Some((key, rest.trim_start_matches(' ')))
}

/// Words that some YAML schema (1.1 or 1.2) reads as a boolean, null or a
/// float rather than text, in any case.
const WORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity",
];

fn is_key(key: &str) -> bool {
    key.len() <= MAX_KEY
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
        && !WORDS.iter().any(|w| key.eq_ignore_ascii_case(w))
}

/// A scalar and what may follow it on its line (spaces and a comment), as
/// written: quoted, plain, or a one-line flow collection of plain words.
fn scalar(text: &str) -> Option<Node<'_>> {
    if let Some(quote @ ('\'' | '"')) = text.chars().next() {
        let body = &text[1..];
        let end = body.find(quote)?;
        let (inner, after) = (&body[..end], &body[end + 1..]);
        if (quote == '"' && inner.contains('\\')) || !is_end(after) {
            return None;
        }
        return Some(Node::Scalar {
            text: inner,
            quoted: true,
        });
    }
    // A plain scalar ends at ` #`; it holds no `#` at all here.
    let text = match text.find('#') {
        Some(i) if text[..i].ends_with(' ') => text[..i].trim_end_matches(' '),
        Some(_) => return None,
        None => text,
    };
    if let Some(inner) = text.strip_prefix('[') {
        return flow(inner.strip_suffix(']')?, plain_in_flow).map(Node::Seq);
    }
    if let Some(inner) = text.strip_prefix('{') {
        let pairs = flow(inner.strip_suffix('}')?, |pair| {
            let (key, value) = pair.split_once(": ")?;
            is_key(key).then_some(())?;
            Some((key, plain_in_flow(value.trim_start_matches(' '))?))
        })?;
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return None;
            }
        }
        return Some(Node::Map(pairs));
    }
    if text.contains(": ") || text.ends_with(':') {
        return None;
    }
    plain(text)
}

/// The items of a one-line flow collection's inside (`a, b`), each read by
/// `item`; empty inside, empty collection.
fn flow<'a, T>(inner: &'a str, item: impl Fn(&'a str) -> Option<T>) -> Option<Vec<T>> {
    let inner = inner.trim_matches(' ');
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|i| item(i.trim_matches(' ')))
        .collect()
}

/// A plain scalar inside a flow collection: no indicators, no quotes.
fn plain_in_flow(text: &str) -> Option<Node<'_>> {
    if text.contains(['[', ']', '{', '}', ':', '#', '\'', '"', ',']) {
        return None;
    }
    plain(text)
}

/// A plain scalar that starts with a letter, a digit or `/`, so that it is
/// never an indicator, an anchor, a tag or a signed number.
fn plain(text: &str) -> Option<Node<'_>> {
    let first = text.bytes().next()?;
    (first.is_ascii_alphanumeric() || first == b'/').then_some(Node::Scalar {
        text,
        quoted: false,
    })
}

/// Nothing but spaces and a comment.
fn is_end(after: &str) -> bool {
    let rest = after.trim_start_matches(' ');
    rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len())
}

/// The value of a plain scalar: `true`, `false`, `null`, a decimal integer,
/// or text; `None` for anything some YAML schema could read otherwise.
fn typed(text: &str) -> Option<Value> {
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" => return Some(Value::Null),
        _ => {}
    }
    let first = text.bytes().next()?;
    if first.is_ascii_alphabetic() || first == b'/' {
        if WORDS.iter().any(|w| text.eq_ignore_ascii_case(w)) {
            return None;
        }
        return Some(Value::String(text.to_owned()));
    }
    if let Some(n) = integer(text) {
        return Some(Value::Number(Number::from(n)));
    }
    quantity(text).then(|| Value::String(text.to_owned()))
}

/// A decimal integer every schema reads as one: no sign, no leading zero
/// (`0755` is octal to YAML 1.1 readers), at most 18 digits.
fn integer(text: &str) -> Option<u64> {
    let ok = !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
}

/// A quantity or a duration (`128Mi`, `100m`, `30s`): digits, then letters
/// only, so never hex, octal, binary, a float or a time.
fn quantity(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &text.as_bytes()[digits..];
    digits > 0
        && !suffix.is_empty()
        && suffix.iter().all(u8::is_ascii_alphabetic)
        && !matches!(suffix[0].to_ascii_lowercase(), b'e' | b'x' | b'o' | b'b')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_block_mappings_and_sequences() {
        let text = "# head\napiVersion: v1\nkind: Service\nmetadata:\n  name: a  # trailing\n  labels: {}\nspec:\n  ports:\n  - port: 80\n    name: http\n    targetPort: '8080'\n  -   port: 81\n  selector:\n    app: \"web\"\n  empty:\n  list: []\n  qty: 128Mi\n  path: /healthz\n  on_: true\n  drop: [ALL]\n  nums: [ 80, 443 ]\n  sel: {app: web, tier: x}  # c\n  none: [ ]\n";
        assert_eq!(
            document(text),
            Some(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "a", "labels": {}},
                "spec": {
                    "ports": [{"port": 80, "name": "http", "targetPort": "8080"}, {"port": 81}],
                    "selector": {"app": "web"}, "empty": null, "list": [],
                    "qty": "128Mi", "path": "/healthz", "on_": true,
                    "drop": ["ALL"], "nums": [80, 443], "sel": {"app": "web", "tier": "x"}, "none": [],
                }
            }))
        );
    }

    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let text = "---\nkind: A\n---\n# only a comment\n---\nkind: B\nitems:\n- x\n- z\n";
        assert_eq!(
            documents(text),
            Some(vec![
                json!({"kind": "A"}),
                json!({"kind": "B", "items": ["x", "z"]})
            ])
        );
        assert_eq!(documents("# nothing\n"), Some(vec![]));
        assert_eq!(document("---\nkind: A\n"), Some(json!({"kind": "A"})));
        assert_eq!(document("kind: A\n---\n"), None);
        assert_eq!(document("# nothing\n"), None);
    }

    #[test]
    fn leaves_the_unusual_to_the_general_reading() {
        for text in [
            "a: x\na: y\n",
            "a: &x 1\n",
            "a: *x\n",
            "a: !!str 1\n",
            "a: [1, [2]]\n",
            "a: {b: {c: 1}}\n",
            "a: [a,]\n",
            "a: ['x']\n",
            "a: [a: b]\n",
            "a: {b}\n",
            "a: {b: 1, b: 2}\n",
            "a: [a] b\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: one\n  two\n",
            "- a\n",
            "a:\n- b\n  - c\n",
            "a:\n  - - b\n",
            "a:\n  -\n    b: c\n",
            "'a': b\n",
            "? a\n: b\n",
            "a: 'it''s'\n",
            "a: \"\\n\"\n",
            "a: 'x' y\n",
            "a: b: c\n",
            "a: b:\n",
            "a: x#y\n",
            "a: yes\n",
            "a: No\n",
            "a: True\n",
            "a: ~\n",
            "a: .inf\n",
            "a: 1.5\n",
            "a: 0755\n",
            "a: 0x1F\n",
            "a: 1e3\n",
            "a: 12:30\n",
            "a: 2024-01-01\n",
            "a: -1\n",
            "a:\tb\n",
            "a: b\r\n",
            "a: caf\u{e9}\n",
            "%YAML 1.2\n---\na: b\n",
            "a: b\n...\n",
            "--- a: b\n",
            "  a: b\n",
            "a:\n    b: c\n  d: e\n",
            "a: b\n c: d\n",
            "true: x\n",
            "80: x\n",
            "a:\n  b: 1\n   c: 2\n",
        ] {
            assert_eq!(documents(text), None, "{text:?}");
        }
    }

    /// The general reader's limits, which it reports as errors.
    #[test]
    fn leaves_what_breaks_the_general_readers_limits() {
        let comments = |n: usize| format!("kind: A\nb:\n{}  c: 1\n", "  # x\n\n".repeat(n));
        assert!(documents(&comments(MAX_COMMENT_RUN)).is_some());
        assert_eq!(documents(&comments(MAX_COMMENT_RUN + 1)), None);
        let key = |n: usize| format!("{}: v\n", "k".repeat(n));
        assert!(documents(&key(MAX_KEY)).is_some());
        assert_eq!(documents(&key(1025)), None);
        assert_eq!(
            documents(&format!("a: {{{}: v}}\n", "k".repeat(1025))),
            None
        );
        let items = |n: usize| format!("a: [{}1]\n", "1,".repeat(n));
        assert!(documents(&items(MAX_NODES - 10)).is_some());
        assert_eq!(documents(&items(99_999)), None);
    }

    #[test]
    fn refuses_deep_nesting() {
        let mut text = String::new();
        for depth in 0..=MAX_DEPTH {
            text.push_str(&" ".repeat(depth * 2));
            text.push_str("a:\n");
        }
        assert_eq!(documents(&text), None);
    }
}
