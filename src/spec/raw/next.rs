//! `promotion.next` entries as written: a path, or an environment in another
//! repository or branch.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ForgeChoice, Mode};

/// One `promotion.next` entry as written.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RawNext {
    /// Another assay.yaml in this repository, relative to this file.
    Path(String),
    /// An environment in another repository or branch.
    Env(RawNextEnv),
}

impl RawNext {
    /// The path entry, if this is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            RawNext::Path(p) => Some(p),
            RawNext::Env(_) => None,
        }
    }
}

/// Written by hand rather than `#[serde(untagged)]`: an untagged enum
/// buffers the value and loses serde-saphyr's positions and its own error
/// ("did not match any variant"); this keeps both for the fields of a map.
impl<'de> Deserialize<'de> for RawNext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawNext;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path to another assay.yaml, or {repo, branch, path, ...}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawNext, E> {
                Ok(RawNext::Path(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawNext, A::Error> {
                RawNextEnv::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawNext::Env)
            }
        }
        d.deserialize_any(V)
    }
}

/// The JSON Schema of a `promotion.next` entry (derive-only twin of [`RawNext`]).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum NextSchema {
    Path(String),
    Env(RawNextEnv),
}

/// A next environment in another repository or branch.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNextEnv {
    /// Repository URL (default: this environment's repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Branch (default: this branch in this repository, else the remote's default branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Path of its assay.yaml from the repository root (default `assay.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `push` or `pull-request` (default: this environment's mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Secret with that repository's credentials (default: this environment's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    /// `auto`, `github`, `gitlab` or `gitea` (default `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<ForgeChoice>,
    /// Forge API base URL, for GitHub Enterprise and self-hosted forges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Soak: how long the winner should serve here before it goes there
    /// (e.g. `24h`); needs `mode: pull-request` (see docs/soak.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Propose even a candidate that environment has rejected before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}
