//! Typed reading of a plain YAML tree ([`super::plain::Node`]) as
//! serde-saphyr reads the same text, for `assay.yaml` on `generate`'s path:
//! a scalar stays text until a field asks for a type, so `version: 2` is a
//! string and `port: 9080` a number, as with the general reader.
//!
//! It is a fast first reading, never the last word: whatever it is not sure
//! the general reader would read the same way is an error ([`Unsure`]), and
//! the caller then reads the file the general way, which also gives every
//! error its place. Positions are not tracked: every `Spanned` value gets an
//! unknown location, so a caller must not report errors from a spec read
//! this way (see `generate`).

use std::fmt;

use serde::de::value::{MapDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::plain::{self, Node};

/// serde-saphyr's marker for its `Spanned<T>` representation (private to it;
/// if it ever changes, every fast reading fails and the general one is used).
const SPANNED: &str = "__yaml_spanned";
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

/// `text` as `T`, when it is plain YAML that the general reader would read
/// to the same value (apart from positions); `None` otherwise.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    T::deserialize(De(&plain::tree(text)?)).ok()
}

/// Not sure what the general reader would do: read the general way.
#[derive(Debug)]
pub struct Unsure;

impl fmt::Display for Unsure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("left to the general YAML reader")
    }
}

impl std::error::Error for Unsure {}

impl de::Error for Unsure {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsure
    }
}

type R<T> = Result<T, Unsure>;

struct De<'n, 'a>(&'n Node<'a>);

impl De<'_, '_> {
    /// The text of a plain scalar.
    fn plain(&self) -> R<&str> {
        match self.0 {
            Node::Scalar {
                text,
                quoted: false,
            } => Ok(text),
            _ => Err(Unsure),
        }
    }

    /// A plain decimal number: digits, at most one `.` between digits.
    fn decimal(&self) -> R<f64> {
        let text = self.plain()?;
        let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) || (whole.len() > 1 && whole.starts_with('0')) {
            return Err(Unsure);
        }
        // Too many digits for a finite f64: the general reader refuses it.
        let value: f64 = text.parse().map_err(|_| Unsure)?;
        value.is_finite().then_some(value).ok_or(Unsure)
    }
}

impl<'de> de::Deserializer<'de> for De<'_, '_> {
    type Error = Unsure;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.0 {
            Node::Map(_) => self.deserialize_map(v),
            Node::Seq(_) => self.deserialize_seq(v),
            Node::Null => v.visit_unit(),
            Node::Scalar { text, quoted: true } => v.visit_str(text),
            Node::Scalar { text, .. } => match plain::value(self.0).ok_or(Unsure)? {
                serde_json::Value::Bool(b) => v.visit_bool(b),
                serde_json::Value::Null => v.visit_unit(),
                serde_json::Value::Number(n) => v.visit_u64(n.as_u64().ok_or(Unsure)?),
                _ => v.visit_str(text),
            },
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_f64(self.decimal()?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_f64(v)
    }

    /// Quoted text as written; plain text when it is text, an integer, a
    /// quantity or a decimal to every schema (never `true`, `null`, `yes`…).
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.0 {
            Node::Scalar { text, quoted: true } => v.visit_str(text),
            Node::Scalar { text, .. } => match plain::value(self.0) {
                Some(serde_json::Value::String(_) | serde_json::Value::Number(_)) => {
                    v.visit_str(text)
                }
                _ if self.decimal().is_ok() => v.visit_str(text),
                _ => Err(Unsure),
            },
            _ => Err(Unsure),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.0 {
            Node::Null => v.visit_none(),
            Node::Scalar {
                text: "null",
                quoted: false,
            } => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        if name == SPANNED {
            return v.visit_newtype_struct(Spanned(self.0));
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.0 {
            Node::Seq(items) => {
                let items = items.iter().map(De);
                let mut seq = de::value::SeqDeserializer::new(items);
                let value = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            _ => Err(Unsure),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.0 {
            Node::Map(entries) => {
                let entries = entries.iter().map(|(k, n)| (*k, De(n)));
                let mut map = MapDeserializer::new(entries);
                let value = v.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
            _ => Err(Unsure),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.deserialize_map(v)
    }

    /// Unit variants only, named by a plain or quoted scalar.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        match self.0 {
            Node::Scalar { text, .. } => v.visit_enum(StrDeserializer::<Unsure>::new(text)),
            _ => Err(Unsure),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }

    // A boolean or an integer field takes what `deserialize_any` gives a
    // plain scalar (`true`, `false`, a decimal integer) and refuses the rest.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char bytes byte_buf unit
        unit_struct tuple tuple_struct
    }
}

impl<'de> IntoDeserializer<'de, Unsure> for De<'_, '_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// serde-saphyr's view of a `Spanned<T>`: the value with unknown locations.
struct Spanned<'n, 'a>(&'n Node<'a>);

impl<'de> de::Deserializer<'de> for Spanned<'_, '_> {
    type Error = Unsure;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_map(SpannedFields {
            node: self.0,
            field: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The marker, `value`, and `referenced` and `defined` at line 0 (unknown).
struct SpannedFields<'n, 'a> {
    node: &'n Node<'a>,
    field: u8,
}

impl<'de> de::MapAccess<'de> for SpannedFields<'_, '_> {
    type Error = Unsure;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        let key = match self.field {
            0 => SPANNED_MARKER,
            1 => "value",
            2 => "referenced",
            3 => "defined",
            _ => return Ok(None),
        };
        self.field += 1;
        seed.deserialize(StrDeserializer::<Unsure>::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> R<S::Value> {
        match self.field {
            1 => seed.deserialize(De(&Node::Null)),
            2 => seed.deserialize(De(self.node)),
            _ => seed.deserialize(MapDeserializer::<_, Unsure>::new(
                [("line", 0u32), ("column", 0u32)].into_iter(),
            )),
        }
    }
}
