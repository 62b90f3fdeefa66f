//! All YAML that assay reads or writes goes through this module, so that
//! there is one set of guards, one reading per file, and one idea of which
//! scalars are ambiguous:
//! - [`read_file`] and [`check_text`]: size cap, UTF-8, non-empty, before any
//!   parser sees the bytes;
//! - [`from_str`]: one typed document with positions and field paths (the
//!   spec, the template), under a small budget;
//! - [`documents`]: a stream of manifests as values, each with where it
//!   starts, under a budget sized for CRDs;
//! - [`to_string`], [`append`]: one document of the output stream;
//! - [`yaml_text`], [`escape_json`]: text passed through to Argo CD means to
//!   its YAML 1.1 reader what it means to assay;
//! - [`locate`]: where a field is written, for errors the parser cannot place;
//! - [`scalar`]: the table of scalars YAML 1.1 or 1.2 would misread, shared
//!   by the writer and the comment-preserving editor.
//!
//! It knows nothing of the spec's meaning; errors are [`SpecError`]s, "an
//! error in a file assay reads, at a place".

mod error;
pub mod locate;
mod portable;
mod read;
pub mod scalar;
mod write;

pub use error::{Location, SpecError, SpecErrorKind};
pub use locate::{field_location, location_at};
pub use portable::{escape_json, without_bom, yaml_text};
pub use read::{
    MAX_FILE_BYTES, Placed, check_text, document_alone, documents, from_str, read_file, utf8,
};
pub use write::{append, to_string};

/// A value with the place it was read from: how the spec's raw types carry
/// positions into validation errors.
pub use serde_saphyr::Spanned;
