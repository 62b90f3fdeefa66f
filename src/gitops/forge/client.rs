//! The HTTP plumbing under [`super::Forge`]: one authenticated reqwest
//! client per API, requests and their errors (the forge's own message, the
//! token masked, transport causes without reqwest's URL), and endpoint URLs.

use std::sync::Mutex;
use std::time::Instant;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CONNECT_TIMEOUT, ForgeError, ForgeErrorKind, REQUEST_TIMEOUT, USER_AGENT};
use crate::secret::Secret;

/// One forge API: base URL, authenticated client, and the token only to mask
/// it in anything a server sends back.
pub(super) struct Api {
    client: reqwest::Client,
    base: Url,
    token: Secret,
    /// When every call must have ended (the write-back's deadline).
    deadline: Mutex<Option<Instant>>,
}

impl Api {
    /// A client for the API at `base` sending `headers` on every request
    /// (timeouts [`CONNECT_TIMEOUT`], [`REQUEST_TIMEOUT`]), following
    /// redirects only within `base`'s origin. The error says what failed.
    pub(super) fn new(base: Url, headers: HeaderMap, token: &Secret) -> Result<Api, String> {
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
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        Ok(Api {
            client,
            base,
            token: token.clone(),
            deadline: Mutex::new(None),
        })
    }

    /// Bounds every later call by `deadline` as well as by the timeouts.
    pub(super) fn until(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
    }

    /// `base/seg/seg/...`, each segment percent-encoded (`/` too: GitLab's
    /// `group/project` id becomes `group%2Fproject`, as its API wants).
    pub(super) fn endpoint(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, &str)],
    ) -> Result<T, ForgeError> {
        let request = self.client.get(url.clone()).query(query);
        self.send("GET", &url, request).await
    }

    pub(super) async fn post<T: DeserializeOwned>(
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
        let exchange = async {
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            let text = response.text().await.map_err(transport)?;
            Ok::<_, ForgeError>((status, text))
        };
        let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        let (status, text) = match deadline {
            None => exchange.await?,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                tokio::time::timeout(left, exchange).await.map_err(|_| {
                    fail(ForgeErrorKind::Transport(
                        "no answer before the write-back's deadline".into(),
                    ))
                })??
            }
        };
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
pub(crate) fn secret_header(prefix: &str, token: &Secret) -> Result<HeaderValue, String> {
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
pub(crate) fn error_chain(e: &reqwest::Error) -> String {
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
}
