//! The env repository through libgit2: a cheap head lookup (ls-remote), a
//! shallow fetch of one branch, commits built in memory on top of the fetched
//! head (no checkout, so a 20,000-file repository costs the same as a small
//! one), and a push that only succeeds as a fast-forward of that head, with
//! every per-ref status the server sends checked. Errors carry the remote
//! URL with any password removed, never a credential. Every transfer runs
//! under a deadline ([`transport::bounded`]) and sends credentials only to
//! the host and port the URL names.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use git2::{
    CertificateCheckStatus, Cred, CredentialType, Direction, ErrorCode, FetchOptions, Oid,
    PushOptions, RemoteCallbacks, Repository,
};

use super::credentials::{Credentials, redact_url};
use super::hostkey::{host_key_error, host_patterns, known_host};
pub use super::snapshot::Snapshot;
use super::transport::{self, Class};

/// What went wrong talking to the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitErrorKind {
    /// The branch moved since our fetch: re-fetch and re-apply.
    NonFastForward,
    /// The server refused the update (hook, protection rule).
    Rejected(String),
    /// The credentials were refused (the message never holds them).
    Auth,
    /// The server's SSH host key is not in knownHosts.
    HostKey(String),
    /// The branch does not exist on the remote.
    NoBranch(String),
    /// No repository at that URL (or not exported to us).
    NotFound(String),
    /// The server redirected to another host or port, which asked for the
    /// credentials; they are not sent there.
    Redirect(String),
    /// A connection or transfer fault worth another attempt.
    Network(String),
    /// The operation did not end by its deadline and was abandoned.
    Timeout(Duration),
    /// Anything else libgit2 reports.
    Other(String),
}

/// An error against one remote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {}", describe(.kind))]
pub struct GitError {
    /// The remote, redacted.
    pub url: String,
    pub kind: GitErrorKind,
}

fn describe(kind: &GitErrorKind) -> String {
    match kind {
        GitErrorKind::NonFastForward => "the branch moved since it was fetched".into(),
        GitErrorKind::Rejected(m) => format!("push rejected by the server: {m}"),
        GitErrorKind::Auth => "authentication failed (check the credentials Secret)".into(),
        GitErrorKind::HostKey(m) => m.clone(),
        GitErrorKind::NoBranch(b) => format!("branch {b} does not exist"),
        GitErrorKind::NotFound(m) => format!("no such repository: {m}"),
        GitErrorKind::Timeout(d) => format!(
            "no answer within the deadline ({:.1} s); the connection was abandoned",
            d.as_secs_f64()
        ),
        GitErrorKind::Redirect(m) | GitErrorKind::Network(m) | GitErrorKind::Other(m) => m.clone(),
    }
}

impl GitError {
    /// Whether trying again (after a re-fetch) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            GitErrorKind::NonFastForward
                | GitErrorKind::Rejected(_)
                | GitErrorKind::Network(_)
                | GitErrorKind::Timeout(_)
        )
    }
}

/// The remote env repository and how to authenticate to it.
#[derive(Clone)]
pub struct Remote {
    url: String,
    creds: Credentials,
    /// When every operation must have ended; `None`: each gets
    /// [`transport::OP_LIMIT`].
    deadline: Option<Instant>,
}

impl Remote {
    /// A remote at `url` (git://, ssh://, https://, file://).
    pub fn new(url: &str, creds: Credentials) -> Remote {
        transport::init_timeouts();
        Remote {
            url: url.to_string(),
            creds,
            deadline: None,
        }
    }

    /// The same remote, every operation of which ends by `deadline`
    /// (plus [`transport::GRACE`]): a stalled one is abandoned.
    pub fn until(&self, deadline: Instant) -> Remote {
        Remote {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// The URL as given (it may hold credentials: never print it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How this remote authenticates.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// The URL as messages may show it.
    pub fn shown(&self) -> String {
        redact_url(&self.url)
    }

    fn error(&self, e: git2::Error) -> GitError {
        let message = transport::one_line(e.message());
        let kind = match (e.code(), transport::classify(&e)) {
            (ErrorCode::NotFastForward, _) => GitErrorKind::NonFastForward,
            // libgit2 replaces our certificate callback's message with its own.
            (_, Class::HostKey) if message.contains("hostkey") || message.contains("host key") => {
                GitErrorKind::HostKey(
                    "the server's SSH host key is not in knownHosts; refusing to connect".into(),
                )
            }
            (_, Class::HostKey) => GitErrorKind::HostKey(message),
            (_, Class::Auth) => GitErrorKind::Auth,
            (_, Class::NotFound) => GitErrorKind::NotFound(message),
            (_, Class::Redirect) => GitErrorKind::Redirect(message),
            (_, Class::Transient) => GitErrorKind::Network(message),
            (_, Class::Other) => GitErrorKind::Other(message),
        };
        GitError {
            url: self.shown(),
            kind,
        }
    }

    fn other(&self, message: String) -> GitError {
        GitError {
            url: self.shown(),
            kind: GitErrorKind::Other(message),
        }
    }

    /// Runs `op` with a copy of this remote on a watchdog thread, so that it
    /// ends by the deadline whatever the server does.
    fn bounded<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Remote) -> Result<T, GitError> + Send + 'static,
    ) -> Result<T, GitError> {
        let deadline = self
            .deadline
            .unwrap_or_else(|| Instant::now() + transport::OP_LIMIT);
        let me = self.clone();
        transport::bounded(deadline, move || op(&me)).unwrap_or_else(|waited| {
            Err(GitError {
                url: self.shown(),
                kind: GitErrorKind::Timeout(waited),
            })
        })
    }

    /// Callbacks for credentials and host keys. `attempts` stops libgit2 from
    /// asking again and again after the server refused the credentials.
    fn callbacks<'a>(&'a self, attempts: &'a Cell<u32>) -> RemoteCallbacks<'a> {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(move |url, user_from_url, allowed| {
            // After a redirect libgit2 asks on behalf of the new server.
            if !transport::same_authority(&self.url, url) {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    git2::ErrorClass::Http,
                    format!(
                        "redirected to {}, which asks for credentials; {} the host and port of the remote URL",
                        redact_url(url),
                        transport::REDIRECT_REFUSED
                    ),
                ));
            }
            attempts.set(attempts.get() + 1);
            if attempts.get() > 1 {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    git2::ErrorClass::Net,
                    "authentication failed",
                ));
            }
            match &self.creds {
                Credentials::Token { username, token }
                    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
                {
                    Cred::userpass_plaintext(username, token.expose())
                }
                Credentials::UserPassword { username, password }
                    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
                {
                    Cred::userpass_plaintext(username, password.expose())
                }
                Credentials::Ssh { private_key, .. }
                    if allowed.contains(CredentialType::SSH_KEY) =>
                {
                    Cred::ssh_key_from_memory(
                        user_from_url.unwrap_or("git"),
                        None,
                        private_key.expose(),
                        None,
                    )
                }
                Credentials::Ssh { .. } if allowed.contains(CredentialType::USERNAME) => {
                    Cred::username(user_from_url.unwrap_or("git"))
                }
                _ => Err(git2::Error::new(
                    ErrorCode::Auth,
                    git2::ErrorClass::Net,
                    "the remote asks for credentials that the Secret does not hold",
                )),
            }
        });
        cb.certificate_check(move |cert, host| match cert.as_hostkey() {
            // TLS: libgit2 and OpenSSL verify the chain against the system CAs.
            None => Ok(CertificateCheckStatus::CertificatePassthrough),
            Some(key) => {
                let known = match &self.creds {
                    Credentials::Ssh { known_hosts, .. } => known_hosts.as_str(),
                    _ => "",
                };
                let (Some(kind), Some(raw)) = (key.hostkey_type(), key.hostkey()) else {
                    return Err(host_key_error(host, "the server sent no host key"));
                };
                if known_host(
                    known,
                    &host_patterns(&self.url, host),
                    kind.name(),
                    &crate::base64::encode(raw),
                ) {
                    Ok(CertificateCheckStatus::CertificateOk)
                } else {
                    Err(host_key_error(
                        host,
                        &format!(
                            "host key ({}) is not in knownHosts; refusing to connect",
                            kind.name()
                        ),
                    ))
                }
            }
        });
        cb
    }

    /// The commit `branch` points at on the remote, without fetching objects.
    /// `Ok(None)` when the branch does not exist.
    pub fn head(&self, branch: &str) -> Result<Option<Oid>, GitError> {
        let want = if branch == "HEAD" {
            "HEAD".to_string()
        } else {
            format!("refs/heads/{branch}")
        };
        self.bounded(move |me| {
            let attempts = Cell::new(0);
            let mut remote =
                git2::Remote::create_detached(me.url.as_str()).map_err(|e| me.error(e))?;
            let conn = remote
                .connect_auth(Direction::Fetch, Some(me.callbacks(&attempts)), None)
                .map_err(|e| me.error(e))?;
            let list = conn.list().map_err(|e| me.error(e))?;
            Ok(list.iter().find(|h| h.name() == want).map(|h| h.oid()))
        })
    }

    /// Fetches `branch` (`HEAD`: the remote's default branch) with at most
    /// `depth` commits of history (0: all).
    pub fn fetch(&self, branch: &str, depth: i32) -> Result<Snapshot, GitError> {
        let branch = branch.to_string();
        self.bounded(move |me| {
            let dir = tempfile::Builder::new()
                .prefix("assay-git-")
                .tempdir()
                .map_err(|e| me.other(format!("temporary directory: {e}")))?;
            let repo = Repository::init_bare(dir.path()).map_err(|e| me.error(e))?;
            let branch = if branch == "HEAD" {
                me.default_branch(&repo)?
            } else {
                branch
            };
            let head = me.fetch_into(&repo, &branch, depth)?;
            Ok(Snapshot {
                repo: Arc::new(Mutex::new(repo)),
                _dir: dir,
                branch,
                head,
            })
        })
    }

    /// Fetches the branch of `snap` again into the same repository, so only
    /// what changed since crosses the wire: a retry after losing a race on
    /// a big repository costs the other writer's commit, not the whole tree.
    pub fn refresh(&self, snap: Snapshot, depth: i32) -> Result<Snapshot, GitError> {
        self.bounded(move |me| {
            let mut snap = snap;
            let head = me.fetch_into(&snap.lock(), &snap.branch, depth)?;
            snap.head = head;
            Ok(snap)
        })
    }

    /// Fetches `branch` into `repo`'s tracking ref; returns its new head.
    fn fetch_into(&self, repo: &Repository, branch: &str, depth: i32) -> Result<Oid, GitError> {
        let attempts = Cell::new(0);
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(self.callbacks(&attempts));
        // libgit2's local transport cannot fetch shallow.
        if !self.url.starts_with("file://") && !self.url.starts_with('/') {
            fo.depth(depth);
        }
        let tracking = format!("refs/remotes/origin/{branch}");
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error(e))?;
        remote
            .fetch(
                &[format!("+refs/heads/{branch}:{tracking}")],
                Some(&mut fo),
                None,
            )
            .map_err(|e| self.error(e))?;
        drop(remote);
        repo.refname_to_id(&tracking).map_err(|_| GitError {
            url: self.shown(),
            kind: GitErrorKind::NoBranch(branch.to_string()),
        })
    }

    fn default_branch(&self, repo: &Repository) -> Result<String, GitError> {
        let attempts = Cell::new(0);
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error(e))?;
        let conn = remote
            .connect_auth(Direction::Fetch, Some(self.callbacks(&attempts)), None)
            .map_err(|e| self.error(e))?;
        let name = conn.default_branch().map_err(|e| self.error(e))?;
        let name = name.as_str().unwrap_or_default();
        Ok(name.strip_prefix("refs/heads/").unwrap_or(name).to_string())
    }

    /// Pushes `commit` (made on `snap`) to `branch`. Without `force` the
    /// remote accepts it only as a fast-forward, i.e. while the branch still
    /// points at what we built on; any refusal is an error.
    pub fn push(
        &self,
        snap: &Snapshot,
        commit: Oid,
        branch: &str,
        force: bool,
    ) -> Result<(), GitError> {
        let local = "refs/heads/assay-push";
        snap.lock()
            .reference(local, commit, true, "assay push")
            .map_err(|e| self.error(e))?;
        let repo = snap.repo.clone();
        let spec = format!(
            "{}{local}:refs/heads/{branch}",
            if force { "+" } else { "" }
        );
        self.bounded(move |me| {
            let repo = repo.lock().unwrap_or_else(|e| e.into_inner());
            me.push_from(&repo, spec)
        })
    }

    fn push_from(&self, repo: &Repository, spec: String) -> Result<(), GitError> {
        let attempts = Cell::new(0);
        let refused: RefCell<Option<String>> = RefCell::new(None);
        let mut cb = self.callbacks(&attempts);
        cb.push_update_reference(|_, status| {
            if let Some(s) = status {
                *refused.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        let mut opts = PushOptions::new();
        opts.remote_callbacks(cb);
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error(e))?;
        remote
            .push(&[spec], Some(&mut opts))
            .map_err(|e| self.error(e))?;
        drop(remote);
        // The callbacks borrow `refused`; release them before reading it.
        drop(opts);
        match refused.into_inner() {
            None => Ok(()),
            Some(m)
                if m.contains("fast-forward")
                    || m.contains("fetch first")
                    || m.contains("stale") =>
            {
                Err(GitError {
                    url: self.shown(),
                    kind: GitErrorKind::NonFastForward,
                })
            }
            Some(m) => Err(GitError {
                url: self.shown(),
                kind: GitErrorKind::Rejected(m),
            }),
        }
    }
}
