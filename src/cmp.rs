//! The Argo CD plugin environment (ARGOCD.md §2.2) as one typed value, read
//! once at the edge so that rendering stays a pure function. Plugin settings
//! come from three places, in this order of precedence below the spec itself:
//! Application parameters (`ARGOCD_APP_PARAMETERS`), plugin env
//! (`ARGOCD_ENV_*`), then built-in defaults.

use std::collections::HashMap;

use serde::Deserialize;

use crate::spec::{Mode, Release};

/// The image of the hook Jobs when the sidecar does not say (`ASSAY_IMAGE`).
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/assay-dev/assay:v", env!("CARGO_PKG_VERSION"));

/// A value the plugin takes from the Argo CD Application when the spec is silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `candidate-weight` / `CANDIDATE_WEIGHT`: the candidate's share of requests, 0–100.
    CandidateWeight,
    /// `prometheus-url` / `PROMETHEUS_URL`: where the hook queries metrics.
    PrometheusUrl,
    /// `promotion-mode` / `PROMOTION_MODE`: `pull-request` or `push`.
    PromotionMode,
    /// `argocd-server` / `ARGOCD_SERVER`: the Argo CD API the hook asks to
    /// refresh the Application after the verdict.
    ArgocdServer,
}

impl Setting {
    /// Every setting, in the order the UI lists them.
    pub const ALL: [Setting; 4] = [
        Setting::CandidateWeight,
        Setting::PrometheusUrl,
        Setting::PromotionMode,
        Setting::ArgocdServer,
    ];

    /// The Application parameter name.
    pub fn param(self) -> &'static str {
        match self {
            Setting::CandidateWeight => "candidate-weight",
            Setting::PrometheusUrl => "prometheus-url",
            Setting::PromotionMode => "promotion-mode",
            Setting::ArgocdServer => "argocd-server",
        }
    }

    /// The plugin env name, after `ARGOCD_ENV_` (matched case-insensitively).
    pub fn env(self) -> &'static str {
        match self {
            Setting::CandidateWeight => "CANDIDATE_WEIGHT",
            Setting::PrometheusUrl => "PROMETHEUS_URL",
            Setting::PromotionMode => "PROMOTION_MODE",
            Setting::ArgocdServer => "ARGOCD_SERVER",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Setting::CandidateWeight => "Candidate weight (%)",
            Setting::PrometheusUrl => "Prometheus URL",
            Setting::PromotionMode => "Promotion mode",
            Setting::ArgocdServer => "Argo CD server",
        }
    }

    fn tooltip(self) -> &'static str {
        match self {
            Setting::CandidateWeight => {
                "Share of requests routed to the candidate, 0-100, when assay.yaml sets no spec.traffic.candidateWeight."
            }
            Setting::PrometheusUrl => {
                "Where the promote hook queries metrics, when assay.yaml sets no spec.experiment.prometheus."
            }
            Setting::PromotionMode => {
                "pull-request or push: how the verdict reaches Git, when assay.yaml sets no spec.promotion.mode."
            }
            Setting::ArgocdServer => {
                "Argo CD API URL the promote hook asks to refresh this Application after the verdict (token: argocdToken in the credentials Secret), when assay.yaml sets no spec.promotion.argocd.server."
            }
        }
    }

    fn from_param(name: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.param() == name)
    }
}

/// A bad plugin environment or parameter; says which one and what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmpError {
    /// `ARGOCD_APP_PARAMETERS` is not a JSON list of parameters.
    #[error("ARGOCD_APP_PARAMETERS: expected a JSON list of {{name, string}} objects: {0}")]
    Parameters(String),
    /// A parameter assay does not know: refused, since a typo must not be ignored.
    #[error(
        "parameter {name:?} is not one assay knows; known: {}",
        known_parameters()
    )]
    UnknownParameter {
        /// The parameter name as given.
        name: String,
    },
    /// A known setting with a value it cannot take.
    #[error("{source_name} {name}: {message}")]
    Value {
        /// `parameter` or `plugin env`.
        source_name: &'static str,
        /// The parameter or env variable name as given.
        name: String,
        /// What was expected, and what was given.
        message: String,
    },
}

/// The names `ARGOCD_APP_PARAMETERS` may carry, for the error that refuses others.
fn known_parameters() -> String {
    Setting::ALL.map(Setting::param).join(", ")
}

/// The candidate's share of requests when nothing sets one.
pub const DEFAULT_CANDIDATE_WEIGHT: u8 = 10;

/// How the verdict reaches Git when nothing says: a person or CI merges it.
pub const DEFAULT_PROMOTION_MODE: Mode = Mode::PullRequest;

/// The plugin settings from one place (the spec, parameters, or plugin env),
/// or all of them resolved with [`Settings::over`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Percentage of requests for the candidate, 0–100.
    pub candidate_weight: Option<u8>,
    /// http(s) URL the hook queries.
    pub prometheus_url: Option<String>,
    /// How the verdict reaches Git.
    pub promotion_mode: Option<Mode>,
    /// http(s) URL of the Argo CD API server.
    pub argocd_server: Option<String>,
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
    /// `ARGOCD_APP_SOURCE_REPO_URL`: where the verdict is written by default.
    pub repo_url: Option<String>,
    /// `ARGOCD_APP_SOURCE_PATH`: the app directory inside the repository.
    pub source_path: Option<String>,
    /// `ARGOCD_APP_SOURCE_TARGET_REVISION`: a branch, tag, SHA or `HEAD`.
    pub target_revision: Option<String>,
    /// Plugin settings from parameters and plugin env; `assay.yaml` overrides them.
    pub settings: Settings,
    /// The image for the hook Jobs: the sidecar's own `ASSAY_IMAGE`.
    pub image: String,
    /// The hooks' log format: the sidecar's own `ASSAY_HOOK_LOG_FORMAT`, so
    /// a cluster's log pipeline gets JSON from every hook (`None`: text).
    /// Not `ASSAY_LOG_FORMAT`, which would turn the plugin's own errors,
    /// shown in the Argo CD UI, into JSON too.
    pub log_format: Option<crate::log::LogFormat>,
}

/// One entry of `ARGOCD_APP_PARAMETERS`; Argo CD sends only the set fields.
#[derive(Deserialize)]
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
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let (app_namespace, app_name) = match get("ARGOCD_APP_NAME") {
            // Application names are DNS subdomains: the first `_` is the separator.
            Some(n) => match n.split_once('_') {
                Some((ns, name)) => (Some(ns.to_string()), Some(name.to_string())),
                None => (None, Some(n)),
            },
            None => (None, None),
        };
        let mut settings = Settings::default();
        // Plugin env first, then parameters over it. Argo CD passes plugin env
        // names verbatim, so `prometheus_url` is as good as `PROMETHEUS_URL`.
        let mut env: Vec<_> = vars
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("ARGOCD_ENV_")?, v)))
            .filter_map(|(k, v)| {
                Some((
                    Setting::ALL
                        .into_iter()
                        .find(|s| s.env().eq_ignore_ascii_case(k))?,
                    k,
                    v,
                ))
            })
            .collect();
        env.sort_by_key(|(_, k, _)| *k);
        for (setting, name, value) in env {
            if !value.trim().is_empty() {
                settings.set(setting, value, "plugin env", &format!("ARGOCD_ENV_{name}"))?;
            }
        }
        let params = vars
            .get("ARGOCD_APP_PARAMETERS")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty());
        if let Some(json) = params {
            let params: Option<Vec<Parameter>> =
                serde_json::from_str(json).map_err(|e| CmpError::Parameters(e.to_string()))?;
            for p in params.into_iter().flatten() {
                let setting =
                    Setting::from_param(&p.name).ok_or_else(|| CmpError::UnknownParameter {
                        name: p.name.clone(),
                    })?;
                let value = match (p.string, p.array, p.map) {
                    (Some(v), None, None) => v,
                    // A parameter announced but never given a value is unset.
                    (None, None, None) => continue,
                    _ => {
                        let message = "expected a string value".into();
                        return Err(CmpError::Value {
                            source_name: "parameter",
                            name: p.name,
                            message,
                        });
                    }
                };
                if !value.trim().is_empty() {
                    settings.set(setting, &value, "parameter", &p.name)?;
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
            log_format: get("ASSAY_HOOK_LOG_FORMAT")
                .map(|v| {
                    <crate::log::LogFormat as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                        CmpError::Value {
                            source_name: "sidecar env",
                            name: "ASSAY_HOOK_LOG_FORMAT".into(),
                            message: format!("expected text or json, got {v:?}"),
                        }
                    })
                })
                .transpose()?,
        })
    }
}

impl Settings {
    /// The settings `assay.yaml` itself sets.
    pub fn of_spec(rel: &Release) -> Settings {
        Settings {
            candidate_weight: rel.traffic.candidate_weight,
            prometheus_url: rel.experiment.prometheus.clone(),
            promotion_mode: rel.promotion.mode,
            argocd_server: rel.promotion.argocd_server.clone(),
        }
    }

    /// `self`'s values where set, else `lower`'s: the one place the order
    /// spec > parameter > plugin env is applied (parameters already sit over
    /// plugin env in [`CmpEnv::settings`]; defaults come last, where used).
    pub fn over(&self, lower: &Settings) -> Settings {
        Settings {
            candidate_weight: self.candidate_weight.or(lower.candidate_weight),
            prometheus_url: self.prometheus_url.clone().or(lower.prometheus_url.clone()),
            promotion_mode: self.promotion_mode.or(lower.promotion_mode),
            argocd_server: self.argocd_server.clone().or(lower.argocd_server.clone()),
        }
    }

    fn set(
        &mut self,
        setting: Setting,
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
        match setting {
            Setting::CandidateWeight => {
                let w = value.parse::<u8>().ok().filter(|w| *w <= 100);
                let w = w.ok_or_else(|| {
                    bad(format!(
                        "expected a whole number between 0 and 100, got {value:?}"
                    ))
                })?;
                self.candidate_weight = Some(w);
            }
            Setting::PrometheusUrl | Setting::ArgocdServer => {
                if !crate::spec::names::is_http_url(value) {
                    return Err(bad(format!(
                        "expected an http:// or https:// URL, got {value:?}"
                    )));
                }
                let field = match setting {
                    Setting::PrometheusUrl => &mut self.prometheus_url,
                    _ => &mut self.argocd_server,
                };
                *field = Some(value.to_string());
            }
            Setting::PromotionMode => {
                let mode = serde_json::from_value(serde_json::Value::String(value.into()));
                self.promotion_mode =
                    Some(mode.map_err(|_| {
                        bad(format!("expected pull-request or push, got {value:?}"))
                    })?);
            }
        }
        Ok(())
    }

    /// A setting's value as the UI shows it.
    fn shown(&self, setting: Setting) -> Option<String> {
        match setting {
            Setting::CandidateWeight => self.candidate_weight.map(|w| w.to_string()),
            Setting::PrometheusUrl => self.prometheus_url.clone(),
            Setting::ArgocdServer => self.argocd_server.clone(),
            Setting::PromotionMode => self
                .promotion_mode
                .and_then(|m| clap::ValueEnum::to_possible_value(&m))
                .map(|v| v.get_name().to_string()),
        }
    }
}

/// The `assay parameters` announcement (ARGOCD.md §1.3): one string parameter
/// per setting with the value `generate` would use. Where `assay.yaml` sets
/// the value (`from_spec`), the tooltip says so, because it wins over
/// anything typed into the UI.
pub fn announcement(effective: &Settings, from_spec: &Settings) -> serde_json::Value {
    let params = Setting::ALL.into_iter().map(|s| {
        let mut tooltip = s.tooltip().to_string();
        if let Some(v) = from_spec.shown(s) {
            tooltip.push_str(&format!(
                " assay.yaml sets it to {v}, which takes precedence."
            ));
        }
        let mut o = serde_json::json!({"name": s.param(), "title": s.title(), "tooltip": tooltip});
        if let Some(v) = effective.shown(s) {
            o["string"] = v.into();
        }
        o
    });
    serde_json::Value::Array(params.collect())
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
    fn null_empty_and_valueless_parameters_are_unset() {
        for p in ["null", "", r#"[{"name":"candidate-weight"}]"#] {
            assert_eq!(
                env(&[("ARGOCD_APP_PARAMETERS", p)]).unwrap().settings,
                Settings::default(),
                "{p}"
            );
        }
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
    fn plugin_env_names_are_case_insensitive() {
        let e = env(&[("ARGOCD_ENV_prometheus_url", "http://prom:9090")]).unwrap();
        assert_eq!(
            e.settings.prometheus_url.as_deref(),
            Some("http://prom:9090")
        );
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
