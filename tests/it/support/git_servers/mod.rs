//! Real git servers on 127.0.0.1 for the write-back tests (issue 3, "Tests"):
//! a bare repository to serve ([`BareRepo`]), `git daemon` for `git://`
//! ([`GitDaemon`]), OpenSSH's `sshd` for `ssh://` ([`Sshd`]) and
//! `git http-backend` behind lighttpd with basic auth, over HTTPS with a
//! throwaway CA or over plain HTTP ([`HttpGit`]).
//!
//! Every server belongs to the test that starts it: its own free port, its
//! own temp dir for config, keys and logs, no state shared with other tests.
//! How they start, are probed for readiness and are stopped (also when the
//! test process dies) is [`super::server`]'s job.
//!
//! Git runs with a clean environment ([`git_command`]): `HOME` in a temp dir,
//! `GIT_CONFIG_NOSYSTEM=1`, `GIT_TERMINAL_PROMPT=0`, `LC_ALL=C`, and only
//! `PATH` inherited. Commits made by the helpers have pinned authors and
//! dates, so their SHAs are the same on every run.
//!
//! Needs (Debian bookworm, see `.ci/run`): `git`, `openssh-server`,
//! `openssh-client`, `lighttpd`, `lighttpd-mod-openssl`, `openssl`. Works as
//! root (CI) and as an ordinary user; sshd then only lets that user in, and
//! as root it needs `/run/sshd`, which [`Sshd::start`] creates.

mod bare_repo;
mod daemon;
mod http;
mod sshd;

pub use bare_repo::{BareRepo, OTHER_AUTHOR, SEED_AUTHOR};
pub use daemon::GitDaemon;
pub use http::HttpGit;
pub(crate) use http::{make_certificates, tls_server_config};
pub use sshd::Sshd;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A `git` command with the clean environment every helper uses: only
/// `PATH` inherited, `HOME=home`, `GIT_CONFIG_NOSYSTEM=1`,
/// `GIT_TERMINAL_PROMPT=0` (never wait for a password) and `LC_ALL=C`.
pub fn git_command(home: &Path) -> Command {
    let mut cmd = Command::new("git");
    clean_env(&mut cmd, home);
    cmd
}

/// Runs `cmd`, panicking with its stderr unless it succeeds; returns stdout
/// with trailing newlines removed.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim_end_matches('\n')
        .to_owned()
}

/// Runs `cmd` to completion, stdin closed, output captured.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn clean_env(cmd: &mut Command, home: &Path) {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
}

/// `git --exec-path`: where `git-daemon` and `git-http-backend` live
/// (Debian: `/usr/lib/git-core`), for the `git` first on `PATH`.
pub(crate) fn git_exec_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(run_ok(Command::new("git").arg("--exec-path")));
        for program in ["git-daemon", "git-http-backend"] {
            assert!(
                dir.join(program).is_file(),
                "{} missing (package git)",
                dir.join(program).display()
            );
        }
        dir
    })
}

/// A random hex token (128 bits) from std's per-process random hash keys,
/// the time and a counter: unique across the tests' processes.
pub(crate) fn random_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let word = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", word(1), word(2))
}

/// The name of the effective user (sshd's `AllowUsers`, the ssh URL).
pub(crate) fn current_user() -> String {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized storage.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    assert!(
        rc == 0 && !result.is_null(),
        "no passwd entry for the current user"
    );
    // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string in buf.
    unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `repo`'s path relative to a server's `root`, for `git://` and HTTP URLs.
pub(crate) fn path_under(root: &Path, repo: &BareRepo, server: &str) -> String {
    let path = repo.path().canonicalize().expect("repo exists");
    let rel = path.strip_prefix(root).unwrap_or_else(|_| {
        panic!(
            "{server} serves {}, but {} is not under it (start it with repo.root())",
            root.display(),
            repo.path().display()
        )
    });
    rel.to_str().expect("utf-8 repo path").to_owned()
}
