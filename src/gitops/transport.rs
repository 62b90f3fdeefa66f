//! What keeps a git transfer inside its time and its trust: socket timeouts
//! for libgit2, a watchdog that abandons an operation at the deadline, the
//! line between errors worth another attempt and errors that are final, and
//! the rule that credentials go only to the host and port the remote URL
//! names.

use std::sync::Once;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use git2::{ErrorClass, ErrorCode};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent before libgit2 gives up on it. Git
/// servers send keep-alives every 5 s while they compute a pack or run hooks.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The bound of one operation that has no deadline of its own (the hook's
/// look at the branch before judging).
pub const OP_LIMIT: Duration = Duration::from_secs(120);
/// How long past its deadline an operation in flight may finish (a push
/// whose last bytes are on the wire) before it is abandoned.
pub const GRACE: Duration = Duration::from_secs(2);

/// Sets libgit2's connect and read timeouts, once per process, before the
/// first transfer: without them a server that accepts the connection and
/// then goes silent holds the thread forever.
pub fn init_timeouts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: these write two C ints that libgit2 reads when it opens a
        // stream. `ONCE` runs this before any transfer of this process, and
        // nothing else touches libgit2's options.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(
                CONNECT_TIMEOUT.as_millis() as i32,
            );
            let _ =
                git2::opts::set_server_timeout_in_milliseconds(STALL_TIMEOUT.as_millis() as i32);
        }
    });
}

/// Runs `op` on its own thread and waits for it until `deadline` (plus
/// [`GRACE`]). Past that the thread is left to die on its socket timeout
/// and `Err(waited)` says how long was waited. libgit2 offers no way to
/// interrupt a blocked read, so abandoning the thread is the only way to
/// keep the deadline.
pub fn bounded<T: Send + 'static>(
    deadline: Instant,
    op: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Duration> {
    let start = Instant::now();
    let left = deadline.saturating_duration_since(start);
    if left.is_zero() {
        return Err(Duration::ZERO);
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("assay-git".into())
        .spawn(move || {
            let _ = tx.send(op());
        });
    if spawned.is_err() {
        return Err(Duration::ZERO);
    }
    rx.recv_timeout(left + GRACE).map_err(|_| start.elapsed())
}

/// What a libgit2 error means for the write-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The credentials were refused.
    Auth,
    /// The SSH host key is unknown.
    HostKey,
    /// The repository does not exist (or is not exported) at that URL.
    NotFound,
    /// The server redirected to another host or port, which asked for the
    /// credentials.
    Redirect,
    /// A connection or transfer fault: reset, refused, timed out, cut, or a
    /// corrupted byte caught by TLS, zlib or the pack checksum. Another
    /// attempt may get through.
    Transient,
    /// Anything else: final.
    Other,
}

/// The marker of the credential callback's refusal after a redirect.
pub const REDIRECT_REFUSED: &str = "credentials go only to";

/// Classifies by libgit2's error code and class; the message is read only
/// where libgit2 has no code for the case (HTTP status, a git daemon's or
/// an SSH server's "no such repository").
pub fn classify(e: &git2::Error) -> Class {
    let message = e.message();
    let lower = message.to_ascii_lowercase();
    if lower.contains("hostkey") || lower.contains("host key") {
        return Class::HostKey;
    }
    if message.contains(REDIRECT_REFUSED) {
        return Class::Redirect;
    }
    match e.code() {
        ErrorCode::Auth => return Class::Auth,
        ErrorCode::Certificate => return Class::HostKey,
        _ => {}
    }
    if let Some(status) = http_status(&lower) {
        return match status {
            401 | 403 => Class::Auth,
            404 | 410 => Class::NotFound,
            408 | 429 | 500..=599 => Class::Transient,
            _ => Class::Other,
        };
    }
    if [
        "repository not found",
        "does not appear to be a git repository",
        "not exported",
        "no such repository",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        return Class::NotFound;
    }
    match e.class() {
        ErrorClass::Net
        | ErrorClass::Os
        | ErrorClass::Ssh
        | ErrorClass::Http
        | ErrorClass::Ssl
        | ErrorClass::Zlib
        | ErrorClass::Indexer
        | ErrorClass::Callback => {
            if lower.contains("authentication") {
                Class::Auth
            } else {
                Class::Transient
            }
        }
        _ => Class::Other,
    }
}

/// A server's message (SSH relays the remote's stderr, newlines and all)
/// as one line: its non-empty lines joined with `; `.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The status of libgit2's "unexpected http status code: 404".
fn http_status(lower: &str) -> Option<u16> {
    let rest = lower.split("http status code: ").nth(1)?;
    rest.get(..3)?.parse().ok()
}

/// Whether `url` (where libgit2 is about to send credentials, after any
/// redirect) is on the host and port `remote` names. Git keys credentials
/// by host; so does assay, and by port too.
pub fn same_authority(remote: &str, url: &str) -> bool {
    match (authority(remote), authority(url)) {
        (Some(a), Some(b)) => a == b,
        _ => remote == url,
    }
}

/// `(host, port)` of a URL (`scheme://[user@]host[:port]/…`) or of an
/// scp-like SSH address (`user@host:path`), the port defaulted by scheme.
fn authority(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => {
            let (host, _) = url.split_once(':')?;
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            return Some((host.to_ascii_lowercase(), 22));
        }
    };
    let default = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        "ssh" | "git+ssh" | "ssh+git" => 22,
        "git" => 9418,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() => p.parse().ok()?,
        _ => default,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_on_the_named_host_and_port() {
        let remote = "https://bot:pw@git.example.com/env.git";
        assert!(same_authority(remote, "https://git.example.com/env.git"));
        assert!(same_authority(
            remote,
            "https://GIT.example.com:443/moved/env"
        ));
        assert!(!same_authority(remote, "https://evil.example.com/env.git"));
        assert!(!same_authority(
            remote,
            "https://git.example.com:8443/env.git"
        ));
        assert!(!same_authority(remote, "http://git.example.com/env.git"));
        assert!(same_authority(
            "ssh://git@[::1]:2222/r.git",
            "ssh://git@[::1]:2222/r.git"
        ));
        assert!(same_authority(
            "git@github.com:o/r.git",
            "git@github.com:o/r.git"
        ));
        assert!(!same_authority(
            "https://127.0.0.1:1000/r.git",
            "https://localhost:1000/r.git"
        ));
    }

    #[test]
    fn transient_and_final_errors() {
        let e = |code, class, m: &str| git2::Error::new(code, class, m);
        use ErrorCode::GenericError as G;
        for (class, m) in [
            (ErrorClass::Zlib, "error reading from the zlib stream"),
            (ErrorClass::Ssl, "decryption failed or bad record mac"),
            (ErrorClass::Ssl, "record layer failure"),
            (ErrorClass::Ssl, "shutdown while in init"),
            (ErrorClass::Net, "early EOF"),
            (
                ErrorClass::Os,
                "could not read from socket: Connection reset by peer",
            ),
            (
                ErrorClass::Net,
                "failed to connect to 127.0.0.1: Connection refused",
            ),
            (ErrorClass::Net, "timed out"),
            (ErrorClass::Http, "unexpected http status code: 502"),
            (ErrorClass::Indexer, "incorrect packfile checksum"),
        ] {
            assert_eq!(classify(&e(G, class, m)), Class::Transient, "{m}");
        }
        assert_eq!(
            classify(&e(ErrorCode::Auth, ErrorClass::Http, "x")),
            Class::Auth
        );
        assert_eq!(
            classify(&e(G, ErrorClass::Http, "unexpected http status code: 404")),
            Class::NotFound
        );
        assert_eq!(
            classify(&e(
                G,
                ErrorClass::Net,
                "remote error: access denied or repository not exported: /x.git"
            )),
            Class::NotFound
        );
        assert_eq!(
            classify(&e(G, ErrorClass::Reference, "invalid reference name")),
            Class::Other
        );
    }

    #[test]
    fn a_passed_deadline_abandons_the_operation() {
        let (tx, rx) = mpsc::channel::<()>();
        let r = bounded(Instant::now() + Duration::from_millis(10), move || {
            let _ = rx.recv();
        });
        assert!(r.is_err());
        drop(tx);
        assert_eq!(
            bounded(Instant::now() + Duration::from_secs(5), || 7),
            Ok(7)
        );
    }
}
