//! The serde deserializer of the canonical encoding: reads straight from the byte slice
//! through the strict [`Decoder`], so every rule (shortest form, sorted unique text keys,
//! nesting depth, lengths, UTF-8) is enforced while the value is built.
//!
//! It is deliberately not forgiving: it never accepts an alternative form that the
//! serializer would not write (a byte string for a `String`, `{"Unit": null}` for a unit
//! variant, a float for anything), and array or map items that a type leaves unread are an
//! error rather than skipped.

use super::decoder::{check_depth, Decoder, Head};
use super::encoder::{
    MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE, MAJOR_SIMPLE, MAJOR_TEXT, MAJOR_UNSIGNED,
};
use super::DecodeError;
use serde::de::{self, DeserializeSeed, Visitor};

/// The simple value `true` as an argument of major type 7.
const SIMPLE_TRUE: u64 = 21;
/// The simple value `false` as an argument of major type 7.
const SIMPLE_FALSE: u64 = 20;

/// A strict serde deserializer over a [`Decoder`].
#[derive(Debug)]
pub(crate) struct Deserializer<'de> {
    dec: Decoder<'de>,
    /// Arrays and maps currently open.
    depth: usize,
}

impl<'de> Deserializer<'de> {
    /// A deserializer that reads from where `dec` stands.
    pub(crate) fn new(dec: Decoder<'de>) -> Self {
        Self { dec, depth: 0 }
    }

    /// The decoder, positioned after what was read.
    pub(crate) fn into_decoder(self) -> Decoder<'de> {
        self.dec
    }

    fn enter(&mut self, offset: usize) -> Result<(), DecodeError> {
        check_depth(self.depth, offset)?;
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Visits the array whose head was just read and requires every item to be read.
    fn visit_array<V: Visitor<'de>>(
        &mut self,
        head: Head,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let count = self.dec.array_count(head)?;
        self.enter(head.offset)?;
        let mut access = SeqAccess {
            de: self,
            remaining: count,
        };
        let value = visitor.visit_seq(&mut access)?;
        let unread = access.remaining;
        if unread != 0 {
            return Err(DecodeError::UnreadItems {
                offset: head.offset,
                count: unread,
            });
        }
        self.leave();
        Ok(value)
    }

    /// Visits the map whose head was just read and requires every entry to be read.
    fn visit_map<V: Visitor<'de>>(
        &mut self,
        head: Head,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let count = self.dec.map_count(head)?;
        self.enter(head.offset)?;
        let mut access = MapAccess {
            de: self,
            remaining: count,
            previous_key: None,
        };
        let value = visitor.visit_map(&mut access)?;
        let unread = access.remaining;
        if unread != 0 {
            return Err(DecodeError::UnreadItems {
                offset: head.offset,
                count: unread,
            });
        }
        self.leave();
        Ok(value)
    }

    /// Reads an integer that must fit `T`.
    fn integer<T: TryFrom<i128>>(&mut self, target: &'static str) -> Result<T, DecodeError> {
        let (offset, value) = self.dec.integer()?;
        T::try_from(value).map_err(|_| DecodeError::IntegerOutOfRange { offset, target })
    }

    /// Reads `null`.
    fn null(&mut self) -> Result<(), DecodeError> {
        self.dec.null()
    }
}

/// Implements an integer `deserialize_*` method with a range check.
macro_rules! deserialize_integer {
    ($method:ident, $ty:ty, $visit:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            let value: $ty = self.integer(stringify!($ty))?;
            visitor.$visit(value)
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = DecodeError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let head = self.dec.read_head()?;
        match head.major {
            MAJOR_UNSIGNED => visitor.visit_u64(head.argument),
            MAJOR_NEGATIVE => match i64::try_from(head.argument) {
                Ok(argument) => visitor.visit_i64(-1 - argument),
                Err(_) => visitor.visit_i128(-1 - i128::from(head.argument)),
            },
            MAJOR_BYTES => visitor.visit_borrowed_bytes(self.dec.payload(head)?),
            MAJOR_TEXT => visitor.visit_borrowed_str(self.dec.text_payload(head)?),
            MAJOR_ARRAY => self.visit_array(head, visitor),
            MAJOR_MAP => self.visit_map(head, visitor),
            MAJOR_SIMPLE => match head.argument {
                SIMPLE_FALSE => visitor.visit_bool(false),
                SIMPLE_TRUE => visitor.visit_bool(true),
                _ => visitor.visit_unit(),
            },
            _ => Err(DecodeError::Unsupported {
                offset: head.offset,
                what: "major type 6",
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_bool(self.dec.bool()?)
    }

    deserialize_integer!(deserialize_i8, i8, visit_i8);
    deserialize_integer!(deserialize_i16, i16, visit_i16);
    deserialize_integer!(deserialize_i32, i32, visit_i32);
    deserialize_integer!(deserialize_i64, i64, visit_i64);
    deserialize_integer!(deserialize_i128, i128, visit_i128);
    deserialize_integer!(deserialize_u8, u8, visit_u8);
    deserialize_integer!(deserialize_u16, u16, visit_u16);
    deserialize_integer!(deserialize_u32, u32, visit_u32);
    deserialize_integer!(deserialize_u64, u64, visit_u64);
    deserialize_integer!(deserialize_u128, u128, visit_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(DecodeError::Unsupported {
            offset: self.dec.offset(),
            what: "f32 (floating-point numbers are not in the canonical subset)",
        })
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(DecodeError::Unsupported {
            offset: self.dec.offset(),
            what: "f64 (floating-point numbers are not in the canonical subset)",
        })
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.dec.text()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.dec.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.dec.text()?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_bytes(self.dec.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_bytes(self.dec.bytes()?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.dec.is_null() {
            self.null()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.null()?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.null()?;
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let head = self.dec.head_of(MAJOR_ARRAY, "array")?;
        self.visit_array(head, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let head = self.dec.head_of(MAJOR_MAP, "map")?;
        self.visit_map(head, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let offset = self.dec.offset();
        match self.dec.peek_major()? {
            MAJOR_TEXT => visitor.visit_enum(UnitVariantAccess { de: self, offset }),
            MAJOR_MAP => {
                let head = self.dec.read_head()?;
                let count = self.dec.map_count(head)?;
                if count != 1 {
                    return Err(DecodeError::TypeMismatch {
                        offset,
                        expected: "text string or map of one entry (enum variant)",
                        found: "map of another number of entries",
                    });
                }
                self.enter(offset)?;
                let value = visitor.visit_enum(DataVariantAccess {
                    de: &mut *self,
                    offset,
                })?;
                self.leave();
                Ok(value)
            }
            _ => {
                let head = self.dec.read_head()?;
                Err(DecodeError::TypeMismatch {
                    offset,
                    expected: "text string or map of one entry (enum variant)",
                    found: head.describe(),
                })
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.dec.text()?)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.dec.skip_nested(self.depth)?;
        visitor.visit_unit()
    }
}

/// The items of an array.
struct SeqAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    remaining: u64,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.remaining).ok()
    }
}

/// The entries of a map, whose keys are checked to be text in strictly increasing
/// canonical order.
struct MapAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    remaining: u64,
    previous_key: Option<&'de [u8]>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        let key = self.de.dec.map_key(&mut self.previous_key)?;
        seed.deserialize(KeyDeserializer { key }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.remaining).ok()
    }
}

/// A unit variant written as a bare text string.
struct UnitVariantAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    offset: usize,
}

impl<'de> de::EnumAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = DecodeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), DecodeError> {
        let key = self.de.dec.text()?;
        let variant = seed.deserialize(KeyDeserializer { key })?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, DecodeError> {
        Err(self.data_expected())
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DecodeError> {
        Err(self.data_expected())
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DecodeError> {
        Err(self.data_expected())
    }
}

impl UnitVariantAccess<'_, '_> {
    fn data_expected(&self) -> DecodeError {
        DecodeError::TypeMismatch {
            offset: self.offset,
            expected: "map of one entry (enum variant with data)",
            found: "text string (unit variant)",
        }
    }
}

/// A variant with data, written as the single-entry map `{variant: data}` whose head has
/// been read.
struct DataVariantAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    offset: usize,
}

impl<'de> de::EnumAccess<'de> for DataVariantAccess<'_, 'de> {
    type Error = DecodeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), DecodeError> {
        let key = self.de.dec.map_key(&mut None)?;
        let variant = seed.deserialize(KeyDeserializer { key })?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for DataVariantAccess<'_, 'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        Err(DecodeError::TypeMismatch {
            offset: self.offset,
            expected: "text string (unit enum variant)",
            found: "map (variant with data)",
        })
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}

/// A map key or variant name: a text string already read and checked.
struct KeyDeserializer<'de> {
    key: &'de str,
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'de> {
    type Error = DecodeError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.key)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let inner = de::value::BorrowedStrDeserializer::<DecodeError>::new(self.key);
        de::Deserializer::deserialize_enum(inner, name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
