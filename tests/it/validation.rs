//! What the cluster will think of assay's output, checked by independent
//! tools: kubernetes-validate (strict, Kubernetes 1.33) for the core objects
//! and the CRD, the restricted Pod Security Standard for generated pods, and
//! jsonschema (Draft 2020-12) for `assay schema` against the samples.
//!
//! The Python tools come from `$ASSAY_PYTHON`, else `.ci/venv/bin/python`
//! (both set up by `.ci/run`). Without either these tests fail, never skip.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{assay_bin, bookinfo_with_candidate, repo_root, sample_dir};

const K8S_VERSION: &str = "1.33.1";

/// Core kinds kubernetes-validate has schemas for, by apiVersion.
const CORE: &[(&str, &str)] = &[
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
];

/// Custom resources (no schema in kubernetes-validate); anything else fails.
const CUSTOM: &[&str] = &[
    "Experiment",
    "VirtualService",
    "DestinationRule",
    "Gateway",
    "HTTPRoute",
];

/// The interpreter with kubernetes-validate and jsonschema installed.
pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ASSAY_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".ci/venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with kubernetes-validate and jsonschema: set ASSAY_PYTHON, or run .ci/run \
         (it creates .ci/venv with `pip install kubernetes-validate==1.33.1 jsonschema`)"
    );
    venv
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubernetes-validate --strict` of `file`; panics with its report on failure.
pub(crate) fn kubernetes_validate(file: &Path) -> Output {
    Command::new(python())
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "-k",
            K8S_VERSION,
            "--quiet",
        ])
        .arg(file)
        .output()
        .expect("python runs")
}

/// `samples/bookinfo` with `spec` as its `assay.yaml`, rendered.
fn render(spec: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample_dir("bookinfo")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join("assay.yaml"), spec).unwrap();
    let out = Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir.path())
        .env_clear()
        .env("ARGOCD_APP_NAME", "bookinfo")
        .env("ARGOCD_APP_NAMESPACE", "bookinfo")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://github.com/example/gitops.git",
        )
        .env("ARGOCD_APP_SOURCE_PATH", "environments/bookinfo")
        .output()
        .unwrap();
    assert!(out.status.success(), "assay generate: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `spec` routed by `router` instead of Istio, without the Istio-only fields.
fn with_router(spec: &str, router: &str) -> String {
    let drop = |l: &&str| {
        let t = l.trim_start();
        t.starts_with("hosts:")
            || t.starts_with("gateways:")
            || (router == "none" && t.starts_with("candidateWeight:"))
    };
    let kept: Vec<&str> = spec.lines().filter(|l| !drop(l)).collect();
    let out = kept.join("\n") + "\n";
    assert!(
        out.contains("router: istio"),
        "the sample routes with Istio"
    );
    out.replace("router: istio", &format!("router: {router}"))
}

/// Every rendering the samples support: steady and candidate, for each router.
fn streams() -> Vec<(String, String)> {
    let steady = std::fs::read_to_string(sample_dir("bookinfo").join("assay.yaml")).unwrap();
    let candidate = bookinfo_with_candidate();
    let mut out = Vec::new();
    for (state, spec) in [("steady", &steady), ("candidate", &candidate)] {
        for router in ["istio", "gateway-api", "none"] {
            let spec = match router {
                "istio" => spec.clone(),
                r => with_router(spec, r),
            };
            out.push((format!("{state}/{router}"), render(&spec)));
        }
    }
    out
}

/// The stream's documents, each with its own text (as written, for validators
/// that read YAML 1.1) and its parsed value.
pub(crate) fn documents(stream: &str) -> Vec<(String, Value)> {
    let mut chunks = vec![String::new()];
    for line in stream.lines() {
        if line == "---" {
            chunks.push(String::new());
        } else {
            let last = chunks.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    chunks
        .into_iter()
        .filter_map(|c| {
            let v: Value = serde_saphyr::from_str(&c)
                .unwrap_or_else(|e| panic!("document does not parse: {e}\n{c}"));
            (!v.is_null()).then_some((c, v))
        })
        .collect()
}

fn kind_of(v: &Value) -> (&str, &str) {
    (
        v["apiVersion"].as_str().unwrap_or(""),
        v["kind"].as_str().unwrap_or(""),
    )
}

#[test]
fn core_objects_validate_strictly() {
    let dir = tempfile::tempdir().unwrap();
    for (name, stream) in streams() {
        let docs = documents(&stream);
        assert!(docs.len() >= 3, "{name}: {} documents", docs.len());
        let mut core = Vec::new();
        let mut kinds = BTreeSet::new();
        for (text, v) in &docs {
            let (api, kind) = kind_of(v);
            if CORE.contains(&(api, kind)) {
                core.push(text.as_str());
                kinds.insert(kind);
            } else {
                assert!(
                    CUSTOM.contains(&kind),
                    "{name}: {api} {kind} is neither core nor a known custom resource"
                );
            }
        }
        let mut want = vec!["Deployment", "Service"];
        if name.starts_with("candidate") {
            want.extend(["Job", "ServiceAccount", "Role", "RoleBinding"]);
        }
        for k in want {
            assert!(kinds.contains(k), "{name}: no {k} among {kinds:?}");
        }
        let file = dir.path().join(format!("{}.yaml", name.replace('/', "-")));
        std::fs::write(&file, core.join("---\n")).unwrap();
        assert_strictly_valid(&file, &name);
    }
}

/// Panics with the report unless `kubernetes-validate --strict` passes
/// `file` without an error or a warning; `name` says which output it was.
pub(crate) fn assert_strictly_valid(file: &Path, name: &str) {
    let out = kubernetes_validate(file);
    let report = text(&out);
    assert!(
        out.status.success() && !report.contains("ERROR") && !report.contains("WARN"),
        "{name}: kubernetes-validate --strict failed:\n{report}"
    );
}

#[test]
fn kubernetes_validate_is_strict_here() {
    // The harness itself: an unknown field in a core object must be caught.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: [{port: 80}]\n  portz: 1\n",
    )
    .unwrap();
    let out = kubernetes_validate(&file);
    assert!(!out.status.success(), "accepted: {}", text(&out));
}

/// The restricted standard for one pod template; `at` names it in failures.
fn check_restricted(pod: &Value, at: &str) {
    let psc = &pod["securityContext"];
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert_ne!(pod[host], true, "{at}: {host}");
    }
    let containers: Vec<&Value> = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|f| pod[*f].as_array().into_iter().flatten())
        .collect();
    assert!(!containers.is_empty(), "{at}: no containers");
    for c in containers {
        let at = format!("{at} container {}", c["name"]);
        let sc = &c["securityContext"];
        let non_root = sc["runAsNonRoot"] == true
            || (psc["runAsNonRoot"] == true && sc["runAsNonRoot"] != false);
        assert!(non_root, "{at}: runAsNonRoot is not true");
        assert_ne!(sc["runAsUser"], 0, "{at}: runAsUser 0");
        assert_eq!(
            sc["allowPrivilegeEscalation"], false,
            "{at}: allowPrivilegeEscalation"
        );
        assert_ne!(sc["privileged"], true, "{at}: privileged");
        let drop = sc["capabilities"]["drop"].as_array();
        assert!(
            drop.is_some_and(|d| d.iter().any(|x| x == "ALL")),
            "{at}: capabilities.drop lacks ALL"
        );
        let seccomp = match sc["seccompProfile"]["type"].as_str() {
            Some(t) => t,
            None => psc["seccompProfile"]["type"].as_str().unwrap_or(""),
        };
        assert_eq!(seccomp, "RuntimeDefault", "{at}: seccompProfile");
    }
}

#[test]
fn generated_pods_meet_the_restricted_standard() {
    for (name, stream) in streams() {
        let mut pods = 0;
        let mut jobs = 0;
        for (_, v) in documents(&stream) {
            let (_, kind) = kind_of(&v);
            let generated = v["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "assay";
            if !generated || !matches!(kind, "Deployment" | "Job") {
                continue;
            }
            let at = format!("{name}: {kind} {}", v["metadata"]["name"]);
            check_restricted(&v["spec"]["template"]["spec"], &at);
            pods += 1;
            jobs += usize::from(kind == "Job");
        }
        let versions = if name.starts_with("candidate") { 2 } else { 1 };
        assert!(
            pods >= versions,
            "{name}: only {pods} generated pod templates"
        );
        if name.starts_with("candidate") {
            assert!(
                jobs >= 2,
                "{name}: only {jobs} generated Jobs (hooks, loadgen)"
            );
        }
    }
}

/// Validates each JSON file against the schema file; prints `<file> ok` or
/// `<file> invalid: <errors>` per instance.
const JSONSCHEMA_CHECK: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = list(validator.iter_errors(json.load(open(path))))
    if errors:
        print(path, "invalid:", "; ".join("/" + "/".join(map(str, e.absolute_path)) + ": " + e.message for e in errors))
    else:
        print(path, "ok")
"#;

#[test]
fn schema_accepts_every_sample_and_rejects_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Command::new(assay_bin()).arg("schema").output().unwrap();
    assert!(schema.status.success(), "assay schema: {}", text(&schema));
    let schema_file = dir.path().join("schema.json");
    std::fs::write(&schema_file, &schema.stdout).unwrap();

    let specs = crate::support::files_under(&repo_root().join("samples"), &|p| {
        p.file_name().is_some_and(|n| n == "assay.yaml")
    });
    assert!(!specs.is_empty(), "no assay.yaml under samples/");
    let mut cases: Vec<(String, String, bool)> = specs
        .iter()
        .map(|p| {
            let name = p.strip_prefix(repo_root()).unwrap().display().to_string();
            (name, std::fs::read_to_string(p).unwrap(), true)
        })
        .collect();
    let candidate = bookinfo_with_candidate();
    let typo = candidate.replace("  traffic:\n", "  trafic:\n    router: istio\n  traffic:\n");
    assert_ne!(typo, candidate);
    cases.push(("bookinfo with a candidate".into(), candidate, true));
    cases.push(("unknown field spec.trafic".into(), typo, false));

    let mut args = vec![schema_file.clone()];
    for (i, (_, yaml, _)) in cases.iter().enumerate() {
        let json: Value = serde_saphyr::from_str(yaml).unwrap();
        let file = dir.path().join(format!("{i}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        args.push(file);
    }
    let out = Command::new(python())
        .arg("-c")
        .arg(JSONSCHEMA_CHECK)
        .args(&args)
        .output()
        .unwrap();
    let report = text(&out);
    assert!(out.status.success(), "jsonschema: {report}");
    for (i, (name, _, valid)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("{i}.json")).display().to_string();
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("{file} ")))
            .unwrap_or_else(|| panic!("{name}: no result in {report}"));
        let ok = line.ends_with(" ok");
        assert_eq!(ok, *valid, "{name}: {line}");
        if !valid {
            assert!(
                line.contains("trafic"),
                "{name}: rejected for another reason: {line}"
            );
        }
    }
}

#[test]
fn crd_output_is_the_checked_in_file() {
    let out = Command::new(assay_bin()).arg("crd").output().unwrap();
    assert!(out.status.success(), "assay crd: {}", text(&out));
    let file = repo_root().join("samples/install/crd.yaml");
    let checked_in = std::fs::read(&file).unwrap();
    assert!(
        out.stdout == checked_in,
        "samples/install/crd.yaml drifted from `assay crd`; regenerate it with \
         `cargo run -q -- crd > samples/install/crd.yaml`"
    );
}

#[test]
fn crd_validates_strictly() {
    let file = repo_root().join("samples/install/crd.yaml");
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        kind_of(&crd),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    );
    let out = kubernetes_validate(&file);
    let report = text(&out);
    assert!(
        out.status.success() && !report.contains("ERROR") && !report.contains("WARN"),
        "kubernetes-validate --strict of the CRD:\n{report}"
    );
}
