//! Snapshots of what `assay generate` prints for the samples, so any change
//! to the output (including quoting) is reviewed as a diff.

use crate::support::{app_copy, bookinfo_with_candidate, generate_ok, repo_root, sample_dir};

fn bookinfo(spec: Option<&str>) -> String {
    let dir = app_copy(&sample_dir("bookinfo"), spec);
    generate_ok(dir.path(), &[])
}

#[test]
fn bookinfo_steady_state() {
    insta::assert_snapshot!(bookinfo(None));
}

#[test]
fn bookinfo_with_a_candidate() {
    insta::assert_snapshot!(bookinfo(Some(&bookinfo_with_candidate())));
}

#[test]
fn bookinfo_gateway_api() {
    let spec = bookinfo_with_candidate()
        .replace("router: istio", "router: gateway-api")
        .replace("    hosts: [bookinfo.example.com]\n", "")
        .replace("    gateways: [mesh, bookinfo-gateway]\n", "");
    insta::assert_snapshot!(bookinfo(Some(&spec)));
}

#[test]
fn bookinfo_no_router() {
    let spec = bookinfo_with_candidate()
        .replace("router: istio", "router: none")
        .replace("    candidateWeight: 20\n", "")
        .replace("    hosts: [bookinfo.example.com]\n", "")
        .replace("    gateways: [mesh, bookinfo-gateway]\n", "");
    insta::assert_snapshot!(bookinfo(Some(&spec)));
}

#[test]
fn minimal_inline_workload() {
    let dir = repo_root().join("tests/fixtures/render/minimal");
    let out = generate_ok(&dir, &[]);
    // YAML 1.1 readers must see strings, not booleans or octal numbers.
    for quoted in ["value: \"on\"", "value: \"0755\"", "value: \"no\""] {
        assert!(out.contains(quoted), "{quoted} missing");
    }
    insta::assert_snapshot!(out);
}

/// The experiment id labels every experiment object and names the Job.
#[test]
fn one_experiment_id_everywhere() {
    let out = bookinfo(Some(&bookinfo_with_candidate()));
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&out).unwrap();
    let exp = docs.iter().find(|d| d["kind"] == "Experiment").unwrap();
    let id = exp["spec"]["id"].as_str().unwrap();
    let labelled: Vec<_> = docs
        .iter()
        .filter(|d| d["metadata"]["labels"]["assay.dev/experiment"].is_string())
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
                &d["metadata"]["labels"]["assay.dev/experiment"],
            )
        })
        .collect();
    let kinds: Vec<_> = labelled
        .iter()
        .map(|(k, n, _)| format!("{k}/{n}"))
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount/productpage-assay",
            "Role/productpage-assay",
            "RoleBinding/productpage-assay",
            "Deployment/productpage-v2",
            &format!("Experiment/productpage-{id}"),
            "Job/productpage-promote",
            "Job/productpage-syncfail",
        ]
    );
    assert!(labelled.iter().all(|(_, _, v)| *v == id));
}

/// Promotion must not restart pods: the candidate's pod template is the one
/// the same version gets once it is the baseline.
#[test]
fn promotion_keeps_the_pod_template() {
    let with = bookinfo(Some(&bookinfo_with_candidate()));
    let promoted = std::fs::read_to_string(sample_dir("bookinfo").join("assay.yaml"))
        .unwrap()
        .replace("color: red", "color: green")
        .replace("reward_min: \"0\"", "reward_min: \"10\"")
        .replace("reward_max: \"5\"", "reward_max: \"20\"")
        .replace("version: v1", "version: v2");
    let after = bookinfo(Some(&promoted));
    let template = |out: &str, name: &str| {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(out).unwrap();
        docs.into_iter()
            .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == name)
            .map(|d| d["spec"].clone())
            .unwrap()
    };
    assert_eq!(
        template(&with, "productpage-v2"),
        template(&after, "productpage-v2")
    );
}

/// The template is honoured whole: what assay does not own survives.
#[test]
fn template_settings_survive() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("assay.yaml"),
        "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\nspec:\n  workload: {template: deploy.yaml}\n  baseline: {version: v1, image: web:1}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {team: shop}\n  annotations: {owner: shop@example.com}\nspec:\n  strategy: {type: Recreate}\n  minReadySeconds: 15\n  revisionHistoryLimit: 3\n  progressDeadlineSeconds: 120\n  template:\n    spec:\n      containers: [{name: web, image: placeholder}]\n",
    )
    .unwrap();
    let out = generate_ok(dir.path(), &[]);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&out).unwrap();
    let d = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(d["spec"]["minReadySeconds"], 15);
    assert_eq!(d["spec"]["revisionHistoryLimit"], 3);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 120);
    assert_eq!(d["metadata"]["labels"]["team"], "shop");
    assert_eq!(d["metadata"]["annotations"]["owner"], "shop@example.com");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:1"
    );
}

/// Images that run as root by name need a numeric user in the spec.
#[test]
fn inline_run_as_user() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("assay.yaml"),
        "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\nspec:\n  workload: {runAsUser: 101}\n  baseline: {version: v1, image: nginx:1.27}\n",
    )
    .unwrap();
    let out = generate_ok(dir.path(), &[]);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&out).unwrap();
    let d = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let sc = &d["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        (
            sc["runAsUser"].as_i64(),
            sc["runAsGroup"].as_i64(),
            sc["fsGroup"].as_i64()
        ),
        (Some(101), Some(101), Some(101))
    );
    assert_eq!(sc["runAsNonRoot"], true);
}

/// Issue 16: valid YAML is not refused for a parser budget. A comment block
/// longer than serde-saphyr's default run of 32 (between a key and its
/// value, and between entries) in `assay.yaml`, the template and a
/// passthrough manifest; and a large, deeply nested CRD. All render, and the
/// manifests pass through as written.
#[test]
fn r16_long_comment_blocks_and_a_large_crd_render() {
    let comments =
        |indent: usize| format!("{}# a long explanation\n", " ".repeat(indent)).repeat(400);
    let spec = bookinfo_with_candidate()
        .replace("  loadgen:\n", &format!("  loadgen:\n{}", comments(4)))
        .replace(
            "  experiment:\n",
            &format!("{}  experiment:\n", comments(2)),
        );
    let dir = app_copy(&sample_dir("bookinfo"), Some(&spec));
    let template = dir.path().join("productpage-deployment.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    let text = text.replacen("spec:\n", &format!("spec:\n{}", comments(2)), 1);
    std::fs::write(&template, text).unwrap();
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n{}  name: notes\ndata:\n{}  a: b\n",
        comments(2),
        comments(0)
    );
    std::fs::write(dir.path().join("notes.yaml"), &manifest).unwrap();
    // A CRD schema 40 properties deep (over 80 YAML levels, past
    // serde-saphyr's default depth of 64) with 4,000 properties (0.3 MB).
    let mut schema = String::from("type: string");
    for level in 0..40 {
        schema = format!(
            "type: object\nproperties:\n  f{level}:\n{}",
            indent(&schema, 4)
        );
    }
    let wide: String = (0..4_000)
        .map(|i| format!("  p{i}:\n    type: string\n    description: property number {i}\n"))
        .collect();
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {{kind: Widget, plural: widgets}}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          deep:\n{}\n          wide:\n            type: object\n            properties:\n{}",
        indent(&schema, 12),
        indent(&wide, 12)
    );
    std::fs::write(dir.path().join("widgets-crd.yaml"), &crd).unwrap();
    let out = generate_ok(dir.path(), &[]);
    assert!(
        out.contains(&manifest),
        "notes.yaml passes through as written"
    );
    assert!(out.contains(&crd), "the CRD passes through as written");
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Issue 16: a manifest that starts with byte-order marks (two, from an
/// editor that added one to a file that had one) is passed through without
/// them, so a YAML 1.1 reader does not meet a mark inside the stream; a JSON
/// manifest's strings carry the characters YAML 1.1 reads as line breaks as
/// escapes.
#[test]
fn r16_passthrough_is_normalised_for_yaml_1_1_readers() {
    let dir = app_copy(&sample_dir("bookinfo"), None);
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marked\ndata:\n  a: b\n";
    std::fs::write(
        dir.path().join("marked.yaml"),
        format!("\u{feff}\u{feff}{yaml}"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lines.json"),
        "\u{feff}{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"lines\"}, \"data\": {\"a\": \"x\u{2028}y\u{85}z\"}}",
    )
    .unwrap();
    let out = generate_ok(dir.path(), &[]);
    assert!(out.contains(&format!("---\n{yaml}")), "{out}");
    for c in ['\u{feff}', '\u{2028}', '\u{2029}', '\u{85}'] {
        assert!(!out.contains(c), "U+{:04X} in the stream", c as u32);
    }
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&out).unwrap();
    let lines = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "lines")
        .unwrap();
    assert_eq!(lines["data"]["a"], "x\u{2028}y\u{85}z");
}
