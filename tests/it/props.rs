//! Random valid specs through the real binary. Each case writes a spec built
//! from generated parts (every string JSON-quoted, which is valid YAML) and
//! runs `assay generate` twice with a fixed environment. The output must be
//! byte-identical across runs, parse as a YAML stream, keep every env value
//! exactly as written (a YAML 1.1 reader must not see `on` as a boolean or
//! `0755` as a number), and only hold names and labels Kubernetes accepts.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::Value;

use crate::support::assay_bin;

/// Env values that YAML, shells or Kubernetes may read as something else.
#[rustfmt::skip]
const TRICKY: &[&str] = &[
    // YAML 1.1 booleans, numbers and null.
    "on", "off", "no", "yes", "y", "N", "true", "False", "~", "null", "Null",
    "0755", "0x1F", "0o17", "1e3", "1_000", ".5", "-.inf", ".NaN", "12:30", "12:30:45", "2001-12-14",
    // Quotes, shell and Kubernetes expansion.
    "", " ", "trailing ", "\"quoted\"", "'single'", "\\backslash", "$HOME", "$(HOME)", "${HOME}", "=",
    // YAML indicators and structure.
    "a: b", "- x", "# not a comment", "x #y", "[a]", "{b: c}", "*ref", "&anchor", "!tag", "%percent",
    "@at", "`tick`", "|", ">", "?", "---", "...", "<<",
    // Line breaks, tabs and unicode.
    "a\nb", "a\r\nb", "tab\there", "\u{2028}", "\u{FEFF}x", "héllo wörld", "日本語", "🚀",
];

/// Built-in metrics; [`limits`] writes each one's limits in its unit.
const METRICS: &[&str] = &[
    "request-count",
    "error-count",
    "error-rate",
    "mean-latency",
    "p50-latency",
    "p90-latency",
    "p95-latency",
    "p99-latency",
];

#[derive(Debug, Clone)]
struct Ver {
    version: String,
    image: String,
    env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Objective {
    metric: &'static str,
    seed: u32,
    both: bool,
    relative: bool,
}

#[derive(Debug, Clone)]
struct Experiment {
    pattern: &'static str,
    timing: (&'static str, &'static str, &'static str),
    confidence: &'static str,
    min_requests: u32,
    prometheus: bool,
    objectives: Option<Vec<Objective>>,
    rewards: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
struct Loadgen {
    url: bool,
    qps: u32,
    connections: u32,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Spec {
    name: String,
    namespace: Option<String>,
    replicas: Option<u32>,
    port: Option<u16>,
    baseline: Ver,
    candidate: Option<Ver>,
    router: &'static str,
    weight: Option<u8>,
    experiment: Option<Experiment>,
    loadgen: Option<Loadgen>,
}

/// A JSON string literal: valid YAML, whatever the text.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(TRICKY).prop_map(str::to_string),
        1 => "\\PC{0,16}",
    ]
}

/// Unique keys matching `key`, in generated order.
fn pairs(key: &'static str, max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((key, value()), 0..=max).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|(k, _)| seen.insert(k.clone()));
        v
    })
}

prop_compose! {
    fn ver()(
        version in "[a-z0-9]([-a-z0-9]{0,16}[a-z0-9])?",
        image in "[a-z0-9]{1,8}(\\.example\\.com(:[0-9]{2,4})?/[a-z0-9]{1,6})?(:[a-zA-Z0-9._-]{1,10}|@sha256:[0-9a-f]{64})?",
        env in pairs("[A-Za-z_][A-Za-z0-9_.-]{0,12}", 6),
    ) -> Ver {
        Ver { version, image, env }
    }
}

prop_compose! {
    fn objective()(metric in select(METRICS), seed in any::<u32>(), both in any::<bool>(), relative in any::<bool>()) -> Objective {
        Objective { metric, seed, both, relative }
    }
}

prop_compose! {
    fn experiment()(
        pattern in select(&["canary", "slo", "ab"][..]),
        timing in select(&[("0s", "1m", "10s"), ("30s", "2m", "1m"), ("2m", "1h30m", "1s"), ("1s", "10m", "30s")][..]),
        confidence in select(&["0.9", "0.95", "0.99"][..]),
        min_requests in 0u32..1000,
        prometheus in any::<bool>(),
        objectives in prop::option::of(subsequence(METRICS, 1..=4)),
        seeds in prop::collection::vec(objective(), 4),
        rewards in subsequence(METRICS, 1..=2),
        prefer in select(&["high", "low"][..]),
    ) -> Experiment {
        let objectives = objectives.map(|ms| {
            ms.into_iter()
                .zip(seeds)
                .map(|(metric, o)| Objective { metric, relative: o.relative && pattern != "slo", ..o })
                .collect()
        });
        let rewards = if pattern == "ab" { rewards.into_iter().map(|m| (m, prefer)).collect() } else { vec![] };
        Experiment { pattern, timing, confidence, min_requests, prometheus, objectives, rewards }
    }
}

prop_compose! {
    fn spec()(
        name in "[a-z]([-a-z0-9]{0,42}[a-z0-9])?",
        namespace in prop::option::of("[a-z]([-a-z0-9]{0,20}[a-z0-9])?"),
        replicas in prop::option::of(0u32..=10),
        port in prop::option::of(1u16..=65535),
        baseline in ver(),
        candidate in prop::option::of(ver()),
        router in select(&["istio", "gateway-api", "none"][..]),
        weight in prop::option::of(0u8..=100),
        experiment in prop::option::of(experiment()),
        loadgen in prop::option::of((any::<bool>(), 1u32..=100, 1u32..=8, pairs("[A-Za-z][A-Za-z0-9-]{0,10}", 3))),
    ) -> Spec {
        let candidate = candidate.map(|mut c| {
            if c.version == baseline.version {
                c.version = format!("{}x", c.version.trim_end_matches('-'));
            }
            c
        });
        let weight = weight.filter(|_| router != "none");
        // Zero replicas with traffic sent to the candidate is refused by design.
        let replicas = replicas.filter(|&r| r > 0 || candidate.is_none() || weight.is_some_and(|w| w == 0));
        let loadgen = loadgen.map(|(url, qps, connections, headers)| Loadgen { url, qps, connections, headers });
        Spec { name, namespace, replicas, port, baseline, candidate, router, weight, experiment, loadgen }
    }
}

/// A limit for `o` that validation accepts, in the metric's unit.
fn limits(o: &Objective) -> (Option<String>, String) {
    let s = o.seed;
    if o.relative {
        return (None, format!("1.{}", s % 9 + 1));
    }
    let upper = match o.metric {
        "error-rate" if s.is_multiple_of(2) => format!("{}%", s % 100),
        "error-rate" => format!("0.0{}", s % 10),
        m if m.ends_with("-latency") && s.is_multiple_of(2) => format!("{}ms", 100 + s % 900),
        m if m.ends_with("-latency") => format!("{}", 100 + s % 900),
        _ => format!("{}", 100 + s % 10_000),
    };
    (o.both.then(|| "0".to_string()), upper)
}

fn version_yaml(out: &mut String, key: &str, v: &Ver) {
    out.push_str(&format!(
        "  {key}:\n    version: {}\n    image: {}\n",
        q(&v.version),
        q(&v.image)
    ));
    if !v.env.is_empty() {
        out.push_str("    env:\n");
        for (k, val) in &v.env {
            out.push_str(&format!("      {}: {}\n", q(k), q(val)));
        }
    }
}

impl Spec {
    fn yaml(&self) -> String {
        let mut o = format!(
            "apiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n  name: {}\n",
            q(&self.name)
        );
        if let Some(ns) = &self.namespace {
            o.push_str(&format!("  namespace: {}\n", q(ns)));
        }
        o.push_str("spec:\n");
        if self.replicas.is_some() || self.port.is_some() {
            o.push_str("  workload:\n");
            if let Some(r) = self.replicas {
                o.push_str(&format!("    replicas: {r}\n"));
            }
            if let Some(p) = self.port {
                o.push_str(&format!("    port: {p}\n"));
            }
        }
        version_yaml(&mut o, "baseline", &self.baseline);
        if let Some(c) = &self.candidate {
            version_yaml(&mut o, "candidate", c);
        }
        o.push_str(&format!("  traffic:\n    router: {}\n", q(self.router)));
        if let Some(w) = self.weight {
            o.push_str(&format!("    candidateWeight: {w}\n"));
        }
        if let Some(e) = &self.experiment {
            let (warmup, duration, interval) = e.timing;
            o.push_str(&format!(
                "  experiment:\n    pattern: {}\n    warmup: {}\n    duration: {}\n    interval: {}\n    confidence: {}\n    minRequests: {}\n",
                e.pattern, q(warmup), q(duration), q(interval), e.confidence, e.min_requests
            ));
            if e.prometheus {
                o.push_str("    prometheus: \"http://prometheus.monitoring:9090\"\n");
            }
            if let Some(objs) = &e.objectives {
                o.push_str("    objectives:\n");
                for obj in objs {
                    let (lower, upper) = limits(obj);
                    o.push_str(&format!(
                        "      - metric: {}\n        upperLimit: {}\n",
                        q(obj.metric),
                        q(&upper)
                    ));
                    if let Some(l) = lower {
                        o.push_str(&format!("        lowerLimit: {}\n", q(&l)));
                    }
                    if obj.relative {
                        o.push_str("        relative: true\n");
                    }
                }
            }
            if !e.rewards.is_empty() {
                o.push_str("    rewards:\n");
                for (m, p) in &e.rewards {
                    o.push_str(&format!("      - {{metric: {}, prefer: {p}}}\n", q(m)));
                }
            }
        }
        if let Some(l) = &self.loadgen {
            o.push_str(&format!(
                "  loadgen:\n    qps: {}\n    connections: {}\n",
                l.qps, l.connections
            ));
            if l.url {
                o.push_str(&format!(
                    "    url: {}\n",
                    q(&format!("http://{}:8080/health?x=1", self.name))
                ));
            } else if self.router != "none" {
                // In-mesh load must go through a sidecar to follow the weights.
                o.push_str("    sidecar: true\n");
            }
            if !l.headers.is_empty() {
                o.push_str("    headers:\n");
                for (k, v) in &l.headers {
                    o.push_str(&format!("      {}: {}\n", q(k), q(v)));
                }
            }
        }
        o
    }
}

fn generate(dir: &Path) -> std::process::Output {
    Command::new(assay_bin())
        .arg("generate")
        .current_dir(dir)
        .env_clear()
        .env("ARGOCD_APP_NAMESPACE", "default")
        .env("ARGOCD_APP_NAME", "web")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example.com/team/apps.git",
        )
        .env("ARGOCD_APP_SOURCE_PATH", "envs/prod")
        .env(
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env(
            "ARGOCD_ENV_PROMETHEUS_URL",
            "http://prometheus.istio-system:9090",
        )
        .output()
        .expect("assay runs")
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

/// Every label map in `v` (`labels`, `matchLabels`, a Service's `selector`).
fn check_labels(v: &Value, at: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}.{k}");
                let is_label_map = matches!(k.as_str(), "labels" | "matchLabels" | "selector")
                    && child
                        .as_object()
                        .is_some_and(|m| m.values().all(Value::is_string));
                if is_label_map {
                    for (lk, lv) in child.as_object().unwrap() {
                        let lv = lv.as_str().unwrap();
                        assert!(is_label_value(lv), "{here}.{lk}: bad label value {lv:?}");
                    }
                }
                check_labels(child, &here);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_labels(item, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

/// The container env of a Deployment must be the version's env, exactly.
fn check_env(doc: &Value, spec: &Spec) {
    let version = doc["metadata"]["labels"]["version"]
        .as_str()
        .expect("version label");
    let ver = std::iter::once(&spec.baseline)
        .chain(&spec.candidate)
        .find(|v| v.version == version)
        .unwrap_or_else(|| panic!("Deployment of unknown version {version}"));
    let containers = doc["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let c = containers
        .iter()
        .find(|c| c["image"] == ver.image.as_str())
        .expect("versioned container");
    let got: Vec<(Value, Value)> = c["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|e| (e["name"].clone(), e["value"].clone()))
                .collect()
        })
        .unwrap_or_default();
    let want: Vec<(Value, Value)> = ver
        .env
        .iter()
        .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
        .collect();
    assert_eq!(got, want, "env of {version}");
}

fn check_stream(stdout: &str, spec: &Spec) {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(stdout)
        .unwrap_or_else(|e| panic!("output is not a YAML stream: {e}\n{stdout}"));
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    assert!(!docs.is_empty());
    let deployments = docs.iter().filter(|d| d["kind"] == "Deployment").count();
    assert_eq!(deployments, 1 + usize::from(spec.candidate.is_some()));
    let namespace = spec.namespace.as_deref().unwrap_or("default");
    for d in docs {
        let kind = d["kind"].as_str().filter(|k| !k.is_empty()).expect("kind");
        assert!(
            d["apiVersion"].as_str().is_some_and(|a| !a.is_empty()),
            "{kind}: apiVersion"
        );
        let name = d["metadata"]["name"].as_str().expect("metadata.name");
        // No passthrough files here: every object is generated, so a label, not just a subdomain.
        assert!(
            is_label(name),
            "{kind} name {name:?} ({} chars)",
            name.len()
        );
        assert_eq!(d["metadata"]["namespace"], namespace, "{kind} {name}");
        check_labels(d, &format!("{kind}/{name}"));
        if kind == "Deployment" {
            check_env(d, spec);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case spawns the binary twice; no regression files outside tests/it/props.rs.
        failure_persistence: None,
        ..ProptestConfig::with_cases(48)
    })]

    #[test]
    fn valid_specs_render_deterministically_and_safely(spec in spec()) {
        let dir = tempfile::tempdir().unwrap();
        let text = spec.yaml();
        std::fs::write(dir.path().join("assay.yaml"), &text).unwrap();
        let first = generate(dir.path());
        let stderr = String::from_utf8_lossy(&first.stderr);
        prop_assert!(first.status.success(), "assay failed: {}\n--- assay.yaml ---\n{}", stderr, text);
        let second = generate(dir.path());
        prop_assert_eq!(&first.stdout, &second.stdout, "two runs differ");
        let stdout = String::from_utf8(first.stdout).expect("UTF-8 output");
        check_stream(&stdout, &spec);
    }
}

#[test]
fn tricky_values_survive_a_quoted_round_trip() {
    // The generator's own premise: JSON-quoted strings read back as the same text.
    for v in TRICKY {
        let doc: Value = serde_saphyr::from_str(&format!("v: {}\n", q(v))).unwrap();
        assert_eq!(doc["v"], *v, "{v:?}");
    }
}
