//! Telling Argo CD about a verdict at once: `GET
//! /api/v1/applications/<app>?refresh=normal` on the Argo CD API server.
//! Without it the verdict commit waits for Argo CD's repository polling (120 s
//! plus up to 60 s of jitter, refs cached for 3 min: JUDGING.md §4), and the
//! rejected candidate keeps its traffic all that while.
//!
//! Argo CD's `ApplicationService.Get` (server/application/application.go)
//! checks that the caller may `get` the Application, sets the
//! `argocd.argoproj.io/refresh: normal` annotation (which makes the
//! controller re-resolve the branch and rewrite its refs cache), then waits
//! for the controller to finish before it answers. So a read-only token is
//! enough, and an answer that does not come within [`TIMEOUT`] still leaves
//! the refresh requested. `appNamespace` names an Application that lives
//! outside Argo CD's own namespace (apps-in-any-namespace).
//!
//! The refresh is a courtesy: every failure is the caller's to log once, and
//! none stops the hook. The token travels in one `Authorization` header
//! marked sensitive; no error or log line holds it, and any echo of it in an
//! answer is masked. TLS trusts the system roots as the forge client does
//! (`SSL_CERT_FILE`/`SSL_CERT_DIR` for a private CA).

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap};

use crate::gitops::forge::{USER_AGENT, error_chain, secret_header, status_text};
use crate::secret::Secret;

/// How long connecting to the Argo CD API may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the whole request may take. Argo CD answers only once the
/// refresh is done; the annotation is set long before that.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Which Application to refresh, on which server.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Base URL of the Argo CD API server (`https://argocd.example.com`,
    /// or with the server's `--rootpath`).
    pub server: &'a str,
    /// The Application's name.
    pub app: &'a str,
    /// Set only when the Application lives outside Argo CD's namespace.
    pub app_namespace: Option<&'a str>,
}

/// Why the refresh was not confirmed. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Argo CD refresh GET {url}: {kind}")]
pub struct RefreshError {
    /// The request URL (it carries no credential).
    pub url: String,
    pub kind: RefreshErrorKind,
}

/// What went wrong with the refresh request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshErrorKind {
    /// The server URL cannot be used.
    #[error("{0}")]
    Url(String),
    /// Argo CD answered with an error status.
    #[error("{}", describe(*.status, .message))]
    Status { status: u16, message: String },
    /// No connection, or a TLS failure.
    #[error("{0}")]
    Transport(String),
    /// Connected, but no answer in time: the refresh was most likely
    /// requested, since Argo CD answers only once it is done.
    #[error("no answer within {} s (Argo CD answers once the refresh is done; the request stands)", .0.as_secs())]
    Timeout(Duration),
    /// The client could not be built.
    #[error("{0}")]
    Setup(String),
}

fn describe(status: u16, message: &str) -> String {
    let text = status_text(status, message);
    let hint = match status {
        401 => " (the argocdToken was refused: check the credentials Secret)",
        403 => {
            " (the argocdToken's account may not get this Application: grant `applications, get`)"
        }
        404 => {
            " (no such Application on this server, or the token cannot see it: check spec.application and the server URL)"
        }
        _ => "",
    };
    text + hint
}

/// `server/api/v1/applications/<app>?refresh=normal[&appNamespace=<ns>]`.
pub fn refresh_url(target: &Target) -> Result<Url, String> {
    let mut url = Url::parse(target.server)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
        .filter(|u| u.username().is_empty() && u.password().is_none())
        .ok_or_else(|| {
            "the Argo CD server must be an http:// or https:// URL without credentials".to_string()
        })?;
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["api", "v1", "applications", target.app]);
    }
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("refresh", "normal");
        if let Some(ns) = target.app_namespace {
            query.append_pair("appNamespace", ns);
        }
    }
    Ok(url)
}

/// Asks Argo CD to refresh `target`, authenticating with `token`. Ends
/// within [`TIMEOUT`]. Call it from a runtime with time and I/O enabled.
pub async fn refresh(target: &Target<'_>, token: &Secret) -> Result<(), RefreshError> {
    let shown = target.server.to_string();
    let url = refresh_url(target).map_err(|m| RefreshError {
        url: shown,
        kind: RefreshErrorKind::Url(m),
    })?;
    let fail = |kind: RefreshErrorKind| RefreshError {
        url: url.to_string(),
        kind: mask(kind, token),
    };
    crate::tls::init();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        secret_header("Bearer ", token)
            .map_err(|m| fail(RefreshErrorKind::Setup(format!("argocdToken: {m}"))))?,
    );
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(headers)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        // A redirect could carry the token elsewhere: none is followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(RefreshErrorKind::Setup(error_chain(&e))))?;
    let transport = |e: reqwest::Error| {
        fail(if e.is_connect() {
            RefreshErrorKind::Transport(format!("cannot connect: {}", error_chain(&e)))
        } else if e.is_timeout() {
            RefreshErrorKind::Timeout(TIMEOUT)
        } else {
            RefreshErrorKind::Transport(error_chain(&e))
        })
    };
    let response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(fail(RefreshErrorKind::Status {
        status: status.as_u16(),
        message: message(&body),
    }))
}

/// Argo CD's own explanation (`{"error", "code", "message"}` from
/// grpc-gateway), else the start of the body; one line, at most 200 chars.
fn message(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = json
        .as_ref()
        .and_then(|j| j.get("message").or_else(|| j.get("error")))
        .and_then(|m| m.as_str())
        .unwrap_or(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line,
    }
}

/// Replaces any echo of the token in what the server sent.
fn mask(kind: RefreshErrorKind, token: &Secret) -> RefreshErrorKind {
    let t = token.expose();
    if t.len() < 4 {
        return kind;
    }
    match kind {
        RefreshErrorKind::Status { status, message } => RefreshErrorKind::Status {
            status,
            message: message.replace(t, "***"),
        },
        RefreshErrorKind::Transport(m) => RefreshErrorKind::Transport(m.replace(t, "***")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_url_keeps_a_root_path_and_names_the_namespace_only_when_set() {
        let t = Target {
            server: "https://argocd.example.com/argo-cd/",
            app: "bookinfo",
            app_namespace: None,
        };
        assert_eq!(
            refresh_url(&t).unwrap().as_str(),
            "https://argocd.example.com/argo-cd/api/v1/applications/bookinfo?refresh=normal"
        );
        let t = Target {
            server: "http://argocd-server.argocd",
            app: "bookinfo",
            app_namespace: Some("team-a"),
        };
        assert_eq!(
            refresh_url(&t).unwrap().as_str(),
            "http://argocd-server.argocd/api/v1/applications/bookinfo?refresh=normal&appNamespace=team-a"
        );
        for bad in [
            "argocd.example.com",
            "https://u:p@argocd.example.com",
            "ftp://x",
        ] {
            let t = Target { server: bad, ..t };
            assert!(refresh_url(&t).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_messages_are_one_line_and_masked() {
        assert_eq!(
            message(r#"{"error":"x","code":7,"message":"permission denied:\n applications, get"}"#),
            "permission denied: applications, get"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("argocdToken"), "tok-abcdef").unwrap();
        let token = crate::gitops::credentials::argocd_token(dir.path())
            .unwrap()
            .unwrap();
        let k = mask(
            RefreshErrorKind::Status {
                status: 401,
                message: "bad token tok-abcdef".into(),
            },
            &token,
        );
        assert!(!k.to_string().contains("tok-abcdef"), "{k}");
    }
}
