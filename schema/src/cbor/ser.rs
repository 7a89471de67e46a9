//! The serde serializer of the canonical encoding: the serde data model mapped onto the
//! CBOR subset as serde_json maps it onto JSON (externally tagged enums), with map and
//! struct entries buffered and sorted into canonical key order.
//!
//! It is deliberately not lenient: floats, non-text map keys, duplicate keys, integers
//! outside 64-bit CBOR and nesting deeper than [`MAX_DEPTH`] are errors, never silently
//! converted, so that everything it writes the strict decoder reads back.

use super::decoder::Decoder;
use super::encoder::{
    head_bytes, write_head, write_int, FALSE, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE,
    MAJOR_TEXT, MAJOR_UNSIGNED, NULL, TRUE,
};
use super::{EncodeError, MAX_DEPTH};
use serde::ser::{self, Impossible, Serialize};
use std::cmp::Ordering;

/// Where one map entry lies in the output buffer while its map is being written.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key_start: usize,
    value_start: usize,
    end: usize,
}

/// Writes serde values in canonical form into a byte vector.
#[derive(Debug, Default)]
pub(crate) struct Serializer {
    out: Vec<u8>,
    /// Arrays and maps currently open.
    depth: usize,
    /// Entry lists of finished maps, kept for reuse so that nested maps do not allocate.
    entry_pool: Vec<Vec<Entry>>,
}

impl Serializer {
    /// A serializer that appends to `out`.
    pub(crate) fn from_vec(out: Vec<u8>) -> Self {
        Self {
            out,
            depth: 0,
            entry_pool: Vec::new(),
        }
    }

    /// The bytes written.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.out
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> &[u8] {
        &self.out
    }

    /// Empties the output for reuse, keeping its buffers.
    pub(crate) fn reset(&mut self) {
        self.out.clear();
        self.depth = 0;
    }

    /// Frees a buffer left large by one unusually large value.
    pub(crate) fn trim(&mut self) {
        const KEEP: usize = 1 << 16;
        if self.out.capacity() > KEEP {
            self.out = Vec::new();
        }
        self.entry_pool.truncate(MAX_DEPTH);
    }

    fn enter(&mut self) -> Result<(), EncodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(EncodeError::DepthExceeded { limit: MAX_DEPTH });
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth = self.depth.saturating_sub(levels);
    }

    fn text(&mut self, value: &str) {
        write_head(&mut self.out, MAJOR_TEXT, value.len() as u64);
        self.out.extend_from_slice(value.as_bytes());
    }

    /// Opens the single-entry map `{variant: …}` of an enum variant with data.
    fn open_variant(&mut self, variant: &str) -> Result<(), EncodeError> {
        self.enter()?;
        write_head(&mut self.out, MAJOR_MAP, 1);
        self.text(variant);
        Ok(())
    }

    fn open_seq(
        &mut self,
        len: Option<usize>,
        wrapper_levels: usize,
    ) -> Result<SeqSerializer<'_>, EncodeError> {
        self.enter()?;
        if let Some(len) = len {
            write_head(&mut self.out, MAJOR_ARRAY, len as u64);
        }
        let start = self.out.len();
        Ok(SeqSerializer {
            ser: self,
            start,
            declared: len,
            count: 0,
            wrapper_levels,
        })
    }

    fn open_map(&mut self, wrapper_levels: usize) -> Result<MapSerializer<'_>, EncodeError> {
        self.enter()?;
        let start = self.out.len();
        let entries = self.entry_pool.pop().unwrap_or_default();
        Ok(MapSerializer {
            ser: self,
            start,
            entries,
            pending: None,
            wrapper_levels,
        })
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = SeqSerializer<'a>;
    type SerializeTuple = SeqSerializer<'a>;
    type SerializeTupleStruct = SeqSerializer<'a>;
    type SerializeTupleVariant = SeqSerializer<'a>;
    type SerializeMap = MapSerializer<'a>;
    type SerializeStruct = MapSerializer<'a>;
    type SerializeStructVariant = MapSerializer<'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        write_int(&mut self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        let out_of_range = || EncodeError::IntegerOutOfRange(v.to_string());
        if v >= 0 {
            let value = u64::try_from(v).map_err(|_| out_of_range())?;
            write_head(&mut self.out, MAJOR_UNSIGNED, value);
        } else {
            let argument = u64::try_from(-1 - v).map_err(|_| out_of_range())?;
            write_head(&mut self.out, MAJOR_NEGATIVE, argument);
        }
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        write_head(&mut self.out, MAJOR_UNSIGNED, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        let value = u64::try_from(v).map_err(|_| EncodeError::IntegerOutOfRange(v.to_string()))?;
        self.serialize_u64(value)
    }

    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        Err(EncodeError::Unsupported(format!(
            "floating-point number {v} (f32) is not in the canonical subset"
        )))
    }

    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        Err(EncodeError::Unsupported(format!(
            "floating-point number {v} (f64) is not in the canonical subset"
        )))
    }

    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        let mut buffer = [0u8; 4];
        self.text(v.encode_utf8(&mut buffer));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.text(v);
        Ok(())
    }

    /// Writes the text straight into the output, then puts its head before it: no
    /// temporary `String` (dates and other `Display` values are written this way).
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        use std::io::Write;
        let start = self.out.len();
        write!(&mut self.out, "{value}").map_err(|e| EncodeError::Custom(e.to_string()))?;
        let len = self.out.len() - start;
        insert_head(&mut self.out, start, MAJOR_TEXT, len);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        write_head(&mut self.out, MAJOR_BYTES, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.text(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.leave(1);
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer<'a>, EncodeError> {
        self.open_seq(len, 0)
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer<'a>, EncodeError> {
        self.open_seq(Some(len), 0)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer<'a>, EncodeError> {
        self.open_seq(Some(len), 0)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSerializer<'a>, EncodeError> {
        self.open_variant(variant)?;
        self.open_seq(Some(len), 1)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapSerializer<'a>, EncodeError> {
        self.open_map(0)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<MapSerializer<'a>, EncodeError> {
        self.open_map(0)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSerializer<'a>, EncodeError> {
        self.open_variant(variant)?;
        self.open_map(1)
    }
}

/// Writes the items of an array. With an announced length the head is written first and
/// the count is checked at the end; without one the head is inserted at the end.
#[derive(Debug)]
pub(crate) struct SeqSerializer<'a> {
    ser: &'a mut Serializer,
    start: usize,
    declared: Option<usize>,
    count: usize,
    /// Enclosing single-entry variant maps to close with this array.
    wrapper_levels: usize,
}

impl SeqSerializer<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.ser)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), EncodeError> {
        match self.declared {
            Some(declared) if declared != self.count => {
                return Err(EncodeError::LengthMismatch {
                    what: "array",
                    declared,
                    actual: self.count,
                });
            }
            Some(_) => {}
            None => insert_head(&mut self.ser.out, self.start, MAJOR_ARRAY, self.count),
        }
        self.ser.leave(1 + self.wrapper_levels);
        Ok(())
    }
}

/// Inserts a head at `start`, before the items already written after it.
fn insert_head(out: &mut Vec<u8>, start: usize, major: u8, count: usize) {
    let (head, used) = head_bytes(major, count as u64);
    out.extend_from_slice(head.get(..used).unwrap_or(&head));
    if let Some(tail) = out.get_mut(start..) {
        tail.rotate_right(used);
    }
}

impl ser::SerializeSeq for SeqSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// Writes the entries of a map or struct in the order given, then puts them into
/// canonical key order and inserts the head.
#[derive(Debug)]
pub(crate) struct MapSerializer<'a> {
    ser: &'a mut Serializer,
    start: usize,
    entries: Vec<Entry>,
    /// Key start and value start of a key written by `serialize_key` whose value is due.
    pending: Option<(usize, usize)>,
    /// Enclosing single-entry variant maps to close with this map.
    wrapper_levels: usize,
}

impl MapSerializer<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), EncodeError> {
        let key_start = self.ser.out.len();
        self.ser.text(key);
        let value_start = self.ser.out.len();
        value.serialize(&mut *self.ser)?;
        self.entries.push(Entry {
            key_start,
            value_start,
            end: self.ser.out.len(),
        });
        Ok(())
    }

    fn finish(mut self) -> Result<(), EncodeError> {
        if self.pending.is_some() {
            return Err(EncodeError::Custom(
                "a map key was written without its value".to_owned(),
            ));
        }
        sort_entries(&mut self.ser.out, self.start, &mut self.entries)?;
        self.entries.clear();
        self.ser.entry_pool.push(self.entries);
        self.ser.leave(1 + self.wrapper_levels);
        Ok(())
    }
}

/// The encoded key of `entry`.
fn key_bytes<'b>(out: &'b [u8], entry: &Entry) -> &'b [u8] {
    out.get(entry.key_start..entry.value_start)
        .unwrap_or_default()
}

/// The error for two equal encoded keys.
fn duplicate(encoded_key: &[u8]) -> EncodeError {
    let key = Decoder::new(encoded_key)
        .text()
        .map(str::to_owned)
        .unwrap_or_else(|_| String::from_utf8_lossy(encoded_key).into_owned());
    EncodeError::DuplicateMapKey { key }
}

/// Puts the entries written after `start` into canonical key order (bytewise order of the
/// encoded keys), refuses duplicates, and inserts the map head before them.
fn sort_entries(out: &mut Vec<u8>, start: usize, entries: &mut [Entry]) -> Result<(), EncodeError> {
    let mut in_order = true;
    for pair in entries.windows(2) {
        if let [first, second] = pair {
            match key_bytes(out, first).cmp(key_bytes(out, second)) {
                Ordering::Less => {}
                Ordering::Equal => return Err(duplicate(key_bytes(out, first))),
                Ordering::Greater => in_order = false,
            }
        }
    }
    if in_order {
        insert_head(out, start, MAJOR_MAP, entries.len());
        return Ok(());
    }
    entries.sort_unstable_by(|a, b| key_bytes(out, a).cmp(key_bytes(out, b)));
    for pair in entries.windows(2) {
        if let [first, second] = pair {
            if key_bytes(out, first) == key_bytes(out, second) {
                return Err(duplicate(key_bytes(out, first)));
            }
        }
    }
    let region = out.split_off(start);
    write_head(out, MAJOR_MAP, entries.len() as u64);
    for entry in entries.iter() {
        // INVARIANT: every entry was written after `start`, so both subtractions succeed.
        let bytes = entry
            .key_start
            .checked_sub(start)
            .zip(entry.end.checked_sub(start))
            .and_then(|(from, to)| region.get(from..to))
            .ok_or_else(|| EncodeError::Custom("map entry before its map".to_owned()))?;
        out.extend_from_slice(bytes);
    }
    Ok(())
}

impl ser::SerializeMap for MapSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        let key_start = self.ser.out.len();
        key.serialize(KeySerializer {
            out: &mut self.ser.out,
        })?;
        self.pending = Some((key_start, self.ser.out.len()));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let (key_start, value_start) = self.pending.take().ok_or_else(|| {
            EncodeError::Custom("a map value was written before its key".to_owned())
        })?;
        value.serialize(&mut *self.ser)?;
        self.entries.push(Entry {
            key_start,
            value_start,
            end: self.ser.out.len(),
        });
        Ok(())
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSerializer<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// Writes a map key, which must serialise as a text string: a string, a char, a unit
/// enum variant, or a newtype around one of these.
struct KeySerializer<'a> {
    out: &'a mut Vec<u8>,
}

impl KeySerializer<'_> {
    fn text(self, value: &str) -> Result<(), EncodeError> {
        write_head(self.out, MAJOR_TEXT, value.len() as u64);
        self.out.extend_from_slice(value.as_bytes());
        Ok(())
    }
}

/// The error for a map key of another kind than text.
fn not_text(found: &'static str) -> EncodeError {
    EncodeError::MapKeyNotText { found }
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Impossible<(), EncodeError>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Impossible<(), EncodeError>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.text(v)
    }

    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        let mut buffer = [0u8; 4];
        self.text(v.encode_utf8(&mut buffer))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.text(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<(), EncodeError> {
        Err(not_text("a boolean"))
    }

    fn serialize_i8(self, _v: i8) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_i16(self, _v: i16) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_i32(self, _v: i32) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_i64(self, _v: i64) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_i128(self, _v: i128) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_u8(self, _v: u8) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_u16(self, _v: u16) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_u32(self, _v: u32) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_u64(self, _v: u64) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_u128(self, _v: u128) -> Result<(), EncodeError> {
        Err(not_text("an integer"))
    }

    fn serialize_f32(self, _v: f32) -> Result<(), EncodeError> {
        Err(not_text("a floating-point number"))
    }

    fn serialize_f64(self, _v: f64) -> Result<(), EncodeError> {
        Err(not_text("a floating-point number"))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), EncodeError> {
        Err(not_text("a byte string"))
    }

    fn serialize_none(self) -> Result<(), EncodeError> {
        Err(not_text("null (None)"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), EncodeError> {
        Err(not_text("an Option"))
    }

    fn serialize_unit(self) -> Result<(), EncodeError> {
        Err(not_text("null (unit)"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        Err(not_text("null (unit struct)"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), EncodeError> {
        Err(not_text("an enum variant with data"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        Err(not_text("an array"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, EncodeError> {
        Err(not_text("an array (tuple)"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, EncodeError> {
        Err(not_text("an array (tuple struct)"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(not_text("an enum variant with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        Err(not_text("a map"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, EncodeError> {
        Err(not_text("a map (struct)"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(not_text("an enum variant with data"))
    }
}
