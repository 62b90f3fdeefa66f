//! A fast first reading of a YAML document into a typed value, for the hot
//! path of `generate`: the document is parsed once into a
//! [`serde_json::Value`] and converted from that, instead of through
//! [`super::yaml::from_str`]'s per-type saphyr + `serde_path_to_error`
//! deserializers (several times the instructions, and code spread over
//! megabytes of the binary).
//!
//! It only answers `Some` when the typed reading would give the same value,
//! and `None` otherwise; the caller then reads the document the exact way,
//! which also produces the error with its place and field path. So the
//! conversion from `Value` must never accept what the typed reading rejects,
//! nor read a value differently:
//! - the YAML parser, its options and its duplicate-key and budget checks are
//!   the same ([`super::yaml::options`]); the plain reader tried first
//!   ([`super::plain`]) stays inside those budgets and leaves the rest here;
//! - a scalar keeps the type YAML resolved it to (a plain `8080` is a number,
//!   and a `String` field then fails here, where the typed reading would have
//!   taken it as text): every such mismatch fails here and is decided by the
//!   exact reading;
//! - the one lossy case, a non-finite float (`.nan`, `.inf`, which
//!   `serde_json::Value` would turn into `null` and so into `None` for an
//!   optional field), is refused.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `text` (one YAML document) as `T`, when that is certainly what
/// [`super::yaml::from_str`] would read; `None` when unsure or invalid.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    from_value(value(text)?)
}

/// The document `text` as a value; `None` when unsure or invalid. Plain
/// block YAML is read without the general parser ([`super::plain`]).
pub fn value(text: &str) -> Option<Value> {
    super::plain::document(text).or_else(|| general(text))
}

/// [`value`] through the general YAML parser only: what the plain reading
/// must agree with wherever it answers.
pub fn general(text: &str) -> Option<Value> {
    let parsed =
        serde_saphyr::with_deserializer_from_str_with_options(text, super::yaml::options(), |de| {
            Strict::deserialize(de)
        });
    parsed.ok().map(|Strict(v)| v)
}

/// A value from [`value`] as `T`; `None` when it does not fit.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Option<T> {
    serde_json::from_value(value).ok()
}

/// A [`Value`] that refuses what it cannot represent exactly.
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite float"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.insert(key, v).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct T {
        a: Option<String>,
        b: Option<i32>,
    }

    #[test]
    fn reads_what_is_certain() {
        let t: Option<T> = from_str("a: x\nb: 3\n");
        assert_eq!(
            t,
            Some(T {
                a: Some("x".into()),
                b: Some(3)
            })
        );
        assert_eq!(from_str::<T>("a: ~\n"), Some(T { a: None, b: None }));
    }

    /// The sample's template is read this way, as the same Deployment.
    #[test]
    fn reads_the_sample_template() {
        use k8s_openapi::api::apps::v1::Deployment;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/bookinfo/productpage-deployment.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let fast: Deployment = from_str(&text).expect("read without the exact reading");
        let exact: Deployment = super::super::yaml::from_str("t.yaml", &text).unwrap();
        assert_eq!(fast, exact);
    }

    #[test]
    fn leaves_the_rest_to_the_exact_reading() {
        for text in [
            "a: .nan\n",
            "a: 12\n",
            "b: '3'\n",
            "a: x\na: y\n",
            "a: [\n",
            "---\na: x\n---\na: y\n",
        ] {
            assert_eq!(from_str::<T>(text), None, "{text}");
        }
    }
}
