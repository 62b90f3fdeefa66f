//! Where a repository lives on its forge, from its Git URL:
//! [`ForgeRepo::from_url`] reads the URL forms (https, ssh, scp-like),
//! detects the forge from the host, applies `spec.promotion.apiUrl`, and
//! masks any user information before a URL reaches a message.

use reqwest::Url;

use super::{ForgeError, ForgeErrorKind, ForgeKind, ForgeRepo};
use crate::spec::ForgeChoice;

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
        forge: ForgeChoice,
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
            ForgeChoice::Github => ForgeKind::Github,
            ForgeChoice::Gitlab => ForgeKind::Gitlab,
            ForgeChoice::Gitea => ForgeKind::Gitea,
            ForgeChoice::Auto => detect(&location.host)
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

/// `url` for messages, with any user information masked. Stricter than
/// [`crate::gitops::credentials::redact_url`]: a token may also be the user name
/// alone (`https://TOKEN@github.com/...`).
pub(super) fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
        None => url.to_string(),
    }
}

/// `https://host/owner/name` for a person's browser: the web origin of the
/// Git URL (`github.com` for GitHub's ssh host names too) and the
/// repository's path; `None` for a URL that names no forge repository.
pub(super) fn web_base(url: &str, repo: &ForgeRepo) -> Option<String> {
    let location = Location::parse(url)?;
    let origin = match location.host.as_str() {
        "ssh.github.com" | "www.github.com" => "https://github.com".to_string(),
        _ => location.origin(),
    };
    Some(format!("{origin}/{}/{}", repo.owner, repo.name))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(url: &str, forge: ForgeChoice, api: Option<&str>) -> ForgeRepo {
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
            assert_eq!(repo(url, ForgeChoice::Auto, None), want, "{url}");
        }
    }

    #[test]
    fn gitlab_subgroups_and_self_managed() {
        assert_eq!(
            repo(
                "https://gitlab.com/group/sub/env.git",
                ForgeChoice::Auto,
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
                ForgeChoice::Auto,
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
                ForgeChoice::Gitlab,
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
                ForgeChoice::Gitlab,
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
            repo("https://codeberg.org/acme/env.git", ForgeChoice::Auto, None),
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
                ForgeChoice::Auto,
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
                ForgeChoice::Gitea,
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
                ForgeChoice::Github,
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
                ForgeChoice::Github,
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
                ForgeChoice::Auto,
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
            ForgeChoice::Auto,
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
            ("https://github.com/acme", ForgeChoice::Auto),
            ("https://github.com/acme/env/extra", ForgeChoice::Auto),
            ("https://gitlab.com/env.git", ForgeChoice::Auto),
            ("/srv/git/env.git", ForgeChoice::Github),
            ("./a:b", ForgeChoice::Github),
            ("file:///srv/git/env.git", ForgeChoice::Github),
            ("https://bot:s3cret@github.com/acme", ForgeChoice::Auto),
            ("https://s3cret@github.com/acme", ForgeChoice::Auto),
        ] {
            let e = ForgeRepo::from_url(url, forge, None).unwrap_err();
            assert!(matches!(e.kind, ForgeErrorKind::Url(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let e = ForgeRepo::from_url(
            "https://github.com/a/b",
            ForgeChoice::Auto,
            Some("https://u:s3cret@ghe/api/v3"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("credentials") && !e.to_string().contains("s3cret"),
            "{e}"
        );
        let e = ForgeRepo::from_url(
            "https://github.com/a/b",
            ForgeChoice::Auto,
            Some("ftp://ghe/api"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("http"), "{e}");
    }
}
