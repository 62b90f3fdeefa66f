//! The write-back under pressure: many writers on one branch at once, and a
//! writer killed at random moments. Git must end with every change present,
//! each verdict exactly once, and never a half-applied one.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::git_servers::{BareRepo, GitDaemon};
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
