//! Kubernetes name and label syntax, checked where the user wrote the value
//! rather than later by the API server, which would reject the whole sync.

/// RFC 1123 label: lowercase alphanumerics and `-`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1035 label: a 1123 label that starts with a letter (Service names).
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A label or annotation key: optional `prefix/` (a subdomain) and a name of
/// at most 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns1123_subdomain) && is_label_value(name) && !name.is_empty()
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`,
/// alphanumeric at both ends.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

/// An environment variable name as Kubernetes accepts it.
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && !s.as_bytes()[0].is_ascii_digit()
}

/// An HTTP header name (RFC 9110 token).
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An absolute http(s) URL with a host: all the hook and fortio can use.
/// Parsed as the hook's HTTP client parses it (the `url` crate, WHATWG), so
/// a malformed authority (`http://[::1/x`, a port over 65535) is refused
/// here rather than when the hook first queries it.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    let written = matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'));
    written
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(s).is_ok_and(|u| u.host().is_some())
}

/// Enough of git-check-ref-format to catch typos.
pub fn is_branch_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '/'])
        && !s.ends_with(['/', '.'])
        && !s.contains("..")
        && !s.contains("//")
        && !s.ends_with(".lock")
        && !s
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || "~^:?*[\\".contains(ch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(is_dns1123_label("v1"));
        assert!(is_dns1123_label("1-2"));
        assert!(!is_dns1123_label("V1"));
        assert!(!is_dns1123_label("v1.2"));
        assert!(!is_dns1123_label("-v"));
        assert!(!is_dns1035_label("1abc"));
        assert!(is_qualified_name("sidecar.istio.io/inject"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(is_env_name("reward_min"));
        assert!(!is_env_name("1X"));
        assert!(is_http_url("http://prometheus.istio-system:9090"));
        assert!(!is_http_url("prometheus:9090"));
        assert!(is_http_url("http://[::1]:9090/x"));
        assert!(is_http_url("https://user@prometheus.example/api"));
        // Issue 16: malformed authorities.
        for bad in [
            "http://[::1/x",
            "http://a:99999",
            "http://a b",
            "http://[zz]/",
            "http://:80",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
