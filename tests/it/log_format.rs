//! `--log-format json` / `ASSAY_LOG_FORMAT` (issue 14 item 6): the hook's
//! and the CLI's stderr as one JSON object per line, with level, message,
//! experiment, look and verdict; and the sidecar's setting reaching the
//! hook Jobs it renders.

use serde_json::Value;

use crate::promote::{Env, id_of, prometheus, promote_local, stderr};
use crate::support::{app_copy, assay_bin, bookinfo_with_candidate, generate, sample_dir};

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .collect()
}

#[test]
fn the_hook_logs_one_json_object_per_line_with_its_context() {
    let env = Env::new("env-json-log");
    env.propose("v2", "iter8/productpage:v2");
    let id = id_of(&env.spec());
    let exp = env.render();
    let prom = prometheus(|w| Some(w.error_fraction(0.2)));
    let out = promote_local(
        &exp,
        &prom.url(),
        "/nonexistent/assay-credentials",
        &[("ASSAY_LOG_FORMAT", "json")],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines = json_lines(&err);
    assert!(lines.len() >= 3, "{err}");
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["time", "level", "message", "experiment", "look", "verdict"],
            "{l}"
        );
        assert!(
            l["message"]
                .as_str()
                .is_some_and(|m| !m.starts_with("assay:")),
            "{l}"
        );
        assert!(
            l["experiment"].as_str().is_some_and(|e| e.ends_with(&id)),
            "{l}"
        );
    }
    let look = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("look 1 ("))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        (look["level"].as_str(), look["look"].as_u64()),
        (Some("info"), Some(1))
    );
    assert_eq!(look["verdict"], "reject");
    let last = lines.last().unwrap();
    assert_eq!(last["message"], "done: verdict reject delivered");
    assert_eq!(
        (last["look"].as_u64(), last["verdict"].as_str()),
        (Some(1), Some("reject"))
    );
    // Before the first look: no look, no verdict.
    assert!(
        lines[0]["look"].is_null() && lines[0]["verdict"].is_null(),
        "{err}"
    );
    assert_eq!(env.verdict_commits(&id).len(), 1);
}

#[test]
fn a_failing_command_is_one_json_error_line() {
    let out = std::process::Command::new(assay_bin())
        .args([
            "judge",
            "--log-format",
            "json",
            "--experiment",
            "/nonexistent/exp.yaml",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = json_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(lines[0]["level"], "error");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("/nonexistent/exp.yaml"),
        "{err}"
    );
    // Text stays as it was, and generate keeps text whatever the environment.
    let out = std::process::Command::new(assay_bin())
        .args(["judge", "--experiment", "/nonexistent/exp.yaml"])
        .env_clear()
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("assay: /nonexistent/exp.yaml"));
    let broken = app_copy(&sample_dir("bookinfo"), Some("kind: Release\n"));
    let out = generate(broken.path(), &[("ASSAY_LOG_FORMAT", "json")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("assay: "));
}

#[test]
fn the_sidecar_setting_reaches_the_hook_jobs() {
    let dir = app_copy(&sample_dir("bookinfo"), Some(&bookinfo_with_candidate()));
    let out = generate(dir.path(), &[("ASSAY_HOOK_LOG_FORMAT", "json")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let hooks: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            d["kind"] == "Job"
                && d["metadata"]["annotations"]["argocd.argoproj.io/hook"].is_string()
        })
        .collect();
    assert_eq!(hooks.len(), 2);
    for job in hooks {
        let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        assert!(
            env.iter()
                .any(|e| e["name"] == "ASSAY_LOG_FORMAT" && e["value"] == "json"),
            "{job}"
        );
    }
    let out = generate(dir.path(), &[("ASSAY_HOOK_LOG_FORMAT", "yaml")]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "assay: sidecar env ASSAY_HOOK_LOG_FORMAT: expected text or json, got \"yaml\""
    );
}
