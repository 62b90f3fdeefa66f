//! Why an edit of `assay.yaml` was refused. Each message is one line that
//! says what to do next, because CI logs and the hook's status show nothing
//! else; when an edit is refused the caller writes nothing.

use std::fmt;

use crate::spec::{Rejected, SpecError};

/// What was being done, for messages ("cannot promote: …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `set_candidate` or `receive_winner`.
    Propose,
    /// `clear_candidate`.
    Clear,
    /// `apply_verdict` with promote.
    Promote,
    /// `apply_verdict` with reject.
    Reject,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Propose => "set the candidate",
            Action::Clear => "clear the candidate",
            Action::Promote => "promote",
            Action::Reject => "reject",
        })
    }
}

/// An edit that was refused; the text it was given stays as it was. Large
/// parts are boxed so that errors wrapping this one stay small.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The file as given does not parse as a spec.
    #[error(transparent)]
    Spec(Box<SpecError>),
    /// The proposed version failed an earlier experiment: its record.
    #[error(
        "{} was rejected{}; pass --force to propose it again",
        .0.version,
        history(&.0.experiment, &.0.reason)
    )]
    Rejected(Box<Rejected>),
    /// The proposed image failed an earlier experiment (under another
    /// version): its record.
    #[error(
        "image {} was rejected as {}{}; pass --force to propose it again",
        .0.image,
        .0.version,
        history(&.0.experiment, &.0.reason)
    )]
    RejectedImage(Box<Rejected>),
    /// The proposed version is the one already running as the baseline.
    #[error("{version} is already the baseline; a candidate needs a different version")]
    SameAsBaseline {
        /// The baseline's version.
        version: String,
    },
    /// CRLF and LF mixed (or a lone CR): no single line end can be written back.
    #[error("the file mixes CRLF and LF line ends; convert it to one of them first")]
    LineEnds,
    /// A construct the text editor does not handle (flow-style `spec`, two
    /// entries on one line, …): refused rather than rewritten.
    #[error("line {line}: cannot edit this layout: {what}")]
    Layout {
        /// 1-based line of the construct.
        line: usize,
        /// What it is and how to rewrite it.
        what: String,
    },
    /// The edit would remove or change an anchor that an alias elsewhere uses.
    #[error(
        "{section} defines the anchor &{anchor}, which is used elsewhere in the file; editing {section} would change what *{anchor} means, so move that anchor out of {section} first"
    )]
    AnchorInUse {
        /// The anchor's name.
        anchor: String,
        /// The field path that defines it (`spec.candidate`).
        section: String,
    },
    /// The edited text does not parse: the edit went wrong, nothing is written.
    #[error("cannot {action}: the edited file would not parse ({cause}); nothing was written")]
    Broken {
        /// What was being done.
        action: Action,
        /// The parser's error on the edited text.
        cause: Box<SpecError>,
    },
    /// The edited text parses but the spec is not valid.
    #[error("cannot {action}: the edited file would not be valid ({cause})")]
    Invalid {
        /// What was being done.
        action: Action,
        /// The validation error on the edited text.
        cause: Box<SpecError>,
    },
    /// The edited text does not hold the intended value: a bug, caught.
    #[error(
        "cannot {action}: the edited file would not hold the intended value at {path}; nothing was written (please report this)"
    )]
    Unverified {
        /// What was being done.
        action: Action,
        /// The first field path that differs.
        path: String,
    },
    /// The edit changed text outside the keys it edits: a bug, caught.
    #[error(
        "cannot {action}: the edit would also change line {line}, outside the keys it edits; nothing was written (please report this)"
    )]
    Disturbed {
        /// What was being done.
        action: Action,
        /// 1-based line of the edited text that should not have changed.
        line: usize,
    },
}

impl From<SpecError> for EditError {
    fn from(e: SpecError) -> EditError {
        EditError::Spec(Box::new(e))
    }
}

/// ` in experiment 1a2b3c4d5e (error-rate 0.05 > 0.01)`, or less when the
/// record lacks the experiment or the reason.
fn history(experiment: &Option<String>, reason: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(e) = experiment {
        s.push_str(&format!(" in experiment {e}"));
    }
    if let Some(r) = reason.as_deref().filter(|r| !r.is_empty()) {
        s.push_str(&format!(" ({})", r.lines().next().unwrap_or(r)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_say_what_to_do() {
        let record = Rejected {
            version: "v3".into(),
            image: "web:3".into(),
            experiment: Some("1a2b3c4d5e".into()),
            reason: Some("error-rate 0.05 > 0.01".into()),
            date: None,
        };
        let e = EditError::Rejected(Box::new(record.clone()));
        assert_eq!(
            e.to_string(),
            "v3 was rejected in experiment 1a2b3c4d5e (error-rate 0.05 > 0.01); pass --force to propose it again"
        );
        let e = EditError::RejectedImage(Box::new(Rejected {
            experiment: None,
            reason: None,
            ..record
        }));
        assert_eq!(
            e.to_string(),
            "image web:3 was rejected as v3; pass --force to propose it again"
        );
        // Small enough to wrap without boxing.
        assert!(std::mem::size_of::<EditError>() <= 64);
    }
}
