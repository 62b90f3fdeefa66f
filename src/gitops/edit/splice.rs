//! The text edits: each takes a [`super::layout::Text::lf`] and returns it
//! with one `spec` entry removed, put, or its list or mapping changed. Only the
//! lines of that entry change; everything else is copied byte for byte. New
//! text is rendered by [`super::render`] in the file's style. An edit that
//! would drop an anchor used elsewhere is refused ([`check_anchors`]).

use std::ops::Range;

use serde_json::{Map, Value};

use super::error::EditError;
use super::layout::{Form, Slot, Tree, check_anchors};
use super::write::{self, Quote, Style};

/// Replace `range` of the text with `text`.
struct Splice {
    range: Range<usize>,
    text: String,
}

/// Applies `splices` (ranges of the same original text, not overlapping).
fn apply(text: &str, splices: Vec<Splice>) -> Result<String, EditError> {
    let mut order: Vec<(usize, Splice)> = splices.into_iter().enumerate().collect();
    // Later ranges first, so earlier offsets stay valid; at one position a
    // removal goes before an insertion, and insertions keep their order.
    order.sort_by(|(i, a), (j, b)| {
        (b.range.start, b.range.end, j).cmp(&(a.range.start, a.range.end, i))
    });
    let mut out = text.to_string();
    let mut limit = text.len();
    for (_, s) in order {
        if s.range.end > limit || s.range.start > s.range.end {
            return Err(EditError::Layout {
                line: super::layout::line_of(text, s.range.start),
                what: "two edits overlap".into(),
            });
        }
        limit = s.range.start;
        out.replace_range(s.range, &s.text);
    }
    Ok(out)
}

fn section(key: &str) -> String {
    format!("spec.{key}")
}

/// Removes the entry `spec.<key>` (its key line to its last line); a no-op
/// when absent. Comments above it stay: they may introduce what follows.
pub(super) fn remove_entry(text: &str, key: &str) -> Result<String, EditError> {
    let tree = Tree::parse(text)?;
    let Some(slot) = tree.slot(key) else {
        return Ok(text.to_string());
    };
    check_anchors(text, slot.line..slot.end, &section(key))?;
    apply(text, vec![removal(text, slot.line..slot.end)])
}

/// Removing whole lines `range`; when blank lines surround it, one of them
/// goes too, so entries separated by a blank line stay separated by one.
fn removal(text: &str, mut range: Range<usize>) -> Splice {
    let blank_before = range.start >= 2 && text[..range.start].ends_with("\n\n")
        || range.start == 1 && text.starts_with('\n');
    if blank_before && text[range.end..].starts_with('\n') {
        range.end += 1;
    }
    Splice {
        range,
        text: String::new(),
    }
}

/// Sets `spec.<key>` to `value`: replaces the value of an existing entry
/// (keeping its key line and comment), or inserts a new entry after the first
/// of `after` that exists (at the end of `spec` if none does).
pub(super) fn put_entry(
    text: &str,
    key: &str,
    value: &Value,
    after: &[&str],
) -> Result<String, EditError> {
    let tree = Tree::parse(text)?;
    let splice = match tree.slot(key) {
        Some(slot) => {
            check_anchors(text, slot.line..slot.end, &section(key))?;
            replace_value(text, slot, value, tree.style)
        }
        None => insertion(text, &tree, key, value, after),
    };
    apply(text, vec![splice])
}

/// A new entry `key: value` in `spec`, after the first of `after` present.
fn insertion(text: &str, tree: &Tree, key: &str, value: &Value, after: &[&str]) -> Splice {
    let anchor = after
        .iter()
        .find_map(|k| tree.slot(k))
        .or(tree.slots.last());
    let at = anchor.map_or(text.len(), |s| {
        past_trailing_comments(text, s.end, tree.indent)
    });
    let mut entry = write::entry(key, value, tree.indent, tree.style);
    // Keep the file's rhythm: an entry followed by a blank line gets its
    // new neighbour after a blank line too.
    if text[at..].starts_with('\n') {
        entry.insert(0, '\n');
    }
    Splice {
        range: at..at,
        text: entry,
    }
}

/// `at` moved past the comment lines right after it that are indented deeper
/// than `indent`: they trail the entry before (a commented-out field) and
/// stay with it rather than end up inside what is inserted.
fn past_trailing_comments(text: &str, mut at: usize, indent: usize) -> usize {
    while at < text.len() {
        let end = line_end_of(text, at);
        let line = &text[at..end];
        let body = line.trim_start_matches(' ');
        if !(body.starts_with('#') && line.len() - body.len() > indent) {
            break;
        }
        at = end;
    }
    at
}

/// The splice that gives `slot` the value `value`, in the style of the
/// value it replaces: a flow collection stays flow, a block one block, a
/// quoted scalar keeps its quotes.
fn replace_value(text: &str, slot: &Slot, value: &Value, style: Style) -> Splice {
    let colon = slot.colon;
    let block = write::is_block(value);
    let key_line_end = line_end_of(text, colon);
    match (block, slot.form) {
        (false, Form::Inline | Form::Flow | Form::Null) => {
            let prefer = Quote::of(&text[slot.value.clone()]);
            // A null's value range is empty: replace `~`/`null` as written.
            let end = if slot.form == Form::Null {
                null_end(text, colon)
            } else {
                slot.value.end
            };
            Splice {
                range: colon..end,
                text: format!(" {}", write::inline(value, prefer)),
            }
        }
        (false, Form::MultiLine | Form::Block) => Splice {
            range: colon..slot.end,
            text: format!(" {}\n", write::inline(value, Quote::Plain)),
        },
        (true, Form::Flow) => Splice {
            range: colon..slot.value.end,
            text: format!(" {}", write::inline(value, Quote::Plain)),
        },
        (true, Form::Null | Form::Inline) => {
            // Drop the scalar or alias, keep the key line's comment, and
            // put the block below.
            let end = if slot.form == Form::Null {
                null_end(text, colon)
            } else {
                slot.value.end
            };
            let rest = &text[end..key_line_end];
            let rest = if rest.trim().is_empty() { "\n" } else { rest };
            Splice {
                range: colon..key_line_end,
                text: format!("{rest}{}", write::block_under(value, slot.indent, style)),
            }
        }
        (true, Form::Block) => Splice {
            range: key_line_end.min(slot.end)..slot.end,
            text: write::block_under(value, slot.indent, style),
        },
        (true, Form::MultiLine) => Splice {
            range: colon..slot.end,
            text: format!("\n{}", write::block_under(value, slot.indent, style)),
        },
    }
}

/// After the newline of the line holding `pos`.
fn line_end_of(text: &str, pos: usize) -> usize {
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

/// The end of an explicit null (`~`, `null`) written after `colon`, or
/// `colon` when nothing is written.
fn null_end(text: &str, colon: usize) -> usize {
    let rest = &text[colon..];
    let trimmed = rest.trim_start_matches(' ');
    let skipped = rest.len() - trimmed.len();
    for word in ["~", "null", "Null", "NULL"] {
        if let Some(after) = trimmed.strip_prefix(word)
            && (after.is_empty() || after.starts_with([' ', '\n', '#']))
        {
            return colon + skipped + word.len();
        }
    }
    colon
}

/// Sets the list `spec.<key>` from `old` (as the file holds it) to `new`.
/// When `new` is `old` with items dropped from the front and others added at
/// the end (a queue advancing, a bounded log), only those items' lines
/// change; otherwise the whole list is written again. An empty `new` removes
/// the entry.
pub(super) fn put_list(
    text: &str,
    key: &str,
    old: &[Value],
    new: &[Value],
    after: &[&str],
) -> Result<String, EditError> {
    if new.is_empty() {
        return remove_entry(text, key);
    }
    let tree = Tree::parse(text)?;
    let Some(slot) = tree.slot(key) else {
        let splice = insertion(text, &tree, key, &Value::Array(new.to_vec()), after);
        return apply(text, vec![splice]);
    };
    let items = tree
        .items(text, key)?
        .filter(|items| items.len() == old.len());
    let dropped = (0..=old.len()).find(|&d| {
        let kept = &old[d..];
        kept.len() <= new.len() && same_all(kept, &new[..kept.len()])
    });
    let (Some(items), Some(dropped)) = (items, dropped) else {
        check_anchors(text, slot.line..slot.end, &section(key))?;
        let splice = replace_value(text, slot, &Value::Array(new.to_vec()), tree.style);
        return apply(text, vec![splice]);
    };
    let mut splices = Vec::new();
    let added = &new[old.len() - dropped..];
    if !added.is_empty() {
        let first = items.first();
        let style = Style {
            dash_gap: first.map_or(tree.style.dash_gap, |i| i.gap),
            ..tree.style
        };
        let dash = first.map_or(slot.indent + style.seq_offset, |i| i.dash);
        let mut lines = String::new();
        write::seq_lines(added, dash, style, &mut lines);
        let at = past_trailing_comments(text, slot.end, dash);
        splices.push(Splice {
            range: at..at,
            text: lines,
        });
    }
    if dropped > 0 {
        let mut gone = items[0].line..items[dropped - 1].end;
        // The blank lines that separated the dropped items from the kept
        // ones go with them.
        if dropped < items.len() {
            while text[gone.end..].starts_with('\n') {
                gone.end += 1;
            }
        }
        check_anchors(text, gone.clone(), &section(key))?;
        splices.push(Splice {
            range: gone,
            text: String::new(),
        });
    }
    apply(text, splices)
}

/// Gives the mapping `spec.<key>` the fields of `want`, where the file holds
/// `have`. A block mapping is edited field by field — a changed field gets a
/// new value (a nested block mapping such as `env` is edited the same way), a
/// field `want` lacks is removed, a new one is added at the end — so fields
/// that stay keep their comments and quotes. Any other form, a mapping with
/// merge keys, or a nested map whose key order could not be kept that way is
/// written again whole.
pub(super) fn set_fields(
    text: &str,
    key: &str,
    want: &Map<String, Value>,
    have: &Map<String, Value>,
) -> Result<String, EditError> {
    let tree = Tree::parse(text)?;
    let Some(slot) = tree.slot(key) else {
        let splice = insertion(text, &tree, key, &Value::Object(want.clone()), &[]);
        return apply(text, vec![splice]);
    };
    let mut splices = Vec::new();
    edit_mapping(text, &tree, &[key], slot, want, have, &mut splices)?;
    apply(text, splices)
}

fn edit_mapping(
    text: &str,
    tree: &Tree,
    path: &[&str],
    slot: &Slot,
    want: &Map<String, Value>,
    have: &Map<String, Value>,
    out: &mut Vec<Splice>,
) -> Result<(), EditError> {
    let name = format!("spec.{}", path.join("."));
    let nested = path.len() > 1;
    let fields = tree.fields(text, path)?.filter(|f| {
        !f.is_empty() && f.iter().all(|f| f.key != "<<") && (!nested || keeps_order(f, want))
    });
    let Some(fields) = fields else {
        check_anchors(text, slot.line..slot.end, &name)?;
        out.push(replace_value(
            text,
            slot,
            &Value::Object(want.clone()),
            tree.style,
        ));
        return Ok(());
    };
    // An anchor on the mapping itself: any field change changes its aliases.
    let first_field = fields.iter().map(|f| f.line).min().unwrap_or(slot.end);
    check_anchors(text, slot.line..first_field, &name)?;
    for f in &fields {
        let at = format!("{name}.{}", f.key);
        match (want.get(&f.key), have.get(&f.key)) {
            (None, _) => {
                check_anchors(text, f.line..f.end, &at)?;
                out.push(Splice {
                    range: f.line..f.end,
                    text: String::new(),
                });
            }
            (Some(v), Some(h)) if same(h, v) => {}
            // A nested block mapping that keeps some keys: edit it in place.
            (Some(Value::Object(v)), Some(Value::Object(h)))
                if f.form == Form::Block && !v.is_empty() =>
            {
                let mut inner = path.to_vec();
                inner.push(&f.key);
                edit_mapping(text, tree, &inner, f, v, h, out)?;
            }
            (Some(v), _) => {
                check_anchors(text, f.line..f.end, &at)?;
                out.push(replace_value(text, f, v, tree.style));
            }
        }
    }
    let indent = fields
        .first()
        .map_or(slot.indent + tree.style.step, |f| f.indent);
    let last = fields.iter().map(|f| f.end).max().unwrap_or(slot.end);
    let last = past_trailing_comments(text, last, indent);
    for (k, v) in want {
        if !fields.iter().any(|f| &f.key == k) {
            out.push(Splice {
                range: last..last,
                text: write::entry(k, v, indent, tree.style),
            });
        }
    }
    Ok(())
}

/// Whether editing `fields` in place (kept keys stay where they are, new
/// ones go last) gives `want`'s key order, which matters in `env`.
fn keeps_order(fields: &[Slot], want: &Map<String, Value>) -> bool {
    let kept = fields
        .iter()
        .map(|f| f.key.as_str())
        .filter(|k| want.contains_key(*k));
    let added = want
        .keys()
        .map(String::as_str)
        .filter(|k| !fields.iter().any(|f| f.key == *k));
    kept.chain(added).eq(want.keys().map(String::as_str))
}

/// Equal including the order of mapping keys (env order matters to
/// Kubernetes `$(VAR)` references; `serde_json`'s `==` ignores it).
pub(super) fn same(a: &Value, b: &Value) -> bool {
    serde_json::to_string(a).ok() == serde_json::to_string(b).ok()
}

/// [`same`] for every item, and as many.
pub(super) fn same_all(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}
