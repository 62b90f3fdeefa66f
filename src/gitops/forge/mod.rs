//! Pull requests and commit statuses ([`statuses`]) on the env repository's forge: GitHub (and GitHub Enterprise
//! Server), GitLab and Gitea. [`ForgeRepo`] says where the repository lives,
//! from its Git URL or from `spec.promotion.forge` / `spec.promotion.apiUrl`;
//! [`Forge`] finds the open PR/MR from a branch and opens one, reusing the one
//! the forge says already exists. Nothing here touches Git: pushing the
//! branch is [`super::repo`]'s job.
//!
//! [`Forge`] is a blocking facade over async reqwest. It builds its own
//! current-thread tokio runtime in [`Forge::new`], so callers stay
//! synchronous and `assay generate` never pays for tokio or TLS. Call it from
//! plain threads only, never from inside an async task (tokio refuses to
//! start a runtime inside another one).
//!
//! The API token goes out in exactly one request header, marked sensitive.
//! Errors carry the method, URL, HTTP status and the forge's own message, and
//! any echo of the token in an answer is masked before it reaches one.
//! Redirects are followed only within the API's own origin, so a custom
//! header such as GitLab's `PRIVATE-TOKEN` never travels to another host.
//!
//! TLS is rustls with the ring provider, installed process-wide on first use
//! (`rustls-no-provider` in reqwest 0.13 leaves that to us; kube uses ring
//! too). reqwest 0.13 verifies certificates with rustls-platform-verifier,
//! which on Linux trusts the system store as rustls-native-certs reads it:
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` when set (the container image sets
//! `SSL_CERT_FILE`), else the distribution's bundle. No roots are compiled
//! in. Plain `http://` API bases are accepted, for loopback tests and
//! in-cluster forges; the token then travels exactly as `git push` over that
//! URL would send it.

mod client;
mod gitea;
mod github;
mod gitlab;
pub mod statuses;
mod url;

use crate::runtime::Runtime;
use std::fmt;
use std::time::Duration;

use reqwest::{StatusCode, Url};

use crate::secret::Secret;
use client::Api;
pub(crate) use client::{error_chain, secret_header};
use url::shown_url;

/// How long to wait for a TCP (and TLS) connection to the forge.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one API request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Sent on every request; GitHub rejects requests without a User-Agent.
pub const USER_AGENT: &str = concat!("assay/", env!("CARGO_PKG_VERSION"));

/// Which forge API a repository is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise Server: REST pulls, `Bearer` token.
    Github,
    /// GitLab (hosted or self-managed): merge requests, `PRIVATE-TOKEN`.
    Gitlab,
    /// Gitea (and Forgejo, e.g. Codeberg): pulls, `token` authorization.
    Gitea,
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForgeKind::Github => "GitHub",
            ForgeKind::Gitlab => "GitLab",
            ForgeKind::Gitea => "Gitea",
        })
    }
}

/// Where a repository lives on a forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeRepo {
    pub kind: ForgeKind,
    /// API base URL without a trailing slash, e.g. `https://api.github.com`,
    /// `https://gitlab.example.com/api/v4`.
    pub api: String,
    /// Owner, organization or (GitLab) full namespace such as `group/sub`.
    pub owner: String,
    /// Repository name, without `.git`. On GitLab the project id is the
    /// URL-encoded `owner/name`.
    pub name: String,
}

/// An open pull request (GitHub, Gitea) or merge request (GitLab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Where a person opens it in a browser.
    pub url: String,
    /// The number shown in the forge's UI (`#7`, or GitLab's `!7`: the iid).
    pub number: u64,
}

/// A forge operation that failed. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {kind}")]
pub struct ForgeError {
    /// What was attempted: the repository URL (redacted) or `METHOD url`.
    pub context: String,
    /// What went wrong.
    pub kind: ForgeErrorKind,
}

/// Why a forge operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForgeErrorKind {
    /// The repository URL or `apiUrl` cannot be used.
    #[error("{0}")]
    Url(String),
    /// `forge: auto` and the host is not one assay recognizes.
    #[error(
        "cannot tell which forge serves {0}: set spec.promotion.forge to github, gitlab or gitea \
         (and spec.promotion.apiUrl if its API is not at the usual place)"
    )]
    UnknownForge(String),
    /// The forge answered with an error status; `message` is its own text.
    #[error("{}", describe_status(*.status, .message))]
    Status { status: u16, message: String },
    /// No answer: connection refused, TLS failure, timeout.
    #[error("{0}")]
    Transport(String),
    /// An answer that does not have the shape the forge documents.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// The HTTP client or its runtime could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// `HTTP 404 Not Found: <the server's message>`, as forge and Argo CD
/// errors both show an answer's status.
pub(crate) fn status_text(status: u16, message: &str) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let text = format!("HTTP {status} {reason}").trim_end().to_string();
    if message.is_empty() {
        text
    } else {
        format!("{text}: {message}")
    }
}

fn describe_status(status: u16, message: &str) -> String {
    let text = status_text(status, message);
    let hint = match status {
        401 => " (the token was refused: check the credentials Secret)",
        403 => " (check the token's scopes: opening pull requests needs write access)",
        404 => {
            " (no such repository, or the token cannot see it: check spec.promotion.apiUrl and the token)"
        }
        _ => "",
    };
    text + hint
}

impl ForgeError {
    /// The HTTP status the forge answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ForgeErrorKind::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Whether the same request may succeed later: no answer, rate limiting
    /// or a server-side failure.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ForgeErrorKind::Transport(_) => true,
            ForgeErrorKind::Status { status, .. } => status == 429 || status >= 500,
            _ => false,
        }
    }
}

impl fmt::Display for ForgeRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} on {} ({})",
            self.owner, self.name, self.kind, self.api
        )
    }
}

/// Pull requests on one repository, through its forge's REST API.
pub struct Forge<'rt> {
    repo: ForgeRepo,
    api: Api,
    runtime: &'rt Runtime,
}

impl fmt::Debug for Forge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forge")
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl<'rt> Forge<'rt> {
    /// A client for `repo` that authenticates with `token`: the HTTP client
    /// (timeouts [`CONNECT_TIMEOUT`], [`REQUEST_TIMEOUT`]), driven by the
    /// command's `runtime`. No request is sent yet.
    pub fn new(
        repo: ForgeRepo,
        token: &Secret,
        runtime: &'rt Runtime,
    ) -> Result<Forge<'rt>, ForgeError> {
        let setup = |message: String| ForgeError {
            context: format!("{} API at {}", repo.kind, shown_url(&repo.api)),
            kind: ForgeErrorKind::Setup(message),
        };
        let base = Url::parse(&repo.api)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| setup("the API base must be an http:// or https:// URL".into()))?;
        crate::tls::init();
        let headers = match repo.kind {
            ForgeKind::Github => github::headers(token),
            ForgeKind::Gitlab => gitlab::headers(token),
            ForgeKind::Gitea => gitea::headers(token),
        }
        .map_err(setup)?;
        let api = Api::new(base, headers, token).map_err(setup)?;
        Ok(Forge { repo, api, runtime })
    }

    /// Bounds every later API call by `deadline` (the write-back's).
    pub fn until(&self, deadline: std::time::Instant) {
        self.api.until(deadline);
    }

    /// The repository this client talks about.
    pub fn repo(&self) -> &ForgeRepo {
        &self.repo
    }

    /// The open PR/MR from branch `head` of this repository into `base`, if any.
    pub fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        self.runtime.block_on(self.find(head, base))
    }

    /// Opens a PR/MR from `head` into `base`. When the forge answers that one
    /// already exists (GitHub 422 "A pull request already exists", GitLab
    /// 409, Gitea 409), finds and returns that one instead. Returns the PR
    /// and whether this call created it.
    pub fn open(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, bool), ForgeError> {
        self.runtime
            .block_on(self.open_or_reuse(head, base, title, body))
    }

    /// [`Forge::find_open`], then [`Forge::open`] if nothing is open: an
    /// already open PR is reused without a write to the forge.
    pub fn ensure(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, bool), ForgeError> {
        self.runtime.block_on(async {
            match self.find(head, base).await? {
                Some(pr) => Ok((pr, false)),
                None => self.open_or_reuse(head, base, title, body).await,
            }
        })
    }

    async fn find(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        match self.repo.kind {
            ForgeKind::Github => github::find_open(&self.api, &self.repo, head, base).await,
            ForgeKind::Gitlab => gitlab::find_open(&self.api, &self.repo, head, base).await,
            ForgeKind::Gitea => gitea::find_open(&self.api, &self.repo, head, base).await,
        }
    }

    async fn open_or_reuse(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, bool), ForgeError> {
        let created = match self.repo.kind {
            ForgeKind::Github => {
                github::create(&self.api, &self.repo, head, base, title, body).await
            }
            ForgeKind::Gitlab => {
                gitlab::create(&self.api, &self.repo, head, base, title, body).await
            }
            ForgeKind::Gitea => gitea::create(&self.api, &self.repo, head, base, title, body).await,
        };
        let exists = |e: &ForgeError| match self.repo.kind {
            ForgeKind::Github => github::already_exists(e),
            ForgeKind::Gitlab => gitlab::already_exists(e),
            ForgeKind::Gitea => gitea::already_exists(e),
        };
        match created {
            Ok(pr) => Ok((pr, true)),
            // Lost a race with another writer, or an earlier run: reuse it.
            // If it cannot be found (closed meanwhile), the forge's own
            // refusal is the more useful error.
            Err(e) if exists(&e) => match self.find(head, base).await? {
                Some(pr) => Ok((pr, false)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: ForgeKind, api: &str) -> ForgeRepo {
        ForgeRepo {
            kind,
            api: api.into(),
            owner: "a".into(),
            name: "b".into(),
        }
    }

    fn crate_secret() -> Secret {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret-token").unwrap();
        let creds = crate::gitops::credentials::Credentials::from_dir(dir.path()).unwrap();
        creds.api_token().unwrap().clone()
    }

    #[test]
    fn forge_debug_and_setup_errors_hide_the_token() {
        crate::tls::init();
        let token = crate_secret();
        let rt = Runtime::new().unwrap();
        let forge = Forge::new(at(ForgeKind::Gitlab, "http://127.0.0.1:9"), &token, &rt).unwrap();
        assert!(!format!("{forge:?}").contains("s3cret"));
        let e = Forge::new(at(ForgeKind::Github, "not a url"), &token, &rt).unwrap_err();
        assert!(matches!(e.kind, ForgeErrorKind::Setup(_)), "{e:?}");
    }
}
