//! The write-back under pressure: many writers on one branch at once, a
//! writer killed at random moments, and a flaky network (a fault-injecting
//! proxy in front of git daemon and the HTTPS server). Git must end with
//! every change present, each verdict exactly once, never a half-applied
//! one, and the process must end by its deadline.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fault_proxy::{Dir, Fault, FaultProxy};
use crate::support::git_servers::{BareRepo, GitDaemon, HttpGit};
use crate::support::{assay_bin, bookinfo_with_candidate};

fn spawn_writeback(url: &str, path: &str, id: &str) -> Child {
    Command::new(assay_bin())
        .args([
            "writeback",
            "--repo",
            url,
            "--branch",
            "main",
            "--path",
            path,
            "--experiment",
            id,
        ])
        .args([
            "--verdict",
            "promote",
            "--deadline",
            "3m",
            "--credentials",
            "/nonexistent/assay",
        ])
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn id_of(spec: &str) -> String {
    assay::spec::parse("assay.yaml", spec.as_bytes())
        .unwrap()
        .id
}

fn trailers(repo: &BareRepo, id: &str) -> usize {
    trailers_at(repo, "main", id)
}

/// Verdict commits for `id` reachable from `rev` (a branch or a commit).
fn trailers_at(repo: &BareRepo, rev: &str, id: &str) -> usize {
    let trailer = assay::gitops::writeback::trailer(id);
    repo.log(rev)
        .iter()
        .filter(|(_, _, body)| body.lines().any(|l| l.trim() == trailer))
        .count()
}

/// 32 apps in one monorepo branch promoted at once, while CI pushes too.
#[test]
fn thirty_two_writers_and_ci_on_one_branch() {
    let repo = BareRepo::new("monorepo");
    let apps: Vec<(String, String)> = (0..32)
        .map(|i| {
            let spec =
                bookinfo_with_candidate().replace("name: productpage", &format!("name: app{i:02}"));
            (format!("envs/app{i:02}/assay.yaml"), spec)
        })
        .collect();
    let files: Vec<(&str, &str)> = apps.iter().map(|(p, s)| (p.as_str(), s.as_str())).collect();
    repo.seed(&files);
    let daemon = GitDaemon::start(&repo.root());
    let url = daemon.url(&repo);

    let children: Vec<(String, String, Child)> = apps
        .iter()
        .map(|(path, spec)| {
            let id = id_of(spec);
            (path.clone(), id.clone(), spawn_writeback(&url, path, &id))
        })
        .collect();
    // CI keeps pushing unrelated changes meanwhile.
    for n in 0..5 {
        repo.commit_as_other(
            "main",
            &format!("ci/build-{n}.txt"),
            &format!("build {n}\n"),
            &format!("ci: build {n}"),
        );
    }
    for (path, _, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (path, spec) in &apps {
        assert_eq!(trailers(&repo, &id_of(spec)), 1, "{path}");
        let now = repo.file_at("main", path).unwrap();
        let rel = assay::spec::parse("assay.yaml", now.as_bytes()).unwrap();
        assert_eq!(
            (rel.baseline.version.as_str(), rel.candidate.is_none()),
            ("v2", true),
            "{path}"
        );
    }
    for n in 0..5 {
        assert_eq!(
            repo.file_at("main", &format!("ci/build-{n}.txt")),
            Some(format!("build {n}\n"))
        );
    }
}

/// A tiny deterministic generator (xorshift) for the kill delays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `kill -9` at random moments: the remote never holds a half-applied
/// verdict, and a re-run converges to exactly one verdict commit.
#[test]
fn kill_nine_at_random_moments() {
    let repo = BareRepo::new("kill");
    let path = "envs/bookinfo/assay.yaml";
    repo.seed(&[(path, &bookinfo_with_candidate())]);
    let daemon = GitDaemon::start(&repo.root());
    let url = daemon.url(&repo);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for run in 0..50 {
        // Each run proposes a fresh candidate, so each has its own experiment.
        let spec =
            bookinfo_with_candidate().replace("version: v2", &format!("version: v{}", run + 10));
        repo.commit_as_other("main", path, &spec, &format!("ci: propose run {run}"));
        let id = id_of(&spec);
        let mut child = spawn_writeback(&url, path, &id);
        let delay = Duration::from_millis(rng.below(120));
        let until = Instant::now() + delay;
        while Instant::now() < until && child.try_wait().unwrap().is_none() {
            std::thread::yield_now();
        }
        let _ = child.kill();
        let _ = child.wait();

        // Either nothing landed, or the whole verdict did. Read one commit:
        // the killed client's push may still complete on the server.
        let head = "pinned";
        repo.git(&["update-ref", "refs/heads/pinned", &repo.head("main")]);
        let now =
            assay::spec::parse("assay.yaml", repo.file_at(head, path).unwrap().as_bytes()).unwrap();
        match trailers_at(&repo, head, &id) {
            0 => assert_eq!(
                now.id, id,
                "run {run}: file changed without a verdict commit"
            ),
            1 => assert!(
                now.candidate.is_none() && now.baseline.version == format!("v{}", run + 10),
                "run {run}"
            ),
            n => panic!("run {run}: {n} verdict commits"),
        }
        let out = spawn_writeback(&url, path, &id).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(trailers(&repo, &id), 1, "run {run}");
    }
}

/// How long a faulted run may take past its `--deadline`: the watchdog's
/// grace (2 s), process start and exit, and a loaded machine.
const SLACK: Duration = Duration::from_secs(5);

/// A write-back with `--deadline deadline`, credentials and environment as
/// the server needs.
fn spawn_bounded(
    url: &str,
    path: &str,
    id: &str,
    deadline: Duration,
    creds: &Path,
    env: &[(&str, String)],
) -> Child {
    Command::new(assay_bin())
        .args([
            "writeback",
            "--repo",
            url,
            "--branch",
            "main",
            "--path",
            path,
        ])
        .args(["--experiment", id, "--verdict", "promote", "--deadline"])
        .arg(format!("{}ms", deadline.as_millis()))
        .arg("--credentials")
        .arg(creds)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` at most `limit`; kills it and panics past that.
/// Returns its exit code, stderr and how long it ran.
fn wait_bounded(mut child: Child, started: Instant, limit: Duration) -> (Option<i32>, String) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One server behind the proxy: its URL through a proxy port, and what the
/// client needs for it.
struct Target {
    repo: BareRepo,
    direct: String,
    port: u16,
    /// `None`: anonymous (a directory that does not exist).
    creds: Option<tempfile::TempDir>,
    env: Vec<(&'static str, String)>,
    _servers: (Option<GitDaemon>, Option<HttpGit>),
}

impl Target {
    fn daemon(name: &str) -> Target {
        let repo = BareRepo::new(name);
        repo.seed(&[(FAULT_PATH, &bookinfo_with_candidate())]);
        let daemon = GitDaemon::start(&repo.root());
        Target {
            direct: daemon.url(&repo),
            port: daemon.port(),
            repo,
            creds: None,
            env: Vec::new(),
            _servers: (Some(daemon), None),
        }
    }

    fn https(name: &str) -> Target {
        let repo = BareRepo::new(name);
        repo.seed(&[(FAULT_PATH, &bookinfo_with_candidate())]);
        let http = HttpGit::start(&repo.root());
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("username"), http.username()).unwrap();
        std::fs::write(creds.path().join("password"), http.password()).unwrap();
        Target {
            direct: http.url(&repo),
            port: http.port(),
            env: vec![("SSL_CERT_FILE", http.ca_cert_path().display().to_string())],
            repo,
            creds: Some(creds),
            _servers: (None, Some(http)),
        }
    }

    fn creds(&self) -> &Path {
        self.creds
            .as_ref()
            .map_or(Path::new("/nonexistent/assay"), |d| d.path())
    }

    fn through(&self, proxy: &FaultProxy) -> String {
        self.direct.replacen(
            &format!(":{}/", self.port),
            &format!(":{}/", proxy.port()),
            1,
        )
    }
}

const FAULT_PATH: &str = "envs/bookinfo/assay.yaml";

/// The faults of one run: usually one faulted connection among the first
/// few, sometimes a burst of refusals, rarely a stall without end.
fn plan(rng: &mut Rng) -> Vec<Fault> {
    let dir = if rng.below(2) == 0 {
        Dir::Up
    } else {
        Dir::Down
    };
    let at = rng.below(3000) as usize;
    let fault = match rng.below(20) {
        0..=4 => Fault::Flip {
            dir,
            at,
            mask: 1 + rng.below(255) as u8,
        },
        5..=8 => Fault::Cut { dir, after: at },
        9..=12 => Fault::Reset { dir, after: at },
        13..=15 => {
            return (0..1 + rng.below(3)).map(|_| Fault::Refuse).collect();
        }
        16..=18 => Fault::Stall {
            dir,
            after: at,
            pause: Some(Duration::from_millis(100 + rng.below(800))),
        },
        _ => Fault::Stall {
            dir: Dir::Down,
            after: at % 400,
            pause: None,
        },
    };
    let mut plan = vec![Fault::Clean; rng.below(3) as usize];
    plan.push(fault);
    plan
}

/// `runs` seeded write-backs through the proxy, each proposing a fresh
/// candidate: each ends by its deadline + [`SLACK`], leaves no verdict
/// commit or one complete one, and a clean re-run converges to exactly one.
fn seeded_faults(target: &Target, seed: u64, runs: usize) {
    let mut rng = Rng(seed);
    let deadline = Duration::from_secs(5);
    let repo = &target.repo;
    let mut triggered = 0;
    for run in 0..runs {
        let spec =
            bookinfo_with_candidate().replace("version: v2", &format!("version: v{}", run + 10));
        repo.commit_as_other("main", FAULT_PATH, &spec, &format!("ci: propose run {run}"));
        let id = id_of(&spec);
        let plan = plan(&mut rng);
        let proxy = FaultProxy::start(target.port, plan.clone());
        let started = Instant::now();
        let child = spawn_bounded(
            &target.through(&proxy),
            FAULT_PATH,
            &id,
            deadline,
            target.creds(),
            &target.env,
        );
        let (code, err) = wait_bounded(child, started, deadline + Duration::from_secs(20));
        let took = started.elapsed();
        let what =
            format!("seed {seed:#x} run {run} {plan:?}: exit {code:?} after {took:?}: {err}");
        assert!(took <= deadline + SLACK, "{what}");
        assert!(matches!(code, Some(0 | 1)), "{what}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}");
        triggered += proxy.triggered();
        drop(proxy);

        // Either nothing landed, or the whole verdict did.
        repo.git(&["update-ref", "refs/heads/pinned", &repo.head("main")]);
        let now = assay::spec::parse(
            "assay.yaml",
            repo.file_at("pinned", FAULT_PATH).unwrap().as_bytes(),
        )
        .unwrap();
        match trailers_at(repo, "pinned", &id) {
            0 => assert_eq!(now.id, id, "{what}: file changed without a verdict"),
            1 => assert!(
                now.candidate.is_none() && now.baseline.version == format!("v{}", run + 10),
                "{what}"
            ),
            n => panic!("{what}: {n} verdict commits"),
        }
        if code == Some(0) {
            assert_eq!(trailers(repo, &id), 1, "{what}");
        }
        let again = spawn_bounded(
            &target.direct,
            FAULT_PATH,
            &id,
            Duration::from_secs(60),
            target.creds(),
            &target.env,
        );
        let (code, err) = wait_bounded(again, Instant::now(), Duration::from_secs(60));
        assert_eq!(code, Some(0), "{what}; re-run: {err}");
        assert_eq!(trailers(repo, &id), 1, "{what}");
    }
    // The plans must bite: most faults fire within a write-back's bytes.
    assert!(
        triggered >= runs / 2,
        "only {triggered} of {runs} faults fired"
    );
}

#[test]
fn faults_over_git_daemon_a() {
    seeded_faults(&Target::daemon("faults-a"), 0x0dd_ba11_5eed_0001, 30);
}

#[test]
fn faults_over_git_daemon_b() {
    seeded_faults(&Target::daemon("faults-b"), 0x0dd_ba11_5eed_0002, 30);
}

#[test]
fn faults_over_https_a() {
    seeded_faults(&Target::https("faults-https-a"), 0x0dd_ba11_5eed_0003, 20);
}

#[test]
fn faults_over_https_b() {
    seeded_faults(&Target::https("faults-https-b"), 0x0dd_ba11_5eed_0004, 20);
}

/// A server that accepts every connection and then goes silent cannot hold
/// the write-back past its deadline.
#[test]
fn a_silent_server_cannot_hold_the_write_back() {
    let target = Target::daemon("silent");
    let id = id_of(&bookinfo_with_candidate());
    let stall = Fault::Stall {
        dir: Dir::Down,
        after: 0,
        pause: None,
    };
    let proxy = FaultProxy::start(target.port, vec![stall; 64]);
    let deadline = Duration::from_secs(4);
    let started = Instant::now();
    let child = spawn_bounded(
        &target.through(&proxy),
        FAULT_PATH,
        &id,
        deadline,
        target.creds(),
        &[],
    );
    let (code, err) = wait_bounded(child, started, deadline + Duration::from_secs(30));
    assert!(
        started.elapsed() <= deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("gave up after") && err.contains("no answer within the deadline"),
        "{err}"
    );
    assert_eq!(trailers(&target.repo, &id), 0);
}

/// Transient faults are retried: a corrupted byte and a burst of refused
/// connections still end with the verdict written.
#[test]
fn transient_faults_are_retried_until_they_pass() {
    let target = Target::https("transient");
    let id = id_of(&bookinfo_with_candidate());
    let flip = Fault::Flip {
        dir: Dir::Down,
        at: 900,
        mask: 0x40,
    };
    let proxy = FaultProxy::start(
        target.port,
        vec![Fault::Refuse, Fault::Refuse, flip.clone(), flip],
    );
    let started = Instant::now();
    let child = spawn_bounded(
        &target.through(&proxy),
        FAULT_PATH,
        &id,
        Duration::from_secs(30),
        target.creds(),
        &target.env,
    );
    let (code, err) = wait_bounded(child, started, Duration::from_secs(40));
    assert_eq!(code, Some(0), "{err}");
    assert!(proxy.triggered() >= 3, "{}", proxy.triggered());
    assert_eq!(trailers(&target.repo, &id), 1);
}

/// A repository that does not exist fails at once, not after retries.
#[test]
fn a_missing_repository_fails_at_once() {
    let target = Target::daemon("present");
    let url = target.direct.replace("present", "absent");
    let child = spawn_bounded(
        &url,
        FAULT_PATH,
        "0123456789",
        Duration::from_secs(60),
        target.creds(),
        &[],
    );
    let (code, err) = wait_bounded(child, Instant::now(), Duration::from_secs(30));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no such repository") && !err.contains("gave up"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
