//! Errors in `assay.yaml` and the files it names. Every error points at a place
//! (`file:line:column`) and a field path, because Argo CD shows stderr verbatim
//! in its UI and a platform engineer must be able to fix the file from that one
//! line alone.

use std::fmt;

/// A 1-based line and column (in characters), as editors count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Location {
    /// The start of a file: used for errors about the file as a whole.
    pub const START: Location = Location { line: 1, column: 1 };

    /// A serde-saphyr location; line 0 (no position recorded) becomes the file start.
    pub(crate) fn from_saphyr(loc: serde_saphyr::Location) -> Location {
        if loc.line() == 0 {
            return Location::START;
        }
        Location {
            line: loc.line() as u32,
            column: loc.column().max(1) as u32,
        }
    }

    /// The location of a spanned value, or the file start when the parser
    /// could not record one (values reached through `flatten` or untagged enums).
    pub(crate) fn of<T>(s: &serde_saphyr::Spanned<T>) -> Location {
        Location::from_saphyr(s.referenced)
    }
}

/// What went wrong, without the place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The text is not YAML, or not the shape a field expects.
    Syntax(String),
    /// The YAML is well formed but a value breaks a rule of the spec.
    Invalid(String),
    /// The file could not be read.
    Io(String),
    /// The file is larger than any sane spec; refused before parsing.
    TooLarge {
        /// The file's size in bytes.
        bytes: u64,
        /// The limit it exceeds, in bytes.
        limit: u64,
    },
    /// The file is not UTF-8.
    NotUtf8,
    /// The file holds no document.
    Empty,
}

impl fmt::Display for SpecErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecErrorKind::Syntax(m) | SpecErrorKind::Invalid(m) => f.write_str(m),
            SpecErrorKind::Io(m) => write!(f, "cannot read: {m}"),
            SpecErrorKind::TooLarge { bytes, limit } => {
                write!(
                    f,
                    "file is {bytes} bytes, larger than the {limit}-byte limit"
                )
            }
            SpecErrorKind::NotUtf8 => f.write_str("file is not valid UTF-8"),
            SpecErrorKind::Empty => f.write_str("file is empty, expected a YAML document"),
        }
    }
}

/// An error in a spec file, rendered on one line as
/// `assay.yaml:14:5: spec.traffic.candidateWeight: must be between 0 and 100, got 120`.
///
/// ```
/// use assay::spec::{Location, SpecError, SpecErrorKind};
/// let e = SpecError::new(
///     "assay.yaml",
///     Location { line: 14, column: 5 },
///     "spec.traffic.candidateWeight",
///     SpecErrorKind::Invalid("must be between 0 and 100, got 120".into()),
/// );
/// assert_eq!(
///     e.to_string(),
///     "assay.yaml:14:5: spec.traffic.candidateWeight: must be between 0 and 100, got 120"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The file as the user named it (relative to the app directory in `generate`).
    pub file: String,
    /// Where the offending value starts; the file start for errors about the whole file.
    pub location: Location,
    /// Dotted field path (`spec.experiment.objectives[1].metric`); empty for
    /// errors about the whole file.
    pub path: String,
    /// What went wrong.
    pub kind: SpecErrorKind,
}

impl SpecError {
    /// An error at `location`; `path` is empty for errors about the whole file.
    pub fn new(
        file: impl Into<String>,
        location: Location,
        path: impl Into<String>,
        kind: SpecErrorKind,
    ) -> SpecError {
        SpecError {
            file: file.into(),
            location,
            path: path.into(),
            kind,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Location { line, column } = self.location;
        write!(f, "{}:{line}:{column}: ", self.file)?;
        if !self.path.is_empty() {
            // A key in the path is as much the input as a value is.
            let segments: Vec<String> = self.path.split('.').map(cut_quoted).collect();
            write!(f, "{}: ", segments.join("."))?;
        }
        // One line, always: a message with a newline would be cut in the UI.
        let msg = self.kind.to_string();
        f.write_str(&cut_quoted(&msg.replace(['\n', '\r'], " ")))
    }
}

/// Characters of a quoted value an error echoes; the rest is cut.
pub const MAX_ECHO: usize = 80;

/// `msg` with every echoed value longer than [`MAX_ECHO`] characters cut,
/// with an ellipsis: a quoted one (`"…"` as `{:?}` writes it, or `` `…` ``
/// as serde does) and an unquoted word (a file name in an OS error). An
/// error about a 200 KB version string is still one readable line.
fn cut_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(1024));
    let mut chars = msg.chars();
    let mut word = 0;
    while let Some(c) = chars.next() {
        word = if c.is_whitespace() { 0 } else { word + 1 };
        if word > MAX_ECHO && c != '"' && c != '`' {
            if word == MAX_ECHO + 1 {
                out.push('…');
            }
            continue;
        }
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        // Inside a quoted value: copy up to MAX_ECHO characters of it.
        let (mut kept, mut escaped, mut cut) = (0, false, false);
        for d in chars.by_ref() {
            let closing = d == c && !escaped;
            if !closing && kept >= MAX_ECHO {
                if !cut {
                    out.push('…');
                    cut = true;
                }
                escaped = c == '"' && d == '\\' && !escaped;
                continue;
            }
            out.push(d);
            if closing {
                break;
            }
            escaped = c == '"' && d == '\\' && !escaped;
            kept += 1;
        }
        word = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: a long invalid value is echoed cut, not whole.
    #[test]
    fn long_values_and_keys_are_cut() {
        let key = "k".repeat(5_000);
        let e = SpecError::new(
            "a.yaml",
            Location::START,
            format!("spec.env.{key}.x"),
            SpecErrorKind::Invalid("bad".into()),
        );
        let cut = format!("{}…", "k".repeat(MAX_ECHO));
        assert_eq!(e.to_string(), format!("a.yaml:1:1: spec.env.{cut}.x: bad"));
        let long = "v".repeat(200_000);
        let e = SpecError::new(
            "assay.yaml",
            Location { line: 3, column: 5 },
            "spec.baseline.version",
            SpecErrorKind::Invalid(format!("must be a label, got {long:?}; and `{long}`")),
        );
        let line = e.to_string();
        let cut = format!("{}…", "v".repeat(MAX_ECHO));
        assert_eq!(
            line,
            format!(
                "assay.yaml:3:5: spec.baseline.version: must be a label, got \"{cut}\"; and `{cut}`"
            )
        );
    }

    #[test]
    fn short_values_and_escapes_are_kept() {
        let e = SpecError::new(
            "a.yaml",
            Location::START,
            "",
            SpecErrorKind::Invalid(r#"got "a\"b", `c`"#.into()),
        );
        assert_eq!(e.to_string(), r#"a.yaml:1:1: got "a\"b", `c`"#);
        let escaped = format!(
            "{:?}",
            format!("{}\"{}", "x".repeat(MAX_ECHO), "y".repeat(9))
        );
        let e = SpecError::new(
            "a.yaml",
            Location::START,
            "",
            SpecErrorKind::Invalid(escaped),
        );
        assert_eq!(
            e.to_string(),
            format!("a.yaml:1:1: \"{}…\"", "x".repeat(MAX_ECHO))
        );
        let os = format!("{}: File name too long (os error 36)", "d".repeat(3_000));
        let e = SpecError::new("a.yaml", Location::START, "", SpecErrorKind::Invalid(os));
        let cut = format!("{}…", "d".repeat(MAX_ECHO));
        assert_eq!(
            e.to_string(),
            format!("a.yaml:1:1: {cut} File name too long (os error 36)")
        );
    }
}
