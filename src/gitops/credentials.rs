//! Git credentials from a mounted Secret directory (the hook's
//! `/var/run/secrets/assay/git`): `token`, or `username` + `password`, or
//! `sshPrivateKey` + `knownHosts`; and, for the Argo CD refresh,
//! `argocdToken` ([`argocd_token`]). Keys are read as [`crate::secret`]
//! reads every mounted Secret.

use std::path::Path;

use crate::secret::{self, KeyError, Secret, read_text};

/// Where the hook Job mounts the credentials Secret.
pub const DEFAULT_DIR: &str = "/var/run/secrets/assay/git";

/// The key of the Argo CD API token in the credentials Secret.
pub const ARGOCD_TOKEN: &str = "argocdToken";

/// How to authenticate to the env repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No Secret mounted: git://, file:// or a public https remote.
    Anonymous,
    /// An access token over HTTPS (GitHub, GitLab, Gitea accept it as the
    /// password with any user name); also the forge API token.
    Token { username: String, token: Secret },
    /// HTTPS basic authentication.
    UserPassword { username: String, password: Secret },
    /// An SSH key; the server must be listed in `known_hosts`. A `token`
    /// beside it is for the forge API (pull requests).
    Ssh {
        private_key: Secret,
        known_hosts: String,
        token: Option<Secret>,
    },
}

/// Why the credentials directory cannot be used. Never contains a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("{dir}: {error}")]
    Key { dir: String, error: KeyError },
    #[error("{dir}: {message}")]
    Incomplete { dir: String, message: &'static str },
}

impl Credentials {
    /// Reads `dir`. A directory that does not exist means anonymous access;
    /// one that exists but holds no usable combination is an error, because a
    /// mounted but wrong Secret should not silently become anonymous.
    pub fn from_dir(dir: &Path) -> Result<Credentials, CredentialsError> {
        if !dir.is_dir() {
            return Ok(Credentials::Anonymous);
        }
        let shown = dir.display().to_string();
        let read = |key: &str| read_key(dir, key);
        let incomplete = |message| CredentialsError::Incomplete {
            dir: shown.clone(),
            message,
        };
        if let Some(key) = read("sshPrivateKey")? {
            let known_hosts = read("knownHosts")?.ok_or_else(|| {
                incomplete("sshPrivateKey needs knownHosts: assay never trusts an unknown host key")
            })?;
            let token = read("token")?.map(Secret::new);
            return Ok(Credentials::Ssh {
                private_key: Secret::new(key + "\n"),
                known_hosts,
                token,
            });
        }
        let username = read("username")?;
        if let Some(token) = read("token")? {
            let username = username.unwrap_or_else(|| "x-access-token".into());
            return Ok(Credentials::Token {
                username,
                token: Secret::new(token),
            });
        }
        let pair = secret::user_password(username, read("password")?).map_err(key_error(dir))?;
        match pair {
            Some((username, password)) => Ok(Credentials::UserPassword { username, password }),
            // Only the Argo CD token: Git is reached anonymously (git://).
            None if read(ARGOCD_TOKEN)?.is_some() => Ok(Credentials::Anonymous),
            None => Err(incomplete(
                "holds none of token, username + password, sshPrivateKey + knownHosts",
            )),
        }
    }

    /// The token for forge APIs (pull requests), if any.
    pub fn api_token(&self) -> Option<&Secret> {
        match self {
            Credentials::Token { token, .. } => Some(token),
            Credentials::UserPassword { password, .. } => Some(password),
            Credentials::Ssh { token, .. } => token.as_ref(),
            Credentials::Anonymous => None,
        }
    }
}

/// The Argo CD API token (`argocdToken`) in the credentials directory, if
/// there is one: the Argo CD refresh is optional, so its absence is `None`.
pub fn argocd_token(dir: &Path) -> Result<Option<Secret>, CredentialsError> {
    if !dir.is_dir() {
        return Ok(None);
    }
    Ok(read_key(dir, ARGOCD_TOKEN)?.map(Secret::new))
}

fn read_key(dir: &Path, key: &str) -> Result<Option<String>, CredentialsError> {
    read_text(dir, key).map_err(key_error(dir))
}

fn key_error(dir: &Path) -> impl Fn(KeyError) -> CredentialsError + '_ {
    move |error| CredentialsError::Key {
        dir: dir.display().to_string(),
        error,
    }
}

/// `url` without credentials, for messages: a password, or a user name that
/// may be a token (`https://TOKEN@host/...`), becomes `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        // Over HTTP a bare user name is often a token; over ssh it is `git`.
        None if scheme.starts_with("http") => "***".to_string(),
        None => userinfo.to_string(),
    };
    format!("{scheme}://{shown}@{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::mounted as dir;

    #[test]
    fn reads_each_kind() {
        let d = dir(&[("token", "s3cret\n")]);
        let c = Credentials::from_dir(d.path()).unwrap();
        assert_eq!(
            c,
            Credentials::Token {
                username: "x-access-token".into(),
                token: Secret::new("s3cret".into())
            }
        );
        let d = dir(&[("username", "bot"), ("password", "pw")]);
        assert!(matches!(
            Credentials::from_dir(d.path()).unwrap(),
            Credentials::UserPassword { .. }
        ));
        assert_eq!(
            Credentials::from_dir(Path::new("/nonexistent/assay")).unwrap(),
            Credentials::Anonymous
        );
    }

    #[test]
    fn the_argocd_token_is_read_apart_and_alone_means_anonymous_git() {
        let d = dir(&[("argocdToken", "argo-s3cret\n")]);
        assert_eq!(
            Credentials::from_dir(d.path()).unwrap(),
            Credentials::Anonymous
        );
        let t = argocd_token(d.path()).unwrap().unwrap();
        assert_eq!(t.expose(), "argo-s3cret");
        assert_eq!(format!("{t:?}"), "***");
        let d = dir(&[("token", "git")]);
        assert_eq!(argocd_token(d.path()).unwrap(), None);
        assert_eq!(argocd_token(Path::new("/nonexistent/assay")).unwrap(), None);
    }

    #[test]
    fn a_blank_password_is_named_as_the_missing_half() {
        // What `kubectl create secret --from-literal=password=$EMPTY` mounts.
        let d = dir(&[("username", "bot"), ("password", " \n")]);
        let e = Credentials::from_dir(d.path()).unwrap_err().to_string();
        assert!(
            e.ends_with("username is set but password is missing or blank; give both or neither"),
            "{e}"
        );
    }

    #[test]
    fn ssh_needs_known_hosts() {
        let d = dir(&[("sshPrivateKey", "KEY")]);
        let e = Credentials::from_dir(d.path()).unwrap_err();
        assert!(e.to_string().contains("knownHosts"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let d = dir(&[("token", "s3cret")]);
        let c = Credentials::from_dir(d.path()).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            redact_url("https://bot:s3cret@git.example.com/a.git"),
            "https://bot:***@git.example.com/a.git"
        );
        assert_eq!(
            redact_url("git://127.0.0.1:9418/a.git"),
            "git://127.0.0.1:9418/a.git"
        );
    }
}
