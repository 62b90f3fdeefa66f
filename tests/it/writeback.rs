//! `assay writeback` against real git servers on loopback: git daemon,
//! sshd (host keys checked), and git http-backend behind lighttpd with basic
//! auth over HTTPS. Races are made deterministic with the engine's
//! `before_push` seam; nothing here sleeps to synchronise.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use assay::gitops::credentials::Credentials;
use assay::gitops::edit::VerdictEdit;
use assay::gitops::repo::Remote;
use assay::gitops::writeback::{self, Outcome, Request};
use assay::runtime::Runtime;

use crate::support::git_servers::{BareRepo, GitDaemon, HttpGit, Sshd};
use crate::support::{assay_bin, bookinfo_with_candidate};

pub(crate) const PATH: &str = "envs/bookinfo/assay.yaml";

/// A repository holding samples/bookinfo with a candidate under test, and
/// that experiment's id.
pub(crate) fn env_repo(name: &str) -> (BareRepo, String) {
    let repo = BareRepo::new(name);
    let spec = bookinfo_with_candidate();
    repo.seed(&[(PATH, &spec), ("README.md", "env repo\n")]);
    (repo, id_of(&spec))
}

pub(crate) fn id_of(spec: &str) -> String {
    assay::spec::parse("assay.yaml", spec.as_bytes())
        .unwrap()
        .id
}

pub(crate) fn writeback(
    url: &str,
    id: &str,
    verdict: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let evidence = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        evidence.path(),
        "| metric | value |\n|---|---|\n| error-rate | 0.001 |\n",
    )
    .unwrap();
    Command::new(assay_bin())
        .args([
            "writeback",
            "--repo",
            url,
            "--branch",
            "main",
            "--path",
            PATH,
            "--experiment",
            id,
            "--verdict",
            verdict,
        ])
        .arg("--evidence")
        .arg(evidence.path())
        // Anonymous unless the test mounts credentials.
        .args(if extra.contains(&"--credentials") {
            &[][..]
        } else {
            &["--credentials", "/nonexistent/assay-credentials"][..]
        })
        .args(extra)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How many commits on main carry this experiment's trailer.
pub(crate) fn verdicts(repo: &BareRepo, id: &str) -> usize {
    let trailer = writeback::trailer(id);
    repo.log("main")
        .iter()
        .filter(|(_, _, body)| body.lines().any(|l| l.trim() == trailer))
        .count()
}

#[test]
fn promote_over_git_daemon_then_rerun_is_a_no_op() {
    let (repo, id) = env_repo("promote");
    let daemon = GitDaemon::start(&repo.root());
    let out = writeback(&daemon.url(&repo), &id, "promote", &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("verdict written"), "{}", stderr(&out));

    let (_, subject, body) = repo.log("main").into_iter().next().unwrap();
    assert_eq!(subject, "assay: promote productpage v2");
    assert!(body.contains("| error-rate | 0.001 |"), "{body}");
    assert!(
        body.contains(&format!("Assay-Experiment: {id}"))
            && body.contains("Assay-Verdict: promote"),
        "{body}"
    );
    let rel =
        assay::spec::parse("assay.yaml", repo.file_at("main", PATH).unwrap().as_bytes()).unwrap();
    assert_eq!(rel.baseline.version, "v2");
    assert_eq!(
        rel.baseline.env.get("color").map(String::as_str),
        Some("green")
    );
    assert!(rel.candidate.is_none());
    assert_eq!(
        repo.file_at("main", "README.md").as_deref(),
        Some("env repo\n")
    );

    let head = repo.head("main");
    let again = writeback(&daemon.url(&repo), &id, "promote", &[], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("verdict already present"),
        "{}",
        stderr(&again)
    );
    assert_eq!(repo.head("main"), head);
    assert_eq!(verdicts(&repo, &id), 1);
}

#[test]
fn reject_records_the_candidate() {
    let (repo, id) = env_repo("reject");
    let daemon = GitDaemon::start(&repo.root());
    let out = writeback(
        &daemon.url(&repo),
        &id,
        "reject",
        &["--reason", "error-rate 0.05 > 0.01"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, subject, body) = repo.log("main").into_iter().next().unwrap();
    assert_eq!(subject, "assay: reject productpage v2");
    assert!(body.contains("Assay-Verdict: reject"), "{body}");
    let rel =
        assay::spec::parse("assay.yaml", repo.file_at("main", PATH).unwrap().as_bytes()).unwrap();
    assert_eq!(rel.baseline.version, "v1");
    assert!(rel.candidate.is_none());
    let rejected = &rel.rejected[0];
    assert_eq!(
        (rejected.version.as_str(), rejected.experiment.as_deref()),
        ("v2", Some(id.as_str()))
    );
    assert_eq!(rejected.reason.as_deref(), Some("error-rate 0.05 > 0.01"));
}

#[test]
fn a_replaced_candidate_supersedes_the_verdict() {
    let (repo, id) = env_repo("superseded");
    let daemon = GitDaemon::start(&repo.root());
    repo.commit_as_other(
        "main",
        PATH,
        &bookinfo_with_candidate().replace("version: v2", "version: v3"),
        "ci: propose v3",
    );
    let head = repo.head("main");
    let out = writeback(&daemon.url(&repo), &id, "promote", &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("superseded"), "{}", stderr(&out));
    assert_eq!(repo.head("main"), head, "nothing may be written");
}

fn request(id: &str) -> Request {
    Request {
        branch: "main".into(),
        path: PATH.into(),
        experiment: id.into(),
        verdict: VerdictEdit::Promote,
        evidence: String::new(),
        author_name: "assay".into(),
        author_email: "assay@assay.dev".into(),
        deadline: Duration::from_secs(60),
        mode: assay::spec::Mode::Push,
        reject: assay::spec::Mode::Push,
        forge: assay::spec::ForgeChoice::Auto,
        api_url: None,
    }
}

/// Another writer pushes between our fetch and our push: the push is
/// refused as a non-fast-forward, and the retry lands on top of theirs.
#[test]
fn a_concurrent_writer_loses_nothing() {
    let (repo, id) = env_repo("race");
    let daemon = GitDaemon::start(&repo.root());
    let remote = Remote::new(&daemon.url(&repo), Credentials::Anonymous);
    let outcome = writeback::write_back_with(
        &remote,
        &request(&id),
        &Runtime::new().unwrap(),
        |_| {},
        |attempt| {
            if attempt == 1 {
                repo.commit_as_other(
                    "main",
                    "other/app.yaml",
                    "kind: ConfigMap\n",
                    "someone else",
                );
            }
        },
    )
    .unwrap();
    assert!(
        matches!(outcome, Outcome::Written { attempts: 2, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        repo.file_at("main", "other/app.yaml").as_deref(),
        Some("kind: ConfigMap\n")
    );
    assert_eq!(verdicts(&repo, &id), 1);
}

/// CI proposes a new candidate between our fetch and push: the re-check
/// sees another experiment, so nothing is written.
#[test]
fn ci_replacing_the_candidate_mid_push_supersedes() {
    let (repo, id) = env_repo("race-ci");
    let daemon = GitDaemon::start(&repo.root());
    let remote = Remote::new(&daemon.url(&repo), Credentials::Anonymous);
    let newer = bookinfo_with_candidate().replace("version: v2", "version: v3");
    let outcome = writeback::write_back_with(
        &remote,
        &request(&id),
        &Runtime::new().unwrap(),
        |_| {},
        |attempt| {
            if attempt == 1 {
                repo.commit_as_other("main", PATH, &newer, "ci: propose v3");
            }
        },
    )
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Superseded {
            found: Some(id_of(&newer))
        }
    );
    assert_eq!(repo.file_at("main", PATH).as_deref(), Some(newer.as_str()));
    assert_eq!(verdicts(&repo, &id), 0);
}

pub(crate) fn credentials_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

pub(crate) fn with_credentials(dir: &Path) -> [String; 2] {
    ["--credentials".into(), dir.display().to_string()]
}

/// The write-back failed (exit 1) saying `needle`.
pub(crate) fn assert_fails_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

/// The secret value must appear in no output.
pub(crate) fn assert_no_secret(out: &Output, secret: &str) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(secret),
            "secret leaked: {}",
            String::from_utf8_lossy(stream)
        );
    }
}

#[test]
fn ssh_with_a_known_host_key() {
    let (repo, id) = env_repo("ssh");
    let sshd = Sshd::start();
    let key = sshd.client_private_key();
    let creds = credentials_dir(&[("sshPrivateKey", &key), ("knownHosts", &sshd.known_hosts())]);
    let args = with_credentials(creds.path());
    let out = writeback(&sshd.url(&repo), &id, "promote", &[&args[0], &args[1]], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(verdicts(&repo, &id), 1);
    assert_no_secret(&out, key.lines().nth(1).unwrap());
}

#[test]
fn ssh_refuses_an_unknown_host_key() {
    let (repo, id) = env_repo("ssh-unknown");
    let sshd = Sshd::start();
    let creds = credentials_dir(&[
        ("sshPrivateKey", &sshd.client_private_key()),
        ("knownHosts", &sshd.wrong_known_hosts()),
    ]);
    let args = with_credentials(creds.path());
    let head = repo.head("main");
    let out = writeback(&sshd.url(&repo), &id, "promote", &[&args[0], &args[1]], &[]);
    assert_fails_with(&out, "not in knownHosts");
    assert_eq!(repo.head("main"), head);
}

#[test]
fn https_basic_auth_and_a_wrong_password() {
    let (repo, id) = env_repo("https");
    let http = HttpGit::start(&repo.root());
    let ca = http.ca_cert_path().display().to_string();
    let env = [("SSL_CERT_FILE", ca.as_str())];

    let wrong = "not-the-password-7f3a";
    let creds = credentials_dir(&[("username", http.username()), ("password", wrong)]);
    let args = with_credentials(creds.path());
    let out = writeback(
        &http.url(&repo),
        &id,
        "promote",
        &[&args[0], &args[1]],
        &env,
    );
    assert_fails_with(&out, "authentication failed");
    assert_no_secret(&out, wrong);

    let creds = credentials_dir(&[("username", http.username()), ("password", http.password())]);
    let args = with_credentials(creds.path());
    let out = writeback(
        &http.url(&repo),
        &id,
        "promote",
        &[&args[0], &args[1]],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_secret(&out, http.password());
    assert_eq!(verdicts(&repo, &id), 1);
    let log = repo.log("main");
    assert!(
        log.iter()
            .all(|(_, s, b)| !s.contains(http.password()) && !b.contains(http.password()))
    );
}

#[test]
fn a_server_that_is_down_fails_after_bounded_retries() {
    let (repo, id) = env_repo("down");
    let daemon = GitDaemon::start(&repo.root());
    let url = daemon.url(&repo);
    daemon.kill();
    let out = writeback(&url, &id, "promote", &["--deadline", "2s"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("gave up after") && err.contains("127.0.0.1"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Pull-request mode: the verdict goes to `assay/<name>-<id>` and a pull
/// request is opened on a loopback fake of GitHub's REST API; a re-run finds
/// it open and writes nothing.
#[test]
fn pull_request_mode_opens_then_reuses() {
    use crate::support::fake_forge::Fake;
    use wiremock::matchers::{body_partial_json, header, method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let repo = BareRepo::new("acme/env");
    let spec = bookinfo_with_candidate();
    repo.seed(&[(PATH, &spec)]);
    let id = id_of(&spec);
    let daemon = GitDaemon::start(&repo.root());
    let token = "ghp_fake_token_4b1d";
    let creds = credentials_dir(&[("token", token)]);
    let head = format!("assay/productpage-{id}");
    let pr = serde_json::json!({
        "html_url": "https://github.example/acme/env/pull/7", "number": 7, "state": "open",
        "head": {"ref": head, "label": format!("acme:{head}")}, "base": {"ref": "main"}
    });

    let fake = Fake::start();
    let list = || {
        Mock::given(method("GET"))
            .and(path("/repos/acme/env/pulls"))
            .and(query_param("head", format!("acme:{head}")))
            .and(header("authorization", format!("Bearer {token}")))
    };
    fake.mount(
        list()
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/env/pulls"))
            .and(header("authorization", format!("Bearer {token}")))
            .and(body_partial_json(serde_json::json!({"title": "assay: promote productpage v2", "head": head, "base": "main"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(pr.clone()))
            .expect(1),
    );
    let api = fake.server.uri();
    let args = with_credentials(creds.path());
    let extra = [
        "--mode",
        "pull-request",
        "--forge",
        "github",
        "--api-url",
        &api,
        &args[0],
        &args[1],
    ];
    let main_before = repo.head("main");
    let out = writeback(&daemon.url(&repo), &id, "promote", &extra, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pull request opened: https://github.example/acme/env/pull/7"),
        "{}",
        stderr(&out)
    );
    assert_no_secret(&out, token);
    assert_eq!(
        repo.head("main"),
        main_before,
        "pull-request mode never pushes to the base branch"
    );
    let (_, subject, body) = repo.log(&head).into_iter().next().unwrap();
    assert_eq!(subject, "assay: promote productpage v2");
    assert!(body.contains(&writeback::trailer(&id)), "{body}");
    fake.verify();

    // Re-run: the pull request is open, so nothing is pushed or posted.
    let fake = Fake::start();
    fake.mount(
        list()
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([pr])))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0),
    );
    let api = fake.server.uri();
    let branch_before = repo.head(&head);
    let extra = [
        "--mode",
        "pull-request",
        "--forge",
        "github",
        "--api-url",
        &api,
        &args[0],
        &args[1],
    ];
    let out = writeback(&daemon.url(&repo), &id, "promote", &extra, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "already present: pull request https://github.example/acme/env/pull/7 is open"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.head(&head), branch_before);
    fake.verify();
}
