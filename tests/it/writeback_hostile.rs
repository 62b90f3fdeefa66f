//! The write-back against hostile or broken surroundings: servers that
//! redirect elsewhere (credentials stay on the named host and port), a
//! forge that never answers, and a symlinked `assay.yaml`.

use std::time::Duration;

use crate::support::bookinfo_with_candidate;
use crate::support::git_servers::{BareRepo, GitDaemon};
use crate::writeback::{
    PATH, assert_fails_with, assert_no_secret, credentials_dir, env_repo, id_of, stderr, verdicts,
    with_credentials, writeback,
};

/// Credentials go only to the host and port the remote URL names: a
/// redirect on the same server takes them along, a redirect to another host
/// name or another port proceeds without them, and fails with one line when
/// that server asks for them.
#[test]
fn credentials_never_follow_a_redirect_to_another_host_or_port() {
    use crate::support::redirect_server::RedirectServer;
    let token = "tok-5ec2e7-only-for-the-named-host";
    let creds = credentials_dir(&[("token", token)]);
    let args = with_credentials(creds.path());
    let (same, other_host, from, other_port) = (
        RedirectServer::start(),
        RedirectServer::start(),
        RedirectServer::start(),
        RedirectServer::start(),
    );
    let cas = tempfile::NamedTempFile::new().unwrap();
    let pem: String = [&same, &other_host, &from, &other_port]
        .iter()
        .map(|s| std::fs::read_to_string(s.ca_cert_path()).unwrap())
        .collect();
    std::fs::write(cas.path(), pem).unwrap();
    let env = [("SSL_CERT_FILE", cas.path().to_str().unwrap())];
    let run = |port: u16| {
        let url = format!("https://127.0.0.1:{port}/env.git");
        let extra = [args[0].as_str(), args[1].as_str(), "--deadline", "20s"];
        let out = writeback(&url, "0123456789", "promote", &extra, &env);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_no_secret(&out, token);
        stderr(&out)
    };

    same.redirect_to("");
    run(same.port());
    assert!(
        same.seen()
            .iter()
            .any(|s| s.path.starts_with("/moved/") && s.authorization),
        "{:?}",
        same.seen()
    );

    other_host.redirect_to(&format!("https://localhost:{}", other_host.port()));
    let err = run(other_host.port());
    let seen = other_host.seen();
    assert!(
        seen.iter().any(|s| s.host.starts_with("localhost")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|s| !s.authorization), "{seen:?}");
    assert!(err.contains("credentials go only to"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    from.redirect_to(&format!("https://127.0.0.1:{}", other_port.port()));
    let err = run(from.port());
    assert!(!other_port.seen().is_empty());
    for s in from.seen().iter().chain(&other_port.seen()) {
        assert!(!s.authorization, "{s:?}");
    }
    assert!(err.contains("credentials go only to"), "{err}");
}

/// Commits `links` (path, target) as symbolic links on main, as a user
/// with `ln -s` would.
fn commit_links(repo: &BareRepo, links: &[(&str, &str)]) {
    use crate::support::git_servers::{git_command, run_ok};
    let work = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        run_ok(
            git_command(&repo.home())
                .arg("-C")
                .arg(work.path())
                .args(["-c", "user.name=ci", "-c", "user.email=ci@example.com"])
                .args(args),
        )
    };
    run_ok(
        git_command(&repo.home())
            .args(["clone", "-q", "-b", "main"])
            .arg(repo.path())
            .arg(work.path()),
    );
    for (path, target) in links {
        let at = work.path().join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(target, &at).unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "ci: link the spec"]);
    git(&["push", "-q", "origin", "main"]);
}

/// A symlinked `assay.yaml` in the env repo: the verdict edits the target
/// and the link stays a link; a link out of the repository is refused.
#[test]
fn a_symlinked_spec_is_written_through_the_link() {
    let repo = BareRepo::new("symlink");
    let spec = bookinfo_with_candidate();
    repo.seed(&[("shared/bookinfo.yaml", &spec)]);
    commit_links(&repo, &[(PATH, "../../shared/bookinfo.yaml")]);
    let daemon = GitDaemon::start(&repo.root());
    let id = id_of(&spec);
    let out = writeback(&daemon.url(&repo), &id, "promote", &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(verdicts(&repo, &id), 1);
    let mode = repo.git(&["ls-tree", "main", PATH]);
    assert!(mode.starts_with("120000 "), "{mode}");
    let now = repo.file_at("main", "shared/bookinfo.yaml").unwrap();
    let now = assay::spec::parse("assay.yaml", now.as_bytes()).unwrap();
    assert!(now.candidate.is_none() && now.baseline.version == "v2");

    commit_links(&repo, &[(PATH, "../../../outside.yaml")]);
    let head = repo.head("main");
    let out = writeback(&daemon.url(&repo), &id, "promote", &[], &[]);
    assert_fails_with(&out, "outside the repository");
    assert_eq!(repo.head("main"), head);
}

/// Pull-request mode against a forge API that redirects to another port:
/// the token never reaches it; one that never answers cannot hold the
/// write-back past its deadline.
#[test]
fn the_forge_token_stays_on_its_origin_and_calls_keep_the_deadline() {
    use crate::support::fake_forge::Fake;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let repo = BareRepo::new("acme/env");
    let spec = bookinfo_with_candidate();
    repo.seed(&[(PATH, &spec)]);
    let id = id_of(&spec);
    let daemon = GitDaemon::start(&repo.root());
    let token = "ghp_fake_token_redirected_9c1e";
    let creds = credentials_dir(&[("token", token)]);
    let args = with_credentials(creds.path());
    let run = |api: &str, deadline: &str| {
        let extra = [
            "--mode",
            "pull-request",
            "--forge",
            "github",
            "--api-url",
            api,
            "--deadline",
            deadline,
            &args[0],
            &args[1],
        ];
        let started = std::time::Instant::now();
        let out = writeback(&daemon.url(&repo), &id, "promote", &extra, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_no_secret(&out, token);
        (started.elapsed(), stderr(&out))
    };

    let elsewhere = Fake::start();
    elsewhere.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)));
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/env/pulls"))
            .respond_with(ResponseTemplate::new(302).insert_header(
                "location",
                format!("{}/repos/acme/env/pulls", elsewhere.server.uri()),
            )),
    );
    run(&fake.server.uri(), "20s");
    let received = elsewhere
        .rt
        .block_on(elsewhere.server.received_requests())
        .unwrap();
    assert!(received.is_empty(), "{received:?}");

    let silent = Fake::start();
    silent.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120))),
    );
    let (took, err) = run(&silent.server.uri(), "3s");
    assert!(took < Duration::from_secs(8), "{took:?}: {err}");
    assert!(err.contains("deadline"), "{err}");
}

/// A repository that does not exist, over SSH and HTTPS: final at once (one
/// line, no retries), like git daemon's "not exported".
#[test]
fn a_missing_repository_is_final_over_ssh_and_https() {
    use crate::support::git_servers::{HttpGit, Sshd};
    let (repo, id) = env_repo("present");
    let sshd = Sshd::start();
    let ssh = credentials_dir(&[
        ("sshPrivateKey", &sshd.client_private_key()),
        ("knownHosts", &sshd.known_hosts()),
    ]);
    let http = HttpGit::start(&repo.root());
    let https = credentials_dir(&[("username", http.username()), ("password", http.password())]);
    let ca = http.ca_cert_path().display().to_string();
    for (url, creds) in [(sshd.url(&repo), &ssh), (http.url(&repo), &https)] {
        let url = url.replace("present", "absent");
        let args = with_credentials(creds.path());
        let extra = [args[0].as_str(), args[1].as_str(), "--deadline", "60s"];
        let out = writeback(&url, &id, "promote", &extra, &[("SSL_CERT_FILE", &ca)]);
        assert_fails_with(&out, "no such repository");
        assert!(!stderr(&out).contains("gave up"), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}
