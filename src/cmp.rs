//! The Argo CD plugin environment (ARGOCD.md §2.2) as one typed value, read
//! once at the edge so that rendering stays a pure function. Plugin settings
//! come from three places, in this order of precedence below the spec itself:
//! Application parameters (`ARGOCD_APP_PARAMETERS`), plugin env
//! (`ARGOCD_ENV_*`), then built-in defaults.

use serde::Deserialize;

use crate::spec::Mode;

/// The image of the hook Jobs when the sidecar does not say (`ASSAY_IMAGE`).
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/assay-dev/assay:v", env!("CARGO_PKG_VERSION"));

/// One plugin setting: its parameter name, its `ARGOCD_ENV_` name and what it is.
pub struct Setting {
    pub param: &'static str,
    pub env: &'static str,
    pub title: &'static str,
    pub tooltip: &'static str,
}

/// Every setting a user can give the plugin; `assay parameters` announces them.
pub const SETTINGS: [Setting; 3] = [
    Setting {
        param: "candidate-weight",
        env: "CANDIDATE_WEIGHT",
        title: "Candidate weight (%)",
        tooltip: "Share of requests routed to the candidate, 0-100, when assay.yaml sets no spec.traffic.candidateWeight.",
    },
    Setting {
        param: "prometheus-url",
        env: "PROMETHEUS_URL",
        title: "Prometheus URL",
        tooltip: "Where the promote hook queries metrics, when assay.yaml sets no spec.experiment.prometheus.",
    },
    Setting {
        param: "promotion-mode",
        env: "PROMOTION_MODE",
        title: "Promotion mode",
        tooltip: "pull-request or push: how the verdict reaches Git, when assay.yaml sets no spec.promotion.mode.",
    },
];

/// A bad plugin environment or parameter; says which one and what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmpError {
    #[error("ARGOCD_APP_PARAMETERS: expected a JSON list of {{name, string}} objects: {0}")]
    Parameters(String),
    #[error(
        "parameter {name:?} is not one assay knows; known: candidate-weight, prometheus-url, promotion-mode"
    )]
    UnknownParameter { name: String },
    #[error("{source_name} {name}: {message}")]
    Value {
        source_name: &'static str,
        name: String,
        message: String,
    },
}

/// Settings resolved from parameters and plugin env (not yet from the spec).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub candidate_weight: Option<u8>,
    pub prometheus_url: Option<String>,
    pub promotion_mode: Option<Mode>,
}

/// What the Argo CD repo-server tells the plugin about the Application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmpEnv {
    /// The Application's name, without the `<namespace>_` prefix.
    pub app_name: Option<String>,
    /// The Application's own namespace, when it is outside Argo CD's (`<ns>_<name>`).
    pub app_namespace: Option<String>,
    /// The destination namespace (`ARGOCD_APP_NAMESPACE`); may be empty.
    pub namespace: Option<String>,
    pub repo_url: Option<String>,
    pub source_path: Option<String>,
    pub target_revision: Option<String>,
    pub settings: Settings,
    /// The image for the hook Jobs: the sidecar's own `ASSAY_IMAGE`.
    pub image: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameter {
    name: String,
    #[serde(default)]
    string: Option<String>,
    #[serde(default)]
    array: Option<Vec<String>>,
    #[serde(default)]
    map: Option<serde_json::Map<String, serde_json::Value>>,
}

impl CmpEnv {
    /// Reads the process environment.
    pub fn from_process() -> Result<CmpEnv, CmpError> {
        CmpEnv::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Reads an environment given as pairs (the tests' way in).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<CmpEnv, CmpError> {
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let (app_namespace, app_name) = match get("ARGOCD_APP_NAME") {
            Some(n) => match n.split_once('_') {
                Some((ns, name)) => (Some(ns.to_string()), Some(name.to_string())),
                None => (None, Some(n)),
            },
            None => (None, None),
        };
        let mut settings = Settings::default();
        // Plugin env first, then parameters over it.
        for s in &SETTINGS {
            if let Some(v) = vars
                .get(&format!("ARGOCD_ENV_{}", s.env))
                .filter(|v| !v.trim().is_empty())
            {
                settings.set(s.param, v, "plugin env", &format!("ARGOCD_ENV_{}", s.env))?;
            }
        }
        if let Some(json) = vars.get("ARGOCD_APP_PARAMETERS") {
            let params: Option<Vec<Parameter>> =
                serde_json::from_str(json).map_err(|e| CmpError::Parameters(e.to_string()))?;
            for p in params.into_iter().flatten() {
                if !SETTINGS.iter().any(|s| s.param == p.name) {
                    return Err(CmpError::UnknownParameter { name: p.name });
                }
                let value = match (p.string, p.array, p.map) {
                    (Some(v), None, None) => v,
                    _ => {
                        return Err(CmpError::Value {
                            source_name: "parameter",
                            name: p.name,
                            message: "expected a string value".into(),
                        });
                    }
                };
                if !value.trim().is_empty() {
                    settings.set(&p.name.clone(), &value, "parameter", &p.name)?;
                }
            }
        }
        Ok(CmpEnv {
            app_name,
            app_namespace,
            namespace: get("ARGOCD_APP_NAMESPACE"),
            repo_url: get("ARGOCD_APP_SOURCE_REPO_URL"),
            source_path: get("ARGOCD_APP_SOURCE_PATH"),
            target_revision: get("ARGOCD_APP_SOURCE_TARGET_REVISION"),
            settings,
            image: get("ASSAY_IMAGE").unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
        })
    }
}

impl Settings {
    fn set(
        &mut self,
        param: &str,
        value: &str,
        source_name: &'static str,
        name: &str,
    ) -> Result<(), CmpError> {
        let bad = |message: String| CmpError::Value {
            source_name,
            name: name.to_string(),
            message,
        };
        let value = value.trim();
        match param {
            "candidate-weight" => {
                let w: u8 = value.parse().ok().filter(|w| *w <= 100).ok_or_else(|| {
                    bad(format!(
                        "expected a whole number between 0 and 100, got {value:?}"
                    ))
                })?;
                self.candidate_weight = Some(w);
            }
            "prometheus-url" => {
                if !crate::spec::names::is_http_url(value) {
                    return Err(bad(format!(
                        "expected an http:// or https:// URL, got {value:?}"
                    )));
                }
                self.prometheus_url = Some(value.to_string());
            }
            "promotion-mode" => {
                self.promotion_mode = Some(match value {
                    "pull-request" => Mode::PullRequest,
                    "push" => Mode::Push,
                    _ => return Err(bad(format!("expected pull-request or push, got {value:?}"))),
                });
            }
            _ => unreachable!("settings are matched against SETTINGS"),
        }
        Ok(())
    }
}

/// The `assay parameters` announcement (ARGOCD.md §1.3): one string parameter
/// per setting, showing the value `generate` would use when one is known.
pub fn announcement(current: &Settings) -> serde_json::Value {
    let value = |param: &str| match param {
        "candidate-weight" => current.candidate_weight.map(|w| w.to_string()),
        "prometheus-url" => current.prometheus_url.clone(),
        _ => current.promotion_mode.map(|m| match m {
            Mode::PullRequest => "pull-request".to_string(),
            Mode::Push => "push".to_string(),
        }),
    };
    serde_json::Value::Array(
        SETTINGS
            .iter()
            .map(|s| {
                let mut o =
                    serde_json::json!({"name": s.param, "title": s.title, "tooltip": s.tooltip});
                if let Some(v) = value(s.param) {
                    o["string"] = v.into();
                }
                o
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<CmpEnv, CmpError> {
        CmpEnv::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn app_name_outside_control_plane_namespace() {
        let e = env(&[("ARGOCD_APP_NAME", "team-a_bookinfo")]).unwrap();
        assert_eq!(e.app_name.as_deref(), Some("bookinfo"));
        assert_eq!(e.app_namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn null_parameters_are_none() {
        assert_eq!(
            env(&[("ARGOCD_APP_PARAMETERS", "null")]).unwrap().settings,
            Settings::default()
        );
    }

    #[test]
    fn parameters_beat_plugin_env() {
        let e = env(&[
            ("ARGOCD_ENV_CANDIDATE_WEIGHT", "5"),
            (
                "ARGOCD_APP_PARAMETERS",
                r#"[{"name":"candidate-weight","string":"35"}]"#,
            ),
        ])
        .unwrap();
        assert_eq!(e.settings.candidate_weight, Some(35));
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = env(&[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"candidate-weight","string":"120"}]"#,
        )])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"parameter candidate-weight: expected a whole number between 0 and 100, got "120""#
        );
        let e = env(&[("ARGOCD_ENV_PROMOTION_MODE", "merge")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("plugin env ARGOCD_ENV_PROMOTION_MODE: "),
            "{e}"
        );
        let e = env(&[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"weight","string":"1"}]"#,
        )])
        .unwrap_err();
        assert!(matches!(e, CmpError::UnknownParameter { .. }));
    }
}
