//! [`BareRepo`]: a bare repository in its own temp dir, for the servers to
//! serve, with helpers to seed it, read it and write to it as "someone else".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use tempfile::TempDir;

use super::{clean_env, run, run_ok};

/// Author and committer of [`BareRepo::seed`] commits.
pub const SEED_AUTHOR: (&str, &str) = ("CI", "ci@example.com");
/// Author and committer of [`BareRepo::commit_as_other`] commits.
pub const OTHER_AUTHOR: (&str, &str) = ("Other Writer", "other@example.com");
/// Pinned date of seed commits (so their SHAs never change).
const SEED_DATE: &str = "2024-01-01T00:00:00+00:00";
/// Pinned date of the second writer's commits.
const OTHER_DATE: &str = "2024-01-02T00:00:00+00:00";
/// How often [`BareRepo::commit_as_other`] retries a rejected push.
const OTHER_PUSH_ATTEMPTS: usize = 20;

/// A bare repository `<tmp>/repos/<name>.git`, initialised with
/// `git init --bare -b main`, `gc.auto=0` and `receive.autogc=false` (no
/// background gc outliving a server). The temp dir also holds the `HOME` git
/// runs with (`<tmp>/home`) and scratch clones (`<tmp>/work`); it is removed
/// when the last repo sharing it (see [`BareRepo::sibling`]) is dropped.
///
/// Servers serve [`BareRepo::root`]: `GitDaemon::start(repo.root())`.
pub struct BareRepo {
    tmp: Arc<TempDir>,
    name: String,
    path: PathBuf,
}

impl BareRepo {
    /// Creates `<tmp>/repos/<name>.git` in a fresh temp dir. `name` may hold
    /// `/` (a nested path) but no `..`.
    pub fn new(name: &str) -> BareRepo {
        let tmp = tempfile::Builder::new()
            .prefix("git-servers-")
            .tempdir()
            .expect("temp dir");
        for dir in ["repos", "home", "work"] {
            fs::create_dir(tmp.path().join(dir)).expect("create dir");
        }
        fs::write(
            tmp.path().join("home/.gitconfig"),
            "[advice]\n\tdetachedHead = false\n[init]\n\tdefaultBranch = main\n",
        )
        .expect("write .gitconfig");
        BareRepo::create(Arc::new(tmp), name)
    }

    /// Another bare repository in the same root (and temp dir), so one server
    /// serves both.
    pub fn sibling(&self, name: &str) -> BareRepo {
        BareRepo::create(Arc::clone(&self.tmp), name)
    }

    fn create(tmp: Arc<TempDir>, name: &str) -> BareRepo {
        assert!(
            !name.is_empty() && !name.split('/').any(|part| part.is_empty() || part == ".."),
            "bad repo name {name:?}"
        );
        let path = tmp.path().join("repos").join(format!("{name}.git"));
        assert!(!path.exists(), "repo {name:?} exists already");
        fs::create_dir_all(&path).expect("create repo dir");
        let repo = BareRepo {
            tmp,
            name: name.to_owned(),
            path,
        };
        repo.git(&["init", "--quiet", "--bare", "-b", "main"]);
        repo.git(&["config", "gc.auto", "0"]);
        repo.git(&["config", "receive.autogc", "false"]);
        repo
    }

    /// The name given to [`BareRepo::new`] (without `.git`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Absolute path of the bare repository (`.../<name>.git`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the repositories: what servers serve.
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("repos")
    }

    /// The `HOME` git runs with here (holds a minimal `.gitconfig`).
    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    /// A `git -C <repo>` command with the clean environment (see
    /// [`super::git_command`]).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        clean_env(&mut cmd, &self.home());
        cmd.arg("-C").arg(&self.path);
        cmd
    }

    /// Runs `git -C <repo> args...`; stdout without trailing newlines, or a
    /// panic with stderr.
    pub fn git(&self, args: &[&str]) -> String {
        run_ok(self.command().args(args))
    }

    /// Runs `git -C <repo> args...` and returns whatever happened.
    pub fn git_output(&self, args: &[&str]) -> Output {
        run(self.command().args(args))
    }

    /// The SHA `branch` points at; panics if there is no such branch.
    pub fn head(&self, branch: &str) -> String {
        self.try_head(branch)
            .unwrap_or_else(|| panic!("{}: no branch {branch:?}", self.name))
    }

    /// The SHA `branch` points at, if it exists.
    pub fn try_head(&self, branch: &str) -> Option<String> {
        let out = self.git_output(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The contents of `path` at the tip of `branch`, or `None` if the branch
    /// or the file does not exist.
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        let out = self.git_output(&["cat-file", "blob", &format!("refs/heads/{branch}:{path}")]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).expect("utf-8 file"))
    }

    /// `(sha, subject, body)` of every commit on `branch`, newest first; empty
    /// if the branch does not exist. The body keeps trailers, without the
    /// final newline.
    pub fn log(&self, branch: &str) -> Vec<(String, String, String)> {
        if self.try_head(branch).is_none() {
            return Vec::new();
        }
        let text = self.git(&[
            "log",
            "--format=%H%x1f%s%x1f%b%x1e",
            &format!("refs/heads/{branch}"),
        ]);
        text.split('\x1e')
            .map(|record| record.trim_start_matches('\n'))
            .filter(|record| !record.is_empty())
            .map(|record| {
                let mut fields = record.splitn(3, '\x1f');
                let mut next = || fields.next().unwrap_or_default().to_owned();
                let (sha, subject, body) = (next(), next(), next());
                (sha, subject, body.trim_end_matches('\n').to_owned())
            })
            .collect()
    }

    /// Writes `files` (`(path, contents)`, parent dirs created) in a scratch
    /// clone of `main` and pushes one commit "seed" by [`SEED_AUTHOR`] with a
    /// pinned date. Works on an empty repo too. Returns the new head.
    pub fn seed(&self, files: &[(&str, &str)]) -> String {
        let work = self.scratch_clone("main");
        for (path, contents) in files {
            write_file(work.path(), path, contents);
        }
        self.commit_in(work.path(), "seed", SEED_AUTHOR, SEED_DATE);
        let pushed = self.push_from(work.path(), "main");
        assert!(
            pushed.status.success(),
            "seed push failed:\n{}",
            String::from_utf8_lossy(&pushed.stderr)
        );
        self.head("main")
    }

    /// A second writer: clones `branch` (created from `main`'s tip if it does
    /// not exist), writes `path`, commits `message` as [`OTHER_AUTHOR`] and
    /// pushes; a rejected push (someone else moved the branch meanwhile) is
    /// retried from a fresh clone. Safe to call from another thread while the
    /// code under test pushes. Returns the SHA of the commit it pushed.
    pub fn commit_as_other(
        &self,
        branch: &str,
        path: &str,
        contents: &str,
        message: &str,
    ) -> String {
        let mut last = String::new();
        for _ in 0..OTHER_PUSH_ATTEMPTS {
            let work = self.scratch_clone(branch);
            write_file(work.path(), path, contents);
            self.commit_in(work.path(), message, OTHER_AUTHOR, OTHER_DATE);
            let sha = run_ok(self.scratch_git(work.path()).args(["rev-parse", "HEAD"]));
            let pushed = self.push_from(work.path(), branch);
            if pushed.status.success() {
                return sha;
            }
            last = String::from_utf8_lossy(&pushed.stderr).into_owned();
        }
        panic!(
            "commit_as_other: push to {branch} rejected {OTHER_PUSH_ATTEMPTS} times; last:\n{last}"
        )
    }

    /// A scratch clone (in `<tmp>/work`) checked out on `branch`: the remote
    /// branch if it exists, else a new branch from the default head, else an
    /// unborn branch (empty repo).
    fn scratch_clone(&self, branch: &str) -> TempDir {
        let work = tempfile::Builder::new()
            .prefix("clone-")
            .tempdir_in(self.tmp.path().join("work"))
            .expect("scratch dir");
        let mut clone = Command::new("git");
        clean_env(&mut clone, &self.home());
        run_ok(
            clone
                .args(["clone", "--quiet", "--no-local"])
                .arg(&self.path)
                .arg(work.path()),
        );
        let has = |refname: &str| {
            run(self
                .scratch_git(work.path())
                .args(["rev-parse", "--verify", "--quiet", refname]))
            .status
            .success()
        };
        let git = |args: &[&str]| run_ok(self.scratch_git(work.path()).args(args));
        if has(&format!("refs/remotes/origin/{branch}")) {
            git(&[
                "checkout",
                "--quiet",
                "-B",
                branch,
                &format!("origin/{branch}"),
            ]);
        } else if has("HEAD") {
            git(&["checkout", "--quiet", "-b", branch]);
        } else {
            git(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")]);
        }
        work
    }

    fn scratch_git(&self, work: &Path) -> Command {
        let mut cmd = Command::new("git");
        clean_env(&mut cmd, &self.home());
        cmd.arg("-C").arg(work);
        cmd
    }

    fn commit_in(&self, work: &Path, message: &str, (name, email): (&str, &str), date: &str) {
        run_ok(self.scratch_git(work).args(["add", "--all"]));
        run_ok(
            self.scratch_git(work)
                .args([
                    "commit",
                    "--quiet",
                    "--allow-empty",
                    "--no-verify",
                    "-m",
                    message,
                ])
                .env("GIT_AUTHOR_NAME", name)
                .env("GIT_AUTHOR_EMAIL", email)
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_NAME", name)
                .env("GIT_COMMITTER_EMAIL", email)
                .env("GIT_COMMITTER_DATE", date),
        );
    }

    fn push_from(&self, work: &Path, branch: &str) -> Output {
        run(self.scratch_git(work).args([
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/{branch}"),
        ]))
    }
}

fn write_file(work: &Path, path: &str, contents: &str) {
    let file = work.join(path);
    if let Some(parent) = file.parent() {
        fs::create_dir_all(parent).expect("create parent dirs");
    }
    fs::write(&file, contents).expect("write file");
}
