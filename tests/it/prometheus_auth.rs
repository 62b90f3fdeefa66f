//! Prometheus as it is really deployed (issue 14 item 5), with real parts:
//! - Debian's Prometheus with its own `--web.config.file`: basic auth
//!   (bcrypt) and TLS with a certificate from a throwaway CA (openssl);
//! - lighttpd as a reverse proxy in front of it that wants a bearer token
//!   and a tenant header (`X-Scope-OrgID`), as Mimir or Thanos do.
//!
//! `assay judge` gets the credentials as the hook does (a directory laid out
//! like the mounted Secret) or from flags and the environment; the hook
//! (`assay promote`) the same. Every secret value is grepped for in each
//! output, in Prometheus' query log and in the proxy's access log.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::auth_proxy::AuthProxy;
use crate::support::git_servers::make_certificates;
use crate::support::prometheus::{OpenMetrics, Prometheus, Span, WebConfig, Workload};
use crate::support::{app_copy, assay_bin, bookinfo_with_candidate, generate_ok, sample_dir};

pub(crate) const USER: &str = "reader";
pub(crate) const PASSWORD: &str = "prom-basic-pw-5e1d";
/// bcrypt (cost 4) of [`PASSWORD`], as `basic_auth_users` wants it.
pub(crate) const PASSWORD_HASH: &str =
    "$2b$04$osm1e9gIxMrg76XYOVvPzu5Wyt.nPdkSl67Ga.uFzSStVmvMKYM6i";
const TOKEN: &str = "prom-bearer-token-91c2";
const TENANT: &str = "team-a";

/// 2026-01-01T00:00:00Z; the window [AT-300s, AT] lies inside the data.
const T0: i64 = 1_767_225_600;
const AT: &str = "2026-01-01T00:10:00Z";
const STARTED: &str = "2026-01-01T00:04:30Z";

fn data() -> OpenMetrics {
    let span = Span::new(T0, T0 + 900);
    OpenMetrics::new()
        .workload(&Workload::new("bookinfo", "productpage-v1", span).rps(38.4))
        .workload(&Workload::new("bookinfo", "productpage-v2", span).rps(9.6))
}

fn experiment() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = app_copy(&sample_dir("bookinfo"), Some(&bookinfo_with_candidate()));
    let out = generate_ok(dir.path(), &[]);
    let path = dir.path().join("rendered.yaml");
    std::fs::write(&path, out).unwrap();
    (dir, path)
}

fn judge(exp: &Path, url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(assay_bin())
        .args(["judge", "--experiment"])
        .arg(exp)
        .args(["--prometheus", url, "--started-at", STARTED, "--at", AT])
        .args(["--output", "json"])
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The judge saw both versions' data: v2's 2,880 requests over the window.
fn assert_judged(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rate = j["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == "v2" && e["metric"] == "error-rate")
        .unwrap();
    assert_eq!(rate["samples"], 2880, "{j:#}");
    assert_eq!(j["verdict"], "promote", "{j:#}");
}

fn assert_secret_free(what: &str, text: &str) {
    for secret in [PASSWORD, TOKEN] {
        assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
    }
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

#[test]
fn basic_auth_and_tls_with_a_throwaway_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let prom = Prometheus::start_with(
        &data(),
        Some(WebConfig {
            users: vec![(USER.into(), PASSWORD_HASH.into())],
            tls: Some((
                certs.path().join("server.pem"),
                certs.path().join("server.key"),
            )),
        }),
    );
    assert!(prom.url().starts_with("https://"));
    let (_app, exp) = experiment();
    let ca = std::fs::read_to_string(certs.path().join("ca.pem")).unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let mounted = secrets.path().join("mounted");
    write(
        &mounted,
        &[
            ("username", &format!("{USER}\n")),
            ("password", &format!("{PASSWORD}\n")),
            ("ca.crt", &ca),
        ],
    );
    let dir = mounted.to_str().unwrap();

    // As the hook mounts the Secret.
    let ok = judge(&exp, &prom.url(), &["--prometheus-auth", dir], &[]);
    assert_judged(&ok);
    assert_secret_free("judge output", &text(&ok));

    // The same from the environment and flags, no directory.
    let ca_file = certs.path().join("ca.pem");
    let ok = judge(
        &exp,
        &prom.url(),
        &[
            "--prometheus-username",
            USER,
            "--prometheus-ca",
            ca_file.to_str().unwrap(),
        ],
        &[("ASSAY_PROMETHEUS_PASSWORD", PASSWORD)],
    );
    assert_judged(&ok);

    // Without the CA: the system roots do not know it.
    let no_ca = secrets.path().join("no-ca");
    write(&no_ca, &[("username", USER), ("password", PASSWORD)]);
    let out = judge(
        &exp,
        &prom.url(),
        &["--prometheus-auth", no_ca.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains(&format!("prometheus {}: cannot connect", prom.url()))
            && err.contains("certificate"),
        "{err}"
    );
    assert_secret_free("untrusted CA error", &err);

    // A wrong password: Prometheus' own 401, said in one line.
    let wrong = secrets.path().join("wrong");
    write(
        &wrong,
        &[
            ("username", USER),
            ("password", "not-the-password"),
            ("ca.crt", &ca),
        ],
    );
    let out = judge(
        &exp,
        &prom.url(),
        &["--prometheus-auth", wrong.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("HTTP 401 Unauthorized"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // A mounted but empty Secret (optional volume, Secret missing) is an error, not "no auth".
    let empty = secrets.path().join("empty");
    write(&empty, &[]);
    let out = judge(
        &exp,
        &prom.url(),
        &["--prometheus-auth", empty.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds none of token, username + password, headers, ca.crt"),
        "{}",
        text(&out)
    );

    let log = prom.query_log();
    assert!(log.contains("istio_requests_total"), "{log}");
    assert_secret_free("Prometheus query log", &log);
}

#[test]
fn bearer_token_and_tenant_header_through_a_reverse_proxy() {
    let prom = Prometheus::start_with(&data(), Some(WebConfig::default()));
    let proxy = AuthProxy::start(prom.port(), TOKEN, TENANT);
    let (_app, exp) = experiment();
    let tenant = format!("X-Scope-OrgID: {TENANT}");

    let ok = judge(
        &exp,
        &proxy.url(),
        &["--prometheus-header", &tenant],
        &[("ASSAY_PROMETHEUS_TOKEN", TOKEN)],
    );
    assert_judged(&ok);
    assert_secret_free("judge output", &text(&ok));

    // The same from a mounted Secret: token and headers files.
    let secrets = tempfile::tempdir().unwrap();
    write(
        secrets.path(),
        &[("token", TOKEN), ("headers", &format!("{tenant}\n"))],
    );
    let ok = judge(
        &exp,
        &proxy.url(),
        &[],
        &[("ASSAY_PROMETHEUS_AUTH", secrets.path().to_str().unwrap())],
    );
    assert_judged(&ok);

    // Without the tenant header the proxy refuses.
    let out = judge(
        &exp,
        &proxy.url(),
        &[],
        &[("ASSAY_PROMETHEUS_TOKEN", TOKEN)],
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("HTTP 403"), "{err}");
    assert_secret_free("refused query error", &err);

    proxy.stop();
    let access = proxy.access_log();
    assert!(access.contains("GET /api/v1/query?query="), "{access}");
    assert!(access.contains(" 403 "), "{access}");
    assert_secret_free("proxy access log", &access);
    assert_secret_free("Prometheus query log", &prom.query_log());
}

#[test]
fn a_named_secret_is_mounted_into_the_hook_and_stays_out_of_the_experiment() {
    let plain = "    prometheus: http://prometheus.istio-system:9090\n";
    let spec = bookinfo_with_candidate();
    assert!(spec.contains(plain));
    let spec = spec.replace(
        plain,
        "    prometheus:\n      url: https://mimir.example:8080/prometheus\n      secret: prom-creds\n",
    );
    let dir = app_copy(&sample_dir("bookinfo"), Some(&spec));
    let out = generate_ok(dir.path(), &[]);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out).unwrap();
    let exp = docs.iter().find(|d| d["kind"] == "Experiment").unwrap();
    assert_eq!(
        exp["spec"]["prometheus"],
        "https://mimir.example:8080/prometheus"
    );
    assert!(!serde_json::to_string(exp).unwrap().contains("prom-creds"));
    let job = docs
        .iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == "productpage-promote")
        .unwrap();
    let pod = &job["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "prometheus-credentials")
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "prom-creds");
    assert_eq!(volume["secret"]["optional"], true);
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "prometheus-credentials")
        .unwrap();
    assert_eq!(mount["mountPath"], "/var/run/secrets/assay/prometheus");
    assert_eq!(mount["readOnly"], true);

    // A bad Secret name is one line with its place.
    let bad = spec.replace("secret: prom-creds", "secret: Prom_Creds");
    let dir = app_copy(&sample_dir("bookinfo"), Some(&bad));
    let out = crate::support::generate(dir.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.experiment.prometheus.secret")
            && err.contains("must be a Secret name (DNS-1123 subdomain), got \"Prom_Creds\""),
        "{err}"
    );
}
