//! Smoke tests of the git-server harness (`support::git_servers`), driven by
//! the real git CLI, not assay: each server clones, takes a commit and a push;
//! wrong host keys and wrong passwords are refused; a killed server refuses
//! connections; servers go away on drop, also when a test panics.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::git_servers::{
    BareRepo, GitDaemon, HttpGit, OTHER_AUTHOR, SEED_AUTHOR, Sshd, git_command, run, run_ok,
};

const FILE: &str = "apps/productpage/assay.yaml";

fn seeded() -> BareRepo {
    let repo = BareRepo::new("env");
    repo.seed(&[(FILE, "baseline: v1\n"), ("README.md", "env repo\n")]);
    repo
}

/// `git` with the harness's clean environment plus `env`.
fn git(repo: &BareRepo, env: &[(&str, OsString)]) -> Command {
    let mut cmd = git_command(&repo.home());
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Clones `url`, edits [`FILE`], commits and pushes to `main` through the
/// server, then checks the bare repo got exactly that commit.
fn clone_commit_push(repo: &BareRepo, url: &str, env: &[(&str, OsString)]) {
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("clone");
    run_ok(git(repo, env).args(["clone", "--quiet", url]).arg(&clone));
    assert_eq!(
        std::fs::read_to_string(clone.join(FILE)).unwrap(),
        "baseline: v1\n"
    );
    std::fs::write(clone.join(FILE), "baseline: v2\n").unwrap();
    let in_clone = |args: &[&str]| run_ok(git(repo, env).arg("-C").arg(&clone).args(args));
    in_clone(&[
        "-c",
        "user.name=Tester",
        "-c",
        "user.email=tester@example.com",
        "commit",
        "--quiet",
        "-am",
        "promote v2",
    ]);
    let pushed = in_clone(&["rev-parse", "HEAD"]);
    in_clone(&["push", "--quiet", "origin", "HEAD:main"]);
    assert_eq!(repo.head("main"), pushed);
    assert_eq!(
        repo.file_at("main", FILE).as_deref(),
        Some("baseline: v2\n")
    );
    assert_eq!(repo.log("main")[0].1, "promote v2");
}

fn ls_remote(repo: &BareRepo, url: &str, env: &[(&str, OsString)]) -> Output {
    run(git(repo, env).args(["ls-remote", url]))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn refuses_connections(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn daemon_clone_commit_push() {
    let repo = seeded();
    let daemon = GitDaemon::start(&repo.root());
    let url = daemon.url(&repo);
    assert_eq!(url, format!("git://127.0.0.1:{}/env.git", daemon.port()));
    clone_commit_push(&repo, &url, &[]);

    // One daemon serves every repo under the root.
    let other = repo.sibling("other");
    other.seed(&[("x", "y\n")]);
    let out = ls_remote(&repo, &daemon.url(&other), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&other.head("main")));
}

#[test]
fn daemon_kill_refuses_connections_until_restart() {
    let repo = seeded();
    let daemon = GitDaemon::start(&repo.root());
    let url = daemon.url(&repo);
    assert!(ls_remote(&repo, &url, &[]).status.success());
    let pid = daemon.pid().unwrap();

    daemon.kill();
    assert!(!alive(pid));
    let started = Instant::now();
    let out = ls_remote(&repo, &url, &[]);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    daemon.kill(); // idempotent

    daemon.restart();
    let out = ls_remote(&repo, &url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn sshd_clone_commit_push() {
    let repo = seeded();
    let sshd = Sshd::start();
    let url = sshd.url(&repo);
    assert!(url.starts_with(&format!("ssh://{}@127.0.0.1:{}/", sshd.user(), sshd.port())));
    assert!(
        sshd.known_hosts()
            .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 AAAA", sshd.port()))
    );
    assert!(
        sshd.client_private_key()
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    );
    let ssh = sshd.ssh_command(&sshd.known_hosts_path());
    clone_commit_push(&repo, &url, &[("GIT_SSH_COMMAND", ssh.into())]);
    assert!(
        sshd.log().contains("Accepted publickey for"),
        "{}",
        sshd.log()
    );
}

#[test]
fn sshd_wrong_or_unknown_host_key_is_refused() {
    let repo = seeded();
    let sshd = Sshd::start();
    let url = sshd.url(&repo);
    let wrong = sshd.wrong_known_hosts();
    assert!(wrong.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 AAAA", sshd.port())));
    assert_ne!(wrong, sshd.known_hosts());

    let ssh = sshd.ssh_command(&sshd.wrong_known_hosts_path());
    let out = ls_remote(&repo, &url, &[("GIT_SSH_COMMAND", ssh.into())]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            && stderr(&out).contains("Host key verification failed"),
        "{}",
        stderr(&out)
    );

    let empty = tempfile::NamedTempFile::new().unwrap();
    let ssh = sshd.ssh_command(empty.path());
    let out = ls_remote(&repo, &url, &[("GIT_SSH_COMMAND", ssh.into())]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Host key verification failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn https_clone_commit_push() {
    let repo = seeded();
    let http = HttpGit::start(&repo.root());
    assert_eq!(
        http.url(&repo),
        format!("https://127.0.0.1:{}/git/env.git", http.port())
    );
    let url = http.url_with_credentials(&repo, http.username(), http.password());
    clone_commit_push(
        &repo,
        &url,
        &[("GIT_SSL_CAINFO", http.ca_cert_path().into())],
    );
}

#[test]
fn https_wrong_password_or_unknown_ca_is_refused() {
    let repo = seeded();
    let http = HttpGit::start(&repo.root());
    let ca = [("GIT_SSL_CAINFO", OsString::from(http.ca_cert_path()))];

    let bad = http.url_with_credentials(&repo, http.username(), "not-the-password");
    let out = ls_remote(&repo, &bad, &ca);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Authentication failed"),
        "{}",
        stderr(&out)
    );
    assert!(
        http.log().contains("password doesn't match"),
        "{}",
        http.log()
    );

    // No credentials at all: 401, and git may not prompt.
    let out = ls_remote(&repo, &http.url(&repo), &ca);
    assert!(!out.status.success());

    // The right password, but the system CAs only: the certificate is refused.
    let good = http.url_with_credentials(&repo, http.username(), http.password());
    let out = ls_remote(&repo, &good, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
}

#[test]
fn plain_http_clone_commit_push() {
    let repo = seeded();
    let http = HttpGit::start_http(&repo.root());
    assert!(http.url(&repo).starts_with("http://127.0.0.1:"));
    let url = http.url_with_credentials(&repo, http.username(), http.password());
    clone_commit_push(&repo, &url, &[]);
}

#[test]
fn commit_as_other_moves_the_head() {
    let repo = seeded();
    let before = repo.head("main");
    let sha = repo.commit_as_other("main", FILE, "candidate: v3\n", "ci: propose v3\n\nfrom CI");
    assert_ne!(sha, before);
    assert_eq!(repo.head("main"), sha);
    assert_eq!(
        repo.file_at("main", FILE).as_deref(),
        Some("candidate: v3\n")
    );
    let log = repo.log("main");
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0],
        (
            sha.clone(),
            "ci: propose v3".to_owned(),
            "from CI".to_owned()
        )
    );
    assert_eq!(log[1].0, before);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae>", "main"]),
        format!("{} <{}>", OTHER_AUTHOR.0, OTHER_AUTHOR.1)
    );

    // A branch that does not exist yet starts from main.
    let on_branch = repo.commit_as_other("feature", "new.txt", "x\n", "add new");
    assert_eq!(repo.head("feature"), on_branch);
    assert_eq!(repo.head("main"), sha);
    assert_eq!(repo.log("feature").len(), 3);
}

#[test]
fn concurrent_second_writers_all_land() {
    let repo = seeded();
    let shas = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..4 {
            let (repo, shas) = (&repo, &shas);
            s.spawn(move || {
                let sha = repo.commit_as_other(
                    "main",
                    &format!("w{i}.txt"),
                    "x\n",
                    &format!("writer {i}"),
                );
                shas.lock().unwrap().push(sha);
            });
        }
    });
    let log = repo.log("main");
    assert_eq!(log.len(), 5);
    for sha in shas.into_inner().unwrap() {
        assert!(log.iter().any(|(s, _, _)| *s == sha));
    }
    for i in 0..4 {
        assert!(repo.file_at("main", &format!("w{i}.txt")).is_some());
    }
}

#[test]
fn bare_repo_seed_is_deterministic() {
    let (a, b) = (BareRepo::new("a"), BareRepo::new("b"));
    assert!(a.log("main").is_empty());
    assert_eq!(a.try_head("main"), None);
    let files = [("dir/f.txt", "hello\n")];
    assert_eq!(a.seed(&files), b.seed(&files));
    assert_eq!(a.file_at("main", "dir/f.txt").as_deref(), Some("hello\n"));
    assert_eq!(a.file_at("main", "missing"), None);
    assert_eq!(a.file_at("nope", "dir/f.txt"), None);
    let log = a.log("main");
    assert_eq!(
        log,
        vec![(a.head("main"), "seed".to_owned(), String::new())]
    );
    assert_eq!(
        a.git(&["log", "-1", "--format=%an <%ae> %at, %cn <%ce> %ct", "main"]),
        "CI <ci@example.com> 1704067200, CI <ci@example.com> 1704067200"
    );
    assert_eq!(SEED_AUTHOR, ("CI", "ci@example.com"));
    assert!(a.path().ends_with("a.git") && a.path().starts_with(a.root()));
}

#[test]
fn dropped_servers_are_gone() {
    let repo = seeded();
    let servers = (
        GitDaemon::start(&repo.root()),
        Sshd::start(),
        HttpGit::start(&repo.root()),
    );
    let pids = [servers.0.pid(), servers.1.pid(), servers.2.pid()].map(Option::unwrap);
    let ports = [servers.0.port(), servers.1.port(), servers.2.port()];
    let dirs = [servers.0.dir().to_owned()];
    assert!(pids.iter().all(|&pid| alive(pid)));
    servers.2.stop(); // the polite way
    drop(servers.0);
    drop(servers.1);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived");
    }
    for port in ports {
        assert!(refuses_connections(port), "port {port} still open");
    }
    assert!(!dirs[0].exists());
}

#[test]
fn a_panicking_test_still_stops_its_server() {
    let repo = seeded();
    let seen = Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let daemon = GitDaemon::start(&repo.root());
        *seen.lock().unwrap() = Some((daemon.pid().unwrap(), daemon.port()));
        panic!("test failure while the server runs");
    });
    assert!(result.is_err());
    let (pid, port) = seen.into_inner().unwrap().unwrap();
    assert!(!alive(pid));
    assert!(refuses_connections(port));
}

#[test]
fn each_server_notices_a_taken_port() {
    // What start() relies on to retry with a fresh port: the server's log
    // says its port is taken. Forced here with restart() on a squatted port.
    let repo = seeded();
    let daemon = GitDaemon::start(&repo.root());
    let sshd = Sshd::start();
    let http = HttpGit::start(&repo.root());
    notices_taken_port(
        "git daemon",
        daemon.port(),
        || daemon.kill(),
        || daemon.restart(),
    );
    notices_taken_port("sshd", sshd.port(), || sshd.kill(), || sshd.restart());
    notices_taken_port("lighttpd", http.port(), || http.kill(), || http.restart());

    // And they come back once the port is free again.
    daemon.restart();
    sshd.restart();
    http.restart();
    let out = ls_remote(&repo, &daemon.url(&repo), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn notices_taken_port(name: &str, port: u16, kill: impl Fn(), restart: impl Fn()) {
    kill();
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(restart)).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("taken meanwhile"), "{name}: {message}");
    drop(squatter);
}
