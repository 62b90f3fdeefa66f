//! Where things are in the text of `assay.yaml`: the byte ranges of `spec`'s
//! entries, of a mapping's fields and of a list's items, read from yaml-edit's
//! lossless syntax tree, plus the file's indentation habits and its anchors.
//! Nothing here changes the text; [`super::splice`] does, from these ranges.
//!
//! Everything works on [`Text::lf`]: LF line ends and a final newline, so that
//! every entry is a run of whole lines. [`Text::restore`] puts the file's own
//! line ends, BOM and missing final newline back.

use std::ops::Range;
use std::str::FromStr;

use yaml_edit::{Mapping, MappingEntry, SyntaxKind, YamlFile, YamlNode};

use super::error::EditError;
use super::write::Style;

/// The file's text, normalised for editing.
#[derive(Debug, Clone)]
pub(super) struct Text {
    /// LF line ends, no BOM, ending in `\n`.
    pub lf: String,
    crlf: bool,
    bom: bool,
    final_newline: bool,
}

impl Text {
    /// Normalises `text`; a file mixing CRLF and LF (or with a lone CR) is
    /// refused, since no single line end could be written back faithfully.
    pub fn new(text: &str) -> Result<Text, EditError> {
        let (bom, body) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let crlf = body.matches("\r\n").count();
        let cr = body.matches('\r').count();
        let lf = body.matches('\n').count();
        if cr != crlf || (crlf > 0 && crlf != lf) {
            return Err(EditError::LineEnds);
        }
        let mut normal = body.replace("\r\n", "\n");
        let final_newline = normal.ends_with('\n');
        if !final_newline {
            normal.push('\n');
        }
        Ok(Text {
            lf: normal,
            crlf: crlf > 0,
            bom,
            final_newline,
        })
    }

    /// `lf` (an edited [`Text::lf`]) with the original's line ends, BOM and
    /// final newline (or lack of one).
    pub fn restore(&self, lf: &str) -> String {
        let mut body = lf;
        if !self.final_newline {
            body = body.strip_suffix('\n').unwrap_or(body);
        }
        let body = if self.crlf {
            body.replace('\n', "\r\n")
        } else {
            body.to_string()
        };
        if self.bom {
            format!("\u{feff}{body}")
        } else {
            body
        }
    }
}

/// How a value is written, which decides how it can be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// Nothing, `~` or `null` after the key.
    Null,
    /// One line after the key: a scalar or an alias.
    Inline,
    /// A flow collection (`{…}`, `[…]`), possibly over several lines.
    Flow,
    /// A block mapping or sequence on the lines below the key.
    Block,
    /// A scalar over several lines (`|`, `>`, folded quotes).
    MultiLine,
}

/// One `key: value` entry of a block mapping, as byte offsets into the text.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub key: String,
    /// Start of the key's line.
    pub line: usize,
    /// Column of the key.
    pub indent: usize,
    /// Just after the `:` that ends the key.
    pub colon: usize,
    /// The value as yaml-edit delimits it (anchors and tags may precede it).
    pub value: Range<usize>,
    /// How the value is written.
    pub form: Form,
    /// After the newline of the entry's last line.
    pub end: usize,
}

/// One item of a block sequence.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// Start of the line holding the item's `-`.
    pub line: usize,
    /// Column of the `-`.
    pub dash: usize,
    /// Spaces between the `-` and the content on the same line.
    pub gap: usize,
    /// After the newline of the item's last line.
    pub end: usize,
}

/// The parsed layout of a spec.
pub(super) struct Tree {
    spec: Mapping,
    /// `spec`'s entries, in file order.
    pub slots: Vec<Slot>,
    /// Column of `spec`'s keys.
    pub indent: usize,
    /// The file's indentation habits, for new text.
    pub style: Style,
}

impl Tree {
    /// Reads the layout of `text` (a [`Text::lf`]).
    pub fn parse(text: &str) -> Result<Tree, EditError> {
        let file = YamlFile::from_str(text).map_err(|e| {
            let line = match &e {
                yaml_edit::YamlError::Parse { line, .. } => line.unwrap_or(1),
                _ => 1,
            };
            let e = e.to_string();
            EditError::Layout {
                line,
                what: format!(
                    "the YAML editor cannot read this file ({})",
                    e.lines().next().unwrap_or_default()
                ),
            }
        })?;
        let root = file
            .document()
            .and_then(|d| d.as_mapping())
            .ok_or_else(|| layout(text, 0, "the document is not a mapping"))?;
        let spec_entry = root
            .find_entry_by_key("spec")
            .ok_or_else(|| layout(text, 0, "there is no `spec` mapping"))?;
        let spec_slot = slot(text, &spec_entry)?;
        let spec = match spec_entry.value_node() {
            Some(YamlNode::Mapping(m)) if !m.is_flow_style() => m,
            _ => {
                return Err(layout(
                    text,
                    spec_slot.line,
                    "`spec` is not a block mapping; write it as `spec:` followed by indented keys",
                ));
            }
        };
        let slots = slots(text, &spec)?;
        let indent = slots.first().map_or(spec_slot.indent + 2, |s| s.indent);
        let step = match indent.saturating_sub(spec_slot.indent) {
            0 => 2,
            n => n,
        };
        let mut tree = Tree {
            spec,
            slots,
            indent,
            style: Style {
                step,
                seq_offset: step,
                dash_gap: 1,
            },
        };
        if let Some((offset, gap)) = tree.list_style(text, &root) {
            tree.style.seq_offset = offset;
            tree.style.dash_gap = gap;
        }
        Ok(tree)
    }

    /// The entry `key` of `spec`.
    pub fn slot(&self, key: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.key == key)
    }

    /// The entries of the block mapping at `spec.<path…>`; `None` when that
    /// value is not a block mapping.
    pub fn fields(&self, text: &str, path: &[&str]) -> Result<Option<Vec<Slot>>, EditError> {
        let mut node = YamlNode::Mapping(self.spec.clone());
        for key in path {
            let Some(next) = node
                .as_mapping()
                .and_then(|m| m.find_entry_by_key(*key))
                .and_then(|e| e.value_node())
            else {
                return Ok(None);
            };
            node = next;
        }
        match node {
            YamlNode::Mapping(m) if !m.is_flow_style() => Ok(Some(slots(text, &m)?)),
            _ => Ok(None),
        }
    }

    /// The items of the block sequence under `spec.<key>`; `None` when its
    /// value is not a block sequence.
    pub fn items(&self, text: &str, key: &str) -> Result<Option<Vec<Item>>, EditError> {
        let seq = match self.value(key) {
            Some(YamlNode::Sequence(s)) if !s.is_flow_style() => s,
            _ => return Ok(None),
        };
        seq.values()
            .map(|v| {
                item(
                    text,
                    v.byte_range().start as usize,
                    v.byte_range().end as usize,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn value(&self, key: &str) -> Option<YamlNode> {
        self.spec.find_entry_by_key(key)?.value_node()
    }

    /// How the file writes block sequences: the `-`'s offset from its key
    /// and the spaces after it, from `queue`/`rejected` if present, else from
    /// the first block sequence anywhere in the file.
    fn list_style(&self, text: &str, root: &Mapping) -> Option<(usize, usize)> {
        for key in ["queue", "rejected"] {
            if let (Some(slot), Ok(Some(items))) = (self.slot(key), self.items(text, key))
                && let Some(first) = items.first()
            {
                return Some((first.dash.saturating_sub(slot.indent), first.gap));
            }
        }
        first_list(text, root, 0)
    }
}

/// The first block sequence under a block mapping key, depth-first.
fn first_list(text: &str, m: &Mapping, depth: usize) -> Option<(usize, usize)> {
    if depth > 32 || m.is_flow_style() {
        return None;
    }
    for e in m.entries() {
        let key_col = e
            .key_node()
            .map(|k| column(text, k.byte_range().start as usize));
        match e.value_node() {
            Some(YamlNode::Sequence(s)) if !s.is_flow_style() => {
                let first = s.values().next()?;
                let r = first.byte_range();
                if let (Some(col), Ok(it)) = (key_col, item(text, r.start as usize, r.end as usize))
                {
                    return Some((it.dash.saturating_sub(col), it.gap));
                }
            }
            Some(YamlNode::Mapping(inner)) => {
                if let Some(found) = first_list(text, &inner, depth + 1) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

fn slots(text: &str, m: &Mapping) -> Result<Vec<Slot>, EditError> {
    m.entries().map(|e| slot(text, &e)).collect()
}

fn slot(text: &str, e: &MappingEntry) -> Result<Slot, EditError> {
    let range = e.byte_range();
    let start = range.start as usize;
    let key_node = e
        .key_node()
        .ok_or_else(|| layout(text, start, "a mapping entry has no key"))?;
    let key_range = key_node.byte_range();
    let key = match &key_node {
        YamlNode::Scalar(s) => s.as_string(),
        _ => return Err(layout(text, start, "a mapping key is not a plain string")),
    };
    let key_start = key_range.start as usize;
    let line = line_start(text, key_start);
    if !text[line..key_start].bytes().all(|b| b == b' ') {
        return Err(layout(
            text,
            key_start,
            &format!("`{key}` does not start its own line"),
        ));
    }
    let after_key = key_range.end as usize;
    let colon = text[after_key..]
        .find(|c: char| c != ' ')
        .map(|i| after_key + i)
        .filter(|&i| text[i..].starts_with(':'))
        .ok_or_else(|| layout(text, key_start, &format!("`{key}` is not followed by `:`")))?
        + 1;
    let end = line_end(text, range.end as usize)?;
    let (value, form) = match e.value_node() {
        None => (colon..colon, Form::Null),
        Some(v) => {
            let r = v.byte_range();
            let value = (r.start as usize).max(colon)..(r.end as usize).max(colon);
            let form = form(text, colon, &value, &v);
            (value, form)
        }
    };
    Ok(Slot {
        key,
        line,
        indent: key_start - line,
        colon,
        value,
        form,
        end: end.max(colon),
    })
}

fn form(text: &str, colon: usize, value: &Range<usize>, v: &YamlNode) -> Form {
    let written = text[value.clone()].trim();
    let multi_line = text[colon..value.end].trim_end().contains('\n');
    match v {
        YamlNode::Scalar(_) if matches!(written, "" | "~" | "null" | "Null" | "NULL") => Form::Null,
        YamlNode::Mapping(m) if m.is_flow_style() => Form::Flow,
        YamlNode::Sequence(s) if s.is_flow_style() => Form::Flow,
        YamlNode::Mapping(_) | YamlNode::Sequence(_) => Form::Block,
        YamlNode::TaggedNode(t) if t.as_mapping().is_some() || t.as_sequence().is_some() => {
            if multi_line {
                Form::Block
            } else {
                Form::Flow
            }
        }
        _ if multi_line => Form::MultiLine,
        _ => Form::Inline,
    }
}

/// The block-sequence item whose content yaml-edit puts at `start..end`:
/// its `-` is on the same line before the content, or alone (with at most
/// a comment) on an earlier line.
fn item(text: &str, start: usize, end: usize) -> Result<Item, EditError> {
    let end = line_end(text, end)?;
    let mut line = line_start(text, start);
    let before = text[line..start].trim_end_matches(' ');
    let (dash, gap) = if let Some(prefix) = before.strip_suffix('-') {
        (line + prefix.len(), start - line - before.len())
    } else if before.trim().is_empty() {
        // `-` on an earlier line, maybe followed by a comment.
        loop {
            if line == 0 {
                return Err(layout(text, start, "a list item has no `-`"));
            }
            line = line_start(text, line - 1);
            let l = &text[line..text[line..].find('\n').map_or(text.len(), |i| line + i)];
            let t = l.trim_start();
            if t.starts_with('-')
                && (t[1..].trim().is_empty() || t[1..].trim_start().starts_with('#'))
            {
                break (line + l.len() - t.len(), 1);
            }
            if !(t.is_empty() || t.starts_with('#')) {
                return Err(layout(text, start, "a list item has no `-`"));
            }
        }
    } else {
        return Err(layout(
            text,
            start,
            "a list item does not start its own line",
        ));
    };
    let dash_line = line_start(text, dash);
    if !text[dash_line..dash].bytes().all(|b| b == b' ') {
        return Err(layout(
            text,
            dash,
            "a list item does not start its own line",
        ));
    }
    Ok(Item {
        line: dash_line,
        dash: dash - dash_line,
        gap,
        end,
    })
}

/// Start of the line holding `pos`.
pub(super) fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// After the newline ending the line of `pos`; `pos` itself when it already
/// starts a line. Only a comment may follow `pos` on its line.
pub(super) fn line_end(text: &str, pos: usize) -> Result<usize, EditError> {
    if pos == 0 || pos >= text.len() || text.as_bytes()[pos - 1] == b'\n' {
        return Ok(pos.min(text.len()));
    }
    let nl = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
    let rest = text[pos..nl].trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(nl)
    } else {
        Err(layout(
            text,
            pos,
            "more follows on the same line; put each entry on its own line",
        ))
    }
}

fn column(text: &str, pos: usize) -> usize {
    pos - line_start(text, pos)
}

/// 1-based line number of `pos`.
pub(super) fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].matches('\n').count() + 1
}

fn layout(text: &str, pos: usize, what: &str) -> EditError {
    EditError::Layout {
        line: line_of(text, pos),
        what: what.to_string(),
    }
}

/// Refuses to replace or remove `region` when it defines an anchor that an
/// alias outside it uses: that alias would dangle or change meaning.
pub(super) fn check_anchors(text: &str, region: Range<usize>, what: &str) -> Result<(), EditError> {
    let mut defined = Vec::new();
    let mut used = Vec::new();
    let mut at = 0;
    for (kind, tok) in yaml_edit::lex(text) {
        let start = at;
        at += tok.len();
        let inside = region.contains(&start);
        match kind {
            SyntaxKind::ANCHOR if inside => defined.push(tok.trim_start_matches('&').to_string()),
            SyntaxKind::REFERENCE if !inside => used.push(tok.trim_start_matches('*').to_string()),
            _ => {}
        }
    }
    match defined.into_iter().find(|a| used.contains(a)) {
        Some(anchor) => Err(EditError::AnchorInUse {
            anchor,
            section: what.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_line_ends_bom_and_missing_newline() {
        for text in ["a: 1\r\nb: 2", "\u{feff}a: 1\n", "a: 1\nb: 2\n", "a: 1"] {
            let t = Text::new(text).unwrap();
            assert!(t.lf.ends_with('\n') && !t.lf.contains('\r'));
            assert_eq!(t.restore(&t.lf), text);
        }
        assert_eq!(
            Text::new("a: 1\r\nb: 2\n").unwrap_err(),
            EditError::LineEnds
        );
        assert_eq!(Text::new("a: 1\rb: 2\n").unwrap_err(), EditError::LineEnds);
    }

    #[test]
    fn finds_entries_items_and_style() {
        let text = "spec:\n   baseline: {version: v1, image: x}\n   # lead\n   candidate: # c\n      version: v2\n      image: y\n   queue:\n   -   version: v3\n       image: z\n   - # odd\n     version: v4\n     image: w\n";
        let tree = Tree::parse(text).unwrap();
        let keys: Vec<_> = tree.slots.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["baseline", "candidate", "queue"]);
        assert_eq!(tree.indent, 3);
        assert_eq!(
            tree.style,
            Style {
                step: 3,
                seq_offset: 0,
                dash_gap: 3
            }
        );
        let c = tree.slot("candidate").unwrap();
        assert_eq!(
            &text[c.line..c.end],
            "   candidate: # c\n      version: v2\n      image: y\n"
        );
        assert_eq!(c.form, Form::Block);
        assert_eq!(tree.slot("baseline").unwrap().form, Form::Flow);
        let items = tree.items(text, "queue").unwrap().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            &text[items[1].line..items[1].end],
            "   - # odd\n     version: v4\n     image: w\n"
        );
    }

    #[test]
    fn columns_count_from_the_line_start_with_non_ascii_keys() {
        let text = "spec:\n  clé: {ü: 1}\n  baseline: # ☕\n    version: v1\n";
        let tree = Tree::parse(text).unwrap();
        let keys: Vec<_> = tree
            .slots
            .iter()
            .map(|s| (s.key.as_str(), s.indent))
            .collect();
        assert_eq!(keys, [("clé", 2), ("baseline", 2)]);
        let fields = tree.fields(text, &["clé"]).unwrap();
        assert!(fields.is_none(), "a flow mapping has no block fields");
        let fields = tree.fields(text, &["baseline"]).unwrap().unwrap();
        assert_eq!(&text[fields[0].line..fields[0].end], "    version: v1\n");
    }

    #[test]
    fn anchors_used_outside_a_region_are_found() {
        let text = "a: &x 1\nb: *x\nc: &y 2\n";
        assert!(check_anchors(text, 0..8, "a").is_err());
        assert!(check_anchors(text, 14..22, "c").is_ok());
    }
}
