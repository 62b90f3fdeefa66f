//! Path globs of `spec.source.directory.include`/`exclude`, as Argo CD's
//! directory source reads them: `*` and `?` stay within one path segment,
//! `**` crosses any number of them. Paths use `/` and are relative to the
//! app directory.

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let n: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments(&p, &n)
}

fn segments(p: &[&str], n: &[&str]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some((&"**", rest)) => (0..=n.len()).any(|i| segments(rest, &n[i..])),
        Some((first, rest)) => !n.is_empty() && segment(first, n[0]) && segments(rest, &n[1..]),
    }
}

/// `*` and `?` within one segment.
pub fn segment(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("*.yaml", "a.yaml"));
        assert!(!matches("*.yaml", "sub/a.yaml"));
        assert!(matches("**/*.yaml", "sub/deeper/a.yaml"));
        assert!(matches("**/*.yaml", "a.yaml"));
        assert!(matches("sub/*", "sub/a.json"));
        assert!(!matches("sub/*", "other/a.json"));
        assert!(matches("a?c.yml", "abc.yml"));
        assert!(!matches("a*b", "a"));
    }
}
