//! Where things are written in a YAML text, for errors that the parser does
//! not place itself: a byte offset as line and column, the block mapping at a
//! field path, the key of a field. Plain text scans, no parsing: they answer
//! for block style and give `None` for anything they do not follow, and the
//! caller then keeps a coarser place.

use super::Location;

/// The 1-based line and column of byte offset `at` in `text`.
pub fn location_at(text: &str, at: usize) -> Location {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[col_start..].chars().count() as u32 + 1;
    Location { line, column }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
