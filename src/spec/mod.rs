//! `assay.yaml`: its types, defaults, validation and experiment id. Depends on
//! nothing else in assay but [`crate::yaml`], which reads it. Reading is
//! two-stage: [`raw`] mirrors the file and keeps positions; [`validate`] applies every rule and default once, giving a
//! [`Release`] that the rest of assay can trust.

mod check;
mod duration;
mod id;
mod model;
pub mod names;
pub mod raw;
mod raw_prometheus;
pub mod rules;
mod validate;
mod validate_delivery;
mod validate_experiment;

use std::path::Path;

pub use crate::yaml::{Location, SpecError, SpecErrorKind};
use crate::yaml::{check_text, from_str, read_file};
pub use duration::{parse as parse_duration, seconds};
pub use id::{ID_LEN, experiment_id};
pub use model::*;
pub use validate::{MAX_NAME_LEN, inside_dir};
pub use validate_experiment::{PLACEHOLDERS, parse_limit};

/// The spec's file name inside an app directory.
pub const FILE_NAME: &str = "assay.yaml";

/// Parses and validates the text of a spec; `file` names it in errors.
///
/// ```
/// let text = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\n\
///             spec:\n  baseline: {version: v1, image: web:1}\n";
/// let release = assay::spec::parse("assay.yaml", text.as_bytes()).unwrap();
/// assert_eq!(release.baseline.version, "v1");
/// assert!(release.candidate.is_none());
/// ```
pub fn parse(file: &str, bytes: &[u8]) -> Result<Release, SpecError> {
    let raw = parse_raw(file, bytes)?;
    validate::release(file, &raw)
}

/// Parses without validating: the shape as written, for tools that edit it.
pub fn parse_raw(file: &str, bytes: &[u8]) -> Result<raw::RawRelease, SpecError> {
    from_str(file, check_text(file, bytes)?)
}

/// The JSON Schema of `assay.yaml` (`assay schema`), for editors.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(raw::RawRelease);
    // A schema is plain data; serialising it cannot fail.
    serde_json::to_string_pretty(&schema).expect("serialisable schema") + "\n"
}

/// Reads and validates `path`, naming it `display` in errors.
pub fn load(path: &Path, display: &str) -> Result<Release, SpecError> {
    parse(display, &read_file(path, display)?)
}
