//! How the judge authenticates to Prometheus as it is really deployed:
//! behind a bearer token (managed Prometheus, an OAuth proxy), basic auth
//! (Prometheus' own `--web.config.file`), a tenant header (`X-Scope-OrgID`
//! for Thanos, Mimir, Cortex) and a private CA.
//!
//! The hook reads a Secret mounted as files at [`PROMETHEUS_AUTH_DIR`]
//! (`experiment.prometheus.secret`), as it reads the Git credentials:
//! `token`, or `username` + `password`, `headers` (one `Name: value` per
//! line) and `ca.crt` (PEM; trusted instead of the system roots, as
//! Prometheus' own `tls_config.ca_file` is). `assay judge` and `promote`
//! take the same from `--prometheus-auth DIR`, or piecewise from flags and
//! the environment ([`Overrides`]); secret values only ever from a file or
//! the environment, never from argv.
//!
//! Every value that may be secret lives in a [`Secret`] and reaches only a
//! request header marked sensitive: never the Experiment, a log line, an
//! error or the status.

use std::fmt;
use std::path::Path;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::JudgeError;
use crate::secret::{self, Secret};

/// Where the hook Job mounts the Prometheus credentials Secret.
pub const PROMETHEUS_AUTH_DIR: &str = "/var/run/secrets/assay/prometheus";

/// The keys of the Secret (and the files of `--prometheus-auth DIR`).
const KEYS: &str = "token, username + password, headers, ca.crt";

/// Credentials and trust for one Prometheus; empty means none.
#[derive(Clone, Default)]
pub struct PrometheusAuth {
    bearer: Option<Secret>,
    basic: Option<(String, Secret)>,
    /// Extra headers; values may be secret (API keys), so all are treated so.
    headers: Vec<(HeaderName, Secret)>,
    /// PEM roots to trust instead of the system's.
    ca: Option<Vec<u8>>,
}

impl fmt::Debug for PrometheusAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PrometheusAuth")
            .field("bearer", &self.bearer.is_some())
            .field("basic", &self.basic.as_ref().map(|(user, _)| user))
            .field("headers", &names)
            .field("ca", &self.ca.is_some())
            .finish()
    }
}

/// What flags and the environment add to (or replace in) the directory's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `ASSAY_PROMETHEUS_TOKEN`.
    pub token: Option<Secret>,
    /// `--prometheus-username`.
    pub username: Option<String>,
    /// `ASSAY_PROMETHEUS_PASSWORD`.
    pub password: Option<Secret>,
    /// `--prometheus-header 'Name: value'`, repeatable.
    pub headers: Vec<String>,
    /// `--prometheus-ca FILE`.
    pub ca: Option<std::path::PathBuf>,
}

fn fail(source: &str, message: impl Into<String>) -> JudgeError {
    JudgeError::Input {
        path: source.to_string(),
        message: message.into(),
    }
}

impl PrometheusAuth {
    /// No credentials, the system's roots.
    pub fn none() -> PrometheusAuth {
        PrometheusAuth::default()
    }

    /// Reads `dir` (a missing directory means no auth), then applies `over`.
    /// A directory that exists but holds none of the keys is an error: a
    /// mounted Secret that is empty or wrong must not silently become no auth.
    pub fn load(dir: &Path, over: &Overrides) -> Result<PrometheusAuth, JudgeError> {
        let mut auth = PrometheusAuth::default();
        if dir.is_dir() {
            let shown = dir.display().to_string();
            let key_error = |e: secret::KeyError| fail(&shown, e.to_string());
            let text = |key: &str| secret::read_text(dir, key).map_err(key_error);
            auth.bearer = text("token")?.map(Secret::new);
            auth.basic =
                secret::user_password(text("username")?, text("password")?).map_err(key_error)?;
            if let Some(lines) = text("headers")? {
                auth.headers = parse_headers(lines.lines(), &format!("{shown}/headers"))?;
            }
            auth.ca = secret::read_bytes(dir, "ca.crt").map_err(key_error)?;
            if auth.is_empty() {
                return Err(fail(
                    &shown,
                    format!(
                        "holds none of {KEYS}: is the Secret named in experiment.prometheus.secret in this namespace?"
                    ),
                ));
            }
        }
        if let Some(t) = &over.token {
            auth.bearer = Some(t.clone());
        }
        match (&over.username, &over.password) {
            (Some(u), Some(p)) => auth.basic = Some((u.clone(), p.clone())),
            (None, None) => {}
            _ => {
                return Err(fail(
                    "--prometheus-username",
                    "needs ASSAY_PROMETHEUS_PASSWORD, and the password needs the user name",
                ));
            }
        }
        let extra = parse_headers(
            over.headers.iter().map(String::as_str),
            "--prometheus-header",
        )?;
        for (name, value) in extra {
            auth.headers.retain(|(n, _)| *n != name);
            auth.headers.push((name, value));
        }
        if let Some(path) = &over.ca {
            let pem = std::fs::read(path).map_err(|e| {
                fail(
                    &path.display().to_string(),
                    format!("cannot read: {}", e.kind()),
                )
            })?;
            auth.ca = Some(pem);
        }
        if auth.bearer.is_some() && auth.basic.is_some() {
            return Err(fail(
                "prometheus credentials",
                "a bearer token and basic auth both set Authorization: give one",
            ));
        }
        if (auth.bearer.is_some() || auth.basic.is_some())
            && auth.headers.iter().any(|(n, _)| *n == AUTHORIZATION)
        {
            return Err(fail(
                "prometheus credentials",
                "an Authorization header beside a token or basic auth: give one",
            ));
        }
        Ok(auth)
    }

    fn is_empty(&self) -> bool {
        self.bearer.is_none()
            && self.basic.is_none()
            && self.headers.is_empty()
            && self.ca.is_none()
    }

    /// `builder` sending these credentials on every request and trusting
    /// the CA bundle if there is one. Errors never hold a value.
    pub(super) fn apply(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, String> {
        let mut headers = HeaderMap::new();
        let sensitive = |text: String| {
            let mut v = HeaderValue::from_str(&text)
                .map_err(|_| "a credential holds characters that cannot go into an HTTP header")?;
            v.set_sensitive(true);
            Ok::<_, String>(v)
        };
        if let Some(token) = &self.bearer {
            headers.insert(
                AUTHORIZATION,
                sensitive(format!("Bearer {}", token.expose()))?,
            );
        }
        if let Some((user, password)) = &self.basic {
            let pair = format!("{user}:{}", password.expose());
            headers.insert(
                AUTHORIZATION,
                sensitive(format!("Basic {}", crate::base64::encode(pair.as_bytes())))?,
            );
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), sensitive(value.expose().to_string())?);
        }
        let mut builder = builder.default_headers(headers);
        if let Some(pem) = &self.ca {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| "ca.crt: not a PEM certificate bundle".to_string())?;
            if roots.is_empty() {
                return Err("ca.crt: no certificate in it".into());
            }
            builder = builder.tls_certs_only(roots);
        }
        Ok(builder)
    }
}

/// `Name: value` lines (blank lines and `#` comments skipped). The error
/// names the line, never its value.
fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
    source: &str,
) -> Result<Vec<(HeaderName, Secret)>, JudgeError> {
    let mut out: Vec<(HeaderName, Secret)> = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| fail(&format!("{source}:{}", i + 1), what.to_string());
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("expected `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| bad("not a valid header name"))?;
        let value = value.trim();
        if HeaderValue::from_str(value).is_err() {
            return Err(bad("the value cannot go into an HTTP header"));
        }
        out.retain(|(n, _)| *n != name);
        out.push((name, Secret::new(value.to_string())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::mounted as dir;

    #[test]
    fn reads_the_secret_and_overrides_it() {
        let d = dir(&[
            ("username", "reader\n"),
            ("password", "pw-s3cret\n"),
            (
                "headers",
                "# tenant\nX-Scope-OrgID: team-a\n\nX-Api-Key: key-s3cret\n",
            ),
        ]);
        let auth = PrometheusAuth::load(d.path(), &Overrides::default()).unwrap();
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("x-scope-orgid"),
            "{shown}"
        );
        let over = Overrides {
            headers: vec!["X-Scope-OrgID: team-b".into()],
            ..Overrides::default()
        };
        let auth = PrometheusAuth::load(d.path(), &over).unwrap();
        let tenant: Vec<&str> = auth
            .headers
            .iter()
            .filter(|(n, _)| n == "x-scope-orgid")
            .map(|(_, v)| v.expose())
            .collect();
        assert_eq!(tenant, ["team-b"]);
        assert!(
            PrometheusAuth::load(Path::new("/nonexistent/p"), &Overrides::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn mistakes_are_one_line_without_the_values() {
        let empty = dir(&[]);
        let e = PrometheusAuth::load(empty.path(), &Overrides::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("holds none of token, username + password"),
            "{e}"
        );
        let half = dir(&[("password", "pw-s3cret")]);
        let e = PrometheusAuth::load(half.path(), &Overrides::default()).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "password is set but username is missing or blank; give both or neither"
            ),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let both = dir(&[("token", "t-s3cret"), ("username", "u"), ("password", "p")]);
        let e = PrometheusAuth::load(both.path(), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("give one"), "{e}");
        let bad = dir(&[("headers", "X-Ok: 1\nno colon s3cret\n")]);
        let e = PrometheusAuth::load(bad.path(), &Overrides::default()).unwrap_err();
        assert!(
            e.to_string().contains("/headers:2: expected `Name: value`"),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
