//! Edits of `assay.yaml` as text: what CI proposes (`assay candidate set` /
//! `clear`) and what a verdict changes (promote, reject, the queue advancing,
//! a `promotion.next` environment receiving the winner). Text in, text out:
//! no files, no Git, no clock — the caller reads, writes and dates.
//!
//! The file is a person's: comments, order, quoting, blank lines and line
//! ends of everything an edit does not change survive byte for byte, and new
//! blocks follow the file's indentation. Every edit works the same way:
//!
//! 1. parse the text with [`spec::parse_raw`] and build the intended spec as a
//!    value (the parsed spec with the change applied);
//! 2. splice the text: yaml-edit's lossless syntax tree and lexer locate each
//!    entry, list item and anchor, and only those lines are rewritten, with
//!    values rendered here (`splice`, `render`);
//! 3. parse the edited text again and require exactly the intended value, a
//!    valid spec ([`spec::parse`]) and no change outside the edited `spec`
//!    entries (`verify`); otherwise refuse, so nothing wrong is written.
//!
//! yaml-edit's own mutation API is not used for the edits because, in 0.3.6,
//! it indents new nested blocks by two spaces whatever the file uses, leaves
//! `12:30`, `y`, `n`, `=` and `1_000` unquoted (YAML 1.1 readers misread
//! them), drops the quotes of a replaced scalar, and, when an anchored node is
//! replaced, moves the anchor onto an alias elsewhere — rewriting text outside
//! the edited key.
//!
//! Constructs the splicer does not handle (a flow-style `spec`, two entries
//! on one line, an anchor used elsewhere inside what must change, mixed line
//! ends) are refused with an [`EditError`] that says what to change by hand.

mod error;
mod layout;
mod splice;
mod verify;
mod write;

#[cfg(test)]
mod tests;

use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use error::{Action, EditError};

use crate::spec::{
    self,
    raw::{OnNewCandidate, RawRejected, RawRelease, RawVersion},
};
use layout::Text;
use splice::same_all;

/// The number of rejected candidates kept when `promotion.maxRejected` is unset.
pub const DEFAULT_MAX_REJECTED: usize = 20;

/// A version as CI proposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Label value and Deployment name suffix (`<name>-<version>`).
    pub version: String,
    /// Container image.
    pub image: String,
    /// Environment of the container, in order; empty writes no `env`.
    pub env: IndexMap<String, String>,
}

impl Proposal {
    /// As the spec writes a version (`env` left out when empty).
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("version".into(), Value::String(self.version.clone()));
        m.insert("image".into(), Value::String(self.image.clone()));
        if !self.env.is_empty() {
            let env = self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            m.insert("env".into(), Value::Object(env));
        }
        Value::Object(m)
    }

    /// Whether `v` is this proposal (an absent and an empty `env` are alike;
    /// env order counts).
    fn is(&self, v: &RawVersion) -> bool {
        let env: Vec<_> = v.env.iter().flatten().collect();
        v.version.value == self.version
            && v.image.value == self.image
            && env.len() == self.env.len()
            && env.iter().zip(&self.env).all(|(a, b)| *a == b)
    }
}

/// What a proposal did to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposed {
    /// It is now the candidate (added, or replacing the one under test).
    Candidate,
    /// Appended to `spec.queue`; `position` 1 is tested next.
    Queued {
        /// 1-based place in the queue.
        position: usize,
    },
    /// Already the candidate or queued (or, for a winner, the baseline): the
    /// text is returned as given.
    Unchanged,
}

/// The hook's judgement of an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictEdit {
    /// The candidate becomes the baseline.
    Promote,
    /// The candidate is dropped and recorded under `spec.rejected`.
    Reject {
        /// Why, in a few words (`error-rate 0.05 > 0.01`).
        reason: String,
        /// When, as the caller formats it (RFC 3339 recommended).
        date: String,
    },
}

/// What [`apply_verdict`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The verdict is in `text`.
    Changed {
        /// The edited file.
        text: String,
        /// `spec.promotion.next` paths that receive the winner (promote only).
        next: Vec<String>,
    },
    /// The file no longer holds the experiment; nothing changed.
    Superseded {
        /// The experiment the file holds now; `None` without a candidate.
        found: Option<String>,
    },
}

/// The file parsed, normalised for editing, and as a value to change.
struct Loaded {
    text: Text,
    raw: RawRelease,
    want: Value,
}

impl Loaded {
    fn new(text: &str, action: Action) -> Result<Loaded, EditError> {
        let raw = spec::parse_raw(spec::FILE_NAME, text.as_bytes())?;
        let want = verify::value_of(&raw, action)?;
        Ok(Loaded {
            text: Text::new(text)?,
            raw,
            want,
        })
    }

    /// `spec.<key>` of the file as a value.
    fn get(&self, key: &str) -> Option<&Value> {
        self.want.get("spec")?.get(key)
    }

    /// The list `spec.<key>` of the file (empty when absent).
    fn list(&self, key: &str) -> Vec<Value> {
        self.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets (or with `None`, or an empty list, removes) `spec.<key>` of the
    /// intended spec.
    fn set(&mut self, key: &str, value: Option<Value>, action: Action) -> Result<(), EditError> {
        let spec = self
            .want
            .get_mut("spec")
            .and_then(Value::as_object_mut)
            .ok_or(EditError::Unverified {
                action,
                path: "spec".into(),
            })?;
        match value {
            Some(Value::Array(a)) if a.is_empty() => {
                spec.remove(key);
            }
            Some(v) => {
                spec.insert(key.to_string(), v);
            }
            None => {
                spec.remove(key);
            }
        }
        Ok(())
    }

    fn finish(&self, lf: &str, touched: &[&str], action: Action) -> Result<String, EditError> {
        verify::finish(&self.text, lf, &self.want, touched, action)
    }
}

/// CI: propose a candidate.
///
/// Refuses a version or image listed under `spec.rejected` unless `force`,
/// and a version equal to the baseline's. With `promotion.onNewCandidate:
/// queue` and a candidate under test, the proposal is appended to
/// `spec.queue` (unchanged if that version is already the candidate or
/// queued); otherwise (`preempt`, the default) it replaces the candidate. A
/// new `candidate` entry goes right after `baseline`.
///
/// ```
/// use assay::gitops::edit::{set_candidate, Proposal, Proposed};
/// let text = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\n\
///             spec:\n  baseline: {version: v1, image: web:1}  # live\n";
/// let p = Proposal { version: "v2".into(), image: "web:2".into(), env: Default::default() };
/// let (edited, outcome) = set_candidate(text, &p, false).unwrap();
/// assert_eq!(outcome, Proposed::Candidate);
/// assert!(edited.ends_with("# live\n  candidate:\n    version: v2\n    image: web:2\n"));
/// ```
pub fn set_candidate(
    text: &str,
    p: &Proposal,
    force: bool,
) -> Result<(String, Proposed), EditError> {
    let action = Action::Propose;
    let mut l = Loaded::new(text, action)?;
    let spec = &l.raw.spec.value;
    if spec.baseline.value.version.value == p.version {
        return Err(EditError::SameAsBaseline {
            version: p.version.clone(),
        });
    }
    if !force {
        refuse_rejected(spec.rejected.as_deref().unwrap_or_default(), p)?;
    }
    let queue_mode =
        spec.promotion.as_ref().and_then(|p| p.on_new_candidate) == Some(OnNewCandidate::Queue);
    let unchanged = || Ok((text.to_string(), Proposed::Unchanged));
    match &spec.candidate {
        Some(c) if p.is(&c.value) => unchanged(),
        Some(c) if queue_mode => {
            let queued = spec.queue.iter().flatten();
            if c.value.version.value == p.version
                || queued.clone().any(|q| q.value.version.value == p.version)
            {
                return unchanged();
            }
            let old = l.list("queue");
            let mut new = old.clone();
            new.push(p.to_value());
            let position = new.len();
            let lf = splice::put_list(&l.text.lf, "queue", &old, &new, &["candidate", "baseline"])?;
            l.set("queue", Some(Value::Array(new)), action)?;
            Ok((
                l.finish(&lf, &["queue"], action)?,
                Proposed::Queued { position },
            ))
        }
        _ => {
            let value = p.to_value();
            let lf = splice::put_entry(&l.text.lf, "candidate", &value, &["baseline"])?;
            l.set("candidate", Some(value), action)?;
            Ok((l.finish(&lf, &["candidate"], action)?, Proposed::Candidate))
        }
    }
}

/// The newest record of `rejected` naming `p`'s version, else its image.
fn refuse_rejected(rejected: &[RawRejected], p: &Proposal) -> Result<(), EditError> {
    let record = |r: &RawRejected| {
        Box::new(spec::Rejected {
            version: r.version.clone(),
            image: r.image.clone(),
            experiment: r.experiment.clone(),
            reason: r.reason.clone(),
            date: r.date.clone(),
        })
    };
    if let Some(r) = rejected.iter().rev().find(|r| r.version == p.version) {
        return Err(EditError::Rejected(record(r)));
    }
    if let Some(r) = rejected.iter().rev().find(|r| r.image == p.image) {
        return Err(EditError::RejectedImage(record(r)));
    }
    Ok(())
}

/// CI: drop the candidate, and nothing else (the queue does not advance:
/// that is a verdict's job). The text comes back unchanged without one.
pub fn clear_candidate(text: &str) -> Result<String, EditError> {
    let action = Action::Clear;
    let mut l = Loaded::new(text, action)?;
    if l.raw.spec.value.candidate.is_none() {
        return Ok(text.to_string());
    }
    let lf = splice::remove_entry(&l.text.lf, "candidate")?;
    l.set("candidate", None, action)?;
    l.finish(&lf, &["candidate"], action)
}

/// The hook: apply verdict `v` for experiment `id`, only if the file still
/// holds that experiment (its candidate's [`spec::experiment_id`] is `id`);
/// otherwise [`Applied::Superseded`] and nothing changes. Applying the same
/// verdict twice is therefore harmless: the second finds the candidate gone.
///
/// - promote: the baseline takes every field of the candidate (version,
///   image, env); fields that did not change keep their comments.
/// - reject: the candidate is appended to `spec.rejected` as `{version,
///   image, experiment, reason, date}`, keeping the newest
///   `promotion.maxRejected` (default 20) records.
///
/// Either way the candidate is removed and the head of `spec.queue` becomes
/// the candidate (in the old candidate's place; `queue` goes when empty).
/// Queued versions equal to the (new) baseline are dropped on the way, as
/// they cannot be a candidate.
pub fn apply_verdict(text: &str, id: &str, v: &VerdictEdit) -> Result<Applied, EditError> {
    let action = match v {
        VerdictEdit::Promote => Action::Promote,
        VerdictEdit::Reject { .. } => Action::Reject,
    };
    let mut l = Loaded::new(text, action)?;
    let spec = &l.raw.spec.value;
    let Some(candidate) = &spec.candidate else {
        return Ok(Applied::Superseded { found: None });
    };
    let found = spec::experiment_id(&l.raw);
    if found != id {
        return Ok(Applied::Superseded { found: Some(found) });
    }
    let winner = l.get("candidate").cloned().unwrap_or_default();
    let baseline = match v {
        VerdictEdit::Promote => candidate.value.version.value.clone(),
        VerdictEdit::Reject { .. } => spec.baseline.value.version.value.clone(),
    };
    let record = match v {
        VerdictEdit::Promote => None,
        VerdictEdit::Reject { reason, date } => {
            Some(rejected_record(&candidate.value, id, reason, date))
        }
    };
    let old_queue = l.list("queue");
    let mut queue = old_queue.clone();
    while queue
        .first()
        .is_some_and(|q| q.get("version").and_then(Value::as_str) == Some(&baseline))
    {
        queue.remove(0);
    }
    let head = (!queue.is_empty()).then(|| queue.remove(0));
    let next: Vec<String> = match v {
        VerdictEdit::Promote => spec
            .promotion
            .iter()
            .flat_map(|p| p.next.iter().flatten())
            .filter_map(|n| n.value.path().map(str::to_string))
            .collect(),
        VerdictEdit::Reject { .. } => Vec::new(),
    };
    let max_rejected = spec
        .promotion
        .as_ref()
        .and_then(|p| p.max_rejected.as_ref())
        .map_or(DEFAULT_MAX_REJECTED, |m| m.value.clamp(1, 1000) as usize);

    let mut lf = match &head {
        Some(h) => splice::put_entry(&l.text.lf, "candidate", h, &["baseline"])?,
        None => splice::remove_entry(&l.text.lf, "candidate")?,
    };
    l.set("candidate", head, action)?;
    // An untouched queue stays as written, even an empty `queue: []`.
    if !same_all(&old_queue, &queue) {
        lf = splice::put_list(&lf, "queue", &old_queue, &queue, &["candidate", "baseline"])?;
        l.set("queue", Some(Value::Array(queue)), action)?;
    }
    let touched = match record {
        None => {
            let want = winner.as_object().cloned().unwrap_or_default();
            let have = l
                .get("baseline")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            lf = splice::set_fields(&lf, "baseline", &want, &have)?;
            l.set("baseline", Some(winner), action)?;
            ["candidate", "queue", "baseline"]
        }
        Some(record) => {
            let old = l.list("rejected");
            let mut new = old.clone();
            new.push(record);
            let excess = new.len().saturating_sub(max_rejected);
            new.drain(..excess);
            lf = splice::put_list(&lf, "rejected", &old, &new, &[])?;
            l.set("rejected", Some(Value::Array(new)), action)?;
            ["candidate", "queue", "rejected"]
        }
    };
    let text = l.finish(&lf, &touched, action)?;
    Ok(Applied::Changed { text, next })
}

/// A `spec.rejected` record, fields in the order the spec documents them.
fn rejected_record(c: &RawVersion, id: &str, reason: &str, date: &str) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("version", c.version.value.as_str()),
        ("image", c.image.value.as_str()),
        ("experiment", id),
        ("reason", reason),
        ("date", date),
    ] {
        m.insert(k.into(), Value::String(v.into()));
    }
    Value::Object(m)
}

/// A `promotion.next` environment receives the winner as its candidate: the
/// rules of [`set_candidate`] (`force` as the entry says), and
/// [`Proposed::Unchanged`] when the winner already runs there as the baseline.
pub fn receive_winner(
    text: &str,
    winner: &Proposal,
    force: bool,
) -> Result<(String, Proposed), EditError> {
    let raw = spec::parse_raw(spec::FILE_NAME, text.as_bytes())?;
    if raw.spec.value.baseline.value.version.value == winner.version {
        return Ok((text.to_string(), Proposed::Unchanged));
    }
    set_candidate(text, winner, force)
}
