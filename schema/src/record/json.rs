//! Reading records from JSON with errors that name the field: a serde `Deserializer` over a
//! parsed `serde_json::Value` that remembers the path (`items[1].fine.multiple`) of every
//! value it hands out and stamps it on the first error raised below it.
//!
//! This is only for the human-readable file form that officers write. It is deliberately
//! not a general JSON library (serde_json parses the text) and not used for the signed
//! CBOR payload.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// A JSON record file could not be read: where (a field path such as
/// `[2].items[1].fine.multiple`, empty for the whole document) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct JsonError {
    /// The path of the offending value; `None` until the error has been located.
    path: Option<String>,
    /// What is wrong.
    message: String,
}

impl JsonError {
    /// An error at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        JsonError {
            path: Some(path.into()),
            message: message.into(),
        }
    }

    /// The path of the offending value (empty for the whole document).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Stamps `path` on an error that has none yet; an error raised deeper keeps its own.
    fn located(mut self, path: &str) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_owned());
        }
        self
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_deref() {
            Some(path) if !path.is_empty() => write!(f, "`{path}`: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl de::Error for JsonError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JsonError {
            path: None,
            message: msg.to_string(),
        }
    }
}

/// `path.field`, or `field` at the top.
pub(crate) fn join_field(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// `path[index]`.
pub(crate) fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A deserializer over one JSON value at a known path.
pub(crate) struct PathDeserializer<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> PathDeserializer<'a> {
    pub(crate) fn new(value: &'a Value, path: impl Into<String>) -> Self {
        PathDeserializer {
            value,
            path: path.into(),
        }
    }
}

impl<'de> Deserializer<'de> for PathDeserializer<'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        let path = self.path;
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    match n.as_f64() {
                        Some(f) => visitor.visit_f64(f),
                        None => Err(de::Error::custom(format!("unsupported number {n}"))),
                    }
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(PathSeq {
                items: items.iter().enumerate(),
                path: &path,
            }),
            Value::Object(map) => visitor.visit_map(PathMap {
                entries: map.iter(),
                pending: None,
                path: &path,
            }),
        };
        result.map_err(|e| e.located(&path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        if self.value.is_null() {
            let path = self.path;
            visitor
                .visit_none()
                .map_err(|e: JsonError| e.located(&path))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        let path = self.path;
        let result = match self.value {
            Value::String(s) => visitor.visit_enum(PathEnum {
                variant: s,
                value: None,
                path: path.clone(),
            }),
            Value::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((variant, value)) => visitor.visit_enum(PathEnum {
                    variant,
                    value: Some(value),
                    path: path.clone(),
                }),
                None => Err(de::Error::custom("empty object")),
            },
            _ => Err(de::Error::custom(format!(
                "expected a {name} as a string such as \"name\" or an object with a single key such as {{\"name\": {{…}}}}"
            ))),
        };
        result.map_err(|e| e.located(&path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct PathSeq<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    path: &'p str,
}

impl<'de> SeqAccess<'de> for PathSeq<'de, '_> {
    type Error = JsonError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, JsonError> {
        match self.items.next() {
            Some((index, value)) => seed
                .deserialize(PathDeserializer::new(value, join_index(self.path, index)))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct PathMap<'a, 'p> {
    entries: serde_json::map::Iter<'a>,
    pending: Option<(&'a String, &'a Value)>,
    path: &'p str,
}

impl<'de> MapAccess<'de> for PathMap<'de, '_> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, JsonError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.pending = Some((key, value));
                seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, JsonError> {
        match self.pending.take() {
            Some((key, value)) => {
                seed.deserialize(PathDeserializer::new(value, join_field(self.path, key)))
            }
            None => Err(de::Error::custom(
                "a map value was requested before its key",
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct PathEnum<'a> {
    variant: &'a str,
    value: Option<&'a Value>,
    path: String,
}

impl<'de> EnumAccess<'de> for PathEnum<'de> {
    type Error = JsonError;
    type Variant = PathVariant<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, PathVariant<'de>), JsonError> {
        let variant = seed.deserialize(de::value::BorrowedStrDeserializer::<JsonError>::new(
            self.variant,
        ))?;
        let path = if self.value.is_some() {
            join_field(&self.path, self.variant)
        } else {
            self.path
        };
        Ok((
            variant,
            PathVariant {
                value: self.value,
                path,
            },
        ))
    }
}

struct PathVariant<'a> {
    value: Option<&'a Value>,
    path: String,
}

impl<'de> VariantAccess<'de> for PathVariant<'de> {
    type Error = JsonError;

    fn unit_variant(self) -> Result<(), JsonError> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(_) => Err(JsonError::at(
                self.path,
                "this variant takes no value; write it as a plain string",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, JsonError> {
        match self.value {
            Some(value) => seed.deserialize(PathDeserializer::new(value, self.path)),
            None => Err(JsonError::at(
                self.path,
                "this variant needs a value: write {\"variant\": value}",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        match self.value {
            Some(value) => PathDeserializer::new(value, self.path).deserialize_any(visitor),
            None => Err(JsonError::at(self.path, "this variant needs a value")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        match self.value {
            Some(value) => PathDeserializer::new(value, self.path).deserialize_any(visitor),
            None => Err(JsonError::at(
                self.path,
                "this variant needs its fields: write {\"variant\": {…}}",
            )),
        }
    }
}

/// Parses JSON text into a value, turning syntax errors into a `JsonError` with the line
/// and column.
pub(crate) fn parse_text(text: &str) -> Result<Value, JsonError> {
    serde_json::from_str(text).map_err(|e| JsonError::at("", format!("invalid JSON: {e}")))
}

/// Removes `field` from a JSON object, returning the rest as a new object.
pub(crate) fn without_field(map: &Map<String, Value>, field: &str) -> Value {
    let mut rest = map.clone();
    rest.remove(field);
    Value::Object(rest)
}
