//! SSH host keys against the Secret's `knownHosts`: assay never trusts an
//! unknown host key, so a man in the middle cannot collect the SSH key's
//! signature or serve a forged repository.

use git2::ErrorCode;

/// How known_hosts may name `host` reached through `url`: `[host]:port` for
/// a port other than 22, else `host`.
pub(super) fn host_patterns(url: &str, host: &str) -> Vec<String> {
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
pub(super) fn known_host(known_hosts: &str, hosts: &[String], kind: &str, key: &str) -> bool {
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

pub(super) fn host_key_error(host: &str, what: &str) -> git2::Error {
    git2::Error::new(
        ErrorCode::Certificate,
        git2::ErrorClass::Ssh,
        format!("{host}: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
