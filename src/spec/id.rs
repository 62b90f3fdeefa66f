//! The experiment identity: a content hash of what the experiment depends on
//! (name, workload, baseline, candidate, traffic, experiment, loadgen) as
//! parsed from `assay.yaml` alone, plus [`RENDER_EPOCH`]. Never the environment, parameters or commit SHA: the
//! write-back recomputes it from the file at the branch head to tell whether
//! Git still holds this experiment, and Argo CD may reuse cached output under
//! a newer SHA. Comments, formatting and the `queue`/`rejected` lists do not
//! change it; unset optional fields are left out, so adding a field to the
//! spec later keeps existing ids.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::raw::{RawJudging, RawLoadgen, RawRelease, RawTraffic, RawVersion, RawWorkload};

/// Hex characters kept: 40 bits, short enough for object names.
pub const ID_LEN: usize = 10;

/// Bumped whenever assay renders an experiment's immutable objects (the
/// loadgen Job's template) differently. The Job is named from the id, so a
/// new rendering gets a new Job instead of an apply Kubernetes must refuse;
/// a running experiment is then superseded by an identical new one.
pub const RENDER_EPOCH: u32 = 1;

#[derive(Serialize)]
struct IdInput<'a> {
    epoch: u32,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    workload: Option<&'a RawWorkload>,
    baseline: &'a RawVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<&'a RawVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic: Option<&'a RawTraffic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a RawJudging>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loadgen: Option<&'a RawLoadgen>,
}

/// The id of the experiment `raw` describes.
pub fn experiment_id(raw: &RawRelease) -> String {
    let spec = &raw.spec.value;
    let input = IdInput {
        epoch: RENDER_EPOCH,
        name: &raw.metadata.value.name.value,
        workload: spec.workload.as_ref(),
        baseline: &spec.baseline.value,
        candidate: spec.candidate.as_ref().map(|c| &c.value),
        traffic: spec.traffic.as_ref().map(|t| &t.value),
        experiment: spec.experiment.as_ref().map(|e| &e.value),
        loadgen: spec.loadgen.as_ref().map(|l| &l.value),
    };
    // Serialising plain data structures to JSON cannot fail.
    let json = serde_json::to_vec(&input).expect("serialisable");
    let digest = Sha256::digest(&json);
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..ID_LEN]
        .to_string()
}

#[cfg(test)]
mod tests {
    fn id(text: &str) -> String {
        crate::spec::parse("assay.yaml", text.as_bytes())
            .unwrap()
            .id
    }

    const BASE: &str = "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\nspec:\n  baseline: {version: v1, image: web:1}\n  candidate: {version: v2, image: web:2}\n";

    #[test]
    fn formatting_comments_and_lists_do_not_change_it() {
        let reformatted = "# a comment\napiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  baseline:\n    version: v1   # still v1\n    image: \"web:1\"\n  candidate: {version: v2, image: 'web:2'}\n  queue: [{version: v3, image: web:3}]\n  rejected: [{version: v0, image: web:0}]\n  promotion: {mode: push}\n";
        assert_eq!(id(BASE), id(reformatted));
        assert_eq!(id(BASE).len(), super::ID_LEN);
    }

    #[test]
    fn the_experiment_content_changes_it() {
        assert_ne!(id(BASE), id(&BASE.replace("web:2", "web:2.1")));
        assert_ne!(
            id(BASE),
            id(&format!(
                "{BASE}  traffic: {{router: istio, candidateWeight: 5}}\n"
            ))
        );
        assert_ne!(id(BASE), id(&format!("{BASE}  loadgen: {{qps: 4}}\n")));
        // The port is in the loadgen Job's immutable template (its default URL).
        assert_ne!(id(BASE), id(&format!("{BASE}  workload: {{port: 8081}}\n")));
    }
}
