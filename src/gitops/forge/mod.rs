//! Pull requests on the env repository's forge: GitHub (and GitHub Enterprise
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

mod gitea;
mod github;
mod gitlab;

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::credentials::Secret;
use crate::spec::Forge as ForgeSetting;

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

fn describe_status(status: u16, message: &str) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut text = format!("HTTP {status} {reason}").trim_end().to_string();
    if !message.is_empty() {
        text = format!("{text}: {message}");
    }
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

impl ForgeRepo {
    /// Where the repository at the Git `url` lives: `https://host/owner/repo(.git)`,
    /// `ssh://git@host[:port]/owner/repo.git` or `git@host:owner/repo.git`;
    /// on GitLab the owner may be a subgroup path (`group/sub/repo`).
    ///
    /// With `forge: auto` the host decides: `github.com` is GitHub at
    /// `https://api.github.com`, a host starting with `gitlab.` (or
    /// `gitlab.com`) is GitLab at `https://<host>/api/v4`, a host starting
    /// with `gitea.` (or `codeberg.org`) is Gitea at `https://<host>/api/v1`.
    /// A configured kind uses the same places on the repository's host
    /// (GitHub Enterprise Server: `https://<host>/api/v3`); `api_url`
    /// replaces the API base in every case. An http(s) repository URL keeps
    /// its scheme and port for the API; ssh and scp-like URLs mean https.
    pub fn from_url(
        url: &str,
        forge: ForgeSetting,
        api_url: Option<&str>,
    ) -> Result<ForgeRepo, ForgeError> {
        let fail = |kind| ForgeError {
            context: shown_url(url),
            kind,
        };
        let location = Location::parse(url).ok_or_else(|| {
            fail(ForgeErrorKind::Url(
                "not a forge repository URL (expected https://host/owner/repo, ssh://git@host/owner/repo \
                 or git@host:owner/repo)"
                    .into(),
            ))
        })?;
        let kind = match forge {
            ForgeSetting::Github => ForgeKind::Github,
            ForgeSetting::Gitlab => ForgeKind::Gitlab,
            ForgeSetting::Gitea => ForgeKind::Gitea,
            ForgeSetting::Auto => detect(&location.host)
                .ok_or_else(|| fail(ForgeErrorKind::UnknownForge(location.host.clone())))?,
        };
        let api = match api_url {
            Some(api) => normalize_api_url(api).map_err(|m| ForgeError {
                context: format!("spec.promotion.apiUrl {}", shown_url(api)),
                kind: ForgeErrorKind::Url(m),
            })?,
            None => default_api(kind, &location),
        };
        let (owner, name) = split_path(kind, &location.segments, api_url.is_some())
            .map_err(|m| fail(ForgeErrorKind::Url(m)))?;
        Ok(ForgeRepo {
            kind,
            api,
            owner,
            name,
        })
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

/// `url` for messages, with any user information masked. Stricter than
/// [`super::credentials::redact_url`]: a token may also be the user name
/// alone (`https://TOKEN@github.com/...`).
fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
        None => url.to_string(),
    }
}

/// The parts of a Git URL that locate the repository.
struct Location {
    /// `http`, `https`, `ssh`, `git`, ...
    scheme: String,
    /// Lowercase; IPv6 addresses keep their brackets.
    host: String,
    port: Option<u16>,
    /// Path segments, empty ones dropped, `.git` still on the last one.
    segments: Vec<String>,
}

impl Location {
    fn parse(url: &str) -> Option<Location> {
        let url = url.trim();
        let parsed = if url.contains("://") {
            Url::parse(url).ok()?
        } else {
            // scp-like `[user@]host:path`; a `/` before the `:` means a local path.
            let (authority, path) = url.split_once(':')?;
            if authority.is_empty() || authority.contains('/') {
                return None;
            }
            Url::parse(&format!(
                "ssh://{authority}/{}",
                path.trim_start_matches('/')
            ))
            .ok()?
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())?
            .to_ascii_lowercase();
        let segments = parsed
            .path_segments()?
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Some(Location {
            scheme: parsed.scheme().to_string(),
            host,
            port: parsed.port(),
            segments,
        })
    }

    /// The web origin: the URL's own for http(s), https on the host otherwise
    /// (an ssh port says nothing about the web server's).
    fn origin(&self) -> String {
        match (self.scheme.as_str(), self.port) {
            ("http" | "https", Some(port)) => format!("{}://{}:{port}", self.scheme, self.host),
            ("http" | "https", None) => format!("{}://{}", self.scheme, self.host),
            _ => format!("https://{}", self.host),
        }
    }
}

fn detect(host: &str) -> Option<ForgeKind> {
    match host {
        "github.com" | "www.github.com" | "ssh.github.com" => Some(ForgeKind::Github),
        "gitlab.com" => Some(ForgeKind::Gitlab),
        "codeberg.org" => Some(ForgeKind::Gitea),
        _ if host.starts_with("gitlab.") => Some(ForgeKind::Gitlab),
        _ if host.starts_with("gitea.") => Some(ForgeKind::Gitea),
        _ => None,
    }
}

fn default_api(kind: ForgeKind, location: &Location) -> String {
    match kind {
        ForgeKind::Github if detect(&location.host) == Some(ForgeKind::Github) => {
            "https://api.github.com".into()
        }
        // GitHub Enterprise Server serves REST under /api/v3.
        ForgeKind::Github => format!("{}/api/v3", location.origin()),
        ForgeKind::Gitlab => format!("{}/api/v4", location.origin()),
        ForgeKind::Gitea => format!("{}/api/v1", location.origin()),
    }
}

fn normalize_api_url(api: &str) -> Result<String, String> {
    let parsed = Url::parse(api.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err("must be an http:// or https:// URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "must not carry credentials; the token comes from the credentials Secret".into(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// `(owner, name)` from the path. GitLab namespaces nest; GitHub and Gitea
/// have exactly `owner/repo`, except that a Gitea served under a sub-path
/// (which needs `apiUrl` anyway) has more segments before them.
fn split_path(
    kind: ForgeKind,
    segments: &[String],
    custom_api: bool,
) -> Result<(String, String), String> {
    let mut segments = segments.to_vec();
    if let Some(last) = segments.last_mut()
        && let Some(stripped) = last.strip_suffix(".git")
    {
        *last = stripped.to_string();
    }
    segments.retain(|s| !s.is_empty());
    let shape = |expected: &str| {
        format!(
            "expected {expected} in the path, found {:?}",
            segments.join("/")
        )
    };
    match (kind, segments.len()) {
        (ForgeKind::Gitlab, 0 | 1) => Err(shape("group[/subgroup...]/project")),
        (_, 0 | 1) => Err(shape("owner/repo")),
        (ForgeKind::Gitlab, n) => Ok((segments[..n - 1].join("/"), segments[n - 1].clone())),
        (_, 2) => Ok((segments[0].clone(), segments[1].clone())),
        (ForgeKind::Gitea, n) if custom_api => {
            Ok((segments[n - 2].clone(), segments[n - 1].clone()))
        }
        _ => Err(shape("owner/repo")),
    }
}

/// Pull requests on one repository, through its forge's REST API.
pub struct Forge {
    repo: ForgeRepo,
    api: Api,
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forge")
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl Forge {
    /// A client for `repo` that authenticates with `token`: the HTTP client
    /// (timeouts [`CONNECT_TIMEOUT`], [`REQUEST_TIMEOUT`]) and a
    /// current-thread runtime to drive it. No request is sent yet.
    pub fn new(repo: ForgeRepo, token: &Secret) -> Result<Forge, ForgeError> {
        let setup = |message: String| ForgeError {
            context: format!("{} API at {}", repo.kind, shown_url(&repo.api)),
            kind: ForgeErrorKind::Setup(message),
        };
        let base = Url::parse(&repo.api)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| setup("the API base must be an http:// or https:// URL".into()))?;
        // reqwest's `rustls-no-provider` uses the process default provider
        // (and panics without one); the first install wins, later ones are
        // no-ops.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let headers = match repo.kind {
            ForgeKind::Github => github::headers(token),
            ForgeKind::Gitlab => gitlab::headers(token),
            ForgeKind::Gitea => gitea::headers(token),
        }
        .map_err(setup)?;
        let origin = base.origin();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 || attempt.url().origin() != origin {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| setup(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the async runtime: {e}")))?;
        let api = Api {
            client,
            base,
            token: token.clone(),
        };
        Ok(Forge { repo, api, runtime })
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

/// One forge API: base URL, authenticated client, and the token only to mask
/// it in anything a server sends back.
struct Api {
    client: reqwest::Client,
    base: Url,
    token: Secret,
}

impl Api {
    /// `base/seg/seg/...`, each segment percent-encoded (`/` too: GitLab's
    /// `group/project` id becomes `group%2Fproject`, as its API wants).
    fn endpoint(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, &str)],
    ) -> Result<T, ForgeError> {
        let request = self.client.get(url.clone()).query(query);
        self.send("GET", &url, request).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        url: Url,
        body: &impl Serialize,
    ) -> Result<T, ForgeError> {
        let request = self.client.post(url.clone()).json(body);
        self.send("POST", &url, request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ForgeError> {
        let fail = |kind: ForgeErrorKind| ForgeError {
            context: format!("{method} {url}"),
            kind: self.mask(kind),
        };
        let transport = |e: reqwest::Error| {
            let text = if e.is_timeout() {
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("cannot connect: {}", error_chain(&e))
            } else {
                error_chain(&e)
            };
            fail(ForgeErrorKind::Transport(text))
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        if !status.is_success() {
            return Err(fail(ForgeErrorKind::Status {
                status: status.as_u16(),
                message: api_message(&text),
            }));
        }
        serde_json::from_str(&text).map_err(|e| fail(ForgeErrorKind::Decode(e.to_string())))
    }

    /// Replaces any echo of the token in text a server sent us.
    fn mask(&self, kind: ForgeErrorKind) -> ForgeErrorKind {
        let token = self.token.expose();
        if token.len() < 4 {
            return kind;
        }
        let mask = |s: String| s.replace(token, "***");
        match kind {
            ForgeErrorKind::Status { status, message } => ForgeErrorKind::Status {
                status,
                message: mask(message),
            },
            ForgeErrorKind::Transport(m) => ForgeErrorKind::Transport(mask(m)),
            ForgeErrorKind::Decode(m) => ForgeErrorKind::Decode(mask(m)),
            other => other,
        }
    }
}

fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A header value holding a secret: marked sensitive, so hyper and reqwest
/// never print it. The error names the problem, not the value.
fn secret_header(prefix: &str, token: &Secret) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(&format!("{prefix}{}", token.expose()))
        .map_err(|_| "the token holds characters that cannot go into an HTTP header".to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

/// The forge's explanation in an error answer. GitHub: `message` plus
/// `errors[].message`; GitLab: `message` as a string, a list, or a map of
/// field errors, or `error`; Gitea: `message`. Anything else: the start of
/// the body.
fn api_message(body: &str) -> String {
    fn texts(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if !s.is_empty() => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    let mut inner = Vec::new();
                    texts(v, &mut inner);
                    if !inner.is_empty() {
                        out.push(format!("{key}: {}", inner.join(", ")));
                    }
                }
            }
            _ => {}
        }
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        let text = body.trim();
        return match text.char_indices().nth(200) {
            Some((at, _)) => format!("{}...", &text[..at]),
            None => text.to_string(),
        };
    };
    let mut out = Vec::new();
    for key in ["message", "error", "error_description"] {
        if let Some(v) = json.get(key) {
            texts(v, &mut out);
        }
    }
    for error in json
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        match error.get("message") {
            Some(m) => texts(m, &mut out),
            None => texts(error, &mut out),
        }
    }
    out.join("; ")
}

/// An error and its causes, outermost first, without the request URL that
/// reqwest adds (the caller's context already names it).
fn error_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // hyper-util's "client error (Connect)" wrapper says nothing the
        // causes after it do not.
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(url: &str, forge: ForgeSetting, api: Option<&str>) -> ForgeRepo {
        ForgeRepo::from_url(url, forge, api).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn expect(kind: ForgeKind, api: &str, owner: &str, name: &str) -> ForgeRepo {
        ForgeRepo {
            kind,
            api: api.into(),
            owner: owner.into(),
            name: name.into(),
        }
    }

    #[test]
    fn github_https_ssh_and_scp_forms() {
        let want = expect(ForgeKind::Github, "https://api.github.com", "acme", "env");
        for url in [
            "https://github.com/acme/env.git",
            "https://github.com/acme/env",
            "https://github.com/acme/env/",
            "https://x-access-token:s3cret@github.com/acme/env.git",
            "ssh://git@github.com/acme/env.git",
            "ssh://git@ssh.github.com:443/acme/env.git",
            "git@github.com:acme/env.git",
            "git@github.com:/acme/env",
            "HTTPS://GitHub.com/acme/env.git",
        ] {
            assert_eq!(repo(url, ForgeSetting::Auto, None), want, "{url}");
        }
    }

    #[test]
    fn gitlab_subgroups_and_self_managed() {
        assert_eq!(
            repo(
                "https://gitlab.com/group/sub/env.git",
                ForgeSetting::Auto,
                None
            ),
            expect(
                ForgeKind::Gitlab,
                "https://gitlab.com/api/v4",
                "group/sub",
                "env"
            )
        );
        assert_eq!(
            repo(
                "git@gitlab.example.com:platform/team/deep/env.git",
                ForgeSetting::Auto,
                None
            ),
            expect(
                ForgeKind::Gitlab,
                "https://gitlab.example.com/api/v4",
                "platform/team/deep",
                "env"
            )
        );
        // A configured kind on an unknown host; an http URL keeps scheme and port.
        assert_eq!(
            repo(
                "http://git.internal:8080/ops/env.git",
                ForgeSetting::Gitlab,
                None
            ),
            expect(
                ForgeKind::Gitlab,
                "http://git.internal:8080/api/v4",
                "ops",
                "env"
            )
        );
        // An ssh port is not the web server's.
        assert_eq!(
            repo(
                "ssh://git@git.internal:2222/ops/env.git",
                ForgeSetting::Gitlab,
                None
            ),
            expect(
                ForgeKind::Gitlab,
                "https://git.internal/api/v4",
                "ops",
                "env"
            )
        );
    }

    #[test]
    fn gitea_and_codeberg() {
        assert_eq!(
            repo(
                "https://codeberg.org/acme/env.git",
                ForgeSetting::Auto,
                None
            ),
            expect(
                ForgeKind::Gitea,
                "https://codeberg.org/api/v1",
                "acme",
                "env"
            )
        );
        assert_eq!(
            repo(
                "git@gitea.example.com:acme/env.git",
                ForgeSetting::Auto,
                None
            ),
            expect(
                ForgeKind::Gitea,
                "https://gitea.example.com/api/v1",
                "acme",
                "env"
            )
        );
        // Served under a sub-path: apiUrl says where, the last two segments are owner/repo.
        assert_eq!(
            repo(
                "https://example.com/git/acme/env.git",
                ForgeSetting::Gitea,
                Some("https://example.com/git/api/v1/")
            ),
            expect(
                ForgeKind::Gitea,
                "https://example.com/git/api/v1",
                "acme",
                "env"
            )
        );
    }

    #[test]
    fn github_enterprise() {
        assert_eq!(
            repo(
                "https://ghe.corp.example/acme/env.git",
                ForgeSetting::Github,
                None
            ),
            expect(
                ForgeKind::Github,
                "https://ghe.corp.example/api/v3",
                "acme",
                "env"
            )
        );
        assert_eq!(
            repo(
                "git@ghe.corp.example:acme/env.git",
                ForgeSetting::Github,
                Some("https://ghe-api.corp.example/api/v3")
            ),
            expect(
                ForgeKind::Github,
                "https://ghe-api.corp.example/api/v3",
                "acme",
                "env"
            )
        );
        // apiUrl also overrides a detected forge (a loopback fake in tests).
        assert_eq!(
            repo(
                "https://github.com/acme/env.git",
                ForgeSetting::Auto,
                Some("http://127.0.0.1:4000")
            )
            .api,
            "http://127.0.0.1:4000"
        );
    }

    #[test]
    fn unknown_host_says_what_to_set() {
        let e = ForgeRepo::from_url(
            "https://git.example.com/acme/env.git",
            ForgeSetting::Auto,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(e.kind, ForgeErrorKind::UnknownForge(ref h) if h == "git.example.com"),
            "{e:?}"
        );
        assert!(e.to_string().contains("spec.promotion.forge"), "{e}");
    }

    #[test]
    fn bad_urls_are_refused_without_secrets() {
        for (url, forge) in [
            ("https://github.com/acme", ForgeSetting::Auto),
            ("https://github.com/acme/env/extra", ForgeSetting::Auto),
            ("https://gitlab.com/env.git", ForgeSetting::Auto),
            ("/srv/git/env.git", ForgeSetting::Github),
            ("./a:b", ForgeSetting::Github),
            ("file:///srv/git/env.git", ForgeSetting::Github),
            ("https://bot:s3cret@github.com/acme", ForgeSetting::Auto),
            ("https://s3cret@github.com/acme", ForgeSetting::Auto),
        ] {
            let e = ForgeRepo::from_url(url, forge, None).unwrap_err();
            assert!(matches!(e.kind, ForgeErrorKind::Url(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let e = ForgeRepo::from_url(
            "https://github.com/a/b",
            ForgeSetting::Auto,
            Some("https://u:s3cret@ghe/api/v3"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("credentials") && !e.to_string().contains("s3cret"),
            "{e}"
        );
        let e = ForgeRepo::from_url(
            "https://github.com/a/b",
            ForgeSetting::Auto,
            Some("ftp://ghe/api"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("http"), "{e}");
    }

    #[test]
    fn error_messages_from_each_forge() {
        let github = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:b."}]}"#;
        assert_eq!(
            api_message(github),
            "Validation Failed; A pull request already exists for acme:b."
        );
        let gitlab = r#"{"message":["Another open merge request already exists for this source branch: !38"]}"#;
        assert_eq!(
            api_message(gitlab),
            "Another open merge request already exists for this source branch: !38"
        );
        assert_eq!(
            api_message(r#"{"message":{"title":["is too long"]}}"#),
            "title: is too long"
        );
        assert_eq!(
            api_message(r#"{"error":"target_branch is missing"}"#),
            "target_branch is missing"
        );
        assert_eq!(
            api_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(api_message(&"x".repeat(500)).len(), 203);
        let e = ForgeErrorKind::Status {
            status: 401,
            message: "Bad credentials".into(),
        };
        assert_eq!(
            e.to_string(),
            "HTTP 401 Unauthorized: Bad credentials (the token was refused: check the credentials Secret)"
        );
    }

    #[test]
    fn endpoints_encode_gitlab_project_ids() {
        let base = Url::parse("https://gitlab.example.com/api/v4/").unwrap();
        assert_eq!(
            endpoint(&base, &["projects", "group/sub/env", "merge_requests"]).as_str(),
            "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fenv/merge_requests"
        );
    }

    fn crate_secret() -> Secret {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret-token").unwrap();
        let creds = crate::gitops::credentials::Credentials::from_dir(dir.path()).unwrap();
        creds.api_token().unwrap().clone()
    }

    #[test]
    fn forge_debug_and_setup_errors_hide_the_token() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = crate_secret();
        let forge = Forge::new(
            expect(ForgeKind::Gitlab, "http://127.0.0.1:9", "a", "b"),
            &token,
        )
        .unwrap();
        assert!(!format!("{forge:?}").contains("s3cret"));
        let e = Forge::new(expect(ForgeKind::Github, "not a url", "a", "b"), &token).unwrap_err();
        assert!(matches!(e.kind, ForgeErrorKind::Setup(_)), "{e:?}");
    }
}
