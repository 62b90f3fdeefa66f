//! The environment of a request (ARGOCD.md §2.2): the sidecar's own env, the
//! Application fields in Argo CD's order, the plugin env expanded with Go's
//! `os.Expand`, then `ARGOCD_APP_PARAMETERS` and the `PARAM_*` vars.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use serde_json::{Map, Value};

use super::AppRequest;
use crate::support::assay_bin;

/// The environment of init/generate: sidecar env, then §2.2 items 1–8.
pub(super) fn generate_env(req: &AppRequest) -> Vec<(OsString, OsString)> {
    let short = |n: usize| req.revision.get(..n).unwrap_or(&req.revision);
    let app = [
        ("ARGOCD_APP_NAME", req.app_name.as_str()),
        ("ARGOCD_APP_NAMESPACE", &req.namespace),
        ("ARGOCD_APP_PROJECT_NAME", &req.project),
        ("ARGOCD_APP_REVISION", &req.revision),
        ("ARGOCD_APP_REVISION_SHORT", short(7)),
        ("ARGOCD_APP_REVISION_SHORT_8", short(8)),
        ("ARGOCD_APP_SOURCE_REPO_URL", &req.repo_url),
        ("ARGOCD_APP_SOURCE_PATH", &req.app_path),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", &req.target_revision),
        ("KUBE_VERSION", &req.kube_version),
        ("KUBE_API_VERSIONS", &req.kube_api_versions),
    ];
    with_plugin_env(&app, req)
}

/// The reduced environment of GetParametersAnnouncement (§2.2, last paragraph).
pub(super) fn parameters_env(req: &AppRequest) -> Vec<(OsString, OsString)> {
    let app = [
        ("ARGOCD_APP_NAME", req.app_name.as_str()),
        ("ARGOCD_APP_SOURCE_REPO_URL", &req.repo_url),
        ("ARGOCD_APP_SOURCE_PATH", &req.app_path),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", &req.target_revision),
    ];
    with_plugin_env(&app, req)
}

/// Sidecar env (the harness's without `ARGOCD_*`/`PARAM_*`, `PATH` led by
/// the directory of the `assay` under test), then `app` (§2.2 items 1–6, or
/// the reduced set), then `ARGOCD_ENV_*` expanded against `app` only, then
/// the parameters; later duplicates win, as with Go's exec.
fn with_plugin_env(app: &[(&str, &str)], req: &AppRequest) -> Vec<(OsString, OsString)> {
    let mut path = assay_bin()
        .parent()
        .expect("binary dir")
        .as_os_str()
        .to_owned();
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let inherited = std::env::vars_os().filter(|(k, _)| {
        let k = k.as_bytes();
        !(k.starts_with(b"ARGOCD_") || k.starts_with(b"PARAM_") || k == b"PATH")
    });
    let mut env: Vec<(OsString, OsString)> = inherited.collect();
    env.push(("PATH".into(), path));
    let mut request: Vec<(String, String)> = app
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if req.parameters.is_some() || !req.plugin_env.is_empty() {
        for (name, value) in &req.plugin_env {
            let expanded = os_expand(value, |var| match var {
                "$" => "$".to_string(), // Argo CD's Env.Envsubst: `$$` escapes `$`
                _ => app
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map_or("", |(_, v)| v)
                    .to_string(),
            });
            request.push((format!("ARGOCD_ENV_{name}"), expanded));
        }
        request.extend(parameter_env(
            req.parameters.as_ref().unwrap_or(&Value::Null),
        ));
    }
    env.extend(request.into_iter().map(|(k, v)| (k.into(), v.into())));
    env
}

/// Go's `os.Expand`, byte for byte: `$NAME`, `${NAME}`, one-char special
/// names (`$1`, `$$`, `$*`…), bad syntax (`${}`, an unclosed `${`) eaten, and a
/// `$` followed by anything else (or ending the string) kept.
fn os_expand(s: &str, mapping: impl Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut j) = (0, 0);
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            let buf = out.get_or_insert_with(Vec::new);
            buf.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&s[j + 1..]);
            if name.is_empty() && w == 0 {
                buf.push(b'$');
            } else if !name.is_empty() {
                buf.extend_from_slice(mapping(name).as_bytes());
            } // else: bad syntax, eaten
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    let Some(mut buf) = out else {
        return s.to_string();
    };
    buf.extend_from_slice(&b[i.min(b.len())..]);
    String::from_utf8(buf).expect("split only at ASCII bytes")
}

fn shell_name(s: &str) -> (&str, usize) {
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => ("", 2),
            Some(p) => (&s[1..p + 1], p + 2),
            None => ("", 1),
        };
    }
    if special(b[0]) {
        return (&s[..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

/// §2.2 item 8: `ARGOCD_APP_PARAMETERS` as Go marshals it (keys sorted, `<>&`
/// escaped; `null` when there are none, an empty list arriving as nil through
/// protobuf), then the `PARAM_*` vars (map entries in key order; Go's is random).
fn parameter_env(params: &Value) -> Vec<(String, String)> {
    let list = match params {
        Value::Null => &[][..],
        Value::Array(items) => items.as_slice(),
        other => panic!("plugin parameters must be a JSON list, got {other}"),
    };
    let (mut canonical, mut vars) = (vec![], vec![]);
    for p in list {
        let name = p["name"].as_str().unwrap_or_default();
        let base = format!("PARAM_{}", escape_param(name));
        let string = p["string"].as_str();
        let strings = |v: &Value| serde_json::from_value::<BTreeMap<String, String>>(v.clone());
        let map = p.get("map").map(|m| strings(m).unwrap_or_default());
        let list = |v: &Value| serde_json::from_value::<Vec<String>>(v.clone());
        let array = p.get("array").map(|a| list(a).unwrap_or_default());
        vars.extend(string.map(|s| (base.clone(), s.to_string())));
        for (k, v) in map.iter().flatten() {
            vars.push((format!("{base}_{}", escape_param(k)), v.clone()));
        }
        for (i, v) in array.iter().flatten().enumerate() {
            vars.push((format!("{base}_{i}"), v.clone()));
        }
        let mut obj = Map::new(); // keys inserted in Go's (sorted) order
        if let Some(a) = array {
            obj.insert("array".into(), a.into());
        }
        if let Some(m) = map {
            obj.insert("map".into(), serde_json::to_value(m).unwrap());
        }
        obj.insert("name".into(), name.into());
        if let Some(s) = string {
            obj.insert("string".into(), s.into());
        }
        canonical.push(Value::Object(obj));
    }
    let json = match canonical.is_empty() {
        true => "null".to_string(),
        false => go_escape(serde_json::to_string(&canonical).unwrap()),
    };
    let mut env = vec![("ARGOCD_APP_PARAMETERS".to_string(), json)];
    env.extend(vars);
    env
}

/// Go's encoding/json escapes these even inside strings; serde_json does not.
fn go_escape(json: String) -> String {
    let escapes = [('<', "\\u003c"), ('>', "\\u003e"), ('&', "\\u0026")];
    let separators = [('\u{2028}', "\\u2028"), ('\u{2029}', "\\u2029")];
    escapes
        .into_iter()
        .chain(separators)
        .fold(json, |s, (c, e)| s.replace(c, e))
}

/// Upper-case, then every char outside `[A-Z0-9_]` becomes `_` (ASCII
/// upper-casing only: Go's Unicode `ToUpper` is not imitated).
fn escape_param(s: &str) -> String {
    let keep = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| if keep(c) { c } else { '_' })
        .collect()
}

// Behaviours ARGOCD.md pins, checked without `assay`.
#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use serde_json::{Value, json};

    use super::{escape_param, os_expand, parameter_env};
    use crate::support::cmp_server::{AppRequest, FakeCmpServer};
    use crate::support::{assay_bin, repo_root};

    #[test]
    fn os_expand_follows_go() {
        let env = |n: &str| match n {
            "$" => "$".to_string(),
            "A" => "a".to_string(),
            _ => String::new(),
        };
        for (input, want) in [
            ("x$A-${A}", "xa-a"),
            ("$$A", "$A"),
            ("$1x", "x"),
            ("${}x", "x"),
            ("${A", "A"),
            ("$/", "$/"),
            ("end$", "end$"),
            ("$B.$*", "."),
            ("ü$A", "üa"),
        ] {
            assert_eq!(os_expand(input, env), want, "{input}");
        }
    }

    #[test]
    fn parameter_env_matches_argo_cd() {
        assert_eq!(
            parameter_env(&Value::Null),
            [("ARGOCD_APP_PARAMETERS".to_string(), "null".to_string())]
        );
        let env = parameter_env(&json!([
            {"string": "a<b", "name": "x.y"},
            {"name": "files", "array": ["a", "b"]},
            {"name": "helm", "map": {"image.tag": "v1"}},
        ]));
        assert_eq!(
            env[0].1,
            r#"[{"name":"x.y","string":"a\u003cb"},{"array":["a","b"],"name":"files"},{"map":{"image.tag":"v1"},"name":"helm"}]"#
        );
        let vars: Vec<String> = env[1..].iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            vars,
            [
                "PARAM_X_Y=a<b",
                "PARAM_FILES_0=a",
                "PARAM_FILES_1=b",
                "PARAM_HELM_IMAGE_TAG=v1"
            ]
        );
        assert_eq!(escape_param("candidate-weight"), "CANDIDATE_WEIGHT");
    }

    #[test]
    fn env_follows_argo_cd_order() {
        // The env is built from the request alone: no repository is read.
        let revision = "0123456789abcdef0123456789abcdef01234567";
        let mut req = AppRequest::at_revision(&repo_root(), "samples/bookinfo", revision);
        req.plugin_env = vec![(
            "X".into(),
            "${ARGOCD_APP_REVISION_SHORT}-$KUBE_VERSION".into(),
        )];
        req.parameters = Some(json!([{"name": "p", "array": ["a"]}]));
        let server = FakeCmpServer::load();
        let keys = |env: &[(OsString, OsString)]| {
            let keys = env.iter().map(|(k, _)| k.to_string_lossy().into_owned());
            let argo = |k: &String| {
                k.starts_with("ARGOCD_") || k.starts_with("KUBE_") || k.starts_with("PARAM_")
            };
            keys.filter(argo).collect::<Vec<_>>()
        };
        let env = server.generate_env(&req);
        let want = "ARGOCD_APP_NAME ARGOCD_APP_NAMESPACE ARGOCD_APP_PROJECT_NAME ARGOCD_APP_REVISION \
            ARGOCD_APP_REVISION_SHORT ARGOCD_APP_REVISION_SHORT_8 ARGOCD_APP_SOURCE_REPO_URL \
            ARGOCD_APP_SOURCE_PATH ARGOCD_APP_SOURCE_TARGET_REVISION KUBE_VERSION KUBE_API_VERSIONS \
            ARGOCD_ENV_X ARGOCD_APP_PARAMETERS PARAM_P_0";
        assert_eq!(keys(&env), want.split_whitespace().collect::<Vec<_>>());
        let x = &env.iter().find(|(k, _)| k == "ARGOCD_ENV_X").unwrap().1;
        assert_eq!(
            x.to_str(),
            Some(format!("{}-1.33.4", &req.revision[..7]).as_str())
        );
        let path = &env.iter().find(|(k, _)| k == "PATH").unwrap().1;
        let first = std::env::split_paths(path).next().unwrap();
        assert_eq!(first, assay_bin().parent().unwrap());
        // GetParametersAnnouncement: no revision, namespace or KUBE_*; env expanded against the rest.
        let want = "ARGOCD_APP_NAME ARGOCD_APP_SOURCE_REPO_URL ARGOCD_APP_SOURCE_PATH \
            ARGOCD_APP_SOURCE_TARGET_REVISION ARGOCD_ENV_X ARGOCD_APP_PARAMETERS PARAM_P_0";
        let env = server.parameters_env(&req);
        assert_eq!(keys(&env), want.split_whitespace().collect::<Vec<_>>());
        assert!(env.iter().any(|(k, v)| k == "ARGOCD_ENV_X" && v == "-"));
    }
}
