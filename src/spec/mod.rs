//! `assay.yaml`: its types, defaults, validation and experiment id. Depends on
//! nothing else in assay. Reading is two-stage: [`raw`] mirrors the file and
//! keeps positions; [`validate`] applies every rule and default once, giving a
//! [`Release`] that the rest of assay can trust.

mod check;
mod duration;
mod error;
mod id;
mod model;
pub mod names;
pub mod plain;
mod plain_de;
pub mod raw;
pub mod untyped;
mod validate;
mod validate_delivery;
mod validate_experiment;
pub mod yaml;

use std::io::Read;
use std::path::Path;

pub use duration::{parse as parse_duration, seconds};
pub use error::{Location, SpecError, SpecErrorKind};
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

/// [`parse`] for `generate`'s hot path: plain YAML read without the general
/// parser (`spec::plain_de`), then validated. `None` when that reading is unsure
/// or the spec is invalid; [`parse`] then reads it and reports any error
/// with its place. A spec read this way has no positions (its [`Places`]
/// are the file start), so whoever uses it must take any later error from a
/// spec read by [`parse`] instead (as [`crate::generate::generate`] does).
pub fn parse_fast(file: &str, bytes: &[u8]) -> Option<Release> {
    let text = yaml::check_text(file, bytes).ok()?;
    let raw: raw::RawRelease = plain_de::from_str(text)?;
    validate::release(file, &raw).ok()
}

/// Parses without validating: the shape as written, for tools that edit it.
pub fn parse_raw(file: &str, bytes: &[u8]) -> Result<raw::RawRelease, SpecError> {
    let text = yaml::check_text(file, bytes)?;
    yaml::from_str_quick(file, text)
}

/// Reads a file, refusing more than [`yaml::MAX_FILE_BYTES`] without reading it all.
pub fn read_file(path: &Path, display: &str) -> Result<Vec<u8>, SpecError> {
    let io = |e: std::io::Error| {
        SpecError::new(
            display,
            Location::START,
            "",
            SpecErrorKind::Io(e.to_string()),
        )
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > yaml::MAX_FILE_BYTES {
        return Err(SpecError::new(
            display,
            Location::START,
            "",
            SpecErrorKind::TooLarge {
                bytes: len,
                limit: yaml::MAX_FILE_BYTES,
            },
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(yaml::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
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
