//! `assay` as Argo CD runs it: through `FakeCmpServer` (an imitation of
//! argocd-cmp-server, see `support::cmp_server`), from a real git repository
//! holding `samples/bookinfo` at `envs/bookinfo`. The fake's own unit tests
//! (env, `os.Expand`, output decoding) live next to it in `support::cmp_server`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::cmp_server::{AppRequest, CmpError, FakeCmpServer};
use crate::support::{bookinfo_with_candidate, sample_dir};

const APP_PATH: &str = "envs/bookinfo";

/// A throwaway git repository with a pinned author, committer and dates.
pub(crate) struct GitRepo {
    dir: tempfile::TempDir,
}

impl GitRepo {
    pub(crate) fn new() -> Self {
        let repo = GitRepo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "CI")
            .env("GIT_AUTHOR_EMAIL", "ci@example.com")
            .env("GIT_COMMITTER_NAME", "CI")
            .env("GIT_COMMITTER_EMAIL", "ci@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05+00:00")
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05+00:00")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub(crate) fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-gpg-sign", "-m", message]);
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A repo with every file of `samples/bookinfo` at `envs/bookinfo`, with
/// `assay.yaml` replaced by `spec` when given, committed; and a request for it.
fn bookinfo(spec: Option<&str>) -> (GitRepo, AppRequest) {
    let repo = GitRepo::new();
    copy_dir(&sample_dir("bookinfo"), &repo.path().join(APP_PATH));
    repo.commit("bookinfo");
    if let Some(spec) = spec {
        repo.write(&format!("{APP_PATH}/assay.yaml"), spec);
        repo.commit("assay.yaml");
    }
    let req = AppRequest::new(repo.path(), APP_PATH);
    (repo, req)
}

fn render(req: &AppRequest) -> Vec<Value> {
    FakeCmpServer::load()
        .render(req)
        .unwrap_or_else(|e| panic!("render failed: {e}"))
}

/// `text` with `from` replaced exactly once.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "spec should contain `{from}` once"
    );
    text.replacen(from, to, 1)
}

/// `text` without the one line whose trimmed text starts with `prefix`.
fn drop_line(text: &str, prefix: &str) -> String {
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with(prefix))
        .collect();
    assert_eq!(
        kept.len() + 1,
        text.lines().count(),
        "spec should have one line starting `{prefix}`"
    );
    kept.join("\n") + "\n"
}

fn kind_of(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn all<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| kind_of(o) == kind).collect()
}

fn get<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| kind_of(o) == kind && name_of(o) == name)
        .unwrap_or_else(|| {
            let have: Vec<String> = objs
                .iter()
                .map(|o| format!("{}/{}", kind_of(o), name_of(o)))
                .collect();
            panic!("no {kind}/{name} among {have:?}")
        })
}

fn experiment(objs: &[Value]) -> &Value {
    let found = all(objs, "Experiment");
    assert_eq!(found.len(), 1, "one Experiment expected");
    found[0]
}

/// (subset, weight) of every weighted route of the VirtualService.
fn vs_weights(vs: &Value) -> Vec<(String, i64)> {
    let http = vs["spec"]["http"]
        .as_array()
        .expect("VirtualService spec.http");
    http.iter()
        .flat_map(|h| h["route"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| {
            Some((
                r["destination"]["subset"].as_str()?.to_string(),
                r["weight"].as_i64()?,
            ))
        })
        .collect()
}

fn weight_of(weights: &[(String, i64)], version: &str) -> i64 {
    weights
        .iter()
        .find(|(s, _)| s.ends_with(version))
        .unwrap_or_else(|| panic!("no route to {version} in {weights:?}"))
        .1
}

fn assert_vs_split(objs: &[Value], baseline: i64, candidate: i64) {
    let weights = vs_weights(get(objs, "VirtualService", "productpage"));
    assert_eq!(weight_of(&weights, "v1"), baseline, "{weights:?}");
    assert_eq!(weight_of(&weights, "v2"), candidate, "{weights:?}");
    assert_eq!(
        weights.iter().map(|(_, w)| w).sum::<i64>(),
        100,
        "{weights:?}"
    );
}

#[test]
fn steady_state_renders_baseline_routing_and_passthrough() {
    let (_repo, req) = bookinfo(None);
    let server = FakeCmpServer::load();
    assert!(
        server.discover_matches(&req),
        "discover.fileName must match the app dir"
    );
    let objs = server.render(&req).unwrap_or_else(|e| panic!("{e}"));
    get(&objs, "Deployment", "productpage-v1");
    get(&objs, "Service", "productpage");
    get(&objs, "DestinationRule", "productpage");
    get(&objs, "VirtualService", "productpage");
    get(&objs, "Gateway", "bookinfo-gateway");
    get(&objs, "Service", "details");
    for kind in ["Experiment", "Job", "Role", "Application"] {
        assert!(
            all(&objs, kind).is_empty(),
            "steady state must not render a {kind}"
        );
    }
}

#[test]
fn candidate_renders_one_experiment_with_one_id() {
    let (_repo, req) = bookinfo(Some(&bookinfo_with_candidate()));
    let objs = render(&req);
    get(&objs, "Deployment", "productpage-v1");
    get(&objs, "Deployment", "productpage-v2");
    let exp = experiment(&objs);
    assert_eq!(exp["apiVersion"], "assay.dev/v1alpha1");
    let id = exp["metadata"]["labels"]["assay.dev/experiment"]
        .as_str()
        .expect("experiment label")
        .to_string();
    assert!(!id.is_empty());
    // The load generator runs in the hook pod (a native sidecar), not as a Job.
    assert!(
        all(&objs, "Job")
            .iter()
            .all(|j| !name_of(j).starts_with("productpage-loadgen-")),
        "no loadgen Job by default"
    );
    let pod = &get(&objs, "Job", "productpage-promote")["spec"]["template"]["spec"];
    assert_eq!(pod["initContainers"][0]["name"], "fortio");
    assert_eq!(pod["initContainers"][0]["restartPolicy"], "Always");
    let args = pod["initContainers"][0]["args"].as_array().unwrap();
    assert_eq!(
        (args[0].as_str(), args[2].as_str()),
        (Some("load"), Some("0s"))
    );
    // `loadgen.mode: job` keeps the sync-phase Job, named after the id.
    let with_job =
        bookinfo_with_candidate().replace("    qps: 48\n", "    qps: 48\n    mode: job\n");
    let (_repo, req) = bookinfo(Some(&with_job));
    let job_objs = render(&req);
    let job_id = experiment(&job_objs)["metadata"]["labels"]["assay.dev/experiment"]
        .as_str()
        .unwrap()
        .to_string();
    let loadgen: Vec<&Value> = all(&job_objs, "Job")
        .into_iter()
        .filter(|j| name_of(j).starts_with("productpage-loadgen-"))
        .collect();
    assert_eq!(loadgen.len(), 1, "one loadgen Job");
    assert!(
        name_of(loadgen[0]).ends_with(&job_id),
        "loadgen Job {} is named after {job_id}",
        name_of(loadgen[0])
    );
    assert!(
        get(&job_objs, "Job", "productpage-promote")["spec"]["template"]["spec"]["initContainers"]
            .is_null()
    );
    let hook = |name: &str| {
        get(&objs, "Job", name)["metadata"]["annotations"]["argocd.argoproj.io/hook"].clone()
    };
    assert_eq!(hook("productpage-promote"), "PostSync");
    assert_eq!(hook("productpage-syncfail"), "SyncFail");
    let promote = get(&objs, "Job", "productpage-promote");
    let hook_sa = promote["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .expect("hook serviceAccountName");
    let mut experiment_objects = vec![exp, promote, get(&objs, "Job", "productpage-syncfail")];
    experiment_objects.push(get(&objs, "ServiceAccount", hook_sa));
    // Passthrough files hold ServiceAccounts but no RBAC: every Role/RoleBinding is the hook's.
    for kind in ["Role", "RoleBinding"] {
        let found = all(&objs, kind);
        assert!(!found.is_empty(), "the hook needs a {kind}");
        experiment_objects.extend(found);
    }
    for o in experiment_objects {
        assert_eq!(
            o["metadata"]["labels"]["assay.dev/experiment"],
            id.as_str(),
            "{}/{} label",
            kind_of(o),
            name_of(o)
        );
    }
    assert_vs_split(&objs, 80, 20);
}

/// The candidate spec routed by `router`, minus options other routers reject.
fn candidate_with_router(router: &str) -> String {
    let mut spec = replace_once(
        &bookinfo_with_candidate(),
        "router: istio",
        &format!("router: {router}"),
    );
    if router != "istio" {
        spec = drop_line(&drop_line(&spec, "hosts:"), "gateways:");
    }
    if router == "none" {
        spec = drop_line(&spec, "candidateWeight: 20");
    }
    spec
}

#[test]
fn router_istio_renders_destination_rule_and_virtual_service() {
    let (_repo, req) = bookinfo(Some(&candidate_with_router("istio")));
    let objs = render(&req);
    get(&objs, "DestinationRule", "productpage");
    assert_vs_split(&objs, 80, 20);
    assert!(all(&objs, "HTTPRoute").is_empty());
}

#[test]
fn router_gateway_api_renders_weighted_http_route() {
    let (_repo, req) = bookinfo(Some(&candidate_with_router("gateway-api")));
    let objs = render(&req);
    let route = get(&objs, "HTTPRoute", "productpage");
    let refs: Vec<(String, i64)> = route["spec"]["rules"]
        .as_array()
        .expect("HTTPRoute rules")
        .iter()
        .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_string(),
                b["weight"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            ("productpage-v1".to_string(), 80),
            ("productpage-v2".to_string(), 20)
        ]
    );
    get(&objs, "Service", "productpage-v1");
    get(&objs, "Service", "productpage-v2");
    assert!(all(&objs, "VirtualService").is_empty());
}

#[test]
fn router_none_renders_no_routing() {
    let (_repo, req) = bookinfo(Some(&candidate_with_router("none")));
    let objs = render(&req);
    get(&objs, "Deployment", "productpage-v2");
    assert!(all(&objs, "VirtualService").is_empty());
    assert!(all(&objs, "HTTPRoute").is_empty());
}

#[test]
fn plugin_section_without_parameters_renders() {
    let (_repo, mut req) = bookinfo(Some(&bookinfo_with_candidate()));
    req.parameters = Some(Value::Null);
    let env = FakeCmpServer::load().generate_env(&req);
    assert!(
        env.iter()
            .any(|(k, v)| k == "ARGOCD_APP_PARAMETERS" && v == "null")
    );
    assert_vs_split(&render(&req), 80, 20);
}

#[test]
fn parameter_sets_candidate_weight_when_spec_is_silent() {
    let (_repo, mut req) = bookinfo(Some(&drop_line(
        &bookinfo_with_candidate(),
        "candidateWeight: 20",
    )));
    req.parameters = Some(json!([{"name": "candidate-weight", "string": "35"}]));
    assert_vs_split(&render(&req), 65, 35);
}

/// Precedence: spec > parameters > plugin env > defaults.
#[test]
fn spec_wins_over_parameter() {
    let (_repo, mut req) = bookinfo(Some(&bookinfo_with_candidate()));
    req.parameters = Some(json!([{"name": "candidate-weight", "string": "35"}]));
    assert_vs_split(&render(&req), 80, 20);
}

#[test]
fn parameter_wins_over_plugin_env() {
    let (_repo, mut req) = bookinfo(Some(&drop_line(&bookinfo_with_candidate(), "prometheus:")));
    req.plugin_env = vec![("PROMETHEUS_URL".into(), "http://from-env:9090".into())];
    req.parameters = Some(json!([{"name": "prometheus-url", "string": "http://from-param:9090"}]));
    assert_eq!(
        experiment(&render(&req))["spec"]["prometheus"],
        "http://from-param:9090"
    );
}

#[test]
fn app_outside_control_plane_namespace() {
    let (_repo, mut req) = bookinfo(Some(&bookinfo_with_candidate()));
    req.app_name = "team-a_bookinfo".into();
    let objs = render(&req);
    assert_eq!(
        experiment(&objs)["spec"]["application"],
        json!({"name": "bookinfo", "namespace": "team-a"})
    );
}

#[test]
fn empty_kube_version_renders_identically() {
    let (_repo, mut req) = bookinfo(Some(&bookinfo_with_candidate()));
    let server = FakeCmpServer::load();
    let with = server.generate(&req).unwrap_or_else(|e| panic!("{e}"));
    req.kube_version = String::new();
    req.kube_api_versions = String::new();
    let without = server.generate(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with.stdout, without.stdout);
}

#[test]
fn dollar_in_plugin_env_is_expanded_like_argo_cd() {
    let (_repo, mut req) = bookinfo(Some(&drop_line(&bookinfo_with_candidate(), "prometheus:")));
    req.plugin_env = vec![(
        "PROMETHEUS_URL".into(),
        "http://prom-$ARGOCD_APP_NAMESPACE:9090/?x=$$y".into(),
    )];
    assert_eq!(
        experiment(&render(&req))["spec"]["prometheus"],
        "http://prom-bookinfo:9090/?x=$y"
    );
}

#[test]
fn render_is_byte_identical() {
    let (_repo, req) = bookinfo(Some(&bookinfo_with_candidate()));
    let server = FakeCmpServer::load();
    let first = server.generate(&req).unwrap_or_else(|e| panic!("{e}"));
    let second = server.generate(&req).unwrap_or_else(|e| panic!("{e}"));
    assert!(!first.stdout.is_empty());
    assert!(
        first.stdout == second.stdout,
        "two renders of one commit differ"
    );
}

#[test]
fn invalid_spec_fails_with_argo_cd_error() {
    for spec in [
        fs::read_to_string(sample_dir("bookinfo").join("assay.yaml")).unwrap(),
        bookinfo_with_candidate(),
    ] {
        let (_repo, req) = bookinfo(Some(&replace_once(
            &spec,
            "candidateWeight: 20",
            "candidateWeight: 120",
        )));
        match FakeCmpServer::load().render(&req) {
            Err(CmpError::Failed { message }) => {
                assert!(
                    message.starts_with("`assay generate` failed exit status "),
                    "{message}"
                );
                assert!(message.contains("assay.yaml:"), "{message}");
                assert!(message.contains("candidateWeight"), "{message}");
            }
            other => panic!("expected a failed command, got {other:?}"),
        }
    }
}

#[test]
fn dynamic_parameters_are_announced() {
    let (_repo, req) = bookinfo(None);
    let announced = FakeCmpServer::load()
        .parameters(&req)
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = announced
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["candidate-weight", "prometheus-url", "promotion-mode"] {
        assert!(names.contains(&name), "{name} not announced in {names:?}");
    }
}
