//! The env repository: comment-preserving edits of `assay.yaml` (what CI
//! proposes and what a verdict changes), and writing them back to Git safely
//! against concurrent writers. Depends on `spec` only; never on rendering.

pub mod credentials;
pub mod edit;
pub mod forge;
mod hostkey;
pub mod local;
pub mod propose;
pub mod repo;
mod snapshot;
pub mod transport;
pub mod writeback;
