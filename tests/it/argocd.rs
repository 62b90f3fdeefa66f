//! The hook asks Argo CD to refresh the Application once the verdict is in
//! Git: against a loopback fake of the Argo CD API server (HTTPS, throwaway
//! CA), checking the method, path, query, bearer token and TLS. A refusal
//! (403, 404), an unreachable server or an untrusted certificate is one log
//! line and never fails the hook; the token shows up nowhere.

use std::process::Output;

use serde_json::{Value, json};

use crate::promote::stderr;
use crate::reject_push::Resumed;
use crate::support::fake_argocd::FakeArgocd;
use crate::support::{app_copy, bookinfo_with_candidate, generate, generate_ok, sample_dir};

const ARGOCD_TOKEN: &str = "argocd-fake-token-5e2b71";

/// A resumed reject in push mode whose Experiment names `server` and the
/// Application `bookinfo` (in `app_ns`, if any); the Secret holds only the
/// Argo CD token (git:// needs none).
fn resumed(repo: &str, server: Option<String>, app_ns: Option<&str>) -> Resumed {
    Resumed::new(
        repo,
        &[("argocdToken", ARGOCD_TOKEN)],
        move |spec: &mut Value| {
            spec["application"] = match app_ns {
                Some(ns) => json!({"name": "bookinfo", "namespace": ns}),
                None => json!({"name": "bookinfo"}),
            };
            if let Some(s) = server {
                spec["writeBack"]["argocdServer"] = json!(s);
            }
        },
    )
}

/// The hook's lines about Argo CD.
fn argocd_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("Argo CD"))
        .map(str::to_string)
        .collect()
}

/// The verdict went to Git whatever Argo CD said.
fn assert_delivered(r: &Resumed, out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
    assert_eq!(r.env.verdict_commits(&r.id).len(), 1, "{}", stderr(out));
    assert_eq!(r.status()["phase"], "Completed");
    r.assert_nowhere(out, ARGOCD_TOKEN);
}

#[test]
fn the_verdict_commit_is_followed_by_one_refresh_request() {
    let argocd = FakeArgocd::start();
    let r = resumed("env-argocd-ok", Some(argocd.url()), Some("team-a"));
    let ca = argocd.ca_cert_path();
    let out = r.run(&[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_delivered(&r, &out);
    let seen = argocd.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        "/api/v1/applications/bookinfo?refresh=normal&appNamespace=team-a"
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {ARGOCD_TOKEN}").as_str())
    );
    assert_eq!(seen[0].host, argocd.url().trim_start_matches("https://"));
    let status = r.status();
    let at =
        |k: &str| -> k8s_openapi::jiff::Timestamp { status[k].as_str().unwrap().parse().unwrap() };
    let (delivered, refreshed) = (at("deliveredAt"), at("refreshedAt"));
    assert!(refreshed >= delivered, "{status}");
    assert_eq!(
        argocd_lines(&out),
        ["assay: Argo CD refreshed application bookinfo"],
        "{}",
        stderr(&out)
    );
}

/// Argo CD answers `status`: logged once, the hook succeeds.
fn refused(repo: &str, status: u16, expect: &str) {
    let argocd = FakeArgocd::start();
    argocd.answer_with(status);
    let r = resumed(repo, Some(argocd.url()), None);
    let ca = argocd.ca_cert_path();
    let out = r.run(&[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_delivered(&r, &out);
    let seen = argocd.seen();
    assert_eq!(seen.len(), 1, "one request, no retry: {seen:?}");
    assert_eq!(
        seen[0].target,
        "/api/v1/applications/bookinfo?refresh=normal"
    );
    let lines = argocd_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(expect), "{lines:?}");
    assert_eq!(r.status().get("refreshedAt"), None, "not refreshed");
}

#[test]
fn a_403_is_logged_once_and_does_not_fail_the_hook() {
    refused(
        "env-argocd-403",
        403,
        "HTTP 403 Forbidden: permission denied",
    );
}

#[test]
fn a_404_is_logged_once_and_does_not_fail_the_hook() {
    refused(
        "env-argocd-404",
        404,
        "HTTP 404 Not Found: applications.argoproj.io \"bookinfo\" not found",
    );
}

#[test]
fn an_unreachable_server_is_logged_once_and_does_not_fail_the_hook() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = resumed(
        "env-argocd-down",
        Some(format!("https://127.0.0.1:{port}")),
        None,
    );
    let out = r.run(&[]);
    assert_delivered(&r, &out);
    let lines = argocd_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("cannot connect"), "{lines:?}");
}

#[test]
fn an_untrusted_certificate_gets_no_request_and_does_not_fail_the_hook() {
    let argocd = FakeArgocd::start();
    let r = resumed("env-argocd-tls", Some(argocd.url()), None);
    // No SSL_CERT_FILE: the system roots do not know the fake's CA.
    let out = r.run(&[]);
    assert_delivered(&r, &out);
    assert_eq!(argocd.seen(), [], "the handshake failed before any request");
    let lines = argocd_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].to_lowercase().contains("certificate"), "{lines:?}");
}

#[test]
fn without_a_server_or_a_token_the_refresh_is_skipped_in_one_line() {
    let r = resumed("env-argocd-none", None, None);
    let out = r.run(&[]);
    assert_delivered(&r, &out);
    assert_eq!(argocd_lines(&out).len(), 1, "{}", stderr(&out));
    assert!(argocd_lines(&out)[0].contains("skipped: no server set"));

    let argocd = FakeArgocd::start();
    // A git token, no argocdToken.
    let r = Resumed::new(
        "env-argocd-notoken",
        &[("token", "git-only-token")],
        |spec: &mut Value| {
            spec["writeBack"]["argocdServer"] = json!(argocd.url());
        },
    );
    let out = r.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(argocd.seen(), []);
    let lines = argocd_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("no argocdToken"), "{lines:?}");
}

/// `writeBack` of the Experiment `generate` renders for the bookinfo sample
/// with a candidate, `promotion:` lines added and `env` set.
fn rendered_write_back(promotion: &str, env: &[(&str, &str)]) -> Value {
    let spec = bookinfo_with_candidate().replace(
        "    credentialsSecret: assay-git\n",
        &format!("    credentialsSecret: assay-git\n{promotion}"),
    );
    let dir = app_copy(&sample_dir("bookinfo"), Some(&spec));
    let out = generate_ok(dir.path(), env);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out).unwrap();
    docs.into_iter()
        .find(|d| d["kind"] == "Experiment")
        .unwrap()["spec"]["writeBack"]
        .clone()
}

#[test]
fn the_server_comes_from_the_spec_then_parameter_then_plugin_env() {
    let wb = rendered_write_back("", &[]);
    assert_eq!(wb.get("argocdServer"), None);
    assert_eq!(wb["reject"], "push", "rejects are pushed by default");
    let env = ("ARGOCD_ENV_ARGOCD_SERVER", "https://argocd.env.example");
    let wb = rendered_write_back("", &[env]);
    assert_eq!(wb["argocdServer"], "https://argocd.env.example");
    let param = (
        "ARGOCD_APP_PARAMETERS",
        r#"[{"name":"argocd-server","string":"https://argocd.param.example"}]"#,
    );
    let wb = rendered_write_back("", &[env, param]);
    assert_eq!(wb["argocdServer"], "https://argocd.param.example");
    let wb = rendered_write_back(
        "    reject: pull-request\n    argocd:\n      server: https://argocd.spec.example\n",
        &[env, param],
    );
    assert_eq!(wb["argocdServer"], "https://argocd.spec.example");
    assert_eq!(wb["reject"], "pull-request");
}

#[test]
fn a_bad_server_or_reject_is_one_clear_error() {
    let spec = bookinfo_with_candidate().replace(
        "    credentialsSecret: assay-git\n",
        "    credentialsSecret: assay-git\n    argocd:\n      server: argocd.example\n",
    );
    let dir = app_copy(&sample_dir("bookinfo"), Some(&spec));
    let out = generate(dir.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = spec
        .lines()
        .position(|l| l.contains("server: argocd.example"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("assay.yaml:{line}:"))
            && err.contains("spec.promotion.argocd.server")
            && err.contains("expected an http:// or https:// URL"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let spec = bookinfo_with_candidate().replace(
        "    credentialsSecret: assay-git\n",
        "    credentialsSecret: assay-git\n    reject: later\n",
    );
    let dir = app_copy(&sample_dir("bookinfo"), Some(&spec));
    let out = generate(dir.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reject"), "{err}");

    let bad_env = [("ARGOCD_ENV_ARGOCD_SERVER", "argocd")];
    let dir = app_copy(&sample_dir("bookinfo"), Some(&bookinfo_with_candidate()));
    let out = generate(dir.path(), &bad_env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plugin env ARGOCD_ENV_ARGOCD_SERVER: expected an http:// or https:// URL"),
        "{err}"
    );
}
