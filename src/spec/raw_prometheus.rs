//! `spec.experiment.prometheus` as written: a URL, or `{url, secret}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `experiment.prometheus`: a URL alone, or the URL and the Secret the hook
/// authenticates with. Read by hand (not `untagged`) so that a plain URL
/// keeps its position, and serialised back as it was written, so a spec
/// that names no Secret keeps its experiment id.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPrometheus {
    pub url: String,
    /// A Secret in the Application's namespace, mounted into the hook.
    pub secret: Option<String>,
}

/// The JSON Schema of [`RawPrometheus`].
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum PrometheusSchema {
    /// The http(s) URL of the Prometheus (or Thanos, Mimir, Cortex) query API.
    Url(String),
    /// The URL, and the Secret holding its credentials.
    WithSecret(PrometheusWithSecret),
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct PrometheusWithSecret {
    /// The http(s) URL of the query API.
    url: String,
    /// Secret with `token` (bearer), or `username` + `password` (basic auth), `headers` (`Name: value` lines, e.g. `X-Scope-OrgID: team-a`) and `ca.crt` (PEM roots to trust instead of the system's).
    secret: Option<String>,
}

impl Serialize for RawPrometheus {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        use serde::ser::SerializeMap;
        match &self.secret {
            None => s.serialize_str(&self.url),
            Some(secret) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("url", &self.url)?;
                map.serialize_entry("secret", secret)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for RawPrometheus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPrometheus;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a URL, or a map with `url` and `secret`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPrometheus, E> {
                Ok(RawPrometheus {
                    url: v.to_string(),
                    secret: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawPrometheus, A::Error> {
                let (mut url, mut secret) = (None, None);
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "url" if url.is_none() => url = Some(m.next_value::<String>()?),
                        "secret" if secret.is_none() => secret = Some(m.next_value::<String>()?),
                        "url" | "secret" => {
                            return Err(de::Error::duplicate_field("url or secret"));
                        }
                        other => return Err(de::Error::unknown_field(other, &["url", "secret"])),
                    }
                }
                Ok(RawPrometheus {
                    url: url.ok_or_else(|| de::Error::missing_field("url"))?,
                    secret,
                })
            }
        }
        d.deserialize_any(V)
    }
}
