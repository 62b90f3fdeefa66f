//! The env repository through libgit2: a cheap head lookup (ls-remote), a
//! shallow fetch of one branch, commits built in memory on top of the fetched
//! head (no checkout, so a 20,000-file repository costs the same as a small
//! one), and a push that only succeeds as a fast-forward of that head, with
//! every per-ref status the server sends checked. Errors carry the remote
//! URL with any password removed, never a credential.

use std::cell::{Cell, RefCell};

use git2::{
    CertificateCheckStatus, Cred, CredentialType, Direction, ErrorCode, FetchOptions, Oid,
    PushOptions, RemoteCallbacks, Repository, Signature,
};

use super::credentials::{Credentials, redact_url};

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
    /// Connection or transfer failure.
    Network(String),
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
        GitErrorKind::Network(m) | GitErrorKind::Other(m) => m.clone(),
    }
}

impl GitError {
    /// Whether trying again (after a re-fetch) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            GitErrorKind::NonFastForward | GitErrorKind::Rejected(_) | GitErrorKind::Network(_)
        )
    }
}

/// The remote env repository and how to authenticate to it.
pub struct Remote {
    url: String,
    creds: Credentials,
}

/// One fetched branch head, in a private temporary repository.
pub struct Snapshot {
    repo: Repository,
    _dir: tempfile::TempDir,
    /// The branch as the remote names it (resolved from `HEAD` if asked).
    pub branch: String,
    /// The commit the branch pointed at when fetched.
    pub head: Oid,
}

impl Remote {
    /// A remote at `url` (git://, ssh://, https://, file://).
    pub fn new(url: &str, creds: Credentials) -> Remote {
        Remote {
            url: url.to_string(),
            creds,
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
        let message = e.message().to_string();
        let kind = match (e.code(), e.class()) {
            // libgit2 replaces our certificate callback's message with its own.
            _ if message.contains("hostkey") || message.contains("host key") => {
                GitErrorKind::HostKey(
                    "the server's SSH host key is not in knownHosts; refusing to connect".into(),
                )
            }
            (ErrorCode::NotFastForward, _) => GitErrorKind::NonFastForward,
            (ErrorCode::Auth, _) => GitErrorKind::Auth,
            (ErrorCode::Certificate, _) => GitErrorKind::HostKey(message),
            (
                _,
                git2::ErrorClass::Net
                | git2::ErrorClass::Ssh
                | git2::ErrorClass::Http
                | git2::ErrorClass::Os,
            ) => {
                if message.contains("authentication")
                    || message.contains("401")
                    || message.contains("Auth")
                {
                    GitErrorKind::Auth
                } else {
                    GitErrorKind::Network(message)
                }
            }
            _ => GitErrorKind::Other(message),
        };
        GitError {
            url: self.shown(),
            kind,
        }
    }

    /// Callbacks for credentials and host keys. `attempts` stops libgit2 from
    /// asking again and again after the server refused the credentials.
    fn callbacks<'a>(&'a self, attempts: &'a Cell<u32>) -> RemoteCallbacks<'a> {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(move |_url, user_from_url, allowed| {
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
                    &base64(raw),
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
        let attempts = Cell::new(0);
        let mut remote =
            git2::Remote::create_detached(self.url.as_str()).map_err(|e| self.error(e))?;
        let conn = remote
            .connect_auth(Direction::Fetch, Some(self.callbacks(&attempts)), None)
            .map_err(|e| self.error(e))?;
        let list = conn.list().map_err(|e| self.error(e))?;
        let want = if branch == "HEAD" {
            "HEAD".to_string()
        } else {
            format!("refs/heads/{branch}")
        };
        Ok(list.iter().find(|h| h.name() == want).map(|h| h.oid()))
    }

    /// Fetches `branch` (`HEAD`: the remote's default branch) with at most
    /// `depth` commits of history (0: all).
    pub fn fetch(&self, branch: &str, depth: i32) -> Result<Snapshot, GitError> {
        let other = |m: String| GitError {
            url: self.shown(),
            kind: GitErrorKind::Other(m),
        };
        let dir = tempfile::Builder::new()
            .prefix("assay-git-")
            .tempdir()
            .map_err(|e| other(format!("temporary directory: {e}")))?;
        let repo = Repository::init_bare(dir.path()).map_err(|e| self.error(e))?;
        let branch = if branch == "HEAD" {
            self.default_branch(&repo)?
        } else {
            branch.to_string()
        };
        let head = self.fetch_into(&repo, &branch, depth)?;
        Ok(Snapshot {
            repo,
            _dir: dir,
            branch,
            head,
        })
    }

    /// Fetches the branch of `snap` again into the same repository, so only
    /// what changed since crosses the wire: a retry after losing a race on
    /// a big repository costs the other writer's commit, not the whole tree.
    pub fn refresh(&self, mut snap: Snapshot, depth: i32) -> Result<Snapshot, GitError> {
        snap.head = self.fetch_into(&snap.repo, &snap.branch, depth)?;
        Ok(snap)
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
        snap.repo
            .reference(local, commit, true, "assay push")
            .map_err(|e| self.error(e))?;
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
        let mut remote = snap
            .repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error(e))?;
        let spec = format!(
            "{}{local}:refs/heads/{branch}",
            if force { "+" } else { "" }
        );
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

impl Snapshot {
    /// The text of `path` at the fetched head, if it exists and is UTF-8.
    pub fn read(&self, path: &str) -> Result<Option<String>, git2::Error> {
        let tree = self.repo.find_commit(self.head)?.tree()?;
        let entry = match tree.get_path(std::path::Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let blob = self.repo.find_blob(entry.id())?;
        Ok(std::str::from_utf8(blob.content()).ok().map(str::to_string))
    }

    /// A commit on top of the head that writes `files` (path, text), made in
    /// memory. Not on any branch until pushed.
    pub fn commit(
        &self,
        files: &[(String, String)],
        message: &str,
        author: &Signature<'_>,
    ) -> Result<Oid, git2::Error> {
        let parent = self.repo.find_commit(self.head)?;
        let mut tree = parent.tree()?.id();
        for (path, text) in files {
            let blob = self.repo.blob(text.as_bytes())?;
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            tree = self.write_path(Some(tree), &parts, blob)?;
        }
        let tree = self.repo.find_tree(tree)?;
        self.repo
            .commit(None, author, author, message, &tree, &[&parent])
    }

    /// A tree like `base` with `blob` at `parts`, sharing every other entry.
    fn write_path(&self, base: Option<Oid>, parts: &[&str], blob: Oid) -> Result<Oid, git2::Error> {
        let base = base.map(|t| self.repo.find_tree(t)).transpose()?;
        let mut builder = self.repo.treebuilder(base.as_ref())?;
        match parts {
            [] => Err(git2::Error::from_str("empty path")),
            [name] => {
                let mode = base
                    .as_ref()
                    .and_then(|t| t.get_name(name))
                    .map_or(0o100644, |e| e.filemode());
                builder.insert(name, blob, mode)?;
                builder.write()
            }
            [dir, rest @ ..] => {
                let sub = base
                    .as_ref()
                    .and_then(|t| t.get_name(dir))
                    .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
                    .map(|e| e.id());
                let sub = self.write_path(sub, rest, blob)?;
                builder.insert(dir, sub, 0o040000)?;
                builder.write()
            }
        }
    }

    /// The newest fetched commit whose message has the trailer `line`
    /// (e.g. `Assay-Experiment: 1a2b3c4d5e`), with its subject.
    pub fn find_trailer(&self, line: &str) -> Option<(Oid, String)> {
        let mut walk = self.repo.revwalk().ok()?;
        walk.push(self.head).ok()?;
        for oid in walk.flatten() {
            // A shallow history ends where the fetched commits end.
            let Ok(commit) = self.repo.find_commit(oid) else {
                break;
            };
            let message = commit.message().unwrap_or_default();
            if message.lines().any(|l| l.trim() == line) {
                return Some((
                    oid,
                    String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                        .into_owned(),
                ));
            }
        }
        None
    }
}

/// How known_hosts may name `host` reached through `url`: `[host]:port` for
/// a port other than 22, else `host`.
fn host_patterns(url: &str, host: &str) -> Vec<String> {
    let authority = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = authority.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match authority.rsplit_once(':') {
        Some((_, port))
            if port != "22" && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() =>
        {
            vec![format!("[{host}]:{port}")]
        }
        _ => vec![host.to_string(), format!("[{host}]:22")],
    }
}

/// Whether `known_hosts` lists (one of) `hosts` with this key. Hashed entries
/// (`|1|…`) and markers (`@revoked`) are not supported: list hosts plainly.
fn known_host(known_hosts: &str, hosts: &[String], kind: &str, key: &str) -> bool {
    known_hosts.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(names), Some(k), Some(b64)) = (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        !line.trim_start().starts_with('#')
            && k == kind
            && b64 == key
            && names.split(',').any(|n| hosts.iter().any(|h| h == n))
    })
}

fn host_key_error(host: &str, what: &str) -> git2::Error {
    git2::Error::new(
        ErrorCode::Certificate,
        git2::ErrorClass::Ssh,
        format!("{host}: {what}"),
    )
}

/// Standard base64, as known_hosts writes keys.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn known_hosts_matching() {
        let kh = "# comment\n[127.0.0.1]:2222 ssh-ed25519 AAAAkey\nexample.com,10.0.0.1 ssh-rsa AAAArsa\n";
        assert!(known_host(
            kh,
            &host_patterns("ssh://git@127.0.0.1:2222/r.git", "127.0.0.1"),
            "ssh-ed25519",
            "AAAAkey"
        ));
        assert!(!known_host(
            kh,
            &host_patterns("ssh://git@127.0.0.1:2223/r.git", "127.0.0.1"),
            "ssh-ed25519",
            "AAAAkey"
        ));
        assert!(!known_host(
            kh,
            &host_patterns("ssh://git@127.0.0.1:2222/r.git", "127.0.0.1"),
            "ssh-ed25519",
            "AAAAother"
        ));
        assert!(known_host(
            kh,
            &host_patterns("ssh://git@example.com/r.git", "example.com"),
            "ssh-rsa",
            "AAAArsa"
        ));
    }
}
