//! Issue 12: apps kept as a Kustomize overlay or a Helm chart, rendered by
//! assay with the real tools (`samples/bookinfo-kustomize`,
//! `samples/bookinfo-helm`) through the fake argocd-cmp-server, as the
//! assay-tools sidecar would run them. Both must give `samples/bookinfo`'s
//! objects, apart from what the overlay or chart adds. Failures and the
//! process-group handling are in `adopt_errors`.
//!
//! Tools: `$ASSAY_HELM` / `$ASSAY_KUBECTL`, else `.ci/bin/` (where
//! `.ci/install-helm.sh` puts them), else `PATH`; missing tools fail the
//! tests with that advice, they never skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cmp::{GitRepo, copy_dir};
pub(crate) use crate::install::tool;
use crate::support::cmp_server::{AppRequest, FakeCmpServer};
use crate::support::{BOOKINFO_CANDIDATE, assay_bin, repo_root, sample_dir};
use crate::validation::assert_strictly_valid;

/// A directory holding exactly `helm` and `kubectl` (links to the real
/// ones), so a test's `PATH` has these tools and nothing else of the host.
pub(crate) fn tools_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (env, name) in [("ASSAY_HELM", "helm"), ("ASSAY_KUBECTL", "kubectl")] {
        std::os::unix::fs::symlink(tool(env, name), dir.path().join(name)).unwrap();
    }
    dir
}

/// `samples/<name>/assay.yaml`, with the candidate CI would propose when asked.
fn spec(name: &str, candidate: bool) -> String {
    let text = std::fs::read_to_string(sample_dir(name).join("assay.yaml")).unwrap();
    if !candidate {
        return text;
    }
    let at = text
        .find("  traffic:\n")
        .expect("sample has a traffic block");
    format!("{}{}{}", &text[..at], BOOKINFO_CANDIDATE, &text[at..])
}

/// A repo with the three bookinfo samples under `envs/`.
fn repo(candidate: bool) -> GitRepo {
    let repo = GitRepo::new();
    for name in ["bookinfo", "bookinfo-kustomize", "bookinfo-helm"] {
        copy_dir(&sample_dir(name), &repo.path().join("envs").join(name));
        repo.write(&format!("envs/{name}/assay.yaml"), &spec(name, candidate));
    }
    repo.commit("bookinfo three ways");
    repo
}

/// The manifests of `envs/<name>`, as the sidecar that serves it returns them.
fn render(repo: &GitRepo, name: &str, tools: &Path) -> Vec<Value> {
    let server = match name {
        "bookinfo" => FakeCmpServer::load(),
        _ => FakeCmpServer::load_file(&repo_root().join("plugin-tools.yaml")),
    };
    let server = server.with_tools(vec![tools.to_path_buf()]);
    let req = AppRequest::new(repo.path(), &format!("envs/{name}"));
    server
        .render(&req)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Labels the overlay (`environment`) and the chart (`app.kubernetes.io/*`,
/// `helm.sh/chart`, the adopted Service's `app` and `service`) add.
const ADDED_LABELS: &[&str] = &[
    "environment",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "helm.sh/chart",
    "service",
    "app",
];

/// Objects by (kind, name), with the sample's path and experiment id made
/// bookinfo's, and what the overlay or chart adds taken out: the labels
/// above where bookinfo's object lacks them, and productpage's memory limit.
fn comparable(
    objects: Vec<Value>,
    name: &str,
    reference: Option<&BTreeMap<(String, String), Value>>,
) -> BTreeMap<(String, String), Value> {
    let id = |objs: &[Value]| {
        objs.iter()
            .find(|o| o["kind"] == "Experiment")
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
    };
    let mut text = serde_json::to_string(&objects).unwrap();
    text = text.replace(&format!("envs/{name}"), "envs/bookinfo");
    if let (Some(reference), Some(mine)) = (reference, id(&objects)) {
        let theirs = reference
            .values()
            .find(|o| o["kind"] == "Experiment")
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .expect("bookinfo has an Experiment");
        let (mine, theirs) = (
            mine.rsplit('-').next().unwrap().to_string(),
            theirs.rsplit('-').next().unwrap().to_string(),
        );
        text = text.replace(&mine, &theirs);
    }
    let objects: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for mut o in objects {
        let key = (
            o["kind"].as_str().unwrap().to_string(),
            o["metadata"]["name"].as_str().unwrap().to_string(),
        );
        if let Some(reference) = reference {
            let keep = reference.get(&key).map(|r| r["metadata"]["labels"].clone());
            if let Some(labels) = o
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                labels.retain(|k, _| {
                    !ADDED_LABELS.contains(&k.as_str())
                        || keep.as_ref().is_some_and(|l| l.get(k).is_some())
                });
                if labels.is_empty() {
                    o["metadata"].as_object_mut().unwrap().remove("labels");
                }
            }
            if key.0 == "Deployment" && key.1.starts_with("productpage-") {
                let r = o.pointer_mut("/spec/template/spec/containers/0/resources");
                r.and_then(Value::as_object_mut).unwrap().remove("limits");
            }
        }
        assert!(
            out.insert(key.clone(), o).is_none(),
            "{name}: {key:?} twice"
        );
    }
    out
}

fn same_as_bookinfo(candidate: bool) {
    let tools = tools_dir();
    let repo = repo(candidate);
    let bookinfo = comparable(render(&repo, "bookinfo", tools.path()), "bookinfo", None);
    for name in ["bookinfo-kustomize", "bookinfo-helm"] {
        let raw = render(&repo, name, tools.path());
        let productpage_limits = raw
            .iter()
            .filter(|o| {
                o["kind"] == "Deployment"
                    && o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("productpage-")
            })
            .map(|o| {
                o.pointer("/spec/template/spec/containers/0/resources/limits/memory")
                    .cloned()
            })
            .collect::<Vec<_>>();
        assert!(
            !productpage_limits.is_empty()
                && productpage_limits
                    .iter()
                    .all(|m| m == &Some(Value::from("256Mi"))),
            "{name}: every version keeps the overlay's or chart's memory limit: {productpage_limits:?}"
        );
        let got = comparable(raw, name, Some(&bookinfo));
        let keys = |m: &BTreeMap<(String, String), Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&got),
            keys(&bookinfo),
            "{name}: other objects than bookinfo's"
        );
        for (key, want) in &bookinfo {
            assert_eq!(&got[key], want, "{name}: {key:?} differs from bookinfo's");
        }
    }
}

#[test]
fn r12_kustomize_and_helm_samples_render_bookinfo_in_steady_state() {
    same_as_bookinfo(false);
}

#[test]
fn r12_kustomize_and_helm_samples_render_bookinfo_with_a_candidate() {
    same_as_bookinfo(true);
}

/// The smallest Deployment `workload.from: productpage` adopts, open at its
/// one container for the fields a test adds (indented 10 spaces).
pub(crate) const PRODUCTPAGE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: productpage
spec:
  selector:
    matchLabels: {app: productpage}
  template:
    metadata:
      labels: {app: productpage}
    spec:
      containers:
        - name: productpage
          image: productpage:1
";

/// `assay generate` in a copy of `samples/<name>` with `spec`, tools on `PATH`.
pub(crate) fn generate_in(
    name: &str,
    spec: &str,
    tools: &Path,
    stdin: Option<&str>,
    extra: &[&str],
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir(name), dir.path());
    std::fs::write(dir.path().join("assay.yaml"), spec).unwrap();
    let mut cmd = Command::new(assay_bin());
    cmd.arg("generate")
        .args(extra)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", tools)
        .env("ARGOCD_APP_NAME", "bookinfo")
        .env("ARGOCD_APP_NAMESPACE", "bookinfo")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example.com/platform/env.git",
        )
        .env("ARGOCD_APP_SOURCE_PATH", format!("envs/{name}"))
        .env("KUBE_VERSION", "1.33.4")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn r12_samples_snapshots() {
    let tools = tools_dir();
    for name in ["bookinfo-kustomize", "bookinfo-helm"] {
        for (state, candidate) in [("steady", false), ("candidate", true)] {
            let out = ok(&generate_in(
                name,
                &spec(name, candidate),
                tools.path(),
                None,
                &[],
            ));
            insta::assert_snapshot!(format!("adopt__{name}__{state}"), out);
        }
    }
}

/// Core kinds kubernetes-validate knows (the rest are Istio's and assay's CRs).
const CORE: &[&str] = &[
    "Service",
    "ServiceAccount",
    "Deployment",
    "Job",
    "Role",
    "RoleBinding",
    "HorizontalPodAutoscaler",
];

#[test]
fn r12_samples_validate_strictly() {
    let tools = tools_dir();
    let dir = tempfile::tempdir().unwrap();
    for name in ["bookinfo-kustomize", "bookinfo-helm"] {
        let out = ok(&generate_in(
            name,
            &spec(name, true),
            tools.path(),
            None,
            &[],
        ));
        let core: Vec<String> = serde_saphyr::from_multiple::<Value>(&out)
            .unwrap()
            .into_iter()
            .filter(|o| CORE.contains(&o["kind"].as_str().unwrap_or_default()))
            .map(|o| serde_json::to_string(&o).unwrap())
            .collect();
        assert!(core.len() >= 8, "{name}: {} core objects", core.len());
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, core.join("\n---\n")).unwrap();
        assert_strictly_valid(&file, name);
    }
}

#[test]
fn r12_input_stdin_takes_an_already_rendered_stream() {
    let tools = tools_dir();
    let overlay = sample_dir("bookinfo-kustomize").join("overlays/prod");
    let built = Command::new(tool("ASSAY_KUBECTL", "kubectl"))
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let stream = String::from_utf8(built.stdout).unwrap();
    let spec = spec("bookinfo-kustomize", true);
    let via_tool = ok(&generate_in(
        "bookinfo-kustomize",
        &spec,
        tools.path(),
        None,
        &[],
    ));
    // No tool on PATH: the stream alone must do.
    let empty = tempfile::tempdir().unwrap();
    let via_stdin = ok(&generate_in(
        "bookinfo-kustomize",
        &spec,
        empty.path(),
        Some(&stream),
        &["--input", "-"],
    ));
    assert_eq!(via_stdin, via_tool);
}

/// A stream with empty documents around the adopted Deployment (what some
/// tools print: `---` twice, a comment-only document, `~`, a trailing
/// `---`): the untouched objects still pass through byte for byte, comments
/// and all, and nothing empty takes an object's place.
#[test]
fn r12_empty_documents_in_a_touched_stream_leave_the_others_as_printed() {
    let config_map = "\
# Source: app/templates/settings.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: 'on'  # quoted: YAML 1.1 reads on as true
";
    let account = "\
# Source: app/templates/account.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reviews
";
    let deployment = format!("{PRODUCTPAGE}          ports: [{{containerPort: 9080}}]\n");
    let stream = format!(
        "---\n---\n{config_map}---\n# only a comment\n---\n~\n---\n{deployment}---\n---\n{account}---\n"
    );
    let empty = tempfile::tempdir().unwrap();
    let out = ok(&generate_in(
        "bookinfo-kustomize",
        &spec("bookinfo-kustomize", true),
        empty.path(),
        Some(&stream),
        &["--input", "-"],
    ));
    for untouched in [config_map, account] {
        assert!(
            out.contains(&format!("---\n{untouched}")),
            "not passed through as printed:\n{untouched}\nin:\n{out}"
        );
    }
    let objects: Vec<Value> = serde_saphyr::from_multiple(&out).unwrap();
    let count = |kind: &str, name: &str| {
        objects
            .iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .count()
    };
    assert_eq!(count("ConfigMap", "settings"), 1);
    assert_eq!(count("ServiceAccount", "reviews"), 1);
    assert_eq!(
        count("Deployment", "productpage"),
        0,
        "adopted, not passed on"
    );
    assert_eq!(count("Deployment", "productpage-v1"), 1);
    assert_eq!(count("Deployment", "productpage-v2"), 1);
    // The reader above skips empty documents; the text must not hold one.
    let blank = |chunk: &&str| {
        chunk
            .lines()
            .all(|l| l.trim().is_empty() || l.starts_with('#'))
    };
    let chunks: Vec<&str> = out.split("---\n").skip(1).collect();
    assert!(
        !chunks.iter().any(blank) && !out.contains("\n~\n"),
        "an empty document in the output:\n{out}"
    );
}

/// A relative `PATH` entry names the tool from where assay was started,
/// not from the app directory the tool runs in.
#[test]
fn r12_a_relative_path_entry_finds_the_tool() {
    let tools = tools_dir();
    let work = tempfile::tempdir().unwrap();
    copy_dir(&sample_dir("bookinfo-kustomize"), &work.path().join("app"));
    std::os::unix::fs::symlink(tools.path(), work.path().join("bin")).unwrap();
    let out = Command::new(assay_bin())
        .args(["generate", "app"])
        .current_dir(work.path())
        .env_clear()
        .env("PATH", "bin")
        .env("ARGOCD_APP_NAME", "bookinfo")
        .env("ARGOCD_APP_NAMESPACE", "bookinfo")
        .output()
        .unwrap();
    let stream = ok(&out);
    assert!(stream.contains("name: productpage-v1\n"), "{stream}");
}

#[test]
fn r12_hpa_follows_the_baseline_and_owns_its_replicas() {
    let tools = tools_dir();
    let spec = spec("bookinfo-helm", true).replace(
        "        productpage: {replicas: 1}\n",
        "        productpage: {replicas: 1, autoscaling: {enabled: true}}\n",
    );
    assert!(
        spec.contains("autoscaling"),
        "the sample's inline values changed"
    );
    let out = ok(&generate_in(
        "bookinfo-helm",
        &spec,
        tools.path(),
        None,
        &[],
    ));
    let objs: Vec<Value> = serde_saphyr::from_multiple(&out).unwrap();
    let find = |kind: &str, name: &str| {
        objs.iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let hpa = find("HorizontalPodAutoscaler", "productpage");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "productpage-v1");
    assert_eq!(
        find("Deployment", "productpage-v1")["spec"].get("replicas"),
        None
    );
    assert_eq!(find("Deployment", "productpage-v2")["spec"]["replicas"], 1);
}

#[test]
fn r12_discovery_gives_each_app_one_plugin() {
    let repo = repo(false);
    let tools = FakeCmpServer::load_file(&repo_root().join("plugin-tools.yaml"));
    let plain = FakeCmpServer::load();
    let req = |name: &str| AppRequest::new(repo.path(), &format!("envs/{name}"));
    assert!(!tools.discover_matches(&req("bookinfo")));
    assert!(plain.discover_matches(&req("bookinfo")));
    for name in ["bookinfo-kustomize", "bookinfo-helm"] {
        assert!(tools.discover_matches(&req(name)), "{name}");
    }
    // A broken spec meant for the tools plugin still reaches it, to be reported.
    let broken =
        spec("bookinfo-helm", false).replace("releaseName: bookinfo", "releaseName: Not_A_Label");
    repo.write("envs/bookinfo-helm/assay.yaml", &broken);
    repo.commit("break the helm app's spec");
    assert!(tools.discover_matches(&req("bookinfo-helm")));
    let err = tools.render(&req("bookinfo-helm")).unwrap_err();
    assert!(
        err.message().contains("spec.source.helm.releaseName"),
        "{err}"
    );
    // Auto-discovery asks sockets in name order: assay-tools-v1 first.
    let sockets = |s: &FakeCmpServer| format!("{}-v1.sock", s.config().name);
    assert!(sockets(&tools) < sockets(&plain));
}

#[test]
fn r12_tools_plugin_configmap_is_plugin_tools_yaml() {
    let cm: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo_root().join("samples/install/tools/cmp-plugin.yaml"))
            .unwrap(),
    )
    .unwrap();
    let file = std::fs::read_to_string(repo_root().join("plugin-tools.yaml")).unwrap();
    assert_eq!(cm["data"]["plugin.yaml"].as_str().unwrap(), file);
}

#[test]
fn r12_tools_component_adds_a_second_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("samples/install"),
        &dir.path().join("install"),
    );
    std::fs::copy(
        repo_root().join("tests/fixtures/install/argo-cd-v3.5.1/install.yaml"),
        dir.path().join("argo-cd.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "namespace: argocd\nresources: [argo-cd.yaml]\ncomponents: [install, install/tools]\n",
    )
    .unwrap();
    let out = Command::new(tool("ASSAY_KUBECTL", "kubectl"))
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objs: Vec<Value> =
        serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let repo_server = objs
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "argocd-repo-server")
        .unwrap();
    let containers = repo_server["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"assay") && names.contains(&"assay-tools"),
        "{names:?}"
    );
    let config_of = |name: &str| {
        let c = containers.iter().find(|c| c["name"] == name).unwrap();
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/home/argocd/cmp-server/config/plugin.yaml")
            .unwrap();
        mount["name"].as_str().unwrap().to_string()
    };
    assert_ne!(config_of("assay"), config_of("assay-tools"));
    assert!(
        objs.iter()
            .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "assay-tools-cmp-plugin")
    );
}
