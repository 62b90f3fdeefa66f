//! Secret values and the one way they are read from a Kubernetes Secret
//! mounted as files (one file per key), as the hook reads its Git and
//! Prometheus credentials. A secret value lives only in [`Secret`], which has
//! no `Display` and a redacted `Debug`, so it cannot reach a log, an error, a
//! commit or a status by accident; a [`KeyError`] names the key, never its
//! value.

use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

/// A secret string. Deliberately not `Display`; `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from a mounted Secret or the environment.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that must hand it on (git, a request
    /// header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a key of a mounted Secret, or a pair of keys, cannot be used. Never
/// holds a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("cannot read {key}: {kind}")]
    Read { key: String, kind: ErrorKind },
    #[error("{key} is not UTF-8 text")]
    NotText { key: String },
    #[error("{set} is set but {missing} is missing or blank; give both or neither")]
    Unpaired {
        set: &'static str,
        missing: &'static str,
    },
}

/// The bytes of `key` in the Secret mounted at `dir`. A missing key, or one
/// that holds only white space (what `kubectl create secret --from-file` of
/// an empty file or a stray newline gives), is `None`: callers then decide
/// whether the key was required.
pub fn read_bytes(dir: &Path, key: &str) -> Result<Option<Vec<u8>>, KeyError> {
    match std::fs::read(dir.join(key)) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::Read {
            key: key.to_string(),
            kind: e.kind(),
        }),
    }
}

/// [`read_bytes`] as text without its trailing line break, which editors
/// and `echo` add and no token, password or user name means.
pub fn read_text(dir: &Path, key: &str) -> Result<Option<String>, KeyError> {
    let Some(bytes) = read_bytes(dir, key)? else {
        return Ok(None);
    };
    let mut text = String::from_utf8(bytes).map_err(|_| KeyError::NotText {
        key: key.to_string(),
    })?;
    text.truncate(text.trim_end_matches(['\n', '\r']).len());
    Ok(Some(text))
}

/// A user name and password read from one Secret, as a pair: both or
/// neither. One without the other is refused saying which key is missing
/// or blank, because the usual cause is a `kubectl create secret
/// --from-literal=password=$VAR` whose variable was empty.
pub fn user_password(
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<(String, Secret)>, KeyError> {
    let unpaired = |set, missing| Err(KeyError::Unpaired { set, missing });
    match (username, password) {
        (Some(u), Some(p)) => Ok(Some((u, Secret::new(p)))),
        (None, None) => Ok(None),
        (Some(_), None) => unpaired("username", "password"),
        (None, Some(_)) => unpaired("password", "username"),
    }
}

/// A directory laid out as Kubernetes mounts a Secret, one file per key:
/// what the tests of every reader of mounted Secrets start from.
#[cfg(test)]
pub(crate) fn mounted(keys: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (key, value) in keys {
        std::fs::write(d.path().join(key), value).unwrap();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_trimmed_and_blank_means_missing() {
        let d = tempfile::tempdir().unwrap();
        let write = |key: &str, bytes: &[u8]| std::fs::write(d.path().join(key), bytes).unwrap();
        write("token", b"s3cret\r\n");
        write("blank", b" \n\n");
        write("binary", b"\xff\xfe s3cret");
        std::fs::create_dir(d.path().join("dir")).unwrap();
        assert_eq!(
            read_text(d.path(), "token").unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(read_text(d.path(), "blank").unwrap(), None);
        assert_eq!(read_text(d.path(), "missing").unwrap(), None);
        assert_eq!(
            read_bytes(d.path(), "binary").unwrap().unwrap(),
            b"\xff\xfe s3cret"
        );
        let e = read_text(d.path(), "binary").unwrap_err();
        assert_eq!(e.to_string(), "binary is not UTF-8 text");
        let e = read_text(d.path(), "dir").unwrap_err();
        assert!(e.to_string().starts_with("cannot read dir: "), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("s3cret".into())), "***");
    }
}
